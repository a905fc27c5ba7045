"""checklist_review's monitoring and scaling sections, as compact text and Markdown.

Statement texts and tenant values are database content: in text they sit between the data markers,
in Markdown inside code spans, shortened and on one line.
"""

from __future__ import annotations

from dbsage.server.fences import BEGIN_DATA, END_DATA
from dbsage.tools.ops_model import Metric, MonitoringSection, ScalingSection
from dbsage.tools.scaling import size_text

_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "unknown": "????", "not_applicable": "n/a "}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def metric_value(m: Metric) -> str:
    if m.value is None:
        return "-"
    if m.unit == "ratio":
        return f"{m.value:.2%}"
    return f"{m.value:g} {'s' if m.unit == 'seconds' else m.unit}"


def _code(text: str) -> str:
    return "`" + _one_line(text).replace("`", "'").replace("|", "\\|") + "`"


def monitoring_text(section: MonitoringSection) -> list[str]:
    lines = ["", "Monitoring (measured):"]
    for m in section.metrics:
        detail = f"; {_one_line(m.why)}" if m.why and m.status != "pass" else ""
        lines.append(f"  [{_MARK[m.status]}] {m.name} = {metric_value(m)} (target {m.target}){detail}")
    if section.top_queries:
        lines.append("  Top statements by total time (calls, total ms, mean ms, stddev/p95):")
        lines.append("  " + BEGIN_DATA)
        for q in section.top_queries:
            spread = f"p95 {q.p95_ms:g}" if q.p95_ms is not None else (
                f"sd {q.stddev_ms:g}" if q.stddev_ms is not None else "")
            lines.append(f"    {q.calls:>8,} {q.total_ms:>12,.1f} {q.mean_ms:>9.3f} {spread:<12} {q.query}")
        lines.append("  " + END_DATA)
    elif section.top_queries_note:
        lines.append(f"  Top statements: {_one_line(section.top_queries_note)}")
    if section.database_bytes is not None:
        sizes = ", ".join(f"{r.relation} {size_text(r.bytes)}" for r in section.largest_relations)
        lines.append(f"  Database {size_text(section.database_bytes)}; largest: {sizes or 'none'}")
    lines += [f"  Not checked: {_one_line(gap)}" for gap in section.not_checked]
    return lines


def scaling_text(section: ScalingSection) -> list[str]:
    rw = section.read_write
    lines = ["", "Scaling:", f"  Read/write ({rw.pattern}): {_one_line(rw.advice)}",
             f"  Vertical partitioning: {_one_line(section.vertical_note)}"]
    lines += [f"    {_one_line(c.advice)}" for c in section.vertical_partitioning]
    lines.append(f"  Sharding: {_one_line(section.shard_note)}")
    if section.shard_key is not None:
        lines.append(f"    {_one_line(section.shard_key.advice)}")
        skewed = [s for s in section.shard_key.spread if s.skewed and s.top_tenant is not None]
        if skewed:
            lines += ["    Most common tenant per skewed table:", "    " + BEGIN_DATA]
            lines += [f"      {s.table}: {_one_line(s.top_tenant or '')} ({s.top_tenant_share:.0%} of the rows)"
                      for s in skewed]
            lines.append("    " + END_DATA)
    lines += [f"  Not checked: {_one_line(gap)}" for gap in section.not_checked]
    return lines


def monitoring_markdown(section: MonitoringSection) -> list[str]:
    out = ["", "## Monitoring (measured)", "", "| status | metric | value | target | why |", "|---|---|---:|---|---|"]
    for m in section.metrics:
        why = _one_line(m.why).replace("|", "\\|") if m.why else ""
        out.append(f"| {m.status} | {m.name} | {metric_value(m)} | {m.target} | {why} |")
    if section.top_queries:
        out += ["", "Top statements by total time:", "", "| calls | total ms | mean ms | stddev / p95 ms | statement |",
                "|---:|---:|---:|---:|---|"]
        for q in section.top_queries:
            spread = q.p95_ms if q.p95_ms is not None else q.stddev_ms
            out.append(f"| {q.calls:,} | {q.total_ms:,.1f} | {q.mean_ms:.3f} | "
                       f"{'' if spread is None else f'{spread:.3f}'} | {_code(q.query)} |")
    elif section.top_queries_note:
        out += ["", f"Top statements: {_one_line(section.top_queries_note)}"]
    if section.database_bytes is not None:
        sizes = ", ".join(f"`{r.relation}` {size_text(r.bytes)}" for r in section.largest_relations)
        out += ["", f"Database {size_text(section.database_bytes)}; largest: {sizes or 'none'}"]
    return out


def scaling_markdown(section: ScalingSection) -> list[str]:
    rw = section.read_write
    out = ["", "## Scaling", "", f"- **Read/write** ({rw.pattern}): {_one_line(rw.advice)}",
           f"- **Vertical partitioning**: {_one_line(section.vertical_note)}"]
    out += [f"  - {_one_line(c.advice)}" for c in section.vertical_partitioning]
    out.append(f"- **Sharding**: {_one_line(section.shard_note)}")
    if section.shard_key is not None:
        out.append(f"  - {_one_line(section.shard_key.advice)}")
        out += [f"  - most common tenant of `{s.table}`: {_code(s.top_tenant or '')} ({s.top_tenant_share:.0%})"
                for s in section.shard_key.spread if s.skewed and s.top_tenant is not None]
    return out


def concise_ops(
    monitoring: MonitoringSection | None, scaling: ScalingSection | None
) -> dict[str, MonitoringSection | ScalingSection | None]:
    """The sections for a concise answer: values, statuses and advice kept; methods, thresholds and the
    per-table tenant spread dropped (detail=full has them)."""
    if monitoring is not None:
        metrics = [m.model_copy(update={"note": None}) for m in monitoring.metrics]
        monitoring = monitoring.model_copy(update={"metrics": metrics})
    if scaling is not None:
        read_write = scaling.read_write.model_copy(update={"measured_as": ""})
        shard = scaling.shard_key
        if shard is not None:  # the advice already names the skew and the tables that lack the key
            shard = shard.model_copy(update={"tables_with_it": [], "spread": []})
        scaling = scaling.model_copy(update={"thresholds": {}, "read_write": read_write, "shard_key": shard})
    return {"monitoring": monitoring, "scaling": scaling}

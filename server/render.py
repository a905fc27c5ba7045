"""Reports as a person, a program or a code-scanning dashboard reads them.

- text: findings grouped by severity in aligned columns, the fix SQL indented under each finding,
  a summary line; colour only on a terminal and only when NO_COLOR is unset;
- json: exactly `report.model_dump_json(indent=2)`, the model the MCP tool returns;
- markdown: the same content for a pull request comment or a wiki page;
- sarif: SARIF 2.1.0, one run; rules from the knowledge catalog; file findings at their file and
  line, live-database findings at a logical location (the object).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TextIO

from dbsage.knowledge.rulebook import RuleDoc, guide_uri, load_rules
from dbsage.tools import __version__
from dbsage.tools.explain import ExplainReport
from dbsage.tools.findings import Finding, Severity
from dbsage.tools.indexes import IndexReport
from dbsage.tools.migration_model import MigrationReport
from dbsage.tools.plans import PlanNode
from dbsage.tools.report import Report
from dbsage.tools.schema import SchemaReport

Format = Literal["text", "json", "markdown", "sarif"]
FORMATS: tuple[Format, ...] = ("text", "json", "markdown", "sarif")

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_COLOURS: dict[Severity, str] = {
    Severity.BLOCKER: "1;31",
    Severity.HIGH: "31",
    Severity.MEDIUM: "33",
    Severity.LOW: "36",
    Severity.INFO: "2",
}
# SARIF has three levels; the persona's five collapse onto them, most urgent to "error".
_SARIF_LEVEL: dict[Severity, str] = {
    Severity.BLOCKER: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_MAX_COLUMN = 44
_MOST_URGENT_FIRST = sorted(Severity, key=lambda s: -s.rank)


def use_color(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Colour only for a person at a terminal who has not asked for none (https://no-color.org)."""
    env = os.environ if env is None else env
    if env.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def render_report(report: Report, fmt: Format, *, color: bool = False, artifact: str | None = None) -> str:
    """The report in `fmt`; every format ends with a newline.

    `artifact` names the file the report was made from (a DDL file): SARIF then places findings that
    carry no location of their own in that file.
    """
    if fmt == "json":
        return report.model_dump_json(indent=2) + "\n"
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "sarif":
        return render_sarif(report, artifact=artifact)
    return render_text(report, color=color)


# --- text ---------------------------------------------------------------------------------------


def _paint(text: str, severity: Severity, color: bool) -> str:
    return f"\033[{_COLOURS[severity]}m{text}\033[0m" if color else text


def _by_severity(findings: Iterable[Finding]) -> list[tuple[Severity, list[Finding]]]:
    groups: dict[Severity, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.severity, []).append(finding)
    return [(s, groups[s]) for s in sorted(groups, key=lambda s: -s.rank)]


def _one_line(text: str) -> str:
    # Names and comments come from the database: keep a crafted newline from faking output lines.
    return " ".join(text.split())


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line.strip() else line for line in text.strip("\n").splitlines())


def _counts_phrase(counts: Mapping[str, int]) -> str:
    parts = [f"{counts[s.value]} {s.value}" for s in _MOST_URGENT_FIRST if counts.get(s.value)]
    return ", ".join(parts) if parts else "none"


def _severity_counts(report: Report) -> dict[str, int]:
    if isinstance(report, SchemaReport):
        return report.severity_counts
    counts: dict[str, int] = {}
    for f in report.findings:
        counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    return counts


def _text_header(report: Report) -> list[str]:
    if isinstance(report, IndexReport):
        w = report.workload
        return [
            f"suggest_indexes: {_one_line(report.source)} ({report.dialect.value}, {w.method})",
            f"{w.queries_analyzed} queries analysed, {len(w.queries_skipped)} skipped; "
            f"{w.whatif_calls} what-if plans in {w.elapsed_s:.1f}s" + (" (time limit reached)" if w.timed_out else ""),
        ]
    if isinstance(report, ExplainReport):
        mode = "analyzed" if report.analyzed else ("estimated plan" if report.plan else "SQL text only")
        lines = [f"explain_query: {_one_line(report.source)} ({report.dialect.value}, {mode})"]
        if report.statement:
            lines.append(f"sent: {_one_line(report.statement)}")
        return lines
    if isinstance(report, MigrationReport):
        return [
            f"plan_migration: {_one_line(', '.join(report.files) or 'SQL text')} ({report.dialect.value}, "
            f"server version {report.server_version_num})",
            f"{report.statements} statements; {len(report.steps)} plan steps",
        ]
    kind = _review_kind(report)
    if kind is not None:
        return [f"{kind}: {_one_line(str(getattr(report, 'source', '')))} ({getattr(report, 'dialect', '')})"]
    if not isinstance(report, SchemaReport):
        return [f"dbsage {getattr(report, 'tool', 'report')}"]
    version = f" {report.server_version}" if report.server_version else ""
    totals = report.totals
    kinds = ("tables", "views", "functions", "sequences")
    objects = ", ".join(f"{totals[k]} {k}" for k in kinds if totals.get(k))
    return [
        f"inspect_schema: {_one_line(report.source)} ({report.dialect.value}{version})",
        f"{objects or 'no tables'}; page {report.page} of {report.pages}",
    ]


def _text_findings(findings: list[Finding], color: bool) -> list[str]:
    if not findings:
        return ["No findings on this page."]
    rule_w = min(_MAX_COLUMN, max(len(f.rule_id) for f in findings))
    obj_w = min(_MAX_COLUMN, max(len(_one_line(f.object)) for f in findings))
    lines: list[str] = []
    for severity, group in _by_severity(findings):
        lines.append(_paint(f"{severity.value.upper()} ({len(group)})", severity, color))
        for f in group:
            where = f"  {f.location.file}:{f.location.line}" if f.location else ""
            head = f"  {f.rule_id:<{rule_w}}  {_one_line(f.object):<{obj_w}}"
            lines.append(f"{head}  {_one_line(f.message)}{where}".rstrip())
            if f.fix:
                lines.append(_indent(f.fix, "      "))
            elif f.remediation:
                lines.append(_indent(_one_line(f.remediation), "      "))
        lines.append("")
    return lines[:-1]


def _text_tables(report: SchemaReport) -> list[str]:
    if report.tables:
        rows = [("table", "rows", "columns", "primary key", "fks", "indexes", "findings")]
        for t in report.tables:
            rows.append((
                _one_line(t.name),
                "?" if t.rows is None else str(t.rows),
                str(t.columns),
                ", ".join(t.primary_key) if t.primary_key else "-",
                str(t.foreign_keys),
                str(t.indexes),
                str(t.findings),
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    if report.catalog is None:
        return []
    lines: list[str] = []
    for table in report.catalog.tables:
        rows_note = "" if table.row_estimate is None else f" (~{table.row_estimate} rows)"
        lines.append(_one_line(table.qualified_name) + rows_note)
        pk = set(table.primary_key.columns) if table.primary_key else set()
        for col in table.columns:
            flags = [" primary key" if col.name in pk else "", "" if col.nullable else " not null"]
            default = f" default {_one_line(col.default)}" if col.default else ""
            lines.append(f"    {_one_line(col.name)} {col.data_type}{''.join(flags)}{default}")
        for idx in table.indexes:
            keys = ", ".join(k.label for k in idx.keys)
            kind = "unique index" if idx.unique else "index"
            lines.append(f"    {kind} {_one_line(idx.name)} ({_one_line(keys)})")
        for fk in table.foreign_keys:
            lines.append(
                f"    foreign key ({', '.join(fk.columns)}) -> {fk.ref_schema}.{fk.ref_table}"
                f"({', '.join(fk.ref_columns)}) on delete {fk.on_delete.lower()}"
            )
    return lines


def _plan_figures(node: PlanNode) -> str:
    parts: list[str] = []
    if node.est_rows is not None:
        parts.append(f"rows est {node.est_rows:,.0f}")
    if node.actual_rows is not None:
        loops = f" x{node.loops:,.0f}" if node.loops and node.loops > 1 else ""
        parts.append(f"actual {node.actual_rows:,.0f}{loops}")
    if node.est_total_cost is not None:
        parts.append(f"cost {node.est_total_cost:,.1f}")
    if node.actual_time_ms is not None:
        per_loop = "/loop" if node.loops and node.loops > 1 else ""
        parts.append(f"{node.actual_time_ms:,.1f} ms{per_loop}")
    if node.share is not None:
        parts.append(f"{node.share:.0%} of the plan")
    return f"  [{', '.join(parts)}]" if parts else ""


def plan_tree_lines(node: PlanNode, depth: int = 0) -> list[str]:
    """The plan as an indented tree: kind, relation and index, then the figures of each node."""
    where = f" on {_one_line(node.relation)}" if node.relation else ""
    if node.alias and node.alias != node.relation:
        where += f" {_one_line(node.alias)}"
    using = f" using {_one_line(node.index)}" if node.index else ""
    lines = [f"{'  ' * depth}-> {node.kind}{where}{using}{_plan_figures(node)}"]
    if node.condition:
        lines.append(f"{'  ' * depth}     {_one_line(node.condition)[:160]}")
    for child in node.children:
        lines += plan_tree_lines(child, depth + 1)
    return lines


def _text_plan(report: ExplainReport) -> list[str]:
    lines: list[str] = []
    if report.plan is not None:
        lines += ["", "Plan:", *plan_tree_lines(report.plan)]
    if report.plan_with_hypothetical is not None:
        lines += ["", f"With the hypothetical indexes (cost {report.cost_before} -> {report.cost_after}):",
                  *plan_tree_lines(report.plan_with_hypothetical)]
    return lines


def _text_indexes(report: IndexReport) -> list[str]:
    w = report.workload
    lines: list[str] = ["", f"Recommended indexes ({len(report.recommendations)}):"]
    for r in report.recommendations:
        size = f", ~{r.size_bytes / 1_048_576:.1f} MiB" if r.size_bytes else ""
        checked = "" if r.verified else " (unverified)"
        lines.append(f"  {_one_line(r.table)}({', '.join(r.columns)}){size}{checked}")
        lines.append(f"      {_one_line(r.create_sql)}")
    if w.relative_cost is not None:
        lines.append(
            f"Workload cost {w.cost_before:,.1f} -> {w.cost_after:,.1f} ({w.cost_unit}): "
            f"relative cost {w.relative_cost:.3f}"
        )
    lines += ["", f"Indexes to drop ({len(report.drop)}):"]
    for d in report.drop:
        lines.append(f"  {_one_line(d.index)}: {d.reason.replace('_', ' ')}")
        if d.drop_sql:
            lines.append(f"      {_one_line(d.drop_sql)}")
    lines += [f"Skipped query {q.query}: {_one_line(q.reason)}" for q in w.queries_skipped]
    return lines


def _review_kind(report: Report) -> str | None:
    # By class name: the security and checklist modules load only when such a report is rendered.
    return {"SecurityReport": "audit_security", "ChecklistReport": "checklist_review"}.get(type(report).__name__)


def _review_text(report: Report) -> list[str]:
    if _review_kind(report) is None:
        return []
    from dbsage.server.render_review import checklist_text, security_text
    from dbsage.tools.checklist_model import ChecklistReport
    from dbsage.tools.security import SecurityReport

    if isinstance(report, SecurityReport):
        return security_text(report)
    if isinstance(report, ChecklistReport):
        return checklist_text(report)
    return []


def _review_markdown(report: Report) -> list[str]:
    if _review_kind(report) is None:
        return []
    from dbsage.server.render_review import checklist_markdown, security_markdown
    from dbsage.tools.checklist_model import ChecklistReport
    from dbsage.tools.security import SecurityReport

    if isinstance(report, SecurityReport):
        return security_markdown(report)
    if isinstance(report, ChecklistReport):
        return checklist_markdown(report)
    return []


def render_text(report: Report, *, color: bool = False) -> str:
    """For a person at a terminal."""
    lines = _text_header(report)
    lines.append("")
    lines += _text_findings(report.findings, color)
    if isinstance(report, ExplainReport):
        lines += _text_plan(report)
    if isinstance(report, IndexReport):
        lines += _text_indexes(report)
    if isinstance(report, MigrationReport):
        from dbsage.server.render_migration import migration_text

        lines += migration_text(report)
    lines += _review_text(report)
    if isinstance(report, SchemaReport):
        tables = _text_tables(report)
        if tables:
            lines += ["", *tables]
    lines.append("")
    lines.append(_summary_line(report))
    if isinstance(report, SchemaReport):
        if report.next_cursor is not None:
            lines.append(f"More tables: run again with --cursor {report.next_cursor}")
        for gap in report.could_not_check:
            lines.append(f"Not checked: {_one_line(gap)}")
    if isinstance(report, ExplainReport | IndexReport):
        lines += [f"Not checked: {_one_line(gap)}" for gap in report.could_not_check]
    return "\n".join(lines) + "\n"


def _summary_line(report: Report) -> str:
    counts = _severity_counts(report)
    total = sum(counts.values())
    if isinstance(report, SchemaReport):
        return (
            f"Summary: {total} finding{'s' if total != 1 else ''} ({_counts_phrase(counts)}) in "
            f"{report.totals.get('tables', 0)} tables; {len(report.findings)} shown on page "
            f"{report.page} of {report.pages}."
        )
    return f"Summary: {total} finding{'s' if total != 1 else ''} ({_counts_phrase(counts)})."


# --- markdown -----------------------------------------------------------------------------------

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})


def _md(text: str) -> str:
    return _one_line(text).translate(_MD_SPECIAL)


def _md_code(text: str) -> str:
    text = _one_line(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _md_cell_code(text: str) -> str:
    # GitHub splits table cells on | even inside code spans unless it is escaped.
    return _md_code(text).replace("|", "\\|")


def _md_fence(sql: str) -> str:
    fence = "```"
    while fence in sql:
        fence += "`"
    return f"{fence}sql\n{sql.strip()}\n{fence}"


def render_markdown(report: Report) -> str:
    """For a pull request comment or a wiki page."""
    out: list[str] = []
    if isinstance(report, SchemaReport):
        version = f" {report.server_version}" if report.server_version else ""
        out.append(f"# inspect_schema: {_md(report.source)}")
        out.append("")
        out.append(
            f"{report.dialect.value}{version}; {report.totals.get('tables', 0)} tables, "
            f"{report.totals.get('views', 0)} views; page {report.page} of {report.pages}."
        )
    elif isinstance(report, IndexReport):
        out.append(f"# suggest_indexes: {_md(report.source)}")
    elif isinstance(report, ExplainReport):
        out.append(f"# explain_query: {_md(report.source)}")
        if report.statement:
            out += ["", _md_fence(report.statement)]
    elif _review_kind(report) == "audit_security":
        out.append(f"# audit_security: {_md(getattr(report, 'source', ''))}")
    elif _review_kind(report) == "checklist_review":
        out.append(f"# checklist_review: {_md(getattr(report, 'source', ''))}")
    elif isinstance(report, MigrationReport):
        out.append(f"# plan_migration: {_md(', '.join(report.files) or 'SQL text')}")
        out += ["", f"{report.dialect.value}, server version {report.server_version_num}; "
                f"{report.statements} statements, {len(report.steps)} plan steps."]
    else:
        out.append(f"# dbsage {getattr(report, 'tool', 'report')}")
    counts = _severity_counts(report)
    out += ["", "| severity | findings |", "|---|---:|"]
    out += [f"| {s.value} | {counts.get(s.value, 0)} |" for s in sorted(Severity, key=lambda s: -s.rank)]
    for severity, group in _by_severity(report.findings):
        out += ["", f"## {severity.value.capitalize()} ({len(group)})", ""]
        for f in group:
            where = f" ({_md_code(f'{f.location.file}:{f.location.line}')})" if f.location else ""
            out.append(f"- {_md_code(f.rule_id)} on {_md_code(f.object)}{where}: {_md(f.message)}")
            if f.fix:
                out += ["", _indent(_md_fence(f.fix), "  ")]
            elif f.remediation:
                out.append(f"  {_md(f.remediation)}")
    if isinstance(report, ExplainReport):
        if report.plan is not None:
            out += ["", "## Plan", "", "```text", *plan_tree_lines(report.plan), "```"]
        if report.could_not_check:
            out += ["", "Not checked:", *[f"- {_md(gap)}" for gap in report.could_not_check]]
    if isinstance(report, IndexReport):
        out += ["", "## Recommended indexes", ""]
        out += [_md_fence("\n".join(r.create_sql for r in report.recommendations)) if report.recommendations
                else "None."]
        out += ["", "## Indexes to drop", ""]
        out += [f"- {_md_code(d.index)}: {d.reason.replace('_', ' ')}" for d in report.drop] or ["None."]
        w = report.workload
        if w.relative_cost is not None:
            out += ["", f"Workload relative cost: {w.relative_cost:.3f} ({w.cost_unit})."]
        if report.could_not_check:
            out += ["", "Not checked:", *[f"- {_md(gap)}" for gap in report.could_not_check]]
    if isinstance(report, MigrationReport):
        from dbsage.server.render_migration import migration_markdown

        out += migration_markdown(report)
    out += _review_markdown(report)
    if isinstance(report, SchemaReport) and report.tables:
        out += ["", "## Tables", ""]
        out.append("| table | rows | columns | primary key | foreign keys | indexes | findings |")
        out.append("|---|---:|---:|---|---:|---:|---:|")
        for t in report.tables:
            pk = ", ".join(t.primary_key) if t.primary_key else "none"
            rows = "?" if t.rows is None else str(t.rows)
            out.append(
                f"| {_md_cell_code(t.name)} | {rows} | {t.columns} | {_md(pk)} | {t.foreign_keys} | "
                f"{t.indexes} | {t.findings} |"
            )
    out += ["", _summary_line(report)]
    if isinstance(report, SchemaReport):
        if report.next_cursor is not None:
            out.append(f"More tables on the next page (cursor {_md_code(report.next_cursor)}).")
        if report.could_not_check:
            out += ["", "Not checked:", *[f"- {_md(gap)}" for gap in report.could_not_check]]
    return "\n".join(out) + "\n"


# --- SARIF --------------------------------------------------------------------------------------


def _sarif_rule(doc: RuleDoc) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": doc.id,
        "name": "".join(part.capitalize() for part in doc.id.replace(".", "_").split("_")),
        "shortDescription": {"text": doc.title},
        "fullDescription": {"text": doc.rationale},
        "help": {"text": doc.finding_remediation},
        "defaultConfiguration": {"level": _SARIF_LEVEL[doc.severity]},
        "properties": {
            "category": doc.category.value,
            "severity": doc.severity.value,
            "dialects": [d.value for d in doc.dialects],
            "tags": [doc.category.value],
        },
    }
    if doc.guides:
        rule["properties"]["guides"] = [guide_uri(g) for g in doc.guides]
    if doc.references:
        rule["helpUri"] = doc.references[0]
    return rule


def _artifact_uri(path: str) -> str:
    p = Path(path)
    return p.as_uri() if p.is_absolute() else p.as_posix()


def _sarif_result(finding: Finding, rule_index: Mapping[str, int], artifact: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "level": _SARIF_LEVEL[finding.severity],
        "message": {"text": finding.message},
        "partialFingerprints": {"dbsageFindingId/v1": finding.id},
        "properties": {
            "severity": finding.severity.value,
            "category": finding.category.value,
            "objectType": finding.object_type.value,
            "object": finding.object,
            "evidence": finding.evidence,
        },
    }
    if finding.rule_id in rule_index:
        result["ruleIndex"] = rule_index[finding.rule_id]
    if finding.fix:
        result["properties"]["fix"] = finding.fix
    logical = {"fullyQualifiedName": finding.object, "kind": finding.object_type.value}
    if finding.location is not None:
        result["locations"] = [{
            "physicalLocation": {
                "artifactLocation": {"uri": _artifact_uri(finding.location.file)},
                "region": {"startLine": finding.location.line},
            },
            "logicalLocations": [logical],
        }]
    elif artifact is not None:
        result["locations"] = [{
            "physicalLocation": {"artifactLocation": {"uri": _artifact_uri(artifact)}},
            "logicalLocations": [logical],
        }]
    else:
        result["locations"] = [{"logicalLocations": [logical]}]
    return result


def sarif_log(
    report: Report, rules: Mapping[str, RuleDoc] | None = None, *, artifact: str | None = None
) -> dict[str, Any]:
    """The SARIF 2.1.0 log of a report, as a JSON-ready dict."""
    docs = sorted((load_rules() if rules is None else rules).values(), key=lambda d: d.id)
    rule_index = {doc.id: i for i, doc in enumerate(docs)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "dbsage",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_sarif_rule(doc) for doc in docs],
            }
        },
        "results": [_sarif_result(f, rule_index, artifact) for f in report.findings],
        "columnKind": "unicodeCodePoints",
    }
    if isinstance(report, SchemaReport):
        run["properties"] = {"source": report.source, "dialect": report.dialect.value}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render_sarif(report: Report, *, artifact: str | None = None) -> str:
    return json.dumps(sarif_log(report, artifact=artifact), indent=2) + "\n"


# --- the rule catalog ---------------------------------------------------------------------------


def rules_catalog(rules: Mapping[str, RuleDoc] | None = None) -> dict[str, Any]:
    """The knowledge catalog as JSON-ready data (the CLI's `rules --format json`, the MCP resource)."""
    docs = sorted((load_rules() if rules is None else rules).values(), key=lambda d: d.id)
    return {"dbsage_version": __version__, "rules": [doc.model_dump(mode="json") for doc in docs]}


def render_rules(fmt: Literal["text", "json", "markdown"], *, color: bool = False) -> str:
    """The rule catalog for `dbsage rules`."""
    catalog = rules_catalog()
    docs = [RuleDoc.model_validate(r) for r in catalog["rules"]]
    if fmt == "json":
        return json.dumps(catalog, indent=2) + "\n"
    if fmt == "markdown":
        out = ["# dbsage rules", ""]
        for doc in docs:
            out += [
                f"## {_md_code(doc.id)}: {_md(doc.title)}",
                "",
                f"Severity {doc.severity.value}, category {doc.category.value}, "
                f"dialects {', '.join(d.value for d in doc.dialects)}"
                + ("; live databases only." if doc.live_only else "."),
                "",
                f"**Why.** {_md(doc.rationale)}",
                "",
                f"**What to do.** {_md(doc.remediation)}",
                "",
            ]
            if doc.guides:
                out += ["**Guide.** " + ", ".join(_md_code(guide_uri(g)) for g in doc.guides), ""]
        return "\n".join(out).rstrip("\n") + "\n" if docs else "# dbsage rules\n\nNo rules are installed.\n"
    if not docs:
        return "No rules are installed.\n"
    id_w = max(len(d.id) for d in docs)
    lines = []
    for doc in docs:
        sev = _paint(f"{doc.severity.value:<7}", doc.severity, color)
        lines.append(f"{doc.id:<{id_w}}  {sev}  {doc.category.value:<11}  {doc.title}")
    lines.append("")
    lines.append(f"{len(docs)} rules. Details: dbsage rules --format markdown")
    return "\n".join(lines) + "\n"

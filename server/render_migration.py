"""plan_migration's own parts of a report, as text and as Markdown: the steps and the verification."""

from __future__ import annotations

from dbsage.tools.migration_model import MigrationReport, Step, TrafficMeasure, Verification


def _step_flags(step: Step) -> str:
    flags = [step.phase.value, "in a transaction" if step.transactional else "outside a transaction"]
    if step.lock:
        flags.append(f"{step.lock} on {step.lock_target}" if step.lock_target else step.lock)
    if step.lock_timeout_ms is not None:
        flags.append(f"lock_timeout {step.lock_timeout_ms} ms")
    if step.repeat == "until_no_rows":
        flags.append("repeat until no row changes")
    if step.irreversible:
        flags.append("IRREVERSIBLE")
    return "; ".join(flags)


def _measure(m: TrafficMeasure) -> str:
    failed = f"; failed: {m.error}" if m.error else ""
    retries = f", {m.lock_timeout_retries} lock_timeout retries" if m.lock_timeout_retries else ""
    first = f"; first traffic error: {m.first_traffic_error}" if m.first_traffic_error else ""
    return (
        f"ran {m.duration_ms:,.0f} ms, longest wait of the traffic {m.longest_lock_wait_ms:,.0f} ms "
        f"(writes {m.longest_write_wait_ms:,.0f} ms, reads {m.longest_read_wait_ms:,.0f} ms; {m.writer_ops} writes, "
        f"{m.reader_ops} reads, {m.traffic_errors} errors{retries}){failed}{first}"
    )


def _verification_lines(v: Verification) -> list[str]:
    lines = [f"Verification on {v.scratch}: {v.summary}",
             f"  original: {_measure(v.original)}",
             f"  plan:     {_measure(v.plan)}",
             f"  rollback restores the schema: {'yes' if v.rollback_restores_schema else 'no'}"]
    lines += [f"    left changed: {d}" for d in v.schema_differences]
    if v.skipped_steps:
        lines.append(f"  not run (irreversible): steps {', '.join(str(n) for n in v.skipped_steps)}")
    lines += [f"  note: {n}" for n in v.notes]
    return lines


def _indent(text: str, prefix: str) -> list[str]:
    return [prefix + line for line in text.strip().splitlines()]


def migration_text(report: MigrationReport) -> list[str]:
    """The plan's steps with their SQL and rollback, then the verification."""
    lines = ["", f"Plan ({len(report.steps)} steps):"]
    for step in report.steps:
        where = f" [{step.source.file}:{step.source.line}]" if step.source else ""
        lines.append(f"  {step.number}. {step.description}{where}")
        lines.append(f"     {_step_flags(step)}")
        lines += _indent(step.sql, "       ")
        if step.rollback_sql:
            lines.append("     rollback:")
            lines += _indent(step.rollback_sql, "       ")
    if report.suppressed:
        lines += ["", "Suppressed by comments in the migration:"]
        lines += [f"  {s.rule_id} at {s.location.file}:{s.location.line}" for s in report.suppressed]
    if report.verification is not None:
        lines += ["", *_verification_lines(report.verification)]
    lines += [f"Note: {note}" for note in report.notes]
    return lines


def _fence(sql: str, lang: str = "sql") -> list[str]:
    fence = "```"
    while fence in sql:
        fence += "`"
    return [f"{fence}{lang}", sql.strip(), fence]


def migration_markdown(report: MigrationReport) -> list[str]:
    out = ["", f"## Plan ({len(report.steps)} steps)", ""]
    for step in report.steps:
        where = f" (`{step.source.file}:{step.source.line}`)" if step.source else ""
        out += [f"### {step.number}. {step.description}{where}", "", f"*{_step_flags(step)}*", "", *_fence(step.sql)]
        if step.rollback_sql:
            out += ["", "Rollback:", "", *_fence(step.rollback_sql)]
        out.append("")
    if report.suppressed:
        out += ["Suppressed by comments in the migration:", ""]
        out += [f"- `{s.rule_id}` at `{s.location.file}:{s.location.line}`" for s in report.suppressed]
        out.append("")
    if report.verification is not None:
        v = report.verification
        out += ["## Verification", "", v.summary, "", "| run | duration ms | longest wait ms | writes | reads |",
                "|---|---:|---:|---:|---:|"]
        for label, m in (("original", v.original), ("plan", v.plan)):
            out.append(f"| {label} | {m.duration_ms:,.0f} | {m.longest_lock_wait_ms:,.0f} | {m.writer_ops} | "
                       f"{m.reader_ops} |")
        out += ["", f"Rollback restores the schema: {'yes' if v.rollback_restores_schema else 'no'}."]
        out += [f"- left changed: {d}" for d in v.schema_differences]
        if v.skipped_steps:
            out.append(f"Not run (irreversible): steps {', '.join(str(n) for n in v.skipped_steps)}.")
        out += [f"- {n}" for n in v.notes]
    out += [f"Note: {note}" for note in report.notes]
    return out

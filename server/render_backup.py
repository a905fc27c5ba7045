"""checklist_review's restore drill and backup plan, as one compact block of text or Markdown."""

from __future__ import annotations

from dbsage.tools.backup_model import BackupPlan, RestoreDrill

_SHOWN = 3  # failed tables, differences and errors shown inline; the JSON report has them all


def _size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} bytes"


def _some(items: list[str]) -> str:
    more = f" (+{len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return "; ".join(" ".join(i.split())[:160] for i in items[:_SHOWN]) + more


def _pitr(plan: BackupPlan) -> str:
    return {True: "possible", False: "not possible", None: "unknown"}[plan.pitr_possible]


def drill_lines(drill: RestoreDrill) -> list[str]:
    """The drill's verdict and figures, one fact per line."""
    lines = [f"Restore drill: {drill.status.upper()}: {drill.summary}",
             f"  backup {_size(drill.backup_bytes)} in {drill.backup_seconds:.2f} s ({drill.backup_tool}); restore "
             f"{drill.restore_seconds:.2f} s into {drill.scratch}; {len(drill.tables)} tables compared in "
             f"{drill.compare_seconds:.2f} s"]
    if drill.failed_tables:
        lines.append(f"  tables that did not restore: {_some(drill.failed_tables)}")
    if drill.schema_diff:
        lines.append(f"  schema differences ({len(drill.schema_diff)}): {_some(drill.schema_diff)}")
    if drill.errors:
        lines.append(f"  errors: {_some(drill.errors)}")
    lines.append(f"  RTO lower bound: {drill.rto_lower_bound_seconds:.2f} s (the measured restore time)")
    return lines


def backup_text(drill: RestoreDrill | None, plan: BackupPlan | None) -> list[str]:
    lines: list[str] = []
    if drill is not None:
        lines += ["", *drill_lines(drill)]
    if plan is not None:
        lines += ["", f"Backup plan ({_size(plan.database_bytes)}; point-in-time recovery {_pitr(plan)}: "
                      f"{plan.pitr_reason})",
                  f"  targets: RTO {plan.rto_target}, RPO {plan.rpo_target}; data loss possible now: {plan.rpo_now}"]
        lines += [f"  {s.kind:<11} {s.frequency}, keep {s.retention}: {s.command}" for s in plan.steps]
        lines.append(f"  restore     {plan.restore_command}")
    return lines


def backup_markdown(drill: RestoreDrill | None, plan: BackupPlan | None) -> list[str]:
    out: list[str] = []
    if drill is not None:
        out += ["", "## Restore drill", "", *[f"- {line.strip()}" for line in drill_lines(drill)]]
    if plan is not None:
        out += ["", "## Backup plan", "",
                f"Database size {_size(plan.database_bytes)}. Point-in-time recovery **{_pitr(plan)}**: "
                f"{plan.pitr_reason}. Targets: RTO {plan.rto_target}, RPO {plan.rpo_target}; data loss possible "
                f"now: {plan.rpo_now}.", "", "| backup | frequency | retention | command |", "|---|---|---|---|"]
        out += [f"| {s.kind} | {s.frequency} | {s.retention} | `{s.command.replace('|', chr(92) + '|')}` |"
                for s in plan.steps]
        out += ["", f"Restore: `{plan.restore_command}`"]
    return out

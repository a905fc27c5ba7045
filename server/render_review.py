"""audit_security's and checklist_review's own parts of a report, as text and as Markdown."""

from __future__ import annotations

from dbsage.server.render_backup import backup_markdown, backup_text
from dbsage.server.render_ops import monitoring_markdown, monitoring_text, scaling_markdown, scaling_text
from dbsage.tools.checklist_model import ChecklistReport, ChecklistSection, ItemStatus
from dbsage.tools.security import SecurityReport
from dbsage.tools.tenant_probe import ProbeReport

_STATUS_MARK = {
    ItemStatus.PASS: "PASS",
    ItemStatus.WARN: "WARN",
    ItemStatus.FAIL: "FAIL",
    ItemStatus.UNKNOWN: "????",
    ItemStatus.NOT_APPLICABLE: "n/a ",
}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _evidence_phrase(evidence: dict[str, object], limit: int = 4) -> str:
    parts = [f"{k}={v}" for k, v in list(evidence.items())[:limit] if not isinstance(v, list) or len(v) <= 5]
    return ", ".join(parts)


def _probe_lines(probe: ProbeReport) -> list[str]:
    if probe.refused:
        return [f"Tenant probe as {probe.app_role}: refused: {_one_line(probe.refused)}"]
    verdict = "isolated" if probe.isolated else "NOT isolated"
    lines = [f"Tenant probe as {probe.app_role} ({probe.tenant_setting}; tenants {', '.join(probe.tenants)}): "
             f"{verdict}, {len(probe.steps)} steps on {len(probe.relations)} relations"]
    for step in probe.steps:
        if step.outcome == "closed":
            continue
        rows = f"{step.rows} rows" if step.rows is not None else "no count"
        if step.error:
            rows += f", failed: {_one_line(step.error)[:80]}"
        tenant = "no tenant" if step.tenant is None else (f"tenant {step.tenant}" if step.tenant else "empty tenant")
        lines.append(f"  {step.outcome.upper()}: {step.relation} {step.name} as {tenant}: {rows}")
    lines += [f"  note: {_one_line(n)}" for n in probe.notes]
    return lines


def security_text(report: SecurityReport) -> list[str]:
    lines: list[str] = []
    if report.app_roles:
        lines.append(f"Application roles audited: {', '.join(report.app_roles)}")
    if report.files_scanned:
        lines.append(f"Files scanned for credentials: {report.files_scanned}")
    if report.probe is not None:
        lines += ["", *_probe_lines(report.probe)]
    if report.least_privilege_setup:
        lines += ["", "Least-privilege setup (a migration role and an application role):"]
        lines += ["    " + line for line in report.least_privilege_setup.strip().splitlines()]
    lines += [f"Not checked: {_one_line(gap)}" for gap in report.not_checked]
    return ["", *lines] if lines else []


def security_markdown(report: SecurityReport) -> list[str]:
    out: list[str] = []
    if report.probe is not None:
        probe = report.probe
        out += ["", "## Tenant isolation probe", ""]
        if probe.refused:
            out.append(f"Refused: {_one_line(probe.refused)}")
        else:
            out += [f"As `{probe.app_role}`, tenants {', '.join(probe.tenants)}: "
                    f"**{'isolated' if probe.isolated else 'not isolated'}**.", "",
                    "| relation | step | tenant | rows | outcome |", "|---|---|---|---:|---|"]
            for s in probe.steps:
                rows = "error" if s.rows is None else str(s.rows)
                out.append(f"| `{s.relation}` | {s.name} | {s.tenant or '(none)'} | {rows} | {s.outcome} |")
    if report.least_privilege_setup:
        out += ["", "## Least-privilege setup", "", "```sql", report.least_privilege_setup.strip(), "```"]
    if report.not_checked:
        out += ["", "Not checked:", *[f"- {_one_line(gap)}" for gap in report.not_checked]]
    return out


def _score_line(report: ChecklistReport) -> str:
    c = report.score_counts
    score = "n/a" if report.score is None else f"{report.score:.2f}"
    return (f"Readiness score {score} ({c.get('pass', 0)} pass, {c.get('warn', 0)} warn, {c.get('fail', 0)} fail; "
            f"{c.get('unknown', 0)} unknown, {c.get('not_applicable', 0)} not applicable)")


def _section_text(section: ChecklistSection) -> list[str]:
    lines = ["", f"{section.title}:"]
    for item in section.items:
        lines.append(f"  [{_STATUS_MARK[item.status]}] {item.text}")
        detail = _evidence_phrase(dict(item.evidence))
        if item.reason:
            detail = f"{_one_line(item.reason)}{'; ' + detail if detail else ''}"
        if detail:
            lines.append(f"         {detail}")
    return lines


def checklist_text(report: ChecklistReport) -> list[str]:
    lines = ["", _score_line(report)]
    for section in report.sections:
        lines += _section_text(section)
    lines += backup_text(report.restore_drill, report.backup_plan)
    lines += monitoring_text(report.monitoring) if report.monitoring is not None else []
    lines += scaling_text(report.scaling) if report.scaling is not None else []
    if report.recommendations:
        lines += ["", "What to do first:"]
        lines += [f"  {r.priority:<7} {_one_line(r.text)}" for r in report.recommendations]
    lines += [f"Not checked: {_one_line(gap)}" for gap in report.not_checked]
    return lines


def checklist_markdown(report: ChecklistReport) -> list[str]:
    out = ["", f"**{_score_line(report)}**"]
    if report.recommendations:
        out += ["", "## What to do first", ""]
        out += [f"{i}. **{r.priority}**: {_one_line(r.text)}" for i, r in enumerate(report.recommendations, 1)]
    for section in report.sections:
        out += ["", f"## {section.title}", "", "| status | item | evidence |", "|---|---|---|"]
        for item in section.items:
            evidence = _evidence_phrase(dict(item.evidence)).replace("|", "\\|")
            reason = _one_line(item.reason).replace("|", "\\|") if item.reason else ""
            cell = "; ".join(x for x in (reason, evidence) if x)
            text = item.text.replace("|", "\\|")
            out.append(f"| {item.status.value} | {text} | {cell} |")
    out += backup_markdown(report.restore_drill, report.backup_plan)
    out += monitoring_markdown(report.monitoring) if report.monitoring is not None else []
    out += scaling_markdown(report.scaling) if report.scaling is not None else []
    if report.not_checked:
        out += ["", "Not checked:", *[f"- {_one_line(gap)}" for gap in report.not_checked]]
    return out

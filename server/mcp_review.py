"""The audit_security and checklist_review MCP tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from dbsage.server.calls import audit_security as run_audit_security
from dbsage.server.calls import checklist_review as run_checklist_review
from dbsage.server.config import DbsageConfig
from dbsage.server.fences import BEGIN_DATA, END_DATA
from dbsage.server.mcp_server import (
    SUMMARY_FINDINGS,
    _default_database,
    _internal_error,
    _quote,
    error_result,
    read_only_tool,
    report_result,
)
from dbsage.server.render_ops import concise_ops, metric_value
from dbsage.tools.backup_model import RestoreDrill
from dbsage.tools.checklist_model import ChecklistReport, ItemStatus
from dbsage.tools.errors import DbsageError, InputError
from dbsage.tools.findings import Finding
from dbsage.tools.security import SecurityReport

AUDIT_SECURITY_DESCRIPTION = (
    "Least privilege, row-level security, role attributes, SECURITY DEFINER functions, password and TLS "
    "settings of a database, and hard-coded credentials in paths: findings with fix SQL. probe_tenants=true "
    "proves tenant isolation as the app role (PostgreSQL; writes rolled back): the only mode that writes."
)
CHECKLIST_REVIEW_DESCRIPTION = (
    "The production-readiness checklist (schema, migrations, security, performance, backup and recovery, "
    "monitoring) for a database and optional repository paths: each item pass/warn/fail/unknown/"
    "not_applicable with evidence, a readiness score and prioritised recommendations."
)
DRILL_DESCRIPTION = (
    " restore_drill=true backs the database up, restores it into a scratch database and compares every "
    "table's rows and the schema: the only mode that writes."
)


Detail = Literal["concise", "full"]
CONCISE_NOTE = "Concise answer: findings without evidence{more}; detail=full has everything."


def concise_findings(findings: list[Finding], *, keep_fix: bool) -> list[Finding]:
    """Findings without their evidence (and fix SQL unless kept): a whole review fits one answer."""
    return [
        f.model_copy(update={"evidence": {}, "fix": f.fix if keep_fix else None, "remediation": None})
        for f in findings
    ]


def concise_security(report: SecurityReport) -> SecurityReport:
    probe = report.probe
    if probe is not None:
        steps = [s.model_copy(update={"sql": "", "expected": ""}) for s in probe.steps]
        probe = probe.model_copy(update={"steps": steps})
    return report.model_copy(
        update={"findings": concise_findings(report.findings, keep_fix=True), "probe": probe}
    )


def concise_checklist(report: ChecklistReport) -> ChecklistReport:
    return report.model_copy(update={"findings": concise_findings(report.findings, keep_fix=False),
                                     **concise_ops(report.monitoring, report.scaling)})


def served_paths(paths: list[str] | None) -> list[str] | None:
    """Repository paths an MCP client may name: inside the server's working directory, nowhere else.

    The CLI reads any path its user gives; a client of the server names paths on the server's machine,
    so they stay under the folder the server was started in (the project).
    """
    if not paths:
        return paths
    root = Path.cwd().resolve()
    for given in paths:
        resolved = (root / given).resolve()
        if resolved != root and root not in resolved.parents:
            raise InputError(
                f"{given} is outside the folder the server runs in; only paths inside it are read.",
                hint=f"name a path relative to {root.name}/",
            )
    return [str((root / given).resolve()) for given in paths]


def summarize_security(report: SecurityReport) -> str:
    counts: dict[str, int] = {}
    for f in report.findings:
        counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    phrase = ", ".join(f"{n} {s}" for s, n in counts.items()) or "none"
    lines = [f"audit_security on {_quote(report.source)} ({report.dialect}): {len(report.findings)} findings "
             f"({phrase}); app roles: {_quote(', '.join(report.app_roles) or 'none detected')}."]
    if report.probe is not None:
        p = report.probe
        verdict = f"refused: {_quote(p.refused)}" if p.refused else ("isolated" if p.isolated else "NOT isolated")
        lines.append(f"Tenant probe as {_quote(p.app_role, 80)}: {verdict} ({len(p.steps)} steps).")
    quoted = [f"- {f.severity.value} {f.rule_id} {_quote(f.object, 120)}: {_quote(f.message)}"
              for f in report.findings[:SUMMARY_FINDINGS]]
    quoted += [f"- not checked: {_quote(gap)}" for gap in report.not_checked]
    if quoted:
        lines += [BEGIN_DATA, *quoted, END_DATA]
    return "\n".join(lines)


def summarize_ops(report: ChecklistReport) -> list[str]:
    """One line of measured metrics and one of scaling verdicts (no database text in either)."""
    lines: list[str] = []
    if report.monitoring is not None and report.monitoring.metrics:
        lines.append("Monitoring: " + ", ".join(f"{m.name} {metric_value(m)} {m.status}"
                                                for m in report.monitoring.metrics) + ".")
    if report.scaling is not None:
        lines.append(f"Scaling: read/write {report.scaling.read_write.pattern}; "
                     f"{len(report.scaling.vertical_partitioning)} vertical partitioning candidate(s); "
                     f"{'shard key ' + report.scaling.shard_key.column if report.scaling.shard_key else 'no shard key'}"
                     f"{' (skewed)' if report.scaling.shard_key and report.scaling.shard_key.skewed else ''}.")
    return lines


def summarize_checklist(report: ChecklistReport) -> str:
    c = report.score_counts
    score = "n/a" if report.score is None else f"{report.score:.2f}"
    lines = [f"checklist_review on {_quote(report.source)} ({report.dialect.value}): readiness {score}; "
             f"{c.get('pass', 0)} pass, {c.get('warn', 0)} warn, {c.get('fail', 0)} fail, "
             f"{c.get('unknown', 0)} unknown, {c.get('not_applicable', 0)} not applicable."]
    failing = [i for s in report.sections for i in s.items if i.status in (ItemStatus.FAIL, ItemStatus.WARN)]
    quoted = [f"- {i.status.value} {i.id}: {_quote(i.text)}" for i in failing[:SUMMARY_FINDINGS]]
    quoted += [f"- do ({r.priority}): {_quote(r.text)}" for r in report.recommendations[:10]]
    lines += summarize_ops(report)
    if report.monitoring is not None and report.monitoring.top_queries:
        top = report.monitoring.top_queries[0]
        quoted.append(f"- top statement by total time ({top.calls} calls, mean {top.mean_ms:g} ms): "
                      f"{_quote(top.query)}")
    if quoted:
        lines += [BEGIN_DATA, *quoted, END_DATA]
    return "\n".join(lines)


def audit_security_tool(config: DbsageConfig) -> Tool:
    def audit_security(
        database: Annotated[str | None, Field(description="Configured database name")] = None,
        paths: Annotated[list[str] | None, Field(description="Repository paths to scan for credentials")] = None,
        app_roles: Annotated[list[str] | None, Field(description="Default: login roles, not superusers")] = None,
        tenant_column: str = "tenant_id",
        probe_tenants: bool = False,
        tenant_setting: Annotated[str | None, Field(description="Default: read from the policies")] = None,
        detail: Detail = "concise",
    ) -> Annotated[CallToolResult, SecurityReport]:
        try:
            if database is None and not paths:
                database = _default_database(config)
            report = run_audit_security(
                config, database=database, paths=served_paths(paths), app_roles=app_roles,
                tenant_column=tenant_column,
                probe_tenants=probe_tenants, tenant_setting=tenant_setting,
            )
        except DbsageError as exc:
            return error_result(exc)
        except Exception as exc:
            return _internal_error(exc, "audit_security")
        summary = summarize_security(report)
        if detail == "concise":
            report = concise_security(report)
            summary += "\n" + CONCISE_NOTE.format(more=", probe steps without their SQL and expectation")
        return report_result(report, summary)

    tool = read_only_tool(
        audit_security, "audit_security", "Audit security", AUDIT_SECURITY_DESCRIPTION, SecurityReport
    )
    # probe_tenants writes inside a transaction that is always rolled back; triggers on the probed tables fire.
    tool.annotations = ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    return tool


def restore_drill_offered(config: DbsageConfig) -> bool:
    """Whether checklist_review offers its restore drill, which writes: only when the configuration names a
    scratch database, or a database that is not production (dbsage may create a temporary one beside it)."""
    return config.server.allow_raw_dsn or any(
        db.mode == "scratch" or not db.production for db in config.databases.values()
    )


def summarize_drill(drill: RestoreDrill | None) -> str:
    """The drill's verdict; its summary names tables (database text), so it stays inside the data fence."""
    if drill is None:
        return ""
    figures = (f"Restore drill: {drill.status}; backup {drill.backup_bytes:,} bytes in {drill.backup_seconds:.2f} s, "
               f"restore {drill.restore_seconds:.2f} s (the lower bound of RTO), {len(drill.tables)} tables compared.")
    return "\n" + "\n".join([figures, BEGIN_DATA, f"- {_quote(drill.summary)}", END_DATA])


def concise_drill(report: ChecklistReport) -> ChecklistReport:
    """Only the tables that did not come back: a database of thousands of tables still fits one answer."""
    drill = report.restore_drill
    if drill is None:
        return report
    kept = [t for t in drill.tables if not t.ok]
    return report.model_copy(update={"restore_drill": drill.model_copy(update={"tables": kept})})


def checklist_review_tool(config: DbsageConfig) -> Tool:
    def review(
        database: str | None, paths: list[str] | None, detail: Detail, restore_drill: bool, scratch: str | None
    ) -> CallToolResult:
        try:
            report = run_checklist_review(
                config, database=database or _default_database(config), paths=served_paths(paths),
                restore_drill=restore_drill, scratch=scratch,
            )
        except DbsageError as exc:
            return error_result(exc)
        except Exception as exc:
            return _internal_error(exc, "checklist_review")
        summary = summarize_checklist(report) + summarize_drill(report.restore_drill)
        if detail == "concise":
            report = concise_drill(concise_checklist(report))
            summary += "\n" + CONCISE_NOTE.format(more=" or fix SQL (the tool that found each has them)")
        return report_result(report, summary)

    def checklist_review(
        database: Annotated[str | None, Field(description="Configured database name")] = None,
        paths: Annotated[list[str] | None, Field(description="The application's repository paths")] = None,
        detail: Detail = "concise",
    ) -> Annotated[CallToolResult, ChecklistReport]:
        return review(database, paths, detail, False, None)

    def checklist_review_with_drill(
        database: Annotated[str | None, Field(description="Configured database name")] = None,
        paths: Annotated[list[str] | None, Field(description="The application's repository paths")] = None,
        detail: Detail = "concise",
        restore_drill: Annotated[bool, Field(description="Back up, restore into scratch, compare (writes)")] = False,
        scratch_database: Annotated[str | None, Field(description="Configured scratch database")] = None,
    ) -> Annotated[CallToolResult, ChecklistReport]:
        return review(database, paths, detail, restore_drill, scratch_database)

    if not restore_drill_offered(config):
        return read_only_tool(
            checklist_review, "checklist_review", "Checklist review", CHECKLIST_REVIEW_DESCRIPTION, ChecklistReport
        )
    tool = read_only_tool(
        checklist_review_with_drill, "checklist_review", "Checklist review",
        CHECKLIST_REVIEW_DESCRIPTION + DRILL_DESCRIPTION, ChecklistReport,
    )
    # restore_drill writes: to a configured scratch database, or a temporary database dbsage creates and drops.
    tool.annotations = ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    return tool

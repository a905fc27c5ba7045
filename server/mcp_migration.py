"""The plan_migration MCP tool: lint a migration, plan it safely, and (verify) prove it on a scratch database."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from dbsage.server.calls_migration import plan_migration as run_plan_migration
from dbsage.server.config import DbsageConfig
from dbsage.server.fences import BEGIN_DATA, END_DATA
from dbsage.server.mcp_server import (
    SUMMARY_FINDINGS,
    _internal_error,
    _quote,
    error_result,
    read_only_tool,
    report_result,
)
from dbsage.tools.errors import DbsageError, InputError
from dbsage.tools.migration_model import MigrationReport

PLAN_MIGRATION_DESCRIPTION = (
    "A migration (sql text) or a target schema (target_ddl, vs database or current_ddl): hazards with the lock "
    "each takes, and the safe plan as ordered steps (expand/backfill/switch/contract, SQL, rollback_sql, "
    "timeouts). verify=true runs both on a scratch database under traffic: the only mode that writes."
)


def summarize_migration(report: MigrationReport) -> str:
    """What a model reads first: hazards, the plan's shape, and the verification's verdict."""
    irreversible = sum(1 for s in report.steps if s.irreversible)
    lines = [
        f"plan_migration ({report.dialect.value}): {report.statements} statements, {len(report.findings)} "
        f"findings, {len(report.steps)} plan steps ({irreversible} irreversible), "
        f"{len(report.suppressed)} suppressed."
    ]
    if report.verification is not None:
        lines.append(f"Verification: {report.verification.summary}")
    quoted = [
        f"- {f.severity.value} {f.rule_id} line {f.location.line if f.location else '?'} {_quote(f.object, 120)}: "
        f"{_quote(f.message)}"
        for f in report.findings[:SUMMARY_FINDINGS]
    ]
    if quoted:
        lines += [BEGIN_DATA, *quoted, END_DATA]
    lines += [f"Note: {_quote(n)}" for n in report.notes]
    return "\n".join(lines)


def plan_migration_tool(config: DbsageConfig) -> Tool:
    def plan_migration(
        sql: Annotated[str | None, Field(description="The migration's SQL")] = None,
        dialect: Literal["postgres", "mysql", "mariadb"] | None = None,
        database: Annotated[str | None, Field(description="Configured database it is for (sizes)")] = None,
        target_ddl: Annotated[str | None, Field(description="Desired schema DDL: plan the difference")] = None,
        current_ddl: Annotated[str | None, Field(description="Current DDL when no database")] = None,
        server_version: Annotated[str | None, Field(description="e.g. 15, 8.0.29")] = None,
        verify: bool = False,
        scratch_database: Annotated[str | None, Field(description="Configured scratch database")] = None,
    ) -> Annotated[CallToolResult, MigrationReport]:
        try:
            if (sql is None) == (target_ddl is None):
                raise InputError("Pass sql (a migration) or target_ddl (a desired schema).")
            report = run_plan_migration(
                config, sql=sql, dialect=dialect, server_version=server_version, database=database,
                allow_url=None, target_ddl=target_ddl, current_ddl=current_ddl, verify=verify,
                scratch=scratch_database,
            )
        except DbsageError as exc:
            return error_result(exc)
        except Exception as exc:
            return _internal_error(exc, "plan_migration")
        return report_result(report, summarize_migration(report))

    tool = read_only_tool(
        plan_migration, "plan_migration", "Plan migration", PLAN_MIGRATION_DESCRIPTION, MigrationReport
    )
    # verify writes: to a configured scratch database, or a temporary copy dbsage creates and drops.
    tool.annotations = ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    return tool

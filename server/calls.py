"""The tool calls the CLI and the MCP server share: what a caller named, turned into a report.

Both front ends accept the same sources (a configured database, a URL where allowed, DDL) and the same
paging arguments; this module is the one place that resolves them, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbsage.server.config import DbsageConfig
from dbsage.tools.catalog import Catalog
from dbsage.tools.errors import InputError
from dbsage.tools.explain import ExplainReport
from dbsage.tools.findings import Finding, Severity
from dbsage.tools.indexes import IndexReport
from dbsage.tools.indexes import suggest_indexes as run_suggest_indexes
from dbsage.tools.schema import (
    Detail,
    SchemaReport,
    analyze_scoped,
    build_report,
    filter_catalog,
    load_source_catalog,
)

if TYPE_CHECKING:
    from dbsage.tools.checklist import ChecklistReport
    from dbsage.tools.security import SecurityReport


@dataclass(frozen=True)
class Source:
    """Exactly one of: a database (configured name, or URL), DDL text, or a DDL file."""

    database: str | None = None
    ddl: str | None = None
    ddl_file: str | None = None
    dialect: str | None = None
    # The CLI's own --dsn may carry a URL even when the server would refuse one.
    allow_url: bool | None = None


def load_catalog(config: DbsageConfig, source: Source, *, schema: str | None = None) -> tuple[Catalog, str]:
    """The Catalog of the source and the name to show for it (never a URL with its password)."""
    given = [x for x in (source.database, source.ddl, source.ddl_file) if x is not None]
    if len(given) != 1:
        raise InputError(
            "Give exactly one source: a configured database, DDL text or a DDL file.",
            hint="database NAME, or ddl with dialect",
        )
    if source.database is not None:
        if source.dialect:
            raise InputError(
                "dialect applies only to DDL; a live database reports its own.", hint="drop the dialect"
            )
        from dbsage.tools.sources.resolve import catalog_from_url

        target = config.target(source.database, allow_url=source.allow_url)
        catalog = catalog_from_url(target.url, schemas=[schema] if schema else None, limits=target.limits)
        return catalog, target.name
    return load_source_catalog(
        ddl=source.ddl, ddl_file=source.ddl_file, dialect=source.dialect, schema=schema
    )


def inspect_schema(
    config: DbsageConfig,
    source: Source,
    *,
    schema: str | None = None,
    table: str | None = None,
    detail: Detail = "concise",
    min_severity: Severity | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[SchemaReport, Catalog]:
    """One page of the inspect_schema report, with the configured rule options applied."""
    catalog, name = load_catalog(config, source, schema=schema)
    report = build_report(
        catalog,
        source=name,
        schema=schema,
        table=table,
        detail=detail,
        min_severity=min_severity,
        limit=limit,
        cursor=cursor,
        options=config.rules.options(),
    )
    return report, catalog


def all_findings(
    config: DbsageConfig,
    catalog: Catalog,
    *,
    schema: str | None = None,
    table: str | None = None,
    min_severity: Severity | None = None,
) -> list[Finding]:
    """Every finding of the filtered set, not one page's: what CI gates and SARIF files need."""
    scoped = filter_catalog(catalog, schema=schema, table=table)
    return analyze_scoped(scoped, min_severity=min_severity, options=config.rules.options())


def explain_query(
    config: DbsageConfig,
    *,
    sql: str,
    database: str | None = None,
    dialect: str | None = None,
    allow_url: bool | None = None,
    params: list[Any] | None = None,
    analyze: bool = False,
    allow_write_analyze: bool = False,
    hypothetical_indexes: list[str] | None = None,
) -> ExplainReport:
    """explain_query on a configured database (or a URL where allowed), or on the SQL text alone."""
    from dbsage.tools.explain import explain_query as run_explain

    options = config.rules.options()
    if database is None:
        if hypothetical_indexes or analyze or params:
            raise InputError(
                "analyze, params and hypothetical indexes need a database.", hint="name a configured database"
            )
        return run_explain(sql=sql, dialect=dialect, options=options)
    if dialect:
        raise InputError("dialect applies only without a database; a live database reports its own.",
                         hint="drop the dialect")
    target = config.target(database, allow_url=allow_url)
    if allow_write_analyze:
        config.refuse_on_production(
            database, doing="execute data changes, even in a rolled-back transaction,",
            hint="explain without analyze, or analyze on a copy",
        )
    return run_explain(
        dsn=target.url, sql=sql, params=params, analyze=analyze, allow_write_analyze=allow_write_analyze,
        hypothetical_indexes=hypothetical_indexes, limits=target.limits, source_name=target.name,
        options=options,
    )


def suggest_indexes(
    config: DbsageConfig,
    *,
    database: str,
    allow_url: bool | None = None,
    queries: list[str] | None = None,
    from_stats: bool = False,
    budget_mb: float = 500,
    max_indexes: int = 10,
    max_width: int = 3,
    time_limit_s: float = 30,
    progress: Callable[[str], None] | None = None,
    allow_real_index_rollback: bool = False,
) -> IndexReport:
    """suggest_indexes on a configured database (or a URL where allowed)."""
    target = config.target(database, allow_url=allow_url)
    if allow_real_index_rollback:
        config.refuse_on_production(
            database, doing="build real indexes, even in a rolled-back transaction (the build blocks writes to "
            "the table while it runs),", hint="install HypoPG there, or run on a copy that is not production",
        )
    return run_suggest_indexes(
        dsn=target.url, queries=queries, from_stats=from_stats, budget_mb=budget_mb, max_indexes=max_indexes,
        max_width=max_width, time_limit_s=time_limit_s, limits=target.limits, source_name=target.name,
        progress=progress, allow_real_index_rollback=allow_real_index_rollback,
    )


def audit_security(
    config: DbsageConfig,
    *,
    database: str | None = None,
    allow_url: bool | None = None,
    paths: list[str] | None = None,
    app_roles: list[str] | None = None,
    tenant_column: str = "tenant_id",
    probe_tenants: bool = False,
    tenant_setting: str | None = None,
) -> SecurityReport:
    """audit_security on a configured database (or a URL where allowed) and/or the application's files."""
    from dbsage.tools.security import audit_security as run_audit_security

    if database is None and not paths:
        raise InputError("Give a database, repository paths, or both.", hint="name a configured database")
    dsn = source_name = None
    limits = None
    if database is not None:
        target = config.target(database, allow_url=allow_url)
        dsn, source_name, limits = target.url, target.name, target.limits
        if probe_tenants:
            config.refuse_on_production(
                database, doing="run the tenant probe, which writes (in a rolled-back transaction),",
                hint="probe a staging copy with the same policies",
            )
    elif probe_tenants:
        raise InputError("The tenant probe needs a database.", hint="name a configured database")
    return run_audit_security(
        dsn, paths=paths, app_roles=app_roles, tenant_column=tenant_column, probe_tenants=probe_tenants,
        tenant_setting=tenant_setting, limits=limits, source_name=source_name, options=config.rules.options(),
    )


def checklist_review(
    config: DbsageConfig,
    *,
    database: str,
    allow_url: bool | None = None,
    paths: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    restore_drill: bool = False,
    scratch: str | None = None,
) -> ChecklistReport:
    """The production-readiness checklist for a configured database (or a URL where allowed).

    `restore_drill` restores a backup into `scratch` (a database configured with mode "scratch", or a
    URL where allowed) or, without one, into a database dbsage creates on the source's server, which is
    refused when the source is configured as production (gated as plan_migration's verify is).
    """
    from dbsage.server.calls_migration import _scratch_url
    from dbsage.tools.checklist import checklist_review as run_checklist_review

    target = config.target(database, allow_url=allow_url)
    scratch_dsn = None
    if scratch is not None:
        if not restore_drill:
            raise InputError("A scratch database is used only by the restore drill.",
                             hint="add restore_drill, or drop the scratch database")
        scratch_dsn = _scratch_url(config, scratch, allow_url=allow_url)
    elif restore_drill:
        config.refuse_on_production(
            database, doing="create a scratch database on that server for a restore drill",
            hint='name a database configured with mode = "scratch" to restore into',
        )
    return run_checklist_review(
        target.url, paths=paths, limits=target.limits, source_name=target.name, options=config.rules.options(),
        progress=progress, restore_drill=restore_drill, scratch_dsn=scratch_dsn,
    )

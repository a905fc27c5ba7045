"""The plan_migration call the CLI and the MCP server share, apart from the other calls.

`dbsage plan-migration` is a pre-commit hook and a CI step: this module imports only what linting
needs, so the command starts fast.
"""

from __future__ import annotations

from collections.abc import Callable

from dbsage.server.config import DbsageConfig
from dbsage.tools.errors import GuardRefused, InputError
from dbsage.tools.migration_model import MigrationReport


def _scratch_url(config: DbsageConfig, scratch: str, *, allow_url: bool | None) -> str:
    """The URL of a scratch database the operator designated: configured with mode "scratch", or on the CLI."""
    if "://" in scratch and scratch not in config.databases:
        if not allow_url:
            raise GuardRefused(
                "A scratch database must be configured as one; a URL is not accepted here.",
                reason="not_scratch",
                hint='add it to dbsage.toml with mode = "scratch" and pass its name',
            )
        return scratch
    db = config.database(scratch)
    if db.mode != "scratch":
        raise GuardRefused(
            f"{scratch} is not configured as a scratch database; dbsage writes only to scratch databases.",
            reason="not_scratch",
            hint=f'set mode = "scratch" under [databases.{scratch}] if it holds nothing to keep',
        )
    return db.url


def plan_migration(
    config: DbsageConfig,
    *,
    paths: list[str] | None = None,
    sql: str | None = None,
    dialect: str | None = None,
    server_version: str | None = None,
    database: str | None = None,
    allow_url: bool | None = None,
    target_ddl: str | None = None,
    current_ddl: str | None = None,
    verify: bool = False,
    scratch: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> MigrationReport:
    """plan_migration on files or SQL text, optionally against a configured database and verified on scratch."""
    from dbsage.tools.migration import plan_migration as run_plan_migration

    dsn = source_name = None
    limits = None
    if database is not None:
        target = config.target(database, allow_url=allow_url)
        dsn, source_name, limits = target.url, target.name, target.limits
    scratch_dsn = None
    if scratch is not None:
        if not verify:
            raise InputError("A scratch database is used only to verify.", hint="add verify, or drop the scratch")
        scratch_dsn = _scratch_url(config, scratch, allow_url=allow_url)
    elif verify:
        if database is None:
            raise InputError(
                "verify needs a database to copy the touched tables from, or a scratch database.",
                hint="name the database the migration is for, or a scratch database",
            )
        config.refuse_on_production(
            database, doing="create a scratch copy on that server",
            hint='verify on a database configured with mode = "scratch"',
        )
    return run_plan_migration(
        paths, sql=sql, dialect=dialect, server_version=server_version, dsn=dsn, target_ddl=target_ddl,
        current_ddl=current_ddl, verify=verify, scratch_dsn=scratch_dsn, limits=limits, source_name=source_name,
        options=config.rules.options(), progress=progress,
    )


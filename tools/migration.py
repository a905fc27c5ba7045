"""plan_migration: a migration's hazards, its safe plan and, on request, the proof on a scratch database.

The entry only orchestrates: read the migration (files, SQL text, or the difference between the current
schema and a target DDL), lint it, plan it, verify it. Each stage lives in its own module and is imported
when it runs, so linting alone never imports the planner, the verifier, a driver or a SQL generator.
"""

from __future__ import annotations

import gc
import importlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.errors import InputError
from dbsage.tools.findings import Finding, sort_findings
from dbsage.tools.migration_model import (
    DEFAULT_SERVER_VERSION_NUM,
    MigrationContext,
    MigrationFile,
    MigrationReport,
    MigrationScript,
    Step,
    Verification,
)
from dbsage.tools.rules.registry import RuleOptions

if TYPE_CHECKING:
    from dbsage.tools.sources.guard import Limits

_DIALECTS = "postgres, mysql, mariadb"
# Planning costs about 1 ms and 15 KB per statement: 20,000 plan in about 20 s within 400 MB.
# A larger script (a data dump, a generated file) is refused rather than left to run for hours.
MAX_STATEMENTS = 20_000
_VERSION = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_server_version(text: str | int, dialect: Dialect) -> int:
    """A version as the engine numbers it: '15.4' -> 150004, '9.6.3' -> 90603, '8.0.29' -> 80029.

    A number already in that form (e.g. '150004') is taken as is.
    """
    raw = str(text).strip()
    if raw.isdigit() and int(raw) >= 10000:
        return int(raw)
    m = _VERSION.match(raw)
    if m is None:
        raise InputError(f"Cannot read the server version {text!r}.", hint="e.g. 15, 15.4, 8.0.29 or 10.11")
    major, minor, patch = (int(g) if g else 0 for g in m.groups())
    if dialect is Dialect.POSTGRES:
        if major >= 10:
            return major * 10000 + minor
        return major * 10000 + minor * 100 + patch
    return major * 10000 + minor * 100 + patch


def _stage(module: str, name: str, what: str) -> Callable[..., Any]:
    """Import `name` from `module` when the stage runs; InputError names the missing piece."""
    full = f"dbsage.tools.{module}"
    try:
        mod = importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
        raise InputError(f"{what} is not available in this installation ({full} is missing).",
                         hint="install a dbsage version that includes it") from None
    fn = getattr(mod, name, None)
    if fn is None:
        raise InputError(f"{what} is not available in this installation ({full}.{name} is missing).",
                         hint="install a dbsage version that includes it")
    return fn  # type: ignore[no-any-return]


def _resolve_dialect(dialect: str | Dialect | None) -> Dialect | None:
    if dialect is None or dialect == "":
        return None
    from dbsage.tools.sources.resolve import parse_dialect

    resolved = parse_dialect(dialect)
    if resolved is Dialect.SQLITE:
        raise InputError("plan_migration supports PostgreSQL, MySQL and MariaDB, not SQLite.",
                         hint=f"use one of: {_DIALECTS}")
    return resolved


def _live_catalog(dsn: str, limits: Limits | None) -> tuple[Catalog, str]:
    """The live catalog (sizes included) of the database the migration is for, read through the guard."""
    from dbsage.tools.sources.guard import LiveDatabase
    from dbsage.tools.sources.live import load_catalog

    with LiveDatabase.open(dsn, limits=limits) as db:
        catalog = load_catalog(db)
        return catalog, db.url.redacted


def _diff_script(current: Catalog, target_ddl: str, dialect: Dialect) -> tuple[MigrationScript, list[Finding]]:
    """The migration that turns `current` into the target DDL, as a script named `<diff>`."""
    from dbsage.tools.migration_source import read_statements
    from dbsage.tools.sources.resolve import catalog_from_ddl_text

    target = catalog_from_ddl_text(target_ddl, dialect, file="<target_ddl>")
    diff_schemas = _stage("schema_diff", "diff_schemas", "Planning from a target schema")
    sql, findings = diff_schemas(current, target, dialect)
    statements = read_statements(sql, dialect, file="<diff>")
    return MigrationScript(files=[MigrationFile(path="<diff>", version=None, statements=statements)],
                           dialect=dialect), list(findings)


def plan_migration(
    paths: list[str] | None = None,
    *,
    sql: str | None = None,
    dialect: str | Dialect | None = None,
    server_version: str | None = None,
    dsn: str | None = None,
    target_ddl: str | None = None,
    current_ddl: str | None = None,
    verify: bool = False,
    scratch_dsn: str | None = None,
    limits: Limits | None = None,
    source_name: str | None = None,
    options: RuleOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> MigrationReport:
    """Lint and plan a migration (files, SQL text, or current schema -> `target_ddl`), verify it on request.

    The dialect comes from `dsn` when given (its catalog supplies table sizes and the server version),
    else from `dialect`. `current_ddl` stands for the current schema offline: with `target_ddl` it is what
    the difference starts from; without it, it tells the linter the columns' current types.
    `target_ddl` and `current_ddl` are DDL text.
    """
    say = progress or (lambda _msg: None)
    wanted = _resolve_dialect(dialect)
    notes: list[str] = []
    catalog: Catalog | None = None
    if dsn is not None:
        say("reading the database catalog")
        catalog, redacted = _live_catalog(dsn, limits)
        live = catalog.dialect
        if wanted is not None and wanted.is_mysql_family != live.is_mysql_family:
            raise InputError(f"The database is {live.value}, not {wanted.value}.",
                             hint="drop --dialect or give a database of that engine")
        if wanted is not None and wanted is not live:
            notes.append(f"The database is {live.value}; planned for {live.value} rather than {wanted.value}.")
        resolved = live
        notes.append(f"Table sizes and the server version were read from {source_name or redacted}.")
    elif wanted is not None:
        resolved = wanted
    else:
        raise InputError("plan_migration needs a dialect or a database.",
                         hint=f"pass --dialect ({_DIALECTS}) or --dsn URL")

    if catalog is not None and catalog.server_version_num:
        version_num = catalog.server_version_num
        if server_version is not None and parse_server_version(server_version, resolved) != version_num:
            notes.append(f"The database runs version {catalog.server_version}; the given {server_version} was "
                         "not used.")
    elif server_version is not None:
        version_num = parse_server_version(server_version, resolved)
    else:
        version_num = DEFAULT_SERVER_VERSION_NUM[resolved]
        notes.append(f"No server version given: assumed {version_num} (pass the version the migration targets).")

    if current_ddl is not None and catalog is None:
        from dbsage.tools.sources.resolve import catalog_from_ddl_text

        catalog = catalog_from_ddl_text(current_ddl, resolved, file="<current_ddl>")
    elif current_ddl is not None:
        notes.append("current_ddl was not used: the live database is the current schema.")

    diff_findings: list[Finding] = []
    if target_ddl is not None:
        if paths or sql is not None:
            raise InputError("Give migration files or SQL, or a target schema, not both.",
                             hint="plan the files, or the difference to --target-ddl")
        if catalog is None:
            raise InputError("A target schema needs the current one: a database or the current DDL.",
                             hint="pass --dsn URL or --current-ddl FILE")
        say("computing the difference to the target schema")
        script, diff_findings = _diff_script(catalog, target_ddl, resolved)
        if not script.statements:
            notes.append("The current schema already matches the target: nothing to migrate.")
    else:
        from dbsage.tools.migration_source import read_migrations

        script = read_migrations(paths, resolved, sql=sql)
    if len(script.statements) > MAX_STATEMENTS:
        raise InputError(f"The migration holds {len(script.statements):,} statements; dbsage plans at most "
                         f"{MAX_STATEMENTS:,} at once.",
                         hint="split it into smaller migrations, and load bulk data apart from schema changes")

    ctx = MigrationContext(dialect=resolved, server_version_num=version_num, catalog=catalog,
                           options=options or RuleOptions())
    if catalog is None:
        notes.append("Offline: table sizes are unknown, so severities assume a table in use; pass a database "
                     "for row counts and lock durations.")

    say(f"linting {len(script.statements)} statements")
    if resolved is Dialect.POSTGRES:
        lint = _stage("migration_lint_postgres", "lint_postgres", "PostgreSQL migration linting")
    else:
        lint = _stage("migration_lint_mysql", "lint_mysql", "MySQL/MariaDB migration linting")
    notes.extend(_unknown_suppressions(script))
    with _no_cycle_collection():
        findings, suppressed = lint(script, ctx)

        say("planning the safe rewrite")
        steps, plan_notes = _plan(script, ctx)
    notes.extend(plan_notes)

    verification: Verification | None = None
    if verify:
        say("verifying on a scratch database")
        verify_migration = _stage("migration_verify", "verify_migration", "Verification on a scratch database")
        verification = verify_migration(script, steps, source_dsn=dsn, scratch_dsn=scratch_dsn, ctx=ctx,
                                        limits=limits, progress=progress)

    return MigrationReport(
        dialect=resolved,
        server_version_num=version_num,
        files=[f.path for f in script.files],
        statements=len(script.statements),
        findings=sort_findings([*findings, *diff_findings]),
        steps=steps,
        suppressed=list(suppressed),
        verification=verification,
        notes=notes,
    )


def _unknown_suppressions(script: MigrationScript) -> list[str]:
    """A note for each `-- dbsage: ignore` naming a rule that does not exist (a typo suppresses nothing)."""
    from dbsage.knowledge.rulebook import load_rules

    known = set(load_rules())
    notes: list[str] = []
    for stmt in script.statements:
        for name in sorted(stmt.suppressed):
            if name not in known and f"migration.{name}" not in known:
                notes.append(f"{stmt.file}:{stmt.line}: `-- dbsage: ignore {name}` names no rule, so it suppresses "
                             "nothing (`dbsage rules` lists the rule ids).")
    return notes


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while linting and planning, which allocate many short-lived parse trees
    and keep few: the collector's passes cost about a quarter of the planning time on a long migration.
    Reference counting still frees everything acyclic; the collector runs again afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _plan(script: MigrationScript, ctx: MigrationContext) -> tuple[list[Step], list[str]]:
    if not script.statements:
        return [], []
    if ctx.dialect is Dialect.POSTGRES:
        plan = _stage("migration_plan_postgres", "plan_postgres", "PostgreSQL migration planning")
    else:
        plan = _stage("migration_plan_mysql", "plan_mysql", "MySQL/MariaDB migration planning")
    steps, notes = plan(script, ctx)
    return list(steps), list(notes)


"""The `dbsage` command: one subcommand per tool, with the MCP tool's arguments as flags.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage, input or
configuration errors; 3 the database is unreachable or refused the login; 70 an internal error
(a bug in dbsage: one line on stderr, the traceback only with DBSAGE_DEBUG=1). Errors are one line
on stderr, `dbsage: error: <what> (<how to fix it>)`; credentials never appear.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn, TextIO

from dbsage.tools import __version__
from dbsage.tools.errors import DbsageError, InputError
from dbsage.tools.findings import Severity
from dbsage.tools.sources.urls import redact

if TYPE_CHECKING:
    from dbsage.server.config import DbsageConfig
    from dbsage.tools.report import Report

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
# sysexits.h EX_SOFTWARE: distinguishes a dbsage bug from anything the user did.
EXIT_INTERNAL = 70

SEVERITIES = [s.value for s in Severity]
DIALECT_METAVAR = "{postgres,mysql,mariadb,sqlite}"
CONFIG_HELP = "dbsage.toml (default: $DBSAGE_CONFIG, else ./dbsage.toml)"


class UsageError(Exception):
    """argparse's complaint, carried to main() so it prints like every other error."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _print_error(message: str, stream: TextIO) -> None:
    print(f"dbsage: error: {redact(' '.join(message.split()))}", file=stream)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dbsage",
        description="A senior data engineer's judgement as deterministic tools (MCP server, CLI, library).",
    )
    parser.add_argument("--version", action="version", version=f"dbsage {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    inspect = commands.add_parser(
        "inspect-schema",
        help="the picture of a database or of DDL, and its design faults",
        description="Inspect a live database (read-only) or DDL. The source defaults to $DATABASE_URL.",
    )
    source = inspect.add_mutually_exclusive_group()
    source.add_argument(
        "--dsn", metavar="URL", help="database URL (prefer $DATABASE_URL: ps shows arguments)"
    )
    source.add_argument("--database", metavar="NAME", help="a database named in the configuration")
    source.add_argument("--ddl", metavar="FILE", help="a .sql file of DDL (offline; needs --dialect)")
    inspect.add_argument("--dialect", metavar=DIALECT_METAVAR, help="dialect of --ddl")
    inspect.add_argument("--schema", metavar="S", help="only this schema (MySQL: database)")
    inspect.add_argument("--table", metavar="GLOB", help="only tables matching this glob, e.g. 'order*'")
    inspect.add_argument("--detail", choices=["concise", "full"], default="concise")
    inspect.add_argument("--min-severity", choices=SEVERITIES, help="hide findings below this severity")
    inspect.add_argument("--limit", type=_positive_int, metavar="N", help="tables per page")
    inspect.add_argument("--cursor", metavar="C", help="next_cursor of the previous page")
    _add_output_flags(inspect, ["text", "json", "markdown", "sarif"])
    inspect.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    inspect.set_defaults(handler=cmd_inspect_schema)

    explain = commands.add_parser(
        "explain-query",
        help="a statement's plan, read and judged; or its SQL text alone",
        description="Explain one statement on a live database (read-only; analyze runs it), or check the "
        "SQL text alone with --dialect. The database defaults to $DATABASE_URL.",
    )
    target = explain.add_mutually_exclusive_group()
    target.add_argument("--dsn", metavar="URL", help="database URL (prefer $DATABASE_URL: ps shows arguments)")
    target.add_argument("--database", metavar="NAME", help="a database named in the configuration")
    target.add_argument("--dialect", metavar=DIALECT_METAVAR, help="no database: check the SQL text only")
    text = explain.add_mutually_exclusive_group(required=True)
    text.add_argument("--sql", metavar="TEXT", help="the statement")
    text.add_argument("--file", metavar="F", help="a file holding the statement")
    explain.add_argument("--param", action="append", metavar="V", help="value of $1, $2... (repeat, in order)")
    explain.add_argument("--analyze", action="store_true", help="run the statement and measure (reads only)")
    explain.add_argument(
        "--allow-write-analyze", action="store_true",
        help="with --analyze: also run a data change, in a transaction that is rolled back",
    )
    explain.add_argument(
        "--hypothetical-index", action="append", metavar="SQL",
        help="CREATE INDEX to cost with HypoPG (PostgreSQL; repeat)",
    )
    _add_output_flags(explain, ["text", "json", "markdown", "sarif"])
    explain.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    explain.set_defaults(handler=cmd_explain_query)

    suggest = commands.add_parser(
        "suggest-indexes",
        help="indexes for a workload, chosen by measured benefit, and the ones to drop",
        description="Recommend indexes for a workload (what-if plans with HypoPG on PostgreSQL, an in-memory "
        "copy on SQLite) and list existing indexes to drop. The database defaults to $DATABASE_URL.",
    )
    where = suggest.add_mutually_exclusive_group()
    where.add_argument("--dsn", metavar="URL", help="database URL (prefer $DATABASE_URL: ps shows arguments)")
    where.add_argument("--database", metavar="NAME", help="a database named in the configuration")
    workload = suggest.add_mutually_exclusive_group(required=True)
    workload.add_argument(
        "--queries", nargs="+", metavar="FILE", help="files of statements separated by semicolons"
    )
    workload.add_argument("--from-stats", action="store_true", help="the workload from pg_stat_statements")
    suggest.add_argument("--budget-mb", type=float, default=500, metavar="N", help="storage budget (default 500)")
    suggest.add_argument("--max-indexes", type=_positive_int, default=10, metavar="N")
    suggest.add_argument("--max-width", type=_positive_int, default=3, metavar="N", help="columns per index")
    suggest.add_argument("--time-limit", type=float, default=30, metavar="S", help="seconds (default 30)")
    suggest.add_argument(
        "--allow-real-index-rollback",
        action="store_true",
        help="PostgreSQL without HypoPG: build candidates in a rolled-back transaction (blocks writes; "
        "refused on production)",
    )
    _add_output_flags(suggest, ["text", "json", "markdown", "sarif"])
    suggest.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    suggest.set_defaults(handler=cmd_suggest_indexes)

    plan = commands.add_parser(
        "plan-migration",
        help="a migration's hazards, and the safe, ordered, reversible plan; proven on a scratch database",
        description="Lint migration files (or the difference between a database or DDL and a target DDL) and "
        "generate the zero-downtime plan. Offline unless --dsn/--database is given (table sizes raise severity).",
    )
    plan.add_argument("files", nargs="*", metavar="FILE", help="migration .sql files or folders, in apply order")
    plan.add_argument(
        "--dialect", choices=["postgres", "mysql", "mariadb"], help="default: the database's, else postgres",
    )
    live = plan.add_mutually_exclusive_group()
    live.add_argument("--dsn", metavar="URL", help="the database the migration is for (read-only)")
    live.add_argument("--database", metavar="NAME", help="a database named in the configuration")
    plan.add_argument("--target-ddl", metavar="FILE", help="plan the change from the current schema to this DDL")
    plan.add_argument("--current-ddl", metavar="FILE", help="no database: the current schema's DDL (types, indexes)")
    plan.add_argument("--server-version", metavar="V", help="target server version, e.g. 15 or 8.0.29")
    plan.add_argument("--verify", action="store_true",
                      help="run the migration and the plan under concurrent traffic on a scratch database")
    scratch = plan.add_mutually_exclusive_group()
    scratch.add_argument("--scratch-dsn", metavar="URL",
                         help="with --verify: a database dbsage may write to (default: a temporary copy it creates)")
    scratch.add_argument("--scratch-database", metavar="NAME", help="with --verify: a configured scratch database")
    plan.add_argument("--render", choices=["sql", "alembic", "flyway"], help="also write the plan as files")
    plan.add_argument("--out", metavar="DIR", help="with --render: the folder to write to")
    plan.add_argument("--name", default="dbsage_plan", metavar="NAME", help="with --render: the migration's name")
    plan.add_argument("--flyway-version", metavar="V", help="with --render flyway: version (default: UTC timestamp)")
    plan.add_argument("--down-revision", metavar="REV", help="with --render alembic: the revision this one follows")
    _add_output_flags(plan, ["text", "json", "markdown", "sarif"])
    plan.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    plan.set_defaults(handler=cmd_plan_migration)

    audit = commands.add_parser(
        "audit-security",
        help="least privilege, row-level security (probed on request), credentials, TLS",
        description="Audit a database's roles, grants, row-level security and connection settings (read-only), "
        "and the application's files for hard-coded credentials. The database defaults to $DATABASE_URL.",
    )
    where_audit = audit.add_mutually_exclusive_group()
    where_audit.add_argument("--dsn", metavar="URL", help="database URL (prefer $DATABASE_URL: ps shows arguments)")
    where_audit.add_argument("--database", metavar="NAME", help="a database named in the configuration")
    audit.add_argument("--paths", nargs="+", metavar="DIR", help="the application's repository: config, code, SQL")
    audit.add_argument("--app-role", action="append", metavar="NAME",
                       help="the application's role (repeat; default: login roles that are not superusers)")
    audit.add_argument("--tenant-column", default="tenant_id", metavar="NAME", help="default: tenant_id")
    audit.add_argument("--probe-tenants", action="store_true",
                       help="PostgreSQL: prove tenant isolation as the app role, in a rolled-back transaction")
    audit.add_argument(
        "--tenant-setting", metavar="NAME", help="the tenant context setting (default: read from the policies)",
    )
    _add_output_flags(audit, ["text", "json", "markdown", "sarif"])
    audit.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    audit.set_defaults(handler=cmd_audit_security)

    review = commands.add_parser(
        "checklist-review",
        help="the production-readiness checklist, every item with a status and evidence",
        description="Run the production-readiness checklist against a database (read-only) and, with --paths, "
        "the application's repository. The database defaults to $DATABASE_URL.",
    )
    where_review = review.add_mutually_exclusive_group()
    where_review.add_argument("--dsn", metavar="URL", help="database URL (prefer $DATABASE_URL: ps shows arguments)")
    where_review.add_argument("--database", metavar="NAME", help="a database named in the configuration")
    review.add_argument("--paths", nargs="+", metavar="DIR", help="the application's repository")
    review.add_argument("--restore-drill", action="store_true",
                        help="back the database up (pg_dump/mariadb-dump), restore it into a scratch database and "
                        "compare row counts and schema")
    review_scratch = review.add_mutually_exclusive_group()
    review_scratch.add_argument("--scratch-dsn", metavar="URL", help="with --restore-drill: a database dbsage may "
                                "empty and restore into (default: a temporary one it creates and drops)")
    review_scratch.add_argument("--scratch-database", metavar="NAME",
                                help="with --restore-drill: a configured scratch database")
    _add_output_flags(review, ["text", "json", "markdown", "sarif"])
    review.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    review.set_defaults(handler=cmd_checklist_review)

    from dbsage.server.cli_eval import add_eval_command

    add_eval_command(commands)

    rules = commands.add_parser("rules", help="the rule catalog", description="List every rule dbsage knows.")
    rules.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    rules.set_defaults(handler=cmd_rules)

    serve = commands.add_parser(
        "serve", help="run the MCP server", description="Serve the MCP tools over stdio (default) or HTTP."
    )
    serve.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument("--host", help="HTTP address to bind (default: [server] host, else 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="HTTP port (default: [server] port, else 8765)")
    serve.add_argument("--demo", action="store_true", help="also start the embedded demo database as 'demo'")
    serve.set_defaults(handler=cmd_serve)

    demo = commands.add_parser(
        "demo",
        help="start an embedded PostgreSQL with planted problems and inspect it",
        description="Start an embedded PostgreSQL (the 'embedded' extra), load the demo, inspect it.",
    )
    demo.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    demo.add_argument("--fresh", action="store_true", help="rebuild the demo database from scratch")
    demo.set_defaults(handler=cmd_demo)
    return parser


def _add_output_flags(parser: argparse.ArgumentParser, formats: list[str]) -> None:
    parser.add_argument("--format", choices=formats, default="text")
    parser.add_argument(
        "--fail-on",
        choices=[*SEVERITIES, "none"],
        default="none",
        help="exit 1 when a finding is at or above this severity (default: none, always 0)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("must be at most 65535")
    return value


# --- commands -----------------------------------------------------------------------------------


def cmd_inspect_schema(args: argparse.Namespace, out: TextIO) -> int:
    from dbsage.server.calls import Source, all_findings, inspect_schema
    from dbsage.server.config import URL_ENV, load_config
    from dbsage.server.render import render_report, use_color

    config = load_config(args.config)
    if args.dialect and not args.ddl:
        raise InputError("--dialect applies only to --ddl; a live database reports its own.")
    if args.ddl is not None:
        source = Source(ddl_file=args.ddl, dialect=args.dialect)
    elif args.database is not None:
        source = Source(database=args.database, allow_url=False)
    else:
        dsn = args.dsn if args.dsn is not None else os.environ.get(URL_ENV, "").strip()
        if not dsn:
            raise InputError(
                "No source given.", hint=f"pass --dsn URL, --database NAME or --ddl FILE, or set ${URL_ENV}"
            )
        source = Source(database=dsn, allow_url=True)
    min_severity = Severity(args.min_severity) if args.min_severity else None
    report, catalog = inspect_schema(
        config,
        source,
        schema=args.schema,
        table=args.table,
        detail=args.detail,
        min_severity=min_severity,
        limit=args.limit,
        cursor=args.cursor,
    )
    fail_on = None if args.fail_on == "none" else Severity(args.fail_on)
    # CI gates and SARIF files need every finding of the filtered set, not one page's.
    needs_all = args.format == "sarif" or (fail_on is not None and config.baseline is not None)
    findings = (
        all_findings(config, catalog, schema=args.schema, table=args.table, min_severity=min_severity)
        if needs_all
        else None
    )
    if args.format == "sarif" and findings is not None:
        report = report.model_copy(update={"findings": findings})
    out.write(render_report(report, args.format, color=use_color(out), artifact=args.ddl))
    if fail_on is None:
        return EXIT_OK
    if findings is not None:
        accepted = config.baseline_ids()
        failing = any(f.severity.at_least(fail_on) and f.id not in accepted for f in findings)
    else:
        failing = any(Severity(s).at_least(fail_on) and n > 0 for s, n in report.severity_counts.items())
    return EXIT_FINDINGS if failing else EXIT_OK


def cmd_explain_query(args: argparse.Namespace, out: TextIO) -> int:
    from dbsage.server.calls import explain_query
    from dbsage.server.config import URL_ENV, load_config
    from dbsage.server.render import render_report, use_color
    from dbsage.tools.sources.resolve import read_sql_file

    config = load_config(args.config)
    sql = read_sql_file(args.file) if args.file is not None else args.sql
    database: str | None = args.database or args.dsn
    if database is None and args.dialect is None:
        database = os.environ.get(URL_ENV, "").strip() or None
        if database is None:
            raise InputError(
                "No database given.",
                hint=f"pass --dsn URL, --database NAME or set ${URL_ENV}; or --dialect D to check the text only",
            )
    report = explain_query(
        config,
        sql=sql,
        database=database,
        dialect=args.dialect,
        allow_url=args.database is None,
        params=args.param,
        analyze=args.analyze,
        allow_write_analyze=args.allow_write_analyze,
        hypothetical_indexes=args.hypothetical_index,
    )
    out.write(render_report(report, args.format, color=use_color(out), artifact=args.file))
    fail_on = None if args.fail_on == "none" else Severity(args.fail_on)
    if fail_on is None:
        return EXIT_OK
    return EXIT_FINDINGS if report.fails(fail_on) else EXIT_OK


def cmd_suggest_indexes(args: argparse.Namespace, out: TextIO) -> int:
    from dbsage.server.calls import suggest_indexes
    from dbsage.server.config import URL_ENV, load_config
    from dbsage.server.render import render_report, use_color
    from dbsage.tools.sources.resolve import read_sql_file

    config = load_config(args.config)
    database: str | None = args.database or args.dsn or os.environ.get(URL_ENV, "").strip() or None
    if database is None:
        raise InputError("No database given.", hint=f"pass --dsn URL, --database NAME or set ${URL_ENV}")
    queries = [read_sql_file(path) for path in args.queries] if args.queries else None

    def progress(message: str) -> None:
        print(f"dbsage: {message}", file=sys.stderr, flush=True)

    report = suggest_indexes(
        config,
        database=database,
        allow_url=args.database is None,
        queries=queries,
        from_stats=args.from_stats,
        budget_mb=args.budget_mb,
        max_indexes=args.max_indexes,
        max_width=args.max_width,
        time_limit_s=args.time_limit,
        progress=progress,
        allow_real_index_rollback=args.allow_real_index_rollback,
    )
    out.write(render_report(report, args.format, color=use_color(out), artifact=None))
    fail_on = None if args.fail_on == "none" else Severity(args.fail_on)
    if fail_on is None:
        return EXIT_OK
    return EXIT_FINDINGS if report.fails(fail_on) else EXIT_OK


def _progress(message: str) -> None:
    print(f"dbsage: {message}", file=sys.stderr, flush=True)


def _exit_code(report: Report, fail_on_flag: str, config: DbsageConfig) -> int:
    """1 when a finding not in the baseline is at or above --fail-on, else 0."""
    if fail_on_flag == "none":
        return EXIT_OK
    fail_on = Severity(fail_on_flag)
    accepted = config.baseline_ids()
    failing = any(f.severity.at_least(fail_on) and f.id not in accepted for f in report.findings)
    return EXIT_FINDINGS if failing else EXIT_OK


def _write(report: Report, args: argparse.Namespace, out: TextIO, artifact: str | None = None) -> None:
    if args.format == "json":  # the common CI path: no renderer to import
        out.write(report.model_dump_json(indent=2) + "\n")
        return
    from dbsage.server.render import render_report, use_color

    out.write(render_report(report, args.format, color=use_color(out), artifact=artifact))


def _live_database(args: argparse.Namespace) -> tuple[str | None, bool]:
    """The database a command names (a configured name, or a URL) and whether it is a URL."""
    from dbsage.server.config import URL_ENV

    if args.database is not None:
        return args.database, False
    dsn = args.dsn if args.dsn is not None else os.environ.get(URL_ENV, "").strip()
    return (dsn or None), True


def _read_text_file(path: str) -> str:
    from dbsage.tools.sources.resolve import read_sql_file

    return read_sql_file(path)


def cmd_plan_migration(args: argparse.Namespace, out: TextIO) -> int:
    from dbsage.server.calls_migration import plan_migration
    from dbsage.server.config import load_config

    config = load_config(args.config)
    if args.render and not args.out:
        raise InputError("--render needs --out DIR.", hint="pass --out migrations/")
    if (args.scratch_dsn or args.scratch_database) and not args.verify:
        raise InputError("--scratch-dsn/--scratch-database apply only with --verify.", hint="add --verify")
    if args.current_ddl and (args.database or args.dsn):
        raise InputError("--current-ddl stands in for a database; give one or the other.",
                         hint="drop --current-ddl, the database reports its own schema")
    if bool(args.files) == bool(args.target_ddl):
        raise InputError("Give migration files, or --target-ddl to plan a schema change, not both.",
                         hint="dbsage plan-migration migrations/ --dialect postgres")
    # Only an explicit flag names a database here: plan-migration is offline by default.
    database = args.database or args.dsn
    report = plan_migration(
        config,
        paths=args.files or None,
        dialect=args.dialect,
        server_version=args.server_version,
        database=database,
        allow_url=args.database is None,
        target_ddl=_read_text_file(args.target_ddl) if args.target_ddl else None,
        current_ddl=_read_text_file(args.current_ddl) if args.current_ddl else None,
        verify=args.verify,
        scratch=args.scratch_database or args.scratch_dsn,
        progress=_progress if args.verify else None,
    )
    if args.render:
        from pathlib import Path

        from dbsage.tools.migration_render import render_plan

        written = render_plan(
            report, args.render, Path(args.out), name=args.name, version=args.flyway_version,
            down_revision=args.down_revision,
        )
        for path in written:
            print(f"dbsage: wrote {path}", file=sys.stderr)
    _write(report, args, out, artifact=args.files[0] if len(args.files) == 1 else None)
    return _exit_code(report, args.fail_on, config)


def cmd_audit_security(args: argparse.Namespace, out: TextIO) -> int:
    from dbsage.server.calls import audit_security
    from dbsage.server.config import URL_ENV, load_config

    config = load_config(args.config)
    database, is_url = _live_database(args)
    if database is None and not args.paths:
        raise InputError(
            "No database given.", hint=f"pass --dsn URL, --database NAME or --paths DIR, or set ${URL_ENV}"
        )
    report = audit_security(
        config,
        database=database,
        allow_url=is_url,
        paths=args.paths,
        app_roles=args.app_role,
        tenant_column=args.tenant_column,
        probe_tenants=args.probe_tenants,
        tenant_setting=args.tenant_setting,
    )
    _write(report, args, out)
    return _exit_code(report, args.fail_on, config)


def cmd_checklist_review(args: argparse.Namespace, out: TextIO) -> int:
    from dbsage.server.calls import checklist_review
    from dbsage.server.config import URL_ENV, load_config

    config = load_config(args.config)
    database, is_url = _live_database(args)
    if database is None:
        raise InputError("No database given.", hint=f"pass --dsn URL, --database NAME or set ${URL_ENV}")
    scratch = args.scratch_database or args.scratch_dsn
    if scratch and not args.restore_drill:
        raise InputError("--scratch-dsn/--scratch-database apply only with --restore-drill.",
                         hint="add --restore-drill")
    report = checklist_review(config, database=database, allow_url=is_url, paths=args.paths, progress=_progress,
                              restore_drill=args.restore_drill, scratch=scratch)
    _write(report, args, out)
    return _exit_code(report, args.fail_on, config)


def cmd_rules(args: argparse.Namespace, out: TextIO) -> int:
    from dbsage.server.render import render_rules, use_color

    out.write(render_rules(args.format, color=use_color(out)))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from dbsage.server.config import load_config
    from dbsage.server.mcp_server import serve

    config = load_config(args.config)
    if args.demo:
        config = _with_demo_database(config)
    serve(config, transport=args.transport, host=args.host, port=args.port)
    return EXIT_OK


def _with_demo_database(config: DbsageConfig) -> DbsageConfig:
    from dbsage.server.config import DatabaseConfig
    from dbsage.server.demo import start_demo_database

    # Progress goes to stderr, which stdio clients show as the server's log.
    url = start_demo_database()
    return config.model_copy(update={"databases": {**config.databases, "demo": DatabaseConfig(url=url)}})


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from dbsage.server.demo import run_demo

    return run_demo(args)


# --- entry point --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit code (never raises for a user's mistake)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version have printed; argparse exits
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        handler: Callable[[argparse.Namespace, TextIO], int] | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help(err)
            return EXIT_USAGE
        return handler(args, out)
    except UsageError as exc:
        _print_error(str(exc), err)
        return EXIT_USAGE
    except DbsageError as exc:
        _print_error(str(exc), err)
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error("interrupted", err)
        return 130
    except BrokenPipeError:
        # `dbsage ... | head`: the reader left; nothing more to say.
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("DBSAGE_DEBUG"):
            traceback.print_exc(file=err)
        first_line = (str(exc).strip().splitlines() or [""])[0]
        _print_error(
            f"internal error: {type(exc).__name__}: {first_line} "
            "(this is a bug in dbsage; DBSAGE_DEBUG=1 shows the traceback)",
            err,
        )
        return EXIT_INTERNAL


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass

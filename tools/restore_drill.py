"""The restore drill: back the database up with the server's own tool, restore it, and prove it came back.

PostgreSQL: `pg_dump -Fc` to a temporary file, `pg_restore --no-owner --no-privileges` into the scratch
database. The source's row counts are read in the very snapshot pg_dump copies (a REPEATABLE READ
transaction exports it, pg_dump --snapshot imports it), so concurrent writes cannot make them differ.
MariaDB/MySQL: `mariadb-dump --single-transaction --routines --triggers` (mysqldump when that is what is
installed), replayed with the `mariadb` client in --force mode so every failing statement is reported,
not only the first; row counts are read just before the dump, so writes in between can show as a
difference (the notes say so).

The scratch database is one the user names (it must be another database than the source; its
objects are dropped before and after the restore) or one dbsage creates on the source's server with
a unique `dbsage_restore_...` name and always drops, also on an error or Ctrl-C. Every write goes there.

Passwords reach the child tools through the environment (PGPASSWORD) or a private option file
(MariaDB), never their command line, and every line they print passes through the redaction.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dbsage.tools.backup_model import RestoreDrill, TableRestore
from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.errors import DbsageError, InputError, QueryFailed
from dbsage.tools.rules.fix_sql import quote, table_ref
from dbsage.tools.schema_diff import diff_schemas
from dbsage.tools.scratch_clone import refuse_source_as_scratch
from dbsage.tools.sources.guard import GuardedSession, Limits, LiveDatabase
from dbsage.tools.sources.live import load_catalog
from dbsage.tools.sources.urls import DatabaseUrl, redact

DEFAULT_TIMEOUT_S = 3600  # per child process: a dump or a restore that takes longer is stopped and fails
MAX_ERRORS = 20
_COUNT_BATCH = 200  # count(*) subqueries per statement
_KEEPALIVE_S = 20  # the snapshot's transaction must not sit idle past the guard's idle timeout
_CREATED_PREFIX = "dbsage_restore_"
_PG_OWNERSHIP_NOTE = ("ownership and grants were not restored (--no-owner --no-privileges): roles are server-wide "
                      "and not part of a database's backup")

RTO_NOTE = (
    "Restoring this {size} backup took {seconds}: the lower bound of RTO for a database of this size. "
    "A real recovery adds fetching the backup, recreating roles and settings a logical backup leaves out, "
    "replaying WAL or binary logs up to the failure, and switching the application over."
)

# Query parameters of a PostgreSQL URL and the libpq environment variables that carry them.
_PG_ENV = {
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT", "options": "PGOPTIONS", "target_session_attrs": "PGTARGETSESSIONATTRS",
}
# Lines of a mariadb-dump file that say which object the statements below it belong to.
_DUMP_MARKER = re.compile(r"^-- (?:Table structure|Dumping data|Temporary view structure|Final view structure|"
                          r"Dumping routines|Triggers?) for (?:table|view|database) `((?:[^`]|``)+)`")
_MYSQL_ERROR_LINE = re.compile(r"^ERROR \d+ \([0-9A-Z]+\) at line (\d+)")
_PG_COPY_FAILED = re.compile(r'COPY failed for table "((?:[^"]|"")+)"')
_PG_TOC = re.compile(r"from TOC entry \d+; \d+ \d+ (TABLE DATA|TABLE|INDEX|CONSTRAINT|FK CONSTRAINT|DEFAULT|"
                     r"TRIGGER|SEQUENCE SET|VIEW) (\S+) (\S+)")


@dataclass
class _Tool:
    """A child process's outcome."""

    returncode: int | None  # None: stopped at the time limit
    seconds: float
    lines: list[str]


@dataclass
class _Run:
    """What the drill gathered, turned into the report at the end."""

    dialect: Dialect
    tables: list[Table]
    source_rows: dict[str, int | None] = field(default_factory=dict)
    backup: _Tool | None = None
    restore: _Tool | None = None
    backup_bytes: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail_table(self, name: str) -> None:
        if name not in self.failed:
            self.failed.append(name)


# ------------------------------------------------------------------------------------------- entry


def restore_drill(
    source_dsn: str,
    *,
    scratch_dsn: str | None = None,
    limits: Limits | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: Callable[[str], None] | None = None,
) -> RestoreDrill:
    """Back up the database at `source_dsn` (read only), restore it into scratch, and compare both sides.

    `scratch_dsn`, when given, must already be approved as scratch by the caller (configured so, or
    named on the command line) and must be another database than the source. Without it dbsage
    creates `dbsage_restore_<random>` on the source's server and drops it at the end.
    """
    say = progress or (lambda _message: None)
    limits = limits or Limits()
    source = LiveDatabase.open(source_dsn, limits=limits)
    named: LiveDatabase | None = None
    try:
        if source.dialect is Dialect.SQLITE:
            raise InputError("The restore drill runs on PostgreSQL and MariaDB/MySQL; a SQLite backup is a file "
                             "copy (sqlite3 .backup).", hint="drop --restore-drill for SQLite")
        if source.dialect.is_mysql_family and not source.url.database:
            raise InputError("The DSN names no database; the restore drill backs up one database.",
                             hint="end the DSN with /<database>")
        tools = _find_tools(source.dialect, source.server_version)
        if scratch_dsn is not None:
            named = LiveDatabase.open(scratch_dsn, limits=limits, scratch=True)
            refuse_source_as_scratch(source, named, tool="the restore drill")
        with _scratch(source, named, say) as (target, created):
            drill = _drill(source, target, tools, timeout_s, say)
        drill.scratch_dropped = created or None
        if created:
            drill.notes.append("the scratch database dbsage created for the drill was dropped afterwards")
        else:
            drill.notes.append("the restored objects were dropped from the named scratch database afterwards")
        return drill
    finally:
        source.close()
        if named is not None:
            named.close()


@contextmanager
def _scratch(
    source: LiveDatabase, named: LiveDatabase | None, say: Callable[[str], None]
) -> Iterator[tuple[LiveDatabase, bool]]:
    """The database to restore into, emptied, and cleaned up afterwards whatever happens."""
    if named is not None:
        _wipe(named)
        try:
            yield named, False
        finally:
            _wipe(named)
        return
    name = f"{_CREATED_PREFIX}{secrets.token_hex(5)}"
    source.create_database(name)
    say(f"created the scratch database {name}")
    try:
        with LiveDatabase(replace(source.url, database=name), limits=source.limits, scratch=True) as target:
            yield target, True
    finally:
        source.drop_database(name)


def _wipe(db: LiveDatabase) -> None:
    """Drop what a restore would create in a named scratch database (it is marked scratch: dbsage may)."""
    with db.scratch_connection() as conn:
        if db.dialect is Dialect.POSTGRES:
            # Every schema of the scratch database: anything left there would show as a schema difference.
            rows = conn.execute(b"SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                                b"AND nspname <> 'information_schema'").fetchall()
            for schema in sorted({str(r[0]) for r in rows} | {"public"}):
                conn.execute(f"DROP SCHEMA IF EXISTS {quote(schema, Dialect.POSTGRES)} CASCADE".encode())
            conn.execute(b"CREATE SCHEMA public")
            return
        with conn.cursor() as cur:
            cur.execute("SET SESSION foreign_key_checks = 0")
            cur.execute("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
            for name, kind in cur.fetchall():
                what = {"VIEW": "VIEW", "SEQUENCE": "SEQUENCE"}.get(str(kind), "TABLE")
                cur.execute(f"DROP {what} IF EXISTS {quote(str(name), db.dialect)}")
            cur.execute("SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES "
                        "WHERE ROUTINE_SCHEMA = DATABASE()")
            for name, kind in cur.fetchall():
                cur.execute(f"DROP {'PROCEDURE' if kind == 'PROCEDURE' else 'FUNCTION'} IF EXISTS "
                            f"{quote(str(name), db.dialect)}")


# ------------------------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class _Tools:
    dump: str
    restore: str


def _find_tools(dialect: Dialect, server_version: str | None) -> _Tools:
    """The backup and restore programs: PostgreSQL's of the server's major version when installed."""
    if dialect is Dialect.POSTGRES:
        major = (server_version or "").split(".")[0].split()[0] if server_version else ""
        folder = Path(f"/usr/lib/postgresql/{major}/bin")
        if major.isdigit() and (folder / "pg_dump").is_file() and (folder / "pg_restore").is_file():
            return _Tools(str(folder / "pg_dump"), str(folder / "pg_restore"))
        names = ("pg_dump", "pg_restore")
        hint = "install the PostgreSQL client tools (postgresql-client) of the server's version"
    else:
        names = (_first_on_path("mariadb-dump", "mysqldump"), _first_on_path("mariadb", "mysql"))
        hint = "install the MariaDB client tools (mariadb-client)"
    found = [shutil.which(n) for n in names]
    missing = [n for n, f in zip(names, found, strict=True) if f is None]
    if missing:
        raise InputError(f"The restore drill needs {' and '.join(missing)} on PATH.", hint=hint)
    return _Tools(str(found[0]), str(found[1]))


def _first_on_path(*names: str) -> str:
    return next((n for n in names if shutil.which(n)), names[0])


def _version(program: str) -> str:
    try:
        out = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return " ".join(out.stdout.split()) or "unknown"


def _pg_env(url: DatabaseUrl) -> dict[str, str]:
    """libpq's environment for `url`, password included: nothing of it goes on a command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for key, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.user),
                       ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value is not None:
            env[key] = str(value)
    for key, var in _PG_ENV.items():
        if key in url.query:
            env[var] = url.query[key]
    env["PGAPPNAME"] = "dbsage_restore_drill"
    return env


def _conninfo_value(database: str) -> str:
    """`dbname='...'`: pg_restore reads --dbname as a connection string when it holds an equals sign."""
    return "dbname='" + database.replace("\\", "\\\\").replace("'", "\\'") + "'"


@contextmanager
def _mysql_option_file(url: DatabaseUrl) -> Iterator[str]:
    """A [client] option file readable only by this user, deleted afterwards (it holds the password)."""
    lines = ["[client]", f"host={url.host or 'localhost'}", f"port={url.port or 3306}",
             f"user={_option_value(url.user or 'root')}"]
    if url.password:
        lines.append(f"password={_option_value(url.password)}")
    if "unix_socket" in url.query:
        lines.append(f"socket={_option_value(url.query['unix_socket'])}")
    if url.query.get("ssl") in ("true", "1", "required") or url.query.get("ssl_mode", "").upper() in (
        "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"
    ):
        lines.append("ssl")
    fd, path = tempfile.mkstemp(prefix="dbsage_", suffix=".cnf")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        yield path
    finally:
        with suppress(OSError):
            os.unlink(path)


def _option_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _run_tool(
    argv: list[str], *, env: dict[str, str], timeout_s: float, stdin: Path | None = None,
    while_running: Callable[[], None] | None = None,
) -> _Tool:
    """Run one child process with a time limit; it is killed on the limit, an error or Ctrl-C."""
    with tempfile.TemporaryFile() as err, (stdin.open("rb") if stdin else open(os.devnull, "rb")) as inp:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdin=inp, stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:
            if while_running is not None:
                while_running()
            deadline = started + timeout_s
            code: int | None = None
            while code is None:
                try:
                    code = proc.wait(timeout=max(0.0, min(_KEEPALIVE_S, deadline - time.monotonic())))
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline:
                        break
                    if while_running is not None:
                        while_running()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        seconds = time.monotonic() - started
        err.seek(0)
        text = err.read(1_000_000).decode("utf-8", "replace")
    lines = [redact(line.rstrip()) for line in text.splitlines() if line.strip()]
    if code is None:
        lines.append(f"{Path(argv[0]).name} did not finish within {timeout_s:.0f} s and was stopped")
    return _Tool(code, seconds, lines)


# ------------------------------------------------------------------------------------------- drill


def _drill(
    source: LiveDatabase, target: LiveDatabase, tools: _Tools, timeout_s: float, say: Callable[[str], None]
) -> RestoreDrill:
    catalog = load_catalog(source)
    tables = [t for t in catalog.tables if t.partition_of is None and t.kind != "foreign_table"]
    run = _Run(source.dialect, tables, versions={Path(p).name: _version(p) for p in (tools.dump, tools.restore)})
    with tempfile.TemporaryDirectory(prefix="dbsage_restore_") as folder:
        backup_file = Path(folder) / ("backup.dump" if source.dialect is Dialect.POSTGRES else "backup.sql")
        say(f"backing up {source.url.redacted} with {Path(tools.dump).name}")
        if source.dialect is Dialect.POSTGRES:
            _pg_backup(source, tools, backup_file, run, timeout_s)
        else:
            _mysql_backup(source, tools, backup_file, run, timeout_s)
        run.backup_bytes = backup_file.stat().st_size if backup_file.exists() else 0
        if run.backup and run.backup.returncode == 0:
            say(f"restoring {run.backup_bytes:,} bytes into {target.url.redacted}")
            if source.dialect is Dialect.POSTGRES:
                run.restore = _run_tool(
                    [tools.restore, "--no-password", "--no-owner", "--no-privileges",
                     f"--dbname={_conninfo_value(str(target.url.database))}", str(backup_file)],
                    env=_pg_env(target.url), timeout_s=timeout_s)
                _pg_failed_tables(run)
            else:
                _mysql_restore(target, tools, backup_file, run, timeout_s)
    say("comparing row counts and schemas")
    started = time.monotonic()
    restored_rows = _restored_counts(target, run, timeout_s) if run.restore is not None else {}
    schema_diff = _schema_diff(catalog, target) if run.restore is not None else []
    return _report(run, target, restored_rows, schema_diff, time.monotonic() - started)


def _pg_backup(source: LiveDatabase, tools: _Tools, file: Path, run: _Run, timeout_s: float) -> None:
    """pg_dump inside the snapshot the row counts are read in."""
    argv = [tools.dump, "--no-password", "--format=custom", f"--file={file}"]
    env = _pg_env(source.url)
    with source.session() as session:
        snapshot: str | None = None
        try:
            session.catalog("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            snapshot = str(session.catalog_value("SELECT pg_catalog.pg_export_snapshot()"))
        except QueryFailed as exc:  # e.g. a standby that cannot export snapshots
            run.notes.append(f"the row counts were read outside pg_dump's snapshot ({exc.message})")
        if snapshot is not None:
            argv.append(f"--snapshot={snapshot}")

        counted: list[bool] = []

        def count_then_keep_alive() -> None:
            if not counted:
                counted.append(True)
                run.source_rows.update(_counts(session, run.tables, run.dialect, timeout_s))
            else:  # the exporting transaction stays busy while pg_dump works in its snapshot
                session.catalog("SELECT 1")

        run.backup = _run_tool(argv, env=env, timeout_s=timeout_s, while_running=count_then_keep_alive)


def _mysql_backup(source: LiveDatabase, tools: _Tools, file: Path, run: _Run, timeout_s: float) -> None:
    with source.session() as session:
        run.source_rows.update(_counts(session, run.tables, run.dialect, timeout_s))
    run.notes.append("row counts were read just before the dump: writes during the drill show as differences")
    with _mysql_option_file(source.url) as options:
        argv = [tools.dump, f"--defaults-extra-file={options}", "--single-transaction", "--routines", "--triggers",
                f"--result-file={file}", str(source.url.database)]
        run.backup = _run_tool(argv, env=dict(os.environ), timeout_s=timeout_s)


def _mysql_restore(target: LiveDatabase, tools: _Tools, file: Path, run: _Run, timeout_s: float) -> None:
    with _mysql_option_file(target.url) as options:
        argv = [tools.restore, f"--defaults-extra-file={options}", "--force", "--batch",
                f"--database={target.url.database}"]
        run.restore = _run_tool(argv, env=dict(os.environ), timeout_s=timeout_s, stdin=file)
    # In --force mode the client exits 0 after failures: its ERROR lines are the verdict.
    markers: list[tuple[int, str]] = []
    with file.open("r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            m = _DUMP_MARKER.match(line)
            if m:
                markers.append((number, m.group(1).replace("``", "`")))
    for line in run.restore.lines:
        m = _MYSQL_ERROR_LINE.match(line)
        if not m:
            continue
        at = int(m.group(1))
        owner = next((name for number, name in reversed(markers) if number <= at), None)
        if owner is not None:
            run.fail_table(owner)


def _pg_failed_tables(run: _Run) -> None:
    """Tables pg_restore names in its errors (COPY failed for a table, or a TOC entry of a table)."""
    assert run.restore is not None
    by_name: dict[str, list[str]] = {}
    for t in run.tables:
        by_name.setdefault(t.name, []).append(t.qualified_name)
    for line in run.restore.lines:
        m = _PG_COPY_FAILED.search(line)
        if m:
            for qualified in by_name.get(m.group(1).replace('""', '"'), [m.group(1)]):
                run.fail_table(qualified)
            continue
        toc = _PG_TOC.search(line)
        if toc and toc.group(1) in ("TABLE DATA", "TABLE"):
            run.fail_table(f"{toc.group(2)}.{toc.group(3)}")


def _counts(
    session: GuardedSession, tables: list[Table], dialect: Dialect, timeout_s: float
) -> dict[str, int | None]:
    """Exact row counts, many tables per statement, under the drill's time limit rather than the session's
    statement timeout (counting a large table is a scan, and the drill was asked for)."""
    out: dict[str, int | None] = {}
    if not tables:
        return out
    ms = int(timeout_s * 1000)
    if dialect is Dialect.POSTGRES:
        session.catalog(f"SET LOCAL statement_timeout = {ms}")
    elif dialect is Dialect.MARIADB:
        session.catalog(f"SET SESSION max_statement_time = {ms / 1000:.3f}")
    else:
        session.catalog(f"SET SESSION max_execution_time = {ms}")
    for start in range(0, len(tables), _COUNT_BATCH):
        batch = tables[start:start + _COUNT_BATCH]
        sql = " UNION ALL ".join(
            f"SELECT {i} AS i, (SELECT count(*) FROM {_ref(t, dialect)}) AS n" for i, t in enumerate(batch))
        rows = session.catalog(sql)
        for row in rows:
            out[_key(batch[int(row["i"])], dialect)] = int(row["n"])
    return out


def _ref(table: Table, dialect: Dialect) -> str:
    # MariaDB/MySQL: the scratch copy lives in another database, so the table is named without one.
    return table_ref(table, dialect) if dialect is Dialect.POSTGRES else quote(table.name, dialect)


def _key(table: Table, dialect: Dialect) -> str:
    """How the report names a table: schema.table on PostgreSQL, the bare name on MariaDB/MySQL."""
    return table.qualified_name if dialect is Dialect.POSTGRES else table.name


def _restored_counts(target: LiveDatabase, run: _Run, timeout_s: float) -> dict[str, int | None]:
    """count(*) of each source table on the restored side; a missing table is None."""
    out: dict[str, int | None] = {}
    with target.session() as session:
        present = _present_tables(session, run.dialect)
        wanted = [t for t in run.tables if _present_key(t, run.dialect) in present]
        out.update(_counts(session, wanted, run.dialect, timeout_s))
    for t in run.tables:
        out.setdefault(_key(t, run.dialect), None)
    return out


def _present_tables(session: GuardedSession, dialect: Dialect) -> set[str]:
    if dialect is Dialect.POSTGRES:
        rows = session.catalog("SELECT n.nspname || '.' || c.relname AS name FROM pg_catalog.pg_class c "
                               "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')")
        return {str(r["name"]) for r in rows}
    rows = session.catalog("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
    return {str(r["name"]).lower() for r in rows}


def _present_key(table: Table, dialect: Dialect) -> str:
    return f"{table.schema_name}.{table.name}" if dialect is Dialect.POSTGRES else table.name.lower()


def _schema_diff(source: Catalog, target: LiveDatabase) -> list[str]:
    """The statements that would turn the source's schema into the restored one, and missing objects."""
    try:
        restored = load_catalog(target)
    except DbsageError as exc:
        return [f"the restored schema could not be read: {exc.message}"]
    text, _findings = diff_schemas(source, restored, source.dialect)
    out = [" ".join(s.split()) for s in text.split(";\n") if s.strip()]
    mysql = source.dialect.is_mysql_family

    def names(items: list[Any]) -> set[str]:
        return {(i.name.lower() if mysql else f"{i.schema_name}.{i.name}") for i in items}

    for kind, before, after in (
        ("view", names(source.views), names(restored.views)),
        ("sequence", names(source.sequences), names(restored.sequences)),
        ("routine", names(source.functions), names(restored.functions)),
        ("trigger", {f"{t.name}.{g.name}" for t in source.tables for g in t.triggers},
         {f"{t.name}.{g.name}" for t in restored.tables for g in t.triggers}),
    ):
        out += [f"{kind} {n}: missing after the restore" for n in sorted(before - after)]
        out += [f"{kind} {n}: only in the restored copy" for n in sorted(after - before)]
    return out


# ------------------------------------------------------------------------------------------ report


def _report(
    run: _Run, target: LiveDatabase, restored: dict[str, int | None], schema_diff: list[str], compare_s: float
) -> RestoreDrill:
    tables: list[TableRestore] = []
    for t in run.tables:
        key = _key(t, run.dialect)
        src, dst = run.source_rows.get(key), restored.get(key)
        ok = run.restore is not None and src is not None and src == dst
        tables.append(TableRestore(table=key, source_rows=src, restored_rows=dst, ok=ok))
        if run.restore is not None and not ok:
            run.fail_table(key)
    for line in schema_diff:
        for t in run.tables:
            if re.search(rf"\b{re.escape(t.name)}\b", line, re.IGNORECASE) and line.split()[0].upper() in (
                    "CREATE", "ALTER", "DROP"):
                run.fail_table(_key(t, run.dialect))
    backup, restore = run.backup, run.restore
    errors = [*(_error_lines(backup.lines) if backup else []), *(_error_lines(restore.lines) if restore else [])]
    backup_ok = backup is not None and backup.returncode == 0
    restore_ok = restore is not None and restore.returncode == 0 and not any(
        _MYSQL_ERROR_LINE.match(line) for line in restore.lines)
    status = "pass" if backup_ok and restore_ok and not run.failed and not schema_diff else "fail"
    restore_s = restore.seconds if restore else 0.0
    summary = _summary(status, run, backup_ok, restore_ok, schema_diff, errors)
    pg = run.dialect is Dialect.POSTGRES
    return RestoreDrill(
        status=status,
        summary=summary,
        backup_tool="pg_dump --format=custom" if pg else "mariadb-dump --single-transaction --routines --triggers",
        restore_tool="pg_restore --no-owner --no-privileges" if pg else "mariadb --force",
        tool_versions=run.versions,
        scratch=target.url.redacted,
        backup_bytes=run.backup_bytes,
        backup_seconds=round(backup.seconds if backup else 0.0, 3),
        restore_seconds=round(restore_s, 3),
        compare_seconds=round(compare_s, 3),
        tables=tables,
        failed_tables=run.failed,
        schema_diff=schema_diff,
        errors=errors[:MAX_ERRORS] + ([f"... {len(errors) - MAX_ERRORS} more"] if len(errors) > MAX_ERRORS else []),
        rto_lower_bound_seconds=round(restore_s, 3),
        rto_note=RTO_NOTE.format(size=_size(run.backup_bytes), seconds=f"{restore_s:.2f} s"),
        notes=run.notes + ([_PG_OWNERSHIP_NOTE] if pg else []),
    )


def _error_lines(lines: list[str]) -> list[str]:
    keep = [line for line in lines if re.search(r"error|fatal|failed|did not finish", line, re.IGNORECASE)]
    return [line[:300] for line in (keep or lines)]


def _summary(
    status: str, run: _Run, backup_ok: bool, restore_ok: bool, schema_diff: list[str], errors: list[str]
) -> str:
    rows = sum(v or 0 for v in run.source_rows.values())
    if status == "pass":
        return (f"restored {len(run.tables)} table(s), {rows:,} rows: every row count matches and the schemas "
                "are the same")
    if not backup_ok:
        return f"the backup failed: {errors[0] if errors else 'no output'}"
    parts = []
    if run.failed:
        parts.append(f"{len(run.failed)} table(s) did not restore: {', '.join(run.failed[:10])}")
    if schema_diff:
        parts.append(f"{len(schema_diff)} schema difference(s)")
    if not restore_ok:
        parts.append("the restore tool reported errors")
    return "; ".join(parts)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} bytes"

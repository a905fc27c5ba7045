"""The access guard: the one door through which dbsage sends SQL to a live database.

Every session is a transaction that is always rolled back, with statement and lock timeouts set
before anything else runs. Two kinds of statement go through a session:

- `catalog()`: dbsage's own catalog queries (fixed text written in this package), no row cap;
- `run()`: SQL that came from outside (a user, an agent): one statement, parsed and checked against
  an allowlist (tools/sources/allowlist.py), re-generated from the checked tree, row-capped.

Modes: `read_only` (default: a READ ONLY transaction, SQLite opened read-only), `rollback_write`
(explicit opt-in: writes allowed, rolled back), `scratch` (DDL and writes on a database marked scratch).
Every statement sent is logged at debug level, redacted, and recorded on the session.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import ConnectionFailed, GuardRefused, InputError, QueryFailed
from dbsage.tools.sources.urls import DatabaseUrl, parse_url, redact

if TYPE_CHECKING:
    from dbsage.tools.sources.catalog_cache import CatalogCache

log = logging.getLogger("dbsage.guard")

_OWN_DATABASE = re.compile(r"^dbsage_[a-z0-9_]{1,54}$")
_CREATED_DATABASES: set[str] = set()
"""Databases this process created (create_database); only these may be dropped or used as templates."""
# Connections one PostgreSQL LiveDatabase keeps at most (a call's pool, or a shared one: share_connections).
DEFAULT_POOL_SIZE = 4

Params = Sequence[Any] | dict[str, Any] | None


class Mode(StrEnum):
    READ_ONLY = "read_only"
    ROLLBACK_WRITE = "rollback_write"
    SCRATCH = "scratch"


@dataclass(frozen=True)
class Limits:
    """Timeouts and caps applied to every session."""

    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 1_000
    row_cap: int = 1_000
    connect_timeout_s: int = 10


@dataclass
class QueryResult:
    """Rows of a user statement, capped at the session's row cap."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = False
    statement: str = ""


class _Cursor(Protocol):
    @property
    def description(self) -> Any: ...

    def execute(self, query: Any, params: Any = ...) -> Any: ...
    def fetchall(self) -> Any: ...
    def fetchmany(self, size: int = ...) -> Any: ...


@dataclass
class GuardedSession:
    """One rolled-back transaction on a live database. Use through LiveDatabase.session()."""

    dialect: Dialect
    mode: Mode
    limits: Limits
    _cursor: _Cursor
    _deadline_holder: list[float]
    statements: list[str] = field(default_factory=list)

    def catalog(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """Run one of dbsage's own catalog queries and return every row as a dict."""
        self._execute(sql, params)
        return self._fetch_dicts()

    def catalog_value(self, sql: str, params: Params = None) -> Any:
        """The first column of the first row of a catalog query, or None."""
        rows = self.catalog(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def run(self, sql: str, params: Params = None) -> QueryResult:
        """Check an outside statement against the allowlist, then run it with the row cap."""
        from dbsage.tools.sources.allowlist import check_statement

        # The cap goes into the statement too: drivers buffer whole results before fetchmany() sees them.
        checked = check_statement(sql, self.dialect, self.mode, row_cap=self.limits.row_cap)
        self._execute(checked, params)
        if self._cursor.description is None:
            return QueryResult(columns=[], rows=[], statement=checked)
        columns = [d[0] for d in self._cursor.description]
        rows = [tuple(r) for r in self._cursor.fetchmany(self.limits.row_cap + 1)]
        truncated = len(rows) > self.limits.row_cap
        return QueryResult(columns=columns, rows=rows[: self.limits.row_cap], truncated=truncated, statement=checked)

    def explain_generic(self, sql: str) -> QueryResult:
        """PostgreSQL: the JSON generic plan of a statement with $n parameters, without their values.

        PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN), so the statement is PREPAREd and explained through
        EXECUTE with plan_cache_mode=force_generic_plan, then deallocated, all inside this rolled-back
        transaction. The allowlist checks `EXPLAIN <statement>` with every $n replaced by NULL; what is
        prepared is the parser's regeneration of the same tree, differing only at those positions.
        """
        import pglast
        from pglast.stream import RawStream

        from dbsage.tools.sources.allowlist import check_statement

        if self.dialect is not Dialect.POSTGRES:
            raise InputError("Generic plans are a PostgreSQL feature; pass the parameter values instead.")
        try:
            (raw,) = pglast.parse_sql(sql)
        except ValueError:
            raise InputError("Pass exactly one statement.") from None
        except pglast.parser.ParseError as exc:
            raise InputError(f"The statement does not parse as PostgreSQL: {exc}.") from None
        if raw.stmt is None:
            raise InputError("The SQL holds no statement.")
        try:
            text = str(RawStream()(raw.stmt))
        except RecursionError:  # pglast's printer recurses per nesting level
            raise InputError("The statement is nested too deeply to explain as a generic plan.") from None
        numbers = sorted({int(n) for n in re.findall(r"\$(\d+)", text)})
        checked_form = re.sub(r"\$\d+", "NULL", text)
        check_statement(f"EXPLAIN {checked_form}", self.dialect, self.mode)
        if not numbers or numbers != list(range(1, numbers[-1] + 1)):
            raise InputError("The statement's parameters must be $1, $2, ... without gaps.")
        values = ", ".join("NULL" for _ in numbers)
        self._execute(f"PREPARE dbsage_generic AS {text}", None)
        try:
            self._execute("SET LOCAL plan_cache_mode = force_generic_plan", None)
            explain = f"EXPLAIN (FORMAT JSON) EXECUTE dbsage_generic({values})"
            self._execute(explain, None)
            rows = [tuple(r) for r in self._cursor.fetchall()]
        finally:
            self._execute("DEALLOCATE dbsage_generic", None)
        return QueryResult(columns=["QUERY PLAN"], rows=rows, statement=f"PREPARE dbsage_generic AS {text}; {explain}")

    def create_index_for_whatif(self, create_sql: str) -> None:
        """PostgreSQL, rollback_write sessions only: build one index for what-if planning.

        The one exception to the allowlist's refusal of DDL in rollback_write: exactly one plain
        CREATE INDEX (not CONCURRENTLY, which cannot run in a transaction) on an existing table. The
        session's transaction is always rolled back, so the index never outlives it.
        """
        import pglast
        from pglast import ast

        if self.dialect is not Dialect.POSTGRES or self.mode is not Mode.ROLLBACK_WRITE:
            raise GuardRefused(
                "Real what-if indexes are built only in a PostgreSQL rollback_write session.", reason="mode"
            )
        try:
            statements = pglast.parse_sql(create_sql)
        except pglast.parser.ParseError as exc:
            raise InputError(f"The index definition does not parse as PostgreSQL: {exc}.") from None
        if len(statements) != 1 or not isinstance(statements[0].stmt, ast.IndexStmt):
            raise GuardRefused("Pass exactly one CREATE INDEX statement.", reason="not_create_index")
        stmt = statements[0].stmt
        if stmt.concurrent:
            raise GuardRefused("CREATE INDEX CONCURRENTLY cannot run inside a transaction.", reason="concurrently")
        relation = stmt.relation
        if relation is None:
            raise GuardRefused("The CREATE INDEX names no table.", reason="not_create_index")
        exists = self.catalog(
            "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND c.relkind IN ('r', 'p', 'm') "
            "AND (n.nspname = %s OR (%s::text IS NULL AND pg_catalog.pg_table_is_visible(c.oid)))",
            [relation.relname, relation.schemaname, relation.schemaname],
        )
        if not exists:
            raise InputError(f"The index's table {relation.relname} does not exist.")
        self._execute(create_sql, None)

    def copy_out(self, query: str) -> Iterator[bytes]:
        """PostgreSQL: the rows of one of dbsage's own SELECTs in COPY binary format, chunk by chunk.

        For copying a row sample into a scratch database; the session's transaction (read-only by
        default) and timeouts apply as to any other statement.
        """
        if self.dialect is not Dialect.POSTGRES:
            raise InputError("COPY is a PostgreSQL feature.")
        sql = f"COPY ({query}) TO STDOUT (FORMAT binary)"
        self._record(sql)
        self._deadline_holder[0] = time.monotonic() + self.limits.statement_timeout_ms / 1000
        cursor: Any = self._cursor
        try:
            with cursor.copy(sql) as copy:
                for chunk in copy:
                    yield bytes(chunk)
        except Exception as exc:
            raise QueryFailed(_driver_message(exc, self.dialect)) from None

    def _record(self, sql: str) -> None:
        shown = redact(sql)
        self.statements.append(shown)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %s", self.dialect.value, shown)

    def _execute(self, sql: str, params: Params) -> None:
        self._record(sql)
        self._deadline_holder[0] = time.monotonic() + self.limits.statement_timeout_ms / 1000
        try:
            if params is None:
                self._cursor.execute(sql)
            else:
                self._cursor.execute(sql, params)
        except (GuardRefused, InputError):
            raise
        except Exception as exc:  # the driver's own error types differ per engine
            hint = LOST_CONNECTION_HINT if _connection_lost(exc) else None
            raise QueryFailed(_driver_message(exc, self.dialect), hint=hint) from None

    def _fetch_dicts(self) -> list[dict[str, Any]]:
        if self._cursor.description is None:
            return []
        names = [d[0] for d in self._cursor.description]
        return [dict(zip(names, row, strict=True)) for row in self._cursor.fetchall()]


LOST_CONNECTION_HINT = (
    "the database closed the connection (a restart, failover or an administrator); nothing was changed, "
    "and the call can be retried"
)


def _connection_lost(exc: BaseException) -> bool:
    """True when the statement failed because the server went away, not because of the statement."""
    state = getattr(exc, "sqlstate", None)  # PostgreSQL: connection exceptions and shutdowns
    if isinstance(state, str):
        return state.startswith("08") or state in ("57P01", "57P02", "57P03")
    # psycopg without a SQLSTATE (the socket closed), MySQL 2006 "gone away" / 2013 "lost connection"
    text = str(exc)
    return "server closed the connection" in text or bool(exc.args and exc.args[0] in (2006, 2013))


def _driver_message(exc: BaseException, dialect: Dialect) -> str:
    text = str(exc).strip() or type(exc).__name__
    if dialect is Dialect.SQLITE and "interrupted" in text:
        text = "canceling statement due to statement timeout"
    return redact(text.splitlines()[0] if dialect is not Dialect.POSTGRES else " ".join(text.split()))


class LiveDatabase:
    """A live database reachable only through guarded sessions."""

    def __init__(
        self,
        url: DatabaseUrl,
        *,
        limits: Limits | None = None,
        scratch: bool = False,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        self.url = url
        self.limits = limits or Limits()
        self.scratch = scratch
        self.dialect = url.dialect
        self.server_version: str | None = None
        self.pool_size = pool_size
        self.shared = False  # owned by SharedDatabases: close() leaves the pool open for the next call
        self.catalog_cache: CatalogCache | None = None  # set on shared databases: see catalog_cache.py
        self._pool: Any = None
        self._lock = threading.Lock()
        self._connect_check()

    @classmethod
    def open(cls, url: str, *, limits: Limits | None = None, scratch: bool = False) -> LiveDatabase:
        """Parse `url` and check that the database answers; ConnectionFailed when it does not.

        While share_connections() is in effect, a PostgreSQL or MariaDB/MySQL database already opened
        with the same URL and limits is returned as it is: PostgreSQL's pooled connections are reused,
        and neither is checked again (MariaDB/MySQL sessions still connect each time). Scratch databases
        are never shared: they are short-lived (often created and dropped by one call).
        """
        parsed = parse_url(url)
        shared = _shared
        if shared is not None and parsed.dialect is not Dialect.SQLITE and not scratch:
            return shared.get(url, parsed, limits or Limits())
        return cls(parsed, limits=limits, scratch=scratch)

    def __repr__(self) -> str:
        return f"LiveDatabase({self.url.redacted})"

    def close(self) -> None:
        """Release the connections (a shared database keeps them for the next call)."""
        if not self.shared:
            self.close_pool()

    def close_pool(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> LiveDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self, mode: Mode = Mode.READ_ONLY) -> Iterator[GuardedSession]:
        """A guarded transaction, always rolled back when the block ends."""
        if mode is Mode.SCRATCH and not self.scratch:
            raise GuardRefused(
                f"{self.url.redacted} is not marked scratch; dbsage writes only to scratch databases.",
                reason="not_scratch",
                hint="mark the database `mode = \"scratch\"` in dbsage.toml, or use a database dbsage created",
            )
        if self.dialect is Dialect.POSTGRES:
            with self._postgres_session(mode) as s:
                yield s
        elif self.dialect.is_mysql_family:
            with self._mysql_session(mode) as s:
                yield s
        else:
            with self._sqlite_session(mode) as s:
                yield s

    # -- databases dbsage creates, and scratch connections -------------------------------------

    def create_database(self, name: str, *, template: str | None = None) -> None:
        """Create a database of dbsage's own on this server (`dbsage_...`), optionally from a template.

        Only names starting with `dbsage_` are created, and only databases this process created can be
        dropped again (drop_database) or serve as a template. Nothing is written to this database itself.
        GuardRefused (reason `cannot_create_database`) when the login may not create databases.
        """
        if not _OWN_DATABASE.match(name) or (template is not None and template not in _CREATED_DATABASES):
            raise GuardRefused(f"dbsage creates only databases named dbsage_...; refused {name!r}.", reason="name")
        if self.dialect is Dialect.POSTGRES:
            sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        elif self.dialect.is_mysql_family and template is None:
            sql = f"CREATE DATABASE `{name}`"
        else:
            raise GuardRefused(f"Creating databases is not supported on {self.dialect.value}.", reason="dialect")
        try:
            self._server_statement(sql)
        except QueryFailed as exc:
            raise GuardRefused(
                f"dbsage could not create its scratch database on {self.url.redacted}: {exc.message}",
                reason="cannot_create_database",
                hint="grant the login CREATEDB (MariaDB: CREATE, DROP), or name a scratch database "
                "(--scratch-dsn) marked scratch in dbsage.toml",
            ) from None
        _CREATED_DATABASES.add(name)

    def drop_database(self, name: str) -> None:
        """Drop a database this process created with create_database (any other name is refused)."""
        if name not in _CREATED_DATABASES:
            raise GuardRefused(f"dbsage drops only databases it created; refused {name!r}.", reason="not_own")
        if self.dialect is Dialect.POSTGRES:
            self._server_statement(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            self._server_statement(f"DROP DATABASE IF EXISTS `{name}`")
        _CREATED_DATABASES.discard(name)

    @contextmanager
    def scratch_connection(self) -> Iterator[Any]:
        """A driver connection of its own, in autocommit, to a database marked scratch.

        For running a migration as a deploy would (its own transactions, CREATE INDEX CONCURRENTLY,
        its own lock timeouts) and for concurrent test traffic. Refused unless the database is scratch;
        the caller checks what it sends (the allowlist's scratch mode). Closed when the block ends.
        """
        if not self.scratch:
            raise GuardRefused(
                f"{self.url.redacted} is not marked scratch; dbsage writes only to scratch databases.",
                reason="not_scratch",
                hint="mark the database `mode = \"scratch\"` in dbsage.toml, or use a database dbsage created",
            )
        if self.dialect is Dialect.POSTGRES:
            import psycopg

            try:
                conn: Any = psycopg.connect(**self._postgres_conninfo(), autocommit=True)
            except psycopg.Error as exc:
                raise ConnectionFailed(
                    f"Cannot connect to {self.url.redacted}: {_driver_message(exc, Dialect.POSTGRES)}"
                ) from None
        elif self.dialect.is_mysql_family:
            conn = self._mysql_connect()
            conn.autocommit(True)
        else:
            raise GuardRefused("Scratch connections exist for PostgreSQL and MariaDB/MySQL.", reason="dialect")
        try:
            yield conn
        finally:
            conn.close()

    def _server_statement(self, sql: str) -> None:
        """One server-level statement (CREATE/DROP DATABASE) in autocommit; it writes to no existing database."""
        log.debug("%s: %s", self.dialect.value, sql)
        if self.dialect is Dialect.POSTGRES:
            import psycopg

            try:
                with psycopg.connect(**self._postgres_conninfo(), autocommit=True) as conn:
                    conn.execute(sql.encode())
            except psycopg.Error as exc:
                raise QueryFailed(_driver_message(exc, Dialect.POSTGRES)) from None
        else:
            import pymysql

            conn = self._mysql_connect()
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
            except pymysql.Error as exc:
                raise QueryFailed(_driver_message(exc, self.dialect)) from None
            finally:
                conn.close()

    # -- connecting ---------------------------------------------------------------------------

    def _connect_check(self) -> None:
        if self.dialect is Dialect.POSTGRES:
            self._open_postgres_pool()
        elif self.dialect.is_mysql_family:
            conn = self._mysql_connect()
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT VERSION()")
                    row = cur.fetchone()
                    self.server_version = str(row[0]) if row else None
            finally:
                conn.close()
            if self.server_version and "mariadb" in self.server_version.lower():
                self.dialect = Dialect.MARIADB
            else:
                self.dialect = Dialect.MYSQL
        else:
            path = self.url.path
            if path is None or not path.is_file():
                raise ConnectionFailed(
                    f"SQLite database file not found: {path}.",
                    hint="give an existing file: sqlite:///absolute/path.db",
                )
            conn = self._sqlite_connect(writable=False)
            try:
                self.server_version = str(conn.execute("select sqlite_version()").fetchone()[0])
            except sqlite3.DatabaseError as exc:
                raise ConnectionFailed(f"{path} is not a SQLite database ({exc}).") from None
            finally:
                conn.close()

    def _postgres_conninfo(self) -> dict[str, Any]:
        u = self.url
        kwargs: dict[str, Any] = {k: v for k, v in u.query.items()}
        for key, value in (("host", u.host), ("port", u.port), ("user", u.user), ("password", u.password),
                           ("dbname", u.database)):
            if value is not None:
                kwargs[key] = value
        kwargs.setdefault("connect_timeout", self.limits.connect_timeout_s)
        kwargs.setdefault("application_name", "dbsage")
        return kwargs

    def _open_postgres_pool(self) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        conninfo = self._postgres_conninfo()
        try:
            first = psycopg.connect(**conninfo)
        except psycopg.Error as exc:
            raise ConnectionFailed(
                f"Cannot connect to {self.url.redacted}: {_driver_message(exc, Dialect.POSTGRES)}",
                hint="check host, port, user, password and that the server is running",
            ) from None
        with first:
            self.server_version = str(first.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        self._pool = ConnectionPool(
            kwargs=conninfo, min_size=0, max_size=self.pool_size, open=True, name="dbsage",
            reset=_reset_postgres_connection,
            # A pooled connection may have died since its last use (server restart, idle timeout):
            # check it before handing it out, so a call never starts on a dead connection.
            check=ConnectionPool.check_connection,
            timeout=max(float(self.limits.connect_timeout_s), 1.0),
        )

    def _mysql_connect(self) -> Any:
        import pymysql

        u = self.url
        kwargs: dict[str, Any] = {
            "host": u.host or "localhost",
            "port": u.port or 3306,
            "user": u.user or "root",
            "password": u.password or "",
            "connect_timeout": self.limits.connect_timeout_s,
            "charset": "utf8mb4",
            "autocommit": False,
        }
        if u.database:
            kwargs["database"] = u.database
        if "unix_socket" in u.query:
            kwargs["unix_socket"] = u.query["unix_socket"]
        if u.query.get("ssl") in ("true", "1", "required") or u.query.get("ssl_mode", "").upper() in (
            "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"
        ):
            kwargs["ssl"] = {}
        try:
            return pymysql.connect(**kwargs)
        except pymysql.Error as exc:
            raise ConnectionFailed(
                f"Cannot connect to {self.url.redacted}: {_driver_message(exc, Dialect.MYSQL)}",
                hint="check host, port, user, password and that the server is running",
            ) from None

    def _sqlite_connect(self, *, writable: bool) -> sqlite3.Connection:
        path = self.url.path
        assert path is not None
        if self.scratch or writable:
            return sqlite3.connect(str(path), timeout=self.limits.lock_timeout_ms / 1000, check_same_thread=False)
        uri = f"file:{path.resolve().as_posix()}?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=self.limits.lock_timeout_ms / 1000, check_same_thread=False)

    # -- sessions -----------------------------------------------------------------------------

    @contextmanager
    def _postgres_session(self, mode: Mode) -> Iterator[GuardedSession]:
        import psycopg
        from psycopg_pool import PoolTimeout

        pool = self._pool
        if pool is None:
            raise ConnectionFailed(f"The connection pool of {self.url.redacted} is closed.")
        try:
            conn = pool.getconn()
        except (PoolTimeout, psycopg.Error) as exc:
            if self.shared and _shared is not None:
                _shared.forget(self)
            raise ConnectionFailed(
                f"No connection to {self.url.redacted} within {pool.timeout:g} s: "
                f"{_driver_message(exc, Dialect.POSTGRES)}",
                hint="check that the server is running and accepts connections (max_connections)",
            ) from None
        try:
            conn.autocommit = False
            conn.read_only = mode is Mode.READ_ONLY
            with conn.cursor() as cur:
                # SET LOCAL lasts exactly as long as this transaction.
                cur.execute(f"SET LOCAL statement_timeout = {int(self.limits.statement_timeout_ms)}")
                cur.execute(f"SET LOCAL lock_timeout = {int(self.limits.lock_timeout_ms)}")
                cur.execute("SET LOCAL idle_in_transaction_session_timeout = 60000")
                # Statements from run() are regenerated with standard string literals ('a\b' is
                # two characters); a server running with this off would read them differently.
                cur.execute("SET LOCAL standard_conforming_strings = on")
                yield GuardedSession(self.dialect, mode, self.limits, cur, [0.0])
        except psycopg.Error as exc:
            raise QueryFailed(_driver_message(exc, Dialect.POSTGRES)) from None
        finally:
            if not conn.closed:
                with suppress(psycopg.Error):  # a broken connection: putconn discards it
                    conn.rollback()
            # Back to the pool: _reset_postgres_connection runs, a broken connection is replaced.
            pool.putconn(conn)

    @contextmanager
    def _mysql_session(self, mode: Mode) -> Iterator[GuardedSession]:
        conn = self._mysql_connect()
        try:
            with conn.cursor() as cur:
                if self.dialect is Dialect.MARIADB:
                    # max_statement_time takes fractional seconds: 500 ms must not become 1 s.
                    seconds = max(0.001, self.limits.statement_timeout_ms / 1000)
                    cur.execute(f"SET SESSION max_statement_time = {seconds:.3f}")
                else:
                    cur.execute(f"SET SESSION max_execution_time = {int(self.limits.statement_timeout_ms)}")
                lock_s = max(1, self.limits.lock_timeout_ms // 1000)
                cur.execute(f"SET SESSION lock_wait_timeout = {lock_s}")
                cur.execute(f"SET SESSION innodb_lock_wait_timeout = {lock_s}")
                cur.execute("START TRANSACTION READ ONLY" if mode is Mode.READ_ONLY else "START TRANSACTION")
                try:
                    yield GuardedSession(self.dialect, mode, self.limits, cur, [0.0])
                finally:
                    conn.rollback()
        finally:
            conn.close()

    @contextmanager
    def _sqlite_session(self, mode: Mode) -> Iterator[GuardedSession]:
        # rollback_write needs a writable handle (its transaction is always rolled back below).
        conn = self._sqlite_connect(writable=mode is not Mode.READ_ONLY)
        deadline = [0.0]
        # SQLite has no statement timeout: a progress handler interrupts a statement past its deadline.
        conn.set_progress_handler(lambda: 1 if deadline[0] and time.monotonic() > deadline[0] else 0, 10_000)
        try:
            if mode is Mode.READ_ONLY:
                conn.execute("PRAGMA query_only = 1")
            conn.execute("BEGIN")
            cur = conn.cursor()
            try:
                yield GuardedSession(self.dialect, mode, self.limits, cur, deadline)
            finally:
                conn.rollback()
        finally:
            conn.close()


class SharedDatabases:
    """One open LiveDatabase per server database (URL, limits) for the life of a long-running process.

    The MCP server answers many calls against the same few databases; opening a pool, checking the
    server and connecting on every call costs more than the analysis itself. Shared databases keep
    their pool (at most `pool_size` connections each) until close_all(). A database whose pool cannot
    hand out a connection is forgotten, so the next call connects afresh and reports what is wrong.
    """

    def __init__(self, pool_size: int = DEFAULT_POOL_SIZE, catalog_max_age_s: float = 0.0) -> None:
        if pool_size < 1:
            raise InputError(f"pool_size must be at least 1 (got {pool_size}).")
        if catalog_max_age_s < 0:
            raise InputError(f"catalog_max_age_s must not be negative (got {catalog_max_age_s}).")
        self.pool_size = pool_size
        self.catalog_max_age_s = catalog_max_age_s
        self._open: dict[tuple[str, Limits], LiveDatabase] = {}
        self._lock = threading.Lock()

    def get(self, raw_url: str, url: DatabaseUrl, limits: Limits) -> LiveDatabase:
        key = (raw_url, limits)
        with self._lock:
            db = self._open.get(key)
            if db is not None:
                return db
            # Connecting under the lock: concurrent first calls wait for one pool rather than open several.
            db = LiveDatabase(url, limits=limits, pool_size=self.pool_size)
            db.shared = True
            if self.catalog_max_age_s > 0 and db.dialect is Dialect.POSTGRES:
                from dbsage.tools.sources.catalog_cache import CatalogCache

                db.catalog_cache = CatalogCache(self.catalog_max_age_s)
            self._open[key] = db
            return db

    def forget(self, db: LiveDatabase) -> None:
        with self._lock:
            for key, known in list(self._open.items()):
                if known is db:
                    del self._open[key]
        db.close_pool()

    def close_all(self) -> None:
        with self._lock:
            databases = list(self._open.values())
            self._open.clear()
        for db in databases:
            db.close_pool()

    def __len__(self) -> int:
        return len(self._open)


_shared: SharedDatabases | None = None


def share_connections(pool_size: int = DEFAULT_POOL_SIZE, catalog_max_age_s: float = 0.0) -> SharedDatabases:
    """From now on, LiveDatabase.open reuses one open database per server database (see SharedDatabases):
    PostgreSQL's with its pool and, with `catalog_max_age_s` > 0, its catalog while the schema is unchanged
    (catalog_cache.py)."""
    global _shared
    if _shared is None:
        _shared = SharedDatabases(pool_size, catalog_max_age_s)
    return _shared


def stop_sharing() -> None:
    """Close every shared pool; LiveDatabase.open connects per call again."""
    global _shared
    shared, _shared = _shared, None
    if shared is not None:
        shared.close_all()


def _reset_postgres_connection(conn: Any) -> None:
    """Before a connection goes back to the pool: no transaction, no hypothetical index left behind."""
    if conn.info.transaction_status != 0:  # not idle
        conn.rollback()
    conn.autocommit = True
    try:
        has_hypopg = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'hypopg'").fetchone()
        if has_hypopg:
            conn.execute("SELECT hypopg_reset()")
    finally:
        conn.autocommit = False

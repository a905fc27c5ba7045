"""The access guard against real PostgreSQL, MariaDB/MySQL and SQLite databases.

Each engine gets one throwaway database holding a canary table. Every statement of the attack corpus
(tests/data/guard_corpus.toml) goes through GuardedSession.run() and must be refused for the stated
reason, never reach the server, and leave the canary exactly as it was; every allowed statement must
run. Further tests cover the engine-level backstops (read-only transactions, timeouts, the row cap),
scratch mode, and credential redaction.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pglast
import pytest
import sqlglot
from pglast.stream import RawStream
from sqlglot import exp

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import ConnectionFailed, GuardRefused, InputError, QueryFailed
from dbsage.tools.sources import allowlist
from dbsage.tools.sources.guard import Limits, LiveDatabase, Mode
from tests.dbutil import (
    admin_mysql,
    admin_postgres,
    mysql_url_for,
    postgres_url_for,
    run_mysql_script,
    run_postgres_script,
)

ENGINES = ("postgres", "mysql", "sqlite")
CORPUS_PATH = Path(__file__).parent / "data" / "guard_corpus.toml"
ATTACK_FILE = f"/tmp/dbsage-guard-attack-{uuid.uuid4().hex[:12]}"
LIMITS = Limits(statement_timeout_ms=500, lock_timeout_ms=500, row_cap=100)
SLOWEST_REFUSAL_S = 5.0

# -- the databases --------------------------------------------------------------------------------------

_DATA = """
INSERT INTO canary VALUES (1, 'alive'), (2, 'still here');
INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', 'UK'), (2, 'Brian', 'brian@example.com', NULL),
    (3, 'Chen', 'chen@example.com', 'CN');
INSERT INTO orders VALUES
    (1, 1, 25.50, 'paid', '2024-01-05 10:00:00', '{"channel": "web", "items": [1, 2]}'),
    (2, 1, 12.00, 'open', '2024-01-20 11:00:00', '{"channel": "shop", "items": [3]}'),
    (3, 1, 40.00, 'paid', '2024-02-02 09:30:00', '{"items": []}'),
    (4, 2, 99.99, 'paid', '2024-02-10 15:45:00', NULL),
    (5, 3, 5.00, 'open', '2024-03-01 08:00:00', '{"channel": "web", "items": [4, 5, 6]}');
INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
INSERT INTO numbers SELECT a.d * 100 + b.d * 10 + c.d + 1 FROM digits a, digits b, digits c;
"""

POSTGRES_SCRIPT = """
CREATE TABLE canary (id integer PRIMARY KEY, note text NOT NULL);
CREATE SEQUENCE canary_seq;
SELECT setval('canary_seq', 7);
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, email text, country text);
CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers (id),
    total numeric(10, 2) NOT NULL, status text NOT NULL, placed_at timestamptz NOT NULL, meta jsonb);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
CREATE TABLE digits (d integer PRIMARY KEY);
CREATE TABLE numbers (n integer PRIMARY KEY);
""" + _DATA

MYSQL_SCRIPT = """
CREATE TABLE canary (id INT PRIMARY KEY, note VARCHAR(50) NOT NULL) ENGINE = InnoDB;
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, email VARCHAR(100), country CHAR(2))
    ENGINE = InnoDB;
CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(10, 2) NOT NULL,
    status VARCHAR(10) NOT NULL, placed_at DATETIME NOT NULL, meta JSON,
    KEY orders_customer_id_idx (customer_id), FOREIGN KEY (customer_id) REFERENCES customers (id))
    ENGINE = InnoDB;
CREATE TABLE digits (d INT PRIMARY KEY) ENGINE = InnoDB;
CREATE TABLE numbers (n INT PRIMARY KEY) ENGINE = InnoDB;
""" + _DATA

SQLITE_SCRIPT = """
CREATE TABLE canary (id INTEGER PRIMARY KEY, note TEXT NOT NULL);
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, country TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id),
    total NUMERIC NOT NULL, status TEXT NOT NULL, placed_at TEXT NOT NULL, meta TEXT);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
CREATE TABLE digits (d INTEGER PRIMARY KEY);
CREATE TABLE numbers (n INTEGER PRIMARY KEY);
""" + _DATA


@dataclass
class Target:
    """One engine's test database: guarded handles on it, and an unguarded look at its state."""

    engine: str
    url: str
    db: LiveDatabase
    scratch_db: LiveDatabase
    snapshot: Callable[[], dict[str, Any]]

    def handle(self, mode: Mode) -> LiveDatabase:
        return self.scratch_db if mode is Mode.SCRATCH else self.db


_POSTGRES_STATE = {
    "canary": "SELECT id, note FROM canary ORDER BY id",
    "tables": "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    "functions": "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1",
    "sequence": "SELECT last_value FROM canary_seq",
    "advisory_locks": "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
    "roles": "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'dbsage_intruder%'",
}


def _postgres_snapshot(conn: Any) -> dict[str, Any]:
    return {key: conn.execute(sql).fetchall() for key, sql in _POSTGRES_STATE.items()}


def _mysql_snapshot(conn: Any) -> dict[str, Any]:
    # An autocommit connection: every SELECT sees the latest committed state.
    with conn.cursor() as cur:
        cur.execute("SELECT id, note FROM canary ORDER BY id")
        canary = cur.fetchall()
        cur.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('information_schema', 'performance_schema', 'sys') "
            "AND (table_schema = DATABASE() OR table_name LIKE 'intruder%') ORDER BY 1, 2"
        )
        tables = cur.fetchall()
        cur.execute("SELECT COUNT(*) FROM mysql.user WHERE user LIKE 'dbsage_intruder%'")
        users = cur.fetchone()
    return {"canary": canary, "tables": tables, "users": users}


def _sqlite_snapshot(path: Path) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            "canary": conn.execute("SELECT id, note FROM canary ORDER BY id").fetchall(),
            "tables": conn.execute("SELECT type, name FROM sqlite_master ORDER BY 1, 2").fetchall(),
        }
    finally:
        conn.close()


@pytest.fixture(scope="module")
def postgres_target(postgres_server_url: str) -> Iterator[Target]:
    # One database for the whole module: creating and dropping one per case costs seconds each.
    name = f"dbsage_t_{uuid.uuid4().hex[:10]}"
    with admin_postgres(postgres_server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_url_for(postgres_server_url, name)
    try:
        run_postgres_script(url, POSTGRES_SCRIPT)
        with (
            admin_postgres(url) as admin,
            LiveDatabase.open(url, limits=LIMITS) as db,
            LiveDatabase.open(url, limits=LIMITS, scratch=True) as sdb,
        ):
            yield Target("postgres", url, db, sdb, lambda: _postgres_snapshot(admin))
    finally:
        with admin_postgres(postgres_server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def mysql_target(mysql_server_url: str) -> Iterator[Target]:
    name = f"dbsage_t_{uuid.uuid4().hex[:10]}"
    conn = admin_mysql(mysql_server_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
    finally:
        conn.close()
    url = mysql_url_for(mysql_server_url, name)
    try:
        run_mysql_script(url, MYSQL_SCRIPT)
        admin = admin_mysql(url)
        try:
            with (
                LiveDatabase.open(url, limits=LIMITS) as db,
                LiveDatabase.open(url, limits=LIMITS, scratch=True) as sdb,
            ):
                yield Target("mysql", url, db, sdb, lambda: _mysql_snapshot(admin))
        finally:
            admin.close()
    finally:
        conn = admin_mysql(mysql_server_url)
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


@pytest.fixture(scope="module")
def sqlite_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    path = tmp_path_factory.mktemp("guard") / "guard.db"
    conn = sqlite3.connect(path)
    try:
        conn.executescript(SQLITE_SCRIPT)
        conn.commit()
    finally:
        conn.close()
    url = f"sqlite:///{path}"
    with (
        LiveDatabase.open(url, limits=LIMITS) as db,
        LiveDatabase.open(url, limits=LIMITS, scratch=True) as sdb,
    ):
        yield Target("sqlite", url, db, sdb, lambda: _sqlite_snapshot(path))


def _target(request: pytest.FixtureRequest, engine: str) -> Target:
    target = request.getfixturevalue(f"{engine}_target")
    assert isinstance(target, Target)
    return target


# -- the corpus ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    engine: str
    sql: str
    mode: Mode
    spec: dict[str, Any]

    @property
    def reason(self) -> str | None:
        reason = self.spec.get("reason")
        return reason.get(self.engine) if isinstance(reason, dict) else reason


def _expand(spec: dict[str, Any]) -> str:
    sql = str(spec["sql"])
    if "repeat" in spec:
        count = int(spec["repeat"])
        sql = sql.replace("{open}", str(spec.get("open", "")) * count)
        sql = sql.replace("{close}", str(spec.get("close", "")) * count)
    return sql.replace("{attack_file}", ATTACK_FILE)


def _cases(kind: str) -> list[Case]:
    corpus = tomllib.loads(CORPUS_PATH.read_text(encoding="utf-8"))
    cases = []
    for spec in corpus[kind]:
        for engine in spec["engines"]:
            assert engine in ENGINES, f"{spec['id']}: unknown engine {engine}"
            cases.append(Case(spec["id"], engine, _expand(spec), Mode(spec.get("mode", "read_only")), spec))
    return cases


ATTACKS = _cases("attack")
ALLOWED = _cases("allowed")


def test_corpus_is_large_and_unique() -> None:
    """The attack corpus covers every engine with at least 60 statements, and ids do not repeat."""
    assert len(ATTACKS) >= 60
    for engine in ENGINES:
        assert sum(case.engine == engine for case in ATTACKS) >= 20, engine
    keys = [(case.id, case.engine) for case in ATTACKS + ALLOWED]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("case", ATTACKS, ids=lambda c: f"{c.engine}-{c.id}")
def test_attack_is_refused_and_canary_survives(case: Case, request: pytest.FixtureRequest) -> None:
    target = _target(request, case.engine)
    before = target.snapshot()
    paths = [Path(p.replace("{attack_file}", ATTACK_FILE)) for p in case.spec.get("forbidden_paths", [])]
    error = case.spec.get("error", "refused")
    expected = {"refused": GuardRefused, "input": InputError, "query_failed": QueryFailed}[error]
    started = time.monotonic()
    with target.handle(case.mode).session(case.mode) as session:
        with pytest.raises(expected) as caught:
            session.run(case.sql)
        sent = list(session.statements)
    elapsed = time.monotonic() - started
    assert elapsed < SLOWEST_REFUSAL_S
    if isinstance(caught.value, GuardRefused):
        assert caught.value.reason == case.reason, caught.value.message
        assert caught.value.message
    if error == "query_failed":
        assert isinstance(caught.value, QueryFailed)
        message = caught.value.message.lower()
        assert any(word in message for word in case.spec.get("message_any", [""]))
    else:
        assert sent == [], "a refused statement must never reach the server"
    assert target.snapshot() == before
    for path in paths:
        assert not path.exists(), f"{path} was written"


@pytest.mark.parametrize("case", ALLOWED, ids=lambda c: f"{c.engine}-{c.id}")
def test_allowed_statement_runs(case: Case, request: pytest.FixtureRequest) -> None:
    target = _target(request, case.engine)
    flavor = case.spec.get("flavor")
    if flavor == "mariadb" and target.db.dialect is not Dialect.MARIADB:
        pytest.skip("MariaDB syntax")
    before = target.snapshot()
    with target.handle(case.mode).session(case.mode) as session:
        result = session.run(case.sql)
    assert len(result.rows) >= case.spec.get("min_rows", 1)
    if "first" in case.spec:
        assert str(result.rows[0][0]) == case.spec["first"]
    if "statement" in case.spec:
        assert result.statement == case.spec["statement"]
    assert "/*" not in result.statement
    assert target.snapshot() == before, "writes must be rolled back"


# -- backstops ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_read_only_transaction_stops_a_write_that_skips_the_allowlist(
    engine: str, request: pytest.FixtureRequest
) -> None:
    """catalog() is dbsage's own path and is not checked; the read-only transaction still refuses writes."""
    target = _target(request, engine)
    before = target.snapshot()
    with target.db.session() as session, pytest.raises(QueryFailed) as caught:
        session.catalog("INSERT INTO canary VALUES (9, 'slipped through')")
    assert "read" in caught.value.message.lower()  # "read-only transaction" / "readonly database"
    assert target.snapshot() == before


def test_mysql_read_only_transaction_does_not_stop_ddl(mysql_target: Target) -> None:
    """Why the parser must refuse DDL on MySQL: DDL commits implicitly, READ ONLY or not."""
    with mysql_target.db.session() as session:
        session.catalog("CREATE TABLE ddl_probe (a INT)")
    try:
        assert ("ddl_probe",) in [(t[1],) for t in mysql_target.snapshot()["tables"]]
        with mysql_target.db.session() as session, pytest.raises(GuardRefused) as caught:
            session.run("CREATE TABLE ddl_probe_2 (a INT)")
        assert caught.value.reason == "ddl_not_allowed"
    finally:
        conn = admin_mysql(mysql_target.url)
        try:
            with conn.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS ddl_probe")
        finally:
            conn.close()


HUGE_RESULT = "SELECT a.n, b.n, c.n FROM numbers a, numbers b, numbers c"  # 10^9 rows


@pytest.mark.parametrize("engine", ENGINES)
def test_huge_result_is_capped_and_fast(engine: str, request: pytest.FixtureRequest) -> None:
    """The row cap goes into the statement, so the server stops after row_cap + 1 rows."""
    target = _target(request, engine)
    started = time.monotonic()
    with target.db.session() as session:
        result = session.run(HUGE_RESULT)
    assert time.monotonic() - started < SLOWEST_REFUSAL_S
    assert len(result.rows) == LIMITS.row_cap
    assert result.truncated is True
    assert result.columns and len(result.columns) == 3
    if engine != "sqlite":  # sqlite3 steps rows lazily, so it needs no LIMIT
        assert result.statement.endswith(f"LIMIT {LIMITS.row_cap + 1}")


@pytest.mark.parametrize("engine", ENGINES)
def test_scratch_mode_is_refused_on_a_database_not_marked_scratch(
    engine: str, request: pytest.FixtureRequest
) -> None:
    target = _target(request, engine)
    with pytest.raises(GuardRefused) as caught, target.db.session(Mode.SCRATCH):
        pass
    assert caught.value.reason == "not_scratch"
    assert "scratch" in caught.value.message


def test_scratch_ddl_on_mysql_commits_and_stays_inside_the_database(mysql_target: Target) -> None:
    """On a scratch database MySQL DDL runs (and commits, as MySQL DDL does), but only there."""
    try:
        with mysql_target.scratch_db.session(Mode.SCRATCH) as session:
            session.run("CREATE TABLE scratch_probe (a INT PRIMARY KEY)")
            session.run("INSERT INTO scratch_probe VALUES (1)")
        assert any(t[1] == "scratch_probe" for t in mysql_target.snapshot()["tables"])
    finally:
        with mysql_target.scratch_db.session(Mode.SCRATCH) as session:
            session.run("DROP TABLE IF EXISTS scratch_probe")
    assert not any(t[1] == "scratch_probe" for t in mysql_target.snapshot()["tables"])


def test_sqlite_rollback_write_needs_no_scratch_and_is_rolled_back(sqlite_target: Target) -> None:
    before = sqlite_target.snapshot()
    with sqlite_target.db.session(Mode.ROLLBACK_WRITE) as session:
        session.run("UPDATE canary SET note = 'changed'")
        assert session.run("SELECT note FROM canary ORDER BY id").rows == [("changed",), ("changed",)]
    assert sqlite_target.snapshot() == before


# -- what is sent is what was checked -----------------------------------------------------------------------

MYSQL_LITERALS = [
    r"'a\\b'",
    r"'it\'s'",
    "'it''s'",
    r"'tab\there'",
    r"'percent \% and underscore \_'",
    "\"double quoted\"",
    r"'ends with backslash \\'",
    r"'\\'''",
    "_utf8mb4'caf\u00e9'",
    "x'4142'",
]


def test_mysql_string_literals_mean_the_same_after_regeneration(mysql_target: Target) -> None:
    """Regeneration re-escapes literals; the server must read the same values either way."""
    sql = "SELECT " + ", ".join(MYSQL_LITERALS)
    conn = admin_mysql(mysql_target.url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            direct = cur.fetchone()
    finally:
        conn.close()
    with mysql_target.db.session() as session:
        guarded = session.run(sql)
    assert guarded.rows[0] == direct


POSTGRES_LITERALS = [
    "E'a\\\\b'",
    "E'it\\'s'",
    "'it''s'",
    "'a\\b'",
    "$$dollar 'quoted' \\ text$$",
    "$tag$ nested $$ $tag$",
    "U&'\\0041\\0042'",
    "E'\\x41\\n'",
]


def test_postgres_string_literals_mean_the_same_after_regeneration(postgres_target: Target) -> None:
    sql = "SELECT " + ", ".join(POSTGRES_LITERALS)
    with admin_postgres(postgres_target.url) as conn:
        direct = conn.execute(sql.encode()).fetchone()
    with postgres_target.db.session() as session:
        guarded = session.run(sql)
    assert guarded.rows[0] == direct


# -- redaction -------------------------------------------------------------------------------------------


def _assert_hidden(secret: str, *texts: object) -> None:
    for text in texts:
        assert secret not in str(text)


def test_postgres_password_never_shows(
    postgres_target: Target, postgres_server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    role = f"dbsage_redact_{uuid.uuid4().hex[:8]}"
    password = f"Pw-{uuid.uuid4().hex}"
    database = postgres_target.url.rsplit("/", 1)[1]
    with admin_postgres(postgres_server_url) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
    try:
        # The local server trusts 127.0.0.1, so a wrong password is not rejected there; a missing
        # database is, and its error message carries the URL.
        missing = f"postgresql://{role}:{password}@127.0.0.1:5432/no_such_db_{uuid.uuid4().hex[:6]}"
        with pytest.raises(ConnectionFailed) as failed:
            LiveDatabase.open(missing)
        _assert_hidden(password, failed.value, repr(failed.value), failed.value.as_dict())
        assert f"{role}:***@" in failed.value.message

        url = f"postgresql://{role}:{password}@127.0.0.1:5432/{database}"
        caplog.set_level(logging.DEBUG, logger="dbsage.guard")
        with LiveDatabase.open(url, limits=LIMITS) as db:
            _assert_hidden(password, db, repr(db), db.url, repr(db.url), db.url.redacted)
            with db.session() as session:
                # The server echoes the unknown table's name: the message must not.
                with pytest.raises(QueryFailed) as echoed:
                    session.run(f'SELECT * FROM "{password}"')
                _assert_hidden(password, echoed.value, echoed.value.as_dict(), session.statements)
        _assert_hidden(password, caplog.text)
    finally:
        with admin_postgres(postgres_server_url) as conn:
            conn.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM {role}')
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_mariadb_wrong_password_never_shows(
    mysql_target: Target, mysql_server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    user = f"dbsage_redact_{uuid.uuid4().hex[:8]}"
    password = f"Pw-{uuid.uuid4().hex}"
    wrong = f"Wrong-{uuid.uuid4().hex}"
    database = mysql_target.url.rsplit("/", 1)[1]
    hosts = ("127.0.0.1", "localhost", "%")
    conn = admin_mysql(mysql_server_url)
    try:
        with conn.cursor() as cur:
            for host in hosts:
                cur.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'")
                cur.execute(f"GRANT SELECT ON `{database}`.* TO '{user}'@'{host}'")
    finally:
        conn.close()
    try:
        with pytest.raises(ConnectionFailed) as failed:
            LiveDatabase.open(f"mysql://{user}:{wrong}@127.0.0.1:3306/{database}")
        assert "denied" in failed.value.message.lower()
        _assert_hidden(wrong, failed.value, repr(failed.value), failed.value.as_dict())

        caplog.set_level(logging.DEBUG, logger="dbsage.guard")
        with LiveDatabase.open(f"mysql://{user}:{password}@127.0.0.1:3306/{database}", limits=LIMITS) as db:
            _assert_hidden(password, db, repr(db), db.url, repr(db.url))
            with db.session() as session:
                with pytest.raises(QueryFailed) as echoed:
                    session.run(f"SELECT * FROM `{password}`")
                _assert_hidden(password, echoed.value, echoed.value.as_dict(), session.statements)
        _assert_hidden(password, caplog.text)
    finally:
        conn = admin_mysql(mysql_server_url)
        try:
            with conn.cursor() as cur:
                for host in hosts:
                    cur.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
        finally:
            conn.close()


# -- the lists themselves ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "forbidden", "prefixes"),
    [
        (
            allowlist.PG_ALLOWED_FUNCTIONS,
            allowlist.PG_FORBIDDEN_FUNCTIONS,
            allowlist.PG_FORBIDDEN_FUNCTION_PREFIXES,
        ),
        (
            allowlist.MYSQL_ALLOWED_FUNCTIONS,
            allowlist.MYSQL_FORBIDDEN_FUNCTIONS,
            allowlist.MYSQL_FORBIDDEN_FUNCTION_PREFIXES,
        ),
        (allowlist.SQLITE_ALLOWED_FUNCTIONS, allowlist.SQLITE_FORBIDDEN_FUNCTIONS, ()),
    ],
    ids=ENGINES,
)
def test_no_function_is_both_allowed_and_forbidden(
    allowed: frozenset[str], forbidden: dict[str, str], prefixes: tuple[tuple[str, str], ...]
) -> None:
    assert isinstance(allowed, frozenset)
    assert all(name == name.lower() for name in allowed)
    assert not allowed & set(forbidden)
    assert not [name for name in allowed if any(name.startswith(prefix) for prefix, _ in prefixes)]
    assert not allowed & set(allowlist.PG_STATEFUL_FUNCTIONS)


def _sakila_views(path: Path, read: str) -> list[str]:
    text = path.read_text(encoding="utf-8-sig")
    views = []
    for stmt in sqlglot.parse(text, read=read, error_level=sqlglot.ErrorLevel.IGNORE):
        if isinstance(stmt, exp.Create) and str(stmt.args.get("kind")).upper() == "VIEW":
            views.append(stmt.expression.sql(dialect=read))
    return views


def test_sample_database_views_pass_the_allowlist(realworld: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Queries written by others (the sample databases' views) pass; a user-defined aggregate does not."""
    caplog.set_level(logging.ERROR, logger="sqlglot")  # the schema scripts hold statements sqlglot skips
    mysql_views = _sakila_views(realworld / "sakila" / "mysql-sakila-schema.sql", "mysql")
    sqlite_views = _sakila_views(realworld / "sakila" / "sqlite-sakila-schema.sql", "sqlite")
    assert len(mysql_views) >= 5 and len(sqlite_views) >= 5
    for view in mysql_views:
        allowlist.check_statement(view, Dialect.MARIADB, Mode.READ_ONLY)
    for view in sqlite_views:
        allowlist.check_statement(view, Dialect.SQLITE, Mode.READ_ONLY)
    pagila = (realworld / "pagila" / "pagila-schema.sql").read_text(encoding="utf-8")
    pg_views = [
        RawStream()(raw.stmt.query)  # type: ignore[union-attr]
        for raw in pglast.parse_sql(pagila)
        if type(raw.stmt).__name__ == "ViewStmt"
    ]
    passed, refused = 0, []
    for view in pg_views:
        try:
            allowlist.check_statement(view, Dialect.POSTGRES, Mode.READ_ONLY)
            passed += 1
        except GuardRefused as exc:
            refused.append(exc)
    assert passed >= 4
    # Pagila defines its own group_concat aggregate: a user-defined function, so refused by design.
    assert refused
    assert all(exc.reason == "function_not_allowed" and "group_concat" in exc.message for exc in refused)

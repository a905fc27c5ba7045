"""Schema-design and index-health rules of inspect_schema, run through real PostgreSQL, MariaDB and SQLite.

Every rule has SQL that must trigger it and SQL that must not, run live and (where the rule does not need
a live database) through the offline DDL reader. The planted-problems fixtures check the whole set of
findings, that every fix parses and runs, and that running it makes the finding go away.
"""

from __future__ import annotations

import sqlite3
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pglast
import pytest
import sqlglot

from dbsage.knowledge.rulebook import load_rules
from dbsage.tools.catalog import (
    Catalog,
    Column,
    Dialect,
    ForeignKey,
    Index,
    IndexKey,
    PrimaryKey,
    Sequence,
    Table,
)
from dbsage.tools.findings import Finding, Severity
from dbsage.tools.rules.registry import RuleOptions, rules_for
from dbsage.tools.rules.schema_design import fk_covering_index, not_checked_offline, redundant_indexes
from dbsage.tools.rules.schema_naming import looks_plural
from dbsage.tools.schema import SchemaReport, analyze_catalog, inspect_schema
from tests.conftest import FIXTURES, REPO
from tests.dbutil import admin_postgres, postgres_url_for, run_mysql_script, run_postgres_script

TOOL = "inspect_schema"
LIVE_ONLY = {rid for rid, doc in load_rules().items() if doc.live_only}

Found = set[tuple[str, str]]


def schema_of(report: SchemaReport) -> str:
    assert report.catalog is not None, "use detail='full'"
    assert report.pages == 1, "every finding must be on this one page"
    schemas = {t.schema_name for t in report.catalog.tables}
    assert len(schemas) == 1, schemas
    return schemas.pop()


def local(obj: str, schema: str) -> str:
    """An object name without its schema: 't', 't.c', 't(c)'; '' for the schema itself."""
    if obj == schema:
        return ""
    return obj[len(schema) + 1 :] if obj.startswith(schema + ".") else obj


def found(report: SchemaReport) -> Found:
    schema = schema_of(report)
    return {(f.rule_id, local(f.object, schema)) for f in report.findings}


def by_rule(report: SchemaReport, rule_id: str) -> list[Finding]:
    return [f for f in report.findings if f.rule_id == rule_id]


def offline(sql: str, dialect: str) -> SchemaReport:
    return inspect_schema(ddl=sql, dialect=dialect, detail="full", limit=1000)


def live(url: str, schema: str | None = None) -> SchemaReport:
    return inspect_schema(dsn=url, schema=schema, detail="full", limit=1000)


# ---------------------------------------------------------------- rule catalog


def test_every_registered_rule_has_knowledge_and_every_entry_is_registered() -> None:
    registered = {r.rule_id for r in rules_for(TOOL)}
    docs = load_rules()
    assert registered <= set(docs)
    mine: set[str] = set()
    for name in ("schema.toml", "index.toml"):
        data = tomllib.loads((REPO / "knowledge" / "rules" / name).read_text(encoding="utf-8"))
        mine |= {raw["id"] for raw in data["rule"]}
    assert mine == registered
    for rule_id in mine:
        doc = docs[rule_id]
        assert doc.dialects and doc.references, rule_id
        assert all(ref.startswith("https://") for ref in doc.references), rule_id
        assert len(doc.rationale) > 80 and len(doc.remediation) > 60, rule_id


def test_offline_report_lists_live_only_rules_as_not_checked() -> None:
    catalog = Catalog(dialect=Dialect.POSTGRES, source="ddl")
    lines = not_checked_offline(catalog)
    assert {line.split(" ")[0] for line in lines} == {"schema.integer_key_overflow", "index.unused_index"}
    assert not_checked_offline(catalog.model_copy(update={"source": "live"})) == []
    sqlite_lines = not_checked_offline(catalog.model_copy(update={"dialect": Dialect.SQLITE}))
    assert [line.split(" ")[0] for line in sqlite_lines] == ["schema.integer_key_overflow"]


# ---------------------------------------------------------------- trigger / do not trigger, per rule


@dataclass(frozen=True)
class Case:
    rule_id: str
    dialect: str
    bad: str
    good: str
    obj: str  # the object the finding names, without the schema

    @property
    def id(self) -> str:
        return f"{self.dialect}:{self.rule_id}:{self.obj or 'schema'}"


PG_PARENT = "CREATE TABLE p (id bigint PRIMARY KEY);"
PG_CASES = [
    Case("schema.table_without_primary_key", "postgres",
         "CREATE TABLE t (a int, b text);", "CREATE TABLE t (a int PRIMARY KEY, b text);", "t"),
    Case("index.fk_without_index", "postgres",
         PG_PARENT + "CREATE TABLE c (id int PRIMARY KEY, p_id bigint REFERENCES p);",
         PG_PARENT + "CREATE TABLE c (id int PRIMARY KEY, p_id bigint REFERENCES p);"
         "CREATE INDEX idx_c_p_id ON c (p_id);", "c(p_id)"),
    # A composite key is covered by an index leading with its columns in another order ...
    Case("index.fk_without_index", "postgres",
         "CREATE TABLE p (a int, b int, PRIMARY KEY (a, b));"
         "CREATE TABLE c (id int PRIMARY KEY, a int, b int, x int, FOREIGN KEY (a, b) REFERENCES p);"
         "CREATE INDEX idx_c_a_x_b ON c (a, x, b);",
         "CREATE TABLE p (a int, b int, PRIMARY KEY (a, b));"
         "CREATE TABLE c (id int PRIMARY KEY, a int, b int, x int, FOREIGN KEY (a, b) REFERENCES p);"
         "CREATE INDEX idx_c_b_a_x ON c (b, a, x);", "c(a,b)"),
    # ... but not by a partial index.
    Case("index.fk_without_index", "postgres",
         PG_PARENT + "CREATE TABLE c (id int PRIMARY KEY, p_id bigint REFERENCES p);"
         "CREATE INDEX idx_c_p_id ON c (p_id) WHERE p_id > 0;",
         PG_PARENT + "CREATE TABLE c (id int PRIMARY KEY, p_id bigint REFERENCES p);"
         "CREATE INDEX idx_c_p_id_id ON c (p_id, id);", "c(p_id)"),
    Case("index.duplicate_index", "postgres",
         "CREATE TABLE t (id int PRIMARY KEY, a int); CREATE INDEX idx_t_a ON t (a); CREATE INDEX idx_t_a_2"
         " ON t (a);",
         "CREATE TABLE t (id int PRIMARY KEY, a int); CREATE INDEX idx_t_a ON t (a);"
         "CREATE INDEX idx_t_a_2 ON t (a) WHERE a > 0;", "t.idx_t_a_2"),
    Case("index.duplicate_index", "postgres",
         "CREATE TABLE t (id int PRIMARY KEY, a int); CREATE INDEX idx_t_id ON t (id);",
         "CREATE TABLE t (id int PRIMARY KEY, a int); CREATE INDEX idx_t_id ON t USING hash"
         " (id);", "t.idx_t_id"),
    Case("index.redundant_prefix_index", "postgres",
         "CREATE TABLE t (id int PRIMARY KEY, a int, b int);"
         "CREATE INDEX idx_t_a ON t (a); CREATE INDEX idx_t_a_b ON t (a, b);",
         "CREATE TABLE t (id int PRIMARY KEY, a int, b int);"
         "CREATE UNIQUE INDEX idx_t_a ON t (a); CREATE INDEX idx_t_a_b ON t (a, b);", "t.idx_t_a"),
    Case("index.redundant_prefix_index", "postgres",
         "CREATE TABLE t (id int PRIMARY KEY, a int, b int);"
         "CREATE INDEX idx_t_a ON t (a) INCLUDE (b); CREATE INDEX idx_t_a_b ON t (a, b);",
         "CREATE TABLE t (id int PRIMARY KEY, a int, b int);"
         "CREATE INDEX idx_t_b ON t (b); CREATE INDEX idx_t_a_b ON t (a, b);", "t.idx_t_a"),
    Case("schema.fk_type_mismatch", "postgres",
         PG_PARENT + "CREATE TABLE c (id int PRIMARY KEY, p_id integer REFERENCES p);",
         PG_PARENT + "CREATE TABLE c (id int PRIMARY KEY, p_id bigint REFERENCES p);", "c.p_id"),
    Case("schema.timestamp_without_time_zone", "postgres",
         "CREATE TABLE t (id int PRIMARY KEY, at timestamp);",
         "CREATE TABLE t (id int PRIMARY KEY, at timestamptz);", "t.at"),
    Case("schema.char_n", "postgres",
         "CREATE TABLE t (id int PRIMARY KEY, code char(10));",
         "CREATE TABLE t (id int PRIMARY KEY, flag char(1), code varchar(10));", "t.code"),
    Case("schema.money_type", "postgres",
         "CREATE TABLE t (id int PRIMARY KEY, price money);",
         "CREATE TABLE t (id int PRIMARY KEY, price numeric(19,2));", "t.price"),
    Case("schema.serial_column", "postgres",
         "CREATE TABLE t (id serial PRIMARY KEY);",
         "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);", "t.id"),
    # The pg_dump and hand-written form: a free-standing sequence as the default.
    Case("schema.serial_column", "postgres",
         "CREATE SEQUENCE t_id_seq; CREATE TABLE t (id int PRIMARY KEY DEFAULT nextval('t_id_seq'));",
         "CREATE SEQUENCE t_id_seq; CREATE TABLE t (id int PRIMARY KEY, n int);", "t.id"),
    Case("schema.json_not_jsonb", "postgres",
         "CREATE TABLE t (id int PRIMARY KEY, doc json);",
         "CREATE TABLE t (id int PRIMARY KEY, doc jsonb);", "t.doc"),
    Case("schema.varchar_limit", "postgres",
         "CREATE TABLE t (id int PRIMARY KEY, name varchar(100), note text);",
         "CREATE TABLE t (id int PRIMARY KEY, name text CHECK (char_length(name) <= 100));", "t(name)"),
    Case("schema.fk_no_on_delete", "postgres",
         PG_PARENT + "CREATE TABLE c (id int PRIMARY KEY, p_id bigint REFERENCES p);",
         PG_PARENT + "CREATE TABLE c (id int PRIMARY KEY, p_id bigint REFERENCES p ON DELETE CASCADE);", "c"),
    Case("schema.not_valid_constraint", "postgres",
         "CREATE TABLE t (id int PRIMARY KEY, a int); ALTER TABLE t ADD CONSTRAINT ck_t_a CHECK (a > 0) NOT"
         " VALID;",
         "CREATE TABLE t (id int PRIMARY KEY, a int); ALTER TABLE t ADD CONSTRAINT ck_t_a CHECK (a > 0);",
         "t.ck_t_a"),
    Case("schema.all_nullable_columns", "postgres",
         "CREATE TABLE t (a int, b text);", "CREATE TABLE t (a int NOT NULL, b text);", "t"),
    Case("schema.naming_table_case", "postgres",
         'CREATE TABLE "UserAccounts" (id int PRIMARY KEY);',
         "CREATE TABLE user_accounts (id int PRIMARY KEY);",
         "UserAccounts"),
    Case("schema.naming_table_plural", "postgres",
         "CREATE TABLE user_account (id int PRIMARY KEY);",
         "CREATE TABLE user_accounts (id int PRIMARY KEY); CREATE TABLE audit_log (id int PRIMARY KEY);", ""),
    Case("schema.naming_column_case", "postgres",
         'CREATE TABLE t (id int PRIMARY KEY, "UserId" int);',
         "CREATE TABLE t (id int PRIMARY KEY, user_id int);",
         "t"),
    Case("schema.naming_index", "postgres",
         "CREATE TABLE users (id int PRIMARY KEY, email text); CREATE INDEX users_by_email ON users (email);",
         "CREATE TABLE users (id int PRIMARY KEY, email text); CREATE INDEX idx_users_email ON users"
         " (email);",
         "users"),
    Case("schema.naming_constraint", "postgres",
         "CREATE TABLE users (id int CONSTRAINT pk_users PRIMARY KEY, email text,"
         " CONSTRAINT users_email_unique UNIQUE (email));",
         "CREATE TABLE users (id int CONSTRAINT pk_users PRIMARY KEY, email text,"
         " CONSTRAINT uq_users_email UNIQUE (email));", "users"),
]

MY_PARENT = "CREATE TABLE p (id BIGINT PRIMARY KEY, code VARCHAR(40) NOT NULL, UNIQUE KEY uq_p_code (code));"
MYSQL_CASES = [
    Case("schema.table_without_primary_key", "mysql",
         "CREATE TABLE t (a INT, b TEXT);", "CREATE TABLE t (a INT PRIMARY KEY, b TEXT);", "t"),
    Case("index.duplicate_index", "mysql",
         "CREATE TABLE t (id INT PRIMARY KEY, a INT, INDEX idx_t_a (a), INDEX idx_t_a_2 (a));",
         "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(20), INDEX idx_t_a (a), FULLTEXT INDEX idx_t_a_2"
         " (a));",
         "t.idx_t_a_2"),
    # InnoDB appends the primary key to every secondary index, so (a) and (a, id) hold the same entries.
    Case("index.duplicate_index", "mysql",
         "CREATE TABLE t (id INT PRIMARY KEY, a INT, INDEX idx_t_a (a), INDEX idx_t_a_id (a, id));",
         "CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT, INDEX idx_t_a (a), INDEX idx_t_b_id (b, id));",
         "t.idx_t_a_id"),
    Case("index.redundant_prefix_index", "mysql",
         "CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT, INDEX idx_t_a (a), INDEX idx_t_a_b (a, b));",
         "CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT, UNIQUE KEY uq_t_a (a), INDEX idx_t_a_b (a, b));",
         "t.idx_t_a"),
    Case("schema.fk_type_mismatch", "mysql",
         MY_PARENT + "CREATE TABLE c (id INT PRIMARY KEY, p_code VARCHAR(20),"
         " CONSTRAINT fk_c_p_code FOREIGN KEY (p_code) REFERENCES p (code));",
         MY_PARENT + "CREATE TABLE c (id INT PRIMARY KEY, p_code VARCHAR(40),"
         " CONSTRAINT fk_c_p_code FOREIGN KEY (p_code) REFERENCES p (code));", "c.p_code"),
    Case("schema.timestamp_without_time_zone", "mysql",
         "CREATE TABLE t (id INT PRIMARY KEY, at DATETIME);",
         "CREATE TABLE t (id INT PRIMARY KEY, at TIMESTAMP NULL);", "t.at"),
    Case("schema.char_n", "mysql",
         "CREATE TABLE t (id INT PRIMARY KEY, code CHAR(10));",
         "CREATE TABLE t (id INT PRIMARY KEY, flag CHAR(1), code VARCHAR(10));", "t.code"),
    Case("schema.all_nullable_columns", "mysql",
         "CREATE TABLE t (a INT, b TEXT);", "CREATE TABLE t (a INT NOT NULL, b TEXT);", "t"),
    Case("schema.naming_table_case", "mysql",
         "CREATE TABLE UserAccounts (id INT PRIMARY"
         " KEY);", "CREATE TABLE user_accounts (id INT PRIMARY KEY);",
         "UserAccounts"),
    Case("schema.naming_table_plural", "mysql",
         "CREATE TABLE user_account (id INT PRIMARY"
         " KEY);", "CREATE TABLE user_accounts (id INT PRIMARY KEY);",
         ""),
    Case("schema.naming_column_case", "mysql",
         "CREATE TABLE t (id INT PRIMARY KEY, UserId"
         " INT);", "CREATE TABLE t (id INT PRIMARY KEY, user_id INT);",
         "t"),
    Case("schema.naming_index", "mysql",
         "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(200), INDEX users_by_email (email));",
         "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(200), INDEX idx_users_email"
         " (email));", "users"),
    # MariaDB names an unnamed foreign key <table>_ibfk_<n>; the offline reader does the same.
    Case("schema.naming_constraint", "mysql",
         MY_PARENT + "CREATE TABLE c (id INT PRIMARY KEY, p_id BIGINT,"
         " FOREIGN KEY (p_id) REFERENCES p (id));",
         MY_PARENT + "CREATE TABLE c (id INT PRIMARY KEY, p_id BIGINT,"
         " CONSTRAINT fk_c_p_id FOREIGN KEY (p_id) REFERENCES p (id));", "c"),
]

SQ_PARENT = "CREATE TABLE p (id INTEGER PRIMARY KEY);"
SQLITE_CASES = [
    Case("schema.table_without_primary_key", "sqlite",
         "CREATE TABLE t (a INTEGER, b TEXT);", "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT);", "t"),
    Case("index.fk_without_index", "sqlite",
         SQ_PARENT + "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id));",
         SQ_PARENT + "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id));"
         "CREATE INDEX idx_c_p_id ON c (p_id);", "c(p_id)"),
    Case("index.duplicate_index", "sqlite",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, a INT); CREATE INDEX idx_t_a ON t (a);"
         "CREATE INDEX idx_t_a_2 ON t (a);",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, a INT); CREATE INDEX idx_t_a ON t (a);"
         "CREATE INDEX idx_t_a_2 ON t (a DESC);", "t.idx_t_a_2"),
    Case("index.redundant_prefix_index", "sqlite",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, a INT, b INT); CREATE INDEX idx_t_a ON t (a);"
         "CREATE INDEX idx_t_a_b ON t (a, b);",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, a INT, b INT); CREATE INDEX idx_t_a ON t (a) WHERE b > 0;"
         "CREATE INDEX idx_t_a_b ON t (a, b);", "t.idx_t_a"),
    Case("schema.fk_type_mismatch", "sqlite",
         SQ_PARENT + "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id TEXT REFERENCES p (id));",
         SQ_PARENT + "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INT REFERENCES p (id));", "c.p_id"),
    Case("schema.fk_no_on_delete", "sqlite",
         SQ_PARENT + "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id));",
         SQ_PARENT + "CREATE TABLE c (id INTEGER PRIMARY KEY,"
         " p_id INTEGER REFERENCES p (id) ON DELETE SET NULL);",
         "c"),
    Case("schema.all_nullable_columns", "sqlite",
         "CREATE TABLE t (a INTEGER, b TEXT);", "CREATE TABLE t (a INTEGER NOT NULL, b TEXT);", "t"),
    Case("schema.naming_table_case", "sqlite",
         "CREATE TABLE UserAccounts (id INTEGER PRIMARY"
         " KEY);", "CREATE TABLE user_accounts (id INTEGER PRIMARY KEY);",
         "UserAccounts"),
    Case("schema.naming_table_plural", "sqlite",
         "CREATE TABLE person (id INTEGER PRIMARY"
         " KEY);", "CREATE TABLE people (id INTEGER PRIMARY KEY);", ""),
    Case("schema.naming_column_case", "sqlite",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, UserId INT);",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, user_id INT);", "t"),
    Case("schema.naming_index", "sqlite",
         "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); CREATE INDEX users_by_email ON users"
         " (email);",
         "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); CREATE INDEX idx_users_email ON users"
         " (email);",
         "users"),
    Case("schema.naming_constraint", "sqlite",
         "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, CONSTRAINT users_email_unique UNIQUE"
         " (email));",
         "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, CONSTRAINT uq_users_email UNIQUE (email));",
         "users"),
]


def _assert_case(case: Case, bad: SchemaReport, good: SchemaReport) -> None:
    assert (case.rule_id, case.obj) in found(bad), sorted(found(bad))
    assert not by_rule(good, case.rule_id), [f.object for f in by_rule(good, case.rule_id)]


@pytest.fixture(scope="module")
def pg_cases_url(postgres_server_url: str) -> Iterator[str]:
    """One PostgreSQL database holding every case: schema c<i>_bad and c<i>_good per case."""
    name = f"dbsage_t_{uuid.uuid4().hex[:10]}"
    with admin_postgres(postgres_server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_url_for(postgres_server_url, name)
    try:
        script = []
        for i, case in enumerate(PG_CASES):
            for side, sql in (("bad", case.bad), ("good", case.good)):
                script.append(f"CREATE SCHEMA c{i}_{side}; SET search_path = c{i}_{side}; {sql}")
        run_postgres_script(url, "\n".join(script))
        yield url
    finally:
        with admin_postgres(postgres_server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@pytest.mark.parametrize("index", range(len(PG_CASES)), ids=[c.id for c in PG_CASES])
def test_postgres_rule_case(index: int, pg_cases_url: str) -> None:
    case = PG_CASES[index]
    _assert_case(case, live(pg_cases_url, f"c{index}_bad"), live(pg_cases_url, f"c{index}_good"))
    _assert_case(case, offline(case.bad, "postgres"), offline(case.good, "postgres"))


@pytest.mark.mysql
@pytest.mark.parametrize("case", MYSQL_CASES, ids=[c.id for c in MYSQL_CASES])
def test_mysql_rule_case(case: Case, mysql_db: Callable[[str], str]) -> None:
    _assert_case(case, live(mysql_db(case.bad)), live(mysql_db(case.good)))
    _assert_case(case, offline(case.bad, "mysql"), offline(case.good, "mysql"))


@pytest.mark.parametrize("case", SQLITE_CASES, ids=[c.id for c in SQLITE_CASES])
def test_sqlite_rule_case(case: Case, sqlite_db: Callable[[str], str]) -> None:
    _assert_case(case, live(sqlite_db(case.bad)), live(sqlite_db(case.good)))
    _assert_case(case, offline(case.bad, "sqlite"), offline(case.good, "sqlite"))


def test_every_rule_has_a_trigger_case() -> None:
    covered = {c.rule_id for c in PG_CASES + MYSQL_CASES + SQLITE_CASES}
    # These need live state (a failed build, scans, counters) and have their own tests below.
    covered |= {"index.invalid_index", "index.unused_index", "schema.integer_key_overflow"}
    assert covered == {r.rule_id for r in rules_for(TOOL)}


# ---------------------------------------------------------------- severities raised or lowered by evidence


@pytest.mark.postgres
def test_primary_key_severity_drops_with_a_unique_not_null_key(postgres_db: Callable[[str], str]) -> None:
    url = postgres_db(
        "CREATE TABLE t (code text NOT NULL, name text, CONSTRAINT uq_t_code UNIQUE (code));"
        "CREATE TABLE u (code text, CONSTRAINT uq_u_code UNIQUE (code));"
    )
    findings = {f.object: f for f in by_rule(live(url), "schema.table_without_primary_key")}
    assert findings["public.t"].severity is Severity.MEDIUM
    assert findings["public.t"].evidence["unique_not_null_key"] == ["code"]
    assert findings["public.t"].fix == "ALTER TABLE public.t ADD CONSTRAINT pk_t_code PRIMARY KEY (code);"
    assert findings["public.u"].severity is Severity.HIGH  # its unique column accepts NULL
    run_postgres_script(url, findings["public.t"].fix)
    assert [f.object for f in by_rule(live(url), "schema.table_without_primary_key")] == ["public.u"]


@pytest.mark.postgres
def test_partitions_are_judged_through_their_parent(postgres_db: Callable[[str], str]) -> None:
    url = postgres_db(
        "CREATE TABLE events (at date NOT NULL, body text) PARTITION BY RANGE (at);"
        "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
        "CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
    )
    objects = [f.object for f in by_rule(live(url), "schema.table_without_primary_key")]
    assert objects == ["public.events"]


@pytest.mark.postgres
def test_unindexed_fk_on_a_large_table_is_high(postgres_db: Callable[[str], str]) -> None:
    url = postgres_db(
        "CREATE TABLE p (id int PRIMARY KEY); INSERT INTO p VALUES (1);"
        "CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p);"
        "INSERT INTO c SELECT g, 1 FROM generate_series(1, 12000) g; ANALYZE c;"
    )
    [finding] = by_rule(live(url), "index.fk_without_index")
    assert finding.severity is Severity.HIGH
    assert finding.evidence["row_estimate"] == 12000
    # The threshold is configurable: raised above the row count, the finding is back to medium.
    options = RuleOptions(thresholds={"index.fk_without_index.high_rows": 50_000})
    report = inspect_schema(dsn=url, options=options, detail="full")
    assert by_rule(report, "index.fk_without_index")[0].severity is Severity.MEDIUM


# ---------------------------------------------------------------- live-only rules


def _pg_exec(url: str, sql: str) -> None:
    with admin_postgres(url) as conn:
        conn.execute(sql)


@pytest.mark.postgres
def test_invalid_index_is_reported_and_its_fix_rebuilds_it(postgres_db: Callable[[str], str]) -> None:
    url = postgres_db("CREATE TABLE t (id int PRIMARY KEY, a int); INSERT INTO t VALUES (1, 7), (2, 7);")
    with pytest.raises(Exception, match="could not create unique index"):
        _pg_exec(url, "CREATE UNIQUE INDEX CONCURRENTLY idx_t_a ON t (a)")
    [finding] = by_rule(live(url), "index.invalid_index")
    assert finding.object == "public.t.idx_t_a"
    assert finding.fix == "REINDEX INDEX CONCURRENTLY public.idx_t_a;"
    _pg_exec(url, "DELETE FROM t WHERE id = 2")
    _pg_exec(url, finding.fix)
    assert not by_rule(live(url), "index.invalid_index")


def _wait_for_scans(url: str, index: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with admin_postgres(url) as conn:
            query = "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = %s"
            row = conn.execute(query, (index,)).fetchone()
        if row and row[0] > 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"statistics never showed a scan of {index}")


@pytest.mark.postgres
def test_unused_index_on_a_table_with_rows(postgres_db: Callable[[str], str]) -> None:
    url = postgres_db(
        "CREATE TABLE t (id int PRIMARY KEY, a int, b int, c int);"
        "INSERT INTO t SELECT g, g, g, g FROM generate_series(1, 5000) g; ANALYZE t;"
        "CREATE INDEX idx_t_a ON t (a); CREATE INDEX idx_t_b ON t (b); CREATE UNIQUE INDEX idx_t_c ON t (c);"
        "CREATE TABLE small (id int PRIMARY KEY, a int); CREATE INDEX idx_small_a ON small (a);"
    )
    _pg_exec(url, "SET enable_seqscan = off; SELECT count(*) FROM t WHERE a = 5")
    _wait_for_scans(url, "idx_t_a")
    report = live(url)
    [finding] = by_rule(report, "index.unused_index")
    assert finding.object == "public.t.idx_t_b"  # idx_t_a was scanned, idx_t_c is unique, small is small
    assert finding.evidence["scans"] == 0 and finding.evidence["row_estimate"] == 5000
    assert "stats_reset" in finding.evidence
    _pg_exec(url, finding.fix or "")
    assert not by_rule(live(url), "index.unused_index")


@pytest.mark.postgres
def test_sequence_overflow_on_postgres(postgres_db: Callable[[str], str]) -> None:
    url = postgres_db(
        "CREATE TABLE a (id serial PRIMARY KEY); SELECT setval('a_id_seq', 2000000000);"
        "CREATE TABLE b (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);"
        "SELECT setval(pg_get_serial_sequence('b', 'id'), 2140000000);"
        "CREATE TABLE c (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);"
        "SELECT setval(pg_get_serial_sequence('c', 'id'), 2140000000);"
        "CREATE TABLE d (id smallserial PRIMARY KEY); SELECT setval('d_id_seq', 20000);"
    )
    findings = {f.object: f for f in by_rule(live(url), "schema.integer_key_overflow")}
    assert set(findings) == {"public.a.id", "public.b.id"}  # c is bigint; d is at 61%
    assert findings["public.a.id"].severity is Severity.HIGH
    assert findings["public.a.id"].evidence["limit"] == 2147483647
    assert findings["public.b.id"].severity is Severity.BLOCKER
    offline_report = offline("CREATE TABLE a (id serial PRIMARY KEY);", "postgres")
    assert not by_rule(offline_report, "schema.integer_key_overflow")


@pytest.mark.mysql
def test_auto_increment_overflow_on_mariadb(mysql_db: Callable[[str], str]) -> None:
    url = mysql_db(
        "CREATE TABLE a (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY) AUTO_INCREMENT=2000000000;"
        "CREATE TABLE b (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY) AUTO_INCREMENT=2000000000;"
        "CREATE TABLE c (id SMALLINT NOT NULL AUTO_INCREMENT PRIMARY KEY) AUTO_INCREMENT=32700;"
    )
    report = live(url)
    schema = schema_of(report)
    findings = {local(f.object, schema): f for f in by_rule(report, "schema.integer_key_overflow")}
    assert set(findings) == {"a.id", "c.id"}  # unsigned doubles b's range: 47%
    assert findings["a.id"].severity is Severity.HIGH
    assert findings["c.id"].severity is Severity.BLOCKER


def test_autoincrement_overflow_on_sqlite(sqlite_db: Callable[[str], str]) -> None:
    url = sqlite_db(
        "CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);"
        "INSERT INTO a (id, v) VALUES (9200000000000000000, 'x');"
        "CREATE TABLE b (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT); INSERT INTO b (v) VALUES ('x');"
    )
    [finding] = by_rule(live(url), "schema.integer_key_overflow")
    assert finding.object == "main.a.id"
    assert finding.severity is Severity.BLOCKER


# ---------------------------------------------------------------- planted problems: findings and fixes


def planted(dialect: str) -> str:
    return (FIXTURES / f"planted_{dialect}.sql").read_text(encoding="utf-8")


PLANTED_COMMON: Found = {
    ("schema.table_without_primary_key", "audit_events"),
    ("schema.all_nullable_columns", "audit_events"),
    ("index.duplicate_index", "products.idx_products_sku_again"),
    ("index.redundant_prefix_index", "products.idx_products_category"),
    ("schema.naming_table_case", "OrderNote"),
    ("schema.naming_column_case", "OrderNote"),
    ("schema.naming_index", "OrderNote"),
}
PLANTED_EXPECTED: dict[str, Found] = {
    "postgres": PLANTED_COMMON | {
        ("index.fk_without_index", "orders(customer_id)"),
        ("schema.fk_type_mismatch", "orders.customer_id"),
        ("schema.serial_column", "orders.id"),
        ("schema.char_n", "orders.status"),
        ("schema.money_type", "orders.total"),
        ("schema.json_not_jsonb", "orders.details"),
        ("schema.timestamp_without_time_zone", "orders.placed_at"),
        ("schema.varchar_limit", "customers(email)"),
        ("schema.fk_no_on_delete", "orders"),
        ("schema.not_valid_constraint", "products.ck_products_sku"),
        ("schema.naming_constraint", "OrderNote"),
    },
    "mysql": PLANTED_COMMON | {
        ("schema.fk_type_mismatch", "orders.customer_code"),
        ("schema.char_n", "orders.status"),
        ("schema.timestamp_without_time_zone", "orders.placed_at"),
        ("schema.naming_constraint", "OrderNote"),
    },
    "sqlite": PLANTED_COMMON | {
        ("index.fk_without_index", "orders(customer_id)"),
        ("schema.fk_type_mismatch", "orders.customer_id"),
        ("schema.fk_no_on_delete", "orders"),
    },
}


# Rules whose planted finding comes with SQL; the others need a decision or a table rebuild.
PLANTED_FIXABLE: dict[str, set[str]] = {
    "postgres": {
        rule for rule, _ in PLANTED_EXPECTED["postgres"]
        if rule not in {
            "schema.timestamp_without_time_zone", "schema.all_nullable_columns", "schema.naming_table_case",
            "schema.naming_column_case", "schema.fk_no_on_delete",
        }
    },
    "mysql": {
        "schema.table_without_primary_key", "index.duplicate_index", "index.redundant_prefix_index",
        "schema.naming_index",
    },
    "sqlite": {"index.fk_without_index", "index.duplicate_index", "index.redundant_prefix_index"},
}


def _sqlite_path(url: str) -> str:
    return urlsplit(url).path


def _apply(dialect: str, url: str, sql: str) -> None:
    if dialect == "postgres":
        run_postgres_script(url, sql)
    elif dialect == "mysql":
        run_mysql_script(url, sql)
    else:
        conn = sqlite3.connect(_sqlite_path(url))
        try:
            conn.executescript(sql)
        finally:
            conn.close()


def _assert_parses(dialect: str, sql: str) -> None:
    if dialect == "postgres":
        assert pglast.parse_sql(sql)
    else:
        parsed = sqlglot.parse(sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
        assert parsed and not any(isinstance(p, sqlglot.exp.Command) for p in parsed), sql


@pytest.fixture
def planted_url(
    request: pytest.FixtureRequest,
    postgres_db: Callable[[str], str],
    mysql_db: Callable[[str], str],
    sqlite_db: Callable[[str], str],
) -> tuple[str, str]:
    dialect: str = request.param
    factory = {"postgres": postgres_db, "mysql": mysql_db, "sqlite": sqlite_db}[dialect]
    return dialect, factory(planted(dialect))


@pytest.mark.parametrize("planted_url", ["postgres", "mysql", "sqlite"], indirect=True)
def test_planted_schema_findings_and_their_fixes(planted_url: tuple[str, str]) -> None:
    dialect, url = planted_url
    before = live(url)
    assert found(before) == PLANTED_EXPECTED[dialect]
    fixable = [f for f in before.findings if f.fix is not None]
    assert {f.rule_id for f in fixable} == PLANTED_FIXABLE[dialect]
    schema = schema_of(before)
    for finding in fixable:
        assert finding.fix is not None
        _assert_parses(dialect, finding.fix)
        _apply(dialect, url, finding.fix)
        after = found(live(url))
        assert (finding.rule_id, local(finding.object, schema)) not in after, finding.fix
        # A fix never creates a problem that was not there before.
        assert after <= found(before), (finding.fix, after - found(before))


def test_postgres_planted_schema_offline_matches_live(postgres_db: Callable[[str], str]) -> None:
    sql = planted("postgres")
    live_found = {f for f in found(live(postgres_db(sql))) if f[0] not in LIVE_ONLY}
    assert found(offline(sql, "postgres")) == live_found


def test_planted_schemas_offline_report_the_same_problems() -> None:
    for dialect in ("mysql", "sqlite"):  # postgres: compared with a live server above
        report = offline(planted(dialect), dialect)
        assert found(report) == PLANTED_EXPECTED[dialect], dialect


# ---------------------------------------------------------------- pure rule logic on hand-built catalogs


def _ix(name: str, *cols: str, **kw: object) -> Index:
    return Index(name=name, keys=[IndexKey(column=c) for c in cols], **kw)


def test_redundant_indexes_keeps_the_constraint_and_the_longest_cover() -> None:
    table = Table(
        schema_name="s", name="t",
        indexes=[
            _ix("t_pkey", "id", primary=True, unique=True, constraint="t_pkey"),
            _ix("idx_t_id", "id"),
            _ix("idx_t_a", "a"),
            _ix("idx_t_a_b", "a", "b"),
            _ix("idx_t_a_b_c", "a", "b", "c"),
            _ix("idx_t_a_hash", "a", method="hash"),
            _ix("idx_t_b_partial", "b", predicate="b > 0"),
            _ix("idx_t_b", "b"),
        ],
    )
    result = {(r.index.name, r.covered_by.name, r.kind) for r in redundant_indexes(table)}
    assert result == {
        ("idx_t_id", "t_pkey", "duplicate"),
        ("idx_t_a", "idx_t_a_b_c", "prefix"),
        ("idx_t_a_b", "idx_t_a_b_c", "prefix"),
    }


def test_innodb_secondary_that_repeats_the_primary_key_is_a_duplicate() -> None:
    table = Table(
        schema_name="db", name="t", engine="InnoDB", primary_key=PrimaryKey(columns=["id"]),
        indexes=[_ix("PRIMARY", "id", primary=True, unique=True), _ix("a", "a"), _ix("a_id", "a", "id")],
    )
    [item] = redundant_indexes(table)
    assert (item.index.name, item.covered_by.name, item.kind) == ("a_id", "a", "duplicate")
    assert item.innodb_primary_key_suffix
    # Without InnoDB the longer index holds more than the shorter one: the shorter one is the prefix.
    [plain] = redundant_indexes(table.model_copy(update={"engine": None}))
    assert (plain.index.name, plain.kind) == ("a", "prefix")


def test_fk_cover_needs_the_key_columns_leading_in_any_order() -> None:
    fk = ForeignKey(columns=["a", "b"], ref_schema="s", ref_table="p", ref_columns=["x", "y"])
    table = Table(schema_name="s", name="t", foreign_keys=[fk], indexes=[_ix("i1", "a", "c", "b")])
    assert fk_covering_index(table, fk) is None
    table.indexes.append(_ix("i2", "b", "a", "c"))
    assert fk_covering_index(table, fk) is not None
    invalid = table.model_copy(update={"indexes": [_ix("i3", "a", "b", valid=False)]})
    assert fk_covering_index(invalid, fk) is None


def test_unused_index_on_mysql_catalog_uses_scans_when_the_source_has_them() -> None:
    columns = [Column(name="id", position=1, data_type="int", base_type="integer", nullable=False),
               Column(name="a", position=2, data_type="int", base_type="integer")]
    table = Table(
        schema_name="db", name="t", engine="InnoDB", columns=columns, primary_key=PrimaryKey(columns=["id"]),
        row_estimate=50_000,
        indexes=[_ix("PRIMARY", "id", primary=True, unique=True, scans=0), _ix("idx_t_a", "a", scans=0)],
    )
    catalog = Catalog(dialect=Dialect.MARIADB, source="live", tables=[table], stats_reset="server start")
    [finding] = [f for f in analyze_catalog(catalog) if f.rule_id == "index.unused_index"]
    assert finding.object == "db.t.idx_t_a"
    assert finding.fix == "ALTER TABLE db.t DROP INDEX idx_t_a, ALGORITHM=INPLACE, LOCK=NONE;"
    offline_catalog = catalog.model_copy(update={"source": "ddl"})
    assert not [f for f in analyze_catalog(offline_catalog) if f.rule_id == "index.unused_index"]


def test_overflow_thresholds_and_free_standing_sequences() -> None:
    seq = Sequence(schema_name="s", name="ticket_no", data_type="integer", last_value=1_700_000_000,
                   max_value=2_147_483_647)
    catalog = Catalog(dialect=Dialect.POSTGRES, source="live", sequences=[seq])
    [finding] = [f for f in analyze_catalog(catalog) if f.rule_id == "schema.integer_key_overflow"]
    assert (finding.object, finding.severity) == ("s.ticket_no", Severity.MEDIUM)
    strict = RuleOptions(thresholds={"schema.integer_key_overflow.medium_ratio": 0.9})
    assert not [f for f in analyze_catalog(catalog, strict) if f.rule_id == "schema.integer_key_overflow"]
    # The sequence's own MAXVALUE is the limit when it is lower than the type's.
    capped = seq.model_copy(update={"last_value": 990, "max_value": 1000})
    ctx_catalog = catalog.model_copy(update={"sequences": [capped]})
    [capped_finding] = [f for f in analyze_catalog(ctx_catalog) if f.rule_id == "schema.integer_key_overflow"]
    assert capped_finding.severity is Severity.BLOCKER


def test_disabled_rules_do_not_run() -> None:
    catalog = Catalog(dialect=Dialect.SQLITE, source="ddl", tables=[Table(schema_name="main", name="t")])
    assert any(f.rule_id == "schema.table_without_primary_key" for f in analyze_catalog(catalog))
    options = RuleOptions(disabled=frozenset({"schema.table_without_primary_key"}))
    assert not any(f.rule_id == "schema.table_without_primary_key" for f in analyze_catalog(catalog, options))


@pytest.mark.parametrize(
    ("name", "plural"),
    [("users", True), ("order_items", True), ("audit_log", True), ("media", True), ("people", True),
     ("user", False), ("order_item", False), ("address", False), ("status", False), ("analysis", False)],
)
def test_plural_heuristic(name: str, plural: bool) -> None:
    assert looks_plural(name) is plural


def test_fixture_files_exist_for_every_engine() -> None:
    for dialect in ("postgres", "mysql", "sqlite"):
        text = Path(FIXTURES / f"planted_{dialect}.sql").read_text(encoding="utf-8")
        assert text.count("CREATE TABLE") >= 5


def test_rules_scale_to_a_two_thousand_table_catalog() -> None:
    """Every rule is linear in the catalog: 2,000 tables with a finding per rule each stay fast."""
    tables = []
    for i in range(2000):
        columns = [
            Column(name="id", position=1, data_type="integer", base_type="integer", nullable=False),
            Column(name="parent_id", position=2, data_type="integer", base_type="integer"),
            Column(name="Name", position=3, data_type="varchar(100)", base_type="varchar", length=100),
        ]
        fk = ForeignKey(name=f"t{i}_parent_id_fkey", columns=["parent_id"], ref_schema="public",
                        ref_table=f"t{max(i - 1, 0)}", ref_columns=["id"])
        tables.append(Table(
            schema_name="public", name=f"t{i}", columns=columns, foreign_keys=[fk],
            primary_key=PrimaryKey(name=f"t{i}_pkey", columns=["id"]),
            indexes=[
                _ix(f"t{i}_pkey", "id", primary=True, unique=True, constraint=f"t{i}_pkey"),
                _ix(f"x{i}", "Name"),
            ],
        ))
    catalog = Catalog(dialect=Dialect.POSTGRES, source="live", tables=tables)
    started = time.monotonic()
    findings = analyze_catalog(catalog)
    elapsed = time.monotonic() - started
    assert len(findings) >= 2000 * 5
    assert elapsed < 20, f"{elapsed:.1f}s: some rule is no longer linear in the number of tables"


def test_fk_type_mismatch_widens_the_key_instead_of_narrowing_the_reference() -> None:
    ddl = (
        "CREATE TABLE orders (id integer PRIMARY KEY);"
        "CREATE TABLE invoices (id bigint PRIMARY KEY, order_id bigint REFERENCES orders);"
    )
    (finding,) = [
        f for f in inspect_schema(ddl=ddl, dialect="postgres").findings if f.rule_id == "schema.fk_type_mismatch"
    ]
    assert finding.object == "public.invoices.order_id"
    assert finding.fix is None
    assert "Widen public.orders.id" in finding.message

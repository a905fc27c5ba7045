"""explain_query against real PostgreSQL, MariaDB and SQLite databases, and on SQL text alone."""

from __future__ import annotations

import sqlite3

import psycopg
import pymysql
import pytest

from dbsage.tools.errors import GuardRefused, InputError, QueryFailed
from dbsage.tools.explain import ExplainReport, explain_query
from dbsage.tools.plans import read_mysql
from dbsage.tools.sources.urls import parse_url
from tests.conftest import MysqlFactory, PostgresFactory, SqliteFactory

FULL_SCAN = "query.full_scan_large_table"

PG_BIG = """
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE TABLE events (id bigint PRIMARY KEY, account_id int NOT NULL, kind text NOT NULL, payload text);
INSERT INTO events SELECT g, g % 5000, 'k' || (g % 7), md5(g::text) || md5((g * 7)::text)
  FROM generate_series(1, 200000) g;
ALTER TABLE events SET (autovacuum_enabled = false);
ANALYZE events;
"""
MARIA_BIG = """
CREATE TABLE events (id int PRIMARY KEY, account_id int NOT NULL, kind varchar(10) NOT NULL, payload varchar(80));
INSERT INTO events SELECT seq, seq % 5000, concat('k', seq % 7), md5(seq) FROM seq_1_to_200000;
ANALYZE TABLE events;
"""
SQLITE_BIG = """
CREATE TABLE events (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, kind TEXT NOT NULL, payload TEXT);
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 200000)
INSERT INTO events SELECT n, n % 5000, 'k' || (n % 7), hex(randomblob(8)) FROM g;
"""
SLOW = "SELECT id, kind FROM events WHERE account_id = 42"


def rules(report: ExplainReport) -> set[str]:
    return {f.rule_id for f in report.findings}


def finding(report: ExplainReport, rule_id: str) -> object:
    return next(f for f in report.findings if f.rule_id == rule_id)


def pg_exec(url: str, sql: str) -> None:
    u = parse_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.user, dbname=u.database, autocommit=True) as conn:
        conn.execute(sql)


# --- PostgreSQL -----------------------------------------------------------------------------------


def test_postgres_seq_scan_fix_misestimate_spill_and_hypopg(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PG_BIG)
    report = explain_query(dsn=url, sql=SLOW)
    assert report.plan is not None and report.statement is not None
    assert report.statement.startswith("EXPLAIN (format json")
    scan = next(n for n in report.plan.walk() if n.relation == "events")
    assert scan.kind == "Seq Scan" and scan.est_rows is not None and scan.est_total_cost is not None
    assert report.plan.share is not None
    f = finding(report, FULL_SCAN)
    assert f.fix is not None and "(account_id)" in f.fix and f.evidence["table_rows"] == 200000  # type: ignore[attr-defined]

    # What-if: the index the finding names, hypothetically, lowers the estimated cost.
    hypo = f.fix.replace("CONCURRENTLY IF NOT EXISTS ", "")  # type: ignore[attr-defined]
    with_hypo = explain_query(dsn=url, sql=SLOW, hypothetical_indexes=[hypo])
    assert with_hypo.cost_before is not None and with_hypo.cost_after is not None
    assert with_hypo.cost_after < with_hypo.cost_before / 10
    assert with_hypo.plan_with_hypothetical is not None

    pg_exec(url, f.fix)  # type: ignore[attr-defined]
    pg_exec(url, "ANALYZE events")
    after = explain_query(dsn=url, sql=SLOW, analyze=True)
    assert FULL_SCAN not in rules(after)
    assert after.analyzed and after.plan is not None and after.plan.actual_rows is not None

    # Stale statistics: 60,000 new rows with an account the statistics have never seen.
    pg_exec(url, "INSERT INTO events SELECT g, 999999, 'new', NULL FROM generate_series(200001, 260000) g")
    stale = explain_query(dsn=url, sql="SELECT count(*) FROM events WHERE account_id = 999999", analyze=True)
    miss = finding(stale, "query.row_misestimate")
    assert miss.evidence["ratio"] >= 1000 and miss.fix == "ANALYZE public.events;"  # type: ignore[attr-defined]
    pg_exec(url, "ANALYZE events")
    fresh = explain_query(dsn=url, sql="SELECT count(*) FROM events WHERE account_id = 999999", analyze=True)
    assert "query.row_misestimate" not in rules(fresh)

    # A sort of ~16 MB of text exceeds the default 4 MB work_mem.
    spill = explain_query(dsn=url, sql="SELECT payload FROM events ORDER BY payload", analyze=True)
    sort = finding(spill, "query.spill_to_disk")
    assert "external" in str(sort.evidence["sort_method"])  # type: ignore[attr-defined]
    indexed = explain_query(dsn=url, sql="SELECT id FROM events ORDER BY id LIMIT 10", analyze=True)
    assert "query.spill_to_disk" not in rules(indexed)


def test_postgres_params_writes_and_bad_input(postgres_db: PostgresFactory) -> None:
    url = postgres_db("CREATE TABLE t (id int PRIMARY KEY, name text);")
    report = explain_query(dsn=url, sql="SELECT name FROM t WHERE id = $1 AND name = $2", params=[5, "o'neil"])
    assert report.statement is not None and "'o''neil'" in report.statement
    with pytest.raises(GuardRefused) as refused:
        explain_query(dsn=url, sql="DELETE FROM t WHERE id = 1", analyze=True)
    assert refused.value.reason == "explain_analyze_write"
    done = explain_query(dsn=url, sql="INSERT INTO t VALUES (1, 'a')", analyze=True, allow_write_analyze=True)
    assert done.analyzed and done.plan is not None and done.plan.kind == "ModifyTable"
    u = parse_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.user, dbname=u.database) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)  # the analyzed INSERT was rolled back
    with pytest.raises(QueryFailed, match="missing_table"):
        explain_query(dsn=url, sql="SELECT * FROM missing_table")
    with pytest.raises(InputError, match="does not parse"):
        explain_query(dsn=url, sql="SELEC 1")
    with pytest.raises(InputError, match="not Create"):
        explain_query(dsn=url, sql="CREATE TABLE x (a int)")
    with pytest.raises(InputError, match="without EXPLAIN"):
        explain_query(dsn=url, sql="EXPLAIN SELECT 1")
    with pytest.raises(InputError, match="empty"):
        explain_query(dsn=url, sql="  ")
    with pytest.raises(InputError, match="CREATE INDEX"):
        explain_query(dsn=url, sql="SELECT 1", hypothetical_indexes=["DROP TABLE t"])
    no_hypo = explain_query(dsn=url, sql="SELECT * FROM t WHERE name = 'a'", hypothetical_indexes=[
        "CREATE INDEX ON t (name)"])
    assert any("hypopg" in gap for gap in no_hypo.could_not_check)


# --- MariaDB --------------------------------------------------------------------------------------


def test_mariadb_full_scan_fix_and_analyze(mysql_db: MysqlFactory) -> None:
    url = mysql_db(MARIA_BIG)
    report = explain_query(dsn=url, sql=SLOW + " ORDER BY kind")
    scan = next(n for n in report.plan.walk() if n.relation == "events")  # type: ignore[union-attr]
    assert scan.kind == "Full Table Scan"
    assert {FULL_SCAN, "query.sort_without_index"} <= rules(report)
    measured = explain_query(dsn=url, sql=SLOW, analyze=True)
    assert measured.analyzed and "query.rows_removed_by_filter" in rules(measured)
    # Without column statistics MariaDB expects the filter to keep every row: a x5000 misestimate.
    miss = finding(measured, "query.row_misestimate")
    assert miss.evidence["ratio"] >= 1000  # type: ignore[attr-defined]
    assert miss.fix is not None and miss.fix.endswith(".events PERSISTENT FOR ALL;")  # type: ignore[attr-defined]
    f = finding(measured, FULL_SCAN)
    assert f.fix is not None and "ADD INDEX" in f.fix  # type: ignore[attr-defined]
    u = parse_url(url)
    conn = pymysql.connect(host=u.host, port=u.port or 3306, user=u.user or "root", database=u.database)
    try:
        with conn.cursor() as cur:
            cur.execute(miss.fix)  # type: ignore[attr-defined]
            cur.fetchall()
            assert "query.row_misestimate" not in rules(explain_query(dsn=url, sql=SLOW, analyze=True))
            cur.execute(f.fix)  # type: ignore[attr-defined]
    finally:
        conn.close()
    assert FULL_SCAN not in rules(explain_query(dsn=url, sql=SLOW, analyze=True))
    with pytest.raises(GuardRefused):
        explain_query(dsn=url, sql="UPDATE events SET kind = 'x' WHERE id = 1", analyze=True)
    plain = explain_query(dsn=url, sql="UPDATE events SET kind = 'x' WHERE id = 1")
    assert plain.plan is not None
    ran = explain_query(dsn=url, sql="UPDATE events SET kind = 'x' WHERE id < 100", analyze=True,
                        allow_write_analyze=True)
    assert ran.analyzed and ran.statement is not None and ran.statement.startswith("ANALYZE FORMAT=JSON UPDATE")
    conn = pymysql.connect(host=u.host, port=u.port or 3306, user=u.user or "root", database=u.database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM events WHERE kind = 'x'")
            assert cur.fetchone() == (0,)  # the analyzed UPDATE was rolled back
    finally:
        conn.close()
    with pytest.raises(QueryFailed, match="nope"):
        explain_query(dsn=url, sql="SELECT * FROM nope")


# --- SQLite ---------------------------------------------------------------------------------------


def test_sqlite_scan_fix_and_temp_btree(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(SQLITE_BIG)
    report = explain_query(dsn=url, sql=SLOW + " ORDER BY kind")
    assert report.plan is not None
    kinds = [n.kind for n in report.plan.walk()]
    assert "Table Scan" in kinds and "Temp B-Tree" in kinds
    f = finding(report, FULL_SCAN)
    assert f.fix == "CREATE INDEX IF NOT EXISTS idx_events_account_id ON events (account_id);"  # type: ignore[attr-defined]
    assert "query.sort_without_index" in rules(report)
    conn = sqlite3.connect(parse_url(url).path)  # type: ignore[arg-type]
    conn.execute(f.fix)  # type: ignore[attr-defined]
    conn.commit()
    conn.close()
    after = explain_query(dsn=url, sql=SLOW)
    assert FULL_SCAN not in rules(after)
    assert any(n.index == "idx_events_account_id" for n in after.plan.walk())  # type: ignore[union-attr]
    with pytest.raises(QueryFailed, match="nope"):
        explain_query(dsn=url, sql="SELECT * FROM nope")


def test_sqlite_plan_reader_reads_both_wordings() -> None:
    from dbsage.tools.plans import read_sqlite

    old = read_sqlite([(2, 0, 0, "SCAN TABLE t AS x"), (5, 0, 0, "SEARCH TABLE u USING INDEX iu (a=?)")])
    new = read_sqlite([(2, 0, 0, "SCAN t"), (5, 0, 0, "SEARCH u USING COVERING INDEX iu (a=?)"),
                       (9, 0, 0, "USE TEMP B-TREE FOR ORDER BY")])
    assert [(n.kind, n.relation, n.alias) for n in old.children] == [
        ("Table Scan", "t", "x"), ("Index Search", "u", None)]
    assert [n.kind for n in new.children] == ["Table Scan", "Covering Index Search", "Temp B-Tree"]
    assert new.children[1].index == "iu" and new.children[1].condition == "a=?"


# A MySQL 8.0 EXPLAIN FORMAT=JSON document, recorded by hand from the format MySQL's manual documents
# (there is no MySQL server on this machine): a full scan feeding a filesort.
MYSQL8_RECORDED = {
    "query_block": {
        "select_id": 1,
        "cost_info": {"query_cost": "20306.45"},
        "ordering_operation": {
            "using_filesort": True,
            "table": {
                "table_name": "events",
                "access_type": "ALL",
                "rows_examined_per_scan": 199600,
                "rows_produced_per_join": 19960,
                "filtered": "10.00",
                "cost_info": {"read_cost": "18310.45", "eval_cost": "1996.00", "prefix_cost": "20306.45",
                              "data_read_per_join": "2M"},
                "used_columns": ["id", "account_id", "kind"],
                "attached_condition": "(`shop`.`events`.`account_id` = 42)",
            },
        },
    }
}


def test_mysql8_json_reader_on_a_recorded_sample() -> None:
    root = read_mysql(MYSQL8_RECORDED)
    assert root.est_total_cost == pytest.approx(20306.45)
    (sort,) = root.children
    assert sort.kind == "Sort" and sort.using_filesort
    (table,) = sort.children
    assert (table.kind, table.relation, table.est_rows, table.filtered_pct) == (
        "Full Table Scan", "events", 199600, 10.0)


# --- no database ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_static_findings_without_a_database(dialect: str) -> None:
    sql = (
        "SELECT * FROM orders o, customers c WHERE lower(c.email) = 'a@b.c' AND o.note LIKE '%x' "
        "AND o.customer_id NOT IN (SELECT customer_id FROM blocked) "
        "AND (o.status = 'new' OR o.total > 10) "
        "AND o.total > (SELECT avg(i.total) FROM orders i WHERE i.customer_id = o.customer_id) "
        "LIMIT 20 OFFSET 40000"
    )
    report = explain_query(sql=sql, dialect=dialect)
    assert report.plan is None
    assert rules(report) == {
        "query.select_star", "query.cartesian_join", "query.function_on_column", "query.leading_wildcard_like",
        "query.not_in_subquery", "query.or_across_columns", "query.correlated_subquery", "query.offset_pagination",
    }
    clean = explain_query(
        sql="SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.status = 'new' LIMIT 20",
        dialect=dialect,
    )
    assert clean.findings == []


def test_static_bad_input() -> None:
    with pytest.raises(InputError, match="does not parse"):
        explain_query(sql="SELECT FROM WHERE (", dialect="mysql")
    with pytest.raises(InputError, match="not CREATE"):
        explain_query(sql="CREATE TABLE t (a int)", dialect="sqlite")
    with pytest.raises(InputError, match="dialect"):
        explain_query(sql="SELECT 1")


# --- MCP and CLI ----------------------------------------------------------------------------------


def _mcp_call(config: object, arguments: dict[str, object]) -> object:
    from tests.test_mcp import with_client

    async def use(client: object) -> object:
        return await client.call_tool("explain_query", arguments)  # type: ignore[attr-defined]

    return with_client(config, use)  # type: ignore[arg-type]


def test_mcp_explain_query_on_three_engines(
    postgres_db: PostgresFactory, mysql_db: MysqlFactory, sqlite_db: SqliteFactory
) -> None:
    from mcp_types import CallToolResult

    from tests.test_mcp import config_for, text_of, with_client

    config = config_for(
        pg=postgres_db(PG_BIG.replace("200000", "20000")),
        maria=mysql_db(MARIA_BIG.replace("200000", "20000")),
        lite=sqlite_db(SQLITE_BIG.replace("200000", "20000")),
    )
    tools = with_client(config, lambda c: c.list_tools()).tools
    tool = next(t for t in tools if t.name == "explain_query")
    assert tool.output_schema is not None and {"plan", "findings"} <= set(tool.output_schema["properties"])
    assert tool.input_schema["required"] == ["sql"]
    assert tool.annotations is not None and tool.annotations.read_only_hint and not tool.annotations.destructive_hint
    for name in ("pg", "maria", "lite"):
        result = _mcp_call(config, {"sql": SLOW, "database": name, "analyze": name != "lite"})
        assert isinstance(result, CallToolResult) and not result.is_error, text_of(result)  # type: ignore[arg-type]
        report = ExplainReport.model_validate(result.structured_content)
        assert report.plan is not None and FULL_SCAN in rules(report), name
        assert "Heaviest node" in text_of(result) or name == "lite"
    pg = _mcp_call(config, {"sql": "SELECT kind FROM events WHERE id = $1", "database": "pg", "params": [3]})
    assert isinstance(pg, CallToolResult) and not pg.is_error
    static = _mcp_call(config, {"sql": "SELECT * FROM t WHERE a LIKE '%x'", "dialect": "sqlite"})
    assert isinstance(static, CallToolResult)
    assert {"query.select_star", "query.leading_wildcard_like"} <= rules(
        ExplainReport.model_validate(static.structured_content))
    bad = _mcp_call(config, {"sql": "DROP TABLE events", "database": "pg"})
    assert isinstance(bad, CallToolResult) and bad.is_error
    assert '"error": "invalid_input"' in text_of(bad)
    refused = _mcp_call(config, {"sql": "DELETE FROM events", "database": "maria", "analyze": True})
    assert isinstance(refused, CallToolResult) and refused.is_error and "explain_analyze_write" in text_of(refused)


def test_cli_exit_codes_and_formats(sqlite_db: SqliteFactory, tmp_path: object) -> None:
    import json

    from tests.test_cli import run_cli

    url = sqlite_db(SQLITE_BIG.replace("200000", "20000"))
    code, out, err = run_cli("explain-query", "--dsn", url, "--sql", SLOW)
    assert code == 0, err
    assert "-> Table Scan on events" in out and FULL_SCAN in out
    code, out, _ = run_cli("explain-query", "--dsn", url, "--sql", SLOW, "--format", "json", "--fail-on", "medium")
    assert code == 1 and json.loads(out)["plan"]["children"]
    code, out, _ = run_cli("explain-query", "--dialect", "postgres", "--sql", "SELECT * FROM t", "--format",
                           "markdown")
    assert code == 0 and "query.select_star" in out
    code, _, err = run_cli("explain-query", "--dsn", url, "--sql", "SELECT * FROM nope")
    assert code == 2 and "nope" in err and "Traceback" not in err
    code, _, err = run_cli("explain-query", "--dialect", "mysql", "--sql", "SELEC 1 FROM")
    assert code == 2 and err.startswith("dbsage: error:")
    code, _, err = run_cli("explain-query", "--dialect", "mysql")
    assert code == 2


def test_postgres_generic_plan_for_parameters(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PG_BIG.replace("200000", "20000").replace("CREATE EXTENSION IF NOT EXISTS hypopg;", ""))
    report = explain_query(dsn=url, sql="SELECT kind FROM events WHERE account_id = $1 AND id > $2")
    assert report.statement is not None and "EXECUTE dbsage_generic(NULL, NULL)" in report.statement
    scan = next(n for n in report.plan.walk() if n.relation == "events")  # type: ignore[union-attr]
    assert "$1" in (scan.condition or "")
    with pytest.raises(InputError, match="needs a value"):
        explain_query(dsn=url, sql="SELECT kind FROM events WHERE id = $1", analyze=True)
    # The allowlist still judges the statement: a forbidden function is refused with its parameters.
    with pytest.raises(GuardRefused):
        explain_query(dsn=url, sql="SELECT pg_sleep($1)")
    # Nothing prepared survives the session.
    again = explain_query(dsn=url, sql="SELECT kind FROM events WHERE id = $1")
    assert again.plan is not None


PG_VISIBILITY = """
CREATE TABLE t (id int PRIMARY KEY, account_id int NOT NULL, note text) WITH (autovacuum_enabled = false);
INSERT INTO t SELECT g, g % 5000, 'x' FROM generate_series(1, 100000) g;
CREATE INDEX idx_t_account_id ON t (account_id);
ANALYZE t;
CREATE TABLE u (id int PRIMARY KEY, ref int);
INSERT INTO u SELECT g, g FROM generate_series(1, 50) g;
ANALYZE u;
"""


def test_postgres_heap_fetches_function_on_indexed_column_and_nullable_not_in(
    postgres_db: PostgresFactory,
) -> None:
    url = postgres_db(PG_VISIBILITY)
    ios = "SELECT account_id FROM t WHERE account_id BETWEEN 100 AND 2000 ORDER BY account_id"
    report = explain_query(dsn=url, sql=ios, analyze=True)
    heap = finding(report, "query.heap_fetches")
    assert heap.fix == "VACUUM (ANALYZE) public.t;"  # type: ignore[attr-defined]
    assert heap.evidence["heap_fetches"] > 30000  # type: ignore[attr-defined]
    scan = next(n for n in report.plan.walk() if n.kind == "Index Only Scan")  # type: ignore[union-attr]
    assert scan.shared_hit_blocks and scan.index == "idx_t_account_id"
    pg_exec(url, "VACUUM (ANALYZE) t")
    assert "query.heap_fetches" not in rules(explain_query(dsn=url, sql=ios, analyze=True))

    wrapped = explain_query(dsn=url, sql="SELECT id FROM t WHERE abs(account_id) = 5")
    func = finding(wrapped, "query.function_on_column")
    assert func.severity.value == "high" and func.evidence["column_indexed"] is True  # type: ignore[attr-defined]
    assert func.object == "public.t.account_id"  # type: ignore[attr-defined]
    mismatch = explain_query(dsn=url, sql="SELECT id FROM t WHERE account_id = 42.0")
    cast = finding(mismatch, "query.function_on_column")
    assert cast.severity.value == "high" and "numeric" in cast.message  # type: ignore[attr-defined]
    offline = explain_query(sql="SELECT id FROM t WHERE abs(account_id) = 5", dialect="postgres")
    assert finding(offline, "query.function_on_column").severity.value == "medium"  # type: ignore[attr-defined]

    not_in = explain_query(dsn=url, sql="SELECT id FROM t WHERE id NOT IN (SELECT ref FROM u)")
    assert finding(not_in, "query.not_in_subquery").severity.value == "high"  # type: ignore[attr-defined]
    safe = explain_query(dsn=url, sql="SELECT id FROM t WHERE id NOT IN (SELECT id FROM u)")
    assert finding(safe, "query.not_in_subquery").severity.value == "low"  # type: ignore[attr-defined]


# MySQL 8.0 EXPLAIN ANALYZE output, recorded by hand in the documented tree format (no MySQL server here).
MYSQL8_ANALYZE_RECORDED = """\
-> Sort: events.kind  (cost=20306 rows=19960) (actual time=86.2..86.3 rows=40 loops=1)
    -> Filter: (events.account_id = 42)  (cost=20306 rows=19960) (actual time=0.52..84.9 rows=40 loops=1)
        -> Table scan on events  (cost=20306 rows=199600) (actual time=0.41..70.1 rows=200000 loops=1)
"""


def test_mysql8_analyze_tree_reader_on_a_recorded_sample() -> None:
    from dbsage.tools.catalog import Dialect
    from dbsage.tools.plans import read_mysql_analyze
    from dbsage.tools.rules.plan_rules import PlanContext, plan_findings
    from dbsage.tools.rules.query_static import TableFacts

    root = read_mysql_analyze(MYSQL8_ANALYZE_RECORDED)
    (sort,) = root.children
    assert sort.kind == "Sort" and sort.using_filesort and sort.actual_rows == 40
    scan = sort.children[0].children[0]
    assert (scan.kind, scan.relation, scan.est_rows, scan.actual_rows) == ("Full Table Scan", "events", 199600, 200000)
    assert scan.actual_filtered_pct == pytest.approx(0.02)
    assert scan.share is not None and scan.share > 0.5
    facts = {"events": TableFacts(schema_name="shop", name="events", rows=200000,
                                  columns={"id": False, "account_id": False, "kind": False},
                                  column_names=["id", "account_id", "kind"])}
    import sqlglot

    tree = sqlglot.parse_one(SLOW + " ORDER BY kind", read="mysql")
    found = {f.rule_id: f for f in plan_findings(PlanContext(Dialect.MYSQL, root, facts, tree, True))}
    assert found[FULL_SCAN].fix == (
        "ALTER TABLE shop.events ADD INDEX idx_events_account_id (account_id), ALGORITHM=INPLACE, LOCK=NONE;")
    assert {"query.sort_without_index", "query.rows_removed_by_filter"} <= set(found)


PG_NESTED = """
CREATE TABLE a (id int PRIMARY KEY, grp int NOT NULL, b_ref int NOT NULL) WITH (autovacuum_enabled = false);
INSERT INTO a SELECT g, g % 100, g % 50 FROM generate_series(1, 50000) g;
ANALYZE a;
CREATE TABLE b (id int, label text);
INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 50) g;
ANALYZE b;
INSERT INTO a SELECT g, 7777, g % 50 FROM generate_series(50001, 70000) g;
"""


def test_postgres_nested_loop_over_an_underestimated_outer_input(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PG_NESTED)
    sql = "SELECT count(*) FROM a JOIN b ON b.id = a.b_ref WHERE a.grp = 7777"
    report = explain_query(dsn=url, sql=sql, analyze=True)
    loop = finding(report, "query.nested_loop_large_outer")
    assert loop.evidence["outer_rows"] == 20000 and loop.evidence["inner_node"] == "Seq Scan"  # type: ignore[attr-defined]
    miss = next(f for f in report.findings if f.rule_id == "query.row_misestimate" and "public.a" in f.object)
    assert miss.severity.value == "high" and miss.fix == "ANALYZE public.a;"
    pg_exec(url, "ANALYZE a")
    fixed = explain_query(dsn=url, sql=sql, analyze=True)
    assert "query.nested_loop_large_outer" not in rules(fixed)


def test_postgres_shares_under_a_gather_count_worker_time_once() -> None:
    from dbsage.tools.plans import read_postgres

    def node(kind: str, time: float, loops: int, *children: dict[str, object]) -> dict[str, object]:
        return {"Node Type": kind, "Total Cost": 10.0, "Plan Rows": 1, "Actual Total Time": time,
                "Actual Rows": 1, "Actual Loops": loops, "Plans": list(children)}

    # The shape PostgreSQL 15 prints for a parallel sort: per-loop times of the leader and two workers.
    root = read_postgres([{"Plan": node("Gather Merge", 34.4, 1, node("Sort", 19.75, 3, node("Seq Scan", 19.65, 3)))}])
    shares = [n.share for n in root.walk()]
    assert all(s is not None and 0 <= s <= 1 for s in shares)
    assert sum(s for s in shares if s is not None) == pytest.approx(1.0, abs=0.01)
    assert shares[2] == pytest.approx(19.65 / 34.4, abs=0.01)


def test_write_analyze_is_refused_on_a_production_database(sqlite_db: SqliteFactory) -> None:
    from dbsage.server.calls import explain_query as call_explain
    from dbsage.server.config import DatabaseConfig, DbsageConfig

    url = sqlite_db("CREATE TABLE t (id INTEGER PRIMARY KEY);")
    config = DbsageConfig(databases={"prod": DatabaseConfig(url=url, production=True)})
    with pytest.raises(GuardRefused) as refused:
        call_explain(config, sql="DELETE FROM t", database="prod", analyze=True, allow_write_analyze=True)
    assert refused.value.reason == "production"
    report = call_explain(config, sql="DELETE FROM t WHERE id = 1", database="prod")
    assert report.source == "prod" and report.plan is not None
    with pytest.raises(InputError, match="need a database"):
        call_explain(config, sql="SELECT 1", dialect="sqlite", analyze=True)

"""checklist_review's monitoring and scaling sections on real servers: a workload run through the
statement statistics, a table with a wide rarely-read column beside a narrow one, a tenant column
whose rows pile up on one tenant; the sample databases run through without error."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from dbsage.server.fences import BEGIN_DATA, END_DATA
from dbsage.server.mcp_review import concise_checklist, summarize_checklist
from dbsage.server.render_review import checklist_markdown, checklist_text
from dbsage.tools.catalog import Dialect
from dbsage.tools.checklist import ChecklistReport, checklist_review
from dbsage.tools.ops_model import Metric, MonitoringSection, ScalingSection
from dbsage.tools.rules.registry import RuleOptions
from dbsage.tools.sources.ddl_script import split_statements
from tests.conftest import MysqlFactory, PostgresFactory
from tests.dbutil import admin_mysql, admin_postgres
from tests.test_health import login_role

# Small tables stand in for large ones: the size gates come down, the rest stays at its defaults.
SMALL_GATES = RuleOptions(thresholds={
    "scaling.large_table_bytes": 100_000,
    "scaling.read_write.min_rows": 1_000,
    "health.cache_hit_rate.min_blocks": 0,
    "monitoring.top_queries": 20,
})

WORKLOAD_PG = """
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE tenants (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE documents (
    id bigint PRIMARY KEY, tenant_id int NOT NULL REFERENCES tenants (id), title text NOT NULL, body text NOT NULL
);
CREATE TABLE events (id bigint PRIMARY KEY, tenant_id int NOT NULL REFERENCES tenants (id), kind int NOT NULL,
                     at timestamptz NOT NULL DEFAULT now());
CREATE TABLE audit (id bigint PRIMARY KEY, payload text NOT NULL);
INSERT INTO tenants SELECT i, 'tenant ' || i FROM generate_series(1, 20) i;
-- six documents in ten belong to tenant 1; the body (640 bytes, stored inline) is read by few statements
INSERT INTO documents SELECT i, CASE WHEN i % 10 < 6 THEN 1 ELSE 2 + i % 19 END, 'doc ' || i,
       repeat(md5(i::text), 20) FROM generate_series(1, 4000) i;
INSERT INTO events (id, tenant_id, kind) SELECT i, 1 + i % 20, i % 7 FROM generate_series(1, 20000) i;
INSERT INTO audit SELECT i, repeat('x', 90) FROM generate_series(1, 2000) i;
ANALYZE;
"""

WORKLOAD_MYSQL = """
CREATE TABLE tenants (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);
CREATE TABLE documents (id BIGINT PRIMARY KEY, tenant_id INT NOT NULL, title VARCHAR(80) NOT NULL,
                        body LONGTEXT NOT NULL, KEY idx_documents_tenant (tenant_id));
CREATE TABLE events (id BIGINT PRIMARY KEY, tenant_id INT NOT NULL, kind INT NOT NULL,
                     KEY idx_events_tenant (tenant_id));
"""


def metrics(section: MonitoringSection | None) -> dict[str, Metric]:
    assert section is not None
    return {m.name: m for m in section.metrics}


def expected_status(value: float, warn: float, fail: float) -> str:
    """The status of a higher-is-better ratio (cache hit)."""
    return "pass" if value >= warn else ("warn" if value >= fail else "fail")


def run_pg_workload(url: str) -> None:
    with admin_postgres(url) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        for i in range(1, 201):
            conn.execute("SELECT id, title FROM documents WHERE id = %s", (i,))
        for i in range(1, 6):
            conn.execute("SELECT body FROM documents WHERE id = %s", (i,))
        for i in range(1, 101):
            conn.execute("SELECT kind FROM events WHERE id = %s", (i,))
        for _ in range(3):
            conn.execute("SELECT count(*) FROM events WHERE kind = 3 AND tenant_id > 0")


def assert_sections_valid(report: ChecklistReport) -> None:
    """Invariants every report keeps: seven metrics, ratios in [0, 1], unknown says why."""
    got = metrics(report.monitoring)
    assert list(got) == ["query_latency_p95", "connection_usage", "cache_hit_rate", "slow_query_logging",
                         "slow_queries", "replication_lag", "disk_usage"]
    for m in got.values():
        if m.status in ("unknown", "not_applicable"):
            assert m.why, m.name
        if m.unit == "ratio" and m.value is not None:
            assert 0.0 <= m.value <= 1.0, m.name
    assert got["disk_usage"].status == "unknown" and "not visible through SQL" in (got["disk_usage"].why or "")
    assert report.scaling is not None
    rw = report.scaling.read_write
    if rw.read_share is not None:
        assert rw.reads is not None and rw.writes is not None
        assert rw.read_share == pytest.approx(rw.reads / (rw.reads + rw.writes), abs=1e-4)
    assert ChecklistReport.model_validate_json(report.model_dump_json()) == report


@pytest.mark.postgres
def test_postgres_workload(postgres_db: PostgresFactory) -> None:
    url = postgres_db(WORKLOAD_PG)
    run_pg_workload(url)
    report = checklist_review(url, options=SMALL_GATES)
    assert_sections_valid(report)
    monitoring = report.monitoring
    assert monitoring is not None
    got = metrics(monitoring)

    # top statements: the application's, with calls as run, stddev and no percentile (PostgreSQL keeps none)
    by_text = {q.query: q for q in monitoring.top_queries}
    title = by_text["SELECT id, title FROM documents WHERE id = $1"]
    assert title.calls == 200 and title.total_ms >= title.mean_ms > 0
    assert title.stddev_ms is not None and title.p95_ms is None
    assert by_text["SELECT body FROM documents WHERE id = $1"].calls == 5
    assert not any("pg_" in q.query or "information_schema" in q.query for q in monitoring.top_queries)
    totals = [q.total_ms for q in monitoring.top_queries]
    assert totals == sorted(totals, reverse=True)
    assert "percentiles" in (monitoring.top_queries_note or "")

    cache = got["cache_hit_rate"]
    assert cache.value is not None and 0.0 < cache.value <= 1.0
    assert cache.status == expected_status(cache.value, 0.99, 0.90)
    assert got["connection_usage"].value is not None and got["connection_usage"].value > 0
    assert got["query_latency_p95"].value is not None and got["query_latency_p95"].status != "unknown"
    slow = got["slow_queries"]
    assert slow.value == 0.0 and slow.status == "pass"  # nothing here takes a second
    assert got["replication_lag"].status in ("not_applicable", "pass", "warn", "fail")
    assert {r.relation for r in monitoring.largest_relations[:2]} == {"public.events", "public.documents"}
    assert monitoring.database_bytes is not None and monitoring.database_bytes > 1_000_000

    scaling = report.scaling
    assert scaling is not None
    rw = scaling.read_write
    assert rw.writes is not None and rw.writes >= 26_020  # every row inserted by the fixture
    assert rw.pattern in ("read_heavy", "write_heavy", "mixed")
    assert rw.read_share is not None
    quoted = f"{rw.read_share:.1%}" if rw.pattern != "write_heavy" else f"{1 - rw.read_share:.1%}"
    assert quoted in rw.advice  # the advice quotes the measured share

    # vertical partitioning: the wide, rarely read body is named; the narrow events table is not
    candidates = {c.table: c for c in scaling.vertical_partitioning}
    assert set(candidates) == {"public.documents"}
    body = candidates["public.documents"].columns[0]
    assert body.column == "body" and body.avg_bytes is not None and body.avg_bytes >= 640
    assert body.read_share == pytest.approx(5 / 205, abs=1e-3)
    assert "body" in candidates["public.documents"].advice

    # shard key: tenant_id, skewed towards tenant 1 in documents, audit is large and lacks it
    shard = scaling.shard_key
    assert shard is not None and shard.column == "tenant_id"
    assert set(shard.tables_with_it) == {"public.documents", "public.events"}
    spread = {s.table: s for s in shard.spread}
    docs = spread["public.documents"]
    assert docs.top_tenant == "1" and docs.top_tenant_share == pytest.approx(0.6, abs=0.05)
    assert docs.skewed is True and spread["public.events"].skewed is False
    assert shard.skewed is True
    assert [t.relation for t in shard.tables_without_it] == ["public.audit"]  # tenants is the key's own table
    share = f"{docs.top_tenant_share:.0%}"
    assert "public.audit" in shard.advice and f"One tenant holds {share} of public.documents" in shard.advice

    # rendered: statement text fenced as data in text, the sections in Markdown, one line each in MCP
    text = "\n".join(checklist_text(report))
    assert "Monitoring (measured):" in text and BEGIN_DATA in text
    fenced = text.split(BEGIN_DATA, 1)[1].split(END_DATA, 1)[0]
    assert "SELECT id, title FROM documents" in fenced
    skew_block = text.split("Most common tenant per skewed table:", 1)[1].split("----- end database text", 1)[0]
    assert f"public.documents: 1 ({share} of the rows)" in skew_block and BEGIN_DATA in skew_block
    markdown = "\n".join(checklist_markdown(report))
    assert "## Monitoring (measured)" in markdown and "## Scaling" in markdown
    summary = summarize_checklist(report)
    assert "Monitoring: query_latency_p95" in summary and "shard key tenant_id (skewed)" in summary
    data = summary.split(BEGIN_DATA, 1)[1].split(END_DATA, 1)[0]
    assert "top statement by total time" in data


@pytest.mark.postgres
def test_postgres_default_gates_advise_nothing_on_a_small_database(postgres_db: PostgresFactory) -> None:
    url = postgres_db(WORKLOAD_PG)
    run_pg_workload(url)
    report = checklist_review(url)
    scaling = report.scaling
    assert scaling is not None
    assert scaling.vertical_partitioning == []
    assert "No table reaches 1.0 GiB" in scaling.vertical_note
    assert scaling.read_write.pattern == "too_little_traffic" or (scaling.read_write.reads or 0) + (
        scaling.read_write.writes or 0) >= 100_000
    assert scaling.shard_key is not None and "not advised now" in scaling.shard_key.advice
    assert scaling.shard_key.tables_without_it and "large table" not in scaling.shard_key.advice
    cache = metrics(report.monitoring)["cache_hit_rate"]
    if cache.status == "unknown":  # fewer block reads than the default minimum: measured, not judged
        assert "block reads" in (cache.why or "")

    # the concise MCP answer stays small: the two sections add a few kilobytes at most
    concise = concise_checklist(report).model_dump(mode="json")
    added = len(json.dumps(concise["monitoring"])) + len(json.dumps(concise["scaling"]))
    assert added < 6_000
    assert concise["scaling"]["thresholds"] == {} and report.scaling is not None and report.scaling.thresholds


@pytest.mark.postgres
def test_postgres_role_without_table_access_gets_reasons(postgres_db: PostgresFactory) -> None:
    url = postgres_db(WORKLOAD_PG)
    run_pg_workload(url)
    with login_role(url, []) as weak:
        report = checklist_review(weak, options=SMALL_GATES)
    assert_sections_valid(report)
    monitoring, scaling = report.monitoring, report.scaling
    assert monitoring is not None and scaling is not None
    # pg_stat_statements answers, but the owner's statement texts are hidden from this role
    assert "insufficient privilege" in (monitoring.top_queries_note or "")
    assert all(q.query == "<insufficient privilege>" for q in monitoring.top_queries)
    # pg_stats hides the columns of tables it may not read: said so, not taken for "never analyzed"
    assert scaling.vertical_partitioning == []
    assert "hidden from this role" in scaling.vertical_note and "never analyzed" not in scaling.vertical_note
    assert scaling.shard_key is not None and "hidden from this role" in scaling.shard_key.advice


@pytest.mark.mysql
def test_mariadb_workload(mysql_db: MysqlFactory) -> None:
    url = mysql_db(WORKLOAD_MYSQL)
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO tenants SELECT seq, CONCAT('t', seq) FROM seq_1_to_20")
            cur.execute("INSERT INTO documents SELECT seq, IF(seq % 10 < 6, 1, 2 + seq % 19), CONCAT('doc ', seq), "
                        "REPEAT(MD5(seq), 20) FROM seq_1_to_4000")
            cur.execute("INSERT INTO events SELECT seq, 1 + seq % 20, seq % 7 FROM seq_1_to_20000")
            cur.execute("ANALYZE TABLE documents, events")
            cur.fetchall()
            for i in range(1, 201):
                cur.execute("SELECT id, title FROM documents WHERE id = %s", (i,))
                cur.fetchall()
            for i in range(1, 6):
                cur.execute("SELECT body FROM documents WHERE id = %s", (i,))
                cur.fetchall()
    finally:
        conn.close()
    report = checklist_review(url, options=SMALL_GATES)
    assert_sections_valid(report)
    assert report.dialect is Dialect.MARIADB
    monitoring = report.monitoring
    assert monitoring is not None
    got = metrics(monitoring)
    assert got["slow_queries"].value is not None and "Slow_queries / Questions" in (got["slow_queries"].note or "")
    assert got["connection_usage"].value is not None and got["connection_usage"].value > 0
    cache = got["cache_hit_rate"]
    assert cache.value is not None and 0.0 < cache.value <= 1.0
    assert cache.status == expected_status(cache.value, 0.99, 0.90)
    if monitoring.top_queries:  # performance_schema on: digests of this database, no percentile on MariaDB
        title = next(q for q in monitoring.top_queries if "title" in q.query.lower())
        assert title.calls == 200 and title.p95_ms is None and title.stddev_ms is None
    else:
        assert monitoring.top_queries_note
    scaling = report.scaling
    assert scaling is not None
    candidates = {c.table: c for c in scaling.vertical_partitioning}
    assert list(candidates) == [next(t for t in candidates if t.endswith(".documents"))]
    body = candidates[next(iter(candidates))].columns[0]
    assert body.column == "body" and body.avg_bytes is None and "longtext" in (body.declared_type or "").lower()
    if monitoring.top_queries:
        assert body.read_share == pytest.approx(5 / 205, abs=1e-3)
    shard = scaling.shard_key
    assert shard is not None and shard.tables_with_it_count == 2
    docs = next(s for s in shard.spread if s.table.endswith(".documents"))
    assert docs.tenants is not None and 10 <= docs.tenants <= 100  # InnoDB samples index pages: a rough estimate
    assert docs.skewed is None  # MariaDB keeps no most-common values


# ------------------------------------------------------------------------------------- sample data


@pytest.mark.postgres
def test_pagila_sakila_chinook_postgres(postgres_db: PostgresFactory, realworld: Path) -> None:
    pagila = (realworld / "pagila" / "pagila-schema.sql").read_text(encoding="utf-8")
    pagila = pagila.replace("uuidv7()", "gen_random_uuid()").replace(") VIRTUAL", ") STORED")
    pagila = "\n".join(line for line in pagila.splitlines() if not line.startswith("\\"))
    url = postgres_db("SELECT 1")
    with admin_postgres(url) as conn:
        for stmt in split_statements(pagila, Dialect.POSTGRES):
            with contextlib.suppress(Exception):  # the pgvector part needs an extension this server lacks
                conn.execute(stmt.text.encode())
    chinook = (realworld / "chinook" / "Chinook_PostgreSql.sql").read_text()
    urls = [url, postgres_db((realworld / "sakila" / "postgres-sakila-schema.sql").read_text()),
            postgres_db(chinook[chinook.index("CREATE TABLE"):])]
    for db_url in urls:
        report = checklist_review(db_url)
        assert_sections_valid(report)
        got = metrics(report.monitoring)
        # no pg_stat_statements in these databases: unknown, and why
        assert got["slow_queries"].status == "unknown" and "pg_stat_statements" in (got["slow_queries"].why or "")
        assert report.monitoring is not None and report.monitoring.top_queries == []
        scaling = report.scaling
        assert isinstance(scaling, ScalingSection) and scaling.vertical_partitioning == []
        assert scaling.shard_key is None and "No table has a tenant_id column" in scaling.shard_note


@pytest.mark.mysql
def test_chinook_mariadb(mysql_db: MysqlFactory, realworld: Path) -> None:
    text = (realworld / "chinook" / "Chinook_MySql.sql").read_text()
    report = checklist_review(mysql_db(text[text.index("CREATE TABLE"):]))
    assert_sections_valid(report)
    assert report.monitoring is not None and report.monitoring.largest_relations
    assert report.scaling is not None and report.scaling.shard_key is None

"""Operational health checks inside checklist_review: planted faults are found, and a role with little
privilege gets `unknown` with the privilege it needs instead of an error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from dbsage.tools.checklist import ChecklistReport, ItemStatus, checklist_review
from dbsage.tools.rules.registry import RuleOptions
from tests.conftest import MysqlFactory, PostgresFactory
from tests.dbutil import admin_mysql, admin_postgres

# Thresholds at zero so a session opened by the test a moment ago already counts as idle.
NOW = RuleOptions(thresholds={"health.idle_in_transaction.min_seconds": 0})

PLANTED_PG = """
CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL, score int);
INSERT INTO accounts (email, score) VALUES ('a@example.com', 1), ('a@example.com', 2);
ALTER TABLE accounts ADD CONSTRAINT chk_accounts_score CHECK (score > 0) NOT VALID;
CREATE TABLE tickets (id serial PRIMARY KEY, title text NOT NULL);
SELECT setval('tickets_id_seq', 2040109466);  -- 95% of int4
"""


def item(report: ChecklistReport, item_id: str) -> Any:
    return next(i for s in report.sections for i in s.items if i.id == item_id)


def rules_of(report: ChecklistReport, item_id: str) -> dict[str, Any]:
    by_id = {f.id: f for f in report.findings}
    return {by_id[i].rule_id: by_id[i] for i in item(report, item_id).finding_ids}


@contextmanager
def idle_in_transaction_pg(url: str) -> Iterator[int]:
    """A session that opened a transaction, read a row and went quiet; yields its pid."""
    conn = psycopg.connect(url, autocommit=False)
    try:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        conn.execute("SELECT count(*) FROM accounts")
        yield int(pid)
    finally:
        conn.rollback()
        conn.close()


def plant_postgres(postgres_db: PostgresFactory) -> str:
    url = postgres_db(PLANTED_PG)
    with admin_postgres(url) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY idx_accounts_email ON accounts (email)")
    return url


@pytest.mark.postgres
def test_planted_postgres_faults_are_found(postgres_db: PostgresFactory) -> None:
    url = plant_postgres(postgres_db)
    with idle_in_transaction_pg(url) as pid:
        report = checklist_review(url, options=NOW)

    index = rules_of(report, "schema.index_health")
    assert index["index.invalid_index"].object == "public.accounts.idx_accounts_email"
    assert item(report, "schema.index_health").status is ItemStatus.FAIL

    constraints = rules_of(report, "schema.constraints")
    assert constraints["schema.not_valid_constraint"].object == "public.accounts.chk_accounts_score"

    keys = rules_of(report, "schema.key_capacity")
    assert keys["schema.integer_key_overflow"].object == "public.tickets.id"
    assert keys["schema.integer_key_overflow"].evidence["used_ratio"] == pytest.approx(0.95, abs=0.001)
    assert item(report, "schema.key_capacity").status is ItemStatus.FAIL

    sessions = item(report, "performance.long_transactions")
    idle = rules_of(report, "performance.long_transactions")["health.idle_in_transaction"]
    assert pid in idle.evidence["pids"]
    assert sessions.status in (ItemStatus.WARN, ItemStatus.FAIL)
    assert pid in sessions.evidence["idle_in_transaction_pids"]


@pytest.mark.postgres
def test_clean_database_has_no_idle_session_finding(postgres_db: PostgresFactory) -> None:
    url = postgres_db("CREATE TABLE accounts (id bigint PRIMARY KEY);")
    report = checklist_review(url, options=NOW)
    assert "health.idle_in_transaction" not in rules_of(report, "performance.long_transactions")
    assert item(report, "schema.key_capacity").status is ItemStatus.PASS
    assert item(report, "performance.xid_wraparound").status is ItemStatus.PASS
    assert item(report, "monitoring.replication").status is ItemStatus.NOT_APPLICABLE


@pytest.mark.postgres
def test_pg_stat_statements_measures_latency(postgres_db: PostgresFactory) -> None:
    url = postgres_db("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; CREATE TABLE t (id int PRIMARY KEY);")
    with admin_postgres(url) as conn:
        for i in range(60):
            conn.execute("SELECT count(*) FROM t WHERE id = %s", (i,))
    report = checklist_review(url)
    stats = item(report, "performance.query_statistics")
    assert stats.status is ItemStatus.PASS, stats.reason
    latency = item(report, "monitoring.query_latency")
    assert latency.status in (ItemStatus.PASS, ItemStatus.WARN, ItemStatus.FAIL), latency.reason
    assert latency.evidence["calls"] >= 60
    assert "standard deviations" in str(latency.evidence["method"])
    assert latency.evidence["estimated_p95_ms"] >= latency.evidence["mean_ms"]


# ---------------------------------------------------------------------------------- little privilege


def url_as(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}:{password}@{host}", parts.path, parts.query, ""))


@contextmanager
def login_role(url: str, grants: list[str]) -> Iterator[str]:
    """A throwaway login role with `grants` (formatted with {role}); dropped, with its privileges, after."""
    role = f"dbsage_chk_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    database = urlsplit(url).path.lstrip("/")
    with admin_postgres(url) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
        for grant in grants:
            conn.execute(grant.format(role=role))
    try:
        yield url_as(url, role, password)
    finally:
        with admin_postgres(url) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


@pytest.mark.postgres
def test_connect_only_role_gets_unknown_with_the_privilege_needed(postgres_db: PostgresFactory) -> None:
    url = plant_postgres(postgres_db)
    with admin_postgres(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("REVOKE SELECT ON pg_stat_statements FROM PUBLIC")
        conn.execute("REVOKE EXECUTE ON FUNCTION pg_stat_statements(boolean) FROM PUBLIC")
        # with a timeout set, what the role cannot see is all that is left to decide the sessions item
        database = urlsplit(url).path.lstrip("/")
        conn.execute(f'ALTER DATABASE "{database}" SET idle_in_transaction_session_timeout = \'10min\'')
    with login_role(url, []) as weak, idle_in_transaction_pg(url):  # an admin session it cannot see
        report = checklist_review(weak, options=NOW)
    stats = item(report, "performance.query_statistics")
    assert stats.status is ItemStatus.UNKNOWN
    assert "needs SELECT on public.pg_stat_statements" in stats.reason
    sessions = item(report, "performance.long_transactions")
    assert sessions.status is ItemStatus.UNKNOWN and "needs pg_read_all_stats" in sessions.reason
    keys = item(report, "schema.key_capacity")
    assert keys.status is ItemStatus.UNKNOWN and "needs SELECT or USAGE" in keys.reason
    assert any(line.startswith("pg_hba rules: needs superuser") for line in report.not_checked)
    assert report.score_counts["unknown"] > 0


@pytest.mark.postgres
def test_pg_monitor_role_sees_sessions_and_statistics(postgres_db: PostgresFactory) -> None:
    url = plant_postgres(postgres_db)
    with admin_postgres(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    grants = ["GRANT pg_monitor TO {role}", "GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"]
    with login_role(url, grants) as monitor, idle_in_transaction_pg(url) as pid:
        report = checklist_review(monitor, options=NOW)
    assert item(report, "performance.query_statistics").status is ItemStatus.PASS
    sessions = item(report, "performance.long_transactions")
    assert sessions.status in (ItemStatus.WARN, ItemStatus.FAIL)
    assert pid in sessions.evidence["idle_in_transaction_pids"]
    assert item(report, "schema.key_capacity").status is ItemStatus.FAIL


# ------------------------------------------------------------------------------------- MariaDB


@pytest.mark.mysql
def test_mariadb_idle_transaction_and_binlog(mysql_db: MysqlFactory) -> None:
    url = mysql_db("CREATE TABLE accounts (id bigint PRIMARY KEY, email varchar(100) NOT NULL) ENGINE=InnoDB;"
                   "INSERT INTO accounts VALUES (1, 'a@example.com');")
    database = urlsplit(url).path.lstrip("/")
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SET autocommit = 0")
            cur.execute(f"USE `{database}`")
            cur.execute("START TRANSACTION")
            cur.execute("SELECT * FROM accounts FOR UPDATE")
            cur.execute("SELECT CONNECTION_ID()")
            row = cur.fetchone()
            assert row is not None
            connection_id = int(row[0])
        report = checklist_review(url, options=NOW)
    finally:
        conn.rollback()
        conn.close()
    idle = rules_of(report, "performance.long_transactions")["health.idle_in_transaction"]
    assert connection_id in idle.evidence["ids"]
    assert item(report, "backup.pitr").status is ItemStatus.FAIL
    logging = item(report, "performance.slow_query_logging")
    assert logging.evidence["slow_query_log"] in ("OFF", "ON")
    assert item(report, "performance.xid_wraparound").status is ItemStatus.NOT_APPLICABLE


@contextmanager
def mysql_account(url: str, grants: list[str]) -> Iterator[str]:
    """A throwaway MariaDB account with `grants` (formatted with {account} and {db}); dropped after."""
    user = f"dbsage_chk_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    account = f"'{user}'@'127.0.0.1'"
    database = urlsplit(url).path.lstrip("/")
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE USER {account} IDENTIFIED BY '{password}'")
            for grant in grants:
                cur.execute(grant.format(account=account, db=database))
        yield url_as(url, user, password)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS {account}")
        conn.close()


@pytest.mark.mysql
def test_mariadb_select_only_account_gets_unknown_with_the_privilege_needed(mysql_db: MysqlFactory) -> None:
    url = mysql_db("CREATE TABLE accounts (id bigint PRIMARY KEY) ENGINE=InnoDB;")
    with mysql_account(url, ["GRANT SELECT ON `{db}`.* TO {account}"]) as weak:
        report = checklist_review(weak, options=NOW)
    sessions = item(report, "performance.long_transactions")
    assert sessions.status is ItemStatus.UNKNOWN and "needs PROCESS" in sessions.reason
    separation = item(report, "security.user_separation")
    assert separation.status is ItemStatus.UNKNOWN and "mysql.user" in separation.reason
    assert item(report, "backup.pitr").status is ItemStatus.FAIL  # server variables are readable by anyone

    monitor_grants = ["GRANT SELECT ON `{db}`.* TO {account}", "GRANT PROCESS ON *.* TO {account}",
                      "GRANT SELECT ON mysql.user TO {account}", "GRANT SELECT ON mysql.global_priv TO {account}"]
    with mysql_account(url, monitor_grants) as monitor:
        report = checklist_review(monitor, options=NOW)
    assert item(report, "performance.long_transactions").status is not ItemStatus.UNKNOWN
    assert item(report, "security.user_separation").status is not ItemStatus.UNKNOWN


@pytest.mark.postgres
def test_failed_health_session_leaves_live_items_unknown(
    postgres_db: PostgresFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbsage.tools import health_postgres
    from dbsage.tools.errors import QueryFailed

    def timed_out(*args: object, **kwargs: object) -> None:
        raise QueryFailed("canceling statement due to statement timeout")

    monkeypatch.setattr(health_postgres, "postgres_health", timed_out)
    report = checklist_review(postgres_db("CREATE TABLE accounts (id bigint PRIMARY KEY);"))
    latency = item(report, "monitoring.query_latency")
    assert latency.status is ItemStatus.UNKNOWN and "statement timeout" in latency.reason
    assert item(report, "schema.primary_keys").status is ItemStatus.PASS  # the catalog was read before
    assert any("operational checks stopped" in line for line in report.not_checked)


@pytest.mark.postgres
def test_long_query_dead_rows_and_sequential_scans(postgres_db: PostgresFactory) -> None:
    import threading

    url = postgres_db(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL);"
        "INSERT INTO events SELECT g, 'k' || (g % 7) FROM generate_series(1, 20000) g;"
        "CREATE TABLE junk (id bigint PRIMARY KEY);"
        "INSERT INTO junk SELECT generate_series(1, 20000);"
    )
    with admin_postgres(url) as conn:
        conn.execute("DELETE FROM junk WHERE id > 100")
        for _ in range(6):
            conn.execute("SELECT count(*) FROM events WHERE kind = 'k3'")
    started = threading.Event()

    def sleeper() -> None:
        with admin_postgres(url) as conn:
            started.set()
            conn.execute("SELECT pg_sleep(4)")

    thread = threading.Thread(target=sleeper)
    thread.start()
    started.wait()
    options = RuleOptions(thresholds={
        "health.long_running_query.min_seconds": 0, "health.sequential_scans.min_scans": 5,
        "health.table_bloat.min_dead_rows": 1000,
    })
    try:
        report = checklist_review(url, options=options)
    finally:
        thread.join()
    running = rules_of(report, "performance.long_transactions")["health.long_running_query"]
    assert any("pg_sleep" in q for q in running.evidence["queries"])
    bloat = rules_of(report, "performance.maintenance")["health.table_bloat"]
    assert bloat.object == "public.junk" and bloat.evidence["dead_rows"] == 19900
    assert bloat.fix == 'VACUUM (ANALYZE) "public"."junk";'
    scans = rules_of(report, "schema.where_indexes")["health.sequential_scans_large_table"]
    assert scans.object == "public.events" and scans.evidence["seq_scan"] >= 6
    assert item(report, "schema.where_indexes").status is ItemStatus.WARN


@pytest.mark.postgres
def test_thresholds_turn_measurements_into_findings(postgres_db: PostgresFactory) -> None:
    url = postgres_db("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000);")
    options = RuleOptions(thresholds={
        "health.connections.warn_ratio": 0.0, "health.xid_wraparound.warn_ratio": 0.0,
        "health.cache_hit_rate.warn": 1.01, "health.cache_hit_rate.min_blocks": 1,
        "health.pool.cores": 8, "health.pool.spindles": 2,
    })
    report = checklist_review(url, options=options)
    connections = item(report, "monitoring.connection_usage")
    assert connections.status is ItemStatus.WARN
    assert connections.evidence["recommended_pool_size"] == 18 and connections.evidence["assumed_cores"] == 8
    assert "health.connections_near_limit" in rules_of(report, "monitoring.connection_usage")
    xid = rules_of(report, "performance.xid_wraparound")["health.xid_wraparound"]
    assert xid.object_type.value == "database" and xid.evidence["age"] >= 0
    assert item(report, "performance.cache_hit_rate").status is ItemStatus.WARN


@pytest.mark.postgres
def test_inactive_replication_slot(postgres_db: PostgresFactory) -> None:
    url = postgres_db("CREATE TABLE t (id int PRIMARY KEY);")
    slot = f"dbsage_chk_{uuid.uuid4().hex[:8]}"
    with admin_postgres(url) as conn:
        conn.execute("SELECT pg_create_physical_replication_slot(%s, true)", (slot,))
    try:
        report = checklist_review(url)
    finally:
        with admin_postgres(url) as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    replication = item(report, "monitoring.replication")
    assert replication.status is ItemStatus.FAIL
    assert slot in replication.evidence["inactive_slots"]
    finding = rules_of(report, "monitoring.replication")["health.replication_slot_inactive"]
    assert finding.fix == f"SELECT pg_drop_replication_slot('{slot}');"


def test_every_health_rule_is_emitted_and_documented() -> None:
    import tomllib
    from pathlib import Path

    from dbsage.knowledge.rulebook import load_rules

    repo = Path(__file__).resolve().parent.parent
    data = tomllib.loads((repo / "knowledge" / "rules" / "health.toml").read_text(encoding="utf-8"))
    ids = {raw["id"] for raw in data["rule"]}
    source = "".join((repo / "tools" / name).read_text(encoding="utf-8") for name in (
        "health_postgres.py", "health_mysql.py", "checklist_repo.py"))
    docs = load_rules()
    for rule_id in ids:
        assert f'"{rule_id}"' in source, f"{rule_id} is never emitted"
        doc = docs[rule_id]
        assert doc.references and all(r.startswith("https://") for r in doc.references), rule_id
        assert len(doc.rationale) > 80 and len(doc.remediation) > 40, rule_id

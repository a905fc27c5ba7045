"""checklist_review over tests/fixtures/repo_app (an oversized SQLAlchemy pool, a Redis write without TTL,
an Alembic revision whose downgrade does nothing) and the database its migrations build, on real
PostgreSQL and MariaDB: each planted problem reported at its file and line, judged against the server's
own max_connections; a well-sized pool and TTL'd writes pass."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dbsage.tools.checklist import ChecklistReport, ItemStatus, checklist_review
from dbsage.tools.findings import Finding
from dbsage.tools.rules.registry import RuleOptions
from tests.conftest import FIXTURES, MysqlFactory, PostgresFactory
from tests.dbutil import admin_mysql, admin_postgres
from tests.test_checklist import assert_complete, items
from tests.test_cli import run_cli

APP = FIXTURES / "repo_app"
SCHEMA = (APP / "schema.sql").read_text(encoding="utf-8")


def located(report: ChecklistReport, item_id: str) -> dict[str, set[tuple[str, int]]]:
    """The findings an item claims: rule id -> {(file, line)}."""
    item = items(report)[item_id]
    by_id = {f.id: f for f in report.findings}
    out: dict[str, set[tuple[str, int]]] = {}
    for finding_id in item.finding_ids:
        f = by_id[finding_id]
        assert f.location is not None, f"{f.rule_id} has no location"
        out.setdefault(f.rule_id, set()).add((f.location.file, f.location.line))
    return out


def finding(report: ChecklistReport, rule_id: str) -> Finding:
    (f,) = [f for f in report.findings if f.rule_id == rule_id]
    return f


def postgres_limits(url: str) -> tuple[int, int]:
    with admin_postgres(url) as conn:
        rows = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', "
            "'superuser_reserved_connections', 'reserved_connections')").fetchall())
    return int(rows["max_connections"]), int(rows["superuser_reserved_connections"]) + int(
        rows.get("reserved_connections", 0))


def assert_planted(report: ChecklistReport) -> None:
    assert_complete(report)
    got = items(report)
    pooling = got["performance.connection_pooling"]
    assert pooling.status is ItemStatus.FAIL, pooling.reason
    assert located(report, "performance.connection_pooling") == {
        "repo.pool_exceeds_server": {("app/db.py", 8)},
        "repo.pool_no_pre_ping": {("app/db.py", 8)},
    }
    assert pooling.evidence["workers"] == 8 and "gunicorn.conf.py:2" in str(pooling.evidence["workers_source"])
    assert pooling.evidence["max_application_connections"] == 800  # (50 + 50) x 8
    assert "assumption" in str(pooling.evidence["cores_source"])
    cache = got["performance.cache_layer"]
    assert cache.status is ItemStatus.WARN, cache.reason
    assert located(report, "performance.cache_layer") == {
        "repo.cache_no_ttl": {("app/cache.py", 17)},  # set() in the cache-aside read
        "repo.cache_key_unnamespaced": {("app/cache.py", 45)},  # "featured"
    }
    patterns = " ".join(str(p) for p in cache.evidence["patterns"])  # type: ignore[union-attr]
    assert "cache-aside app/cache.py:17" in patterns and "write-through app/cache.py:34" in patterns
    assert "invalidation on write app/cache.py:41" in patterns
    rollback = got["migrations.rollback"]
    assert rollback.status is ItemStatus.FAIL
    assert located(report, "migrations.rollback") == {
        "health.migration_without_rollback": {("alembic/versions/0002_orders.py", 18)}}
    assert rollback.evidence["migration_files"] == 3


@pytest.mark.postgres
def test_fixture_repository_on_postgres(postgres_db: PostgresFactory) -> None:
    url = postgres_db(SCHEMA)
    report = checklist_review(url, paths=[str(APP)])
    assert_planted(report)
    max_connections, reserved = postgres_limits(url)
    pool = finding(report, "repo.pool_exceeds_server")
    assert pool.evidence["usable_connections"] == max_connections - reserved
    assert pool.evidence["max_connections"] == max_connections
    assert f"800 connections; the server accepts {max_connections - reserved}" in pool.message


@pytest.mark.mysql
def test_fixture_repository_on_mariadb(mysql_db: MysqlFactory) -> None:
    url = mysql_db(SCHEMA)
    report = checklist_review(url, paths=[str(APP)])
    assert_planted(report)
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@max_connections")
            row: Any = cur.fetchone()
    finally:
        conn.close()
    max_connections = int(row[0] if isinstance(row, tuple) else next(iter(row.values())))
    pool = finding(report, "repo.pool_exceeds_server")
    assert pool.evidence["usable_connections"] == max_connections
    assert f"the server accepts {max_connections} (max_connections)" in pool.message


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.mark.postgres
def test_well_sized_pool_and_ttl_writes_pass(postgres_db: PostgresFactory, tmp_path: Path) -> None:
    write(tmp_path, "app/db.py", """
        from sqlalchemy import create_engine
        engine = create_engine("postgresql://app@db/app", pool_size=4, max_overflow=2, pool_pre_ping=True)
        """)
    write(tmp_path, "app/cache.py", """
        import redis
        r = redis.Redis()
        def get_user(uid):
            cached = r.get(f"user:{uid}:v1")
            if cached is None:
                cached = load(uid)
                r.set(f"user:{uid}:v1", cached, ex=300)
            return cached
        """)
    url = postgres_db("CREATE TABLE users (id bigint PRIMARY KEY);")
    report = checklist_review(url, paths=[str(tmp_path)])
    assert_complete(report)
    got = items(report)
    pooling, cache = got["performance.connection_pooling"], got["performance.cache_layer"]
    assert pooling.status is ItemStatus.PASS, pooling.reason
    assert pooling.finding_ids == []
    assert pooling.evidence["max_application_connections"] == 6  # (4 + 2) x 1 worker, assumed
    assert "assumption: 1 worker" in str(pooling.evidence["workers_source"])
    assert cache.status is ItemStatus.PASS, cache.reason
    assert cache.evidence["writes_without_ttl"] == 0 and cache.evidence["keys_versioned"] == 2
    assert not [f for f in report.findings if f.rule_id.startswith("repo.")]
    # With the real core count given, 6 connections are above 1 core x 2 + 1 spindle: a low finding, warn.
    report = checklist_review(url, paths=[str(tmp_path)],
                              options=RuleOptions(thresholds={"health.pool.cores": 1}))
    pooling = items(report)["performance.connection_pooling"]
    assert pooling.status is ItemStatus.WARN and pooling.evidence["recommended_pool_size"] == 3
    assert located(report, "performance.connection_pooling") == {"repo.pool_above_recommended": {("app/db.py", 2)}}


@pytest.mark.postgres
def test_cli_text_and_json_on_the_fixture(postgres_db: PostgresFactory) -> None:
    url = postgres_db(SCHEMA)
    code, out, err = run_cli("checklist-review", "--dsn", url, "--paths", str(APP), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    places = {(f["rule_id"], f["location"]["file"], f["location"]["line"])
              for f in data["findings"] if f["rule_id"].startswith("repo.") or "rollback" in f["rule_id"]}
    assert places == {
        ("repo.pool_exceeds_server", "app/db.py", 8), ("repo.pool_no_pre_ping", "app/db.py", 8),
        ("repo.cache_no_ttl", "app/cache.py", 17), ("repo.cache_key_unnamespaced", "app/cache.py", 45),
        ("health.migration_without_rollback", "alembic/versions/0002_orders.py", 18),
    }
    code, out, err = run_cli("checklist-review", "--dsn", url, "--paths", str(APP))
    assert code == 0, err
    assert "[FAIL] Connection pooling configured" in out and "[WARN] Cache layer implemented" in out
    for where in ("app/db.py:8", "app/cache.py:17", "app/cache.py:45", "alembic/versions/0002_orders.py:18"):
        assert where in out, where

"""Shared pools (`dbsage serve`): one bounded pool per PostgreSQL database, reused across calls."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import psycopg
import pytest

from dbsage.tools.errors import InputError
from dbsage.tools.explain import explain_query
from dbsage.tools.sources.guard import Limits, LiveDatabase, SharedDatabases, share_connections, stop_sharing
from tests.conftest import PostgresFactory

SCRIPT = "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'x' FROM generate_series(1, 1000) g;"


@pytest.fixture
def shared() -> Iterator[SharedDatabases]:
    yield share_connections(pool_size=3)
    stop_sharing()


def backends(url: str) -> int:
    database = urlsplit(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'dbsage'", (database,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_open_returns_the_same_database_while_shared(shared: SharedDatabases, postgres_db: PostgresFactory) -> None:
    url = postgres_db(SCRIPT)
    with LiveDatabase.open(url) as first:
        pass
    second = LiveDatabase.open(url)
    assert second is first and first.shared
    with second.session() as s:  # close() at the end of the first block left the pool open
        assert s.catalog("SELECT count(*) AS n FROM t")[0]["n"] == 1000
    assert LiveDatabase.open(url, limits=Limits(row_cap=5)) is not first  # other limits, other pool
    assert LiveDatabase.open(url, scratch=True) is not first  # scratch databases are never shared
    assert len(shared) == 2


def test_concurrent_calls_never_exceed_the_pool(shared: SharedDatabases, postgres_db: PostgresFactory) -> None:
    url = postgres_db(SCRIPT)
    seen: list[int] = []

    def call(i: int) -> int:
        report = explain_query(dsn=url, sql=f"SELECT * FROM t WHERE v = 'x{i}'")
        seen.append(backends(url))
        return len(report.findings)

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(call, range(48)))
    assert len(results) == 48
    assert 1 <= max(seen) <= 3, seen
    stop_sharing()
    assert backends(url) == 0  # stop_sharing closed the pool


def test_without_sharing_each_call_closes_its_connections(postgres_db: PostgresFactory) -> None:
    url = postgres_db(SCRIPT)
    with LiveDatabase.open(url) as db:
        assert not db.shared
        with db.session() as s:
            s.catalog("SELECT 1")
        assert backends(url) == 1
    assert backends(url) == 0
    with LiveDatabase.open(url) as again:
        assert again is not db


def test_pool_size_must_be_positive() -> None:
    with pytest.raises(InputError, match="pool_size"):
        SharedDatabases(0)

"""Shared pools (`dbsage serve`): one bounded pool per PostgreSQL database, reused across calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import psycopg
import pytest

from dbsage.tools.catalog import Catalog
from dbsage.tools.errors import InputError
from dbsage.tools.explain import explain_query
from dbsage.tools.sources.guard import Limits, LiveDatabase, SharedDatabases, share_connections, stop_sharing
from dbsage.tools.sources.resolve import catalog_from_url
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


def eventually_no_backends(url: str) -> bool:
    """True once the server shows no dbsage connection to the database (a closed one leaves within ms)."""
    deadline = time.monotonic() + 5
    while backends(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    return backends(url) == 0


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
    assert eventually_no_backends(url)  # stop_sharing closed the pool


def test_without_sharing_each_call_closes_its_connections(postgres_db: PostgresFactory) -> None:
    url = postgres_db(SCRIPT)
    with LiveDatabase.open(url) as db:
        assert not db.shared
        with db.session() as s:
            s.catalog("SELECT 1")
        assert backends(url) == 1
    assert eventually_no_backends(url)
    with LiveDatabase.open(url) as again:
        assert again is not db


def test_pool_size_must_be_positive() -> None:
    with pytest.raises(InputError, match="pool_size"):
        SharedDatabases(0)


# -- the catalog cache -------------------------------------------------------------------------------------

DDL_CHANGES = [
    ("ALTER TABLE t ADD COLUMN note text", lambda c: c.table("public", "t").column("note") is not None),
    ("CREATE INDEX t_v ON t (v)", lambda c: any(i.name == "t_v" for i in c.table("public", "t").indexes)),
    ("COMMENT ON TABLE t IS 'changed'", lambda c: c.table("public", "t").comment == "changed"),
    ("ALTER TABLE t ENABLE ROW LEVEL SECURITY", lambda c: c.table("public", "t").rls_enabled),
    ("CREATE TABLE u (id int)", lambda c: c.table("public", "u") is not None),
    ("DROP TABLE t", lambda c: c.table("public", "t") is None),
]


@pytest.fixture
def cached() -> Iterator[SharedDatabases]:
    yield share_connections(pool_size=2, catalog_max_age_s=60)
    stop_sharing()


def test_catalog_is_reused_while_the_schema_is_unchanged(cached: SharedDatabases, postgres_db: PostgresFactory) -> None:
    url = postgres_db(SCRIPT)
    first = catalog_from_url(url)
    second = catalog_from_url(url)
    cache = LiveDatabase.open(url).catalog_cache
    assert cache is not None and (cache.hits, cache.misses) == (1, 1)
    assert second == first and second is not first  # each call gets its own copy
    second.tables.clear()
    assert catalog_from_url(url).table("public", "t") is not None  # a caller's change does not leak


@pytest.mark.parametrize(("ddl", "visible"), DDL_CHANGES, ids=[d for d, _ in DDL_CHANGES])
def test_any_ddl_invalidates_the_cached_catalog(
    cached: SharedDatabases, postgres_db: PostgresFactory, ddl: str, visible: Callable[[Catalog], bool]
) -> None:
    url = postgres_db(SCRIPT)
    assert not visible(catalog_from_url(url))
    with psycopg.connect(url, autocommit=True) as conn:  # another session, as a deploy would
        conn.execute(ddl)
    assert visible(catalog_from_url(url)), ddl


def test_statistics_are_at_most_max_age_old(postgres_db: PostgresFactory) -> None:
    share_connections(pool_size=2, catalog_max_age_s=0.3)
    try:
        url = postgres_db(SCRIPT)
        catalog_from_url(url)
        catalog_from_url(url)
        time.sleep(0.4)
        catalog_from_url(url)
        cache = LiveDatabase.open(url).catalog_cache
        assert cache is not None and (cache.hits, cache.misses) == (1, 2)
    finally:
        stop_sharing()


def test_no_cache_without_a_max_age(shared: SharedDatabases, postgres_db: PostgresFactory) -> None:
    url = postgres_db(SCRIPT)
    assert LiveDatabase.open(url).catalog_cache is None


def test_calls_that_miss_together_load_the_catalog_once(cached: SharedDatabases, postgres_db: PostgresFactory) -> None:
    url = postgres_db(SCRIPT)
    with ThreadPoolExecutor(max_workers=8) as pool:
        catalogs = list(pool.map(lambda _: catalog_from_url(url), range(16)))
    cache = LiveDatabase.open(url).catalog_cache
    assert cache is not None and cache.misses == 1 and cache.hits == 15
    assert all(c == catalogs[0] for c in catalogs)


def test_mariadb_databases_are_shared_without_a_catalog_cache(
    cached: SharedDatabases, mysql_db: Callable[[str], str]
) -> None:
    url = mysql_db("CREATE TABLE t (id int PRIMARY KEY);")
    first = LiveDatabase.open(url)
    assert LiveDatabase.open(url) is first and first.shared and first.catalog_cache is None
    assert catalog_from_url(url).table(first.url.database, "t") is not None  # sessions still connect each time
    assert LiveDatabase.open(url, scratch=True) is not first

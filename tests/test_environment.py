"""The extensions later tools rely on are present where the suite runs (skip outside CI, fail under CI)."""

from __future__ import annotations

from tests.conftest import need
from tests.dbutil import admin_postgres

HYPOPG_HOW = "apt-get install postgresql-15-hypopg"
PGSS_HOW = (
    "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; "
    "then pg_ctlcluster --skip-systemctl-redirect 15 main restart"
)


def test_hypopg_is_installable(postgres_server_url: str) -> None:
    with admin_postgres(postgres_server_url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'hypopg'").fetchone()
    assert row is not None
    need(row[0] == 1, "HypoPG is not installed on the PostgreSQL server", HYPOPG_HOW)


def test_pg_stat_statements_is_preloaded(postgres_server_url: str) -> None:
    with admin_postgres(postgres_server_url) as conn:
        row = conn.execute("SHOW shared_preload_libraries").fetchone()
    assert row is not None
    need("pg_stat_statements" in str(row[0]), "pg_stat_statements is not preloaded", PGSS_HOW)

"""Point-in-time recovery facts on a private PostgreSQL instance with WAL archiving, working then failing.

Archiving is a server-wide setting that needs a restart: it cannot be switched on for the shared server,
so initdb builds a throwaway cluster on a free port that archives into a folder of the test.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from dbsage.tools.backup_facts import BackupFacts, read_backup_facts
from dbsage.tools.backup_plan import backup_plan
from dbsage.tools.catalog import Dialect
from dbsage.tools.sources.guard import LiveDatabase
from tests.conftest import need_private_postgres
from tests.dbutil import PG_BIN, as_postgres, free_port

CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{root}'
fsync = off
shared_buffers = 16MB
max_connections = 20
wal_level = replica
archive_mode = on
archive_command = 'cp %p {root}/wal/%f'
archive_timeout = 30
"""


@pytest.fixture
def archiving_server() -> Iterator[str]:
    need_private_postgres()
    root = Path(tempfile.mkdtemp(prefix="dbsage_archpg_"))
    (root / "wal").mkdir()
    for path in (root, root / "wal"):
        shutil.chown(path, "postgres", "postgres")
    data, port = root / "data", free_port()
    started = False
    try:
        as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-N")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(CONF.format(port=port, root=root))
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "start")
        started = True
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _facts(url: str) -> BackupFacts:
    with LiveDatabase.open(url) as db, db.session() as session:
        return read_backup_facts(session, Dialect.POSTGRES)


def _switch_wal_until(url: str, done: Callable[[psycopg.Connection], bool]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS churn (x int)")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            conn.execute("INSERT INTO churn VALUES (1)")
            conn.execute("SELECT pg_switch_wal()")
            if done(conn):
                return
            time.sleep(0.3)
    pytest.fail("the archiver did not get to the expected state within 20 s")


def _archiver(conn: psycopg.Connection, column: str) -> int:
    row = conn.execute(f"SELECT {column} FROM pg_stat_archiver").fetchone()
    return int(row[0]) if row else 0


def test_archiving_makes_pitr_possible_and_a_failing_archiver_does_not(archiving_server: str) -> None:
    url = archiving_server
    _switch_wal_until(url, lambda conn: _archiver(conn, "archived_count") > 0)
    facts = _facts(url)
    assert facts.pitr_possible is True, facts.pitr_reason
    assert facts.archive_timeout_s == 30 and "30 s" in facts.rpo_now
    assert facts.evidence["last_archived_wal"] and facts.evidence["last_archived_age_seconds"] is not None
    assert facts.evidence["replication_slots_physical"] == 0
    plan = backup_plan(LiveDatabase.open(url).url, Dialect.POSTGRES, 10_000_000, facts, None)
    assert plan.pitr_possible is True and plan.rpo_now == facts.rpo_now

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET archive_command = 'false'")
        conn.execute("SELECT pg_reload_conf()")
    _switch_wal_until(url, lambda conn: _archiver(conn, "failed_count") > 0)
    failing = _facts(url)
    assert failing.pitr_possible is False and "failed" in failing.pitr_reason
    assert "archiver's last success" in failing.rpo_now

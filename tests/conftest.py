"""Shared fixtures: real PostgreSQL, MariaDB/MySQL and SQLite databases made from SQL files.

Servers are found through DBSAGE_TEST_POSTGRES_URL / DBSAGE_TEST_MYSQL_URL, else the local services
on 127.0.0.1. Outside CI a missing server skips the test with the reason; under CI (CI=true) it fails.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.dbutil import (
    admin_mysql,
    admin_postgres,
    mysql_url_for,
    postgres_url_for,
    run_mysql_script,
    run_postgres_script,
)

REPO = Path(__file__).resolve().parent.parent
REALWORLD = Path(os.environ.get("DBSAGE_REALWORLD", REPO.parent / "shared" / "realworld"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str, how: str = "") -> None:
    """Skip (fail under CI) when `condition` does not hold; `how` says how to enable it."""
    if condition:
        return
    message = reason + (f" (enable with: {how})" if how else "")
    if IN_CI:
        pytest.fail("required under CI: " + message)
    pytest.skip(message)


def need_private_postgres() -> None:
    """Skip (fail under CI) unless a private PostgreSQL instance can be started."""
    from tests.dbutil import private_postgres_possible

    need(private_postgres_possible(),
         "needs PostgreSQL 15 server binaries and root (to run them as the postgres OS user)",
         "install postgresql-15 or set DBSAGE_PG_BIN")


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """URL of the admin database of a reachable PostgreSQL server."""
    url = os.environ.get("DBSAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        with admin_postgres(url):
            pass
    except Exception as exc:
        need(False, f"no PostgreSQL server at {url}: {exc}", "set DBSAGE_TEST_POSTGRES_URL")
    return url


@pytest.fixture(scope="session")
def mysql_server_url() -> str:
    """URL of a reachable MariaDB/MySQL server (a user that may create databases)."""
    url = os.environ.get("DBSAGE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/")
    try:
        conn = admin_mysql(url)
        conn.close()
    except Exception as exc:
        need(False, f"no MariaDB/MySQL server at {url}: {exc}", "set DBSAGE_TEST_MYSQL_URL")
    return url


PostgresFactory = Callable[[str], str]


@pytest.fixture
def postgres_db(postgres_server_url: str) -> Iterator[PostgresFactory]:
    """Factory: run a SQL script in a fresh PostgreSQL database and return its URL. Dropped after the test."""
    created: list[str] = []

    def make(script: str) -> str:
        name = f"dbsage_t_{uuid.uuid4().hex[:10]}"
        with admin_postgres(postgres_server_url) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        url = postgres_url_for(postgres_server_url, name)
        run_postgres_script(url, script)
        return url

    yield make
    with admin_postgres(postgres_server_url) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


MysqlFactory = Callable[[str], str]


@pytest.fixture
def mysql_db(mysql_server_url: str) -> Iterator[MysqlFactory]:
    """Factory: run a SQL script in a fresh MariaDB/MySQL database and return its URL. Dropped after."""
    created: list[str] = []

    def make(script: str) -> str:
        name = f"dbsage_t_{uuid.uuid4().hex[:10]}"
        conn = admin_mysql(mysql_server_url)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{name}`")
        finally:
            conn.close()
        created.append(name)
        url = mysql_url_for(mysql_server_url, name)
        run_mysql_script(url, script)
        return url

    yield make
    conn = admin_mysql(mysql_server_url)
    try:
        with conn.cursor() as cur:
            for name in created:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


SqliteFactory = Callable[[str], str]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> SqliteFactory:
    """Factory: run a SQL script into a new SQLite file and return its sqlite:/// URL."""

    def make(script: str) -> str:
        path = tmp_path / f"t_{uuid.uuid4().hex[:8]}.db"
        conn = sqlite3.connect(path)
        try:
            conn.executescript(script)
            conn.commit()
        finally:
            conn.close()
        return f"sqlite:///{path}"

    return make


@pytest.fixture(scope="session")
def realworld() -> Path:
    """The folder of public sample databases (Chinook, Sakila, Pagila)."""
    need(REALWORLD.is_dir(), f"sample databases not found at {REALWORLD}", "set DBSAGE_REALWORLD")
    return REALWORLD

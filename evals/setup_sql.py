"""Fresh databases for eval runs: create one per (scenario, dialect), run its setup file, drop it afterwards.

The setup runs the way the engine's own client would run it: statements split on semicolons outside quotes,
comments and PostgreSQL dollar quoting (dbsage.tools.sources.ddl_script.split_statements; no DELIMITER), one
at a time in autocommit. Setup files are trusted fixtures (they create roles, grants, data), so they go
through the drivers directly, into databases the runner itself created and drops again; roles and users
whose names contain the run's prefix are dropped too.
"""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from dbsage.evals.model import EvalDialect, Scenario
from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import ConnectionFailed, InputError
from dbsage.tools.sources.ddl_script import split_statements
from dbsage.tools.sources.urls import redact

DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_MYSQL_DSN = "mysql://root@127.0.0.1:3306/"
POSTGRES_ENV = "DBSAGE_EVAL_POSTGRES_DSN"
MYSQL_ENV = "DBSAGE_EVAL_MYSQL_DSN"
_SPLIT_DIALECT = {"postgres": Dialect.POSTGRES, "mysql": Dialect.MARIADB, "sqlite": Dialect.SQLITE}
_UNSAFE = re.compile(r"[^a-z0-9_]")


def server_dsns(postgres: str | None = None, mysql: str | None = None) -> dict[str, str]:
    """The servers eval databases are created on: the argument, else the environment, else the local services."""
    return {
        "postgres": postgres or os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_DSN,
        "mysql": mysql or os.environ.get(MYSQL_ENV) or DEFAULT_MYSQL_DSN,
    }


def new_run_prefix() -> str:
    """A unique prefix for one run, put where a setup or task says `{{run}}` (roles are global to a server)."""
    return "dbsage_ev" + uuid.uuid4().hex[:8]


def database_name(scenario: str, run: str) -> str:
    """`dbsage_eval_<scenario>_<random>`, at most 63 characters, safe unquoted on every engine."""
    slug = _UNSAFE.sub("_", scenario.lower())[:40]
    return f"dbsage_eval_{slug}_{run[-8:]}"


def url_with_database(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def setup_script(scenario: Scenario, dialect: EvalDialect, run: str) -> str:
    """The scenario's setup file for `dialect`, with `{{run}}` replaced."""
    if scenario.folder is None:
        raise InputError(f"scenario {scenario.name!r} has no folder to read its setup from")
    path = scenario.folder / f"setup.{dialect}.sql"
    if not path.is_file():
        raise InputError(f"{path}: missing (scenario {scenario.name!r} lists dialect {dialect!r})",
                         hint=f"add setup.{dialect}.sql or remove {dialect!r} from dialects")
    return path.read_text(encoding="utf-8").replace("{{run}}", run)


def split_setup(script: str, dialect: EvalDialect) -> list[str]:
    """Statements of a setup script, in order."""
    return [s.text for s in split_statements(script, _SPLIT_DIALECT[dialect]) if s.text.strip()]


def _mysql_connect(url: str) -> Any:
    import pymysql

    parts = urlsplit(url)
    kwargs: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1", "port": parts.port or 3306,
        "user": unquote(parts.username or "root"), "password": unquote(parts.password or ""),
        "autocommit": True, "charset": "utf8mb4", "connect_timeout": 10,
    }
    if parts.path.strip("/"):
        kwargs["database"] = parts.path.strip("/")
    try:
        return pymysql.connect(**kwargs)
    except pymysql.Error as exc:
        raise ConnectionFailed(f"cannot connect to {redact(url)}: {exc}") from None


def _postgres_connect(url: str) -> Any:
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise ConnectionFailed(f"cannot connect to {redact(url)}: {str(exc).strip()}") from None


def _run_statements(conn: Any, statements: list[str], where: str, postgres: bool) -> None:
    for index, stmt in enumerate(statements):
        try:
            if postgres:
                conn.execute(stmt.encode())  # bytes: no client-side placeholder parsing
            else:
                with conn.cursor() as cur:
                    cur.execute(stmt)  # no parameters: PyMySQL does no % formatting
        except Exception as exc:
            raise InputError(f"{where}: statement {index + 1} failed: {str(exc).strip()}",
                             hint=f"the statement starts: {stmt.strip()[:120]}") from None


@contextmanager
def scenario_database(scenario: Scenario, dialect: EvalDialect, *, run: str, workdir: Path,
                      servers: dict[str, str]) -> Iterator[str]:
    """A new database holding the scenario's setup; yields its URL; dropped (with the run's roles) afterwards."""
    script = setup_script(scenario, dialect, run)
    statements = split_setup(script, dialect)
    name = database_name(scenario.name, run)
    where = f"{scenario.name}/setup.{dialect}.sql"
    if dialect == "sqlite":
        path = workdir / f"{name}.db"
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            for index, stmt in enumerate(statements):
                try:
                    conn.execute(stmt)
                except sqlite3.Error as exc:
                    raise InputError(f"{where}: statement {index + 1} failed: {exc}",
                                     hint=f"the statement starts: {stmt.strip()[:120]}") from None
        finally:
            conn.close()
        try:
            yield f"sqlite:///{path}"
        finally:
            path.unlink(missing_ok=True)
        return
    server = servers[dialect]
    postgres = dialect == "postgres"
    url = url_with_database(server, name)
    admin = _postgres_connect(server) if postgres else _mysql_connect(server)
    try:
        _execute_admin(admin, postgres, f'CREATE DATABASE "{name}"' if postgres else f"CREATE DATABASE `{name}`")
        try:
            conn = _postgres_connect(url) if postgres else _mysql_connect(url)
            try:
                _run_statements(conn, statements, where, postgres)
            finally:
                conn.close()
            yield url
        finally:
            drop_database(admin, postgres, name, run)
    finally:
        admin.close()


def _execute_admin(admin: Any, postgres: bool, sql: str, params: tuple[Any, ...] | None = None) -> list[Any]:
    """Run one administrative statement; its rows, if it returns any."""
    if postgres:
        cur = admin.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []
    with admin.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def drop_database(admin: Any, postgres: bool, name: str, run: str) -> None:
    """Drop the database and every role/user whose name contains the run prefix."""
    like = f"%{run}%"
    if postgres:
        _execute_admin(admin, True, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for (role,) in _execute_admin(admin, True, "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (like,)):
            quoted = '"' + role.replace('"', '""') + '"'
            # Grants a role still holds in other databases would block DROP ROLE; this run made none there.
            _execute_admin(admin, True, f"DROP ROLE IF EXISTS {quoted}")
        return
    _execute_admin(admin, False, f"DROP DATABASE IF EXISTS `{name}`")
    for user, host in _execute_admin(admin, False, "SELECT user, host FROM mysql.user WHERE user LIKE %s", (like,)):
        _execute_admin(admin, False, "DROP USER %s@%s", (user, host))


def database_exists(server_url: str, dialect: EvalDialect, name: str) -> bool:
    """Whether a database of that name is on the server (for tests and cleanup checks)."""
    if dialect == "postgres":
        conn = _postgres_connect(server_url)
        try:
            return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall())
        finally:
            conn.close()
    conn = _mysql_connect(server_url)
    try:
        return bool(_execute_admin(conn, False, "SHOW DATABASES LIKE %s", (name,)))
    finally:
        conn.close()


def write_config(path: Path, url: str, *, scratch: bool) -> Path:
    """A dbsage.toml naming the eval database `app` (for `dbsage serve` and agents that read a config)."""
    mode = "scratch" if scratch else "read_only"
    escaped = url.replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(f'[databases.app]\nurl = "{escaped}"\nmode = "{mode}"\n', encoding="utf-8")
    return path

"""Test-side helpers that set up fixture databases directly (test setup, not dbsage's guarded path)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pymysql

# PostgreSQL's server binaries, for tests that start a private instance (initdb on a port of their own).
PG_BIN = Path(os.environ.get("DBSAGE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def private_postgres_possible() -> bool:
    """True when a test can initdb and run a PostgreSQL instance of its own (server binaries, root)."""
    return (PG_BIN / "initdb").exists() and shutil.which("runuser") is not None and os.geteuid() == 0


def as_postgres(*args: str) -> None:
    """Run a command as the postgres OS user (PostgreSQL's binaries refuse to run as root)."""
    subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def admin_postgres(url: str) -> Iterator[psycopg.Connection[Any]]:
    conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    try:
        yield conn
    finally:
        conn.close()


def postgres_url_for(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def run_postgres_script(url: str, script: str) -> None:
    """Run a multi-statement script the way psql would (simple query protocol, autocommit)."""
    with admin_postgres(url) as conn:
        conn.execute(script.encode())  # bytes: no client-side placeholder parsing


def _mysql_kwargs(url: str) -> dict[str, Any]:
    parts = urlsplit(url.replace("mysql+pymysql://", "mysql://").replace("mariadb://", "mysql://"))
    kwargs: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
        "autocommit": True,
        "charset": "utf8mb4",
        "connect_timeout": 5,
    }
    db = parts.path.lstrip("/")
    if db:
        kwargs["database"] = db
    return kwargs


def admin_mysql(url: str) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(**_mysql_kwargs(url))


def mysql_url_for(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def split_mysql_script(script: str) -> list[str]:
    """Split a script on semicolons outside quotes and comments (no DELIMITER support)."""
    statements: list[str] = []
    buf: list[str] = []
    i, n = 0, len(script)
    quote: str | None = None
    while i < n:
        ch = script[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and quote != "`" and i + 1 < n:
                buf.append(script[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in ("'", '"', "`"):
            quote = ch
            buf.append(ch)
        elif script.startswith("--", i) or ch == "#":
            end = script.find("\n", i)
            i = n if end == -1 else end
            continue
        elif script.startswith("/*", i) and not script.startswith("/*!", i):
            end = script.find("*/", i + 2)
            i = n if end == -1 else end + 2
            continue
        elif ch == ";":
            stmt = "".join(buf).strip()
            if stmt:
                statements.append(stmt)
            buf = []
        else:
            buf.append(ch)
        i += 1
    tail = "".join(buf).strip()
    if tail:
        statements.append(tail)
    return statements


def run_mysql_script(url: str, script: str) -> None:
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            for stmt in split_mysql_script(script):
                if re.match(r"(?is)^\s*(DELIMITER)\b", stmt):
                    raise ValueError("DELIMITER is not supported in test scripts")
                cur.execute(stmt)
    finally:
        conn.close()

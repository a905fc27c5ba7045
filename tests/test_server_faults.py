"""The MCP server when the database fails under it, a query hangs or a client goes away; stdio stays clean.

The database faults are staged on a private PostgreSQL instance this module creates (initdb as the
postgres OS user, a free port, a temporary directory) and removes: restarting or stopping the shared
server would break the other tests running on it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent

from dbsage.server.config import DatabaseConfig, DbsageConfig
from dbsage.server.mcp_server import build_server
from tests.conftest import need_private_postgres
from tests.dbutil import PG_BIN, free_port
from tests.test_http_limits import DEBUG_LAUNCHER, http_server

CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
fsync = off
shared_buffers = 16MB
max_connections = 30
"""
# Burns one CPU until the statement timeout ends it (pg_sleep is refused by the guard).
SLOW_SQL = "SELECT count(*) FROM generate_series(1, 2000000000) AS g"
FAST_SQL = "SELECT name FROM items WHERE id = 1"


@dataclass
class Instance:
    root: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/faults"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data),
             "-l", str(self.root / "log"), "-w", *args],
            check=True, capture_output=True, timeout=60,
        )

    def dbsage_backends(self) -> list[dict[str, Any]]:
        """The server's connections to the fixture database (application_name 'dbsage')."""
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            cur = conn.execute(
                "SELECT pid, state, xact_start IS NOT NULL AS in_transaction, query FROM pg_stat_activity "
                "WHERE datname = 'faults' AND application_name = 'dbsage'"
            )
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def wait_until_dbsage_backends_idle(self, timeout_s: float) -> list[dict[str, Any]]:
        """The server's connections still running or inside a transaction after `timeout_s` (pooled idle
        connections, which `dbsage serve` keeps for the next call, do not count)."""
        deadline = time.monotonic() + timeout_s
        while True:
            busy = [b for b in self.dbsage_backends() if b["state"] != "idle" or b["in_transaction"]]
            if not busy or time.monotonic() > deadline:
                return busy
            time.sleep(0.2)

    def wait_until_no_dbsage_backends(self, timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            left = self.dbsage_backends()
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)


@pytest.fixture(scope="module")
def instance() -> Iterator[Instance]:
    need_private_postgres()
    root = Path(tempfile.mkdtemp(prefix="dbsage_faults_"))
    shutil.chown(root, "postgres", "postgres")
    inst = Instance(root, root / "data", free_port())
    started = False
    try:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", str(inst.data), "-U", "postgres",
             "--auth=trust", "-N"],
            check=True, capture_output=True, timeout=120,
        )
        with (inst.data / "postgresql.conf").open("a") as conf:
            conf.write(CONF.format(port=inst.port, sockets=root))
        inst.pg_ctl("start")
        started = True
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{inst.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE faults")
        with psycopg.connect(inst.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
            conn.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g")
        yield inst
    finally:
        if started:
            subprocess.run(
                ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(inst.data), "-m", "immediate",
                 "stop"], capture_output=True, timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


def config_for(url: str, statement_timeout_ms: int = 30_000) -> DbsageConfig:
    return DbsageConfig(databases={"app": DatabaseConfig(url=url, statement_timeout_ms=statement_timeout_ms)})


def text_of(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


def error_of(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error, text_of(result)[:300]
    payload: dict[str, Any] = json.loads(text_of(result))
    return payload


def explain(sql: str, *, analyze: bool = False) -> dict[str, Any]:
    return {"database": "app", "sql": sql, "analyze": analyze}


# --- the database fails under the server ---------------------------------------------------------


def test_database_restarted_mid_session(instance: Instance) -> None:
    async def session() -> tuple[CallToolResult, CallToolResult, CallToolResult]:
        async with Client(build_server(config_for(instance.url))) as client:
            before = await client.call_tool("explain_query", explain(FAST_SQL))
            in_flight: dict[str, CallToolResult] = {}

            async def slow() -> None:
                in_flight["result"] = await client.call_tool("explain_query", explain(SLOW_SQL, analyze=True))

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                deadline = time.monotonic() + 10
                while not any("generate_series" in (b["query"] or "") for b in instance.dbsage_backends()):
                    assert time.monotonic() < deadline, "the slow statement never started"
                    await anyio.sleep(0.1)
                await anyio.to_thread.run_sync(lambda: instance.pg_ctl("-m", "fast", "restart"))
            after = await client.call_tool("explain_query", explain(FAST_SQL))
            return before, in_flight["result"], after

    before, interrupted, after = anyio.run(session)
    assert not before.is_error
    payload = error_of(interrupted)
    assert payload["error"] == "query_failed", payload
    assert "terminat" in payload["message"] or "connection" in payload["message"], payload
    assert "retried" in payload.get("hint", ""), payload
    assert "Traceback" not in text_of(interrupted)
    assert not after.is_error, text_of(after)
    assert after.structured_content and after.structured_content["plan"] is not None


def test_hanging_query_is_ended_by_the_timeout_and_the_server_keeps_answering(instance: Instance) -> None:
    async def session() -> tuple[CallToolResult, float, list[float], CallToolResult]:
        async with Client(build_server(config_for(instance.url, statement_timeout_ms=3000))) as client:
            got: dict[str, Any] = {}
            quick: list[float] = []

            async def slow() -> None:
                started = time.monotonic()
                got["slow"] = await client.call_tool("explain_query", explain(SLOW_SQL, analyze=True))
                got["slow_s"] = time.monotonic() - started

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                await anyio.sleep(0.5)
                while "slow" not in got:
                    started = time.monotonic()
                    answer = await client.call_tool("explain_query", explain(FAST_SQL))
                    assert not answer.is_error, text_of(answer)
                    quick.append(time.monotonic() - started)
                    await anyio.sleep(0.2)
            after = await client.call_tool("inspect_schema", {"database": "app"})
            return got["slow"], got["slow_s"], quick, after

    slow, slow_s, quick, after = anyio.run(session)
    payload = error_of(slow)
    assert payload["error"] == "query_failed" and "statement timeout" in payload["message"], payload
    assert 2.5 < slow_s < 15
    # Other calls were answered while the slow one ran, each well within the timeout.
    assert len(quick) >= 3 and max(quick) < 2.0, quick
    assert not after.is_error
    assert instance.wait_until_no_dbsage_backends(5) == []


def test_database_unreachable_at_start_then_back(instance: Instance, tmp_path: Path) -> None:
    instance.pg_ctl("-m", "fast", "stop")
    try:
        config = f'[databases.app]\nurl = "{instance.url}"\n'
        with http_server(tmp_path, config) as (port, _):

            async def session() -> tuple[CallToolResult, CallToolResult]:
                async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                    down = await client.call_tool("inspect_schema", {"database": "app"})
                    await anyio.to_thread.run_sync(lambda: instance.pg_ctl("start"))
                    up = await client.call_tool("inspect_schema", {"database": "app"})
                    return down, up

            down, up = anyio.run(session)
    finally:
        if not (instance.data / "postmaster.pid").exists():
            instance.pg_ctl("start")
    payload = error_of(down)
    assert payload["error"] == "unreachable" and str(instance.port) in payload["message"], payload
    assert payload.get("hint")
    assert not up.is_error, text_of(up)


def test_client_disconnecting_mid_call_leaves_no_connection_or_transaction(
    instance: Instance, tmp_path: Path
) -> None:
    config = f'[databases.app]\nurl = "{instance.url}"\nstatement_timeout_ms = 3000\n'
    with http_server(tmp_path, config) as (port, proc):

        async def go_away_mid_call() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                with anyio.move_on_after(1.0):
                    await client.call_tool("explain_query", explain(SLOW_SQL, analyze=True))
                    raise AssertionError("the slow call returned within a second")

        anyio.run(go_away_mid_call)
        # The statement may still run on the server until its timeout; then nothing may be busy, and
        # only the pool's idle connections (at most [server] pool_size, default 8) may stay open.
        assert instance.wait_until_dbsage_backends_idle(10) == []
        assert len(instance.dbsage_backends()) <= 8
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{instance.port}/postgres", autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'faults' AND xact_start IS NOT NULL "
                "AND pid <> pg_backend_pid()"
            ).fetchone()
            assert row is not None and row[0] == 0

        async def next_client() -> CallToolResult:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                return await client.call_tool("explain_query", explain(FAST_SQL))

        assert not anyio.run(next_client).is_error
        assert proc.poll() is None


# --- stdio: the protocol stream stays clean --------------------------------------------------------


def test_stdio_logs_go_to_stderr_only_even_at_debug(instance: Instance, tmp_path: Path) -> None:
    config = tmp_path / "dbsage.toml"
    config.write_text(f'[databases.app]\nurl = "{instance.url}"\n', encoding="utf-8")
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "h3", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "explain_query", "arguments": explain(FAST_SQL)}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "explain_query", "arguments": explain("SELECT * FROM no_such_table")}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
            "name": "inspect_schema", "arguments": {"database": "app"}}},
    ]
    stderr_file = tmp_path / "stderr.log"
    with stderr_file.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", DEBUG_LAUNCHER, "serve", "--config", str(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd=tmp_path,
        )
    assert proc.stdin is not None and proc.stdout is not None
    answered: dict[int, dict[str, Any]] = {}
    stdout_lines: list[bytes] = []
    try:
        for message in messages:
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()
            if "id" not in message:
                continue
            while message["id"] not in answered:
                line = proc.stdout.readline()
                assert line, "the server closed stdout"
                stdout_lines.append(line)
                parsed = json.loads(line)  # every line on stdout is a protocol message
                if "id" in parsed:
                    answered[parsed["id"]] = parsed
        rest, _ = proc.communicate(timeout=30)  # closes stdin: the server ends with the stream
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stdout_lines += rest.splitlines()
    for line in stdout_lines:
        assert json.loads(line)["jsonrpc"] == "2.0", line[:200]
    assert not answered[2]["result"].get("isError") and answered[3]["result"]["isError"]
    assert not answered[4]["result"].get("isError")
    log = stderr_file.read_text(encoding="utf-8", errors="replace")
    # The logging was on and busy, and all of it went to stderr.
    assert "dbsage.guard DEBUG" in log and "no_such_table" in log

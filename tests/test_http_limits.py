"""The HTTP transport's limits: who may connect (bind, token, Host, Origin), how much they may send, what leaks.

Each test runs `dbsage serve --transport http` as a real process on a free loopback port.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import TextContent

from dbsage.server.config import DbsageConfig, ServerConfig
from dbsage.server.mcp_server import MAX_REQUEST_BYTES, check_http_bind, transport_security
from dbsage.tools.errors import ConfigError
from tests.conftest import PostgresFactory
from tests.dbutil import free_port

VENV_BIN = Path(sys.executable).parent
TOKEN = "h3-token-for-http-limit-tests"
# Runs the CLI with every logger at DEBUG on stderr, as an operator chasing a problem would.
DEBUG_LAUNCHER = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format='%(name)s %(levelname)s %(message)s')\n"
    "from dbsage.server.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@contextmanager
def http_server(
    tmp_path: Path, config_text: str = "", *, debug_logs: bool = False
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`dbsage serve --transport http` on a free loopback port; yields (port, process). Stopped after."""
    config = tmp_path / "dbsage.toml"
    config.write_text(config_text, encoding="utf-8")
    port = free_port()
    command = [str(VENV_BIN / "dbsage")] if not debug_logs else [sys.executable, "-c", DEBUG_LAUNCHER]
    command += ["serve", "--config", str(config), "--transport", "http", "--port", str(port)]
    log = tmp_path / f"server-{port}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(command, stdout=err, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log.read_text(errors="replace")) from None
                time.sleep(0.1)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_log(tmp_path: Path, port: int) -> str:
    return (tmp_path / f"server-{port}.log").read_text(encoding="utf-8", errors="replace")


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "h3", "version": "1"}},
}


def post(port: int, headers: dict[str, str] | None = None, body: bytes | None = None) -> int:
    """POST to /mcp (an initialize request by default); the HTTP status."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/mcp",
        data=json.dumps(INITIALIZE).encode() if body is None else body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                 **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def raw_exchange(port: int, head: str, body: bytes, *, read_timeout: float = 10) -> tuple[str, float]:
    """Send `head` and `body` on a raw socket; the status line of the answer and the seconds it took."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        started = time.monotonic()
        sock.sendall(head.encode() + body)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer.split(b"\r\n", 1)[0].decode(), time.monotonic() - started


# --- binding ------------------------------------------------------------------------------------


def test_no_token_means_loopback_only() -> None:
    open_config = DbsageConfig()
    for host in ("0.0.0.0", "::", "192.168.1.10", "db-tools.internal"):
        with pytest.raises(ConfigError) as refused:
            check_http_bind(open_config, host)
        assert "token" in refused.value.message and refused.value.hint
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1"):
        check_http_bind(open_config, host)
    check_http_bind(DbsageConfig(server=ServerConfig(token=TOKEN)), "0.0.0.0")


def test_serve_refuses_a_public_bind_without_a_token(tmp_path: Path) -> None:
    port = free_port()
    done = subprocess.run(
        [str(VENV_BIN / "dbsage"), "serve", "--transport", "http", "--host", "0.0.0.0", "--port", str(port)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={"PATH": str(VENV_BIN)},
    )
    assert done.returncode != 0
    assert "without a bearer token" in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


# --- Host and Origin (DNS rebinding) -------------------------------------------------------------


def test_host_and_origin_checks_on_loopback(tmp_path: Path) -> None:
    with http_server(tmp_path) as (port, _):
        assert post(port) == 200
        assert post(port, {"Origin": f"http://localhost:{port}"}) == 200
        assert post(port, {"Origin": f"http://127.0.0.1:{port}"}) == 200
        assert post(port, {"Host": f"localhost:{port}"}) == 200
        # A rebinding page: its own name in Host, or its own origin.
        assert post(port, {"Host": f"attacker.example:{port}"}) == 421
        assert post(port, {"Host": f"127.0.0.1.attacker.example:{port}"}) == 421
        assert post(port, {"Host": ""}) == 421
        assert post(port, {"Origin": "http://attacker.example"}) == 403
        assert post(port, {"Origin": f"http://localhost.attacker.example:{port}"}) == 403
        assert post(port, {"Origin": "null"}) == 403
        assert post(port, {"Origin": f"https://evil.example@127.0.0.1:{port}"}) == 403


def test_configured_hosts_and_origins_are_added_not_substituted() -> None:
    config = DbsageConfig(server=ServerConfig(
        token=TOKEN, allowed_hosts=["tools.internal:*"], allowed_origins=["https://app.example.com"]
    ))
    loopback = transport_security(config, "127.0.0.1")
    assert {"127.0.0.1:*", "localhost:*", "tools.internal:*"} <= set(loopback.allowed_hosts)
    assert "https://app.example.com" in loopback.allowed_origins
    specific = transport_security(config, "10.0.0.5")
    assert specific.enable_dns_rebinding_protection and "10.0.0.5:*" in specific.allowed_hosts
    assert "[fd00::5]:*" in transport_security(config, "fd00::5").allowed_hosts
    wildcard_open = transport_security(DbsageConfig(server=ServerConfig(token=TOKEN)), "0.0.0.0")
    assert not wildcard_open.enable_dns_rebinding_protection  # the bearer token is the check then
    assert transport_security(config, "0.0.0.0").enable_dns_rebinding_protection


def test_token_is_checked_before_anything_else(tmp_path: Path) -> None:
    with http_server(tmp_path, f'[server]\ntoken = "{TOKEN}"\n', debug_logs=True) as (port, _):
        assert post(port) == 401
        assert post(port, {"Authorization": f"Bearer {TOKEN}x"}) == 401
        assert post(port, {"Authorization": f"Basic {TOKEN}"}) == 401
        assert post(port, {"Authorization": f"Bearer {TOKEN}"}) == 200
        # An oversized body without the token is refused without being read as a request.
        big = b"x" * (MAX_REQUEST_BYTES + 1)
        assert post(port, body=big) in (401, 413)
        log = server_log(tmp_path, port)
    # The debug log followed the requests; the token they carried never appears in it.
    assert "Created new transport" in log and TOKEN not in log


# --- request size -------------------------------------------------------------------------------


def test_request_body_over_the_limit_is_413_without_being_read(tmp_path: Path) -> None:
    with http_server(tmp_path) as (port, _):
        # Declared too large: answered at once, though almost nothing of the 100 MiB was sent.
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            "Accept: application/json, text/event-stream\r\nContent-Length: 104857600\r\n\r\n"
        )
        status, seconds = raw_exchange(port, head, b'{"jsonrpc": "2.0"')
        assert status.split()[1] == "413" and seconds < 5
        # Sent in chunks without a length: cut off once the limit is passed.
        chunk = b"x" * 65536
        chunked_head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            "Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunks = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") * (MAX_REQUEST_BYTES // len(chunk) + 2)
        status, _ = raw_exchange(port, chunked_head, chunks)
        assert status.split()[1] == "413"
        # Just under the limit: read and parsed (a JSON-RPC request with a long, ignored field).
        padded = dict(INITIALIZE, padding="p" * (MAX_REQUEST_BYTES - 1000))
        assert post(port, body=json.dumps(padded).encode()) == 200
        # And the server still serves.
        assert post(port) == 200


# --- secrets ------------------------------------------------------------------------------------


def test_passwords_never_reach_responses_or_debug_logs(tmp_path: Path, postgres_db: PostgresFactory) -> None:
    secret = "H3-s3cret-pw-9f2c"
    url = postgres_db("CREATE TABLE items (id int PRIMARY KEY, name text);")
    # The local server trusts loopback, so the password is sent and ignored: the calls succeed.
    with_password = url.replace("postgresql://postgres@", f"postgresql://postgres:{secret}@")
    missing_db = with_password.rsplit("/", 1)[0] + "/dbsage_h3_no_such_database"
    config = (
        f'[databases.shop]\nurl = "{with_password}"\n'
        f'[databases.gone]\nurl = "{missing_db}"\n'
        f'[databases.down]\nurl = "postgresql://app:{secret}@127.0.0.1:1/app"\n'
    )
    with http_server(tmp_path, config, debug_logs=True) as (port, _):

        async def session() -> list[Any]:
            answers: list[Any] = []
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                answers.append(await client.call_tool("inspect_schema", {"database": "shop"}))
                answers.append(await client.call_tool("explain_query", {
                    "database": "shop", "sql": "SELECT * FROM no_such_table",
                }))
                answers.append(await client.call_tool("explain_query", {
                    "database": "shop", "sql": "SELECT name FROM items WHERE id = 1",
                }))
                answers.append(await client.call_tool("inspect_schema", {"database": "gone"}))
                answers.append(await client.call_tool("inspect_schema", {"database": "down"}))
                answers.append(await client.call_tool("audit_security", {"database": "shop"}))
                answers.append(await client.read_resource("dbsage://databases"))
            return answers

        answers = anyio.run(session)
        log = server_log(tmp_path, port)
    dumped = [a.model_dump_json() for a in answers]
    assert not answers[0].is_error and not answers[2].is_error
    assert answers[1].is_error and "no_such_table" in dumped[1]
    assert answers[3].is_error and "dbsage_h3_no_such_database" in dumped[3]
    assert answers[4].is_error and '\\"error\\": \\"unreachable\\"' in dumped[4]
    assert all(secret not in text for text in dumped), [t[:300] for t in dumped if secret in t]
    # The debug log did record the work (statements sent), only never the password.
    assert "dbsage.guard DEBUG" in log and "no_such_table" in log
    assert secret not in log
    texts = [b.text for a in answers[:6] for b in a.content if isinstance(b, TextContent)]
    assert all(secret not in t for t in texts)

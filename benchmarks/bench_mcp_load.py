"""The MCP server under load: many concurrent HTTP sessions calling tools once a second each.

    python benchmarks/bench_mcp_load.py [--sessions 50] [--duration 60] [--warmup 10] [--url postgresql://postgres@127.0.0.1:5432/postgres]

Creates a fixture database (`dbsage_bench_load_<random>`: customers, orders with 50,000 rows, an
unindexed foreign key), starts `dbsage serve --transport http` on a free loopback port, and opens
--sessions MCP sessions (the SDK's streamable HTTP client). Warm-up: every session connects and
makes its first call at the same moment (the server's cold start, reported on its own line, not in
the figures below). Then, from a common start --warmup seconds after launch, each session calls
one tool a second for --duration seconds: explain_query on a join (even sessions) or inspect_schema of the database
(odd sessions); a session that falls behind calls again at once, and no call starts after the
end. Meanwhile it samples, ten times a second, the server's connections to the fixture
database (pg_stat_activity, application_name 'dbsage') and the server process's RSS.

Baseline, measured in the same run after the load: the same EXPLAIN (FORMAT JSON) sent directly
through psycopg, 500 times on one open connection and 100 times on a new connection each time
(what each call paid before `dbsage serve` kept a pool per database). The ratio dbsage p50 /
psycopg p50 is the overhead of going through MCP, HTTP, the guard and the analysis.

Targets (PASS/FAIL, exit 1 on FAIL): zero errors; explain_query p95 under 200 ms; the server's
connections never above CONNECTION_LIMIT; RSS flat (the last third's median at most 10% or
16 MiB above the second third's). Loopback only; stops by itself; drops the database at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from mcp import Client

# `dbsage serve` keeps one pool per database ([server] pool_size, written into the bench's config):
# the server may never hold more connections to the fixture than that.
CONNECTION_LIMIT = 8
TARGET_P95_MS = 200.0
RSS_GROWTH_RATIO = 0.10
RSS_GROWTH_BYTES = 16 * 1024 * 1024
EXPLAIN_SQL = (
    "SELECT o.id, o.total, c.email FROM orders o JOIN customers c ON c.id = o.customer_id "
    "WHERE c.email = 'customer42@example.com' ORDER BY o.created_at DESC LIMIT 20"
)
FIXTURE_SQL = """
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE,
    name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id), total numeric(12, 2) NOT NULL,
    status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE audit_log (at timestamptz NOT NULL DEFAULT now(), message text);
INSERT INTO customers (email, name) SELECT 'customer' || g || '@example.com', 'Customer ' || g
    FROM generate_series(1, 5000) g;
INSERT INTO orders (customer_id, total, created_at) SELECT 1 + g % 5000, (g % 997) / 3.0,
    now() - g * interval '1 minute' FROM generate_series(1, 50000) g;
ANALYZE;
"""


@dataclass
class Samples:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {"explain_query": [], "inspect_schema": []})
    errors: list[str] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    rss_bytes: list[int] = field(default_factory=list)
    late_starts: int = 0
    first_call_ms: list[float] = field(default_factory=list)


def database_url(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def one_session(url: str, index: int, start: float, deadline: float, samples: Samples) -> None:
    tool = "explain_query" if index % 2 == 0 else "inspect_schema"
    arguments: dict[str, Any] = {"database": "bench"}
    if tool == "explain_query":
        arguments["sql"] = EXPLAIN_SQL
    try:
        async with Client(url) as client:
            # Warm-up, not measured: every session opens and makes its first call at once (the server's
            # cold start: sessions created, connections opened, the catalog read, modules imported).
            began = time.perf_counter()
            first = await client.call_tool(tool, arguments)
            if first.is_error:
                samples.errors.append(f"{tool} (first call): {first.content}")
            samples.first_call_ms.append((time.perf_counter() - began) * 1000)
            next_at = start + (index % 50) / 50
            while next_at < deadline and time.monotonic() < deadline:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                if time.monotonic() - next_at > 1.0:
                    samples.late_starts += 1
                started = time.perf_counter()
                try:
                    result = await client.call_tool(tool, arguments)
                except Exception as exc:  # a transport or protocol failure is an error to count
                    samples.errors.append(f"{tool}: {type(exc).__name__}: {exc}")
                else:
                    if result.is_error:
                        samples.errors.append(f"{tool}: {result.content}")
                    else:
                        samples.latencies_ms[tool].append((time.perf_counter() - started) * 1000)
                next_at += 1.0
    except Exception as exc:
        samples.errors.append(f"session {index}: {type(exc).__name__}: {exc}")


def sampler(admin_url: str, database: str, pid: int, stop: threading.Event, samples: Samples) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        while not stop.is_set():
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'dbsage'",
                [database],
            ).fetchone()
            samples.connections.append(int(row[0]) if row else 0)
            samples.rss_bytes.append(rss_of(pid))
            stop.wait(0.1)


def baseline(url: str) -> tuple[list[float], list[float]]:
    """EXPLAIN through psycopg: on one open connection, and on a new connection each time (ms)."""
    sql = f"EXPLAIN (FORMAT JSON) {EXPLAIN_SQL}"
    warm: list[float] = []
    with psycopg.connect(url) as conn:
        conn.execute(sql).fetchall()
        for _ in range(500):
            started = time.perf_counter()
            conn.execute(sql).fetchall()
            warm.append((time.perf_counter() - started) * 1000)
            conn.rollback()
    fresh: list[float] = []
    for _ in range(100):
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            conn.execute(sql).fetchall()
        fresh.append((time.perf_counter() - started) * 1000)
    return warm, fresh


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start") from None
            time.sleep(0.1)


def run(args: argparse.Namespace) -> int:
    database = f"dbsage_bench_load_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(args.url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    proc: subprocess.Popen[bytes] | None = None
    workdir = Path(tempfile.mkdtemp(prefix="dbsage_load_"))
    try:
        url = database_url(args.url, database)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(FIXTURE_SQL.encode())
        (workdir / "dbsage.toml").write_text(
            f'[databases.bench]\nurl = "{url}"\n\n[server]\npool_size = {CONNECTION_LIMIT}\n'
            f"catalog_max_age_s = {args.catalog_max_age}\n", encoding="utf-8"
        )
        port = free_port()
        dbsage = Path(sys.executable).parent / "dbsage"
        with (workdir / "server.log").open("wb") as log:
            proc = subprocess.Popen(
                [str(dbsage), "serve", "--config", str(workdir / "dbsage.toml"), "--transport", "http",
                 "--host", "127.0.0.1", "--port", str(port)],
                stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
            )
        wait_for_port(port, proc)
        samples = Samples()
        stop = threading.Event()
        watcher = threading.Thread(target=sampler, args=(args.url, database, proc.pid, stop, samples), daemon=True)
        watcher.start()
        mcp_url = f"http://127.0.0.1:{port}/mcp"
        print(f"load: {args.sessions} sessions x 1 call/s for {args.duration:.0f} s against {mcp_url} "
              f"(after {args.warmup:.0f} s of warm-up)", flush=True)
        started = time.monotonic() + args.warmup

        async def everyone() -> None:
            deadline = started + args.duration
            await asyncio.gather(*(one_session(mcp_url, i, started, deadline, samples) for i in range(args.sessions)))

        asyncio.run(everyone())
        elapsed = time.monotonic() - started
        time.sleep(1.0)
        stop.set()
        watcher.join()
        warm, fresh = baseline(url)
        return report(args, samples, elapsed, warm, fresh)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(workdir, ignore_errors=True)


def report(args: argparse.Namespace, samples: Samples, elapsed: float, warm: list[float], fresh: list[float]) -> int:
    calls = sum(len(v) for v in samples.latencies_ms.values())
    offered = args.sessions * args.duration
    print(f"calls: {calls} ok, {len(samples.errors)} errors in {elapsed:.1f} s = {calls / elapsed:.1f} calls/s "
          f"(offered {offered / args.duration:.0f}/s; {samples.late_starts} calls started over 1 s late)")
    for tool, values in samples.latencies_ms.items():
        print(f"  {tool:15s} n={len(values):5d}  p50 {percentile(values, 50):7.1f} ms  "
              f"p95 {percentile(values, 95):7.1f} ms  p99 {percentile(values, 99):7.1f} ms  "
              f"max {max(values, default=float('nan')):7.1f} ms")
    first = samples.first_call_ms
    print(f"  warm-up (each session's first call, all at once, not counted above): n={len(first)}  "
          f"p50 {percentile(first, 50):7.1f} ms  p95 {percentile(first, 95):7.1f} ms  "
          f"max {max(first, default=float('nan')):7.1f} ms")
    for error in samples.errors[:5]:
        print(f"  error: {error[:300]}")
    explain = samples.latencies_ms["explain_query"]
    print(f"baseline psycopg EXPLAIN, open connection: p50 {percentile(warm, 50):.2f} ms  "
          f"p95 {percentile(warm, 95):.2f} ms")
    print(f"baseline psycopg EXPLAIN, new connection:  p50 {percentile(fresh, 50):.2f} ms  "
          f"p95 {percentile(fresh, 95):.2f} ms")
    ratio_warm = percentile(explain, 50) / percentile(warm, 50)
    ratio_fresh = percentile(explain, 50) / percentile(fresh, 50)
    print(f"overhead (explain_query p50 / psycopg p50): x{ratio_warm:.1f} (open connection), "
          f"x{ratio_fresh:.1f} (new connection)")
    max_connections = max(samples.connections, default=0)
    print(f"server connections to the database: max {max_connections}, "
          f"mean {statistics.fmean(samples.connections or [0]):.1f} (limit {CONNECTION_LIMIT})")
    rss = samples.rss_bytes
    third = max(1, len(rss) // 3)
    middle, last = statistics.median(rss[third : 2 * third] or rss), statistics.median(rss[2 * third :] or rss)
    growth = last - middle
    print(f"server RSS: start {rss[0] / 2**20:.0f} MiB, middle third {middle / 2**20:.0f} MiB, "
          f"last third {last / 2**20:.0f} MiB, max {max(rss) / 2**20:.0f} MiB")
    checks = {
        "zero errors": not samples.errors,
        f"explain_query p95 < {TARGET_P95_MS:.0f} ms": percentile(explain, 95) < TARGET_P95_MS,
        f"connections <= {CONNECTION_LIMIT}": max_connections <= CONNECTION_LIMIT,
        "memory flat": growth <= max(RSS_GROWTH_BYTES, RSS_GROWTH_RATIO * middle),
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}: {name}")
    return 0 if all(checks.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("DBSAGE_BENCH_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="admin URL of a PostgreSQL server where the user may create databases")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds before the measured window: each session connects and makes its first call")
    parser.add_argument("--catalog-max-age", type=float, default=10.0,
                        help="the server's [server] catalog_max_age_s (0: read the catalog on every call)")
    args = parser.parse_args()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

"""Concurrent traffic on a scratch database while a migration runs: one writer and one reader thread.

Each thread has its own connection (autocommit, no lock timeout: it waits as an application would)
and times every operation. The writer alternates a single-row UPDATE (setting the key and the columns
the migration names to themselves, so a rename or drop under it fails as the application would) with
an INSERT that re-inserts an existing row and is skipped on the key conflict (PostgreSQL ON CONFLICT DO
NOTHING, MariaDB INSERT IGNORE): it takes an insert's locks without adding rows, which could otherwise
break a unique index or foreign key the migration adds. The reader selects one row by key.

The longest wait of a run is the longest operation that overlapped the migration's window. When a
plan reaches its contract phase, `switch()` models the application's new version: the writer no longer
names the touched columns (a contract step may drop or rename them, after the code stopped using them).
"""

from __future__ import annotations

import contextlib
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.rules.fix_sql import quote, table_ref
from dbsage.tools.sources.guard import LiveDatabase
from dbsage.tools.sources.urls import redact

PAUSE_S = 0.002
KEY_SAMPLE = 2000


@dataclass(frozen=True)
class TrafficTable:
    """A table the traffic works on: how to name it, its key columns and the columns the migration names."""

    table: Table
    key: list[str]
    touched: list[str]
    insertable: bool


@dataclass
class Op:
    kind: str  # "write" | "read"
    start: float
    duration: float
    ok: bool
    error: str | None = None


@dataclass
class TrafficResult:
    """Operations seen during one run, and the window the migration ran in."""

    ops: list[Op] = field(default_factory=list)
    window: tuple[float, float] = (0.0, 0.0)

    def _in_window(self, kind: str | None = None) -> list[Op]:
        lo, hi = self.window
        return [o for o in self.ops if o.start < hi and o.start + o.duration > lo and (kind is None or o.kind == kind)]

    def longest_ms(self, kind: str | None = None) -> float:
        ops = self._in_window(kind)
        return max((o.duration for o in ops), default=0.0) * 1000

    def baseline_ms(self) -> float:
        before = [o.duration for o in self.ops if o.start + o.duration <= self.window[0] and o.ok]
        return statistics.median(before) * 1000 if before else 0.0

    def count(self, kind: str) -> int:
        return sum(1 for o in self.ops if o.kind == kind)

    @property
    def errors(self) -> int:
        return sum(1 for o in self.ops if not o.ok)

    def first_error(self) -> str | None:
        return next((o.error for o in self.ops if o.error), None)


def traffic_tables(catalog: Catalog, tables: list[Table], named: set[str]) -> list[TrafficTable]:
    """The tables traffic can address by key (primary key, else a unique index on NOT NULL columns)."""
    out: list[TrafficTable] = []
    for listed in tables:
        t = catalog.table(listed.schema_name, listed.name) or listed
        key: list[str] = list(t.primary_key.columns) if t.primary_key else []
        if not key:
            for index in t.indexes:
                cols = [c for c in index.column_names if c is not None]
                if index.unique and index.predicate is None and len(cols) == len(index.keys) and all(
                    (col := t.column(c)) is not None and not col.nullable for c in cols
                ):
                    key = cols
                    break
        if not key:
            continue
        touched = [
            c.name for c in t.columns
            if c.name.lower() in named and c.name not in key and c.generated is None
        ][:3]
        insertable = all(c.generated is None for c in t.columns)
        out.append(TrafficTable(t, key, touched, insertable))
    return out


class Traffic:
    """A writer and a reader looping over `tables` on `db` until stopped."""

    def __init__(self, db: LiveDatabase, tables: list[TrafficTable], *, timeout_ms: int) -> None:
        self.db = db
        self.dialect = db.dialect
        self.tables = tables
        self.timeout_ms = timeout_ms
        self.result = TrafficResult()
        self._stop = threading.Event()
        self._switched = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._ready = threading.Barrier(3)

    def __enter__(self) -> Traffic:
        if self.tables:
            for kind in ("write", "read"):
                thread = threading.Thread(target=self._loop, args=(kind,), name=f"dbsage-{kind}", daemon=True)
                thread.start()
                self._threads.append(thread)
            with contextlib.suppress(threading.BrokenBarrierError):  # a thread failed; its error is recorded
                self._ready.wait(timeout=30)
        return self

    def switch(self) -> None:
        """The application's new version: the writer stops naming the columns the migration touches."""
        self._switched.set()

    def mark(self, start: float, end: float) -> None:
        """The migration's window: operations overlapping it count."""
        self.result.window = (start, end)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _record(self, op: Op) -> None:
        with self._lock:
            self.result.ops.append(op)

    def _loop(self, kind: str) -> None:
        ready = False
        try:
            with self.db.scratch_connection() as conn:
                self._settings(conn)
                keys = {id(t): self._keys(conn, t) for t in self.tables}
                statements = [
                    (keys[id(t)], self._statements(t, kind), self._statements(t, kind, switched=True))
                    for t in self.tables if keys[id(t)]
                ]
                self._ready.wait(timeout=30)
                ready = True
                n = 0
                while not self._stop.is_set() and statements:
                    sample, before, after = statements[n % len(statements)]
                    sqls = after if self._switched.is_set() else before
                    sql = sqls[(n // len(statements)) % len(sqls)]
                    n += 1
                    params = random.choice(sample)
                    start = time.perf_counter()
                    try:
                        with conn.cursor() as cur:
                            cur.execute(sql, params)
                            if kind == "read":
                                cur.fetchall()
                        self._record(Op(kind, start, time.perf_counter() - start, True))
                    except Exception as exc:  # the driver's own error types differ per engine
                        message = redact(" ".join(str(exc).split()))[:300]
                        self._record(Op(kind, start, time.perf_counter() - start, False, message))
                        if getattr(conn, "closed", False):
                            break
                    time.sleep(PAUSE_S)
        except Exception as exc:
            self._record(Op(kind, time.perf_counter(), 0.0, False, redact(" ".join(str(exc).split()))[:300]))
        finally:
            if not ready:
                with contextlib.suppress(threading.BrokenBarrierError):
                    self._ready.wait(timeout=0.1)

    def _settings(self, conn: Any) -> None:
        if self.dialect is Dialect.POSTGRES:
            # Prepared statements would fail with "cached plan must not change result type" after DDL.
            conn.prepare_threshold = None
            conn.execute(f"SET statement_timeout = {int(self.timeout_ms)}".encode())
            conn.execute(b"SET lock_timeout = 0")
        else:
            seconds = max(1, self.timeout_ms // 1000)
            with conn.cursor() as cur:
                cur.execute(f"SET SESSION lock_wait_timeout = {seconds}")
                cur.execute(f"SET SESSION innodb_lock_wait_timeout = {seconds}")

    def _keys(self, conn: Any, t: TrafficTable) -> list[tuple[Any, ...]]:
        cols = ", ".join(quote(c, self.dialect) for c in t.key)
        with conn.cursor() as cur:
            cur.execute(f"SELECT {cols} FROM {self._ref(t)} LIMIT {KEY_SAMPLE}")
            return [tuple(r) for r in cur.fetchall()]

    def _ref(self, t: TrafficTable) -> str:
        if self.dialect is Dialect.POSTGRES:
            return table_ref(t.table, self.dialect)
        return quote(t.table.name, self.dialect)

    def _statements(self, t: TrafficTable, kind: str, *, switched: bool = False) -> list[str]:
        d = self.dialect
        where = " AND ".join(f"{quote(c, d)} = %s" for c in t.key)
        ref = self._ref(t)
        if kind == "read":
            return [f"SELECT * FROM {ref} WHERE {where}"]
        sets = ", ".join(f"{quote(c, d)} = {quote(c, d)}" for c in [*t.key[:1], *([] if switched else t.touched)])
        out = [f"UPDATE {ref} SET {sets} WHERE {where}"]
        if t.insertable:
            if d is Dialect.POSTGRES:
                out.append(f"INSERT INTO {ref} OVERRIDING SYSTEM VALUE SELECT * FROM {ref} WHERE {where} "
                           "ON CONFLICT DO NOTHING")
            else:
                out.append(f"INSERT IGNORE INTO {ref} SELECT * FROM {ref} WHERE {where}")
        return out

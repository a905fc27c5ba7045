"""What-if costing of index configurations and the greedy choice of a set under a budget.

A `WhatIf` backend builds a candidate (hypothetically with HypoPG on PostgreSQL, for real on
dbsage's own in-memory copy of a SQLite database), costs a query with the indexes currently built,
and removes the candidate again. Selection is lazy greedy by benefit per byte (CELF): a candidate's
benefit only shrinks as others are chosen, so a stale benefit is an upper bound and only the head of
the queue needs re-costing. Every (query, indexes on the query's tables) cost is cached.
"""

from __future__ import annotations

import heapq
import json
import math
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.errors import DbsageError
from dbsage.tools.index_candidates import Candidate, QueryShape, Skipped, is_expression_key
from dbsage.tools.rules.fix_sql import column_list, quote, table_ref
from dbsage.tools.sources.guard import GuardedSession

# An index is kept when it saves this share of the whole workload's current cost...
MIN_WORKLOAD_GAIN = 0.002
# ...or makes at least one query this much cheaper.
MIN_QUERY_GAIN = 0.1
# Benefit per byte is divided by this for tables whose writes outnumber their reads.
WRITE_PENALTY = 2.0


@dataclass
class Costed:
    cost: float
    used: frozenset[str]  # names of the indexes the plan uses


class WhatIf(Protocol):
    calls: int

    def create(self, cand: Candidate) -> str: ...
    def drop(self, name: str) -> None: ...
    def size(self, name: str, cand: Candidate) -> int: ...
    def cost(self, shape: QueryShape) -> Costed: ...


def key_list(keys: tuple[str, ...], dialect: Dialect) -> str:
    """Index keys as SQL: column names quoted where needed, expression keys as written."""
    return ", ".join(k if is_expression_key(k) else quote(k, dialect) for k in keys)


def index_sql(cand: Candidate, table: Table, dialect: Dialect, name: str | None = None) -> str:
    target = f"{quote(name, dialect)} " if name else ""
    sql = f"CREATE INDEX {target}ON {table_ref(table, dialect)} ({key_list(cand.columns, dialect)})"
    if cand.include:
        sql += f" INCLUDE ({column_list(cand.include, dialect)})"
    if cand.predicate:
        sql += f" WHERE {cand.predicate}"
    return sql


def postgres_plan_cost(session: GuardedSession, approved: dict[int, str], shape: QueryShape) -> Costed:
    """The planner's total cost of a query and the indexes its plan uses.

    The first EXPLAIN of a query goes through the guard's check; `approved` remembers the exact text the
    guard returned, and later configurations re-send it as is: re-parsing it for every configuration
    would cost several times the planning itself.
    """
    text = approved.get(shape.number)
    if text is None:
        result = session.run(f"EXPLAIN (FORMAT JSON) {shape.sql}")
        approved[shape.number] = result.statement
        doc = result.rows[0][0]
    else:
        doc = next(iter(session.catalog(text)[0].values()))
    plan = (json.loads(doc) if isinstance(doc, str) else doc)[0]["Plan"]
    used: set[str] = set()
    _collect_pg_indexes(plan, used)
    return Costed(float(plan["Total Cost"]), frozenset(used))


class HypoPG:
    """Hypothetical indexes in one guarded read-only PostgreSQL session."""

    def __init__(self, session: GuardedSession, tables: dict[tuple[str, str], Table]) -> None:
        self.session = session
        self.tables = tables
        self.calls = 0
        self._approved: dict[int, str] = {}

    def create(self, cand: Candidate) -> str:
        sql = index_sql(cand, self.tables[cand.table], Dialect.POSTGRES)
        # HypoPG refuses some tables (partitioned parents on old versions): keep the session usable.
        self.session.catalog("SAVEPOINT dbsage_hypo")
        try:
            rows = self.session.catalog("SELECT indexrelid, indexname FROM hypopg_create_index(%s)", [sql])
        except DbsageError:
            self.session.catalog("ROLLBACK TO SAVEPOINT dbsage_hypo")
            raise
        self.session.catalog("RELEASE SAVEPOINT dbsage_hypo")
        return f"{rows[0]['indexrelid']}:{rows[0]['indexname']}"

    def drop(self, name: str) -> None:
        self.session.catalog("SELECT hypopg_drop_index(%s)", [int(name.split(":", 1)[0])])

    def reset(self) -> None:
        self.session.catalog("SELECT hypopg_reset()")

    def size(self, name: str, cand: Candidate) -> int:
        return int(self.session.catalog_value("SELECT hypopg_relation_size(%s)", [int(name.split(":", 1)[0])]))

    def cost(self, shape: QueryShape) -> Costed:
        self.calls += 1
        return postgres_plan_cost(self.session, self._approved, shape)


def _collect_pg_indexes(node: dict[str, Any], out: set[str]) -> None:
    name = node.get("Index Name")
    if isinstance(name, str):
        out.add(name)
    for child in node.get("Plans", []) or []:
        _collect_pg_indexes(child, out)


_EQP_TARGET = re.compile(r"^(SCAN|SEARCH)\s+(?:TABLE\s+)?(\S+)(?:\s+AS\s+(\S+))?(.*)$")
_EQP_INDEX = re.compile(r"USING (?:COVERING )?INDEX (\S+)")


class SqliteCopy:
    """Real indexes on an in-memory copy of a SQLite database; cost is a plan-shape score."""

    def __init__(self, conn: sqlite3.Connection, catalog: Catalog) -> None:
        self.conn = conn
        self.tables = {(t.schema_name, t.name): t for t in catalog.tables}
        self.rows: dict[str, int] = {}
        for t in catalog.tables:
            count = conn.execute(f"SELECT count(*) FROM {table_ref(t, Dialect.SQLITE)}").fetchone()[0]
            self.rows[t.name.lower()] = int(count)
        self.calls = 0
        self._serial = 0

    def create(self, cand: Candidate) -> str:
        self._serial += 1
        name = f"dbsage_whatif_{self._serial}"
        self.conn.execute(index_sql(cand, self.tables[cand.table], Dialect.SQLITE, name))
        return name

    def drop(self, name: str) -> None:
        self.conn.execute(f"DROP INDEX {quote(name, Dialect.SQLITE)}")

    def size(self, name: str, cand: Candidate) -> int:
        rows = self.rows.get(cand.table[1].lower(), 0)
        # Without dbstat, estimate: ~8 bytes per key column, rowid and cell overhead, 2/3-full pages.
        return int(rows * (8 * (len(cand.columns) + len(cand.include)) + 12) * 1.5) + 4096

    def cost(self, shape: QueryShape) -> Costed:
        """Rows scanned for SCAN, a B-tree descent for SEARCH, a sort pass for a temp B-tree."""
        self.calls += 1
        plan = self.conn.execute(f"EXPLAIN QUERY PLAN {shape.sql}").fetchall()
        total = 0.0
        used: set[str] = set()
        largest = 1
        for row in plan:
            detail = str(row[-1])
            m = _EQP_TARGET.match(detail)
            if m:
                alias = m.group(3) or m.group(2)
                table = shape.aliases.get(alias, ("", alias))[1]
                rows = self.rows.get(table.lower(), 1000)
                largest = max(largest, rows)
                ix = _EQP_INDEX.search(m.group(4))
                if ix:
                    used.add(ix.group(1))
                if m.group(1) == "SCAN":
                    total += rows * (0.6 if "COVERING INDEX" in detail else 1.0)
                else:
                    total += math.log2(rows + 2) * (0.6 if "COVERING INDEX" in detail else 1.0)
            elif "TEMP B-TREE" in detail:
                total += largest * 0.1
        return Costed(total, frozenset(used))


@dataclass
class Choice:
    candidate: Candidate
    size_bytes: int
    benefit: float
    handle: str


@dataclass
class Selection:
    chosen: list[Choice]
    before: dict[int, Costed]
    after: dict[int, Costed]
    whatif_calls: int
    timed_out: bool
    notes: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def select_indexes(
    whatif: WhatIf,
    shapes: list[QueryShape],
    candidates: list[Candidate],
    *,
    budget_bytes: int,
    max_indexes: int,
    deadline: float,
    write_heavy: set[tuple[str, str]],
    progress: Callable[[str], None],
) -> Selection:
    """Greedy by benefit per byte under the budget, costing each configuration once."""
    cache: dict[tuple[int, frozenset[Candidate]], Costed] = {}
    chosen: list[Choice] = []
    timed_out = False
    skipped: list[Skipped] = []
    live = list(shapes)

    def cost(shape: QueryShape, config: frozenset[Candidate]) -> Costed:
        key = (shape.number, frozenset(c for c in config if c.table in shape.tables))
        hit = cache.get(key)
        if hit is None:
            hit = whatif.cost(shape)
            cache[key] = hit
        return hit

    before: dict[int, Costed] = {}
    for shape in shapes:
        try:
            before[shape.number] = cost(shape, frozenset())
        except DbsageError as exc:
            skipped.append(Skipped(shape.number, shape.sql, f"the database refused to plan it: {exc.message}"))
    live = [s for s in shapes if s.number in before]
    progress(f"costed {len(live)} queries without new indexes; {len(candidates)} candidates to try")

    def config() -> frozenset[Candidate]:
        return frozenset(c.candidate for c in chosen)

    def evaluate(cand: Candidate) -> tuple[float, float, int]:
        """(benefit, best per-query relative gain, size) of adding `cand` to the current choice."""
        current = config()
        touched = [s for s in live if cand.table in s.tables]
        # Cost without the candidate first: the cache must never see a plan made with it present.
        now = {s.number: cost(s, current).cost for s in touched}
        try:
            handle = whatif.create(cand)
        except (DbsageError, sqlite3.Error) as exc:
            unbuildable.append(f"{cand.label}: {exc}")
            return 0.0, 0.0, 0
        try:
            size = sizes.get(cand)
            if size is None:
                size = sizes[cand] = whatif.size(handle, cand)
            benefit, best = 0.0, 0.0
            for shape in touched:
                then = cost(shape, current | {cand}).cost
                gain = now[shape.number] - then
                benefit += gain
                if now[shape.number] > 0:
                    best = max(best, gain / now[shape.number])
            return benefit, best, size
        finally:
            whatif.drop(handle)

    sizes: dict[Candidate, int] = {}
    unbuildable: list[str] = []
    heap: list[tuple[float, int, Candidate, float, float]] = []
    for i, cand in enumerate(candidates):
        if time.monotonic() > deadline:
            timed_out = True
            break
        benefit, best, size = evaluate(cand)
        if benefit > 0:
            heapq.heappush(heap, (-_ratio(benefit, size, cand, write_heavy), 0, cand, benefit, best))
        if i % 25 == 24:
            progress(f"tried {i + 1}/{len(candidates)} candidates, {whatif.calls} what-if plans")
    used_bytes = 0
    while heap and len(chosen) < max_indexes and not timed_out:
        if time.monotonic() > deadline:
            timed_out = True
            break
        _, round_seen, cand, benefit, best = heapq.heappop(heap)
        if any(_prefix_of(cand, c.candidate) for c in chosen):
            continue
        if round_seen != len(chosen):
            benefit, best, size = evaluate(cand)
            if benefit > 0:
                heapq.heappush(heap, (-_ratio(benefit, size, cand, write_heavy), len(chosen), cand, benefit, best))
            continue
        size = sizes[cand]
        if used_bytes + size > budget_bytes:
            continue
        total = sum(cost(s, config()).cost for s in live)
        if benefit < MIN_WORKLOAD_GAIN * total and best < MIN_QUERY_GAIN:
            continue
        handle = whatif.create(cand)
        chosen.append(Choice(cand, size, benefit, handle))
        used_bytes += size
        progress(f"chose {cand.label} ({size / 1e6:.1f} MB, saves {benefit:.0f} cost units)")
    chosen = _prune_prefixes(whatif, chosen, live, cost, config)
    # Plans are re-made with the chosen indexes themselves (cached plans name the trial copies), and
    # an index chosen early but superseded by a later one is left out: some final plan must use it.
    after = {s.number: whatif.cost(s) for s in live}
    used = set().union(*(a.used for a in after.values())) if after else set()
    kept = [c for c in chosen if _plan_name(c.handle) in used]
    if len(kept) != len(chosen):
        for c in chosen:
            if c not in kept:
                whatif.drop(c.handle)
        chosen = kept
        after = {s.number: whatif.cost(s) for s in live}
    notes = [f"candidate could not be built for what-if: {u}" for u in unbuildable[:5]]
    return Selection(chosen, before, after, whatif.calls, timed_out, notes=notes, skipped=skipped)


def _prune_prefixes(
    whatif: WhatIf,
    chosen: list[Choice],
    live: list[QueryShape],
    cost: Callable[[QueryShape, frozenset[Candidate]], Costed],
    config: Callable[[], frozenset[Candidate]],
) -> list[Choice]:
    """Leave out a chosen index that is the leading prefix of another chosen one when the workload's
    cost barely moves without it: the longer index serves the same searches."""
    for short in list(chosen):
        if not any(o is not short and _prefix_of(short.candidate, o.candidate) for o in chosen):
            continue
        touched = [s for s in live if short.candidate.table in s.tables]
        with_it = sum(cost(s, config()).cost for s in touched)
        whatif.drop(short.handle)
        chosen.remove(short)
        without = sum(cost(s, config()).cost for s in touched)
        total = sum(cost(s, config()).cost for s in live)
        if without - with_it > MIN_WORKLOAD_GAIN * total:
            short.handle = whatif.create(short.candidate)
            chosen.append(short)
    return chosen


def _plan_name(handle: str) -> str:
    return handle.split(":", 1)[1] if ":" in handle else handle


def _prefix_of(short: Candidate, long: Candidate) -> bool:
    return (
        short.table == long.table
        and short.predicate == long.predicate
        and not short.include
        and len(short.columns) <= len(long.columns)
        and long.columns[: len(short.columns)] == short.columns
    )


def _ratio(benefit: float, size: int, cand: Candidate, write_heavy: set[tuple[str, str]]) -> float:
    ratio = benefit / max(size, 8192)
    return ratio / WRITE_PENALTY if cand.table in write_heavy else ratio


def _mariadb_tables(node: Any, out: list[dict[str, Any]]) -> None:
    """Table accesses of a MariaDB JSON plan, in join order."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "table" and isinstance(value, dict) and "table_name" in value:
                out.append(value)
            _mariadb_tables(value, out)
    elif isinstance(node, list):
        for item in node:
            _mariadb_tables(item, out)


class MariaDbScratchCopy:
    """Real indexes on dbsage's own scratch database, which holds a row sample of the involved tables.

    MariaDB before 11.0 prints no cost in EXPLAIN FORMAT=JSON; then the cost is the rows the nested
    loops examine: each table's `rows` times the rows that reach it (earlier rows × filtered share).
    """

    def __init__(self, session: GuardedSession, tables: dict[tuple[str, str], Table]) -> None:
        self.session = session
        self.tables = tables
        self.calls = 0
        self.planner_costs = False
        self._serial = 0

    def create(self, cand: Candidate) -> str:
        self._serial += 1
        name = f"dbsage_whatif_{self._serial}"
        table = quote(cand.table[1], Dialect.MARIADB)
        self.session.catalog(
            f"CREATE INDEX {quote(name, Dialect.MARIADB)} ON {table} ({key_list(cand.columns, Dialect.MARIADB)})"
        )
        return name

    def drop(self, name: str) -> None:
        # The table is found from the index's own record: MariaDB's DROP INDEX needs it.
        table = self.session.catalog_value(
            "SELECT table_name FROM information_schema.statistics WHERE table_schema = DATABASE()"
            " AND index_name = %s LIMIT 1",
            [name],
        )
        if table is not None:
            self.session.catalog(f"DROP INDEX {quote(name, Dialect.MARIADB)} ON {quote(str(table), Dialect.MARIADB)}")

    def size(self, name: str, cand: Candidate) -> int:
        rows = self.tables[cand.table].row_estimate or 0
        # The sample's index is smaller than the real one: estimate from the source table's rows,
        # ~8 bytes per key column plus the primary key InnoDB appends, pages about 2/3 full.
        return int(rows * (8 * (len(cand.columns) + 1) + 14) * 1.5) + 16384

    def cost(self, shape: QueryShape) -> Costed:
        self.calls += 1
        result = self.session.run(f"EXPLAIN FORMAT=JSON {shape.sql}")
        doc = json.loads(str(result.rows[0][0]))
        accesses: list[dict[str, Any]] = []
        _mariadb_tables(doc, accesses)
        used = {str(a["key"]) for a in accesses if a.get("key")}
        planner = doc.get("query_block", {}).get("cost")
        if isinstance(planner, (int, float)):
            self.planner_costs = True
            return Costed(float(planner), frozenset(used))
        total, reaching = 0.0, 1.0
        for access in accesses:
            rows = float(access.get("rows") or 1)
            total += reaching * rows
            reaching *= max(rows * float(access.get("filtered") or 100) / 100, 1.0)
        return Costed(total, frozenset(used))

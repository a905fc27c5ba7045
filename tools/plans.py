"""One plan tree for every engine: PostgreSQL's, MariaDB's and MySQL's JSON and SQLite's query plan rows.

Each reader turns an engine's own plan format into PlanNode trees with the same field meanings:
estimated rows are per loop, actual time is per loop in milliseconds (as PostgreSQL reports it), and
`share` is the node's exclusive part of the whole plan's time (analyzed) or cost (not analyzed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PlanNode(BaseModel):
    """One step of a plan, normalised across engines."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="Node type, e.g. Seq Scan, Index Scan, Hash Join, Sort, Full Table Scan")
    relation: str | None = Field(default=None, description="Table read by this node")
    alias: str | None = None
    index: str | None = Field(default=None, description="Index used")
    condition: str | None = Field(default=None, description="Filter / index / join condition text")
    est_rows: float | None = Field(default=None, description="Estimated rows per loop")
    est_startup_cost: float | None = None
    est_total_cost: float | None = None
    actual_rows: float | None = Field(default=None, description="Actual rows per loop (analyzed)")
    actual_time_ms: float | None = Field(default=None, description="Actual time per loop (analyzed)")
    loops: float | None = None
    rows_removed_by_filter: float | None = None
    filtered_pct: float | None = Field(default=None, description="MySQL/MariaDB: estimated % kept by the condition")
    actual_filtered_pct: float | None = Field(default=None, description="MariaDB r_filtered (analyzed)")
    shared_hit_blocks: int | None = None
    shared_read_blocks: int | None = None
    temp_read_blocks: int | None = None
    temp_written_blocks: int | None = None
    sort_method: str | None = None
    sort_space_type: str | None = None
    hash_batches: int | None = None
    heap_fetches: float | None = None
    using_filesort: bool = False
    using_temporary: bool = False
    share: float | None = Field(default=None, description="Exclusive share of time (analyzed) or cost, 0..1")
    children: list[PlanNode] = Field(default_factory=list)

    def walk(self) -> Iterable[PlanNode]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def total_actual_ms(self) -> float | None:
        if self.actual_time_ms is None:
            return None
        return self.actual_time_ms * (self.loops or 1)


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


# --- PostgreSQL ---------------------------------------------------------------------------------

_PG_CONDITIONS = ("Index Cond", "Hash Cond", "Merge Cond", "Recheck Cond", "Join Filter", "Filter")


def read_postgres(document: Any) -> PlanNode:
    """The tree of `EXPLAIN (FORMAT JSON ...)` output (a list holding one {"Plan": ...})."""
    top = document[0] if isinstance(document, list) else document
    root = _pg_node(top["Plan"])
    compute_shares(root)
    return root


def _pg_node(plan: Mapping[str, Any]) -> PlanNode:
    conditions = [f"{key}: {plan[key]}" for key in _PG_CONDITIONS if plan.get(key)]
    return PlanNode(
        kind=str(plan.get("Node Type", "?")),
        relation=plan.get("Relation Name"),
        alias=plan.get("Alias"),
        index=plan.get("Index Name"),
        condition="; ".join(conditions) or None,
        est_rows=_num(plan.get("Plan Rows")),
        est_startup_cost=_num(plan.get("Startup Cost")),
        est_total_cost=_num(plan.get("Total Cost")),
        actual_rows=_num(plan.get("Actual Rows")),
        actual_time_ms=_num(plan.get("Actual Total Time")),
        loops=_num(plan.get("Actual Loops")),
        rows_removed_by_filter=_num(plan.get("Rows Removed by Filter")),
        shared_hit_blocks=_int(plan.get("Shared Hit Blocks")),
        shared_read_blocks=_int(plan.get("Shared Read Blocks")),
        temp_read_blocks=_int(plan.get("Temp Read Blocks")),
        temp_written_blocks=_int(plan.get("Temp Written Blocks")),
        sort_method=plan.get("Sort Method"),
        sort_space_type=plan.get("Sort Space Type"),
        hash_batches=_int(plan.get("Hash Batches")),
        heap_fetches=_num(plan.get("Heap Fetches")),
        children=[_pg_node(child) for child in plan.get("Plans", [])],
    )


# --- MariaDB and MySQL JSON -----------------------------------------------------------------------

_ACCESS_KINDS = {
    "ALL": "Full Table Scan",
    "index": "Full Index Scan",
    "range": "Index Range Scan",
    "ref": "Index Lookup",
    "eq_ref": "Unique Index Lookup",
    "const": "Constant Row",
    "system": "Constant Row",
    "ref_or_null": "Index Lookup",
    "index_merge": "Index Merge",
    "fulltext": "Fulltext Search",
    "hash_ALL": "Hash Join Scan",
}


def read_mariadb(document: Any) -> PlanNode:
    """The tree of MariaDB's `EXPLAIN FORMAT=JSON` or `ANALYZE FORMAT=JSON` output."""
    return _read_mysql_family(document, mysql8=False)


def read_mysql(document: Any) -> PlanNode:
    """The tree of MySQL 8's `EXPLAIN FORMAT=JSON` output (cost_info, rows_examined_per_scan...)."""
    return _read_mysql_family(document, mysql8=True)


def _read_mysql_family(document: Any, *, mysql8: bool) -> PlanNode:
    block = document.get("query_block", document) if isinstance(document, dict) else {}
    root = _block_node(block, mysql8)
    compute_shares(root)
    return root


def _block_node(block: Mapping[str, Any], mysql8: bool) -> PlanNode:
    cost = block.get("cost_info", {}) if mysql8 else {}
    children = _walk_json(block, mysql8)
    node = PlanNode(
        kind="Query Block",
        est_total_cost=_num(cost.get("query_cost")),
        actual_time_ms=_num(block.get("r_total_time_ms")),
        loops=_num(block.get("r_loops")),
        children=children,
    )
    if mysql8 and node.est_total_cost is None and children:
        node.est_total_cost = children[-1].est_total_cost
    return node


def _walk_json(obj: Any, mysql8: bool) -> list[PlanNode]:
    """Plan nodes found in a MySQL-family JSON fragment, in reading order."""
    if isinstance(obj, list):
        return [n for item in obj for n in _walk_json(item, mysql8)]
    if not isinstance(obj, dict):
        return []
    nodes: list[PlanNode] = []
    for key, value in obj.items():
        if key == "table" and isinstance(value, dict):
            nodes.append(_table_node(value, mysql8))
        elif key == "query_block" and isinstance(value, dict):
            nodes.append(_block_node(value, mysql8))
        elif key == "nested_loop" and isinstance(value, list):
            inner = _walk_json(value, mysql8)
            nodes.append(PlanNode(kind="Nested Loop", children=inner) if len(inner) > 1 else inner[0])
        elif key == "filesort" and isinstance(value, dict):
            nodes.append(PlanNode(
                kind="Filesort",
                condition=value.get("sort_key"),
                actual_time_ms=_num(value.get("r_total_time_ms")),
                loops=_num(value.get("r_loops")),
                actual_rows=_num(value.get("r_output_rows")),
                using_filesort=True,
                children=_walk_json(value, mysql8),
            ))
        elif key == "temporary_table" and isinstance(value, dict):
            nodes.append(PlanNode(kind="Temporary Table", using_temporary=True, children=_walk_json(value, mysql8)))
        elif key in ("ordering_operation", "grouping_operation", "duplicates_removal") and isinstance(value, dict):
            children = _walk_json(value, mysql8)
            filesort = bool(value.get("using_filesort"))
            temporary = bool(value.get("using_temporary_table"))
            if filesort or temporary:
                kind = {"ordering_operation": "Sort", "grouping_operation": "Group"}.get(key, "Distinct")
                nodes.append(PlanNode(kind=kind, using_filesort=filesort, using_temporary=temporary,
                                      children=children))
            else:
                nodes.extend(children)
        elif isinstance(value, dict | list):
            nodes.extend(_walk_json(value, mysql8))
    return nodes


def _table_node(table: Mapping[str, Any], mysql8: bool) -> PlanNode:
    access = str(table.get("access_type", ""))
    kind = _ACCESS_KINDS.get(access, access or "Table")
    if mysql8:
        cost = table.get("cost_info", {})
        est_rows = _num(table.get("rows_examined_per_scan"))
        total_cost = _num(cost.get("prefix_cost"))
        time_ms = None
    else:
        est_rows = _num(table.get("rows"))
        total_cost = None
        parts = [_num(table.get(k)) for k in ("r_table_time_ms", "r_other_time_ms")]
        time_ms = _num(table.get("r_total_time_ms"))
        if time_ms is None and any(p is not None for p in parts):
            time_ms = sum(p or 0.0 for p in parts)
    loops = _num(table.get("r_loops"))
    if time_ms is not None and loops:
        time_ms = time_ms / loops  # MariaDB reports totals; PlanNode keeps per-loop time like PostgreSQL
    rest = {k: v for k, v in table.items() if k in ("materialized", "attached_subqueries", "nested_loop")}
    return PlanNode(
        kind=kind,
        relation=table.get("table_name"),
        index=table.get("key"),
        condition=table.get("attached_condition"),
        est_rows=est_rows,
        est_total_cost=total_cost,
        actual_rows=_num(table.get("r_rows")),
        actual_time_ms=time_ms,
        loops=loops,
        filtered_pct=_num(table.get("filtered")),
        actual_filtered_pct=_num(table.get("r_filtered")),
        using_filesort=bool(table.get("using_filesort")),
        using_temporary=bool(table.get("using_temporary_table")),
        children=_walk_json(rest, mysql8),
    )


# --- SQLite ---------------------------------------------------------------------------------------

_SQLITE_ACCESS = re.compile(
    r"^(?P<verb>SCAN|SEARCH)\s+(?:TABLE\s+)?(?P<table>\S+)(?:\s+AS\s+(?P<alias>\S+))?"
    r"(?:\s+USING\s+(?P<covering>COVERING\s+)?INDEX\s+(?P<index>\S+)(?:\s+\((?P<cond>.*)\))?"
    r"|\s+USING\s+INTEGER\s+PRIMARY\s+KEY(?:\s+\((?P<pk>.*)\))?)?"
)


def read_sqlite(rows: Iterable[tuple[Any, ...]]) -> PlanNode:
    """The tree of `EXPLAIN QUERY PLAN` rows (id, parent, notused, detail); a Query node on top."""
    root = PlanNode(kind="Query")
    by_id: dict[int, PlanNode] = {0: root}
    for row in rows:
        node_id, parent, detail = int(row[0]), int(row[1]), str(row[3])
        node = _sqlite_node(detail)
        by_id[node_id] = node
        by_id.get(parent, root).children.append(node)
    return root


def _sqlite_node(detail: str) -> PlanNode:
    match = _SQLITE_ACCESS.match(detail)
    if match is None:
        kind = detail
        if detail.startswith("USE TEMP B-TREE"):
            return PlanNode(kind="Temp B-Tree", condition=detail.removeprefix("USE TEMP B-TREE ").lower(),
                            using_temporary=True, using_filesort="ORDER BY" in detail)
        return PlanNode(kind=kind)
    verb = match["verb"]
    if match["index"]:
        kind = "Covering Index Search" if match["covering"] else "Index Search"
        if verb == "SCAN":
            kind = "Covering Index Scan" if match["covering"] else "Full Index Scan"
    elif match["pk"] is not None or (verb == "SEARCH" and "PRIMARY KEY" in detail):
        kind = "Rowid Search"
    else:
        kind = "Table Scan" if verb == "SCAN" else "Search"
    return PlanNode(
        kind=kind,
        relation=match["table"],
        alias=match["alias"],
        index=match["index"] or ("INTEGER PRIMARY KEY" if match["pk"] is not None else None),
        condition=match["cond"] or match["pk"],
    )


# --- shares ---------------------------------------------------------------------------------------


def compute_shares(root: PlanNode) -> None:
    """Set each node's exclusive share of the whole: of actual time when known, else of estimated cost."""
    totals: dict[int, float | None] = {}
    _actual_totals(root, parallel=False, out=totals)
    if totals.get(id(root)) is not None and any(v is not None for k, v in totals.items() if k != id(root)):
        _shares(root, lambda n: totals.get(id(n)))
    elif root.est_total_cost is not None:
        _shares(root, lambda n: n.est_total_cost)


def _actual_totals(node: PlanNode, *, parallel: bool, out: dict[int, float | None]) -> None:
    """Wall time spent in each node and below. Under a Gather, workers run side by side: a node's
    per-loop time already is its wall time, and multiplying by the worker loops would count it twice."""
    if node.actual_time_ms is None:
        out[id(node)] = None
    else:
        out[id(node)] = node.actual_time_ms * (1 if parallel else (node.loops or 1))
    below_parallel = parallel or node.kind.startswith("Gather")
    for child in node.children:
        _actual_totals(child, parallel=below_parallel, out=out)


def _shares(root: PlanNode, measure: Callable[[PlanNode], float | None]) -> None:
    whole = measure(root) or 0.0
    if whole <= 0:
        return
    for node in root.walk():
        own = measure(node)
        if own is None:
            continue
        below = sum(measure(c) or 0.0 for c in node.children)
        node.share = round(min(1.0, max(0.0, own - below) / whole), 4)


# --- MySQL 8 EXPLAIN ANALYZE (tree text) ----------------------------------------------------------

_TREE_LINE = re.compile(r"^(?P<indent>\s*)-> (?P<text>.*?)(?:\s+\(cost=(?P<cost>[\d.e+]+)(?:\.\.(?P<cost2>[\d.e+]+))?"
                        r" rows=(?P<rows>[\d.e+]+)\))?(?:\s+\(actual time=(?P<t1>[\d.e+]+)\.\.(?P<t2>[\d.e+]+)"
                        r" rows=(?P<arows>[\d.e+]+) loops=(?P<loops>[\d.e+]+)\))?\s*$")
_TREE_ACCESS = [
    (re.compile(r"^Table scan on (?P<t>\S+)"), "Full Table Scan"),
    (re.compile(r"^Single-row (?:covering )?index lookup on (?P<t>\S+) using (?P<i>\S+)(?: \((?P<c>.*)\))?"),
     "Unique Index Lookup"),
    (re.compile(r"^(?:Covering )?[Ii]ndex lookup on (?P<t>\S+) using (?P<i>\S+)(?: \((?P<c>.*)\))?"), "Index Lookup"),
    (re.compile(r"^(?:Covering )?[Ii]ndex range scan on (?P<t>\S+) using (?P<i>\S+)(?: over \((?P<c>.*)\))?"),
     "Index Range Scan"),
    (re.compile(r"^(?:Covering )?[Ii]ndex scan on (?P<t>\S+) using (?P<i>\S+)"), "Full Index Scan"),
]


def read_mysql_analyze(text: str) -> PlanNode:
    """The tree of MySQL 8's `EXPLAIN ANALYZE` output (its only format: indented `-> ...` lines).

    MySQL puts a condition in a Filter node above the scan; the scan gets the condition and the share of
    its rows the filter kept, so the plan rules read it like MariaDB's attached_condition and r_filtered.
    """
    root = PlanNode(kind="Query")
    stack: list[tuple[int, PlanNode]] = [(-1, root)]
    for line in text.splitlines():
        match = _TREE_LINE.match(line)
        if match is None or not line.strip().startswith("->"):
            continue
        node = _tree_node(match)
        depth = len(match["indent"])
        while stack[-1][0] >= depth:
            stack.pop()
        stack[-1][1].children.append(node)
        stack.append((depth, node))
    for node in root.walk():
        if node.kind == "Filter" and len(node.children) == 1 and node.children[0].relation:
            scan = node.children[0]
            scan.condition = scan.condition or node.condition
            if node.actual_rows is not None and scan.actual_rows:
                scan.actual_filtered_pct = 100.0 * node.actual_rows / scan.actual_rows
    if len(root.children) == 1:
        root.est_total_cost = root.children[0].est_total_cost
        root.actual_time_ms = root.children[0].actual_time_ms
        root.loops = root.children[0].loops
    compute_shares(root)
    return root


def _tree_node(match: re.Match[str]) -> PlanNode:
    text = match["text"]
    node = PlanNode(
        kind=text.split(":", 1)[0].split(" on ", 1)[0],
        est_total_cost=_num(match["cost2"] or match["cost"]),
        est_rows=_num(match["rows"]),
        actual_time_ms=_num(match["t2"]),
        actual_rows=_num(match["arows"]),
        loops=_num(match["loops"]),
    )
    for pattern, kind in _TREE_ACCESS:
        access = pattern.match(text)
        if access is not None:
            groups = access.groupdict()
            node.kind, node.relation = kind, groups["t"]
            node.index, node.condition = groups.get("i"), groups.get("c")
            if node.relation == "<temporary>":
                node.kind, node.relation, node.using_temporary = "Temporary Table Scan", None, True
            return node
    if text.startswith("Filter: "):
        node.kind, node.condition = "Filter", text.removeprefix("Filter: ")
    elif text.startswith("Sort"):
        node.kind, node.condition, node.using_filesort = "Sort", text.partition(": ")[2] or None, True
    elif "using temporary table" in text:
        node.using_temporary = True
    if text.startswith("Nested loop"):
        node.kind = "Nested Loop"
    elif "hash join" in text.lower():
        node.kind = "Hash Join"
    return node

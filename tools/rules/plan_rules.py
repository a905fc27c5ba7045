"""What a plan shows: large scans, misestimates, discarded rows, spills, risky loops, engine sorts.

Thresholds follow the plan-reading tools in ANCHORS.md: a table is large from 10,000 rows, a filter
is selective when it keeps at most 10% of the rows, misestimates are graded at x10/x100/x1000 and
discarded rows at 50%/90%.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlglot import exp

from dbsage.tools.catalog import Dialect, Table
from dbsage.tools.findings import Finding, ObjectType, Severity
from dbsage.tools.plans import PlanNode
from dbsage.tools.rules.fix_sql import convention_name, create_index_sql, quote, table_ref
from dbsage.tools.rules.query_static import Facts, TableFacts, alias_map, column_table
from dbsage.tools.rules.registry import make_finding

LARGE_TABLE_ROWS = 10_000
SELECTIVE = 0.10
MISESTIMATE_MIN_ROWS = 100
LARGE_OUTER_ROWS = 10_000
MAX_INDEX_COLUMNS = 3

_FULL_SCANS = {"Seq Scan", "Full Table Scan", "Table Scan"}
_INDEXED_INNER = {"Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Memoize", "Unique Index Lookup",
                  "Index Lookup"}


@dataclass(frozen=True)
class PlanContext:
    dialect: Dialect
    root: PlanNode
    facts: Facts
    tree: exp.Expr | None
    analyzed: bool


def plan_findings(ctx: PlanContext) -> list[Finding]:
    found: list[Finding] = []
    for check in (_full_scans, _misestimates, _removed_by_filter, _spills, _nested_loops, _heap_fetches,
                  _engine_sorts, _casts_on_indexed_columns):
        found.extend(check(ctx))
    unique: dict[str, Finding] = {}
    for f in found:
        unique.setdefault(f.id, f)
    return list(unique.values())


# --- helpers --------------------------------------------------------------------------------------


def _facts_of(ctx: PlanContext, node: PlanNode) -> TableFacts | None:
    return ctx.facts.get(node.relation.lower()) if node.relation else None


def _object(ctx: PlanContext, relation: str | None) -> tuple[ObjectType, str]:
    if relation is None:
        return ObjectType.TABLE, "statement"
    facts = ctx.facts.get(relation.lower())
    return ObjectType.TABLE, facts.qualified_name if facts else relation


def _as_table(facts: TableFacts) -> Table:
    return Table(schema_name=facts.schema_name or "main", name=facts.name)


def predicate_columns(tree: exp.Expr | None, facts: TableFacts, alias: str | None, aliases_facts: Facts) -> list[str]:
    """The table's columns compared to constants in WHERE/ON: equality columns first, then one range column."""
    if tree is None:
        return []
    aliases = alias_map(tree)
    target = facts.name.lower()
    equal: list[str] = []
    ranged: list[str] = []

    def own(column: exp.Expr) -> str | None:
        if not isinstance(column, exp.Column):
            return None
        if alias and column.table and column.table.lower() != alias.lower() and column.table.lower() != target:
            return None
        if column_table(column, aliases, aliases_facts) != target:
            return None
        name = column.name.lower()
        if facts.columns and name not in facts.columns:
            return None
        return next((c for c in facts.column_names if c.lower() == name), column.name)

    def constant(node: exp.Expr) -> bool:
        return not any(True for _ in node.find_all(exp.Column))

    for clause in tree.find_all(exp.Where):
        for node in clause.find_all(exp.EQ, exp.In, exp.Is, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between,
                                    exp.Like):
            name = own(node.this)
            if name is None:
                continue
            if isinstance(node, exp.Like):
                pattern = node.expression
                if not (isinstance(pattern, exp.Literal) and pattern.this[:1] not in ("%", "_")):
                    continue
            if isinstance(node, exp.EQ | exp.Is):
                if not constant(node.expression):
                    continue
                bucket = equal
            elif isinstance(node, exp.In):
                if node.args.get("query") is not None or not all(constant(e) for e in node.expressions):
                    continue
                bucket = equal
            else:
                bucket = ranged
            if name not in equal and name not in ranged:
                bucket.append(name)
    return (equal + ranged[:1])[:MAX_INDEX_COLUMNS]


def _index_fix(ctx: PlanContext, facts: TableFacts, columns: list[str]) -> str | None:
    if not columns:
        return None
    table = _as_table(facts)
    name = convention_name("idx", facts.name, columns, ctx.dialect)
    return create_index_sql(table, name, columns, ctx.dialect)


def _kept_fraction(ctx: PlanContext, node: PlanNode, facts: TableFacts) -> float | None:
    """The share of the table's rows the scan keeps: measured when analyzed, else estimated."""
    if node.actual_rows is not None and node.rows_removed_by_filter is not None:
        kept = node.actual_rows
        read = kept + node.rows_removed_by_filter
        return kept / read if read else None
    if node.actual_filtered_pct is not None:
        return node.actual_filtered_pct / 100
    if node.filtered_pct is not None and node.filtered_pct < 100:
        return node.filtered_pct / 100
    if ctx.dialect is Dialect.POSTGRES and node.est_rows is not None and facts.rows:
        return min(1.0, node.est_rows / facts.rows)
    return None


# --- checks ---------------------------------------------------------------------------------------


def _full_scans(ctx: PlanContext) -> Iterator[Finding]:
    for node in ctx.root.walk():
        if node.kind not in _FULL_SCANS:
            continue
        facts = _facts_of(ctx, node)
        if facts is None or facts.rows is None or facts.rows < LARGE_TABLE_ROWS:
            continue
        columns = predicate_columns(ctx.tree, facts, node.alias, ctx.facts)
        has_filter = bool(node.condition) if ctx.dialect is not Dialect.SQLITE else bool(columns)
        if not has_filter:
            continue
        kept = _kept_fraction(ctx, node, facts)
        if kept is not None and kept > SELECTIVE:
            continue
        evidence: dict[str, object] = {"table_rows": facts.rows, "node": node.kind, "condition": node.condition}
        if kept is not None:
            evidence["kept_fraction"] = round(kept, 5)
        if columns:
            evidence["index_columns"] = columns
        obj_type, obj = _object(ctx, node.relation)
        kept_text = f", keeping {kept:.2%} of them" if kept is not None else ""
        yield make_finding(
            "query.full_scan_large_table", object_type=obj_type, obj=obj,
            message=f"{node.kind} reads all ~{facts.rows:,} rows of {facts.name}{kept_text}"
                    + (f"; an index on ({', '.join(columns)}) would serve the filter." if columns else "."),
            evidence=evidence,
            fix=_index_fix(ctx, facts, columns),
            severity=None if kept is not None else Severity.MEDIUM,
        )


def _node_rows(node: PlanNode) -> tuple[float, float] | None:
    """(estimated, actual) rows a node passes on, per loop; MySQL-family scans count after their condition."""
    if node.est_rows is None or node.actual_rows is None:
        return None
    if node.filtered_pct is not None and node.actual_filtered_pct is not None:
        return node.est_rows * node.filtered_pct / 100, node.actual_rows * node.actual_filtered_pct / 100
    return node.est_rows, node.actual_rows


def _statistics_fix(ctx: PlanContext, facts: TableFacts | None) -> str | None:
    if facts is None:
        return None
    target = table_ref(_as_table(facts), ctx.dialect)
    if ctx.dialect is Dialect.MARIADB:
        # Plain ANALYZE TABLE refreshes only InnoDB's page samples; the column statistics and histograms
        # MariaDB's selectivity estimates read are collected with PERSISTENT FOR.
        return f"ANALYZE TABLE {target} PERSISTENT FOR ALL;"
    if ctx.dialect is Dialect.MYSQL:
        return f"ANALYZE TABLE {target};"
    return f"ANALYZE {target};"


def _misestimates(ctx: PlanContext) -> Iterator[Finding]:
    if not ctx.analyzed:
        return
    for node in ctx.root.walk():
        rows = _node_rows(node)
        if rows is None:
            continue
        est, act = rows
        if max(est, act) < MISESTIMATE_MIN_ROWS:
            continue
        ratio = max(est, act) / max(min(est, act), 1.0)
        if ratio < 10:
            continue
        severity = Severity.HIGH if ratio >= 1000 else Severity.MEDIUM if ratio >= 100 else Severity.LOW
        facts = _facts_of(ctx, node)
        obj_type, obj = _object(ctx, node.relation)
        direction = "under" if act > est else "over"
        yield make_finding(
            "query.row_misestimate", object_type=obj_type, obj=f"{obj}:{node.kind}", severity=severity,
            message=f"{node.kind}{' on ' + node.relation if node.relation else ''} {direction}estimated its rows "
                    f"x{ratio:,.0f} (estimated {est:,.0f}, actual {act:,.0f} per loop).",
            evidence={"estimated_rows": est, "actual_rows": act, "ratio": round(ratio, 1), "node": node.kind},
            fix=_statistics_fix(ctx, facts),
        )


def _removed_by_filter(ctx: PlanContext) -> Iterator[Finding]:
    for node in ctx.root.walk():
        loops = node.loops or 1
        if node.rows_removed_by_filter is not None and node.actual_rows is not None:
            removed = node.rows_removed_by_filter * loops
            read = removed + node.actual_rows * loops
        elif node.actual_filtered_pct is not None and node.actual_rows is not None:
            read = node.actual_rows * loops
            removed = read * (1 - node.actual_filtered_pct / 100)
        else:
            continue
        if read < 1000 or removed / read <= 0.5:
            continue
        share = removed / read
        obj_type, obj = _object(ctx, node.relation)
        yield make_finding(
            "query.rows_removed_by_filter", object_type=obj_type, obj=f"{obj}:{node.kind}",
            severity=Severity.MEDIUM if share > 0.9 else Severity.LOW,
            message=f"{node.kind} discards {share:.2%} of the {read:,.0f} rows it reads in a filter.",
            evidence={"rows_read": read, "rows_removed": removed, "removed_share": round(share, 4)},
        )


def _first_relation(node: PlanNode) -> str | None:
    return next((n.relation for n in node.walk() if n.relation), None)


def _spills(ctx: PlanContext) -> Iterator[Finding]:
    for node in ctx.root.walk():
        disk_sort = (node.sort_space_type or "").lower() == "disk" or "external" in (node.sort_method or "")
        batches = node.hash_batches is not None and node.hash_batches > 1
        temp = (node.temp_written_blocks or 0) > 0 and node.kind in ("Sort", "Hash", "HashAggregate", "Aggregate")
        if not (disk_sort or batches or temp):
            continue
        relation = _first_relation(node)
        obj_type, obj = _object(ctx, relation)
        what = f"sort method {node.sort_method}" if disk_sort else (
            f"{node.hash_batches} hash batches" if batches else "temporary files")
        yield make_finding(
            "query.spill_to_disk", object_type=obj_type, obj=f"{obj}:{node.kind}",
            message=f"{node.kind} spilled to disk ({what}): work_mem was too small for its input.",
            evidence={"sort_method": node.sort_method, "sort_space_type": node.sort_space_type,
                      "hash_batches": node.hash_batches, "temp_written_blocks": node.temp_written_blocks},
        )


def _nested_loops(ctx: PlanContext) -> Iterator[Finding]:
    for node in ctx.root.walk():
        if node.kind != "Nested Loop" or len(node.children) < 2:
            continue
        outer, inner = node.children[0], node.children[1]
        rows_per_loop = outer.actual_rows if outer.actual_rows is not None else outer.est_rows
        if rows_per_loop is None:
            continue
        outer_rows = rows_per_loop * (outer.loops or 1)
        if outer_rows < LARGE_OUTER_ROWS or inner.kind in _INDEXED_INNER:
            continue
        obj_type, obj = _object(ctx, _first_relation(inner))
        yield make_finding(
            "query.nested_loop_large_outer", object_type=obj_type, obj=f"{obj}:Nested Loop",
            message=f"Nested loop repeats its inner {inner.kind} for {outer_rows:,.0f} outer rows.",
            evidence={"outer_rows": outer_rows, "inner_node": inner.kind},
        )


def _heap_fetches(ctx: PlanContext) -> Iterator[Finding]:
    for node in ctx.root.walk():
        if node.kind != "Index Only Scan" or not node.heap_fetches or node.actual_rows is None:
            continue
        rows = node.actual_rows * (node.loops or 1)
        if node.heap_fetches < 1000 or node.heap_fetches < 0.1 * rows:
            continue
        facts = _facts_of(ctx, node)
        obj_type, obj = _object(ctx, node.relation)
        yield make_finding(
            "query.heap_fetches", object_type=obj_type, obj=obj,
            message=f"Index-only scan of {node.relation} fetched {node.heap_fetches:,.0f} heap rows for "
                    f"{rows:,.0f} returned: the visibility map is stale.",
            evidence={"heap_fetches": node.heap_fetches, "rows": rows, "index": node.index},
            fix=f"VACUUM (ANALYZE) {table_ref(_as_table(facts), ctx.dialect)};" if facts else None,
        )


# PostgreSQL prints a cast the planner added to a column as `(column)::type` in the filter.
_PG_COLUMN_CAST = re.compile(r"\((?P<column>[A-Za-z_][A-Za-z0-9_$]*|\"(?:[^\"]|\"\")+\")\)::(?P<type>[a-z][a-z0-9 ]*)")


def _casts_on_indexed_columns(ctx: PlanContext) -> Iterator[Finding]:
    """A type mismatch the SQL text does not show: the engine casts an indexed column to compare it."""
    if ctx.dialect is not Dialect.POSTGRES:
        return
    for node in ctx.root.walk():
        facts = _facts_of(ctx, node)
        if facts is None or not node.condition or "Filter:" not in node.condition:
            continue
        for match in _PG_COLUMN_CAST.finditer(node.condition):
            column = match["column"].strip('"').replace('""', '"')
            if column.lower() not in facts.indexed_leading:
                continue
            yield make_finding(
                "query.function_on_column", object_type=ObjectType.COLUMN, obj=f"{facts.qualified_name}.{column}",
                severity=Severity.HIGH,
                message=f"The plan casts the indexed column {column} to {match['type'].strip()} to compare it "
                        "(a type mismatch with the value), so its index is not used.",
                evidence={"expression": match.group(0), "column_indexed": True, "node": node.kind},
            )


def _engine_sorts(ctx: PlanContext) -> Iterator[Finding]:
    for node in ctx.root.walk():
        relation = _first_relation(node) or next(iter(ctx.facts), None)
        obj_type, obj = _object(ctx, relation)
        if node.using_filesort:
            yield make_finding(
                "query.sort_without_index", object_type=obj_type, obj=obj,
                message=f"The engine sorts the rows itself ({node.kind}"
                        + (f": {node.condition}" if node.condition else "") + ") instead of reading an index in order.",
                evidence={"node": node.kind, "sort": node.condition},
            )
        if node.using_temporary and not (ctx.dialect is Dialect.SQLITE and node.using_filesort):
            yield make_finding(
                "query.temporary_table", object_type=obj_type, obj=obj,
                message=f"The plan builds a temporary table ({node.kind}"
                        + (f": {node.condition}" if node.condition else "") + ").",
                evidence={"node": node.kind},
            )


__all__ = ["PlanContext", "plan_findings", "predicate_columns", "quote"]

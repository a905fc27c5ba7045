"""Index health: foreign keys without an index, duplicate and prefix-redundant, invalid and unused indexes.

`fk_covering_index` and `redundant_indexes` are pure functions of one table so that suggest_indexes can
reuse them for its drop list and for the indexes it must not propose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from dbsage.tools.catalog import Catalog, Dialect, ForeignKey, Index, IndexKey, Table
from dbsage.tools.findings import Finding, ObjectType, Severity
from dbsage.tools.rules.fix_sql import (
    NamePool,
    RelationNames,
    convention_name,
    create_index_sql,
    drop_index_sql,
    index_ref,
)
from dbsage.tools.rules.registry import RuleContext, make_finding, rule
from dbsage.tools.rules.rule_kit import (
    TOOL,
    applies,
    columns_object,
    judged_tables,
    named_object,
    referenced_keys,
)

# A child table this large turns every unindexed parent DELETE into a long scan under lock.
FK_INDEX_HIGH_ROWS = 10_000
# An unused index on a smaller table costs too little to be worth a finding.
UNUSED_INDEX_MIN_ROWS = 1_000
# PostgreSQL 12 added REINDEX CONCURRENTLY.
PG_REINDEX_CONCURRENTLY = 120000

# Methods whose multi-column keys are ordered, so a leading prefix serves the same searches.
_ORDERED_METHODS = {"btree"}


def _norm_text(text: str | None) -> str | None:
    if text is None:
        return None
    collapsed = re.sub(r"\s+", " ", text.strip().lower())
    while collapsed.startswith("(") and collapsed.endswith(")") and _balanced(collapsed[1:-1]):
        collapsed = collapsed[1:-1].strip()
    return collapsed


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def _key(k: IndexKey) -> tuple[str, bool]:
    what = k.column.lower() if k.column is not None else "expr:" + (_norm_text(k.expression) or "")
    return (what, k.descending)


def _keys(index: Index) -> tuple[tuple[str, bool], ...]:
    return tuple(_key(k) for k in index.keys)


def _method(index: Index) -> str:
    return index.method.lower()


def _same_kind(a: Index, b: Index) -> bool:
    """Same access method and same partial-index predicate: the precondition for comparing keys."""
    return _method(a) == _method(b) and _norm_text(a.predicate) == _norm_text(b.predicate)


def _is_innodb(table: Table) -> bool:
    return (table.engine or "").lower() == "innodb"


def _effective_keys(index: Index, table: Table) -> tuple[tuple[str, bool], ...]:
    """The keys an index really holds: InnoDB appends the primary key columns to every secondary."""
    keys = _keys(index)
    if not _is_innodb(table) or table.primary_key is None or index.primary:
        return keys
    present = {name for name, _ in keys}
    tail = tuple((c.lower(), False) for c in table.primary_key.columns if c.lower() not in present)
    return keys + tail


# ---------------------------------------------------------------- foreign keys


def fk_covering_index(table: Table, fk: ForeignKey) -> Index | None:
    """An index that serves lookups by the foreign key's columns, or None.

    Covered means: a valid, non-partial B-tree whose first len(fk) keys are plain columns and are
    exactly the foreign key's columns. Their order among those leading keys does not matter, because
    the lookups a foreign key needs are equality on every column. Primary and unique indexes count.
    """
    wanted = {c.lower() for c in fk.columns}
    width = len(fk.columns)
    for index in table.indexes:
        if not index.valid or index.predicate is not None or _method(index) not in _ORDERED_METHODS:
            continue
        lead = index.keys[:width]
        if len(lead) < width or any(k.column is None for k in lead):
            continue
        if {k.column.lower() for k in lead if k.column is not None} == wanted:
            return index
    return None


@rule("index.fk_without_index", tool=TOOL)
def fk_without_index(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "index.fk_without_index"):
        return
    high_rows = ctx.options.threshold("index.fk_without_index.high_rows", FK_INDEX_HIGH_ROWS)
    relation_names = RelationNames(catalog.tables, catalog.dialect)
    for table in judged_tables(catalog):
        planned: set[str] = set()
        for fk in table.foreign_keys:
            if fk_covering_index(table, fk) is not None:
                continue
            key = ",".join(sorted(c.lower() for c in fk.columns))
            if key in planned:  # two foreign keys on the same columns need one index
                continue
            planned.add(key)
            rows = table.row_estimate
            severity = Severity.HIGH if rows is not None and rows >= high_rows else None
            pool = (
                NamePool(catalog.dialect, [ix.name for ix in table.indexes])
                if catalog.dialect.is_mysql_family  # MySQL index names are per table
                else relation_names.pool(table.schema_name)
            )
            name = pool.claim(convention_name("idx", table.name, fk.columns, catalog.dialect))
            parent = f"{fk.ref_schema}.{fk.ref_table}"
            yield make_finding(
                "index.fk_without_index",
                object_type=ObjectType.COLUMNS,
                obj=columns_object(table, fk.columns),
                message=(
                    f"Foreign key {table.qualified_name}({', '.join(fk.columns)}) -> {parent} has no index "
                    "starting with its columns, so deletes on the parent scan the whole table."
                ),
                evidence={
                    "constraint": fk.name,
                    "columns": fk.columns,
                    "referenced_table": parent,
                    "referenced_columns": fk.ref_columns,
                    "row_estimate": rows,
                    "existing_indexes": [ix.name for ix in table.indexes],
                },
                fix=create_index_sql(table, name, fk.columns, catalog.dialect),
                severity=severity,
            )


# ---------------------------------------------------------------- redundant indexes


@dataclass(frozen=True)
class RedundantIndex:
    """An index that another index of the same table makes unnecessary."""

    index: Index
    covered_by: Index
    kind: Literal["duplicate", "prefix"]
    innodb_primary_key_suffix: bool = False


def _keep_rank(index: Index) -> tuple[int, int, int, int, str]:
    """Lower sorts first = better to keep: constraint-backed and unique first, shorter keys, then name."""
    return (
        0 if index.primary else 1,
        0 if index.constraint is not None else 1,
        0 if index.unique else 1,
        len(index.keys),
        index.name,
    )


def _duplicate_groups(table: Table, indexes: list[Index]) -> list[list[Index]]:
    """Indexes holding the same entries: same method, predicate, included columns and (effective) keys."""
    groups: dict[tuple[object, ...], list[Index]] = {}
    for ix in indexes:
        signature = (
            _method(ix),
            _norm_text(ix.predicate),
            frozenset(c.lower() for c in ix.include),
            _effective_keys(ix, table),
        )
        groups.setdefault(signature, []).append(ix)
    return [sorted(g, key=_keep_rank) for g in groups.values() if len(g) > 1]


def _covers_prefix(short: Index, long: Index) -> bool:
    """True when `long` serves every search `short` serves: its leading keys are `short`'s keys."""
    if not _same_kind(short, long) or _method(short) not in _ORDERED_METHODS:
        return False
    if len(long.keys) <= len(short.keys):
        return False
    if _keys(long)[: len(short.keys)] != _keys(short):
        return False
    carried = {c.lower() for c in long.include} | {name for name, _ in _keys(long)}
    return {c.lower() for c in short.include} <= carried


def redundant_indexes(table: Table) -> list[RedundantIndex]:
    """The table's indexes that could be dropped because another one does their work.

    Duplicates: identical method, predicate, keys (with direction) and INCLUDE columns; on InnoDB the
    primary key columns every secondary index carries count as keys. The one kept is constraint-backed,
    unique or shorter before anything else. Prefix-redundant: a non-unique B-tree whose keys are the
    leading keys of a longer valid B-tree with the same predicate. A unique index is never redundant
    to a longer one (it enforces what the longer one does not), and neither is a primary key.
    """
    valid = [ix for ix in table.indexes if ix.valid]
    found: list[RedundantIndex] = []
    dropped: set[str] = set()
    for group in _duplicate_groups(table, valid):
        keeper = group[0]
        for other in group[1:]:
            suffix = _keys(other) != _keys(keeper)
            found.append(RedundantIndex(other, keeper, "duplicate", innodb_primary_key_suffix=suffix))
            dropped.add(other.name)
    remaining = [ix for ix in valid if ix.name not in dropped]
    prefix_redundant = {
        ix.name
        for ix in remaining
        if not ix.unique and not ix.primary and ix.constraint is None
        and any(_covers_prefix(ix, other) for other in remaining if other is not ix)
    }
    for ix in remaining:
        if ix.name not in prefix_redundant:
            continue
        covers = [
            o for o in remaining
            if o is not ix and o.name not in prefix_redundant and _covers_prefix(ix, o)
        ]
        if covers:
            best = min(covers, key=lambda o: (len(o.keys), o.name))
            found.append(RedundantIndex(ix, best, "prefix"))
    return found


def _describe(index: Index) -> str:
    if index.definition:
        return index.definition
    keys = ", ".join(k.label + (" DESC" if k.descending else "") for k in index.keys)
    text = f"{'UNIQUE ' if index.unique else ''}{index.method} ({keys})"
    if index.include:
        text += f" INCLUDE ({', '.join(index.include)})"
    if index.predicate:
        text += f" WHERE {index.predicate}"
    return text


def _drop_fix(
    catalog: Catalog, table: Table, index: Index, referenced: dict[tuple[str, str], list[list[str]]]
) -> str | None:
    """SQL dropping the redundant index, or None when a constraint or a referencing key may hold on to it."""
    dialect = catalog.dialect
    if index.primary:
        return None
    if index.constraint is not None and not dialect.is_mysql_family:
        return None
    if dialect is Dialect.SQLITE and index.name.startswith("sqlite_autoindex_"):
        return None
    if index.unique and dialect is Dialect.POSTGRES:
        # PostgreSQL ties a foreign key to one unique index on its columns; the catalog does not say which.
        cols = {k.column.lower() for k in index.keys if k.column is not None}
        if any(set(key) == cols for key in referenced.get((table.schema_name, table.name), [])):
            return None
    return drop_index_sql(table, index.name, dialect)


def _redundancy_findings(ctx: RuleContext, kind: Literal["duplicate", "prefix"]) -> Iterator[Finding]:
    rule_id = "index.duplicate_index" if kind == "duplicate" else "index.redundant_prefix_index"
    catalog = ctx.catalog
    if not applies(catalog, rule_id):
        return
    referenced = referenced_keys(catalog)
    for table in judged_tables(catalog):
        for item in redundant_indexes(table):
            if item.kind != kind:
                continue
            ix, other = item.index, item.covered_by
            relation = "duplicates" if kind == "duplicate" else "is a leading prefix of"
            yield make_finding(
                rule_id,
                object_type=ObjectType.INDEX,
                obj=named_object(table, ix.name),
                message=f"Index {ix.name} on {table.qualified_name} {relation} index {other.name}.",
                evidence={
                    "index": ix.name,
                    "index_definition": _describe(ix),
                    "index_size_bytes": ix.size_bytes,
                    "index_scans": ix.scans,
                    "covered_by": other.name,
                    "covered_by_definition": _describe(other),
                    "covered_by_size_bytes": other.size_bytes,
                    "innodb_primary_key_suffix": item.innodb_primary_key_suffix,
                },
                fix=_drop_fix(catalog, table, ix, referenced),
            )


@rule("index.duplicate_index", tool=TOOL)
def duplicate_index(ctx: RuleContext) -> Iterator[Finding]:
    yield from _redundancy_findings(ctx, "duplicate")


@rule("index.redundant_prefix_index", tool=TOOL)
def redundant_prefix_index(ctx: RuleContext) -> Iterator[Finding]:
    yield from _redundancy_findings(ctx, "prefix")


# ---------------------------------------------------------------- invalid and unused


def _reindex_sql(catalog: Catalog, table: Table, index: Index) -> str:
    version = catalog.server_version_num
    option = "CONCURRENTLY " if version is None or version >= PG_REINDEX_CONCURRENTLY else ""
    return f"REINDEX INDEX {option}{index_ref(table, index.name, catalog.dialect)};"


@rule("index.invalid_index", tool=TOOL)
def invalid_index(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "index.invalid_index"):
        return
    for table in catalog.tables:
        for ix in table.indexes:
            if ix.valid:
                continue
            yield make_finding(
                "index.invalid_index",
                object_type=ObjectType.INDEX,
                obj=named_object(table, ix.name),
                message=(
                    f"Index {ix.name} on {table.qualified_name} is invalid: "
                    "queries ignore it, writes still pay for it."
                ),
                evidence={
                    "index": ix.name,
                    "definition": _describe(ix),
                    "unique": ix.unique,
                    "size_bytes": ix.size_bytes,
                },
                fix=_reindex_sql(catalog, table, ix),
            )


def _only_fk_cover(table: Table, index: Index) -> bool:
    """True when dropping `index` would leave some foreign key of the table without an index."""
    for fk in table.foreign_keys:
        if fk_covering_index(table, fk) is index:
            rest = table.model_copy(update={"indexes": [ix for ix in table.indexes if ix is not index]})
            if fk_covering_index(rest, fk) is None:
                return True
    return False


@rule("index.unused_index", tool=TOOL)
def unused_index(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "index.unused_index") or catalog.source != "live":
        return
    min_rows = ctx.options.threshold("index.unused_index.min_rows", UNUSED_INDEX_MIN_ROWS)
    for table in judged_tables(catalog):
        if table.row_estimate is None or table.row_estimate < min_rows:
            continue
        for ix in table.indexes:
            if ix.scans != 0 or not ix.valid or ix.primary or ix.unique or ix.constraint is not None:
                continue
            if _only_fk_cover(table, ix):
                continue
            yield make_finding(
                "index.unused_index",
                object_type=ObjectType.INDEX,
                obj=named_object(table, ix.name),
                message=(
                    f"Index {ix.name} on {table.qualified_name} has not been scanned "
                    "since statistics were reset."
                ),
                evidence={
                    "index": ix.name,
                    "scans": ix.scans,
                    "size_bytes": ix.size_bytes,
                    "row_estimate": table.row_estimate,
                    "stats_reset": catalog.stats_reset,
                    "definition": _describe(ix),
                },
                fix=drop_index_sql(table, ix.name, catalog.dialect),
            )

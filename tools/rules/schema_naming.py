"""Naming: the persona's conventions (plural snake_case tables, snake_case columns, idx_<table>_<cols>,
<type>_<table>_<cols> constraints).

Findings are grouped per table (per schema for plurality) so that a large database yields a short
report: the offending names are listed in the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from dbsage.tools.catalog import Catalog, Dialect, Index, Table
from dbsage.tools.findings import Finding, ObjectType, Severity
from dbsage.tools.rules.fix_sql import (
    MAX_IDENTIFIER_BYTES,
    NamePool,
    RelationNames,
    convention_name,
    index_ref,
    quote,
    snake,
    table_ref,
)
from dbsage.tools.rules.registry import RuleContext, make_finding, rule
from dbsage.tools.rules.rule_kit import TOOL, applies, judged_tables

_SNAKE = re.compile(r"^_*[a-z][a-z0-9_]*$")

# Last words that are fine as table names without a plural -s (mass nouns, irregular plurals, logs).
_NO_PLURAL_S = {
    "data", "metadata", "media", "information", "info", "equipment", "staff", "news", "series", "species",
    "inventory", "history", "feedback", "software", "hardware", "audit", "log", "config", "analytics",
    "people", "children", "men", "women", "criteria", "indices", "matrices", "vertices", "personnel",
}
# Words ending in s that are singular: address, status, analysis.
_SINGULAR_S_ENDINGS = ("ss", "us", "is")


def is_snake_case(name: str) -> bool:
    return bool(_SNAKE.match(name))


def looks_plural(name: str) -> bool:
    """A word-ending guess: users, order_items, audit_log and media pass; user and order_item do not."""
    words = [w for w in name.lower().split("_") if w and not w.isdigit()]
    if not words:
        return True
    last = words[-1]
    if last in _NO_PLURAL_S:
        return True
    return last.endswith("s") and not last.endswith(_SINGULAR_S_ENDINGS)


# ---------------------------------------------------------------- tables and columns


@rule("schema.naming_table_case", tool=TOOL)
def naming_table_case(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "schema.naming_table_case"):
        return
    for table in judged_tables(catalog):
        if is_snake_case(table.name):
            continue
        yield make_finding(
            "schema.naming_table_case",
            object_type=ObjectType.TABLE,
            obj=table.qualified_name,
            message=f"Table name {table.name!r} is not lowercase snake_case (say {snake(table.name)}).",
            evidence={"name": table.name, "suggested": snake(table.name)},
        )


@rule("schema.naming_table_plural", tool=TOOL)
def naming_table_plural(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "schema.naming_table_plural"):
        return
    by_schema: dict[str, list[Table]] = {}
    for table in judged_tables(catalog):
        by_schema.setdefault(table.schema_name, []).append(table)
    for schema_name, tables in sorted(by_schema.items()):
        singular = sorted(t.name for t in tables if is_snake_case(t.name) and not looks_plural(t.name))
        if not singular:
            continue
        yield make_finding(
            "schema.naming_table_plural",
            object_type=ObjectType.SCHEMA,
            obj=schema_name,
            message=f"{len(singular)} of {len(tables)} tables in schema {schema_name} have singular names.",
            evidence={
                "singular_tables": singular[:50],
                "singular_count": len(singular),
                "table_count": len(tables),
            },
        )


@rule("schema.naming_column_case", tool=TOOL)
def naming_column_case(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "schema.naming_column_case"):
        return
    for table in judged_tables(catalog):
        bad = [c.name for c in table.columns if not is_snake_case(c.name)]
        if not bad:
            continue
        yield make_finding(
            "schema.naming_column_case",
            object_type=ObjectType.TABLE,
            obj=table.qualified_name,
            message=f"{len(bad)} column name(s) on {table.qualified_name} are not lowercase snake_case.",
            evidence={"columns": bad, "suggested": [snake(c) for c in bad]},
        )


# ---------------------------------------------------------------- indexes


def _engine_named(index: Index, table: Table, dialect: Dialect) -> bool:
    """Indexes whose name the engine or a constraint chose: judged with constraints, or not at all."""
    if index.primary or index.constraint is not None:
        return True
    if index.name.startswith("sqlite_autoindex_") or index.name == "PRIMARY":
        return True
    if dialect.is_mysql_family:
        # MySQL names the index it creates for a foreign key (or a UNIQUE key) after the constraint.
        owned = {fk.name for fk in table.foreign_keys} | {u.name for u in table.unique_constraints}
        return index.name in owned
    return False


def _expected_index_name(index: Index, table: Table, dialect: Dialect) -> str:
    columns = [k.column for k in index.keys if k.column is not None]
    return convention_name("idx", table.name, columns if len(columns) == len(index.keys) else [], dialect)


def _index_name_ok(index: Index, table: Table, dialect: Dialect) -> bool:
    expected = _expected_index_name(index, table, dialect)
    prefixes = [expected]
    if index.unique:
        prefixes += ["uq" + expected[3:], "ux" + expected[3:]]
    return any(index.name.startswith(p) for p in prefixes)


def _rename_indexes_fix(catalog: Catalog, table: Table, renames: list[tuple[str, str]]) -> str | None:
    dialect = catalog.dialect
    if dialect is Dialect.POSTGRES:
        return "\n".join(
            f"ALTER INDEX {index_ref(table, old, dialect)} RENAME TO {quote(new, dialect)};"
            for old, new in renames
        )
    if dialect.is_mysql_family:
        ref = table_ref(table, dialect)
        return "\n".join(
            f"ALTER TABLE {ref} RENAME INDEX {quote(old, dialect)} TO {quote(new, dialect)};"
            for old, new in renames
        )
    return None  # SQLite cannot rename an index


@rule("schema.naming_index", tool=TOOL)
def naming_index(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "schema.naming_index"):
        return
    dialect = catalog.dialect
    relation_names = RelationNames(catalog.tables, dialect)
    for table in judged_tables(catalog):
        bad = [
            ix for ix in table.indexes
            if not _engine_named(ix, table, dialect) and not _index_name_ok(ix, table, dialect)
        ]
        if not bad:
            continue
        pool = (
            NamePool(dialect, [ix.name for ix in table.indexes])
            if dialect.is_mysql_family  # MySQL index names are per table
            else relation_names.pool(table.schema_name)
        )
        renames = [(ix.name, pool.claim(_expected_index_name(ix, table, dialect))) for ix in bad]
        yield make_finding(
            "schema.naming_index",
            object_type=ObjectType.TABLE,
            obj=table.qualified_name,
            message=f"{len(bad)} index name(s) on {table.qualified_name} do not follow idx_<table>_<cols>.",
            evidence={"indexes": [old for old, _ in renames], "suggested": [new for _, new in renames]},
            fix=_rename_indexes_fix(catalog, table, renames),
        )


# ---------------------------------------------------------------- constraints


@dataclass(frozen=True)
class _Named:
    kind: str  # pk, fk, uq, ck
    name: str
    columns: list[str]


_PG_DEFAULT_SUFFIX = re.compile(r"_(pkey|fkey|key|check|excl)\d*$")


def _check_columns(expression: str, table: Table) -> list[str]:
    """The table's columns named in a CHECK expression, in order of first appearance."""
    words = re.findall(r'"((?:[^"]|"")+)"|`([^`]+)`|([A-Za-z_][A-Za-z0-9_$]*)', expression)
    seen: list[str] = []
    for quoted, backticked, bare in words:
        column = table.column(quoted or backticked or bare)
        if column is not None and column.name not in seen:
            seen.append(column.name)
    return seen


def _constraints(table: Table, dialect: Dialect) -> list[_Named]:
    named: list[_Named] = []
    pk = table.primary_key
    if pk is not None and pk.name and not (dialect.is_mysql_family and pk.name == "PRIMARY"):
        named.append(_Named("pk", pk.name, pk.columns))
    named += [_Named("fk", fk.name, fk.columns) for fk in table.foreign_keys if fk.name]
    named += [_Named("uq", uc.name, uc.columns) for uc in table.unique_constraints if uc.name]
    named += [
        _Named("ck", ck.name, _check_columns(ck.expression, table))
        for ck in table.check_constraints
        if ck.name
    ]
    return named


def _constraint_name_ok(item: _Named, table: Table, dialect: Dialect) -> bool:
    # A check's columns are read from its expression, so only its prefix is required.
    parts = [] if item.kind in ("pk", "ck") else item.columns
    return item.name.startswith(convention_name(item.kind, table.name, parts, dialect))


def _pg_default_name(item: _Named, table: Table) -> bool:
    """True for names PostgreSQL generates itself: orders_pkey, orders_user_id_fkey, orders_email_key."""
    stem = table.name[: MAX_IDENTIFIER_BYTES[Dialect.POSTGRES] or 63].lower()
    return item.name.lower().startswith(stem) and bool(_PG_DEFAULT_SUFFIX.search(item.name))


@rule("schema.naming_constraint", tool=TOOL)
def naming_constraint(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "schema.naming_constraint"):
        return
    dialect = catalog.dialect
    relation_names = RelationNames(catalog.tables, dialect)
    for table in judged_tables(catalog):
        bad = [c for c in _constraints(table, dialect) if not _constraint_name_ok(c, table, dialect)]
        if not bad:
            continue
        pg_style = dialect is Dialect.POSTGRES and all(_pg_default_name(c, table) for c in bad)
        fix = None
        suggested: list[str] = []
        # Renaming a primary or unique key renames its index, and index names are unique per schema.
        pool = relation_names.pool(table.schema_name)
        existing = [c.name for c in _constraints(table, dialect)]
        for item in bad:
            wanted = convention_name(item.kind, table.name, item.columns, dialect)
            suggested.append(pool.claim(wanted, existing))
        if dialect is Dialect.POSTGRES:
            ref = table_ref(table, dialect)
            fix = "\n".join(
                f"ALTER TABLE {ref} RENAME CONSTRAINT {quote(item.name, dialect)} TO {quote(new, dialect)};"
                for item, new in zip(bad, suggested, strict=True)
            )
        style = "PostgreSQL's default suffix names" if pg_style else "names"
        yield make_finding(
            "schema.naming_constraint",
            object_type=ObjectType.TABLE,
            obj=table.qualified_name,
            message=(
                f"{len(bad)} constraint(s) on {table.qualified_name} use {style} rather than "
                "<type>_<table>_<columns>."
            ),
            evidence={
                "constraints": [c.name for c in bad],
                "kinds": [c.kind for c in bad],
                "suggested": suggested,
                "postgres_default_style": pg_style,
            },
            fix=fix,
            severity=Severity.INFO if pg_style else None,
        )

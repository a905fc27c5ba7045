"""Column types that hurt later: timestamps without zone, char(n), money, serial, json, varchar(n)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dbsage.tools.catalog import Catalog, Column, Dialect, Table
from dbsage.tools.findings import Finding, ObjectType
from dbsage.tools.rules.fix_sql import NamePool, convention_name, quote, table_ref
from dbsage.tools.rules.registry import RuleContext, make_finding, rule
from dbsage.tools.rules.rule_kit import (
    TOOL,
    applies,
    column_object,
    columns_object,
    judged_tables,
    referenced_keys,
)

# money is an 8-byte integer count of cents: 19 digits with 2 after the point hold every value.
MONEY_REPLACEMENT = "numeric(19,2)"


def _fk_columns(referenced: dict[tuple[str, str], list[list[str]]], table: Table) -> set[str]:
    """Lower-cased columns of `table` on either side of a foreign key: changing their type alone breaks it."""
    cols = {c.lower() for fk in table.foreign_keys for c in fk.columns}
    for key in referenced.get((table.schema_name, table.name), []):
        cols.update(key)
    return cols


def _columns(catalog: Catalog) -> Iterator[tuple[Table, Column]]:
    for table in judged_tables(catalog):
        for column in table.columns:
            yield table, column


def _alter_type(catalog: Catalog, table: Table, column: Column, new_type: str) -> str:
    return (
        f"ALTER TABLE {table_ref(table, catalog.dialect)} ALTER COLUMN "
        f"{quote(column.name, catalog.dialect)} TYPE {new_type};"
    )


def _text_with_length_check(catalog: Catalog, table: Table, columns: list[Column]) -> str:
    """One ALTER TABLE turning each column into text with a CHECK on its declared length."""
    dialect = catalog.dialect
    existing = [c.name for c in table.check_constraints] + [f.name for f in table.foreign_keys]
    existing += [u.name for u in table.unique_constraints]
    pool = NamePool(dialect, [n for n in existing if n])
    parts: list[str] = []
    for column in columns:
        name = pool.claim(convention_name("ck", table.name, [column.name, "length"], dialect))
        col = quote(column.name, dialect)
        parts.append(f"ALTER COLUMN {col} TYPE text")
        parts.append(f"ADD CONSTRAINT {quote(name, dialect)} CHECK (char_length({col}) <= {column.length})")
    return f"ALTER TABLE {table_ref(table, dialect)}\n  " + ",\n  ".join(parts) + ";"


def _is_timestamp_without_zone(column: Column, dialect: Dialect) -> bool:
    if dialect.is_mysql_family:
        return column.data_type.strip().lower().startswith("datetime")
    return column.base_type == "timestamp"


@rule("schema.timestamp_without_time_zone", tool=TOOL)
def timestamp_without_time_zone(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "schema.timestamp_without_time_zone"):
        return
    for table, column in _columns(catalog):
        if not _is_timestamp_without_zone(column, catalog.dialect):
            continue
        obj = column_object(table, column.name)
        yield make_finding(
            "schema.timestamp_without_time_zone",
            object_type=ObjectType.COLUMN,
            obj=obj,
            message=f"{obj} is {column.data_type}: the values carry no time zone.",
            evidence={"data_type": column.data_type},
            # The conversion needs the zone the values were written in, which only the owner knows.
            fix=None,
        )


@rule("schema.char_n", tool=TOOL)
def char_n(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "schema.char_n"):
        return
    referenced = referenced_keys(catalog)
    for table, column in _columns(catalog):
        if column.base_type != "char" or column.length is None or column.length <= 1:
            continue
        keyed = _fk_columns(referenced, table)
        fix = None
        if catalog.dialect is Dialect.POSTGRES and column.name.lower() not in keyed:
            # text with a named length CHECK, as varchar_limit advises, keeps the limit without padding.
            fix = _text_with_length_check(catalog, table, [column])
        obj = column_object(table, column.name)
        yield make_finding(
            "schema.char_n",
            object_type=ObjectType.COLUMN,
            obj=obj,
            message=f"{obj} is {column.data_type}: shorter values are padded with spaces.",
            evidence={"data_type": column.data_type, "length": column.length},
            fix=fix,
        )


@rule("schema.money_type", tool=TOOL)
def money_type(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "schema.money_type"):
        return
    for table, column in _columns(catalog):
        if column.base_type != "money":
            continue
        obj = column_object(table, column.name)
        yield make_finding(
            "schema.money_type",
            object_type=ObjectType.COLUMN,
            obj=obj,
            message=f"{obj} uses money, whose scale depends on the lc_monetary setting.",
            evidence={"data_type": column.data_type, "replacement": MONEY_REPLACEMENT},
            fix=_alter_type(catalog, table, column, MONEY_REPLACEMENT),
        )


_NEXTVAL = re.compile(r"nextval\('((?:[^']|'')+)'", re.IGNORECASE)


def _serial_sequence(catalog: Catalog, table: Table, column: Column) -> str | None:
    """The sequence behind a serial column as SQL text, or None when it cannot be told."""
    owner = f"{table.qualified_name}.{column.name}".lower()
    for seq in catalog.sequences:
        if seq.owned_by is not None and seq.owned_by.lower() == owner:
            return f"{quote(seq.schema_name, catalog.dialect)}.{quote(seq.name, catalog.dialect)}"
    if column.default:
        match = _NEXTVAL.search(column.default)
        if match:
            return match.group(1).replace("''", "'")
    # The name PostgreSQL gives a serial's sequence when it fits in 63 bytes without a clash.
    conventional = f"{table.name}_{column.name}_seq"
    if len(conventional.encode()) <= 63 and catalog.source == "ddl":
        return f"{quote(table.schema_name, catalog.dialect)}.{quote(conventional, catalog.dialect)}"
    return None


def _identity_fix(catalog: Catalog, table: Table, column: Column) -> str | None:
    sequence = _serial_sequence(catalog, table, column)
    if sequence is None:
        return None
    ref, col = table_ref(table, catalog.dialect), quote(column.name, catalog.dialect)
    literal_table = ref.replace("'", "''")
    literal_column = column.name.replace("'", "''")
    return "\n".join([
        "BEGIN;",
        f"ALTER TABLE {ref} ALTER COLUMN {col} DROP DEFAULT;",
        f"DROP SEQUENCE {sequence};",
        f"ALTER TABLE {ref} ALTER COLUMN {col} ADD GENERATED BY DEFAULT AS IDENTITY;",
        f"SELECT setval(pg_get_serial_sequence('{literal_table}', '{literal_column}'), "
        f"coalesce(max({col}), 0) + 1, false) FROM {ref};",
        "COMMIT;",
    ])


@rule("schema.serial_column", tool=TOOL)
def serial_column(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "schema.serial_column"):
        return
    for table, column in _columns(catalog):
        nextval = _NEXTVAL.search(column.default or "")
        if column.identity is not None or not (column.serial or nextval):
            continue
        obj = column_object(table, column.name)
        if column.serial:
            message = f"{obj} is a serial column; an identity column ties the sequence to it."
        else:
            message = f"{obj} takes its default from a sequence it does not own; an identity column would."
        yield make_finding(
            "schema.serial_column",
            object_type=ObjectType.COLUMN,
            obj=obj,
            message=message,
            evidence={
                "data_type": column.data_type,
                "default": column.default,
                "owns_sequence": column.serial,
            },
            # A sequence the column does not own may serve other tables or code: dropping it is not for us.
            fix=_identity_fix(catalog, table, column) if column.serial else None,
        )


@rule("schema.json_not_jsonb", tool=TOOL)
def json_not_jsonb(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "schema.json_not_jsonb"):
        return
    for table, column in _columns(catalog):
        if column.base_type != "json":
            continue
        obj = column_object(table, column.name)
        yield make_finding(
            "schema.json_not_jsonb",
            object_type=ObjectType.COLUMN,
            obj=obj,
            message=f"{obj} is json: stored as text, reparsed on every access and not indexable with GIN.",
            evidence={"data_type": column.data_type},
            fix=_alter_type(catalog, table, column, "jsonb"),
        )


@rule("schema.varchar_limit", tool=TOOL)
def varchar_limit(ctx: RuleContext) -> Iterator[Finding]:
    catalog = ctx.catalog
    if not applies(catalog, "schema.varchar_limit"):
        return
    referenced = referenced_keys(catalog)
    for table in judged_tables(catalog):
        keyed = _fk_columns(referenced, table)
        limited = [
            c for c in table.columns
            if c.base_type == "varchar" and c.length is not None
            and c.name.lower() not in keyed and c.generated is None
        ]
        if not limited:
            continue
        names = [c.name for c in limited]
        yield make_finding(
            "schema.varchar_limit",
            object_type=ObjectType.COLUMNS,
            obj=columns_object(table, names),
            message=(
                f"{len(limited)} varchar(n) column(s) on {table.qualified_name} carry a length limit that a "
                "named CHECK on text would state more clearly."
            ),
            evidence={"columns": [f"{c.name} {c.data_type}" for c in limited]},
            fix=_text_with_length_check(catalog, table, limited),
        )

"""What every catalog rule needs besides the registry: object names in the public format, and scope.

Object names follow the Finding contract: table `schema.table`, column `schema.table.column`, column
set `schema.table(c1,c2)`, index or constraint `schema.table.name`.
"""

from __future__ import annotations

from collections.abc import Iterator

from dbsage.knowledge.rulebook import rule_doc
from dbsage.tools.catalog import Catalog, Column, Table

TOOL = "inspect_schema"


def applies(catalog: Catalog, rule_id: str) -> bool:
    """True when the rule's knowledge entry lists the catalog's dialect."""
    return catalog.dialect in rule_doc(rule_id).dialects


def column_object(table: Table, column: str) -> str:
    return f"{table.qualified_name}.{column}"


def columns_object(table: Table, columns: list[str]) -> str:
    return f"{table.qualified_name}({','.join(columns)})"


def named_object(table: Table, name: str) -> str:
    """An index or a constraint of `table`."""
    return f"{table.qualified_name}.{name}"


def judged_tables(catalog: Catalog) -> Iterator[Table]:
    """Tables whose design is judged: partitions follow their parent, foreign tables live elsewhere."""
    for table in catalog.tables:
        if table.partition_of is None and table.kind != "foreign_table":
            yield table


def referenced_keys(catalog: Catalog) -> dict[tuple[str, str], list[list[str]]]:
    """For each referenced table (schema, name): the column lists foreign keys point at, lower-cased."""
    keys: dict[tuple[str, str], list[list[str]]] = {}
    for table in catalog.tables:
        for fk in table.foreign_keys:
            keys.setdefault((fk.ref_schema, fk.ref_table), []).append([c.lower() for c in fk.ref_columns])
    return keys


TableLookup = dict[tuple[str, str], Table]


def table_lookup(catalog: Catalog) -> TableLookup:
    """The catalog's tables by lower-cased (schema, name), for lookups that must not scan the list."""
    return {(t.schema_name.lower(), t.name.lower()): t for t in catalog.tables}


def referenced_column(
    tables: TableLookup, schema: str, table: str, column: str
) -> tuple[Table, Column] | None:
    """The table and column a foreign key (or a sequence's owner) names, when the catalog holds them."""
    parent = tables.get((schema.lower(), table.lower()))
    if parent is None:
        return None
    col = parent.column(column)
    return (parent, col) if col is not None else None

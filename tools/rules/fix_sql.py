"""SQL text for fixes: identifiers quoted only where the dialect needs it, convention names, index DDL.

Every statement built here must run as given on its dialect, so names are quoted whenever they are not
plain lowercase words or collide with a keyword, and generated names respect the engine's length limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pglast import keywords as pg_keywords
from sqlglot import exp

from dbsage.tools.catalog import Dialect, Table

# Longest identifier each engine keeps (PostgreSQL truncates silently, MySQL refuses); SQLite has none.
MAX_IDENTIFIER_BYTES: dict[Dialect, int | None] = {
    Dialect.POSTGRES: 63,
    Dialect.MYSQL: 64,
    Dialect.MARIADB: 64,
    Dialect.SQLITE: None,
}

_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
_PG_KEYWORDS = (
    pg_keywords.RESERVED_KEYWORDS | pg_keywords.TYPE_FUNC_NAME_KEYWORDS | pg_keywords.COL_NAME_KEYWORDS
)
# SQLite accepts many keywords as bare names, but not all; quoting a superset is harmless.
_SQLITE_EXTRA = {
    "glob", "indexed", "pragma", "autoincrement", "conflict", "fail", "raise", "notnull", "isnull",
}


def quote(name: str, dialect: Dialect) -> str:
    """`name` as an identifier of `dialect`, quoted only when it has to be."""
    if dialect.is_mysql_family:
        return str(exp.to_identifier(name).sql(dialect="mysql"))
    lowered = name.lower()
    needs = not _PLAIN.match(name) or lowered in _PG_KEYWORDS
    if dialect is Dialect.SQLITE:
        needs = needs or lowered in _SQLITE_EXTRA or _is_mysql_reserved(lowered)
    return '"' + name.replace('"', '""') + '"' if needs else name


def _is_mysql_reserved(word: str) -> bool:
    return str(exp.to_identifier(word).sql(dialect="mysql")).startswith("`")


def column_list(columns: Iterable[str], dialect: Dialect) -> str:
    return ", ".join(quote(c, dialect) for c in columns)


def table_ref(table: Table, dialect: Dialect) -> str:
    """The table as a statement names it: schema-qualified, except SQLite's main schema."""
    if dialect is Dialect.SQLITE and table.schema_name == "main":
        return quote(table.name, dialect)
    return f"{quote(table.schema_name, dialect)}.{quote(table.name, dialect)}"


def index_ref(table: Table, index_name: str, dialect: Dialect) -> str:
    """An index as DROP INDEX/ALTER INDEX name it (PostgreSQL and SQLite indexes live in the schema)."""
    if dialect is Dialect.SQLITE and table.schema_name == "main":
        return quote(index_name, dialect)
    return f"{quote(table.schema_name, dialect)}.{quote(index_name, dialect)}"


def snake(name: str) -> str:
    """`name` in lowercase snake_case: OrderItems -> order_items, "First Name" -> first_name."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    cleaned = re.sub(r"[^0-9a-zA-Z]+", "_", spaced).strip("_").lower()
    return cleaned or "x"


def truncate_identifier(name: str, dialect: Dialect) -> str:
    """`name` cut to the engine's identifier limit, on a character boundary."""
    limit = MAX_IDENTIFIER_BYTES[dialect]
    if limit is None:
        return name
    encoded = name.encode("utf-8")
    if len(encoded) <= limit:
        return name
    return encoded[:limit].decode("utf-8", errors="ignore")


def convention_name(prefix: str, table_name: str, parts: Iterable[str], dialect: Dialect) -> str:
    """The persona's name for an object: <prefix>_<table>_<part1>_<part2>, within the length limit."""
    pieces = [prefix, snake(table_name), *(snake(p) for p in parts)]
    return truncate_identifier("_".join(pieces), dialect)


class NamePool:
    """Names in use in one namespace, compared case-insensitively; `claim` hands out free ones."""

    def __init__(self, dialect: Dialect, names: Iterable[str] = ()) -> None:
        self.dialect = dialect
        self._used = {n.lower() for n in names}

    def add(self, name: str) -> None:
        self._used.add(name.lower())

    def claim(self, base: str, avoid: Iterable[str] = ()) -> str:
        """`base`, or `base_2`, `base_3`... when taken here or in `avoid`; the name is then taken."""
        avoided = {a.lower() for a in avoid}
        candidate, n = base, 2
        while candidate.lower() in self._used or candidate.lower() in avoided:
            suffix = f"_{n}"
            limit = MAX_IDENTIFIER_BYTES[self.dialect]
            stem = base if limit is None else truncate_identifier(base, self.dialect)[: limit - len(suffix)]
            candidate, n = stem + suffix, n + 1
        self.add(candidate)
        return candidate


class RelationNames:
    """Per schema, the table and index names in use: one namespace in PostgreSQL and SQLite."""

    def __init__(self, tables: Iterable[Table], dialect: Dialect) -> None:
        self._pools: dict[str, NamePool] = {}
        for t in tables:
            pool = self._pools.setdefault(t.schema_name, NamePool(dialect))
            pool.add(t.name)
            for ix in t.indexes:
                pool.add(ix.name)
        self._dialect = dialect

    def pool(self, schema_name: str) -> NamePool:
        return self._pools.setdefault(schema_name, NamePool(self._dialect))


def create_index_sql(table: Table, name: str, columns: list[str], dialect: Dialect) -> str:
    """An index build that does not block writers where the engine allows it."""
    cols = column_list(columns, dialect)
    if dialect is Dialect.POSTGRES:
        return (
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {quote(name, dialect)} "
            f"ON {table_ref(table, dialect)} ({cols});"
        )
    if dialect.is_mysql_family:
        return (
            f"ALTER TABLE {table_ref(table, dialect)} ADD INDEX {quote(name, dialect)} ({cols}), "
            "ALGORITHM=INPLACE, LOCK=NONE;"
        )
    target = index_ref(table, name, dialect)
    return f"CREATE INDEX IF NOT EXISTS {target} ON {quote(table.name, dialect)} ({cols});"


def drop_index_sql(table: Table, name: str, dialect: Dialect) -> str:
    """Dropping a secondary index without blocking writers where the engine allows it."""
    if dialect is Dialect.POSTGRES:
        return f"DROP INDEX CONCURRENTLY IF EXISTS {index_ref(table, name, dialect)};"
    if dialect.is_mysql_family:
        return (
            f"ALTER TABLE {table_ref(table, dialect)} DROP INDEX {quote(name, dialect)}, "
            "ALGORITHM=INPLACE, LOCK=NONE;"
        )
    return f"DROP INDEX IF EXISTS {index_ref(table, name, dialect)};"


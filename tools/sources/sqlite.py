"""SQLite: sqlite_master + read-only PRAGMA table-valued functions -> Catalog (schema 'main').

The pragmas give columns, indexes and foreign keys as SQLite resolved them, one set-based query each
(`sqlite_master JOIN pragma_table_xinfo(name)`). What only the stored CREATE text says (constraint
names, CHECK expressions, collations, generation expressions, AUTOINCREMENT, WITHOUT ROWID, index
expressions and WHERE clauses, trigger timing) is read from that text with sqlglot's SQLite
tokenizer, keeping the original spelling of every expression. sqlglot's parser is not used: it
rejects legal SQLite such as `BLOB SUB_TYPE TEXT` or `WITHOUT ROWID`.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sqlglot.dialects.dialect import Dialect as SqlglotDialect
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import Token, TokenType

from dbsage.tools.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    Dialect,
    ForeignKey,
    Index,
    IndexKey,
    PrimaryKey,
    Sequence,
    Table,
    Trigger,
    UniqueConstraint,
    View,
)
from dbsage.tools.errors import QueryFailed
from dbsage.tools.sources.guard import GuardedSession

SCHEMA = "main"
Row = dict[str, Any]

# dbstat walks every page of the file: beyond this size it would take most of the statement timeout.
DBSTAT_MAX_BYTES = 1 << 30
ROWID_MAX = (1 << 63) - 1
SETTING_PRAGMAS = ("journal_mode", "auto_vacuum", "page_size", "page_count", "freelist_count", "encoding",
                   "user_version", "application_id")

_USER_OBJECTS = "m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"


def parse_version_num(version: str) -> int | None:
    """3.40.1 -> 3040001 (SQLite's own SQLITE_VERSION_NUMBER form)."""
    match = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", version)
    if match is None:
        return None
    return int(match.group(1)) * 1_000_000 + int(match.group(2)) * 1000 + int(match.group(3) or 0)


def load_catalog(session: GuardedSession) -> Catalog:
    """The catalog of the database file's `main` schema."""
    version = str(session.catalog_value("SELECT sqlite_version() AS version"))
    catalog = Catalog(
        dialect=Dialect.SQLITE,
        source="live",
        server_version=version,
        server_version_num=parse_version_num(version),
        database=_database_name(session),
        schemas=[SCHEMA],
    )
    objects = session.catalog(
        "SELECT m.type AS type, m.name AS name, m.tbl_name AS tbl_name, m.sql AS sql"
        f" FROM sqlite_master m WHERE {_USER_OBJECTS} ORDER BY m.type, m.name"
    )
    table_sql = {r["name"]: r["sql"] or "" for r in objects if r["type"] == "table"}
    shadow = _shadow_tables(session)
    tables = {
        name: _new_table(name, sql, catalog.unknown)
        for name, sql in table_sql.items()
        if name not in shadow
    }
    views = {r["name"]: _view(r["name"], r["sql"] or "") for r in objects if r["type"] == "view"}

    _attach_columns(session, tables, views, catalog.unknown)
    index_sql = {r["name"]: r["sql"] for r in objects if r["type"] == "index"}
    _attach_indexes(session, tables, index_sql, catalog.unknown)
    _attach_foreign_keys(session, tables, catalog.unknown)
    for r in objects:
        if r["type"] == "trigger" and r["tbl_name"] in tables:
            tables[r["tbl_name"]].table.triggers.append(_trigger(r["name"], r["sql"] or ""))

    internal = session.catalog(
        "SELECT m.name AS name FROM sqlite_master m"
        " WHERE m.type = 'table' AND m.name LIKE 'sqlite\\_%' ESCAPE '\\'"
    )
    existing = {r["name"] for r in internal}
    _attach_row_estimates(session, tables, "sqlite_stat1" in existing, catalog.unknown)
    catalog.settings = _settings(session)
    _attach_sizes(session, tables, catalog.settings, catalog.unknown)
    catalog.tables = [t.table for t in sorted(tables.values(), key=lambda t: t.table.name)]
    catalog.views = sorted(views.values(), key=lambda v: v.name)
    catalog.sequences = _sequences(session, tables, "sqlite_sequence" in existing)
    return catalog


@dataclass
class _TableFacts:
    """A table being built, with what its CREATE TABLE text says that the pragmas do not."""

    table: Table
    ddl: _TableDdl


def _new_table(name: str, sql: str, unknown: list[str]) -> _TableFacts:
    # A virtual table's parentheses hold its module's arguments, not column definitions.
    virtual = bool(re.match(r"(?is)\s*CREATE\s+VIRTUAL\s", sql))
    ddl = _TableDdl() if virtual else _parse_create_table(sql)
    if ddl.unparsed:
        unknown.append(f"table main.{name}: CREATE TABLE text not understood; no constraint names or CHECKs")
    table = Table(schema_name=SCHEMA, name=name, without_rowid=ddl.without_rowid)
    table.check_constraints = ddl.checks
    return _TableFacts(table=table, ddl=ddl)


def _database_name(session: GuardedSession) -> str | None:
    rows = session.catalog("SELECT name, file FROM pragma_database_list WHERE name = 'main'")
    file = str(rows[0]["file"] or "") if rows else ""
    return PurePath(file).name if file else None


def _shadow_tables(session: GuardedSession) -> set[str]:
    """The tables a virtual table (FTS, R-Tree) keeps its data in: implementation, not schema."""
    try:
        rows = session.catalog("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'")
    except QueryFailed:  # pragma_table_list is new in SQLite 3.37
        return set()
    return {str(r["name"]) for r in rows}


# -- columns ----------------------------------------------------------------------------------------


def _per_object(
    session: GuardedSession,
    sql_all: str,
    sql_one: str,
    names: list[str],
    what: str,
    unknown: list[str],
) -> list[Row]:
    """Rows of a pragma joined over every object; one object at a time if one of them fails (a
    view over a dropped table, a virtual table whose module is not loaded)."""
    try:
        return session.catalog(sql_all)
    except QueryFailed:
        pass
    rows: list[Row] = []
    for name in names:
        try:
            rows.extend(session.catalog(sql_one, (name, name)))
        except QueryFailed as exc:
            unknown.append(f"{what} of main.{name}: {exc.message}")
    return rows


def _attach_columns(
    session: GuardedSession,
    tables: dict[str, _TableFacts],
    views: dict[str, View],
    unknown: list[str],
) -> None:
    select = (
        "SELECT {source} AS object_name, p.cid AS cid, p.name AS name, p.type AS type,"
        ' p."notnull" AS not_null, p.dflt_value AS dflt_value, p.pk AS pk, p.hidden AS hidden'
    )
    rows = _per_object(
        session,
        select.format(source="m.name") + " FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p"
        f" WHERE m.type IN ('table', 'view') AND {_USER_OBJECTS} ORDER BY m.name, p.cid",
        select.format(source="?") + " FROM pragma_table_xinfo(?) p ORDER BY p.cid",
        [*tables, *views],
        "columns",
        unknown,
    )
    pk_parts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in rows:
        name = str(r["object_name"])
        if name in views:
            views[name].columns.append(str(r["name"]))
        elif name in tables and int(r["hidden"] or 0) != 1:  # 1: a virtual table's hidden column
            facts = tables[name]
            facts.table.columns.append(_column(r, facts.ddl))
            if int(r["pk"] or 0) > 0:
                pk_parts[name].append((int(r["pk"]), str(r["name"])))
    for name, parts in pk_parts.items():
        facts = tables[name]
        columns = [c for _, c in sorted(parts)]
        facts.table.primary_key = PrimaryKey(name=facts.ddl.pk_name, columns=columns)
        if len(columns) == 1 and not facts.table.without_rowid:
            column = facts.table.column(columns[0])
            # INTEGER PRIMARY KEY (exactly that type) is the rowid itself: SQLite assigns its values.
            if column is not None and column.data_type.strip().upper() == "INTEGER":
                column.auto_increment = True


def _column(r: Row, ddl: _TableDdl) -> Column:
    declared = str(r["type"] or "")
    base, length = base_type(declared)
    name = str(r["name"])
    default = r["dflt_value"]
    return Column(
        name=name,
        position=int(r["cid"]) + 1,
        data_type=declared,
        base_type=base,
        length=length,
        nullable=not bool(r["not_null"]),
        default=None if default is None or str(default).upper() == "NULL" else str(default),
        unsigned="UNSIGNED" in declared.upper(),
        generated=ddl.generated.get(name.lower()) if int(r["hidden"] or 0) in (2, 3) else None,
        collation=ddl.collations.get(name.lower()),
    )


_LENGTH = re.compile(r"\(\s*(\d+)")


def base_type(declared: str) -> tuple[str, int | None]:
    """The type family a declared SQLite type means, and the declared length of char/varchar.

    SQLite's affinity rules decide storage (INT -> integer, CHAR/CLOB/TEXT -> text, BLOB -> blob,
    REAL/FLOA/DOUB -> real); the family keeps what the author meant: NVARCHAR(160) is a varchar
    of 160, DATETIME a timestamp, NUMERIC(10,2) a numeric, JSON json.
    """
    text = " ".join(declared.upper().split())
    head = text.split("(")[0].strip()
    match = _LENGTH.search(text)
    length = int(match.group(1)) if match else None
    if not text:
        return "any", None  # no declared type: the column takes any value (BLOB affinity)
    exact = {
        "BOOLEAN": "boolean", "BOOL": "boolean", "DATE": "date", "DATETIME": "timestamp",
        "TIMESTAMP": "timestamp", "TIMESTAMPTZ": "timestamptz", "TIMESTAMP WITH TIME ZONE": "timestamptz",
        "TIME": "time", "JSON": "json", "JSONB": "jsonb", "UUID": "uuid", "GUID": "uuid",
        "INTERVAL": "interval", "MONEY": "money", "NUMERIC": "numeric", "DECIMAL": "numeric",
        "REAL": "real", "FLOAT": "real", "DOUBLE": "double", "DOUBLE PRECISION": "double",
    }
    if head in exact:
        return exact[head], None
    if "INT" in head:
        if "BIG" in head:
            return "bigint", None
        if "SMALL" in head or "TINY" in head:
            return "smallint", None
        return "integer", None
    if "CHAR" in head or "CLOB" in head or "TEXT" in head:
        if "VAR" in head or "VARYING" in head:
            return "varchar", length
        if "CHAR" in head and "TEXT" not in head and "CLOB" not in head:
            return ("char", length) if length is not None else ("text", None)
        return "text", None
    if "BLOB" in head or "BINARY" in head:
        return "binary", None
    if "REAL" in head or "FLOA" in head or "DOUB" in head:
        return "double", None
    return head.lower().split()[0], None


# -- indexes ----------------------------------------------------------------------------------------


def _attach_indexes(
    session: GuardedSession,
    tables: dict[str, _TableFacts],
    index_sql: dict[str, str | None],
    unknown: list[str],
) -> None:
    index_list = session.catalog(
        "SELECT m.name AS table_name, il.seq AS seq, il.name AS index_name, il.\"unique\" AS is_unique,"
        " il.origin AS origin, il.partial AS partial"
        " FROM sqlite_master m JOIN pragma_index_list(m.name) il"
        f" WHERE m.type = 'table' AND {_USER_OBJECTS} AND m.sql NOT LIKE 'CREATE VIRTUAL%'"
        " ORDER BY m.name, il.name"
    )
    key_rows = session.catalog(
        "SELECT il.name AS index_name, ix.seqno AS seqno, ix.cid AS cid, ix.name AS column_name,"
        ' ix."desc" AS descending, ix.coll AS collation, ix."key" AS is_key'
        " FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_xinfo(il.name) ix"
        f" WHERE m.type = 'table' AND {_USER_OBJECTS} AND m.sql NOT LIKE 'CREATE VIRTUAL%'"
        " ORDER BY il.name, ix.seqno"
    )
    keys: dict[str, list[Row]] = defaultdict(list)
    for k in key_rows:
        if int(k["is_key"]):  # the others are the rowid/primary key SQLite appends to every entry
            keys[str(k["index_name"])].append(k)
    for r in index_list:
        facts = tables.get(str(r["table_name"]))
        if facts is None:
            continue
        name, origin = str(r["index_name"]), str(r["origin"])
        ddl = _parse_create_index(index_sql.get(name) or "") if origin == "c" else _IndexDdl()
        if ddl.unparsed:
            unknown.append(f"index main.{facts.table.name}.{name}: CREATE INDEX text not understood")
        index_keys = [_index_key(k, ddl.key_texts, i) for i, k in enumerate(keys.get(name, []))]
        index = Index(
            name=name,
            keys=index_keys,
            unique=bool(r["is_unique"]),
            primary=origin == "pk",
            predicate=ddl.predicate if bool(r["partial"]) else None,
            definition=index_sql.get(name),
        )
        columns = [k.column for k in index_keys]
        if origin == "pk":
            index.constraint = facts.ddl.pk_name or name
        elif origin == "u":
            constraint_name = facts.ddl.unique_name(columns)
            index.constraint = constraint_name or name
            facts.table.unique_constraints.append(
                UniqueConstraint(name=constraint_name, columns=[c or "" for c in columns])
            )
        facts.table.indexes.append(index)
    for facts in tables.values():
        facts.table.indexes.sort(key=lambda i: (not i.primary, i.name))


def _index_key(k: Row, texts: list[str], position: int) -> IndexKey:
    descending = bool(k["descending"])
    if int(k["cid"]) == -2:  # an expression: only the CREATE INDEX text has it
        text = texts[position] if position < len(texts) else "?"
        return IndexKey(expression=text, descending=descending)
    if int(k["cid"]) == -1:
        return IndexKey(column="rowid", descending=descending)
    return IndexKey(column=str(k["column_name"]), descending=descending)


# -- foreign keys -----------------------------------------------------------------------------------


def _attach_foreign_keys(session: GuardedSession, tables: dict[str, _TableFacts], unknown: list[str]) -> None:
    rows = session.catalog(
        "SELECT m.name AS table_name, fk.id AS id, fk.seq AS seq, fk.\"table\" AS ref_table,"
        ' fk."from" AS from_column, fk."to" AS to_column,'
        " fk.on_update AS on_update, fk.on_delete AS on_delete"
        " FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) fk"
        f" WHERE m.type = 'table' AND {_USER_OBJECTS} AND m.sql NOT LIKE 'CREATE VIRTUAL%'"
        " ORDER BY m.name, fk.id, fk.seq"
    )
    grouped: dict[tuple[str, int], list[Row]] = defaultdict(list)
    for r in rows:
        grouped[(str(r["table_name"]), int(r["id"]))].append(r)
    by_lower = {name.lower(): facts for name, facts in tables.items()}
    for (table_name, _), parts in sorted(grouped.items(), key=lambda item: (item[0][0], -item[0][1])):
        facts = tables.get(table_name)
        if facts is None:
            continue
        first = parts[0]
        ref_table = str(first["ref_table"])
        columns = [str(p["from_column"]) for p in parts]
        ref_columns = [p["to_column"] for p in parts]
        parent = by_lower.get(ref_table.lower())
        if any(c is None for c in ref_columns):
            # REFERENCES parent without columns means the parent's primary key.
            parent_pk = parent.table.primary_key if parent is not None else None
            if parent_pk is None:
                unknown.append(
                    f"foreign key of main.{table_name} ({', '.join(columns)}): parent primary key not found"
                )
            ref_columns = list(parent_pk.columns) if parent_pk is not None else []
        named = facts.ddl.foreign_key(columns, ref_table)
        facts.table.foreign_keys.append(
            ForeignKey(
                name=named.name if named else None,
                columns=columns,
                ref_schema=SCHEMA,
                ref_table=parent.table.name if parent is not None else ref_table,
                ref_columns=[str(c) for c in ref_columns],
                on_delete=str(first["on_delete"] or "NO ACTION").upper(),
                on_update=str(first["on_update"] or "NO ACTION").upper(),
                deferrable=named.deferrable if named else False,
            )
        )


# -- statistics, sizes, sequences, settings ---------------------------------------------------


def _attach_row_estimates(
    session: GuardedSession, tables: dict[str, _TableFacts], has_stat1: bool, unknown: list[str]
) -> None:
    if not has_stat1:
        unknown.append("row estimates: no sqlite_stat1 (ANALYZE has not been run); rows were not counted")
        return
    for r in session.catalog("SELECT tbl, idx, stat FROM sqlite_stat1"):
        facts = tables.get(str(r["tbl"]))
        first = str(r["stat"] or "").split(" ")[0]
        if facts is not None and first.isdigit():
            # The first number of every stat1 row of a table is its row count when ANALYZE ran.
            facts.table.row_estimate = int(first)
    missing = [name for name, facts in tables.items() if facts.table.row_estimate is None]
    if missing:
        unknown.append(f"row estimates: sqlite_stat1 has no row for {len(missing)} table(s); run ANALYZE")


def _attach_sizes(
    session: GuardedSession, tables: dict[str, _TableFacts], settings: dict[str, str], unknown: list[str]
) -> None:
    file_bytes = int(settings.get("page_size", "0") or 0) * int(settings.get("page_count", "0") or 0)
    if file_bytes > DBSTAT_MAX_BYTES:
        unknown.append(f"table sizes: the file is {file_bytes} bytes; dbstat would read every page of it")
        return
    try:
        rows = session.catalog("SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name")
    except QueryFailed as exc:
        unknown.append(f"table sizes: the dbstat virtual table is not available ({exc.message})")
        return
    sizes = {str(r["name"]): int(r["bytes"] or 0) for r in rows}
    for facts in tables.values():
        table = facts.table
        for index in table.indexes:
            index.size_bytes = sizes.get(index.name)
        # A WITHOUT ROWID table lives in its primary-key index's b-tree, which dbstat names after the table.
        table.total_bytes = sizes.get(table.name, 0) + sum(
            i.size_bytes or 0 for i in table.indexes if not (table.without_rowid and i.primary)
        )


def _sequences(
    session: GuardedSession, tables: dict[str, _TableFacts], has_sequence_table: bool
) -> list[Sequence]:
    """One counter per AUTOINCREMENT table: its sqlite_sequence row (no position before a first insert)."""
    positions: dict[str, int] = {}
    if has_sequence_table:
        rows = session.catalog("SELECT name, seq FROM sqlite_sequence")
        positions = {str(r["name"]): int(r["seq"]) for r in rows}
    sequences: list[Sequence] = []
    for name, facts in sorted(tables.items()):
        if not facts.ddl.autoincrement and name not in positions:
            continue
        pk = facts.table.primary_key
        owner = f"{SCHEMA}.{name}.{pk.columns[0]}" if pk is not None and len(pk.columns) == 1 else None
        sequences.append(
            Sequence(
                schema_name=SCHEMA,
                name=name,
                data_type="bigint",
                last_value=positions.get(name),
                max_value=ROWID_MAX,
                owned_by=owner,
            )
        )
    return sequences


def _settings(session: GuardedSession) -> dict[str, str]:
    selects = ", ".join(f"(SELECT * FROM pragma_{name}) AS {name}" for name in SETTING_PRAGMAS)
    rows = session.catalog(f"SELECT {selects}")
    return {k: str(v) for k, v in rows[0].items() if v is not None} if rows else {}


# -- views and triggers -----------------------------------------------------------------------------


def _view(name: str, sql: str) -> View:
    tokens = _tokens(sql)
    body: str | None = None
    depth = 0
    for i, tok in enumerate(tokens):
        depth += _depth_change(tok)
        if depth == 0 and tok.token_type == TokenType.ALIAS and i + 1 < len(tokens):
            body = sql[tokens[i + 1].start :].strip().rstrip(";").strip()
            break
    return View(schema_name=SCHEMA, name=name, definition=body or sql or None)


def _trigger(name: str, sql: str) -> Trigger:
    words = [_word(t) for t in _tokens(sql)]
    head = words[: words.index("ON")] if "ON" in words else words
    timing = "BEFORE"  # SQLite's default when the statement names none
    if "INSTEAD" in head:
        timing = "INSTEAD OF"
    elif "AFTER" in head:
        timing = "AFTER"
    events = [w for w in head if w in ("INSERT", "UPDATE", "DELETE")]
    return Trigger(name=name, timing=timing, events=events[:1] or ["UNKNOWN"])


# -- reading CREATE TABLE / CREATE INDEX text -------------------------------------------------------


@dataclass(frozen=True)
class _NamedForeignKey:
    name: str | None
    columns: tuple[str, ...]
    ref_table: str
    deferrable: bool


@dataclass
class _TableDdl:
    """What a CREATE TABLE statement says beyond the pragmas (names are compared lower-cased)."""

    pk_name: str | None = None
    uniques: list[tuple[str | None, tuple[str, ...]]] = field(default_factory=list)
    foreign_keys: list[_NamedForeignKey] = field(default_factory=list)
    checks: list[CheckConstraint] = field(default_factory=list)
    collations: dict[str, str] = field(default_factory=dict)
    generated: dict[str, str] = field(default_factory=dict)
    autoincrement: bool = False
    without_rowid: bool = False
    unparsed: bool = False

    def unique_name(self, columns: list[str | None]) -> str | None:
        wanted = tuple((c or "").lower() for c in columns)
        return next((name for name, cols in self.uniques if cols == wanted), None)

    def foreign_key(self, columns: list[str], ref_table: str) -> _NamedForeignKey | None:
        wanted, parent = tuple(c.lower() for c in columns), ref_table.lower()
        return next((fk for fk in self.foreign_keys if fk.columns == wanted and fk.ref_table == parent), None)


@dataclass
class _IndexDdl:
    key_texts: list[str] = field(default_factory=list)
    predicate: str | None = None
    unparsed: bool = False


_TOKENIZER_DIALECT = SqlglotDialect.get_or_raise("sqlite")
_TABLE_CONSTRAINT_WORDS = frozenset({"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"})


def _tokens(sql: str) -> list[Token]:
    try:
        return list(_TOKENIZER_DIALECT.tokenize(sql))
    except SqlglotError:
        return []


def _depth_change(tok: Token) -> int:
    return 1 if tok.token_type == TokenType.L_PAREN else -1 if tok.token_type == TokenType.R_PAREN else 0


def _closing(tokens: list[Token], open_at: int) -> int:
    """Index of the parenthesis closing the one at `open_at` (len(tokens) when unbalanced)."""
    depth = 0
    for i in range(open_at, len(tokens)):
        depth += _depth_change(tokens[i])
        if depth == 0:
            return i
    return len(tokens)


def _split_items(tokens: list[Token], open_at: int, close_at: int) -> list[list[Token]]:
    """The comma-separated items directly inside the parentheses at open_at..close_at."""
    items: list[list[Token]] = [[]]
    depth = 0
    for tok in tokens[open_at + 1 : close_at]:
        if tok.token_type == TokenType.COMMA and depth == 0:
            items.append([])
            continue
        depth += _depth_change(tok)
        items[-1].append(tok)
    return [item for item in items if item]


def _span(sql: str, first: Token, last: Token) -> str:
    return sql[first.start : last.end + 1]


def _word(tok: Token) -> str:
    """The (first) keyword of a token, upper-cased, or '' for a quoted identifier or a string.

    The tokenizer keeps some keyword pairs as one token ('PRIMARY KEY', 'FOREIGN KEY')."""
    if tok.token_type in (TokenType.STRING, TokenType.IDENTIFIER):
        return ""
    words = tok.text.upper().split()
    return words[0] if words else ""


def _name(tok: Token) -> str:
    return tok.text


def _paren_text(sql: str, item: list[Token], open_at: int) -> tuple[str, int]:
    """The text inside the parentheses starting at item[open_at], and the index after them."""
    close = _closing(item, open_at)
    if close >= len(item) or close == open_at + 1:
        return "", close + 1
    return _span(sql, item[open_at + 1], item[close - 1]), close + 1


def _column_list(item: list[Token], open_at: int) -> tuple[tuple[str, ...], int]:
    close = _closing(item, open_at)
    names = [_name(t).lower() for t in item[open_at + 1 : close] if t.token_type != TokenType.COMMA]
    return tuple(n for n in names if n.upper() not in ("ASC", "DESC", "COLLATE")), close + 1


def _parse_create_table(sql: str) -> _TableDdl:
    ddl = _TableDdl()
    tokens = _tokens(sql)
    open_at = next((i for i, t in enumerate(tokens) if t.token_type == TokenType.L_PAREN), None)
    if open_at is None:
        ddl.unparsed = bool(sql.strip())
        return ddl
    close_at = _closing(tokens, open_at)
    tail = [_word(t) for t in tokens[close_at + 1 :]]
    ddl.without_rowid = any(pair == ("WITHOUT", "ROWID") for pair in itertools.pairwise(tail))
    for item in _split_items(tokens, open_at, close_at):
        if _word(item[0]) in _TABLE_CONSTRAINT_WORDS:
            _read_table_constraint(sql, item, ddl)
        else:
            _read_column_definition(sql, item, ddl)
    return ddl


def _read_table_constraint(sql: str, item: list[Token], ddl: _TableDdl) -> None:
    i, name = 0, None
    if _word(item[0]) == "CONSTRAINT" and len(item) > 1:
        name, i = _name(item[1]), 2
    words = [_word(t) for t in item]
    paren = next((j for j in range(i, len(item)) if item[j].token_type == TokenType.L_PAREN), None)
    if paren is None or i >= len(item):
        return
    kind = words[i]
    if kind == "PRIMARY":
        ddl.pk_name = name
        ddl.autoincrement = ddl.autoincrement or "AUTOINCREMENT" in words
    elif kind == "UNIQUE":
        ddl.uniques.append((name, _column_list(item, paren)[0]))
    elif kind == "CHECK":
        ddl.checks.append(CheckConstraint(name=name, expression=_paren_text(sql, item, paren)[0]))
    elif kind == "FOREIGN":
        columns, after = _column_list(item, paren)
        if after < len(item) and words[after] == "REFERENCES" and after + 1 < len(item):
            ddl.foreign_keys.append(_NamedForeignKey(
                name, columns, _name(item[after + 1]).lower(), _deferrable(words[after:])
            ))


def _read_column_definition(sql: str, item: list[Token], ddl: _TableDdl) -> None:
    column = _name(item[0])
    words = [_word(t) for t in item]
    i, pending_name = 1, None
    while i < len(item):
        word = words[i]
        if item[i].token_type == TokenType.L_PAREN:
            i = _closing(item, i) + 1  # a type's (n) or a DEFAULT (expression)
            continue
        if word == "CONSTRAINT" and i + 1 < len(item):
            pending_name, i = _name(item[i + 1]), i + 2
            continue
        if word == "PRIMARY":
            ddl.pk_name = pending_name
        elif word == "AUTOINCREMENT":
            ddl.autoincrement = True
        elif word == "UNIQUE":
            ddl.uniques.append((pending_name, (column.lower(),)))
        elif word == "COLLATE" and i + 1 < len(item):
            ddl.collations[column.lower()] = _name(item[i + 1])
        elif word == "CHECK" and i + 1 < len(item) and item[i + 1].token_type == TokenType.L_PAREN:
            text, i = _paren_text(sql, item, i + 1)
            ddl.checks.append(CheckConstraint(name=pending_name, expression=text))
            pending_name = None
            continue
        elif word == "AS" and i + 1 < len(item) and item[i + 1].token_type == TokenType.L_PAREN:
            text, i = _paren_text(sql, item, i + 1)
            ddl.generated[column.lower()] = text
            continue
        elif word == "REFERENCES" and i + 1 < len(item):
            ddl.foreign_keys.append(_NamedForeignKey(
                pending_name, (column.lower(),), _name(item[i + 1]).lower(), _deferrable(words[i:])
            ))
        if word in ("PRIMARY", "UNIQUE", "REFERENCES", "NOT", "DEFAULT", "COLLATE", "GENERATED"):
            pending_name = None  # a CONSTRAINT name belongs to the one constraint that follows it
        i += 1


def _deferrable(words: list[str]) -> bool:
    text = " ".join(words)
    return "DEFERRABLE INITIALLY DEFERRED" in text and "NOT DEFERRABLE" not in text


def _parse_create_index(sql: str) -> _IndexDdl:
    ddl = _IndexDdl()
    tokens = _tokens(sql)
    on = next((i for i, t in enumerate(tokens) if _word(t) == "ON"), len(tokens))
    open_at = next((i for i in range(on, len(tokens)) if tokens[i].token_type == TokenType.L_PAREN), None)
    if open_at is None:
        ddl.unparsed = bool(sql.strip())
        return ddl
    close_at = _closing(tokens, open_at)
    for item in _split_items(tokens, open_at, close_at):
        ddl.key_texts.append(_key_text(sql, item))
    rest = tokens[close_at + 1 :]
    if rest and _word(rest[0]) == "WHERE" and len(rest) > 1:
        ddl.predicate = _span(sql, rest[1], rest[-1]).strip().rstrip(";").strip()
    return ddl


def _key_text(sql: str, item: list[Token]) -> str:
    """An index key without its ASC/DESC and COLLATE suffixes."""
    end = len(item)
    if end and _word(item[end - 1]) in ("ASC", "DESC"):
        end -= 1
    if end >= 2 and _word(item[end - 2]) == "COLLATE":
        end -= 2
    return _span(sql, item[0], item[max(end - 1, 0)])

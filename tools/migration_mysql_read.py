"""MySQL/MariaDB migration statements read into classified operations (ALTER clauses, DML, settings).

Statements are read with the DDL tokenizer rather than sqlglot: it never gives up on a whole statement
(sqlglot turns much MySQL DDL into an opaque Command) and it keeps the lint path free of heavy imports.
Statements that cannot hold a schema hazard (INSERT, SELECT, GRANT...) are classified by their first word
without being tokenized.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from dbsage.tools.catalog import Dialect
from dbsage.tools.sources.ddl_sqltokens import (
    ColumnSpec,
    Cursor,
    DdlSyntaxError,
    ForeignKeySpec,
    KeySpec,
    parse_column,
    parse_create_index,
    parse_table_body,
    parse_table_constraint,
    tokenize,
)

_VERBS = {
    "ALTER", "CREATE", "DROP", "RENAME", "INSERT", "UPDATE", "DELETE", "REPLACE", "SELECT", "SET", "USE",
    "TRUNCATE", "OPTIMIZE", "ANALYZE", "GRANT", "REVOKE", "START", "BEGIN", "COMMIT", "ROLLBACK", "LOCK",
    "UNLOCK", "CALL", "DO", "WITH", "SHOW", "EXPLAIN", "FLUSH", "LOAD", "PREPARE", "EXECUTE", "DEALLOCATE",
    "SAVEPOINT", "RELEASE", "XA", "CHECK", "REPAIR", "HANDLER", "KILL", "INSTALL", "UNINSTALL", "DESCRIBE",
    "DESC", "VALUES", "TABLE", "CHECKSUM", "BACKUP", "SIGNAL", "RESIGNAL", "DECLARE", "IF", "CASE", "WHILE",
    "LOOP", "REPEAT", "RETURN", "LEAVE", "ITERATE", "OPEN", "CLOSE", "FETCH", "GET", "HELP", "PURGE", "RESET",
    "CHANGE", "STOP", "BINLOG", "CACHE", "SHUTDOWN", "RESTART", "IMPORT", "CLONE",
}  # fmt: skip
_ALTER_OPTION = re.compile(r"^\s*(ALGORITHM|LOCK)\s*=?\s*(\w+)\s*$", re.IGNORECASE)
_CHARSET = re.compile(r"\b(?:CHARACTER\s+SET|CHARSET)\s*=?\s*[`'\"]?(\w+)", re.IGNORECASE)
_COLLATE = re.compile(r"\bCOLLATE\s*=?\s*[`'\"]?(\w+)", re.IGNORECASE)
_SESSION_SETTING = re.compile(
    r"(?:^|,)\s*(?:SESSION\s+|LOCAL\s+|@@SESSION\.|@@LOCAL\.|@@)?(?P<name>lock_wait_timeout|foreign_key_checks)"
    r"\s*(?::=|=)\s*(?P<value>[\w.']+)",
    re.IGNORECASE,
)
_SET_STATEMENT = re.compile(r"^\s*SET\s+STATEMENT\s+(?P<vars>.*?)\s+FOR\s+(?P<stmt>.*)$", re.IGNORECASE | re.DOTALL)
_LIMIT = re.compile(r"\bLIMIT\s+\d+", re.IGNORECASE)
_BETWEEN = re.compile(r"\bBETWEEN\b", re.IGNORECASE)



# ---------------------------------------------------------------------------------- statements


@dataclass
class AlterOp:
    """One clause of an ALTER TABLE (or the whole of CREATE INDEX / DROP INDEX), classified."""

    kind: str
    text: str
    column: str | None = None
    new_name: str | None = None
    spec: ColumnSpec | None = None
    key: KeySpec | None = None
    fk: ForeignKeySpec | None = None
    charset: str | None = None
    collation: str | None = None
    old_name: str | None = None


@dataclass
class MyStatement:
    """What one migration statement does, as far as the hazard rules care."""

    kind: str  # alter, create_table, create_index, drop_index, drop_table, rename_table, optimize, truncate,
    # update, delete, set, create_trigger, other, unparsable
    text: str
    schema: str | None = None
    table: str | None = None
    table_sql: str = ""
    ops: list[AlterOp] = field(default_factory=list)
    algorithm: str | None = None
    lock: str | None = None
    tables: list[tuple[str | None, str]] = field(default_factory=list)
    renames: list[tuple[tuple[str | None, str], tuple[str | None, str]]] = field(default_factory=list)
    columns: dict[str, ColumnSpec] = field(default_factory=dict)
    column_text: dict[str, str] = field(default_factory=dict)
    key_text: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    limited: bool = False
    where: str | None = None
    assignments: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _table_sql(schema: str | None, name: str) -> str:
    return f"{quote(schema)}.{quote(name)}" if schema else quote(name)


@lru_cache(maxsize=20_000)
def read_statement(text: str) -> MyStatement:
    """Classify one statement; `unparsable` (with the reason) rather than an exception.

    Cached: the linter and the planner read the same statements; callers must not modify the result.
    """
    m = _SET_STATEMENT.match(text)
    if m is not None:
        inner = replace(read_statement(m.group("stmt")))
        inner.settings = {**inner.settings, **_settings(m.group("vars"))}
        inner.text = text
        return inner
    head = _FIRST_WORD.match(text)
    if head is None:
        return MyStatement("unparsable", text, error=f"'{text.strip()[:20]}' does not start a MySQL statement")
    verb = head.group(1).upper()
    if verb not in _VERBS:
        return MyStatement("unparsable", text, error=f"'{head.group(1)}' does not start a MySQL statement")
    if verb not in _READ_VERBS:
        return MyStatement("other", text)  # INSERT, SELECT, GRANT...: no schema hazard, and not worth tokenizing
    tokens = tokenize(text)
    for token in tokens:
        if token.kind in ("ident", "string") and not _closed(token.text):
            return MyStatement("unparsable", text, error="a quoted name or string is never closed")
    cur = Cursor(tokens, text)
    try:
        return _read(cur, text)
    except (DdlSyntaxError, AssertionError, IndexError, ValueError) as exc:
        return MyStatement("unparsable", text, error=str(exc) or "unexpected syntax")


_FIRST_WORD = re.compile(r"\s*([A-Za-z_]+)")
_READ_VERBS = {"ALTER", "CREATE", "DROP", "RENAME", "OPTIMIZE", "TRUNCATE", "UPDATE", "DELETE", "SET"}


def _closed(raw: str) -> bool:
    """A quoted token ends with the quote it opened with (string prefixes such as N'' or _utf8mb4'' allowed)."""
    start = min((i for i in (raw.find("'"), raw.find("`"), raw.find('"'), raw.find("[")) if i >= 0), default=0)
    body = raw[start:]
    closing = "]" if body[:1] == "[" else body[:1]
    return len(body) >= 2 and body.endswith(closing)


def _settings(text: str) -> dict[str, str]:
    return {m.group("name").lower(): m.group("value").strip("'").upper() for m in _SESSION_SETTING.finditer(text)}


def _read(cur: Cursor, text: str) -> MyStatement:
    if cur.accept("ALTER"):
        cur.accept("ONLINE") or cur.accept("IGNORE")
        if cur.accept("TABLE"):
            return _read_alter(cur, text)
        return MyStatement("other", text)
    if cur.accept("CREATE"):
        return _read_create(cur, text)
    if cur.accept("DROP"):
        return _read_drop(cur, text)
    if cur.accept("RENAME", "TABLE"):
        st = MyStatement("rename_table", text)
        for part in cur.split_commas():
            old = part.qualified_name()
            if not part.accept("TO"):
                raise DdlSyntaxError("RENAME TABLE without TO")
            st.renames.append((old, part.qualified_name()))
        if not st.renames:
            raise DdlSyntaxError("RENAME TABLE names no table")
        st.schema, st.table = st.renames[0][0]
        return st
    if cur.accept("OPTIMIZE") or cur.accept("TRUNCATE"):
        kind = "optimize" if cur.tokens[0].is_word("OPTIMIZE") else "truncate"
        cur.accept("NO_WRITE_TO_BINLOG") or cur.accept("LOCAL")
        cur.accept("TABLE")
        st = MyStatement(kind, text)
        st.tables = [part.qualified_name() for part in cur.split_commas()]
        if not st.tables:
            raise DdlSyntaxError(f"{kind.upper()} names no table")
        st.schema, st.table = st.tables[0]
        return st
    if cur.accept("UPDATE") or cur.accept("DELETE"):
        return _read_dml(cur, text)
    if cur.accept("SET"):
        return MyStatement("set", text, settings=_settings(cur.rest_text()))
    return MyStatement("other", text)


def _read_alter(cur: Cursor, text: str) -> MyStatement:
    cur.accept("IF", "EXISTS")
    schema, name = cur.qualified_name()
    st = MyStatement("alter", text, schema=schema, table=name, table_sql=_table_sql(schema, name))
    for clause in cur.split_commas():
        clause_text = clause.rest_text()
        option = _ALTER_OPTION.match(clause_text)
        if option is not None:
            if option.group(1).upper() == "ALGORITHM":
                st.algorithm = option.group(2).upper()
            else:
                st.lock = option.group(2).upper()
            continue
        st.ops.extend(_alter_clause(clause, clause_text))
    if not st.ops and st.algorithm is None and st.lock is None:
        raise DdlSyntaxError("ALTER TABLE without any change")
    return st


def _alter_clause(cur: Cursor, text: str) -> list[AlterOp]:
    if cur.accept("ADD"):
        return _alter_add(cur, text)
    if cur.accept("MODIFY") or cur.accept("CHANGE"):
        changing = cur.tokens[cur.pos - 1].is_word("CHANGE")
        cur.accept("COLUMN")
        cur.accept("IF", "EXISTS")
        old = cur.name() if changing else None
        spec = parse_column(cur, Dialect.MYSQL)
        if not spec.type_text:
            raise DdlSyntaxError(f"column {spec.name} has no type")
        column = old or spec.name
        op = AlterOp("modify_column", text, column=column, spec=spec, charset=charset_of(text),
                     collation=_collation(text))
        if old is not None and old.lower() != spec.name.lower():
            op.new_name = spec.name
        return [op]
    if cur.accept("DROP"):
        if cur.accept("PRIMARY", "KEY"):
            return [AlterOp("drop_primary", text)]
        if cur.accept("FOREIGN", "KEY"):
            cur.accept("IF", "EXISTS")
            return [AlterOp("drop_foreign_key", text, new_name=cur.name())]
        if cur.accept("INDEX") or cur.accept("KEY"):
            cur.accept("IF", "EXISTS")
            return [AlterOp("drop_index", text, new_name=cur.name())]
        if cur.accept("CHECK") or cur.accept("CONSTRAINT"):
            cur.accept("IF", "EXISTS")
            return [AlterOp("drop_constraint", text, new_name=cur.name())]
        if cur.accept("PARTITION"):
            return [AlterOp("partition", text)]
        cur.accept("COLUMN")
        cur.accept("IF", "EXISTS")
        return [AlterOp("drop_column", text, column=cur.name())]
    if cur.accept("ALTER"):
        if cur.accept("INDEX") or cur.accept("KEY"):
            return [AlterOp("index_visibility", text, new_name=cur.name())]
        cur.accept("COLUMN")
        column = cur.name()
        if cur.accept("SET", "DEFAULT"):
            return [AlterOp("set_default", text, column=column)]
        if cur.accept("DROP", "DEFAULT"):
            return [AlterOp("drop_default", text, column=column)]
        return [AlterOp("column_visibility", text, column=column)]
    if cur.accept("RENAME"):
        if cur.accept("COLUMN"):
            old = cur.name()
            if not cur.accept("TO"):
                raise DdlSyntaxError("RENAME COLUMN without TO")
            return [AlterOp("rename_column", text, column=old, new_name=cur.name())]
        if cur.accept("INDEX") or cur.accept("KEY"):
            old_index = cur.name()
            if not cur.accept("TO"):
                raise DdlSyntaxError("RENAME INDEX without TO")
            return [AlterOp("rename_index", text, new_name=cur.name(), old_name=old_index)]
        cur.accept("TO") or cur.accept("AS")
        _schema, new_table = cur.qualified_name()
        return [AlterOp("rename_table", text, new_name=new_table)]
    if cur.accept("CONVERT", "TO"):
        return [AlterOp("convert_charset", text, charset=charset_of(text), collation=_collation(text))]
    if cur.accept("FORCE") or _starts(cur, "ROW_FORMAT", "KEY_BLOCK_SIZE", "ENGINE"):
        return [AlterOp("rebuild", text)]
    if _starts(cur, "ORDER"):
        return [AlterOp("order_by", text)]
    if _starts(cur, "DEFAULT", "CHARACTER", "CHARSET", "COLLATE"):
        return [AlterOp("table_charset", text)]
    if _starts(cur, "COMMENT", "AUTO_INCREMENT", "STATS_PERSISTENT", "STATS_AUTO_RECALC", "STATS_SAMPLE_PAGES"):
        return [AlterOp("table_option", text)]
    if _starts(cur, "PARTITION", "REORGANIZE", "COALESCE", "TRUNCATE", "EXCHANGE", "REMOVE", "REBUILD",
               "ANALYZE", "CHECK", "OPTIMIZE", "REPAIR", "DISCARD", "IMPORT"):
        return [AlterOp("partition", text)]
    return [AlterOp("other", text)]


def _starts(cur: Cursor, *words: str) -> bool:
    token = cur.peek()
    return token is not None and token.is_word(*words)


def charset_of(text: str) -> str | None:
    m = _CHARSET.search(text)
    return m.group(1).lower() if m else None


def _collation(text: str) -> str | None:
    m = _COLLATE.search(text)
    return m.group(1).lower() if m else None


def _alter_add(cur: Cursor, text: str) -> list[AlterOp]:
    first = cur.peek()
    if first is None:
        raise DdlSyntaxError("ADD without anything to add")
    is_column = cur.accept("COLUMN")
    if not is_column and first.is_word("PARTITION"):
        return [AlterOp("partition", text)]
    if not is_column and first.is_word(
        "CONSTRAINT", "PRIMARY", "UNIQUE", "KEY", "INDEX", "FULLTEXT", "SPATIAL", "FOREIGN", "CHECK"
    ):
        cur.accept("IF", "NOT", "EXISTS")
        item = parse_table_constraint(cur)
        if isinstance(item, KeySpec):
            kinds = {"primary": "add_primary", "unique": "add_index", "index": "add_index",
                     "fulltext": "add_fulltext", "spatial": "add_spatial"}
            return [AlterOp(kinds[item.kind], text, key=item)]
        if isinstance(item, ForeignKeySpec):
            return [AlterOp("add_foreign_key", text, fk=item)]
        return [AlterOp("add_check", text)]
    cur.accept("IF", "NOT", "EXISTS")
    token = cur.peek()
    if token is not None and token.kind == "punct" and token.value == "(":
        ops = []
        for part in cur.group().split_commas():
            source = part.rest_text()
            spec = parse_column(part, Dialect.MYSQL)
            ops.append(AlterOp("add_column", "ADD COLUMN " + source, column=spec.name, spec=spec,
                               charset=charset_of(source)))
        return ops
    spec = parse_column(cur, Dialect.MYSQL)
    if not spec.type_text:
        raise DdlSyntaxError(f"column {spec.name} has no type")
    return [AlterOp("add_column", text, column=spec.name, spec=spec, charset=charset_of(text))]


def _read_create(cur: Cursor, text: str) -> MyStatement:
    start = cur.pos
    cur.accept("OR", "REPLACE")
    cur.accept("TEMPORARY")
    if cur.accept("TABLE"):
        cur.accept("IF", "NOT", "EXISTS")
        schema, name = cur.qualified_name()
        st = MyStatement("create_table", text, schema=schema, table=name, table_sql=_table_sql(schema, name))
        token = cur.peek()
        if token is not None and token.kind == "punct" and token.value == "(":
            body_cur = cur.group()
            for element in Cursor(body_cur.tokens, text, body_cur.pos, body_cur.stop).split_commas():
                source = element.rest_text()
                first = element.peek()
                if first is not None and first.kind in ("word", "ident") and not first.is_word(
                    "CONSTRAINT", "PRIMARY", "UNIQUE", "KEY", "INDEX", "FULLTEXT", "SPATIAL", "FOREIGN", "CHECK"
                ):
                    st.column_text[first.value.lower()] = source
                else:
                    st.key_text[str(len(st.key_text))] = source
            body = parse_table_body(body_cur, Dialect.MYSQL)
            st.columns = {c.name.lower(): c for c in body.columns}
        return st
    cur.pos = start
    if _starts(cur, "UNIQUE", "FULLTEXT", "SPATIAL", "INDEX", "ONLINE", "OFFLINE"):
        cur.pos = start - 1
        index = parse_create_index(cur)
        kind = {"unique": "add_index", "index": "add_index", "fulltext": "add_fulltext",
                "spatial": "add_spatial"}[index.key.kind]
        st = MyStatement("create_index", text, schema=index.schema, table=index.table,
                         table_sql=_table_sql(index.schema, index.table))
        st.ops = [AlterOp(kind, text, key=index.key)]
        _inline_options(st, text)
        return st
    cur.accept("DEFINER")
    if re.search(r"^\s*CREATE\b[^;]*?\bTRIGGER\b", text, re.IGNORECASE):
        m = re.search(r"\bON\s+([`\w.]+)", text, re.IGNORECASE)
        st = MyStatement("create_trigger", text)
        if m:
            schema, _, name = m.group(1).replace("`", "").rpartition(".")
            st.schema, st.table = schema or None, name
        return st
    return MyStatement("other", text)


def _inline_options(st: MyStatement, text: str) -> None:
    for m in re.finditer(r"\b(ALGORITHM|LOCK)\s*=?\s*(\w+)", text, re.IGNORECASE):
        if m.group(1).upper() == "ALGORITHM":
            st.algorithm = m.group(2).upper()
        else:
            st.lock = m.group(2).upper()


def _read_drop(cur: Cursor, text: str) -> MyStatement:
    cur.accept("TEMPORARY")
    if cur.accept("TABLE") or cur.accept("TABLES"):
        cur.accept("IF", "EXISTS")
        st = MyStatement("drop_table", text)
        st.tables = [part.qualified_name() for part in cur.split_commas() if not _starts(part, "RESTRICT", "CASCADE")]
        if not st.tables:
            raise DdlSyntaxError("DROP TABLE names no table")
        st.schema, st.table = st.tables[0]
        return st
    if cur.accept("INDEX"):
        cur.accept("IF", "EXISTS")
        name = cur.name()
        if not cur.accept("ON"):
            raise DdlSyntaxError("DROP INDEX needs ON table in MySQL")
        schema, table = cur.qualified_name()
        st = MyStatement("drop_index", text, schema=schema, table=table, table_sql=_table_sql(schema, table))
        st.ops = [AlterOp("drop_index", text, new_name=name)]
        _inline_options(st, text)
        return st
    return MyStatement("other", text)


def _read_dml(cur: Cursor, text: str) -> MyStatement:
    kind = "update" if cur.tokens[cur.pos - 1].is_word("UPDATE") else "delete"
    while cur.accept("LOW_PRIORITY") or cur.accept("QUICK") or cur.accept("IGNORE"):
        pass
    if kind == "delete" and not cur.accept("FROM"):
        # multi-table DELETE t1 FROM t1 JOIN ...: the first name is the target
        pass
    schema, name = cur.qualified_name()
    st = MyStatement(kind, text, schema=schema, table=name, table_sql=_table_sql(schema, name))
    upper = [t.value.upper() if t.kind == "word" else "" for t in cur.tokens]
    depth = 0
    where_at = set_at = order_at = limit_at = join = None
    for i in range(cur.pos, len(cur.tokens)):
        token = cur.tokens[i]
        if token.kind == "punct" and token.value == "(":
            depth += 1
        elif token.kind == "punct" and token.value == ")":
            depth -= 1
        elif depth == 0:
            word = upper[i]
            if word == "SET" and set_at is None:
                set_at = i
            elif word == "WHERE" and where_at is None:
                where_at = i
            elif word == "ORDER" and order_at is None:
                order_at = i
            elif word == "LIMIT":
                limit_at = i
            elif word in ("JOIN", "USING") or (token.kind == "punct" and token.value == "," and set_at is None):
                join = i
    st.limited = limit_at is not None and bool(_LIMIT.search(text))
    end = min(x for x in (order_at, limit_at, len(cur.tokens)) if x is not None)
    if where_at is not None:
        st.where = cur.source(where_at + 1, end - 1)
    if set_at is not None:
        stop = where_at if where_at is not None else end
        assignments = Cursor(cur.tokens, text, set_at + 1, stop).split_commas()
        for part in assignments:
            source = part.rest_text()
            column, sep, value = source.partition("=")
            if sep:
                st.assignments.append((column.strip().split(".")[-1].strip("`"), value.strip()))
    if join is not None:
        st.kind = kind + "_multi"
    return st


def is_batched(st: MyStatement) -> bool:
    """LIMIT batches or an explicit key range (BETWEEN) make an UPDATE/DELETE a bounded batch."""
    return st.limited or bool(st.where and _BETWEEN.search(st.where))



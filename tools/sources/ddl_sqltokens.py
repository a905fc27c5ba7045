"""The table-definition grammar of MySQL/MariaDB and SQLite, read from tokens.

CREATE TABLE bodies, ALTER TABLE clauses and CREATE INDEX statements are read here rather than with
sqlglot because sqlglot rejects a good share of ordinary DDL from these engines (key prefixes with
DESC, SQLite's free-form type names such as `BLOB SUB_TYPE TEXT`, `ON CONFLICT`, spatial types),
and one rejected clause would lose a whole table. The grammar is small; expressions inside it
(defaults, CHECK, generated columns, index expressions) are kept as the source text.

The results are plain descriptions (ColumnSpec, KeySpec, ForeignKeySpec, CheckSpec); the engine's
rules for what they become (implicit index names, NOT NULL from a primary key...) live in the reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dbsage.tools.catalog import Dialect


class DdlSyntaxError(Exception):
    """The statement does not follow the table-definition grammar."""


@dataclass(frozen=True)
class Token:
    kind: str  # word, ident (quoted identifier), string, number, punct
    text: str
    value: str
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.value.upper() in words

    @property
    def name(self) -> str:
        """The identifier this token spells (quotes removed)."""
        return self.value


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|\#[^\n]*|/\*.*?(?:\*/|$))
  | (?P<backtick>`(?:[^`]|``)*`?)
  | (?P<bracket>\[[^\]]*\]?)
  | (?P<dquote>"(?:[^"\\]|""|\\.)*"?)
  | (?P<string>(?:[nNxXbB]|_[A-Za-z0-9]+)?'(?:[^'\\]|''|\\.)*'?)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<word>[A-Za-z_\u0080-\U0010ffff$@][\w$@\u0080-\U0010ffff]*)
  | (?P<punct><=|>=|<>|!=|\|\||::|.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[Token]:
    """Tokens of `text`, comments and spaces dropped; quoted identifiers unquoted in `value`."""
    tokens: list[Token] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "punct"
        raw = m.group(0)
        if kind in ("space", "comment"):
            continue
        if kind == "backtick":
            tokens.append(Token("ident", raw, raw[1:-1].replace("``", "`"), m.start(), m.end()))
        elif kind == "bracket":
            tokens.append(Token("ident", raw, raw[1:-1], m.start(), m.end()))
        elif kind == "dquote":
            # MySQL reads "x" as a string by default, but in a name position it can only be a name
            tokens.append(Token("ident", raw, raw[1:-1].replace('""', '"'), m.start(), m.end()))
        elif kind == "string":
            body = raw[raw.index("'") + 1 : -1]
            tokens.append(Token("string", raw, body.replace("''", "'"), m.start(), m.end()))
        else:
            tokens.append(Token(kind, raw, raw, m.start(), m.end()))
    return tokens


class Cursor:
    """Walks a token list; `text` is the source the tokens came from."""

    def __init__(self, tokens: list[Token], text: str, start: int = 0, stop: int | None = None) -> None:
        self.tokens = tokens
        self.text = text
        self.pos = start
        self.stop = len(tokens) if stop is None else stop

    def at_end(self) -> bool:
        return self.pos >= self.stop

    def peek(self, ahead: int = 0) -> Token | None:
        i = self.pos + ahead
        return self.tokens[i] if i < self.stop else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise DdlSyntaxError("unexpected end of statement")
        self.pos += 1
        return token

    def accept(self, *words: str) -> bool:
        """Consume the given words in order when they come next."""
        for i, word in enumerate(words):
            token = self.peek(i)
            if token is None or not token.is_word(word):
                return False
        self.pos += len(words)
        return True

    def accept_punct(self, char: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.value == char:
            self.pos += 1
            return True
        return False

    def expect_punct(self, char: str) -> None:
        if not self.accept_punct(char):
            found = self.peek()
            raise DdlSyntaxError(f"expected '{char}' but found {found.text if found else 'the end'}")

    def name(self) -> str:
        token = self.next()
        if token.kind not in ("word", "ident", "string"):
            raise DdlSyntaxError(f"expected a name but found {token.text}")
        return token.value

    def qualified_name(self) -> tuple[str | None, str]:
        first = self.name()
        if self.accept_punct("."):
            return first, self.name()
        return None, first

    def group_end(self) -> int:
        """Index of the ')' matching the '(' at the cursor."""
        depth = 0
        for i in range(self.pos, self.stop):
            token = self.tokens[i]
            if token.kind == "punct" and token.value == "(":
                depth += 1
            elif token.kind == "punct" and token.value == ")":
                depth -= 1
                if depth == 0:
                    return i
        raise DdlSyntaxError("unbalanced parentheses")

    def group(self) -> Cursor:
        """Consume a parenthesised group; returns a cursor over its inside."""
        token = self.peek()
        if token is None or token.kind != "punct" or token.value != "(":
            raise DdlSyntaxError(f"expected '(' but found {token.text if token else 'the end'}")
        end = self.group_end()
        inner = Cursor(self.tokens, self.text, self.pos + 1, end)
        self.pos = end + 1
        return inner

    def source(self, first: int, last: int) -> str:
        """Source text from token `first` to token `last` inclusive."""
        if last < first:
            return ""
        return self.text[self.tokens[first].start : self.tokens[last].end]

    def split_commas(self) -> list[Cursor]:
        """Top-level comma-separated parts of what remains."""
        parts: list[Cursor] = []
        depth = 0
        begin = self.pos
        for i in range(self.pos, self.stop):
            token = self.tokens[i]
            if token.kind == "punct" and token.value == "(":
                depth += 1
            elif token.kind == "punct" and token.value == ")":
                depth -= 1
            elif token.kind == "punct" and token.value == "," and depth == 0:
                parts.append(Cursor(self.tokens, self.text, begin, i))
                begin = i + 1
        parts.append(Cursor(self.tokens, self.text, begin, self.stop))
        self.pos = self.stop
        return [p for p in parts if not p.at_end()]

    def rest_text(self) -> str:
        return self.source(self.pos, self.stop - 1)

    def expression(self) -> str:
        """One value: a group, a signed literal, a call, or a single token; returns its source."""
        first = self.pos
        token = self.next()
        if token.kind == "punct" and token.value == "(":
            self.pos -= 1
            self.group()
        elif token.kind == "punct" and token.value in "+-" and not self.at_end():
            self.next()
        elif token.kind == "word":
            nxt = self.peek()
            if nxt is not None and nxt.kind == "punct" and nxt.value == "(":
                self.group()
        return self.source(first, self.pos - 1)


# ---------------------------------------------------------------------------------- specs


@dataclass
class KeyPart:
    column: str | None = None
    expression: str | None = None
    descending: bool = False
    prefix: int | None = None


@dataclass
class ForeignKeySpec:
    name: str | None
    index_name: str | None
    columns: list[str]
    ref_schema: str | None
    ref_table: str
    ref_columns: list[str]
    on_delete: str | None = None
    on_update: str | None = None
    deferrable: bool = False


@dataclass
class KeySpec:
    kind: str  # primary, unique, index, fulltext, spatial
    name: str | None
    parts: list[KeyPart]
    method: str | None = None
    constraint_name: str | None = None
    comment: str | None = None


@dataclass
class CheckSpec:
    name: str | None
    expression: str
    column: str | None = None


@dataclass
class ColumnSpec:
    name: str
    type_text: str
    not_null: bool | None = None
    default: str | None = None
    auto_increment: bool = False
    primary: bool = False
    primary_desc: bool = False
    unique: bool = False
    comment: str | None = None
    collation: str | None = None
    generated: str | None = None
    serial_default_value: bool = False
    references: ForeignKeySpec | None = None
    checks: list[CheckSpec] = field(default_factory=list)
    primary_name: str | None = None
    unique_name: str | None = None
    first: bool = False  # MySQL ALTER ... FIRST
    after: str | None = None  # MySQL ALTER ... AFTER column


@dataclass
class TableBody:
    columns: list[ColumnSpec] = field(default_factory=list)
    keys: list[KeySpec] = field(default_factory=list)
    foreign_keys: list[ForeignKeySpec] = field(default_factory=list)
    checks: list[CheckSpec] = field(default_factory=list)
    # every column or constraint in the order written (SQLite numbers its automatic indexes this way)
    order: list[ColumnSpec | KeySpec | ForeignKeySpec | CheckSpec] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------- grammar

_MYSQL_TYPE_STOP = {
    "NOT", "NULL", "DEFAULT", "AUTO_INCREMENT", "PRIMARY", "KEY", "UNIQUE", "COMMENT", "COLLATE", "ON",
    "GENERATED", "AS", "REFERENCES", "CHECK", "CONSTRAINT", "INVISIBLE", "VISIBLE", "COLUMN_FORMAT",
    "STORAGE", "SRID", "CHARSET", "SERIAL", "BINARY", "ASCII", "UNICODE", "WITH", "ENGINE_ATTRIBUTE",
    "SECONDARY_ENGINE_ATTRIBUTE", "COMPRESSED", "PERSISTENT", "VIRTUAL", "STORED",
}  # fmt: skip
_MYSQL_TYPE_TAIL = {"UNSIGNED", "SIGNED", "ZEROFILL", "PRECISION", "VARYING", "VARCHAR", "VARBINARY", "CHAR"}
_SQLITE_TYPE_STOP = {
    "CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT", "COLLATE", "REFERENCES",
    "GENERATED", "AS",
}  # fmt: skip
_TABLE_CONSTRAINT_START = {
    "CONSTRAINT", "PRIMARY", "UNIQUE", "KEY", "INDEX", "FULLTEXT", "SPATIAL", "FOREIGN", "CHECK", "PERIOD",
}  # fmt: skip
_COLUMN_CONSTRAINT_WORDS = ("PRIMARY", "UNIQUE", "CHECK", "REFERENCES", "NOT", "DEFAULT")


def _type_span(cur: Cursor, dialect: Dialect) -> str:
    """Consume the column type; returns its source text (empty when SQLite's column has none)."""
    first = cur.pos
    sqlite = dialect is Dialect.SQLITE
    stop_words = _SQLITE_TYPE_STOP if sqlite else _MYSQL_TYPE_STOP
    seen_word = False
    while not cur.at_end():
        token = cur.peek()
        assert token is not None
        if token.kind == "punct" and token.value == "(":
            if not seen_word:
                break
            cur.group()
            if sqlite:
                break
            continue
        if token.kind not in ("word", "ident"):
            break
        upper = token.value.upper()
        if seen_word and upper in stop_words and not (upper in _MYSQL_TYPE_TAIL and not sqlite):
            break
        if seen_word and not sqlite and upper == "CHARACTER":
            nxt = cur.peek(1)
            if nxt is not None and nxt.is_word("SET"):
                break
        if not seen_word and upper in stop_words and sqlite:
            break
        if seen_word and not sqlite and upper not in _MYSQL_TYPE_TAIL and upper not in _MYSQL_TYPE_WORDS:
            break
        cur.next()
        seen_word = True
    return cur.source(first, cur.pos - 1)


_MYSQL_TYPE_WORDS = {
    "DOUBLE", "PRECISION", "CHARACTER", "CHAR", "VARYING", "NATIONAL", "LONG", "VARCHAR", "VARBINARY",
    "NCHAR", "UNSIGNED", "SIGNED", "ZEROFILL", "BYTE",
}  # fmt: skip


def _action(cur: Cursor) -> str:
    if cur.accept("NO", "ACTION"):
        return "NO ACTION"
    if cur.accept("SET", "NULL"):
        return "SET NULL"
    if cur.accept("SET", "DEFAULT"):
        return "SET DEFAULT"
    token = cur.next()
    return token.value.upper()


def parse_references(
    cur: Cursor, name: str | None, columns: list[str], index_name: str | None
) -> ForeignKeySpec:
    """`REFERENCES tbl [(cols)] [MATCH x] [ON DELETE a] [ON UPDATE a] [DEFERRABLE ...]` after REFERENCES."""
    schema, table = cur.qualified_name()
    ref_columns: list[str] = []
    token = cur.peek()
    if token is not None and token.kind == "punct" and token.value == "(":
        ref_columns = [part.name() for part in cur.group().split_commas()]
    fk = ForeignKeySpec(name, index_name, columns, schema, table, ref_columns)
    while not cur.at_end():
        if cur.accept("ON", "DELETE"):
            fk.on_delete = _action(cur)
        elif cur.accept("ON", "UPDATE"):
            fk.on_update = _action(cur)
        elif cur.accept("MATCH"):
            cur.next()
        elif cur.accept("NOT", "DEFERRABLE"):
            fk.deferrable = False
        elif cur.accept("DEFERRABLE"):
            fk.deferrable = True
        elif cur.accept("INITIALLY"):
            cur.next()
        else:
            break
    return fk


def parse_key_parts(cur: Cursor) -> list[KeyPart]:
    """The key parts of `( ... )` at the cursor."""
    parts: list[KeyPart] = []
    for part in cur.group().split_commas():
        first = part.peek()
        assert first is not None
        key = KeyPart()
        if first.kind in ("word", "ident") and not _is_call(part):
            key.column = part.name()
            nxt = part.peek()
            if nxt is not None and nxt.kind == "punct" and nxt.value == "(":
                inner = part.group()
                number = inner.peek()
                if number is not None and number.kind == "number":
                    key.prefix = int(float(number.value))
        else:
            start = part.pos
            while not part.at_end():
                token = part.peek()
                assert token is not None
                if token.is_word("ASC", "DESC", "COLLATE", "NULLS"):
                    break
                if token.kind == "punct" and token.value == "(":
                    part.group()
                else:
                    part.next()
            expression = part.source(start, part.pos - 1)
            if expression.startswith("(") and expression.endswith(")"):
                expression = expression[1:-1].strip()
            key.expression = expression
        while not part.at_end():
            if part.accept("COLLATE"):
                part.next()
            elif part.accept("DESC"):
                key.descending = True
            elif part.accept("ASC"):
                key.descending = False
            else:
                part.next()
        parts.append(key)
    return parts


def _is_call(cur: Cursor) -> bool:
    """`name(` starts a function call, except MySQL's prefix key `name(10)`."""
    first, nxt, after = cur.peek(), cur.peek(1), cur.peek(2)
    return (
        first is not None
        and first.kind == "word"
        and nxt is not None
        and nxt.kind == "punct"
        and nxt.value == "("
        and (after is None or after.kind != "number")
    )


def _index_options(cur: Cursor, spec: KeySpec) -> None:
    while not cur.at_end():
        if cur.accept("USING"):
            spec.method = cur.next().value.lower()
        elif cur.accept("COMMENT"):
            token = cur.next()
            spec.comment = token.value
        elif cur.accept("KEY_BLOCK_SIZE") or cur.accept("WITH", "PARSER"):
            cur.accept_punct("=")
            cur.next()
        elif cur.accept("ON", "CONFLICT"):
            cur.next()
        else:
            cur.next()


def parse_table_constraint(cur: Cursor) -> KeySpec | ForeignKeySpec | CheckSpec:
    """One table-level constraint or index definition."""
    constraint_name: str | None = None
    if cur.accept("CONSTRAINT"):
        token = cur.peek()
        if token is not None and not token.is_word("PRIMARY", "UNIQUE", "FOREIGN", "CHECK"):
            constraint_name = cur.name()
    if cur.accept("PRIMARY", "KEY"):
        spec = KeySpec("primary", None, [], constraint_name=constraint_name)
        _key_name_and_method(cur, spec, allow_name=False)
        spec.parts = parse_key_parts(cur)
        _index_options(cur, spec)
        return spec
    if cur.accept("UNIQUE"):
        if not cur.accept("KEY"):
            cur.accept("INDEX")
        spec = KeySpec("unique", None, [], constraint_name=constraint_name)
        _key_name_and_method(cur, spec, allow_name=True)
        spec.parts = parse_key_parts(cur)
        _index_options(cur, spec)
        return spec
    for word, kind in (("FULLTEXT", "fulltext"), ("SPATIAL", "spatial")):
        if cur.accept(word):
            if not cur.accept("KEY"):
                cur.accept("INDEX")
            spec = KeySpec(kind, None, [])
            _key_name_and_method(cur, spec, allow_name=True)
            spec.parts = parse_key_parts(cur)
            _index_options(cur, spec)
            return spec
    if cur.accept("KEY") or cur.accept("INDEX"):
        spec = KeySpec("index", None, [])
        _key_name_and_method(cur, spec, allow_name=True)
        spec.parts = parse_key_parts(cur)
        _index_options(cur, spec)
        return spec
    if cur.accept("FOREIGN", "KEY"):
        index_name: str | None = None
        token = cur.peek()
        if token is not None and token.kind != "punct":
            index_name = cur.name()
        columns = [p.name() for p in cur.group().split_commas()]
        if not cur.accept("REFERENCES"):
            raise DdlSyntaxError("FOREIGN KEY without REFERENCES")
        return parse_references(cur, constraint_name, columns, index_name)
    if cur.accept("CHECK"):
        inner = cur.group()
        return CheckSpec(constraint_name, inner.rest_text())
    token = cur.peek()
    raise DdlSyntaxError(f"unknown table element starting at {token.text if token else 'the end'}")


def _key_name_and_method(cur: Cursor, spec: KeySpec, *, allow_name: bool) -> None:
    while not cur.at_end():
        token = cur.peek()
        assert token is not None
        if token.kind == "punct" and token.value == "(":
            return
        if cur.accept("USING"):
            spec.method = cur.next().value.lower()
        elif allow_name and spec.name is None:
            spec.name = cur.name()
        else:
            cur.next()


def parse_column(cur: Cursor, dialect: Dialect) -> ColumnSpec:
    """`name type attributes...`"""
    name = cur.name()
    column = ColumnSpec(name=name, type_text=_type_span(cur, dialect))
    pending_name: str | None = None
    while not cur.at_end():
        if cur.accept("CONSTRAINT"):
            token = cur.peek()
            if token is not None and not token.is_word(*_COLUMN_CONSTRAINT_WORDS):
                pending_name = cur.name()
            continue
        if cur.accept("NOT", "NULL"):
            column.not_null = True
        elif cur.accept("NULL"):
            column.not_null = False
        elif cur.accept("DEFAULT"):
            column.default = cur.expression()
        elif cur.accept("AUTO_INCREMENT") or cur.accept("AUTOINCREMENT"):
            column.auto_increment = True
        elif cur.accept("PRIMARY", "KEY") or (dialect.is_mysql_family and cur.accept("KEY")):
            column.primary = True
            column.primary_name = pending_name
            if cur.accept("DESC"):
                column.primary_desc = True
            cur.accept("ASC")
        elif cur.accept("UNIQUE"):
            column.unique = True
            column.unique_name = pending_name
            cur.accept("KEY")
        elif cur.accept("ON", "CONFLICT"):
            cur.next()
        elif cur.accept("ON", "UPDATE"):
            cur.expression()
        elif cur.accept("COMMENT"):
            column.comment = cur.next().value
        elif cur.accept("COLLATE"):
            column.collation = cur.name()
        elif cur.accept("CHARACTER", "SET") or cur.accept("CHARSET"):
            cur.name()
        elif cur.accept("GENERATED", "ALWAYS", "AS") or cur.accept("AS"):
            column.generated = cur.group().rest_text()
        elif cur.accept("REFERENCES"):
            column.references = parse_references(cur, pending_name, [name], None)
        elif cur.accept("CHECK"):
            column.checks.append(CheckSpec(pending_name, cur.group().rest_text(), column=name))
        elif cur.accept("SERIAL", "DEFAULT", "VALUE"):
            column.serial_default_value = True
        elif cur.accept("FIRST"):
            column.first = True
        elif cur.accept("AFTER"):
            column.after = cur.name()
        elif cur.accept("COLUMN_FORMAT") or cur.accept("STORAGE") or cur.accept("SRID"):
            cur.next()
        else:
            cur.next()
            continue
        pending_name = None
    return column


def parse_table_body(cur: Cursor, dialect: Dialect) -> TableBody:
    """The element list inside CREATE TABLE ( ... )."""
    body = TableBody()
    for element in cur.split_commas():
        first = element.peek()
        assert first is not None
        try:
            starts_constraint = first.kind == "word" and first.value.upper() in _TABLE_CONSTRAINT_START
            if starts_constraint and _is_constraint(element):
                item = parse_table_constraint(element)
                if isinstance(item, KeySpec):
                    body.keys.append(item)
                elif isinstance(item, ForeignKeySpec):
                    body.foreign_keys.append(item)
                else:
                    body.checks.append(item)
                body.order.append(item)
            else:
                column = parse_column(element, dialect)
                body.columns.append(column)
                body.order.append(column)
        except DdlSyntaxError as exc:
            body.skipped.append(f"{element.source(element.pos, element.stop - 1)[:60]!r}: {exc}")
    return body


def _is_constraint(cur: Cursor) -> bool:
    """KEY/INDEX/CHECK... can also be column names: a constraint has no type word after the keyword."""
    first = cur.peek()
    second = cur.peek(1)
    assert first is not None
    upper = first.value.upper()
    if upper in ("PRIMARY", "FOREIGN"):
        return second is not None and second.is_word("KEY")
    if upper in ("CHECK",):
        return second is not None and second.kind == "punct" and second.value == "("
    if upper == "CONSTRAINT":
        return True
    if second is None:
        return False
    if second.kind == "punct" and second.value == "(":
        return True
    keyword = upper in ("UNIQUE", "FULLTEXT", "SPATIAL", "KEY", "INDEX", "PERIOD")
    return keyword and not _looks_like_type(second)


_COMMON_TYPES = re.compile(
    r"^(int|integer|tinyint|smallint|mediumint|bigint|varchar|char|text|blob|date|datetime|timestamp|time|"
    r"decimal|numeric|float|double|real|boolean|bool|json|enum|set|bit|binary|varbinary)$",
    re.IGNORECASE,
)


def _looks_like_type(token: Token) -> bool:
    return token.kind == "word" and bool(_COMMON_TYPES.match(token.value))


@dataclass
class IndexStatement:
    name: str
    schema: str | None
    table: str
    key: KeySpec
    predicate: str | None = None
    if_not_exists: bool = False


def parse_create_index(cur: Cursor) -> IndexStatement:
    """`CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX [IF NOT EXISTS] name [USING m] ON tbl (parts) [WHERE ...]`."""
    if not cur.accept("CREATE"):
        raise DdlSyntaxError("expected CREATE")
    cur.accept("ONLINE") or cur.accept("OFFLINE")
    kind = "index"
    if cur.accept("UNIQUE"):
        kind = "unique"
    elif cur.accept("FULLTEXT"):
        kind = "fulltext"
    elif cur.accept("SPATIAL"):
        kind = "spatial"
    if not cur.accept("INDEX"):
        raise DdlSyntaxError("expected INDEX")
    if_not_exists = cur.accept("IF", "NOT", "EXISTS")
    index_schema, name = cur.qualified_name()
    spec = KeySpec(kind, name, [])
    if cur.accept("USING"):
        spec.method = cur.next().value.lower()
    if not cur.accept("ON"):
        raise DdlSyntaxError("expected ON")
    schema, table = cur.qualified_name()
    spec.parts = parse_key_parts(cur)
    predicate: str | None = None
    while not cur.at_end():
        if cur.accept("WHERE"):
            predicate = cur.rest_text()
            break
        if cur.accept("USING"):
            spec.method = cur.next().value.lower()
        elif cur.accept("COMMENT"):
            spec.comment = cur.next().value
        else:
            cur.next()
    return IndexStatement(name, schema or index_schema, table, spec, predicate, if_not_exists)

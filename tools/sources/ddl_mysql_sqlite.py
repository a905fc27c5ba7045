"""MySQL/MariaDB and SQLite DDL read offline into a Catalog.

Table definitions are read with the token grammar of ddl_sqltokens; view queries with sqlglot. The
reader then applies each engine's own rules so the result matches what the live source reads:

MySQL/MariaDB (InnoDB): the primary key index is named PRIMARY; an unnamed index takes its first
column's name (`_2`, `_3` on repeats); a foreign key without a usable index gets one (named after
the constraint, else the FOREIGN KEY index name, else the first column), which a later index on the
same leading columns replaces; unnamed foreign keys are `<table>_ibfk_<n>`; unnamed checks are
named after their column (MariaDB) or CONSTRAINT_<n> / `<table>_chk_<n>`; MariaDB's JSON is a
longtext column (the json_valid check that comes with it is read as the json family, as live).

SQLite: an `INTEGER PRIMARY KEY` is the rowid (no index); other primary keys and UNIQUE constraints
get `sqlite_autoindex_<table>_<n>` indexes numbered in the order they are written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from dbsage.tools.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    Dialect,
    ForeignKey,
    Function,
    Index,
    IndexKey,
    PrimaryKey,
    Table,
    Trigger,
    UniqueConstraint,
    View,
)
from dbsage.tools.catalog import Sequence as CatalogSequence
from dbsage.tools.sources.ddl_script import ScriptNotes, Statement
from dbsage.tools.sources.ddl_sqltokens import (
    CheckSpec,
    ColumnSpec,
    Cursor,
    DdlSyntaxError,
    ForeignKeySpec,
    KeyPart,
    KeySpec,
    TableBody,
    parse_column,
    parse_create_index,
    parse_table_body,
    parse_table_constraint,
    tokenize,
)
from dbsage.tools.sources.ddl_sqltypes import mysql_type, sqlite_type

MYSQL_DEFAULT_SCHEMA = "main"
SQLITE_SCHEMA = "main"
SQLITE_ROWID_MAX = (1 << 63) - 1

_SKIP = re.compile(
    r"^\s*(INSERT|REPLACE|UPDATE|DELETE|SELECT|WITH|LOCK|UNLOCK|SET|BEGIN|COMMIT|START|ROLLBACK|SAVEPOINT|"
    r"RELEASE|END|PRAGMA|ANALYZE|VACUUM|FLUSH|OPTIMIZE|CALL|SHOW|EXPLAIN|DESCRIBE|DESC|TRUNCATE|LOAD|"
    r"HANDLER|DO|REINDEX|CHECKSUM|CHECK|REPAIR|KILL|PURGE|RESET|XA|VALUES)\b",
    re.IGNORECASE,
)
_VIEW_HEAD = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?"
    r"(?:DEFINER\s*=\s*(?:`[^`]*`|'[^']*'|\"[^\"]*\"|[\w.%$-]+)(?:\s*@\s*(?:`[^`]*`|'[^']*'|\"[^\"]*\"|[\w.%$-]+))?\s+)?"
    r"(?:SQL\s+SECURITY\s+(?P<security>DEFINER|INVOKER)\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?",
    re.IGNORECASE,
)
_NOT_MODELLED = re.compile(
    r"^\s*CREATE\s+(USER|ROLE|EVENT|SERVER|LOGFILE|TABLESPACE|SEQUENCE)\b", re.IGNORECASE
)
_TRIGGER = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:DEFINER\s*=\s*\S+\s+)?TRIGGER\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>(?:[`\"\[]?[^\s`\"\].]+[`\"\]]?\.)?[`\"\[]?[^\s`\"\]]+[`\"\]]?)\s+"
    r"(?P<timing>BEFORE|AFTER|INSTEAD\s+OF)?\s*(?P<event>INSERT|UPDATE|DELETE)\b.*?\bON\s+"
    r"(?P<table>(?:[`\"\[]?[^\s`\"\].]+[`\"\]]?\.)?[`\"\[]?[^\s`\"\](]+[`\"\]]?)",
    re.IGNORECASE | re.DOTALL,
)
_ROUTINE_BODY = re.compile(r"\b(BEGIN|RETURN|SELECT|INSERT|UPDATE|DELETE|CALL|SET|IF|DECLARE)\b")
_DEFINER = re.compile(r"DEFINER\s*=\s*(\S+?)\s+(?:FUNCTION|PROCEDURE)", re.IGNORECASE)
_ROUTINE = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?P<kind>FUNCTION|PROCEDURE)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>[`\"]?[^\s`\"(]+[`\"]?(?:\.[`\"]?[^\s`\"(]+[`\"]?)?)\s*\(",
    re.IGNORECASE,
)


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] in "`\"[" and name[-1] in "`\"]":
        return name[1:-1]
    return name


def _split_qualified(name: str) -> tuple[str | None, str]:
    parts = [_unquote(p) for p in re.split(r"\.(?=(?:[^`\"]*[`\"][^`\"]*[`\"])*[^`\"]*$)", name)]
    return (parts[-2], parts[-1]) if len(parts) >= 2 else (None, parts[-1])


@dataclass
class _Tbl:
    table: Table
    auto_fk_indexes: set[str] = field(default_factory=set)
    unnamed_checks: int = 0
    sqlite_autoindexes: int = 0
    autoincrement: bool = False


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning for every statement it falls back on; keep that out of dbsage's output."""
    logger = logging.getLogger("sqlglot")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


class MySqlSqliteReader:
    """Replays MySQL/MariaDB or SQLite DDL into a Catalog."""

    def __init__(self, notes: ScriptNotes, dialect: Dialect) -> None:
        self.notes = notes
        self.dialect = dialect
        self.sqlite = dialect is Dialect.SQLITE
        self.mariadb = dialect is Dialect.MARIADB
        self.schema = SQLITE_SCHEMA if self.sqlite else MYSQL_DEFAULT_SCHEMA
        self.schema_chosen = self.sqlite
        self.schemas: list[str] = []
        self.tables: dict[tuple[str, str], _Tbl] = {}
        self.views: dict[tuple[str, str], View] = {}
        self.functions: list[Function] = []
        self.bodies_skipped = 0

    # ------------------------------------------------------------------ driving

    def read(self, statements: Sequence[Statement]) -> Catalog:
        with _quiet_sqlglot():
            for statement in statements:
                if _SKIP.match(statement.text):
                    continue
                try:
                    handled = self.apply(statement)
                except DdlSyntaxError as exc:
                    self.notes.failed(statement, str(exc))
                    continue
                except _Skip as skip:
                    self.notes.parsed += 1
                    self.notes.remark(f"{self.notes.where(statement)}: {skip}")
                    continue
                except Exception as exc:  # an odd statement must cost itself, not the whole catalog
                    self.notes.failed(statement, f"not applied ({type(exc).__name__}: {exc})")
                    continue
                if handled:
                    self.notes.parsed += 1
        return self.finish()

    def apply(self, statement: Statement) -> bool:
        """Apply one statement; False when it is not DDL this reader knows (then it is listed as unparsed)."""
        text = statement.text
        tokens = tokenize(text)
        cur = Cursor(tokens, text)
        if cur.accept("USE"):
            self.use(cur.name())
            return True
        if cur.accept("ALTER"):
            cur.accept("ONLINE") or cur.accept("IGNORE")
            if cur.accept("TABLE"):
                self.alter_table(cur)
                return True
            self.notes.ignore(_label(text))
            return True
        if cur.accept("DROP"):
            self.drop(cur)
            return True
        if cur.accept("RENAME", "TABLE"):
            for part in cur.split_commas():
                old_schema, old = part.qualified_name()
                part.accept("TO")
                new_schema, new = part.qualified_name()
                tbl = self.find(old_schema, old)
                if tbl is not None:
                    self.rename_table(tbl, new_schema or tbl.table.schema_name, new)
            return True
        if cur.accept("GRANT") or cur.accept("REVOKE"):
            self.notes.ignore(_label(text))
            return True
        if not cur.accept("CREATE"):
            self.notes.failed(statement, "not a statement dbsage reads offline")
            return False
        return self.create(statement, cur)

    def create(self, statement: Statement, cur: Cursor) -> bool:
        text = statement.text
        start = cur.pos
        replace = cur.accept("OR", "REPLACE")
        temporary = cur.accept("TEMPORARY") or cur.accept("TEMP")
        if cur.accept("TABLE"):
            self.create_table(cur, temporary, replace=replace)
            return True
        if cur.accept("DATABASE") or cur.accept("SCHEMA"):
            cur.accept("IF", "NOT", "EXISTS")
            name = cur.name()
            if name not in self.schemas:
                self.schemas.append(name)
            return True
        if cur.accept("VIRTUAL", "TABLE"):
            cur.accept("IF", "NOT", "EXISTS")
            _schema, name = cur.qualified_name()
            self.notes.remark(f"virtual table {name} is not modelled offline")
            return True
        cur.pos = start
        if cur.accept("UNIQUE") or cur.accept("FULLTEXT") or cur.accept("SPATIAL"):
            pass
        cur.accept("ONLINE") or cur.accept("OFFLINE")
        if cur.accept("INDEX"):
            cur.pos = 0
            self.create_index(cur)
            return True
        if _VIEW_HEAD.match(text):
            self.create_view(statement)
            return True
        trigger = _TRIGGER.match(text)
        if trigger is not None:
            self.create_trigger(trigger)
            return True
        routine = _ROUTINE.match(text)
        if routine is not None:
            self.create_routine(statement, routine)
            return True
        if _NOT_MODELLED.match(text):
            self.notes.ignore(_label(text))
            return True
        self.notes.failed(statement, "not a statement dbsage reads offline")
        return False

    # ------------------------------------------------------------------ lookups

    def use(self, name: str) -> None:
        self.schema = name
        self.schema_chosen = True
        if name not in self.schemas:
            self.schemas.append(name)

    def qualify(self, schema: str | None) -> str:
        if self.sqlite:
            if schema and schema.lower() in ("temp", "main"):
                return schema.lower()
            return schema or SQLITE_SCHEMA
        if schema:
            if schema not in self.schemas:
                self.schemas.append(schema)
            return schema
        return self.schema

    def find(self, schema: str | None, name: str) -> _Tbl | None:
        key = (self.qualify(schema), name)
        if key in self.tables:
            return self.tables[key]
        lowered = name.lower()
        matches = [
            t for (s, n), t in self.tables.items() if n.lower() == lowered and (schema is None or s == key[0])
        ]
        if self.sqlite and schema is None:
            matches = matches or [t for (s, n), t in self.tables.items() if n.lower() == lowered]
        return matches[0] if matches else None

    def need(self, schema: str | None, name: str) -> _Tbl:
        tbl = self.find(schema, name)
        if tbl is None:
            raise _Skip(f"table {name} is not defined earlier in the DDL; statement skipped")
        return tbl

    # ------------------------------------------------------------------ CREATE TABLE

    def create_table(self, cur: Cursor, temporary: bool, *, replace: bool = False) -> None:
        if_not_exists = cur.accept("IF", "NOT", "EXISTS")
        schema, name = cur.qualified_name()
        if temporary or (self.sqlite and (schema or "").lower() == "temp"):
            # a temporary table lives only in the session that made it; no database catalog shows it
            self.notes.remark(f"temporary table {name} left out: it exists only in its own session")
            return
        if self.sqlite and name.lower().startswith("sqlite_"):
            return  # SQLite's own tables (sqlite_sequence, sqlite_stat1) appear in `.schema` dumps
        schema = self.qualify(schema)
        existing = self.find(schema, name)
        if existing is not None and replace:  # MariaDB's CREATE OR REPLACE TABLE
            self.tables.pop((existing.table.schema_name, existing.table.name), None)
        elif existing is not None:
            if if_not_exists:
                return
            raise _Skip(f"table {name} is created twice; the second definition is ignored")
        table = Table(schema_name=schema, name=name)
        tbl = _Tbl(table)
        token = cur.peek()
        after = cur.peek(1)
        bracketed_like = _is_punct(token, "(") and after is not None and after.is_word("LIKE")
        if cur.accept("LIKE") or bracketed_like:
            if bracketed_like:
                cur.accept_punct("(")
                cur.accept("LIKE")
            src_schema, src_name = cur.qualified_name()
            source = self.need(src_schema, src_name)
            copied = source.table.model_copy(deep=True, update={"schema_name": schema, "name": name})
            copied.foreign_keys = []
            self.tables[(schema, name)] = _Tbl(copied)
            return
        if not _is_punct(token, "("):
            self.notes.remark(f"{schema}.{name} is created from a query; its columns are not known offline")
            self.tables[(schema, name)] = tbl
            return
        body = parse_table_body(cur.group(), self.dialect)
        self.table_options(tbl, cur)
        self.tables[(schema, name)] = tbl
        for problem in body.skipped:
            self.notes.remark(f"{schema}.{name}: element not understood, left out: {problem}")
        self.apply_body(tbl, body)

    def table_options(self, tbl: _Tbl, cur: Cursor) -> None:
        table = tbl.table
        while not cur.at_end():
            if cur.accept("ENGINE") or cur.accept("TYPE"):
                cur.accept_punct("=")
                table.engine = _engine_name(cur.name())
            elif cur.accept("COMMENT"):
                cur.accept_punct("=")
                table.comment = cur.next().value
            elif cur.accept("WITHOUT", "ROWID"):
                table.without_rowid = True
            elif cur.accept("PARTITION", "BY"):
                table.kind = "partitioned_table"
                break
            else:
                cur.next()
        if not self.sqlite and table.engine is None:
            table.engine = "InnoDB"

    def apply_body(self, tbl: _Tbl, body: TableBody) -> None:
        for spec in body.columns:
            self.add_column(tbl, spec)
        if self.sqlite:
            self.sqlite_keys(tbl, body)
        else:
            self.mysql_keys(tbl, body)
        for check in [c for item in body.order for c in _checks_of(item)]:
            unnamed = check.name is None
            if self.mariadb and unnamed and self.is_json_check(tbl, check.expression, check.column):
                continue
            self.add_check(tbl, check.name, check.expression, check.column)
        for fk in [*[c.references for c in body.columns if c.references is not None], *body.foreign_keys]:
            self.add_foreign_key(tbl, fk)

    @staticmethod
    def is_json_check(tbl: _Tbl, expression: str, column_name: str | None) -> bool:
        """MariaDB's JSON is LONGTEXT + CHECK (json_valid(col)): a dump spells it so; the live source
        reads such a column as json and leaves the check out, and so does this reader."""
        column = tbl.table.column(column_name) if column_name else None
        if column is None or column.data_type != "longtext":
            return False
        spelled = re.sub(r"[\s`\"]", "", expression).lower()
        if spelled != f"json_valid({column.name.lower()})":
            return False
        column.base_type = "json"
        return True

    def add_column(self, tbl: _Tbl, spec: ColumnSpec, position: int | None = None) -> Column:
        table = tbl.table
        shown = sqlite_type(spec.type_text) if self.sqlite else mysql_type(spec.type_text, self.dialect)
        column = Column(
            name=spec.name,
            position=len(table.columns) + 1,
            data_type=shown.data_type,
            base_type=shown.base_type,
            length=shown.length,
            nullable=not spec.not_null,
            default=None if spec.default is None or spec.default.upper() == "NULL" else spec.default,
            auto_increment=spec.auto_increment or shown.serial,
            unsigned=shown.unsigned,
            generated=spec.generated,
            collation=spec.collation,
            comment=spec.comment,
        )
        if shown.serial or spec.serial_default_value:
            column.nullable = False
            column.auto_increment = True
        if spec.primary and not self.sqlite:
            column.nullable = False
        if position is None:
            table.columns.append(column)
        else:
            table.columns.insert(position, column)
            for i, c in enumerate(table.columns, start=1):
                c.position = i
        if not self.sqlite and (shown.serial or spec.serial_default_value):
            self.add_mysql_index(tbl, KeySpec("unique", None, [KeyPart(column=spec.name)]))
        return column

    # ------------------------------------------------------------------ MySQL keys

    def mysql_keys(self, tbl: _Tbl, body: TableBody) -> None:
        for item in body.order:
            if isinstance(item, ColumnSpec):
                if item.primary:
                    self.add_mysql_index(tbl, KeySpec("primary", None, [KeyPart(column=item.name)]))
                if item.unique:
                    self.add_mysql_index(tbl, KeySpec("unique", None, [KeyPart(column=item.name)]))
            elif isinstance(item, KeySpec):
                self.add_mysql_index(tbl, item)

    def add_mysql_index(self, tbl: _Tbl, spec: KeySpec, *, auto_fk: bool = False) -> Index | None:
        table = tbl.table
        columns = [p.column or "" for p in spec.parts]
        if spec.kind == "primary":
            if table.primary_key is not None:
                return None
            name = "PRIMARY"
            for col in columns:
                column = table.column(col)
                if column is not None:
                    column.nullable = False
        else:
            first = columns[0] if columns else "idx"
            name = spec.name or spec.constraint_name or self.free_index_name(tbl, first)
        method = {"fulltext": "fulltext", "spatial": "spatial"}.get(spec.kind)
        if method is None:
            engine = (table.engine or "InnoDB").lower()
            # MEMORY tables index by hash unless told otherwise; InnoDB builds a B-tree whatever USING says
            method = spec.method or ("hash" if engine in ("memory", "heap") else "btree")
            if engine == "innodb" and method == "hash":
                method = "btree"
        index = Index(
            name=name,
            keys=[_index_key(p) for p in spec.parts],
            unique=spec.kind in ("primary", "unique"),
            primary=spec.kind == "primary",
            method=method,
            constraint=name if spec.kind in ("primary", "unique") else None,
        )
        table.indexes.append(index)
        if spec.kind == "primary":
            table.primary_key = PrimaryKey(name="PRIMARY", columns=columns)
        elif spec.kind == "unique":
            table.unique_constraints.append(UniqueConstraint(name=name, columns=columns))
        if auto_fk:
            tbl.auto_fk_indexes.add(name)
        else:
            self.drop_replaced_fk_indexes(tbl, index)
        return index

    def free_index_name(self, tbl: _Tbl, base: str) -> str:
        taken = {i.name.lower() for i in tbl.table.indexes}
        if base.lower() not in taken and base.lower() != "primary":
            return base
        n = 2
        while f"{base}_{n}".lower() in taken:
            n += 1
        return f"{base}_{n}"

    def drop_replaced_fk_indexes(self, tbl: _Tbl, new: Index) -> None:
        """InnoDB drops the index it made for a foreign key once another index can serve the key."""
        new_columns = [c.lower() for c in new.column_names if c is not None]
        for name in list(tbl.auto_fk_indexes):
            index = next((i for i in tbl.table.indexes if i.name == name), None)
            if index is None or index is new:
                continue
            wanted = [c.lower() for c in index.column_names if c is not None]
            if new_columns[: len(wanted)] == wanted:
                tbl.table.indexes.remove(index)
                tbl.auto_fk_indexes.discard(name)

    # ------------------------------------------------------------------ SQLite keys

    def sqlite_keys(self, tbl: _Tbl, body: TableBody) -> None:
        table = tbl.table
        for item in body.order:
            if isinstance(item, ColumnSpec):
                if item.primary:
                    spec = KeySpec("primary", None, [KeyPart(column=item.name, descending=item.primary_desc)])
                    spec.constraint_name = item.primary_name
                    self.add_sqlite_key(tbl, spec, column_level=True, autoincrement=item.auto_increment)
                if item.unique:
                    parts = [KeyPart(column=item.name)]
                    unique = KeySpec("unique", None, parts, constraint_name=item.unique_name)
                    self.add_sqlite_key(tbl, unique)
            elif isinstance(item, KeySpec) and item.kind in ("primary", "unique"):
                self.add_sqlite_key(tbl, item)
        if table.without_rowid and table.primary_key is not None:
            for name in table.primary_key.columns:
                column = table.column(name)
                if column is not None:
                    column.nullable = False

    def add_sqlite_key(
        self, tbl: _Tbl, spec: KeySpec, *, column_level: bool = False, autoincrement: bool = False
    ) -> None:
        table = tbl.table
        columns = [p.column or "" for p in spec.parts]
        if spec.kind == "primary":
            if table.primary_key is not None:
                return
            table.primary_key = PrimaryKey(name=spec.constraint_name, columns=columns)
            column = table.column(columns[0]) if len(columns) == 1 else None
            is_rowid = (
                column is not None
                and column.data_type.strip().upper() == "INTEGER"
                and not table.without_rowid
                and not (column_level and spec.parts[0].descending)
            )
            if is_rowid and column is not None:
                column.auto_increment = True
                if autoincrement:
                    tbl.autoincrement = True
                return
        lowered = [c.lower() for c in columns]
        for existing in table.indexes:
            if [c.lower() for c in existing.column_names if c is not None] == lowered and existing.unique:
                return
        tbl.sqlite_autoindexes += 1
        name = f"sqlite_autoindex_{table.name}_{tbl.sqlite_autoindexes}"
        table.indexes.append(
            Index(
                name=name,
                keys=[_index_key(p) for p in spec.parts],
                unique=True,
                primary=spec.kind == "primary",
                constraint=spec.constraint_name or name,
            )
        )
        if spec.kind == "unique":
            table.unique_constraints.append(UniqueConstraint(name=spec.constraint_name, columns=columns))

    # ------------------------------------------------------------------ checks and foreign keys

    def add_check(self, tbl: _Tbl, name: str | None, expression: str, column: str | None) -> None:
        table = tbl.table
        if name is None and not self.sqlite:
            if self.mariadb:
                if column is not None:
                    name = column
                else:
                    tbl.unnamed_checks += 1
                    name = f"CONSTRAINT_{tbl.unnamed_checks}"
            else:
                tbl.unnamed_checks += 1
                name = f"{table.name}_chk_{tbl.unnamed_checks}"
        table.check_constraints.append(CheckConstraint(name=name, expression=expression))

    def add_foreign_key(self, tbl: _Tbl, spec: ForeignKeySpec) -> None:
        table = tbl.table
        ref = self.find(spec.ref_schema, spec.ref_table)
        ref_schema = ref.table.schema_name if ref is not None else self.qualify(spec.ref_schema)
        ref_table = ref.table.name if ref is not None else spec.ref_table
        ref_columns = list(spec.ref_columns)
        if not ref_columns and ref is not None and ref.table.primary_key is not None:
            ref_columns = list(ref.table.primary_key.columns)
        default_action = "NO ACTION" if self.sqlite or self.dialect is Dialect.MYSQL else "RESTRICT"
        name = spec.name
        if name is None and not self.sqlite:
            if self.mariadb and spec.index_name:
                name = spec.index_name
            else:
                pattern = re.compile(rf"{re.escape(table.name)}_ibfk_(\d+)")
                numbers = [
                    int(m.group(1)) for fk in table.foreign_keys if (m := pattern.fullmatch(fk.name or ""))
                ]
                name = f"{table.name}_ibfk_{max(numbers, default=0) + 1}"
        table.foreign_keys.append(
            ForeignKey(
                name=name,
                columns=list(spec.columns),
                ref_schema=ref_schema,
                ref_table=ref_table,
                ref_columns=ref_columns,
                on_delete=spec.on_delete or default_action,
                on_update=spec.on_update or default_action,
                deferrable=spec.deferrable,
            )
        )
        if not self.sqlite and not self.has_usable_index(table, spec.columns):
            index_name = spec.name or spec.index_name or self.free_index_name(tbl, spec.columns[0])
            if any(i.name.lower() == index_name.lower() for i in table.indexes):
                index_name = self.free_index_name(tbl, index_name)
            self.add_mysql_index(
                tbl, KeySpec("index", index_name, [KeyPart(column=c) for c in spec.columns]), auto_fk=True
            )

    @staticmethod
    def has_usable_index(table: Table, columns: list[str]) -> bool:
        wanted = [c.lower() for c in columns]
        for index in table.indexes:
            if index.method in ("fulltext", "spatial"):
                continue
            names = [k.column.lower() if k.column else None for k in index.keys]
            if names[: len(wanted)] == wanted:
                return True
        return False

    # ------------------------------------------------------------------ ALTER / DROP / INDEX

    def alter_table(self, cur: Cursor) -> None:
        cur.accept("IF", "EXISTS")
        schema, name = cur.qualified_name()
        tbl = self.need(schema, name)
        for clause in cur.split_commas():
            self.alter_clause(tbl, clause)

    def alter_clause(self, tbl: _Tbl, cur: Cursor) -> None:
        table = tbl.table
        if cur.accept("ADD"):
            self.alter_add(tbl, cur)
        elif cur.accept("MODIFY") or cur.accept("CHANGE"):
            changing = self.tokens_back_is(cur, "CHANGE")
            cur.accept("COLUMN")
            cur.accept("IF", "EXISTS")
            old = cur.name() if changing else None
            spec = parse_column(cur, self.dialect)
            target = table.column(old or spec.name)
            if target is None:
                return
            position = table.columns.index(target)
            table.columns.remove(target)
            placed = self.placement(tbl, spec)
            self.add_column(tbl, spec, position if placed is None else placed)
            if old is not None and old != spec.name:
                self.rename_column(tbl, old, spec.name)
            if spec.primary:
                self.add_mysql_index(tbl, KeySpec("primary", None, [KeyPart(column=spec.name)]))
        elif cur.accept("DROP"):
            self.alter_drop(tbl, cur)
        elif cur.accept("ALTER"):
            cur.accept("COLUMN")
            column = table.column(cur.name())
            if column is None:
                return
            if cur.accept("SET", "DEFAULT"):
                column.default = cur.expression()
            elif cur.accept("DROP", "DEFAULT"):
                column.default = None
        elif cur.accept("RENAME"):
            if cur.accept("COLUMN"):
                old = cur.name()
                cur.accept("TO")
                self.rename_column(tbl, old, cur.name())
            elif cur.accept("INDEX") or cur.accept("KEY"):
                old = cur.name()
                cur.accept("TO")
                new_name = cur.name()
                for index in table.indexes:
                    if index.name == old:
                        index.name = new_name
            else:
                cur.accept("TO") or cur.accept("AS")
                new_schema, new_table = cur.qualified_name()
                target_schema = self.qualify(new_schema) if new_schema else table.schema_name
                self.rename_table(tbl, target_schema, new_table)
        elif cur.accept("ENGINE"):
            cur.accept_punct("=")
            table.engine = _engine_name(cur.name())
        elif cur.accept("COMMENT"):
            cur.accept_punct("=")
            table.comment = cur.next().value

    @staticmethod
    def placement(tbl: _Tbl, spec: ColumnSpec) -> int | None:
        """Where FIRST / AFTER puts a column (a list index), or None for the end."""
        if spec.first:
            return 0
        if spec.after is not None:
            target = tbl.table.column(spec.after)
            if target is not None:
                return tbl.table.columns.index(target) + 1
        return None

    @staticmethod
    def tokens_back_is(cur: Cursor, word: str) -> bool:
        previous = cur.tokens[cur.pos - 1] if cur.pos > 0 else None
        return previous is not None and previous.is_word(word)

    def alter_add(self, tbl: _Tbl, cur: Cursor) -> None:
        table = tbl.table
        first = cur.peek()
        is_column = cur.accept("COLUMN")
        if not is_column and first is not None and first.kind == "word" and first.value.upper() in (
            "CONSTRAINT", "PRIMARY", "UNIQUE", "KEY", "INDEX", "FULLTEXT", "SPATIAL", "FOREIGN", "CHECK",
        ):  # fmt: skip
            item = parse_table_constraint(cur)
            if isinstance(item, KeySpec):
                if self.sqlite:
                    self.add_sqlite_key(tbl, item)
                else:
                    self.add_mysql_index(tbl, item)
            elif isinstance(item, ForeignKeySpec):
                self.add_foreign_key(tbl, item)
            else:
                self.add_check(tbl, item.name, item.expression, None)
            return
        cur.accept("IF", "NOT", "EXISTS")
        token = cur.peek()
        if token is not None and token.kind == "punct" and token.value == "(":
            for part in cur.group().split_commas():
                self.add_new_column(tbl, parse_column(part, self.dialect))
            return
        spec = parse_column(cur, self.dialect)
        if table.column(spec.name) is not None:
            return
        self.add_new_column(tbl, spec)

    def add_new_column(self, tbl: _Tbl, spec: ColumnSpec) -> None:
        self.add_column(tbl, spec, self.placement(tbl, spec))
        if spec.primary:
            self.add_mysql_index(tbl, KeySpec("primary", None, [KeyPart(column=spec.name)]))
        if spec.unique and not self.sqlite:
            self.add_mysql_index(tbl, KeySpec("unique", None, [KeyPart(column=spec.name)]))
        for check in spec.checks:
            self.add_check(tbl, check.name, check.expression, spec.name)
        if spec.references is not None:
            self.add_foreign_key(tbl, spec.references)

    def alter_drop(self, tbl: _Tbl, cur: Cursor) -> None:
        table = tbl.table
        if cur.accept("PRIMARY", "KEY"):
            table.indexes = [i for i in table.indexes if not i.primary]
            table.primary_key = None
        elif cur.accept("FOREIGN", "KEY"):
            name = cur.name()
            table.foreign_keys = [f for f in table.foreign_keys if f.name != name]
        elif cur.accept("INDEX") or cur.accept("KEY"):
            cur.accept("IF", "EXISTS")
            self.drop_index(tbl, cur.name())
        elif cur.accept("CHECK") or cur.accept("CONSTRAINT"):
            cur.accept("IF", "EXISTS")
            name = cur.name()
            table.check_constraints = [c for c in table.check_constraints if c.name != name]
            table.foreign_keys = [f for f in table.foreign_keys if f.name != name]
            self.drop_index(tbl, name)
        else:
            cur.accept("COLUMN")
            cur.accept("IF", "EXISTS")
            self.drop_column(tbl, cur.name())

    def drop_index(self, tbl: _Tbl, name: str) -> None:
        table = tbl.table
        table.indexes = [i for i in table.indexes if i.name.lower() != name.lower()]
        lowered = name.lower()
        table.unique_constraints = [u for u in table.unique_constraints if (u.name or "").lower() != lowered]
        tbl.auto_fk_indexes.discard(name)

    def drop_column(self, tbl: _Tbl, name: str) -> None:
        table = tbl.table
        column = table.column(name)
        if column is None:
            return
        table.columns.remove(column)
        for i, c in enumerate(table.columns, start=1):
            c.position = i
        lowered = name.lower()
        for index in list(table.indexes):
            remaining = [k for k in index.keys if (k.column or "").lower() != lowered]
            if not remaining:
                table.indexes.remove(index)
            elif len(remaining) != len(index.keys):
                index.keys = remaining
        if table.primary_key is not None:
            table.primary_key.columns = [c for c in table.primary_key.columns if c.lower() != lowered]
            if not table.primary_key.columns:
                table.primary_key = None
        table.foreign_keys = [f for f in table.foreign_keys if lowered not in (c.lower() for c in f.columns)]

    def rename_column(self, tbl: _Tbl, old: str, new: str) -> None:
        table = tbl.table
        column = table.column(old)
        if column is not None:
            column.name = new
        for index in table.indexes:
            for key in index.keys:
                if key.column is not None and key.column.lower() == old.lower():
                    key.column = new
        if table.primary_key is not None:
            pk = table.primary_key
            pk.columns = [new if c.lower() == old.lower() else c for c in pk.columns]
        for unique in table.unique_constraints:
            unique.columns = [new if c.lower() == old.lower() else c for c in unique.columns]
        for fk in table.foreign_keys:
            fk.columns = [new if c.lower() == old.lower() else c for c in fk.columns]

    def rename_table(self, tbl: _Tbl, schema: str, name: str) -> None:
        old_key = (tbl.table.schema_name, tbl.table.name)
        self.tables.pop(old_key, None)
        tbl.table.schema_name, tbl.table.name = schema, name
        self.tables[(schema, name)] = tbl
        for other in self.tables.values():
            for fk in other.table.foreign_keys:
                if (fk.ref_schema, fk.ref_table) == old_key:
                    fk.ref_schema, fk.ref_table = schema, name

    def drop(self, cur: Cursor) -> None:
        cur.accept("TEMPORARY")
        if cur.accept("TABLE"):
            cur.accept("IF", "EXISTS")
            for part in cur.split_commas():
                schema, name = part.qualified_name()
                tbl = self.find(schema, name)
                if tbl is not None:
                    self.tables.pop((tbl.table.schema_name, tbl.table.name), None)
        elif cur.accept("VIEW"):
            cur.accept("IF", "EXISTS")
            for part in cur.split_commas():
                schema, name = part.qualified_name()
                self.views.pop((self.qualify(schema), name), None)
        elif cur.accept("INDEX"):
            cur.accept("IF", "EXISTS")
            schema, name = cur.qualified_name()
            if cur.accept("ON"):
                table_schema, table_name = cur.qualified_name()
                tbl = self.find(table_schema, table_name)
                if tbl is not None:
                    self.drop_index(tbl, name)
                return
            for tbl in self.tables.values():
                self.drop_index(tbl, name)
        elif cur.accept("DATABASE") or cur.accept("SCHEMA"):
            cur.accept("IF", "EXISTS")
            name = cur.name()
            for key in [k for k in self.tables if k[0] == name]:
                self.tables.pop(key)
            if name in self.schemas:
                self.schemas.remove(name)
        elif cur.accept("TRIGGER"):
            cur.accept("IF", "EXISTS")
            _schema, name = cur.qualified_name()
            for tbl in self.tables.values():
                tbl.table.triggers = [t for t in tbl.table.triggers if t.name != name]

    def create_index(self, cur: Cursor) -> None:
        text = cur.text
        statement = parse_create_index(cur)
        tbl = self.need(statement.schema if not self.sqlite else None, statement.table)
        table = tbl.table
        if any(i.name.lower() == statement.name.lower() for i in table.indexes):
            if statement.if_not_exists:
                return
            raise _Skip(f"index {statement.name} already exists on {table.name}")
        if self.sqlite:
            table.indexes.append(
                Index(
                    name=statement.name,
                    keys=[_index_key(p) for p in statement.key.parts],
                    unique=statement.key.kind == "unique",
                    predicate=statement.predicate,
                    definition=text,
                )
            )
            return
        self.add_mysql_index(tbl, statement.key)

    # ------------------------------------------------------------------ views, triggers, routines

    def create_view(self, statement: Statement) -> None:
        text = statement.text
        head = _VIEW_HEAD.match(text)
        assert head is not None
        rest = text[head.end() :]
        tokens = tokenize(rest)
        cur = Cursor(tokens, rest)
        schema, name = cur.qualified_name()
        columns: list[str] = []
        token = cur.peek()
        if token is not None and token.kind == "punct" and token.value == "(":
            columns = [p.name() for p in cur.group().split_commas()]
        if not cur.accept("AS"):
            raise DdlSyntaxError("expected AS before the view's query")
        query = cur.rest_text()
        view = View(
            schema_name=self.qualify(schema),
            name=name,
            definition=query,
            columns=columns or self.query_columns(query),
        )
        if not self.sqlite:
            # SQL SECURITY DEFINER is MySQL's default
            view.security_invoker = (head.group("security") or "DEFINER").upper() == "INVOKER"
        self.views[(view.schema_name, name)] = view

    def query_columns(self, query: str) -> list[str]:
        try:
            parsed = sqlglot.parse_one(query, read=self.read_dialect, error_level=ErrorLevel.RAISE)
        except SqlglotError:
            return []
        while isinstance(parsed, exp.SetOperation):
            parsed = parsed.this
        if not isinstance(parsed, exp.Select):
            return []
        sources = self.from_sources(parsed)
        names: list[str] = []
        for projection in parsed.expressions:
            if projection.is_star:
                # `*` / `t.*` stand for the source tables' columns as they were when the view was made
                qualifier = projection.table if isinstance(projection, exp.Column) else ""
                wanted = qualifier.lower()
                chosen = [cols for alias, cols in sources if not wanted or alias.lower() == wanted]
                if not chosen or any(cols is None for cols in chosen):
                    return []
                names.extend(c for cols in chosen for c in cols or [])
                continue
            names.append(projection.alias_or_name or projection.sql(dialect=self.read_dialect))
        return names

    def from_sources(self, select: exp.Select) -> list[tuple[str, list[str] | None]]:
        """(alias, column names) of each table or view the query reads, in FROM/JOIN order."""
        relations: list[exp.Expression] = []
        from_clause = select.args.get("from") or select.args.get("from_")
        if from_clause is not None:
            relations.append(from_clause.this)
        relations += [join.this for join in select.args.get("joins") or []]
        out: list[tuple[str, list[str] | None]] = []
        for relation in relations:
            if not isinstance(relation, exp.Table):
                out.append((relation.alias_or_name, None))
                continue
            tbl = self.find(relation.db or None, relation.name)
            view = self.find_view(relation.name) if tbl is None else None
            columns: list[str] | None = None
            if tbl is not None:
                columns = [c.name for c in tbl.table.columns]
            elif view is not None and view.columns:
                columns = list(view.columns)
            out.append((relation.alias_or_name, columns))
        return out

    @property
    def read_dialect(self) -> str:
        return "sqlite" if self.sqlite else "mysql"

    def create_trigger(self, match: re.Match[str]) -> None:
        table_schema, table_name = _split_qualified(match.group("table"))
        tbl = self.find(table_schema, table_name)
        _schema, name = _split_qualified(match.group("name"))
        self.bodies_skipped += 1
        if tbl is None:
            if self.find_view(table_name) is None:
                raise _Skip(f"trigger {name} is on {table_name}, which the DDL does not define")
            return
        timing = " ".join((match.group("timing") or "BEFORE").upper().split())
        tbl.table.triggers.append(Trigger(name=name, timing=timing, events=[match.group("event").upper()]))

    def find_view(self, name: str) -> View | None:
        lowered = name.lower()
        return next((v for (_s, n), v in self.views.items() if n.lower() == lowered), None)

    def create_routine(self, statement: Statement, match: re.Match[str]) -> None:
        text = statement.text
        schema, name = _split_qualified(match.group("name"))
        tail = text[match.end() - 1 :]
        cur = Cursor(tokenize(tail), tail)
        arguments: list[str] = []
        for part in cur.group().split_commas():
            mode = "IN"
            for candidate in ("INOUT", "OUT", "IN"):
                if part.accept(candidate):
                    mode = candidate
                    break
            part.name()
            data_type = mysql_type(part.rest_text(), self.dialect).data_type
            arguments.append(data_type if mode == "IN" else f"{mode} {data_type}")
        returns: str | None = None
        if cur.accept("RETURNS"):
            start = cur.pos
            cur.next()
            while not cur.at_end():
                token = cur.peek()
                assert token is not None
                if token.kind == "punct" and token.value == "(":
                    cur.group()
                elif token.is_word("UNSIGNED", "SIGNED", "ZEROFILL", "PRECISION", "VARYING"):
                    cur.next()
                else:
                    break
            returns = mysql_type(cur.source(start, cur.pos - 1), self.dialect).data_type
        characteristics = cur.rest_text().upper()
        body_start = _ROUTINE_BODY.search(characteristics)
        characteristics = characteristics[: body_start.start()] if body_start else characteristics
        security = re.search(r"SQL\s+SECURITY\s+(DEFINER|INVOKER)", characteristics)
        deterministic = re.search(r"(?<!NOT )\bDETERMINISTIC\b", characteristics) is not None
        definer = _DEFINER.search(text[: match.end()])
        kind = match.group("kind").lower()
        self.functions.append(
            Function(
                schema_name=self.qualify(schema),
                name=name,
                kind="procedure" if kind == "procedure" else "function",
                arguments=", ".join(arguments),
                returns=returns,
                language="SQL",
                security_definer=security is None or security.group(1) == "DEFINER",
                volatility="immutable" if deterministic else "volatile",
                owner=_definer(definer.group(1)) if definer else None,
            )
        )
        self.bodies_skipped += 1

    # ------------------------------------------------------------------ result

    def finish(self) -> Catalog:
        for tbl in self.tables.values():
            for fk in tbl.table.foreign_keys:
                if not fk.ref_columns:
                    target = self.tables.get((fk.ref_schema, fk.ref_table))
                    if target is not None and target.table.primary_key is not None:
                        fk.ref_columns = list(target.table.primary_key.columns)
        if not self.sqlite and not self.schema_chosen and self.tables:
            self.notes.remark(
                f"no USE statement names the database: tables are placed in schema '{MYSQL_DEFAULT_SCHEMA}'"
            )
        if self.bodies_skipped:
            self.notes.remark("trigger and routine bodies are not analysed offline (their headers are read)")
        schemas = sorted({t.table.schema_name for t in self.tables.values()} | set(self.schemas))
        if self.sqlite:
            schemas = sorted({SQLITE_SCHEMA} | {t.table.schema_name for t in self.tables.values()})
        sequences = [
            # SQLite keeps one counter per AUTOINCREMENT table (in sqlite_sequence), named after the table
            CatalogSequence(
                schema_name=t.table.schema_name,
                name=t.table.name,
                data_type="bigint",
                max_value=SQLITE_ROWID_MAX,
                owned_by=f"{t.table.schema_name}.{t.table.name}.{t.table.primary_key.columns[0]}",
            )
            for t in self.tables.values()
            if t.autoincrement and t.table.primary_key is not None
        ]
        # the live sources' order, so that paged reports cut the same pages
        tables = sorted((t.table for t in self.tables.values()), key=lambda t: (t.schema_name, t.name))
        for t in tables:
            t.indexes.sort(key=lambda i: (not i.primary, i.name))
            if not self.sqlite:
                t.unique_constraints.sort(key=lambda u: (u.name or "").lower())
                t.foreign_keys.sort(key=lambda f: (f.name or "").lower())
                t.check_constraints.sort(key=lambda c: (c.name or "").lower())
            else:
                t.triggers.sort(key=lambda tr: tr.name)
        return Catalog(
            dialect=self.dialect,
            source="ddl",
            database=self.schema if self.schema_chosen and not self.sqlite else None,
            schemas=schemas,
            tables=tables,
            views=sorted(self.views.values(), key=lambda v: (v.schema_name, v.name)),
            functions=sorted(self.functions, key=lambda f: (f.schema_name, f.name)),
            sequences=sequences,
            unknown=self.notes.render(),
        )


class _Skip(Exception):
    """A statement that is understood but cannot be applied."""


def _checks_of(item: object) -> list[CheckSpec]:
    if isinstance(item, ColumnSpec):
        return list(item.checks)
    return [item] if isinstance(item, CheckSpec) else []


def _index_key(part: KeyPart) -> IndexKey:
    if part.column is not None and part.prefix is not None:
        # a prefix key indexes the first N characters; the live source spells it `col`(N)
        quoted = "`" + part.column.replace("`", "``") + "`"
        return IndexKey(column=part.column, expression=f"{quoted}({part.prefix})", descending=part.descending)
    return IndexKey(column=part.column, expression=part.expression, descending=part.descending)


_ENGINES = {
    e.lower(): e
    for e in ("InnoDB", "MyISAM", "MEMORY", "Aria", "CSV", "ARCHIVE", "BLACKHOLE", "MERGE", "FEDERATED")
}


def _is_punct(token: object, char: str) -> bool:
    return getattr(token, "kind", None) == "punct" and getattr(token, "value", None) == char


def _engine_name(name: str) -> str:
    return _ENGINES.get(name.lower(), name)


def _definer(raw: str) -> str | None:
    """DEFINER=`root`@`localhost` as information_schema writes it (root@localhost).

    CURRENT_USER means whoever runs the script, which is not known offline."""
    if raw.upper().startswith("CURRENT_USER"):
        return None
    return "@".join(_unquote(part) for part in raw.split("@"))


def _label(text: str) -> str:
    words = [w.upper() for w in text.split()[:3]]
    return " ".join(words[:2])


def read_mysql_sqlite(statements: Sequence[Statement], notes: ScriptNotes, dialect: Dialect) -> Catalog:
    """A Catalog from MySQL/MariaDB or SQLite DDL statements."""
    return MySqlSqliteReader(notes, dialect).read(statements)

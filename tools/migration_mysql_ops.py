"""What a MySQL/MariaDB migration operation costs the server, and the state of the tables it touches.

`assess` says, for one ALTER operation on one server version, which algorithm InnoDB uses (INSTANT,
INPLACE, COPY), the weakest lock it allows, and whether the table is rebuilt; `ScriptState` follows the
tables created and changed earlier in the script (or read from the live catalog) so old column
definitions are known; the rewrites turn an UPDATE/DELETE into repeatable batches. Lint and planner
share all three.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dbsage.tools.catalog import Column, Dialect, Table
from dbsage.tools.migration_model import MigrationContext
from dbsage.tools.migration_mysql_read import (
    AlterOp,
    MyStatement,
    charset_of,
    quote,
)
from dbsage.tools.sources.ddl_sqltokens import (
    ColumnSpec,
    Cursor,
    DdlSyntaxError,
    ForeignKeySpec,
    KeySpec,
    parse_table_constraint,
    tokenize,
)

_DISPLAY_WIDTH = re.compile(r"\b(tinyint|smallint|mediumint|int|integer|bigint)\s*\(\s*\d+\s*\)", re.IGNORECASE)
_ENUM = re.compile(r"^\s*(enum|set)\s*\((?P<values>.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_VARCHAR = re.compile(r"^\s*(?:varchar|character\s+varying|national\s+varchar|nvarchar)\s*\(\s*(\d+)\s*\)",
                      re.IGNORECASE)
_MAX_BYTES_PER_CHAR = {"latin1": 1, "ascii": 1, "binary": 1, "utf8mb3": 3, "utf8": 3, "ucs2": 2, "utf16": 4,
                       "utf32": 4, "utf8mb4": 4, "cp1250": 1, "cp1251": 1, "cp1252": 1, "gbk": 2, "sjis": 2}

INSTANT = "INSTANT"
INPLACE = "INPLACE"
COPY = "COPY"

# ---------------------------------------------------------------------------------- what the script knows


@dataclass
class ColumnDef:
    """A column's current definition: the SQL text when the script wrote it, the parsed spec."""

    name: str
    sql: str | None
    type_text: str
    not_null: bool
    default: str | None
    charset: str | None
    collation: str | None
    generated: bool = False
    auto_increment: bool = False


_CLAUSE_HEAD = re.compile(
    r"^\s*(?:ADD|MODIFY|CHANGE)\s+(?:COLUMN\s+)?(?:IF\s+(?:NOT\s+)?EXISTS\s+)?", re.IGNORECASE
)
_PLACEMENT = re.compile(r"\s+(?:FIRST|AFTER\s+(?:`(?:[^`]|``)*`|\w+))\s*$", re.IGNORECASE)


def column_sql(op: AlterOp) -> str | None:
    """The column definition an ADD/MODIFY/CHANGE clause writes (without FIRST/AFTER), or None."""
    if op.kind not in ("add_column", "modify_column") or op.spec is None:
        return None
    text = _CLAUSE_HEAD.sub("", op.text, count=1)
    if (op.kind == "modify_column" and op.new_name is not None) or re.match(r"\s*CHANGE\b", op.text, re.IGNORECASE):
        tokens = tokenize(text)
        if len(tokens) > 1:
            text = text[tokens[1].start:]
    return _PLACEMENT.sub("", text).strip()


def column_from_spec(spec: ColumnSpec, sql: str | None, charset: str | None) -> ColumnDef:
    return ColumnDef(
        name=spec.name, sql=sql, type_text=spec.type_text, not_null=bool(spec.not_null or spec.primary),
        default=spec.default, charset=charset or charset_of(sql or ""), collation=spec.collation,
        generated=spec.generated is not None, auto_increment=spec.auto_increment,
    )


def column_from_catalog(column: Column) -> ColumnDef:
    charset = column.collation.split("_")[0] if column.collation else None
    parts = [quote(column.name), column.data_type]
    if charset and column.collation:
        parts.append(f"CHARACTER SET {charset} COLLATE {column.collation}")
    parts.append("NOT NULL" if not column.nullable else "NULL")
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if column.auto_increment:
        parts.append("AUTO_INCREMENT")
    if column.comment:
        parts.append("COMMENT '" + column.comment.replace("\\", "\\\\").replace("'", "''") + "'")
    sql = None if column.generated else " ".join(parts)
    return ColumnDef(
        name=column.name, sql=sql, type_text=column.data_type, not_null=not column.nullable,
        default=column.default, charset=charset, collation=column.collation, generated=column.generated is not None,
        auto_increment=column.auto_increment,
    )


@dataclass
class IndexDef:
    """A secondary index: enough to write it again as an ALTER TABLE ... ADD clause."""

    name: str
    kind: str  # index, unique, fulltext, spatial
    parts: list[tuple[str | None, str]]  # (column or None for an expression, SQL of the key part)

    def clause(self, name: str | None = None, rename: tuple[str, str] | None = None) -> str:
        """`ADD [UNIQUE|FULLTEXT|SPATIAL] INDEX name (parts)`, optionally with one column renamed."""
        parts = []
        for column, sql in self.parts:
            if rename is not None and column is not None and column.lower() == rename[0].lower():
                sql = quote(rename[1]) + sql[sql.index(quote(column)) + len(quote(column)):] if quote(
                    column) in sql else quote(rename[1])
            parts.append(sql)
        kind = "" if self.kind == "index" else self.kind.upper() + " "
        return f"ADD {kind}INDEX {quote(name or self.name)} ({', '.join(parts)})"

    def uses(self, column: str) -> bool:
        return any(c is not None and c.lower() == column.lower() for c, _ in self.parts)


def index_from_key(key: KeySpec, fallback_name: str) -> IndexDef:
    parts: list[tuple[str | None, str]] = []
    for part in key.parts:
        if part.column is not None:
            sql = quote(part.column) + (f"({part.prefix})" if part.prefix else "") + (" DESC" if part.descending
                                                                                       else "")
            parts.append((part.column, sql))
        else:
            parts.append((None, f"({part.expression})"))
    return IndexDef(key.name or fallback_name, key.kind, parts)


def index_from_catalog(table: Table) -> dict[str, IndexDef]:
    found: dict[str, IndexDef] = {}
    for index in table.indexes:
        if index.primary:
            continue
        kind = index.method if index.method in ("fulltext", "spatial") else ("unique" if index.unique else "index")
        parts: list[tuple[str | None, str]] = [
            (k.column, quote(k.column) + (" DESC" if k.descending else "")) if k.column is not None
            else (None, f"({k.expression})") for k in index.keys
        ]
        found[index.name.lower()] = IndexDef(index.name, kind, parts)
    return found


@dataclass
class TableState:
    """What the script or the live catalog says about a table the migration touches."""

    schema: str | None
    name: str
    created_here: bool
    live: Table | None = None
    columns: dict[str, ColumnDef] = field(default_factory=dict)
    primary_key: list[str] = field(default_factory=list)
    has_fulltext: bool = False
    indexes: dict[str, IndexDef] = field(default_factory=dict)
    foreign_key_columns: set[str] = field(default_factory=set)


class ScriptState:
    """Tables created so far in the script, their columns, and the session settings in force."""

    def __init__(self, ctx: MigrationContext) -> None:
        self.ctx = ctx
        self.tables: dict[str, TableState] = {}
        self.settings: dict[str, str] = {}

    @staticmethod
    def key(schema: str | None, name: str) -> str:
        return f"{(schema or '').lower()}.{name.lower()}"

    def table(self, schema: str | None, name: str) -> TableState:
        key = self.key(schema, name)
        if key in self.tables:
            return self.tables[key]
        live = self._live(schema, name)
        state = TableState(schema, name, created_here=False, live=live)
        if live is not None:
            state.columns = {c.name.lower(): column_from_catalog(c) for c in live.columns}
            state.primary_key = list(live.primary_key.columns) if live.primary_key else []
            state.has_fulltext = any(i.method == "fulltext" for i in live.indexes)
            state.indexes = index_from_catalog(live)
            state.foreign_key_columns = {c.lower() for fk in live.foreign_keys for c in fk.columns}
            if self.ctx.catalog is not None:
                for other in self.ctx.catalog.tables:
                    for fk in other.foreign_keys:
                        same = (fk.ref_schema.lower(), fk.ref_table.lower()) == (live.schema_name.lower(),
                                                                                 live.name.lower())
                        if same:
                            state.foreign_key_columns |= {c.lower() for c in fk.ref_columns}
        self.tables[key] = state
        return state

    def _live(self, schema: str | None, name: str) -> Table | None:
        found = self.ctx.table(schema, name)
        if found is not None or self.ctx.catalog is None or schema is not None:
            return found
        same = [t for t in self.ctx.catalog.tables if t.name.lower() == name.lower()]
        return same[0] if len(same) == 1 else None

    def apply(self, st: MyStatement) -> None:
        """Record what the statement changes (after the rules have looked at it)."""
        if st.kind == "set":
            self.settings.update(st.settings)
        elif st.kind == "create_table" and st.table:
            state = TableState(st.schema, st.table, created_here=True)
            for key, spec in st.columns.items():
                state.columns[key] = column_from_spec(spec, st.column_text.get(key), None)
                if spec.primary:
                    state.primary_key = [spec.name]
            for number, source in enumerate(st.key_text.values()):
                try:
                    item = parse_table_constraint(Cursor(tokenize(source), source))
                except (DdlSyntaxError, AssertionError, IndexError):
                    item = None
                if isinstance(item, KeySpec) and item.kind != "primary":
                    index = index_from_key(item, f"{st.table}_key{number}")
                    state.indexes[index.name.lower()] = index
                elif isinstance(item, ForeignKeySpec):
                    state.foreign_key_columns |= {c.lower() for c in item.columns}
                m = re.match(r"\s*(?:CONSTRAINT\s+\S+\s+)?PRIMARY\s+KEY\s*\((.*)\)", source, re.IGNORECASE | re.DOTALL)
                if m:
                    state.primary_key = [p.strip().strip("`").split("(")[0] for p in m.group(1).split(",")]
                if re.match(r"\s*FULLTEXT\b", source, re.IGNORECASE):
                    state.has_fulltext = True
            self.tables[self.key(st.schema, st.table)] = state
        elif st.kind == "drop_table":
            for schema, name in st.tables:
                self.tables.pop(self.key(schema, name), None)
        elif st.kind == "rename_table":
            for (old_schema, old), (new_schema, new) in st.renames:
                moved = self.tables.pop(self.key(old_schema, old), None)
                if moved is not None:
                    moved.schema, moved.name = new_schema, new
                    self.tables[self.key(new_schema, new)] = moved
        elif st.kind in ("alter", "create_index", "drop_index") and st.table:
            self._apply_alter(st)

    def _apply_alter(self, st: MyStatement) -> None:
        assert st.table is not None
        state = self.table(st.schema, st.table)
        for op in st.ops:
            if op.kind in ("add_column", "modify_column") and op.spec is not None and op.column:
                state.columns.pop(op.column.lower(), None)
                state.columns[op.spec.name.lower()] = column_from_spec(op.spec, column_sql(op), op.charset)
            elif op.kind == "drop_column" and op.column:
                state.columns.pop(op.column.lower(), None)
            elif op.kind == "rename_column" and op.column and op.new_name:
                col = state.columns.pop(op.column.lower(), None)
                if col is not None:
                    col.name = op.new_name
                    col.sql = None
                    state.columns[op.new_name.lower()] = col
            elif op.kind in ("add_index", "add_fulltext", "add_spatial") and op.key is not None and op.key.name:
                state.indexes[op.key.name.lower()] = index_from_key(op.key, op.key.name)
                state.has_fulltext = state.has_fulltext or op.kind == "add_fulltext"
            elif op.kind == "drop_index" and op.new_name:
                state.indexes.pop(op.new_name.lower(), None)
            elif op.kind == "rename_index" and op.new_name:
                old_index = state.indexes.pop((op.old_name or "").lower(), None)
                if old_index is not None:
                    old_index.name = op.new_name
                    state.indexes[op.new_name.lower()] = old_index
            elif op.kind == "rename_table" and op.new_name:
                self.tables.pop(self.key(st.schema, st.table), None)
                state.name = op.new_name
                self.tables[self.key(st.schema, op.new_name)] = state


# ---------------------------------------------------------------------------------- what an operation costs


@dataclass
class Assessment:
    """How InnoDB runs one operation on the target version."""

    rule_id: str | None
    algorithm: str | None
    lock: str | None  # NONE, SHARED, EXCLUSIVE
    rebuilds_table: bool
    message: str
    clause: str | None  # the explicit clause that keeps it online, or None when there is none
    blocks_writes: bool = False


def _version_at_least(ctx: MigrationContext, mysql: int, mariadb: int) -> bool:
    if ctx.dialect is Dialect.MARIADB:
        return ctx.server_version_num >= mariadb
    return ctx.server_version_num >= mysql


def _normal_type(type_text: str) -> str:
    text = _DISPLAY_WIDTH.sub(lambda m: m.group(1), type_text.lower())
    text = re.sub(r"\binteger\b", "int", text)
    text = re.sub(r"\bbool(ean)?\b", "tinyint(1)", text)
    return re.sub(r"\s+", "", text)


def _enum_values(type_text: str) -> list[str] | None:
    m = _ENUM.match(type_text)
    if m is None:
        return None
    return re.findall(r"'((?:[^'\\]|''|\\.)*)'", m.group("values"))


def varchar_bytes(type_text: str, charset: str | None) -> int | None:
    m = _VARCHAR.match(type_text)
    if m is None:
        return None
    return int(m.group(1)) * _MAX_BYTES_PER_CHAR.get((charset or "utf8mb4").lower(), 4)


def instant_or_inplace(ctx: MigrationContext, instant: bool) -> str:
    return "ALGORITHM=INSTANT" if instant else "ALGORITHM=INPLACE, LOCK=NONE"


def assess(
    op: AlterOp, state: TableState, ctx: MigrationContext, st: MyStatement, settings: dict[str, str]
) -> Assessment:
    """Algorithm, lock and rebuild of one operation, and the rule it falls under (None: nothing to say).

    `settings` are the session settings in force (foreign_key_checks decides how a foreign key is added).
    """
    engine = "MariaDB" if ctx.dialect is Dialect.MARIADB else "MySQL"
    if op.kind == "add_column" and op.spec is not None:
        spec = op.spec
        stored = spec.generated is not None and re.search(r"\b(STORED|PERSISTENT)\b", op.text, re.IGNORECASE)
        if stored:
            return Assessment("migration.mysql_stored_generated_column", COPY, "SHARED", True,
                              f"adding the STORED generated column {spec.name} copies the table and blocks writes",
                              None, blocks_writes=True)
        if spec.auto_increment:
            return Assessment("migration.mysql_blocking_alter", INPLACE, "SHARED", True,
                              f"adding the AUTO_INCREMENT column {spec.name} rebuilds the table and blocks writes",
                              None, blocks_writes=True)
        if spec.unique or spec.primary or spec.references is not None:
            return Assessment("migration.mysql_online_index", INPLACE, "NONE", True,
                              f"adding {spec.name} with a key builds an index (and rebuilds the table): online, "
                              "but it reads the whole table", "ALGORITHM=INPLACE, LOCK=NONE")
        positioned = spec.first or spec.after is not None
        instant = (_version_at_least(ctx, 80029, 100400)
                   or (not positioned and _version_at_least(ctx, 80012, 100302))) and not state.has_fulltext
        if spec.not_null and spec.default is None and spec.generated is None:
            return Assessment("migration.mysql_not_null_without_default", INSTANT if instant else INPLACE, "NONE",
                              not instant, f"column {spec.name} is added NOT NULL without a DEFAULT: existing rows "
                              "get the type's implicit value and inserts that omit the column fail in strict mode",
                              instant_or_inplace(ctx, instant))
        if instant:
            return Assessment("migration.mysql_instant_available", INSTANT, "NONE", False,
                              f"adding {spec.name} is instant on {engine} {version_text(ctx)}: "
                              "say ALGORITHM=INSTANT so the server refuses rather than copies", "ALGORITHM=INSTANT")
        return Assessment("migration.mysql_inplace_rebuild", INPLACE, "NONE", True,
                          f"adding {spec.name} rebuilds the table in place on {engine} {version_text(ctx)}",
                          "ALGORITHM=INPLACE, LOCK=NONE")
    if op.kind == "drop_column":
        instant = _version_at_least(ctx, 80029, 100400)
        return Assessment("migration.mysql_drop_column", INSTANT if instant else INPLACE, "NONE", not instant,
                          f"dropping {op.column} destroys its data; nothing brings it back",
                          instant_or_inplace(ctx, instant))
    if op.kind == "rename_column":
        instant = _version_at_least(ctx, 80028, 100300)
        return Assessment("migration.mysql_rename", INSTANT if instant else INPLACE, "NONE", False,
                          f"renaming {op.column} to {op.new_name} breaks every running query that names it",
                          instant_or_inplace(ctx, instant))
    if op.kind in ("set_default", "drop_default"):
        return Assessment("migration.mysql_instant_available", INSTANT, "NONE", False,
                          f"changing the default of {op.column} only changes metadata", "ALGORITHM=INSTANT")
    if op.kind == "modify_column":
        return _assess_modify(op, state, ctx, engine)
    if op.kind == "add_index":
        return Assessment("migration.mysql_online_index", INPLACE, "NONE", False,
                          "the index is built online but reads the whole table and lags replicas"
                          + ("; a UNIQUE build fails on duplicates" if op.key and op.key.kind == "unique" else ""),
                          "ALGORITHM=INPLACE, LOCK=NONE")
    if op.kind == "add_fulltext":
        return Assessment("migration.mysql_fulltext_index", INPLACE, "SHARED", not state.has_fulltext,
                          "a FULLTEXT index build blocks writes (LOCK=SHARED)"
                          + ("; the first one also rebuilds the table to add FTS_DOC_ID" if not state.has_fulltext
                             else ""), None, blocks_writes=True)
    if op.kind == "add_spatial":
        return Assessment("migration.mysql_spatial_index", INPLACE, "SHARED", False,
                          "a SPATIAL index build blocks writes (LOCK=SHARED)", None, blocks_writes=True)
    if op.kind == "add_primary":
        dropping = any(o.kind == "drop_primary" for o in st.ops)
        return Assessment("migration.mysql_primary_key_change", INPLACE, "NONE", True,
                          ("replacing" if dropping else "adding") + " the primary key rebuilds the whole table "
                          "(clustered index); online, but fails on duplicates or NULLs", "ALGORITHM=INPLACE, LOCK=NONE")
    if op.kind == "drop_primary":
        if any(o.kind == "add_primary" for o in st.ops):
            return Assessment(None, INPLACE, "NONE", True, "", "ALGORITHM=INPLACE, LOCK=NONE")
        return Assessment("migration.mysql_primary_key_change", COPY, "SHARED", True,
                          "dropping the primary key without adding another copies the table and blocks writes",
                          None, blocks_writes=True)
    if op.kind == "add_foreign_key":
        checks_off = settings.get("foreign_key_checks", "1") in ("0", "OFF")
        if checks_off:
            return Assessment("migration.mysql_foreign_key_unchecked", INPLACE, "NONE", False,
                              "with foreign_key_checks=0 the key is added in place without checking existing rows",
                              "ALGORITHM=INPLACE, LOCK=NONE")
        return Assessment("migration.mysql_foreign_key_copy", COPY, "SHARED", True,
                          "with foreign_key_checks on, adding a foreign key copies the table and blocks writes",
                          None, blocks_writes=True)
    if op.kind == "add_check":
        return Assessment("migration.mysql_blocking_alter", COPY, "SHARED", True,
                          "adding a CHECK constraint copies the table to validate it and blocks writes",
                          None, blocks_writes=True)
    if op.kind == "convert_charset":
        return Assessment("migration.mysql_charset_change", COPY, "SHARED", True,
                          f"CONVERT TO CHARACTER SET {op.charset or ''} rewrites every text column: "
                          "a table copy that blocks writes", None, blocks_writes=True)
    if op.kind == "rebuild":
        if re.match(r"\s*ENGINE\s*=?\s*[`'\"]?innodb\b", op.text, re.IGNORECASE) or op.text.upper().startswith(
                "FORCE") or not op.text.upper().startswith("ENGINE"):
            return Assessment("migration.mysql_table_rebuild", INPLACE, "NONE", True,
                              "the table is rebuilt: online, but it rewrites every row and lags replicas",
                              "ALGORITHM=INPLACE, LOCK=NONE")
        return Assessment("migration.mysql_blocking_alter", COPY, "SHARED", True,
                          "changing the storage engine copies the table and blocks writes", None, blocks_writes=True)
    if op.kind == "order_by":
        return Assessment("migration.mysql_blocking_alter", COPY, "SHARED", True,
                          "ALTER TABLE ... ORDER BY copies the table and blocks writes", None, blocks_writes=True)
    if op.kind == "rename_table":
        return Assessment("migration.mysql_rename", INSTANT, "EXCLUSIVE", False,
                          f"renaming the table to {op.new_name} breaks every running query that names it", None)
    if op.kind in ("drop_index", "rename_index", "drop_foreign_key", "drop_constraint", "index_visibility",
                   "table_charset", "table_option", "column_visibility"):
        return Assessment(None, INPLACE, "NONE", False, "", None)
    return Assessment(None, None, None, False, "", None)


def _assess_modify(op: AlterOp, state: TableState, ctx: MigrationContext, engine: str) -> Assessment:
    assert op.spec is not None and op.column is not None
    spec = op.spec
    old = state.columns.get(op.column.lower())
    renamed = op.new_name is not None
    if old is None or old.generated:
        return Assessment("migration.mysql_column_type_change", None, None, False,
                          f"column {op.column} is redefined but its current definition is unknown here: unless "
                          "only the default, a VARCHAR length within its length-byte class or an ENUM tail changes, "
                          f"{engine} copies the table and blocks writes (give the live database or the CREATE TABLE)",
                          None)
    new_charset = op.charset or old.charset
    new_collation = op.collation or (old.collation if op.charset is None else None)
    # a CHARACTER SET/COLLATE named on a column whose own is unknown is taken as a change (a copy)
    if (op.charset and op.charset != old.charset) or (op.collation and op.collation != old.collation):
        return Assessment("migration.mysql_charset_change", COPY, "SHARED", True,
                          f"changing the character set or collation of {op.column} copies the table and blocks "
                          "writes", None, blocks_writes=True)
    del new_charset, new_collation
    old_type, new_type = _normal_type(old.type_text), _normal_type(spec.type_text)
    positioned = spec.first or spec.after is not None
    rename_note = f" and renames it to {op.new_name}" if renamed else ""
    if old_type != new_type:
        old_enum, new_enum = _enum_values(old.type_text), _enum_values(spec.type_text)
        if old_enum is not None and new_enum is not None and old_type.startswith(new_type[:3]):
            if new_enum[: len(old_enum)] == old_enum and (len(new_enum) <= 255) == (len(old_enum) <= 255):
                return _metadata_change(op, ctx, engine, f"appending ENUM/SET values to {op.column}", renamed)
            return Assessment("migration.mysql_enum_reorder", COPY, "SHARED", True,
                              f"the new value list of {op.column} inserts, reorders or removes values: the stored "
                              "numbers change, so the table is copied and writes block", None, blocks_writes=True)
        old_bytes, new_bytes = varchar_bytes(old.type_text, old.charset), varchar_bytes(spec.type_text, old.charset)
        if old_bytes is not None and new_bytes is not None and new_bytes >= old_bytes:
            if ctx.dialect is Dialect.MARIADB and ctx.server_version_num >= 100403:
                if new_bytes <= 255 or old_bytes >= 256 or old_bytes <= 127:
                    return _metadata_change(op, ctx, engine, f"widening the VARCHAR {op.column}", renamed)
            elif (new_bytes <= 255) == (old_bytes <= 255):
                return Assessment("migration.mysql_instant_available" if not renamed else "migration.mysql_rename",
                                  INPLACE, "NONE", False,
                                  f"widening the VARCHAR {op.column} within its length-byte class is done in place "
                                  "without a rebuild" + rename_note, "ALGORITHM=INPLACE, LOCK=NONE")
            return Assessment("migration.mysql_column_type_change", COPY, "SHARED", True,
                              f"widening {op.column} from {old_bytes} to {new_bytes} bytes crosses the 255-byte "
                              "boundary of the length prefix: the table is copied and writes block", None,
                              blocks_writes=True)
        return Assessment("migration.mysql_column_type_change", COPY, "SHARED", True,
                          f"changing the type of {op.column} from {old.type_text} to {spec.type_text} copies the "
                          "table and blocks writes", None, blocks_writes=True)
    if bool(spec.not_null or spec.primary) != old.not_null:
        return Assessment("migration.mysql_inplace_rebuild" if not renamed else "migration.mysql_rename",
                          INPLACE, "NONE", True,
                          f"making {op.column} {'NOT NULL' if spec.not_null else 'NULL'} rebuilds the table in place"
                          + ("; it fails if a row holds NULL" if spec.not_null else "") + rename_note,
                          "ALGORITHM=INPLACE, LOCK=NONE")
    if positioned and not (ctx.dialect is Dialect.MARIADB and ctx.server_version_num >= 100400):
        return Assessment("migration.mysql_inplace_rebuild" if not renamed else "migration.mysql_rename",
                          INPLACE, "NONE", True, f"moving {op.column} rebuilds the table in place" + rename_note,
                          "ALGORITHM=INPLACE, LOCK=NONE")
    return _metadata_change(op, ctx, engine, f"changing the default or comment of {op.column}", renamed)


def _metadata_change(op: AlterOp, ctx: MigrationContext, engine: str, what: str, renamed: bool) -> Assessment:
    if renamed:
        return Assessment("migration.mysql_rename", INSTANT, "NONE", False,
                          f"{what} renames it to {op.new_name}, which breaks every running query that names "
                          f"{op.column}", "ALGORITHM=INSTANT")
    instant = _version_at_least(ctx, 80012, 100303)
    return Assessment("migration.mysql_instant_available", INSTANT if instant else INPLACE, "NONE", False,
                      f"{what} only changes metadata on {engine} {version_text(ctx)}",
                      instant_or_inplace(ctx, instant))


def version_text(ctx: MigrationContext) -> str:
    v = ctx.server_version_num
    return f"{v // 10000}.{v // 100 % 100}.{v % 100}"


def implicit_default(type_text: str) -> str | None:
    """The value MySQL gives existing rows for a NOT NULL column added without DEFAULT, when it is simple."""
    t = type_text.strip().lower()
    if re.match(r"(tiny|small|medium|big)?int|integer|decimal|numeric|float|double|real|bit|bool", t):
        return "0"
    if re.match(r"(var)?char|(var)?binary|national|nchar|nvarchar|character", t):
        return "''"
    return None


# ---------------------------------------------------------------------------------- rewrites

BATCH_ROWS = 5000
_VOLATILE = re.compile(
    r"\b(NOW|CURRENT_TIMESTAMP|CURRENT_DATE|CURRENT_TIME|CURDATE|CURTIME|SYSDATE|UTC_TIMESTAMP|UTC_DATE|RAND|UUID|"
    r"UUID_SHORT|LOCALTIME|LOCALTIMESTAMP|UNIX_TIMESTAMP|CONNECTION_ID|LAST_INSERT_ID)\b",
    re.IGNORECASE,
)
_CREATE_INDEX = re.compile(
    r"^\s*CREATE\s+(?:ONLINE\s+|OFFLINE\s+)?(?P<kind>UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>`(?:[^`]|``)*`|[\w$]+)\s+(?:USING\s+\w+\s+)?ON\s+"
    r"(?P<table>(?:`(?:[^`]|``)*`|[\w$]+)(?:\s*\.\s*(?:`(?:[^`]|``)*`|[\w$]+))?)\s*(?P<rest>\(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_TRAILING_OPTIONS = re.compile(r"(?:\s+(?:ALGORITHM|LOCK)\s*=?\s*\w+)+\s*;?\s*$", re.IGNORECASE)


def index_as_alter(text: str) -> str | None:
    """`CREATE [UNIQUE] INDEX n ON t (cols) ...` as the ALTER TABLE clause `ADD [UNIQUE] INDEX n (cols) ...`."""
    m = _CREATE_INDEX.match(text)
    if m is None:
        return None
    kind = (m.group("kind") or "").strip().upper()
    rest = _TRAILING_OPTIONS.sub("", m.group("rest")).strip()
    return f"ADD {kind + ' ' if kind else ''}INDEX {m.group('name')} {rest}"


def order_by_key(table: TableState) -> str:
    return (" ORDER BY " + ", ".join(quote(c) for c in table.primary_key)) if table.primary_key else ""


def batched_dml(st: MyStatement, table: TableState) -> str | None:
    """The UPDATE/DELETE as one batch to repeat until it changes no row, or None when it cannot be batched.

    An UPDATE batch must leave the rows it changed out of the next batch: it gets `NOT (col <=> value)`
    for its assignments, which needs values that do not read the assigned columns or the clock.
    """
    if st.kind not in ("update", "delete"):
        return None
    where = f"({st.where})" if st.where else None
    if st.kind == "delete":
        condition = f" WHERE {where}" if where else ""
        return f"DELETE FROM {st.table_sql}{condition}{order_by_key(table)} LIMIT {BATCH_ROWS};"
    if not st.assignments:
        return None
    targets = [c for c, _ in st.assignments]
    for _column, value in st.assignments:
        if _VOLATILE.search(value):
            return None
        if any(re.search(r"(?<![\w$`])`?" + re.escape(t) + r"`?(?![\w$])", value, re.IGNORECASE) for t in targets):
            return None
    sets = ", ".join(f"{quote(c)} = {v}" for c, v in st.assignments)
    guard = " OR ".join(f"NOT ({quote(c)} <=> {v})" for c, v in st.assignments)
    condition = f"{where} AND ({guard})" if where else f"({guard})"
    return f"UPDATE {st.table_sql} SET {sets} WHERE {condition}{order_by_key(table)} LIMIT {BATCH_ROWS};"

"""MariaDB and MySQL: information_schema (and mysql.* when readable) -> Catalog.

In this family the "schema" is the database. Every query is set-based over the selected databases,
never one per table. MariaDB 10.11 and MySQL 8.0/8.4 differ in a handful of catalog details; each
difference is decided here from the server's version, through `_Server`, and nowhere else:

- MariaDB quotes literal column defaults in COLUMNS.COLUMN_DEFAULT ('abc', and NULL as the word
  NULL); MySQL shows them bare and flags expression defaults with DEFAULT_GENERATED in EXTRA.
- MariaDB's JSON is LONGTEXT plus a column-level CHECK (json_valid(col)); MySQL has a real JSON type.
- CHECK_CONSTRAINTS has TABLE_NAME on MariaDB only; MySQL (8.0.16+) is joined through
  TABLE_CONSTRAINTS, which also says whether a check is ENFORCED.
- Functional index keys (STATISTICS.EXPRESSION) exist on MySQL 8.0.13+ only.
- Accounts: MariaDB marks roles in mysql.user.is_role and keeps locks in mysql.global_priv (10.4+);
  MySQL keeps account_locked in mysql.user and role grants in mysql.role_edges.
- MySQL 8 caches TABLES statistics (information_schema_stats_expiry); the session asks for fresh ones.

A failed statement does not end a MySQL transaction, so optional reads (accounts, index sizes and
usage) run last, each in its own try, and leave a line in `Catalog.unknown` when refused.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from dbsage.tools.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    Dialect,
    ForeignKey,
    Function,
    Grant,
    Index,
    IndexKey,
    PrimaryKey,
    Role,
    Table,
    Trigger,
    UniqueConstraint,
    View,
)
from dbsage.tools.catalog import Sequence as SequenceModel
from dbsage.tools.errors import QueryFailed
from dbsage.tools.sources.guard import GuardedSession

Row = dict[str, Any]
PasswordKind = Literal["none", "hashed"]
TableKey = tuple[str, str]

SYSTEM_DATABASES = ("mysql", "information_schema", "performance_schema", "sys")

# The server settings analyzers read (security, durability, operations). A name the server does
# not know is simply absent from Catalog.settings.
SETTING_NAMES = (
    "version",
    "version_comment",
    "require_secure_transport",
    "local_infile",
    "secure_file_priv",
    "default_storage_engine",
    "max_connections",
    "log_bin",
    "binlog_format",
    "performance_schema",
    "tls_version",
    "have_ssl",
    "sql_mode",
    "default_authentication_plugin",
    "authentication_policy",
    "innodb_file_per_table",
    "innodb_flush_log_at_trx_commit",
    "sync_binlog",
    "character_set_server",
    "collation_server",
    "lower_case_table_names",
    "sql_require_primary_key",
    "explicit_defaults_for_timestamp",
    "skip_networking",
    "bind_address",
    "event_scheduler",
    "innodb_page_size",
    "information_schema_stats_expiry",
    "old_passwords",
)
# Password-policy plugins publish variables under these prefixes while they are loaded.
SETTING_PREFIXES = (
    "validate_password",
    "simple_password_check",
    "cracklib_password_check",
    "password_reuse_check",
)

# Authentication plugins that check a password stored on the server ("" is the pre-plugin default).
PASSWORD_PLUGINS = frozenset(
    {
        "",
        "mysql_native_password",
        "mysql_old_password",
        "caching_sha2_password",
        "sha256_password",
        "ed25519",
        "parsec",
    }
)

_NUMERIC_TYPES = frozenset(
    {
        "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric",
        "float", "double", "real", "bit", "year", "bool", "boolean",
    }
)
_BASE_TYPES = {
    "tinyint": "smallint",
    "smallint": "smallint",
    "mediumint": "integer",
    "int": "integer",
    "integer": "integer",
    "bigint": "bigint",
    "decimal": "numeric",
    "numeric": "numeric",
    "float": "real",
    "double": "double",
    "real": "double",
    "varchar": "varchar",
    "char": "char",
    "tinytext": "text",
    "text": "text",
    "mediumtext": "text",
    "longtext": "text",
    "datetime": "timestamp",
    # TIMESTAMP is stored in UTC and shown in the session time zone: a point in time, like timestamptz.
    "timestamp": "timestamptz",
    "date": "date",
    "time": "time",
    "year": "year",
    "json": "json",
    "enum": "enum",
    "set": "set",
    "tinyblob": "binary",
    "blob": "binary",
    "mediumblob": "binary",
    "longblob": "binary",
    "binary": "binary",
    "varbinary": "binary",
    "bit": "bit",
    "uuid": "uuid",
}
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_BIT_OR_HEX = re.compile(r"b'[01]*'|0x[0-9a-fA-F]*")
_NOW = re.compile(r"(?i)(current_timestamp|now|localtime|localtimestamp)(\(\d*\))?")


@dataclass(frozen=True)
class _Server:
    """What the connected server is, and which catalog features its version has."""

    version: str
    version_num: int | None
    mariadb: bool
    database: str | None

    def _at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        return self.version_num is not None and self.version_num >= major * 10000 + minor * 100 + patch

    @property
    def index_expressions(self) -> bool:
        return not self.mariadb and self._at_least(8, 0, 13)

    @property
    def check_constraints(self) -> bool:
        return self._at_least(10, 2, 22) if self.mariadb else self._at_least(8, 0, 16)

    @property
    def cached_table_stats(self) -> bool:
        return not self.mariadb and self._at_least(8, 0, 3)

    @property
    def global_priv(self) -> bool:
        return self.mariadb and self._at_least(10, 4)

    @property
    def role_edges(self) -> bool:
        return not self.mariadb and self._at_least(8, 0)


def parse_version_num(version: str) -> int | None:
    """10.11.19-MariaDB-0+deb12u1 -> 101119; 8.0.36 -> 80036; None when it has no x.y.z."""
    match = re.match(r"\s*(\d+)\.(\d+)\.(\d+)", version)
    if match is None:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    return major * 10000 + minor * 100 + patch


def load_catalog(session: GuardedSession, *, schemas: list[str] | None = None, dialect: Dialect) -> Catalog:
    """The catalog of `schemas`, else of the URL's database, else of every non-system database."""
    server = _server(session)
    catalog = Catalog(
        dialect=dialect,
        source="live",
        server_version=server.version,
        server_version_num=server.version_num,
        database=server.database,
    )
    selected = _select_databases(session, schemas, server.database, catalog.unknown)
    catalog.schemas = selected
    if server.cached_table_stats:
        # Otherwise row counts and AUTO_INCREMENT can be up to a day old (the MySQL 8 default).
        session.catalog("SET SESSION information_schema_stats_expiry = 0")

    if selected:
        tables, views, sequences = _relations(session, selected)
        _attach_columns(session, selected, tables, views)
        _attach_keys(session, selected, tables)
        if server.check_constraints:
            _attach_checks(session, selected, tables, server)
        else:
            catalog.unknown.append(
                f"check constraints: {server.version} has no information_schema.CHECK_CONSTRAINTS"
            )
        _attach_indexes(session, selected, tables, server)
        _attach_triggers(session, selected, tables)
        catalog.tables = sorted(tables.values(), key=lambda t: (t.schema_name, t.name))
        catalog.views = sorted(views.values(), key=lambda v: (v.schema_name, v.name))
        catalog.functions = _routines(session, selected)
        catalog.sequences = _sequences(session, sequences, catalog.unknown)

    catalog.settings = _settings(session)
    # Optional facts last: each may need a privilege dbsage does not have, and says so in `unknown`.
    if selected:
        _attach_index_sizes(session, selected, catalog)
        _attach_index_usage(session, selected, catalog)
    accounts = _accounts(session, server, catalog.unknown)
    catalog.roles = accounts or []
    catalog.grants = _grants(session, selected, catalog.unknown)
    if accounts is None:
        catalog.unknown.append(
            "grants: without SELECT on mysql.user, information_schema shows only this account's own"
            " privileges"
        )
    return catalog


# -- server and databases -----------------------------------------------------------------------


def _server(session: GuardedSession) -> _Server:
    row = session.catalog("SELECT VERSION() AS version, DATABASE() AS current_db")[0]
    version = _str(row, "version")
    return _Server(
        version=version,
        version_num=parse_version_num(version),
        mariadb="mariadb" in version.lower(),
        database=_opt(row, "current_db"),
    )


def _select_databases(
    session: GuardedSession, requested: list[str] | None, current: str | None, unknown: list[str]
) -> list[str]:
    rows = session.catalog("SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
    existing = [_str(r, "name") for r in rows]
    if requested is None:
        if current is not None:
            return [current]
        return [name for name in existing if name.lower() not in SYSTEM_DATABASES]
    by_lower = {name.lower(): name for name in existing}
    selected: list[str] = []
    for name in requested:
        found = name if name in existing else by_lower.get(name.lower())
        if found is None:
            unknown.append(f"database {name!r}: it does not exist or this account cannot see it")
        elif found not in selected:
            selected.append(found)
    return selected


def _in_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(["%s"] * len(values)) + ")"


def _query(session: GuardedSession, sql: str, selected: Sequence[str]) -> list[Row]:
    """Run `sql` with {databases} standing for the placeholder list of the selected databases."""
    return session.catalog(sql.format(databases=_in_list(selected)), list(selected))


# -- tables, views, columns ----------------------------------------------------------------------

_RELATIONS_SQL = """
SELECT t.TABLE_SCHEMA AS table_schema, t.TABLE_NAME AS table_name, t.TABLE_TYPE AS table_type,
       t.ENGINE AS engine, t.TABLE_ROWS AS table_rows, t.DATA_LENGTH AS data_length,
       t.INDEX_LENGTH AS index_length, t.AUTO_INCREMENT AS auto_increment,
       t.CREATE_OPTIONS AS create_options, t.TABLE_COMMENT AS table_comment,
       v.VIEW_DEFINITION AS view_definition, v.SECURITY_TYPE AS security_type, v.DEFINER AS definer
FROM information_schema.TABLES t
LEFT JOIN information_schema.VIEWS v
       ON v.TABLE_SCHEMA = t.TABLE_SCHEMA AND v.TABLE_NAME = t.TABLE_NAME
WHERE t.TABLE_SCHEMA IN {databases}
ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME
"""


def _relations(
    session: GuardedSession, selected: list[str]
) -> tuple[dict[TableKey, Table], dict[TableKey, View], list[TableKey]]:
    tables: dict[TableKey, Table] = {}
    views: dict[TableKey, View] = {}
    sequences: list[TableKey] = []
    for r in _query(session, _RELATIONS_SQL, selected):
        key = (_str(r, "table_schema"), _str(r, "table_name"))
        kind = _str(r, "table_type").upper()
        if kind == "VIEW":
            views[key] = View(
                schema_name=key[0],
                name=key[1],
                definition=_opt(r, "view_definition") or None,
                security_invoker=_str(r, "security_type").upper() == "INVOKER",
                owner=_opt(r, "definer"),
            )
        elif kind == "SEQUENCE":
            sequences.append(key)
        else:  # BASE TABLE, or MariaDB's SYSTEM VERSIONED
            data, index = _int(r["data_length"]), _int(r["index_length"])
            tables[key] = Table(
                schema_name=key[0],
                name=key[1],
                kind="partitioned_table" if "partitioned" in _str(r, "create_options").lower() else "table",
                engine=_opt(r, "engine"),
                row_estimate=_int(r["table_rows"]),
                total_bytes=None if data is None and index is None else (data or 0) + (index or 0),
                auto_increment_next=_int(r["auto_increment"]),
                comment=_opt(r, "table_comment") or None,
            )
    return tables, views, sequences


_COLUMNS_SQL = """
SELECT c.TABLE_SCHEMA AS table_schema, c.TABLE_NAME AS table_name, c.COLUMN_NAME AS column_name,
       c.ORDINAL_POSITION AS position, c.COLUMN_DEFAULT AS column_default,
       c.IS_NULLABLE AS is_nullable, c.DATA_TYPE AS data_type, c.COLUMN_TYPE AS column_type,
       c.CHARACTER_MAXIMUM_LENGTH AS char_length, c.COLLATION_NAME AS collation_name,
       c.EXTRA AS extra, c.COLUMN_COMMENT AS column_comment, c.IS_GENERATED AS is_generated,
       c.GENERATION_EXPRESSION AS generation_expression
FROM information_schema.COLUMNS c
WHERE c.TABLE_SCHEMA IN {databases}
ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION
"""


def _attach_columns(
    session: GuardedSession,
    selected: list[str],
    tables: dict[TableKey, Table],
    views: dict[TableKey, View],
) -> None:
    for r in _query(session, _COLUMNS_SQL, selected):
        key = (_str(r, "table_schema"), _str(r, "table_name"))
        if key in views:
            views[key].columns.append(_str(r, "column_name"))
        elif key in tables:
            tables[key].columns.append(_column(r))


def _column(r: Row) -> Column:
    column_type = _str(r, "column_type")
    data_type = _str(r, "data_type").lower()
    extra = _str(r, "extra").lower()
    base = base_type(data_type, column_type)
    # EXTRA says "VIRTUAL GENERATED"/"STORED GENERATED"; MySQL's DEFAULT_GENERATED is not one.
    generated = _str(r, "is_generated").upper() == "ALWAYS" or bool(
        re.search(r"\b(virtual|stored) generated", extra)
    )
    return Column(
        name=_str(r, "column_name"),
        position=int(r["position"]),
        data_type=column_type,
        base_type=base,
        length=_int(r["char_length"]) if base in ("varchar", "char") else None,
        nullable=_str(r, "is_nullable").upper() != "NO",
        default=None if generated else normalise_default(_opt(r, "column_default"), data_type, extra),
        auto_increment="auto_increment" in extra,
        unsigned=" unsigned" in column_type.lower(),
        generated=(_opt(r, "generation_expression") or None) if generated else None,
        collation=_opt(r, "collation_name"),
        comment=_opt(r, "column_comment") or None,
    )


def base_type(data_type: str, column_type: str) -> str:
    """The normalised family of a MySQL type; tinyint(1) is how MySQL spells BOOLEAN."""
    data_type = data_type.lower()
    if data_type == "tinyint" and column_type.strip().lower().startswith("tinyint(1)"):
        return "boolean"
    return _BASE_TYPES.get(data_type, data_type)


def normalise_default(raw: str | None, data_type: str, extra: str) -> str | None:
    """A column default as SQL: literals quoted, numbers and expressions bare; None for none or NULL.

    MariaDB (10.2.7+) already quotes literals and spells DEFAULT NULL as the word NULL; MySQL
    shows literals bare and marks expression defaults with DEFAULT_GENERATED in EXTRA.
    """
    if raw is None or raw == "NULL":  # a string 'NULL' would arrive quoted
        return None
    data_type = data_type.lower()
    if raw.startswith("'") or "default_generated" in extra.lower() or _NOW.fullmatch(raw):
        return raw
    if data_type in _NUMERIC_TYPES and (_NUMBER.fullmatch(raw) or _BIT_OR_HEX.fullmatch(raw)):
        return raw
    if ("binary" in data_type or "blob" in data_type) and raw.lower().startswith("0x"):
        return raw
    if raw.startswith("(") and raw.endswith(")") and _balanced(raw[1:-1]):
        return raw  # an expression default
    return "'" + raw.replace("\\", "\\\\").replace("'", "''") + "'"


# -- constraints ----------------------------------------------------------------------------------

_KEYS_SQL = """
SELECT tc.TABLE_SCHEMA AS table_schema, tc.TABLE_NAME AS table_name, tc.CONSTRAINT_NAME AS name,
       tc.CONSTRAINT_TYPE AS kind, k.COLUMN_NAME AS column_name,
       k.REFERENCED_TABLE_SCHEMA AS ref_schema, k.REFERENCED_TABLE_NAME AS ref_table,
       k.REFERENCED_COLUMN_NAME AS ref_column, rc.UPDATE_RULE AS update_rule, rc.DELETE_RULE AS delete_rule
FROM information_schema.TABLE_CONSTRAINTS tc
JOIN information_schema.KEY_COLUMN_USAGE k
     ON k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = tc.TABLE_NAME
    AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS rc
     ON rc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND rc.TABLE_NAME = tc.TABLE_NAME
    AND rc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
WHERE tc.TABLE_SCHEMA IN {databases} AND tc.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
ORDER BY tc.TABLE_SCHEMA, tc.TABLE_NAME, tc.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""


def _attach_keys(session: GuardedSession, selected: list[str], tables: dict[TableKey, Table]) -> None:
    """Primary keys, unique constraints and foreign keys, columns in key order."""
    grouped: dict[tuple[str, str, str, str], list[Row]] = defaultdict(list)
    for r in _query(session, _KEYS_SQL, selected):
        grouped[(_str(r, "table_schema"), _str(r, "table_name"), _str(r, "name"), _str(r, "kind"))].append(r)
    for (schema, table_name, name, kind), parts in grouped.items():
        table = tables.get((schema, table_name))
        if table is None:
            continue
        columns = [_str(p, "column_name") for p in parts]
        if kind == "PRIMARY KEY":
            table.primary_key = PrimaryKey(name=name, columns=columns)
        elif kind == "UNIQUE":
            table.unique_constraints.append(UniqueConstraint(name=name, columns=columns))
        else:
            first = parts[0]
            table.foreign_keys.append(
                ForeignKey(
                    name=name,
                    columns=columns,
                    ref_schema=_str(first, "ref_schema"),
                    ref_table=_str(first, "ref_table"),
                    ref_columns=[_str(p, "ref_column") for p in parts],
                    on_delete=(_opt(first, "delete_rule") or "NO ACTION").upper(),
                    on_update=(_opt(first, "update_rule") or "NO ACTION").upper(),
                )
            )


_MARIADB_CHECKS_SQL = """
SELECT cc.CONSTRAINT_SCHEMA AS table_schema, cc.TABLE_NAME AS table_name, cc.CONSTRAINT_NAME AS name,
       cc.CHECK_CLAUSE AS clause, cc.LEVEL AS level, 'YES' AS enforced
FROM information_schema.CHECK_CONSTRAINTS cc
WHERE cc.CONSTRAINT_SCHEMA IN {databases}
ORDER BY cc.CONSTRAINT_SCHEMA, cc.TABLE_NAME, cc.CONSTRAINT_NAME
"""
_MYSQL_CHECKS_SQL = """
SELECT tc.TABLE_SCHEMA AS table_schema, tc.TABLE_NAME AS table_name, tc.CONSTRAINT_NAME AS name,
       cc.CHECK_CLAUSE AS clause, 'Table' AS level, tc.ENFORCED AS enforced
FROM information_schema.TABLE_CONSTRAINTS tc
JOIN information_schema.CHECK_CONSTRAINTS cc
     ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
WHERE tc.TABLE_SCHEMA IN {databases} AND tc.CONSTRAINT_TYPE = 'CHECK'
ORDER BY tc.TABLE_SCHEMA, tc.TABLE_NAME, tc.CONSTRAINT_NAME
"""


def _attach_checks(
    session: GuardedSession, selected: list[str], tables: dict[TableKey, Table], server: _Server
) -> None:
    rows = _query(session, _MARIADB_CHECKS_SQL if server.mariadb else _MYSQL_CHECKS_SQL, selected)
    for r in rows:
        table = tables.get((_str(r, "table_schema"), _str(r, "table_name")))
        if table is None:
            continue
        name, clause = _str(r, "name"), _str(r, "clause")
        if server.mariadb and _is_mariadb_json_check(table, name, clause, _str(r, "level")):
            continue
        enforced = (_opt(r, "enforced") or "YES").upper() == "YES"
        table.check_constraints.append(CheckConstraint(name=name, expression=clause, validated=enforced))


def _is_mariadb_json_check(table: Table, name: str, clause: str, level: str) -> bool:
    """MariaDB spells JSON as LONGTEXT with CHECK (json_valid(col)): mark the column json, drop the check."""
    if level.lower() != "column":
        return False
    column = table.column(name)
    if column is None or column.base_type != "text":
        return False
    quoted = "`" + column.name.replace("`", "``") + "`"
    if re.sub(r"\s+", "", clause).lower() != f"json_valid({quoted.lower()})":
        return False
    column.base_type = "json"
    return True


# -- indexes --------------------------------------------------------------------------------------

_INDEXES_SQL = """
SELECT s.TABLE_SCHEMA AS table_schema, s.TABLE_NAME AS table_name, s.INDEX_NAME AS index_name,
       s.NON_UNIQUE AS non_unique, s.COLUMN_NAME AS column_name, {expression} AS expression,
       s.COLLATION AS collation, s.SUB_PART AS sub_part, s.INDEX_TYPE AS index_type
FROM information_schema.STATISTICS s
WHERE s.TABLE_SCHEMA IN {databases}
ORDER BY s.TABLE_SCHEMA, s.TABLE_NAME, s.INDEX_NAME, s.SEQ_IN_INDEX
"""


def _attach_indexes(
    session: GuardedSession, selected: list[str], tables: dict[TableKey, Table], server: _Server
) -> None:
    sql = _INDEXES_SQL.replace("{expression}", "s.EXPRESSION" if server.index_expressions else "NULL")
    grouped: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for r in _query(session, sql, selected):
        grouped[(_str(r, "table_schema"), _str(r, "table_name"), _str(r, "index_name"))].append(r)
    for (schema, table_name, name), parts in grouped.items():
        table = tables.get((schema, table_name))
        if table is None:
            continue
        primary = name == "PRIMARY"
        # In MySQL every UNIQUE constraint is its own index, under the same name.
        backs_constraint = primary or any(u.name == name for u in table.unique_constraints)
        table.indexes.append(
            Index(
                name=name,
                keys=[_index_key(p) for p in parts],
                unique=int(parts[0]["non_unique"]) == 0,
                primary=primary,
                method=(_opt(parts[0], "index_type") or "BTREE").lower(),
                constraint=name if backs_constraint else None,
            )
        )
    for table in tables.values():
        table.indexes.sort(key=lambda i: (not i.primary, i.name))


def _index_key(r: Row) -> IndexKey:
    descending = _str(r, "collation").upper() == "D"
    column = _opt(r, "column_name")
    if column is None:  # a MySQL 8 functional key part
        return IndexKey(expression=_strip_outer_parens(_str(r, "expression")), descending=descending)
    sub_part = _int(r["sub_part"])
    # MariaDB reports a SUB_PART for SPATIAL keys too (32), which index no prefix of anything.
    if sub_part is not None and _str(r, "index_type").upper() != "SPATIAL":
        # A prefix key indexes only the first N characters (bytes, for binary types) of the column.
        prefix = f"{_quote_ident(column)}({sub_part})"
        return IndexKey(column=column, expression=prefix, descending=descending)
    return IndexKey(column=column, descending=descending)


def _strip_outer_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += 1 if ch == "(" else -1 if ch == ")" else 0
        if depth < 0:
            return False
    return depth == 0


_INDEX_SIZES_SQL = """
SELECT s.database_name AS table_schema, s.table_name AS table_name, s.index_name AS index_name,
       s.stat_value * @@innodb_page_size AS size_bytes
FROM mysql.innodb_index_stats s
WHERE s.stat_name = 'size' AND s.database_name IN {databases}
"""


def _attach_index_sizes(session: GuardedSession, selected: list[str], catalog: Catalog) -> None:
    """InnoDB index sizes from the persistent statistics (pages x page size)."""
    try:
        rows = _query(session, _INDEX_SIZES_SQL, selected)
    except QueryFailed as exc:
        catalog.unknown.append(f"index sizes: mysql.innodb_index_stats is not readable ({exc.message})")
        return
    sizes: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in rows:
        # Partitions are stored as table#P#p0 (MariaDB) or table#p#p0 (MySQL): add them up.
        table_name = re.split(r"#[pP]#", _str(r, "table_name"))[0]
        sizes[(_str(r, "table_schema"), table_name, _str(r, "index_name"))] += int(r["size_bytes"] or 0)
    for table in catalog.tables:
        for index in table.indexes:
            index.size_bytes = sizes.get((table.schema_name, table.name, index.name), index.size_bytes)


_INDEX_USAGE_SQL = """
SELECT u.OBJECT_SCHEMA AS table_schema, u.OBJECT_NAME AS table_name, u.INDEX_NAME AS index_name,
       u.COUNT_READ AS index_reads
FROM performance_schema.table_io_waits_summary_by_index_usage u
WHERE u.INDEX_NAME IS NOT NULL AND u.OBJECT_SCHEMA IN {databases}
"""


def _attach_index_usage(session: GuardedSession, selected: list[str], catalog: Catalog) -> None:
    """Index reads counted by performance_schema since the server started."""
    if catalog.settings.get("performance_schema", "").upper() not in ("ON", "1"):
        catalog.unknown.append(
            "index usage: performance_schema is OFF (it counts index reads; it is enabled at server start)"
        )
        return
    try:
        rows = _query(session, _INDEX_USAGE_SQL, selected)
        status = session.catalog("SHOW GLOBAL STATUS WHERE Variable_name = 'Uptime'")
        now = session.catalog_value("SELECT NOW() AS now")
    except QueryFailed as exc:
        catalog.unknown.append(f"index usage: performance_schema is not readable ({exc.message})")
        return
    reads = {
        (_str(r, "table_schema"), _str(r, "table_name"), _str(r, "index_name")): int(r["index_reads"] or 0)
        for r in rows
    }
    for table in catalog.tables:
        for index in table.indexes:
            index.scans = reads.get((table.schema_name, table.name, index.name), 0)
    if status and isinstance(now, datetime):
        # The counters start with the server (unless someone truncated them since).
        uptime = int(_str(status[0], "Value") or 0)
        catalog.stats_reset = (now - timedelta(seconds=uptime)).isoformat(sep=" ")


# -- triggers, routines, sequences ----------------------------------------------------------------

_TRIGGERS_SQL = """
SELECT tr.EVENT_OBJECT_SCHEMA AS table_schema, tr.EVENT_OBJECT_TABLE AS table_name,
       tr.TRIGGER_NAME AS name, tr.ACTION_TIMING AS timing, tr.EVENT_MANIPULATION AS event
FROM information_schema.TRIGGERS tr
WHERE tr.EVENT_OBJECT_SCHEMA IN {databases}
ORDER BY tr.EVENT_OBJECT_SCHEMA, tr.EVENT_OBJECT_TABLE, tr.ACTION_TIMING, tr.EVENT_MANIPULATION,
         tr.ACTION_ORDER
"""


def _attach_triggers(session: GuardedSession, selected: list[str], tables: dict[TableKey, Table]) -> None:
    for r in _query(session, _TRIGGERS_SQL, selected):
        table = tables.get((_str(r, "table_schema"), _str(r, "table_name")))
        if table is not None:
            timing, event = _str(r, "timing").upper(), _str(r, "event").upper()
            table.triggers.append(Trigger(name=_str(r, "name"), timing=timing, events=[event]))


_ROUTINES_SQL = """
SELECT r.ROUTINE_SCHEMA AS routine_schema, r.SPECIFIC_NAME AS specific_name, r.ROUTINE_NAME AS name,
       r.ROUTINE_TYPE AS kind, r.DTD_IDENTIFIER AS returns, r.ROUTINE_BODY AS body,
       r.IS_DETERMINISTIC AS is_deterministic, r.SECURITY_TYPE AS security_type,
       r.DEFINER AS definer, r.ROUTINE_COMMENT AS routine_comment
FROM information_schema.ROUTINES r
WHERE r.ROUTINE_SCHEMA IN {databases}
ORDER BY r.ROUTINE_SCHEMA, r.ROUTINE_NAME
"""
_PARAMETERS_SQL = """
SELECT p.SPECIFIC_SCHEMA AS routine_schema, p.SPECIFIC_NAME AS specific_name,
       p.ROUTINE_TYPE AS kind, p.PARAMETER_MODE AS mode, p.DTD_IDENTIFIER AS data_type
FROM information_schema.PARAMETERS p
WHERE p.SPECIFIC_SCHEMA IN {databases} AND p.ORDINAL_POSITION > 0
ORDER BY p.SPECIFIC_SCHEMA, p.SPECIFIC_NAME, p.ORDINAL_POSITION
"""


def _routines(session: GuardedSession, selected: list[str]) -> list[Function]:
    """Stored functions and procedures, with argument types (OUT/INOUT marked) from PARAMETERS."""
    arguments: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for p in _query(session, _PARAMETERS_SQL, selected):
        mode = (_opt(p, "mode") or "IN").upper()
        data_type = _str(p, "data_type")
        key = (_str(p, "routine_schema"), _str(p, "specific_name"), _str(p, "kind").upper())
        arguments[key].append(data_type if mode == "IN" else f"{mode} {data_type}")
    functions: list[Function] = []
    for r in _query(session, _ROUTINES_SQL, selected):
        kind = _str(r, "kind").upper()
        schema = _str(r, "routine_schema")
        deterministic = _str(r, "is_deterministic").upper() == "YES"
        functions.append(
            Function(
                schema_name=schema,
                name=_str(r, "name"),
                kind="procedure" if kind == "PROCEDURE" else "function",
                arguments=", ".join(arguments.get((schema, _str(r, "specific_name"), kind), [])),
                returns=_opt(r, "returns") if kind == "FUNCTION" else None,
                language=_opt(r, "body"),
                security_definer=_str(r, "security_type").upper() == "DEFINER",
                volatility="immutable" if deterministic else "volatile",
                owner=_opt(r, "definer"),
                comment=_opt(r, "routine_comment") or None,
            )
        )
    return functions


def _sequences(session: GuardedSession, names: list[TableKey], unknown: list[str]) -> list[SequenceModel]:
    """MariaDB SEQUENCE objects: information_schema lists them; each position takes one small read."""
    sequences: list[SequenceModel] = []
    for schema, name in names:
        sequence = SequenceModel(schema_name=schema, name=name)
        try:
            rows = session.catalog(
                "SELECT next_not_cached_value, maximum_value, increment"
                f" FROM {_quote_ident(schema)}.{_quote_ident(name)}"
            )
        except QueryFailed as exc:
            unknown.append(f"sequence {schema}.{name}: position not readable ({exc.message})")
            rows = []
        if rows:
            increment = int(rows[0]["increment"] or 1)
            sequence.increment = increment
            sequence.max_value = _int(rows[0]["maximum_value"])
            # next_not_cached_value lies past the values cached in memory: an upper bound of what was used.
            sequence.last_value = int(rows[0]["next_not_cached_value"]) - increment
        sequences.append(sequence)
    return sequences


# -- settings, accounts, grants -------------------------------------------------------------------


def _settings(session: GuardedSession) -> dict[str, str]:
    prefixes = " OR ".join(["Variable_name LIKE %s"] * len(SETTING_PREFIXES))
    rows = session.catalog(
        f"SHOW GLOBAL VARIABLES WHERE Variable_name IN {_in_list(SETTING_NAMES)} OR {prefixes}",
        [*SETTING_NAMES, *(p + "%" for p in SETTING_PREFIXES)],
    )
    return {_str(r, "Variable_name").lower(): _str(r, "Value") for r in rows}


# The password hash itself is never fetched: only whether there is one. (MySQL 8's
# caching_sha2_password hashes are binary and do not even decode as text.)
_ACCOUNTS_SQL = """
SELECT u.User AS user_name, u.Host AS host, u.plugin AS plugin,
       CASE WHEN u.authentication_string IS NULL OR u.authentication_string = '' THEN ''
            WHEN u.authentication_string = 'invalid' THEN 'invalid'
            ELSE 'hash' END AS auth,
       u.Super_priv AS super_priv, u.Create_user_priv AS create_user_priv, u.Create_priv AS create_priv,
       u.Repl_slave_priv AS repl_slave_priv, u.ssl_type AS ssl_type,
       {is_role} AS is_role, {account_locked} AS account_locked
FROM mysql.user u
ORDER BY u.User, u.Host
"""


def _accounts(session: GuardedSession, server: _Server, unknown: list[str]) -> list[Role] | None:
    """Every account ('user'@'host') and role, or None when mysql.user is not readable."""
    sql = _ACCOUNTS_SQL.format(
        is_role="u.is_role" if server.mariadb else "'N'",
        account_locked="'N'" if server.mariadb else "u.account_locked",
    )
    try:
        rows = session.catalog(sql)
    except QueryFailed as exc:
        unknown.append(f"accounts: mysql.user is not readable; needs SELECT on mysql.user ({exc.message})")
        return None
    locked = _mariadb_locked_accounts(session, unknown) if server.global_priv else set()
    held, mysql_roles = _role_memberships(session, server, unknown)
    accounts: list[Role] = []
    for r in rows:
        account = (_str(r, "user_name"), _str(r, "host"))
        is_role = _flag(r["is_role"]) or account in mysql_roles
        accounts.append(
            Role(
                name=account[0],
                host=account[1],
                login=not is_role and not _flag(r["account_locked"]) and account not in locked,
                superuser=_flag(r["super_priv"]),
                createrole=_flag(r["create_user_priv"]),
                createdb=_flag(r["create_priv"]),
                replication=_flag(r["repl_slave_priv"]),
                member_of=held.get(account, []),
                auth_plugin=_opt(r, "plugin") or None,
                password_kind=None if is_role else password_kind(_str(r, "plugin"), _str(r, "auth")),
                require_tls=_str(r, "ssl_type").upper() in ("ANY", "X509", "SPECIFIED"),
            )
        )
    return accounts


def password_kind(plugin: str, auth: str) -> PasswordKind | None:
    """'none' for a password plugin with no password set, 'hashed' for a stored hash, None when the
    account does not log in with a password kept by the server (socket, PAM, GSSAPI, LDAP...)."""
    if plugin.lower() not in PASSWORD_PLUGINS:
        return None
    if auth == "":
        return "none"
    if auth == "invalid":
        return None  # MariaDB's marker for "password login disabled"
    return "hashed"


def _mariadb_locked_accounts(session: GuardedSession, unknown: list[str]) -> set[TableKey]:
    try:
        rows = session.catalog(
            "SELECT User AS user_name, Host AS host FROM mysql.global_priv"
            " WHERE JSON_VALUE(Priv, '$.account_locked') IN ('1', 'true')"
        )
    except QueryFailed as exc:
        unknown.append(f"account locks: mysql.global_priv is not readable ({exc.message})")
        return set()
    return {(_str(r, "user_name"), _str(r, "host")) for r in rows}


_MARIADB_ROLES_SQL = (
    "SELECT m.User AS user_name, m.Host AS host, m.Role AS role_name, '' AS role_host"
    " FROM mysql.roles_mapping m"
)
_MYSQL_ROLES_SQL = (
    "SELECT e.TO_USER AS user_name, e.TO_HOST AS host, e.FROM_USER AS role_name, e.FROM_HOST AS role_host"
    " FROM mysql.role_edges e"
)


def _role_memberships(
    session: GuardedSession, server: _Server, unknown: list[str]
) -> tuple[dict[TableKey, list[str]], set[TableKey]]:
    """The roles each account holds (as 'role'@'host'), and, on MySQL, which accounts are roles."""
    if not server.mariadb and not server.role_edges:
        return {}, set()
    try:
        rows = session.catalog(_MARIADB_ROLES_SQL if server.mariadb else _MYSQL_ROLES_SQL)
    except QueryFailed as exc:
        unknown.append(f"role memberships: not readable ({exc.message})")
        return {}, set()
    held: dict[TableKey, list[str]] = defaultdict(list)
    roles: set[TableKey] = set()
    for r in rows:
        role = (_str(r, "role_name"), _str(r, "role_host"))
        roles.add(role)
        held[(_str(r, "user_name"), _str(r, "host"))].append(f"'{role[0]}'@'{role[1]}'")
    # MariaDB marks roles itself (is_role); a MySQL role is known only as the granted side of an edge.
    return dict(held), set() if server.mariadb else roles


_GLOBAL_GRANTS_SQL = """
SELECT GRANTEE AS grantee, PRIVILEGE_TYPE AS privilege, IS_GRANTABLE AS grantable
FROM information_schema.USER_PRIVILEGES
ORDER BY GRANTEE, PRIVILEGE_TYPE
"""
_SCHEMA_GRANTS_SQL = """
SELECT GRANTEE AS grantee, TABLE_SCHEMA AS table_schema, PRIVILEGE_TYPE AS privilege,
       IS_GRANTABLE AS grantable
FROM information_schema.SCHEMA_PRIVILEGES
ORDER BY GRANTEE, TABLE_SCHEMA, PRIVILEGE_TYPE
"""
_TABLE_GRANTS_SQL = """
SELECT GRANTEE AS grantee, TABLE_SCHEMA AS table_schema, TABLE_NAME AS table_name,
       PRIVILEGE_TYPE AS privilege, IS_GRANTABLE AS grantable
FROM information_schema.TABLE_PRIVILEGES
WHERE TABLE_SCHEMA IN {databases}
ORDER BY GRANTEE, TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE
"""


def _grants(session: GuardedSession, selected: list[str], unknown: list[str]) -> list[Grant]:
    """Global privileges, and database and table privileges that reach the selected databases."""
    try:
        global_rows = session.catalog(_GLOBAL_GRANTS_SQL)
        schema_rows = session.catalog(_SCHEMA_GRANTS_SQL)
        table_rows = _query(session, _TABLE_GRANTS_SQL, selected) if selected else []
    except QueryFailed as exc:
        unknown.append(f"grants: information_schema privileges are not readable ({exc.message})")
        return []
    grants: list[Grant] = []
    for r in global_rows:
        if _str(r, "privilege").upper() != "USAGE":  # USAGE means "no privileges"
            grants.append(_grant(r, "global", "*.*"))
    for r in schema_rows:
        pattern = _str(r, "table_schema")
        if any(database_pattern_matches(pattern, name) for name in selected):
            grants.append(_grant(r, "database", pattern))
    for r in table_rows:
        grants.append(_grant(r, "table", f"{_str(r, 'table_schema')}.{_str(r, 'table_name')}"))
    return grants


def _grant(r: Row, object_type: str, obj: str) -> Grant:
    return Grant(
        grantee=_str(r, "grantee"),
        object_type=object_type,
        object=obj,
        privilege=_str(r, "privilege").upper(),
        grantable=_str(r, "grantable").upper() == "YES",
    )


def database_pattern_matches(pattern: str, name: str) -> bool:
    """Database-level grants may name databases with LIKE wildcards (app\\_%): does `name` match?"""
    regex: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        regex.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(regex), name, flags=re.IGNORECASE) is not None


# -- value helpers --------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _opt(row: Row, key: str) -> str | None:
    return _text(row[key])


def _str(row: Row, key: str) -> str:
    return _text(row[key]) or ""


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _flag(value: Any) -> bool:
    return (_text(value) or "N").upper() == "Y"


def _quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"

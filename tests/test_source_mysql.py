"""The MariaDB/MySQL catalog source against a real server (MariaDB 10.11 here).

Tests marked "recorded MySQL 8 output" feed the module values as MySQL 8 shows them in
information_schema (no MySQL server is installable on the development machines).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.sources.mysql import (
    _Server,
    base_type,
    normalise_default,
    parse_version_num,
    password_kind,
)
from dbsage.tools.sources.resolve import catalog_from_url
from tests.conftest import MysqlFactory
from tests.dbutil import admin_mysql, split_mysql_script

pytestmark = pytest.mark.mysql


def _db(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _table(catalog: Catalog, schema: str, name: str) -> Table:
    table = catalog.table(schema, name)
    assert table is not None, f"{schema}.{name} missing from {[t.qualified_name for t in catalog.tables]}"
    return table


def _admin(url: str, *statements: str) -> None:
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def _squash(text: str | None) -> str:
    return re.sub(r"\s+", " ", (text or "").lower()).strip()


COLUMNS_SQL = """
CREATE TABLE item (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  flag TINYINT(1) NOT NULL DEFAULT 0,
  tiny TINYINT DEFAULT 5,
  small SMALLINT,
  medium MEDIUMINT,
  big BIGINT UNSIGNED,
  price DECIMAL(10,2) DEFAULT 1.50,
  ratio FLOAT,
  score DOUBLE DEFAULT -2.5,
  name VARCHAR(40) NOT NULL DEFAULT 'it''s',
  code CHAR(3) COLLATE utf8mb4_bin COMMENT 'ISO code',
  body MEDIUMTEXT,
  note TEXT DEFAULT 'x',
  doc JSON,
  meta LONGTEXT,
  created DATETIME(3) DEFAULT '2020-01-01 00:00:00.000',
  changed TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  born DATE,
  at_time TIME,
  yr YEAR,
  kind ENUM('a','b') DEFAULT 'a',
  tags SET('x','y'),
  raw VARBINARY(16),
  blobby BLOB,
  bits BIT(3) DEFAULT b'101',
  empty_default VARCHAR(5) DEFAULT '',
  nothing VARCHAR(5) DEFAULT NULL,
  literal_null VARCHAR(5) DEFAULT 'NULL',
  expr INT DEFAULT (1 + 1),
  total DECIMAL(12,2) AS (price * 2) STORED,
  virt INT AS (tiny + 1) VIRTUAL,
  CONSTRAINT meta_is_json CHECK (json_valid(meta))
) ENGINE=InnoDB COMMENT='catalog items';
INSERT INTO item (name) VALUES ('a'), ('b'), ('c');
ANALYZE TABLE item;
"""


def test_columns_types_defaults_and_generated(mysql_db: MysqlFactory) -> None:
    url = mysql_db(COLUMNS_SQL)
    catalog = catalog_from_url(url)
    assert catalog.dialect in (Dialect.MARIADB, Dialect.MYSQL) and catalog.source == "live"
    item = _table(catalog, _db(url), "item")
    col = {c.name: c for c in item.columns}
    assert [c.position for c in item.columns] == list(range(1, len(item.columns) + 1))
    assert {name: c.base_type for name, c in col.items()} == {
        "id": "integer", "flag": "boolean", "tiny": "smallint", "small": "smallint", "medium": "integer",
        "big": "bigint", "price": "numeric", "ratio": "real", "score": "double", "name": "varchar",
        "code": "char", "body": "text", "note": "text", "doc": "json", "meta": "text",
        "created": "timestamp", "changed": "timestamptz", "born": "date", "at_time": "time", "yr": "year",
        "kind": "enum", "tags": "set", "raw": "binary", "blobby": "binary", "bits": "bit",
        "empty_default": "varchar", "nothing": "varchar", "literal_null": "varchar", "expr": "integer",
        "total": "numeric", "virt": "integer",
    }
    assert col["price"].data_type == "decimal(10,2)" and col["kind"].data_type == "enum('a','b')"
    assert (col["name"].length, col["code"].length, col["body"].length) == (40, 3, None)
    assert col["id"].unsigned and col["big"].unsigned and not col["tiny"].unsigned
    assert col["id"].auto_increment and not col["tiny"].auto_increment
    assert col["id"].nullable is False and col["name"].nullable is False and col["note"].nullable is True
    assert col["code"].collation == "utf8mb4_bin" and col["code"].comment == "ISO code"
    assert col["name"].collation is not None and col["id"].collation is None
    # Defaults read as SQL: literals quoted, numbers and expressions bare, DEFAULT NULL as no default.
    assert col["flag"].default == "0" and col["tiny"].default == "5"
    assert col["price"].default == "1.50" and col["score"].default == "-2.5"
    assert col["name"].default == "'it''s'"
    assert col["note"].default == "'x'" and col["kind"].default == "'a'"
    assert col["created"].default == "'2020-01-01 00:00:00.000'"
    assert (col["changed"].default or "").lower().startswith("current_timestamp")
    assert col["bits"].default == "b'101'"
    assert col["empty_default"].default == "''"
    assert col["nothing"].default is None and col["body"].default is None
    assert col["literal_null"].default == "'NULL'"  # the string, not the NULL value
    assert "1 + 1" in (col["expr"].default or "")
    assert "`price` * 2" in (col["total"].generated or "") and col["total"].default is None
    assert "`tiny` + 1" in (col["virt"].generated or "")
    assert col["price"].generated is None
    # MariaDB's JSON is LONGTEXT + CHECK(json_valid(doc)): json, without a check of its own.
    # A check the user wrote on another column stays a check.
    assert [c.name for c in item.check_constraints] == ["meta_is_json"]
    assert _squash(item.check_constraints[0].expression) == "json_valid(`meta`)"

    assert (item.engine, item.comment) == ("InnoDB", "catalog items")
    assert item.auto_increment_next == 4
    assert item.row_estimate == 3
    assert item.total_bytes is not None and item.total_bytes >= 16384
    assert item.kind == "table"


CONSTRAINTS_SQL = """
CREATE TABLE region (code CHAR(2) NOT NULL, area VARCHAR(10) NOT NULL, PRIMARY KEY (code, area));
CREATE TABLE owner (
  id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, CONSTRAINT uq_owner_email UNIQUE (email)
);
CREATE TABLE shop (
  id INT PRIMARY KEY,
  owner_id INT,
  region_code CHAR(2),
  region_area VARCHAR(10),
  rating INT CHECK (rating BETWEEN 1 AND 5),
  name VARCHAR(50) NOT NULL,
  CONSTRAINT uq_shop_name UNIQUE (name, region_code),
  CONSTRAINT ck_name CHECK (name <> ''),
  CONSTRAINT fk_shop_owner FOREIGN KEY (owner_id) REFERENCES owner (id) ON DELETE CASCADE,
  CONSTRAINT fk_shop_region FOREIGN KEY (region_code, region_area) REFERENCES region (code, area)
    ON DELETE SET NULL ON UPDATE CASCADE
);
"""


def test_keys_checks_and_foreign_keys(mysql_db: MysqlFactory) -> None:
    url = mysql_db(CONSTRAINTS_SQL)
    db = _db(url)
    catalog = catalog_from_url(url)
    region = _table(catalog, db, "region")
    assert region.primary_key is not None
    assert (region.primary_key.name, region.primary_key.columns) == ("PRIMARY", ["code", "area"])
    owner = _table(catalog, db, "owner")
    assert [(u.name, u.columns) for u in owner.unique_constraints] == [("uq_owner_email", ["email"])]

    shop = _table(catalog, db, "shop")
    assert [(u.name, u.columns) for u in shop.unique_constraints] == [
        ("uq_shop_name", ["name", "region_code"])
    ]
    checks = {_squash(c.expression): c for c in shop.check_constraints}
    assert set(checks) == {"`rating` between 1 and 5", "`name` <> ''"}
    assert checks["`name` <> ''"].name == "ck_name"
    assert all(c.validated for c in shop.check_constraints)

    fks = {fk.name: fk for fk in shop.foreign_keys}
    assert set(fks) == {"fk_shop_owner", "fk_shop_region"}
    to_owner = fks["fk_shop_owner"]
    assert (to_owner.columns, to_owner.ref_schema, to_owner.ref_table, to_owner.ref_columns) == (
        ["owner_id"], db, "owner", ["id"]
    )
    assert to_owner.on_delete == "CASCADE"
    assert to_owner.on_update in ("RESTRICT", "NO ACTION")  # MariaDB and MySQL name the default differently
    to_region = fks["fk_shop_region"]
    assert (to_region.columns, to_region.ref_columns) == (["region_code", "region_area"], ["code", "area"])
    assert (to_region.on_delete, to_region.on_update) == ("SET NULL", "CASCADE")

    indexes = {i.name: i for i in shop.indexes}
    assert indexes["PRIMARY"].primary and indexes["PRIMARY"].constraint == "PRIMARY"
    assert indexes["uq_shop_name"].unique and indexes["uq_shop_name"].constraint == "uq_shop_name"
    # InnoDB indexes every foreign key: the one for fk_shop_owner is an index, not a constraint.
    assert indexes["fk_shop_owner"].constraint is None and not indexes["fk_shop_owner"].unique


def test_foreign_key_into_another_database(mysql_db: MysqlFactory) -> None:
    parent_url = mysql_db("CREATE TABLE parent (id INT PRIMARY KEY);")
    parent_db = _db(parent_url)
    child_url = mysql_db(
        f"CREATE TABLE child (id INT PRIMARY KEY, parent_id INT,"
        f" FOREIGN KEY (parent_id) REFERENCES `{parent_db}`.parent (id));"
    )
    child_db = _db(child_url)
    try:
        _check_cross_database_catalogs(parent_db, child_db, child_url)
    finally:
        _admin(child_url, "DROP TABLE child")  # the fixture drops the parent database first


def _check_cross_database_catalogs(parent_db: str, child_db: str, child_url: str) -> None:
    only_child = catalog_from_url(child_url)
    assert only_child.schemas == [child_db] and only_child.database == child_db
    fk = _table(only_child, child_db, "child").foreign_keys[0]
    assert (fk.ref_schema, fk.ref_table, fk.ref_columns) == (parent_db, "parent", ["id"])
    assert only_child.table(parent_db, "parent") is None

    both = catalog_from_url(child_url, schemas=[parent_db, child_db.upper(), "no_such_database_here"])
    assert both.schemas == [parent_db, child_db]  # matched case-insensitively when not exact
    assert {t.qualified_name for t in both.tables} == {f"{parent_db}.parent", f"{child_db}.child"}
    assert any("no_such_database_here" in u for u in both.unknown)


INDEXES_SQL = """
CREATE TABLE doc (
  id INT PRIMARY KEY,
  title VARCHAR(200) NOT NULL,
  body TEXT,
  created DATETIME NOT NULL,
  score INT,
  shape GEOMETRY NOT NULL,
  KEY ix_title_prefix (title(20)),
  KEY ix_created_score (created DESC, score),
  UNIQUE KEY ux_title (title),
  FULLTEXT KEY ft_text (title, body),
  SPATIAL KEY sp_shape (shape)
) ENGINE=InnoDB;
CREATE TABLE cache (k INT, v INT, KEY ix_k (k) USING HASH) ENGINE=MEMORY;
"""


def test_indexes(mysql_db: MysqlFactory) -> None:
    url = mysql_db(INDEXES_SQL)
    catalog = catalog_from_url(url)
    doc = _table(catalog, _db(url), "doc")
    assert [i.name for i in doc.indexes] == [
        "PRIMARY", "ft_text", "ix_created_score", "ix_title_prefix", "sp_shape", "ux_title"
    ]
    idx = {i.name: i for i in doc.indexes}
    assert idx["PRIMARY"].primary and idx["PRIMARY"].unique and idx["PRIMARY"].method == "btree"
    prefix = idx["ix_title_prefix"].keys[0]
    assert (prefix.column, prefix.expression) == ("title", "`title`(20)")
    created_score = [(k.column, k.descending) for k in idx["ix_created_score"].keys]
    assert created_score == [("created", True), ("score", False)]
    assert idx["ux_title"].unique and idx["ux_title"].constraint == "ux_title"
    assert idx["ft_text"].method == "fulltext"
    assert [k.column for k in idx["ft_text"].keys] == ["title", "body"]
    assert idx["sp_shape"].method == "spatial" and idx["sp_shape"].keys[0].expression is None
    assert all(i.valid and i.predicate is None for i in doc.indexes)
    # InnoDB's persistent statistics give b-tree sizes (whole pages).
    assert idx["PRIMARY"].size_bytes is not None and idx["PRIMARY"].size_bytes % 16384 == 0
    cache = _table(catalog, _db(url), "cache")
    assert cache.engine == "MEMORY" and cache.indexes[0].method == "hash"
    if catalog.settings.get("performance_schema") == "OFF":
        assert all(i.scans is None for i in doc.indexes)
        assert any(u.startswith("index usage") and "performance_schema" in u for u in catalog.unknown)
    else:
        assert all(i.scans is not None for i in doc.indexes) and catalog.stats_reset is not None


OBJECTS_SQL = """
CREATE TABLE t (id INT PRIMARY KEY, v INT, changed INT);
CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.changed = 1;
CREATE TRIGGER t_au AFTER UPDATE ON t FOR EACH ROW SET @touched = 1;
CREATE VIEW v_t AS SELECT id, v FROM t WHERE v > 0;
CREATE SQL SECURITY INVOKER VIEW v_inv (ident) AS SELECT id FROM t;
CREATE FUNCTION add_one(a INT, b VARCHAR(10)) RETURNS INT DETERMINISTIC SQL SECURITY INVOKER COMMENT 'adds'
  RETURN a + 1;
CREATE PROCEDURE copy_value(IN a INT, OUT b INT, INOUT c BIGINT) SET b = a;
"""


def test_triggers_views_and_routines(mysql_db: MysqlFactory) -> None:
    url = mysql_db(OBJECTS_SQL)
    db = _db(url)
    catalog = catalog_from_url(url)
    t = _table(catalog, db, "t")
    assert {tr.name: (tr.timing, tr.events) for tr in t.triggers} == {
        "t_bi": ("BEFORE", ["INSERT"]),
        "t_au": ("AFTER", ["UPDATE"]),
    }
    views = {v.name: v for v in catalog.views}
    assert set(views) == {"v_t", "v_inv"} and catalog.table(db, "v_t") is None
    assert views["v_t"].columns == ["id", "v"] and views["v_inv"].columns == ["ident"]
    assert "where" in _squash(views["v_t"].definition) and "`t`" in (views["v_t"].definition or "")
    assert views["v_t"].security_invoker is False and views["v_inv"].security_invoker is True
    assert views["v_t"].owner is not None and "@" in views["v_t"].owner

    functions = {f.name: f for f in catalog.functions}
    add_one = functions["add_one"]
    assert add_one.kind == "function" and add_one.schema_name == db
    assert re.fullmatch(r"int(\(11\))?, varchar\(10\)", add_one.arguments)
    assert (add_one.returns or "").startswith("int")
    assert add_one.security_definer is False and add_one.volatility == "immutable"
    assert add_one.comment == "adds" and add_one.language == "SQL"
    copy_value = functions["copy_value"]
    assert copy_value.kind == "procedure" and copy_value.returns is None
    assert re.fullmatch(r"int(\(11\))?, OUT int(\(11\))?, INOUT bigint(\(20\))?", copy_value.arguments)
    assert copy_value.security_definer is True and copy_value.volatility == "volatile"


def test_database_selection_without_a_url_database(mysql_db: MysqlFactory, mysql_server_url: str) -> None:
    url = mysql_db("CREATE TABLE only_here (id INT PRIMARY KEY);")
    parts = urlsplit(url)
    server_url = urlunsplit((parts.scheme, parts.netloc, "/", parts.query, ""))
    catalog = catalog_from_url(server_url)
    assert catalog.database is None
    assert _db(url) in catalog.schemas
    system = {"mysql", "information_schema", "performance_schema", "sys"}
    assert not system & {s.lower() for s in catalog.schemas}
    assert catalog.table(_db(url), "only_here") is not None


def test_partitioned_table_and_sequence(mysql_db: MysqlFactory) -> None:
    url = mysql_db(
        "CREATE TABLE p (id INT PRIMARY KEY, v INT) PARTITION BY HASH(id) PARTITIONS 3;"
        "ANALYZE TABLE p;"
    )
    catalog = catalog_from_url(url)
    p = _table(catalog, _db(url), "p")
    assert p.kind == "partitioned_table"
    assert p.indexes[0].size_bytes == 3 * 16384  # one page per partition, added up
    if catalog.dialect is not Dialect.MARIADB:
        return
    _admin(url, "CREATE SEQUENCE s START WITH 100 INCREMENT BY 5", "SELECT NEXTVAL(s)")
    catalog = catalog_from_url(url)
    assert catalog.table(_db(url), "s") is None
    sequence = next(s for s in catalog.sequences if s.name == "s")
    assert sequence.increment == 5 and sequence.max_value is not None
    assert sequence.last_value is not None and sequence.last_value >= 100  # an upper bound (cached values)


def test_server_facts_and_settings(mysql_db: MysqlFactory) -> None:
    url = mysql_db("CREATE TABLE t (id INT PRIMARY KEY);")
    catalog = catalog_from_url(url)
    assert catalog.server_version is not None
    assert catalog.server_version_num == parse_version_num(catalog.server_version)
    assert catalog.server_version_num is not None and catalog.server_version_num > 50000
    assert ("mariadb" in catalog.server_version.lower()) == (catalog.dialect is Dialect.MARIADB)
    for name in ("version", "sql_mode", "local_infile", "secure_file_priv", "default_storage_engine",
                 "max_connections", "log_bin", "performance_schema", "require_secure_transport"):
        assert name in catalog.settings, name
    assert catalog.settings["version"] == catalog.server_version
    assert int(catalog.settings["max_connections"]) > 0


@pytest.fixture
def accounts(mysql_server_url: str) -> Iterator[dict[str, str]]:
    """A role, a user holding it (TLS required), a locked user; dropped after the test."""
    tag = uuid.uuid4().hex[:8]
    names = {"role": f"dbsage_r_{tag}", "user": f"dbsage_u_{tag}", "locked": f"dbsage_l_{tag}"}
    names["password"] = f"Pw-{uuid.uuid4().hex}"
    yield names
    _admin(
        mysql_server_url,
        f"DROP USER IF EXISTS '{names['user']}'@'%'",
        f"DROP USER IF EXISTS '{names['locked']}'@'%'",
        f"DROP ROLE IF EXISTS {names['role']}",
    )


def test_accounts_roles_and_grants(mysql_db: MysqlFactory, accounts: dict[str, str]) -> None:
    url = mysql_db("CREATE TABLE t (id INT PRIMARY KEY); CREATE TABLE other (id INT PRIMARY KEY);")
    db = _db(url)
    role, user, locked = accounts["role"], accounts["user"], accounts["locked"]
    _admin(
        url,
        f"CREATE ROLE {role}",
        f"CREATE USER '{user}'@'%' IDENTIFIED BY '{accounts['password']}' REQUIRE SSL",
        f"CREATE USER '{locked}'@'%' ACCOUNT LOCK",
        f"GRANT SELECT ON `{db}`.* TO {role}",
        f"GRANT INSERT, UPDATE ON `{db}`.t TO '{user}'@'%' WITH GRANT OPTION",
        f"GRANT {role} TO '{user}'@'%'",
    )
    catalog = catalog_from_url(url)
    roles = {r.name: r for r in catalog.roles}
    root = next(r for r in catalog.roles if r.name == "root")
    assert root.superuser and root.createrole and root.login

    the_role = roles[role]
    assert the_role.login is False and the_role.password_kind is None
    the_user = roles[user]
    assert (the_user.host, the_user.login, the_user.require_tls) == ("%", True, True)
    assert the_user.password_kind == "hashed" and the_user.auth_plugin
    assert the_user.superuser is False and the_user.member_of == [the_role.account]
    assert roles[locked].login is False and roles[locked].password_kind == "none"

    grants = {(g.grantee, g.object_type, g.object, g.privilege, g.grantable) for g in catalog.grants}
    assert (the_role.account, "database", db, "SELECT", False) in grants
    assert (the_user.account, "table", f"{db}.t", "INSERT", True) in grants
    assert (the_user.account, "table", f"{db}.t", "UPDATE", True) in grants
    assert any(g.grantee == root.account and g.object_type == "global" for g in catalog.grants)
    assert not any(g.privilege == "USAGE" for g in catalog.grants)
    assert accounts["password"] not in catalog.model_dump_json()


def test_low_privilege_account_degrades_to_unknown(
    mysql_db: MysqlFactory, accounts: dict[str, str]
) -> None:
    url = mysql_db("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10)); CREATE INDEX ix_v ON t (v);")
    db, user, password = _db(url), accounts["user"], accounts["password"]
    _admin(
        url,
        f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
        f"GRANT SELECT ON `{db}`.* TO '{user}'@'%'",
    )
    parts = urlsplit(url)
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port or 3306}"
    low_url = urlunsplit((parts.scheme, netloc, f"/{db}", "", ""))
    catalog = catalog_from_url(low_url)
    t = _table(catalog, db, "t")
    assert [c.name for c in t.columns] == ["id", "v"] and {i.name for i in t.indexes} == {"PRIMARY", "ix_v"}
    assert catalog.roles == []
    assert any(u.startswith("accounts:") and "mysql.user" in u for u in catalog.unknown)
    assert any(u.startswith("grants:") for u in catalog.unknown)
    assert any(u.startswith("index sizes:") for u in catalog.unknown)
    assert all(i.size_bytes is None for i in t.indexes)
    assert {g.grantee for g in catalog.grants} == {f"'{user}'@'%'"}
    assert password not in catalog.model_dump_json()


# -- recorded MySQL 8 output and pure helpers -----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "data_type", "extra", "expected"),
    [
        # recorded MySQL 8 output: COLUMN_DEFAULT shows literals bare
        ("abc", "varchar", "", "'abc'"),
        ("it's", "varchar", "", "'it''s'"),
        ("", "varchar", "", "''"),
        ("a", "enum", "", "'a'"),
        ("2020-01-01 00:00:00", "datetime", "", "'2020-01-01 00:00:00'"),
        ("0", "int", "", "0"),
        ("4.99", "decimal", "", "4.99"),
        ("-1.5e3", "double", "", "-1.5e3"),
        ("b'101'", "bit", "", "b'101'"),
        ("0x6162", "varbinary", "", "0x6162"),
        ("CURRENT_TIMESTAMP", "timestamp", "DEFAULT_GENERATED on update CURRENT_TIMESTAMP",
         "CURRENT_TIMESTAMP"),
        ("CURRENT_TIMESTAMP(3)", "datetime", "", "CURRENT_TIMESTAMP(3)"),
        ("uuid()", "varchar", "DEFAULT_GENERATED", "uuid()"),
        ("12", "varchar", "", "'12'"),
        (None, "int", "", None),
        # MariaDB 10.11 output: literals already quoted, DEFAULT NULL spelled NULL
        ("'abc'", "varchar", "", "'abc'"),
        ("NULL", "varchar", "", None),
        ("current_timestamp()", "timestamp", "", "current_timestamp()"),
        ("(1 + 1)", "int", "", "(1 + 1)"),
    ],
)
def test_normalise_default(raw: str | None, data_type: str, extra: str, expected: str | None) -> None:
    assert normalise_default(raw, data_type, extra) == expected


def test_version_gates_recorded_mysql8() -> None:
    mysql = _Server(version="8.0.36", version_num=parse_version_num("8.0.36"), mariadb=False, database="app")
    assert mysql.version_num == 80036
    assert mysql.index_expressions and mysql.check_constraints and mysql.cached_table_stats
    assert mysql.role_edges and not mysql.global_priv
    old = _Server(version="8.0.12", version_num=80012, mariadb=False, database=None)
    assert not old.index_expressions and not old.check_constraints
    maria = _Server(version="10.11.19-MariaDB-0+deb12u1", version_num=101119, mariadb=True, database=None)
    assert parse_version_num(maria.version) == 101119
    assert maria.check_constraints and maria.global_priv
    assert not maria.index_expressions and not maria.cached_table_stats and not maria.role_edges
    assert parse_version_num("8.4.0-commercial") == 80400 and parse_version_num("garbage") is None


def test_type_families_and_passwords() -> None:
    assert base_type("tinyint", "tinyint(1)") == "boolean"
    assert base_type("tinyint", "tinyint(4) unsigned") == "smallint"
    assert base_type("tinyint", "tinyint") == "smallint"  # MySQL 8.0.19+ drops the display width
    assert base_type("mediumint", "mediumint(9)") == "integer"
    assert base_type("json", "json") == "json"  # recorded MySQL 8 output: a real JSON type
    assert base_type("geometry", "geometry") == "geometry"
    assert password_kind("mysql_native_password", "") == "none"
    assert password_kind("caching_sha2_password", "$A$005$abc") == "hashed"
    assert password_kind("mysql_native_password", "invalid") is None
    assert password_kind("unix_socket", "") is None and password_kind("auth_socket", "") is None


# -- the public sample databases -------------------------------------------------------------------


def _statements_with_delimiters(script: str) -> list[str]:
    """Split a mysql-client script that changes its statement delimiter with DELIMITER lines."""
    statements: list[str] = []
    delimiter = ";"
    chunk: list[str] = []

    def flush() -> None:
        text = "".join(chunk)
        chunk.clear()
        if delimiter == ";":
            statements.extend(split_mysql_script(text))
            return
        for part in text.split(delimiter):
            if split_mysql_script(part):  # not just comments
                statements.append(part.strip())

    for line in script.splitlines(keepends=True):
        match = re.match(r"\s*DELIMITER\s+(\S+)\s*$", line, flags=re.IGNORECASE)
        if match:
            flush()
            delimiter = match.group(1)
        else:
            chunk.append(line)
    flush()
    return statements


def test_realworld_chinook(mysql_db: MysqlFactory, realworld: Path) -> None:
    script = (realworld / "chinook" / "Chinook_MySql.sql").read_text(encoding="utf-8-sig")
    # The script makes and enters its own `Chinook` database; load it into the fixture's instead.
    script = re.sub(r"(?im)^\s*(DROP DATABASE|CREATE DATABASE|USE)\b[^;]*;", "", script)
    url = mysql_db(script)
    db = _db(url)
    catalog = catalog_from_url(url)
    assert sorted(t.name for t in catalog.tables) == sorted(
        ["Album", "Artist", "Customer", "Employee", "Genre", "Invoice", "InvoiceLine", "MediaType",
         "Playlist", "PlaylistTrack", "Track"]
    )
    album = _table(catalog, db, "Album")
    assert album.primary_key is not None and album.primary_key.columns == ["AlbumId"]
    title = album.column("Title")
    assert title is not None and (title.base_type, title.length, title.nullable) == ("varchar", 160, False)
    assert [(fk.name, fk.columns, fk.ref_table) for fk in album.foreign_keys] == [
        ("FK_AlbumArtistId", ["ArtistId"], "Artist")
    ]
    assert sum(len(t.foreign_keys) for t in catalog.tables) == 11
    assert len([i for t in catalog.tables for i in t.indexes if i.name.startswith("IFK_")]) == 11
    playlist_track = _table(catalog, db, "PlaylistTrack")
    assert playlist_track.primary_key is not None
    assert playlist_track.primary_key.columns == ["PlaylistId", "TrackId"]
    track = _table(catalog, db, "Track")
    unit_price = track.column("UnitPrice")
    assert unit_price is not None
    assert (unit_price.data_type, unit_price.base_type) == ("decimal(10,2)", "numeric")
    # 3,503 tracks; InnoDB's estimate is sampled, so only its order of magnitude is certain.
    assert track.row_estimate is not None and 1000 < track.row_estimate < 10000
    assert all(t.engine == "InnoDB" and (t.total_bytes or 0) > 0 for t in catalog.tables)
    invoice_date = _table(catalog, db, "Invoice").column("InvoiceDate")
    assert invoice_date is not None and invoice_date.base_type == "timestamp"


def test_realworld_sakila(mysql_db: MysqlFactory, realworld: Path) -> None:
    script = (realworld / "sakila" / "mysql-sakila-schema.sql").read_text(encoding="utf-8-sig")
    script = re.sub(r"(?im)^\s*(DROP SCHEMA IF EXISTS|CREATE SCHEMA|USE)\s+sakila\s*;", "", script)
    script = script.replace("sakila.", "")  # actor_info names its tables sakila.film etc.
    url = mysql_db("")
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            for statement in _statements_with_delimiters(script):
                cur.execute(statement)
    finally:
        conn.close()
    db = _db(url)
    catalog = catalog_from_url(url)
    assert len(catalog.tables) == 16
    assert sorted(v.name for v in catalog.views) == [
        "actor_info", "customer_list", "film_list", "nicer_but_slower_film_list", "sales_by_film_category",
        "sales_by_store", "staff_list",
    ]
    film_text = _table(catalog, db, "film_text")
    fulltext = next(i for i in film_text.indexes if i.name == "idx_title_description")
    assert fulltext.method == "fulltext" and [k.column for k in fulltext.keys] == ["title", "description"]
    film = _table(catalog, db, "film")
    assert {tr.name: (tr.timing, tr.events) for tr in film.triggers} == {
        "ins_film": ("AFTER", ["INSERT"]),
        "upd_film": ("AFTER", ["UPDATE"]),
        "del_film": ("AFTER", ["DELETE"]),
    }
    col = {c.name: c for c in film.columns}
    assert col["rating"].base_type == "enum" and col["rating"].default == "'G'"
    assert col["special_features"].base_type == "set"
    assert col["release_year"].base_type == "year"
    assert col["rental_duration"].base_type == "smallint" and col["rental_duration"].unsigned
    assert col["rental_rate"].default == "4.99"
    assert col["last_update"].base_type == "timestamptz"
    assert col["film_id"].auto_increment and film.auto_increment_next == 1
    picture = _table(catalog, db, "staff").column("picture")
    assert picture is not None and picture.base_type == "binary"
    payment = _table(catalog, db, "payment")
    rental_fk = next(fk for fk in payment.foreign_keys if fk.name == "fk_payment_rental")
    assert (rental_fk.on_delete, rental_fk.on_update) == ("SET NULL", "CASCADE")
    routines = {f.name: f for f in catalog.functions}
    assert {name: f.kind for name, f in routines.items()} == {
        "film_in_stock": "procedure",
        "film_not_in_stock": "procedure",
        "get_customer_balance": "function",
        "inventory_held_by_customer": "function",
        "inventory_in_stock": "function",
        "rewards_report": "procedure",
    }
    assert all(f.security_definer for f in routines.values())  # SQL SECURITY DEFINER is the default
    assert routines["get_customer_balance"].returns == "decimal(5,2)"
    assert re.fullmatch(r"int(\(11\))?, int(\(11\))?, OUT int(\(11\))?", routines["film_in_stock"].arguments)

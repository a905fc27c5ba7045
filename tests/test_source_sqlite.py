"""The SQLite catalog source against real SQLite files (sqlite_master + pragma table functions)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.sources.resolve import catalog_from_url
from dbsage.tools.sources.sqlite import base_type, parse_version_num
from tests.conftest import SqliteFactory, need


def _table(catalog: Catalog, name: str) -> Table:
    table = catalog.table("main", name)
    assert table is not None, f"main.{name} missing from {[t.name for t in catalog.tables]}"
    return table


def _path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


COLUMNS_SQL = """
CREATE TABLE parent (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE);
CREATE TABLE item (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title NVARCHAR(160) NOT NULL COLLATE NOCASE,
    code CHAR(3),
    price NUMERIC(10,2) DEFAULT 1.5,
    qty SMALLINT DEFAULT 0,
    big UNSIGNED BIG INT,
    ratio DOUBLE PRECISION,
    created DATETIME DEFAULT CURRENT_TIMESTAMP,
    born DATE,
    doc JSON,
    flag BOOLEAN DEFAULT NULL,
    note TEXT DEFAULT 'n/a',
    raw BLOB,
    anything,
    doubled INT GENERATED ALWAYS AS (qty * 2) STORED,
    upper_title TEXT AS (upper(title))
);
"""


def test_columns_types_defaults_and_generated(sqlite_db: SqliteFactory) -> None:
    catalog = catalog_from_url(sqlite_db(COLUMNS_SQL))
    assert catalog.dialect is Dialect.SQLITE and catalog.source == "live"
    assert catalog.schemas == ["main"]
    item = _table(catalog, "item")
    got = {c.name: (c.data_type, c.base_type, c.length) for c in item.columns}
    assert got == {
        "id": ("INTEGER", "integer", None),
        "title": ("NVARCHAR(160)", "varchar", 160),
        "code": ("CHAR(3)", "char", 3),
        "price": ("NUMERIC(10,2)", "numeric", None),
        "qty": ("SMALLINT", "smallint", None),
        "big": ("UNSIGNED BIG INT", "bigint", None),
        "ratio": ("DOUBLE PRECISION", "double", None),
        "created": ("DATETIME", "timestamp", None),
        "born": ("DATE", "date", None),
        "doc": ("JSON", "json", None),
        "flag": ("BOOLEAN", "boolean", None),
        "note": ("TEXT", "text", None),
        "raw": ("BLOB", "binary", None),
        "anything": ("", "any", None),
        "doubled": ("INT", "integer", None),
        "upper_title": ("TEXT", "text", None),
    }
    assert [c.position for c in item.columns] == list(range(1, 17))
    col = {c.name: c for c in item.columns}
    assert col["title"].nullable is False and col["title"].collation == "NOCASE"
    assert col["price"].default == "1.5"
    assert col["created"].default == "CURRENT_TIMESTAMP"
    assert col["note"].default == "'n/a'"
    assert col["flag"].default is None  # DEFAULT NULL is no default
    assert col["big"].unsigned is True
    assert col["doubled"].generated == "qty * 2" and col["doubled"].default is None
    assert col["upper_title"].generated == "upper(title)"
    assert col["qty"].generated is None
    # INTEGER PRIMARY KEY is the rowid: SQLite assigns it, with or without AUTOINCREMENT.
    assert col["id"].auto_increment is True
    assert _table(catalog, "parent").columns[0].auto_increment is True
    assert col["qty"].auto_increment is False


def test_rowid_alias_needs_exactly_integer(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(
        "CREATE TABLE a (id INT PRIMARY KEY);"
        "CREATE TABLE b (id INTEGER, x TEXT, PRIMARY KEY (id));"
        "CREATE TABLE c (id INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID;"
    )
    catalog = catalog_from_url(url)
    # INT PRIMARY KEY is an ordinary column with a unique index, not the rowid.
    assert _table(catalog, "a").columns[0].auto_increment is False
    assert [i.name for i in _table(catalog, "a").indexes] == ["sqlite_autoindex_a_1"]
    assert _table(catalog, "b").columns[0].auto_increment is True
    c = _table(catalog, "c")
    assert c.without_rowid is True and c.columns[0].auto_increment is False
    assert c.indexes[0].primary is True and c.indexes[0].unique is True
    assert c.primary_key is not None and c.primary_key.columns == ["id"]


CONSTRAINTS_SQL = """
CREATE TABLE region (code TEXT NOT NULL, area TEXT NOT NULL, CONSTRAINT pk_region PRIMARY KEY (code, area));
CREATE TABLE owner (id INTEGER CONSTRAINT pk_owner PRIMARY KEY, email TEXT CONSTRAINT uq_owner_email UNIQUE);
CREATE TABLE shop (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER REFERENCES owner ON DELETE CASCADE,
    region_code TEXT,
    region_area TEXT,
    backup_owner INTEGER CONSTRAINT fk_backup REFERENCES owner (id) DEFERRABLE INITIALLY DEFERRED,
    rating INTEGER CHECK (rating BETWEEN 1 AND 5),
    name TEXT NOT NULL,
    CONSTRAINT uq_shop_name UNIQUE (name, region_code),
    UNIQUE (owner_id),
    CONSTRAINT ck_region CHECK (region_code <> ''),
    CONSTRAINT fk_region FOREIGN KEY (region_code, region_area) REFERENCES region (code, area)
        ON DELETE SET NULL ON UPDATE CASCADE
);
"""


def test_keys_checks_and_foreign_keys(sqlite_db: SqliteFactory) -> None:
    catalog = catalog_from_url(sqlite_db(CONSTRAINTS_SQL))
    region = _table(catalog, "region")
    assert region.primary_key is not None
    assert (region.primary_key.name, region.primary_key.columns) == ("pk_region", ["code", "area"])
    pk_index = next(i for i in region.indexes if i.primary)
    assert pk_index.name == "sqlite_autoindex_region_1" and pk_index.constraint == "pk_region"

    owner = _table(catalog, "owner")
    assert owner.primary_key is not None and owner.primary_key.name == "pk_owner"
    assert [(u.name, u.columns) for u in owner.unique_constraints] == [("uq_owner_email", ["email"])]

    shop = _table(catalog, "shop")
    assert sorted((u.name or "", tuple(u.columns)) for u in shop.unique_constraints) == [
        ("", ("owner_id",)),
        ("uq_shop_name", ("name", "region_code")),
    ]
    backing = {i.constraint for i in shop.indexes if i.name.startswith("sqlite_autoindex_")}
    assert "uq_shop_name" in backing
    assert [(c.name, c.expression) for c in shop.check_constraints] == [
        (None, "rating BETWEEN 1 AND 5"),
        ("ck_region", "region_code <> ''"),
    ]
    fks = {tuple(fk.columns): fk for fk in shop.foreign_keys}
    # In declaration order (the pragma lists them last to first).
    assert list(fks) == [("owner_id",), ("backup_owner",), ("region_code", "region_area")]
    owner_fk = fks[("owner_id",)]
    # REFERENCES owner without columns means owner's primary key.
    assert (owner_fk.ref_schema, owner_fk.ref_table, owner_fk.ref_columns) == ("main", "owner", ["id"])
    assert (owner_fk.on_delete, owner_fk.on_update, owner_fk.name) == ("CASCADE", "NO ACTION", None)
    backup = fks[("backup_owner",)]
    assert backup.name == "fk_backup" and backup.deferrable is True
    region_fk = fks[("region_code", "region_area")]
    assert region_fk.name == "fk_region" and region_fk.ref_columns == ["code", "area"]
    assert (region_fk.on_delete, region_fk.on_update) == ("SET NULL", "CASCADE")
    assert region_fk.deferrable is False


INDEXES_SQL = """
CREATE TABLE event (id INTEGER PRIMARY KEY, kind TEXT, at TEXT, payload TEXT, deleted INTEGER);
CREATE INDEX ix_event_kind_at ON event (kind, at DESC);
CREATE UNIQUE INDEX ux_event_payload ON event (payload) WHERE deleted = 0;
CREATE INDEX ix_event_lower ON event (lower(kind) COLLATE NOCASE, json_extract(payload, '$.a,b') DESC);
"""


def test_indexes_partial_expression_and_order(sqlite_db: SqliteFactory) -> None:
    catalog = catalog_from_url(sqlite_db(INDEXES_SQL))
    indexes = {i.name: i for i in _table(catalog, "event").indexes}
    assert set(indexes) == {"ix_event_kind_at", "ux_event_payload", "ix_event_lower"}
    kind_at = indexes["ix_event_kind_at"]
    assert [(k.column, k.descending) for k in kind_at.keys] == [("kind", False), ("at", True)]
    assert kind_at.unique is False and kind_at.predicate is None and kind_at.method == "btree"
    assert kind_at.definition == "CREATE INDEX ix_event_kind_at ON event (kind, at DESC)"
    partial = indexes["ux_event_payload"]
    assert partial.unique is True and partial.predicate == "deleted = 0" and partial.constraint is None
    expr = indexes["ix_event_lower"]
    assert [(k.column, k.expression, k.descending) for k in expr.keys] == [
        (None, "lower(kind)", False),
        (None, "json_extract(payload, '$.a,b')", True),
    ]


def test_triggers_and_views(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, changed TEXT);"
        "CREATE TRIGGER t_touch AFTER UPDATE OF v ON t"
        " BEGIN UPDATE t SET changed = 'x' WHERE id = new.id; END;"
        "CREATE TRIGGER t_check BEFORE INSERT ON t BEGIN SELECT 1; END;"
        "CREATE TRIGGER t_default DELETE ON t BEGIN SELECT 1; END;"
        "CREATE VIEW v_t (ident, value) AS SELECT id, v FROM t WHERE v IS NOT NULL;"
        "CREATE VIEW v_plain AS SELECT * FROM t;"
    )
    catalog = catalog_from_url(url)
    triggers = {tr.name: (tr.timing, tr.events) for tr in _table(catalog, "t").triggers}
    assert triggers == {
        "t_touch": ("AFTER", ["UPDATE"]),
        "t_check": ("BEFORE", ["INSERT"]),
        "t_default": ("BEFORE", ["DELETE"]),  # SQLite's default timing
    }
    views = {v.name: v for v in catalog.views}
    assert views["v_t"].columns == ["ident", "value"]
    assert views["v_t"].definition == "SELECT id, v FROM t WHERE v IS NOT NULL"
    assert views["v_plain"].columns == ["id", "v", "changed"]
    assert views["v_plain"].qualified_name == "main.v_plain"
    assert catalog.table("main", "v_t") is None


def test_row_estimates_need_analyze(sqlite_db: SqliteFactory) -> None:
    script = "CREATE TABLE n (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX ix_n_v ON n (v);" + "".join(
        f"INSERT INTO n (v) VALUES ('{i}');" for i in range(40)
    )
    before = catalog_from_url(sqlite_db(script))
    assert _table(before, "n").row_estimate is None
    assert any("sqlite_stat1" in u and "ANALYZE" in u for u in before.unknown)

    after = catalog_from_url(sqlite_db(script + "ANALYZE;"))
    assert _table(after, "n").row_estimate == 40
    assert not any(u.startswith("row estimates") for u in after.unknown)


def test_sizes_from_dbstat(sqlite_db: SqliteFactory) -> None:
    script = "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX ix_big_v ON big (v);" + "".join(
        f"INSERT INTO big (v) VALUES ('{'x' * 200}{i}');" for i in range(300)
    )
    url = sqlite_db(script)
    has_dbstat = sqlite3.connect(_path(url)).execute(
        "SELECT 1 FROM pragma_compile_options WHERE compile_options = 'ENABLE_DBSTAT_VTAB'"
    ).fetchone()
    catalog = catalog_from_url(url)
    big = _table(catalog, "big")
    if not has_dbstat:
        assert big.total_bytes is None and any("dbstat" in u for u in catalog.unknown)
        return
    index = big.indexes[0]
    page_size = int(catalog.settings["page_size"])
    assert index.size_bytes is not None and index.size_bytes >= 10 * page_size  # 300 x 200-byte keys
    assert big.total_bytes is not None and big.total_bytes > index.size_bytes
    assert big.total_bytes <= page_size * int(catalog.settings["page_count"])


def test_autoincrement_sequences(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(
        "CREATE TABLE used (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);"
        "CREATE TABLE unused (id INTEGER PRIMARY KEY AUTOINCREMENT);"
        "CREATE TABLE plain (id INTEGER PRIMARY KEY);"
        "INSERT INTO used (v) VALUES ('a'), ('b'), ('c'); DELETE FROM used;"
        "INSERT INTO plain VALUES (7);"
    )
    catalog = catalog_from_url(url)
    sequences = {s.name: s for s in catalog.sequences}
    assert set(sequences) == {"used", "unused"}  # a rowid alias without AUTOINCREMENT has no counter
    assert sequences["used"].last_value == 3  # AUTOINCREMENT never reuses ids, even after DELETE
    assert sequences["used"].owned_by == "main.used.id"
    assert sequences["unused"].last_value is None
    assert sequences["used"].max_value == 2**63 - 1
    assert catalog.table("main", "sqlite_sequence") is None


def test_server_facts_and_settings(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db("PRAGMA user_version = 42; CREATE TABLE t (id INTEGER PRIMARY KEY);")
    catalog = catalog_from_url(url)
    assert catalog.server_version == sqlite3.sqlite_version
    assert catalog.server_version_num == sqlite3.sqlite_version_info[0] * 1_000_000 + (
        sqlite3.sqlite_version_info[1] * 1000 + sqlite3.sqlite_version_info[2]
    )
    assert catalog.database == _path(url).name
    assert catalog.settings["user_version"] == "42"
    assert catalog.settings["journal_mode"] == "delete"
    assert catalog.settings["encoding"] == "UTF-8"


def test_reading_changes_nothing(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(COLUMNS_SQL + INDEXES_SQL + "INSERT INTO parent VALUES (1, 'a'); ANALYZE;")
    digest = hashlib.sha256(_path(url).read_bytes()).hexdigest()
    catalog_from_url(url)
    assert hashlib.sha256(_path(url).read_bytes()).hexdigest() == digest


def test_broken_view_is_reported_not_fatal(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(
        "CREATE TABLE gone (x); CREATE TABLE kept (id INTEGER PRIMARY KEY, v TEXT);"
        "CREATE VIEW broken AS SELECT x FROM gone; CREATE VIEW fine AS SELECT v FROM kept; DROP TABLE gone;"
    )
    catalog = catalog_from_url(url)
    views = {v.name: v.columns for v in catalog.views}
    assert views == {"broken": [], "fine": ["v"]}
    assert [c.name for c in _table(catalog, "kept").columns] == ["id", "v"]
    assert any(u.startswith("columns of main.broken") and "gone" in u for u in catalog.unknown)


def test_virtual_table_hides_its_shadow_tables(sqlite_db: SqliteFactory) -> None:
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE p USING fts5(a)")
        fts5 = True
    except sqlite3.OperationalError:
        fts5 = False
    finally:
        probe.close()
    need(fts5, "this SQLite has no FTS5 module")
    catalog = catalog_from_url(sqlite_db("CREATE VIRTUAL TABLE docs USING fts5(title, body);"))
    names = [t.name for t in catalog.tables]
    if sqlite3.sqlite_version_info >= (3, 37, 0):
        assert names == ["docs"]  # docs_data, docs_idx, ... are FTS5's storage
    assert [c.name for c in _table(catalog, "docs").columns] == ["title", "body"]


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("NVARCHAR(160)", ("varchar", 160)),
        ("VARYING CHARACTER(20)", ("varchar", 20)),
        ("NATIVE CHARACTER(70)", ("char", 70)),
        ("CHARACTER", ("text", None)),
        ("CLOB", ("text", None)),
        ("BIGINT", ("bigint", None)),
        ("TINYINT", ("smallint", None)),
        ("MEDIUMINT", ("integer", None)),
        ("INT8", ("integer", None)),
        ("FLOAT", ("real", None)),
        ("REAL", ("real", None)),
        ("DOUBLE", ("double", None)),
        ("DECIMAL(10, 5)", ("numeric", None)),
        ("TIMESTAMP", ("timestamp", None)),
        ("timestamp with time zone", ("timestamptz", None)),
        ("VARBINARY(16)", ("binary", None)),
        ("GEOMETRY", ("geometry", None)),
        ("", ("any", None)),
    ],
)
def test_base_type_keeps_declared_intent(declared: str, expected: tuple[str, int | None]) -> None:
    assert base_type(declared) == expected


def test_parse_version_num() -> None:
    assert parse_version_num("3.40.1") == 3040001
    assert parse_version_num("3.45") == 3045000
    assert parse_version_num("unknown") is None


# -- the public sample databases -------------------------------------------------------------------


def test_realworld_chinook(sqlite_db: SqliteFactory, realworld: Path) -> None:
    script = (realworld / "chinook" / "Chinook_Sqlite.sql").read_text(encoding="utf-8-sig")
    catalog = catalog_from_url(sqlite_db(script))
    assert sorted(t.name for t in catalog.tables) == sorted(
        ["Album", "Artist", "Customer", "Employee", "Genre", "Invoice", "InvoiceLine", "MediaType",
         "Playlist", "PlaylistTrack", "Track"]
    )
    album = _table(catalog, "Album")
    assert album.primary_key is not None and album.primary_key.name == "PK_Album"
    title = album.column("Title")
    assert title is not None and (title.base_type, title.length, title.nullable) == ("varchar", 160, False)
    assert album.columns[0].auto_increment is True  # INTEGER + PRIMARY KEY constraint = rowid
    assert [(fk.columns, fk.ref_table, fk.ref_columns) for fk in album.foreign_keys] == [
        (["ArtistId"], "Artist", ["ArtistId"])
    ]
    assert sum(len(t.foreign_keys) for t in catalog.tables) == 11
    ifk = [i.name for t in catalog.tables for i in t.indexes if i.name.startswith("IFK_")]
    assert len(ifk) == 11
    playlist_track = _table(catalog, "PlaylistTrack")
    assert playlist_track.primary_key is not None
    assert playlist_track.primary_key.columns == ["PlaylistId", "TrackId"]
    pk_index = next(i for i in playlist_track.indexes if i.primary)
    assert pk_index.constraint == "PK_PlaylistTrack" and pk_index.keys[0].column == "PlaylistId"
    employee = _table(catalog, "Employee")
    assert [(fk.columns, fk.ref_table) for fk in employee.foreign_keys] == [(["ReportsTo"], "Employee")]
    birth = employee.column("BirthDate")
    assert birth is not None and birth.base_type == "timestamp"
    unit_price = _table(catalog, "Track").column("UnitPrice")
    assert unit_price is not None
    assert (unit_price.data_type, unit_price.base_type) == ("NUMERIC(10,2)", "numeric")
    # No ANALYZE in the script: dbsage says so instead of counting 15,000 rows.
    assert all(t.row_estimate is None for t in catalog.tables)
    assert any("sqlite_stat1" in u for u in catalog.unknown)
    assert catalog.sequences == []


def test_realworld_sakila(sqlite_db: SqliteFactory, realworld: Path) -> None:
    script = (realworld / "sakila" / "sqlite-sakila-schema.sql").read_text(encoding="utf-8-sig")
    catalog = catalog_from_url(sqlite_db(script))
    assert len(catalog.tables) == 16
    # actor_info is commented out in this port; the other five views exist.
    assert sorted(v.name for v in catalog.views) == [
        "customer_list", "film_list", "sales_by_film_category", "sales_by_store", "staff_list"
    ]
    film = _table(catalog, "film")
    assert sorted(c.name or "" for c in film.check_constraints) == [
        "CHECK_special_features", "CHECK_special_rating"
    ]
    rating_check = next(c for c in film.check_constraints if c.name == "CHECK_special_rating")
    assert rating_check.expression == "rating in ('G','PG','PG-13','R','NC-17')"
    description = film.column("description")
    assert description is not None and description.data_type == "BLOB SUB_TYPE TEXT"
    assert description.base_type == "text"  # TEXT affinity: "TEXT" appears in the declared type
    rating = film.column("rating")
    assert rating is not None and rating.default == "'G'"
    assert {tr.name: tr.timing for tr in film.triggers} == {
        "film_trigger_ai": "AFTER", "film_trigger_au": "AFTER"
    }
    assert sum(len(t.triggers) for t in catalog.tables) == 30  # two per table except film_text
    payment = _table(catalog, "payment")
    rental_fk = next(fk for fk in payment.foreign_keys if fk.name == "fk_payment_rental")
    assert (rental_fk.on_delete, rental_fk.on_update) == ("SET NULL", "CASCADE")
    rental = _table(catalog, "rental")
    uq = next(i for i in rental.indexes if i.name == "idx_rental_uq")
    assert uq.unique and [k.column for k in uq.keys] == ["rental_date", "inventory_id", "customer_id"]
    film_actor = _table(catalog, "film_actor")
    assert film_actor.primary_key is not None and film_actor.primary_key.columns == ["actor_id", "film_id"]
    customer_list = next(v for v in catalog.views if v.name == "customer_list")
    assert customer_list.columns[0] == "ID"

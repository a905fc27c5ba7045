"""Offline DDL -> Catalog: focused snippets per dialect, error handling, and the public sample schemas.

Parity with real servers (the same DDL loaded into PostgreSQL, MariaDB and SQLite) is in
tests/test_ddl_parity.py; here every expectation is what those servers are known to do.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.errors import InputError
from dbsage.tools.sources.ddl import catalog_from_ddl
from dbsage.tools.sources.ddl_script import split_statements
from dbsage.tools.sources.resolve import catalog_from_ddl_text, read_sql_file

PG = Dialect.POSTGRES


def table(catalog: Catalog, schema: str, name: str) -> Table:
    found = catalog.table(schema, name)
    assert found is not None, f"{schema}.{name} not in {[t.qualified_name for t in catalog.tables]}"
    return found


def index_names(t: Table) -> set[str]:
    return {i.name for i in t.indexes}


# -- splitting ----------------------------------------------------------------------------------


def test_postgres_split_skips_copy_data_and_psql_commands() -> None:
    text = (
        "\\connect shop\n"
        "CREATE TABLE t (a int, b text);\n"
        "COPY public.t (a, b) FROM stdin;\n"
        "1\tit's; not SQL\n"
        "\\.\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n"
        "/* nested /* comment */ ; */ CREATE INDEX ON t (a);\n"
    )
    statements = split_statements(text, PG)
    assert [s.head.split()[0:2] for s in statements] == [
        ["CREATE", "TABLE"],
        ["COPY", "PUBLIC.T"],
        ["CREATE", "FUNCTION"],
        ["CREATE", "INDEX"],
    ]
    assert [s.line for s in statements] == [2, 3, 6, 7]
    catalog = catalog_from_ddl(text, PG)
    assert index_names(table(catalog, "public", "t")) == {"t_a_idx"}


def test_mysql_split_follows_delimiter_and_executable_comments() -> None:
    text = (
        "/*!40101 SET NAMES utf8 */;\n"
        "CREATE TABLE a (id INT PRIMARY KEY) /*!50100 ENGINE=MyISAM */;\n"
        "DELIMITER ;;\n"
        "CREATE TRIGGER a_bi BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.id = 1; SET @x = 2; END;;\n"
        "DELIMITER ;\n"
        "# a hash comment; with a semicolon\n"
        "CREATE TABLE b (note VARCHAR(10) DEFAULT 'a;b');\n"
    )
    statements = split_statements(text, Dialect.MYSQL)
    assert [s.head.split()[1] for s in statements] == ["NAMES", "TABLE", "TRIGGER", "TABLE"]
    assert statements[2].line == 4
    catalog = catalog_from_ddl(text, Dialect.MYSQL)
    a = table(catalog, "main", "a")
    assert a.engine == "MyISAM"
    assert [(t.name, t.timing, t.events) for t in a.triggers] == [("a_bi", "BEFORE", ["INSERT"])]
    assert table(catalog, "main", "b").columns[0].default == "'a;b'"


def test_sqlite_split_keeps_trigger_bodies_whole() -> None:
    text = (
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INT);\n"
        "CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN\n"
        "  UPDATE t SET n = 1 WHERE id = new.id;\n"
        "  UPDATE t SET n = n + 1;\n"
        "END;\n"
        "CREATE INDEX t_n ON t (n);\n"
    )
    statements = split_statements(text, Dialect.SQLITE)
    assert len(statements) == 3
    assert statements[2].line == 6


# -- PostgreSQL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "data_type", "base_type", "length"),
    [
        ("int", "integer", "integer", None),
        ("int4", "integer", "integer", None),
        ("smallint", "smallint", "smallint", None),
        ("int8", "bigint", "bigint", None),
        ("varchar(40)", "character varying(40)", "varchar", 40),
        ("character varying", "character varying", "varchar", None),
        ("char(4)", "character(4)", "char", 4),
        ("char", "character(1)", "char", 1),
        ("text", "text", "text", None),
        ("numeric(10,2)", "numeric(10,2)", "numeric", None),
        ("decimal(7)", "numeric(7,0)", "numeric", None),
        ("numeric", "numeric", "numeric", None),
        ("float", "double precision", "double", None),
        ("float(10)", "real", "real", None),
        ("timestamp", "timestamp without time zone", "timestamp", None),
        ("timestamp(3)", "timestamp(3) without time zone", "timestamp", None),
        ("timestamptz", "timestamp with time zone", "timestamptz", None),
        ("time with time zone", "time with time zone", "timetz", None),
        ("interval day to second", "interval day to second", "interval", None),
        ("bool", "boolean", "boolean", None),
        ("bytea", "bytea", "binary", None),
        ("jsonb", "jsonb", "jsonb", None),
        ("json", "json", "json", None),
        ("uuid", "uuid", "uuid", None),
        ("money", "money", "money", None),
        ("bit(3)", "bit(3)", "bit", None),
        ("varbit(5)", "bit varying(5)", "varbit", None),
        ("text[]", "text[]", "array", None),
        ("varchar(10)[]", "character varying(10)[]", "array", None),
        ("tsvector", "tsvector", "tsvector", None),
        ("public.vector(3)", "vector(3)", "vector", None),
        ("ext.citext", "ext.citext", "citext", None),
    ],
)
def test_postgres_types_match_format_type(
    declared: str, data_type: str, base_type: str, length: int | None
) -> None:
    catalog = catalog_from_ddl(f"CREATE TABLE t (c {declared});", PG)
    column = table(catalog, "public", "t").columns[0]
    assert (column.data_type, column.base_type, column.length) == (data_type, base_type, length)


def test_postgres_serial_identity_and_generated_columns() -> None:
    catalog = catalog_from_ddl(
        """
        CREATE SCHEMA shop;
        CREATE TABLE shop.orders (
            id bigserial PRIMARY KEY,
            n smallserial,
            ref integer GENERATED BY DEFAULT AS IDENTITY,
            qty int NOT NULL,
            twice int GENERATED ALWAYS AS (qty * 2) STORED
        );
        """,
        PG,
    )
    orders = table(catalog, "shop", "orders")
    by_name = {c.name: c for c in orders.columns}
    assert (by_name["id"].data_type, by_name["id"].serial, by_name["id"].nullable) == ("bigint", True, False)
    assert by_name["id"].default == "nextval('shop.orders_id_seq'::regclass)"
    assert (by_name["n"].data_type, by_name["n"].serial) == ("smallint", True)
    ref = by_name["ref"]
    assert (ref.identity, ref.serial, ref.nullable) == ("by_default", False, False)
    assert by_name["twice"].generated == "qty * 2"
    sequences = {s.name: s for s in catalog.sequences}
    assert sequences["orders_id_seq"].owned_by == "shop.orders.id"
    assert sequences["orders_n_seq"].max_value == 32767
    assert sequences["orders_ref_seq"].data_type == "integer"
    assert "shop" in catalog.schemas


def test_postgres_default_names_follow_the_server() -> None:
    long_table = "t" * 60
    catalog = catalog_from_ddl(
        f"""
        CREATE TABLE parent (id int PRIMARY KEY);
        CREATE TABLE child (
            id int,
            parent_id int REFERENCES parent,
            code text UNIQUE,
            qty int CHECK (qty > 0),
            lo int, hi int,
            CHECK (lo < hi),
            UNIQUE (lo, hi)
        );
        ALTER TABLE child ADD PRIMARY KEY (id);
        CREATE INDEX ON child (lower(code));
        CREATE INDEX ON child (code);
        CREATE INDEX ON child (code);
        CREATE TABLE clash (id int, CONSTRAINT clash_pkey CHECK (id > 0));
        ALTER TABLE clash ADD PRIMARY KEY (id);
        CREATE TABLE {long_table} (a_column_with_a_rather_long_name int UNIQUE);
        """,
        PG,
    )
    child = table(catalog, "public", "child")
    assert child.primary_key is not None and child.primary_key.name == "child_pkey"
    assert [f.name for f in child.foreign_keys] == ["child_parent_id_fkey"]
    assert child.foreign_keys[0].ref_columns == ["id"]
    assert {c.name for c in child.check_constraints} == {"child_qty_check", "child_check"}
    assert {u.name for u in child.unique_constraints} == {"child_code_key", "child_lo_hi_key"}
    assert {"child_lower_idx", "child_code_idx", "child_code_idx1"} <= index_names(child)
    clash = table(catalog, "public", "clash")
    assert clash.primary_key is not None and clash.primary_key.name == "clash_pkey1"
    long = table(catalog, "public", long_table)
    (unique,) = long.unique_constraints
    assert len(unique.name or "") == 63 and unique.name == "t" * 29 + "_a_column_with_a_rather_long_n_key"


def test_postgres_alter_table_changes_apply_in_order() -> None:
    catalog = catalog_from_ddl(
        """
        CREATE TABLE customers (id int PRIMARY KEY);
        CREATE TABLE orders (id int, customer_id int, note text, old int, price int DEFAULT 0);
        ALTER TABLE ONLY orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
        ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id)
            REFERENCES customers (id) ON DELETE SET NULL ON UPDATE CASCADE NOT VALID;
        ALTER TABLE orders ADD CONSTRAINT orders_note_check CHECK (note <> '') NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT orders_note_check;
        ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new', DROP COLUMN old;
        ALTER TABLE orders ALTER COLUMN note SET NOT NULL, ALTER COLUMN price DROP DEFAULT;
        ALTER TABLE orders ALTER COLUMN price TYPE numeric(12,2);
        ALTER TABLE orders ALTER COLUMN customer_id SET DEFAULT 1;
        ALTER TABLE orders ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
        ALTER TABLE orders OWNER TO app_owner;
        ALTER TABLE orders RENAME COLUMN note TO remark;
        """,
        PG,
    )
    orders = table(catalog, "public", "orders")
    columns = {c.name: c for c in orders.columns}
    assert list(columns) == ["id", "customer_id", "remark", "price", "status"]
    assert [c.position for c in orders.columns] == [1, 2, 3, 5, 6]  # attnums keep the dropped gap
    assert columns["remark"].nullable is False
    assert columns["price"].default is None and columns["price"].data_type == "numeric(12,2)"
    assert columns["status"].default == "'new'" and columns["status"].nullable is False
    assert columns["customer_id"].default == "1"
    (fk,) = orders.foreign_keys
    assert (fk.name, fk.on_delete, fk.on_update) == ("orders_customer_fk", "SET NULL", "CASCADE")
    assert fk.validated is False
    (check,) = orders.check_constraints
    assert check.validated is True
    assert (orders.rls_enabled, orders.rls_forced, orders.owner) == (True, True, "app_owner")


def test_postgres_indexes_keep_method_expressions_order_include_and_predicate() -> None:
    catalog = catalog_from_ddl(
        """
        CREATE TABLE docs (id int, body jsonb, title text, created timestamptz, tenant int);
        CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS docs_tenant_title
            ON docs USING btree (tenant, lower(title) DESC) INCLUDE (id) WHERE created IS NOT NULL;
        CREATE INDEX docs_body ON docs USING gin (body jsonb_path_ops);
        """,
        PG,
    )
    docs = table(catalog, "public", "docs")
    indexes = {i.name: i for i in docs.indexes}
    first = indexes["docs_tenant_title"]
    assert first.unique and first.method == "btree" and first.include == ["id"]
    assert [k.column for k in first.keys] == ["tenant", None]
    assert first.keys[1].expression == "lower(title)" and first.keys[1].descending
    assert first.predicate == "created IS NOT NULL"
    assert indexes["docs_body"].method == "gin"


def test_postgres_partitions_receive_the_parents_keys_and_indexes() -> None:
    catalog = catalog_from_ddl(
        """
        CREATE TABLE m (id bigint, at date NOT NULL, v int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE m_2025 (id bigint NOT NULL, at date NOT NULL, v int);
        ALTER TABLE m ATTACH PARTITION m_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE INDEX ON m (v);
        CREATE UNLOGGED TABLE scratch (k text);
        """,
        PG,
    )
    parent = table(catalog, "public", "m")
    assert parent.kind == "partitioned_table"
    for name in ("m_2024", "m_2025"):
        part = table(catalog, "public", name)
        assert part.partition_of == "public.m"
        assert part.primary_key is not None and part.primary_key.name == f"{name}_pkey"
        assert index_names(part) == {f"{name}_pkey", f"{name}_v_idx"}
    assert [c.name for c in table(catalog, "public", "m_2024").columns] == ["id", "at", "v"]
    assert table(catalog, "public", "scratch").persistence == "unlogged"


def test_postgres_enum_domain_views_and_routines() -> None:
    catalog = catalog_from_ddl(
        """
        SET search_path = app, public;
        CREATE SCHEMA app;
        CREATE TYPE mood AS ENUM ('sad', 'happy');
        CREATE DOMAIN short AS varchar(12) CHECK (VALUE <> '');
        CREATE TABLE people (id int, feeling mood, nick short);
        CREATE VIEW happy_people WITH (security_invoker = true) AS SELECT id, nick AS name FROM people;
        CREATE MATERIALIZED VIEW counts AS SELECT feeling, count(*) FROM people GROUP BY feeling;
        CREATE FUNCTION whoami(p_id integer, OUT label text) RETURNS text LANGUAGE plpgsql STABLE
            SECURITY DEFINER SET search_path = pg_catalog, app AS $$ BEGIN label := 'x'; END $$;
        CREATE PROCEDURE archive() LANGUAGE sql AS $$ DELETE FROM people $$;
        COMMENT ON TABLE people IS 'everyone';
        COMMENT ON COLUMN people.nick IS 'short name';
        ALTER FUNCTION whoami(integer) OWNER TO admin;
        """,
        PG,
    )
    people = table(catalog, "app", "people")
    columns = {c.name: c for c in people.columns}
    assert (columns["feeling"].data_type, columns["feeling"].base_type) == ("app.mood", "enum")
    nick = columns["nick"]
    assert (nick.data_type, nick.base_type, nick.length) == ("app.short", "varchar", 12)
    assert people.comment == "everyone" and columns["nick"].comment == "short name"
    views = {v.name: v for v in catalog.views}
    assert views["happy_people"].security_invoker is True and views["happy_people"].columns == ["id", "name"]
    assert views["counts"].materialized and views["counts"].columns == ["feeling", "count"]
    functions = {f.name: f for f in catalog.functions}
    whoami = functions["whoami"]
    assert whoami.arguments == "p_id integer, OUT label text"
    assert (whoami.returns, whoami.language, whoami.volatility) == ("text", "plpgsql", "stable")
    assert whoami.security_definer and whoami.config == ["search_path=pg_catalog, app"]
    assert whoami.owner == "admin"
    assert functions["archive"].kind == "procedure"


def test_postgres_sequences_owned_by_make_serial_columns() -> None:
    catalog = catalog_from_ddl(
        """
        CREATE TABLE t (id integer NOT NULL, other integer DEFAULT nextval('loose_seq'::regclass));
        CREATE SEQUENCE t_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MAXVALUE CACHE 1;
        CREATE SEQUENCE loose_seq INCREMENT BY -1;
        ALTER SEQUENCE t_id_seq OWNED BY t.id;
        ALTER TABLE ONLY t ALTER COLUMN id SET DEFAULT nextval('public.t_id_seq'::regclass);
        """,
        PG,
    )
    columns = {c.name: c for c in table(catalog, "public", "t").columns}
    assert columns["id"].serial and columns["id"].default == "nextval('t_id_seq'::regclass)"
    assert not columns["other"].serial
    sequences = {s.name: s for s in catalog.sequences}
    assert (sequences["t_id_seq"].data_type, sequences["t_id_seq"].max_value) == ("integer", 2147483647)
    assert (sequences["loose_seq"].increment, sequences["loose_seq"].max_value) == (-1, -1)


def test_postgres_security_objects() -> None:
    catalog = catalog_from_ddl(
        """
        CREATE ROLE app LOGIN PASSWORD 'SCRAM-SHA-256$4096:abc' IN ROLE readers;
        CREATE ROLE readers;
        CREATE USER admin WITH SUPERUSER BYPASSRLS;
        GRANT readers TO admin;
        CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;
        CREATE TABLE notes (id int, tenant uuid, body text);
        CREATE POLICY tenant_notes ON notes AS PERMISSIVE FOR ALL TO app, PUBLIC
            USING (tenant = current_setting('app.tenant')::uuid);
        CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER notes_stamp BEFORE INSERT OR UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION stamp();
        CREATE TRIGGER notes_search BEFORE INSERT ON notes FOR EACH ROW
            EXECUTE FUNCTION tsvector_update_trigger(body, 'pg_catalog.english', body);
        ALTER TABLE notes DISABLE TRIGGER notes_search;
        GRANT SELECT, INSERT ON notes TO app;
        GRANT ALL ON SCHEMA public TO app WITH GRANT OPTION;
        REVOKE EXECUTE ON FUNCTION stamp() FROM PUBLIC;
        """,
        PG,
    )
    roles = {r.name: r for r in catalog.roles}
    app = roles["app"]
    assert app.login and app.member_of == ["readers"] and app.password_kind == "scram-sha-256"
    assert not roles["readers"].login
    assert roles["admin"].superuser and roles["admin"].bypassrls and roles["admin"].member_of == ["readers"]
    assert [e.name for e in catalog.extensions] == ["pgcrypto", "plpgsql"]
    notes = table(catalog, "public", "notes")
    (policy,) = notes.policies
    assert (policy.command, policy.permissive, policy.roles) == ("ALL", True, ["app", "public"])
    assert policy.using is not None and "current_setting" in policy.using
    triggers = {t.name: t for t in notes.triggers}
    stamp = triggers["notes_stamp"]
    assert stamp.events == ["INSERT", "UPDATE"] and stamp.function == "public.stamp"
    assert triggers["notes_search"].function == "pg_catalog.tsvector_update_trigger"
    assert not triggers["notes_search"].enabled
    grants = {(g.grantee, g.object, g.privilege, g.grantable) for g in catalog.grants}
    assert {("app", "public.notes", "SELECT", False), ("app", "public.notes", "INSERT", False)} <= grants
    assert ("app", "public", "CREATE", True) in grants and ("PUBLIC", "public", "USAGE", False) in grants
    assert not any(g.object == "public.stamp()" for g in catalog.grants)


def test_postgres_unparsable_statements_are_listed_with_their_line() -> None:
    text = "CREATE TABLE a (id int);\nCREATE TABLE b (id int,);\nCREATE TABLE c (id int);\n"
    catalog = catalog_from_ddl(text, PG, file="schema.sql")
    assert {t.name for t in catalog.tables} == {"a", "c"}
    failure = next(u for u in catalog.unknown if "could not parse" in u)
    assert failure.startswith("schema.sql line 2:") and 'syntax error at or near ")"' in failure
    assert any("need a live database" in u for u in catalog.unknown)


def test_postgres_statements_on_unknown_tables_are_reported_not_fatal() -> None:
    catalog = catalog_from_ddl(
        "CREATE TABLE a (id int);\n"
        "ALTER TABLE missing ADD COLUMN x int;\n"
        "CREATE RULE r AS ON INSERT TO a DO NOTHING;",
        PG,
    )
    assert any("line 2" in u and "missing" in u for u in catalog.unknown)
    assert any("CREATE RULE x1" in u for u in catalog.unknown)


# -- MySQL / MariaDB -------------------------------------------------------------------------------

MYSQL_SHOP = """
USE shop;
CREATE TABLE customers (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  email NVARCHAR(255) NOT NULL,
  active BOOLEAN DEFAULT TRUE,
  kind ENUM('a','b') DEFAULT 'a',
  doc JSON,
  created DATETIME,
  changed TIMESTAMP NULL,
  total DECIMAL(10,2),
  PRIMARY KEY (id),
  UNIQUE KEY (email),
  UNIQUE KEY (email),
  KEY idx_created (created),
  FULLTEXT KEY ft_email (email)
) ENGINE=innodb DEFAULT CHARSET=utf8mb4 COMMENT='people';
CREATE TABLE orders (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id INT UNSIGNED NOT NULL,
  helper_id INT UNSIGNED,
  third_id INT UNSIGNED,
  CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE,
  FOREIGN KEY (helper_id) REFERENCES customers (id),
  FOREIGN KEY idx_third (third_id) REFERENCES customers (id),
  CHECK (id > 0),
  CONSTRAINT named_check CHECK (customer_id > 0)
);
ALTER TABLE orders ADD COLUMN note VARCHAR(20) AFTER id, ADD INDEX idx_helper (helper_id, id);
CREATE INDEX idx_note ON orders (note(5) DESC);
CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY INVOKER VIEW recent AS
  SELECT id, customer_id AS who FROM orders;
"""


def test_mariadb_tables_types_and_implicit_names() -> None:
    catalog = catalog_from_ddl(MYSQL_SHOP, Dialect.MARIADB)
    assert catalog.schemas == ["shop"] and catalog.database == "shop"
    customers = table(catalog, "shop", "customers")
    assert (customers.engine, customers.comment) == ("InnoDB", "people")
    columns = {c.name: c for c in customers.columns}
    assert (columns["id"].data_type, columns["id"].unsigned, columns["id"].auto_increment) == (
        "int(10) unsigned",
        True,
        True,
    )
    assert (columns["email"].data_type, columns["email"].base_type, columns["email"].length) == (
        "varchar(255)",
        "varchar",
        255,
    )
    assert (columns["active"].data_type, columns["active"].base_type) == ("tinyint(1)", "boolean")
    assert (columns["doc"].data_type, columns["doc"].base_type) == ("longtext", "json")
    assert (columns["created"].base_type, columns["changed"].base_type) == ("timestamp", "timestamptz")
    assert columns["kind"].data_type == "enum('a','b')" and columns["total"].base_type == "numeric"
    indexes = {i.name: i for i in customers.indexes}
    assert set(indexes) == {"PRIMARY", "email", "email_2", "idx_created", "ft_email"}
    assert indexes["PRIMARY"].primary and indexes["ft_email"].method == "fulltext"
    assert customers.primary_key is not None and customers.primary_key.name == "PRIMARY"

    orders = table(catalog, "shop", "orders")
    assert [c.name for c in orders.columns][:2] == ["id", "note"]
    assert {f.name for f in orders.foreign_keys} == {"fk_orders_customer", "orders_ibfk_1", "idx_third"}
    assert {f.on_delete for f in orders.foreign_keys} == {"CASCADE", "RESTRICT"}
    # InnoDB indexes each foreign key; idx_helper (made later) replaced the automatic one
    assert index_names(orders) == {"PRIMARY", "fk_orders_customer", "idx_third", "idx_helper", "idx_note"}
    note_index = next(i for i in orders.indexes if i.name == "idx_note")
    assert note_index.keys[0].expression == "`note`(5)" and note_index.keys[0].descending
    assert {c.name for c in orders.check_constraints} == {"CONSTRAINT_1", "named_check"}
    (view,) = catalog.views
    assert (view.name, view.columns, view.security_invoker) == ("recent", ["id", "who"], True)


def test_mysql8_spelling_differs_from_mariadb() -> None:
    catalog = catalog_from_ddl(MYSQL_SHOP, Dialect.MYSQL)
    customers = table(catalog, "shop", "customers")
    columns = {c.name: c for c in customers.columns}
    assert columns["id"].data_type == "int unsigned"
    assert columns["doc"].data_type == "json"
    orders = table(catalog, "shop", "orders")
    assert {c.name for c in orders.check_constraints} == {"orders_chk_1", "named_check"}
    assert {f.name for f in orders.foreign_keys} == {"fk_orders_customer", "orders_ibfk_1", "orders_ibfk_2"}
    assert {f.on_delete for f in orders.foreign_keys} == {"CASCADE", "NO ACTION"}


def test_mariadb_create_or_replace_table_replaces() -> None:
    catalog = catalog_from_ddl(
        "USE d; CREATE TABLE t (a INT); CREATE OR REPLACE TABLE t (b INT PRIMARY KEY);", Dialect.MARIADB
    )
    assert [c.name for c in table(catalog, "d", "t").columns] == ["b"]


def test_mysql_without_use_goes_to_main_and_says_so() -> None:
    catalog = catalog_from_ddl("CREATE TABLE t (id INT PRIMARY KEY);", Dialect.MYSQL)
    assert table(catalog, "main", "t").columns[0].nullable is False
    assert any("no USE statement" in u for u in catalog.unknown)
    qualified = catalog_from_ddl("CREATE TABLE inventory.t (id INT);", Dialect.MYSQL)
    assert table(qualified, "inventory", "t") is not None


def test_mysql_routines_triggers_and_unknown_statements() -> None:
    text = """USE app;
CREATE TABLE a (id INT PRIMARY KEY, n INT);
DELIMITER $$
CREATE DEFINER=`admin`@`%` FUNCTION twice(x INT) RETURNS BIGINT DETERMINISTIC SQL SECURITY INVOKER
BEGIN RETURN x * 2; END $$
CREATE PROCEDURE fill(IN how_many INT, OUT done INT) BEGIN SELECT 1; END $$
CREATE TRIGGER a_au AFTER UPDATE ON a FOR EACH ROW BEGIN SET @n = 1; END $$
DELIMITER ;
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DO DELETE FROM a;
FROBNICATE everything;
"""
    catalog = catalog_from_ddl(text, Dialect.MARIADB)
    functions = {f.name: f for f in catalog.functions}
    twice = functions["twice"]
    assert (twice.arguments, twice.returns, twice.security_definer, twice.volatility, twice.owner) == (
        "int(11)",
        "bigint(20)",
        False,
        "immutable",
        "admin@%",
    )
    assert functions["fill"].arguments == "int(11), OUT int(11)" and functions["fill"].security_definer
    assert [t.name for t in table(catalog, "app", "a").triggers] == ["a_au"]
    assert any("line 10" in u and "FROBNICATE" in u for u in catalog.unknown)
    assert any("CREATE EVENT x1" in u for u in catalog.unknown)


# -- SQLite -----------------------------------------------------------------------------------------

SQLITE_MUSIC = """
CREATE TABLE artists (id INTEGER PRIMARY KEY, name NVARCHAR(120) NOT NULL UNIQUE, born DATETIME);
CREATE TABLE albums (
  album_id INTEGER PRIMARY KEY AUTOINCREMENT,
  artist_id INTEGER NOT NULL REFERENCES artists ON DELETE CASCADE,
  title VARCHAR(160),
  price NUMERIC(10,2),
  note BLOB SUB_TYPE TEXT,
  anything,
  UNIQUE (artist_id, title),
  CHECK (price >= 0)
);
CREATE TABLE plays (album_id INT, track INT, PRIMARY KEY (album_id, track),
                    CONSTRAINT fk_plays_album FOREIGN KEY (album_id) REFERENCES albums (album_id))
                    WITHOUT ROWID;
CREATE UNIQUE INDEX albums_title_priced ON albums (title) WHERE price IS NOT NULL;
CREATE VIEW album_names AS
  SELECT a.title AS album, ar.name FROM albums a JOIN artists ar ON ar.id = a.artist_id;
CREATE TRIGGER albums_ai AFTER INSERT ON albums BEGIN UPDATE albums SET note = 'x'; END;
"""


def test_sqlite_rowid_autoindexes_and_types() -> None:
    catalog = catalog_from_ddl(SQLITE_MUSIC, Dialect.SQLITE)
    assert catalog.schemas == ["main"]
    artists = table(catalog, "main", "artists")
    assert artists.columns[0].auto_increment and index_names(artists) == {"sqlite_autoindex_artists_1"}
    albums = table(catalog, "main", "albums")
    columns = {c.name: c for c in albums.columns}
    assert (columns["title"].data_type, columns["title"].base_type, columns["title"].length) == (
        "VARCHAR(160)",
        "varchar",
        160,
    )
    assert columns["price"].base_type == "numeric" and columns["note"].base_type == "text"
    assert columns["anything"].data_type == "" and columns["album_id"].nullable
    assert index_names(albums) == {"sqlite_autoindex_albums_1", "albums_title_priced"}
    partial = next(i for i in albums.indexes if i.name == "albums_title_priced")
    assert partial.unique and partial.predicate == "price IS NOT NULL"
    (fk,) = albums.foreign_keys
    assert (fk.ref_table, fk.ref_columns, fk.on_delete) == ("artists", ["id"], "CASCADE")
    assert [s.name for s in catalog.sequences] == ["albums"]
    plays = table(catalog, "main", "plays")
    assert plays.without_rowid and [c.nullable for c in plays.columns] == [False, False]
    assert index_names(plays) == {"sqlite_autoindex_plays_1"}
    assert plays.foreign_keys[0].name == "fk_plays_album"
    view = catalog.views[0]
    assert view.columns == ["album", "name"]
    assert [t.name for t in albums.triggers] == ["albums_ai"]


# -- errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", list(Dialect))
def test_nothing_parsable_is_an_input_error_naming_the_line(dialect: Dialect) -> None:
    with pytest.raises(InputError) as caught:
        catalog_from_ddl("\n\nthis is not sql at all;\nneither is this;", dialect, file="notes.txt")
    assert "notes.txt" in caught.value.message and "line 3" in caught.value.message


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize(
    "text",
    [
        "CREATE TABLE t (a text DEFAULT 'never closed);",
        "\x00\x01\x02 ;;; ))) ((",
        "CREATE TABLE t (a int",
        "ALTER TABLE nowhere ADD COLUMN x int; CREATE INDEX i ON nowhere (x);",
        "CREATE TABLE t (a int); DROP TABLE t; DROP TABLE t;",
    ],
)
def test_bad_input_never_raises_anything_but_input_error(dialect: Dialect, text: str) -> None:
    try:
        catalog = catalog_from_ddl(text, dialect)
    except InputError as exc:
        assert exc.message
        return
    assert catalog.source == "ddl" and catalog.unknown


def test_comments_only_and_empty_text_are_input_errors() -> None:
    with pytest.raises(InputError):
        catalog_from_ddl("-- nothing here\n/* at all */", PG)
    with pytest.raises(InputError):
        catalog_from_ddl_text("   ", PG)


def test_data_only_script_says_it_defines_nothing() -> None:
    catalog = catalog_from_ddl("INSERT INTO t VALUES (1);\nSELECT 1;", Dialect.SQLITE)
    assert not catalog.tables and "defines no table" in catalog.unknown[0]


# -- the public sample schemas --------------------------------------------------------------------------


def test_pagila_postgres(realworld: Path) -> None:
    catalog = catalog_from_ddl(read_sql_file(realworld / "pagila" / "pagila-schema.sql"), PG)
    assert len(catalog.tables) == 71 and len(catalog.views) == 8
    assert not any("could not parse" in u for u in catalog.unknown)
    film = table(catalog, "public", "film")
    columns = {c.name: c for c in film.columns}
    assert (columns["rating"].data_type, columns["rating"].base_type) == ("mpaa_rating", "enum")
    assert (columns["release_year"].data_type, columns["release_year"].base_type) == ("year", "integer")
    assert next(i for i in film.indexes if i.name == "film_fulltext_idx").method == "gist"
    payment = table(catalog, "public", "payment")
    assert payment.kind == "partitioned_table"
    partition = table(catalog, "public", "payment_p2022_01")
    assert partition.partition_of == "public.payment"
    assert partition.primary_key is not None and partition.primary_key.name == "payment_p2022_01_pkey"
    assert "payment_p2022_01_uuid_payment_date_idx" in index_names(partition)
    rental = table(catalog, "public", "rental")
    assert {f.ref_table for f in rental.foreign_keys} == {"customer", "inventory", "staff"}
    rewards = next(f for f in catalog.functions if f.name == "rewards_report")
    assert rewards.security_definer and rewards.returns == "SETOF customer"


def test_sakila_postgres(realworld: Path) -> None:
    catalog = catalog_from_ddl(read_sql_file(realworld / "sakila" / "postgres-sakila-schema.sql"), PG)
    assert len(catalog.tables) == 21 and len(catalog.views) == 7
    child = table(catalog, "public", "payment_p2007_01")
    assert [c.name for c in child.columns][:2] == ["payment_id", "customer_id"]  # inherited from payment
    assert {c.name for c in child.check_constraints} == {"payment_p2007_01_payment_date_check"}
    assert any("CREATE RULE x6" in u for u in catalog.unknown)
    assert table(catalog, "public", "film").primary_key is not None


def test_chinook_postgres_with_data_is_fast(realworld: Path) -> None:
    text = read_sql_file(realworld / "chinook" / "Chinook_PostgreSql.sql")
    started = time.perf_counter()
    catalog = catalog_from_ddl(text, PG)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"600 KB with INSERTs took {elapsed:.2f}s"
    assert len(catalog.tables) == 11
    assert sum(len(t.foreign_keys) for t in catalog.tables) == 11
    track = table(catalog, "public", "track")
    assert track.primary_key is not None and track.primary_key.name == "track_pkey"
    assert "track_album_id_idx" in index_names(track)


def test_chinook_mysql(realworld: Path) -> None:
    catalog = catalog_from_ddl(read_sql_file(realworld / "chinook" / "Chinook_MySql.sql"), Dialect.MARIADB)
    assert catalog.schemas == ["Chinook"] and len(catalog.tables) == 11
    track = table(catalog, "Chinook", "Track")
    assert track.primary_key is not None and track.primary_key.columns == ["TrackId"]
    assert {f.ref_table for f in track.foreign_keys} == {"Album", "Genre", "MediaType"}
    assert next(c for c in track.columns if c.name == "Name").data_type == "varchar(200)"


def test_sakila_mysql_with_delimiter_blocks(realworld: Path) -> None:
    text = read_sql_file(realworld / "sakila" / "mysql-sakila-schema.sql")
    catalog = catalog_from_ddl(text, Dialect.MARIADB)
    assert len(catalog.tables) == 16 and len(catalog.views) == 7 and len(catalog.functions) == 6
    assert not any("could not parse" in u for u in catalog.unknown)
    film_text = table(catalog, "sakila", "film_text")
    assert next(i for i in film_text.indexes if i.name == "idx_title_description").method == "fulltext"
    assert {t.name for t in table(catalog, "sakila", "film").triggers} == {"ins_film", "upd_film", "del_film"}
    payment = table(catalog, "sakila", "payment")
    assert "fk_payment_rental" in index_names(payment)  # the index InnoDB adds for the foreign key


def test_chinook_sqlite_with_bom(realworld: Path) -> None:
    catalog = catalog_from_ddl(read_sql_file(realworld / "chinook" / "Chinook_Sqlite.sql"), Dialect.SQLITE)
    assert len(catalog.tables) == 11
    playlist_track = table(catalog, "main", "PlaylistTrack")
    assert "sqlite_autoindex_PlaylistTrack_1" in index_names(playlist_track)
    album = table(catalog, "main", "Album")
    assert album.primary_key is not None and album.primary_key.name == "PK_Album"
    assert album.columns[0].auto_increment  # INTEGER PRIMARY KEY is the rowid


def test_sakila_sqlite(realworld: Path) -> None:
    text = read_sql_file(realworld / "sakila" / "sqlite-sakila-schema.sql")
    catalog = catalog_from_ddl(text, Dialect.SQLITE)
    assert len(catalog.tables) == 16 and len(catalog.views) == 5
    film = table(catalog, "main", "film")
    assert next(c for c in film.columns if c.name == "description").data_type == "BLOB SUB_TYPE TEXT"
    assert {c.name for c in film.check_constraints} == {"CHECK_special_features", "CHECK_special_rating"}
    assert len(film.triggers) == 2


def test_sqlite_integer_primary_key_desc_is_not_the_rowid() -> None:
    # SQLite's documented quirk: a column-level INTEGER PRIMARY KEY DESC is an ordinary key
    # with its own index; written as a table constraint it is the rowid.
    catalog = catalog_from_ddl(
        "CREATE TABLE a (id INTEGER PRIMARY KEY DESC);\nCREATE TABLE b (id INTEGER, PRIMARY KEY (id DESC));",
        Dialect.SQLITE,
    )
    a, b = table(catalog, "main", "a"), table(catalog, "main", "b")
    assert index_names(a) == {"sqlite_autoindex_a_1"} and not a.columns[0].auto_increment
    assert index_names(b) == set() and b.columns[0].auto_increment


def test_views_over_star_list_their_source_columns() -> None:
    pg = catalog_from_ddl(
        "CREATE TABLE a (id int, x text);\nCREATE TABLE b (a_id int, y text);\n"
        "CREATE VIEW ab AS SELECT * FROM a JOIN b ON b.a_id = a.id;\n"
        "CREATE VIEW just_b AS SELECT b.*, 1 AS one FROM a JOIN b ON b.a_id = a.id;\n"
        "CREATE VIEW unknown_source AS SELECT * FROM somewhere_else;",
        PG,
    )
    views = {v.name: v.columns for v in pg.views}
    assert views == {"ab": ["id", "x", "a_id", "y"], "just_b": ["a_id", "y", "one"], "unknown_source": []}
    lite_ddl = "CREATE TABLE a (id INT, x TEXT); CREATE VIEW v AS SELECT * FROM a;"
    lite = catalog_from_ddl(lite_ddl, Dialect.SQLITE)
    assert lite.views[0].columns == ["id", "x"]


def test_temporary_tables_are_left_out_with_a_note() -> None:
    for dialect, text in (
        (PG, "CREATE TEMP TABLE t (a int); CREATE TABLE k (a int);"),
        (Dialect.SQLITE, "CREATE TEMP TABLE t (a INT); CREATE TABLE k (a INT);"),
        (Dialect.MYSQL, "CREATE TEMPORARY TABLE t (a INT); CREATE TABLE k (a INT);"),
    ):
        catalog = catalog_from_ddl(text, dialect)
        assert [t.name for t in catalog.tables] == ["k"]
        assert any("temporary table t" in u for u in catalog.unknown)

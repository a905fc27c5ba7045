"""The same DDL, read offline and loaded into a real database, gives the same catalog and findings.

Each script runs in a fresh database (PostgreSQL 15, MariaDB 10.11, SQLite); the live catalog
(through the guard) is compared with the offline one on everything both can know: tables, columns
(type, family, nullability, identity/serial/auto-increment), keys, foreign keys, indexes, checks,
triggers, policies, views, sequences and routines. Facts only a live server has (sizes, row counts,
usage, default privileges of the owner, expression spelling) are left out of the comparison.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.schema import inspect_schema
from dbsage.tools.sources.ddl import catalog_from_ddl
from dbsage.tools.sources.resolve import catalog_from_url
from tests.conftest import MysqlFactory, PostgresFactory, SqliteFactory, need

POSTGRES_DDL = """
CREATE SCHEMA app;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN short_text AS varchar(20);

CREATE TABLE customers (
    id bigserial PRIMARY KEY,
    email varchar(255) NOT NULL UNIQUE,
    name text,
    score numeric(10,2) DEFAULT 0 CHECK (score >= 0),
    feeling mood,
    age posint,
    nick short_text,
    created_at timestamp DEFAULT now(),
    seen_at timestamptz,
    flags bit(3),
    tags text[],
    data jsonb,
    price money,
    code char(4),
    letter char,
    ratio double precision,
    small smallint,
    r real,
    picture bytea,
    u uuid,
    span interval,
    t time(3),
    ttz time with time zone,
    vb varbit(5),
    total int GENERATED ALWAYS AS (small * 2) STORED
);

CREATE TABLE app.orders (
    order_id integer GENERATED ALWAYS AS IDENTITY,
    customer_id bigint NOT NULL REFERENCES customers ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'new',
    placed_on date NOT NULL,
    note varchar,
    PRIMARY KEY (order_id),
    CONSTRAINT orders_status_check CHECK (status IN ('new', 'paid')),
    UNIQUE (customer_id, placed_on)
);

CREATE TABLE app.order_lines (
    order_id integer NOT NULL,
    line_no smallint NOT NULL,
    qty int CHECK (qty > 0),
    sku text,
    PRIMARY KEY (order_id, line_no)
);
ALTER TABLE app.order_lines
    ADD CONSTRAINT fk_lines_order FOREIGN KEY (order_id) REFERENCES app.orders (order_id) NOT VALID;
CREATE INDEX ON app.order_lines (sku);
CREATE INDEX ON app.order_lines (sku);

CREATE INDEX idx_customers_lower_email ON customers (lower(email));
CREATE INDEX ON customers (created_at DESC) INCLUDE (name) WHERE score > 0;
CREATE INDEX ON customers USING gin (data);
CREATE INDEX ON customers USING hash (u);
CREATE INDEX ON customers ((score * 2), lower(name));

CREATE TABLE events (id bigint, happened date NOT NULL, kind text, customer_id bigint,
                     PRIMARY KEY (id, happened)) PARTITION BY RANGE (happened);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 (id bigint NOT NULL, happened date NOT NULL, kind text, customer_id bigint);
ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX ON events (kind);
ALTER TABLE events ADD CONSTRAINT events_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);

CREATE UNLOGGED TABLE cache (k text PRIMARY KEY, v text);

ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
CREATE POLICY customers_self ON customers FOR SELECT USING (email = current_user);

CREATE TABLE legacy (id serial, a int, b int, c int);
ALTER TABLE legacy ADD PRIMARY KEY (id);
ALTER TABLE legacy ADD COLUMN d text NOT NULL DEFAULT 'x';
ALTER TABLE legacy DROP COLUMN b;
ALTER TABLE legacy ALTER COLUMN a SET NOT NULL;
ALTER TABLE legacy ALTER COLUMN c TYPE bigint;
ALTER TABLE legacy ADD UNIQUE (a, c);

CREATE TABLE names_collide (id int, CONSTRAINT names_collide_pkey CHECK (id > 0));
ALTER TABLE names_collide ADD PRIMARY KEY (id);
CREATE TABLE a_very_long_table_name_that_goes_on_and_on_and_on_forever_and_ever (
    a_very_long_column_name_that_is_also_quite_long_indeed_yes int UNIQUE
);

CREATE SEQUENCE counter AS integer INCREMENT BY 5;
CREATE TABLE pg_dump_style (id integer NOT NULL, label text);
CREATE SEQUENCE pg_dump_style_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
ALTER SEQUENCE pg_dump_style_id_seq OWNED BY pg_dump_style.id;
ALTER TABLE ONLY pg_dump_style ALTER COLUMN id SET DEFAULT nextval('pg_dump_style_id_seq'::regclass);
ALTER TABLE ONLY pg_dump_style ADD CONSTRAINT pg_dump_style_pkey PRIMARY KEY (id);

CREATE VIEW customer_names WITH (security_invoker = true) AS SELECT id, name FROM customers;
CREATE MATERIALIZED VIEW order_counts AS
    SELECT customer_id, count(*) AS n FROM app.orders GROUP BY customer_id;

CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION add_points(who bigint, points integer DEFAULT 1) RETURNS numeric
    LANGUAGE sql STABLE AS $$ SELECT score + points FROM customers WHERE id = who $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE TRIGGER events_touch AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION app.touch();
ALTER TABLE app.orders DISABLE TRIGGER orders_touch;

COMMENT ON TABLE customers IS 'people who buy';
COMMENT ON COLUMN customers.email IS 'login';
REVOKE EXECUTE ON FUNCTION add_points(bigint, integer) FROM PUBLIC;
"""

MYSQL_DDL = """
CREATE TABLE customers (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email NVARCHAR(255) NOT NULL,
  name VARCHAR(100) DEFAULT NULL COMMENT 'shown name',
  active BOOLEAN NOT NULL DEFAULT TRUE,
  score DECIMAL(10,2) DEFAULT 0,
  ratio DOUBLE, r REAL, f FLOAT, f2 FLOAT(30),
  tiny TINYINT, small SMALLINT UNSIGNED, mid MEDIUMINT, big BIGINT,
  born DATE, seen DATETIME(3), changed TIMESTAMP NULL DEFAULT NULL, t TIME, y YEAR,
  bio TEXT, notes MEDIUMTEXT, doc JSON, kind ENUM('a','b'), perms SET('r','w'),
  pic BLOB, hash BINARY(16), raw VARBINARY(64), bits BIT(4), code CHAR(3), i2 INTEGER, d2 DEC(5),
  zf INT(5) ZEROFILL,
  UNIQUE KEY uq_email (email),
  KEY (name),
  KEY idx_name_prefix (name(10), email),
  FULLTEXT KEY ft_bio (bio),
  CHECK (score >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE orders (
  id BIGINT NOT NULL AUTO_INCREMENT,
  customer_id INT UNSIGNED NOT NULL,
  other_customer INT UNSIGNED,
  status VARCHAR(20) NOT NULL DEFAULT 'new',
  PRIMARY KEY (id),
  CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE,
  FOREIGN KEY (other_customer) REFERENCES customers (id)
) ENGINE=InnoDB;

CREATE TABLE `lines` (
  order_id BIGINT NOT NULL,
  line_no INT NOT NULL,
  sku VARCHAR(40),
  qty INT CHECK (qty > 0),
  PRIMARY KEY (order_id, line_no)
);
ALTER TABLE `lines` ADD CONSTRAINT fk_lines_order FOREIGN KEY (order_id) REFERENCES orders (id);
ALTER TABLE `lines` ADD COLUMN note TEXT, ADD INDEX idx_sku (sku);
CREATE INDEX idx_orders_status ON orders (status);
CREATE UNIQUE INDEX uq_lines_sku ON `lines` (sku, qty);

CREATE TABLE tagged (id SERIAL, label VARCHAR(10), customer_id INT UNSIGNED,
                     FOREIGN KEY (customer_id) REFERENCES customers (id));
CREATE INDEX idx_tagged_customer ON tagged (customer_id, label);
CREATE TABLE memo (id INT PRIMARY KEY, k INT, KEY (k) USING HASH) ENGINE=MEMORY;

ALTER TABLE orders MODIFY COLUMN status VARCHAR(30) NOT NULL;
ALTER TABLE orders CHANGE COLUMN other_customer backup_customer INT UNSIGNED;

CREATE VIEW active_customers AS SELECT id, email FROM customers WHERE active;
CREATE SQL SECURITY INVOKER VIEW order_ids AS SELECT id FROM orders;
CREATE TRIGGER orders_bi BEFORE INSERT ON orders FOR EACH ROW SET NEW.status = 'new';
"""

SQLITE_DDL = """
CREATE TABLE artists (id INTEGER PRIMARY KEY, name NVARCHAR(120) NOT NULL UNIQUE, born DATETIME,
                      rating NUMERIC(3,1) DEFAULT 0, note BLOB SUB_TYPE TEXT, free);
CREATE TABLE albums (album_id INTEGER PRIMARY KEY AUTOINCREMENT,
                     artist_id INTEGER NOT NULL REFERENCES artists ON DELETE CASCADE,
                     title VARCHAR(160) NOT NULL, code TEXT,
                     CONSTRAINT uq_albums UNIQUE (artist_id, title), CHECK (length(title) > 0));
CREATE TABLE tracks (album_id INT NOT NULL, track_no INT NOT NULL, title TEXT, ms INTEGER,
                     PRIMARY KEY (album_id, track_no),
                     CONSTRAINT fk_tracks_album FOREIGN KEY (album_id) REFERENCES albums (album_id)
                         ON UPDATE CASCADE) WITHOUT ROWID;
CREATE TABLE tags (tag TEXT PRIMARY KEY, weight REAL, big BIGINT UNSIGNED, flag BOOLEAN,
                   uniq TEXT UNIQUE, UNIQUE (weight, big));
CREATE INDEX idx_tracks_title ON tracks (title COLLATE NOCASE);
CREATE UNIQUE INDEX idx_tracks_ms ON tracks (ms DESC) WHERE ms IS NOT NULL;
CREATE INDEX idx_albums_lower ON albums (lower(title));
CREATE VIEW album_titles AS
  SELECT a.title, ar.name AS artist FROM albums a JOIN artists ar ON ar.id = a.artist_id;
CREATE TRIGGER albums_ai AFTER INSERT ON albums BEGIN
  UPDATE albums SET code = 'x' WHERE album_id = new.album_id;
END;
ALTER TABLE artists ADD COLUMN country CHAR(2);
"""

# Less common statements each engine accepts: exclusion constraints, LIKE, USING INDEX, renames,
# sub-partitions, inherited checks, views over `*`, temporary tables (which no catalog shows).
POSTGRES_EDGES = """
CREATE TABLE rooms (id int PRIMARY KEY);
CREATE TABLE booking (room int REFERENCES rooms, during tsrange, EXCLUDE USING gist (during WITH &&));
CREATE TABLE booking2 (LIKE booking INCLUDING ALL);
CREATE TABLE u (a int, b text);
CREATE UNIQUE INDEX u_a_idx_custom ON u (a);
ALTER TABLE u ADD CONSTRAINT u_a_uniq UNIQUE USING INDEX u_a_idx_custom;
CREATE TABLE r (id serial PRIMARY KEY, v text);
ALTER TABLE r RENAME TO r2;
ALTER TABLE r2 RENAME COLUMN v TO w;
ALTER TABLE r2 ADD COLUMN extra bigserial;
CREATE TABLE top (id int, region text, at date, PRIMARY KEY (id, region, at)) PARTITION BY LIST (region);
CREATE TABLE top_eu PARTITION OF top FOR VALUES IN ('eu') PARTITION BY RANGE (at);
CREATE TABLE top_eu_2024 PARTITION OF top_eu FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX top_at ON top (at);
CREATE TABLE "MixedCase" ("Id" int PRIMARY KEY, "Name" text UNIQUE);
CREATE TABLE t_check (a int, b int, CONSTRAINT both_check CHECK (a > 0 AND b > 0), CHECK (a + b > 1),
                      CHECK (a < 100) NO INHERIT);
CREATE TABLE t_child () INHERITS (t_check);
CREATE TABLE def (id int GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 2) PRIMARY KEY,
                  x int UNIQUE REFERENCES def (id) DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX ON def (x) WHERE x IS NOT NULL;
CREATE INDEX ON def ((x + 1));
CREATE INDEX ON def (x, x);
CREATE TABLE drop_me (a int PRIMARY KEY);
CREATE TABLE keep_me (a int REFERENCES drop_me);
DROP TABLE drop_me CASCADE;
CREATE VIEW vstar AS SELECT * FROM rooms r JOIN booking b ON b.room = r.id;
CREATE VIEW vstar2 AS SELECT b.*, 1 AS one FROM rooms r JOIN booking b ON b.room = r.id;
CREATE VIEW vstar3 AS SELECT * FROM vstar2;
CREATE TEMP TABLE scratchpad (a int);
CREATE SCHEMA archive;
CREATE TABLE old_orders (id serial PRIMARY KEY, note text);
CREATE INDEX old_orders_note ON old_orders (note);
CREATE TABLE refs (o int REFERENCES old_orders);
ALTER TABLE old_orders SET SCHEMA archive;
CREATE VIEW v AS SELECT 1 AS one;
ALTER VIEW v SET SCHEMA archive;
CREATE SEQUENCE s;
ALTER SEQUENCE s SET SCHEMA archive;
CREATE SCHEMA tenant;
CREATE TABLE tenant.notes (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL,
                           body text);
ALTER TABLE tenant.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_isolation ON tenant.notes
    USING (tenant_id = current_setting('app.tenant', true)::uuid)
    WITH CHECK (tenant_id = current_setting('app.tenant', true)::uuid);
CREATE POLICY notes_read ON tenant.notes AS RESTRICTIVE FOR SELECT TO PUBLIC USING (true);
CREATE FUNCTION tenant.current() RETURNS uuid LANGUAGE sql STABLE LEAKPROOF
    AS $$ SELECT current_setting('app.tenant', true)::uuid $$;
CREATE FUNCTION tenant.bump(n int DEFAULT 1, VARIADIC rest int[] DEFAULT '{}') RETURNS TABLE (a int, b text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$ BEGIN RETURN; END $$;
CREATE FUNCTION tenant.pair(INOUT x int, OUT y int) LANGUAGE sql AS $$ SELECT x, x $$;
CREATE PROCEDURE tenant.do_it(a int, OUT b int) LANGUAGE plpgsql AS $$ BEGIN b := a; END $$;
GRANT USAGE ON SCHEMA tenant TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA tenant TO PUBLIC;
REVOKE ALL ON FUNCTION tenant.bump(int, int[]) FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
COMMENT ON FUNCTION tenant.current() IS 'the tenant of this session';
CREATE VIEW tenant.my_notes AS SELECT id, body FROM tenant.notes;
ALTER VIEW tenant.my_notes SET (security_invoker = on);
COMMENT ON VIEW tenant.my_notes IS 'notes of the current tenant';
CREATE SEQUENCE tenant.ticket AS smallint MAXVALUE 1000 INCREMENT 10;
CREATE TYPE tenant.pair_t AS (a int, b text);
CREATE TABLE tenant.uses_types (p tenant.pair_t, r int4range, arr tenant.pair_t[]);
CREATE EXTENSION IF NOT EXISTS pgcrypto;
"""

MYSQL_EDGES = """
CREATE TABLE parent (id INT PRIMARY KEY, code VARCHAR(10) UNIQUE);
CREATE TABLE p2 (a INT, b INT, PRIMARY KEY (a, b));
CREATE TABLE child (
  id INT NOT NULL,
  parent_id INT,
  code VARCHAR(10),
  a INT, b INT,
  g INT AS (id * 2) VIRTUAL,
  s INT GENERATED ALWAYS AS (id + 1) STORED,
  price DECIMAL(8,2) UNSIGNED ZEROFILL,
  t TINYTEXT, lb LONGBLOB, dtp DOUBLE PRECISION, nc NATIONAL CHAR(5), cv CHARACTER VARYING(12),
  vb VARBINARY(3), c1 CHAR(10) BINARY, c2 VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_bin,
  e ENUM('x', 'it''s') NOT NULL,
  CONSTRAINT pk_child PRIMARY KEY (id),
  FOREIGN KEY (parent_id) REFERENCES parent (id) ON UPDATE CASCADE,
  FOREIGN KEY (code) REFERENCES parent (code),
  FOREIGN KEY (a, b) REFERENCES p2 (a, b),
  INDEX (b, a)
) ENGINE=InnoDB COMMENT 'kids';
CREATE TABLE parted (id INT PRIMARY KEY, v INT) PARTITION BY HASH (id) PARTITIONS 2;
CREATE TABLE copy_of_parent LIKE parent;
ALTER TABLE parent ADD COLUMN extra INT FIRST, ADD UNIQUE INDEX uq_extra (extra), ENGINE = InnoDB;
ALTER TABLE parent DROP INDEX uq_extra;
ALTER TABLE parent ADD CONSTRAINT uq2 UNIQUE (extra, code);
ALTER TABLE p2 DROP PRIMARY KEY, ADD PRIMARY KEY (b, a);
CREATE TABLE fk_first (x INT, FOREIGN KEY (x) REFERENCES parent (id), KEY kx (x));
CREATE TABLE myi (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT, FULLTEXT (body)) ENGINE=MyISAM;
RENAME TABLE myi TO myisam_table;
CREATE TABLE drop_col (a INT, b INT, c INT, KEY (a, b), KEY (b));
ALTER TABLE drop_col DROP COLUMN b;
ALTER TABLE drop_col ALTER COLUMN c SET DEFAULT 5;
CREATE INDEX two ON drop_col (c, a);
DROP INDEX two ON drop_col;
CREATE VIEW everything AS SELECT * FROM parent p JOIN p2 ON p2.a = p.id;
"""

SQLITE_EDGES = """
CREATE TABLE IF NOT EXISTS "Quoted Table" ("Key" INTEGER PRIMARY KEY, `v` TEXT COLLATE NOCASE
    DEFAULT (lower('X')), w INT GENERATED ALWAYS AS (length(v)) VIRTUAL);
CREATE TABLE base (a INT, b TEXT, c REAL, CONSTRAINT pk PRIMARY KEY (a) ON CONFLICT REPLACE,
                   UNIQUE (b) ON CONFLICT IGNORE);
CREATE TABLE ref (x INT REFERENCES base (a) ON DELETE SET NULL ON UPDATE RESTRICT
                      DEFERRABLE INITIALLY DEFERRED,
                  y INT, FOREIGN KEY (y) REFERENCES "Quoted Table");
ALTER TABLE base ADD COLUMN d INTEGER DEFAULT 0;
ALTER TABLE base RENAME COLUMN c TO cc;
ALTER TABLE ref RENAME TO refs;
CREATE TABLE gone (a INT);
DROP TABLE gone;
CREATE TABLE dropcol (a INT, b INT, c INT);
ALTER TABLE dropcol DROP COLUMN b;
CREATE INDEX main.dropcol_c ON dropcol (c);
CREATE TABLE ai (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, n UNSIGNED BIG INT, t DOUBLE PRECISION,
                 v VARYING CHARACTER(7), nc NATIVE CHARACTER(3), bo BOOLEAN, j JSON, u UUID, z);
CREATE TEMP TABLE scratch (a INT);
CREATE VIEW v1 AS SELECT * FROM base;
CREATE VIEW v2 (p, q) AS SELECT a, b FROM base;
CREATE TRIGGER IF NOT EXISTS t1 BEFORE DELETE ON base FOR EACH ROW WHEN old.a > 0
BEGIN SELECT RAISE(ABORT, 'no; never'); END;
CREATE TRIGGER t2 INSTEAD OF INSERT ON v2 BEGIN INSERT INTO base (a, b) VALUES (new.p, new.q); END;
"""


# -- comparison ----------------------------------------------------------------------------------


def _table_facts(table: Table, dialect: Dialect) -> dict[str, Any]:
    return {
        "kind": table.kind,
        "partition_of": table.partition_of,
        "persistence": table.persistence,
        "rls": (table.rls_enabled, table.rls_forced),
        "comment": table.comment,
        "engine": table.engine,
        "without_rowid": table.without_rowid,
        "columns": [
            (
                c.name,
                c.position,
                c.data_type,
                c.base_type,
                c.length,
                c.nullable,
                c.identity,
                c.serial,
                c.auto_increment,
                c.unsigned,
                c.generated is not None,
                c.comment,
            )
            for c in sorted(table.columns, key=lambda c: c.position)
        ],
        "primary_key": (table.primary_key.name, table.primary_key.columns) if table.primary_key else None,
        "unique": sorted((u.name or "", tuple(u.columns)) for u in table.unique_constraints),
        # SQLite keeps no catalog of checks: both sides read them from the CREATE TABLE text
        "checks": sorted(c.name or "" for c in table.check_constraints),
        "foreign_keys": sorted(
            (
                fk.name or "",
                tuple(fk.columns),
                fk.ref_schema,
                fk.ref_table,
                tuple(fk.ref_columns),
                fk.on_delete,
                fk.on_update,
                fk.deferrable,
                fk.validated,
            )
            for fk in table.foreign_keys
        ),
        "indexes": sorted(
            (
                i.name,
                tuple(k.column if k.column is not None else "(expression)" for k in i.keys),
                tuple(k.descending for k in i.keys),
                tuple(i.include),
                i.unique,
                i.primary,
                i.method,
                i.constraint,
                i.predicate is not None,
            )
            for i in table.indexes
        ),
        "triggers": sorted(
            (t.name, t.timing, tuple(t.events), t.enabled, t.function) for t in table.triggers
        ),
        "policies": sorted((p.name, p.command, p.permissive, tuple(p.roles)) for p in table.policies),
    }


def _catalog_facts(catalog: Catalog) -> dict[str, Any]:
    return {
        "schemas": sorted(catalog.schemas),
        "tables": {t.qualified_name: _table_facts(t, catalog.dialect) for t in catalog.tables},
        "views": {
            v.qualified_name: (v.materialized, v.columns, v.security_invoker) for v in catalog.views
        },
        "sequences": sorted(
            (s.qualified_name, s.data_type, s.max_value, s.increment, s.owned_by) for s in catalog.sequences
        ),
        "functions": sorted(
            (f.signature, f.kind, f.returns, f.language, f.security_definer, f.volatility, tuple(f.config))
            for f in catalog.functions
        ),
        "grants": sorted(
            (g.grantee, g.object_type, g.object, g.privilege, g.grantable)
            for g in catalog.grants
            if g.object_type in ("function", "schema", "table", "sequence")
        ),
    }


def assert_same_catalog(offline: Catalog, live: Catalog) -> None:
    """Equal facts, with a message naming each difference."""
    left, right = _catalog_facts(offline), _catalog_facts(live)
    problems: list[str] = []
    for key in ("schemas", "views", "sequences", "functions", "grants"):
        if left[key] != right[key]:
            problems.append(f"{key}:\n  offline {left[key]}\n  live    {right[key]}")
    missing = sorted(set(right["tables"]) ^ set(left["tables"]))
    if missing:
        problems.append(f"tables only on one side: {missing}")
    for name in sorted(set(left["tables"]) & set(right["tables"])):
        for fact, value in left["tables"][name].items():
            other = right["tables"][name][fact]
            if value != other:
                problems.append(f"{name}.{fact}:\n  offline {value}\n  live    {other}")
    assert not problems, "offline and live catalogs differ:\n" + "\n".join(problems)


Findings = set[tuple[str, str, str, str]]


def findings_of(**source: str) -> Findings:
    """Every finding inspect_schema reports for a source, over all pages."""
    report = inspect_schema(detail="full", **source)  # type: ignore[arg-type]
    found = {(f.rule_id, f.object, f.severity.value, f.message) for f in report.findings}
    while report.next_cursor:
        report = inspect_schema(detail="full", cursor=report.next_cursor, **source)  # type: ignore[arg-type]
        found |= {(f.rule_id, f.object, f.severity.value, f.message) for f in report.findings}
    return found


def assert_same_findings(offline: Findings, live: Findings) -> None:
    assert offline == live, f"only offline: {sorted(offline - live)}\nonly live: {sorted(live - offline)}"


# -- tests ---------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_ddl_reads_like_the_live_database(postgres_db: PostgresFactory) -> None:
    url = postgres_db(POSTGRES_DDL)
    live = catalog_from_url(url)
    offline = catalog_from_ddl(POSTGRES_DDL, Dialect.POSTGRES)
    assert offline.table("public", "customers") is not None
    assert_same_catalog(offline, live)
    live_findings = findings_of(dsn=url)
    assert live_findings, "the script plants design problems; inspect_schema should report some"
    assert_same_findings(findings_of(ddl=POSTGRES_DDL, dialect="postgres"), live_findings)


@pytest.mark.mysql
def test_mariadb_ddl_reads_like_the_live_database(mysql_db: MysqlFactory) -> None:
    url = mysql_db(MYSQL_DDL)
    live = catalog_from_url(url)
    database = live.schemas[0]
    # The live database gets a generated name; tell the offline reader the same one.
    offline_ddl = f"USE `{database}`;\n" + MYSQL_DDL
    offline = catalog_from_ddl(offline_ddl, Dialect.MARIADB)
    assert offline.table(database, "orders") is not None
    assert_same_catalog(offline, live)
    live_findings = findings_of(dsn=url)
    assert live_findings
    assert_same_findings(findings_of(ddl=offline_ddl, dialect="mariadb"), live_findings)


def test_sqlite_ddl_reads_like_the_live_database(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(SQLITE_DDL)
    live = catalog_from_url(url)
    offline = catalog_from_ddl(SQLITE_DDL, Dialect.SQLITE)
    assert offline.table("main", "tracks") is not None
    assert_same_catalog(offline, live)
    live_findings = findings_of(dsn=url)
    assert live_findings
    assert_same_findings(findings_of(ddl=SQLITE_DDL, dialect="sqlite"), live_findings)


@pytest.mark.postgres
def test_postgres_less_common_statements(postgres_db: PostgresFactory) -> None:
    url = postgres_db(POSTGRES_EDGES)
    live = catalog_from_url(url)
    offline = catalog_from_ddl(POSTGRES_EDGES, Dialect.POSTGRES)
    assert any("temporary table scratchpad" in u for u in offline.unknown)
    assert_same_catalog(offline, live)
    assert_same_findings(findings_of(ddl=POSTGRES_EDGES, dialect="postgres"), findings_of(dsn=url))


@pytest.mark.mysql
def test_mariadb_less_common_statements(mysql_db: MysqlFactory) -> None:
    url = mysql_db(MYSQL_EDGES)
    live = catalog_from_url(url)
    offline_ddl = f"USE `{live.schemas[0]}`;\n" + MYSQL_EDGES
    assert_same_catalog(catalog_from_ddl(offline_ddl, Dialect.MARIADB), live)
    assert_same_findings(findings_of(ddl=offline_ddl, dialect="mariadb"), findings_of(dsn=url))


def test_sqlite_less_common_statements(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(SQLITE_EDGES)
    assert_same_catalog(catalog_from_ddl(SQLITE_EDGES, Dialect.SQLITE), catalog_from_url(url))
    assert_same_findings(findings_of(ddl=SQLITE_EDGES, dialect="sqlite"), findings_of(dsn=url))


@pytest.mark.postgres
def test_chinook_postgres_offline_equals_live(postgres_db: PostgresFactory, realworld: Any) -> None:
    text = (realworld / "chinook" / "Chinook_PostgreSql.sql").read_text()
    # the script makes and enters its own database (psql meta-commands); load only its objects
    body = text[text.index("CREATE TABLE") :]
    url = postgres_db(body)
    offline = catalog_from_ddl(text, Dialect.POSTGRES)
    assert len(offline.tables) == 11
    assert_same_catalog(offline, catalog_from_url(url))
    assert_same_findings(findings_of(ddl=text, dialect="postgres"), findings_of(dsn=url))


def test_chinook_sqlite_offline_equals_live(sqlite_db: SqliteFactory, realworld: Any) -> None:
    text = (realworld / "chinook" / "Chinook_Sqlite.sql").read_text(encoding="utf-8-sig")
    live = catalog_from_url(sqlite_db(text))
    offline = catalog_from_ddl(text, Dialect.SQLITE)
    assert len(offline.tables) == 11
    assert_same_catalog(offline, live)


def test_sakila_sqlite_offline_equals_live(sqlite_db: SqliteFactory, realworld: Any) -> None:
    text = (realworld / "sakila" / "sqlite-sakila-schema.sql").read_text()
    live = catalog_from_url(sqlite_db(text))
    offline = catalog_from_ddl(text, Dialect.SQLITE)
    assert len(offline.tables) == 16
    assert_same_catalog(offline, live)


@pytest.mark.mysql
def test_sakila_mariadb_offline_equals_live(mysql_db: MysqlFactory, realworld: Any) -> None:
    text = (realworld / "sakila" / "mysql-sakila-schema.sql").read_text()
    tables_only = _mysql_tables_and_views(text)
    url = mysql_db(tables_only)
    live = catalog_from_url(url)
    database = live.schemas[0]
    offline = catalog_from_ddl(f"USE `{database}`;\n" + tables_only, Dialect.MARIADB)
    assert len(offline.tables) == 16
    assert_same_catalog(offline, live)


def _mysql_tables_and_views(text: str) -> str:
    """Sakila's CREATE TABLE and CREATE VIEW statements (the test loader has no DELIMITER support)."""
    from dbsage.tools.sources.ddl_script import split_statements

    keep = [
        s.text
        for s in split_statements(text, Dialect.MARIADB)
        if s.text.upper().startswith(("SET ", "CREATE TABLE", "CREATE VIEW", "CREATE DEFINER"))
        and "TRIGGER" not in s.head
        and "sakila." not in s.text  # actor_info names the database `sakila`; the test database differs
    ]
    return ";\n".join(keep) + ";\n"


@pytest.mark.postgres
def test_sakila_postgres_offline_equals_live(postgres_db: PostgresFactory, realworld: Any) -> None:
    text = (realworld / "sakila" / "postgres-sakila-schema.sql").read_text()
    url = postgres_db(text)
    offline = catalog_from_ddl(text, Dialect.POSTGRES)
    assert len(offline.tables) == 21
    assert_same_catalog(offline, catalog_from_url(url))
    assert_same_findings(findings_of(ddl=text, dialect="postgres"), findings_of(dsn=url))


# -- the engines' own schema dumps, read offline ---------------------------------------------------


@pytest.mark.postgres
def test_pg_dump_of_a_database_reads_like_the_database(postgres_db: PostgresFactory) -> None:
    need(shutil.which("pg_dump") is not None, "pg_dump is not installed", "install postgresql-client")
    url = postgres_db(POSTGRES_EDGES)
    parts = urlsplit(url)
    # the password travels in the environment, not on a command line others can read
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = unquote(parts.username or "postgres")
    bare = f"{parts.scheme}://{user}@{netloc}{parts.path}"
    environment = {**os.environ, "PGPASSWORD": unquote(parts.password or "")}
    command = ["pg_dump", "--schema-only", bare]
    dump = subprocess.run(command, capture_output=True, text=True, check=True, env=environment).stdout
    assert_same_catalog(catalog_from_ddl(dump, Dialect.POSTGRES), catalog_from_url(url))


@pytest.mark.mysql
def test_mariadb_dump_of_a_database_reads_like_the_database(mysql_db: MysqlFactory) -> None:
    tool = shutil.which("mariadb-dump") or shutil.which("mysqldump")
    need(tool is not None, "mariadb-dump is not installed", "apt-get install mariadb-client")
    assert tool is not None
    url = mysql_db(MYSQL_DDL)
    live = catalog_from_url(url)
    database = live.schemas[0]
    parts = urlsplit(url)
    command = [
        tool,
        f"--host={parts.hostname or '127.0.0.1'}",
        f"--port={parts.port or 3306}",
        f"--user={unquote(parts.username or 'root')}",
        "--no-data",
        "--routines",
        "--triggers",
        "--databases",
        database,
    ]
    environment = {**os.environ, "MYSQL_PWD": unquote(parts.password or "")}  # not on the command line
    dump = subprocess.run(command, capture_output=True, text=True, check=True, env=environment).stdout
    assert "/*!" in dump  # version comments and DEFINER clauses are part of what is read
    assert_same_catalog(catalog_from_ddl(dump, Dialect.MARIADB), live)


def test_sqlite_dump_of_a_database_reads_like_the_database(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(SQLITE_DDL + "INSERT INTO artists (name) VALUES ('a');")
    connection = sqlite3.connect(Path(url.removeprefix("sqlite:///")))
    try:
        dump = "\n".join(connection.iterdump())
    finally:
        connection.close()
    assert_same_catalog(catalog_from_ddl(dump, Dialect.SQLITE), catalog_from_url(url))

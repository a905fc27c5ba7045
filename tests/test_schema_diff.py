"""Diff mode: the SQL from schema v1 to v2, applied to a real database holding v1, gives v2.

Each engine loads tests/data/schema_versions/<engine>/v1.sql and v2.sql into fresh databases; the diff of
the two DDL files is applied to the v1 database and its live catalog must equal the v2 database's (on
everything a schema change decides: columns, types, defaults, nullability, keys, checks, indexes). The
live-vs-DDL diff of the same schema must be empty, and every generated statement must parse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pglast
import pytest
import sqlglot

from dbsage.tools.catalog import Catalog, Column, Dialect, ForeignKey, Index, IndexKey, PrimaryKey, Table
from dbsage.tools.errors import InputError
from dbsage.tools.schema_diff import diff_schemas
from dbsage.tools.sources.ddl import catalog_from_ddl
from dbsage.tools.sources.ddl_script import split_statements
from dbsage.tools.sources.resolve import catalog_from_url
from tests.conftest import MysqlFactory, PostgresFactory
from tests.dbutil import run_mysql_script, run_postgres_script

VERSIONS = Path(__file__).resolve().parent / "data" / "schema_versions"
RENAME = "migration.diff_possible_rename"


def version(engine: str, name: str) -> str:
    return (VERSIONS / engine / f"{name}.sql").read_text()


def ddl_diff(engine: str, dialect: Dialect) -> tuple[str, list[Any]]:
    v1 = catalog_from_ddl(version(engine, "v1"), dialect)
    v2 = catalog_from_ddl(version(engine, "v2"), dialect)
    return diff_schemas(v1, v2, dialect)


def _expr(text: str | None) -> str | None:
    return None if text is None else "".join(ch for ch in text.lower() if ch not in ' ()`"')


def _index(i: Index) -> tuple[Any, ...]:
    keys = tuple((k.column, _expr(k.expression), k.descending) for k in i.keys)
    return (i.name, keys, tuple(i.include), i.unique, i.primary, i.method, i.constraint, _expr(i.predicate))


def table_facts(table: Table, *, positions: bool) -> dict[str, Any]:
    """What a schema change decides about a table (schema names, sizes and live counters left out)."""
    columns = sorted(table.columns, key=lambda c: c.position if positions else 0)
    return {
        "columns": [
            (c.name, c.data_type, c.nullable, _expr(c.default), c.identity, c.auto_increment, c.unsigned)
            for c in (columns if positions else sorted(columns, key=lambda c: c.name))
        ],
        "primary_key": (table.primary_key.name, table.primary_key.columns) if table.primary_key else None,
        "unique": sorted((u.name or "", tuple(u.columns)) for u in table.unique_constraints),
        "checks": sorted(c.name or "" for c in table.check_constraints),
        "foreign_keys": sorted(
            (fk.name or "", tuple(fk.columns), fk.ref_table, tuple(fk.ref_columns), fk.on_delete, fk.on_update)
            for fk in table.foreign_keys
        ),
        "indexes": sorted(_index(i) for i in table.indexes),
        "engine": table.engine,
    }


def assert_same_schema(got: Catalog, want: Catalog, *, positions: bool) -> None:
    left = {t.name: table_facts(t, positions=positions) for t in got.tables}
    right = {t.name: table_facts(t, positions=positions) for t in want.tables}
    assert sorted(left) == sorted(right)
    problems = [
        f"{name}.{fact}:\n  got  {left[name][fact]}\n  want {right[name][fact]}"
        for name in sorted(left)
        for fact in left[name]
        if left[name][fact] != right[name][fact]
    ]
    assert not problems, "\n".join(problems)


def statements(sql: str, dialect: Dialect) -> list[str]:
    return [s.text for s in split_statements(sql, dialect)]


def assert_parses(sql: str, dialect: Dialect) -> None:
    stmts = statements(sql, dialect)
    assert stmts
    for text in stmts:
        if dialect is Dialect.POSTGRES:
            pglast.parse_sql(text)
        else:
            sqlglot.parse_one(text, read="mysql", error_level=sqlglot.ErrorLevel.RAISE)


# -- offline -------------------------------------------------------------------------------------


def test_postgres_diff_orders_statements_safely() -> None:
    sql, _ = ddl_diff("postgres", Dialect.POSTGRES)
    stmts = statements(sql, Dialect.POSTGRES)
    assert sql.endswith(";\n")

    def at(fragment: str) -> int:
        hits = [i for i, s in enumerate(stmts) if fragment in s]
        assert hits, f"no statement holds {fragment!r}:\n{sql}"
        return hits[0]

    # the FK to coupons goes before the table; the new table before the FK that references it
    assert at("DROP CONSTRAINT orders_coupon_code_fkey") < at("DROP TABLE coupons")
    assert at("CREATE TABLE addresses") < at("ADD CONSTRAINT orders_shipping_address_id_fkey")
    assert at("ADD COLUMN shipping_address_id") < at("ADD CONSTRAINT orders_shipping_address_id_fkey")
    assert "ALTER TABLE orders ALTER COLUMN total SET NOT NULL" in stmts
    assert "ALTER TABLE users ALTER COLUMN email TYPE character varying(320)" in stmts
    assert "ALTER TABLE products ALTER COLUMN price TYPE numeric(12,2)" in stmts
    assert "ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'pending'" in stmts
    assert "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)" in stmts
    assert "CREATE INDEX products_tags_idx ON products USING gin (tags)" in stmts
    assert "CREATE INDEX orders_pending_created_idx ON orders (created_at DESC) WHERE status = 'pending'" in stmts
    assert "DROP INDEX products_name_idx" in stmts
    assert_parses(sql, Dialect.POSTGRES)


def test_possible_renames_are_reported_not_guessed() -> None:
    for engine, dialect, table in (("postgres", Dialect.POSTGRES, "public.users"), ("mysql", Dialect.MARIADB, "users")):
        sql, findings = ddl_diff(engine, dialect)
        renames = {f.object: f for f in findings if f.rule_id == RENAME}
        assert set(renames) == {f"{table}.full_name", table.replace("users", "audit_log")}, renames
        column = renames[f"{table}.full_name"]
        assert column.location is None and column.severity.value == "high"
        assert column.evidence["added"] == "display_name"
        assert "RENAME COLUMN full_name TO display_name" in (column.fix or "")
        assert "keeps the data" in column.message
        # the SQL itself stays the plain drop + add
        assert "DROP COLUMN full_name" in sql and "ADD COLUMN display_name" in sql
        assert "DROP TABLE audit_log" in sql and "CREATE TABLE audit_events" in sql
        assert renames[table.replace("users", "audit_log")].evidence["added"] == table.replace("users", "audit_events")


def test_a_column_of_another_type_is_no_rename_suspect() -> None:
    def catalog(col: Column) -> Catalog:
        table = Table(
            schema_name="public",
            name="t",
            columns=[Column(name="id", position=1, data_type="integer", base_type="integer"), col],
        )
        return Catalog(dialect=Dialect.POSTGRES, source="ddl", tables=[table])

    old = catalog(Column(name="a", position=2, data_type="text", base_type="text"))
    new = catalog(Column(name="b", position=2, data_type="integer", base_type="integer"))
    sql, findings = diff_schemas(old, new, Dialect.POSTGRES)
    assert findings == []
    assert sql == "ALTER TABLE t ADD COLUMN b integer;\nALTER TABLE t DROP COLUMN a;\n"


def test_identical_schemas_give_no_sql() -> None:
    for engine, dialect in (("postgres", Dialect.POSTGRES), ("mysql", Dialect.MYSQL)):
        v2 = catalog_from_ddl(version(engine, "v2"), dialect)
        assert diff_schemas(v2, v2, dialect) == ("", [])


def test_type_change_without_implicit_cast_gets_using_and_quoting() -> None:
    def catalog(type_: str, base: str) -> Catalog:
        col = Column(name="Order", position=1, data_type=type_, base_type=base)
        return Catalog(
            dialect=Dialect.POSTGRES, source="ddl", tables=[Table(schema_name="app", name="user", columns=[col])]
        )

    sql, _ = diff_schemas(catalog("text", "text"), catalog("integer", "integer"), Dialect.POSTGRES)
    assert sql == 'ALTER TABLE app."user" ALTER COLUMN "Order" TYPE integer USING "Order"::integer;\n'
    pglast.parse_sql(sql)


def test_mysql_names_compare_case_insensitively_and_fk_on_retyped_column_is_recreated() -> None:
    def catalog(parent_type: str, name: str) -> Catalog:
        parent = Table(
            schema_name="shop",
            name=name,
            columns=[Column(name="ID", position=1, data_type=parent_type, base_type="bigint", nullable=False)],
            primary_key=PrimaryKey(name="PRIMARY", columns=["ID"]),
            indexes=[
                Index(name="PRIMARY", keys=[IndexKey(column="ID")], unique=True, primary=True, constraint="PRIMARY")
            ],
        )
        child = Table(
            schema_name="shop",
            name="child",
            columns=[Column(name="parent_id", position=1, data_type=parent_type, base_type="bigint")],
            foreign_keys=[
                ForeignKey(
                    name="child_parent_fk",
                    columns=["parent_id"],
                    ref_schema="shop",
                    ref_table=name,
                    ref_columns=["ID"],
                    on_delete="RESTRICT",
                    on_update="RESTRICT",
                )
            ],
            indexes=[Index(name="child_parent_fk", keys=[IndexKey(column="parent_id")])],
        )
        return Catalog(dialect=Dialect.MYSQL, source="ddl", tables=[parent, child])

    assert diff_schemas(catalog("int(11)", "Parent"), catalog("int(11)", "parent"), Dialect.MYSQL)[0] == ""
    sql, _ = diff_schemas(catalog("int(11)", "parent"), catalog("bigint(20)", "parent"), Dialect.MYSQL)
    stmts = statements(sql, Dialect.MYSQL)
    assert stmts[0] == "ALTER TABLE child DROP FOREIGN KEY child_parent_fk"
    assert stmts[-1].startswith(
        "ALTER TABLE child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES parent"
    )
    assert "ALTER TABLE parent MODIFY COLUMN ID bigint(20) NOT NULL" in stmts
    assert_parses(sql, Dialect.MYSQL)


def _one_table(dialect: Dialect, *columns: Column, comment: str | None = None, rows: int | None = None) -> Catalog:
    table = Table(schema_name="app", name="t", columns=list(columns), comment=comment, row_estimate=rows)
    return Catalog(dialect=dialect, source="live" if rows is not None else "ddl", tables=[table])


def test_not_null_column_without_default_is_called_out() -> None:
    id_col = Column(name="id", position=1, data_type="integer", base_type="integer", nullable=False)
    added = Column(name="code", position=2, data_type="text", base_type="text", nullable=False)
    sql, findings = diff_schemas(
        _one_table(Dialect.POSTGRES, id_col), _one_table(Dialect.POSTGRES, id_col, added), Dialect.POSTGRES
    )
    assert sql == "ALTER TABLE app.t ADD COLUMN code text NOT NULL;\n"
    assert [(f.rule_id, f.object, f.location) for f in findings] == [
        ("migration.diff_not_null_without_default", "app.t.code", None)
    ]
    # a default, or a live table known to be empty, needs no warning
    with_default = added.model_copy(update={"default": "''"})
    assert (
        diff_schemas(
            _one_table(Dialect.POSTGRES, id_col), _one_table(Dialect.POSTGRES, id_col, with_default), Dialect.POSTGRES
        )[1]
        == []
    )
    empty = _one_table(Dialect.POSTGRES, id_col, rows=0)
    assert diff_schemas(empty, _one_table(Dialect.POSTGRES, id_col, added), Dialect.POSTGRES)[1] == []


def test_comments_are_diffed() -> None:
    plain = Column(name="c", position=1, data_type="text", base_type="text")
    noted = plain.model_copy(update={"comment": "it's the c"})
    sql, _ = diff_schemas(
        _one_table(Dialect.POSTGRES, plain), _one_table(Dialect.POSTGRES, noted, comment="T"), Dialect.POSTGRES
    )
    assert sql == "COMMENT ON TABLE app.t IS 'T';\nCOMMENT ON COLUMN app.t.c IS 'it''s the c';\n"
    sql, _ = diff_schemas(_one_table(Dialect.POSTGRES, noted), _one_table(Dialect.POSTGRES, plain), Dialect.POSTGRES)
    assert sql == "COMMENT ON COLUMN app.t.c IS NULL;\n"
    pglast.parse_sql(sql)
    plain_my = plain.model_copy(update={"data_type": "varchar(10)", "base_type": "varchar"})
    noted_my = plain_my.model_copy(update={"comment": "a\\b"})
    sql, _ = diff_schemas(
        _one_table(Dialect.MYSQL, plain_my), _one_table(Dialect.MYSQL, noted_my, comment="T"), Dialect.MYSQL
    )
    assert sql == "ALTER TABLE t MODIFY COLUMN c varchar(10) NULL COMMENT 'a\\\\b';\nALTER TABLE t COMMENT = 'T';\n"


def test_a_table_in_a_new_schema_gets_its_schema_first() -> None:
    col = Column(name="id", position=1, data_type="integer", base_type="integer")
    old = Catalog(dialect=Dialect.POSTGRES, source="ddl", schemas=["public"])
    new = Catalog(
        dialect=Dialect.POSTGRES, source="ddl", tables=[Table(schema_name="audit", name="log", columns=[col])]
    )
    sql, _ = diff_schemas(old, new, Dialect.POSTGRES)
    assert sql == "CREATE SCHEMA IF NOT EXISTS audit;\nCREATE TABLE audit.log (\n    id integer\n);\n"
    pglast.parse_sql(sql)


def test_bad_dialects_are_refused_with_a_hint() -> None:
    pg = catalog_from_ddl(version("postgres", "v1"), Dialect.POSTGRES)
    with pytest.raises(InputError, match="read as postgres"):
        diff_schemas(pg, pg, Dialect.MYSQL)
    with pytest.raises(InputError, match="not SQLite"):
        diff_schemas(pg, pg, Dialect.SQLITE)


# -- live ----------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_v1_plus_diff_equals_v2(postgres_db: PostgresFactory) -> None:
    sql, _ = ddl_diff("postgres", Dialect.POSTGRES)
    migrated = postgres_db(version("postgres", "v1"))
    run_postgres_script(migrated, sql)
    direct = postgres_db(version("postgres", "v2"))
    got, want = catalog_from_url(migrated), catalog_from_url(direct)
    # PostgreSQL appends added columns at the end: compare columns by name
    assert_same_schema(got, want, positions=False)
    # the diff itself sees no difference between the two live schemas, nor between live and DDL v2
    assert diff_schemas(got, want, Dialect.POSTGRES) == ("", [])
    assert diff_schemas(want, catalog_from_ddl(version("postgres", "v2"), Dialect.POSTGRES), Dialect.POSTGRES) == (
        "",
        [],
    )
    # and live v1 -> DDL v2 gives the same SQL as DDL -> DDL
    live_v1 = catalog_from_url(postgres_db(version("postgres", "v1")))
    assert (
        diff_schemas(live_v1, catalog_from_ddl(version("postgres", "v2"), Dialect.POSTGRES), Dialect.POSTGRES)[0] == sql
    )


@pytest.mark.mysql
def test_mariadb_v1_plus_diff_equals_v2(mysql_db: MysqlFactory) -> None:
    sql, _ = ddl_diff("mysql", Dialect.MARIADB)
    assert_parses(sql, Dialect.MARIADB)
    migrated = mysql_db(version("mysql", "v1"))
    run_mysql_script(migrated, sql)
    direct = mysql_db(version("mysql", "v2"))
    got, want = catalog_from_url(migrated), catalog_from_url(direct)
    # ADD COLUMN ... AFTER keeps the column order of v2
    assert_same_schema(got, want, positions=True)
    assert diff_schemas(got, want, Dialect.MARIADB) == ("", [])
    assert diff_schemas(want, catalog_from_ddl(version("mysql", "v2"), Dialect.MARIADB), Dialect.MARIADB) == ("", [])
    live_v1 = catalog_from_url(mysql_db(version("mysql", "v1")))
    assert diff_schemas(live_v1, catalog_from_ddl(version("mysql", "v2"), Dialect.MARIADB), Dialect.MARIADB)[0] == sql


# -- sample databases: the live schema and its DDL must not differ --------------------------------


def _no_difference(live: Catalog, ddl: Catalog, dialect: Dialect) -> None:
    for current, target in ((live, ddl), (ddl, live)):
        sql, findings = diff_schemas(current, target, dialect)
        assert sql == "", sql
        assert findings == []


@pytest.mark.postgres
@pytest.mark.parametrize("sample", ["sakila/postgres-sakila-schema.sql", "chinook"])
def test_postgres_samples_live_and_ddl_do_not_differ(postgres_db: PostgresFactory, realworld: Any, sample: str) -> None:
    if sample == "chinook":
        text = (realworld / "chinook" / "Chinook_PostgreSql.sql").read_text()
        url = postgres_db(text[text.index("CREATE TABLE") :])
    else:  # (Pagila needs PostgreSQL 18: uuidv7(), VIRTUAL columns; the test server is 15)
        text = (realworld / sample).read_text()
        url = postgres_db(text)
    ddl = catalog_from_ddl(text, Dialect.POSTGRES)
    assert len(ddl.tables) >= 11
    _no_difference(catalog_from_url(url), ddl, Dialect.POSTGRES)


@pytest.mark.mysql
def test_mariadb_samples_live_and_ddl_do_not_differ(mysql_db: MysqlFactory, realworld: Any) -> None:
    for text in (
        _tables_only((realworld / "sakila" / "mysql-sakila-schema.sql").read_text()),
        _tables_only((realworld / "chinook" / "Chinook_MySql.sql").read_text(encoding="utf-8-sig")),
    ):
        url = mysql_db(text)
        live = catalog_from_url(url)
        ddl = catalog_from_ddl(text, Dialect.MARIADB)
        assert len(ddl.tables) >= 11
        _no_difference(live, ddl, Dialect.MARIADB)


def _tables_only(text: str) -> str:
    keep = [
        s.text
        for s in split_statements(text, Dialect.MARIADB)
        if s.text.upper().startswith(("SET ", "CREATE TABLE", "ALTER TABLE", "CREATE INDEX", "CREATE UNIQUE INDEX"))
    ]
    return ";\n".join(keep) + ";\n"

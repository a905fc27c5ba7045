"""plan_postgres on real PostgreSQL: each rewrite's steps reach the original migration's end state, and the
rollback SQL of the reversible steps, run in reverse, restores the original schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pglast
import psycopg
import pytest

from dbsage.tools.catalog import Dialect
from dbsage.tools.findings import Severity
from dbsage.tools.migration_lint_postgres import lint_postgres
from dbsage.tools.migration_model import MigrationContext, Phase, Step
from dbsage.tools.migration_plan_postgres import plan_postgres
from dbsage.tools.migration_source import read_migrations
from dbsage.tools.sources.guard import LiveDatabase
from dbsage.tools.sources.live import load_catalog
from tests.conftest import PostgresFactory

ROWS = 20000
SHOP = f"""
CREATE TABLE cust (id bigint PRIMARY KEY, name text);
INSERT INTO cust SELECT g, 'c' || g FROM generate_series(1, 2000) g;
CREATE TABLE orders (
    id bigint PRIMARY KEY, cust_id bigint, code text, qty int NOT NULL DEFAULT 1, note varchar(40),
    amount integer, legacy text, created timestamptz DEFAULT now());
INSERT INTO orders SELECT g, 1 + g % 2000, 'o' || g, g % 7, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END,
    g, 'l', now() FROM generate_series(1, {ROWS}) g;
CREATE INDEX orders_amount_idx ON orders (amount);
CREATE TABLE logs (msg text, level int);
INSERT INTO logs SELECT 'm' || g, g % 5 FROM generate_series(1, {ROWS}) g;
CREATE TYPE mood AS ENUM ('sad', 'ok');
"""

FACTS = """
SELECT 'column', c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p') AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint', c.relname || '.' || k.conname || ' ' || pg_get_constraintdef(k.oid)
       || CASE WHEN k.convalidated THEN '' ELSE ' NOT VALID' END
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
UNION ALL
SELECT 'index', pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
UNION ALL
SELECT 'relation', c.relkind::text || ' ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p', 'S', 'm')
UNION ALL
SELECT 'trigger', tgname FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'function', p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
UNION ALL
SELECT 'enum', t.typname || '.' || e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
"""


def facts(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {f"{kind}: {text}" for kind, text in conn.execute(FACTS).fetchall()}


def value(url: str, sql: str) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None


def plan(url: str | None, sql: str, version: int = 150000) -> tuple[list[Step], list[str]]:
    catalog = None
    if url is not None:
        with LiveDatabase.open(url) as db:
            catalog = load_catalog(db)
    script = read_migrations(None, Dialect.POSTGRES, sql=sql)
    return plan_postgres(script, MigrationContext(Dialect.POSTGRES, version, catalog=catalog))


ACKNOWLEDGED = {"migration.rename_table", "migration.rename_column", "migration.drop_table", "migration.drop_column",
                "migration.statements_after_access_exclusive"}
SERIOUS = {Severity.MEDIUM, Severity.HIGH, Severity.BLOCKER}


def relint(steps: list[Step], url: str | None = None, *, wrap: bool = True) -> list[str]:
    """Medium-or-worse findings of A1's linter on the plan, concatenated as a runner applies it."""
    catalog = None
    if url is not None:
        with LiveDatabase.open(url) as db:
            catalog = load_catalog(db)
    text = "\n".join(f"BEGIN;\n{s.sql}\nCOMMIT;" if wrap and s.transactional else s.sql for s in steps)
    ctx = MigrationContext(Dialect.POSTGRES, 150000, catalog=catalog)
    findings, suppressed = lint_postgres(read_migrations(None, Dialect.POSTGRES, sql=text), ctx)
    assert {s.rule_id for s in suppressed} <= ACKNOWLEDGED
    # a missing index behind a new foreign key is about the schema the migration asks for, which the plan keeps
    # as asked (the original migration carries the same finding); migration.index_foreign_keys=1 adds the index
    return [f"{f.severity} {f.rule_id}: {f.message}" for f in findings if f.severity in SERIOUS
            and f.rule_id != "migration.foreign_key_without_index"]


def _statements(sql: str) -> list[str]:
    return [s for s in pglast.split(sql)]


def run_step(conn: psycopg.Connection[Any], step: Step) -> int:
    """Run one step as a runner would; returns how many times it ran (batches repeat until no row changes)."""
    for attempt in range(1, 10_000):
        changed = 0
        if step.transactional:
            with conn.transaction(), conn.cursor() as cur:
                for statement in _statements(step.sql):
                    cur.execute(statement.encode())
                changed = cur.rowcount
        else:
            with conn.cursor() as cur:
                for statement in _statements(step.sql):
                    cur.execute(statement.encode())
                    changed = cur.rowcount
        if step.repeat == "once" or changed <= 0:
            return attempt
    raise AssertionError(f"step {step.number} never converged")


def run_sql(conn: psycopg.Connection[Any], sql: str) -> None:
    for statement in _statements(sql):
        conn.execute(statement.encode())


def apply_and_roll_back(url: str, steps: list[Step]) -> set[str]:
    """Apply the steps before the first irreversible schema change, then their rollbacks in reverse."""
    with psycopg.connect(url, autocommit=True) as conn:
        applied: list[Step] = []
        for step in steps:
            if step.irreversible and step.lock != "ROW EXCLUSIVE":
                break
            run_step(conn, step)
            applied.append(step)
        for step in reversed(applied):
            if step.rollback_sql:
                run_sql(conn, step.rollback_sql)
    return facts(url)


def apply_all(url: str, steps: list[Step]) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return sum(run_step(conn, step) for step in steps)


def check_rewrite(postgres_db: PostgresFactory, migration: str, *, data: str | None = None,
                  setup: str = SHOP, extra: frozenset[str] = frozenset()) -> tuple[list[Step], list[str]]:
    """The plan ends where the migration ends, and its rollback returns to where it started."""
    planned = postgres_db(setup)
    original = postgres_db(setup)
    before = facts(planned)
    steps, notes = plan(planned, migration)
    assert steps, notes
    for step in steps:  # every generated statement parses with PostgreSQL's own parser
        pglast.parse_sql(step.sql)
        if step.rollback_sql:
            pglast.parse_sql(step.rollback_sql)
        assert step.sql.startswith("SET lock_timeout = '2000ms';\nSET statement_timeout = ")
    assert [PHASE_ORDER.index(s.phase) for s in steps] == sorted(PHASE_ORDER.index(s.phase) for s in steps)
    assert relint(steps, planned) == [] and relint(steps, wrap=False) == []
    restored = apply_and_roll_back(planned, steps)
    assert restored == before, f"rollback left: {sorted(restored ^ before)}"
    runs = apply_all(planned, steps)
    assert runs >= len(steps)
    with psycopg.connect(original, autocommit=True) as conn:
        conn.execute(migration.encode())
    got, want = facts(planned) - extra, facts(original)
    assert got == want, f"plan only: {sorted(got - want)}\noriginal only: {sorted(want - got)}"
    if data:
        assert value(planned, data) == value(original, data)
    return steps, notes


PHASE_ORDER = [Phase.EXPAND, Phase.BACKFILL, Phase.SWITCH, Phase.CONTRACT]


def _kinds(steps: list[Step]) -> list[tuple[str, bool, str | None]]:
    return [(s.phase.value, s.transactional, s.lock) for s in steps]


def test_set_not_null_after_backfill(postgres_db: PostgresFactory) -> None:
    steps, _ = check_rewrite(
        postgres_db,
        "UPDATE orders SET note = 'none' WHERE note IS NULL;\nALTER TABLE orders ALTER COLUMN note SET NOT NULL;",
        data="SELECT count(*) FILTER (WHERE note = 'none') FROM orders")
    sqls = [s.sql for s in steps]
    assert any("CHECK (note IS NOT NULL) NOT VALID" in s for s in sqls)
    validate = next(s for s in steps if "VALIDATE CONSTRAINT" in s.sql)
    assert validate.lock == "SHARE UPDATE EXCLUSIVE" and validate.statement_timeout_ms == 0
    batch = next(s for s in steps if s.repeat == "until_no_rows")
    assert batch.phase is Phase.BACKFILL and "LIMIT 5000" in batch.sql and batch.irreversible
    assert steps.index(batch) < steps.index(validate)  # the backfill runs before the VALIDATE that needs it


def test_foreign_key_and_check_become_not_valid_then_validate(postgres_db: PostgresFactory) -> None:
    steps, _ = check_rewrite(
        postgres_db,
        "ALTER TABLE orders ADD CONSTRAINT orders_cust_fk FOREIGN KEY (cust_id) REFERENCES cust (id), "
        "ADD CONSTRAINT qty_nonneg CHECK (qty >= 0);")
    assert [s.lock for s in steps] == ["SHARE ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "ACCESS EXCLUSIVE",
                                       "SHARE UPDATE EXCLUSIVE"]
    assert steps[0].lock_target == "public.orders, public.cust"
    assert "NOT VALID" in steps[0].sql and "NOT VALID" in steps[2].sql


def test_foreign_key_index_on_request(postgres_db: PostgresFactory) -> None:
    from dbsage.tools.rules.registry import RuleOptions

    url = postgres_db(SHOP)
    with LiveDatabase.open(url) as db:
        catalog = load_catalog(db)
    options = RuleOptions(thresholds={"migration.index_foreign_keys": 1})
    ctx = MigrationContext(Dialect.POSTGRES, 150000, catalog=catalog, options=options)
    sql = "ALTER TABLE orders ADD CONSTRAINT orders_cust_fk FOREIGN KEY (cust_id) REFERENCES cust (id);"
    steps, _ = plan_postgres(read_migrations(None, Dialect.POSTGRES, sql=sql), ctx)
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_cust_id_idx" in steps[0].sql
    assert not steps[0].transactional and "NOT VALID" in steps[1].sql
    with psycopg.connect(url, autocommit=True) as conn:
        for step in steps:
            run_step(conn, step)
    assert "index: CREATE INDEX orders_cust_id_idx ON public.orders USING btree (cust_id)" in facts(url)


def test_unique_and_primary_key_use_a_concurrent_index(postgres_db: PostgresFactory) -> None:
    steps, _ = check_rewrite(postgres_db,
                             "ALTER TABLE orders ADD UNIQUE (code);\nALTER TABLE logs ADD PRIMARY KEY (msg);")
    builds = [s for s in steps if "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS" in s.sql]
    assert len(builds) == 2 and not any(s.transactional for s in builds)
    assert all(s.rollback_sql and "DROP INDEX CONCURRENTLY IF EXISTS" in s.rollback_sql for s in builds)
    assert any("UNIQUE USING INDEX orders_code_key" in s.sql for s in steps)
    assert any("PRIMARY KEY USING INDEX logs_pkey" in s.sql for s in steps)
    assert any("CHECK (msg IS NOT NULL) NOT VALID" in s.sql for s in steps)  # the PK's NOT NULL without a scan


def test_index_builds_and_drops_run_concurrently(postgres_db: PostgresFactory) -> None:
    steps, _ = check_rewrite(postgres_db, "CREATE INDEX ON orders (cust_id);\nDROP INDEX orders_amount_idx;\n"
                                          "REINDEX INDEX orders_pkey;")
    assert [(s.phase.value, s.transactional) for s in steps] == [("expand", False), ("expand", False),
                                                                 ("contract", False)]
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_cust_id_idx" in steps[0].sql
    assert "REINDEX (CONCURRENTLY) INDEX orders_pkey" in steps[1].sql
    rollback = steps[2].rollback_sql or ""
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_amount_idx" in rollback


def test_add_column_with_volatile_default_is_backfilled(postgres_db: PostgresFactory) -> None:
    steps, _ = check_rewrite(
        postgres_db, "ALTER TABLE orders ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();\n"
                     "ALTER TABLE orders ADD COLUMN seq_no bigserial;",
        data="SELECT count(DISTINCT token) + count(DISTINCT seq_no) FROM orders")
    assert steps[0].sql.endswith("ADD COLUMN token uuid;")
    assert sum(s.repeat == "until_no_rows" for s in steps) == 2


def test_safe_statements_stay_single_steps(postgres_db: PostgresFactory) -> None:
    migration = (
        "CREATE TABLE shipments (id bigint PRIMARY KEY, order_id bigint NOT NULL, state mood);\n"
        "CREATE INDEX ON shipments (order_id);\n"
        "ALTER TABLE shipments ADD CONSTRAINT shipments_order_fk FOREIGN KEY (order_id) REFERENCES orders (id);\n"
        "ALTER TABLE orders ADD COLUMN shipped boolean DEFAULT false;\n"
        "ALTER TABLE orders ALTER COLUMN note TYPE varchar(80);\n"
        "ALTER TABLE orders ALTER COLUMN legacy TYPE text;\n"
        "CREATE TYPE size AS ENUM ('s', 'm');\n"
    )
    steps, _ = check_rewrite(postgres_db, migration)
    assert len(steps) == 7 and all(s.phase is Phase.EXPAND and s.rollback_sql for s in steps)
    assert "CONCURRENTLY" not in steps[1].sql  # an index on a table this migration creates is safe as written


def test_type_change_expands_swaps_and_contracts(postgres_db: PostgresFactory) -> None:
    steps, _ = check_rewrite(
        postgres_db, "ALTER TABLE orders ALTER COLUMN amount TYPE bigint;\n"
                     "ALTER TABLE orders ALTER COLUMN qty TYPE numeric(10, 2) USING qty * 1.5;",
        data="SELECT sum(amount)::text || '/' || sum(qty)::text FROM orders")
    phases = [s.phase for s in steps]
    assert Phase.SWITCH in phases and phases[-1] is Phase.CONTRACT
    swap = [s for s in steps if s.phase is Phase.SWITCH and "RENAME COLUMN" in s.sql]
    assert len(swap) == 2 and all(s.rollback_sql and "RENAME COLUMN" in s.rollback_sql for s in swap)
    assert any("CONCURRENTLY IF NOT EXISTS orders_amount_new_idx ON public.orders (amount_new)" in s.sql
               for s in steps)
    last = steps[-1]
    assert last.irreversible and last.rollback_sql is None and "DROP COLUMN IF EXISTS qty_deprecated" in last.sql


def test_type_change_trigger_keeps_both_columns_in_step(postgres_db: PostgresFactory) -> None:
    url = postgres_db(SHOP)
    steps, _ = plan(url, "ALTER TABLE orders ALTER COLUMN amount TYPE bigint;")
    with psycopg.connect(url, autocommit=True) as conn:
        for step in steps:
            if step.phase is Phase.CONTRACT:
                break
            run_step(conn, step)
            if step.phase is Phase.EXPAND and "CREATE TRIGGER" in step.sql:  # old code writes the old column
                conn.execute("INSERT INTO orders (id, amount) VALUES (900001, 41)")
                conn.execute("UPDATE orders SET amount = 42 WHERE id = 1")
        # after the swap the application writes the new type under the old name; the deprecated column follows
        conn.execute("INSERT INTO orders (id, amount) VALUES (900002, 5000000000)")
        conn.execute("UPDATE orders SET amount = 43 WHERE id = 2")
        rows = conn.execute("SELECT id, amount, amount_deprecated FROM orders WHERE id IN (1, 2, 900001, 900002) "
                            "ORDER BY id").fetchall()
    assert rows == [(1, 42, 42), (2, 43, 43), (900001, 41, 41), (900002, 5000000000, None)]


def test_rename_column_expand_contract(postgres_db: PostgresFactory) -> None:
    steps, notes = check_rewrite(
        postgres_db,
        "ALTER TABLE orders RENAME COLUMN qty TO quantity;\nALTER TABLE orders RENAME COLUMN note TO remark;",
        data="SELECT sum(quantity)::text || count(remark)::text FROM orders")
    assert any("deploy the application that reads and writes quantity" in n for n in notes)
    assert any("RENAME COLUMN qty TO qty_deprecated" in s.sql for s in steps)
    assert sum(s.irreversible for s in steps) == 2


def test_rename_column_old_and_new_code_both_work(postgres_db: PostgresFactory) -> None:
    url = postgres_db(SHOP)
    steps, _ = plan(url, "ALTER TABLE orders RENAME COLUMN qty TO quantity;")
    with psycopg.connect(url, autocommit=True) as conn:
        for step in [s for s in steps if s.phase is not Phase.CONTRACT]:
            run_step(conn, step)
        conn.execute("INSERT INTO orders (id, qty) VALUES (900001, 3)")  # old code
        conn.execute("INSERT INTO orders (id, quantity) VALUES (900002, 4)")  # new code
        conn.execute("UPDATE orders SET quantity = 9 WHERE id = 1")
        rows = conn.execute("SELECT id, qty, quantity FROM orders WHERE id IN (1, 900001, 900002) ORDER BY id")
        assert rows.fetchall() == [(1, 9, 9), (900001, 3, 3), (900002, 4, 4)]


@pytest.fixture
def plan_role(postgres_server_url: str) -> Iterator[str]:
    """A throwaway role, dropped after the test's databases (request it before postgres_db)."""
    role = f"a2_plan_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} NOLOGIN")
    yield role
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")


def test_rename_table_keeps_a_view(plan_role: str, postgres_db: PostgresFactory) -> None:
    role = plan_role
    setup = SHOP + f"GRANT SELECT, INSERT ON logs TO {role};"
    steps, _ = check_rewrite(postgres_db, "ALTER TABLE logs RENAME TO events;", setup=setup)
    assert "CREATE VIEW logs WITH (security_invoker = true) AS SELECT * FROM events" in steps[0].sql
    assert f"GRANT INSERT ON logs TO {role}" in steps[0].sql
    assert steps[1].phase is Phase.CONTRACT and "DROP VIEW" in steps[1].sql
    url = postgres_db(setup)
    with psycopg.connect(url, autocommit=True) as conn:
        run_step(conn, plan(url, "ALTER TABLE logs RENAME TO events;")[0][0])
        conn.execute(f"SET ROLE {role}")  # old code, through the old name, with its own privileges
        conn.execute("INSERT INTO logs (msg, level) VALUES ('through the view', 9)")
        assert conn.execute("SELECT count(*) FROM logs WHERE level = 9").fetchone() == (1,)
        conn.execute("RESET ROLE")
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (ROWS + 1,)


def test_drops_get_a_deprecated_safety_net(postgres_db: PostgresFactory) -> None:
    steps, _ = check_rewrite(postgres_db, "ALTER TABLE orders DROP COLUMN legacy;\nDROP TABLE logs;")
    assert [(s.phase.value, s.irreversible, s.rollback_sql is None) for s in steps] == [
        ("contract", False, False), ("contract", True, True), ("contract", False, False), ("contract", True, True)]
    assert "RENAME TO logs_deprecated" in steps[2].sql


def test_big_update_and_delete_run_in_key_batches(postgres_db: PostgresFactory) -> None:
    steps, notes = check_rewrite(
        postgres_db, "UPDATE orders SET qty = 0 WHERE cust_id < 500;\nDELETE FROM logs WHERE level = 3;",
        data="SELECT (SELECT sum(qty) FROM orders)::text || '/' || (SELECT count(*) FROM logs)::text")
    assert "id = ANY (ARRAY(SELECT id FROM orders WHERE" in steps[0].sql
    assert "ctid = ANY (ARRAY(SELECT ctid FROM logs" in steps[1].sql
    assert any("no primary key known" in n for n in notes)


def test_self_referencing_update_is_not_batched(postgres_db: PostgresFactory) -> None:
    steps, notes = plan(None, "UPDATE orders SET qty = qty + 1;")
    assert len(steps) == 1 and steps[0].repeat == "once" and steps[0].irreversible
    assert any("reads the columns it writes" in n for n in notes)


def test_vacuum_full_and_cluster_are_left_out_with_a_note() -> None:
    steps, notes = plan(None, "VACUUM FULL orders;\nCLUSTER orders USING orders_pkey;\nVACUUM ANALYZE orders;")
    assert len(steps) == 1 and not steps[0].transactional
    assert sum("pg_repack" in n for n in notes) == 2


def test_enum_value_is_irreversible_and_offline_type_change_is_rewritten() -> None:
    steps, notes = plan(None, "ALTER TYPE mood ADD VALUE 'glad' AFTER 'ok';\n"
                              "ALTER TABLE t ALTER COLUMN c TYPE bigint;")
    assert steps[0].irreversible and steps[0].rollback_sql is None
    assert any("current type is unknown" in n for n in notes)
    assert any(s.phase is Phase.SWITCH for s in steps)


def test_offline_types_come_from_create_table_earlier_in_the_script() -> None:
    steps, _ = plan(None, "CREATE TABLE t (id int PRIMARY KEY, c varchar(10) NOT NULL);\n"
                          "INSERT INTO t VALUES (1, 'a');\n"
                          "ALTER TABLE t ALTER COLUMN c TYPE varchar(20);")
    alter = next(s for s in steps if "varchar(20)" in s.sql)
    assert alter.rollback_sql and "TYPE character varying(10)" in alter.rollback_sql


def test_plan_order_respects_a_drop_then_recreate() -> None:
    steps, _ = plan(None, "DROP INDEX orders_x;\nCREATE INDEX orders_x ON orders (b);")
    assert steps[0].sql.rstrip().endswith("DROP INDEX CONCURRENTLY orders_x;")
    assert steps[1].phase is Phase.CONTRACT


@pytest.mark.parametrize("version, concurrent", [(150000, True), (130000, False)])
def test_detach_partition_concurrently_from_14(version: int, concurrent: bool) -> None:
    steps, _ = plan(None, "ALTER TABLE m DETACH PARTITION m_2020;", version=version)
    assert ("CONCURRENTLY" in steps[0].sql) is concurrent and steps[0].transactional is not concurrent


def test_relinting_a_mixed_plan_finds_no_hazard() -> None:
    migration = """
CREATE TABLE acct (id bigint PRIMARY KEY, email text NOT NULL);
CREATE INDEX ON acct (email);
ALTER TABLE orders ALTER COLUMN note SET NOT NULL;
ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (cust) REFERENCES cust (id);
ALTER TABLE orders ADD UNIQUE (code), ADD CONSTRAINT ck CHECK (qty > 0);
ALTER TABLE orders ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
CREATE INDEX ON orders (created);
DROP INDEX orders_x;
ALTER TABLE orders DROP COLUMN legacy;
DROP TABLE old_stuff;
UPDATE orders SET flag = 1 WHERE flag IS NULL;
DELETE FROM orders WHERE created < '2020-01-01';
VACUUM FULL orders;
ALTER TABLE orders ALTER COLUMN amount TYPE bigint;
ALTER TABLE orders RENAME TO purchases;
ALTER TABLE logs ADD PRIMARY KEY (msg);
REINDEX INDEX foo;
ALTER TABLE m DETACH PARTITION p;
ALTER TABLE purchases ADD COLUMN s bigserial;
"""
    script = read_migrations(None, Dialect.POSTGRES, sql=migration)
    ctx = MigrationContext(Dialect.POSTGRES, 150000)
    original, _ = lint_postgres(script, ctx)
    assert sum(f.severity in SERIOUS for f in original) >= 15
    steps, _ = plan_postgres(script, ctx)
    assert relint(steps) == [] and relint(steps, wrap=False) == []
    # the renamed table's earlier steps (still naming `orders`) all run before the rename
    rename = next(s for s in steps if "RENAME TO purchases" in s.sql)
    assert not any(("orders" in s.sql.split("\n", 2)[2]) for s in steps[rename.number:]
                   if "DROP VIEW" not in s.sql)


def test_partitioned_tables_keep_what_postgres_cannot_do_online(postgres_db: PostgresFactory) -> None:
    url = postgres_db(SHOP + """
CREATE TABLE ev (id bigint, at date, cust_id bigint) PARTITION BY RANGE (at);
CREATE TABLE ev_2020 PARTITION OF ev FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
""")
    steps, notes = plan(url, "ALTER TABLE ev ADD CONSTRAINT ev_cust_fk FOREIGN KEY (cust_id) REFERENCES cust (id);\n"
                             "CREATE INDEX ON ev (cust_id);\nALTER TABLE ev ADD UNIQUE (id, at);")
    assert len(steps) == 3 and not any("CONCURRENTLY" in s.sql or "NOT VALID" in s.sql for s in steps)
    assert sum("partitioned" in n for n in notes) == 3
    with psycopg.connect(url, autocommit=True) as conn:
        for step in steps:
            run_step(conn, step)


SAKILA_MIGRATION = """
ALTER TABLE customer ALTER COLUMN email SET NOT NULL;
ALTER TABLE customer ADD CONSTRAINT customer_email_key UNIQUE (email);
ALTER TABLE customer RENAME COLUMN active TO is_active;
ALTER TABLE film ALTER COLUMN length TYPE integer;
CREATE INDEX ON payment (amount);
ALTER TABLE payment ADD CONSTRAINT payment_cust_fk2 FOREIGN KEY (customer_id) REFERENCES customer (customer_id);
ALTER TABLE address RENAME TO addresses;
UPDATE film SET rental_duration = 5 WHERE rental_duration IS NULL;
ALTER TABLE staff DROP COLUMN picture;
"""


def test_sample_databases(postgres_db: PostgresFactory, realworld: Any) -> None:
    """The sample schemas plan without error offline, and a migration on live Sakila applies as planned."""
    for path in ("pagila/pagila-schema.sql", "sakila/postgres-sakila-schema.sql", "chinook/Chinook_PostgreSql.sql"):
        script = read_migrations([str(realworld / path)], Dialect.POSTGRES)
        steps, _ = plan_postgres(script, MigrationContext(Dialect.POSTGRES, 150000))
        assert len(steps) >= len(script.statements) - 5
        for step in steps:
            if len(step.sql) < 20000:
                pglast.parse_sql(step.sql)
    url = postgres_db((realworld / "sakila/postgres-sakila-schema.sql").read_text(encoding="utf-8"))
    steps, notes = plan(url, SAKILA_MIGRATION)
    # views depend on film.length and customer.active: the type change and the rename stay plain statements
    assert any("views depend on it" in n and "film_list" in n for n in notes)
    assert any("customer_list" in n for n in notes)
    apply_all(url, [s for s in steps if "film" not in (s.lock_target or "") or "length" not in s.sql])
    assert value(url, "SELECT count(*) FROM pg_views WHERE viewname = 'address'") == 0
    assert value(url, "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'customer' "
                      "AND column_name = 'email'") == "NO"


def test_dropped_constraints_come_back_and_typed_batches(postgres_db: PostgresFactory) -> None:
    setup = SHOP + ("ALTER TABLE orders ADD CONSTRAINT qty_ck CHECK (qty >= 0), ADD CONSTRAINT orders_cust_fk "
                    "FOREIGN KEY (cust_id) REFERENCES cust (id) ON DELETE CASCADE;")
    steps, _ = check_rewrite(
        postgres_db, "ALTER TABLE orders DROP CONSTRAINT qty_ck, DROP CONSTRAINT orders_cust_fk;\n"
                     "UPDATE orders SET code = 5 WHERE id <= 7000;\nTRUNCATE logs;",
        setup=setup, data="SELECT count(*) FILTER (WHERE code = '5') FROM orders")
    drops = [s for s in steps if "DROP CONSTRAINT" in s.sql]
    assert len(drops) == 2 and all(s.phase is Phase.CONTRACT and s.rollback_sql for s in drops)
    assert "ON DELETE CASCADE NOT VALID" in (drops[1].rollback_sql or "")
    assert "CAST(5 AS text)" in steps[0].sql and steps[0].repeat == "until_no_rows"
    assert steps[-1].irreversible and "TRUNCATE" in steps[-1].sql


def test_foreign_key_index_for_new_tables_when_asked() -> None:
    from dbsage.tools.rules.registry import RuleOptions

    sql = "CREATE TABLE a (id int PRIMARY KEY, b int REFERENCES a (id), c int);\nCREATE INDEX ON a (c, b);"
    assert len(plan(None, sql)[0]) == 2  # by default the plan keeps the migration's schema
    on = MigrationContext(Dialect.POSTGRES, 150000,
                          options=RuleOptions(thresholds={"migration.index_foreign_keys": 1}))
    steps, _ = plan_postgres(read_migrations(None, Dialect.POSTGRES, sql=sql), on)
    assert steps[1].sql.split("\n")[-1] == "CREATE INDEX IF NOT EXISTS a_b_idx ON a (b);"
    covered, _ = plan_postgres(read_migrations(None, Dialect.POSTGRES, sql=sql.replace("(c, b)", "(b, c)")), on)
    assert len(covered) == 2  # an index the script builds later already leads with b


ODD = """
ALTER TABLE ONLY t ADD CONSTRAINT t_fk FOREIGN KEY (a) REFERENCES u (id);
ALTER TABLE IF EXISTS t DROP COLUMN c;
CREATE INDEX ON t USING gin (doc);
CREATE INDEX ON t ((lower(name)));
CREATE UNIQUE INDEX t_u ON t (a) WHERE b IS NULL;
ALTER TABLE t ALTER COLUMN c TYPE text COLLATE "C";
ALTER TABLE t ADD COLUMN idc int GENERATED ALWAYS AS IDENTITY;
ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED;
ALTER TABLE t RENAME CONSTRAINT a TO b;
ALTER INDEX i RENAME TO j;
ALTER SEQUENCE s RENAME TO s2;
UPDATE t SET a = DEFAULT;
UPDATE t SET (a, b) = (1, 2);
UPDATE t AS x SET a = 1 WHERE x.b = 2;
DELETE FROM t USING u WHERE t.a = u.id;
DROP TYPE x;
DROP VIEW v;
DROP FUNCTION f(int);
CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
DO $$ BEGIN PERFORM 1; END $$;
ALTER TABLE t ADD COLUMN c2 int REFERENCES u(id) ON DELETE CASCADE;
ALTER TABLE t ADD CONSTRAINT ex EXCLUDE USING gist (c WITH &&);
ALTER TABLE t ATTACH PARTITION p FOR VALUES FROM (1) TO (10);
ALTER TABLE t SET (fillfactor = 70);
ALTER TABLE t OWNER TO someone;
COMMENT ON COLUMN t.c IS 'x';
SELECT 1;
ALTER TABLE t ALTER COLUMN c TYPE int USING c::int;
CREATE TABLE "Mixed Case" ("Col" int NOT NULL DEFAULT 1, id int PRIMARY KEY);
INSERT INTO "Mixed Case" VALUES (1, 1);
ALTER TABLE "Mixed Case" RENAME COLUMN "Col" TO "New Col";
CREATE SCHEMA s;
CREATE TABLE s.t (a int, b int REFERENCES s.t (a));
CREATE INDEX ON s.t (a);
ALTER TABLE t ADD COLUMN n numeric NOT NULL;
ALTER TABLE t ALTER COLUMN d SET DEFAULT now();
ALTER TABLE t ALTER COLUMN d DROP NOT NULL;
ALTER TABLE t ADD COLUMN pk2 int PRIMARY KEY;
ALTER TYPE mood RENAME VALUE 'a' TO 'b';
GRANT SELECT ON t TO someone;
REVOKE INSERT ON t FROM someone;
ALTER TABLE t SET LOGGED;
CLUSTER t;
VACUUM FULL;
REINDEX TABLE t;
REINDEX SCHEMA public;
BEGIN;
SET search_path TO app, public;
SET lock_timeout = '5s';
COMMIT;
TRUNCATE t;
CREATE MATERIALIZED VIEW mv AS SELECT 1;
REFRESH MATERIALIZED VIEW mv;
ALTER TABLE t ALTER COLUMN e TYPE varchar(10);
ALTER TABLE t ALTER COLUMN c SET STATISTICS 500;
UPDATE t SET a = a + 1 WHERE a IS NULL;
UPDATE t SET a = now() WHERE a IS NULL;
"""


def test_unusual_statements_plan_and_every_step_parses() -> None:
    steps, notes = plan(None, ODD)
    for step in steps:
        pglast.parse_sql(step.sql)
        if step.rollback_sql:
            pglast.parse_sql(step.rollback_sql)
    assert sum("pg_repack" in n for n in notes) == 2
    assert any("EXCLUDE" in n for n in notes) and any("GENERATED/IDENTITY" in n for n in notes)
    assert not any(s.sql.split("\n")[-1].rstrip(";") == "BEGIN" for s in steps)

"""The PostgreSQL source: a live database read into a Catalog, checked field by field."""

from __future__ import annotations

import gc
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.errors import InputError
from dbsage.tools.sources import postgres
from dbsage.tools.sources.guard import GuardedSession, Limits, LiveDatabase
from dbsage.tools.sources.live import load_catalog
from tests.conftest import FIXTURES, PostgresFactory, need
from tests.dbutil import admin_postgres, postgres_url_for, run_postgres_script

pytestmark = pytest.mark.postgres


def _load(url: str, *, schemas: list[str] | None = None, limits: Limits | None = None) -> Catalog:
    with LiveDatabase.open(url, limits=limits) as db:
        return load_catalog(db, schemas=schemas)


def _table(catalog: Catalog, schema: str, name: str) -> Table:
    table = catalog.table(schema, name)
    assert table is not None, f"{schema}.{name} missing from {[t.qualified_name for t in catalog.tables]}"
    return table


@contextmanager
def _database(server_url: str, script: str) -> Iterator[str]:
    """A fresh database made from `script` and shared by a module's read-only tests; dropped after."""
    name = f"dbsage_t_{uuid.uuid4().hex[:10]}"
    with admin_postgres(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = postgres_url_for(server_url, name)
        run_postgres_script(url, script)
        yield url
    finally:
        with admin_postgres(server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def shop_url(postgres_server_url: str) -> Iterator[str]:
    with _database(postgres_server_url, (FIXTURES / "postgres_catalog.sql").read_text()) as url:
        yield url


@pytest.fixture(scope="module")
def shop(shop_url: str) -> tuple[str, Catalog]:
    return shop_url, _load(shop_url)


# -- the shop fixture: one load, many facts ------------------------------------------------------


def test_server_facts_and_schemas(shop: tuple[str, Catalog]) -> None:
    url, catalog = shop
    assert catalog.dialect is Dialect.POSTGRES and catalog.source == "live"
    assert catalog.database == url.rsplit("/", 1)[1]
    assert catalog.server_version_num is not None and 130000 <= catalog.server_version_num < 190000
    assert catalog.server_version
    assert catalog.server_version.split(".")[0] == str(catalog.server_version_num // 10000)
    # System schemas never show; user schemas (quoted names included) do, sorted.
    assert catalog.schemas == ["Mixed Case", "app", "public"]
    assert catalog.stats_reset is not None and re.match(r"\d{4}-\d\d-\d\dT", catalog.stats_reset)
    names = [t.qualified_name for t in catalog.tables]
    assert names == sorted(names, key=lambda n: tuple(n.split(".", 1)))
    assert not any(n.startswith(("pg_catalog.", "information_schema.")) for n in names)


def test_table_kinds_partitions_persistence(shop: tuple[str, Catalog]) -> None:
    _, catalog = shop
    events = _table(catalog, "app", "events")
    assert events.kind == "partitioned_table" and events.partition_of is None
    for part in ("events_2024", "events_2025"):
        t = _table(catalog, "app", part)
        assert t.kind == "table" and t.partition_of == "app.events"
    assert _table(catalog, "app", "import_lines").kind == "foreign_table"
    assert _table(catalog, "app", "cache").persistence == "unlogged"
    assert _table(catalog, "app", "orders").persistence == "permanent"
    customers = _table(catalog, "app", "customers")
    assert customers.comment == "People who buy things"
    assert customers.owner and customers.owner == _table(catalog, "public", "notes").owner
    assert customers.row_estimate == 3  # analyzed in the fixture
    assert _table(catalog, "app", "orders").row_estimate is None  # never analyzed: no estimate, not 0
    assert customers.total_bytes is not None and customers.total_bytes >= sum(
        i.size_bytes or 0 for i in customers.indexes
    ) > 0


def test_column_types_normalised(shop: tuple[str, Catalog]) -> None:
    _, catalog = shop
    customers = _table(catalog, "app", "customers")
    families = {c.name: c.base_type for c in customers.columns}
    assert families == {
        "id": "bigint", "email": "varchar", "country": "char", "name": "text", "created_at": "timestamptz",
        "legacy_seen": "timestamp", "profile": "json", "settings": "jsonb", "balance": "money",
        "score": "real", "ratio": "double", "active": "boolean", "avatar": "binary", "external_id": "uuid",
        "tags": "array", "rank": "smallint", "born": "date", "wake_at": "time", "trial": "interval",
        "code": "varchar", "alias_code": "varchar", "quantity": "integer", "status": "enum",
        "address": "inet", "email_lower": "text",
    }
    by_name = {c.name: c for c in customers.columns}
    assert [c.position for c in customers.columns] == list(range(1, len(customers.columns) + 1))
    assert by_name["email"].data_type == "character varying(255)" and by_name["email"].length == 255
    assert by_name["country"].data_type == "character(2)" and by_name["country"].length == 2
    # Domains show their own name but the base type's family and length, through a domain chain.
    assert by_name["code"].data_type == "app.short_code" and by_name["code"].length == 12
    assert by_name["alias_code"].length == 12
    assert by_name["quantity"].data_type == "app.positive_int"
    assert by_name["status"].data_type == "app.order_status"
    assert by_name["name"].collation == "C" and by_name["email"].collation is None
    assert by_name["email"].comment == "Login address"
    total = _table(catalog, "app", "orders").column("TOTAL")  # looked up case-insensitively
    assert total is not None and total.data_type == "numeric(12,2)" and total.base_type == "numeric"


def test_defaults_identity_serial_generated(shop: tuple[str, Catalog]) -> None:
    _, catalog = shop
    customers = {c.name: c for c in _table(catalog, "app", "customers").columns}
    orders = {c.name: c for c in _table(catalog, "app", "orders").columns}
    invoices = {c.name: c for c in _table(catalog, "app", "invoices").columns}

    assert customers["id"].identity == "always" and customers["id"].default is None
    assert orders["ref_no"].identity == "by_default"
    assert orders["id"].serial and orders["id"].default == "nextval('app.orders_id_seq'::regclass)"
    assert not orders["id"].identity
    # nextval() of a sequence no column owns: a default, not a serial column.
    assert invoices["number"].default == "nextval('app.invoice_numbers'::regclass)"
    assert not invoices["number"].serial
    assert customers["created_at"].default == "now()" and not customers["created_at"].nullable
    assert customers["email_lower"].generated == "lower((email)::text)"
    assert customers["email_lower"].default is None
    assert customers["active"].default == "true" and customers["active"].nullable


def test_constraints(shop: tuple[str, Catalog]) -> None:
    _, catalog = shop
    customers = _table(catalog, "app", "customers")
    orders = _table(catalog, "app", "orders")
    invoices = _table(catalog, "app", "invoices")
    shipments = _table(catalog, "app", "shipments")

    assert customers.primary_key is not None and customers.primary_key.columns == ["id"]
    assert invoices.primary_key is not None and invoices.primary_key.columns == ["order_id", "line_no"]
    assert [(u.name, u.columns) for u in customers.unique_constraints] == [("customers_email_key", ["email"])]
    assert _table(catalog, "app", "events").primary_key is None

    checks = {c.name: c for c in orders.check_constraints}
    assert checks["orders_total_check"].validated and "total >= " in checks["orders_total_check"].expression
    assert not checks["orders_total_cap"].validated
    assert not customers.check_constraints  # the domain's CHECK belongs to the domain, not the table

    (fk,) = orders.foreign_keys
    assert (fk.name, fk.columns, fk.ref_schema, fk.ref_table, fk.ref_columns) == (
        "orders_customer_fk", ["customer_id"], "app", "customers", ["id"],
    )
    assert (fk.on_delete, fk.on_update, fk.deferrable, fk.validated) == ("CASCADE", "RESTRICT", True, True)
    assert invoices.foreign_keys[0].on_delete == "NO ACTION" and not invoices.foreign_keys[0].deferrable
    line_fk, order_fk = shipments.foreign_keys
    assert line_fk.columns == ["order_id", "line_no"] and line_fk.ref_columns == ["order_id", "line_no"]
    assert (line_fk.on_delete, line_fk.on_update) == ("SET DEFAULT", "SET NULL")
    assert order_fk.name == "shipments_order_fk" and not order_fk.validated


def test_indexes(shop: tuple[str, Catalog]) -> None:
    _, catalog = shop
    orders = {i.name: i for i in _table(catalog, "app", "orders").indexes}
    customers = {i.name: i for i in _table(catalog, "app", "customers").indexes}

    open_idx = orders["orders_open_idx"]
    assert [(k.column, k.descending) for k in open_idx.keys] == [("placed_at", True), ("id", False)]
    assert open_idx.include == ["total"]
    assert open_idx.predicate == "status <> 'shipped'::app.order_status"
    assert open_idx.definition is not None
    assert open_idx.definition.startswith("CREATE INDEX orders_open_idx ON app.orders")
    assert not open_idx.unique and not open_idx.primary and open_idx.constraint is None and open_idx.valid

    pkey = orders["orders_pkey"]
    assert pkey.primary and pkey.unique and pkey.constraint == "orders_pkey" and pkey.method == "btree"
    assert customers["customers_email_key"].constraint == "customers_email_key"

    expr = customers["customers_lower_name_idx"]
    assert [(k.column, k.expression) for k in expr.keys] == [(None, "lower(name)"), ("country", None)]
    assert expr.keys[0].label == "(lower(name))"
    assert customers["customers_settings_idx"].method == "gin"
    assert customers["customers_seen_brin"].method == "brin"
    for index in customers.values():
        assert index.size_bytes is not None and index.size_bytes > 0
        assert index.scans is not None and index.scans >= 0

    # A partitioned table's index, and the per-partition indexes it creates.
    (parent_idx,) = _table(catalog, "app", "events").indexes
    assert parent_idx.name == "events_happened_idx" and parent_idx.keys[0].column == "happened_at"
    assert _table(catalog, "app", "events_2024").indexes[0].keys[0].column == "happened_at"

    odd = {i.name: i for i in _table(catalog, "Mixed Case", "Odd Table").indexes}
    assert odd["Odd Index"].keys[0].column == "Other" and odd["Odd Index"].keys[0].descending
    odd_pk = _table(catalog, "Mixed Case", "Odd Table").primary_key
    assert odd_pk is not None and odd_pk.columns == ["Weird Col"]


def test_triggers_rls_policies(shop: tuple[str, Catalog]) -> None:
    url, catalog = shop
    triggers = {t.name: t for t in _table(catalog, "app", "orders").triggers}
    assert set(triggers) == {"orders_audit", "orders_touch"}  # FK triggers are internal: not listed
    touch = triggers["orders_touch"]
    assert (touch.timing, touch.events, touch.enabled, touch.function) == (
        "BEFORE", ["INSERT", "UPDATE"], True, "app.touch",
    )
    audit = triggers["orders_audit"]
    assert (audit.timing, audit.events, audit.enabled) == ("AFTER", ["DELETE", "TRUNCATE"], False)

    documents = _table(catalog, "app", "documents")
    assert documents.rls_enabled and documents.rls_forced
    assert not _table(catalog, "app", "orders").rls_enabled
    policies = {p.name: p for p in documents.policies}
    assert [p.name for p in documents.policies] == ["open_all", "tenant_insert", "tenant_read"]
    read = policies["tenant_read"]
    assert (read.command, read.permissive, read.roles, read.with_check) == ("SELECT", True, ["public"], None)
    assert read.using is not None and "current_setting('app.tenant_id'" in read.using
    insert = policies["tenant_insert"]
    with admin_postgres(url) as conn:
        me = conn.execute("SELECT current_user").fetchone()[0]  # type: ignore[index]
    assert (insert.command, insert.permissive, insert.roles) == ("INSERT", False, [me])
    assert insert.using is None and insert.with_check == "(tenant_id > 0)"
    assert (policies["open_all"].command, policies["open_all"].using) == ("ALL", "true")


def test_views(shop: tuple[str, Catalog]) -> None:
    _, catalog = shop
    views = {v.name: v for v in catalog.views}
    assert set(views) == {"daily_orders", "order_totals", "paid_orders"}
    assert views["paid_orders"].security_invoker is True
    assert views["order_totals"].security_invoker is False
    assert views["order_totals"].comment == "Totals per customer"
    assert views["order_totals"].columns == ["customer_id", "total"]
    assert views["daily_orders"].materialized and views["daily_orders"].security_invoker is None
    assert views["daily_orders"].columns == ["placed_at", "orders"]
    definition = views["paid_orders"].definition
    assert definition is not None and "FROM app.orders" in definition and "'paid'" in definition
    assert all(v.owner for v in views.values())


def test_functions_and_extension_objects(shop: tuple[str, Catalog]) -> None:
    _, catalog = shop
    functions = {f.name: f for f in catalog.functions}
    # file_fdw's handler/validator and pg_stat_statements' functions and view belong to extensions.
    assert set(functions) == {"archive", "order_count", "same", "text_concat", "touch"}
    assert catalog.table("public", "pg_stat_statements") is None
    assert not any(v.name.startswith("pg_stat_statements") for v in catalog.views)

    definer = functions["order_count"]
    assert definer.security_definer and definer.config == ["search_path=pg_catalog, app"]
    assert (definer.arguments, definer.returns, definer.language, definer.volatility) == (
        "p_customer bigint", "bigint", "sql", "stable",
    )
    assert definer.comment == "How many orders a customer placed"
    assert definer.signature == "app.order_count(p_customer bigint)"
    same = functions["same"]
    assert same.leakproof and same.volatility == "immutable" and not same.security_definer
    assert same.arguments == "a integer, b text"
    assert functions["archive"].kind == "procedure" and functions["archive"].returns is None
    assert functions["text_concat"].kind == "aggregate"
    assert functions["touch"].returns == "trigger" and functions["touch"].language == "plpgsql"

    extensions = {e.name: e for e in catalog.extensions}
    assert {"plpgsql", "file_fdw", "pg_stat_statements"} <= set(extensions)
    assert extensions["file_fdw"].schema_name == "public" and extensions["file_fdw"].version


def test_sequences(shop: tuple[str, Catalog]) -> None:
    _, catalog = shop
    sequences = {s.name: s for s in catalog.sequences}
    assert set(sequences) == {"customers_id_seq", "invoice_numbers", "orders_id_seq", "orders_ref_no_seq"}
    assert sequences["orders_id_seq"].owned_by == "app.orders.id"  # serial (pg_depend 'a')
    assert sequences["orders_id_seq"].data_type == "integer"
    assert sequences["orders_id_seq"].max_value == 2**31 - 1
    assert sequences["customers_id_seq"].owned_by == "app.customers.id"  # identity (pg_depend 'i')
    identity = sequences["customers_id_seq"]
    assert identity.last_value == 3 and identity.data_type == "bigint"
    numbers = sequences["invoice_numbers"]
    assert (numbers.owned_by, numbers.increment, numbers.max_value) == (None, 5, 999999)
    assert numbers.last_value is None  # never called


def test_grants_settings_roles(shop: tuple[str, Catalog]) -> None:
    url, catalog = shop
    database = url.rsplit("/", 1)[1]
    grants = {(g.object_type, g.object, g.grantee, g.privilege) for g in catalog.grants}
    assert ("schema", "app", "PUBLIC", "USAGE") in grants
    assert ("table", "app.paid_orders", "PUBLIC", "SELECT") in grants
    # A function's NULL ACL means EXECUTE for PUBLIC; REVOKE removes it.
    assert ("function", "app.order_count(p_customer bigint)", "PUBLIC", "EXECUTE") in grants
    assert not any(g[1].startswith("app.same(") for g in grants)
    assert ("database", database, "PUBLIC", "CONNECT") in grants
    # Owners' own rights come with ownership and are not listed.
    assert not any(g.grantee == _table(catalog, "app", "orders").owner for g in catalog.grants)

    settings = catalog.settings
    assert settings["server_version_num"] == str(catalog.server_version_num)
    for name in ("max_connections", "password_encryption", "ssl", "wal_level", "autovacuum", "track_counts",
                 "log_statement", "log_connections", "archive_mode"):
        assert name in settings, name
    assert settings["archive_command"] in ("", "(set)")
    # The guard's own SET LOCAL timeouts must not pass for the server's settings.
    with admin_postgres(url) as conn:
        for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
            server_value = conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            if server_value == "0":
                assert settings[name] == "0", name

    me = next(r for r in catalog.roles if r.superuser)
    assert me.password_kind in ("none", "md5", "scram-sha-256", "unknown")
    assert not any(r.name.startswith("pg_") for r in catalog.roles)
    assert [r.name for r in catalog.roles] == sorted(r.name for r in catalog.roles)


# -- schema filter -------------------------------------------------------------------------------


def test_schema_filter(shop_url: str) -> None:
    url = shop_url
    only_app = _load(url, schemas=["APP"])  # matched case-insensitively when no exact match
    assert only_app.schemas == ["app"]
    assert {t.schema_name for t in only_app.tables} == {"app"}
    assert only_app.table("public", "notes") is None
    assert only_app.functions and all(f.schema_name == "app" for f in only_app.functions)
    assert only_app.sequences and all(s.schema_name == "app" for s in only_app.sequences)
    kinds = {"database", "function", "schema", "sequence", "table"}
    assert all(g.object_type in kinds for g in only_app.grants)
    assert not any(g.object_type == "schema" and g.object == "public" for g in only_app.grants)
    assert only_app.roles and only_app.settings  # server-wide facts stay

    mixed = _load(url, schemas=["Mixed Case"])
    assert [t.name for t in mixed.tables] == ["Odd Table"] and not mixed.views
    with pytest.raises(InputError, match="nope"):
        _load(url, schemas=["nope"])
    assert gc.isenabled()  # the collector paused during a load is back on, after an error too


# -- roles, passwords, privileges ----------------------------------------------------------------


RoleNames = dict[str, str]


@pytest.fixture(scope="module")
def roles_db(postgres_server_url: str) -> Iterator[tuple[RoleNames, str]]:
    """Fresh cluster roles and a database that grants to them; the database goes first, then the roles."""
    tag = uuid.uuid4().hex[:8]
    names = {key: f"dbsage_{key}_{tag}" for key in ("app", "admin", "group", "md5")}
    try:
        with _database(postgres_server_url, _roles_script(names)) as url:
            yield names, url
    finally:
        with admin_postgres(postgres_server_url) as conn:
            for name in names.values():
                conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def _roles_script(names: RoleNames) -> str:
    app, admin, group, md5 = names["app"], names["admin"], names["group"], names["md5"]
    return f"""
        CREATE ROLE "{group}" NOLOGIN;
        CREATE ROLE "{app}" LOGIN PASSWORD 'app-secret-1' IN ROLE "{group}", pg_read_all_stats;
        CREATE ROLE "{admin}" LOGIN CREATEROLE CREATEDB BYPASSRLS REPLICATION;
        SET password_encryption = 'md5';
        CREATE ROLE "{md5}" LOGIN PASSWORD 'old-secret-2';
        RESET password_encryption;
        CREATE SCHEMA app;
        CREATE TABLE app.items (id serial PRIMARY KEY, tenant int);
        CREATE SEQUENCE app.hidden_seq;
        SELECT nextval('app.hidden_seq');
        GRANT USAGE, CREATE ON SCHEMA app TO "{app}";
        GRANT SELECT, INSERT ON app.items TO "{app}" WITH GRANT OPTION;
        GRANT USAGE ON SEQUENCE app.items_id_seq TO "{app}";
        DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO "{app}"', current_database()); END $$;
        ALTER TABLE app.items ENABLE ROW LEVEL SECURITY;
        CREATE POLICY by_tenant ON app.items TO "{app}", "{group}" USING (tenant = 1);
    """


def test_roles_grants_and_password_kinds(roles_db: tuple[RoleNames, str]) -> None:
    temp_roles, url = roles_db
    catalog = _load(url)
    roles = {r.name: r for r in catalog.roles}
    app, admin = roles[temp_roles["app"]], roles[temp_roles["admin"]]
    group, md5 = roles[temp_roles["group"]], roles[temp_roles["md5"]]

    assert app.login and not app.superuser
    assert app.member_of == sorted([temp_roles["group"], "pg_read_all_stats"])
    assert not group.login
    assert (admin.createrole, admin.createdb, admin.bypassrls, admin.replication) == (True, True, True, True)
    assert app.password_kind == "scram-sha-256"
    assert md5.password_kind == "md5"
    assert admin.password_kind == "none"
    # Only the kind of a password is read, never the hash.
    dumped = catalog.model_dump_json()
    assert "SCRAM-SHA-256$" not in dumped and not re.search(r"md5[0-9a-f]{32}", dumped)

    grants = {(g.object_type, g.object, g.grantee, g.privilege): g.grantable for g in catalog.grants}
    assert grants[("table", "app.items", temp_roles["app"], "SELECT")] is True
    assert grants[("table", "app.items", temp_roles["app"], "INSERT")] is True
    assert grants[("schema", "app", temp_roles["app"], "CREATE")] is False
    assert grants[("sequence", "app.items_id_seq", temp_roles["app"], "USAGE")] is False
    assert grants[("database", url.rsplit("/", 1)[1], temp_roles["app"], "CREATE")] is False
    (policy,) = _table(catalog, "app", "items").policies
    assert policy.roles == sorted([temp_roles["app"], temp_roles["group"]])


def test_unprivileged_role_degrades_to_unknown(roles_db: tuple[RoleNames, str]) -> None:
    temp_roles, admin_url = roles_db
    parts = urlsplit(admin_url)
    netloc = f"{temp_roles['app']}:app-secret-1@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        need(False, f"cannot log in as a test role ({exc})", "allow password or trust logins for test roles")

    catalog = _load(url)
    assert _table(catalog, "app", "items").columns  # the catalog itself is readable by anyone
    assert all(r.password_kind is None for r in catalog.roles)
    assert any(u.startswith("role password kinds:") and "superuser" in u for u in catalog.unknown)
    # app.hidden_seq was never granted to this role: its position is unknown, and said so.
    sequences = {s.name: s for s in catalog.sequences}
    assert sequences["hidden_seq"].last_value is None
    assert any(u.startswith("sequence positions: 1 sequence") for u in catalog.unknown)
    assert any("shared_preload_libraries" in u and "pg_read_all_settings" in u for u in catalog.unknown)


# -- a table locked by a migration does not stop the read ---------------------------------------

_LOCK_SCRIPT = """
    CREATE TABLE busy (id int PRIMARY KEY, v text DEFAULT 'x' CHECK (v <> ''));
    CREATE INDEX busy_lower ON busy (lower(v)) WHERE v IS NOT NULL;
    CREATE VIEW busy_view AS SELECT id FROM busy;
    CREATE TABLE calm (id int PRIMARY KEY, v text DEFAULT 'y' CHECK (v <> ''));
    CREATE VIEW calm_view AS SELECT id FROM calm;
    CREATE SEQUENCE s;
    SELECT nextval('s');
"""


@pytest.fixture(scope="module")
def lock_db(postgres_server_url: str) -> Iterator[str]:
    with _database(postgres_server_url, _LOCK_SCRIPT) as url:
        yield url


@pytest.fixture
def locked_busy(lock_db: str) -> Iterator[str]:
    """The database while another session holds ACCESS EXCLUSIVE on `busy`, as a migration would."""
    url = lock_db
    holding, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with psycopg.connect(url) as conn:
            conn.execute("LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
            holding.set()
            release.wait(20)
            conn.rollback()

    worker = threading.Thread(target=hold_lock)
    worker.start()
    try:
        assert holding.wait(10)
        yield url
    finally:
        release.set()
        worker.join()


def _check_locked_read(catalog: Catalog) -> None:
    busy, calm = _table(catalog, "public", "busy"), _table(catalog, "public", "calm")
    # Structure comes from catalogs that need no lock.
    assert busy.primary_key is not None and busy.primary_key.columns == ["id"]
    assert [c.name for c in busy.columns] == ["id", "v"] and busy.columns[1].base_type == "text"
    assert {i.name for i in busy.indexes} == {"busy_lower", "busy_pkey"}
    # What needs the lock is left out, and said so.
    assert busy.total_bytes is None  # its indexes are not locked by LOCK TABLE: their sizes may be read
    assert busy.columns[1].default is None and all(i.definition is None for i in busy.indexes)
    assert busy.check_constraints[0].expression == "" and busy.check_constraints[0].name == "busy_v_check"
    assert any(u.startswith("public.busy: another session holds") for u in catalog.unknown)
    views = {v.name: v for v in catalog.views}
    assert views["busy_view"].definition is None and views["busy_view"].columns == ["id"]
    assert any(u.startswith("public.busy_view: definition not read") for u in catalog.unknown)
    # Everything else is complete.
    assert calm.columns[1].default == "'y'::text" and calm.check_constraints[0].expression
    assert calm.total_bytes and all(i.definition and i.size_bytes for i in calm.indexes)
    assert views["calm_view"].definition and "FROM calm" in views["calm_view"].definition
    assert catalog.sequences[0].last_value == 1
    assert not any(u.startswith("public.calm") for u in catalog.unknown)


def test_locked_table_is_skipped_without_waiting(locked_busy: str) -> None:
    started = time.monotonic()
    catalog = _load(locked_busy, limits=Limits(lock_timeout_ms=5000))
    assert time.monotonic() - started < 4.0  # the lock was seen first: no lock_timeout waited out
    _check_locked_read(catalog)


def test_lock_taken_after_the_check_is_retried(locked_busy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate the race: the lock check at the start misses the lock, the queries then meet it.
    original_init = postgres._Reader.__init__

    def init_missing_the_lock(self: postgres._Reader, session: GuardedSession) -> None:
        original_init(self, session)
        self.locked = set()

    monkeypatch.setattr(postgres._Reader, "__init__", init_missing_the_lock)
    catalog = _load(locked_busy, limits=Limits(lock_timeout_ms=200))
    _check_locked_read(catalog)


# -- real-world schemas --------------------------------------------------------------------------


def _chinook_script(realworld: Path) -> str:
    text = (realworld / "chinook" / "Chinook_PostgreSql.sql").read_text(encoding="utf-8-sig")
    # The script makes its own database and switches to it with psql's \c; the fixture gives one.
    kept = [
        line for line in text.splitlines()
        if not line.startswith("\\") and not re.match(r"(?i)\s*(DROP|CREATE)\s+DATABASE\b", line)
    ]
    return "\n".join(kept) + "\nANALYZE;\n"


def test_chinook(postgres_db: PostgresFactory, realworld: Path) -> None:
    url = postgres_db(_chinook_script(realworld))
    started = time.perf_counter()
    catalog = _load(url)
    elapsed = time.perf_counter() - started
    assert len(catalog.tables) == 11
    assert {t.name for t in catalog.tables} == {
        "album", "artist", "customer", "employee", "genre", "invoice", "invoice_line", "media_type",
        "playlist", "playlist_track", "track",
    }
    line = _table(catalog, "public", "invoice_line")
    assert line.row_estimate == 2240  # ANALYZE reads every row of a table this small
    assert line.primary_key is not None and line.primary_key.columns == ["invoice_line_id"]
    assert {(f.columns[0], f.ref_table) for f in line.foreign_keys} == {
        ("invoice_id", "invoice"), ("track_id", "track"),
    }
    assert {c.name: c.base_type for c in line.columns}["unit_price"] == "numeric"
    playlist_track = _table(catalog, "public", "playlist_track")
    assert playlist_track.primary_key is not None
    assert playlist_track.primary_key.columns == ["playlist_id", "track_id"]
    employee = _table(catalog, "public", "employee")
    assert [f.ref_table for f in employee.foreign_keys] == ["employee"]  # reports_to: self-reference
    assert sum(len(t.foreign_keys) for t in catalog.tables) == 11
    assert all(t.total_bytes and t.total_bytes > 0 for t in catalog.tables)
    assert not catalog.views and not catalog.functions and not catalog.sequences
    assert elapsed < 5


def _load_copy_script(url: str, path: Path) -> None:
    """Run a pg_dump-style data script: plain SQL between COPY ... FROM stdin blocks."""
    lines = iter(path.read_text(encoding="utf-8").splitlines(keepends=True))
    pending: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:

        def flush() -> None:
            if "".join(pending).strip():
                conn.execute("".join(pending).encode())
            pending.clear()

        for line in lines:
            if line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
                flush()
                with conn.cursor().copy(line.rstrip().rstrip(";")) as copy:
                    for data in lines:
                        if data.rstrip("\r\n") == "\\.":
                            break
                        copy.write(data)
            else:
                pending.append(line)
        flush()
        conn.execute("ANALYZE")


def test_sakila(postgres_db: PostgresFactory, realworld: Path) -> None:
    sakila = realworld / "sakila"
    url = postgres_db((sakila / "postgres-sakila-schema.sql").read_text(encoding="utf-8"))
    _load_copy_script(url, sakila / "postgres-sakila-insert-data-using-copy.sql")
    started = time.perf_counter()
    catalog = _load(url)
    elapsed = time.perf_counter() - started

    assert len(catalog.tables) == 21  # 15 tables + 6 payment partitions made by inheritance
    assert [v.name for v in catalog.views] == [
        "actor_info", "customer_list", "film_list", "nicer_but_slower_film_list",
        "sales_by_film_category", "sales_by_store", "staff_list",
    ]
    assert _table(catalog, "public", "rental").row_estimate == 16044
    film = _table(catalog, "public", "film")
    columns = {c.name: c for c in film.columns}
    assert (columns["release_year"].data_type, columns["release_year"].base_type) == ("year", "integer")
    assert columns["rating"].base_type == "enum" and columns["special_features"].base_type == "array"
    assert columns["fulltext"].base_type == "tsvector"
    # Sakila's sequences are not OWNED BY their columns, so these are plain nextval() defaults.
    assert columns["film_id"].default == "nextval('film_film_id_seq'::regclass)"
    assert not columns["film_id"].serial
    assert {i.name: i.method for i in film.indexes}["film_fulltext_idx"] == "gist"
    triggers = {t.name: t for t in film.triggers}
    assert triggers["last_updated"].timing == "BEFORE" and triggers["last_updated"].events == ["UPDATE"]
    assert triggers["film_fulltext_trigger"].function == "pg_catalog.tsvector_update_trigger"
    rental_fks = {f.name: f for f in _table(catalog, "public", "rental").foreign_keys}
    inventory_fk = rental_fks["rental_inventory_id_fkey"]
    assert (inventory_fk.on_delete, inventory_fk.on_update) == ("RESTRICT", "CASCADE")
    payment_fks = {f.name: f.on_delete for f in _table(catalog, "public", "payment").foreign_keys}
    assert payment_fks["payment_rental_id_fkey"] == "SET NULL"
    functions = {f.name: f for f in catalog.functions}
    assert functions["group_concat"].kind == "aggregate"
    assert functions["rewards_report"].returns == "SETOF customer"
    sequences = {s.name: s for s in catalog.sequences}
    assert len(sequences) == 13 and sequences["rental_rental_id_seq"].last_value == 16049
    assert sequences["actor_actor_id_seq"].owned_by is None
    assert elapsed < 5


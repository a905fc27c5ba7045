"""The restore drill on real PostgreSQL and MariaDB: clean restores pass, a table that cannot be restored fails
by name, the scratch database is dropped (or emptied), and the source is never the scratch."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from dbsage.server.calls import checklist_review as call_checklist_review
from dbsage.server.config import DatabaseConfig, DbsageConfig
from dbsage.server.mcp_review import checklist_review_tool, restore_drill_offered
from dbsage.server.render_backup import backup_markdown, backup_text
from dbsage.tools.backup_model import RestoreDrill
from dbsage.tools.errors import GuardRefused, InputError
from dbsage.tools.restore_drill import restore_drill
from tests.conftest import MysqlFactory, PostgresFactory
from tests.dbutil import admin_mysql, admin_postgres
from tests.test_cli import run_cli

PG_SHOP = """
CREATE SEQUENCE invoice_numbers START 1000;
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price numeric(10, 2) CHECK (price >= 0));
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    invoice bigint NOT NULL DEFAULT nextval('invoice_numbers'),
    placed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE TABLE order_items (
    order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id int NOT NULL REFERENCES products (id),
    quantity int NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);
CREATE VIEW order_totals AS
    SELECT o.id, sum(i.quantity * p.price) AS total
    FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id GROUP BY o.id;
INSERT INTO customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 500) g;
INSERT INTO products (name, price) SELECT 'product ' || g, g * 1.5 FROM generate_series(1, 100) g;
INSERT INTO orders (customer_id) SELECT 1 + g % 500 FROM generate_series(1, 2000) g;
INSERT INTO order_items SELECT o, 1 + (o * 7) % 100, 1 + o % 5 FROM generate_series(1, 2000) o;
INSERT INTO order_items SELECT o, 1 + (o * 11 + 3) % 100, 2 FROM generate_series(1, 2000, 2) o
    ON CONFLICT DO NOTHING;
"""

# A CHECK constraint calling a function whose body names a table without its schema. pg_restore runs
# with an empty search_path (since the CVE-2018-1058 fixes), so COPY into `shipments` fails on every
# row: "relation "carriers" does not exist". The table comes back empty; the rest restores.
PG_BROKEN = """
CREATE TABLE carriers (id int PRIMARY KEY, name text NOT NULL);
CREATE FUNCTION carrier_exists(carrier int) RETURNS boolean LANGUAGE sql STABLE
    AS 'SELECT EXISTS (SELECT 1 FROM carriers WHERE id = carrier)';
CREATE TABLE shipments (id int PRIMARY KEY, carrier_id int NOT NULL CHECK (carrier_exists(carrier_id)));
INSERT INTO carriers SELECT g, 'carrier ' || g FROM generate_series(1, 20) g;
INSERT INTO shipments SELECT g, 1 + g % 20 FROM generate_series(1, 300) g;
"""

MARIADB_SHOP = """
CREATE TABLE customers (id bigint AUTO_INCREMENT PRIMARY KEY, email varchar(120) NOT NULL UNIQUE);
CREATE TABLE orders (
    id bigint AUTO_INCREMENT PRIMARY KEY,
    customer_id bigint NOT NULL,
    total decimal(10, 2) NOT NULL CHECK (total >= 0),
    CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE
);
CREATE TABLE audit_log (id bigint AUTO_INCREMENT PRIMARY KEY, order_id bigint NOT NULL, at datetime NOT NULL);
CREATE SEQUENCE invoice_numbers START WITH 1000;
CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW
    INSERT INTO audit_log (order_id, at) VALUES (NEW.id, NOW());
INSERT INTO customers (email) SELECT CONCAT('c', seq, '@example.com') FROM seq_1_to_400;
INSERT INTO orders (customer_id, total) SELECT 1 + seq % 400, seq % 250 FROM seq_1_to_3000;
"""

# Rows written while CHECK constraints were switched off for the session (check_constraint_checks=0:
# a legacy import, or a constraint added later without validating old rows). mariadb-dump does not
# switch the checks off when it replays, so the INSERT of `orders` fails: ERROR 4025 CONSTRAINT failed.
MARIADB_BROKEN = """
CREATE TABLE customers (id int PRIMARY KEY, name varchar(40));
CREATE TABLE orders (id int PRIMARY KEY, quantity int NOT NULL);
INSERT INTO customers VALUES (1, 'a'), (2, 'b');
INSERT INTO orders SELECT seq, IF(seq % 50 = 0, -1, seq) FROM seq_1_to_200;
SET SESSION check_constraint_checks = 0;
ALTER TABLE orders ADD CONSTRAINT quantity_positive CHECK (quantity > 0);
"""


def _scratch_name(drill: RestoreDrill) -> str:
    return drill.scratch.rsplit("/", 1)[1]


def _pg_database_exists(server: str, name: str) -> bool:
    with admin_postgres(server) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def _mysql_database_exists(server: str, name: str) -> bool:
    conn = admin_mysql(server)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name])
            return cur.fetchone() is not None
    finally:
        conn.close()


def _assert_clean(drill: RestoreDrill, tables: int, min_rows: int) -> None:
    assert drill.status == "pass", (drill.summary, drill.errors, drill.schema_diff)
    assert drill.backup_bytes > 0 and drill.backup_seconds > 0 and drill.restore_seconds > 0
    assert drill.rto_lower_bound_seconds == drill.restore_seconds and "lower bound of RTO" in drill.rto_note
    assert len(drill.tables) == tables and all(t.ok for t in drill.tables)
    assert all(t.source_rows == t.restored_rows for t in drill.tables)
    assert sum(t.source_rows or 0 for t in drill.tables) >= min_rows
    assert drill.schema_diff == [] and drill.failed_tables == [] and drill.errors == []
    assert drill.tool_versions and all(v != "unknown" for v in drill.tool_versions.values())


def test_postgres_drill_passes_and_drops_its_scratch_database(
    postgres_db: PostgresFactory, postgres_server_url: str
) -> None:
    drill = restore_drill(postgres_db(PG_SHOP))
    _assert_clean(drill, tables=4, min_rows=5000)
    assert {t.table for t in drill.tables} == {"public.customers", "public.products", "public.orders",
                                               "public.order_items"}
    assert drill.scratch_dropped is True
    name = _scratch_name(drill)
    assert name.startswith("dbsage_restore_")
    assert not _pg_database_exists(postgres_server_url, name)


def test_postgres_table_that_fails_to_restore_is_named(postgres_db: PostgresFactory, postgres_server_url: str) -> None:
    drill = restore_drill(postgres_db(PG_BROKEN))
    assert drill.status == "fail"
    assert drill.failed_tables == ["public.shipments"]
    assert "public.shipments" in drill.summary
    rows = {t.table: (t.source_rows, t.restored_rows, t.ok) for t in drill.tables}
    assert rows == {"public.carriers": (20, 20, True), "public.shipments": (300, 0, False)}
    assert any('COPY failed for table "shipments"' in e for e in drill.errors)
    assert not _pg_database_exists(postgres_server_url, _scratch_name(drill))
    text = "\n".join(backup_text(drill, None))
    assert "Restore drill: FAIL" in text and "public.shipments" in text and "RTO lower bound" in text
    markdown = "\n".join(backup_markdown(drill, None))
    assert "## Restore drill" in markdown and "public.shipments" in markdown


def test_mariadb_drill_passes_and_drops_its_scratch_database(mysql_db: MysqlFactory, mysql_server_url: str) -> None:
    drill = restore_drill(mysql_db(MARIADB_SHOP))
    # audit_log was filled by the trigger; the dump restores its rows and creates the trigger after them.
    _assert_clean(drill, tables=3, min_rows=6000)
    assert {t.table: t.source_rows for t in drill.tables}["audit_log"] == 3000
    assert drill.scratch_dropped is True
    assert not _mysql_database_exists(mysql_server_url, _scratch_name(drill))


def test_mariadb_table_that_fails_to_restore_is_named(mysql_db: MysqlFactory, mysql_server_url: str) -> None:
    drill = restore_drill(mysql_db(MARIADB_BROKEN))
    assert drill.status == "fail"
    assert drill.failed_tables == ["orders"]
    assert {t.table: (t.source_rows, t.restored_rows) for t in drill.tables} == {
        "customers": (2, 2), "orders": (200, 0)}
    assert any("ERROR 4025" in e and "quantity_positive" in e for e in drill.errors)
    assert not _mysql_database_exists(mysql_server_url, _scratch_name(drill))


def test_named_scratch_database_is_emptied_before_and_after(postgres_db: PostgresFactory) -> None:
    source = postgres_db(PG_BROKEN.split("CREATE FUNCTION")[0])  # carriers only: restores cleanly
    scratch = postgres_db("CREATE TABLE leftover (id int); CREATE SCHEMA old_stuff; CREATE TABLE old_stuff.t (x int);")
    drill = restore_drill(source, scratch_dsn=scratch)
    assert drill.status == "pass", drill.summary
    assert drill.scratch_dropped is None and drill.scratch.endswith(scratch.rsplit("/", 1)[1])
    with admin_postgres(scratch) as conn:
        left = conn.execute("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE relkind = 'r' AND nspname NOT IN ('pg_catalog', 'information_schema')").fetchall()
    assert left == []


def test_scratch_equal_to_source_is_refused(postgres_db: PostgresFactory) -> None:
    source = postgres_db("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);")
    with pytest.raises(GuardRefused) as refused:
        restore_drill(source, scratch_dsn=source.replace("127.0.0.1", "localhost"))
    assert refused.value.reason == "scratch_is_source"
    with admin_postgres(source) as conn:  # untouched
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_sqlite_and_mariadb_without_database_are_input_errors(sqlite_db: Any, mysql_server_url: str) -> None:
    with pytest.raises(InputError, match="PostgreSQL and MariaDB"):
        restore_drill(sqlite_db("CREATE TABLE t (id int);"))
    with pytest.raises(InputError, match="names no database"):
        restore_drill(mysql_server_url.rstrip("/"))


# --- the checklist, the CLI and the MCP tool ---------------------------------------------------------


@pytest.fixture
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "DBSAGE_CONFIG", "DBSAGE_HTTP_TOKEN", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("_no_ambient_config")
def test_cli_json_carries_the_drill_and_the_plan(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PG_BROKEN)
    code, out, err = run_cli("checklist-review", "--dsn", url, "--restore-drill", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    drill = report["restore_drill"]
    for key in ("status", "backup_bytes", "backup_seconds", "restore_seconds", "tables", "schema_diff"):
        assert key in drill
    assert drill["status"] == "fail" and drill["failed_tables"] == ["public.shipments"]
    assert {"table", "source_rows", "restored_rows", "ok"} <= set(drill["tables"][0])
    items = {i["id"]: i for s in report["sections"] for i in s["items"]}
    assert items["backup.restore_tested"]["status"] == "fail"
    assert items["backup.restore_tested"]["evidence"]["failed_tables"] == ["public.shipments"]
    assert "archive_timeout_seconds" in items["backup.pitr"]["evidence"]
    plan = report["backup_plan"]
    assert plan["database_bytes"] > 0 and plan["pitr_possible"] is False  # the shared server does not archive
    assert [s["kind"] for s in plan["steps"]] == ["full", "incremental", "snapshot", "archive"]
    assert plan["steps"][0]["retention"] == "30 days" and "pg_basebackup" in plan["steps"][0]["command"]
    assert plan["rto_measured_seconds"] == drill["restore_seconds"]


@pytest.mark.usefixtures("_no_ambient_config")
def test_cli_refuses_scratch_equal_to_source_and_scratch_without_drill(postgres_db: PostgresFactory) -> None:
    url = postgres_db("CREATE TABLE t (id int PRIMARY KEY);")
    code, _out, err = run_cli("checklist-review", "--dsn", url, "--restore-drill", "--scratch-dsn", url)
    assert code == 2 and "never writes to the source" in err and "Traceback" not in err
    code, _out, err = run_cli("checklist-review", "--dsn", url, "--scratch-dsn", url)
    assert code == 2 and "--restore-drill" in err


def test_without_the_drill_the_item_stays_unknown_and_says_how(postgres_db: PostgresFactory) -> None:
    url = postgres_db("CREATE TABLE t (id int PRIMARY KEY);")
    config = DbsageConfig(databases={"app": DatabaseConfig(url=url)})
    report = call_checklist_review(config, database="app")
    item = next(i for s in report.sections for i in s.items if i.id == "backup.restore_tested")
    assert item.status.value == "unknown" and item.reason and "--restore-drill" in item.reason
    assert report.restore_drill is None and report.backup_plan is not None
    text = "\n".join(backup_text(None, report.backup_plan))
    assert "Backup plan" in text and "pg_basebackup" in text and "Restore drill" not in text


def test_drill_is_gated_like_verify(postgres_db: PostgresFactory) -> None:
    url = postgres_db("CREATE TABLE t (id int PRIMARY KEY);")
    production = DbsageConfig(databases={"prod": DatabaseConfig(url=url, production=True)})
    with pytest.raises(GuardRefused) as refused:
        call_checklist_review(production, database="prod", restore_drill=True)
    assert refused.value.reason == "production"
    with pytest.raises(GuardRefused) as not_scratch:  # a named scratch database must be configured as one
        call_checklist_review(production, database="prod", restore_drill=True, scratch="prod")
    assert not_scratch.value.reason == "not_scratch"
    # Only production databases: the MCP tool does not offer the drill at all.
    assert not restore_drill_offered(production)
    assert "restore_drill" not in checklist_review_tool(production).parameters["properties"]
    with_scratch = DbsageConfig(databases={"prod": DatabaseConfig(url=url, production=True),
                                           "scratch": DatabaseConfig(url=url, mode="scratch")})
    tool = checklist_review_tool(with_scratch)
    assert {"restore_drill", "scratch_database"} <= set(tool.parameters["properties"])
    assert tool.annotations is not None and tool.annotations.read_only_hint is False


def test_interrupted_drill_still_drops_its_scratch_database(
    postgres_db: PostgresFactory, postgres_server_url: str
) -> None:
    created: list[str] = []

    def progress(message: str) -> None:
        if message.startswith("created the scratch database "):
            created.append(message.rsplit(" ", 1)[1])
        if message.startswith("restoring"):
            raise KeyboardInterrupt  # Ctrl-C between the backup and the restore

    with pytest.raises(KeyboardInterrupt):
        restore_drill(postgres_db(PG_BROKEN), progress=progress)
    assert len(created) == 1 and not _pg_database_exists(postgres_server_url, created[0])


def test_password_reaches_mariadb_tools_and_never_the_report(mysql_db: MysqlFactory, mysql_server_url: str) -> None:
    source = mysql_db(MARIADB_BROKEN.split("SET SESSION")[0])
    database = source.rsplit("/", 1)[1]
    user, password = f"rd_{uuid.uuid4().hex[:8]}", f"Pw-{uuid.uuid4().hex}"
    conn = admin_mysql(mysql_server_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
            cur.execute(f"GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES ON `{database}`.* TO '{user}'@'%'")
            cur.execute(f"GRANT ALL ON `dbsage\\_restore\\_%`.* TO '{user}'@'%'")
        url = source.replace("://root@", f"://{user}:{password}@").replace("://root:@", f"://{user}:{password}@")
        assert password in url
        drill = restore_drill(url)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        conn.close()
    assert drill.status == "pass", (drill.summary, drill.errors)
    assert password not in drill.model_dump_json()


def test_mcp_drill_answer_fences_table_names_and_keeps_failed_tables(postgres_db: PostgresFactory) -> None:
    from dbsage.server.fences import BEGIN_DATA, END_DATA
    from tests.test_mcp import text_of, with_client

    config = DbsageConfig(databases={"app": DatabaseConfig(url=postgres_db(PG_BROKEN))})

    async def use(client: Any) -> Any:
        return await client.call_tool("checklist_review", {"database": "app", "restore_drill": True})

    result = with_client(config, use)
    text = text_of(result)
    assert "Restore drill: fail" in text
    fenced = text.split("Restore drill: fail", 1)[1]
    assert BEGIN_DATA in fenced and "public.shipments" in fenced.split(BEGIN_DATA, 1)[1].split(END_DATA)[0]
    drill = result.structured_content["restore_drill"]
    assert [t["table"] for t in drill["tables"]] == ["public.shipments"]  # concise: only what failed


def test_mariadb_checklist_reads_binary_log_facts_and_plans_mariadb_commands(mysql_db: MysqlFactory) -> None:
    url = mysql_db("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);")
    report = call_checklist_review(DbsageConfig(databases={"app": DatabaseConfig(url=url)}), database="app",
                                   restore_drill=True)
    assert report.restore_drill is not None and report.restore_drill.status == "pass"
    pitr = next(i for s in report.sections for i in s.items if i.id == "backup.pitr")
    assert "sync_binlog" in pitr.evidence and "binlog_row_image" in pitr.evidence
    plan = report.backup_plan
    assert plan is not None and plan.pitr_possible is (pitr.evidence.get("log_bin") in ("ON", "1"))
    commands = " ".join(s.command for s in plan.steps)
    assert "mariadb-dump" in commands and "mariadb-binlog" in commands and "pg_" not in commands
    assert plan.steps[0].estimated_bytes == report.restore_drill.backup_bytes  # small: a logical full backup

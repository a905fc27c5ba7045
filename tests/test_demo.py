"""`dbsage demo`: the embedded PostgreSQL demo database, built once, reused, rebuilt when it changes.

These tests start a real embedded server (pgserver) in a throwaway data directory under /tmp,
whose parents are already traversable, so nothing outside it changes even when run as root.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dbsage.server import demo
from tests.conftest import need

pytestmark = pytest.mark.slow

INT4_MAX = 2**31 - 1


@pytest.fixture(scope="module")
def demo_dir() -> Iterator[Path]:
    """DBSAGE_DEMO_DIR pointed at a fresh data directory for this module; removed afterwards."""
    need(
        importlib.util.find_spec("pgserver") is not None,
        "the embedded PostgreSQL server (pgserver) is not installed",
        "pip install -e '.[embedded]'",
    )
    base = Path(tempfile.mkdtemp(prefix="dbsage-demo-test-", dir="/tmp" if Path("/tmp").is_dir() else None))
    base.chmod(0o755)  # the server may run as another user (pgserver under root): let it reach its data
    pgdata = base / "pg"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBSAGE_DEMO_DIR", str(pgdata))
        yield pgdata
        demo.stop_demo_database()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def demo_url(demo_dir: Path) -> str:
    return demo.start_demo_database(quiet=True)


def _admin_url(url: str) -> str:
    return url.replace(f"/{demo.DEMO_DATABASE}?", "/postgres?")


def _one(url: str, sql: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql.encode()).fetchone()
    assert row is not None
    return row[0]


def _database_state(url: str) -> tuple[int, str]:
    """The demo database's oid (changes when it is rebuilt) and its version comment."""
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT oid::int, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (demo.DEMO_DATABASE,),
        ).fetchone()
    assert row is not None, "the demo database does not exist"
    return int(row[0]), str(row[1])


# -- no server needed -------------------------------------------------------------------------------


def test_data_dir_follows_the_environment_and_avoids_roots_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBSAGE_DEMO_DIR", "/var/tmp/somewhere/pg")
    assert demo.demo_data_dir() == Path("/var/tmp/somewhere/pg")
    monkeypatch.delenv("DBSAGE_DEMO_DIR")
    chosen = demo.demo_data_dir()
    if os.geteuid() == 0:
        # pgserver would widen every parent of the data directory; /var/tmp's are open already.
        assert chosen == Path("/var/tmp/dbsage-demo")
    else:
        assert chosen.is_relative_to(Path.home())


def test_rebuild_reason_reuses_only_a_finished_load_of_this_version() -> None:
    wanted = demo.demo_fingerprint()
    assert demo.rebuild_reason(wanted, wanted) is None
    assert demo.rebuild_reason(None, wanted) == "first run"
    assert demo.rebuild_reason("", wanted) == "the last load did not finish"
    assert demo.rebuild_reason("dbsage demo v0 0000", wanted) == "built from another version of the demo"
    assert demo.rebuild_reason(wanted, wanted, fresh=True) == "asked for a fresh copy"


def test_every_line_of_demo_sql_belongs_to_a_step() -> None:
    """Text before a file's first `-- step:` line would be skipped by the loader: only comments allowed."""
    for file in demo.DEMO_FILES:
        text = demo.demo_sql(file)
        head = text[: text.index("-- step: ")]
        code = [line for line in head.splitlines() if line.strip() and not line.lstrip().startswith("--")]
        assert code == [], f"{file} has SQL before its first step"
    names = [s.name for s in demo.demo_steps()]
    assert names[0] == "tables"
    assert any(n.startswith("order_items") for n in names)
    assert all(s.sql.strip() for s in demo.demo_steps())


def test_client_setup_starts_the_server_itself() -> None:
    text = demo.client_setup_text()
    assert "claude mcp add dbsage -- " in text
    assert "serve --demo" in text
    snippet = text[text.index("{") : text.rindex("}") + 1]
    config = json.loads(snippet)
    assert config["mcpServers"]["dbsage"]["args"] == ["serve", "--demo"]


# -- the embedded server ----------------------------------------------------------------------------


def test_demo_database_is_loaded_with_realistic_volume(demo_url: str) -> None:
    assert demo_url.startswith(f"postgresql://postgres@/{demo.DEMO_DATABASE}?host=")
    largest = _one(
        demo_url,
        "SELECT max(reltuples)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname = 'public'",
    )
    assert largest >= 100_000, "ANALYZE ran and the largest table holds at least 100k rows"
    assert _one(demo_url, "SELECT count(*) FROM order_items") >= 100_000
    # Every order line points at an order and at a product of the same tenant.
    orphans = _one(
        demo_url,
        "SELECT count(*) FROM order_items i LEFT JOIN orders o ON o.id = i.order_id "
        "LEFT JOIN products p ON p.id = i.product_id WHERE o.id IS NULL OR p.tenant_id <> o.tenant_id",
    )
    assert orphans == 0
    _, marker = _database_state(demo_url)
    assert marker == demo.demo_fingerprint()


def test_planted_live_facts_are_there(demo_url: str) -> None:
    used = _one(demo_url, "SELECT last_value FROM orders_id_seq")
    assert 0.9 * INT4_MAX < used < INT4_MAX, "the orders key has used over 90% of int4 but still fits"
    assert _one(demo_url, "SELECT relrowsecurity FROM pg_class WHERE oid = 'documents'::regclass") is True
    assert _one(demo_url, "SELECT relrowsecurity FROM pg_class WHERE oid = 'orders'::regclass") is False
    policy = _one(demo_url, "SELECT qual FROM pg_policies WHERE tablename = 'documents'")
    assert "current_setting" in policy and "nullif" not in policy
    assert _one(demo_url, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'audit_log'::regclass") == 0


def test_a_second_start_in_another_process_reuses_the_database(demo_url: str, demo_dir: Path) -> None:
    before = _database_state(demo_url)
    code = "from dbsage.server.demo import start_demo_database; print(start_demo_database())"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={**os.environ, "DBSAGE_DEMO_DIR": str(demo_dir)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == demo_url
    assert "reusing demo database" in done.stderr
    assert "[ 1/" not in done.stderr, "no load step ran"
    assert _database_state(demo_url) == before, "same database, same version: not rebuilt"
    # That process has exited; this one still holds the server, so it must still answer.
    assert _one(demo_url, "SELECT 1") == 1


def test_a_changed_demo_is_rebuilt(demo_url: str) -> None:
    oid_before, _ = _database_state(demo_url)
    with psycopg.connect(_admin_url(demo_url), autocommit=True) as conn:
        conn.execute(f"COMMENT ON DATABASE {demo.DEMO_DATABASE} IS 'dbsage demo v0 from an older release'")
    assert demo.start_demo_database(quiet=True) == demo_url
    oid_after, marker = _database_state(demo_url)
    assert oid_after != oid_before
    assert marker == demo.demo_fingerprint()
    assert _one(demo_url, "SELECT count(*) FROM order_items") >= 100_000


def test_inspect_schema_reports_the_planted_problems(demo_url: str) -> None:
    from dbsage.tools.schema import inspect_schema

    report = inspect_schema(dsn=demo_url, limit=50)
    found = {(f.rule_id, f.object) for f in report.findings}
    expected = {
        ("schema.table_without_primary_key", "public.audit_log"),
        ("schema.json_not_jsonb", "public.projects.settings"),
        ("schema.money_type", "public.orders.total"),
        ("schema.char_n", "public.orders.status"),
        ("schema.timestamp_without_time_zone", "public.orders.placed_at"),
        ("schema.timestamp_without_time_zone", "public.users.created_at"),
        ("schema.serial_column", "public.users.id"),
    }
    assert expected <= found, f"missing: {sorted(expected - found)}"

    def objects(rule_id: str) -> list[str]:
        return [f.object for f in report.findings if f.rule_id == rule_id]

    assert any("order_items" in o and "order_id" in o for o in objects("index.fk_without_index"))
    assert any("projects" in o and "owner_id" in o for o in objects("index.fk_without_index"))
    assert any("tenant" in o for o in objects("index.duplicate_index"))
    assert any("idx_order_items_product_id" in o for o in objects("index.redundant_prefix_index"))
    assert any("invoices" in o for o in objects("schema.fk_type_mismatch"))
    assert any("orders" in o for o in objects("schema.integer_key_overflow"))
    for naming in ("schema.naming_table_case", "schema.naming_column_case", "schema.naming_index"):
        assert "public.ApiKeys" in objects(naming), naming
    # The sample traffic used the indexes the application needs; the duplicate and the redundant
    # one were never chosen, so they also show as unused.
    unused = set(objects("index.unused_index"))
    assert {"public.orders.orders_tenant_idx", "public.order_items.idx_order_items_product_id"} <= unused
    used = {"public.orders.idx_orders_tenant_id", "public.order_items.idx_order_items_product_id_quantity"}
    assert not unused & used
    # The sound reference table draws no type or key complaint.
    assert not [f for f in report.findings if f.object.startswith("public.tenants") and f.rule_id.startswith(
        ("schema.serial", "schema.timestamp", "schema.json", "schema.table_without", "index.")
    )]


def test_run_demo_prints_report_and_setup_then_stops_the_server(
    demo_url: str, demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo.run_demo(argparse.Namespace(format="json")) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["tool"] == "inspect_schema"
    assert report["rule_counts"], "the report carries findings"
    assert "claude mcp add dbsage" in captured.err

    assert demo.run_demo(argparse.Namespace(format="text")) == 0
    captured = capsys.readouterr()
    assert "claude mcp add dbsage -- " in captured.out
    assert "schema.table_without_primary_key" in captured.out
    assert "reusing demo database" in captured.err
    # run_demo released the server and no other process holds it: it has stopped.
    assert not (demo_dir / "postmaster.pid").exists()

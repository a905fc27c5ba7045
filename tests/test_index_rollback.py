"""suggest_indexes on PostgreSQL without HypoPG, with real indexes built in a rolled-back transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent

from dbsage.server.config import DatabaseConfig, DbsageConfig
from dbsage.server.mcp_server import build_server
from dbsage.tools.errors import GuardRefused, InputError
from dbsage.tools.indexes import suggest_indexes
from dbsage.tools.sources.guard import LiveDatabase, Mode
from tests.conftest import PostgresFactory
from tests.test_cli import run_cli, write_config
from tests.test_indexes import PG_SHOP, PG_WORKLOAD

PG_SHOP_PLAIN = PG_SHOP.replace("CREATE EXTENSION IF NOT EXISTS hypopg;", "")


def _index_names(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT schemaname || '.' || indexname FROM pg_indexes").fetchall()
    return {str(r[0]) for r in rows}


def test_real_index_rollback_verifies_and_leaves_nothing_behind(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PG_SHOP_PLAIN)
    before = _index_names(url)
    report = suggest_indexes(dsn=url, queries=PG_WORKLOAD, allow_real_index_rollback=True)
    wl = report.workload
    assert wl.method == "real_index_rollback" and wl.verified
    assert wl.cost_unit == "planner"
    assert wl.relative_cost is not None and wl.relative_cost < 1
    assert wl.whatif_calls > 0
    join = next(r for r in report.recommendations if (r.table, r.columns[0]) == ("public.order_items", "order_id"))
    assert join.verified and join.size_bytes and join.size_bytes > 8192
    assert join.create_sql.startswith("CREATE INDEX CONCURRENTLY")
    assert "dbsage_whatif" not in join.create_sql
    assert any("SHARE lock" in c and "production" in c for c in report.could_not_check)
    assert _index_names(url) == before


def test_without_the_flag_the_heuristic_answer_offers_the_opt_in(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PG_SHOP_PLAIN)
    report = suggest_indexes(dsn=url, queries=PG_WORKLOAD[:1])
    assert report.workload.method == "heuristic"
    assert any("allow_real_index_rollback" in c for c in report.could_not_check)


def test_create_index_for_whatif_accepts_only_one_plain_create_index(postgres_db: PostgresFactory) -> None:
    url = postgres_db("CREATE TABLE t (a int, b int);")
    with LiveDatabase.open(url) as db:
        with db.session() as read_only, pytest.raises(GuardRefused) as wrong_mode:
            read_only.create_index_for_whatif("CREATE INDEX ON t (a)")
        assert wrong_mode.value.reason == "mode"
        with db.session(Mode.ROLLBACK_WRITE) as session:
            for sql, reason in [
                ("CREATE INDEX CONCURRENTLY ON t (a)", "concurrently"),
                ("DROP TABLE t", "not_create_index"),
                ("CREATE INDEX ON t (a); DROP TABLE t", "not_create_index"),
            ]:
                with pytest.raises(GuardRefused) as refused:
                    session.create_index_for_whatif(sql)
                assert refused.value.reason == reason, sql
            with pytest.raises(InputError, match="does not exist"):
                session.create_index_for_whatif("CREATE INDEX ON missing (a)")
            session.create_index_for_whatif("CREATE INDEX t_b_whatif ON public.t (b)")
            assert session.catalog_value("SELECT count(*) FROM pg_indexes WHERE indexname = 't_b_whatif'") == 1
    assert "public.t_b_whatif" not in _index_names(url)


def _production(url: str) -> DbsageConfig:
    return DbsageConfig(databases={"shop": DatabaseConfig(url=url, production=True)})


def test_production_database_refuses_the_opt_in_on_cli_and_mcp(postgres_db: PostgresFactory, tmp_path: Path) -> None:
    url = postgres_db(PG_SHOP_PLAIN)
    before = _index_names(url)
    config = write_config(tmp_path, f'[databases.shop]\nurl = "{url}"\nproduction = true\n')
    queries = tmp_path / "workload.sql"
    queries.write_text(";\n".join(PG_WORKLOAD), encoding="utf-8")
    code, out, err = run_cli(
        "suggest-indexes", "--config", str(config), "--database", "shop", "--queries", str(queries),
        "--allow-real-index-rollback", "--format", "json",
    )
    assert code == 2 and out == ""
    assert "production" in err and "Traceback" not in err
    # Without the opt-in the same production database still gets the (unverified) heuristic answer.
    code, out, _ = run_cli(
        "suggest-indexes", "--config", str(config), "--database", "shop", "--queries", str(queries),
        "--format", "json",
    )
    assert code == 0 and json.loads(out)["workload"]["method"] == "heuristic"

    async def use(client: Client) -> CallToolResult:
        arguments: dict[str, Any] = {"database": "shop", "queries": PG_WORKLOAD, "allow_real_index_rollback": True}
        return await client.call_tool("suggest_indexes", arguments)

    async def session() -> CallToolResult:
        async with Client(build_server(_production(url))) as client:
            return await use(client)

    result = anyio.run(session)
    assert result.is_error
    (block,) = result.content
    assert isinstance(block, TextContent) and "production" in block.text
    assert _index_names(url) == before

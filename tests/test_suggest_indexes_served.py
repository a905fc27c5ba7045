"""suggest_indexes as a user reaches it: the CLI command and the MCP tool, on real databases."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from mcp import Client
from mcp_types import CallToolResult, TextContent

from dbsage.server.cli import main
from dbsage.tools.indexes import IndexReport
from tests.conftest import PostgresFactory, SqliteFactory
from tests.test_indexes import PG_SHOP, PG_WORKLOAD, SQLITE_SHOP
from tests.test_mcp import config_for, with_client


def run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def test_cli_json_proposes_the_join_index_and_the_drop(postgres_db: PostgresFactory, tmp_path: Path) -> None:
    url = postgres_db(PG_SHOP)
    workload = tmp_path / "workload.sql"
    workload.write_text(";\n".join(PG_WORKLOAD) + ";\n", encoding="utf-8")
    code, out = run_cli(["suggest-indexes", "--dsn", url, "--queries", str(workload), "--format", "json"])
    assert code == 0
    report = IndexReport.model_validate_json(out)
    assert report.workload.queries_analyzed == 3
    assert report.workload.relative_cost is not None and report.workload.relative_cost < 0.2
    assert any(r.table == "public.order_items" and r.columns[0] == "order_id" for r in report.recommendations)
    assert "public.orders.orders_status" in {d.index for d in report.drop}

    code, text = run_cli(["suggest-indexes", "--dsn", url, "--queries", str(workload), "--fail-on", "low"])
    assert code == 1  # the redundant index is a finding at low severity
    assert "CREATE INDEX CONCURRENTLY" in text and "Indexes to drop" in text


def test_cli_bad_workload_is_a_clean_error(postgres_db: PostgresFactory, tmp_path: Path) -> None:
    url = postgres_db(PG_SHOP)
    ddl_only = tmp_path / "ddl.sql"
    ddl_only.write_text("DROP TABLE orders;\n", encoding="utf-8")
    code, _ = run_cli(["suggest-indexes", "--dsn", url, "--queries", str(ddl_only)])
    assert code == 2
    code, _ = run_cli(["suggest-indexes", "--dsn", url, "--queries", str(tmp_path / "missing.sql")])
    assert code == 2


def _text(result: CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, TextContent)
    return block.text


def test_mcp_tool_on_sqlite_and_postgres(sqlite_db: SqliteFactory, postgres_db: PostgresFactory) -> None:
    config = config_for(lite=sqlite_db(SQLITE_SHOP), pg=postgres_db(PG_SHOP))
    join_query = "SELECT o.id, i.quantity FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.customer_id = 9"

    async def use(client: Client) -> tuple[dict[str, Any], CallToolResult, CallToolResult, CallToolResult]:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        lite = await client.call_tool("suggest_indexes", {"database": "lite", "queries": [join_query]})
        pg = await client.call_tool("suggest_indexes", {"database": "pg", "queries": PG_WORKLOAD})
        bad = await client.call_tool("suggest_indexes", {"database": "pg", "queries": ["DROP TABLE orders"]})
        return listed, lite, pg, bad

    listed, lite, pg, bad = with_client(config, use)
    tool = listed["suggest_indexes"]
    assert tool.output_schema is not None and "recommendations" in tool.output_schema["properties"]
    assert tool.annotations is not None and tool.annotations.read_only_hint is True

    lite_report = IndexReport.model_validate(lite.structured_content)
    assert [r.columns[0] for r in lite_report.recommendations] == ["order_id"]
    pg_report = IndexReport.model_validate(pg.structured_content)
    assert pg_report.workload.method == "hypopg"
    assert "to create" in _text(pg) and "CREATE INDEX CONCURRENTLY" in _text(pg)

    assert bad.is_error
    error = json.loads(_text(bad))
    assert error["error"] == "invalid_input" and "Traceback" not in _text(bad)

"""plan-migration, audit-security and checklist-review on the command line: formats, exit codes, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dbsage.tools.findings import Severity
from dbsage.tools.migration_model import MigrationReport
from tests.conftest import PostgresFactory, SqliteFactory
from tests.test_cli import assert_one_line_error, run_cli, write_config

MIGRATION = """\
CREATE TABLE invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total numeric NOT NULL);
CREATE INDEX idx_invoices_total ON invoices (total);

CREATE INDEX idx_orders_placed_at ON orders (placed_at);
"""
ORDERS = """
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, placed_at timestamptz NOT NULL);
INSERT INTO orders (placed_at) SELECT now() - g * interval '1 minute' FROM generate_series(1, 2000) g;
ANALYZE orders;
"""
# A SECURITY DEFINER function without a pinned search_path, executable by PUBLIC (the default).
INSECURE = """
CREATE TABLE notes (id bigint PRIMARY KEY, body text);
CREATE FUNCTION purge_notes() RETURNS void LANGUAGE sql SECURITY DEFINER AS 'DELETE FROM notes';
"""


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "DBSAGE_CONFIG", "DBSAGE_HTTP_TOKEN", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def migration_file(tmp_path: Path, text: str = MIGRATION) -> Path:
    path = tmp_path / "V2__orders_index.sql"
    path.write_text(text, encoding="utf-8")
    return path


# --- plan-migration -----------------------------------------------------------------------------


def test_plan_migration_json_locates_the_hazard_and_plans_it(tmp_path: Path) -> None:
    file = migration_file(tmp_path)
    code, out, err = run_cli("plan-migration", str(file), "--dialect", "postgres", "--format", "json",
                             "--fail-on", "high")
    assert code == 1, err
    report = MigrationReport.model_validate_json(out)
    hazards = [f for f in report.findings if f.rule_id == "migration.create_index_not_concurrently"]
    # The index on the table created in the same migration is safe; the one on orders (line 4) is not.
    assert [(f.location.line, f.location.statement) for f in hazards if f.location] == [(4, 2)]
    concurrent = [s for s in report.steps if "CONCURRENTLY" in s.sql and "idx_orders_placed_at" in s.sql]
    assert concurrent and not concurrent[0].transactional and concurrent[0].rollback_sql


def test_plan_migration_text_markdown_sarif(tmp_path: Path) -> None:
    file = migration_file(tmp_path)
    code, text, _ = run_cli("plan-migration", str(file), "--dialect", "postgres")
    assert code == 0 and "plan_migration:" in text and "Plan (" in text and "rollback:" in text
    code, markdown, _ = run_cli("plan-migration", str(file), "--dialect", "postgres", "--format", "markdown")
    assert code == 0 and markdown.startswith("# plan_migration") and "## Plan" in markdown
    code, sarif, _ = run_cli("plan-migration", str(file), "--dialect", "postgres", "--format", "sarif")
    results = json.loads(sarif)["runs"][0]["results"]
    located = [r for r in results if r["ruleId"] == "migration.create_index_not_concurrently"]
    region = located[0]["locations"][0]["physicalLocation"]
    assert region["region"]["startLine"] == 4 and region["artifactLocation"]["uri"].endswith("V2__orders_index.sql")


def test_plan_migration_with_the_database_and_rendered_files(postgres_db: PostgresFactory, tmp_path: Path) -> None:
    url = postgres_db(ORDERS)
    file = migration_file(tmp_path)
    out_dir = tmp_path / "rendered"
    code, out, err = run_cli("plan-migration", str(file), "--dsn", url, "--format", "json",
                             "--render", "sql", "--out", str(out_dir), "--name", "orders_index")
    assert code == 0, err
    report = MigrationReport.model_validate_json(out)
    assert report.server_version_num >= 150000
    hazard = next(f for f in report.findings if f.rule_id == "migration.create_index_not_concurrently")
    assert hazard.evidence.get("table_rows") == 2000
    written = sorted(p.name for p in out_dir.iterdir())
    assert written == ["orders_index.down.sql", "orders_index.up.sql"]
    assert "CONCURRENTLY" in (out_dir / "orders_index.up.sql").read_text(encoding="utf-8")


def test_plan_migration_diff_mode_offline(tmp_path: Path) -> None:
    current = tmp_path / "current.sql"
    target = tmp_path / "target.sql"
    current.write_text("CREATE TABLE users (id bigint PRIMARY KEY, email text);\n", encoding="utf-8")
    target.write_text("CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text);\n"
                      "CREATE INDEX idx_users_email ON users (email);\n", encoding="utf-8")
    code, out, err = run_cli("plan-migration", "--dialect", "postgres", "--current-ddl", str(current),
                             "--target-ddl", str(target), "--format", "json")
    assert code == 0, err
    report = MigrationReport.model_validate_json(out)
    sql = "\n".join(s.sql for s in report.steps)
    assert "ADD COLUMN" in sql and "name" in sql
    assert "CREATE INDEX CONCURRENTLY" in sql and "NOT VALID" in sql


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "migration files"),
        (["--render", "sql"], "--render needs --out"),
        (["--scratch-dsn", "postgresql://x@127.0.0.1/y"], "only with --verify"),
        (["--current-ddl", "x.sql", "--dsn", "postgresql://x@127.0.0.1/y"], "stands in for a database"),
    ],
)
def test_plan_migration_usage_errors(tmp_path: Path, argv: list[str], needle: str) -> None:
    files = [] if not argv else [str(migration_file(tmp_path))]
    code, _, err = run_cli("plan-migration", *files, "--dialect", "postgres", *argv)
    assert code == 2
    assert_one_line_error(err, needle)


def test_current_ddl_tells_the_linter_what_exists(tmp_path: Path) -> None:
    current = tmp_path / "current.sql"
    current.write_text("CREATE TABLE orders (id bigint PRIMARY KEY, note varchar(40));\n", encoding="utf-8")
    file = migration_file(tmp_path, "ALTER TABLE orders ALTER COLUMN note TYPE text;\n"
                                    "ALTER TABLE orders ALTER COLUMN id TYPE numeric;\n")
    code, out, err = run_cli("plan-migration", str(file), "--dialect", "postgres", "--current-ddl", str(current),
                             "--format", "json")
    assert code == 0, err
    findings = MigrationReport.model_validate_json(out).findings
    # varchar -> text is binary-coercible: no rewrite, no finding of medium or more; bigint -> numeric rewrites.
    by_line = {f.location.line: f for f in findings if f.rule_id == "migration.change_column_type" and f.location}
    assert 1 not in by_line or not by_line[1].severity.at_least(Severity.MEDIUM)
    assert by_line[2].severity.at_least(Severity.MEDIUM)


def test_plan_migration_missing_file_and_unparsable_sql(tmp_path: Path) -> None:
    code, _, err = run_cli("plan-migration", str(tmp_path / "nope.sql"), "--dialect", "postgres")
    assert code == 2
    assert_one_line_error(err, "nope.sql")
    broken = migration_file(tmp_path, "ALTER TABLE orders ADD COLUMN;\n")
    code, out, _ = run_cli("plan-migration", str(broken), "--dialect", "postgres", "--format", "json")
    assert code == 0
    assert "migration.unparsable" in {f.rule_id for f in MigrationReport.model_validate_json(out).findings}


def test_verify_is_refused_on_a_production_database(postgres_db: PostgresFactory, tmp_path: Path) -> None:
    url = postgres_db(ORDERS)
    config = write_config(tmp_path, f'[databases.prod]\nurl = "{url}"\nproduction = true\n'
                                    f'[databases.copy]\nurl = "{url}"\n')
    file = str(migration_file(tmp_path))
    code, _, err = run_cli("plan-migration", file, "--database", "prod", "--verify", "--config", str(config))
    assert code == 2
    assert_one_line_error(err, "production")
    # A database not configured as scratch is never written to.
    code, _, err = run_cli("plan-migration", file, "--database", "prod", "--verify", "--scratch-database", "copy",
                           "--config", str(config))
    assert code == 2
    assert_one_line_error(err, "not configured as a scratch database")


# --- audit-security -----------------------------------------------------------------------------


def test_audit_security_formats_and_fail_on(postgres_db: PostgresFactory) -> None:
    url = postgres_db(INSECURE)
    code, out, _ = run_cli("audit-security", "--dsn", url, "--format", "json", "--fail-on", "high")
    report = json.loads(out)
    definer = [f for f in report["findings"] if f["object"].startswith("public.purge_notes")]
    assert {"security.definer_search_path", "security.definer_public_execute"} <= {f["rule_id"] for f in definer}
    assert code == (1 if any(f["severity"] in ("blocker", "high") for f in report["findings"]) else 0)
    code, text, _ = run_cli("audit-security", "--dsn", url)
    assert code == 0 and text.startswith("audit_security:") and "purge_notes" in text
    code, markdown, _ = run_cli("audit-security", "--dsn", url, "--format", "markdown")
    assert markdown.startswith("# audit_security") and "search_path" in markdown
    code, sarif, _ = run_cli("audit-security", "--dsn", url, "--format", "sarif")
    assert any(r["ruleId"] == "security.definer_search_path" for r in json.loads(sarif)["runs"][0]["results"])


def test_audit_security_file_scan_masks_the_secret(tmp_path: Path) -> None:
    repo = tmp_path / "app"
    repo.mkdir()
    (repo / "settings.py").write_text('DATABASE_URL = "postgresql://app:Sup3rSecretPw@db.internal/app"\n',
                                      encoding="utf-8")
    code, out, err = run_cli("audit-security", "--paths", str(repo), "--format", "json", "--fail-on", "medium")
    assert code == 1, err
    report = json.loads(out)
    assert [f["object"] for f in report["findings"]] == [f"{repo / 'settings.py'}:1"]
    assert "Sup3rSecretPw" not in out
    code, text, _ = run_cli("audit-security", "--paths", str(repo))
    assert "Sup3rSecretPw" not in text


def test_audit_security_needs_a_source_and_refuses_probes_on_production(
    postgres_db: PostgresFactory, tmp_path: Path
) -> None:
    code, _, err = run_cli("audit-security")
    assert code == 2
    assert_one_line_error(err, "No database given")
    config = write_config(tmp_path, f'[databases.prod]\nurl = "{postgres_db(INSECURE)}"\nproduction = true\n')
    code, _, err = run_cli("audit-security", "--database", "prod", "--probe-tenants", "--config", str(config))
    assert code == 2
    assert_one_line_error(err, "production")


# --- checklist-review ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "sarif"])
def test_checklist_review_every_format(postgres_db: PostgresFactory, fmt: str) -> None:
    url = postgres_db(ORDERS + INSECURE)
    code, out, err = run_cli("checklist-review", "--dsn", url, "--format", fmt)
    assert code == 0, err
    if fmt == "json":
        report = json.loads(out)
        items = [i for s in report["sections"] for i in s["items"]]
        assert items and all(i["status"] in {"pass", "warn", "fail", "unknown", "not_applicable"} for i in items)
        assert all(i["evidence"] or i["reason"] for i in items)
        counts = report["score_counts"]
        assert sum(counts.values()) == len(items)
    elif fmt == "text":
        assert out.startswith("checklist_review:") and "Readiness score" in out
    elif fmt == "markdown":
        assert out.startswith("# checklist_review") and "| status | item | evidence |" in out
    else:
        assert json.loads(out)["version"] == "2.1.0"


def test_checklist_review_on_sqlite_and_fail_on(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db("CREATE TABLE t (a int);")
    code, out, err = run_cli("checklist-review", "--dsn", url, "--format", "json", "--fail-on", "info")
    report = json.loads(out)
    assert code == (1 if report["findings"] else 0), err
    statuses = {i["status"] for s in report["sections"] for i in s["items"]}
    assert "not_applicable" in statuses


# --- the same tools served over MCP: paths stay inside the server's folder ----------------------


def test_served_tools_read_paths_only_inside_the_server_folder(tmp_path: Path) -> None:
    import anyio
    from mcp.client import Client

    from dbsage.server.config import DbsageConfig
    from dbsage.server.mcp_server import build_server

    project = tmp_path / "project"
    project.mkdir()
    (project / "settings.py").write_text('DSN = "postgresql://app:An0therSecret@db/app"\n', encoding="utf-8")

    async def use() -> tuple[Any, Any]:
        async with Client(build_server(DbsageConfig())) as client:
            outside = await client.call_tool("audit_security", {"paths": ["/etc"]})
            inside = await client.call_tool("audit_security", {"paths": ["project"]})
            return outside, inside

    outside, inside = anyio.run(use)
    assert outside.is_error and "outside the folder the server runs in" in outside.content[0].text
    assert not inside.is_error
    report = inside.structured_content or {}
    assert [f["rule_id"] for f in report["findings"]] == ["security.hardcoded_dsn_password"]
    assert "An0therSecret" not in json.dumps(report) and "An0therSecret" not in inside.content[0].text

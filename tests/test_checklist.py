"""checklist_review: every item answered with evidence on the demo, the sample databases and SQLite;
repository evidence; composed tools that are missing or fail make their items unknown."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dbsage.server import demo
from dbsage.tools.catalog import Dialect
from dbsage.tools.checklist import ChecklistReport, ItemStatus, checklist_review, score_of
from dbsage.tools.checklist_model import load_checklist
from dbsage.tools.errors import InputError
from dbsage.tools.findings import Severity
from dbsage.tools.sources.ddl_script import split_statements
from tests.conftest import MysqlFactory, PostgresFactory, SqliteFactory
from tests.dbutil import admin_postgres

PRIORITY = {"blocker": 0, "high": 1, "medium": 2, "low": 3}


def items(report: ChecklistReport) -> dict[str, Any]:
    return {i.id: i for s in report.sections for i in s.items}


def assert_complete(report: ChecklistReport) -> None:
    """The report's invariants: every item of the checklist answered with evidence, counts and score agree."""
    spec = load_checklist()
    answered = items(report)
    assert list(answered) == [i.id for s in spec.section for i in spec.items_of(s.id)]
    assert [s.id for s in report.sections] == [s.id for s in spec.section]
    for item in answered.values():
        assert isinstance(item.status, ItemStatus)
        assert item.evidence, f"{item.id} has no evidence"
        if item.status is ItemStatus.UNKNOWN:
            assert item.reason, f"{item.id} is unknown without saying why"
    counts = {s.value: sum(1 for i in answered.values() if i.status is s) for s in ItemStatus}
    assert report.score_counts == counts
    assert sum(counts.values()) == len(answered)
    assert report.score == score_of(counts)
    if report.score is not None:
        assert 0.0 <= report.score <= 1.0
    ids = {f.id for f in report.findings}
    assert len(ids) == len(report.findings), "findings are deduplicated by id"
    for item in answered.values():
        assert set(item.finding_ids) <= ids
    ranks = [PRIORITY[r.priority] for r in report.recommendations]
    assert ranks == sorted(ranks)
    flagged = {i.id for i in answered.values() if i.status in (ItemStatus.FAIL, ItemStatus.WARN)}
    assert {r.item_id for r in report.recommendations} == flagged
    assert ChecklistReport.model_validate_json(report.model_dump_json()) == report


def load_demo(postgres_db: PostgresFactory) -> str:
    """A throwaway database holding the demo, loaded step by step as the demo loader does."""
    url = postgres_db("SELECT 1")
    with admin_postgres(url) as conn:
        conn.execute(b"SET session_replication_role = replica")
        for step in demo.demo_steps():
            conn.execute(step.sql.encode())  # VACUUM must run alone, outside a transaction block
    return url


def test_score_formula() -> None:
    assert score_of({"pass": 2, "warn": 2, "fail": 0, "unknown": 9}) == 0.75
    assert score_of({"pass": 0, "warn": 0, "fail": 0, "unknown": 3, "not_applicable": 1}) is None
    assert score_of({"pass": 1, "warn": 0, "fail": 3}) == 0.25


def test_checklist_knowledge_covers_every_persona_section() -> None:
    spec = load_checklist()
    assert [s.id for s in spec.section] == ["schema", "migrations", "security", "performance", "backup", "monitoring"]
    persona = [i for i in spec.item if i.persona]
    assert len(persona) >= 31  # the persona's six sections hold 31 boxes
    from dbsage.knowledge.rulebook import load_rules

    rules = load_rules()
    for item in spec.item:
        for pattern in item.rules:
            assert any(item.claims(r) for r in rules), f"{item.id}: {pattern} matches no rule"


@pytest.mark.postgres
def test_demo_database(postgres_db: PostgresFactory) -> None:
    url = load_demo(postgres_db)
    seen: list[str] = []
    report = checklist_review(url, progress=seen.append)
    assert_complete(report)
    assert seen and seen[0] == "reading the catalog"
    got = items(report)
    assert got["schema.primary_keys"].status is ItemStatus.FAIL  # audit_log
    assert got["schema.fk_indexes"].status is ItemStatus.FAIL  # projects.owner_id, order_items.order_id
    assert got["schema.key_capacity"].status is ItemStatus.FAIL  # orders.id past 90% of int4
    assert got["schema.multi_tenant"].status is ItemStatus.WARN  # RLS on documents only
    assert got["security.rls_enforced"].status is ItemStatus.FAIL
    assert "public.orders" in got["security.rls_enforced"].evidence["without_rls_or_policy"]
    assert got["security.user_separation"].evidence["application_roles"] == ["dbsage_demo_app"]
    assert got["schema.index_health"].status is ItemStatus.WARN  # duplicate and prefix-redundant indexes
    by_id = {f.id: f for f in report.findings}
    key_rules = {by_id[i].rule_id for i in got["schema.key_capacity"].finding_ids}
    assert key_rules == {"schema.integer_key_overflow"}
    assert got["migrations.version_controlled"].status is ItemStatus.UNKNOWN  # no --paths
    assert "--paths" in (got["backup.rto_rpo"].reason or "")
    pool = got["monitoring.connection_usage"].evidence
    assert pool["recommended_pool_size"] == 9 and "assumption" in str(pool["cores_source"])
    assert report.recommendations[0].priority in ("blocker", "high")
    assert report.fails(Severity.HIGH)


@pytest.mark.postgres
def test_sakila_and_chinook_postgres(postgres_db: PostgresFactory, realworld: Path) -> None:
    sakila = postgres_db((realworld / "sakila" / "postgres-sakila-schema.sql").read_text())
    report = checklist_review(sakila)
    assert_complete(report)
    primary = items(report)["schema.primary_keys"]  # Sakila's payment partitions have no primary key
    assert primary.status is ItemStatus.FAIL
    assert all(f.object.startswith("public.payment_p") for f in report.findings if f.id in primary.finding_ids)
    assert items(report)["schema.multi_tenant"].status is ItemStatus.NOT_APPLICABLE
    text = (realworld / "chinook" / "Chinook_PostgreSql.sql").read_text()
    chinook = postgres_db(text[text.index("CREATE TABLE"):])
    report = checklist_review(chinook)
    assert_complete(report)
    assert items(report)["schema.naming"].status is ItemStatus.WARN  # CamelCase tables and columns


@pytest.mark.postgres
def test_pagila_postgres(postgres_db: PostgresFactory, realworld: Path) -> None:
    # Pagila targets PostgreSQL 18: on 15, uuidv7() becomes gen_random_uuid(), VIRTUAL generated columns
    # become STORED, and the pgvector part (film_embedding) is left out.
    text = (realworld / "pagila" / "pagila-schema.sql").read_text(encoding="utf-8")
    text = text.replace("uuidv7()", "gen_random_uuid()").replace(") VIRTUAL", ") STORED")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("\\"))
    url = postgres_db("SELECT 1")
    skipped = []
    with admin_postgres(url) as conn:
        for stmt in split_statements(text, Dialect.POSTGRES):
            try:
                conn.execute(stmt.text.encode())
            except Exception:
                skipped.append(stmt.text)
    assert skipped and all("vector" in s or "film_embedding" in s for s in skipped)
    report = checklist_review(url)
    assert_complete(report)
    got = items(report)
    assert got["schema.fk_indexes"].status in (ItemStatus.PASS, ItemStatus.FAIL)
    assert got["schema.primary_keys"].status is ItemStatus.PASS


@pytest.mark.mysql
def test_mariadb(mysql_db: MysqlFactory, realworld: Path) -> None:
    text = (realworld / "chinook" / "Chinook_MySql.sql").read_text()
    body = text[text.index("CREATE TABLE"):]
    url = mysql_db(body)
    report = checklist_review(url)
    assert_complete(report)
    got = items(report)
    assert report.dialect is Dialect.MARIADB
    assert got["performance.xid_wraparound"].status is ItemStatus.NOT_APPLICABLE
    assert got["backup.pitr"].status is ItemStatus.FAIL  # log_bin is off on the test server
    assert {report_rule(report, i) for i in got["backup.pitr"].finding_ids} == {"health.binlog_off"}
    assert got["performance.slow_query_logging"].status is not ItemStatus.UNKNOWN
    assert got["performance.query_statistics"].status is not ItemStatus.UNKNOWN
    assert got["schema.primary_keys"].status is ItemStatus.PASS
    assert got["monitoring.connection_usage"].evidence["max_connections"]


def report_rule(report: ChecklistReport, finding_id: str) -> str:
    return next(f.rule_id for f in report.findings if f.id == finding_id)


def test_sqlite(sqlite_db: SqliteFactory, realworld: Path) -> None:
    url = sqlite_db((realworld / "chinook" / "Chinook_Sqlite.sql").read_text(encoding="utf-8-sig"))
    report = checklist_review(url)
    assert_complete(report)
    got = items(report)
    for item_id in ("performance.slow_query_logging", "backup.pitr", "security.tls", "monitoring.replication",
                    "performance.connection_pooling", "security.user_separation"):
        assert got[item_id].status is ItemStatus.NOT_APPLICABLE, item_id
        assert got[item_id].reason
    assert got["schema.primary_keys"].status is ItemStatus.PASS
    assert report.score_counts["not_applicable"] >= 13


# ------------------------------------------------------------------------------------ repository


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def make_repository(root: Path) -> None:
    (root / ".git").mkdir()
    write(root, "alembic/versions/0001_users.py", """
        revision = "0001"
        def upgrade():
            op.create_table("users")
        def downgrade():
            op.drop_table("users")
        """)
    write(root, "alembic/versions/0002_orders.py", """
        revision = "0002"
        def upgrade():
            op.create_table("orders")
        def downgrade():
            pass
        """)
    write(root, "db/migration/V1__create.sql", "CREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n")
    write(root, "db/migration/V2__index.sql", "CREATE INDEX idx_customers_email ON customers (email);\n")
    write(root, "db/migration/U1__create.sql", "DROP TABLE accounts;\n")
    write(root, ".github/workflows/ci.yml", """
        jobs:
          migrate:
            steps:
              - run: alembic upgrade head
        """)
    write(root, "deploy/pgbouncer.ini", "[pgbouncer]\npool_mode = transaction\ndefault_pool_size = 20\n")
    write(root, "app/cache.py", "import redis\nclient = redis.Redis()\n")
    write(root, "app/settings.py", 'DATABASE_URL = "postgresql://app:Sup3rSecret99@db.internal/app"\n')
    write(root, "ops/backup.sh", "pg_dump -Fc app > /backups/app.dump\nfind /backups -mtime +30 -delete\n")
    write(root, "docs/restore.md", "# Restoring\nRun pg_restore -d app /backups/app.dump and compare counts.\n")
    write(root, "docs/dr.md", "RTO: 4 hours. RPO: 15 minutes.\nWe use zero-downtime migrations.\n")
    write(root, "monitoring/alerts.yml", """
        groups:
          - rules:
              - alert: DiskAlmostFull
                expr: node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.2
              - alert: SlowQueries
                expr: rate(pg_stat_statements_mean_exec_time[5m]) > 50
        """)


@pytest.mark.postgres
def test_repository_evidence(postgres_db: PostgresFactory, tmp_path: Path) -> None:
    make_repository(tmp_path)
    url = postgres_db("CREATE TABLE accounts (id bigint PRIMARY KEY, email text);")
    report = checklist_review(url, paths=[str(tmp_path)])
    assert_complete(report)
    got = items(report)
    for item_id in ("migrations.version_controlled", "migrations.tested_on_staging", "performance.connection_pooling",
                    "performance.cache_layer", "backup.automated", "backup.retention", "backup.restore_tested",
                    "backup.rto_rpo", "monitoring.disk_alerts", "monitoring.slow_query_alerts"):
        assert got[item_id].status is ItemStatus.PASS, (item_id, got[item_id].reason)
    secrets = got["security.no_hardcoded_credentials"]
    assert secrets.status is ItemStatus.FAIL
    leaked = [f for f in report.findings if f.id in secrets.finding_ids]
    assert leaked and leaked[0].location is not None and leaked[0].location.file.endswith("app/settings.py")
    assert "Sup3rSecret99" not in report.model_dump_json()
    rollback = got["migrations.rollback"]
    assert rollback.status is ItemStatus.FAIL
    missing = [f for f in report.findings if f.id in rollback.finding_ids]
    assert {f.object for f in missing} == {"alembic/versions/0002_orders.py", "db/migration/V2__index.sql"}
    alembic = next(f for f in missing if f.object.endswith(".py"))
    assert alembic.location is not None and alembic.location.line == 4  # def downgrade()
    assert got["migrations.tested_on_staging"].evidence["migration_runs"] == [".github/workflows/ci.yml:4"]
    safe = got["migrations.zero_downtime"]
    assert safe.evidence["planned_files"] == 2
    assert safe.evidence["strategy_documents"] == ["docs/dr.md:2"]
    if "plan_migration" not in (safe.reason or ""):  # plan_migration ran: the blocking CREATE INDEX is found
        assert any(report_rule(report, i).startswith("migration.") for i in safe.finding_ids)
        assert safe.status in (ItemStatus.WARN, ItemStatus.FAIL)


def test_missing_path_is_an_input_error() -> None:
    with pytest.raises(InputError, match="No such file"):
        checklist_review("sqlite:////nonexistent.db", paths=["/nonexistent/dbsage/repo"])


# ----------------------------------------------------------------------------- composed tools


def test_missing_or_failing_tools_make_items_unknown(
    sqlite_db: SqliteFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_db("CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL);")
    write(tmp_path, "db/migration/V1__create.sql", "CREATE TABLE t (id int);\n")
    monkeypatch.setitem(sys.modules, "dbsage.tools.security", None)  # the import fails
    monkeypatch.setitem(sys.modules, "dbsage.tools.migration", None)
    report = checklist_review(url, paths=[str(tmp_path)])
    assert_complete(report)
    got = items(report)
    assert got["security.least_privilege"].status is ItemStatus.UNKNOWN
    assert "audit_security is not available" in (got["security.least_privilege"].reason or "")
    assert got["security.no_hardcoded_credentials"].status is ItemStatus.UNKNOWN
    assert got["migrations.zero_downtime"].status is ItemStatus.UNKNOWN
    assert "plan_migration is not available" in (got["migrations.zero_downtime"].reason or "")

    monkeypatch.delitem(sys.modules, "dbsage.tools.security")
    import dbsage.tools.security as security

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(security, "audit_security", broken)
    report = checklist_review(url)
    assert_complete(report)
    reason = items(report)["security.least_privilege"].reason or ""
    assert "audit_security failed" in reason and "boom" in reason


def test_repository_heuristics_need_real_evidence(tmp_path: Path) -> None:
    from dbsage.tools import checklist_repo as repo_checks

    write(tmp_path, "docs/notes.md", "We should decide an RTO and an RPO some day. Maybe Redis later.\n")
    write(tmp_path, "app/main.py", "HELP = 'back up with pg_dump before upgrading'\n")
    repo = repo_checks.scan_repository([str(tmp_path)])
    assert repo_checks.rto_rpo(repo).status is ItemStatus.UNKNOWN  # named, but no figures
    assert repo_checks.cache_layer(repo).status is ItemStatus.WARN
    assert repo_checks.connection_pooling(repo, {}).status is ItemStatus.WARN
    assert repo_checks.backup_jobs(repo) == []  # application code that mentions pg_dump is not a backup job
    assert repo_checks.migrations_found(repo, []).status is ItemStatus.FAIL
    assert repo_checks.migrations_rollback(repo).status is ItemStatus.NOT_APPLICABLE
    assert not repo.in_git


def test_rollback_detection_per_migration_tool(tmp_path: Path) -> None:
    from dbsage.tools import checklist_repo as repo_checks

    write(tmp_path, "shop/migrations/0001_initial.py", """
        from django.db import migrations
        class Migration(migrations.Migration):
            operations = [migrations.RunSQL("CREATE TABLE t (id int)", "DROP TABLE t")]
        """)
    write(tmp_path, "shop/migrations/0002_backfill.py", """
        from django.db import migrations
        class Migration(migrations.Migration):
            operations = [migrations.RunPython(forwards)]
        """)
    write(tmp_path, "db/migrations/20240101_users.sql", "-- migrate:up\nCREATE TABLE users (id int);\n"
                                                         "-- migrate:down\nDROP TABLE users;\n")
    write(tmp_path, "db/migrations/20240102_orders.up.sql", "CREATE TABLE orders (id int);\n")
    write(tmp_path, "db/migrations/20240102_orders.down.sql", "DROP TABLE orders;\n")
    write(tmp_path, "db/migrations/20240103_items.sql", "CREATE TABLE items (id int);\n")
    repo = repo_checks.scan_repository([str(tmp_path)])
    verdict = repo_checks.migrations_rollback(repo)
    assert verdict.status is ItemStatus.FAIL
    assert verdict.evidence["files_without_rollback"] == [
        "db/migrations/20240103_items.sql", "shop/migrations/0002_backfill.py"]
    django = next(f for f in verdict.findings if f.object.endswith(".py"))
    assert django.location is not None and django.location.line == 3
    plannable = sorted(Path(m.path).name for m in repo.migrations if m.plannable)
    assert plannable == ["20240102_orders.up.sql", "20240103_items.sql"]  # the one with a down section is not

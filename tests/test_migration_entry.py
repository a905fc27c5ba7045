"""plan_migration's entry: resolving the dialect and version, files or SQL or a target schema, live sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import InputError
from dbsage.tools.findings import Severity
from dbsage.tools.migration import parse_server_version, plan_migration
from tests.conftest import PostgresFactory


@pytest.mark.parametrize(("text", "dialect", "expected"), [
    ("15", Dialect.POSTGRES, 150000), ("15.4", Dialect.POSTGRES, 150004), ("9.6.3", Dialect.POSTGRES, 90603),
    ("11", Dialect.POSTGRES, 110000), ("150004", Dialect.POSTGRES, 150004), ("8.0.29", Dialect.MYSQL, 80029),
    ("10.11", Dialect.MARIADB, 101100), ("v12.1", Dialect.POSTGRES, 120001),
])
def test_parse_server_version(text: str, dialect: Dialect, expected: int) -> None:
    assert parse_server_version(text, dialect) == expected


def test_bad_server_version_is_an_input_error() -> None:
    with pytest.raises(InputError, match="server version"):
        parse_server_version("latest", Dialect.POSTGRES)


def test_offline_sql_report_has_findings_steps_and_notes() -> None:
    report = plan_migration(sql="CREATE INDEX orders_customer_idx ON orders (customer_id);\n", dialect="postgres")
    assert report.dialect is Dialect.POSTGRES
    assert report.server_version_num == 150000
    assert report.files == ["<sql>"] and report.statements == 1
    rules = {f.rule_id for f in report.findings}
    assert "migration.create_index_not_concurrently" in rules
    assert report.steps, "the planner turns the statement into steps"
    assert any("No server version given" in n for n in report.notes)
    assert any("Offline" in n for n in report.notes)
    data = json.loads(report.model_dump_json())
    first = next(f for f in data["findings"] if f["rule_id"] == "migration.create_index_not_concurrently")
    assert first["location"] == {"file": "<sql>", "line": 1, "statement": 0}
    assert first["evidence"]["lock"] == "SHARE"


def test_server_version_changes_what_is_a_hazard() -> None:
    sql = "SET lock_timeout = '1s';\nALTER TABLE orders ADD COLUMN channel text DEFAULT 'web';\n"
    old = plan_migration(sql=sql, dialect="postgres", server_version="10")
    new = plan_migration(sql=sql, dialect="postgres", server_version="15")
    assert "migration.add_column_volatile_default" in {f.rule_id for f in old.findings}
    assert "migration.add_column_volatile_default" not in {f.rule_id for f in new.findings}
    assert old.server_version_num == 100000


def test_files_and_suppressions(tmp_path: Path) -> None:
    (tmp_path / "V2__index.sql").write_text(
        "SET lock_timeout = '1s';\n-- dbsage: ignore migration.create_index_not_concurrently\n"
        "CREATE INDEX i ON orders (a);\n")
    (tmp_path / "V1__column.sql").write_text("SET lock_timeout = '1s';\nALTER TABLE orders DROP COLUMN legacy;\n")
    report = plan_migration([str(tmp_path)], dialect="postgres")
    assert [Path(f).name for f in report.files] == ["V1__column.sql", "V2__index.sql"]
    assert [s.rule_id for s in report.suppressed] == ["migration.create_index_not_concurrently"]
    assert report.suppressed[0].location.line == 3
    assert "migration.create_index_not_concurrently" not in {f.rule_id for f in report.findings}
    assert "migration.drop_column" in {f.rule_id for f in report.findings}
    assert not [n for n in report.notes if "names no rule" in n]


@pytest.mark.parametrize("dialect", ["postgres", "mariadb"])
def test_a_suppression_naming_no_rule_is_noted(dialect: str) -> None:
    rule = "create_index_not_concurrently" if dialect == "postgres" else "mysql_column_type_change"
    sql = (f"-- dbsage: ignore {rule}, migration.no_such_rule\n"
           + ("CREATE INDEX i ON orders (a);\n" if dialect == "postgres"
              else "ALTER TABLE orders MODIFY COLUMN quantity BIGINT NOT NULL;\n"))
    report = plan_migration(sql=sql, dialect=dialect)
    assert [s.rule_id for s in report.suppressed] == [f"migration.{rule}"]  # the short form works on both
    noted = [n for n in report.notes if "names no rule" in n]
    assert len(noted) == 1 and "migration.no_such_rule" in noted[0] and ":2:" in noted[0], report.notes


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sql": "SELECT 1"}, "needs a dialect"),
    ({"sql": "SELECT 1", "dialect": "sqlite"}, "not SQLite"),
    ({"sql": "SELECT 1", "dialect": "oracle"}, "Unknown dialect"),
    ({"dialect": "postgres"}, "not both and not neither"),
    ({"dialect": "postgres", "target_ddl": "CREATE TABLE t (id bigint);"}, "needs the current one"),
    ({"dialect": "postgres", "sql": "SELECT 1", "target_ddl": "CREATE TABLE t (id bigint);",
      "current_ddl": "CREATE TABLE t (id bigint);"}, "not both"),
])
def test_bad_calls_are_input_errors(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        plan_migration(**kwargs)  # type: ignore[arg-type]


def test_current_ddl_tells_the_linter_the_column_types() -> None:
    sql = "SET lock_timeout = '1s';\nALTER TABLE customers ALTER COLUMN email TYPE text;\n"
    blind = plan_migration(sql=sql, dialect="postgres")
    informed = plan_migration(sql=sql, dialect="postgres",
                              current_ddl="CREATE TABLE customers (id bigint PRIMARY KEY, email varchar(80));")
    assert [f.severity for f in blind.findings if f.rule_id == "migration.change_column_type"] == [Severity.LOW]
    assert not [f for f in informed.findings if f.rule_id == "migration.change_column_type"]


def test_target_ddl_is_diffed_and_planned() -> None:
    current = "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric NOT NULL);"
    target = ("CREATE TABLE orders (id bigint PRIMARY KEY, total numeric NOT NULL, note text);\n"
              "CREATE INDEX orders_total_idx ON orders (total);")
    report = plan_migration(dialect="postgres", target_ddl=target, current_ddl=current)
    assert report.files == ["<diff>"]
    assert report.statements >= 2
    assert report.steps
    assert "migration.create_index_not_concurrently" in {f.rule_id for f in report.findings}
    same = plan_migration(dialect="postgres", target_ddl=current, current_ddl=current)
    assert same.statements == 0 and same.steps == []
    assert any("already matches" in n for n in same.notes)


def test_mysql_goes_to_the_mysql_linter() -> None:
    report = plan_migration(sql="ALTER TABLE t MODIFY COLUMN c bigint;\n", dialect="mysql", server_version="8.0.35")
    assert report.dialect is Dialect.MYSQL and report.server_version_num == 80035
    assert all(f.rule_id.startswith("migration.") for f in report.findings)


SHOP = """
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, status text);
INSERT INTO orders SELECT g, g % 100, 'new' FROM generate_series(1, 200000) g;
CREATE TABLE flags (id bigint PRIMARY KEY, name text);
INSERT INTO flags VALUES (1, 'a');
ANALYZE;
"""


def test_live_database_gives_dialect_version_sizes_and_durations(postgres_db: PostgresFactory,
                                                                tmp_path: Path) -> None:
    url = postgres_db(SHOP)
    path = tmp_path / "001_migration.sql"
    path.write_text("SET lock_timeout = '1s';\nSET statement_timeout = '1min';\n"
                    "ALTER TABLE orders ALTER COLUMN status SET NOT NULL;\n"
                    "ALTER TABLE flags ALTER COLUMN name SET NOT NULL;\n")
    report = plan_migration([str(path)], dsn=url)
    assert report.dialect is Dialect.POSTGRES
    assert report.server_version_num >= 150000
    assert any("read from" in n and "postgres" in n for n in report.notes)
    assert not any("Offline" in n for n in report.notes)
    big = next(f for f in report.findings if f.object == "public.orders.status")
    small = next(f for f in report.findings if f.object == "public.flags.name")
    assert big.rule_id == small.rule_id == "migration.set_not_null"
    assert isinstance(big.evidence["table_rows"], int) and big.evidence["table_rows"] >= 150_000
    assert isinstance(big.evidence["estimated_seconds"], float)
    assert "will hold ACCESS EXCLUSIVE on" in big.message
    assert big.severity is Severity.HIGH
    assert small.severity is Severity.LOW
    with pytest.raises(InputError, match="not mysql"):
        plan_migration([str(path)], dsn=url, dialect="mysql")


def test_verify_runs_on_a_scratch_copy_and_leaves_the_source_alone(postgres_db: PostgresFactory) -> None:
    import psycopg

    url = postgres_db("CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, note text);\n"
                      "INSERT INTO orders SELECT g, g % 100, 'n' FROM generate_series(1, 20000) g;\nANALYZE;\n")
    seen: list[str] = []
    report = plan_migration(sql="CREATE INDEX orders_customer_idx ON orders (customer_id);\n", dsn=url,
                            verify=True, progress=seen.append)
    verification = report.verification
    assert verification is not None
    assert verification.rollback_restores_schema is True
    assert verification.original.writer_ops > 0 and verification.plan.writer_ops > 0
    assert verification.original.error is None and verification.plan.error is None
    assert verification.summary
    assert "verifying on a scratch database" in seen
    with psycopg.connect(url) as conn:
        indexes = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'").fetchall()
    assert [r[0] for r in indexes] == ["orders_pkey"]

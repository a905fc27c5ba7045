"""The `dbsage` command line against real databases: formats, exit codes and clean one-line errors."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbsage.server import cli
from dbsage.server.cli import main
from dbsage.tools.schema import SchemaReport
from tests.conftest import MysqlFactory, PostgresFactory, SqliteFactory
from tests.dbutil import admin_mysql

VENV_BIN = Path(sys.executable).parent

# Small schemas with known problems: audit_log has no primary key; orders.customer_id is a
# foreign key no index covers (InnoDB indexes foreign keys itself, so MySQL plants only the first).
PLANTED_POSTGRES = """
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    placed_at timestamptz NOT NULL
);
CREATE TABLE audit_log (happened_at timestamptz NOT NULL, detail text NOT NULL);
"""
PLANTED_MYSQL = """
CREATE TABLE customers (id bigint AUTO_INCREMENT PRIMARY KEY, email varchar(200) NOT NULL) ENGINE=InnoDB;
CREATE TABLE orders (
    id bigint AUTO_INCREMENT PRIMARY KEY,
    customer_id bigint NOT NULL,
    placed_at datetime NOT NULL,
    CONSTRAINT fk_orders_customer_id FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB;
CREATE TABLE audit_log (happened_at datetime NOT NULL, detail text NOT NULL) ENGINE=InnoDB;
"""
PLANTED_SQLITE = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    placed_at TEXT NOT NULL
);
CREATE TABLE audit_log (happened_at TEXT NOT NULL, detail TEXT NOT NULL);
"""
NO_PK = "schema.table_without_primary_key"
FK_NO_INDEX = "index.fk_without_index"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(err: str, *needles: str) -> None:
    assert err.startswith("dbsage: error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def rule_objects(report: SchemaReport, rule_id: str) -> set[str]:
    return {f.object for f in report.findings if f.rule_id == rule_id}


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests see only the configuration they write (no DATABASE_URL, no ./dbsage.toml)."""
    for name in ("DATABASE_URL", "DBSAGE_CONFIG", "DBSAGE_HTTP_TOKEN", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"dbsage-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- formats ------------------------------------------------------------------------------------


def test_version() -> None:
    proc = subprocess.run(
        [str(VENV_BIN / "dbsage"), "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("dbsage ")


def test_json_is_a_schema_report_naming_the_planted_problems(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(PLANTED_SQLITE)
    code, out, err = run_cli("inspect-schema", "--dsn", url, "--format", "json")
    assert (code, err) == (0, "")
    report = SchemaReport.model_validate_json(out)
    assert report.dialect.value == "sqlite"
    assert {t.name for t in report.tables} == {"main.customers", "main.orders", "main.audit_log"}
    assert rule_objects(report, NO_PK) == {"main.audit_log"}
    assert any("orders" in obj for obj in rule_objects(report, FK_NO_INDEX))


def test_text_output_for_a_person(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PLANTED_POSTGRES)
    code, out, _ = run_cli("inspect-schema", "--dsn", url)
    assert code == 0
    assert "HIGH (" in out and NO_PK in out and "public.audit_log" in out
    assert any(line.startswith("Summary: ") for line in out.splitlines())
    assert "\033[" not in out  # not a terminal


def test_markdown_output(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PLANTED_POSTGRES)
    code, out, _ = run_cli("inspect-schema", "--dsn", url, "--format", "markdown")
    assert code == 0
    assert out.startswith("# inspect_schema: ")
    assert "## High" in out and "`public.audit_log`" in out


def test_sarif_lists_every_finding_of_the_filtered_set(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PLANTED_POSTGRES)
    # One table per page: SARIF still carries the findings of all three tables.
    code, out, _ = run_cli("inspect-schema", "--dsn", url, "--format", "sarif", "--limit", "1")
    assert code == 0
    log = json.loads(out)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    results = run["results"]
    assert {NO_PK, FK_NO_INDEX} <= {r["ruleId"] for r in results}
    for result in results:
        assert result["ruleId"] in rule_ids
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        (location,) = result["locations"]
        assert "physicalLocation" not in location  # a live database: logical locations
        assert location["logicalLocations"][0]["fullyQualifiedName"]
    objects = {r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] for r in results}
    assert "public.audit_log" in objects and any("orders" in o for o in objects)


# --- exit codes ---------------------------------------------------------------------------------


def test_fail_on_exit_codes(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PLANTED_POSTGRES)
    assert run_cli("inspect-schema", "--dsn", url, "--fail-on", "high")[0] == 1
    assert run_cli("inspect-schema", "--dsn", url, "--fail-on", "blocker")[0] == 0
    assert run_cli("inspect-schema", "--dsn", url)[0] == 0  # default: never fails on findings
    # The gate covers every page, not only the one printed (audit_log sorts onto page 1).
    code, out, _ = run_cli(
        "inspect-schema", "--dsn", url, "--limit", "1", "--cursor", "2", "--fail-on", "high"
    )
    assert code == 1
    assert "public.orders" in out
    # Filters apply: orders alone has nothing high.
    assert run_cli("inspect-schema", "--dsn", url, "--table", "orders", "--fail-on", "high")[0] == 0


def test_baseline_accepts_known_findings(postgres_db: PostgresFactory, tmp_path: Path) -> None:
    url = postgres_db(PLANTED_POSTGRES)
    code, out, _ = run_cli("inspect-schema", "--dsn", url, "--format", "json", "--limit", "100")
    assert code == 0
    (tmp_path / "baseline.json").write_text(out, encoding="utf-8")
    config = write_config(tmp_path, 'baseline = "baseline.json"\n')
    assert run_cli("inspect-schema", "--dsn", url, "--config", str(config), "--fail-on", "info")[0] == 0
    # A new problem is not in the baseline.
    from tests.dbutil import run_postgres_script

    run_postgres_script(url, "CREATE TABLE scratch_notes (body text);")
    assert run_cli("inspect-schema", "--dsn", url, "--config", str(config), "--fail-on", "high")[0] == 1


def test_database_named_in_config_and_disabled_rules(mysql_db: MysqlFactory, tmp_path: Path) -> None:
    url = mysql_db(PLANTED_MYSQL)
    config = write_config(tmp_path, f'[databases.shop]\nurl = "{url}"\nstatement_timeout_ms = 5000\n')
    code, out, err = run_cli(
        "inspect-schema", "--database", "shop", "--config", str(config), "--format", "json"
    )
    assert (code, err) == (0, "")
    report = SchemaReport.model_validate_json(out)
    assert report.source == "shop"
    assert report.dialect.value == "mariadb"
    schema = url.rsplit("/", 1)[1]
    assert rule_objects(report, NO_PK) == {f"{schema}.audit_log"}

    disabled = write_config(tmp_path, f'[databases.shop]\nurl = "{url}"\n[rules]\ndisabled = ["{NO_PK}"]\n')
    code, out, _ = run_cli(
        "inspect-schema", "--database", "shop", "--config", str(disabled), "--format", "json"
    )
    assert code == 0
    assert NO_PK not in SchemaReport.model_validate_json(out).rule_counts


def test_database_url_from_the_environment(sqlite_db: SqliteFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    url = sqlite_db(PLANTED_SQLITE)
    monkeypatch.setenv("DATABASE_URL", url)
    code, out, _ = run_cli("inspect-schema", "--format", "json")
    assert code == 0
    assert SchemaReport.model_validate_json(out).source.endswith(url.rsplit("/", 1)[1])
    # ...and as the configured database "default".
    code, out, _ = run_cli("inspect-schema", "--database", "default", "--format", "json")
    assert code == 0
    assert SchemaReport.model_validate_json(out).source == "default"


def test_unreachable_postgres_exits_3() -> None:
    code, out, err = run_cli("inspect-schema", "--dsn", "postgresql://postgres:hunter22@127.0.0.1:1/app")
    assert code == 3 and out == ""
    assert_one_line_error(err, "Cannot connect", "127.0.0.1:1")
    assert "hunter22" not in err


def test_unreachable_mariadb_exits_3() -> None:
    code, _, err = run_cli("inspect-schema", "--dsn", "mysql://root@127.0.0.1:1/app")
    assert code == 3
    assert_one_line_error(err, "Cannot connect")


@pytest.fixture
def mariadb_user(mysql_server_url: str) -> Iterator[tuple[str, str]]:
    """A MariaDB account with a password (PostgreSQL here trusts 127.0.0.1, so it ignores passwords)."""
    user, password = f"dbsage_pw_{uuid.uuid4().hex[:6]}", f"Pw-{uuid.uuid4().hex[:12]}"
    conn = admin_mysql(mysql_server_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        yield user, password
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        conn.close()


def test_wrong_password_exits_3_without_showing_it(
    mariadb_user: tuple[str, str], mysql_db: MysqlFactory
) -> None:
    user, password = mariadb_user
    url = mysql_db(PLANTED_MYSQL)
    database = url.rsplit("/", 1)[1]
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"GRANT SELECT, SHOW VIEW ON `{database}`.* TO '{user}'@'%'")
    finally:
        conn.close()
    good = f"mysql://{user}:{password}@127.0.0.1:3306/{database}"
    assert run_cli("inspect-schema", "--dsn", good)[0] == 0
    wrong = f"mysql://{user}:{password}x@127.0.0.1:3306/{database}"
    code, _, err = run_cli("inspect-schema", "--dsn", wrong)
    assert code == 3
    assert_one_line_error(err, "Cannot connect", "Access denied")
    assert password not in err


# --- bad input: exit 2, one clean line ----------------------------------------------------------


def test_malformed_ddl(tmp_path: Path) -> None:
    path = tmp_path / "broken.sql"
    path.write_text("CREATE TABLE orders (id int PRIMARY KEY,, total numeric(10,2);\n", encoding="utf-8")
    code, _, err = run_cli("inspect-schema", "--ddl", str(path), "--dialect", "postgres")
    assert code == 2
    assert_one_line_error(err)


def test_unknown_dialect(tmp_path: Path) -> None:
    path = tmp_path / "schema.sql"
    path.write_text("CREATE TABLE t (id int PRIMARY KEY);\n", encoding="utf-8")
    code, _, err = run_cli("inspect-schema", "--ddl", str(path), "--dialect", "oracle")
    assert code == 2
    assert_one_line_error(err, "Unknown dialect 'oracle'", "postgres")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.sql"
    path.write_text("  \n", encoding="utf-8")
    code, _, err = run_cli("inspect-schema", "--ddl", str(path), "--dialect", "sqlite")
    assert code == 2
    assert_one_line_error(err, "empty")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.sql"
    path.write_bytes("CREATE TABLE caf\u00e9 (id int PRIMARY KEY);\n".encode("latin-1"))
    code, _, err = run_cli("inspect-schema", "--ddl", str(path), "--dialect", "mysql")
    assert code == 2
    assert_one_line_error(err, "not UTF-8")


def test_missing_file(tmp_path: Path) -> None:
    code, _, err = run_cli("inspect-schema", "--ddl", str(tmp_path / "nope.sql"), "--dialect", "mysql")
    assert code == 2
    assert_one_line_error(err, "File not found")


def test_table_pattern_matching_nothing(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(PLANTED_SQLITE)
    code, _, err = run_cli("inspect-schema", "--dsn", url, "--table", "invoice*")
    assert code == 2
    assert_one_line_error(err, "No table or view matches", "main.orders")


def test_missing_config_database_name(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[databases.shop]\nurl = "sqlite:///tmp/shop.db"\n')
    code, _, err = run_cli("inspect-schema", "--database", "warehouse", "--config", str(config))
    assert code == 2
    assert_one_line_error(err, "No database named 'warehouse'", "configured: shop")


def test_bad_config_files(tmp_path: Path) -> None:
    not_toml = write_config(tmp_path, "[databases.shop\nurl = 1\n")
    code, _, err = run_cli("inspect-schema", "--database", "shop", "--config", str(not_toml))
    assert code == 2
    assert_one_line_error(err, "not valid TOML")

    secret = "s3cret-pw-123"
    bad_key = write_config(
        tmp_path, f'[databases.shop]\nurl = "postgresql://u:{secret}@h/db"\nmode = "yolo"\ntimeout = 5\n'
    )
    code, _, err = run_cli("inspect-schema", "--database", "shop", "--config", str(bad_key))
    assert code == 2
    assert_one_line_error(err, "databases.shop.mode", "databases.shop.timeout: unknown key")
    assert secret not in err

    typo = write_config(tmp_path, '[rules]\ndisabled = ["schema.table_without_primary_keys"]\n')
    code, _, err = run_cli("inspect-schema", "--database", "shop", "--config", str(typo))
    assert code == 2
    assert_one_line_error(err, "rules.disabled: unknown rule id schema.table_without_primary_keys")

    code, _, err = run_cli("inspect-schema", "--database", "shop", "--config", str(tmp_path / "missing.toml"))
    assert code == 2
    assert_one_line_error(err, "Configuration file not found")


def test_no_source_at_all() -> None:
    code, _, err = run_cli("inspect-schema")
    assert code == 2
    assert_one_line_error(err, "No source given", "DATABASE_URL")


def test_usage_errors_are_one_line() -> None:
    code, _, err = run_cli("inspect-schema", "--dsn", "sqlite:///x.db", "--ddl", "x.sql")
    assert code == 2
    assert_one_line_error(err, "not allowed with argument")
    code, _, err = run_cli("inspect-schema", "--limit", "0")
    assert code == 2
    assert_one_line_error(err, "--limit")
    code, _, err = run_cli("inspect-schema", "--dsn", "sqlite:///x.db", "--dialect", "postgres")
    assert code == 2
    assert_one_line_error(err, "--dialect applies only to --ddl")


def test_internal_errors_are_one_line_and_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(args: object, out: object) -> int:
        raise RuntimeError("boom near postgresql://app:topsecret@db/app")

    monkeypatch.setattr(cli, "cmd_rules", explode)
    code, _, err = run_cli("rules")
    assert code == cli.EXIT_INTERNAL
    assert_one_line_error(err, "internal error: RuntimeError", "postgresql://app:***@db/app")
    assert "topsecret" not in err


def test_rules_command() -> None:
    code, out, _ = run_cli("rules", "--format", "json")
    assert code == 0
    rules = json.loads(out)["rules"]
    assert NO_PK in {r["id"] for r in rules}
    code, out, _ = run_cli("rules")
    assert code == 0 and NO_PK in out


def test_serve_refuses_a_public_bind_without_a_token() -> None:
    code, _, err = run_cli("serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8799")
    assert code == 2
    assert_one_line_error(err, "Refusing to serve HTTP on 0.0.0.0 without a bearer token")


def test_serve_reports_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run_cli("serve", "--transport", "http", "--port", str(port))
    assert code == 2  # not 3, which means "database unreachable"
    assert_one_line_error(err, f"Cannot listen on 127.0.0.1:{port}")


def test_sarif_of_a_ddl_file_points_at_the_file(realworld: Path) -> None:
    ddl = realworld / "pagila" / "pagila-schema.sql"
    code, out, _ = run_cli("inspect-schema", "--ddl", str(ddl), "--dialect", "postgres", "--format", "sarif")
    assert code == 0
    results = json.loads(out)["runs"][0]["results"]
    assert FK_NO_INDEX in {r["ruleId"] for r in results}
    for result in results:
        (location,) = result["locations"]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == ddl.as_uri()
        assert location["logicalLocations"][0]["fullyQualifiedName"].startswith("public")


# --- the installed command, as a separate process -----------------------------------------------


def _run_process(*argv: str, module: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dbsage.server"] if module else [str(VENV_BIN / "dbsage")]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DBSAGE_CONFIG")}
    return subprocess.run(
        [*command, *argv], capture_output=True, text=True, env=env, check=False, timeout=120
    )


def test_processes_exit_codes_and_clean_errors(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PLANTED_POSTGRES)
    ok = _run_process("inspect-schema", "--dsn", url, "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert rule_objects(SchemaReport.model_validate_json(ok.stdout), NO_PK) == {"public.audit_log"}

    failing = _run_process("inspect-schema", "--dsn", url, "--fail-on", "high", module=True)
    assert failing.returncode == 1

    unreachable = _run_process("inspect-schema", "--dsn", "postgresql://postgres@127.0.0.1:1/app")
    assert unreachable.returncode == 3
    assert_one_line_error(unreachable.stderr, "Cannot connect")

    usage = _run_process("inspect-schema", "--no-such-flag", module=True)
    assert usage.returncode == 2
    assert_one_line_error(usage.stderr, "unrecognized arguments: --no-such-flag")


# --- configuration ------------------------------------------------------------------------------


def test_config_file_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dbsage.server.config import load_config

    (tmp_path / "dbsage.toml").write_text("[databases.here]\nurl = 'sqlite:///tmp/h.db'\n", encoding="utf-8")
    assert set(load_config().databases) == {"here"}  # ./dbsage.toml
    env_file = write_config(tmp_path, '[databases.from_env]\nurl = "sqlite:///tmp/env.db"\n')
    monkeypatch.setenv("DBSAGE_CONFIG", str(env_file))
    assert set(load_config().databases) == {"from_env"}
    explicit = write_config(tmp_path, '[databases.explicit]\nurl = "sqlite:///tmp/x.db"\n')
    assert set(load_config(str(explicit)).databases) == {"explicit"}
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app")
    config = load_config(str(explicit))
    assert set(config.databases) == {"explicit", "default"}
    assert config.redacted()["databases"][0]["url"] == "postgres://app@db/app"


def test_http_token_and_transport_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dbsage.server.config import load_config
    from dbsage.server.mcp_server import check_http_bind, transport_security
    from dbsage.tools.errors import ConfigError

    config = load_config()
    check_http_bind(config, "127.0.0.1")
    check_http_bind(config, "::1")
    with pytest.raises(ConfigError):
        check_http_bind(config, "10.0.0.5")
    monkeypatch.setenv("DBSAGE_HTTP_TOKEN", "short")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        load_config()
    monkeypatch.setenv("DBSAGE_HTTP_TOKEN", "a-long-enough-token-123")
    config = load_config()
    check_http_bind(config, "10.0.0.5")
    assert "token" not in json.dumps(config.redacted())

    loopback = transport_security(config, "127.0.0.1")
    assert loopback.enable_dns_rebinding_protection and "localhost:*" in loopback.allowed_hosts
    specific = transport_security(config, "10.0.0.5")
    assert specific.enable_dns_rebinding_protection and specific.allowed_hosts == ["10.0.0.5:*"]
    assert specific.allowed_origins == []
    wildcard = transport_security(config, "0.0.0.0")
    assert not wildcard.enable_dns_rebinding_protection  # only the token protects it

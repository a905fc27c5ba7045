"""MariaDB/MySQL security checks on the shared MariaDB: planted account problems found, fixed, gone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import InputError
from dbsage.tools.findings import Finding
from dbsage.tools.security_mysql import audit_mysql
from dbsage.tools.sources.ddl_script import split_statements
from dbsage.tools.sources.guard import LiveDatabase
from dbsage.tools.sources.live import load_catalog
from tests.conftest import FIXTURES, MysqlFactory
from tests.dbutil import admin_mysql, run_mysql_script

pytestmark = pytest.mark.mysql

STRONG = "Str0ng-Enough-Pa55word!"


def _audit(url: str, app_roles: list[str] | None = None) -> tuple[list[Finding], list[str]]:
    with LiveDatabase.open(url) as db:
        catalog = load_catalog(db)
        with db.session() as session:
            return audit_mysql(session, catalog, app_roles=app_roles)


@pytest.fixture
def suffix(mysql_server_url: str) -> Iterator[str]:
    """A unique suffix for the accounts a test plants; every account carrying it is dropped after."""
    sfx = uuid.uuid4().hex[:8]
    yield sfx
    conn = admin_mysql(mysql_server_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT User, Host FROM mysql.global_priv WHERE User LIKE %s OR Host LIKE %s",
                [f"%{sfx}%", f"%{sfx}%"],
            )
            for user, host in cur.fetchall():
                cur.execute("DROP USER %s@%s", [user, host])
    finally:
        conn.close()


def _database(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def _fix_order(finding: Finding) -> int:
    """Alterations first, then DROP and RENAME (after which the old account name is gone)."""
    fix = finding.fix or ""
    return 1 if fix.startswith(("DROP USER", "RENAME USER")) else 0


def test_planted_account_problems_are_found_and_fixed(mysql_db: MysqlFactory, suffix: str) -> None:
    url = mysql_db("")
    db = _database(url)
    script = (FIXTURES / "security_mysql.sql").read_text().replace("__SFX__", suffix).replace("__DB__", db)
    run_mysql_script(url, script)

    findings, not_checked = _audit(url)
    assert not_checked == []
    found = {(f.rule_id, f.object) for f in findings}
    planted = {
        ("security.mysql_anonymous_user", f"''@'anon-{suffix}.example.test'"),
        ("security.mysql_empty_password", f"'secm_nopw_{suffix}'@'localhost'"),
        ("security.mysql_wildcard_host", f"'secm_wild_{suffix}'@'%'"),
        ("security.mysql_remote_root", f"'root'@'root-{suffix}.example.test'"),
        ("security.mysql_admin_privilege", f"'secm_admin_{suffix}'@'localhost'"),
        ("security.mysql_admin_privilege", f"'secm_grantor_{suffix}'@'localhost'"),
        ("security.mysql_weak_auth_plugin", f"'secm_old_{suffix}'@'localhost'"),
        ("security.mysql_remote_user_without_tls", f"'secm_remote_{suffix}'@'10.9.8.%'"),
        ("security.mysql_remote_user_without_tls", f"'secm_wild_{suffix}'@'%'"),
        ("security.mysql_app_user_ddl", f"'secm_app_{suffix}'@'localhost'"),
        ("security.mysql_non_innodb_table", f"{db}.legacy_log"),
        ("security.mysql_non_innodb_table", f"{db}.legacy_cache"),
    }
    assert planted <= found, planted - found
    ours = [f for f in findings if suffix in f.object or f.object.startswith(db + ".")]
    # The migration account (DDL without data rights) and the InnoDB table are not reported.
    assert not any(f"secm_migr_{suffix}" in f.object for f in ours)
    assert not any(f.object == f"{db}.orders" for f in ours)
    by_key = {(f.rule_id, f.object): f for f in ours}
    admin = by_key[("security.mysql_admin_privilege", f"'secm_admin_{suffix}'@'localhost'")]
    assert admin.evidence["privileges"] == ["GRANT OPTION", "SUPER", "FILE", "PROCESS", "SHUTDOWN", "CREATE USER"]
    assert admin.severity == "high"
    grantor = by_key[("security.mysql_admin_privilege", f"'secm_grantor_{suffix}'@'localhost'")]
    assert grantor.evidence["grant_option_on_databases"] == [db] and grantor.evidence["privileges"] == []
    assert grantor.fix == f"REVOKE GRANT OPTION ON `{db}`.* FROM 'secm_grantor_{suffix}'@'localhost';"
    app = by_key[("security.mysql_app_user_ddl", f"'secm_app_{suffix}'@'localhost'")]
    assert app.evidence["ddl_privileges"] == ["ALTER", "CREATE", "DROP", "INDEX"]
    assert app.severity == "medium"  # not named as the application's account
    assert by_key[("security.mysql_empty_password", f"'secm_nopw_{suffix}'@'localhost'")].severity == "blocker"
    assert all(f.fix for f in ours)

    # Naming the application's account raises its DDL finding to high and limits the check to it.
    named, _ = _audit(url, app_roles=[f"secm_app_{suffix}@localhost"])
    ddl = [f for f in named if f.rule_id == "security.mysql_app_user_ddl"]
    assert [(f.object, f.severity) for f in ddl] == [(f"'secm_app_{suffix}'@'localhost'", "high")]

    # Apply every fix (placeholders filled in), then audit again: nothing left on the planted objects.
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            for finding in sorted(ours, key=_fix_order):
                assert finding.fix is not None
                fix = finding.fix.replace("<new strong password>", STRONG).replace(
                    "<application host or subnet, e.g. 10.0.0.%>", "10.0.0.%"
                )
                for statement in split_statements(fix, Dialect.MARIADB):
                    cur.execute(statement.text)
    finally:
        conn.close()
    after, _ = _audit(url)
    left = [(f.rule_id, f.object) for f in after if suffix in f.object or f.object.startswith(db + ".")]
    assert left == []


def test_low_privilege_account_reports_not_checked(mysql_db: MysqlFactory, suffix: str, mysql_server_url: str) -> None:
    url = mysql_db("CREATE TABLE t (id int PRIMARY KEY) ENGINE=InnoDB;")
    db = _database(url)
    user = f"secm_low_{suffix}"
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            for host in ("localhost", "127.0.0.1"):
                cur.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{STRONG}'")
                cur.execute(f"GRANT SELECT ON `{db}`.* TO '{user}'@'{host}'")
    finally:
        conn.close()
    low_url = url.replace("root@", f"{user}:{STRONG}@", 1)
    assert low_url != url
    findings, not_checked = _audit(low_url)
    assert any("mysql.global_priv" in reason for reason in not_checked)
    assert any("DDL rights" in reason for reason in not_checked)
    assert not any(f.object_type == "user" for f in findings)  # no account was readable
    # Server settings are readable by anyone and still checked.
    assert any(f.rule_id.startswith("security.mysql_") and f.object_type == "setting" for f in findings)


def _statements(text: str, keep: tuple[str, ...]) -> str:
    chosen = [s.text for s in split_statements(text, Dialect.MARIADB) if s.text.upper().startswith(keep)]
    return ";\n".join(chosen) + ";\n"


@pytest.mark.parametrize("sample", ["sakila", "chinook"])
def test_sample_databases_audit_without_error(mysql_db: MysqlFactory, realworld: Path, sample: str) -> None:
    if sample == "sakila":
        text = (realworld / "sakila" / "mysql-sakila-schema.sql").read_text()
        chosen = [
            s.text for s in split_statements(text, Dialect.MARIADB)
            if s.text.upper().startswith(("SET ", "CREATE TABLE", "CREATE VIEW", "CREATE DEFINER"))
            and "TRIGGER" not in s.head and "sakila." not in s.text
        ]
        script = ";\n".join(chosen) + ";\n"
        tables = 16
    else:
        text = (realworld / "chinook" / "Chinook_MySql.sql").read_text(encoding="utf-8-sig")
        script = _statements(text, ("CREATE TABLE", "ALTER TABLE", "CREATE INDEX"))
        tables = 11
    url = mysql_db(script)
    findings, not_checked = _audit(url, app_roles=["nobody_in_particular"])
    assert not_checked == []
    db = _database(url)
    sample_findings: list[Any] = [f for f in findings if f.object.startswith(db + ".")]
    # Sakila's film_text is MyISAM upstream; everything else is InnoDB.
    engines = {f.object.split(".", 1)[1] for f in sample_findings if f.rule_id == "security.mysql_non_innodb_table"}
    assert engines <= {"film_text"}
    with LiveDatabase.open(url) as live:
        assert len(load_catalog(live).tables) == tables


def test_wrong_dialect_is_input_error(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "x.db"
    sqlite3.connect(path).close()
    with LiveDatabase.open(f"sqlite:///{path}") as db, db.session() as session, pytest.raises(InputError):
        audit_mysql(session, load_catalog(db))


def test_system_tables_are_not_reported_as_non_innodb(mysql_server_url: str) -> None:
    from tests.dbutil import mysql_url_for

    findings, _ = _audit(mysql_url_for(mysql_server_url, "mysql"))
    assert not any(f.rule_id == "security.mysql_non_innodb_table" for f in findings)
    # ... while the server-level checks still ran.
    assert any(f.rule_id == "security.mysql_no_password_validation" or f.object_type == "setting" for f in findings)

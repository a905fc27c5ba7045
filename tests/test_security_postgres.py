"""audit_security on a real PostgreSQL: every planted object-level problem is found by name, its fix SQL
runs as given and makes it disappear; the generated least-privilege setup separates the roles; the audit
runs on the real-world Pagila and as a low-privilege monitoring role without failing.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import GuardRefused, InputError
from dbsage.tools.security import SecurityReport, audit_security
from dbsage.tools.sources.ddl_script import split_statements
from tests.conftest import FIXTURES, PostgresFactory
from tests.dbutil import admin_postgres, postgres_url_for, run_postgres_script

FIXTURE = (FIXTURES / "security_postgres.sql").read_text()

# Checks of the whole server: their fixes (ALTER SYSTEM, pg_hba.conf) must not run on the shared server;
# tests/test_security_private_pg.py covers them on a private instance.
SERVER_RULES = {
    "security.md5_password_hash", "security.password_encryption_not_scram", "security.ssl_off",
    "security.ssl_min_protocol_weak", "security.hba_trust", "security.hba_cleartext_password", "security.hba_md5",
    "security.hba_open_address", "security.hba_remote_superuser", "security.log_connections_off",
    "security.log_statement_off",
}


def planted(p: str) -> set[tuple[str, str]]:
    """(rule_id, object) of every problem security_postgres.sql plants, with the role prefix `p`."""
    return {
        ("security.tenant_table_without_rls", "app.accounts"),
        ("security.tenant_table_without_rls", "app.logs"),
        ("security.policy_without_rls", "app.invoices"),
        ("security.rls_without_policy", "app.notes"),
        ("security.permissive_policy_always_true", "app.documents.open_read"),
        ("security.view_bypasses_rls", "app.document_titles"),
        ("security.view_bypasses_rls", "app.recent_titles"),
        ("security.partition_without_rls", "app.events_1"),
        ("security.policy_setting_without_nullif", "app.orders.by_setting"),
        ("security.rls_owner_not_forced", "app.preferences"),
        ("security.app_role_owns_tables", f"{p}_app"),
        ("security.app_role_ddl_rights", f"{p}_app"),
        ("security.app_role_no_default_privileges", f"{p}_app"),
        ("security.superuser_login_role", f"{p}_super"),
        ("security.bypassrls_login_role", f"{p}_bypass"),
        ("security.createrole_login_role", f"{p}_creator"),
        ("security.privileged_membership", f"{p}_ops"),
        ("security.privileged_membership", f"{p}_filer"),
        ("security.public_create_schema", "app"),
        ("security.definer_search_path", "app.count_accounts()"),
        ("security.definer_public_execute", "app.count_accounts()"),
        ("security.leakproof_function", "app.is_positive(n integer)"),
        ("security.extension_in_public", "public.citext"),
    }


@dataclass
class PlantedDb:
    url: str
    prefix: str
    database: str

    def ours(self, obj: str) -> bool:
        """True for objects of this test (not other engineers' roles on the shared server)."""
        return obj.startswith(("app.", self.prefix)) or obj in ("app", "public.citext")


@pytest.fixture
def planted_db(postgres_server_url: str) -> Iterator[PlantedDb]:
    prefix = f"secpg_{uuid.uuid4().hex[:8]}"
    name = f"dbsage_t_{uuid.uuid4().hex[:10]}"
    with admin_postgres(postgres_server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = postgres_url_for(postgres_server_url, name)
        run_postgres_script(url, FIXTURE.replace("__P__", prefix))
        yield PlantedDb(url, prefix, name)
    finally:
        with admin_postgres(postgres_server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            roles = conn.execute("SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (prefix,)).fetchall()
            for (role,) in roles:
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def found(report: SecurityReport) -> set[tuple[str, str]]:
    return {(f.rule_id, f.object) for f in report.findings}


def test_every_planted_problem_is_found_and_its_fix_clears_it(planted_db: PlantedDb) -> None:
    p = planted_db.prefix
    started = time.monotonic()
    report = audit_security(planted_db.url)
    assert report.app_roles == [f"{p}_app"], "the app role is detected: a login role using tables it does not own"
    assert report.dialect == "postgres" and report.tenant_setting == "app.tenant_id"
    missing = planted(p) - found(report)
    assert not missing, f"planted problems not found: {sorted(missing)}"
    # Nothing of ours is reported that was not planted (no false positive on the fixture's good objects).
    extra = {(r, o) for r, o in found(report) if planted_db.ours(o)} - planted(p)
    assert not extra, f"unexpected findings: {sorted(extra)}"
    assert report.least_privilege_setup is not None and f"{p}_owner" in report.least_privilege_setup

    ours = [f for f in report.findings if planted_db.ours(f.object) and f.rule_id not in SERVER_RULES]
    assert all(f.fix for f in ours), [f.rule_id for f in ours if not f.fix]
    for finding in ours:
        assert finding.fix is not None
        run_postgres_script(planted_db.url, finding.fix)  # as the superuser, exactly as given

    again = audit_security(planted_db.url)
    left = {(r, o) for r, o in found(again) if planted_db.ours(o)}
    assert not left, f"findings left after applying their fixes: {sorted(left)}"
    assert again.least_privilege_setup is None
    assert time.monotonic() - started < 30


def test_fixed_policies_isolate_tenants(planted_db: PlantedDb) -> None:
    """The fix of an RLS-less tenant table really isolates: as the app role, each tenant sees only its rows."""
    report = audit_security(planted_db.url)
    fix = next(f.fix for f in report.findings if f.rule_id == "security.tenant_table_without_rls")
    assert fix is not None
    run_postgres_script(planted_db.url, "INSERT INTO app.accounts VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 2, 'c');")
    run_postgres_script(planted_db.url, fix)
    with admin_postgres(planted_db.url) as conn:
        conn.autocommit = False
        conn.execute(f'SET ROLE "{planted_db.prefix}_app"')
        conn.execute("SELECT set_config('app.tenant_id', '2', true)")
        assert conn.execute("SELECT count(*) FROM app.accounts").fetchone() == (2,)
        conn.execute("SELECT set_config('app.tenant_id', '', true)")
        assert conn.execute("SELECT count(*) FROM app.accounts").fetchone() == (0,), "empty context sees nothing"
        conn.rollback()


def test_least_privilege_setup_separates_the_roles(planted_db: PlantedDb) -> None:
    report = audit_security(planted_db.url)
    app = f"{planted_db.prefix}_app"
    setup = report.least_privilege_setup
    assert setup is not None and not re.search(r"(?i)password\s+'", setup), "no password in generated SQL"
    run_postgres_script(planted_db.url, setup)
    again = audit_security(planted_db.url)
    separation = {"security.app_role_owns_tables", "security.app_role_ddl_rights",
                  "security.app_role_no_default_privileges", "security.public_create_schema"}
    assert not [(f.rule_id, f.object) for f in again.findings if f.rule_id in separation and planted_db.ours(f.object)]
    assert again.app_roles == [app], "the app role still uses the tables after the separation"


def test_named_app_role_and_bad_input(planted_db: PlantedDb) -> None:
    p = planted_db.prefix
    report = audit_security(planted_db.url, app_roles=[f"{p}_bypass"], source_name="planted")
    assert report.app_roles == [f"{p}_bypass"] and report.source == "planted"
    # The named role reads nothing, so tenant tables are not reported as readable by it.
    assert ("security.tenant_table_without_rls", "app.accounts") not in found(report)
    assert ("security.bypassrls_login_role", f"{p}_bypass") in found(report)
    assert next(f for f in report.findings if f.object == f"{p}_bypass").severity.value == "blocker"
    with pytest.raises(InputError, match="No role named"):
        audit_security(planted_db.url, app_roles=[f"{p}_nobody"])
    with pytest.raises(InputError):
        audit_security()
    with pytest.raises(GuardRefused):
        audit_security(planted_db.url, probe_tenants=True, allow_probe=False)
    disabled = audit_security(planted_db.url, options=_options({"security.rls_without_policy"}))
    assert not any(f.rule_id == "security.rls_without_policy" for f in disabled.findings)


def _options(disabled: set[str]) -> object:
    from dbsage.tools.rules.registry import RuleOptions

    return RuleOptions(disabled=frozenset(disabled))


def test_low_privilege_role_gets_not_checked_instead_of_errors(planted_db: PlantedDb) -> None:
    """A login role with pg_monitor and pg_read_all_stats only: every check needing more is listed, none fails."""
    monitor = f"{planted_db.prefix}_monitor"
    grant = f'CREATE ROLE "{monitor}" LOGIN; GRANT pg_monitor, pg_read_all_stats TO "{monitor}";'
    run_postgres_script(planted_db.url, grant)
    url = planted_db.url.replace("postgres@", f"{monitor}@", 1)
    report = audit_security(url)
    assert any(n.startswith("pg_hba rules: needs superuser") for n in report.not_checked), report.not_checked
    assert "md5 password hashes: needs superuser (pg_authid)" in report.not_checked
    # Catalog-based checks still run as the monitoring role.
    assert ("security.policy_without_rls", "app.invoices") in found(report)
    assert ("security.view_bypasses_rls", "app.document_titles") in found(report)
    assert not any(f.rule_id.startswith("security.hba_") for f in report.findings)


def test_real_world_pagila_audits_without_error(postgres_db: PostgresFactory, realworld: Path) -> None:
    # Pagila is written for PostgreSQL 18 (uuidv7(), VIRTUAL generated columns): on 15 it is loaded
    # statement by statement and what 15 refuses is left out.
    text = (realworld / "pagila" / "pagila-schema.sql").read_text(encoding="utf-8")
    text = text.replace("uuidv7()", "gen_random_uuid()")
    url = postgres_db("SELECT 1")
    loaded = 0
    with admin_postgres(url) as conn:
        for statement in split_statements(text, Dialect.POSTGRES):
            try:
                conn.execute(statement.text.encode())
                loaded += 1
            except psycopg.Error:
                pass
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert loaded > 100 and tables is not None and tables[0] >= 10
    report = audit_security(url)
    assert report.dialect == "postgres"
    # No tenant column, no policy: no row-level security finding. Pagila's one SECURITY DEFINER
    # function (rewards_report) pins no search_path and keeps PUBLIC's EXECUTE: both are reported.
    assert not any(f.rule_id.startswith(("security.tenant_", "security.policy_")) for f in report.findings)
    definers = {(f.rule_id, f.object) for f in report.findings if f.rule_id.startswith("security.definer_")}
    signature = "public.rewards_report(min_monthly_purchases integer, min_dollar_amount_purchased numeric)"
    assert definers == {("security.definer_search_path", signature), ("security.definer_public_execute", signature)}
    assert report.model_dump_json()


def test_tenant_probe_through_audit_security_shows_the_leak(planted_db: PlantedDb) -> None:
    rows = "".join(
        f"INSERT INTO app.{t} (id, tenant_id) VALUES (1, 1), (2, 2), (3, 2);" for t in ("accounts", "orders")
    )
    run_postgres_script(planted_db.url, rows)
    refused = audit_security(planted_db.url, probe_tenants=True)
    assert refused.probe is not None and refused.probe.refused and not refused.probe.steps, "the app role owns a table"
    owns = next(f for f in refused.findings if f.rule_id == "security.app_role_owns_tables")
    assert owns.fix is not None
    run_postgres_script(planted_db.url, owns.fix)
    report = audit_security(planted_db.url, probe_tenants=True)
    assert report.probe is not None and report.probe.app_role == f"{planted_db.prefix}_app"
    assert report.probe.steps and not report.probe.isolated
    leaks = {(f.rule_id, f.object) for f in report.findings if f.rule_id.startswith("security.tenant_probe_")}
    assert ("security.tenant_probe_read_leak", "app.accounts") in leaks, leaks
    assert report.model_dump(mode="json")["probe"]["steps"]


def test_mariadb_goes_to_the_mysql_checks(mysql_db: object) -> None:
    url = mysql_db("CREATE TABLE t (id int primary key);")  # type: ignore[operator]
    report = audit_security(url)
    assert report.dialect in ("mariadb", "mysql") and report.least_privilege_setup is None
    assert all(f.rule_id.startswith("security.") for f in report.findings)

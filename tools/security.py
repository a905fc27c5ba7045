"""audit_security: least privilege, row-level security, connection security and hard-coded credentials.

One entry for every engine: PostgreSQL (tools/security_postgres.py), MariaDB/MySQL
(tools/security_mysql.py), SQLite (file permissions), and the scan of a project's files for
credentials (tools/security_files.py), which also runs without a database.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import GuardRefused, InputError
from dbsage.tools.findings import Finding, sort_findings
from dbsage.tools.report import Report
from dbsage.tools.rules.registry import RuleOptions
from dbsage.tools.security_files import scan_files, sqlite_permission_findings
from dbsage.tools.security_mysql import audit_mysql
from dbsage.tools.security_postgres import audit_postgres
from dbsage.tools.sources.guard import Limits, LiveDatabase
from dbsage.tools.sources.live import load_catalog
from dbsage.tools.tenant_probe import ProbeReport
from dbsage.tools.tenant_probe import probe_tenants as run_probe


class SecurityReport(Report):
    """Security findings of one database and/or a project's files."""

    source: str = Field(description="Redacted name of the database, or the scanned paths")
    dialect: str = Field(description="postgres, mysql, mariadb, sqlite, or 'files' for a file scan alone")
    app_roles: list[str] = Field(default_factory=list, description="Roles audited as the application's")
    tenant_column: str = "tenant_id"
    tenant_setting: str | None = Field(default=None, description="Setting the policies read the tenant from")
    files_scanned: int = 0
    probe: ProbeReport | None = Field(default=None, description="The tenant isolation probe's steps and row counts")
    least_privilege_setup: str | None = Field(
        default=None, description="SQL for a migration role + an app role, when the two-user separation is missing"
    )
    not_checked: list[str] = Field(default_factory=list, description="Checks not run, each with the reason")


def audit_security(
    dsn: str | None = None,
    *,
    paths: list[str] | None = None,
    app_roles: list[str] | None = None,
    tenant_column: str = "tenant_id",
    probe_tenants: bool = False,
    tenant_setting: str | None = None,
    limits: Limits | None = None,
    source_name: str | None = None,
    options: RuleOptions | None = None,
    allow_probe: bool = True,
) -> SecurityReport:
    """Audit the database at `dsn` and/or the files under `paths` for security problems.

    `app_roles`: the application's roles (default: detected, see security_pg_facts.detect_app_roles).
    `probe_tenants` (PostgreSQL): prove tenant isolation as the app role in a rolled-back transaction;
    `allow_probe` False (a production database) refuses it.
    """
    if dsn is None and not paths:
        raise InputError("Nothing to audit.", hint="give a database URL (dsn) and/or paths of the project's files")
    if not tenant_column.strip():
        raise InputError("The tenant column name is empty.", hint="name the column holding the tenant, e.g. tenant_id")
    findings: list[Finding] = []
    not_checked: list[str] = []
    report_fields: dict[str, Any] = {}
    source = source_name or ", ".join(paths or [])
    dialect = "files"
    if dsn is not None:
        with LiveDatabase.open(dsn, limits=limits) as db:
            source = source_name or db.url.redacted
            dialect = db.dialect.value
            found, skipped, extra = _audit_database(
                db, app_roles=app_roles, tenant_column=tenant_column, tenant_setting=tenant_setting,
                probe_tenants=probe_tenants, allow_probe=allow_probe,
            )
            findings += found
            not_checked += skipped
            report_fields.update(extra)
    files_scanned = 0
    if paths:
        found, files_scanned = scan_files(paths)
        findings += found
    disabled = options.disabled if options else frozenset()
    findings = [f for f in findings if f.rule_id not in disabled]
    return SecurityReport(
        source=source,
        dialect=dialect,
        tenant_column=tenant_column,
        findings=sort_findings(findings),
        files_scanned=files_scanned,
        not_checked=not_checked,
        **report_fields,
    )


def _audit_database(
    db: LiveDatabase,
    *,
    app_roles: list[str] | None,
    tenant_column: str,
    tenant_setting: str | None,
    probe_tenants: bool,
    allow_probe: bool,
) -> tuple[list[Finding], list[str], dict[str, Any]]:
    if probe_tenants and db.dialect is not Dialect.POSTGRES:
        raise InputError("The tenant isolation probe runs on PostgreSQL only.", hint="leave probe_tenants off")
    if probe_tenants and not allow_probe:
        raise GuardRefused(
            f"The tenant probe is not allowed on {db.url.redacted}.",
            reason="probe_not_allowed",
            hint="run it against a staging copy, or allow probes for this database in dbsage.toml",
        )
    catalog = load_catalog(db)
    # Password kinds and hidden settings are reported by the checks that need them, with the privilege.
    not_checked = [f"catalog: {u}" for u in catalog.unknown
                   if not u.startswith(("role password kinds", "settings "))]
    if db.dialect is Dialect.POSTGRES:
        audit = audit_postgres(db, catalog, app_roles=app_roles, tenant_column=tenant_column,
                               tenant_setting=tenant_setting)
        findings = list(audit.findings)
        extra: dict[str, Any] = {
            "app_roles": audit.app_roles,
            "tenant_setting": audit.tenant_setting,
            "least_privilege_setup": audit.least_privilege_setup,
        }
        if probe_tenants:
            if not audit.app_roles:
                raise InputError("No application role to probe as.",
                                 hint="name the application's login role with app_roles (--app-role)")
            probe, probe_findings = run_probe(
                db, app_role=audit.app_roles[0], tenant_column=tenant_column, tenant_setting=tenant_setting,
                catalog=catalog,
            )
            extra["probe"] = probe
            findings += probe_findings
            if len(audit.app_roles) > 1:
                not_checked.append(f"tenant probe: run as {audit.app_roles[0]} only; name another with app_roles")
        return findings, audit.not_checked + not_checked, extra
    if db.dialect.is_mysql_family:
        with db.session() as session:
            found, skipped = audit_mysql(session, catalog, app_roles=app_roles)
        return list(found), list(skipped) + not_checked, {"app_roles": list(app_roles or [])}
    assert db.url.path is not None
    # sqlite:////abs/path leaves a double slash, which POSIX paths keep: name the file as ls would.
    path = Path(os.path.realpath(db.url.path))
    return sqlite_permission_findings(path), not_checked, {}


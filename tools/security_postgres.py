"""audit_security on PostgreSQL: row-level security, roles and privileges, connection security, logging."""

from __future__ import annotations

from dataclasses import dataclass, field

from dbsage.tools.catalog import Catalog
from dbsage.tools.errors import InputError
from dbsage.tools.findings import Finding
from dbsage.tools.least_privilege import least_privilege_setup
from dbsage.tools.security_pg_facts import PgFacts, detect_app_roles, load_role_access, load_session_facts
from dbsage.tools.security_pg_rls import RlsContext, rls_findings, tenant_setting_of
from dbsage.tools.security_pg_roles import RoleContext, choose_migrators, role_findings
from dbsage.tools.security_pg_server import server_findings
from dbsage.tools.sources.guard import LiveDatabase, Mode

# Findings that mean the application role does DDL too: the two-user separation is missing.
_SEPARATION_RULES = {"security.app_role_owns_tables", "security.app_role_ddl_rights"}


@dataclass
class PgAudit:
    findings: list[Finding]
    app_roles: list[str]
    tenant_setting: str
    not_checked: list[str] = field(default_factory=list)
    least_privilege_setup: str | None = None
    facts: PgFacts | None = None


def audit_postgres(
    db: LiveDatabase,
    catalog: Catalog,
    *,
    app_roles: list[str] | None,
    tenant_column: str,
    tenant_setting: str | None = None,
) -> PgAudit:
    """Every PostgreSQL check, read in one read-only session.

    `app_roles` None: the login roles (not superusers) that connect to this database and use tables
    they do not own (see detect_app_roles).
    """
    with db.session(Mode.READ_ONLY) as session:
        facts = load_session_facts(session, catalog)
        known = {r.name for r in catalog.roles}
        if app_roles:
            missing = [r for r in app_roles if r not in known]
            if missing:
                raise InputError(
                    f"No role named {', '.join(missing)} on this server.",
                    hint="give the application's login role as the server knows it (see pg_roles)",
                )
            roles = sorted(set(app_roles))
        else:
            roles = detect_app_roles(facts)
        load_role_access(session, catalog, facts, roles)
    setting = tenant_setting_of(catalog, tenant_setting)
    findings = rls_findings(RlsContext(catalog, facts, roles, tenant_column, setting))
    migrators = choose_migrators(catalog, facts, roles)
    findings += role_findings(RoleContext(catalog, facts, roles, migrators))
    server, not_checked = server_findings(catalog, facts)
    findings += server
    not_checked = facts.not_checked + not_checked
    if not roles:
        not_checked.append(
            "application role checks (ownership, DDL rights, default privileges): no login role uses this "
            "database's tables; name it with app_roles"
        )
    setup = _setup(catalog, facts, roles, findings, migrators)
    return PgAudit(findings, roles, setting, not_checked, setup, facts)


def _setup(
    catalog: Catalog, facts: PgFacts, roles: list[str], findings: list[Finding], migrators: dict[str, str]
) -> str | None:
    separated = {f.object for f in findings if f.rule_id in _SEPARATION_RULES}
    parts = []
    for role in roles:
        if role not in separated:
            continue
        row = facts.role_facts.get(role) or {}
        owned_schemas = sorted({str(a["schema_name"]) for a in facts.schema_access
                                if a["role"] == role and a["owns"]})
        used = sorted({str(a["schema_name"]) for a in facts.table_access if a["role"] == role})
        parts.append(least_privilege_setup(
            database=facts.database,
            schemas=used or list(catalog.schemas),
            app_role=role,
            owned_tables=list(row.get("owned_tables") or []),
            owned_schemas=owned_schemas,
            migration_role=migrators.get(role),
        ))
    return "\n".join(parts) or None

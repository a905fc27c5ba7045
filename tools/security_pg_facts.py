"""PostgreSQL facts audit_security needs beyond the Catalog: what each role can do, default privileges,
views over RLS tables and the pg_hba rules. Queries that need more privilege than the connecting role
has run in a savepoint; when refused, the check lands in `not_checked` with the privilege it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dbsage.tools.catalog import Catalog
from dbsage.tools.errors import QueryFailed
from dbsage.tools.sources.guard import GuardedSession

Row = dict[str, Any]

_SESSION_SQL = """
SELECT current_user::text AS current_user, current_database()::text AS database,
       (SELECT rolname::text FROM pg_roles WHERE oid = 10) AS bootstrap,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_superuser
"""

# What each non-superuser login role can do in this database. Ownership counts through membership
# (a member of the owning role has the owner's rights); superusers pass every check, so they are
# left out here and judged by their attribute.
_ROLE_FACTS_SQL = """
SELECT r.rolname::text AS name,
       has_database_privilege(r.oid, current_database(), 'CONNECT') AS can_connect,
       has_database_privilege(r.oid, current_database(), 'CREATE') AS db_create,
       pg_has_role(r.oid, d.datdba, 'USAGE') AS owns_database,
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                 AND NOT pg_has_role(r.oid, c.relowner, 'USAGE')
                 AND has_table_privilege(r.oid, c.oid, 'SELECT, INSERT, UPDATE, DELETE')) AS uses_tables,
       ARRAY(SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p')
               AND pg_has_role(r.oid, c.relowner, 'USAGE')
             ORDER BY 1) AS owned_tables
FROM pg_roles r CROSS JOIN pg_database d
WHERE d.datname = current_database() AND r.rolcanlogin AND NOT r.rolsuper AND r.rolname !~ '^pg_'
"""

_TABLE_ACCESS_SQL = """
SELECT r.rolname::text AS role, n.nspname::text AS schema_name, c.relname::text AS name,
       has_table_privilege(r.oid, c.oid, 'SELECT') AS can_select,
       pg_has_role(r.oid, c.relowner, 'USAGE') AS owns
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN pg_roles r
WHERE r.rolname = ANY(%(roles)s) AND n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p')
"""

_SCHEMA_ACCESS_SQL = """
SELECT r.rolname::text AS role, n.nspname::text AS schema_name,
       has_schema_privilege(r.oid, n.oid, 'CREATE') AS can_create,
       pg_has_role(r.oid, n.nspowner, 'USAGE') AS owns
FROM pg_namespace n CROSS JOIN pg_roles r
WHERE r.rolname = ANY(%(roles)s) AND n.nspname = ANY(%(schemas)s)
"""

_DEFAULT_ACL_SQL = """
SELECT pg_get_userbyid(d.defaclrole)::text AS owner, n.nspname::text AS schema_name,
       d.defaclobjtype::text AS objtype,
       CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END AS grantee,
       x.privilege_type AS privilege
FROM pg_default_acl d
LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
CROSS JOIN LATERAL aclexplode(d.defaclacl) x
"""

# What each view's rewrite rule reads (direct dependencies; chains are followed in Python).
_VIEW_DEPS_SQL = """
SELECT DISTINCT vn.nspname::text AS view_schema, v.relname::text AS view_name,
       tn.nspname::text AS table_schema, t.relname::text AS table_name,
       t.relkind::text AS relkind, t.relrowsecurity AS rls
FROM pg_class v
JOIN pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_rewrite rw ON rw.ev_class = v.oid
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid AND d.refclassid = 'pg_class'::regclass
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE v.relkind = 'v' AND t.oid <> v.oid AND t.relkind IN ('r', 'p', 'v')
  AND vn.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2, 3, 4
"""

_EXTENSIONS_SQL = "SELECT extname::text AS name, extrelocatable AS relocatable FROM pg_extension"

_HBA_SQL = "SELECT h.*, current_setting('hba_file') AS hba_file FROM pg_hba_file_rules h ORDER BY h.line_number"


@dataclass
class PgFacts:
    """Everything the PostgreSQL checks read that the Catalog does not hold."""

    current_user: str
    database: str
    bootstrap_superuser: str
    is_superuser: bool
    role_facts: dict[str, Row] = field(default_factory=dict)
    table_access: list[Row] = field(default_factory=list)
    schema_access: list[Row] = field(default_factory=list)
    default_acls: list[Row] = field(default_factory=list)
    rls_views: list[Row] = field(default_factory=list)
    relocatable: dict[str, bool] = field(default_factory=dict)
    hba_rules: list[Row] | None = None
    not_checked: list[str] = field(default_factory=list)

    def can_select(self, role: str, schema: str, table: str) -> bool:
        return any(
            r["role"] == role and r["schema_name"] == schema and r["name"] == table and r["can_select"]
            for r in self.table_access
        )

    def owns(self, role: str, schema: str, table: str) -> bool:
        return any(
            r["role"] == role and r["schema_name"] == schema and r["name"] == table and r["owns"]
            for r in self.table_access
        )


def optional_rows(session: GuardedSession, sql: str, params: dict[str, Any] | None = None) -> list[Row] | None:
    """Rows of a query that may be refused, or None; a refusal does not abort the transaction."""
    session.catalog("SAVEPOINT dbsage_security")
    try:
        rows = session.catalog(sql, params)
    except QueryFailed:
        session.catalog("ROLLBACK TO SAVEPOINT dbsage_security")
        return None
    finally:
        session.catalog("RELEASE SAVEPOINT dbsage_security")
    return rows


def load_session_facts(session: GuardedSession, catalog: Catalog) -> PgFacts:
    """Who is connected, and what each login role can do in the audited schemas."""
    row = session.catalog(_SESSION_SQL)[0]
    facts = PgFacts(
        current_user=str(row["current_user"]),
        database=str(row["database"]),
        bootstrap_superuser=str(row["bootstrap"]),
        is_superuser=bool(row["is_superuser"]),
    )
    schemas = list(catalog.schemas)
    facts.role_facts = {str(r["name"]): r for r in session.catalog(_ROLE_FACTS_SQL, {"schemas": schemas})}
    facts.default_acls = session.catalog(_DEFAULT_ACL_SQL)
    facts.rls_views = _views_over_rls(session.catalog(_VIEW_DEPS_SQL), set(schemas))
    facts.relocatable = {str(r["name"]): bool(r["relocatable"]) for r in session.catalog(_EXTENSIONS_SQL)}
    facts.hba_rules = optional_rows(session, _HBA_SQL)
    if facts.hba_rules is None:
        facts.not_checked.append("pg_hba rules: needs superuser (or SELECT on pg_hba_file_rules)")
    return facts


def _views_over_rls(deps: list[Row], schemas: set[str]) -> list[Row]:
    """(view, RLS table) pairs for views in `schemas` that read an RLS table directly or through views."""
    reads: dict[tuple[str, str], list[Row]] = {}
    for row in deps:
        reads.setdefault((str(row["view_schema"]), str(row["view_name"])), []).append(row)
    out: list[Row] = []
    for view in sorted(reads):
        if view[0] not in schemas:
            continue
        seen = {view}
        frontier = list(reads[view])
        tables: set[tuple[str, str]] = set()
        while frontier:
            row = frontier.pop()
            target = (str(row["table_schema"]), str(row["table_name"]))
            if row["rls"]:
                tables.add(target)
            if row["relkind"] == "v" and target not in seen:
                seen.add(target)
                frontier += reads.get(target, [])
        out += [{"view_schema": view[0], "view_name": view[1], "table_schema": t[0], "table_name": t[1]}
                for t in sorted(tables)]
    return out


def load_role_access(session: GuardedSession, catalog: Catalog, facts: PgFacts, roles: list[str]) -> None:
    """Per app role: which tables it can read or owns, and on which schemas it may CREATE."""
    params = {"roles": roles, "schemas": list(catalog.schemas)}
    facts.table_access = session.catalog(_TABLE_ACCESS_SQL, params)
    facts.schema_access = session.catalog(_SCHEMA_ACCESS_SQL, params)


def detect_app_roles(facts: PgFacts) -> list[str]:
    """Login roles (not superusers) that connect here and read or write tables they do not own.

    A role that owns tables counts as the application's only when no other candidate uses those
    tables: then one role does both DDL and DML (the two-user separation is missing). A role owning
    tables that another login role uses is taken for the migration role and left out.
    """
    candidates = {n: r for n, r in facts.role_facts.items() if r["can_connect"]}
    users = {n for n, r in candidates.items() if r["uses_tables"]}
    chosen = set(users)
    for name, row in candidates.items():
        owned = list(row["owned_tables"] or [])
        if name in users or not owned:
            continue
        if not users:
            chosen.add(name)
    return sorted(chosen)

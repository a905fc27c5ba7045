"""Checklist items decided from the live catalog alone: tenant isolation, the two-user pattern, who runs
migrations, and whether a question applies to the schema at all."""

from __future__ import annotations

import re

from dbsage.tools.catalog import Catalog, Dialect, Role, Table
from dbsage.tools.checklist_model import ItemStatus, Verdict, not_applicable, unknown

_DML = {"SELECT", "INSERT", "UPDATE", "DELETE"}
_DDL = {"CREATE", "ALTER", "DROP", "INDEX", "REFERENCES", "TRIGGER", "ALL PRIVILEGES", "ALL"}
HISTORY_TABLES = {
    "alembic_version", "flyway_schema_history", "django_migrations", "schema_migrations", "knex_migrations",
    "goose_db_version", "databasechangelog", "_prisma_migrations", "__diesel_schema_migrations",
}
_NO_RLS = ("{dialect} has no row-level security: tenant isolation rests on every query of the application "
           "filtering by {column} (or on one database per tenant), which no catalog query can prove; review the "
           "data access layer")


def _judged(catalog: Catalog) -> list[Table]:
    return [t for t in catalog.tables if t.partition_of is None and t.kind != "foreign_table"]


def tables_present(catalog: Catalog) -> Verdict:
    tables = _judged(catalog)
    if not tables:
        return not_applicable("the database has no tables")
    return Verdict(ItemStatus.PASS, {"tables": len(tables)})


def foreign_keys_present(catalog: Catalog) -> Verdict:
    tables = _judged(catalog)
    fks = sum(len(t.foreign_keys) for t in tables)
    if not tables:
        return not_applicable("the database has no tables")
    if fks == 0:
        return not_applicable("the schema declares no foreign key", tables=len(tables), foreign_keys=0)
    return Verdict(ItemStatus.PASS, {"tables": len(tables), "foreign_keys": fks})


def key_capacity(catalog: Catalog) -> Verdict:
    hidden = [u for u in catalog.unknown if u.startswith("sequence positions") or "position not read" in u
              or "position not readable" in u]
    counters = len(catalog.sequences) + sum(1 for t in catalog.tables if t.auto_increment_next is not None)
    evidence: dict[str, object] = {"sequences": len(catalog.sequences), "counters_checked": counters}
    if hidden:
        return unknown("; ".join(hidden) + " (needs SELECT or USAGE on the sequences)", **evidence)
    if not catalog.tables:
        return not_applicable("the database has no tables")
    return Verdict(ItemStatus.PASS, evidence)


def history_tables(catalog: Catalog) -> list[str]:
    return sorted(t.qualified_name for t in catalog.tables if t.name.lower() in HISTORY_TABLES)


# --------------------------------------------------------------------------------- tenant isolation


def _tenant_tables(catalog: Catalog, column: str) -> list[Table]:
    return [t for t in _judged(catalog) if t.column(column) is not None]


def _protected(table: Table) -> bool:
    return table.rls_enabled and bool(table.policies)


def _schema_per_tenant(catalog: Catalog) -> list[str]:
    return [s for s in catalog.schemas if re.match(r"^(tenant|t|customer|org)_", s.lower())]


def tenant_isolation(catalog: Catalog, column: str) -> Verdict:
    tenant = _tenant_tables(catalog, column)
    evidence: dict[str, object] = {"tenant_column": column, "tenant_tables": len(tenant)}
    per_schema = _schema_per_tenant(catalog)
    if len(per_schema) >= 2:
        evidence["tenant_schemas"] = per_schema[:20]
        return Verdict(ItemStatus.PASS, evidence, "one schema per tenant")
    if not tenant:
        return not_applicable(f"no table has a {column} column: the schema does not look multi-tenant", **evidence)
    if catalog.dialect is not Dialect.POSTGRES:
        return unknown(_NO_RLS.format(dialect=catalog.dialect.value, column=column), **evidence)
    protected = [t for t in tenant if _protected(t)]
    evidence["tables_with_rls_and_policy"] = len(protected)
    evidence["tables_without"] = [t.qualified_name for t in tenant if not _protected(t)][:30]
    if len(protected) == len(tenant):
        return Verdict(ItemStatus.PASS, evidence, "row-level security on every tenant table")
    if protected:
        return Verdict(ItemStatus.WARN, evidence, f"row-level security on {len(protected)} of {len(tenant)} tenant "
                       "tables only")
    return Verdict(ItemStatus.FAIL, evidence, "no tenant table has row-level security with a policy")


def rls_enforced(catalog: Catalog, column: str) -> Verdict:
    tenant = _tenant_tables(catalog, column)
    evidence: dict[str, object] = {"tenant_column": column, "tenant_tables": len(tenant)}
    if not tenant:
        return not_applicable(f"no table has a {column} column", **evidence)
    if catalog.dialect is not Dialect.POSTGRES:
        return unknown(_NO_RLS.format(dialect=catalog.dialect.value, column=column), **evidence)
    open_tables = [t.qualified_name for t in tenant if not _protected(t)]
    not_forced = [t.qualified_name for t in tenant if _protected(t) and not t.rls_forced]
    evidence.update({"without_rls_or_policy": open_tables[:30], "rls_not_forced": not_forced[:30]})
    if open_tables:
        return Verdict(ItemStatus.FAIL, evidence, f"{len(open_tables)} tenant table(s) readable without row-level "
                       "security")
    return Verdict(ItemStatus.PASS, evidence)


# -------------------------------------------------------------------------------------- roles


def _pg_roles(catalog: Catalog) -> dict[str, Role]:
    return {r.name: r for r in catalog.roles}


def user_separation(catalog: Catalog) -> Verdict:
    if catalog.dialect is Dialect.SQLITE:
        return not_applicable("SQLite has no database users: the file's permissions are its access control")
    if not catalog.roles:
        return unknown("roles are not readable by this account (MySQL/MariaDB: needs SELECT on mysql.user)")
    if catalog.dialect is Dialect.POSTGRES:
        return _pg_user_separation(catalog)
    return _mysql_user_separation(catalog)


def _pg_user_separation(catalog: Catalog) -> Verdict:
    roles = _pg_roles(catalog)
    owners = sorted({t.owner for t in catalog.tables if t.owner})
    dml_grantees = {g.grantee for g in catalog.grants if g.object_type == "table" and g.privilege in _DML
                    and g.grantee not in owners and g.grantee != "PUBLIC"}
    members = {r.name for r in catalog.roles if set(r.member_of) & dml_grantees}
    app = sorted(n for n in dml_grantees | members if n in roles and roles[n].login and not roles[n].superuser)
    evidence: dict[str, object] = {"table_owners": owners, "application_roles": app}
    if not catalog.tables:
        return not_applicable("the database has no tables")
    if not app:
        return Verdict(ItemStatus.FAIL, evidence, "no login role reads and writes the tables without owning them: the "
                       "application connects as the owner (or a superuser)")
    ddl = sorted({g.grantee for g in catalog.grants if g.grantee in app and g.object_type in ("schema", "database")
                  and g.privilege == "CREATE"})
    evidence["application_roles_with_create"] = ddl
    if ddl:
        return Verdict(ItemStatus.WARN, evidence, "the application role may also create objects")
    return Verdict(ItemStatus.PASS, evidence)


def _mysql_user_separation(catalog: Catalog) -> Verdict:
    database = catalog.schemas[0] if catalog.schemas else None
    scoped = [g for g in catalog.grants if g.object_type == "global"
              or (g.object_type == "database" and database is not None and _db_match(g.object, database))
              or (g.object_type == "table" and database is not None and g.object.startswith(database + "."))]
    by_account: dict[str, set[str]] = {}
    for g in scoped:
        by_account.setdefault(g.grantee, set()).add(g.privilege.upper())
    app = sorted(a for a, privs in by_account.items() if privs & _DML and not privs & _DDL)
    ddl = sorted(a for a, privs in by_account.items() if privs & _DDL)
    evidence: dict[str, object] = {"database": database, "dml_only_accounts": app, "accounts_with_ddl": ddl[:20]}
    if app:
        return Verdict(ItemStatus.PASS, evidence)
    return Verdict(ItemStatus.FAIL, evidence, "no account has data rights on this database without DDL rights")


def _db_match(pattern: str, name: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern.replace("\\_", "_"))
    return re.fullmatch(regex, name, re.IGNORECASE) is not None


def migration_role(catalog: Catalog) -> Verdict:
    if catalog.dialect is Dialect.SQLITE:
        return not_applicable("SQLite has no database users")
    if catalog.dialect is not Dialect.POSTGRES:
        return unknown("MySQL/MariaDB tables have no owner, so the role migrations run as is not visible; "
                       "security.least_privilege lists the accounts holding DDL rights")
    if not catalog.tables:
        return not_applicable("the database has no tables")
    roles = _pg_roles(catalog)
    owners = sorted({t.owner for t in catalog.tables if t.owner})
    supers = [o for o in owners if o in roles and roles[o].superuser]
    evidence: dict[str, object] = {"table_owners": owners, "superuser_owners": supers}
    if supers:
        return Verdict(ItemStatus.WARN, evidence, f"tables are owned by superuser {', '.join(supers)}: migrations run "
                       "with every privilege")
    return Verdict(ItemStatus.PASS, evidence)

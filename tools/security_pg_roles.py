"""PostgreSQL role and privilege checks: powerful login roles, functions, schemas and the two-user separation."""

from __future__ import annotations

from dataclasses import dataclass

from dbsage.tools.catalog import Catalog, Dialect, Function, Role
from dbsage.tools.findings import Finding, ObjectType, Severity
from dbsage.tools.least_privilege import ensure_role_sql, migration_role_name
from dbsage.tools.rules.fix_sql import quote
from dbsage.tools.rules.registry import make_finding
from dbsage.tools.security_pg_facts import PgFacts

PG = Dialect.POSTGRES
_DML = {"SELECT", "INSERT", "UPDATE", "DELETE"}
# Built-in roles that give a login role the server's files or programs.
_SERVER_ROLES = {"pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"}


@dataclass(frozen=True)
class RoleContext:
    catalog: Catalog
    facts: PgFacts
    app_roles: list[str]
    migrators: dict[str, str]


def choose_migrators(catalog: Catalog, facts: PgFacts, app_roles: list[str]) -> dict[str, str]:
    """Per app role, the role that should own its tables: the (non-superuser) owner of most of the
    tables it uses, or a new `<app>_migrator` when it uses none it does not own."""
    superusers = {r.name for r in catalog.roles if r.superuser}
    owners = {t.qualified_name: t.owner for t in catalog.tables}
    chosen: dict[str, str] = {}
    for app in app_roles:
        counts: dict[str, int] = {}
        for row in facts.table_access:
            owner = owners.get(f"{row['schema_name']}.{row['name']}")
            if row["role"] == app and not row["owns"] and owner and owner not in superusers and owner != app:
                counts[owner] = counts.get(owner, 0) + 1
        chosen[app] = max(sorted(counts), key=lambda o: counts[o]) if counts else migration_role_name(app)
    return chosen


def q(name: str) -> str:
    return quote(name, PG)


def role_findings(ctx: RoleContext) -> list[Finding]:
    return [
        *_powerful_roles(ctx),
        *_memberships(ctx),
        *_functions(ctx),
        *_public_create(ctx),
        *_app_role_rights(ctx),
        *_default_privileges(ctx),
        *_extensions(ctx),
    ]


# -- roles ---------------------------------------------------------------------------------------


def _powerful_roles(ctx: RoleContext) -> list[Finding]:
    out: list[Finding] = []
    for role in ctx.catalog.roles:
        if not role.login:
            continue
        app = role.name in ctx.app_roles
        if role.superuser and role.name != ctx.facts.bootstrap_superuser:
            out.append(make_finding(
                "security.superuser_login_role", object_type=ObjectType.ROLE, obj=role.name,
                message=f"Login role {role.name} is a superuser: it bypasses every permission and row-level "
                        "security check and can read server files and run programs.",
                evidence={"superuser": True, "is_connecting_role": role.name == ctx.facts.current_user},
                fix=f"ALTER ROLE {q(role.name)} NOSUPERUSER;",
                severity=Severity.BLOCKER if app else None,
            ))
        elif role.bypassrls and not role.superuser:
            out.append(make_finding(
                "security.bypassrls_login_role", object_type=ObjectType.ROLE, obj=role.name,
                message=f"Login role {role.name} has BYPASSRLS: every row-level security policy is ignored "
                        "for its queries.",
                evidence={"bypassrls": True, "app_role": app},
                fix=f"ALTER ROLE {q(role.name)} NOBYPASSRLS;",
                severity=Severity.BLOCKER if app else None,
            ))
        if role.createrole and not role.superuser:
            out.append(make_finding(
                "security.createrole_login_role", object_type=ObjectType.ROLE, obj=role.name,
                message=f"Login role {role.name} has CREATEROLE: it can create roles and grant itself "
                        "membership in most non-superuser roles.",
                evidence={"createrole": True, "app_role": app},
                fix=f"ALTER ROLE {q(role.name)} NOCREATEROLE;",
                severity=Severity.HIGH if app else None,
            ))
    return out


def _danger(role: Role | None, name: str) -> list[str]:
    if name in _SERVER_ROLES:
        return [name]
    if role is None:
        return []
    return [a for a, on in (("superuser", role.superuser), ("bypassrls", role.bypassrls),
                            ("createrole", role.createrole)) if on]


def _memberships(ctx: RoleContext) -> list[Finding]:
    """Login roles that reach a powerful role through (possibly nested) memberships."""
    out: list[Finding] = []
    roles = {r.name: r for r in ctx.catalog.roles}
    for role in ctx.catalog.roles:
        if not role.login or role.superuser:
            continue
        seen: set[str] = set()
        frontier = [(parent, [role.name, parent]) for parent in role.member_of]
        while frontier:
            name, path = frontier.pop(0)
            if name in seen:
                continue
            seen.add(name)
            danger = _danger(roles.get(name), name)
            if danger:
                out.append(make_finding(
                    "security.privileged_membership", object_type=ObjectType.ROLE, obj=role.name,
                    message=f"Login role {role.name} is a member of {name} ({', '.join(danger)}) through "
                            f"{' -> '.join(path)}: it can SET ROLE to it and use those powers.",
                    evidence={"path": path, "reaches": name, "powers": danger},
                    fix=f"REVOKE {q(path[1])} FROM {q(role.name)};",
                    severity=Severity.BLOCKER if role.name in ctx.app_roles and "superuser" in danger else None,
                ))
                break
            parent = roles.get(name)
            frontier += [(p, [*path, p]) for p in (parent.member_of if parent else [])]
    return out


# -- functions -----------------------------------------------------------------------------------


def routine_ref(fn: Function) -> tuple[str, str]:
    """('FUNCTION' | 'PROCEDURE', 'schema.name(args)') as ALTER and GRANT name it."""
    keyword = "PROCEDURE" if fn.kind == "procedure" else "FUNCTION"
    return keyword, f"{q(fn.schema_name)}.{q(fn.name)}({fn.arguments})"


def _functions(ctx: RoleContext) -> list[Finding]:
    out: list[Finding] = []
    public_exec = {g.object for g in ctx.catalog.grants
                   if g.object_type == "function" and g.grantee == "PUBLIC" and g.privilege == "EXECUTE"}
    for fn in ctx.catalog.functions:
        keyword, ref = routine_ref(fn)
        if fn.leakproof:
            out.append(make_finding(
                "security.leakproof_function", object_type=ObjectType.FUNCTION, obj=fn.signature,
                message=f"User function {fn.signature} is marked LEAKPROOF: the planner may run it before the "
                        "row-level security filter, so any error or notice it raises can reveal hidden rows.",
                evidence={"language": fn.language, "owner": fn.owner},
                fix=f"ALTER {keyword} {ref} NOT LEAKPROOF;",
            ))
        if not fn.security_definer:
            continue
        path = next((c.split("=", 1)[1] for c in fn.config if c.lower().startswith("search_path=")), None)
        if path is None or "pg_temp" not in path.replace('"', "").split(",")[-1]:
            pinned = f"pg_catalog, {q(fn.schema_name)}, pg_temp" if fn.schema_name != "pg_catalog" else \
                "pg_catalog, pg_temp"
            out.append(make_finding(
                "security.definer_search_path", object_type=ObjectType.FUNCTION, obj=fn.signature,
                message=f"SECURITY DEFINER {fn.kind} {fn.signature} runs as {fn.owner} "
                        + ("without a pinned search_path: " if path is None else
                           f"with search_path={path}, which does not end with pg_temp: ")
                        + "a caller can shadow the objects it uses with their own and run code as its owner.",
                evidence={"owner": fn.owner, "search_path": path, "config": list(fn.config)},
                fix=f"ALTER {keyword} {ref} SET search_path = {pinned};",
            ))
        if fn.signature in public_exec:
            grants = "".join(f"\nGRANT EXECUTE ON {keyword} {ref} TO {q(r)};" for r in ctx.app_roles)
            out.append(make_finding(
                "security.definer_public_execute", object_type=ObjectType.FUNCTION, obj=fn.signature,
                message=f"SECURITY DEFINER {fn.kind} {fn.signature} runs with its owner's ({fn.owner}) rights and "
                        "every role may execute it (EXECUTE is granted to PUBLIC by default).",
                evidence={"owner": fn.owner, "grantee": "PUBLIC"},
                fix=f"REVOKE EXECUTE ON {keyword} {ref} FROM PUBLIC;{grants}",
            ))
    return out


# -- schemas and the two-user separation ---------------------------------------------------------


def _public_create(ctx: RoleContext) -> list[Finding]:
    out: list[Finding] = []
    for g in ctx.catalog.grants:
        if g.object_type == "schema" and g.grantee == "PUBLIC" and g.privilege == "CREATE":
            out.append(make_finding(
                "security.public_create_schema", object_type=ObjectType.SCHEMA, obj=g.object,
                message=f"Every role may create objects in schema {g.object} (CREATE granted to PUBLIC): "
                        "anyone can plant a function or table that shadows the ones other roles call.",
                evidence={"grantee": "PUBLIC", "privilege": "CREATE"},
                fix=f"REVOKE CREATE ON SCHEMA {q(g.object)} FROM PUBLIC;",
            ))
    return out


def _app_role_rights(ctx: RoleContext) -> list[Finding]:
    out: list[Finding] = []
    facts = ctx.facts
    public_create = {g.object for g in ctx.catalog.grants
                     if g.object_type == "schema" and g.grantee == "PUBLIC" and g.privilege == "CREATE"}
    for app in ctx.app_roles:
        migrator = ctx.migrators.get(app) or migration_role_name(app)
        ensure = ensure_role_sql(migrator)
        row = facts.role_facts.get(app)
        owned = list(row["owned_tables"] or []) if row else []
        if owned:
            statements = [ensure]
            for name in owned:
                schema, table = name.split(".", 1)
                ref = f"{q(schema)}.{q(table)}"
                statements += [f"ALTER TABLE {ref} OWNER TO {q(migrator)};",
                               f"GRANT SELECT, INSERT, UPDATE, DELETE ON {ref} TO {q(app)};"]
            # Tables the migration role creates from now on are the app's to use, too.
            for schema in sorted({n.split(".", 1)[0] for n in owned}):
                statements += [
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE {q(migrator)} IN SCHEMA {q(schema)} "
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {q(app)};",
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE {q(migrator)} IN SCHEMA {q(schema)} "
                    f"GRANT USAGE, SELECT ON SEQUENCES TO {q(app)};",
                ]
            out.append(make_finding(
                "security.app_role_owns_tables", object_type=ObjectType.ROLE, obj=app,
                message=f"Application role {app} owns {len(owned)} table(s) ({', '.join(owned[:5])}"
                        f"{', ...' if len(owned) > 5 else ''}): it can ALTER or DROP them and bypasses their "
                        "row-level security unless forced.",
                evidence={"owned_tables": owned},
                fix="\n".join(statements),
            ))
        direct = {(g.object_type, g.object) for g in ctx.catalog.grants
                  if g.grantee == app and g.privilege == "CREATE"}
        places: list[str] = []
        fixes: list[str] = []
        for access in facts.schema_access:
            if access["role"] != app or not access["can_create"]:
                continue
            schema = str(access["schema_name"])
            if schema in public_create and ("schema", schema) not in direct and not access["owns"]:
                continue  # the PUBLIC grant is its own finding
            places.append(f"schema {schema}" + (" (owner)" if access["owns"] else ""))
            if access["owns"]:
                fixes += [ensure, f"ALTER SCHEMA {q(schema)} OWNER TO {q(migrator)};",
                          f"GRANT USAGE ON SCHEMA {q(schema)} TO {q(app)};"]
            elif ("schema", schema) in direct:
                fixes.append(f"REVOKE CREATE ON SCHEMA {q(schema)} FROM {q(app)};")
        if row and row["db_create"]:
            db = facts.database
            places.append(f"database {db}" + (" (owner)" if row["owns_database"] else ""))
            if row["owns_database"]:
                fixes += [ensure, f"ALTER DATABASE {q(db)} OWNER TO {q(migrator)};",
                          f"GRANT CONNECT ON DATABASE {q(db)} TO {q(app)};"]
            elif ("database", db) in direct:
                fixes.append(f"REVOKE CREATE ON DATABASE {q(db)} FROM {q(app)};")
        if places:
            out.append(make_finding(
                "security.app_role_ddl_rights", object_type=ObjectType.ROLE, obj=app,
                message=f"Application role {app} may create objects in {', '.join(places)}: "
                        "a DML role should not hold DDL rights.",
                evidence={"create_on": places},
                fix="\n".join(dict.fromkeys(fixes)) or None,
            ))
    return out


def _default_privileges(ctx: RoleContext) -> list[Finding]:
    """An app role that uses tables owned by another role, with no default privileges from that owner."""
    out: list[Finding] = []
    owners = {t.qualified_name: t.owner for t in ctx.catalog.tables}
    for app in ctx.app_roles:
        used = [r for r in ctx.facts.table_access if r["role"] == app and r["can_select"] and not r["owns"]]
        pairs = sorted({(str(r["schema_name"]), owners.get(f"{r['schema_name']}.{r['name']}") or "") for r in used})
        missing = []
        for schema, owner in pairs:
            if not owner or owner == app:
                continue
            covered = any(
                a["owner"] == owner and a["objtype"] == "r" and a["grantee"] == app
                and a["privilege"] in _DML and a["schema_name"] in (schema, None)
                for a in ctx.facts.default_acls
            )
            if not covered:
                missing.append((schema, owner))
        if not missing:
            continue
        fix = "\n".join(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {q(owner)} IN SCHEMA {q(schema)} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {q(app)};\n"
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {q(owner)} IN SCHEMA {q(schema)} "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {q(app)};"
            for schema, owner in missing
        )
        out.append(make_finding(
            "security.app_role_no_default_privileges", object_type=ObjectType.ROLE, obj=app,
            message=f"No default privileges give application role {app} access to tables that "
                    + ", ".join(f"{o} creates in {s}" for s, o in missing)
                    + ": each new table stays invisible to it until someone remembers a GRANT.",
            evidence={"schemas": [s for s, _ in missing], "owners": [o for _, o in missing]},
            fix=fix,
        ))
    return out


def _extensions(ctx: RoleContext) -> list[Finding]:
    out: list[Finding] = []
    for ext in ctx.catalog.extensions:
        if ext.schema_name != "public" or ext.name == "plpgsql":
            continue
        relocatable = ctx.facts.relocatable.get(ext.name, False)
        out.append(make_finding(
            "security.extension_in_public", object_type=ObjectType.SCHEMA, obj=f"public.{ext.name}",
            message=f"Extension {ext.name} is installed in schema public, mixing its functions with the "
                    "application's and with whatever other roles create there.",
            evidence={"extension": ext.name, "version": ext.version, "relocatable": relocatable},
            fix=(f"CREATE SCHEMA IF NOT EXISTS extensions;\nALTER EXTENSION {q(ext.name)} SET SCHEMA extensions;"
                 if relocatable else None),
        ))
    return out

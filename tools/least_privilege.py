"""The two-user setup as SQL: a migration role that owns the schema, an application role with DML only.

The generated script carries no password: login passwords are set out of band (psql's \\password or a
secrets manager), never in a file that ends up in a repository.
"""

from __future__ import annotations

from dbsage.tools.catalog import Dialect
from dbsage.tools.rules.fix_sql import quote

PG = Dialect.POSTGRES


def q(name: str) -> str:
    return quote(name, PG)


def migration_role_name(app_role: str) -> str:
    """The name proposed for the migration role of `app_role` (within PostgreSQL's 63-byte limit)."""
    suffix = "_migrator"
    return app_role[: 63 - len(suffix)] + suffix


def ensure_role_sql(role: str) -> str:
    """A statement creating `role` (NOLOGIN until a password is set) unless it exists."""
    literal = role.replace("'", "''")
    return (
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{literal}') "
        f"THEN CREATE ROLE {q(role)} NOLOGIN; END IF; END $$;"
    )


def least_privilege_setup(
    *,
    database: str,
    schemas: list[str],
    app_role: str,
    owned_tables: list[str],
    owned_schemas: list[str],
    migration_role: str | None = None,
) -> str:
    """SQL that separates a migration role from `app_role`: ownership moves, DDL rights go, DML is granted.

    `owned_tables` ('schema.table') and `owned_schemas` are what the application role owns today;
    `migration_role` is the role that owns the rest (default: a new `<app>_migrator`).
    Run it as a superuser or as the current owner of those objects.
    """
    migrator = migration_role or migration_role_name(app_role)
    app, mig, db = q(app_role), q(migrator), q(database)
    lines = [
        f"-- Two-user separation for {app_role}: {migrator} owns the schema and runs migrations (deploy",
        f"-- pipeline only); {app_role} reads and writes rows and nothing else.",
        "-- If the migration role does not log in yet, give it a login and a password out of band:",
        f"--   ALTER ROLE {mig} LOGIN;  then  \\password {migrator}",
        ensure_role_sql(migrator),
        f"GRANT CONNECT ON DATABASE {db} TO {mig}, {app};",
        f"REVOKE CREATE ON DATABASE {db} FROM PUBLIC, {app};",
    ]
    for schema in owned_schemas:
        lines.append(f"ALTER SCHEMA {q(schema)} OWNER TO {mig};")
    for name in owned_tables:
        schema, table = name.split(".", 1)
        lines.append(f"ALTER TABLE {q(schema)}.{q(table)} OWNER TO {mig};")
    for schema in schemas:
        s = q(schema)
        lines += [
            f"-- schema {schema}",
            f"GRANT USAGE, CREATE ON SCHEMA {s} TO {mig};",
            f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC, {app};",
            f"GRANT USAGE ON SCHEMA {s} TO {app};",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {app};",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {app};",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {mig} IN SCHEMA {s} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {mig} IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {app};",
        ]
    return "\n".join(lines) + "\n"

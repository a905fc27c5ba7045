"""MariaDB/MySQL accounts: who can log in, how, from where, and with which administrative rights.

Accounts come from mysql.global_priv on MariaDB 10.4+ (the JSON the mysql.user view is computed from)
and from mysql.user on MySQL. Password hashes are never fetched, only whether one is set. Privileges
are read from the same rows (MariaDB's `access` bitmask, MySQL's *_priv columns) and from mysql.db and
mysql.tables_priv. Anything the connected account may not read becomes a not-checked reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.errors import QueryFailed
from dbsage.tools.findings import Finding, ObjectType, Severity
from dbsage.tools.rules.registry import make_finding
from dbsage.tools.sources.guard import GuardedSession
from dbsage.tools.sources.mysql import database_pattern_matches

# Accounts the server itself or its packaging creates and uses: not "non-admin users".
SYSTEM_ACCOUNTS = frozenset(
    {"root", "mariadb.sys", "mysql.sys", "mysql.session", "mysql.infoschema", "debian-sys-maint", "mysql"}
)
SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Plugins that check a password stored on the server ("" is MariaDB's pre-plugin default).
PASSWORD_PLUGINS = frozenset(
    {"", "mysql_native_password", "mysql_old_password", "caching_sha2_password", "sha256_password", "ed25519"}
)
ADMIN_PRIVILEGES = ("GRANT OPTION", "SUPER", "FILE", "PROCESS", "SHUTDOWN", "CREATE USER")
DDL_PRIVILEGES = ("CREATE", "ALTER", "DROP", "INDEX")
DML_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")

# MariaDB's global_priv `access` bits (the same bits its mysql.user view decodes).
_MARIADB_BITS = {
    "SELECT": 1, "INSERT": 2, "UPDATE": 4, "DELETE": 8, "CREATE": 16, "DROP": 32, "SHUTDOWN": 128,
    "PROCESS": 256, "FILE": 512, "GRANT OPTION": 1024, "INDEX": 4096, "ALTER": 8192, "SUPER": 32768,
    "CREATE USER": 33554432,
}
_MYSQL_COLUMNS = {
    "SELECT": "Select_priv", "INSERT": "Insert_priv", "UPDATE": "Update_priv", "DELETE": "Delete_priv",
    "CREATE": "Create_priv", "DROP": "Drop_priv", "SHUTDOWN": "Shutdown_priv", "PROCESS": "Process_priv",
    "FILE": "File_priv", "GRANT OPTION": "Grant_priv", "INDEX": "Index_priv", "ALTER": "Alter_priv",
    "SUPER": "Super_priv", "CREATE USER": "Create_user_priv",
}

_MARIADB_ACCOUNTS_SQL = """
SELECT User AS user_name, Host AS host,
       IFNULL(JSON_VALUE(Priv, '$.plugin'), '') AS plugin,
       CASE WHEN IFNULL(JSON_VALUE(Priv, '$.authentication_string'), '') = '' THEN ''
            WHEN JSON_VALUE(Priv, '$.authentication_string') = 'invalid' THEN 'invalid'
            ELSE 'hash' END AS auth,
       ELT(IFNULL(JSON_VALUE(Priv, '$.ssl_type'), 0) + 1, '', 'ANY', 'X509', 'SPECIFIED') AS ssl_type,
       IFNULL(JSON_VALUE(Priv, '$.is_role'), 'false') IN ('1', 'true') AS is_role,
       IFNULL(JSON_VALUE(Priv, '$.account_locked'), 'false') IN ('1', 'true') AS locked,
       IFNULL(JSON_VALUE(Priv, '$.access'), '0') AS access
FROM mysql.global_priv
ORDER BY User, Host
"""
_MYSQL_ACCOUNTS_SQL = """
SELECT User AS user_name, Host AS host, IFNULL(plugin, '') AS plugin,
       CASE WHEN authentication_string IS NULL OR authentication_string = '' THEN ''
            WHEN authentication_string = 'invalid' THEN 'invalid' ELSE 'hash' END AS auth,
       ssl_type, 0 AS is_role, account_locked = 'Y' AS locked, {columns}
FROM mysql.user
ORDER BY User, Host
"""
_DB_PRIVS_SQL = """
SELECT User AS user_name, Host AS host, Db AS db, Select_priv, Insert_priv, Update_priv, Delete_priv,
       Create_priv, Drop_priv, Alter_priv, Index_priv
FROM mysql.db
"""
_TABLE_PRIVS_SQL = """
SELECT User AS user_name, Host AS host, Db AS db, Table_name AS table_name, Table_priv AS privs
FROM mysql.tables_priv
"""


@dataclass
class Account:
    user: str
    host: str
    plugin: str
    auth: str  # '' (no password), 'invalid' (password login disabled) or 'hash'
    ssl_type: str
    is_role: bool
    locked: bool
    global_privileges: set[str] = field(default_factory=set)
    db_grant_option: list[str] = field(default_factory=list)  # database patterns granted WITH GRANT OPTION

    @property
    def name(self) -> str:
        return account_name(self.user, self.host)

    @property
    def login(self) -> bool:
        return not self.is_role and not self.locked

    @property
    def remote(self) -> bool:
        return self.host.lower() not in LOCAL_HOSTS


def account_name(user: str, host: str) -> str:
    """'user'@'host', quoted as a statement would take it."""
    return f"{sql_string(user)}@{sql_string(host)}"


def sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def read_accounts(session: GuardedSession, mariadb: bool, not_checked: list[str]) -> list[Account] | None:
    """Every account with its global privileges, or None (and a reason) when not readable."""
    if mariadb:
        sql, source = _MARIADB_ACCOUNTS_SQL, "mysql.global_priv"
    else:
        columns = ", ".join(f"{c} AS `{c}`" for c in _MYSQL_COLUMNS.values())
        sql, source = _MYSQL_ACCOUNTS_SQL.format(columns=columns), "mysql.user"
    try:
        rows = session.catalog(sql)
    except QueryFailed as exc:
        not_checked.append(
            "accounts (anonymous users, empty passwords, '%' hosts, remote root, administrative privileges, "
            f"authentication plugins, per-user TLS): needs SELECT on {source} ({exc.message})"
        )
        return None
    accounts: list[Account] = []
    for r in rows:
        account = Account(
            user=_text(r["user_name"]),
            host=_text(r["host"]),
            plugin=_text(r["plugin"]),
            auth=_text(r["auth"]),
            ssl_type=_text(r["ssl_type"]).upper(),
            is_role=bool(int(r["is_role"] or 0)),
            locked=bool(int(r["locked"] or 0)),
        )
        if mariadb:
            access = int(_text(r["access"]) or 0)
            account.global_privileges = {p for p, bit in _MARIADB_BITS.items() if access & bit}
        else:
            account.global_privileges = {p for p, c in _MYSQL_COLUMNS.items() if _text(r[c]).upper() == "Y"}
        accounts.append(account)
    _attach_db_grant_option(session, accounts, not_checked)
    return accounts


def _attach_db_grant_option(session: GuardedSession, accounts: list[Account], not_checked: list[str]) -> None:
    try:
        rows = session.catalog(
            "SELECT User AS user_name, Host AS host, Db AS db FROM mysql.db WHERE Grant_priv = 'Y' ORDER BY Db"
        )
    except QueryFailed as exc:
        not_checked.append(f"database-level GRANT OPTION: needs SELECT on mysql.db ({exc.message})")
        return
    by_key = {(a.user, a.host): a for a in accounts}
    for r in rows:
        account = by_key.get((_text(r["user_name"]), _text(r["host"])))
        if account is not None:
            account.db_grant_option.append(_text(r["db"]))


def account_findings(
    accounts: list[Account], dialect: Dialect, version_num: int | None, current: tuple[str, str] | None
) -> list[Finding]:
    """Anonymous users, empty passwords, '%' hosts, remote root, admin rights, weak plugins, no TLS."""
    findings: list[Finding] = []
    for a in accounts:
        if a.is_role:
            continue
        evidence: dict[str, object] = {"user": a.user, "host": a.host, "plugin": a.plugin or "(default)"}
        if a.user == "":
            findings.append(make_finding(
                "security.mysql_anonymous_user", object_type=ObjectType.USER, obj=a.name,
                message=f"An anonymous account {a.name} lets anyone connect from {a.host or 'any host'} "
                        f"with any user name.",
                evidence={**evidence, "locked": a.locked, "password_set": a.auth == "hash"},
                fix=f"DROP USER {a.name};",
            ))
            continue
        if a.login and a.auth == "" and a.plugin.lower() in PASSWORD_PLUGINS:
            findings.append(make_finding(
                "security.mysql_empty_password", object_type=ObjectType.USER, obj=a.name,
                message=f"{a.name} logs in with an empty password.",
                evidence={**evidence, "password_set": False},
                fix=f"ALTER USER {a.name} IDENTIFIED BY '<new strong password>';",
            ))
        if a.login and a.host == "%":
            findings.append(make_finding(
                "security.mysql_wildcard_host", object_type=ObjectType.USER, obj=a.name,
                message=f"{a.name} may connect from any host.",
                evidence=evidence,
                fix=f"RENAME USER {a.name} TO {sql_string(a.user)}@'<application host or subnet, e.g. 10.0.0.%>';",
            ))
        if a.user == "root" and a.remote and a.login:
            findings.append(make_finding(
                "security.mysql_remote_root", object_type=ObjectType.USER, obj=a.name,
                message=f"root may log in from {a.host}, not only from this machine.",
                evidence={**evidence, "privileges": sorted(a.global_privileges)},
                fix=f"DROP USER {a.name};",
            ))
        findings.extend(_admin_findings(a, evidence, current))
        findings.extend(_plugin_findings(a, evidence, dialect, version_num))
        if a.login and a.remote and a.ssl_type == "" and a.auth != "invalid":
            findings.append(make_finding(
                "security.mysql_remote_user_without_tls", object_type=ObjectType.USER, obj=a.name,
                message=f"{a.name} may connect from {a.host} without TLS: its password and data cross the network "
                        f"in clear text.",
                evidence={**evidence, "ssl_type": "NONE"},
                fix=f"ALTER USER {a.name} REQUIRE SSL;",
            ))
    return findings


def _admin_findings(a: Account, evidence: dict[str, object], current: tuple[str, str] | None) -> list[Finding]:
    if a.user in SYSTEM_ACCOUNTS or not a.login:
        return []
    held = [p for p in ADMIN_PRIVILEGES if p in a.global_privileges]
    if current == (a.user, a.host):
        held = [p for p in held if p != "PROCESS"]  # the connecting (monitoring) account needs PROCESS
    if not held and not a.db_grant_option:
        return []
    statements = []
    plain = [p for p in held if p != "GRANT OPTION"]
    if plain:
        statements.append(f"REVOKE {', '.join(plain)} ON *.* FROM {a.name};")
    if "GRANT OPTION" in held:
        statements.append(f"REVOKE GRANT OPTION ON *.* FROM {a.name};")
    statements += [f"REVOKE GRANT OPTION ON {_ident(db)}.* FROM {a.name};" for db in a.db_grant_option]
    severe = {"SUPER", "FILE", "GRANT OPTION", "CREATE USER", "SHUTDOWN"} & set(held) or a.db_grant_option
    parts = []
    if held:
        parts.append(f"on every database: {', '.join(held)}")
    if a.db_grant_option:
        parts.append(f"GRANT OPTION on {', '.join(a.db_grant_option)}")
    return [make_finding(
        "security.mysql_admin_privilege", object_type=ObjectType.USER, obj=a.name,
        message=f"{a.name} holds administrative privileges " + "; ".join(parts) + ".",
        evidence={**evidence, "privileges": held, "level": "global (*.*)" if held else "database",
                  "grant_option_on_databases": a.db_grant_option},
        fix="\n".join(statements),
        severity=None if severe else Severity.MEDIUM,
    )]


def _plugin_findings(
    a: Account, evidence: dict[str, object], dialect: Dialect, version_num: int | None
) -> list[Finding]:
    plugin = a.plugin.lower()
    if not a.login or a.auth == "invalid":
        return []
    if plugin == "mysql_old_password":
        return [make_finding(
            "security.mysql_weak_auth_plugin", object_type=ObjectType.USER, obj=a.name,
            message=f"{a.name} authenticates with mysql_old_password, a pre-4.1 hash that is trivial to crack.",
            evidence=evidence,
            # ed25519 is stronger on MariaDB but needs INSTALL SONAME 'auth_ed25519' first (see remediation).
            fix=f"ALTER USER {a.name} IDENTIFIED VIA mysql_native_password USING PASSWORD('<new strong password>');"
            if dialect is Dialect.MARIADB
            else f"ALTER USER {a.name} IDENTIFIED WITH caching_sha2_password BY '<new strong password>';",
            severity=Severity.HIGH,
        )]
    if plugin == "mysql_native_password" and dialect is Dialect.MYSQL and (version_num or 0) >= 80000:
        return [make_finding(
            "security.mysql_weak_auth_plugin", object_type=ObjectType.USER, obj=a.name,
            message=f"{a.name} authenticates with mysql_native_password (unsalted SHA-1), deprecated in MySQL 8.",
            evidence=evidence,
            fix=f"ALTER USER {a.name} IDENTIFIED WITH caching_sha2_password BY '<new strong password>';",
            severity=Severity.LOW,
        )]
    return []


# -- application users with DDL rights -----------------------------------------------------------


@dataclass
class _Rights:
    dml: set[str] = field(default_factory=set)
    ddl: dict[str, set[str]] = field(default_factory=dict)  # object ('*.*', `db`.*, `db`.`t`) -> privileges


def app_ddl_findings(
    session: GuardedSession,
    catalog: Catalog,
    accounts: list[Account],
    app_roles: list[str] | None,
    not_checked: list[str],
) -> list[Finding]:
    """Application accounts that may also change the schema of the application's databases."""
    schemas = [s for s in catalog.schemas if s.lower() not in SYSTEM_DATABASES]
    if not schemas:
        return []
    try:
        db_rows = session.catalog(_DB_PRIVS_SQL)
        table_rows = session.catalog(_TABLE_PRIVS_SQL)
    except QueryFailed as exc:
        not_checked.append(
            f"application users' DDL rights: needs SELECT on mysql.db and mysql.tables_priv ({exc.message})"
        )
        return []
    rights: dict[tuple[str, str], _Rights] = {}
    for a in accounts:
        r = rights.setdefault((a.user, a.host), _Rights())
        r.dml |= set(DML_PRIVILEGES) & a.global_privileges
        ddl = set(DDL_PRIVILEGES) & a.global_privileges
        if ddl:
            r.ddl["*.*"] = ddl
    for row in db_rows:
        pattern = _text(row["db"])
        if not any(database_pattern_matches(pattern, s) for s in schemas):
            continue
        r = rights.setdefault((_text(row["user_name"]), _text(row["host"])), _Rights())
        r.dml |= {p for p in DML_PRIVILEGES if _text(row[f"{p.capitalize()}_priv"]).upper() == "Y"}
        ddl = {p for p in DDL_PRIVILEGES if _text(row[f"{p.capitalize()}_priv"]).upper() == "Y"}
        if ddl:
            r.ddl[f"{_ident(pattern)}.*"] = ddl
    lowered = {s.lower() for s in schemas}
    for row in table_rows:
        if _text(row["db"]).lower() not in lowered:
            continue
        privs = {p.strip().upper() for p in _text(row["privs"]).split(",") if p.strip()}
        r = rights.setdefault((_text(row["user_name"]), _text(row["host"])), _Rights())
        r.dml |= privs & set(DML_PRIVILEGES)
        if privs & set(DDL_PRIVILEGES):
            r.ddl[f"{_ident(_text(row['db']))}.{_ident(_text(row['table_name']))}"] = privs & set(DDL_PRIVILEGES)
    by_key = {(a.user, a.host): a for a in accounts}
    findings: list[Finding] = []
    for (user, host), r in sorted(rights.items()):
        account = by_key.get((user, host))
        if account is None or not account.login or user in SYSTEM_ACCOUNTS or not r.ddl:
            continue
        named = app_roles is not None and _named(user, host, app_roles)
        if app_roles is not None and not named:
            continue
        if app_roles is None and not r.dml:
            continue  # schema rights without data rights: a migration account, not the application's
        name = account_name(user, host)
        revokes = [f"REVOKE {', '.join(p for p in DDL_PRIVILEGES if p in privs)} ON {obj} FROM {name};"
                   for obj, privs in sorted(r.ddl.items())]
        held = sorted({p for privs in r.ddl.values() for p in privs})
        message = (
            f"{name} reads and writes the application's data and may also {', '.join(held)} its tables"
            + ("" if named else " (if it is the application's account, that is one account for two jobs)")
            + "."
        )
        findings.append(make_finding(
            "security.mysql_app_user_ddl", object_type=ObjectType.USER, obj=name,
            message=message,
            evidence={"user": user, "host": host, "ddl_privileges": held, "on": sorted(r.ddl),
                      "dml_privileges": sorted(r.dml), "named_as_app_role": named},
            fix="\n".join(revokes),
            severity=None if named else Severity.MEDIUM,
        ))
    return findings


def _named(user: str, host: str, app_roles: list[str]) -> bool:
    for entry in app_roles:
        match = re.fullmatch(r"'?([^'@]*)'?(?:@'?([^']*)'?)?", entry.strip())
        if match is None:
            continue
        if match.group(1) == user and (match.group(2) is None or match.group(2) == host):
            return True
    return False


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace")
    return str(value)

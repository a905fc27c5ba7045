"""MariaDB/MySQL security checks: accounts (security_mysql_accounts), server settings, databases, engines.

`audit_mysql` reads only: mysql.global_priv (MariaDB 10.4+) or mysql.user (MySQL), mysql.db,
mysql.tables_priv, information_schema and global variables. What the connected account may not read is
returned as a not-checked reason, never raised.

Server settings differ between the two engines where it matters: an unset (NULL) secure_file_priv means
"no restriction" on MariaDB but "import/export disabled" on MySQL; the password-validation plugins are
simple_password_check / cracklib_password_check (MariaDB) and validate_password (MySQL).
"""

from __future__ import annotations

import re

from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.errors import InputError, QueryFailed
from dbsage.tools.findings import Finding, ObjectType
from dbsage.tools.rules.registry import make_finding
from dbsage.tools.security_mysql_accounts import SYSTEM_DATABASES, account_findings, app_ddl_findings, read_accounts
from dbsage.tools.sources.guard import GuardedSession

_OLD_TLS = re.compile(r"TLSv1(?:\.[01])?(?![.\d])", re.IGNORECASE)
_ON = ("ON", "1", "YES", "TRUE")
_TRANSACTIONAL_ENGINES = frozenset({"innodb", "xtradb"})


def audit_mysql(
    session: GuardedSession, catalog: Catalog, *, app_roles: list[str] | None = None
) -> tuple[list[Finding], list[str]]:
    """Security findings of a MariaDB/MySQL server and the catalog's databases, and what was not checked."""
    if not session.dialect.is_mysql_family:
        raise InputError(f"audit_mysql needs a MariaDB or MySQL session, not {session.dialect.value}.")
    mariadb = session.dialect is Dialect.MARIADB
    not_checked: list[str] = []
    findings: list[Finding] = []
    current = _current_account(session)
    accounts = read_accounts(session, mariadb, not_checked)
    if accounts is not None:
        findings += account_findings(accounts, session.dialect, catalog.server_version_num, current)
        findings += app_ddl_findings(session, catalog, accounts, app_roles, not_checked)
    else:
        not_checked.append("application users' DDL rights: needs the account list (see above)")
    try:
        variables = _variables(session)
        findings += _setting_findings(variables, mariadb, not_checked)
        findings += _password_validation(session, variables, mariadb)
    except QueryFailed as exc:
        not_checked.append(f"server settings and password validation: not readable ({exc.message})")
    try:
        findings += _test_databases(session, accounts is not None, not_checked)
    except QueryFailed as exc:
        not_checked.append(f"test database: information_schema.SCHEMATA not readable ({exc.message})")
    findings += _engine_findings(catalog)
    return findings, not_checked


def _current_account(session: GuardedSession) -> tuple[str, str] | None:
    value = session.catalog_value("SELECT CURRENT_USER() AS account")
    if not isinstance(value, str) or "@" not in value:
        return None
    user, _, host = value.rpartition("@")
    return user, host


def _variables(session: GuardedSession) -> dict[str, str | None]:
    """The global variables the checks read; NULL stays None (secure_file_priv's NULL is meaningful)."""
    names = ("require_secure_transport", "tls_version", "have_ssl", "local_infile", "secure_file_priv")
    rows = session.catalog(
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN (%s, %s, %s, %s, %s)"
        " OR Variable_name LIKE %s OR Variable_name LIKE %s OR Variable_name LIKE %s",
        [*names, "validate_password%", "simple_password_check%", "cracklib_password_check%"],
    )
    values: dict[str, str | None] = {}
    for r in rows:
        value = r["Value"]
        values[str(r["Variable_name"]).lower()] = None if value is None else str(value)
    if "secure_file_priv" in values:
        # SHOW shows NULL as an empty string on MariaDB; @@ keeps the difference.
        exact = session.catalog_value("SELECT @@GLOBAL.secure_file_priv AS v")
        values["secure_file_priv"] = None if exact is None else _decoded(exact)
    return values


def _decoded(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)


def _setting_findings(variables: dict[str, str | None], mariadb: bool, not_checked: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    transport = variables.get("require_secure_transport")
    if "require_secure_transport" not in variables:
        not_checked.append("require_secure_transport: this server version has no such variable")
    elif (transport or "").upper() not in _ON:
        findings.append(make_finding(
            "security.mysql_require_secure_transport_off", object_type=ObjectType.SETTING,
            obj="require_secure_transport",
            message="require_secure_transport is OFF: clients may connect over TCP without TLS.",
            evidence={"require_secure_transport": transport, "have_ssl": variables.get("have_ssl")},
            fix="SET GLOBAL require_secure_transport = ON;",
        ))
    tls = variables.get("tls_version") or ""
    old = _OLD_TLS.findall(tls)
    if old:
        findings.append(make_finding(
            "security.mysql_old_tls_version", object_type=ObjectType.SETTING, obj="tls_version",
            message=f"tls_version allows {', '.join(old)}, protocol versions with known weaknesses.",
            evidence={"tls_version": tls, "have_ssl": variables.get("have_ssl")},
            fix=None if mariadb else "SET PERSIST tls_version = 'TLSv1.2,TLSv1.3';  -- then ALTER INSTANCE RELOAD TLS;",
        ))
    infile = variables.get("local_infile")
    if (infile or "").upper() in _ON:
        findings.append(make_finding(
            "security.mysql_local_infile_on", object_type=ObjectType.SETTING, obj="local_infile",
            message="local_infile is ON: LOAD DATA LOCAL lets the server ask a client for any file it can read.",
            evidence={"local_infile": infile},
            fix="SET GLOBAL local_infile = OFF;",
        ))
    if "secure_file_priv" in variables:
        priv = variables["secure_file_priv"]
        # MariaDB: unset means no restriction. MySQL: NULL disables file import/export, '' allows every path.
        if priv == "" or (priv is None and mariadb):
            findings.append(make_finding(
                "security.mysql_secure_file_priv_empty", object_type=ObjectType.SETTING, obj="secure_file_priv",
                message="secure_file_priv is "
                        + ("empty" if priv == "" else "unset")
                        + ": LOAD DATA INFILE, SELECT ... INTO OUTFILE and LOAD_FILE() reach every file the server "
                          "process can read or write.",
                evidence={"secure_file_priv": priv, "engine": "mariadb" if mariadb else "mysql"},
            ))
    return findings


def _password_validation(session: GuardedSession, variables: dict[str, str | None], mariadb: bool) -> list[Finding]:
    rows = session.catalog(
        "SELECT PLUGIN_NAME AS name FROM information_schema.PLUGINS"
        " WHERE PLUGIN_STATUS = 'ACTIVE' AND (PLUGIN_TYPE = 'PASSWORD VALIDATION' OR PLUGIN_NAME LIKE %s)",
        ["validate_password%"],
    )
    published = [n for n in variables if n.startswith(("validate_password", "simple_password", "cracklib_password"))]
    if rows or published:
        return []
    fix = (
        "INSTALL SONAME 'simple_password_check';"
        if mariadb
        else "INSTALL COMPONENT 'file://component_validate_password';"
    )
    return [make_finding(
        "security.mysql_no_password_validation", object_type=ObjectType.SETTING, obj="password validation",
        message="No password-validation plugin is active: any password, however short, is accepted.",
        evidence={"plugins_checked": ["simple_password_check", "cracklib_password_check"]
                  if mariadb else ["validate_password"]},
        fix=fix,
    )]


def _test_databases(session: GuardedSession, sees_all: bool, not_checked: list[str]) -> list[Finding]:
    rows = session.catalog(
        "SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA"
        " WHERE SCHEMA_NAME = 'test' OR SCHEMA_NAME LIKE 'test\\_%%' ORDER BY SCHEMA_NAME"
    )
    if not sees_all:
        not_checked.append("test database: only the databases this account can see were looked for")
    findings: list[Finding] = []
    for r in rows:
        name = str(r["name"])
        findings.append(make_finding(
            "security.mysql_test_database", object_type=ObjectType.DATABASE, obj=name,
            message=f"The sample database {name} exists; installers grant it to every account by default.",
            evidence={"database": name},
            fix=f"DROP DATABASE `{name.replace('`', '``')}`;",
        ))
    return findings


def _engine_findings(catalog: Catalog) -> list[Finding]:
    findings: list[Finding] = []
    for table in catalog.tables:
        engine = table.engine
        if table.schema_name.lower() in SYSTEM_DATABASES:
            continue  # the server's own tables are Aria, CSV or MyISAM by design
        if engine is None or engine.lower() in _TRANSACTIONAL_ENGINES:
            continue
        name = f"{table.schema_name}.{table.name}"
        ident = f"`{table.schema_name.replace('`', '``')}`.`{table.name.replace('`', '``')}`"
        findings.append(make_finding(
            "security.mysql_non_innodb_table", object_type=ObjectType.TABLE, obj=name,
            message=f"{name} uses the {engine} engine: no transactions, no crash recovery, table-level locks.",
            evidence={"engine": engine, "rows_estimate": table.row_estimate},
            fix=f"ALTER TABLE {ident} ENGINE=InnoDB;",
        ))
    return findings

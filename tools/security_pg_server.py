"""PostgreSQL connection and logging checks: password hashing, TLS, pg_hba rules, connection and DDL logs."""

from __future__ import annotations

import ipaddress
from typing import Any

from dbsage.tools.catalog import Catalog
from dbsage.tools.findings import Finding, Location, ObjectType, Severity
from dbsage.tools.rules.registry import make_finding
from dbsage.tools.security_pg_facts import PgFacts

_TLS_ORDER = {"tlsv1": 0, "tlsv1.1": 1, "tlsv1.2": 2, "tlsv1.3": 3}
_RELOAD = "\nSELECT pg_reload_conf();"


def server_findings(catalog: Catalog, facts: PgFacts) -> tuple[list[Finding], list[str]]:
    """Findings on server settings, stored password hashes and pg_hba rules; and what could not be read."""
    not_checked: list[str] = []
    out = _passwords(catalog, not_checked) + _settings(catalog, not_checked)
    if facts.hba_rules is not None:
        superusers = {r.name for r in catalog.roles if r.superuser}
        for row in facts.hba_rules:
            out += _hba_rule(row, superusers)
    return out, not_checked


def _passwords(catalog: Catalog, not_checked: list[str]) -> list[Finding]:
    out: list[Finding] = []
    if all(r.password_kind is None for r in catalog.roles):
        not_checked.append("md5 password hashes: needs superuser (pg_authid)")
        return out
    for role in catalog.roles:
        if role.password_kind == "md5":
            out.append(make_finding(
                "security.md5_password_hash", object_type=ObjectType.ROLE, obj=role.name,
                message=f"Role {role.name} has an MD5 password hash: MD5 is fast to brute-force and the hash "
                        "itself is enough to log in with md5 authentication.",
                evidence={"password_kind": "md5", "login": role.login},
            ))
    return out


def _setting(catalog: Catalog, name: str, not_checked: list[str]) -> str | None:
    value = catalog.settings.get(name)
    if value is None:
        not_checked.append(f"setting {name}: needs pg_read_all_settings")
    return value


def _settings(catalog: Catalog, not_checked: list[str]) -> list[Finding]:
    out: list[Finding] = []
    enc = _setting(catalog, "password_encryption", not_checked)
    if enc is not None and enc.lower() != "scram-sha-256":
        out.append(_setting_finding(
            "security.password_encryption_not_scram", "password_encryption", enc,
            f"password_encryption is {enc}: passwords set from now on are stored as MD5 hashes.",
            "ALTER SYSTEM SET password_encryption = 'scram-sha-256';" + _RELOAD,
        ))
    ssl = _setting(catalog, "ssl", not_checked)
    if ssl is not None and ssl.lower() != "on":
        listen = catalog.settings.get("listen_addresses")
        local = listen is not None and all(
            a.strip() in ("", "localhost", "127.0.0.1", "::1") for a in listen.split(",")
        )
        finding = _setting_finding(
            "security.ssl_off", "ssl", ssl,
            "ssl is off: passwords and data cross the network in clear text"
            + (f" (the server listens on {listen or 'the Unix socket'} only, so only local traffic is exposed)."
               if local else "."),
            "ALTER SYSTEM SET ssl = on;" + _RELOAD,
        )
        finding.evidence["listen_addresses"] = listen
        if local:
            finding.severity = Severity.LOW
        out.append(finding)
    minimum = _setting(catalog, "ssl_min_protocol_version", not_checked)
    if minimum is not None and _TLS_ORDER.get(minimum.lower(), 2) < 2:
        out.append(_setting_finding(
            "security.ssl_min_protocol_weak", "ssl_min_protocol_version", minimum,
            f"ssl_min_protocol_version is {minimum}: clients may negotiate TLS versions with known weaknesses.",
            "ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1.2';" + _RELOAD,
        ))
    conns = _setting(catalog, "log_connections", not_checked)
    if conns is not None and conns.lower() != "on":
        out.append(_setting_finding(
            "security.log_connections_off", "log_connections", conns,
            "log_connections is off: the server log does not say who connected from where.",
            "ALTER SYSTEM SET log_connections = on;" + _RELOAD,
        ))
    statement = _setting(catalog, "log_statement", not_checked)
    libraries = catalog.settings.get("shared_preload_libraries")
    audited = "pgaudit" in (libraries or "").lower() or any(e.name == "pgaudit" for e in catalog.extensions)
    if libraries is None and statement is not None:
        not_checked.append("pgaudit loaded (shared_preload_libraries): needs pg_read_all_settings")
    if statement is not None and statement.lower() not in ("ddl", "mod", "all") and not audited:
        out.append(_setting_finding(
            "security.log_statement_off", "log_statement", statement,
            f"log_statement is {statement} and pgaudit is not loaded: schema and role changes leave no trace "
            "in the log.",
            "ALTER SYSTEM SET log_statement = 'ddl';" + _RELOAD,
        ))
    return out


def _setting_finding(rule_id: str, name: str, value: str, message: str, fix: str) -> Finding:
    return make_finding(rule_id, object_type=ObjectType.SETTING, obj=name, message=message,
                        evidence={"setting": name, "value": value}, fix=fix)


# -- pg_hba rules --------------------------------------------------------------------------------


def _network(address: str | None, netmask: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The rule's network; pg_hba_file_rules gives the mask as an address ('255.0.0.0', '::')."""
    if not address:
        return None
    try:
        if netmask:
            bits = bin(int(ipaddress.ip_address(netmask))).count("1")
            return ipaddress.ip_network(f"{address}/{bits}", strict=False)
        return ipaddress.ip_network(address, strict=False)
    except ValueError:
        return None


def _is_loopback(address: str | None, netmask: str | None) -> bool:
    if address in ("localhost", "samehost"):
        return True
    net = _network(address, netmask)
    if net is None:
        return False
    if isinstance(net, ipaddress.IPv4Network):
        return net.subnet_of(ipaddress.IPv4Network("127.0.0.0/8"))
    return net.subnet_of(ipaddress.IPv6Network("::1/128"))


def _is_open(address: str | None, netmask: str | None) -> bool:
    if address == "all":
        return True
    net = _network(address, netmask)
    return net is not None and net.prefixlen == 0


def _hba_rule(row: dict[str, Any], superusers: set[str]) -> list[Finding]:
    if row.get("error"):
        return []
    method = str(row.get("auth_method") or "")
    kind = str(row.get("type") or "")
    address, netmask = row.get("address"), row.get("netmask")
    users = [str(u) for u in row.get("user_name") or []]
    databases = [str(d) for d in row.get("database") or []]
    line = int(row.get("line_number") or 0)
    path = str(row.get("file_name") or row.get("hba_file") or "pg_hba.conf")
    obj = f"{path}:{line}"
    location = Location(file=path, line=max(line, 1), statement=0)
    remote = kind.startswith("host") and not _is_loopback(address, netmask)
    text = " ".join(x for x in (kind, ",".join(databases), ",".join(users), address or "", netmask or "", method) if x)
    evidence: dict[str, object] = {"line": line, "type": kind, "database": databases, "user": users,
                                   "address": address, "netmask": netmask, "method": method, "rule": text}
    out: list[Finding] = []

    def add(rule_id: str, message: str, severity: Severity | None = None) -> None:
        out.append(make_finding(rule_id, object_type=ObjectType.FILE, obj=obj, message=message,
                                evidence=evidence, location=location, severity=severity))

    if method == "reject":
        return out
    if method == "trust":
        add("security.hba_trust",
            f"pg_hba line {line} ({text}) lets {'anyone who can reach the server' if remote else 'local users'} "
            "log in without a password.", None if remote else Severity.MEDIUM)
    elif method == "password":
        add("security.hba_cleartext_password",
            f"pg_hba line {line} ({text}) asks for the password in clear text.")
    elif method == "md5":
        add("security.hba_md5", f"pg_hba line {line} ({text}) uses md5 authentication instead of scram-sha-256.")
    if kind.startswith("host") and _is_open(address, netmask):
        add("security.hba_open_address",
            f"pg_hba line {line} ({text}) accepts connections from any address.")
    if remote and ("all" in users or superusers.intersection(users)):
        add("security.hba_remote_superuser",
            f"pg_hba line {line} ({text}) lets superusers log in from remote addresses.")
    return out

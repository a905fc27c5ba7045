"""Server-level checks of audit_security on a private PostgreSQL instance the test creates and removes.

pg_hba rules, ssl, the minimum TLS version, password_encryption, stored MD5 hashes and the logging
settings would lock other tests out if planted on the shared server: here initdb builds a throwaway
cluster on a free port with every problem planted, the audit must find each, then the settings' fix
SQL is run as given, pg_hba.conf is rewritten, a certificate installed, and the audit must come back clean.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from dbsage.tools.security import audit_security
from tests.conftest import need, need_private_postgres
from tests.dbutil import PG_BIN, as_postgres, free_port

PLANTED_HBA = """\
local   all all                 trust
host    all all 127.0.0.1/32    trust
host    all all 0.0.0.0/0       md5
host    all all ::/0            password
"""
FIXED_HBA = """\
local   all all                 peer
host    all all 127.0.0.1/32    scram-sha-256
"""
PLANTED_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
ssl = off
ssl_min_protocol_version = 'TLSv1'
password_encryption = md5
log_connections = off
log_statement = 'none'
fsync = off
shared_buffers = 16MB
max_connections = 20
"""


@dataclass
class Instance:
    root: Path
    data: Path
    port: int

    def url(self, password: str | None = None) -> str:
        auth = f"postgres:{password}" if password else "postgres"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/postgres"

    def as_postgres(self, *args: str) -> None:
        as_postgres(*args)


@pytest.fixture
def instance() -> Iterator[Instance]:
    need_private_postgres()
    root = Path(tempfile.mkdtemp(prefix="dbsage_secpg_"))
    shutil.chown(root, "postgres", "postgres")
    inst = Instance(root, root / "data", free_port())
    started = False
    try:
        inst.as_postgres(str(PG_BIN / "initdb"), "-D", str(inst.data), "-U", "postgres", "--auth=trust", "-N")
        with (inst.data / "postgresql.conf").open("a") as conf:
            conf.write(PLANTED_CONF.format(port=inst.port, sockets=root))
        (inst.data / "pg_hba.conf").write_text(PLANTED_HBA)
        inst.as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(inst.data), "-l", str(root / "log"), "-w", "start")
        started = True
        yield inst
    finally:
        if started:
            inst.as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(inst.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _make_certificate(data: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=localhost", "-keyout", str(data / "server.key"), "-out", str(data / "server.crt")],
        check=True, capture_output=True, timeout=30,
    )
    for name in ("server.key", "server.crt"):
        shutil.chown(data / name, "postgres", "postgres")
        os.chmod(data / name, 0o600)


def test_server_settings_hba_and_hashes_found_then_fixed(instance: Instance) -> None:
    need(shutil.which("openssl") is not None, "needs openssl to make the server certificate")
    started = time.monotonic()
    md5_role = f"secpg_md5_{uuid.uuid4().hex[:6]}"
    old_password, new_password = uuid.uuid4().hex, uuid.uuid4().hex
    with psycopg.connect(instance.url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {md5_role} LOGIN PASSWORD '{old_password}'")  # stored as md5 here

    report = audit_security(instance.url())
    hba = str(instance.data / "pg_hba.conf")
    got = {(f.rule_id, f.object) for f in report.findings}
    expected = {
        ("security.password_encryption_not_scram", "password_encryption"),
        ("security.md5_password_hash", md5_role),
        ("security.ssl_off", "ssl"),
        ("security.ssl_min_protocol_weak", "ssl_min_protocol_version"),
        ("security.log_connections_off", "log_connections"),
        ("security.log_statement_off", "log_statement"),
        ("security.hba_trust", f"{hba}:1"),
        ("security.hba_trust", f"{hba}:2"),
        ("security.hba_md5", f"{hba}:3"),
        ("security.hba_open_address", f"{hba}:3"),
        ("security.hba_remote_superuser", f"{hba}:3"),
        ("security.hba_cleartext_password", f"{hba}:4"),
        ("security.hba_open_address", f"{hba}:4"),
        ("security.hba_remote_superuser", f"{hba}:4"),
    }
    assert got == expected, (sorted(got - expected), sorted(expected - got))
    assert not any(n.startswith(("pg_hba", "md5")) for n in report.not_checked), "a superuser reads both"
    trust_local = next(f for f in report.findings if f.object == f"{hba}:1")
    assert trust_local.severity.value == "medium" and trust_local.location is not None
    assert trust_local.location.line == 1 and trust_local.evidence["method"] == "trust"

    # Fix: the settings' SQL as given, a certificate for ssl, new password hashes, a strict pg_hba.conf.
    _make_certificate(instance.data)
    with psycopg.connect(instance.url(), autocommit=True) as conn:
        for finding in report.findings:
            if finding.object_type.value == "setting":
                assert finding.fix is not None
                # One statement at a time, as psql runs a script: ALTER SYSTEM refuses a transaction block.
                for statement in finding.fix.split(";\n"):
                    conn.execute(statement.encode())
        time.sleep(0.2)  # the reload is asynchronous
        assert conn.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)
        conn.execute(f"ALTER ROLE {md5_role} PASSWORD '{new_password}'")
        conn.execute(f"ALTER ROLE postgres PASSWORD '{new_password}'")
    (instance.data / "pg_hba.conf").write_text(FIXED_HBA)
    instance.as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(instance.data), "reload")
    time.sleep(0.3)

    clean = audit_security(instance.url(new_password))
    assert [(f.rule_id, f.object) for f in clean.findings] == []
    assert new_password not in clean.model_dump_json() and "***" in clean.source
    with psycopg.connect(instance.url(new_password)) as conn:
        assert conn.execute("SHOW ssl").fetchone() == ("on",)
        assert conn.pgconn.ssl_in_use
    assert time.monotonic() - started < 20

"""Server-level MariaDB checks on a private instance this test installs, starts, reconfigures and stops.

Settings such as secure_file_priv and tls_version need a restart, and require_secure_transport would
lock other tests out of the shared server, so they are planted on a throwaway server: mariadb-install-db
with the old-style root and anonymous accounts and the test database, then mariadbd on a free port.
The test connects through the instance's unix socket (allowed even with require_secure_transport ON).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

from dbsage.tools.findings import Finding
from dbsage.tools.security_mysql import audit_mysql
from dbsage.tools.sources.guard import LiveDatabase
from dbsage.tools.sources.live import load_catalog
from tests.conftest import need
from tests.dbutil import free_port

pytestmark = [pytest.mark.mysql, pytest.mark.slow]

SERVER_RULES = {
    "security.mysql_local_infile_on",
    "security.mysql_secure_file_priv_empty",
    "security.mysql_require_secure_transport_off",
    "security.mysql_old_tls_version",
    "security.mysql_no_password_validation",
    "security.mysql_test_database",
    "security.mysql_anonymous_user",
}


def _binary(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/usr/bin")


@dataclass
class Instance:
    base: Path
    port: int
    server: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def sock(self) -> Path:
        return self.base / "sock"

    @property
    def url(self) -> str:
        return f"mysql://root@localhost/?unix_socket={self.sock}"

    def start(self, *options: str) -> None:
        args = [
            self.server, "--no-defaults", f"--datadir={self.base / 'data'}", f"--port={self.port}",
            "--bind-address=127.0.0.1", f"--socket={self.sock}", f"--pid-file={self.base / 'pid'}",
            f"--log-error={self.base / 'error.log'}", "--innodb-buffer-pool-size=16M", *options,
        ]
        if os.geteuid() == 0:
            args.append("--user=root")
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.base / "error.log").read_text(errors="replace")[-2000:]
                raise AssertionError(f"mariadbd exited ({self.process.returncode}): {log}")
            try:
                pymysql.connect(unix_socket=str(self.sock), user="root", connect_timeout=1).close()
                return
            except pymysql.Error:
                time.sleep(0.1)
        raise AssertionError("mariadbd did not accept connections within 20 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def execute(self, *statements: str) -> None:
        conn = pymysql.connect(unix_socket=str(self.sock), user="root", autocommit=True)
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()


@pytest.fixture
def instance() -> Iterator[Instance]:
    install, server = _binary("mariadb-install-db"), _binary("mariadbd")
    need(install is not None and server is not None, "mariadb-install-db / mariadbd not installed",
         "apt-get install mariadb-server")
    assert install is not None and server is not None
    base = Path(tempfile.mkdtemp(prefix="dbsage_secm_"))  # short: unix socket paths are limited to ~107 bytes
    try:
        args = [install, "--no-defaults", f"--datadir={base / 'data'}", "--auth-root-authentication-method=normal"]
        if os.geteuid() == 0:
            args.append("--user=root")
        done = subprocess.run(args, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
        inst = Instance(base, free_port(), server)
        try:
            yield inst
        finally:
            inst.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _audit(url: str) -> tuple[list[Finding], list[str]]:
    with LiveDatabase.open(url) as db:
        catalog = load_catalog(db)
        with db.session() as session:
            return audit_mysql(session, catalog)


def _server_findings(findings: list[Finding]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in findings:
        if f.rule_id in SERVER_RULES:
            out.setdefault(f.rule_id, set()).add(f.object)
    return out


def test_server_settings_found_fixed_and_gone_after_restart(instance: Instance) -> None:
    instance.start("--local-infile=1", "--tls-version=TLSv1.1,TLSv1.2")
    findings, not_checked = _audit(instance.url)
    assert not_checked == []
    found = _server_findings(findings)
    assert found == {
        "security.mysql_local_infile_on": {"local_infile"},
        "security.mysql_secure_file_priv_empty": {"secure_file_priv"},
        "security.mysql_require_secure_transport_off": {"require_secure_transport"},
        "security.mysql_old_tls_version": {"tls_version"},
        "security.mysql_no_password_validation": {"password validation"},
        "security.mysql_test_database": {"test"},
        "security.mysql_anonymous_user": found["security.mysql_anonymous_user"],
    }
    assert "''@'localhost'" in found["security.mysql_anonymous_user"]  # what the installer created
    by_rule = {f.rule_id: f for f in findings}
    assert by_rule["security.mysql_secure_file_priv_empty"].evidence["secure_file_priv"] is None  # unset
    assert by_rule["security.mysql_old_tls_version"].evidence["tls_version"] == "TLSv1.1,TLSv1.2"
    assert by_rule["security.mysql_secure_file_priv_empty"].fix is None  # my.cnf + restart, in remediation
    assert "my.cnf" in (by_rule["security.mysql_secure_file_priv_empty"].remediation or "")
    # The installer's root@<hostname> is a remote root; root@localhost has no password.
    assert any(f.rule_id == "security.mysql_remote_root" for f in findings)
    assert any(f.rule_id == "security.mysql_empty_password" and f.object == "'root'@'localhost'" for f in findings)

    # The runtime fixes, as given.
    runtime = [f.fix for f in findings if f.rule_id in SERVER_RULES and f.fix]
    instance.execute(*runtime)
    after, _ = _audit(instance.url)
    assert set(_server_findings(after)) == {
        "security.mysql_secure_file_priv_empty", "security.mysql_old_tls_version",
    }  # read-only variables: they need my.cnf and a restart

    # Restart with the settings the remediation puts in my.cnf.
    instance.stop()
    files = instance.base / "files"
    files.mkdir()
    instance.start(
        f"--secure-file-priv={files}", "--tls-version=TLSv1.2,TLSv1.3", "--local-infile=0",
        "--require-secure-transport=ON",
    )
    final, not_checked = _audit(instance.url)
    assert not_checked == []
    assert _server_findings(final) == {}

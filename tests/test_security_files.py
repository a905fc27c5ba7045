"""The credential scan of a project's files, and SQLite file permissions: real files in a temp folder."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from dbsage.tools.errors import InputError
from dbsage.tools.security import audit_security
from dbsage.tools.security_files import is_placeholder, scan_files

SECRETS = ["s3cr3t-Pw", "hunter22x", "Tr0ub4dor&3", "kitten-99", "Zq8!pass", "mysqlpw77", "jsonpw-55"]


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, "config/.env", "DEBUG=1\nDATABASE_URL=postgres://app:s3cr3t-Pw@db.internal:5432/app\n"
                                   "DB_PASSWORD=hunter22x\nREDIS_PASSWORD=${REDIS_PASSWORD}\n")
    write(tmp_path, "migrations/V2__roles.sql", "-- roles\nCREATE ROLE app LOGIN PASSWORD 'Tr0ub4dor&3';\n"
                                                "CREATE USER 'ro'@'%' IDENTIFIED BY 'mysqlpw77';\n"
                                                "ALTER ROLE x PASSWORD '<password>';\n")
    write(tmp_path, "app/settings.py", "import os\n\nDATABASES = {\n    'default': {\n"
                                       "        'PASSWORD': 'kitten-99',\n"
                                       "        'USER': 'app',\n    }\n}\n"
                                       "PASSWORD = os.environ['DB_PASSWORD']\n"
                                       "password = get_password()\n")
    write(tmp_path, "deploy/values.yaml", "db:\n  user: app\n  password: Zq8!pass\n  replica_password: changeme\n"
                                          "  admin_password: \"{{ .Values.secret }}\"\n")
    write(tmp_path, "conf/app.json", '{"db": {"password": "jsonpw-55", "password_min_length": 12}}\n')
    write(tmp_path, "conf/app.ini", "[db]\npassword = %(DB_PASSWORD)s\npassword_encryption = scram-sha-256\n")
    write(tmp_path, "docs/README.md", "Connect with postgres://user:<password>@host/db or mysql://root:${PW}@h/\n")
    # Skipped: VCS and dependency folders, virtual environments, binary and oversized files.
    write(tmp_path, ".git/config", "url = https://bot:gitpw-1234@example.com/repo.git\n")
    write(tmp_path, "node_modules/x/index.js", "const url = 'postgres://a:nodepw-123@h/db'\n")
    write(tmp_path, "env/pyvenv.cfg", "home = /usr\n")
    write(tmp_path, "env/lib/conf.py", "PASSWORD = 'venvpw-123'\n")
    (tmp_path / "data.bin").write_bytes(b"\x00\x01postgres://a:binpw-123@h/db")
    write(tmp_path, "big.sql", "-- x\n" * 600_000 + "CREATE ROLE big PASSWORD 'bigpw-123';\n")
    return tmp_path


def test_scan_finds_each_hard_coded_password_with_file_and_line(project: Path) -> None:
    findings, read = scan_files([str(project)])
    got = {(f.rule_id, Path(f.object.rsplit(":", 1)[0]).relative_to(project).as_posix(), f.location.line)
           for f in findings if f.location}
    assert got == {
        ("security.hardcoded_dsn_password", "config/.env", 2),
        ("security.hardcoded_config_password", "config/.env", 3),
        ("security.hardcoded_sql_password", "migrations/V2__roles.sql", 2),
        ("security.hardcoded_sql_password", "migrations/V2__roles.sql", 3),
        ("security.hardcoded_config_password", "app/settings.py", 5),
        ("security.hardcoded_config_password", "deploy/values.yaml", 3),
        ("security.hardcoded_config_password", "conf/app.json", 1),
    }
    assert read == 7, "the .git, node_modules, venv, binary and oversized files are skipped"
    for f in findings:
        assert f.object == f"{f.location.file}:{f.location.line}" if f.location else False
        assert f.severity.value == "high" and f.category.value == "security"


def test_the_secret_itself_never_appears_in_a_finding(project: Path) -> None:
    report = audit_security(paths=[str(project)])
    assert report.dialect == "files" and report.files_scanned == 7 and len(report.findings) == 7
    dumped = report.model_dump_json()
    for secret in SECRETS:
        assert secret not in dumped
    line = next(f for f in report.findings if f.rule_id == "security.hardcoded_dsn_password")
    assert line.evidence["line_text"] == "DATABASE_URL=postgres://app:***@db.internal:5432/app"
    assert line.evidence["secret_length"] == len("s3cr3t-Pw")


@pytest.mark.parametrize("value", ["${DB_PASSWORD}", "$PW", "%(pw)s", "{{ secret }}", "<password>",
                                   "os.environ['X']", "changeme", "***", "xxxx", "", "process.env.PW"])
def test_placeholders_are_not_secrets(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["hunter22x", "p@ss-w0rd!", "correct horse"])
def test_real_values_are_secrets(value: str) -> None:
    assert not is_placeholder(value)


def test_single_file_and_missing_path(tmp_path: Path) -> None:
    one = write(tmp_path, "docker-compose.yml", "environment:\n  POSTGRES_PASSWORD: example\n  PGPASSWORD: k9-real\n")
    findings, read = scan_files([str(one)])
    assert read == 1 and [(f.rule_id, f.location.line if f.location else 0) for f in findings] == [
        ("security.hardcoded_config_password", 3)
    ]
    with pytest.raises(InputError, match="Path not found"):
        scan_files([str(tmp_path / "nope")])


def test_sqlite_file_permissions(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id integer primary key)")
    conn.commit()
    conn.close()
    os.chmod(path, 0o666)
    os.chmod(folder, 0o777)
    report = audit_security(f"sqlite:///{path}")
    got = {(f.rule_id, f.object, f.severity.value) for f in report.findings}
    assert got == {
        ("security.sqlite_file_permissions", str(path), "high"),
        ("security.sqlite_directory_permissions", str(folder), "medium"),
    }
    assert report.dialect == "sqlite"
    os.chmod(path, 0o640)
    os.chmod(folder, 0o700)
    medium = audit_security(f"sqlite:///{path}")
    assert [(f.rule_id, f.severity.value) for f in medium.findings] == [("security.sqlite_file_permissions", "medium")]
    os.chmod(path, 0o600)
    assert audit_security(f"sqlite:///{path}").findings == []

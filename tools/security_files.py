"""Credentials written into a project's files, and SQLite database file permissions.

The scan reads text files under the given paths (skipping VCS folders, dependency folders, virtual
environments, binary files and files over 2 MB) and reports passwords in connection URLs, in SQL
(`PASSWORD '...'`, `IDENTIFIED BY '...'`) and in configuration (`password = ...`). Values that are
references rather than secrets are ignored: ${VAR}, $VAR, %(name)s, {{ var }}, <password>, environment
lookups (os.environ, getenv, process.env, ENV[...]), masks (***, xxx) and the usual placeholder words
(changeme, password, secret, example...). A finding never carries the secret: it is replaced by ***.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dbsage.tools.errors import InputError
from dbsage.tools.findings import Finding, Location, ObjectType, Severity
from dbsage.tools.rules.registry import make_finding
from dbsage.tools.sources.urls import redact

MAX_BYTES = 2 * 1024 * 1024
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox", ".mypy_cache",
    ".ruff_cache", ".pytest_cache", "site-packages", ".idea", ".vscode",
})
# Files whose `key = value` lines are configuration: unquoted values count there.
_CONFIG_SUFFIXES = frozenset({
    ".env", ".ini", ".cfg", ".conf", ".toml", ".yaml", ".yml", ".properties", ".json",
})

_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<user>[^\s:/@'\"`]*):(?P<pw>[^\s@'\"`/]+)@(?P<host>[^\s/'\"`]+)")
_SQL = re.compile(r"(?i)\b(?:password|identified\s+by)\s+(?P<q>')(?P<pw>(?:[^']|'')*)'")
_KEY_VALUE = re.compile(
    r"""(?ix)
    (?P<key>[a-z0-9_.-]*(?:password|passwd|pwd))["']?     # a key ending in password/passwd/pwd
    \s*(?::|=|=>)\s*
    (?:(?P<q>["'])(?P<quoted>[^"'\n]*)(?P=q) | (?P<bare>[^\s"'#,;]+))
    """
)
# What may precede a `key = value` line's key: indentation, `export `, a YAML list dash, an opening quote.
_LINE_START = re.compile(r"\s*(?:export\s+|-\s+)?[\"']?")
_PLACEHOLDER_WORDS = frozenset({
    "changeme", "change_me", "change-me", "password", "passwd", "secret", "example", "dummy", "placeholder",
    "your_password", "yourpassword", "your-password", "mypassword", "none", "null", "nil", "true", "false",
    "required", "optional", "todo", "fixme", "redacted", "str", "string",
})
_REFERENCE_MARKS = ("${", "{{", "%(", "<", "os.environ", "getenv", "process.env", "env[", "env(", "environ",
                    "!env", "{", "$(")


@dataclass(frozen=True)
class _Hit:
    rule_id: str
    start: int
    end: int
    detail: str


def is_placeholder(value: str) -> bool:
    """True when `value` names or stands in for a secret rather than being one."""
    raw = value.strip().strip("'\"").strip().lower()
    if raw.startswith("$") or any(m in raw for m in _REFERENCE_MARKS):
        return True
    lowered = raw.strip("[]()").strip()
    if not lowered or lowered in _PLACEHOLDER_WORDS:
        return True
    return len(set(lowered)) == 1 and lowered[0] in "*x.-_?"


def _line_hits(line: str, config: bool) -> list[_Hit]:
    hits: list[_Hit] = []
    for m in _URL.finditer(line):
        if not is_placeholder(m.group("pw")):
            hits.append(_Hit("security.hardcoded_dsn_password", m.start("pw"), m.end("pw"),
                             f"{m.group('scheme')} URL for user {m.group('user') or '(none)'}"))
    for m in _SQL.finditer(line):
        if not is_placeholder(m.group("pw")) and not any(h.start <= m.start("pw") < h.end for h in hits):
            hits.append(_Hit("security.hardcoded_sql_password", m.start("pw"), m.end("pw"),
                             "SQL " + " ".join(m.group(0).split()[:2]).upper()))
    for m in _KEY_VALUE.finditer(line):
        group = "quoted" if m.group("quoted") is not None else "bare"
        if group == "bare" and not (config and _LINE_START.fullmatch(line[: m.start()])):
            # In code an unquoted value is an expression; in config it must be the line's own key, not prose.
            continue
        value = m.group(group)
        if is_placeholder(value) or any(h.start <= m.start(group) < h.end for h in hits):
            continue
        hits.append(_Hit("security.hardcoded_config_password", m.start(group), m.end(group),
                         f"value of {m.group('key')}"))
    return hits


def _mask(line: str, hits: list[_Hit]) -> str:
    out = line
    for hit in sorted(hits, key=lambda h: h.start, reverse=True):
        out = out[: hit.start] + "***" + out[hit.end :]
    text = redact(out.strip())
    return text if len(text) <= 200 else text[:197] + "..."


def _files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            raise InputError(f"Path not found: {raw}.", hint="give files or folders of the application's repository")
        if root.is_file():
            yield root
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not _skipped_dir(Path(folder, d)))
            for name in sorted(files):
                yield Path(folder, name)


def _skipped_dir(path: Path) -> bool:
    """VCS, dependency and cache folders, virtual environments, and packaging copies of the sources."""
    name = path.name
    return (name in SKIP_DIRS or name.endswith(".egg-info") or name.startswith("__editable__")
            or (path / "pyvenv.cfg").exists())


def _read_text(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\x00" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def _is_config(path: Path) -> bool:
    name = path.name.lower()
    return path.suffix.lower() in _CONFIG_SUFFIXES or name.startswith(".env") or name.endswith(".env")


def scan_files(paths: list[str]) -> tuple[list[Finding], int]:
    """Hard-coded credentials in the files under `paths`: (findings, number of files read)."""
    findings: list[Finding] = []
    read = 0
    for path in _files(paths):
        text = _read_text(path)
        if text is None:
            continue
        read += 1
        config = _is_config(path)
        for number, line in enumerate(text.splitlines(), 1):
            hits = _line_hits(line, config)
            if not hits:
                continue
            masked = _mask(line, hits)
            for hit in hits:
                obj = f"{path}:{number}"
                findings.append(make_finding(
                    hit.rule_id, object_type=ObjectType.FILE, obj=obj,
                    message=f"{obj}: a hard-coded password ({hit.detail}); the secret is masked here.",
                    evidence={"line_text": masked, "secret_length": hit.end - hit.start, "kind": hit.detail},
                    location=Location(file=str(path), line=number, statement=0),
                ))
    return _unique(findings), read


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[str] = set()
    out = []
    for f in findings:
        if f.id not in seen:
            seen.add(f.id)
            out.append(f)
    return out


# -- SQLite --------------------------------------------------------------------------------------


def sqlite_permission_findings(path: Path) -> list[Finding]:
    """World- or group-accessible SQLite database file (and its -wal/-journal), and a writable folder."""
    out: list[Finding] = []
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-journal")):
        if not candidate.exists():
            continue
        mode = stat.S_IMODE(candidate.stat().st_mode)
        problems = [label for bit, label in ((stat.S_IWOTH, "world-writable"), (stat.S_IROTH, "world-readable"),
                                             (stat.S_IWGRP, "group-writable"), (stat.S_IRGRP, "group-readable"))
                    if mode & bit]
        if problems:
            severity = Severity.HIGH if mode & (stat.S_IWOTH | stat.S_IROTH) else Severity.MEDIUM
            out.append(make_finding(
                "security.sqlite_file_permissions", object_type=ObjectType.FILE, obj=str(candidate),
                message=f"SQLite file {candidate} is {', '.join(problems)} (mode {mode:o}): other accounts on the "
                        "machine can read or change the data directly.",
                evidence={"mode": f"{mode:o}", "problems": problems, "command": f"chmod 600 '{candidate}'"},
                severity=severity,
            ))
    folder = path.parent
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        out.append(make_finding(
            "security.sqlite_directory_permissions", object_type=ObjectType.FILE, obj=str(folder),
            message=f"The folder {folder} holding the SQLite database is world-writable without the sticky bit: "
                    "anyone can replace or delete the database and its journal.",
            evidence={"mode": f"{mode:o}", "command": f"chmod 700 '{folder}'"},
        ))
    return out

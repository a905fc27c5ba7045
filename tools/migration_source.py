"""Reading migrations: files and folders in apply order, split into located statements.

Plain SQL, Flyway's `V<version>__<name>.sql`, Alembic's offline output (`alembic upgrade --sql`) and
Django's `sqlmigrate` output are all SQL scripts; only the order of files differs. A comment line
`-- dbsage: ignore <rule>[, <rule>...]` suppresses those rules on the next statement.
"""

from __future__ import annotations

import re
from pathlib import Path

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import InputError
from dbsage.tools.migration_model import MigrationFile, MigrationScript, MigrationStatement
from dbsage.tools.sources.ddl_script import split_statements

MAX_FILE_BYTES = 64 * 1024 * 1024
_FLYWAY = re.compile(r"^[VR](?P<version>[0-9][0-9._]*)?__.+\.sql$", re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"^(?P<version>[0-9][0-9._]*)")
_IGNORE = re.compile(r"^\s*--\s*dbsage:\s*ignore\s+(?P<rules>[\w.\-]+(?:\s*,\s*[\w.\-]+)*)", re.IGNORECASE)


def _version_key(version: str | None) -> tuple[int, ...]:
    if not version:
        return (1 << 62,)
    return tuple(int(p) for p in re.split(r"[._]", version) if p.isdigit())


def _file_version(path: Path) -> str | None:
    m = _FLYWAY.match(path.name)
    if m:
        return (m.group("version") or "").rstrip("._") or None
    m = _LEADING_NUMBER.match(path.name)
    return m.group("version").rstrip("._") if m else None


def migration_paths(paths: list[str]) -> list[Path]:
    """The SQL files named, folders expanded to their *.sql files, in apply order (versions numerically)."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            in_folder = [p for p in path.rglob("*.sql") if p.is_file()]
            found.extend(sorted(in_folder, key=lambda p: (_version_key(_file_version(p)), p.name)))
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"No such migration file or folder: {given}.", hint="give SQL files or a folder of them")
    if not found:
        raise InputError("No .sql migration file found in the paths given.", hint="give SQL files or a folder of them")
    return found


def suppressions(text: str) -> dict[int, frozenset[str]]:
    """Line number of each `-- dbsage: ignore` comment -> the rule ids it names."""
    found: dict[int, frozenset[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        m = _IGNORE.match(line)
        if m:
            found[number] = frozenset(r.strip() for r in m.group("rules").split(","))
    return found


def read_statements(text: str, dialect: Dialect, *, file: str) -> list[MigrationStatement]:
    """The statements of one script, each carrying the suppressions written just before it."""
    pending = sorted(suppressions(text).items())
    statements: list[MigrationStatement] = []
    for stmt in split_statements(text, dialect):
        suppressed: set[str] = set()
        while pending and pending[0][0] < stmt.line:
            suppressed |= pending.pop(0)[1]
        statements.append(
            MigrationStatement(
                text=stmt.text, file=file, line=stmt.line, index=stmt.index, suppressed=frozenset(suppressed)
            )
        )
    return statements


def read_file(path: Path, dialect: Dialect) -> MigrationFile:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(
            f"{path} is {size // (1024 * 1024)} MiB; dbsage reads migration files up to "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MiB.",
            hint="split the migration",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text.", hint="give SQL migration files") from None
    return MigrationFile(path=str(path), version=_file_version(path), statements=read_statements(
        text, dialect, file=str(path)))


def read_migrations(paths: list[str] | None, dialect: Dialect, *, sql: str | None = None) -> MigrationScript:
    """Files and folders (or SQL text, shown as file `<sql>`) as one script in apply order."""
    if bool(paths) == (sql is not None):
        raise InputError("Give migration files or SQL text, not both and not neither.",
                         hint="paths=[...] or sql='...'")
    if sql is not None:
        files = [MigrationFile(path="<sql>", version=None, statements=read_statements(sql, dialect, file="<sql>"))]
    else:
        files = [read_file(p, dialect) for p in migration_paths(paths or [])]
    return MigrationScript(files=files, dialect=dialect)

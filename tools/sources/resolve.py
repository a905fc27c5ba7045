"""From what a caller gives (a URL, DDL text, DDL files) to a Catalog."""

from __future__ import annotations

from pathlib import Path

from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.errors import InputError
from dbsage.tools.sources.guard import Limits, LiveDatabase

DIALECT_NAMES = ", ".join(d.value for d in Dialect)


def parse_dialect(name: str | Dialect | None, *, default: Dialect | None = None) -> Dialect:
    """A Dialect from its name; InputError lists the valid names."""
    if isinstance(name, Dialect):
        return name
    if name is None or name == "":
        if default is None:
            raise InputError("A dialect is needed for offline DDL.", hint=f"pass --dialect: {DIALECT_NAMES}")
        return default
    aliases = {"postgresql": "postgres", "pg": "postgres", "sqlite3": "sqlite"}
    key = aliases.get(name.lower(), name.lower())
    try:
        return Dialect(key)
    except ValueError:
        raise InputError(f"Unknown dialect {name!r}.", hint=f"use one of: {DIALECT_NAMES}") from None


def read_sql_file(path: str | Path) -> str:
    """The text of a SQL file (UTF-8, BOM allowed); InputError when missing, empty or not UTF-8."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"File not found: {p}.")
    if p.is_dir():
        raise InputError(f"{p} is a directory; give a .sql file.")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{p} is not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r}).",
            hint="convert it, e.g. iconv -f latin1 -t utf-8",
        ) from None
    if not text.strip():
        raise InputError(f"{p} is empty: there is no DDL to read.")
    return text


def catalog_from_ddl_text(text: str, dialect: Dialect, *, file: str | None = None) -> Catalog:
    """Parse DDL text offline into a Catalog (pglast for PostgreSQL, sqlglot for the others)."""
    if not text.strip():
        raise InputError("The DDL text is empty.")
    from dbsage.tools.sources.ddl import catalog_from_ddl

    return catalog_from_ddl(text, dialect, file=file)


def catalog_from_url(url: str, *, schemas: list[str] | None = None, limits: Limits | None = None) -> Catalog:
    """Connect (read-only, through the guard) and read the live catalog."""
    from dbsage.tools.sources.live import load_catalog

    with LiveDatabase.open(url, limits=limits) as db:
        return load_catalog(db, schemas=schemas)

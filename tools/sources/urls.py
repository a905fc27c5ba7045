"""Database URLs: parsing into connection parameters, and redaction of every secret they carry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import InputError

_SCHEMES: dict[str, Dialect] = {
    "postgresql": Dialect.POSTGRES,
    "postgres": Dialect.POSTGRES,
    "mysql": Dialect.MYSQL,
    "mysql+pymysql": Dialect.MYSQL,
    "mariadb": Dialect.MARIADB,
    "mariadb+pymysql": Dialect.MARIADB,
    "sqlite": Dialect.SQLITE,
}

# Secrets seen in parsed URLs: scrubbed from any text that goes through redact(), even text a
# driver produced (error messages can echo connection parameters).
_KNOWN_SECRETS: set[str] = set()

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)@")
_KV_PASSWORD = re.compile(
    r"(?i)\b(?P<key>password|passwd|pwd)(?P<sep>\s*[=:]\s*)(?P<pw>'[^']*'|\"[^\"]*\"|[^\s&;,)\"']+)"
)


# SQL spelling: CREATE ROLE app PASSWORD 'secret', IDENTIFIED BY 'secret'.
_SQL_PASSWORD = re.compile(r"(?i)\b(?P<key>password|identified\s+by)(?P<sep>\s+)(?P<pw>'(?:[^']|'')*')")


def redact(text: str) -> str:
    """`text` with URL passwords, password=... pairs and every registered secret replaced by ***."""
    out = text
    # Every statement dbsage sends is redacted before it is recorded: skip the patterns when none of
    # their anchors occurs (most catalog queries are kilobytes of SQL with no secret in them).
    lowered = text.casefold()  # as the patterns' IGNORECASE does: "ſ" is an "s"
    if "://" in text:
        out = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}***@", out)
    if "passw" in lowered or "pwd" in lowered:
        out = _KV_PASSWORD.sub(lambda m: f"{m.group('key')}{m.group('sep')}***", out)
    if "password" in lowered or "identified" in lowered:
        out = _SQL_PASSWORD.sub(lambda m: f"{m.group('key')}{m.group('sep')}'***'", out)
    for secret in sorted(_KNOWN_SECRETS, key=len, reverse=True):
        out = out.replace(secret, "***")
    return out


def register_secret(secret: str | None) -> None:
    """Remember a secret so redact() scrubs it wherever it appears."""
    if secret and len(secret) >= 3:
        _KNOWN_SECRETS.add(secret)


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed database URL. `str()` and `repr()` never show the password."""

    dialect: Dialect
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    path: Path | None = None
    query: dict[str, str] = field(default_factory=dict)

    @property
    def redacted(self) -> str:
        if self.dialect is Dialect.SQLITE:
            return f"sqlite:///{self.path}" if self.path else "sqlite://"
        auth = ""
        if self.user:
            auth = self.user + (":***" if self.password else "") + "@"
        host = self.host or ""
        port = f":{self.port}" if self.port else ""
        db = f"/{self.database}" if self.database else ""
        return f"{self.dialect.value}://{auth}{host}{port}{db}"

    def __str__(self) -> str:
        return self.redacted


def parse_url(url: str) -> DatabaseUrl:
    """Parse a postgresql://, mysql://, mariadb:// or sqlite:/// URL; InputError names what is wrong."""
    url = url.strip()
    if not url:
        raise InputError("The database URL is empty.", hint="pass --dsn URL or set DATABASE_URL")
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise InputError(
            f"Not a database URL: {redact(url)!r}.",
            hint="use postgresql://user@host:5432/db, mysql://user@host:3306/db or sqlite:///absolute/path.db",
        )
    dialect = _SCHEMES.get(scheme.lower())
    if dialect is None:
        raise InputError(
            f"Unknown URL scheme {scheme!r}.",
            hint="supported: " + ", ".join(sorted(_SCHEMES)),
        )
    if dialect is Dialect.SQLITE:
        raw_path = url[len(scheme) + 3 :].split("?", 1)[0]
        if not raw_path or raw_path == "/":
            raise InputError("A sqlite URL needs a file path: sqlite:///absolute/path.db")
        return DatabaseUrl(dialect=dialect, path=Path(unquote(raw_path)))
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed [ of an IPv6 address
        raise InputError(f"Not a database URL: {redact(url)!r} ({exc}).",
                         hint="use postgresql://user@host:5432/db; an IPv6 host goes in brackets: [::1]") from None
    password = unquote(parts.password) if parts.password is not None else None
    register_secret(password)
    try:
        port = parts.port
    except ValueError as exc:
        raise InputError(f"Bad port in {redact(url)!r}: {exc}.") from None
    query = dict(parse_qsl(parts.query))
    for key in ("password", "passwd"):
        register_secret(query.get(key))
    database = unquote(parts.path.lstrip("/")) or None
    return DatabaseUrl(
        dialect=dialect,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=password,
        database=database,
        query=query,
    )

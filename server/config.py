"""dbsage.toml: the databases dbsage may read, how the server listens, and which rules apply.

Where the file comes from, first match wins: `--config PATH`, `$DBSAGE_CONFIG`, `./dbsage.toml`; no file
at all is a valid, empty configuration. `$DATABASE_URL`, when set, adds a database named `default`
(a database of that name in the file wins). URLs stay inside this module's models: everything meant
for output goes through `redacted()`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dbsage.knowledge.rulebook import load_rules
from dbsage.tools.errors import ConfigError, GuardRefused, InputError
from dbsage.tools.rules.registry import RuleOptions
from dbsage.tools.sources.guard import Limits
from dbsage.tools.sources.urls import parse_url, redact

CONFIG_FILE_NAME = "dbsage.toml"
CONFIG_ENV = "DBSAGE_CONFIG"
URL_ENV = "DATABASE_URL"
TOKEN_ENV = "DBSAGE_HTTP_TOKEN"
ENV_DATABASE_NAME = "default"
DEFAULT_HTTP_PORT = 8765


class _Section(BaseModel):
    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid")


class DatabaseConfig(_Section):
    """One `[databases.NAME]` table."""

    url: str = Field(description="postgresql://, mysql://, mariadb:// or sqlite:/// URL")
    mode: Literal["read_only", "scratch"] = Field(
        default="read_only", description="scratch: dbsage may write to it (later tools); never the default"
    )
    production: bool = Field(default=False, description="A production database: tools stay conservative")
    statement_timeout_ms: int = Field(default=Limits.statement_timeout_ms, ge=1)
    row_cap: int = Field(default=Limits.row_cap, ge=1)

    @field_validator("url")
    @classmethod
    def _url_parses(cls, value: str) -> str:
        try:
            parse_url(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def limits(self) -> Limits:
        return Limits(statement_timeout_ms=self.statement_timeout_ms, row_cap=self.row_cap)

    def redacted(self, name: str) -> dict[str, Any]:
        """What may be shown about this database: everything but secrets."""
        parsed = parse_url(self.url)
        return {
            "name": name,
            "dialect": parsed.dialect.value,
            "url": parsed.redacted,
            "mode": self.mode,
            "production": self.production,
            "statement_timeout_ms": self.statement_timeout_ms,
            "row_cap": self.row_cap,
        }


class ServerConfig(_Section):
    """`[server]`: who may name databases, and how the HTTP transport listens."""

    allow_raw_dsn: bool = Field(default=False, description="Tool callers may pass a URL, not only a name")
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_HTTP_PORT, ge=1, le=65535)
    token: str | None = Field(default=None, description=f"Bearer token for HTTP; ${TOKEN_ENV} overrides it")
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Extra Host headers accepted over HTTP, e.g. 'tools.internal:*'"
    )
    allowed_origins: list[str] = Field(
        default_factory=list, description="Browser origins accepted over HTTP, e.g. 'https://app.example.com'"
    )
    pool_size: int = Field(
        default=8, ge=1, le=100,
        description="Connections `dbsage serve` keeps open at most per PostgreSQL database, reused across calls",
    )
    catalog_max_age_s: float = Field(
        default=10.0, ge=0, le=3600,
        description="`dbsage serve` reuses a PostgreSQL catalog while the schema is unchanged and it is at most "
        "this old (statistics age); 0 reads it afresh on every call",
    )

    @field_validator("token")
    @classmethod
    def _token_not_blank(cls, value: str | None) -> str | None:
        if value is not None and len(value.strip()) < 16:
            raise ValueError("token must be at least 16 characters (or leave it out)")
        return value


class RulesConfig(_Section):
    """`[rules]`: rules switched off, and thresholds changed, for every tool."""

    disabled: list[str] = Field(default_factory=list, description="Rule ids that never report")
    thresholds: dict[str, float] = Field(default_factory=dict, description="Named thresholds the rules read")

    @field_validator("disabled")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        # A misspelt id would silently leave the rule on.
        unknown = sorted(set(value) - set(load_rules()))
        if unknown:
            raise ValueError(f"unknown rule id {', '.join(unknown)} (dbsage rules lists them)")
        return value

    def options(self) -> RuleOptions:
        return RuleOptions(disabled=frozenset(self.disabled), thresholds=dict(self.thresholds))


@dataclass(frozen=True)
class Target:
    """A live database resolved from a name (or an allowed URL), ready to open through the guard."""

    url: str
    name: str
    limits: Limits


class DbsageConfig(_Section):
    """The whole configuration."""

    databases: dict[str, DatabaseConfig] = Field(default_factory=dict)
    server: ServerConfig = Field(default_factory=ServerConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    baseline: str | None = Field(
        default=None, description="Accepted finding ids (path relative to this file); --fail-on ignores them"
    )
    path: str | None = Field(default=None, exclude=True, description="Where this configuration was read from")

    def database(self, name: str) -> DatabaseConfig:
        """The database configured as `name`; ConfigError lists the names that exist."""
        try:
            return self.databases[name]
        except KeyError:
            known = ", ".join(sorted(self.databases)) or "none"
            where = self.path or f"no {CONFIG_FILE_NAME} found"
            raise ConfigError(
                f"No database named {name!r} is configured (configured: {known}).",
                hint=f"add [databases.{_toml_key(name)}] with a url to the configuration ({where}), "
                f"or set {URL_ENV} for a database named {ENV_DATABASE_NAME!r}",
            ) from None

    def target(self, name_or_url: str, *, allow_url: bool | None = None) -> Target:
        """The database a caller named: a configured name, or a URL when URLs are allowed.

        `allow_url` defaults to `[server] allow_raw_dsn`; the CLI passes True for its own `--dsn`.
        """
        if "://" in name_or_url and name_or_url not in self.databases:
            allowed = self.server.allow_raw_dsn if allow_url is None else allow_url
            if not allowed:
                known = ", ".join(sorted(self.databases)) or "none"
                raise ConfigError(
                    f"Database URLs are not accepted here; name a configured database (configured: {known}).",
                    hint="the operator can allow URLs with [server] allow_raw_dsn = true",
                )
            return Target(url=name_or_url, name=parse_url(name_or_url).redacted, limits=Limits())
        db = self.database(name_or_url)
        return Target(url=db.url, name=name_or_url, limits=db.limits)

    def refuse_on_production(self, name_or_url: str, *, doing: str, hint: str) -> None:
        """GuardRefused when `name_or_url` is a database configured `production = true`."""
        db = self.databases.get(name_or_url)
        if db is not None and db.production:
            raise GuardRefused(
                f"{name_or_url} is configured as production: dbsage does not {doing} there.",
                reason="production",
                hint=hint,
            )

    def redacted(self) -> dict[str, Any]:
        """The configuration as it may be shown: database URLs redacted, no token."""
        return {
            "config_file": self.path,
            "databases": [db.redacted(name) for name, db in sorted(self.databases.items())],
            "allow_raw_dsn": self.server.allow_raw_dsn,
            "rules_disabled": sorted(self.rules.disabled),
        }

    def baseline_ids(self) -> frozenset[str]:
        """The finding ids in the baseline file (empty without one)."""
        if self.baseline is None:
            return frozenset()
        path = Path(self.baseline)
        if not path.is_absolute() and self.path is not None:
            path = Path(self.path).parent / path
        return load_baseline(path)


def _toml_key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def load_baseline(path: Path) -> frozenset[str]:
    """Finding ids from a baseline: a JSON list of ids, or any dbsage JSON report (its findings' ids)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"Baseline file not found: {path}.", hint="create it with --format json > FILE"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"Baseline file {path} is not readable JSON: {exc}.") from None
    if isinstance(data, dict) and isinstance(data.get("findings"), list):
        data = [f.get("id") for f in data["findings"] if isinstance(f, dict)]
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise ConfigError(
            f"Baseline file {path} holds neither a list of finding ids nor a dbsage JSON report.",
        )
    return frozenset(data)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def find_config_file(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """The configuration file to read, or None when there is none (an explicit path must exist)."""
    for origin, value in (("--config", explicit), (f"${CONFIG_ENV}", env.get(CONFIG_ENV))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise ConfigError(
                    f"Configuration file not found: {path} (from {origin}).",
                    hint=f"create it, or drop {origin} to run without one",
                )
            return path
    default = Path.cwd() / CONFIG_FILE_NAME
    return default if default.is_file() else None


def load_config(path: str | None = None, *, env: Mapping[str, str] | None = None) -> DbsageConfig:
    """Read and validate the configuration; ConfigError says which key of which file is wrong."""
    env = os.environ if env is None else env
    file = find_config_file(path, env)
    raw: dict[str, Any] = {}
    if file is not None:
        raw = _read_toml(file)
    try:
        config = DbsageConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe_validation(exc, file)) from None
    updates: dict[str, Any] = {"path": str(file) if file else None}
    url = env.get(URL_ENV, "").strip()
    if url and ENV_DATABASE_NAME not in config.databases:
        try:
            databases = {**config.databases, ENV_DATABASE_NAME: DatabaseConfig(url=url)}
        except ValidationError as exc:
            raise ConfigError(f"${URL_ENV} is not a usable database URL: {_first_error(exc)}.") from None
        updates["databases"] = databases
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        try:
            updates["server"] = ServerConfig.model_validate({**config.server.model_dump(), "token": token})
        except ValidationError as exc:
            raise ConfigError(f"${TOKEN_ENV}: {_first_error(exc)}.") from None
    return config.model_copy(update=updates)


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{file} is not UTF-8 text.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {file}: {exc.strerror}.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}.") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return redact(str(err["msg"]).removeprefix("Value error, "))


def _describe_validation(exc: ValidationError, file: Path | None) -> str:
    """One line naming the key and the problem; values are not echoed (they may hold secrets)."""
    problems = []
    for err in exc.errors()[:3]:
        key = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(f"{key}: {redact(message)}")
    more = f" (and {len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else ""
    return f"Bad configuration in {file or 'the environment'}: " + "; ".join(problems) + more + "."

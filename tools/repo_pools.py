"""The connection pools an application configures, read from its repository and judged against the live server.

Python is read with `ast`: SQLAlchemy `create_engine`/`create_async_engine` keyword arguments (library
defaults where the code sets none), Django `DATABASES`, psycopg_pool and asyncpg/aiomysql pools.
PgBouncer is read from pgbouncer.ini (or the PGBOUNCER_*/POOL_MODE variables of a container file).
Judgements:

- connections: the pool's maximum (pool_size + max_overflow, max_size...) times the worker processes
  (Django: one connection per thread, times gunicorn's threads)
  against the server's max_connections minus its reserved slots; with PgBouncer in front, the
  application's total against max_client_conn and PgBouncer's own server pool against the server;
- the persona's size, cores x 2 + spindles, with the core count stated as an assumption
  (thresholds health.pool.cores and health.pool.spindles set the real values);
- reused connections without a liveness check (pool_pre_ping, CONN_HEALTH_CHECKS), one connection per
  request (Django CONN_MAX_AGE=0, NullPool without PgBouncer);
- transaction pooling with session state in the code (SET without LOCAL, session advisory locks,
  LISTEN, PREPARE, temporary tables) or driver prepared statements (psycopg 3 prepare_threshold,
  asyncpg statement cache) that PgBouncer is not told to track.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from dbsage.tools.checklist_model import ItemStatus, Verdict, unknown
from dbsage.tools.checklist_repo import Repository
from dbsage.tools.findings import Finding, Location, ObjectType, Severity
from dbsage.tools.repo_python import (
    PythonFile,
    Value,
    called,
    dotted,
    keyword,
    python_files,
    resolve,
    string_head,
)
from dbsage.tools.repo_workers import WorkerCount, thread_count, worker_count
from dbsage.tools.rules.registry import make_finding

# Library defaults, applied where the code leaves a setting out.
SQLALCHEMY_POOL_SIZE = 5
SQLALCHEMY_MAX_OVERFLOW = 10
PSYCOPG_POOL_MIN_SIZE = 4
ASYNCPG_MAX_SIZE = 10
AIOMYSQL_MAXSIZE = 10
PGBOUNCER_DEFAULTS: dict[str, str] = {
    "pool_mode": "session", "default_pool_size": "20", "max_client_conn": "100", "reserve_pool_size": "0",
    "max_db_connections": "0",
}
_NOT_POOLING = {"StaticPool", "SingletonThreadPool", "AssertionPool"}
_SQL_CALLS = {"execute", "exec_driver_sql", "text", "executescript", "executemany", "fetch", "fetchrow", "fetchval"}
_SESSION_STATE = [
    (re.compile(r"^\s*SET\s+(SESSION\s+)?(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)[\w.\"]+\s*(=|\bTO\b)",
                re.IGNORECASE), "SET without LOCAL"),
    (re.compile(r"set_config\s*\([^)]*,\s*false\s*\)", re.IGNORECASE), "set_config(..., false)"),
    (re.compile(r"pg_(try_)?advisory_lock(_shared)?\s*\(", re.IGNORECASE), "session-level advisory lock"),
    (re.compile(r"^\s*LISTEN\s+\w", re.IGNORECASE), "LISTEN"),
    (re.compile(r"^\s*PREPARE\s+\w+", re.IGNORECASE), "PREPARE"),
    (re.compile(r"CREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\s+TABLE(?![^;]*ON\s+COMMIT\s+DROP)", re.IGNORECASE),
     "temporary table"),
]
# The words without which a file cannot hold what each reader looks for (only those files are parsed).
_WANTS_POOL = re.compile(r"create_engine|create_async_engine|DATABASES|ConnectionPool|create_pool")
_WANTS_SQL = re.compile(r"execute|exec_driver_sql|text\(|fetch")
_WANTS_DRIVER = re.compile(r"psycopg|asyncpg|prepare_threshold|statement_cache_size")
_PSYCOPG3_URL = re.compile(r"^postgres(ql)?\+psycopg(_async)?://")
_ASYNCPG_URL = re.compile(r"^postgres(ql)?\+asyncpg://")
_BOUNCER_ENV = re.compile(
    r"\b(?:PGBOUNCER_)?(?P<key>POOL_MODE|DEFAULT_POOL_SIZE|MAX_CLIENT_CONN|RESERVE_POOL_SIZE|MAX_DB_CONNECTIONS"
    r"|MAX_PREPARED_STATEMENTS)\b[\"']?\s*[:=]\s*[\"']?(?P<value>\w+)")
# Pool configuration dbsage does not size (other languages, other frameworks): still evidence that a pool exists.
_OTHER_POOLS = re.compile(
    r"image:\s*\S*pgbouncer|\bpool_size\s*[=:]\s*\d|max_overflow\s*[=:]\s*\d|maximumPoolSize\s*[=:]"
    r"|SetMaxOpenConns\(|^\s*pool:\s*\d|\bconnectionLimit\s*:|\bpool\s*:\s*\{", re.IGNORECASE | re.MULTILINE)
_OTHER_SUFFIXES = {".py", ".yml", ".yaml", ".properties", ".js", ".ts", ".go", ".java", ".rb", ".json", ".toml",
                   ".cs", ".kt", ".php", ".env", ".ini", ".cfg", ".conf", ".xml"}


@dataclass(frozen=True)
class ServerLimits:
    """What the live server accepts: max_connections less the slots reserved for superusers."""

    max_connections: int
    reserved: int = 0

    @property
    def usable(self) -> int:
        return max(1, self.max_connections - self.reserved)

    def describe(self) -> str:
        if self.reserved:
            return f"{self.usable} (max_connections {self.max_connections} - {self.reserved} reserved)"
        return f"{self.usable} (max_connections)"


def server_limits(connection_evidence: dict[str, object] | None) -> ServerLimits | None:
    """The limits read by the connection_usage health check, when it could read them."""
    if not connection_evidence:
        return None
    max_conn = connection_evidence.get("max_connections")
    reserved = connection_evidence.get("reserved_connections", 0)
    if not isinstance(max_conn, int) or isinstance(max_conn, bool):
        return None
    return ServerLimits(max_conn, reserved if isinstance(reserved, int) else 0)


@dataclass
class AppPool:
    """One pool the application opens in each of its worker processes."""

    kind: str  # sqlalchemy, django, psycopg_pool, asyncpg, aiomysql
    file: str
    line: int
    size: Value
    overflow: Value
    settings: dict[str, str] = field(default_factory=dict)  # as written (or the library default, said so)
    pre_ping: bool | None = None  # None: not applicable, or only known at run time
    per_request: bool = False  # a new server connection for each request or checkout
    per_thread: bool = False  # one connection per thread (Django), not one pool per process

    @property
    def per_process(self) -> int | None:
        if not (self.size.known and self.overflow.known):
            return None
        size, overflow = self.size.value, self.overflow.value
        if not isinstance(size, int) or not isinstance(overflow, int):
            return None
        return max(0, size) + max(0, overflow)

    def label(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return f"{self.file}:{self.line} {self.kind}({shown})"

    def location(self) -> Location:
        return Location(file=self.file, line=self.line, statement=0)


@dataclass
class Bouncer:
    """A PgBouncer configuration: its settings (defaults where unset) and the line of each one set."""

    file: str
    line: int
    settings: dict[str, str]
    lines: dict[str, int]
    database_pool_sizes: list[int] = field(default_factory=list)  # pool_size= of [databases] entries

    def get(self, key: str) -> str:
        return self.settings.get(key, PGBOUNCER_DEFAULTS.get(key, ""))

    def number(self, key: str) -> int:
        raw = self.get(key)
        return int(raw) if raw.isdigit() else int(PGBOUNCER_DEFAULTS.get(key, "0"))

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)

    @property
    def mode(self) -> str:
        return self.get("pool_mode").lower()

    @property
    def server_pool(self) -> int:
        """Server connections per database/user pair: the pool plus its reserve, capped by max_db_connections."""
        size = max([self.number("default_pool_size"), *self.database_pool_sizes]) + self.number("reserve_pool_size")
        cap = self.number("max_db_connections")
        return min(size, cap) if cap > 0 else size

    def tracks_prepared_statements(self) -> bool:
        raw = self.settings.get("max_prepared_statements", "")
        return raw.isdigit() and int(raw) > 0

    def label(self) -> str:
        return (f"{self.file}:{self.line} pgbouncer(pool_mode={self.mode}, default_pool_size="
                f"{self.get('default_pool_size')}, reserve_pool_size={self.get('reserve_pool_size')}, "
                f"max_client_conn={self.get('max_client_conn')})")


# ------------------------------------------------------------------------------------ reading


def app_pools(repo: Repository) -> list[AppPool]:
    """Every pool the Python code configures, in file and line order."""
    pools: list[AppPool] = []
    for py in python_files(repo, _WANTS_POOL):
        for node in py.nodes:
            pool: AppPool | None = None
            if isinstance(node, ast.Call):
                name = called(node)
                if name in ("create_engine", "create_async_engine"):
                    pool = _sqlalchemy(py, node)
                elif name in ("ConnectionPool", "AsyncConnectionPool") and "psycopg_pool" in py.imports:
                    pool = _sized(py, node, "psycopg_pool", "max_size", None, ("min_size", PSYCOPG_POOL_MIN_SIZE))
                elif name == "create_pool" and "asyncpg" in py.imports:
                    pool = _sized(py, node, "asyncpg", "max_size", ASYNCPG_MAX_SIZE)
                elif name == "create_pool" and "aiomysql" in py.imports:
                    pool = _sized(py, node, "aiomysql", "maxsize", AIOMYSQL_MAXSIZE)
                if pool is not None:
                    pools.append(pool)
            elif (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DATABASES"
                                                         for t in node.targets) and isinstance(node.value, ast.Dict)):
                pools.extend(_django(py, node.value))
    return sorted(pools, key=lambda p: (p.file, p.line))


def _arguments(py: PythonFile, call: ast.Call) -> tuple[dict[str, Value], list[str]]:
    """A call's keyword arguments resolved, `**NAME` of a module-level dict included; other `**x` listed."""
    args: dict[str, Value] = {}
    opaque: list[str] = []
    for k in call.keywords:
        if k.arg is not None:
            args[k.arg] = resolve(k.value, py.constants)
            continue
        spread = py.constants.get(k.value.id) if isinstance(k.value, ast.Name) else None
        if isinstance(spread, dict):
            args.update({str(key): Value(v, repr(v), True) for key, v in spread.items()})
        else:
            opaque.append("**" + ast.unparse(k.value))
    return args, opaque


def _setting(args: dict[str, Value], name: str, default: object, settings: dict[str, str], library: str) -> Value:
    if name in args:
        settings[name] = args[name].describe()
        return args[name]
    settings[name] = f"{default} ({library} default)"
    return Value(default, str(default), True)


def _sqlalchemy(py: PythonFile, call: ast.Call) -> AppPool | None:
    url = call.args[0] if call.args else keyword(call, "url")
    head = string_head(url) if url is not None else None
    if head is not None and head[0].startswith("sqlite"):
        return None  # SQLite is a file: nothing to pool on a server
    args, opaque = _arguments(py, call)
    poolclass = dotted(keyword(call, "poolclass") or ast.Constant(None)).rsplit(".", 1)[-1]
    if poolclass in _NOT_POOLING:
        return None
    settings: dict[str, str] = {}
    if poolclass:
        settings["poolclass"] = poolclass
    if opaque:
        settings["unread"] = ", ".join(opaque)
    if poolclass == "NullPool":
        return AppPool("sqlalchemy", py.rel, call.lineno, Value(1, "1", True), Value(0, "0", True), settings,
                       per_request=True)
    size = _setting(args, "pool_size", SQLALCHEMY_POOL_SIZE, settings, "SQLAlchemy")
    overflow = _setting(args, "max_overflow", SQLALCHEMY_MAX_OVERFLOW, settings, "SQLAlchemy")
    for optional in ("pool_timeout", "pool_recycle"):
        if optional in args:
            settings[optional] = args[optional].describe()
    ping = args.get("pool_pre_ping")
    settings["pool_pre_ping"] = ping.describe() if ping else "False (SQLAlchemy default)"
    pre_ping = None if ping is not None and not ping.known else bool(ping and ping.value)
    if opaque and ping is None:
        pre_ping = None  # it may hide in the spread arguments
    return AppPool("sqlalchemy", py.rel, call.lineno, size, overflow, settings, pre_ping=pre_ping)


def _sized(py: PythonFile, call: ast.Call, kind: str, max_name: str, default: int | None,
           fallback: tuple[str, int] | None = None) -> AppPool:
    """A pool whose maximum is one argument (psycopg_pool's max_size defaults to its min_size)."""
    args, opaque = _arguments(py, call)
    settings: dict[str, str] = {"unread": ", ".join(opaque)} if opaque else {}
    if max_name not in args and fallback is not None:
        min_name, min_default = fallback
        size = _setting(args, min_name, min_default, settings, kind)
        settings[max_name] = f"{min_name} ({kind} default)"
    else:
        size = _setting(args, max_name, default, settings, kind)
    return AppPool(kind, py.rel, call.lineno, size, Value(0, "0", True), settings)


def _django(py: PythonFile, databases: ast.Dict) -> list[AppPool]:
    pools: list[AppPool] = []
    for alias, entry in zip(databases.keys, databases.values, strict=True):
        if alias is None:
            continue
        settings: dict[str, str] = {"alias": ast.unparse(alias).strip("'\"")}
        line = entry.lineno
        values: dict[str, Value] = {}
        options: ast.expr | None = None
        if isinstance(entry, ast.Dict):
            for key, value in zip(entry.keys, entry.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    values[key.value] = resolve(value, py.constants)
                    if key.value == "CONN_MAX_AGE":
                        line = key.lineno
                    if key.value == "OPTIONS":
                        options = value
        elif isinstance(entry, ast.Call):  # dj_database_url.config(conn_max_age=600, conn_health_checks=True)
            args, _ = _arguments(py, entry)
            values = {k.upper(): v for k, v in args.items()}
        engine = values.get("ENGINE")
        if engine is not None and "sqlite" in str(engine.value):
            continue
        pool_option = _django_pool_option(py, options)
        if pool_option is not None:
            settings["OPTIONS.pool"] = pool_option.describe()
            size = pool_option if isinstance(pool_option.value, int) else Value(
                PSYCOPG_POOL_MIN_SIZE, f"{PSYCOPG_POOL_MIN_SIZE} (psycopg_pool default)", True)
            pools.append(AppPool("django", py.rel, line, size, Value(0, "0", True), settings))
            continue
        age = values.get("CONN_MAX_AGE")
        settings["CONN_MAX_AGE"] = age.describe() if age else "0 (Django default)"
        per_request = age is None or (age.known and age.value == 0)
        checks = values.get("CONN_HEALTH_CHECKS")
        settings["CONN_HEALTH_CHECKS"] = checks.describe() if checks else "False (Django default)"
        pre_ping = None if per_request or (checks is not None and not checks.known) else bool(checks and checks.value)
        # Django holds one connection per thread: the judge multiplies by gunicorn's threads.
        pools.append(AppPool("django", py.rel, line, Value(1, "1", True), Value(0, "0", True), settings,
                             pre_ping=pre_ping, per_request=per_request, per_thread=True))
    return pools


def _django_pool_option(py: PythonFile, options: ast.expr | None) -> Value | None:
    """OPTIONS["pool"] (Django 5.1+ with psycopg 3): True, or a dict whose max_size sizes it."""
    if not isinstance(options, ast.Dict):
        return None
    for key, value in zip(options.keys, options.values, strict=True):
        if isinstance(key, ast.Constant) and key.value == "pool":
            resolved = resolve(value, py.constants)
            if isinstance(resolved.value, dict):
                size = resolved.value.get("max_size", resolved.value.get("min_size", PSYCOPG_POOL_MIN_SIZE))
                return Value(size, ast.unparse(value), True)
            if resolved.value is True:
                return Value(True, "True", True)
    return None


def bouncers(repo: Repository) -> list[Bouncer]:
    """PgBouncer configurations: pgbouncer.ini files, and PgBouncer containers configured by variables."""
    found: list[Bouncer] = []
    for path in repo.files:
        text = repo.text(path)
        if not text:
            continue
        if path.suffix.lower() == ".ini" and ("pgbouncer" in path.name.lower() or "[pgbouncer]" in text):
            found.append(_read_ini(repo.rel(path), text))
        elif (path.suffix.lower() in (".yml", ".yaml", ".env") or path.name.startswith("Dockerfile")) and \
                "pgbouncer" in text.lower():
            bouncer = _read_variables(repo.rel(path), text)
            if bouncer is not None:
                found.append(bouncer)
    return found


def _read_ini(rel: str, text: str) -> Bouncer:
    section, start = "", 1
    settings: dict[str, str] = {}
    lines: dict[str, int] = {}
    sizes: list[int] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            if section == "pgbouncer":
                start = number
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if section == "pgbouncer":
            settings[key], lines[key] = value.split()[0] if value.split() else "", number
        elif section == "databases":
            for token in value.split():
                name, _, setting = token.partition("=")
                if name == "pool_size" and setting.isdigit():
                    sizes.append(int(setting))
                    lines.setdefault("default_pool_size", number)
                elif name == "pool_mode" and setting:
                    settings.setdefault("pool_mode", setting)
                    lines.setdefault("pool_mode", number)
    return Bouncer(rel, start, settings, lines, sizes)


def _read_variables(rel: str, text: str) -> Bouncer | None:
    settings: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        m = _BOUNCER_ENV.search(line)
        if m:
            key = m.group("key").lower()
            settings[key], lines[key] = m.group("value"), number
    if not settings:
        return None
    return Bouncer(rel, min(lines.values()), settings, lines)


# ------------------------------------------------------------------------------------ session state


@dataclass(frozen=True)
class SessionUse:
    file: str
    line: int
    what: str
    text: str


def session_state(repo: Repository) -> list[SessionUse]:
    """SQL in the Python code whose effect outlives its transaction (what transaction pooling breaks)."""
    uses: list[SessionUse] = []
    for py in python_files(repo, _WANTS_SQL):
        for node in py.nodes:
            if not (isinstance(node, ast.Call) and called(node) in _SQL_CALLS and node.args):
                continue
            head = string_head(node.args[0])
            if head is None:
                continue
            for pattern, what in _SESSION_STATE:
                if pattern.search(head[0]):
                    uses.append(SessionUse(py.rel, node.lineno, what, " ".join(head[0].split())[:80]))
                    break
    return uses


def driver_prepared_statements(repo: Repository) -> list[SessionUse]:
    """Drivers that prepare statements on the server by themselves, where the code does not turn that off."""
    psycopg3: list[SessionUse] = []
    asyncpg: list[SessionUse] = []
    disabled: set[str] = set()
    for py in python_files(repo, _WANTS_DRIVER):
        for node in py.nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if "psycopg" in names:
                    psycopg3.append(SessionUse(py.rel, node.lineno, "psycopg 3", "import psycopg"))
                if "asyncpg" in names:
                    asyncpg.append(SessionUse(py.rel, node.lineno, "asyncpg", "import asyncpg"))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if _PSYCOPG3_URL.match(node.value):
                    psycopg3.append(SessionUse(py.rel, node.lineno, "psycopg 3", node.value.split("://")[0]))
                elif _ASYNCPG_URL.match(node.value):
                    asyncpg.append(SessionUse(py.rel, node.lineno, "asyncpg", node.value.split("://")[0]))
            elif isinstance(node, ast.keyword) and node.arg:
                _note_switch(node.arg, node.value, disabled)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        _note_switch(key.value, value, disabled)
    uses: list[SessionUse] = []
    if psycopg3 and "prepare_threshold" not in disabled:
        uses.append(psycopg3[0])
    if asyncpg and "statement_cache_size" not in disabled:
        uses.append(asyncpg[0])
    return uses


def _note_switch(name: str, value: ast.expr, disabled: set[str]) -> None:
    if name == "prepare_threshold" and isinstance(value, ast.Constant) and value.value is None:
        disabled.add(name)
    if name in ("statement_cache_size", "prepared_statement_cache_size") and isinstance(value, ast.Constant) \
            and value.value == 0:
        disabled.add("statement_cache_size")


# ------------------------------------------------------------------------------------ judgement


def connection_pooling(repo: Repository | None, pool: dict[str, object],
                       server: ServerLimits | None = None, *, cores_given: bool = False) -> Verdict:
    """The performance.connection_pooling verdict: the pools found, sized against the server, with findings.

    Above the recommended size is a low finding when the user gave the core count (health.pool.cores),
    and information only when the count is the assumption: a guess does not lower the item's status."""
    if repo is None:
        return unknown("a pool's configuration lives with the application: give --paths (PgBouncer, SQLAlchemy "
                       "pool_size, psycopg_pool, HikariCP...)", **pool)
    pools, bouncer_configs = app_pools(repo), bouncers(repo)
    evidence: dict[str, object] = {}
    if server is not None:
        evidence.update({"usable_connections": server.usable, "max_connections": server.max_connections,
                         "reserved_connections": server.reserved})
    evidence.update(pool)
    if not pools and not bouncer_configs:
        hits = repo.grep(_OTHER_POOLS, [p for p in repo.files if p.suffix.lower() in _OTHER_SUFFIXES
                                        or p.name.startswith("Dockerfile")])
        evidence["pool_configuration"] = [h.label() for h in hits]
        if hits:
            return Verdict(ItemStatus.PASS, evidence, f"pool configured at {hits[0].label()} (not sized: dbsage "
                           "sizes SQLAlchemy, Django, psycopg_pool, asyncpg and PgBouncer pools)")
        return Verdict(ItemStatus.WARN, evidence, "no connection pool configuration found in the paths")
    workers = worker_count(repo)
    recommended = pool.get("recommended_pool_size")
    judge = _Judge(workers, server, recommended if isinstance(recommended, int) else None,
                   bouncer_configs[0] if bouncer_configs else None, cores_given, thread_count(repo))
    for app in pools:
        judge.app_pool(app)
    judge.all_pools(pools)
    if judge.bouncer is not None:
        judge.pgbouncer(judge.bouncer, repo)
    evidence = {
        "pool_configuration": [p.label() for p in pools][:10] + [b.label() for b in bouncer_configs][:3],
        "max_application_connections": judge.total if pools else None,
        "workers": workers.count,
        **evidence,
        "workers_source": workers.describe(),
    }
    if judge.threads[1] is not None:
        evidence["threads_per_worker"] = judge.threads[1]
    if not workers.assumed and len(workers.sources) > 1:
        evidence["worker_settings"] = workers.sources
    if server is None:
        evidence["server_limits"] = "not read (connection_usage could not see max_connections): sizes not judged"
    if judge.unsized:
        evidence["pools_not_sized"] = judge.unsized
    status = _status(judge.findings)
    where = pools[0].label() if pools else bouncer_configs[0].label()
    reason = None if status is ItemStatus.PASS else f"{len(judge.findings)} problem(s) in the pool configuration"
    return Verdict(status, evidence, reason or f"pool configured at {where}", judge.findings)


def _status(findings: list[Finding]) -> ItemStatus:
    if any(f.severity.at_least(Severity.HIGH) for f in findings):
        return ItemStatus.FAIL
    if any(f.severity is not Severity.INFO for f in findings):
        return ItemStatus.WARN
    return ItemStatus.PASS


@dataclass
class _Judge:
    workers: WorkerCount
    server: ServerLimits | None
    recommended: int | None
    bouncer: Bouncer | None
    cores_given: bool
    threads: tuple[int, str | None]  # gunicorn threads per worker and where set
    findings: list[Finding] = field(default_factory=list)
    unsized: list[str] = field(default_factory=list)
    total: int = 0

    def app_pool(self, app: AppPool) -> None:
        obj = f"{app.file}:{app.line}"
        per = app.per_process
        if per is not None and app.per_thread:
            per *= self.threads[0]
        if per is None:
            self.unsized.append(f"{obj}: size not known before run time ({app.label()})")
        else:
            total = per * self.workers.count
            self.total += total
            self._size(app, obj, per, total)
        if app.pre_ping is False:
            setting = "CONN_HEALTH_CHECKS" if app.kind == "django" else "pool_pre_ping"
            self.findings.append(make_finding(
                "repo.pool_no_pre_ping", object_type=ObjectType.FILE, obj=obj, location=app.location(),
                message=f"The {app.kind} pool at {obj} hands out reused connections without checking them "
                        f"({setting} is off): a connection the server or a firewall closed fails the next request.",
                evidence={"pool": app.label(), "setting": setting}))
        if app.per_request and self.bouncer is None:
            how = "NullPool" if app.kind == "sqlalchemy" else "CONN_MAX_AGE=0"
            self.findings.append(make_finding(
                "repo.pool_connection_per_request", object_type=ObjectType.FILE, obj=obj, location=app.location(),
                message=f"The {app.kind} configuration at {obj} opens a new server connection for every request "
                        f"({how}) and no PgBouncer is configured in front of the database.",
                evidence={"pool": app.label()}))

    def all_pools(self, pools: list[AppPool]) -> None:
        """Pools that each fit but together do not (a primary and a replica engine, sync and async)."""
        sized = [(p.per_process * self.workers.count * (self.threads[0] if p.per_thread else 1), p)
                 for p in pools if p.per_process is not None]
        if self.server is None or self.bouncer is not None or len(sized) < 2 or self.total <= self.server.usable:
            return
        if any(f.rule_id == "repo.pool_exceeds_server" for f in self.findings):
            return  # one pool alone is already over: that finding says it
        largest = max(sized, key=lambda t: t[0])[1]
        parts = " + ".join(f"{n} ({p.file}:{p.line})" for n, p in sized)
        self.findings.append(make_finding(
            "repo.pool_exceeds_server", object_type=ObjectType.FILE, obj=f"{largest.file}:{largest.line}",
            location=largest.location(),
            evidence={"pools": [p.label() for _, p in sized], "max_application_connections": self.total,
                      "workers": self.workers.count, "usable_connections": self.server.usable,
                      "max_connections": self.server.max_connections},
            message=f"Together the application's pools may open {parts} = {self.total} connections with "
                    f"{self.workers.count} worker(s); the server accepts {self.server.describe()}."))

    def _size(self, app: AppPool, obj: str, per: int, total: int) -> None:
        formula = f"{per} per process x {self.workers.count} worker(s) = {total}"
        if app.per_thread:
            formula = (f"{per} per process (one per thread: {self.threads[1] or '1 thread assumed'}) x "
                       f"{self.workers.count} worker(s) = {total}")
        evidence: dict[str, object] = {
            "pool": app.label(), "per_process": per, "workers": self.workers.count,
            "workers_source": self.workers.describe(), "max_application_connections": total,
            "recommended_pool_size": self.recommended,
        }
        if self.bouncer is not None:
            clients = self.bouncer.number("max_client_conn")
            if total > clients:
                evidence.update({"pgbouncer": self.bouncer.label(), "max_client_conn": clients})
                self.findings.append(make_finding(
                    "repo.pool_exceeds_pgbouncer_clients", object_type=ObjectType.FILE, obj=obj,
                    location=app.location(), evidence=evidence,
                    message=f"The {app.kind} pool at {obj} may open {formula} connections to PgBouncer, which "
                            f"accepts {clients} clients (max_client_conn, {self.bouncer.file})."))
            return
        if self.server is not None and total > self.server.usable:
            evidence.update({"usable_connections": self.server.usable,
                             "max_connections": self.server.max_connections,
                             "reserved_connections": self.server.reserved})
            self.findings.append(make_finding(
                "repo.pool_exceeds_server", object_type=ObjectType.FILE, obj=obj, location=app.location(),
                evidence=evidence,
                message=f"The {app.kind} pool at {obj} may open {formula} connections; the server accepts "
                        f"{self.server.describe()}."))
        elif self.recommended is not None and total > self.recommended:
            self.findings.append(make_finding(
                "repo.pool_above_recommended", object_type=ObjectType.FILE, obj=obj, location=app.location(),
                evidence=evidence, severity=self._above_severity(),
                message=f"The {app.kind} pool at {obj} may open {formula} connections, above the "
                        f"{self.recommended} that cores x 2 + spindles gives{self._cores_note()}."))

    def _above_severity(self) -> Severity:
        return Severity.LOW if self.cores_given else Severity.INFO

    def _cores_note(self) -> str:
        return "" if self.cores_given else " (with an assumed core count: set health.pool.cores to judge it)"

    def pgbouncer(self, bouncer: Bouncer, repo: Repository) -> None:
        pool_line = bouncer.line_of("default_pool_size")
        obj = f"{bouncer.file}:{pool_line}"
        size = bouncer.server_pool
        evidence: dict[str, object] = {
            "pgbouncer": bouncer.label(), "server_pool_per_database_user": size,
            "recommended_pool_size": self.recommended,
            "assumption": "one database/user pair: PgBouncer keeps one pool per pair",
        }
        location = Location(file=bouncer.file, line=pool_line, statement=0)
        if self.server is not None and size > self.server.usable:
            evidence["usable_connections"] = self.server.usable
            self.findings.append(make_finding(
                "repo.pool_exceeds_server", object_type=ObjectType.FILE, obj=obj, location=location,
                evidence=evidence,
                message=f"PgBouncer ({bouncer.file}) may open {size} server connections per database/user pair; "
                        f"the server accepts {self.server.describe()}."))
        elif self.recommended is not None and size > self.recommended:
            self.findings.append(make_finding(
                "repo.pool_above_recommended", object_type=ObjectType.FILE, obj=obj, location=location,
                evidence=evidence, severity=self._above_severity(),
                message=f"PgBouncer ({bouncer.file}) may open {size} server connections per database/user pair, "
                        f"above the {self.recommended} that cores x 2 + spindles gives{self._cores_note()}."))
        if bouncer.mode not in ("transaction", "statement"):
            return
        mode_at = f"{bouncer.file}:{bouncer.line_of('pool_mode')}"
        for use in session_state(repo):
            self.findings.append(make_finding(
                "repo.pool_session_state_in_transaction_mode", object_type=ObjectType.FILE,
                obj=f"{use.file}:{use.line}", location=Location(file=use.file, line=use.line, statement=0),
                evidence={"statement": use.text, "kind": use.what, "pool_mode": bouncer.mode, "pgbouncer": mode_at},
                message=f"{use.file}:{use.line} runs {use.what} ({use.text!r}), session state that PgBouncer's "
                        f"{bouncer.mode} pooling ({mode_at}) hands to whichever client gets the connection next."))
        if bouncer.tracks_prepared_statements():
            return
        for use in driver_prepared_statements(repo):
            switch = "prepare_threshold=None" if use.what == "psycopg 3" else "statement_cache_size=0"
            self.findings.append(make_finding(
                "repo.pool_prepared_statements_in_transaction_mode", object_type=ObjectType.FILE,
                obj=f"{use.file}:{use.line}", location=Location(file=use.file, line=use.line, statement=0),
                evidence={"driver": use.what, "pool_mode": bouncer.mode, "pgbouncer": mode_at,
                          "max_prepared_statements": bouncer.settings.get("max_prepared_statements", "not set")},
                message=f"{use.what} ({use.file}:{use.line}) prepares statements on the server by itself, and "
                        f"PgBouncer's {bouncer.mode} pooling ({mode_at}) does not track them: set {switch} or "
                        "max_prepared_statements in pgbouncer.ini."))


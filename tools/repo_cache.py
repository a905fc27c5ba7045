"""The cache an application uses, read from its repository: which client, which pattern, TTLs and key names.

Python is read with `ast`. A cache client is a redis-py / aioredis / pymemcache / pylibmc /
python-memcached client constructed in the code (or Django's cache with a Redis or Memcached backend);
the names it is bound to are followed across the repository's modules, so `cache.set(...)` in one
module counts when `cache = redis.Redis(...)` is defined in another. Per function:

- get then set on the same key expression is cache-aside; a set after a commit is write-through; a
  delete in a function that writes to the database is invalidation on write;
- a set without an expiry (redis `set` without ex/px/exat/pxat/keepttl, `hset`/`mset` without an
  `expire` of the same key in the same function, memcache `set` without `expire`/`time`, Django
  `timeout=None` or a CACHES entry with TIMEOUT None) is an entry without TTL;
- a literal key or an f-string whose literal head has no `prefix:` is a key without namespace.

Node's ioredis/node-redis clients are read line by line (tools/repo_cache_node.py) for the same two
findings where the call's shape is unambiguous.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from dbsage.tools.checklist_model import ItemStatus, Verdict, unknown
from dbsage.tools.checklist_repo import Repository
from dbsage.tools.findings import Finding, Location, ObjectType, Severity
from dbsage.tools.repo_cache_node import NodeCall, node_clients
from dbsage.tools.repo_python import PythonFile, called, dotted, functions, own_calls, python_files, string_head
from dbsage.tools.rules.registry import make_finding

_CACHE_MODULES = {"redis", "aioredis", "pymemcache", "pylibmc", "memcache", "bmemcached", "aiomcache", "coredis",
                  "django_redis"}
_CONSTRUCTORS = {"Redis", "StrictRedis", "from_url", "Client", "HashClient", "PooledClient", "RetryingClient",
                 "RedisCluster"}
_GETS = {"get", "hget", "hgetall", "hmget", "mget", "get_many", "get_multi", "exists"}
_SETS = {"set", "setex", "psetex", "setnx", "mset", "msetnx", "hset", "hmset", "hsetnx", "add", "set_many",
         "set_multi"}
_DELETES = {"delete", "unlink", "hdel", "delete_many", "delete_multi"}
_COUNTERS = {"incr", "incrby", "decr", "decrby", "hincrby"}
_EXPIRES = {"expire", "pexpire", "expireat", "pexpireat", "touch"}
_TTL_KEYWORDS = {"ex", "px", "exat", "pxat", "keepttl", "expire", "time", "timeout", "ttl"}
_ALWAYS_TTL = {"setex", "psetex"}
_NEEDS_EXPIRE = {"hset", "hmset", "hsetnx", "mset", "msetnx", "setnx", "set_many", "set_multi"}
_DB_WRITES = {"commit", "save", "flush", "bulk_create", "bulk_update"}  # the transaction is written
# The words without which a file can neither make a cache client nor configure Django's cache.
_WANTS_CACHE = re.compile(r"redis|memcache|pylibmc|aiomcache|CACHES|django\.core\.cache")
_VERSIONED = re.compile(r"(^|:)v\d+(:|$)", re.IGNORECASE)
_DJANGO_BACKEND = re.compile(r"(redis|memcache|pymemcache|pylibmc)", re.IGNORECASE)
# Evidence of a cache outside the Python code: dependencies, URLs, containers, Node clients.
_CACHE_MENTION = re.compile(
    r"rediss?://|memcached://|\bioredis\b|require\(['\"]redis['\"]\)|from\s+['\"]redis['\"]|image:\s*\S*(redis|"
    r"memcached|valkey)|^\s*(redis|pymemcache|pylibmc|python-memcached|django-redis|aioredis)\s*([>=<~!\[;]|$)"
    r"|[\"'](redis|ioredis|memcached)[\"']\s*:", re.IGNORECASE | re.MULTILINE)
_MENTION_SUFFIXES = {".txt", ".toml", ".cfg", ".json", ".yml", ".yaml", ".env", ".js", ".ts", ".mjs", ".ini", ""}


@dataclass
class CacheCall:
    file: str
    line: int
    method: str
    key: ast.expr | None
    call: ast.Call
    kind: str  # redis, memcache, django

    @property
    def key_text(self) -> str:
        return ast.unparse(self.key) if self.key is not None else ""

    def label(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class CacheUse:
    """What the repository shows about its cache."""

    clients: list[str] = field(default_factory=list)  # "file:line kind"
    calls: list[CacheCall] = field(default_factory=list)
    patterns: dict[str, list[str]] = field(default_factory=dict)  # pattern -> ["file:line", ...]
    findings: list[Finding] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # dependencies, URLs, containers: "file:line"
    node_calls: list[NodeCall] = field(default_factory=list)


# ------------------------------------------------------------------------------------ clients


def _cache_imports(py: PythonFile) -> tuple[dict[str, str], dict[str, str]]:
    """Module aliases of cache libraries and names imported from them, each with its kind."""
    modules: dict[str, str] = {}
    names: dict[str, str] = {}
    if not _CACHE_MODULES & py.imports:
        return modules, names
    for node in py.nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                root = alias.name.split(".")[0]
                if root in _CACHE_MODULES:
                    modules[alias.asname or root] = _kind(root)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            root = node.module.split(".")[0]
            if root in _CACHE_MODULES:
                for alias in node.names:
                    names[alias.asname or alias.name] = _kind(root)
    return modules, names


def _kind(module: str) -> str:
    return "redis" if "redis" in module else "memcache"


def _constructor_kind(call: ast.Call, modules: dict[str, str], names: dict[str, str]) -> str | None:
    path = dotted(call.func)
    if not path:
        return None
    parts = path.split(".")
    if parts[0] in names and (len(parts) == 1 or parts[-1] in _CONSTRUCTORS):
        return names[parts[0]]
    if parts[0] in modules and parts[-1] in _CONSTRUCTORS:
        return modules[parts[0]]
    return None


def _bound_name(target: ast.expr) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr  # self.redis -> redis
    return None


def _find_clients(files: list[PythonFile]) -> tuple[dict[str, str], list[str]]:
    """The names cache clients are bound to (with their kind), and where each client is made."""
    bound: dict[str, str] = {}
    made: list[str] = []
    for py in files:
        modules, names = _cache_imports(py)
        if not modules and not names and "django" not in py.imports:
            continue
        for node in py.nodes:
            value: ast.expr | None = None
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                value, targets = node.value, node.targets
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                value, targets = node.value, [node.target]
            else:
                continue
            while isinstance(value, ast.Await):
                value = value.value
            if not isinstance(value, ast.Call):
                continue
            kind = _constructor_kind(value, modules, names)
            if kind is None:
                continue
            made.append(f"{py.rel}:{node.lineno} {kind}")
            for target in targets:
                name = _bound_name(target)
                if name:
                    bound[name] = kind
        if "django.core.cache" in py.imports:
            for node in py.nodes:
                if isinstance(node, ast.ImportFrom) and node.module == "django.core.cache":
                    for alias in node.names:
                        if alias.name in ("cache", "caches"):
                            bound.setdefault(alias.asname or alias.name, "django")
    return bound, made


def _receiver(call: ast.Call, bound: dict[str, str]) -> str | None:
    """The kind of cache client a method call is made on, if it is one."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    target = func.value
    if isinstance(target, ast.Subscript):  # caches["default"].get(...)
        target = target.value
    name = _bound_name(target)
    return bound.get(name) if name else None


def _calls(files: list[PythonFile], bound: dict[str, str]) -> dict[str, list[tuple[ast.AST, list[CacheCall]]]]:
    """Cache calls per file, grouped by the function they are in."""
    per_file: dict[str, list[tuple[ast.AST, list[CacheCall]]]] = {}
    for py in files:
        modules, names = _cache_imports(py)
        if not (modules or names or _imports_client(py, bound)):
            continue
        pipelines = dict(bound)
        for node in py.nodes:  # pipe = r.pipeline(); with r.pipeline() as pipe
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and called(node.value) == "pipeline":
                kind = _receiver(node.value, bound)
                for target in node.targets:
                    if kind and (name := _bound_name(target)):
                        pipelines[name] = kind
            elif isinstance(node, ast.withitem) and isinstance(node.context_expr, ast.Call) \
                    and called(node.context_expr) == "pipeline" and node.optional_vars is not None:
                kind = _receiver(node.context_expr, bound)
                name = _bound_name(node.optional_vars)
                if kind and name:
                    pipelines[name] = kind
        scopes: list[tuple[ast.AST, list[CacheCall]]] = []
        for scope in functions(py):
            found = []
            for call in own_calls(scope):
                kind = _receiver(call, pipelines)
                method = called(call)
                if kind and method in _GETS | _SETS | _DELETES | _EXPIRES | _COUNTERS:
                    key = call.args[0] if call.args else None
                    found.append(CacheCall(py.rel, call.lineno, method, key, call, kind))
            if found:
                scopes.append((scope, found))
        per_file[py.rel] = scopes
    return per_file


def _imports_client(py: PythonFile, bound: dict[str, str]) -> bool:
    """True when the file imports a name that is a cache client elsewhere (from app.cache import redis_client)."""
    return any(isinstance(node, ast.ImportFrom) and any(a.name in bound for a in node.names)
               for node in py.nodes)


# ------------------------------------------------------------------------------------ judgement


def _has_ttl(call: CacheCall) -> bool | None:
    """True/False when the call sets an expiry or not; None for calls that never set one by themselves."""
    if call.method in _ALWAYS_TTL:
        return True
    if call.method in _NEEDS_EXPIRE:
        return False
    if call.method not in ("set", "add"):
        return None
    for k in call.call.keywords:
        if k.arg in _TTL_KEYWORDS:
            return not (isinstance(k.value, ast.Constant) and k.value.value in (None, 0, False))
        if k.arg is None:
            return True  # **options may carry it: do not accuse
    if len(call.call.args) >= 3:
        third = call.call.args[2]
        return not (isinstance(third, ast.Constant) and third.value in (None, 0, False))
    return call.kind == "django"  # Django applies the backend's default TIMEOUT (300 s unless configured)


def _namespace(key: ast.expr | None) -> tuple[bool | None, bool]:
    """(namespaced, versioned) for a key expression; namespaced None when the key is not written out."""
    if key is None:
        return None, False
    head = string_head(key)
    if head is None:
        return None, False
    text, _whole = head
    template = ast.unparse(key)
    prefix, sep, _ = text.partition(":")
    return bool(sep and prefix.strip()), bool(_VERSIONED.search(text) or re.search(r":v\d+", template))


def analyse(repo: Repository) -> CacheUse:
    """Clients, patterns and findings of the repository's cache use."""
    files = python_files(repo, _WANTS_CACHE)
    bound, made = _find_clients(files)
    use = CacheUse(clients=made)
    django_settings = _django_caches(files, use)
    prefixed = any(s.get("KEY_PREFIX") for s in django_settings)
    users = files
    if bound:  # modules that import a client made elsewhere
        users = python_files(repo, re.compile(_WANTS_CACHE.pattern + "|" + "|".join(
            rf"\b{re.escape(name)}\b" for name in sorted(bound))))
    for rel, scopes in _calls(users, bound).items():
        flagged_keys: set[str] = set()
        for scope, calls in scopes:
            use.calls.extend(calls)
            writes = [c.lineno for c in own_calls(scope) if called(c) in _DB_WRITES and _receiver(c, bound) is None]
            _patterns(calls, writes, use)
            expired = {c.key_text for c in calls if c.method in _EXPIRES}
            for call in calls:
                if _has_ttl(call) is False and call.key_text not in expired:
                    use.findings.append(_no_ttl(call))
                namespaced, _ = _namespace(call.key)
                if namespaced is False and call.key_text not in flagged_keys and not (
                        call.kind == "django" and prefixed):
                    flagged_keys.add(call.key_text)
                    use.findings.append(make_finding(
                        "repo.cache_key_unnamespaced", object_type=ObjectType.FILE, obj=f"{rel}:{call.line}",
                        location=Location(file=rel, line=call.line, statement=0),
                        evidence={"key": call.key_text, "method": call.method},
                        message=f"Cache key {call.key_text} ({rel}:{call.line}) has no namespace prefix such as "
                                "'user:'; keys of different kinds can collide and cannot be invalidated as a group."))
    _node(repo, use)
    use.mentions = [h.label() for h in repo.grep(_CACHE_MENTION, [
        p for p in repo.files if p.suffix.lower() in _MENTION_SUFFIXES or p.name.startswith("Dockerfile")])]
    return use


def _node(repo: Repository, use: CacheUse) -> None:
    made, calls = node_clients(repo)
    use.clients.extend(made)
    use.node_calls = calls
    flagged: set[tuple[str, str]] = set()
    for call in calls:
        where = Location(file=call.file, line=call.line, statement=0)
        if call.without_ttl:
            use.findings.append(make_finding(
                "repo.cache_no_ttl", object_type=ObjectType.FILE, obj=f"{call.file}:{call.line}", location=where,
                evidence={"method": call.method, "key": call.key, "client": "node-redis",
                          "why": "set(key, value) with no EX/PX argument or options"},
                message=f"{call.file}:{call.line} writes cache key {call.key} with set() and no TTL (no EX/PX "
                        "argument or options): the entry stays until evicted, stale after the row changes."))
        if call.namespaced is False and (call.file, call.key) not in flagged:
            flagged.add((call.file, call.key))
            use.findings.append(make_finding(
                "repo.cache_key_unnamespaced", object_type=ObjectType.FILE, obj=f"{call.file}:{call.line}",
                location=where, evidence={"key": call.key, "method": call.method},
                message=f"Cache key {call.key} ({call.file}:{call.line}) has no namespace prefix such as 'user:'; "
                        "keys of different kinds can collide and cannot be invalidated as a group."))


def _no_ttl(call: CacheCall) -> Finding:
    how = {"redis": "no ex/px/exat/keepttl and no expire() of the key in the same function",
           "memcache": "no expire/time argument", "django": "timeout=None"}[call.kind]
    if call.method in _NEEDS_EXPIRE:
        how = f"{call.method} never sets an expiry and no expire() of the key follows in the same function"
    return make_finding(
        "repo.cache_no_ttl", object_type=ObjectType.FILE, obj=f"{call.file}:{call.line}",
        location=Location(file=call.file, line=call.line, statement=0),
        evidence={"method": call.method, "key": call.key_text, "client": call.kind, "why": how},
        message=f"{call.file}:{call.line} writes cache key {call.key_text or '(unknown)'} with {call.method}() and "
                f"no TTL ({how}): the entry stays until evicted, stale after the row changes.")


def _patterns(calls: list[CacheCall], writes: list[int], use: CacheUse) -> None:
    def note(pattern: str, call: CacheCall) -> None:
        use.patterns.setdefault(pattern, []).append(call.label())

    for i, call in enumerate(calls):
        before = calls[:i]
        if call.method in _SETS:
            if any(b.method in _GETS and b.key_text == call.key_text for b in before):
                note("cache-aside", call)
            elif any(line < call.line for line in writes):
                note("write-through", call)
        elif call.method in _DELETES and writes:
            note("invalidation on write", call)


def _django_caches(files: list[PythonFile], use: CacheUse) -> list[dict[str, object]]:
    """Django CACHES entries with a Redis or Memcached backend; TIMEOUT None is an entry without TTL."""
    entries: list[dict[str, object]] = []
    for py in files:
        for node in py.nodes:
            if not (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "CACHES"
                                                         for t in node.targets) and isinstance(node.value, ast.Dict)):
                continue
            for entry in node.value.values:
                if not isinstance(entry, ast.Dict):
                    continue
                values = {k.value: (v, k.lineno) for k, v in zip(entry.keys, entry.values, strict=True)
                          if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                backend = values.get("BACKEND")
                if backend is None or not isinstance(backend[0], ast.Constant) or \
                        not _DJANGO_BACKEND.search(str(backend[0].value)):
                    continue
                use.clients.append(f"{py.rel}:{backend[1]} django {backend[0].value!s}")
                entries.append({"KEY_PREFIX": "KEY_PREFIX" in values})
                timeout = values.get("TIMEOUT")
                if timeout is not None and isinstance(timeout[0], ast.Constant) and timeout[0].value is None:
                    use.findings.append(make_finding(
                        "repo.cache_no_ttl", object_type=ObjectType.FILE, obj=f"{py.rel}:{timeout[1]}",
                        location=Location(file=py.rel, line=timeout[1], statement=0),
                        evidence={"setting": "TIMEOUT", "value": None, "client": "django"},
                        message=f"The Django cache at {py.rel}:{timeout[1]} sets TIMEOUT None: every entry "
                                "written without its own timeout never expires."))
    return entries


def cache_layer(repo: Repository | None) -> Verdict:
    """The performance.cache_layer verdict: the client, its patterns, and the entries without TTL or namespace."""
    if repo is None:
        return unknown("a cache layer shows in the application's code and dependencies: give --paths")
    use = analyse(repo)
    evidence: dict[str, object] = {"cache_clients": use.clients[:10], "cache_mentions": use.mentions[:5]}
    if not use.clients:
        if use.mentions:
            return Verdict(ItemStatus.PASS, evidence, f"cache named at {use.mentions[0]} (no Python client found, so "
                           "its TTLs and keys were not checked)")
        return Verdict(ItemStatus.WARN, evidence, "no Redis or Memcached client found in the paths")
    keys = [_namespace(c.key) for c in use.calls if c.key is not None]
    keys += [(c.namespaced, bool(_VERSIONED.search(c.key.strip("'\"`")))) for c in use.node_calls]
    judged = [k for k in keys if k[0] is not None]
    evidence = {
        "cache_clients": use.clients[:10],
        "patterns": [f"{p} {', '.join(where[:3])}" for p, where in sorted(use.patterns.items())],
        "writes_without_ttl": sum(1 for f in use.findings if f.rule_id == "repo.cache_no_ttl"),
        "keys_judged": len(judged),
        "keys_namespaced": sum(1 for k in judged if k[0]),
        "keys_versioned": sum(1 for k in judged if k[1]),
        "cache_calls": len(use.calls) + len(use.node_calls),
        "cache_mentions": use.mentions[:5],
    }
    if not use.patterns:
        evidence["patterns"] = ["none recognised (no get-then-set, set after commit or delete on write)"]
    findings = use.findings
    if any(f.severity.at_least(Severity.HIGH) for f in findings):
        status = ItemStatus.FAIL
    elif findings:
        status = ItemStatus.WARN
    else:
        status = ItemStatus.PASS
    reason = (f"cache client at {use.clients[0]}" if status is ItemStatus.PASS
              else f"{len(findings)} problem(s) in the cache use")
    return Verdict(status, evidence, reason, findings)

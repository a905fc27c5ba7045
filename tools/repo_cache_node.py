"""Node's Redis clients (ioredis, node-redis) in JavaScript/TypeScript: writes without TTL, keys without namespace.

No JavaScript parser is at hand, so this reads line by line and only where the shape is unambiguous:
a client bound by `const x = new Redis(...)` / `createClient(...)` in the same file, and `x.set(...)`
calls whose arguments close on the same line. Two arguments is a write without expiry (ioredis takes
"EX", seconds and node-redis an options object as further arguments); a literal or template key whose
text before the first `${` has no `prefix:` is a key without namespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbsage.tools.checklist_repo import Repository

_SUFFIXES = {".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"}
_MENTIONS = re.compile(r"ioredis|['\"]redis['\"]|@redis/client")
_CLIENT = re.compile(
    r"\b(?:const|let|var)\s+(?P<name>\w+)\s*(?::\s*[\w.<>]+\s*)?=\s*(?:await\s+)?"
    r"(?:new\s+(?:Redis|IORedis|Cluster|Redis\.Cluster)\s*\(|(?:\w+\.)?createClient\s*\()")
_KEYED = {"set", "get", "hset", "hget", "del", "setex", "incr"}


@dataclass(frozen=True)
class NodeCall:
    file: str
    line: int
    method: str
    key: str  # the first argument as written
    args: int
    client_line: int

    @property
    def without_ttl(self) -> bool:
        return self.method == "set" and self.args == 2

    @property
    def namespaced(self) -> bool | None:
        """Whether a literal key starts with `prefix:`; None when the key is not a literal."""
        key = self.key.strip()
        if len(key) < 2 or key[0] not in "'\"`" or key[-1] != key[0]:
            return None
        head = key[1:-1].split("${", 1)[0] if key[0] == "`" else key[1:-1]
        prefix, sep, _ = head.partition(":")
        return bool(sep and prefix.strip())


def node_clients(repo: Repository) -> tuple[list[str], list[NodeCall]]:
    """Where Node Redis clients are made ("file:line node-redis"), and the keyed calls made on them."""
    made: list[str] = []
    calls: list[NodeCall] = []
    for path in repo.files:
        if path.suffix.lower() not in _SUFFIXES:
            continue
        text = repo.text(path)
        if not text or not _MENTIONS.search(text):
            continue
        rel = repo.rel(path)
        lines = text.splitlines()
        clients: dict[str, int] = {}
        for number, line in enumerate(lines, 1):
            m = _CLIENT.search(line)
            if m:
                clients[m.group("name")] = number
                made.append(f"{rel}:{number} node-redis")
        if not clients:
            continue
        call = re.compile(r"\b(?P<client>" + "|".join(map(re.escape, clients)) + r")\.(?P<method>\w+)\s*\(")
        for number, line in enumerate(lines, 1):
            for m in call.finditer(line):
                method = m.group("method").lower()
                if method not in _KEYED:
                    continue
                args = _arguments(line, m.end())
                if args is None or not args:
                    continue
                calls.append(NodeCall(rel, number, method, args[0], len(args), clients[m.group("client")]))
    return made, calls


def _arguments(line: str, start: int) -> list[str] | None:
    """The top-level arguments of a call whose `(` ends at `start`, or None if it does not close on this line."""
    depth, quote, current = 0, "", ""
    args: list[str] = []
    for ch in line[start:]:
        if quote:
            current += ch
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                if current.strip():
                    args.append(current.strip())
                return args
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
            continue
        current += ch
    return None

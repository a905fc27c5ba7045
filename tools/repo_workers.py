"""How many processes of the application run at once, as its repository says.

Each worker process holds its own connection pool, so the connections an application can open are the
pool's maximum times the workers. The count comes from a gunicorn configuration file (`workers = N`),
a command line (`gunicorn -w N`, `--workers N`, `uvicorn --workers N`, `GUNICORN_CMD_ARGS`), a
`uvicorn.run(..., workers=N)` call, or WEB_CONCURRENCY (which gunicorn and uvicorn read as their
default). Several sources: the largest counts. None: one worker, stated as an assumption, which makes
every judgement built on it a lower bound. Gunicorn's threads per worker are read the same way: they
share a process's pool but each holds its own Django connection.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from dbsage.tools.checklist_repo import Repository
from dbsage.tools.repo_python import Value, called, keyword, python_files, resolve

_COMMAND_FILES = {".sh", ".bash", ".yml", ".yaml", ".toml", ".ini", ".cfg", ".conf", ".service", ".json", ".env",
                  ".txt", ""}
_COMMAND_NAMES = {"Procfile", "Dockerfile", "Makefile"}
# A server command and its worker option, on one line: `gunicorn app:app -w 8`, `uvicorn main:app --workers=4`.
_WORKER_OPTION = re.compile(
    r"\b(?P<server>gunicorn\w*|uvicorn|hypercorn)\b[^\n]*?(?:\s-w\s*|\s--workers(?:=|\s+))(?P<value>[^\s'\",]+)",
    re.IGNORECASE)
_WEB_CONCURRENCY = re.compile(r"\bWEB_CONCURRENCY\b[\"']?\s*[=:]\s*[\"']?(?P<value>[^\s'\",]+)")
_WANTS_WORKERS = re.compile(r"\bworkers\b")
_SHELL_DEFAULT = re.compile(r"^\$\{(?P<env>\w+):?-(?P<value>\d+)\}$")


@dataclass
class WorkerCount:
    count: int
    assumed: bool
    sources: list[str] = field(default_factory=list)  # "file:line what", the counts that were read
    unresolved: list[str] = field(default_factory=list)  # counts only known at run time

    def describe(self) -> str:
        if self.assumed:
            detail = f"; not known before run time: {'; '.join(self.unresolved[:3])}" if self.unresolved else ""
            return ("assumption: 1 worker process (no gunicorn/uvicorn worker count or WEB_CONCURRENCY in the "
                    f"paths){detail}; connection totals are a lower bound")
        return f"{self.count} worker processes ({self.sources[0]})"


def worker_count(repo: Repository) -> WorkerCount:
    """The largest worker count the repository sets, or 1 stated as an assumption."""
    found: list[tuple[int, str]] = []
    unresolved: list[str] = []
    for py in python_files(repo, _WANTS_WORKERS):
        if py.path.name.startswith("gunicorn"):
            for statement in py.tree.body:
                if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                        and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == "workers"):
                    _note(resolve(statement.value, py.constants), f"{py.rel}:{statement.lineno}", found, unresolved)
        if "uvicorn" not in py.imports:
            continue
        for node in py.nodes:
            if isinstance(node, ast.Call) and called(node) == "run":
                workers = keyword(node, "workers")
                if workers is not None:
                    _note(resolve(workers, py.constants), f"{py.rel}:{node.lineno}", found, unresolved)
    for path in repo.files:
        if path.suffix.lower() not in _COMMAND_FILES and path.name not in _COMMAND_NAMES:
            continue
        text = repo.text(path)
        if not text or ("workers" not in text.lower() and "-w" not in text and "WEB_CONCURRENCY" not in text):
            continue
        rel = repo.rel(path)
        for number, line in enumerate(text.splitlines(), 1):
            for pattern in (_WORKER_OPTION, _WEB_CONCURRENCY):
                m = pattern.search(line)
                if m:
                    _note_text(m.group("value"), f"{rel}:{number}", found, unresolved)
    if not found:
        return WorkerCount(1, True, [], unresolved)
    count, where = max(found, key=lambda t: t[0])
    others = [f"{w} workers={c}" for c, w in found if w != where]
    return WorkerCount(count, False, [f"{where} workers={count}", *others][:10], unresolved)


_THREAD_OPTION = re.compile(r"\b(?:gunicorn\w*)\b[^\n]*?\s--threads(?:=|\s+)(?P<value>\d+)", re.IGNORECASE)


def thread_count(repo: Repository) -> tuple[int, str | None]:
    """Gunicorn's threads per worker (`threads = N`, `--threads N`) and where it is set; (1, None) when unset.

    Threads share a process's SQLAlchemy pool but each holds its own Django connection."""
    found: list[tuple[int, str]] = []
    for py in python_files(repo, re.compile(r"\bthreads\b")):
        if py.path.name.startswith("gunicorn"):
            for statement in py.tree.body:
                if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                        and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == "threads"):
                    value = resolve(statement.value, py.constants)
                    if value.known and isinstance(value.value, int) and value.value > 0:
                        found.append((value.value, f"{py.rel}:{statement.lineno}"))
    for path in repo.files:
        if path.suffix.lower() not in _COMMAND_FILES and path.name not in _COMMAND_NAMES:
            continue
        text = repo.text(path)
        if not text or "--threads" not in text:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            m = _THREAD_OPTION.search(line)
            if m:
                found.append((int(m.group("value")), f"{repo.rel(path)}:{number}"))
    if not found:
        return 1, None
    count, where = max(found, key=lambda t: t[0])
    return count, f"{where} threads={count}"


def _note(value: Value, where: str, found: list[tuple[int, str]], unresolved: list[str]) -> None:
    if value.known and isinstance(value.value, int) and not isinstance(value.value, bool) and value.value > 0:
        found.append((value.value, where))
    else:
        unresolved.append(f"{where} workers = {value.text}")


def _note_text(raw: str, where: str, found: list[tuple[int, str]], unresolved: list[str]) -> None:
    raw = raw.strip().rstrip(";")
    if raw.isdigit() and int(raw) > 0:
        found.append((int(raw), where))
        return
    shell = _SHELL_DEFAULT.match(raw)
    if shell:
        found.append((int(shell.group("value")), f"{where} (default of ${shell.group('env')})"))
        return
    unresolved.append(f"{where} workers = {raw}")

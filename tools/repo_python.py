"""Reading an application's Python with `ast`: which names a call uses, what value an argument holds.

The repository deciders (pools, caches) ask the same small questions of Python source: the dotted name
of a called function, a keyword argument, whether an expression is a literal, a module constant or an
environment variable with a default. Values that only exist at run time stay unresolved, with their
source text, so a judgement can say what it did not know instead of guessing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dbsage.tools.checklist_repo import Repository

_MISSING = object()


@dataclass(frozen=True)
class PythonFile:
    path: Path
    rel: str
    tree: ast.Module
    nodes: tuple[ast.AST, ...]  # every node, walked once: the deciders scan this instead of walking again
    constants: dict[str, object]  # module-level NAME = <literal>
    imports: frozenset[str]  # every imported module, dotted and by each prefix ("redis.asyncio", "redis")


@dataclass(frozen=True)
class Value:
    """An argument as the code writes it: the value when it can be known before run time."""

    value: object  # None when unresolved (or a literal None: see `known`)
    text: str  # the source expression
    known: bool
    env: str | None = None  # the environment variable that overrides it, when the code reads one

    def describe(self) -> str:
        if not self.known:
            return f"{self.text} (not known before run time)"
        if self.env:
            return f"{self.value!r} (default of environment variable {self.env})"
        return repr(self.value)


# Code that does not run in the serving processes: an engine in a test, a migration environment or a
# one-off script is not a pool multiplied by the workers, and a test's cache writes are not production's.
_NOT_SERVING_FOLDERS = {"tests", "test", "testing", "alembic", "migrations", "docs", "examples", "scripts",
                        "benchmarks"}


def serving_code(rel: str) -> bool:
    """False for tests, migrations, docs, examples and scripts (by folder or file name)."""
    parts = Path(rel).parts
    name = parts[-1] if parts else rel
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return False
    return not any(part.lower() in _NOT_SERVING_FOLDERS for part in parts[:-1])


def python_files(repo: Repository, wanted: re.Pattern[str] | None = None) -> list[PythonFile]:
    """The application's readable .py files whose text matches `wanted` (all when None), parsed.

    Parsing is the expensive part (seconds for a large code base), so a decider names the words its
    constructs cannot do without and only those files are parsed; each file is parsed once per
    repository whichever decider asks first. Files with syntax errors, and files that do not run in
    the serving processes (serving_code), are skipped.
    """
    out: list[PythonFile] = []
    for path in repo.files:
        if path.suffix != ".py" or not serving_code(repo.rel(path)):
            continue
        text = repo.text(path)
        if text is None or (wanted is not None and not wanted.search(text)):
            continue
        key = f"python:{path}"
        if key not in repo.parsed:
            repo.parsed[key] = _parse(repo, path, text)
        parsed = repo.parsed[key]
        if isinstance(parsed, PythonFile):
            out.append(parsed)
    return out


def _parse(repo: Repository, path: Path, text: str) -> PythonFile | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    nodes = tuple(ast.walk(tree))
    return PythonFile(path, repo.rel(path), tree, nodes, _module_constants(tree), _imports(nodes))


def _module_constants(tree: ast.Module) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = literal(node.value)
            if value is not _MISSING:
                found[node.targets[0].id] = value
    return found


def _imports(nodes: tuple[ast.AST, ...]) -> frozenset[str]:
    names: set[str] = set()
    for node in nodes:
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for module in modules:
            parts = module.split(".")
            names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return frozenset(names)


def literal(node: ast.expr) -> object:
    """The literal value of `node`, or the _MISSING sentinel when it is not a literal."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _MISSING


def is_literal(value: object) -> bool:
    return value is not _MISSING


def dotted(node: ast.expr) -> str:
    """`a.b.c` for a chain of names and attributes, '' for anything else (a call, a subscript)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def called(call: ast.Call) -> str:
    """The last name of what `call` calls: `create_engine` for `sqlalchemy.create_engine(...)`."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def has_star_kwargs(call: ast.Call) -> bool:
    return any(k.arg is None for k in call.keywords)


def resolve(node: ast.expr, constants: dict[str, object]) -> Value:
    """What `node` holds: a literal, a module constant, or an environment variable's default."""
    text = ast.unparse(node)
    value = literal(node)
    if value is not _MISSING:
        return Value(value, text, True)
    if isinstance(node, ast.Name) and node.id in constants:
        return Value(constants[node.id], text, True)
    if isinstance(node, ast.Call):
        if called(node) in ("int", "float", "bool") and len(node.args) == 1:
            inner = resolve(node.args[0], constants)
            return _cast(called(node), inner, text)
        env = _environment_default(node, constants)
        if env is not None:
            return env
    return Value(None, text, False)


def _cast(kind: str, inner: Value, text: str) -> Value:
    if not inner.known:
        return Value(None, text, False, inner.env)
    try:
        if kind == "bool":
            raw = inner.value
            cast: object = raw.strip().lower() in ("1", "true", "yes", "on") if isinstance(raw, str) else bool(raw)
        elif kind == "int":
            cast = int(inner.value)  # type: ignore[call-overload]
        else:
            cast = float(inner.value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return Value(None, text, False, inner.env)
    return Value(cast, text, True, inner.env)


def _environment_default(call: ast.Call, constants: dict[str, object]) -> Value | None:
    """os.environ.get("N", d), os.getenv("N", d), config("N", default=d) and alike: d, marked as overridable."""
    if not call.args or not isinstance(call.args[0], ast.Constant) or not isinstance(call.args[0].value, str):
        return None
    name = call.args[0].value
    if not name.replace("_", "").isalnum() or name.upper() != name:
        return None
    default = call.args[1] if len(call.args) > 1 else keyword(call, "default")
    text = ast.unparse(call)
    if default is None:
        return Value(None, text, False, name)
    inner = resolve(default, constants)
    cast = keyword(call, "cast")
    if inner.known and isinstance(cast, ast.Name) and cast.id in ("int", "float", "bool"):
        inner = _cast(cast.id, inner, text)
    return Value(inner.value, text, inner.known, name)


def string_head(node: ast.expr) -> tuple[str, bool] | None:
    """The text a string expression starts with, and whether that is all of it.

    "user:1" -> ("user:1", True); f"user:{uid}" -> ("user:", False); "a" + x -> ("a", False); a name -> None.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, True
    if isinstance(node, ast.JoinedStr):
        head = ""
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                head += part.value
            else:
                return head, False
        return head, True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        left = string_head(node.left)
        if left is not None:
            return left[0], False
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str)):
        return node.func.value.value.split("{", 1)[0], False
    return None


def functions(py: PythonFile) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef | ast.Module]:
    """Every function body of the module, and the module itself for top-level code."""
    yield py.tree
    for node in py.nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def own_calls(scope: ast.AST) -> list[ast.Call]:
    """The calls inside `scope` in source order, not descending into nested functions or classes."""
    calls: list[ast.Call] = []
    stack: list[ast.AST] = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(node, ast.Call):
            calls.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return sorted(calls, key=lambda c: (c.lineno, c.col_offset))

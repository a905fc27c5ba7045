"""Render a migration plan as files: plain up/down SQL, an Alembic revision, or Flyway versioned scripts.

The files come from Jinja2 templates in dbsage.knowledge.templates. Every step becomes one block:
- transactional steps run in their own transaction (BEGIN/COMMIT; START TRANSACTION on MySQL),
- non-transactional steps (CREATE INDEX CONCURRENTLY, ...) run bare,
- batches (repeat="until_no_rows") loop until a batch changes no row, committing each batch: a DO block on
  PostgreSQL (COMMIT inside DO needs PostgreSQL 11+ and no surrounding transaction, so it runs bare), a
  temporary stored procedure on MySQL/MariaDB (created between DELIMITER lines, called, dropped), a Python
  loop on the cursor's rowcount in Alembic.
Alembic would run the whole upgrade in one transaction and hold every step's locks to the end, so each
transactional step ends with a commit there (an empty autocommit block; COMMIT/BEGIN in --sql output).
The down migration is the steps' rollback SQL in reverse order; an irreversible step is written as a
comment saying so (Alembic: a comment, the downgrade does not pretend to restore it).

Flyway runs each versioned file in one transaction unless the file holds statements that cannot run in one
(it then needs `executeInTransaction=false` in the file's script config `<file>.conf`, and Flyway refuses
to mix both kinds in one file). The plan is therefore cut into files by transaction kind: each
transactional step alone (so no step's locks outlive it), runs of non-transactional steps of one phase
together, each non-transactional file with its `.conf` (PostgreSQL; MySQL commits every DDL anyway).
Undo files (`U<version>__`) need Flyway Teams/Enterprise; they hold the rollback of their versioned file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import jinja2

from dbsage.tools import __version__
from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import InputError
from dbsage.tools.migration_model import MigrationReport, Step
from dbsage.tools.sources.ddl_script import split_statements

RenderKind = Literal["sql", "alembic", "flyway"]
Mode = Literal["transaction", "bare", "loop", "irreversible", "nothing"]

# statements PostgreSQL refuses inside a transaction block
_NO_TRANSACTION = re.compile(
    r"\bCONCURRENTLY\b|^\s*VACUUM\b|^\s*(CREATE|DROP)\s+DATABASE\b|^\s*(CREATE|DROP)\s+TABLESPACE\b"
    r"|^\s*ALTER\s+SYSTEM\b|^\s*REINDEX\b.*\bCONCURRENTLY\b",
    re.IGNORECASE | re.MULTILINE,
)
_SETTING = re.compile(r"^\s*SET\s", re.IGNORECASE)
_DBSAGE_COMMENT = re.compile(r"^\s*--\s*dbsage:", re.IGNORECASE)
_STATEMENT_TIMEOUT = re.compile(r"^\s*SET\s+(SESSION\s+|LOCAL\s+)?statement_timeout\b", re.IGNORECASE)
_VERSION = re.compile(r"^\d+([._]\d+)*$")


@dataclass
class Block:
    """One step as the templates write it."""

    number: int
    phase: str
    description: str
    mode: Mode
    lock: str | None = None
    setup: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    # what runs before a loop written in SQL; comments allowed (a DO block needs statement_timeout off)
    sql_setup: list[str] = field(default_factory=list)

    @property
    def routine(self) -> str:
        return f"dbsage_batch_{self.number}"


@dataclass
class FlywayFile:
    """A run of consecutive steps that Flyway applies (and undoes) as one versioned file."""

    version: str
    name: str
    phase: str
    transactional: bool
    up: list[Block]
    down: list[Block]


def render_plan(
    report: MigrationReport,
    kind: RenderKind,
    out_dir: Path,
    *,
    name: str,
    version: str | None = None,
    down_revision: str | None = None,
) -> list[Path]:
    """Write the plan of `report` into `out_dir` as `kind` files; the paths written, in apply order.

    sql: `<name>.up.sql` and `<name>.down.sql`. alembic: `<rev>_<name>.py` (revises `down_revision`).
    flyway: `V<version>_<n>__<name>_<phase>.sql` per run of steps, their `.conf` when non-transactional,
    and `U<version>_<n>__...sql` undo files; `version` defaults to the current UTC time (YYYYMMDDHHMMSS).
    """
    if report.dialect is Dialect.SQLITE:
        raise InputError("Plans render for PostgreSQL and MySQL/MariaDB only.")
    slug = _slug(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    context: dict[str, object] = {
        "dialect": "postgres" if report.dialect is Dialect.POSTGRES else "mysql",
        "name": slug,
        "dbsage_version": __version__,
        "server_version_num": report.server_version_num,
        "notes": report.notes,
    }
    steps = sorted(report.steps, key=lambda s: s.number)
    if kind == "sql":
        return _render_sql(steps, report.dialect, out_dir, slug, context)
    if kind == "alembic":
        return _render_alembic(steps, report.dialect, out_dir, slug, context, down_revision)
    if kind == "flyway":
        return _render_flyway(steps, report.dialect, out_dir, slug, context, version)
    raise InputError(f"Unknown render kind {kind!r}.", hint="use sql, alembic or flyway")


# -- blocks -------------------------------------------------------------------------------------


def up_block(step: Step, dialect: Dialect) -> Block:
    """The step as it runs forward."""
    statements = _statements(step.sql, dialect)
    block = Block(step.number, step.phase.value, step.description, "bare", step.lock)
    if step.repeat == "until_no_rows":
        block.mode = "loop"
        block.setup = [s for s in statements if _SETTING.match(_code(s))]
        block.statements = [s for s in statements if not _SETTING.match(_code(s))]
        block.sql_setup = [_loop_setting(s, dialect) for s in block.setup]
        if not block.statements:
            raise InputError(
                f"Step {step.number} repeats until no rows change but holds no statement that changes rows."
            )
        return block
    block.statements = statements
    block.mode = "transaction" if _transactional(step.transactional, step.sql, dialect) else "bare"
    return block


def down_block(step: Step, dialect: Dialect) -> Block:
    """The step's undo: its rollback SQL, or a note that it is irreversible or needs none."""
    block = Block(step.number, step.phase.value, step.description, "nothing", step.lock)
    if step.irreversible:
        block.mode = "irreversible"
        return block
    if not step.rollback_sql or not step.rollback_sql.strip():
        return block
    block.statements = _statements(step.rollback_sql, dialect)
    if not block.statements:
        return block
    block.mode = "transaction" if _transactional(step.transactional, step.rollback_sql, dialect) else "bare"
    return block


def _loop_setting(statement: str, dialect: Dialect) -> str:
    """A setting before a batch loop in SQL. PostgreSQL's statement_timeout would time the whole DO block
    (its batches' COMMITs do not restart the timer), so it is switched off there; Alembic's Python loop
    keeps it per batch."""
    if dialect is Dialect.POSTGRES and _STATEMENT_TIMEOUT.match(_code(statement)):
        return (
            f"-- {_one_line(statement)}: not applied, it would cap the whole DO block rather than one batch\n"
            "SET statement_timeout = 0"
        )
    return statement


def _statements(sql: str, dialect: Dialect) -> list[str]:
    """The statements of `sql`, each with the `-- dbsage: ...` comments written before it kept on top
    (they suppress rules when the rendered files are linted again)."""
    statements = split_statements(sql, dialect)
    notes: dict[int, list[str]] = {}
    for number, line in enumerate(sql.splitlines(), start=1):
        if _DBSAGE_COMMENT.match(line):
            owner = next((s.index for s in statements if s.line >= number), None)
            if owner is not None:
                notes.setdefault(owner, []).append(line.strip())
    return ["\n".join([*notes.get(s.index, []), s.text]) for s in statements]


def _code(statement: str) -> str:
    """The statement without the comment lines kept on top of it."""
    return "\n".join(line for line in statement.splitlines() if not _DBSAGE_COMMENT.match(line))


def _transactional(flag: bool, sql: str, dialect: Dialect) -> bool:
    if dialect is Dialect.POSTGRES and _NO_TRANSACTION.search(sql):
        return False
    return flag


# -- kinds --------------------------------------------------------------------------------------


def _render_sql(steps: list[Step], dialect: Dialect, out: Path, name: str, context: dict[str, object]) -> list[Path]:
    up = [up_block(s, dialect) for s in steps]
    down = [down_block(s, dialect) for s in reversed(steps)]
    up_path, down_path = out / f"{name}.up.sql", out / f"{name}.down.sql"
    _write(up_path, _template("plan_up.sql.j2").render(blocks=up, direction="up", **context))
    _write(down_path, _template("plan_down.sql.j2").render(blocks=down, direction="down", **context))
    return [up_path, down_path]


def _render_alembic(
    steps: list[Step],
    dialect: Dialect,
    out: Path,
    name: str,
    context: dict[str, object],
    down_revision: str | None,
) -> list[Path]:
    up = [up_block(s, dialect) for s in steps]
    down = [down_block(s, dialect) for s in reversed(steps)]
    digest = hashlib.sha256(name.encode())
    for step in steps:
        digest.update(step.sql.encode())
    revision = digest.hexdigest()[:12]
    text = _template("alembic_revision.py.j2").render(
        blocks_up=up,
        blocks_down=down,
        revision=revision,
        down_revision=down_revision,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        **context,
    )
    path = out / f"{revision}_{name}.py"
    _write(path, text)
    return [path]


def flyway_files(steps: list[Step], dialect: Dialect, name: str, version: str) -> list[FlywayFile]:
    """The plan cut into Flyway files in apply order.

    Flyway runs a file in one transaction, so a transactional step gets a file of its own: sharing one would
    hold the first step's locks through the next (an ACCESS EXCLUSIVE lock kept during a VALIDATE blocks
    writers for the whole scan). Consecutive steps that run outside a transaction (autocommit, one
    statement at a time) and belong to one phase share a file.
    """
    files: list[FlywayFile] = []
    numbers: list[list[int]] = []
    for step in steps:
        block = up_block(step, dialect)
        transactional = block.mode == "transaction"
        current = files[-1] if files else None
        if current is None or transactional or current.transactional or current.phase != step.phase.value:
            current = FlywayFile("", "", step.phase.value, transactional, [], [])
            files.append(current)
            numbers.append([])
        current.up.append(block)
        current.down.insert(0, down_block(step, dialect))
        numbers[-1].append(step.number)
    width = len(str(len(files)))  # V..._01 sorts before V..._10 in a file listing too; Flyway reads both as 1
    for n, (file, run) in enumerate(zip(files, numbers, strict=True), start=1):
        file.version = f"{version}_{n:0{width}d}"
        steps_label = f"step{run[0]}" if len(run) == 1 else f"steps{run[0]}_{run[-1]}"
        file.name = f"{name}_{file.phase}_{steps_label}"
    return files


def _render_flyway(
    steps: list[Step],
    dialect: Dialect,
    out: Path,
    name: str,
    context: dict[str, object],
    version: str | None,
) -> list[Path]:
    version = version or datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    if not _VERSION.match(version):
        raise InputError(f"Flyway version {version!r} is not a version.", hint="digits separated by dots, e.g. 2.1")
    base = version.replace(".", "_")
    paths: list[Path] = []
    versioned = _template("flyway_versioned.sql.j2")
    undo = _template("flyway_undo.sql.j2")
    config = _template("flyway_script.conf.j2")
    for file in flyway_files(steps, dialect, name, base):
        v_path = out / f"V{file.version}__{file.name}.sql"
        _write(v_path, versioned.render(file=file, blocks=file.up, direction="up", **context))
        paths.append(v_path)
        # on MySQL every DDL statement commits anyway; only PostgreSQL needs Flyway told to stay out of a transaction
        if not file.transactional and dialect is Dialect.POSTGRES:
            conf_path = out / f"V{file.version}__{file.name}.sql.conf"
            _write(conf_path, config.render(file=file, **context))
            paths.append(conf_path)
        u_path = out / f"U{file.version}__{file.name}.sql"
        _write(u_path, undo.render(file=file, blocks=file.down, direction="down", **context))
        paths.append(u_path)
        if not _down_transactional(file) and dialect is Dialect.POSTGRES:
            conf_path = out / f"U{file.version}__{file.name}.sql.conf"
            _write(conf_path, config.render(file=file, **context))
            paths.append(conf_path)
    return paths


def _down_transactional(file: FlywayFile) -> bool:
    return all(b.mode != "bare" for b in file.down)


# -- plumbing -----------------------------------------------------------------------------------


def _slug(name: str) -> str:
    slug = re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower()
    if not slug:
        raise InputError(f"Cannot make a file name from {name!r}.", hint="give a name such as add_orders_status")
    return slug


def _write(path: Path, text: str) -> None:
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def _load(name: str) -> str:
    folder = resources.files("dbsage.knowledge.templates")
    return folder.joinpath(name).read_text(encoding="utf-8")


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=False,  # SQL and Python files, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pystr"] = _python_string
    env.filters["comment"] = _one_line
    return env


def _template(name: str) -> jinja2.Template:
    return _environment().get_template(name)


def _python_string(text: str) -> str:
    """A Python string literal for SQL text (a triple-quoted raw string when it can be)."""
    if "\n" in text and '"""' not in text and "\\" not in text and not text.endswith('"'):
        return 'r"""' + text + '"""'
    return repr(text)


def _one_line(text: str) -> str:
    return " ".join(text.split())

"""Proof on a real database: the original migration and the plan, run under concurrent traffic on a scratch copy.

The source database is only read (its catalog and a row sample, through the guard). Every write goes
to a scratch database: one dbsage creates (`dbsage_verify_<random>`, dropped at the end, even on
failure) or one the user named and marked scratch. Run 1 applies the original statements as a plain
deploy would (one statement at a time, the script's own BEGIN/COMMIT honoured, no lock timeout) while
a writer and a reader work on the tables it touches; run 2 starts again from the original state and
applies the plan's steps in order (transactional steps in a transaction, the others in autocommit, a
batch step until it changes no row, a step that hits its lock_timeout retried with backoff as a deploy
would), then its rollback SQL in reverse order, and compares the schema with the original.

Steps marked irreversible are not run: nothing could undo them for the schema comparison, and on a
real deploy they come last, after the application stopped using what they drop. Every statement is
checked by the allowlist's scratch mode before it is sent; statements that set the run's own timeouts
and transaction control are handled by the runner.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Any

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.errors import DbsageError, GuardRefused, InputError, QueryFailed
from dbsage.tools.migration_model import MigrationContext, MigrationScript, Phase, Step, TrafficMeasure, Verification
from dbsage.tools.scratch_clone import (
    ClonePlan,
    ScratchArea,
    refuse_source_as_scratch,
    touched_tables,
    with_referenced,
    words,
)
from dbsage.tools.sources.allowlist import check_statement
from dbsage.tools.sources.ddl_script import split_statements
from dbsage.tools.sources.guard import Limits, LiveDatabase, Mode
from dbsage.tools.sources.live import load_catalog
from dbsage.tools.sources.urls import redact
from dbsage.tools.traffic import Traffic, TrafficResult, TrafficTable, traffic_tables

WARMUP_S = 0.3
TAIL_S = 0.15
MAX_LOCK_RETRIES = 5
MAX_BATCHES = 100_000
NO_TIMEOUT_MYSQL_S = 86_400

_COMMENTS = re.compile(r"^\s*(?:--[^\n]*\n|/\*.*?\*/\s*)*", re.DOTALL)
_TIMEOUT_SET = re.compile(
    r"^SET\s+(?:SESSION\s+|LOCAL\s+|@@(?:SESSION\.)?)?(?:lock_timeout|statement_timeout|lock_wait_timeout|"
    r"innodb_lock_wait_timeout|max_statement_time|max_execution_time|idle_in_transaction_session_timeout)\b",
    re.IGNORECASE,
)
_TRANSACTION = re.compile(r"^(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
# What may follow a timeout SET the runner sends itself: one literal value (MySQL SET takes a list of
# assignments and expressions: `SET lock_wait_timeout = 1, GLOBAL ...` or `..., PASSWORD = ...` would
# skip the allowlist).
_TIMEOUT_VALUE = re.compile(
    r"\s*(?:=|\bTO\b)\s*(?:\d+(?:\.\d+)?|'[A-Za-z0-9. ]*'|DEFAULT)\s*", re.IGNORECASE
)
# Transaction control is words only (no MariaDB `BEGIN NOT ATOMIC` compound statement).
_TRANSACTION_WORDS = re.compile(r"(?!BEGIN\s+NOT\s+ATOMIC\b)[A-Za-z_]+(?:\s+[A-Za-z_][A-Za-z0-9_]*)*", re.IGNORECASE)
_READS_ROWS = re.compile(r"^(?:UPDATE|DELETE|INSERT|WITH|MERGE|REPLACE)\b", re.IGNORECASE)
_MY_NAME = r"(?:`[^`.]+`|[A-Za-z0-9_$]+)"
_MY_TRIGGER = re.compile(
    rf"^CREATE\s+TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?{_MY_NAME}\s+(?:BEFORE|AFTER)\s+(?:INSERT|UPDATE|DELETE)\s+"
    rf"ON\s+{_MY_NAME}\s+FOR\s+EACH\s+ROW\s+SET\s+(?P<body>NEW\s*\..+)$",
    re.IGNORECASE | re.DOTALL,
)
_MY_DROP_TRIGGER = re.compile(rf"^DROP\s+TRIGGER\s+(?:IF\s+EXISTS\s+)?{_MY_NAME}$", re.IGNORECASE)
_MY_LOCK = re.compile(
    rf"^LOCK\s+TABLES?\s+{_MY_NAME}(?:\s+(?:AS\s+)?{_MY_NAME})?\s+(?:READ(?:\s+LOCAL)?|(?:LOW_PRIORITY\s+)?WRITE)"
    rf"(?:\s*,\s*{_MY_NAME}(?:\s+(?:AS\s+)?{_MY_NAME})?\s+(?:READ(?:\s+LOCAL)?|(?:LOW_PRIORITY\s+)?WRITE))*$",
    re.IGNORECASE,
)
_MY_UNLOCK = re.compile(r"^UNLOCK\s+TABLES?$", re.IGNORECASE)


class _StepFailed(Exception):
    def __init__(self, message: str, *, lock_timeout: bool = False) -> None:
        super().__init__(message)
        self.lock_timeout = lock_timeout


def verify_migration(
    script: MigrationScript,
    steps: list[Step],
    *,
    source_dsn: str | None,
    scratch_dsn: str | None,
    ctx: MigrationContext,
    limits: Limits | None = None,
    progress: Callable[[str], None] | None = None,
    sample_rows: int = 100_000,
) -> Verification:
    """Run the original migration and the plan on a scratch database under traffic; compare, then roll back.

    `source_dsn` is read only; `scratch_dsn`, when given, must already be approved as scratch (the
    caller checked the configuration marks it); without it dbsage creates and drops its own database
    on the source's server. `sample_rows` caps the rows copied per table (0: all).
    """
    say = progress or (lambda _message: None)
    if ctx.dialect is Dialect.SQLITE:
        raise InputError("verify runs on PostgreSQL and MariaDB/MySQL.", hint="use --dialect postgres or mariadb")
    if source_dsn is None:
        raise InputError(
            "verify copies the touched tables from the source database, and none was given.",
            hint="pass --dsn with the database the migration is for (it is only read)",
        )
    limits = limits or Limits()
    source = LiveDatabase.open(source_dsn, limits=limits)
    scratch: LiveDatabase | None = None
    try:
        if scratch_dsn is not None:
            scratch = LiveDatabase.open(scratch_dsn, limits=limits, scratch=True)
            refuse_source_as_scratch(source, scratch, tool="verify")
        return _verify(script, steps, source, scratch, ctx, limits, say, sample_rows)
    finally:
        source.close()
        if scratch is not None:
            scratch.close()


def _verify(
    script: MigrationScript,
    steps: list[Step],
    source: LiveDatabase,
    scratch: LiveDatabase | None,
    ctx: MigrationContext,
    limits: Limits,
    say: Callable[[str], None],
    sample_rows: int,
) -> Verification:
    dialect = source.dialect
    if dialect.is_mysql_family != ctx.dialect.is_mysql_family:
        raise InputError(f"The migration is for {ctx.dialect.value}, but the database runs {dialect.value}.",
                         hint="pass the matching --dialect, or the right --dsn")
    if dialect.is_mysql_family and not source.url.database:
        raise InputError("The DSN names no database; verify copies tables from one.",
                         hint="end the DSN with /<database>")
    catalog = ctx.catalog if ctx.catalog is not None and ctx.catalog.source == "live" else load_catalog(source)
    original_text = "\n".join(s.text for s in script.statements)
    plan_text = "\n".join(f"{s.sql}\n{s.rollback_sql or ''}" for s in steps)
    schema = source.url.database if dialect.is_mysql_family else None
    touched = touched_tables(catalog, original_text + "\n" + plan_text, schema=schema)
    notes: list[str] = []
    if not touched:
        notes.append("the migration names no existing table: nothing was copied and no traffic ran")
    clone = ClonePlan(source, catalog, with_referenced(catalog, touched), sample_rows)
    area = ScratchArea(clone, scratch, say)
    try:
        try:
            original_catalog = area.prepare()
        except DbsageError:
            raise
        except Exception as exc:  # a driver error while copying: say what failed, not a traceback
            raise QueryFailed(
                f"copying the tables into the scratch database failed: {redact(' '.join(str(exc).split()))[:400]}"
            ) from None
        tables = _traffic_tables(original_catalog, touched, words(original_text), dialect)
        if touched and not tables:
            notes.append("no touched table has a primary key or unique key, so no traffic ran")
        statements = [s.text for s in script.statements]
        with area.fresh() as db:
            say("run 1: the original migration under traffic")
            original = _measured(db, tables, limits, lambda conn, traffic: _run_original(conn, dialect, statements))
        with area.fresh(last=True) as db:
            say("run 2: the plan under traffic")
            outcome = _PlanOutcome()
            plan = _measured(db, tables, limits, lambda conn, traffic: _run_plan(conn, dialect, steps, outcome, traffic,
                                                                                 limits))
            plan.lock_timeout_retries = outcome.retries
            say("rolling the plan back")
            rollback_errors = _run_rollback(db, dialect, outcome.done, steps, limits, outcome.failed)
            after = load_catalog(db)
    finally:
        area.close()
    differences = rollback_errors + schema_differences(original_catalog, after)
    notes.extend(clone.notes)
    if outcome.skipped:
        notes.append(
            f"irreversible step(s) {', '.join(map(str, outcome.skipped))} were not run: nothing could undo them "
            "for the rollback check; run them last, after the application stopped using what they remove"
        )
    if any(not s.rollback_sql for s in steps if s.number in outcome.done):
        notes.append("some steps that ran have no rollback SQL; their effect stays after the rollback")
    restores = not differences
    return Verification(
        scratch=area.label,
        rows=dict(clone.rows),
        original=original,
        plan=plan,
        rollback_restores_schema=restores,
        schema_differences=differences,
        summary=summarise(original, plan, restores, len(differences)),
        skipped_steps=outcome.skipped,
        notes=notes,
    )


def _traffic_tables(original: Catalog, touched: list[Table], named: set[str], dialect: Dialect) -> list[TrafficTable]:
    """The touched tables as the scratch copy has them (MariaDB: they live in the scratch database)."""
    if dialect.is_mysql_family:
        by_name = {t.name.lower(): t for t in original.tables}
        copies = [by_name[t.name.lower()] for t in touched if t.name.lower() in by_name]
    else:
        copies = [c for t in touched if (c := original.table(t.schema_name, t.name)) is not None]
    return traffic_tables(original, copies, named)


# -- running under traffic -----------------------------------------------------------------------


def _measured(
    db: LiveDatabase, tables: list[TrafficTable], limits: Limits, body: Callable[[Any, Traffic], str | None]
) -> TrafficMeasure:
    with db.scratch_connection() as conn:
        _session_defaults(conn, db.dialect, limits)
        with Traffic(db, tables, timeout_ms=limits.statement_timeout_ms) as traffic:
            time.sleep(WARMUP_S if tables else 0)
            start = time.perf_counter()
            try:
                error = body(conn, traffic)
            except DbsageError as exc:
                error = exc.message
            end = time.perf_counter()
            traffic.mark(start, end)
            time.sleep(TAIL_S if tables else 0)
    return _measure(traffic.result, (end - start) * 1000, error)


def _measure(result: TrafficResult, duration_ms: float, error: str | None) -> TrafficMeasure:
    return TrafficMeasure(
        duration_ms=round(duration_ms, 1),
        longest_lock_wait_ms=round(result.longest_ms(), 1),
        writer_ops=result.count("write"),
        reader_ops=result.count("read"),
        traffic_errors=result.errors,
        error=error,
        longest_write_wait_ms=round(result.longest_ms("write"), 1),
        longest_read_wait_ms=round(result.longest_ms("read"), 1),
        baseline_op_ms=round(result.baseline_ms(), 2),
        first_traffic_error=result.first_error(),
    )


def _session_defaults(conn: Any, dialect: Dialect, limits: Limits) -> None:
    if dialect is Dialect.POSTGRES:
        conn.prepare_threshold = None
    _set_timeouts(conn, dialect, None, limits.statement_timeout_ms)


def _set_timeouts(conn: Any, dialect: Dialect, lock_ms: int | None, statement_ms: int | None) -> None:
    """The runner's timeouts before a step: a step without a lock timeout waits as long as it takes."""
    if dialect is Dialect.POSTGRES:
        conn.execute(f"SET lock_timeout = {int(lock_ms or 0)}".encode())
        conn.execute(f"SET statement_timeout = {int(statement_ms or 0)}".encode())
        return
    lock_s = max(1, math.ceil(lock_ms / 1000)) if lock_ms else NO_TIMEOUT_MYSQL_S
    with conn.cursor() as cur:
        cur.execute(f"SET SESSION lock_wait_timeout = {lock_s}")
        cur.execute(f"SET SESSION innodb_lock_wait_timeout = {lock_s}")
        if dialect is Dialect.MARIADB:
            cur.execute(f"SET SESSION max_statement_time = {(statement_ms or 0) / 1000:.3f}")


def _execute(conn: Any, dialect: Dialect, text: str) -> int:
    """Send one statement (checked by the allowlist's scratch mode) and return the rows it changed."""
    bare = _COMMENTS.sub("", text).strip().rstrip(";").strip()
    if not bare:
        return 0
    timeout = _TIMEOUT_SET.match(bare)
    own = (timeout is not None and _TIMEOUT_VALUE.fullmatch(bare, timeout.end()) is not None) or (
        _TRANSACTION.match(bare) is not None and _TRANSACTION_WORDS.fullmatch(bare) is not None
    )
    sql = bare if own else _mysql_statement(bare) if dialect.is_mysql_family else None
    if sql is None:
        sql = check_statement(bare, dialect, Mode.SCRATCH)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return int(cur.rowcount) if _READS_ROWS.match(bare) and cur.rowcount is not None else 0
    except Exception as exc:  # the driver's own error types differ per engine
        raise _StepFailed(redact(" ".join(str(exc).split()))[:400], lock_timeout=_is_lock_timeout(exc)) from None


def _mysql_statement(bare: str) -> str | None:
    """MySQL statements a plan uses that the allowlist's parser reads only as opaque text, checked here narrowly.

    A trigger whose body is `SET NEW.col = expr, ...` (the expressions checked as an UPDATE's SET list),
    DROP TRIGGER, LOCK TABLES and UNLOCK TABLES, all with unqualified names (nothing in another database).
    None for anything else: the allowlist decides.
    """
    if _MY_DROP_TRIGGER.match(bare) or _MY_LOCK.match(bare) or _MY_UNLOCK.match(bare):
        return bare
    m = _MY_TRIGGER.match(bare)
    if m is None:
        return None
    check_statement(f"UPDATE dbsage_trigger_check SET {m.group('body')}", Dialect.MARIADB, Mode.SCRATCH)
    return bare


def _is_lock_timeout(exc: BaseException) -> bool:
    if getattr(exc, "sqlstate", None) == "55P03":
        return True
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    return bool(args) and args[0] == 1205


def _recover(conn: Any, dialect: Dialect) -> None:
    """After a failed statement: no transaction left open."""
    try:
        if dialect is Dialect.POSTGRES:
            if conn.info.transaction_status != 0:
                conn.execute(b"ROLLBACK")
        else:
            conn.rollback()
            with conn.cursor() as cur:
                cur.execute("UNLOCK TABLES")
    except Exception:  # a broken connection: the next statement reports it
        pass


def _statements(sql: str, dialect: Dialect) -> list[str]:
    return [s.text for s in split_statements(sql, dialect)]


def _run_original(conn: Any, dialect: Dialect, statements: list[str]) -> str | None:
    for number, text in enumerate(statements, 1):
        try:
            for piece in _statements(text, dialect):
                _execute(conn, dialect, piece)
        except GuardRefused as exc:
            _recover(conn, dialect)
            return f"statement {number} was refused by the guard: {exc.message}"
        except _StepFailed as exc:
            _recover(conn, dialect)
            return f"statement {number} failed: {exc}"
    _recover(conn, dialect)  # a script that opened a transaction and never closed it
    return None


class _PlanOutcome:
    def __init__(self) -> None:
        self.done: list[int] = []
        self.skipped: list[int] = []
        self.retries = 0
        self.failed: int | None = None


def _run_plan(
    conn: Any, dialect: Dialect, steps: list[Step], outcome: _PlanOutcome, traffic: Traffic, limits: Limits
) -> str | None:
    for step in steps:
        if step.irreversible:
            outcome.skipped.append(step.number)
            continue
        if step.phase is Phase.CONTRACT:
            traffic.switch()  # by the contract phase the application runs its new version
        pieces = _statements(step.sql, dialect)
        attempt = 0
        while True:
            _set_timeouts(conn, dialect, step.lock_timeout_ms, step.statement_timeout_ms or limits.statement_timeout_ms)
            try:
                _run_step(conn, dialect, step, pieces)
                break
            except GuardRefused as exc:
                _recover(conn, dialect)
                return f"step {step.number} was refused by the guard: {exc.message}"
            except _StepFailed as exc:
                _recover(conn, dialect)
                if exc.lock_timeout and attempt < MAX_LOCK_RETRIES:
                    attempt += 1
                    outcome.retries += 1
                    time.sleep(0.1 * 2 ** attempt)
                    continue
                outcome.done.append(step.number)  # partly done: its rollback may still be needed
                outcome.failed = step.number
                return f"step {step.number} failed: {exc}"
        outcome.done.append(step.number)
    return None


def _run_step(conn: Any, dialect: Dialect, step: Step, pieces: list[str]) -> None:
    for _batch in range(MAX_BATCHES):
        changed = 0
        if step.transactional:
            if dialect is Dialect.POSTGRES:
                with conn.transaction():
                    for piece in pieces:
                        changed = _execute(conn, dialect, piece) or changed
            else:
                conn.begin()
                for piece in pieces:
                    changed = _execute(conn, dialect, piece) or changed
                conn.commit()
        else:
            for piece in pieces:
                changed = _execute(conn, dialect, piece) or changed
        if step.repeat == "once" or changed == 0:
            return
    raise _StepFailed(f"the batch still changed rows after {MAX_BATCHES} runs")


def _run_rollback(
    db: LiveDatabase, dialect: Dialect, done: list[int], steps: list[Step], limits: Limits, failed: int | None
) -> list[str]:
    """The down migration: rollback SQL of the steps that ran, last first. Failures come back as differences,
    except the failed step's own (it may have done nothing to undo; the schema comparison has the last word)."""
    errors: list[str] = []
    by_number = {s.number: s for s in steps}
    with db.scratch_connection() as conn:
        _session_defaults(conn, dialect, limits)
        for number in reversed(done):
            step = by_number[number]
            if not step.rollback_sql:
                continue
            try:
                for piece in _statements(step.rollback_sql, dialect):
                    _execute(conn, dialect, piece)
            except (_StepFailed, GuardRefused) as exc:
                _recover(conn, dialect)
                message = exc.message if isinstance(exc, GuardRefused) else str(exc)
                if number != failed:
                    errors.append(f"rollback of step {number} failed: {message}")
    return errors


# -- comparing schemas ---------------------------------------------------------------------------

_VOLATILE = frozenset({
    "row_estimate", "total_bytes", "auto_increment_next", "size_bytes", "scans", "last_value", "owner",
})


def _normalised(catalog: Catalog) -> dict[str, Any]:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return {
        "tables": {t.qualified_name: strip(t.model_dump()) for t in catalog.tables},
        "views": {v.qualified_name: strip(v.model_dump()) for v in catalog.views},
        "sequences": {s.qualified_name: strip(s.model_dump()) for s in catalog.sequences},
        "functions": {f.signature: strip(f.model_dump()) for f in catalog.functions},
        "extensions": {e.name: e.model_dump() for e in catalog.extensions},
    }


def schema_differences(before: Catalog, after: Catalog) -> list[str]:
    """What differs between two catalogs' structure (sizes, statistics and positions of sequences left out)."""
    out: list[str] = []
    _diff(_normalised(before), _normalised(after), "", out)
    return out


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            where = f"{path}.{key}" if path else str(key)
            if key not in b:
                out.append(f"{where}: missing after rollback")
            elif key not in a:
                out.append(f"{where}: left behind by the plan")
            else:
                _diff(a[key], b[key], where, out)
        return
    if isinstance(a, list) and isinstance(b, list) and _named(a) and _named(b):
        _diff({x["name"]: x for x in a}, {x["name"]: x for x in b}, path, out)
        return
    if a != b:
        out.append(f"{path}: {_short(a)} before, {_short(b)} after rollback")


def _named(items: list[Any]) -> bool:
    names = [x.get("name") for x in items if isinstance(x, dict)]
    return len(names) == len(items) and None not in names and len(set(names)) == len(names)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


# -- the sentence --------------------------------------------------------------------------------


def _duration(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


def summarise(original: TrafficMeasure, plan: TrafficMeasure, restores: bool, differences: int) -> str:
    """One sentence: 'original blocked writes for 4.2 s; plan: longest wait 12 ms, rollback restores the schema'."""
    if original.error:
        first = f"original failed ({original.error[:160]})"
    elif original.traffic_errors:
        first = (f"original broke {original.traffic_errors} traffic operation(s) "
                 f"(longest write wait {_duration(original.longest_write_wait_ms)})")
    else:
        first = f"original blocked writes for {_duration(original.longest_write_wait_ms)}"
    if plan.error:
        second = f"plan failed ({plan.error[:160]})"
    else:
        second = f"plan: longest wait {_duration(plan.longest_lock_wait_ms)}"
        if plan.lock_timeout_retries:
            second += f" after {plan.lock_timeout_retries} lock-timeout retry(ies)"
        if plan.traffic_errors:
            second += f", {plan.traffic_errors} traffic operation(s) failed"
    third = "rollback restores the schema" if restores else f"rollback leaves {differences} difference(s)"
    return f"{first}; {second}, {third}"

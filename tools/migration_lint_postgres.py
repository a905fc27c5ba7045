"""The PostgreSQL migration linter: every hazard of the anchors' table, located, with the lock it takes.

Statements are read in apply order with pglast (libpg_query, JSON form: see rules/migration_pg_ast.py).
A statement that does not parse is a `migration.unparsable` finding, never an exception.

Transaction model. Explicit BEGIN/START TRANSACTION ... COMMIT/ROLLBACK/END are followed. Migration tools
may also wrap each file in a transaction themselves: Flyway does on PostgreSQL (and runs a file holding a
non-transactional statement such as CREATE INDEX CONCURRENTLY outside one), Alembic does too but its
offline SQL writes the BEGIN/COMMIT out, so it is seen. Hence the default: files named the Flyway way
(`V<n>__name.sql`) are taken as wrapped unless they hold a non-transactional statement; other files are
run statement by statement (psql's autocommit). The rule option `migration.assume_in_transaction`
(thresholds in the configuration) overrides it: 1 wraps every file, 0 none.

Live facts. With a catalog from a live database, findings about a table carry `table_rows`,
`table_bytes` and `estimated_seconds`: the table's total size divided by a rate for the work done under
the lock (RATES_MIB_S below). The rates were measured once, on PostgreSQL 15 on a shared 2-core machine
with a cached 1M-row, 122 MiB table (bigint key, text and numeric columns, two indexes): the
verification scan of ADD CHECK ran at about 500 MiB/s (SET NOT NULL's faster), CREATE INDEX on a text
column and the rewrites of VACUUM FULL and ALTER COLUMN TYPE at about 30 MiB/s, an UPDATE of every row
at about 10 MiB/s. A table larger than memory or a busy server is slower: read the estimate as an order
of magnitude. Severities of lock hazards drop to low on small tables (under `migration.small_table_rows`,
default 10,000 rows) and rise one level on big ones (`migration.big_table_rows`, default 1,000,000, or
a lock estimated over `migration.long_lock_seconds`, default 10). Statements on tables created earlier
in the same migration (and on migration tools' bookkeeping tables such as alembic_version) take no lock
anyone waits for and raise no lock hazard.
"""

from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path

from pglast import parser as pg_parser

from dbsage.knowledge.rulebook import with_guide_links
from dbsage.tools.findings import Category, Finding, ObjectType, Severity, evidence_value, fingerprint
from dbsage.tools.migration_model import (
    MigrationContext,
    MigrationFile,
    MigrationScript,
    MigrationStatement,
    Suppression,
)
from dbsage.tools.rules.migration_pg_ast import Node, function_names, is_zero_setting, setting_value, strings, unwrap
from dbsage.tools.rules.migration_pg_state import (
    ACCESS_EXCLUSIVE,
    BLOCKING_LOCKS,
    BOOKKEEPING_TABLES,
    Effect,
    Hazard,
    Walk,
    qualified,
)
from dbsage.tools.rules.migration_pg_statements import HANDLERS

MIB = 1024 * 1024
# MiB of table processed per second under the lock, by the kind of work (see the module docstring).
RATES_MIB_S = {"scan": 500.0, "rewrite": 30.0, "index": 30.0, "update": 10.0}
_FLYWAY_NAME = re.compile(r"^V\d[\w.]*__", re.IGNORECASE)
_NON_TRANSACTIONAL = re.compile(r"\bCONCURRENTLY\b|^\s*VACUUM\b|\bDATABASE\b", re.IGNORECASE | re.MULTILINE)
# Statements no rule looks inside: parsed only to report syntax errors, their tree not decoded.
_NO_TREE = re.compile(
    r"(?:INSERT|COMMENT|GRANT|REVOKE|ANALYZE|COPY|CALL|NOTIFY|SHOW|EXPLAIN|DISCARD|CREATE\s+(?:OR\s+REPLACE\s+)?"
    r"(?:FUNCTION|PROCEDURE|TYPE|EXTENSION|SCHEMA|POLICY|ROLE|AGGREGATE|CAST|COLLATION|OPERATOR"
    r"|PUBLICATION|STATISTICS|TEXT\s+SEARCH))\b", re.IGNORECASE)
# Statements that only touch the catalog (or a migration tool's bookkeeping row): running one while a lock is
# held does not lengthen the hold noticeably.
_QUICK = frozenset({
    "CreateStmt", "CommentStmt", "GrantStmt", "CreateSeqStmt", "AlterSeqStmt", "CreateEnumStmt",
    "CreateFunctionStmt", "ViewStmt", "CreateDomainStmt", "AlterEnumStmt", "CreateExtensionStmt",
    "CreateSchemaStmt", "AlterOwnerStmt", "CompositeTypeStmt",
})
_SEVERITY_UP = {Severity.INFO: Severity.LOW, Severity.LOW: Severity.MEDIUM, Severity.MEDIUM: Severity.HIGH,
                Severity.HIGH: Severity.BLOCKER, Severity.BLOCKER: Severity.BLOCKER}


def lint_postgres(script: MigrationScript, ctx: MigrationContext) -> tuple[list[Finding], list[Suppression]]:
    """Every hazard of the script's statements, in apply order, and the findings its comments suppressed."""
    walk = Walk(ctx)
    findings: list[Finding] = []
    suppressed: list[Suppression] = []
    assume = ctx.options.thresholds.get("migration.assume_in_transaction")
    for file in script.files:
        walk.start_file()
        if file.statements and _wrapped(file, assume):
            walk.begin(file.statements[0], explicit=False)
        for stmt in file.statements:
            for hazard in lint_statement(stmt, walk):
                _emit(hazard, stmt, walk, findings, suppressed)
        if walk.explicit_transaction and walk.transaction_start is not None:
            start = walk.transaction_start
            _emit(Hazard("migration.uncommitted_transaction", file.path, ObjectType.FILE,
                         f"The transaction opened at line {start.line} is never committed: the migration tool "
                         "commits it, rolls it back or leaves it open depending on how it runs the file.",
                         scale=False, fix="COMMIT;"), start, walk, findings, suppressed)
    for hazard, stmt in unindexed_foreign_keys(walk):
        _emit(hazard, stmt, walk, findings, suppressed)
    return findings, suppressed


def _leading_columns(index_columns: list[str | None]) -> list[str]:
    out: list[str] = []
    for column in index_columns:
        if column is None:
            break
        out.append(column.lower())
    return out


def unindexed_foreign_keys(walk: Walk) -> list[tuple[Hazard, MigrationStatement]]:
    """Foreign keys the migration adds whose columns lead no index, once the whole migration is read.

    Decided only where every index of the table is known: a table the migration creates, or one the
    live (or current DDL) catalog describes; offline, an existing table's indexes are unknown.
    """
    out: list[tuple[Hazard, MigrationStatement]] = []
    for table, columns, ref, stmt in walk.foreign_keys:
        live = walk.live_table(table)
        if live is None and not walk.is_new(table):
            continue
        leading = list(walk.index_columns.get(table, []))
        if live is not None:
            leading += [_leading_columns(i.column_names) for i in live.indexes if i.predicate is None]
            if live.primary_key is not None:
                leading.append([c.lower() for c in live.primary_key.columns])
        wanted = set(columns)
        if any(set(cols[: len(columns)]) == wanted for cols in leading):
            continue
        t = qualified(table)
        cols = ", ".join(columns)
        hazard = Hazard("migration.foreign_key_without_index", f"{t}({','.join(columns)})", ObjectType.COLUMNS,
                        f"The foreign key {t}({cols}) -> {ref} has no index leading with its columns: every "
                        f"DELETE or key UPDATE on {ref} scans {t}, under lock.", table=table, scale=False,
                        fix=f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {table[1]}_{'_'.join(columns)}_idx "
                        f"ON {t} ({cols});  -- outside a transaction block",
                        evidence={"columns": list(columns), "referenced_table": ref})
        out.append((hazard, stmt))
    return out


def _wrapped(file: MigrationFile, assume: float | None) -> bool:
    if assume is not None:
        return assume >= 1
    if not _FLYWAY_NAME.match(Path(file.path).name):
        return False
    return not any(_NON_TRANSACTIONAL.search(s.text) for s in file.statements)


def parse(stmt: MigrationStatement) -> list[Node] | str:
    """The statement's raw parse nodes, or the parser's message when it does not parse."""
    try:
        raw = pg_parser.parse_sql_json(stmt.text)
    except pg_parser.ParseError as exc:
        return str(exc.args[0] if exc.args else exc)
    if _NO_TREE.match(stmt.text):
        return []
    try:
        tree = json.loads(raw)
    except RecursionError:  # the parser takes ~1000 levels; Python's JSON reader fewer
        return "it nests too deeply to check"
    return [node.get("stmt", {}) for node in tree.get("stmts") or []]


def lint_statement(stmt: MigrationStatement, walk: Walk) -> list[Hazard]:
    """The hazards of one statement, updating the walk's state."""
    nodes = parse(stmt)
    if isinstance(nodes, str):
        head = " ".join(stmt.text.split()[:4])[:60]
        return [Hazard("migration.unparsable", f"{stmt.file}:{stmt.line}", ObjectType.FILE,
                       f"'{head}' does not parse as PostgreSQL: {nodes}; it was not checked.", scale=False,
                       evidence={"parser_message": nodes})]
    hazards: list[Hazard] = []
    for node in nodes:
        kind, fields = unwrap(node)
        if kind == "TransactionStmt":
            hazards.extend(_transaction(fields, stmt, walk))
            continue
        if kind == "VariableSetStmt":
            _setting(fields, walk)
            continue
        if kind == "SelectStmt":
            _set_config(fields, walk)
        handler = HANDLERS.get(kind)
        found, effects = handler(fields, stmt, walk) if handler else ([], [])
        hazards.extend(found)
        long_running = [h for h in found if (h.scans_table or h.rewrites_table) and h.table is not None
                        and not walk.is_new(h.table)]
        if long_running and not walk.has_statement_timeout() and not walk.statement_timeout_reported:
            walk.statement_timeout_reported = True
            first = long_running[0]
            hazards.append(Hazard("migration.missing_statement_timeout", first.obj, first.object_type,
                                  f"This statement {'rewrites' if first.rewrites_table else 'scans'} "
                                  f"{qualified(first.table) if first.table else 'a table'} with no statement_timeout: "
                                  "nothing bounds how long it holds its lock.", table=first.table, lock=first.lock,
                                  scale=False, fix="SET statement_timeout = '15min';  -- before the migration"))
        quick = kind in _QUICK or (kind in ("UpdateStmt", "DeleteStmt")
                                   and str((fields.get("relation") or {}).get("relname", "")) in BOOKKEEPING_TABLES)
        hazards.extend(_lock_rules(stmt, walk, [e for e in effects if not walk.is_new(e.table)], quick=quick))
    return hazards


def _lock_rules(stmt: MigrationStatement, walk: Walk, effects: list[Effect], *, quick: bool) -> list[Hazard]:
    out: list[Hazard] = []
    if walk.in_transaction and walk.exclusive_on is not None and not walk.exclusive_reported and not quick:
        held = walk.exclusive_on
        walk.exclusive_reported = True
        table = tuple(held.split(".", 1))
        out.append(Hazard("migration.statements_after_access_exclusive", held, ObjectType.TABLE,
                          f"This statement runs while the transaction still holds ACCESS EXCLUSIVE on {held} "
                          f"(taken at line {walk.exclusive_line}): every query on {held} waits for it too.",
                          table=(table[0], table[1]) if len(table) == 2 else None, lock=ACCESS_EXCLUSIVE,
                          scale=True, fix="COMMIT;  -- one lock-taking statement per transaction"))
    blocking = [e for e in effects if e.lock in BLOCKING_LOCKS]
    if blocking and not walk.has_lock_timeout() and not walk.lock_timeout_reported:
        walk.lock_timeout_reported = True
        first = blocking[0]
        out.append(Hazard("migration.missing_lock_timeout", qualified(first.table), ObjectType.TABLE,
                          f"{first.lock} on {qualified(first.table)} is requested with no lock_timeout: if a long "
                          "transaction holds the table, this statement waits, and every query on the table "
                          "queues behind it.", table=first.table, lock=first.lock, scale=False,
                          evidence={"statement_timeout_set": walk.statement_timeout},
                          fix="SET lock_timeout = '2s';\nSET statement_timeout = '15min';  "
                          "-- and retry the migration when it times out"))
    if walk.in_transaction and walk.exclusive_on is None:
        for effect in effects:
            if effect.lock == ACCESS_EXCLUSIVE:
                walk.exclusive_on = qualified(effect.table)
                walk.exclusive_line = stmt.line
                break
    return out


def _transaction(fields: Node, stmt: MigrationStatement, walk: Walk) -> list[Hazard]:
    kind = str(fields.get("kind", ""))
    if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
        if walk.in_transaction:
            how = "an explicit BEGIN" if walk.explicit_transaction else "the transaction the tool wraps the file in"
            return [Hazard("migration.transaction_nesting", f"{stmt.file}:{stmt.line}", ObjectType.FILE,
                           f"BEGIN inside {how}: PostgreSQL ignores it with a warning, and the COMMIT that "
                           "follows ends the outer transaction early.", scale=False,
                           fix="-- remove the inner BEGIN/COMMIT")]
        walk.begin(stmt, explicit=True)
    elif kind in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_COMMIT_PREPARED",
                  "TRANS_STMT_ROLLBACK_PREPARED", "TRANS_STMT_PREPARE"):
        if walk.in_transaction and not walk.explicit_transaction:
            walk.end()
            return [Hazard("migration.transaction_nesting", f"{stmt.file}:{stmt.line}", ObjectType.FILE,
                           "COMMIT inside the transaction the migration tool wraps the file in: it ends the tool's "
                           "transaction early and the rest runs without one.", scale=False,
                           fix="-- remove the COMMIT (or make the whole file non-transactional)")]
        walk.end()
    return []


def _apply_setting(name: str, value: str | None, *, local: bool, walk: Walk) -> None:
    active = not is_zero_setting(value)
    if name == "lock_timeout":
        if local:
            walk.local_lock_timeout = active and walk.in_transaction
        else:
            walk.lock_timeout = active
            walk.local_lock_timeout = False
    elif name == "statement_timeout":
        if local:
            walk.local_statement_timeout = active and walk.in_transaction
        else:
            walk.statement_timeout = active
            walk.local_statement_timeout = False


def _setting(fields: Node, walk: Walk) -> None:
    kind = fields.get("kind")
    name = str(fields.get("name", "")).lower()
    local = bool(fields.get("is_local"))
    if kind == "VAR_SET_VALUE":
        _apply_setting(name, setting_value(fields.get("args")), local=local, walk=walk)
    elif kind in ("VAR_SET_DEFAULT", "VAR_RESET"):
        _apply_setting(name, None, local=local, walk=walk)
    elif kind == "VAR_RESET_ALL":
        _apply_setting("lock_timeout", None, local=False, walk=walk)
        _apply_setting("statement_timeout", None, local=False, walk=walk)


def _set_config(fields: Node, walk: Walk) -> None:
    """`SELECT set_config('lock_timeout', '2s', false)`, the function form of SET."""
    if "set_config" not in function_names(fields.get("targetList")):
        return
    for target in fields.get("targetList") or []:
        _, res = unwrap(target)
        kind, call = unwrap(res.get("val"))
        if kind != "FuncCall" or strings(call.get("funcname"))[-1:] != ["set_config"]:
            continue
        args = call.get("args") or []
        if len(args) != 3:
            continue
        name = setting_value([args[0]])
        local = unwrap(args[2])[1].get("boolval", {}).get("boolval", False)
        if name:
            _apply_setting(name.lower(), setting_value([args[1]]), local=bool(local), walk=walk)


def _emit(hazard: Hazard, stmt: MigrationStatement, walk: Walk, findings: list[Finding],
          suppressed: list[Suppression]) -> None:
    options = walk.ctx.options
    if hazard.rule_id in options.disabled:
        return
    if hazard.rule_id in stmt.suppressed or hazard.rule_id.removeprefix("migration.") in stmt.suppressed:
        suppressed.append(Suppression(rule_id=hazard.rule_id, location=stmt.location))
        return
    findings.append(finding(hazard, stmt, walk))


@cache
def rule_texts() -> dict[str, tuple[Severity, Category, str]]:
    """Default severity, category and remediation (with guide links) of this linter's rules, from its TOML.

    The same entries the rulebook serves (a test checks they agree); reading one file rather than every
    rule family keeps the lint-only path (a pre-commit hook) fast.
    """
    text = resources.files("dbsage.knowledge").joinpath("rules", "migration_postgres.toml").read_text("utf-8")
    return {str(r["id"]): (Severity(r["severity"]), Category(r["category"]),
                           with_guide_links(str(r["remediation"]), r.get("guides", [])))
            for r in tomllib.loads(text)["rule"]}


def finding(hazard: Hazard, stmt: MigrationStatement, walk: Walk) -> Finding:
    """The Finding for a hazard: the lock facts as evidence, live size and duration, scaled severity."""
    default, category, remediation = rule_texts()[hazard.rule_id]
    severity = Severity(hazard.severity) if hazard.severity else default
    evidence: dict[str, object] = {
        "lock": hazard.lock, "rewrites_table": hazard.rewrites_table, "scans_table": hazard.scans_table,
        "table": qualified(hazard.table) if hazard.table else None,
    }
    evidence.update(hazard.evidence)
    message = hazard.message
    live = walk.live_table(hazard.table) if hazard.table is not None else None
    if live is not None:
        rows, size = live.row_estimate, live.total_bytes
        evidence["table_rows"] = rows
        evidence["table_bytes"] = size
        seconds = RATES_MIB_S.get(hazard.work)
        estimate = size / MIB / seconds if size is not None and seconds else None
        if estimate is not None:
            evidence["estimated_seconds"] = round(estimate, 2)
            evidence["rate_mib_per_s"] = seconds
        if hazard.scale and hazard.lock:
            message += " " + _live_phrase(rows, size, estimate, hazard.lock)
            severity = _scaled(severity, rows, size, estimate, walk)
    location = stmt.location
    return Finding(id=fingerprint(hazard.rule_id, hazard.obj, location), rule_id=hazard.rule_id, severity=severity,
                   category=category, object_type=hazard.object_type, object=hazard.obj, message=message,
                   evidence={k: evidence_value(v) for k, v in evidence.items()}, fix=hazard.fix,
                   remediation=remediation, location=location)


def _live_phrase(rows: int | None, size: int | None, estimate: float | None, lock: str) -> str:
    what = f"{rows:,} rows" if rows is not None else "the table"
    if size is not None:
        what += f" ({size / MIB:,.1f} MiB)"
    if estimate is None:
        return f"Live: {what}."
    return f"Live: it will hold {lock} on {what} for about {max(estimate, 0.01):,.2f} s."


def _scaled(severity: Severity, rows: int | None, size: int | None, estimate: float | None, walk: Walk) -> Severity:
    options = walk.ctx.options
    small = options.threshold("migration.small_table_rows", 10_000)
    big = options.threshold("migration.big_table_rows", 1_000_000)
    long_lock = options.threshold("migration.long_lock_seconds", 10.0)
    if rows is not None and rows < small and (size is None or size < 64 * MIB):
        return Severity.LOW if severity.rank > Severity.LOW.rank else severity
    if (rows is not None and rows >= big) or (estimate is not None and estimate >= long_lock):
        return _SEVERITY_UP[severity]
    return severity

"""Hazards of a MySQL/MariaDB migration: ALTERs that copy the table or block writes, by server version.

Each statement is read into operations (migration_mysql_ops), each operation assessed for the target
version (INSTANT / INPLACE / COPY, the lock, a rebuild), and the hazards reported where the statement
starts. Tables created earlier in the same script are new and empty, so their DDL is not a hazard.
With a live catalog the table's size goes into the evidence and raises the severity on big tables.
"""

from __future__ import annotations

import re

from dbsage.knowledge.rulebook import rule_doc
from dbsage.tools.findings import Finding, ObjectType, Severity
from dbsage.tools.migration_model import MigrationContext, MigrationScript, MigrationStatement, Suppression
from dbsage.tools.migration_mysql_ops import (
    COPY,
    Assessment,
    ScriptState,
    TableState,
    assess,
    batched_dml,
    column_sql,
    implicit_default,
    index_as_alter,
    version_text,
)
from dbsage.tools.migration_mysql_read import AlterOp, MyStatement, is_batched, read_statement
from dbsage.tools.rules.registry import make_finding

DDL_KINDS = ("alter", "create_index", "drop_index", "drop_table", "rename_table", "optimize", "truncate",
             "create_trigger")
LOCK_WAIT_LIMIT_S = 60.0
BIG_ROWS = 1_000_000
BIG_BYTES = 1 << 30
SAFE_ALGORITHMS = ("INSTANT", "INPLACE", "NOCOPY")


class _Linter:
    def __init__(self, ctx: MigrationContext) -> None:
        self.ctx = ctx
        self.state = ScriptState(ctx)
        self.findings: list[Finding] = []
        self.suppressed: list[Suppression] = []
        self.lock_wait_reported = False
        self.file: str | None = None

    # -- helpers -----------------------------------------------------------------------------

    def emit(self, stmt: MigrationStatement, rule_id: str, *, object_type: ObjectType, obj: str, message: str,
             evidence: dict[str, object] | None = None, fix: str | None = None,
             severity: Severity | None = None) -> None:
        if rule_id in self.ctx.options.disabled:
            return
        if rule_id in stmt.suppressed or rule_id.removeprefix("migration.") in stmt.suppressed:
            self.suppressed.append(Suppression(rule_id=rule_id, location=stmt.location))
            return
        self.findings.append(make_finding(rule_id, object_type=object_type, obj=obj, message=message,
                                          evidence=evidence, fix=fix, location=stmt.location, severity=severity))

    def size_evidence(self, table: TableState) -> dict[str, object]:
        evidence: dict[str, object] = {"server_version": version_text(self.ctx)}
        if table.live is not None:
            evidence["table_rows"] = table.live.row_estimate
            evidence["table_bytes"] = table.live.total_bytes
        return evidence

    def is_big(self, table: TableState) -> bool:
        live = table.live
        if live is None:
            return False
        rows = self.ctx.options.threshold("migration.mysql_big_table_rows", BIG_ROWS)
        size = self.ctx.options.threshold("migration.mysql_big_table_bytes", BIG_BYTES)
        return (live.row_estimate or 0) >= rows or (live.total_bytes or 0) >= size

    def scaled(self, rule_id: str, assessment: Assessment | None, table: TableState, explicit_safe: bool,
               base: Severity | None = None) -> Severity | None:
        """Severity raised on big live tables: blocking work becomes a blocker, a rebuild one level up."""
        if not self.is_big(table):
            return base
        severity = base or rule_doc(rule_id).severity
        if assessment is not None and assessment.blocks_writes:
            return Severity.BLOCKER
        if assessment is not None and assessment.rebuilds_table and not explicit_safe:
            return {Severity.INFO: Severity.LOW, Severity.LOW: Severity.MEDIUM,
                    Severity.MEDIUM: Severity.HIGH}.get(severity, severity)
        return severity

    @staticmethod
    def obj(table: TableState, column: str | None = None) -> str:
        return ".".join(p for p in (table.schema, table.name, column) if p)

    # -- statements --------------------------------------------------------------------------

    def statement(self, stmt: MigrationStatement) -> None:
        if stmt.file != self.file:
            # each file runs in its own session (Flyway, Alembic, the mysql client): settings do not carry over
            self.file = stmt.file
            self.state.settings = {}
            self.lock_wait_reported = False
        st = read_statement(stmt.text)
        if st.kind == "unparsable":
            self.emit(stmt, "migration.unparsable", object_type=ObjectType.FILE, obj=stmt.file,
                      message=f"Statement {stmt.index} could not be read ({st.error}); its hazards were not checked.",
                      evidence={"statement_head": " ".join(stmt.text.split()[:6])[:80], "error": st.error})
            return
        settings = {**self.state.settings, **st.settings}
        if st.kind in DDL_KINDS and st.table is not None:
            self.lock_wait(stmt, st, settings)
        if st.kind in ("alter", "create_index", "drop_index"):
            self.alter(stmt, st, settings)
        elif st.kind in ("drop_table", "truncate"):
            self.drop_table(stmt, st)
        elif st.kind == "rename_table":
            for (schema, old), (_new_schema, new) in st.renames:
                table = self.state.table(schema, old)
                if table.created_here:
                    continue
                self.emit(stmt, "migration.mysql_rename", object_type=ObjectType.TABLE, obj=self.obj(table),
                          message=f"Renaming table {old} to {new} breaks every running query that names {old}.",
                          evidence={**self.size_evidence(table), "algorithm": "INSTANT", "lock": "EXCLUSIVE",
                                    "rebuilds_table": False})
        elif st.kind == "optimize":
            for schema, name in st.tables:
                table = self.state.table(schema, name)
                if table.created_here:
                    continue
                self.emit(stmt, "migration.mysql_table_rebuild", object_type=ObjectType.TABLE, obj=self.obj(table),
                          message=f"OPTIMIZE TABLE {name} rebuilds the table: online, but it rewrites every row "
                                  "and lags replicas.",
                          evidence={**self.size_evidence(table), "algorithm": "INPLACE", "lock": "NONE",
                                    "rebuilds_table": True},
                          fix=f"ALTER TABLE {table_sql(table)} FORCE, ALGORITHM=INPLACE, LOCK=NONE;",
                          severity=Severity.HIGH if self.is_big(table) else None)
        elif st.kind.startswith(("update", "delete")):
            self.dml(stmt, st)
        self.state.apply(st)

    def lock_wait(self, stmt: MigrationStatement, st: MyStatement, settings: dict[str, str]) -> None:
        if self.lock_wait_reported:
            return
        assert st.table is not None
        table = self.state.table(st.schema, st.table)
        if table.created_here:
            return
        value = settings.get("lock_wait_timeout")
        limit = self.ctx.options.threshold("migration.mysql_lock_wait_timeout_s", LOCK_WAIT_LIMIT_S)
        try:
            if value is not None and float(value) <= limit:
                return
        except ValueError:
            pass
        self.lock_wait_reported = True
        self.emit(stmt, "migration.mysql_lock_wait_timeout", object_type=ObjectType.TABLE, obj=self.obj(table),
                  message=f"DDL on {st.table} runs without a short lock_wait_timeout"
                          + (f" (it is {value} s)" if value else "")
                          + ": behind a long transaction it waits, and every query on the table queues behind it.",
                  evidence={"lock_wait_timeout": value, "limit_s": limit, "lock": "EXCLUSIVE (metadata lock)"},
                  fix="SET SESSION lock_wait_timeout = 5;")

    def alter(self, stmt: MigrationStatement, st: MyStatement, settings: dict[str, str]) -> None:
        assert st.table is not None
        table = self.state.table(st.schema, st.table)
        if table.created_here:
            return
        explicit_safe = (st.algorithm in SAFE_ALGORITHMS and st.lock in (None, "NONE", "DEFAULT")) or (
            st.algorithm in (None, "DEFAULT") and st.lock == "NONE")
        if st.algorithm == COPY or st.lock in ("SHARED", "EXCLUSIVE"):
            self.emit(stmt, "migration.mysql_blocking_alter", object_type=ObjectType.TABLE, obj=self.obj(table),
                      message=f"The ALTER on {st.table} asks for "
                              + ", ".join(x for x in (st.algorithm and f"ALGORITHM={st.algorithm}",
                                                      st.lock and f"LOCK={st.lock}") if x)
                              + ": writes to the table are blocked for the whole operation.",
                      evidence={**self.size_evidence(table), "algorithm": st.algorithm or COPY,
                                "lock": st.lock or "SHARED", "rebuilds_table": st.algorithm == COPY},
                      severity=Severity.BLOCKER if self.is_big(table) else None)
        for op in st.ops:
            a = assess(op, table, self.ctx, st, settings)
            if a.rule_id is None:
                continue
            if explicit_safe and a.rule_id in ("migration.mysql_instant_available", "migration.mysql_online_index",
                                               "migration.mysql_inplace_rebuild", "migration.mysql_table_rebuild"):
                continue
            severity = None
            if a.rule_id == "migration.mysql_column_type_change" and a.algorithm is None:
                severity = Severity.MEDIUM
            if a.rule_id == "migration.mysql_primary_key_change" and not a.blocks_writes:
                severity = Severity.MEDIUM
            if a.rule_id == "migration.mysql_rename" and a.rebuilds_table:
                severity = Severity.HIGH
            severity = self.scaled(a.rule_id, a, table, explicit_safe, severity)
            column = op.column if op.kind not in ("add_index", "add_fulltext", "add_spatial") else None
            if op.kind == "modify_column" and op.new_name and a.rule_id != "migration.mysql_rename":
                self.emit(stmt, "migration.mysql_rename", object_type=ObjectType.COLUMN, obj=self.obj(table, column),
                          message=f"CHANGE renames {op.column} to {op.new_name}, which breaks every running query "
                                  f"that names {op.column}.",
                          evidence={**self.size_evidence(table), "algorithm": a.algorithm, "lock": a.lock,
                                    "rebuilds_table": a.rebuilds_table, "operation": op.kind})
            self.emit(stmt, a.rule_id, object_type=ObjectType.COLUMN if column else ObjectType.TABLE,
                      obj=self.obj(table, column), message=_sentence(a.message),
                      evidence={**self.size_evidence(table), "algorithm": a.algorithm, "lock": a.lock,
                                "rebuilds_table": a.rebuilds_table, "operation": op.kind},
                      fix=self.fix(st, op, a), severity=severity)

    def fix(self, st: MyStatement, op: AlterOp, a: Assessment) -> str | None:
        if a.rule_id in ("migration.mysql_drop_column", "migration.mysql_rename") or a.clause is None:
            return None
        if a.rule_id == "migration.mysql_not_null_without_default" and op.spec is not None:
            default = implicit_default(op.spec.type_text)
            if default is None:
                return None
            return f"ALTER TABLE {st.table_sql} ADD COLUMN {column_sql(op)} DEFAULT {default}, {a.clause};"
        if st.kind == "create_index":
            clause = index_as_alter(st.text)
            return f"ALTER TABLE {st.table_sql} {clause}, {a.clause};" if clause else None
        if st.kind == "drop_index":
            return f"ALTER TABLE {st.table_sql} DROP INDEX `{op.new_name}`, {a.clause};"
        return f"ALTER TABLE {st.table_sql} {op.text}, {a.clause};"

    def drop_table(self, stmt: MigrationStatement, st: MyStatement) -> None:
        for schema, name in st.tables:
            table = self.state.table(schema, name)
            if table.created_here:
                continue
            verb = "Dropping" if st.kind == "drop_table" else "Truncating"
            self.emit(stmt, "migration.mysql_drop_table", object_type=ObjectType.TABLE, obj=self.obj(table),
                      message=f"{verb} {name} destroys its data; nothing brings it back but a backup.",
                      evidence={**self.size_evidence(table), "irreversible": True})

    def dml(self, stmt: MigrationStatement, st: MyStatement) -> None:
        if st.table is None:
            return
        table = self.state.table(st.schema, st.table)
        if table.created_here or is_batched(st) or _one_row(st, table):
            return
        rows = table.live.row_estimate if table.live is not None else None
        severity = None
        if rows is not None and rows < self.ctx.options.threshold("migration.mysql_small_table_rows", 10_000):
            severity = Severity.LOW
        elif self.is_big(table):
            severity = Severity.HIGH
        verb = "UPDATE" if st.kind.startswith("update") else "DELETE"
        self.emit(stmt, "migration.mysql_unbatched_dml", object_type=ObjectType.TABLE, obj=self.obj(table),
                  message=f"{verb} on {st.table} "
                          + ("without WHERE changes every row" if st.where is None else "changes all matching rows")
                          + " in one transaction: row locks on all of them, one long replicated event.",
                  evidence={**self.size_evidence(table), "where": st.where, "multi_table": st.kind.endswith("_multi")},
                  fix=batched_dml(st, table), severity=severity)


def _one_row(st: MyStatement, table: TableState) -> bool:
    """`WHERE pk = value` on a one-column primary key touches at most one row."""
    if st.where is None or len(table.primary_key) != 1:
        return False
    key = re.escape(table.primary_key[0])
    return re.fullmatch(rf"\s*`?{key}`?\s*=\s*('[^']*'|[\w.+-]+)\s*", st.where, re.IGNORECASE) is not None


def table_sql(table: TableState) -> str:
    return f"`{table.schema}`.`{table.name}`" if table.schema else f"`{table.name}`"


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else text


def lint_mysql(script: MigrationScript, ctx: MigrationContext) -> tuple[list[Finding], list[Suppression]]:
    """Findings located at their statements, and the findings the author suppressed."""
    linter = _Linter(ctx)
    for stmt in script.statements:
        linter.statement(stmt)
    return linter.findings, linter.suppressed

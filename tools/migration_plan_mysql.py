"""The safe plan for a MySQL/MariaDB migration: online ALTERs with explicit algorithms, expand/contract, batches.

MySQL DDL is never transactional, so every DDL step runs on its own (transactional=False) after
`SET SESSION lock_wait_timeout`, with the ALGORITHM/LOCK clause written out so the server refuses
instead of silently copying. A type change or a column rename becomes expand/contract (new column,
triggers that keep both in step, batched backfill, switch, safety-net rename, drop); a big UPDATE or
DELETE becomes LIMIT batches repeated until they change no row. No max_statement_time is set on DDL:
killing an ALTER throws away all its work, and the wait that blocks traffic is bounded by
lock_wait_timeout already.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbsage.tools.catalog import Dialect
from dbsage.tools.findings import Location
from dbsage.tools.migration_model import MigrationContext, MigrationScript, MigrationStatement, Phase, Step
from dbsage.tools.migration_mysql_ops import (
    BATCH_ROWS,
    COPY,
    ColumnDef,
    ScriptState,
    TableState,
    assess,
    batched_dml,
    column_sql,
    implicit_default,
    index_as_alter,
    order_by_key,
)
from dbsage.tools.migration_mysql_read import AlterOp, MyStatement, is_batched, quote, read_statement
from dbsage.tools.sources.ddl_sqltokens import Cursor, tokenize

LOCK_WAIT_S = 5
_NOT_NULL = re.compile(r"\bNOT\s+NULL\b", re.IGNORECASE)
_KEY_WORDS = re.compile(r"\b(PRIMARY\s+KEY|UNIQUE(\s+KEY)?|AUTO_INCREMENT)\b", re.IGNORECASE)
_LEADING_NAME = re.compile(r"^\s*(`(?:[^`]|``)*`|[\w$]+)")


def _ignore(*rules: str) -> str:
    return f"-- dbsage: ignore {', '.join(rules)}\n"


@dataclass
class _Ctx:
    stmt: MigrationStatement
    st: MyStatement
    table: TableState


class _Planner:
    def __init__(self, ctx: MigrationContext) -> None:
        self.ctx = ctx
        self.state = ScriptState(ctx)
        self.steps: list[Step] = []
        self.notes: list[str] = []
        self.lock_ms = LOCK_WAIT_S * 1000
        self.mariadb = ctx.dialect is Dialect.MARIADB

    # -- building steps ----------------------------------------------------------------------

    def timed(self, sql: str) -> str:
        return f"SET SESSION lock_wait_timeout = {LOCK_WAIT_S};\n{sql}"

    def add(self, phase: Phase, description: str, sql: str, *, source: Location, lock: str | None = None,
            target: str | None = None, rollback: str | None = None, irreversible: bool = False,
            ddl: bool = True, repeat: str = "once") -> None:
        self.steps.append(Step(
            number=len(self.steps) + 1, phase=phase, description=description,
            sql=self.timed(sql) if ddl else sql, transactional=not ddl,
            lock=lock, lock_target=target, lock_timeout_ms=self.lock_ms if ddl else None,
            statement_timeout_ms=None, repeat="until_no_rows" if repeat == "until_no_rows" else "once",
            rollback_sql=(self.timed(rollback) if ddl else rollback) if rollback else None,
            irreversible=irreversible, source=source,
        ))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def supports_rename_column(self) -> bool:
        return self.ctx.server_version_num >= (100502 if self.mariadb else 80000)

    def instant(self, op: AlterOp, c: _Ctx) -> str:
        """The clause for an operation that has an online form (INSTANT where the version allows it)."""
        a = assess(op, c.table, self.ctx, c.st, self.state.settings)
        return a.clause or "ALGORITHM=INPLACE, LOCK=NONE"

    def drop_column_clause(self) -> str:
        v = self.ctx.server_version_num
        instant = v >= 100400 if self.mariadb else v >= 80029
        return "ALGORITHM=INSTANT" if instant else "ALGORITHM=INPLACE, LOCK=NONE"

    def add_column_clause(self, positioned: bool, table: TableState) -> str:
        v = self.ctx.server_version_num
        if table.has_fulltext:
            return "ALGORITHM=INPLACE, LOCK=NONE"
        if self.mariadb:
            instant = v >= 100400 or (not positioned and v >= 100302)
        else:
            instant = v >= 80029 or (not positioned and v >= 80012)
        return "ALGORITHM=INSTANT" if instant else "ALGORITHM=INPLACE, LOCK=NONE"

    def rename_clause(self, old: str, new: str, definition: ColumnDef | None) -> str | None:
        if definition is not None and definition.sql is not None:
            return f"CHANGE COLUMN {quote(old)} {_renamed(definition.sql, new)}"
        if self.supports_rename_column():
            return f"RENAME COLUMN {quote(old)} TO {quote(new)}"
        return None

    def rename_algorithm(self) -> str:
        v = self.ctx.server_version_num
        return "ALGORITHM=INSTANT" if (v >= 100300 if self.mariadb else v >= 80028) else "ALGORITHM=INPLACE, LOCK=NONE"

    # -- statements --------------------------------------------------------------------------

    def statement(self, stmt: MigrationStatement) -> None:
        st = read_statement(stmt.text)
        loc = stmt.location
        if st.kind == "unparsable":
            self.note(f"{stmt.file} line {stmt.line}: statement not read ({st.error}); it is not in the plan.")
        elif st.kind == "set":
            pass  # the plan sets its own session settings per step
        elif st.kind == "create_table" and st.table:
            self.add(Phase.EXPAND, f"create table {st.table}", _terminated(stmt.text), source=loc,
                     lock="EXCLUSIVE (new table)", target=st.table,
                     rollback=f"DROP TABLE IF EXISTS {st.table_sql};")
        elif st.kind in ("alter", "create_index", "drop_index") and st.table:
            table = self.state.table(st.schema, st.table)
            if table.created_here:
                self.add(Phase.EXPAND, f"change {st.table}, created earlier in this migration",
                         _terminated(stmt.text), source=loc, lock="EXCLUSIVE (new, empty table)", target=st.table)
            else:
                self.alter(_Ctx(stmt, st, table))
        elif st.kind == "rename_table":
            for (schema, old), (new_schema, new) in st.renames:
                self.rename_table(loc, schema, old, new_schema, new)
        elif st.kind == "drop_table":
            for schema, name in st.tables:
                self.drop_table(loc, schema, name)
        elif st.kind == "optimize":
            for schema, name in st.tables:
                sql_name = f"{quote(schema)}.{quote(name)}" if schema else quote(name)
                self.add(Phase.EXPAND, f"rebuild {name} online", f"ALTER TABLE {sql_name} FORCE, "
                         "ALGORITHM=INPLACE, LOCK=NONE;", source=loc, lock="NONE (online rebuild)", target=name)
        elif st.kind in ("update", "delete") and st.table:
            self.dml(stmt, st)
        else:
            ddl = st.kind in ("truncate", "create_trigger", "other") and not re.match(
                r"\s*(INSERT|REPLACE|UPDATE|DELETE|SELECT|WITH)\b", stmt.text, re.IGNORECASE)
            self.add(Phase.EXPAND, "run as written: " + " ".join(stmt.text.split()[:4]), _terminated(stmt.text),
                     source=loc, ddl=ddl, irreversible=st.kind == "truncate")
            if st.kind.endswith("_multi"):
                self.note(f"{stmt.file} line {stmt.line}: a multi-table UPDATE/DELETE is kept as written; batch "
                          "it by primary key ranges by hand.")
        self.state.apply(st)

    # -- ALTER TABLE -------------------------------------------------------------------------

    def alter(self, c: _Ctx) -> None:
        st, loc = c.st, c.stmt.location
        ops = list(st.ops)
        if any(o.kind == "drop_primary" for o in ops) and any(o.kind == "add_primary" for o in ops):
            pk_ops = [o for o in ops if o.kind in ("drop_primary", "add_primary")]
            ops = [o for o in ops if o not in pk_ops]
            self.add(Phase.EXPAND, f"replace the primary key of {st.table} in one online rebuild",
                     f"ALTER TABLE {st.table_sql} {', '.join(o.text for o in pk_ops)}, ALGORITHM=INPLACE, LOCK=NONE;",
                     source=loc, lock="NONE (online rebuild)", target=st.table)
            self.note(f"{c.stmt.file} line {c.stmt.line}: the primary key change has no generated rollback; "
                      "write the reverse ALTER by hand.")
        for op in ops:
            handler = getattr(self, "op_" + op.kind, None)
            if handler is not None:
                handler(c, op)
            else:
                self.as_written(c, op)

    def as_written(self, c: _Ctx, op: AlterOp, why: str | None = None) -> None:
        a = assess(op, c.table, self.ctx, c.st, self.state.settings)
        if a.clause is not None:
            clause = a.clause
        elif c.st.algorithm or c.st.lock:
            clause = ", ".join(x for x in (c.st.algorithm and f"ALGORITHM={c.st.algorithm}",
                                            c.st.lock and f"LOCK={c.st.lock}") if x)
        else:
            clause = ""
        body = op.text
        if c.st.kind == "create_index":
            body = index_as_alter(c.st.text) or op.text
        sql = f"ALTER TABLE {c.st.table_sql} {body}{', ' + clause if clause else ''};"
        blocking = a.clause is None and (a.blocks_writes or a.algorithm == COPY)
        if blocking:
            self.note(f"{c.stmt.file} line {c.stmt.line}: {op.kind.replace('_', ' ')} on {c.st.table} has no "
                      "online form on this server; run it with gh-ost or pt-online-schema-change, or in a quiet "
                      "window." + (f" {why}" if why else ""))
        elif why:
            self.note(f"{c.stmt.file} line {c.stmt.line}: {why}")
        self.add(Phase.EXPAND, f"{op.kind.replace('_', ' ')} on {c.st.table}"
                 + (" (blocks writes: no online form)" if blocking else ""), sql, source=c.stmt.location,
                 lock=(a.lock or "unknown") + (" (table copy)" if a.algorithm == COPY else ""), target=c.st.table)

    def op_add_column(self, c: _Ctx, op: AlterOp) -> None:
        assert op.spec is not None and op.column is not None
        spec, definition = op.spec, column_sql(op) or op.text
        a = assess(op, c.table, self.ctx, c.st, self.state.settings)
        if a.clause is None:
            self.as_written(c, op)
            return
        placement = " FIRST" if spec.first else (f" AFTER {quote(spec.after)}" if spec.after else "")
        clause = self.add_column_clause(bool(placement), c.table)
        drop = f"ALTER TABLE {c.st.table_sql} DROP COLUMN {quote(op.column)}, {self.drop_column_clause()};"
        default = implicit_default(spec.type_text)
        if a.rule_id == "migration.mysql_not_null_without_default" and default is not None:
            self.add(Phase.EXPAND, f"add {op.column} with an explicit DEFAULT {default} (what existing rows get)",
                     f"ALTER TABLE {c.st.table_sql} ADD COLUMN {definition} DEFAULT {default}{placement}, {clause};",
                     source=c.stmt.location, lock="NONE", target=c.st.table, rollback=drop)
            self.add(Phase.SWITCH, f"drop the temporary default of {op.column} once the application writes it",
                     f"ALTER TABLE {c.st.table_sql} ALTER COLUMN {quote(op.column)} DROP DEFAULT, ALGORITHM=INSTANT;",
                     source=c.stmt.location, lock="NONE", target=c.st.table,
                     rollback=f"ALTER TABLE {c.st.table_sql} ALTER COLUMN {quote(op.column)} SET DEFAULT {default}, "
                              "ALGORITHM=INSTANT;")
            return
        self.add(Phase.EXPAND, f"add column {op.column} to {c.st.table}",
                 f"ALTER TABLE {c.st.table_sql} ADD COLUMN {definition}{placement}, {clause};",
                 source=c.stmt.location, lock="NONE", target=c.st.table, rollback=drop)

    def op_drop_column(self, c: _Ctx, op: AlterOp) -> None:
        assert op.column is not None
        old = c.table.columns.get(op.column.lower())
        deprecated = _deprecated(op.column)
        rename = self.rename_clause(op.column, deprecated, _relaxed(old) if old else None)
        target = op.column
        if rename is not None:
            back = self.rename_clause(deprecated, op.column, old) or ""
            self.add(Phase.CONTRACT, f"safety net: rename {op.column} to {deprecated} so forgotten readers fail "
                     "loudly while the data is still there", _ignore("migration.mysql_rename")
                     + f"ALTER TABLE {c.st.table_sql} {rename}, {self.rename_algorithm()};",
                     source=c.stmt.location, lock="NONE", target=c.st.table,
                     rollback=f"ALTER TABLE {c.st.table_sql} {back}, {self.rename_algorithm()};" if back else None)
            target = deprecated
        self.add(Phase.CONTRACT, f"drop {target} for good, a release after nothing reads it (irreversible)",
                 _ignore("migration.mysql_drop_column")
                 + f"ALTER TABLE {c.st.table_sql} DROP COLUMN {quote(target)}, {self.drop_column_clause()};",
                 source=c.stmt.location, lock="NONE", target=c.st.table, irreversible=True)

    def op_rename_column(self, c: _Ctx, op: AlterOp) -> None:
        assert op.column is not None and op.new_name is not None
        old = c.table.columns.get(op.column.lower())
        if old is None or old.sql is None:
            self.rename_in_place(c, op, "the column's definition is unknown (give --dsn or the CREATE TABLE), so "
                                        "no expand/contract was generated")
            return
        new_sql = _renamed(old.sql, op.new_name)
        self.expand_contract(c, old, new_sql, op.new_name)

    def rename_in_place(self, c: _Ctx, op: AlterOp, why: str) -> None:
        assert op.column is not None and op.new_name is not None
        old = c.table.columns.get(op.column.lower())
        forward = self.rename_clause(op.column, op.new_name, old)
        back = self.rename_clause(op.new_name, op.column, old)
        self.note(f"{c.stmt.file} line {c.stmt.line}: rename of {op.column} kept as one step: {why}; deploy the "
                  "code that uses the new name at the same moment.")
        self.add(Phase.SWITCH, f"rename {op.column} to {op.new_name} (breaks code using the old name)",
                 f"ALTER TABLE {c.st.table_sql} {forward or op.text}, "
                 f"{self.rename_algorithm()};", source=c.stmt.location, lock="NONE", target=c.st.table,
                 rollback=f"ALTER TABLE {c.st.table_sql} {back}, {self.rename_algorithm()};" if back else None)

    def op_modify_column(self, c: _Ctx, op: AlterOp) -> None:
        assert op.spec is not None and op.column is not None
        a = assess(op, c.table, self.ctx, c.st, self.state.settings)
        old = c.table.columns.get(op.column.lower())
        final = op.new_name or op.column
        definition = column_sql(op)
        if a.algorithm == COPY and old is not None and old.sql is not None and definition:
            self.expand_contract(c, old, definition, final)
            return
        if op.new_name is not None and old is not None and old.sql is not None and definition and a.clause:
            # a rename that also changes metadata: expand/contract with the new definition
            self.expand_contract(c, old, definition, final)
            return
        clause = a.clause or "ALGORITHM=INPLACE, LOCK=NONE"
        rollback = None
        if old is not None and old.sql is not None:
            back_name = quote(final)
            rollback = f"ALTER TABLE {c.st.table_sql} CHANGE COLUMN {back_name} {old.sql};"
        else:
            self.note(f"{c.stmt.file} line {c.stmt.line}: the previous definition of {op.column} is unknown (give "
                      "--dsn or the CREATE TABLE), so the step has no rollback; if the server refuses "
                      f"{clause}, the change needs a table copy: use gh-ost or pt-online-schema-change.")
        self.add(Phase.EXPAND, f"redefine {op.column} on {c.st.table} online", f"ALTER TABLE {c.st.table_sql} "
                 f"{op.text}, {clause};", source=c.stmt.location, lock="NONE", target=c.st.table, rollback=rollback)

    def op_set_default(self, c: _Ctx, op: AlterOp) -> None:
        self.default_change(c, op)

    def op_drop_default(self, c: _Ctx, op: AlterOp) -> None:
        self.default_change(c, op)

    def default_change(self, c: _Ctx, op: AlterOp) -> None:
        assert op.column is not None
        old = c.table.columns.get(op.column.lower())
        rollback = None
        if old is not None:
            back = f"SET DEFAULT {old.default}" if old.default is not None else "DROP DEFAULT"
            rollback = f"ALTER TABLE {c.st.table_sql} ALTER COLUMN {quote(op.column)} {back}, ALGORITHM=INSTANT;"
        self.add(Phase.EXPAND, f"change the default of {op.column} (metadata only)",
                 f"ALTER TABLE {c.st.table_sql} {op.text}, {self.instant(op, c)};", source=c.stmt.location,
                 lock="NONE", target=c.st.table, rollback=rollback)

    def op_add_index(self, c: _Ctx, op: AlterOp) -> None:
        body = index_as_alter(c.st.text) if c.st.kind == "create_index" else op.text
        name = op.key.name if op.key is not None else None
        if body is None or name is None:
            self.as_written(c, op, "the index has no name, so the step has no rollback")
            return
        self.add(Phase.EXPAND, f"build index {name} online", f"ALTER TABLE {c.st.table_sql} {body}, "
                 "ALGORITHM=INPLACE, LOCK=NONE;", source=c.stmt.location, lock="NONE", target=c.st.table,
                 rollback=f"ALTER TABLE {c.st.table_sql} DROP INDEX {quote(name)}, ALGORITHM=INPLACE, LOCK=NONE;")

    def op_drop_index(self, c: _Ctx, op: AlterOp) -> None:
        name = op.new_name or ""
        index = c.table.indexes.get(name.lower())
        self.add(Phase.CONTRACT, f"drop index {name}", f"ALTER TABLE {c.st.table_sql} DROP INDEX {quote(name)}, "
                 "ALGORITHM=INPLACE, LOCK=NONE;", source=c.stmt.location, lock="NONE", target=c.st.table,
                 rollback=f"ALTER TABLE {c.st.table_sql} {index.clause()}, ALGORITHM=INPLACE, LOCK=NONE;"
                 if index is not None else None)

    def op_add_foreign_key(self, c: _Ctx, op: AlterOp) -> None:
        fk = op.fk
        assert fk is not None
        if not fk.ref_columns:
            self.as_written(c, op)
            return
        text = op.text
        name = fk.name
        if name is None:
            name = f"fk_{c.st.table}_{'_'.join(fk.columns)}"[:64]
            text = re.sub(r"^\s*ADD\s+", f"ADD CONSTRAINT {quote(name)} ", text, count=1, flags=re.IGNORECASE)
            self.note(f"{c.stmt.file} line {c.stmt.line}: the foreign key is named {name} so the plan can drop it "
                      "on rollback.")
        parent = f"{quote(fk.ref_schema)}.{quote(fk.ref_table)}" if fk.ref_schema else quote(fk.ref_table)
        join = " AND ".join(f"p.{quote(ref)} = c.{quote(col)}"
                            for col, ref in zip(fk.columns, fk.ref_columns, strict=False))
        present = " AND ".join(f"c.{quote(col)} IS NOT NULL" for col in fk.columns)
        self.add(Phase.EXPAND, f"check for orphans before adding {name} unchecked: the count must be 0",
                 f"SELECT COUNT(*) AS orphans FROM {c.st.table_sql} c LEFT JOIN {parent} p ON {join} "
                 f"WHERE {present} AND p.{quote(fk.ref_columns[0])} IS NULL;", source=c.stmt.location, ddl=False)
        self.add(Phase.EXPAND, f"add foreign key {name} in place (checks off, orphans checked in the previous step)",
                 f"SET SESSION foreign_key_checks = 0;\nALTER TABLE {c.st.table_sql} {text}, "
                 "ALGORITHM=INPLACE, LOCK=NONE;\nSET SESSION foreign_key_checks = 1;", source=c.stmt.location,
                 lock="NONE", target=c.st.table,
                 rollback=f"ALTER TABLE {c.st.table_sql} DROP FOREIGN KEY {quote(name)};")
        self.note(f"{c.stmt.file} line {c.stmt.line}: InnoDB creates an index for the foreign key if none exists; "
                  "the rollback drops the constraint, not that index.")

    def op_rebuild(self, c: _Ctx, op: AlterOp) -> None:
        self.as_written(c, op)

    def op_rename_table(self, c: _Ctx, op: AlterOp) -> None:
        assert op.new_name is not None
        self.rename_table(c.stmt.location, c.st.schema, c.st.table or "", c.st.schema, op.new_name)

    # -- expand / contract -------------------------------------------------------------------

    def expand_contract(self, c: _Ctx, old: ColumnDef, new_sql: str, final: str) -> None:
        """Add the new column, keep it in step with triggers, backfill in batches, switch, drop the old one."""
        assert old.sql is not None
        t, loc, table = c.st.table_sql, c.stmt.location, c.table
        old_name = old.name
        if old_name.lower() in (k.lower() for k in table.primary_key) or old_name.lower() in table.foreign_key_columns:
            op = AlterOp("modify_column", f"CHANGE COLUMN {quote(old_name)} {new_sql}", column=old_name)
            self.note(f"{c.stmt.file} line {c.stmt.line}: {old_name} is part of a primary or foreign key; "
                      "expand/contract would have to rebuild the keys, so use gh-ost or pt-online-schema-change.")
            self.add(Phase.EXPAND, f"change {old_name} as written (key column: no online form)",
                     f"ALTER TABLE {t} {op.text};", source=loc, lock="SHARED (table copy)", target=c.st.table)
            return
        if _KEY_WORDS.search(new_sql):
            self.note(f"{c.stmt.file} line {c.stmt.line}: the new definition of {old_name} declares a key or "
                      "AUTO_INCREMENT, which expand/contract cannot carry; use gh-ost or pt-online-schema-change.")
        renaming = final.lower() != old_name.lower()
        tmp = final if renaming else f"{old_name}__new"[:64]
        deprecated = _deprecated(old_name)
        # no DEFAULT yet: existing rows must read NULL so the backfill finds them
        tmp_sql = _without_default(_nullable(_KEY_WORDS.sub("", _renamed(new_sql, tmp))))
        final_null_sql = _nullable(_KEY_WORDS.sub("", _renamed(new_sql, final)))
        trigger = f"{c.st.table}_{old_name}"[:50]
        ins, upd = quote(f"{trigger}_sync_ins"), quote(f"{trigger}_sync_upd")
        o, n = quote(old_name), quote(tmp)
        self.add(Phase.EXPAND, f"add {tmp}, the new {'name' if renaming else 'definition'} of {old_name}, "
                 "nullable for now", f"ALTER TABLE {t} ADD COLUMN {tmp_sql} AFTER {o}, "
                 f"{self.add_column_clause(True, table)};", source=loc, lock="NONE", target=c.st.table,
                 rollback=f"ALTER TABLE {t} DROP COLUMN {n}, {self.drop_column_clause()};")
        if renaming and _normal(old.sql) == _normal(_renamed(new_sql, old_name)):
            # a pure rename: both names stay writable until the contract phase
            insert_body = f"SET NEW.{n} = COALESCE(NEW.{n}, NEW.{o}), NEW.{o} = COALESCE(NEW.{o}, NEW.{n})"
            update_body = (f"SET NEW.{n} = IF(NEW.{o} <=> OLD.{o}, NEW.{n}, NEW.{o}), "
                           f"NEW.{o} = IF(NEW.{n} <=> OLD.{n}, NEW.{o}, NEW.{n})")
        else:
            insert_body = f"SET NEW.{n} = COALESCE(NEW.{n}, NEW.{o})"
            update_body = f"SET NEW.{n} = IF(NEW.{o} <=> OLD.{o}, NEW.{n}, NEW.{o})"
        self.add(Phase.EXPAND, f"trigger: inserts fill {tmp} from {old_name}",
                 f"CREATE TRIGGER {ins} BEFORE INSERT ON {t} FOR EACH ROW {insert_body};", source=loc,
                 lock="EXCLUSIVE (metadata, brief)", target=c.st.table, rollback=f"DROP TRIGGER IF EXISTS {ins};")
        self.add(Phase.EXPAND, f"trigger: updates of {old_name} reach {tmp}",
                 f"CREATE TRIGGER {upd} BEFORE UPDATE ON {t} FOR EACH ROW {update_body};", source=loc,
                 lock="EXCLUSIVE (metadata, brief)", target=c.st.table, rollback=f"DROP TRIGGER IF EXISTS {upd};")
        self.add(Phase.BACKFILL, f"copy {old_name} into {tmp} in batches of {BATCH_ROWS}; repeat until no row "
                 "changes", f"UPDATE {t} SET {n} = {o} WHERE {n} IS NULL AND {o} IS NOT NULL{order_by_key(table)} "
                 f"LIMIT {BATCH_ROWS};", source=loc, ddl=False, repeat="until_no_rows")
        self.note(f"{c.stmt.file} line {c.stmt.line}: each backfill batch finds its rows with `{tmp} IS NULL`, which "
                  "scans from the start of the table; on very large tables run the backfill by primary key ranges.")
        # keep existing indexes: build the same ones on the new column now, swap names in the contract phase
        moved = [ix for ix in table.indexes.values() if ix.uses(old_name)]
        for ix in moved:
            new_index = f"{ix.name}__new"[:64]
            self.add(Phase.EXPAND, f"build {new_index}, the copy of index {ix.name} on {tmp}",
                     f"ALTER TABLE {t} {ix.clause(new_index, (old_name, tmp))}, ALGORITHM=INPLACE, LOCK=NONE;",
                     source=loc, lock="NONE", target=c.st.table,
                     rollback=f"ALTER TABLE {t} DROP INDEX {quote(new_index)}, ALGORITHM=INPLACE, LOCK=NONE;")
        relaxed = _relaxed(old)
        old_back = old.sql
        separate_relax = old.not_null and old.default is None and implicit_default(old.type_text) is None
        # what a rollback of the swap or the safety-net rename restores (a separate relax step restores the rest)
        restore = (relaxed.sql if separate_relax else old_back) or old_back
        if separate_relax:
            self.add(Phase.EXPAND, f"make {old_name} nullable so writers that stop naming it keep working "
                     "(online rebuild)", f"ALTER TABLE {t} MODIFY COLUMN {relaxed.sql}, ALGORITHM=INPLACE, LOCK=NONE;",
                     source=loc, lock="NONE (online rebuild)", target=c.st.table,
                     rollback=f"ALTER TABLE {t} MODIFY COLUMN {old_back}, ALGORITHM=INPLACE, LOCK=NONE;")
        final_sql = _renamed(new_sql, final)
        if not renaming:
            self.add(Phase.SWITCH, f"swap: {old_name} becomes {deprecated}, {tmp} becomes {old_name} (writes wait "
                     "milliseconds under LOCK TABLES)",
                     f"LOCK TABLES {t} WRITE;\nDROP TRIGGER {ins};\nDROP TRIGGER {upd};\n"
                     + _ignore("migration.mysql_rename")
                     + f"ALTER TABLE {t} CHANGE COLUMN {o} {_renamed(relaxed.sql or old_back, deprecated)}, "
                     f"CHANGE COLUMN {n} {final_null_sql}, {self.rename_algorithm()};\nUNLOCK TABLES;",
                     source=loc, lock="WRITE (LOCK TABLES, milliseconds)", target=c.st.table,
                     rollback=_ignore("migration.mysql_rename") + f"ALTER TABLE {t} CHANGE COLUMN {quote(final)} "
                     f"{tmp_sql}, CHANGE COLUMN {quote(deprecated)} {_renamed(restore, old_name)}, "
                     f"{self.rename_algorithm()};")
        if _NOT_NULL.search(new_sql):
            self.add(Phase.SWITCH, f"give {final} its full definition: NOT NULL now that every row has a value "
                     "(online rebuild)", f"ALTER TABLE {t} MODIFY COLUMN {final_sql}, ALGORITHM=INPLACE, LOCK=NONE;",
                     source=loc, lock="NONE (online rebuild)", target=c.st.table,
                     rollback=f"ALTER TABLE {t} MODIFY COLUMN {_renamed(tmp_sql, final)}, ALGORITHM=INPLACE, "
                              "LOCK=NONE;")
        elif renaming and _normal(tmp_sql) != _normal(final_sql):
            self.add(Phase.SWITCH, f"give {final} its default (metadata only)",
                     f"ALTER TABLE {t} MODIFY COLUMN {final_sql}, ALGORITHM=INSTANT;", source=loc, lock="NONE",
                     target=c.st.table, rollback=f"ALTER TABLE {t} MODIFY COLUMN {tmp_sql}, ALGORITHM=INSTANT;")
        if renaming:
            self.add(Phase.CONTRACT, f"stop syncing and rename {old_name} to {deprecated} once the code uses "
                     f"{final} (safety net: forgotten readers fail loudly, data kept)",
                     f"DROP TRIGGER IF EXISTS {ins};\nDROP TRIGGER IF EXISTS {upd};\n"
                     + _ignore("migration.mysql_rename")
                     + f"ALTER TABLE {t} CHANGE COLUMN {o} {_renamed(relaxed.sql or old_back, deprecated)}, "
                     f"{self.rename_algorithm()};", source=loc, lock="NONE", target=c.st.table,
                     rollback=_ignore("migration.mysql_rename") + f"ALTER TABLE {t} CHANGE COLUMN {quote(deprecated)} "
                     f"{_renamed(restore, old_name)}, {self.rename_algorithm()};")
        for ix in moved:
            new_index = f"{ix.name}__new"[:64]
            self.add(Phase.CONTRACT, f"drop index {ix.name} on the old column and give {new_index} its name",
                     f"ALTER TABLE {t} DROP INDEX {quote(ix.name)}, RENAME INDEX {quote(new_index)} TO "
                     f"{quote(ix.name)}, ALGORITHM=INPLACE, LOCK=NONE;", source=loc, lock="NONE", target=c.st.table,
                     rollback=f"ALTER TABLE {t} RENAME INDEX {quote(ix.name)} TO {quote(new_index)}, "
                              f"{ix.clause(rename=(old_name, deprecated))}, ALGORITHM=INPLACE, LOCK=NONE;")
        self.add(Phase.CONTRACT, f"drop {deprecated} for good, a release after nothing reads it (irreversible)",
                 _ignore("migration.mysql_drop_column")
                 + f"ALTER TABLE {t} DROP COLUMN {quote(deprecated)}, {self.drop_column_clause()};",
                 source=loc, lock="NONE", target=c.st.table, irreversible=True)

    # -- tables and data ---------------------------------------------------------------------

    def rename_table(self, loc: Location, schema: str | None, old: str, new_schema: str | None, new: str) -> None:
        old_sql = f"{quote(schema)}.{quote(old)}" if schema else quote(old)
        new_sql = f"{quote(new_schema)}.{quote(new)}" if new_schema else quote(new)
        table = self.state.table(schema, old)
        if table.created_here:
            self.add(Phase.EXPAND, f"rename {old} (created in this migration)", f"RENAME TABLE {old_sql} TO {new_sql};",
                     source=loc, lock="EXCLUSIVE (new table)", target=old,
                     rollback=f"RENAME TABLE {new_sql} TO {old_sql};")
            return
        self.add(Phase.EXPAND, f"rename {old} to {new} and leave an updatable view under the old name for code not "
                 "yet deployed", _ignore("migration.mysql_rename") + f"RENAME TABLE {old_sql} TO {new_sql};\n"
                 f"CREATE VIEW {old_sql} AS SELECT * FROM {new_sql};", source=loc,
                 lock="EXCLUSIVE (metadata, brief)", target=old,
                 rollback=f"DROP VIEW IF EXISTS {old_sql};\n" + _ignore("migration.mysql_rename")
                          + f"RENAME TABLE {new_sql} TO {old_sql};")
        self.add(Phase.CONTRACT, f"drop the bridge view {old} once no code uses the old name",
                 f"DROP VIEW IF EXISTS {old_sql};", source=loc, lock="EXCLUSIVE (metadata, brief)", target=old,
                 rollback=f"CREATE VIEW {old_sql} AS SELECT * FROM {new_sql};")
        self.note("The view bridging a table rename is created right after the rename: queries arriving in "
                  "between (milliseconds) fail; SELECT * in the view fixes its column list at creation.")

    def drop_table(self, loc: Location, schema: str | None, name: str) -> None:
        table = self.state.table(schema, name)
        name_sql = f"{quote(schema)}.{quote(name)}" if schema else quote(name)
        if table.created_here:
            self.add(Phase.CONTRACT, f"drop {name} (created in this migration)", f"DROP TABLE {name_sql};",
                     source=loc, lock="EXCLUSIVE (new table)", target=name, irreversible=True)
            return
        deprecated = _deprecated(name)
        dep_sql = f"{quote(schema)}.{quote(deprecated)}" if schema else quote(deprecated)
        self.add(Phase.CONTRACT, f"safety net: rename {name} to {deprecated} (instant; forgotten users fail "
                 "loudly while the data is kept)", _ignore("migration.mysql_rename")
                 + f"RENAME TABLE {name_sql} TO {dep_sql};", source=loc, lock="EXCLUSIVE (metadata, brief)",
                 target=name, rollback=_ignore("migration.mysql_rename") + f"RENAME TABLE {dep_sql} TO {name_sql};")
        self.add(Phase.CONTRACT, f"drop {deprecated} for good, a release later (irreversible)",
                 _ignore("migration.mysql_drop_table") + f"DROP TABLE {dep_sql};", source=loc,
                 lock="EXCLUSIVE (metadata)", target=name, irreversible=True)

    def dml(self, stmt: MigrationStatement, st: MyStatement) -> None:
        assert st.table is not None
        table = self.state.table(st.schema, st.table)
        if is_batched(st) or table.created_here:
            self.add(Phase.BACKFILL, f"{st.kind} as written (already a bounded batch, or a new table)",
                     _terminated(stmt.text), source=stmt.location, ddl=False)
            return
        batch = batched_dml(st, table)
        if batch is None:
            if not table.created_here:
                self.note(f"{stmt.file} line {stmt.line}: this {st.kind.upper()} could not be turned into "
                          "repeatable batches (its values read the columns it sets, or the clock); it runs as "
                          "written.")
            self.add(Phase.BACKFILL, f"{st.kind} as written", _terminated(stmt.text), source=stmt.location,
                     ddl=False)
            return
        self.add(Phase.BACKFILL, f"{st.kind} in batches of {BATCH_ROWS} rows; repeat until no row changes",
                 batch, source=stmt.location, ddl=False, repeat="until_no_rows")


_PHASE_ORDER = {Phase.EXPAND: 0, Phase.BACKFILL: 1, Phase.SWITCH: 2, Phase.CONTRACT: 3}


def _terminated(sql: str) -> str:
    sql = sql.strip()
    return sql if sql.endswith(";") else sql + ";"


def _renamed(definition: str, name: str) -> str:
    """A column definition with its leading name replaced."""
    return _LEADING_NAME.sub(lambda _m: quote(name), definition.strip(), count=1)


def _nullable(definition: str) -> str:
    if _NOT_NULL.search(definition):
        return _NOT_NULL.sub("NULL", definition)
    return definition


def _without_default(definition: str) -> str:
    """The column definition without its DEFAULT clause."""
    tokens = tokenize(definition)
    for i, token in enumerate(tokens):
        if token.is_word("DEFAULT") and i > 0:
            cur = Cursor(tokens, definition, i + 1)
            cur.expression()
            end = tokens[cur.pos - 1].end
            return (definition[: token.start].rstrip() + " " + definition[end:].lstrip()).strip()
    return definition


def _normal(definition: str) -> str:
    return re.sub(r"\s+", " ", definition.strip().lower())


def _deprecated(name: str) -> str:
    return f"{name[:50]}__deprecated"


def _relaxed(old: ColumnDef) -> ColumnDef:
    """The old column as it may stay while code stops writing it: given a DEFAULT, or nullable."""
    if old.sql is None or not old.not_null or old.default is not None:
        return old
    default = implicit_default(old.type_text)
    sql = f"{old.sql} DEFAULT {default}" if default is not None else _NOT_NULL.sub("NULL", old.sql)
    return ColumnDef(old.name, sql, old.type_text, default is not None, default, old.charset, old.collation,
                     old.generated, old.auto_increment)


def plan_mysql(script: MigrationScript, ctx: MigrationContext) -> tuple[list[Step], list[str]]:
    """The steps of the safe plan in run order, and notes on what could not be known or was assumed."""
    planner = _Planner(ctx)
    for stmt in script.statements:
        planner.statement(stmt)
    # deploy order: every expand step before any backfill, then switches, contracts last (stable within a phase)
    ordered = sorted(planner.steps, key=lambda s: _PHASE_ORDER[s.phase])
    steps = [s.model_copy(update={"number": i}) for i, s in enumerate(ordered, start=1)]
    planner.note(f"Every DDL step starts with SET SESSION lock_wait_timeout = {LOCK_WAIT_S}: on timeout, retry "
                 "the step. No max_statement_time is set on DDL (killing an ALTER throws away its work); "
                 "MySQL DDL commits on its own, so each step is its own unit and rollbacks run step by step.")
    return steps, planner.notes

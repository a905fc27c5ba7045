"""Safe rewrites of single PostgreSQL migration statements into draft steps.

Each function takes one parsed statement and returns the drafts that replace it: the statement itself when
it is already safe (with its rollback), or the multi-step rewrite (CONCURRENTLY builds, NOT VALID + VALIDATE,
expand/contract with a sync trigger, batched backfills, rename-to-deprecated before a drop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pglast import ast
from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType, ObjectType

from dbsage.tools.catalog import Column, Table
from dbsage.tools.migration_model import MigrationContext, Phase
from dbsage.tools.migration_sqlgen_postgres import (
    ACCESS_EXCLUSIVE,
    ROW_EXCLUSIVE,
    SHARE_ROW_EXCLUSIVE,
    SHARE_UPDATE_EXCLUSIVE,
    Draft,
    Rel,
    keyed_batch,
    not_null_drafts,
    obj_name,
    q,
    rel_of,
    show,
)

# Functions whose value changes per row: a default calling one rewrites the whole table when the column is added.
VOLATILE_FUNCTIONS = frozenset({
    "random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "clock_timestamp",
    "timeofday", "nextval", "txid_current", "setseed", "random_normal", "uuidv4", "uuidv7",
})
SERIAL_TYPES = {"serial": "integer", "serial4": "integer", "bigserial": "bigint", "serial8": "bigint",
                "smallserial": "smallint", "serial2": "smallint"}
SHARE_UPDATE_EXCLUSIVE_CMDS = {AT.AT_SetStatistics, AT.AT_SetOptions, AT.AT_ResetOptions, AT.AT_ValidateConstraint,
                               AT.AT_ClusterOn, AT.AT_DropCluster, AT.AT_AttachPartition}
SHARE_ROW_EXCLUSIVE_CMDS = {AT.AT_EnableTrig, AT.AT_DisableTrig, AT.AT_EnableAlwaysTrig, AT.AT_EnableReplicaTrig,
                            AT.AT_EnableTrigAll, AT.AT_DisableTrigAll, AT.AT_EnableTrigUser, AT.AT_DisableTrigUser}


@dataclass
class Scope:
    """What a rewrite may consult and record besides its statement."""

    ctx: MigrationContext
    find_table: Callable[[Rel], Table | None]
    is_new: Callable[[Rel], bool]
    where: str
    batch_rows: int
    notes: list[str] = field(default_factory=list)
    barriers: dict[str, Phase] = field(default_factory=dict)
    # leading plain columns of the indexes the whole script creates, per table label (lower-case)
    script_indexes: dict[str, list[list[str]]] = field(default_factory=dict)
    # tables whose earlier steps must all run before this statement's (it renames them away)
    follows: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(f"{self.where}: {text}")

    def barrier(self, name: str, phase: Phase) -> None:
        """Later statements naming `name` must not run before `phase` (their object changes there)."""
        self.barriers[name.lower()] = max(phase, self.barriers.get(name.lower(), Phase.EXPAND), key=PHASES.index)

    def column(self, rel: Rel, name: str) -> Column | None:
        table = self.find_table(rel)
        return table.column(name) if table else None

    def rel(self, node: ast.RangeVar | None) -> Rel:
        return rel_of(node, self.ctx.default_schema)


PHASES = [Phase.EXPAND, Phase.BACKFILL, Phase.SWITCH, Phase.CONTRACT]
# Rules the plan trips on purpose (see Draft.acknowledged).
RENAME_TABLE = "migration.rename_table"
RENAME_COLUMN = "migration.rename_column"
DROP_TABLE = "migration.drop_table"
DROP_COLUMN = "migration.drop_column"
AFTER_EXCLUSIVE = "migration.statements_after_access_exclusive"


def _names(node: ast.Node | tuple[ast.Node, ...] | None) -> list[str]:
    if node is None:
        return []
    items = node if isinstance(node, tuple) else (node,)
    return [str(n.sval) for n in items if isinstance(n, ast.String)]


def _walk(node: object) -> list[ast.Node]:
    found: list[ast.Node] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, tuple):
            stack.extend(cur)
        elif isinstance(cur, ast.Node):
            found.append(cur)
            stack.extend(getattr(cur, slot) for slot in getattr(cur, "__slots__", ()))
    return found


def is_volatile(expr: ast.Node | None) -> bool:
    """True when the expression calls a function known to give a new value per row."""
    return any(
        isinstance(n, ast.FuncCall) and _names(n.funcname)[-1:] and _names(n.funcname)[-1].lower() in VOLATILE_FUNCTIONS
        for n in _walk(expr)
    )


def _columns_used(expr: ast.Node | None) -> set[str]:
    return {str(n.fields[-1].sval).lower() for n in _walk(expr)
            if isinstance(n, ast.ColumnRef) and n.fields and isinstance(n.fields[-1], ast.String)}


def _retarget(expr: ast.Node, column: str, prefix: str | None, to: str) -> ast.Node:
    """A copy of `expr` whose references to `column` point to `prefix.to` (e.g. NEW.c_new) instead."""
    from pglast import parse_sql

    copy: ast.Node = parse_sql(f"SELECT {show(expr)}")[0].stmt.targetList[0].val  # type: ignore[union-attr]
    for n in _walk(copy):
        if (isinstance(n, ast.ColumnRef) and n.fields and isinstance(n.fields[-1], ast.String)
                and str(n.fields[-1].sval).lower() == column.lower()):
            n.fields = (ast.String(prefix), ast.String(to)) if prefix else (ast.String(to),)
    return copy


def single(
    sc: Scope, text: str, description: str, *, phase: Phase = Phase.EXPAND, lock: str | None = ACCESS_EXCLUSIVE,
    target: str | None = None, rollback: str | None = None, irreversible: bool = False, transactional: bool = True,
    timing: str = "ddl",
) -> list[Draft]:
    """The statement kept as written, in one step."""
    return [Draft(phase, description, text.rstrip().rstrip(";") + ";", transactional=transactional, lock=lock,
                  lock_target=target, timing=timing, rollback=rollback, irreversible=irreversible)]  # type: ignore[arg-type]


def fk_index(rel: Rel, columns: list[str], sc: Scope) -> list[Draft]:
    """An index leading with a new foreign key's columns, when the table is known to have none.

    Without it every DELETE or key UPDATE on the referenced table scans this one under lock. Decided only
    where the table's indexes are known: a table the script creates, or one the live catalog describes.
    Off by default (the plan keeps exactly the schema the migration asks for; the linter's
    foreign_key_without_index finding on the migration says what to add); threshold
    `migration.index_foreign_keys` = 1 turns it on.
    """
    wanted = [c.lower() for c in columns]
    if not sc.ctx.options.threshold("migration.index_foreign_keys", 0):
        return []
    table = sc.find_table(rel)
    new = sc.is_new(rel)
    if not wanted or (table is None and not new) or (sc.ctx.catalog is None and not new):
        return []
    leading = list(sc.script_indexes.get(rel.label.lower(), []))
    if table is not None:
        leading += [[c.lower() for c in _plain_prefix(i.column_names)] for i in table.indexes if i.predicate is None]
        if table.primary_key is not None:
            leading.append([c.lower() for c in table.primary_key.columns])
    if any(set(cols[: len(wanted)]) == set(wanted) for cols in leading):
        return []
    sc.script_indexes.setdefault(rel.label.lower(), []).append(wanted)
    name = obj_name(rel.name, columns, "idx")
    cols = ", ".join(q(c) for c in columns)
    if new:
        return [Draft(Phase.EXPAND, f"Index the foreign key columns {rel.label}({', '.join(columns)}) (the migration "
                      "did not): deletes on the referenced table would scan this one", f"CREATE INDEX IF NOT EXISTS "
                      f"{q(name)} ON {rel.sql} ({cols});", lock="SHARE", lock_target=rel.label,
                      rollback=f"DROP INDEX IF EXISTS {rel.sibling(name)};")]
    return [Draft(Phase.EXPAND, f"Index the foreign key columns {rel.label}({', '.join(columns)}) CONCURRENTLY (the "
                  "migration did not): deletes on the referenced table would scan this one under lock",
                  f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {q(name)} ON {rel.sql} ({cols});", transactional=False,
                  lock=SHARE_UPDATE_EXCLUSIVE, lock_target=rel.label, timing="scan",
                  rollback=f"DROP INDEX CONCURRENTLY IF EXISTS {rel.sibling(name)};", reads_data=True)]


def _plain_prefix(columns: list[str | None]) -> list[str]:
    out: list[str] = []
    for column in columns:
        if column is None:
            break
        out.append(column)
    return out


def foreign_keys_of(node: ast.Node) -> list[list[str]]:
    """Column lists of the foreign keys a CREATE TABLE or ALTER TABLE declares."""
    found: list[list[str]] = []
    items: list[tuple[ast.Node, str | None]] = []
    if isinstance(node, ast.CreateStmt):
        for element in node.tableElts or ():
            if isinstance(element, ast.ColumnDef):
                items += [(c, element.colname) for c in element.constraints or ()]
            else:
                items.append((element, None))
    elif isinstance(node, ast.AlterTableStmt):
        for cmd in node.cmds or ():
            if isinstance(cmd, ast.AlterTableCmd) and isinstance(cmd.def_, ast.ColumnDef):
                items += [(c, cmd.def_.colname) for c in cmd.def_.constraints or ()]
            elif isinstance(cmd, ast.AlterTableCmd) and isinstance(cmd.def_, ast.Constraint):
                items.append((cmd.def_, None))
    for con, column in items:
        if isinstance(con, ast.Constraint) and con.contype == ConstrType.CONSTR_FOREIGN:
            cols = _names(con.fk_attrs) or ([column] if column else [])
            if cols:
                found.append(cols)
    return found


# ---------------------------------------------------------------- CREATE INDEX / DROP INDEX / REINDEX


def create_index(stmt: ast.IndexStmt, text: str, sc: Scope) -> list[Draft]:
    rel = sc.rel(stmt.relation)
    keys = [str(p.name) for p in stmt.indexParams or () if isinstance(p, ast.IndexElem) and p.name]
    named = bool(stmt.idxname)
    if not stmt.idxname:
        stmt.idxname = obj_name(rel.name, keys or None, "key" if stmt.unique else "idx")
    index = rel.sibling(stmt.idxname)
    rollback = f"DROP INDEX CONCURRENTLY IF EXISTS {index};"
    if sc.is_new(rel) and not stmt.concurrent:
        return single(sc, text if named else show(stmt),
                      f"Create index {stmt.idxname} on {rel.label}, a table this migration creates",
                      lock="SHARE", target=rel.label, rollback=f"DROP INDEX IF EXISTS {index};")
    table = None if stmt.concurrent else sc.find_table(rel)
    if table is not None and table.kind == "partitioned_table":
        sc.note(f"{rel.label} is partitioned: CREATE INDEX CONCURRENTLY is not supported on it; kept as written. "
                "Build the index CONCURRENTLY on each partition, create it ON ONLY the parent and ATTACH each one.")
        return single(sc, show(stmt), f"Create index {stmt.idxname} on partitioned {rel.label} (blocks writes)",
                      lock="SHARE", target=rel.label, rollback=f"DROP INDEX IF EXISTS {index};", timing="long")
    stmt.concurrent = True
    stmt.if_not_exists = True
    return [Draft(Phase.EXPAND,
                  f"Build index {stmt.idxname} on {rel.label} CONCURRENTLY outside a transaction (writes continue); "
                  "if it fails, run the rollback to drop the INVALID index and retry",
                  show(stmt) + ";", transactional=False, lock=SHARE_UPDATE_EXCLUSIVE, lock_target=rel.label,
                  timing="scan", rollback=rollback, reads_data=True)]


def _index_definition(sc: Scope, schema: str | None, name: str) -> str | None:
    """CREATE INDEX CONCURRENTLY IF NOT EXISTS text recreating a known index, for a rollback."""
    from pglast import parse_sql

    tables = [sc.ctx.catalog.tables] if sc.ctx.catalog else []
    for group in tables:
        for table in group:
            if schema and table.schema_name.lower() != schema.lower():
                continue
            for index in table.indexes:
                if index.name.lower() == name.lower() and index.definition and not index.constraint:
                    node = parse_sql(index.definition)[0].stmt
                    if isinstance(node, ast.IndexStmt):
                        node.concurrent = True
                        node.if_not_exists = True
                        return show(node) + ";"
    return None


def drop(stmt: ast.DropStmt, text: str, sc: Scope) -> list[Draft]:
    kind = stmt.removeType
    objects = [_names(o) for o in stmt.objects or ()]
    if kind == ObjectType.OBJECT_INDEX:
        drafts: list[Draft] = []
        for parts in objects:
            schema, name = (parts[-2] if len(parts) > 1 else None), parts[-1]
            sc.barrier(name, Phase.CONTRACT)
            ref = f"{q(schema)}.{q(name)}" if schema else q(name)
            exists = " IF EXISTS" if stmt.missing_ok else ""
            cascade = " CASCADE" if stmt.behavior and stmt.behavior.name == "DROP_CASCADE" else ""
            rollback = _index_definition(sc, schema, name)
            if rollback is None:
                sc.note(f"index {name}: its definition is unknown here (offline), so the drop has no rollback SQL.")
            if cascade:
                drafts += single(sc, f"DROP INDEX{exists} {ref}{cascade}", f"Drop index {name} with CASCADE",
                                 phase=Phase.CONTRACT, rollback=rollback)
                continue
            drafts.append(Draft(Phase.CONTRACT, f"Drop index {name} CONCURRENTLY outside a transaction",
                                f"DROP INDEX CONCURRENTLY{exists} {ref};", transactional=False,
                                lock=SHARE_UPDATE_EXCLUSIVE, lock_target=name, timing="scan", rollback=rollback))
        return drafts
    if kind == ObjectType.OBJECT_TABLE:
        drafts = []
        for parts in objects:
            rel = Rel(parts[-2] if len(parts) > 1 else None, parts[-1], sc.ctx.default_schema)
            sc.barrier(rel.name, Phase.CONTRACT)
            exists = " IF EXISTS" if stmt.missing_ok else ""
            cascade = " CASCADE" if stmt.behavior and stmt.behavior.name == "DROP_CASCADE" else ""
            if sc.is_new(rel):
                drafts += single(sc, f"DROP TABLE{exists} {rel.sql}{cascade}",
                                 f"Drop {rel.label} (created by this migration)", phase=Phase.CONTRACT,
                                 target=rel.label, irreversible=True)
                continue
            deprecated = obj_name(rel.name, None, "deprecated")
            old = rel.renamed(deprecated)
            drafts.append(Draft(
                Phase.CONTRACT,
                f"Safety net: rename {rel.label} to {deprecated} so anything still using it fails loudly while the "
                "data is kept; wait at least one release before the next step",
                f"ALTER TABLE{exists} {rel.sql} RENAME TO {q(deprecated)};", lock_target=rel.label,
                rollback=f"ALTER TABLE IF EXISTS {old.sql} RENAME TO {q(rel.name)};").ack(RENAME_TABLE))
            drafts.append(Draft(
                Phase.CONTRACT, f"Drop {old.label} in a later release: IRREVERSIBLE, the data is gone",
                f"DROP TABLE IF EXISTS {old.sql}{cascade};", lock_target=old.label, irreversible=True).ack(DROP_TABLE))
        return drafts
    label = kind.name.removeprefix("OBJECT_").lower().replace("_", " ") if kind is not None else "object"
    for parts in objects:
        if parts:
            sc.barrier(parts[-1], Phase.CONTRACT)
    if kind in (ObjectType.OBJECT_VIEW, ObjectType.OBJECT_MATVIEW, ObjectType.OBJECT_SEQUENCE,
                ObjectType.OBJECT_TYPE, ObjectType.OBJECT_DOMAIN, ObjectType.OBJECT_FUNCTION,
                ObjectType.OBJECT_TRIGGER, ObjectType.OBJECT_SCHEMA):
        sc.note(f"DROP {label.upper()}: no rollback is generated (the old definition is not reconstructed).")
    irreversible = kind in (ObjectType.OBJECT_SEQUENCE, ObjectType.OBJECT_MATVIEW, ObjectType.OBJECT_SCHEMA)
    return single(sc, text, f"Drop {label} {', '.join('.'.join(p) for p in objects)}", phase=Phase.CONTRACT,
                  irreversible=irreversible)


def reindex(stmt: ast.ReindexStmt, text: str, sc: Scope) -> list[Draft]:
    params = [p.defname for p in stmt.params or () if isinstance(p, ast.DefElem)]
    target = stmt.relation.relname if stmt.relation else stmt.name
    if "concurrently" not in params and sc.ctx.server_version_num >= 120000 and stmt.relation is not None:
        stmt.params = (*(stmt.params or ()), ast.DefElem(defname="concurrently"))
    elif "concurrently" not in params:
        sc.note("REINDEX kept without CONCURRENTLY (PostgreSQL before 12, or a whole schema/database/system).")
    return [Draft(Phase.EXPAND, f"Rebuild {target} CONCURRENTLY outside a transaction (writes continue)",
                  show(stmt) + ";", transactional=False, lock=SHARE_UPDATE_EXCLUSIVE, lock_target=target,
                  timing="scan")]


# ---------------------------------------------------------------- ALTER TABLE


def _one_cmd(stmt: ast.AlterTableStmt, cmd: ast.AlterTableCmd) -> str:
    return show(ast.AlterTableStmt(relation=stmt.relation, cmds=(cmd,), objtype=stmt.objtype,
                                   missing_ok=stmt.missing_ok)) + ";"


def _inverse(rel: Rel, cmd: ast.AlterTableCmd, sc: Scope) -> str | None:
    """SQL undoing one ALTER TABLE command, when it can be written down."""
    sub, col = cmd.subtype, q(cmd.name) if cmd.name else ""
    if sub == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
        return f"ALTER TABLE {rel.sql} DROP COLUMN IF EXISTS {q(cmd.def_.colname or '')};"
    if sub == AT.AT_SetNotNull:
        return f"ALTER TABLE {rel.sql} ALTER COLUMN {col} DROP NOT NULL;"
    if sub == AT.AT_DropNotNull:
        return f"ALTER TABLE {rel.sql} ALTER COLUMN {col} SET NOT NULL;"
    if sub == AT.AT_ColumnDefault:
        old = sc.column(rel, cmd.name or "")
        if old is None:
            return None
        if old.default is None or old.serial:
            return f"ALTER TABLE {rel.sql} ALTER COLUMN {col} DROP DEFAULT;" if old.default is None else None
        return f"ALTER TABLE {rel.sql} ALTER COLUMN {col} SET DEFAULT {old.default};"
    if sub == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint) and cmd.def_.conname:
        return f"ALTER TABLE {rel.sql} DROP CONSTRAINT IF EXISTS {q(cmd.def_.conname)};"
    if sub == AT.AT_AlterColumnType:
        old = sc.column(rel, cmd.name or "")
        if old is None:
            return None
        return f"ALTER TABLE {rel.sql} ALTER COLUMN {col} TYPE {old.data_type} USING {col}::{old.data_type};"
    if sub == AT.AT_SetLogged:
        return f"ALTER TABLE {rel.sql} SET UNLOGGED;"
    if sub == AT.AT_SetUnLogged:
        return f"ALTER TABLE {rel.sql} SET LOGGED;"
    if sub == AT.AT_DropConstraint and cmd.name:
        return _readd_constraint(rel, cmd.name, sc)
    return None


def _readd_constraint(rel: Rel, name: str, sc: Scope) -> str | None:
    """SQL re-creating a dropped CHECK or FOREIGN KEY from what the catalog knows (NOT VALID, then VALIDATE)."""
    table = sc.find_table(rel)
    if table is None:
        return None
    lowered = name.lower()
    validate = f"ALTER TABLE {rel.sql} VALIDATE CONSTRAINT {q(name)};"
    for check in table.check_constraints:
        if (check.name or "").lower() == lowered:
            expr = check.expression.strip()
            expr = expr[len("CHECK"):].strip() if expr.upper().startswith("CHECK") else f"({expr})"
            add = f"ALTER TABLE {rel.sql} ADD CONSTRAINT {q(name)} CHECK {expr} NOT VALID;"
            return add + ("\n" + validate if check.validated else "")
    for fk in table.foreign_keys:
        if (fk.name or "").lower() == lowered:
            ref = f"{q(fk.ref_schema)}.{q(fk.ref_table)}"
            actions = (f" ON DELETE {fk.on_delete}" if fk.on_delete != "NO ACTION" else "") + (
                f" ON UPDATE {fk.on_update}" if fk.on_update != "NO ACTION" else "")
            defer = " DEFERRABLE" if fk.deferrable else ""
            cols = ", ".join(q(c) for c in fk.columns)
            add = (f"ALTER TABLE {rel.sql} ADD CONSTRAINT {q(name)} FOREIGN KEY ({cols}) "
                   f"REFERENCES {ref} ({', '.join(q(c) for c in fk.ref_columns)}){actions}{defer} NOT VALID;")
            return add + ("\n" + validate if fk.validated else "")
    return None


def alter_table(stmt: ast.AlterTableStmt, text: str, sc: Scope) -> list[Draft]:
    rel = sc.rel(stmt.relation)
    if stmt.objtype != ObjectType.OBJECT_TABLE:
        kind = stmt.objtype.name.removeprefix("OBJECT_").lower() if stmt.objtype else "object"
        return single(sc, text, f"Alter {kind} {rel.label}", target=rel.label)
    cmds = [c for c in stmt.cmds or () if isinstance(c, ast.AlterTableCmd)]
    if sc.is_new(rel):
        inverses = [_inverse(rel, c, sc) for c in cmds]
        rollback = "\n".join(i for i in reversed(inverses) if i) if all(inverses) else None
        kept = single(sc, text, f"Alter {rel.label}, a table this migration creates (nothing to lock out)",
                      target=rel.label, rollback=rollback)
        for columns in foreign_keys_of(stmt):
            kept += fk_index(rel, columns, sc)
        return kept
    drafts: list[Draft] = []
    for cmd in cmds:
        drafts += alter_cmd(stmt, cmd, rel, sc)
    return drafts


def alter_cmd(stmt: ast.AlterTableStmt, cmd: ast.AlterTableCmd, rel: Rel, sc: Scope) -> list[Draft]:
    sub = cmd.subtype
    if sub == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
        return add_column(stmt, cmd, cmd.def_, rel, sc)
    if sub == AT.AT_SetNotNull:
        return set_not_null(stmt, cmd, rel, sc)
    if sub == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
        return add_constraint(stmt, cmd, cmd.def_, rel, sc)
    if sub == AT.AT_DropColumn:
        return drop_column(cmd, rel, sc)
    if sub == AT.AT_AlterColumnType and isinstance(cmd.def_, ast.ColumnDef):
        from dbsage.tools.migration_expand_postgres import alter_type

        return alter_type(stmt, cmd, cmd.def_, rel, sc)
    if sub == AT.AT_DetachPartition and isinstance(cmd.def_, ast.PartitionCmd):
        return detach_partition(stmt, cmd, cmd.def_, rel, sc)
    text = _one_cmd(stmt, cmd)
    if sub in (AT.AT_SetLogged, AT.AT_SetUnLogged, AT.AT_SetAccessMethod):
        sc.note(f"{rel.label}: SET LOGGED/UNLOGGED and SET ACCESS METHOD rewrite the table under ACCESS EXCLUSIVE; "
                "PostgreSQL has no online form. Kept as written: schedule it in a maintenance window, or build a "
                "copy with the new property, sync it with a trigger and swap names.")
        return single(sc, text, f"Rewrite {rel.label} (blocks reads and writes for the whole rewrite)",
                      target=rel.label, rollback=_inverse(rel, cmd, sc), timing="long")
    lock = (SHARE_UPDATE_EXCLUSIVE if sub in SHARE_UPDATE_EXCLUSIVE_CMDS
            else SHARE_ROW_EXCLUSIVE if sub in SHARE_ROW_EXCLUSIVE_CMDS else ACCESS_EXCLUSIVE)
    rollback = _inverse(rel, cmd, sc)
    timing = "scan" if sub in (AT.AT_ValidateConstraint, AT.AT_AttachPartition) else "ddl"
    if sub == AT.AT_DropConstraint and cmd.name:
        sc.barrier(cmd.name, Phase.CONTRACT)
        if rollback is None:
            sc.note(f"DROP CONSTRAINT {cmd.name}: its definition is not known here (or it is a UNIQUE/PRIMARY KEY), "
                    "so the step has no rollback SQL.")
    phase = Phase.CONTRACT if sub in (AT.AT_DropConstraint, AT.AT_DropNotNull) else Phase.EXPAND
    label = sub.name.removeprefix("AT_") if sub is not None else "ALTER"
    return single(sc, text, f"{label} on {rel.label}", phase=phase, lock=lock,
                  target=rel.label, rollback=rollback, timing=timing)


def detach_partition(stmt: ast.AlterTableStmt, cmd: ast.AlterTableCmd, part: ast.PartitionCmd, rel: Rel,
                     sc: Scope) -> list[Draft]:
    child = sc.rel(part.name) if part.name else rel
    sc.note(f"DETACH PARTITION {child.label}: no rollback SQL (the partition bounds are not known here).")
    if part.concurrent or sc.ctx.server_version_num < 140000:
        return single(sc, _one_cmd(stmt, cmd), f"Detach {child.label} from {rel.label}", target=rel.label,
                      transactional=not part.concurrent, lock=SHARE_UPDATE_EXCLUSIVE if part.concurrent
                      else ACCESS_EXCLUSIVE)
    part.concurrent = True
    return [Draft(Phase.CONTRACT, f"Detach {child.label} from {rel.label} CONCURRENTLY outside a transaction "
                  "(PostgreSQL 14+)", _one_cmd(stmt, cmd), transactional=False, lock=SHARE_UPDATE_EXCLUSIVE,
                  lock_target=rel.label, timing="scan")]


def drop_column(cmd: ast.AlterTableCmd, rel: Rel, sc: Scope) -> list[Draft]:
    name = cmd.name or ""
    sc.barrier(name, Phase.CONTRACT)
    from dbsage.tools.migration_expand_postgres import views_using

    views = views_using(sc, rel, name)
    if views:
        sc.note(f"DROP COLUMN {rel.label}.{name}: views use it ({', '.join(views)}); the drop fails until they are "
                "changed (the safety-net rename keeps them working meanwhile).")
    deprecated = obj_name(name, None, "deprecated")
    cascade = " CASCADE" if cmd.behavior and cmd.behavior.name == "DROP_CASCADE" else ""
    return [
        Draft(Phase.CONTRACT,
              f"Safety net: rename {rel.label}.{name} to {deprecated}; code still using it fails loudly while the "
              "data is kept. Wait at least one release before the next step",
              f"ALTER TABLE {rel.sql} RENAME COLUMN {q(name)} TO {q(deprecated)};", lock_target=rel.label,
              rollback=f"ALTER TABLE {rel.sql} RENAME COLUMN {q(deprecated)} TO {q(name)};").ack(RENAME_COLUMN),
        Draft(Phase.CONTRACT, f"Drop {rel.label}.{deprecated} in a later release: IRREVERSIBLE, the data is gone",
              f"ALTER TABLE {rel.sql} DROP COLUMN IF EXISTS {q(deprecated)}{cascade};", lock_target=rel.label,
              irreversible=True).ack(DROP_COLUMN),
    ]


def set_not_null(stmt: ast.AlterTableStmt, cmd: ast.AlterTableCmd, rel: Rel, sc: Scope) -> list[Draft]:
    name = cmd.name or ""
    text = _one_cmd(stmt, cmd)
    rollback = f"ALTER TABLE {rel.sql} ALTER COLUMN {q(name)} DROP NOT NULL;"
    known = sc.column(rel, name)
    if known is not None and not known.nullable:
        return single(sc, text, f"{rel.label}.{name} is already NOT NULL (no-op)", target=rel.label)
    if sc.ctx.server_version_num < 120000:
        sc.note(f"SET NOT NULL on {rel.label}.{name}: before PostgreSQL 12 it always scans under ACCESS EXCLUSIVE; "
                "kept as written (use a validated CHECK (c IS NOT NULL) NOT VALID constraint instead of NOT NULL).")
        return single(sc, text, f"SET NOT NULL on {rel.label}.{name} (scans under ACCESS EXCLUSIVE)",
                      target=rel.label, rollback=rollback, timing="long")
    return not_null_drafts(rel, name, tail_phase=Phase.EXPAND)


def _constraint_columns(con: ast.Constraint, column: str | None) -> list[str]:
    cols = _names(con.keys) or _names(con.fk_attrs)
    return cols or ([column] if column else [])


def add_constraint(stmt: ast.AlterTableStmt | None, cmd: ast.AlterTableCmd | None, con: ast.Constraint, rel: Rel,
                   sc: Scope, *, column: str | None = None, tail_phase: Phase = Phase.EXPAND) -> list[Draft]:
    """ADD CONSTRAINT (or a column constraint of ADD COLUMN when `column` is given) without long locks."""
    cols = _constraint_columns(con, column)
    kind = con.contype
    if kind == ConstrType.CONSTR_FOREIGN:
        con.conname = con.conname or obj_name(rel.name, cols, "fkey")
        if not con.fk_attrs and column:
            con.fk_attrs = (ast.String(column),)
    elif kind == ConstrType.CONSTR_CHECK:
        used = sorted(_columns_used(con.raw_expr))
        con.conname = con.conname or obj_name(rel.name, column or (used[0] if used else None), "check")
    elif kind == ConstrType.CONSTR_UNIQUE:
        con.conname = con.conname or obj_name(rel.name, cols, "key")
    elif kind == ConstrType.CONSTR_PRIMARY:
        con.conname = con.conname or obj_name(rel.name, None, "pkey")
    name = con.conname or "constraint"
    drop = f"ALTER TABLE {rel.sql} DROP CONSTRAINT IF EXISTS {q(name)};"
    add_sql = show(ast.AlterTableStmt(relation=ast.RangeVar(schemaname=rel.schema, relname=rel.name, inh=True),
                                      cmds=(ast.AlterTableCmd(subtype=AT.AT_AddConstraint, def_=con),),
                                      objtype=ObjectType.OBJECT_TABLE)) + ";"
    table = sc.find_table(rel) if column is None else None
    if table is not None and table.kind == "partitioned_table" and (
            kind == ConstrType.CONSTR_FOREIGN or kind in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY)):
        sc.note(f"{name} on partitioned {rel.label}: PostgreSQL cannot add it NOT VALID or attach a concurrently "
                "built index to the parent; kept as written. Add it on each partition first (safe forms), then on "
                "the parent, which then only attaches them.")
        return single(sc, add_sql, f"Add constraint {name} on partitioned {rel.label}", target=rel.label,
                      rollback=drop, timing="long")
    if kind in (ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_CHECK):
        if con.skip_validation:
            lock = SHARE_ROW_EXCLUSIVE if kind == ConstrType.CONSTR_FOREIGN else ACCESS_EXCLUSIVE
            return single(sc, add_sql, f"Add {name} NOT VALID on {rel.label} (no scan)", lock=lock, target=rel.label,
                          rollback=drop)
        con.skip_validation = True
        con.initially_valid = False
        add_sql = add_sql.rstrip(";") + ";" if "NOT VALID" in add_sql else add_sql.rstrip(";") + " NOT VALID;"
        target = rel.label
        if kind == ConstrType.CONSTR_FOREIGN and con.pktable is not None:
            target = f"{rel.label}, {sc.rel(con.pktable).label}"
        what = "foreign key" if kind == ConstrType.CONSTR_FOREIGN else "CHECK"
        index = fk_index(rel, cols, sc) if kind == ConstrType.CONSTR_FOREIGN else []
        return [
            *index,
            Draft(Phase.EXPAND, f"Add {what} {name} on {rel.label} NOT VALID: new writes are checked, no scan",
                  add_sql, lock=SHARE_ROW_EXCLUSIVE if kind == ConstrType.CONSTR_FOREIGN else ACCESS_EXCLUSIVE,
                  lock_target=target, rollback=drop),
            Draft(tail_phase, f"Validate {name} in its own transaction (scans existing rows without blocking writes)",
                  f"ALTER TABLE {rel.sql} VALIDATE CONSTRAINT {q(name)};", lock=SHARE_UPDATE_EXCLUSIVE,
                  lock_target=target, timing="scan", reads_data=True),
        ]
    if kind in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY) and not con.indexname:
        return unique_drafts(con, cols, rel, sc, tail_phase=tail_phase)
    if kind == ConstrType.CONSTR_EXCLUSION:
        sc.note(f"{name}: an EXCLUDE constraint builds its index under ACCESS EXCLUSIVE; PostgreSQL cannot attach a "
                "concurrently built index to one. Kept as written.")
    return single(sc, add_sql, f"Add constraint {name} on {rel.label}", target=rel.label, rollback=drop,
                  timing="long" if kind == ConstrType.CONSTR_EXCLUSION else "ddl")


def unique_drafts(con: ast.Constraint, cols: list[str], rel: Rel, sc: Scope, *,
                  tail_phase: Phase = Phase.EXPAND) -> list[Draft]:
    """UNIQUE / PRIMARY KEY: a unique index built CONCURRENTLY, then the constraint USING INDEX."""
    name = con.conname or obj_name(rel.name, cols, "key")
    primary = con.contype == ConstrType.CONSTR_PRIMARY
    include = f" INCLUDE ({', '.join(q(c) for c in _names(con.including))})" if con.including else ""
    nulls = " NULLS NOT DISTINCT" if con.nulls_not_distinct else ""
    drafts = [Draft(
        Phase.EXPAND,
        f"Build unique index {name} on {rel.label} CONCURRENTLY outside a transaction; if it fails (duplicates), "
        "run the rollback to drop the INVALID index, fix the data and retry",
        f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {q(name)} ON {rel.sql} ({', '.join(q(c) for c in cols)})"
        f"{include}{nulls};",
        transactional=False, lock=SHARE_UPDATE_EXCLUSIVE, lock_target=rel.label, timing="scan",
        rollback=f"DROP INDEX CONCURRENTLY IF EXISTS {rel.sibling(name)};", reads_data=True)]
    if primary:
        for col in cols:
            known = sc.column(rel, col)
            if known is None or known.nullable:
                drafts += not_null_drafts(rel, col, tail_phase=tail_phase)
    defer = (" DEFERRABLE" if con.deferrable else "") + (" INITIALLY DEFERRED" if con.initdeferred else "")
    kind = "PRIMARY KEY" if primary else "UNIQUE"
    drafts.append(Draft(
        tail_phase, f"Attach {name} as the {kind} constraint of {rel.label} (no scan, brief ACCESS EXCLUSIVE)",
        f"ALTER TABLE {rel.sql} ADD CONSTRAINT {q(name)} {kind} USING INDEX {q(name)}{defer};", lock_target=rel.label,
        rollback=f"ALTER TABLE {rel.sql} DROP CONSTRAINT IF EXISTS {q(name)};", reads_data=True))
    return drafts


def add_column(stmt: ast.AlterTableStmt, cmd: ast.AlterTableCmd, cdef: ast.ColumnDef, rel: Rel,
               sc: Scope) -> list[Draft]:
    name = cdef.colname or ""
    col = q(name)
    drop = f"ALTER TABLE {rel.sql} DROP COLUMN IF EXISTS {col};"
    cons = [c for c in cdef.constraints or () if isinstance(c, ast.Constraint)]
    default = next((c.raw_expr for c in cons if c.contype == ConstrType.CONSTR_DEFAULT), None)
    not_null = any(c.contype == ConstrType.CONSTR_NOTNULL for c in cons) or bool(cdef.is_not_null)
    generated = [c for c in cons if c.contype in (ConstrType.CONSTR_GENERATED, ConstrType.CONSTR_IDENTITY)]
    others = [c for c in cons if c.contype in (ConstrType.CONSTR_CHECK, ConstrType.CONSTR_FOREIGN,
                                               ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY)]
    type_name = _names(cdef.typeName.names)[-1].lower() if cdef.typeName else ""
    serial = SERIAL_TYPES.get(type_name)
    not_null = not_null or serial is not None
    modern = sc.ctx.server_version_num >= 110000
    volatile = default is not None and (is_volatile(default) or not modern)
    if generated:
        sc.note(f"ADD COLUMN {rel.label}.{name} GENERATED/IDENTITY rewrites the table under ACCESS EXCLUSIVE; "
                "PostgreSQL has no online form. Kept as written (or add a plain column filled by a trigger).")
        return single(sc, _one_cmd(stmt, cmd), f"Add {name} to {rel.label} (rewrites the table)", target=rel.label,
                      rollback=drop, timing="long")
    if not serial and not volatile and not others and (not not_null or default is not None):
        return single(sc, _one_cmd(stmt, cmd), f"Add column {name} to {rel.label} (metadata only, no rewrite)",
                      target=rel.label, rollback=drop)
    drafts: list[Draft] = []
    plain = ast.ColumnDef(colname=name, typeName=cdef.typeName, collClause=cdef.collClause, is_local=True)
    if serial:
        plain.typeName = ast.TypeName(names=(ast.String(serial),), typemod=-1)
        seq = obj_name(rel.name, name, "seq")
        drafts.append(Draft(Phase.EXPAND, f"Create sequence {seq} for {rel.label}.{name} (serial, filled in batches)",
                            f"CREATE SEQUENCE IF NOT EXISTS {rel.sibling(seq)} AS {serial};", lock=None,
                            rollback=f"DROP SEQUENCE IF EXISTS {rel.sibling(seq)};"))
        default = ast.FuncCall(funcname=(ast.String("nextval"),),
                               args=(ast.A_Const(val=ast.String(f"{rel.schema + '.' if rel.schema else ''}{seq}")),))
        volatile = True
    keep_default = default is not None and not volatile
    if keep_default:
        plain.constraints = (ast.Constraint(contype=ConstrType.CONSTR_DEFAULT, raw_expr=default),)
    add_sql = _one_cmd(stmt, ast.AlterTableCmd(subtype=AT.AT_AddColumn, def_=plain))
    drafts.append(Draft(Phase.EXPAND, f"Add {rel.label}.{name} as a nullable column"
                        + (" with its constant default (metadata only)" if keep_default else " without default"),
                        add_sql, lock_target=rel.label, rollback=drop))
    tail = Phase.EXPAND
    if default is not None and volatile:
        expr = show(default)
        owned = (f"\nALTER SEQUENCE {rel.sibling(obj_name(rel.name, name, 'seq'))} OWNED BY {rel.sql}.{col};"
                 if serial else "")
        drafts.append(Draft(Phase.EXPAND, f"SET DEFAULT on {rel.label}.{name}: new rows get it from now on",
                            f"ALTER TABLE {rel.sql} ALTER COLUMN {col} SET DEFAULT {expr};{owned}",
                            lock_target=rel.label, rollback=f"ALTER TABLE {rel.sql} ALTER COLUMN {col} DROP DEFAULT;"
                            ).ack(AFTER_EXCLUSIVE))
        drafts += backfill(rel, sc, f"{col} = {expr}", f"{col} IS NULL",
                           f"Backfill {rel.label}.{name} with its default", todo=name)
        tail = Phase.BACKFILL
    elif not_null:
        sc.note(f"ADD COLUMN {rel.label}.{name} NOT NULL without a default: the column is added nullable; the "
                "application must fill it before the VALIDATE step (which fails while a row is NULL), as the "
                "original statement fails on a table that has rows.")
    if not_null:
        drafts += not_null_drafts(rel, name, tail_phase=tail)
    for con in others:
        drafts += add_constraint(None, None, con, rel, sc, column=name, tail_phase=tail)
    return drafts


def backfill(rel: Rel, sc: Scope, set_clause: str, where: str, description: str, *, todo: str) -> list[Draft]:
    """Batches filling column `todo` (NULL until filled), with a helper index of the rows still to do.

    Each batch picks the next rows by primary key (ctid without one). On a table the live catalog describes,
    a partial index of the keys WHERE todo IS NULL, built CONCURRENTLY first and dropped after, lets every
    batch find its rows without re-reading the rows earlier batches filled.
    """
    table = sc.find_table(rel)
    key = table.primary_key.columns if table is not None and table.primary_key else None
    if key is None:
        sc.note(f"{rel.label}: no primary key known, so batches pick rows by ctid (fine for a one-off backfill; "
                "a concurrent update can move a row, which the next batch then picks up).")
    batch = Draft(Phase.BACKFILL, description + f" in batches of {sc.batch_rows} rows (repeat until a batch changes "
                  "no row)", keyed_batch("UPDATE", rel, key, set_clause=set_clause, where=where,
                                         batch_rows=sc.batch_rows),
                  lock=ROW_EXCLUSIVE, lock_target=rel.label, timing="batch", repeat="until_no_rows", reads_data=True)
    if key is None or sc.ctx.catalog is None or sc.is_new(rel):
        return [batch]
    helper = obj_name(rel.name, todo, "todo")
    index = rel.sibling(helper)
    drop_helper = f"DROP INDEX CONCURRENTLY IF EXISTS {index};"
    return [
        Draft(Phase.BACKFILL, f"Helper index of the {rel.label} rows whose {todo} is still to fill, built "
              "CONCURRENTLY (each batch then finds its rows directly)",
              f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {q(helper)} ON {rel.sql} "
              f"({', '.join(q(c) for c in key)}) WHERE {q(todo)} IS NULL;", transactional=False,
              lock=SHARE_UPDATE_EXCLUSIVE, lock_target=rel.label, timing="scan", rollback=drop_helper,
              reads_data=True),
        batch,
        Draft(Phase.BACKFILL, f"Drop the helper index {helper}", drop_helper, transactional=False,
              lock=SHARE_UPDATE_EXCLUSIVE, lock_target=rel.label, timing="scan", reads_data=True),
    ]

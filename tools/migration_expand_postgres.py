"""Expand/contract rewrites for PostgreSQL: column type change, column and table rename, batched UPDATE/DELETE.

Column type change: a new column of the new type, a trigger keeping both columns in step both ways, batched
backfill, then the switch step swaps the names in one short transaction (the application keeps its column
name and sees the new type; the old column lives on as <col>_deprecated, still synced, so the swap can be
undone), and the contract phase drops the trigger and, irreversibly, the deprecated column.

Column rename: the new column is added and synced both ways by a trigger, backfilled in batches; there is no
SQL at the switch, which is the application deploy that reads and writes the new name (both versions work
meanwhile); the contract phase drops the trigger, renames the old column to <col>_deprecated and finally
drops it (irreversible).

Table rename: the table is renamed and an automatically updatable view keeps the old name working for
reads and writes; the view is dropped in the contract phase.
"""

from __future__ import annotations

import re

from pglast import ast, parse_sql
from pglast.enums import ObjectType

from dbsage.tools.catalog import Column, Index, Table
from dbsage.tools.migration_model import Phase
from dbsage.tools.migration_rewrites_postgres import (
    AFTER_EXCLUSIVE,
    DROP_COLUMN,
    RENAME_COLUMN,
    RENAME_TABLE,
    Scope,
    _names,
    _one_cmd,
    _retarget,
    _walk,
    backfill,
    is_volatile,
    single,
)
from dbsage.tools.migration_sqlgen_postgres import (
    ACCESS_EXCLUSIVE,
    ROW_EXCLUSIVE,
    SHARE_ROW_EXCLUSIVE,
    SHARE_UPDATE_EXCLUSIVE,
    Draft,
    Rel,
    drop_sync,
    keyed_batch,
    not_null_drafts,
    obj_name,
    q,
    show,
    sync_function,
    sync_trigger,
)

_NUMERIC = re.compile(r"numeric\((\d+)(?:,\s*(\d+))?\)")


def _typmods(type_name: ast.TypeName) -> list[int]:
    return [int(m.val.ival or 0) for m in type_name.typmods or ()
            if isinstance(m, ast.A_Const) and isinstance(m.val, ast.Integer)]


def binary_coercible(old: Column, type_name: ast.TypeName) -> bool:
    """True when PostgreSQL changes the type without rewriting or scanning (varchar growth, varchar -> text...)."""
    base = str(type_name.names[-1].sval).lower() if type_name.names else ""
    mods = _typmods(type_name)
    if type_name.arrayBounds:
        return False
    if old.base_type in ("varchar", "text") and base == "text":
        return True
    if old.base_type in ("varchar", "text") and base == "varchar":
        if not mods:
            return True
        return old.base_type == "varchar" and old.length is not None and mods[0] >= old.length
    if old.base_type == "numeric" and base == "numeric":
        if not mods:
            return True
        m = _NUMERIC.match(old.data_type)
        if not m:
            return False
        precision, scale = int(m.group(1)), int(m.group(2) or 0)
        new_scale = mods[1] if len(mods) > 1 else 0
        return new_scale == scale and mods[0] >= precision
    return show(type_name) == old.data_type


def _constrained(table: Table | None, column: str, sc: Scope) -> str | None:
    """Why the column cannot move to a new column by expand/contract, or None."""
    if table is None:
        return None
    lowered = column.lower()
    col = table.column(column)
    if col is not None and (col.identity or col.generated):
        return "it is an identity or generated column"
    if table.primary_key and lowered in (c.lower() for c in table.primary_key.columns):
        return "it is part of the primary key"
    if any(lowered in (c.lower() for c in u.columns) for u in table.unique_constraints):
        return "it is part of a UNIQUE constraint"
    if any(lowered in (c.lower() for c in fk.columns) for fk in table.foreign_keys):
        return "it is part of a foreign key"
    others = sc.ctx.catalog.tables if sc.ctx.catalog else []
    for other in others:
        for fk in other.foreign_keys:
            if (fk.ref_table.lower() == table.name.lower() and fk.ref_schema.lower() == table.schema_name.lower()
                    and lowered in (c.lower() for c in fk.ref_columns)):
                return f"foreign key {fk.name} of {other.qualified_name} references it"
    if any(re.search(rf"\b{re.escape(lowered)}\b", c.expression.lower()) for c in table.check_constraints):
        return "a CHECK constraint uses it"
    return None


def views_using(sc: Scope, rel: Rel, column: str) -> list[str]:
    """Views of the live catalog whose definition names the table and the column (a text match)."""
    if sc.ctx.catalog is None:
        return []
    table, col = re.escape(rel.name.lower()), re.escape(column.lower())
    return [v.qualified_name for v in sc.ctx.catalog.views
            if v.definition and re.search(rf"\b{table}\b", v.definition.lower())
            and re.search(rf"\b{col}\b", v.definition.lower())]


def _column_indexes(table: Table | None, column: str) -> list[Index]:
    if table is None:
        return []
    lowered = column.lower()
    found = []
    for index in table.indexes:
        if index.constraint or index.primary or not index.definition:
            continue
        names = {k.column.lower() for k in index.keys if k.column} | {c.lower() for c in index.include}
        in_expr = any(k.expression and re.search(rf"\b{re.escape(lowered)}\b", k.expression.lower())
                      for k in index.keys)
        in_pred = bool(index.predicate and re.search(rf"\b{re.escape(lowered)}\b", index.predicate.lower()))
        if lowered in names or in_expr or in_pred:
            found.append(index)
    return found


def _index_on(index: Index, column: str, to: str, name: str) -> str | None:
    """The index's definition rebuilt on column `to` CONCURRENTLY under `name`."""
    node = parse_sql(index.definition or "")[0].stmt
    if not isinstance(node, ast.IndexStmt):
        return None
    for n in _walk(node):
        if isinstance(n, ast.IndexElem) and n.name and n.name.lower() == column.lower():
            n.name = to
        elif isinstance(n, ast.ColumnRef) and n.fields and isinstance(n.fields[-1], ast.String):
            if str(n.fields[-1].sval).lower() == column.lower():
                n.fields = (ast.String(to),)
        elif isinstance(n, ast.String) and n.sval and n.sval.lower() == column.lower():
            n.sval = to  # INCLUDE columns
    node.idxname = name
    node.concurrent = True
    node.if_not_exists = True
    return show(node) + ";"


def _index_drafts(rel: Rel, table: Table | None, column: str, to: str,
                  sc: Scope) -> tuple[list[Draft], list[tuple[str, str]]]:
    drafts: list[Draft] = []
    names: list[tuple[str, str]] = []
    for index in _column_indexes(table, column):
        name = (index.name.replace(column, to) if column in index.name and index.name.replace(column, to) != index.name
                else obj_name(index.name, None, "new"))
        sql = _index_on(index, column, to, name)
        if sql is None:
            continue
        names.append((index.name, name))
        drafts.append(Draft(Phase.BACKFILL, f"Rebuild index {index.name} on {rel.label}.{to} as {name} CONCURRENTLY",
                            sql, transactional=False, lock=SHARE_UPDATE_EXCLUSIVE, lock_target=rel.label,
                            timing="scan", rollback=f"DROP INDEX CONCURRENTLY IF EXISTS {rel.sibling(name)};",
                            reads_data=True))
    return drafts, names


def _fill(rel: Rel, sc: Scope, target: str, value: str, description: str) -> list[Draft]:
    where = f"{q(target)} IS NULL AND ({value}) IS NOT NULL"
    return backfill(rel, sc, f"{q(target)} = {value}", where, description, todo=target)


def alter_type(stmt: ast.AlterTableStmt, cmd: ast.AlterTableCmd, cdef: ast.ColumnDef, rel: Rel,
               sc: Scope) -> list[Draft]:
    name = cmd.name or ""
    text = _one_cmd(stmt, cmd)
    table = sc.find_table(rel)
    old = table.column(name) if table else None
    using = cdef.raw_default
    new_type = show(cdef.typeName) if cdef.typeName else "text"
    inverse = (f"ALTER TABLE {rel.sql} ALTER COLUMN {q(name)} TYPE {old.data_type} USING {q(name)}::{old.data_type};"
               if old else None)
    if old is not None and using is None and cdef.typeName is not None and binary_coercible(old, cdef.typeName):
        return single(sc, text, f"Change {rel.label}.{name} to {new_type}: binary-coercible, no rewrite or scan",
                      target=rel.label, rollback=inverse)
    if old is None:
        sc.note(f"{rel.label}.{name}: the current type is unknown here (offline, table not created in this "
                "migration), so the type change is planned as a rewrite; its indexes and default are not known "
                "either: rebuild them on the new column before the switch step.")
    why = _constrained(table, name, sc)
    views = views_using(sc, rel, name)
    if views:
        why = f"views depend on it ({', '.join(views)}); PostgreSQL refuses the type change until they are dropped " \
              "(re-create them after)"
    if why:
        sc.note(f"ALTER COLUMN {rel.label}.{name} TYPE: not rewritten as expand/contract because {why}; kept as "
                "written (rewrites the table under ACCESS EXCLUSIVE). Plan the key change by hand "
                "(new column + unique index CONCURRENTLY + constraint swap).")
        return single(sc, text, f"Change {rel.label}.{name} to {new_type} (rewrites the table)", target=rel.label,
                      rollback=inverse, timing="long")
    sc.barrier(name, Phase.SWITCH)
    new = obj_name(name, None, "new")
    deprecated = obj_name(name, None, "deprecated")
    fn = rel.sibling(obj_name(rel.name, name, "sync"))
    trigger = obj_name(rel.name, name, "sync")

    def conv(prefix: str | None, column: str) -> str:
        if using is not None:
            return show(_retarget(using, name, prefix, column))
        ref = f"{prefix}.{q(column)}" if prefix else q(column)
        return f"CAST({ref} AS {new_type})"

    before = sync_function(fn, name, new, conv("new", name), guard_back=True, fill_missing=True)
    after = sync_function(fn, deprecated, name, conv("new", deprecated), guard_back=True)
    collate = f" {show(cdef.collClause)}" if cdef.collClause else ""
    drafts = [
        Draft(Phase.EXPAND, f"Add {rel.label}.{new} of type {new_type} next to {name}",
              f"ALTER TABLE {rel.sql} ADD COLUMN {q(new)} {new_type}{collate};", lock_target=rel.label,
              rollback=f"ALTER TABLE {rel.sql} DROP COLUMN IF EXISTS {q(new)};"),
        Draft(Phase.EXPAND, f"Trigger keeping {name} and {new} in step both ways on every insert and update",
              before + "\n" + sync_trigger(rel, trigger, fn), lock=SHARE_ROW_EXCLUSIVE, lock_target=rel.label,
              rollback=drop_sync(rel, trigger, fn)),
    ]
    not_null = old is not None and not old.nullable
    nn = not_null_drafts(rel, new) if not_null else []
    if nn:
        drafts.append(nn[0])
    drafts += _fill(rel, sc, new, conv(None, name), f"Backfill {rel.label}.{new} from {name}")
    if nn:
        nn[1].phase = Phase.BACKFILL
        drafts.append(nn[1])
    index_drafts, renames = _index_drafts(rel, table, name, new, sc)
    drafts += index_drafts
    if nn:
        nn[2].phase = Phase.SWITCH
        nn[3].phase = Phase.SWITCH
        drafts += nn[2:]
    swap, undo = _swap_sql(rel, old, name, new, deprecated, renames, not_null)
    drafts.append(Draft(
        Phase.SWITCH, f"Swap in one short transaction: {name} becomes {deprecated} (kept, still synced) and {new} "
        f"becomes {name}; the application now reads and writes the new type under the old name",
        "\n".join(swap) + "\n" + after, lock_target=rel.label, rollback="\n".join(undo) + "\n" + before
    ).ack(RENAME_COLUMN, AFTER_EXCLUSIVE))
    drafts.append(Draft(Phase.CONTRACT, f"Stop syncing {deprecated}: drop the trigger and its function",
                        drop_sync(rel, trigger, fn), lock=ACCESS_EXCLUSIVE, lock_target=rel.label,
                        rollback=after + "\n" + sync_trigger(rel, trigger, fn)).ack(AFTER_EXCLUSIVE))
    drafts.append(Draft(Phase.CONTRACT, f"Drop {rel.label}.{deprecated} in a later release: IRREVERSIBLE",
                        f"ALTER TABLE {rel.sql} DROP COLUMN IF EXISTS {q(deprecated)};", lock_target=rel.label,
                        irreversible=True).ack(DROP_COLUMN))
    return drafts


def _sequence_of(col: Column | None) -> str | None:
    if col is None or not col.default:
        return None
    m = re.match(r"nextval\('([^']+)'", col.default)
    return m.group(1) if m else None


def _swap_sql(rel: Rel, old: Column | None, name: str, new: str, deprecated: str,
              renames: list[tuple[str, str]], not_null: bool) -> tuple[list[str], list[str]]:
    t = rel.sql
    swap: list[str] = []
    undo: list[str] = []
    default = old.default if old else None
    if default:
        swap.append(f"ALTER TABLE {t} ALTER COLUMN {q(name)} DROP DEFAULT;")
    swap += [f"ALTER TABLE {t} RENAME COLUMN {q(name)} TO {q(deprecated)};",
             f"ALTER TABLE {t} RENAME COLUMN {q(new)} TO {q(name)};"]
    if default:
        swap.append(f"ALTER TABLE {t} ALTER COLUMN {q(name)} SET DEFAULT {default};")
    if not_null:
        swap.append(f"ALTER TABLE {t} ALTER COLUMN {q(deprecated)} DROP NOT NULL;")
    seq = _sequence_of(old)
    if seq:
        swap.append(f"ALTER SEQUENCE {seq} OWNED BY {t}.{q(name)};")
    for original, built in renames:
        kept = obj_name(original, None, "deprecated")
        swap += [f"ALTER INDEX {rel.sibling(original)} RENAME TO {q(kept)};",
                 f"ALTER INDEX {rel.sibling(built)} RENAME TO {q(original)};"]
        undo += [f"ALTER INDEX {rel.sibling(original)} RENAME TO {q(built)};",
                 f"ALTER INDEX {rel.sibling(kept)} RENAME TO {q(original)};"]
    if default:
        undo.append(f"ALTER TABLE {t} ALTER COLUMN {q(name)} DROP DEFAULT;")
    undo += [f"ALTER TABLE {t} RENAME COLUMN {q(name)} TO {q(new)};",
             f"ALTER TABLE {t} RENAME COLUMN {q(deprecated)} TO {q(name)};"]
    if default:
        undo.append(f"ALTER TABLE {t} ALTER COLUMN {q(name)} SET DEFAULT {default};")
    if not_null:
        undo.append(f"ALTER TABLE {t} ALTER COLUMN {q(new)} DROP NOT NULL;")
        undo.append(f"ALTER TABLE {t} ALTER COLUMN {q(name)} SET NOT NULL;")
    if seq:
        undo.append(f"ALTER SEQUENCE {seq} OWNED BY {t}.{q(name)};")
    return swap, undo


# ---------------------------------------------------------------- renames


def rename(stmt: ast.RenameStmt, text: str, sc: Scope) -> list[Draft]:
    kind = stmt.renameType
    if kind == ObjectType.OBJECT_COLUMN and stmt.relation is not None and stmt.relationType == ObjectType.OBJECT_TABLE:
        return rename_column(stmt, text, sc)
    if kind == ObjectType.OBJECT_TABLE and stmt.relation is not None:
        return rename_table(stmt, text, sc)
    rollback = None
    if stmt.relation is not None and stmt.newname:
        rel = sc.rel(stmt.relation)
        if kind == ObjectType.OBJECT_TABCONSTRAINT and stmt.subname:
            rollback = f"ALTER TABLE {rel.sql} RENAME CONSTRAINT {q(stmt.newname)} TO {q(stmt.subname)};"
        elif kind == ObjectType.OBJECT_COLUMN and stmt.subname:
            word = "VIEW" if stmt.relationType == ObjectType.OBJECT_VIEW else "TABLE"
            rollback = f"ALTER {word} {rel.sql} RENAME COLUMN {q(stmt.newname)} TO {q(stmt.subname)};"
        elif kind in (ObjectType.OBJECT_INDEX, ObjectType.OBJECT_SEQUENCE, ObjectType.OBJECT_VIEW):
            word = kind.name.removeprefix("OBJECT_")
            rollback = f"ALTER {word} {rel.sibling(stmt.newname)} RENAME TO {q(rel.name)};"
        sc.barrier(stmt.subname or rel.name, Phase.EXPAND)
    return single(sc, text, f"Rename {str(kind.name).removeprefix('OBJECT_').lower() if kind else 'object'}",
                  rollback=rollback)


def rename_column(stmt: ast.RenameStmt, text: str, sc: Scope) -> list[Draft]:
    rel = sc.rel(stmt.relation)
    old_name, new_name = stmt.subname or "", stmt.newname or ""
    undo = f"ALTER TABLE {rel.sql} RENAME COLUMN {q(new_name)} TO {q(old_name)};"
    if sc.is_new(rel):
        return single(sc, text, f"Rename {rel.label}.{old_name} to {new_name} (table created by this migration)",
                      target=rel.label, rollback=undo)
    table = sc.find_table(rel)
    col = table.column(old_name) if table else None
    why = "its type is unknown here (offline, table not created in this migration)" if col is None else None
    why = why or _constrained(table, old_name, sc)
    views = views_using(sc, rel, old_name)
    if views and not why:
        why = f"views depend on it ({', '.join(views)}): they follow a plain rename, but would stay on the old column"
    if why or col is None:
        sc.note(f"RENAME COLUMN {rel.label}.{old_name}: kept as a plain rename because {why}. The rename itself is "
                "instant, but application code using the old name fails from that moment: deploy code that "
                "handles both names first.")
        return single(sc, text, f"Rename {rel.label}.{old_name} to {new_name} (breaks code using the old name)",
                      target=rel.label, rollback=undo)
    sc.barrier(old_name, Phase.CONTRACT)
    deprecated = obj_name(old_name, None, "deprecated")
    fn = rel.sibling(obj_name(rel.name, new_name, "sync"))
    trigger = obj_name(rel.name, new_name, "sync")
    function = sync_function(fn, old_name, new_name, f"NEW.{q(old_name)}", guard_back=False, default=col.default)
    collate = f" COLLATE {q(col.collation)}" if col.collation and col.collation != "default" else ""
    drafts = [
        Draft(Phase.EXPAND, f"Add {rel.label}.{new_name} ({col.data_type}) next to {old_name}",
              f"ALTER TABLE {rel.sql} ADD COLUMN {q(new_name)} {col.data_type}{collate};", lock_target=rel.label,
              rollback=f"ALTER TABLE {rel.sql} DROP COLUMN IF EXISTS {q(new_name)};"),
        Draft(Phase.EXPAND, f"Trigger keeping {old_name} and {new_name} in step both ways (old and new "
              "application versions both work)", function + "\n" + sync_trigger(rel, trigger, fn),
              lock=SHARE_ROW_EXCLUSIVE, lock_target=rel.label, rollback=drop_sync(rel, trigger, fn)),
    ]
    if col.default:
        drafts.append(Draft(
            Phase.EXPAND, f"Move the default of {rel.label}.{old_name} into the sync trigger (so an insert through "
            "either name is copied to the other)", f"ALTER TABLE {rel.sql} ALTER COLUMN {q(old_name)} DROP DEFAULT;",
            lock_target=rel.label,
            rollback=f"ALTER TABLE {rel.sql} ALTER COLUMN {q(old_name)} SET DEFAULT {col.default};"))
    drafts += _fill(rel, sc, new_name, q(old_name), f"Backfill {rel.label}.{new_name} from {old_name}")
    if not col.nullable:
        nn = not_null_drafts(rel, new_name, tail_phase=Phase.BACKFILL)
        nn[0].phase = Phase.BACKFILL
        drafts += nn
    index_drafts, _ = _index_drafts(rel, table, old_name, new_name, sc)
    drafts += index_drafts
    sc.note(f"RENAME COLUMN {rel.label}.{old_name} -> {new_name}: deploy the application that reads and writes "
            f"{new_name} after the backfill steps and before the contract steps (the trigger keeps both columns "
            "equal until then; that deploy is the switch, it needs no SQL).")
    t = rel.sql
    move_default = []
    restore_default = []
    if col.default:
        move_default = [f"ALTER TABLE {t} ALTER COLUMN {q(new_name)} SET DEFAULT {col.default};",
                        f"ALTER TABLE {t} ALTER COLUMN {q(old_name)} DROP DEFAULT;"]
        restore_default = [f"ALTER TABLE {t} ALTER COLUMN {q(old_name)} SET DEFAULT {col.default};",
                           f"ALTER TABLE {t} ALTER COLUMN {q(new_name)} DROP DEFAULT;"]
        seq = _sequence_of(col)
        if seq:
            move_default.append(f"ALTER SEQUENCE {seq} OWNED BY {t}.{q(new_name)};")
            restore_default.append(f"ALTER SEQUENCE {seq} OWNED BY {t}.{q(old_name)};")
    if not col.nullable:
        move_default.append(f"ALTER TABLE {t} ALTER COLUMN {q(old_name)} DROP NOT NULL;")
        restore_default.append(f"ALTER TABLE {t} ALTER COLUMN {q(old_name)} SET NOT NULL;")
    drafts += [
        Draft(Phase.CONTRACT, f"Stop syncing: drop the trigger; {new_name} takes over the default",
              "\n".join([drop_sync(rel, trigger, fn), *move_default]), lock_target=rel.label,
              rollback="\n".join([*restore_default, function, sync_trigger(rel, trigger, fn)])).ack(AFTER_EXCLUSIVE),
        Draft(Phase.CONTRACT, f"Safety net: rename {rel.label}.{old_name} to {deprecated} (data kept; anything "
              "still using the old name fails loudly). Wait at least one release before the next step",
              f"ALTER TABLE {t} RENAME COLUMN {q(old_name)} TO {q(deprecated)};", lock_target=rel.label,
              rollback=f"ALTER TABLE {t} RENAME COLUMN {q(deprecated)} TO {q(old_name)};").ack(RENAME_COLUMN),
        Draft(Phase.CONTRACT, f"Drop {rel.label}.{deprecated} in a later release: IRREVERSIBLE",
              f"ALTER TABLE {t} DROP COLUMN IF EXISTS {q(deprecated)};", lock_target=rel.label,
              irreversible=True).ack(DROP_COLUMN),
    ]
    return drafts


def rename_table(stmt: ast.RenameStmt, text: str, sc: Scope) -> list[Draft]:
    rel = sc.rel(stmt.relation)
    new_name = stmt.newname or ""
    new = rel.renamed(new_name)
    if sc.is_new(rel):
        return single(sc, text, f"Rename {rel.label} to {new_name} (created by this migration)", target=rel.label,
                      rollback=f"ALTER TABLE {new.sql} RENAME TO {q(rel.name)};")
    sc.barrier(rel.name, Phase.CONTRACT)
    sc.follows.append(rel.label.lower())  # earlier steps still name the table by its old name
    # security_invoker (PostgreSQL 15+): callers keep their own table privileges and row-level security
    invoker = " WITH (security_invoker = true)" if sc.ctx.server_version_num >= 150000 else ""
    view = f"CREATE VIEW {rel.sql}{invoker} AS SELECT * FROM {new.sql};"
    if sc.ctx.catalog is not None:
        for grant in sc.ctx.catalog.grants:
            if (grant.object_type == "table" and grant.object.lower() == rel.label.lower()
                    and grant.privilege in ("SELECT", "INSERT", "UPDATE", "DELETE")):
                grantee = "PUBLIC" if grant.grantee == "PUBLIC" else q(grant.grantee)
                view += f"\nGRANT {grant.privilege} ON {rel.sql} TO {grantee};"
    else:
        sc.note(f"RENAME TABLE {rel.label}: offline, the table's grants are not known; grant on the view {rel.name} "
                "what the application's roles have on the table.")
    sc.note(f"RENAME TABLE {rel.label} -> {new_name}: a view named {rel.name} keeps old code working (simple views "
            "are updatable: SELECT, INSERT, UPDATE, DELETE pass through) until the contract step drops it. It lists "
            "the columns that exist when it is created; ON CONFLICT and some tools do not work through a view.")
    return [
        Draft(Phase.EXPAND, f"Rename {rel.label} to {new_name} and leave an updatable view under the old name, in one "
              "short transaction", f"ALTER TABLE {rel.sql} RENAME TO {q(new_name)};\n{view}", lock_target=rel.label,
              rollback=f"DROP VIEW IF EXISTS {rel.sql};\nALTER TABLE {new.sql} RENAME TO {q(rel.name)};"
              ).ack(RENAME_TABLE, AFTER_EXCLUSIVE),
        Draft(Phase.CONTRACT, f"Drop the compatibility view {rel.label} once no code uses the old name",
              f"DROP VIEW IF EXISTS {rel.sql};", lock_target=rel.label, rollback=view),
    ]


# ---------------------------------------------------------------- UPDATE / DELETE in batches


def _conjuncts(node: ast.Node | None) -> list[ast.Node]:
    if isinstance(node, ast.BoolExpr) and node.boolop is not None and node.boolop.name == "AND_EXPR":
        return [c for arg in node.args or () for c in _conjuncts(arg)]
    return [node] if node is not None else []


def _time_dependent(node: ast.Node | None) -> bool:
    return is_volatile(node) or any(isinstance(n, ast.SQLValueFunction) for n in _walk(node)) or any(
        isinstance(n, ast.FuncCall) and _names(n.funcname)[-1:] in (["now"], ["statement_timestamp"])
        for n in _walk(node))


def batched_dml(stmt: ast.UpdateStmt | ast.DeleteStmt, text: str, sc: Scope) -> list[Draft]:
    rel = sc.rel(stmt.relation)
    verb = "UPDATE" if isinstance(stmt, ast.UpdateStmt) else "DELETE"
    if sc.is_new(rel):
        return single(sc, text, f"{verb} on {rel.label} (created by this migration)", phase=Phase.BACKFILL,
                      lock=ROW_EXCLUSIVE, target=rel.label, timing="long")
    keep = single(sc, text, f"{verb} on {rel.label} in one statement (IRREVERSIBLE data change)",
                  phase=Phase.BACKFILL, lock=ROW_EXCLUSIVE, target=rel.label, irreversible=True, timing="long")
    extra = stmt.withClause or getattr(stmt, "returningClause", None) or (
        stmt.fromClause if isinstance(stmt, ast.UpdateStmt) else stmt.usingClause)
    if extra:
        sc.note(f"{verb} on {rel.label} uses WITH/FROM/USING/RETURNING: not batched; split it by key range by hand.")
        return keep
    alias = stmt.relation.alias.aliasname if stmt.relation and stmt.relation.alias else None
    where = show(stmt.whereClause) if stmt.whereClause is not None else "true"
    table = sc.find_table(rel)
    key = table.primary_key.columns if table is not None and table.primary_key else None
    set_clause = None
    if isinstance(stmt, ast.UpdateStmt):
        targets = [t for t in stmt.targetList or () if isinstance(t, ast.ResTarget)]
        if any(isinstance(t.val, (ast.MultiAssignRef, ast.SetToDefault)) or t.indirection for t in targets):
            sc.note(f"UPDATE on {rel.label}: row or DEFAULT assignments are not batched; kept as one statement.")
            return keep
        set_cols = {str(t.name).lower() for t in targets}
        set_clause = ", ".join(f"{q(str(t.name))} = {show(t.val)}" for t in targets)  # type: ignore[arg-type]
        reads_own = any(_walk(t.val) and (_cols(t.val) & set_cols) for t in targets)
        if not reads_own and not any(_time_dependent(t.val) for t in targets):
            cols = ", ".join(q(str(t.name)) for t in targets)
            known = {c.name.lower(): c.data_type for c in table.columns} if table is not None else {}

            def typed(target: ast.ResTarget) -> str:
                kind = known.get(str(target.name).lower())
                return f"CAST({show(target.val)} AS {kind})" if kind else show(target.val)  # type: ignore[arg-type]

            vals = ", ".join(typed(t) for t in targets)
            guard = (f"{cols} IS DISTINCT FROM ({vals})" if len(targets) == 1
                     else f"ROW({cols}) IS DISTINCT FROM ROW({vals})")
        else:
            nulls = {_cols(c.arg).pop() for c in _conjuncts(stmt.whereClause)
                     if isinstance(c, ast.NullTest) and c.nulltesttype is not None and c.nulltesttype.name == "IS_NULL"
                     and isinstance(c.arg, ast.ColumnRef) and len(_cols(c.arg)) == 1}
            filled = [t for t in targets if str(t.name).lower() in nulls]
            if not filled:
                sc.note(f"UPDATE on {rel.label}: its SET reads the columns it writes (or the clock), so a re-run "
                        "batch would change rows twice; kept as one statement. Split it by key range by hand.")
                return keep
            guard = " AND ".join(f"({show(t.val)}) IS NOT NULL" for t in filled)  # type: ignore[arg-type]
        where = f"({where}) AND {guard}"
    if key is None:
        sc.note(f"{rel.label}: no primary key known, so the {verb} batches pick rows by ctid.")
    batch_rel = Rel(rel.schema, rel.name, rel.default_schema)
    sql = keyed_batch(verb, batch_rel, key, set_clause=set_clause, where=where, batch_rows=sc.batch_rows)  # type: ignore[arg-type]
    if alias:
        sql = sql.replace(f"{verb} {'FROM ' if verb == 'DELETE' else ''}{rel.sql} ",
                          f"{verb} {'FROM ' if verb == 'DELETE' else ''}{rel.sql} AS {q(alias)} ", 1)
        sql = sql.replace(f"FROM {rel.sql} WHERE", f"FROM {rel.sql} AS {q(alias)} WHERE")
    return [Draft(Phase.BACKFILL, f"{verb} on {rel.label} in batches of {sc.batch_rows} rows, each its own short "
                  "transaction (repeat until a batch changes no row); IRREVERSIBLE data change", sql,
                  lock=ROW_EXCLUSIVE, lock_target=rel.label, timing="batch", repeat="until_no_rows",
                  irreversible=True, reads_data=True)]


def _cols(node: ast.Node | None) -> set[str]:
    return {str(n.fields[-1].sval).lower() for n in _walk(node)
            if isinstance(n, ast.ColumnRef) and n.fields and isinstance(n.fields[-1], ast.String)}


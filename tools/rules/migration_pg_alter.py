"""ALTER TABLE on PostgreSQL: what each subcommand locks, whether it scans or rewrites, the safe form.

Lock levels (PostgreSQL docs, ALTER TABLE): VALIDATE CONSTRAINT, SET STATISTICS, CLUSTER ON, SET (...) and
DETACH ... CONCURRENTLY take SHARE UPDATE EXCLUSIVE; ADD FOREIGN KEY and trigger changes SHARE ROW
EXCLUSIVE (on both tables for a foreign key); everything else ACCESS EXCLUSIVE.
"""

from __future__ import annotations

import re
from typing import Any

from dbsage.tools.findings import ObjectType
from dbsage.tools.migration_model import MigrationStatement
from dbsage.tools.rules.migration_pg_ast import (
    STABLE_FUNCTIONS,
    VOLATILE_FUNCTIONS,
    Node,
    TypeRef,
    column_refs,
    function_names,
    relation_name,
    strings,
    type_ref,
    unwrap,
)
from dbsage.tools.rules.migration_pg_state import (
    ACCESS_EXCLUSIVE,
    SHARE_ROW_EXCLUSIVE,
    SHARE_UPDATE_EXCLUSIVE,
    Effect,
    Hazard,
    Walk,
    qualified,
    robust,
)
from dbsage.tools.rules.migration_pg_types import type_hazards

_LIGHT = {
    "AT_ValidateConstraint": SHARE_UPDATE_EXCLUSIVE, "AT_SetStatistics": SHARE_UPDATE_EXCLUSIVE,
    "AT_ClusterOn": SHARE_UPDATE_EXCLUSIVE, "AT_DropCluster": SHARE_UPDATE_EXCLUSIVE,
    "AT_SetRelOptions": SHARE_UPDATE_EXCLUSIVE, "AT_ResetRelOptions": SHARE_UPDATE_EXCLUSIVE,
    "AT_AttachPartition": SHARE_UPDATE_EXCLUSIVE, "AT_EnableTrig": SHARE_ROW_EXCLUSIVE,
    "AT_DisableTrig": SHARE_ROW_EXCLUSIVE, "AT_EnableTrigAll": SHARE_ROW_EXCLUSIVE,
    "AT_DisableTrigAll": SHARE_ROW_EXCLUSIVE, "AT_EnableTrigUser": SHARE_ROW_EXCLUSIVE,
    "AT_DisableTrigUser": SHARE_ROW_EXCLUSIVE,
}
_NOT_NULL_CHECK = re.compile(r'^\(*\s*"?(?P<col>[^"\s()]+)"?\s+IS\s+NOT\s+NULL\s*\)*$', re.IGNORECASE)
_REWRITES = {
    "AT_SetLogged": ("migration.set_logged", "SET LOGGED"),
    "AT_SetUnLogged": ("migration.set_logged", "SET UNLOGGED"),
    "AT_SetAccessMethod": ("migration.set_access_method", "SET ACCESS METHOD"),
    "AT_SetTableSpace": ("migration.set_access_method", "SET TABLESPACE"),
}


def default_volatility(expr: Any, walk: Walk) -> str:
    """'constant', 'stable' (evaluated once), 'volatile' (per row: rewrite) or 'unknown'."""
    names = function_names(expr)
    if not names:
        return "constant"
    live = {f.name.lower(): f.volatility for f in walk.ctx.catalog.functions} if walk.ctx.catalog else {}
    verdict = "stable"
    for name in names:
        if name in VOLATILE_FUNCTIONS or live.get(name) == "volatile":
            return "volatile"
        if name not in STABLE_FUNCTIONS and live.get(name) not in ("stable", "immutable"):
            verdict = "unknown"
    return verdict


def _constraints(coldef: Node) -> list[tuple[str, Node]]:
    return [unwrap(c) for c in coldef.get("constraints") or []]


def _binary_coercible(old_type: str, old_length: int | None, new: TypeRef) -> bool:
    """True when PostgreSQL changes the type without rewriting or scanning (pg_cast binary-coercible)."""
    old = old_type.lower()
    if new.array:
        return False
    if old in ("varchar", "character varying"):
        if new.name == "text" or (new.name == "varchar" and not new.mods):
            return True
        return new.name == "varchar" and old_length is not None and bool(new.mods) and (new.mods[0] or 0) >= old_length
    if old == "text":
        return new.name == "text" or (new.name == "varchar" and not new.mods)
    if old == "cidr":
        return new.name == "inet"
    return False


def _is_key(table_elts_pk: set[str], column: str, constraints: list[tuple[str, Node]]) -> bool:
    return column.lower() in table_elts_pk or column.lower() == "id" or any(
        k == "Constraint" and f.get("contype") == "CONSTR_PRIMARY" for k, f in constraints)


def column_hazards(table: tuple[str, str], coldef: Node, pk: set[str]) -> list[Hazard]:
    """Design findings for a column definition (CREATE TABLE element or ADD COLUMN)."""
    ref = type_ref(coldef.get("typeName"))
    column = str(coldef.get("colname", ""))
    if ref is None:
        return []
    return type_hazards(table, column, ref, key=_is_key(pk, column, _constraints(coldef)))


def alter_table(fields: Node, stmt: MigrationStatement, walk: Walk) -> tuple[list[Hazard], list[Effect]]:
    if fields.get("objtype") not in (None, "OBJECT_TABLE"):
        return [], []
    schema, name = relation_name(fields.get("relation"), walk.default_schema)
    table = walk.key(schema, name)
    new = walk.is_new(table)
    hazards: list[Hazard] = []
    effects: list[Effect] = []
    cmds = fields.get("cmds") or []
    for item in cmds:
        kind, cmd = unwrap(item)
        if kind != "AlterTableCmd":
            continue
        sub = str(cmd.get("subtype", ""))
        lock = _LIGHT.get(sub, ACCESS_EXCLUSIVE)
        if sub == "AT_DetachPartition":
            _, part = unwrap(cmd.get("def"))
            if part.get("concurrent"):
                lock = SHARE_UPDATE_EXCLUSIVE
        effects.append(Effect(table, lock))
        if sub in ("AT_AddConstraint", "AT_AddColumn"):
            _note_keys(sub, cmd, table, stmt, walk)
        found = _command(sub, cmd, table, new, stmt, walk, effects)
        if len(cmds) == 1 and sub == "AT_AddConstraint":
            _not_valid_fix(found, cmd, stmt.text, table)
        hazards.extend(found)
    return hazards, effects


def _note_keys(sub: str, cmd: Node, table: tuple[str, str], stmt: MigrationStatement, walk: Walk) -> None:
    """Remember the indexes and foreign keys ADD CONSTRAINT / ADD COLUMN create (checked after the walk)."""
    _, node = unwrap(cmd.get("def"))
    if sub == "AT_AddColumn":
        col = str(node.get("colname", ""))
        for kind, con in _constraints(node):
            if kind == "Constraint" and con.get("contype") in ("CONSTR_PRIMARY", "CONSTR_UNIQUE"):
                walk.add_index(table, [col])
            elif kind == "Constraint" and con.get("contype") == "CONSTR_FOREIGN":
                ref_schema, ref_name = relation_name(con.get("pktable"), walk.default_schema)
                walk.add_foreign_key(table, [col], f"{ref_schema}.{ref_name}", stmt)
        return
    contype = node.get("contype")
    if contype in ("CONSTR_PRIMARY", "CONSTR_UNIQUE") and not node.get("indexname"):
        keys: list[str | None] = list(strings(node.get("keys")))
        walk.add_index(table, keys)
    elif contype == "CONSTR_FOREIGN":
        ref_schema, ref_name = relation_name(node.get("pktable"), walk.default_schema)
        walk.add_foreign_key(table, strings(node.get("fk_attrs")), f"{ref_schema}.{ref_name}", stmt)


def _not_valid_fix(found: list[Hazard], cmd: Node, text: str, table: tuple[str, str]) -> None:
    """For a one-command ADD CONSTRAINT with a name: the statement itself with NOT VALID, then VALIDATE."""
    _, con = unwrap(cmd.get("def"))
    name = con.get("conname")
    if not name:
        return
    for hazard in found:
        if hazard.rule_id in ("migration.add_foreign_key", "migration.add_check_constraint"):
            hazard.fix = (f"{text.rstrip().rstrip(';').rstrip()} NOT VALID;\n"
                          f"ALTER TABLE {qualified(table)} VALIDATE CONSTRAINT {name};  -- in its own transaction")


def _command(sub: str, cmd: Node, table: tuple[str, str], new: bool, stmt: MigrationStatement, walk: Walk,
             effects: list[Effect]) -> list[Hazard]:
    t = qualified(table)
    out: list[Hazard] = []
    if sub == "AT_AddColumn":
        _, coldef = unwrap(cmd.get("def"))
        out.extend(column_hazards(table, coldef, set()))
        if not new:
            out.extend(_add_column(table, coldef, walk, effects))
            if not cmd.get("missing_ok"):
                out.extend(robust(walk, f"ADD COLUMN {coldef.get('colname')} without IF NOT EXISTS", t,
                                  f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {coldef.get('colname')} ...;"))
    elif new:
        _remember_constraint(sub, cmd, table, walk, validated=True)
        return out
    elif sub == "AT_SetNotNull":
        out.extend(_set_not_null(table, str(cmd.get("name", "")), walk))
    elif sub == "AT_DropNotNull":
        col = str(cmd.get("name", ""))
        out.append(Hazard("migration.drop_not_null", f"{t}.{col}", ObjectType.COLUMN,
                          f"DROP NOT NULL on {t}.{col}: code that still assumes the column is set will read "
                          "NULLs once new rows arrive.", table=table, lock=ACCESS_EXCLUSIVE, scale=False))
    elif sub == "AT_AddConstraint":
        out.extend(_add_constraint(table, cmd, walk, effects))
    elif sub == "AT_ValidateConstraint":
        out.extend(_validate(table, str(cmd.get("name", "")), walk))
    elif sub == "AT_AlterColumnType":
        out.extend(_alter_type(table, cmd, walk))
    elif sub == "AT_DropColumn":
        col = str(cmd.get("name", ""))
        out.append(Hazard("migration.drop_column", f"{t}.{col}", ObjectType.COLUMN,
                          f"DROP COLUMN {t}.{col}: application code still reading or writing it fails the moment "
                          "this commits, and the data is gone for good.", table=table, lock=ACCESS_EXCLUSIVE,
                          scale=False, fix=f"-- release 1: stop reading and writing {col}\n"
                          f"ALTER TABLE {t} RENAME COLUMN {col} TO {col}_deprecated;\n"
                          f"-- a later release, once nothing broke:\nALTER TABLE {t} DROP COLUMN {col}_deprecated;"))
    elif sub in _REWRITES:
        rule_id, what = _REWRITES[sub]
        out.append(Hazard(rule_id, t, ObjectType.TABLE,
                          f"{what} on {t} rewrites the whole table under ACCESS EXCLUSIVE: no reads or writes "
                          "until it finishes.", table=table, lock=ACCESS_EXCLUSIVE, rewrites_table=True,
                          work="rewrite", fix=f"-- rebuild online instead, e.g. pg_repack --table={t}"))
    elif sub == "AT_DetachPartition":
        _, part = unwrap(cmd.get("def"))
        pschema, pname = relation_name(part.get("name"), walk.default_schema)
        if not part.get("concurrent"):
            out.append(Hazard("migration.detach_partition_not_concurrently", t, ObjectType.TABLE,
                              f"DETACH PARTITION {pschema}.{pname} takes ACCESS EXCLUSIVE on {t}: every query "
                              "on the partitioned table waits (PostgreSQL 14+ can detach CONCURRENTLY).",
                              table=table, lock=ACCESS_EXCLUSIVE, scale=False,
                              fix=f"ALTER TABLE {t} DETACH PARTITION {pschema}.{pname} CONCURRENTLY;"))
        elif walk.in_transaction:
            out.append(not_in_transaction(table, "DETACH PARTITION ... CONCURRENTLY", walk))
    elif sub == "AT_DropConstraint":
        name = str(cmd.get("name", ""))
        walk.dropped_constraints.add((*table, name.lower()))
        out.append(Hazard("migration.drop_constraint", f"{t}.{name}", ObjectType.CONSTRAINT,
                          f"DROP CONSTRAINT {name} on {t}: the guarantee it gave (and for UNIQUE or PRIMARY KEY the "
                          "index that ON CONFLICT and lookups use) is gone at once; data written meanwhile may stop "
                          "satisfying it, so it cannot simply be added back.", table=table, lock=ACCESS_EXCLUSIVE,
                          scale=False))
    elif sub in ("AT_AddIdentity", "AT_SetIdentity", "AT_DropIdentity"):
        col = str(cmd.get("name", ""))
        out.append(Hazard("migration.alter_identity", f"{t}.{col}", ObjectType.COLUMN,
                          f"Changing the identity of {t}.{col} takes ACCESS EXCLUSIVE and changes how new keys are "
                          "drawn: inserts that pass explicit values or rely on the old sequence may start failing.",
                          table=table, lock=ACCESS_EXCLUSIVE, scale=False))
    return out


def not_in_transaction(table: tuple[str, str] | None, what: str, walk: Walk) -> Hazard:
    obj = qualified(table) if table else what
    how = "in an explicit transaction" if walk.explicit_transaction else "in the transaction the tool wraps it in"
    return Hazard("migration.non_transactional_in_transaction", obj, ObjectType.TABLE if table else ObjectType.FILE,
                  f"{what} cannot run inside a transaction block and this one runs {how}: the migration fails.",
                  table=table, scale=False, fix=f"-- run {what} as its own step, outside BEGIN/COMMIT")


def _add_column(table: tuple[str, str], coldef: Node, walk: Walk, effects: list[Effect]) -> list[Hazard]:
    t = qualified(table)
    col = str(coldef.get("colname", ""))
    ref = type_ref(coldef.get("typeName"))
    out: list[Hazard] = []
    default: Any = None
    not_null = generated = identity = False
    for kind, con in _constraints(coldef):
        if kind != "Constraint":
            continue
        contype = con.get("contype")
        if contype == "CONSTR_DEFAULT":
            default = con.get("raw_expr")
        elif contype in ("CONSTR_NOTNULL", "CONSTR_PRIMARY"):
            not_null = True
        elif contype == "CONSTR_GENERATED":
            generated = True
        elif contype == "CONSTR_IDENTITY":
            identity = True
        if contype in ("CONSTR_PRIMARY", "CONSTR_UNIQUE"):
            rule = "migration.add_primary_key" if contype == "CONSTR_PRIMARY" else "migration.add_unique_constraint"
            out.append(Hazard(rule, f"{t}.{col}", ObjectType.COLUMN,
                              f"ADD COLUMN {col} ... {'PRIMARY KEY' if contype == 'CONSTR_PRIMARY' else 'UNIQUE'} "
                              f"builds the index on {t} under ACCESS EXCLUSIVE: reads and writes wait.",
                              table=table, lock=ACCESS_EXCLUSIVE, scans_table=True, work="index",
                              fix=f"ALTER TABLE {t} ADD COLUMN {col} ...;  -- without the constraint\n"
                              f"CREATE UNIQUE INDEX CONCURRENTLY {table[1]}_{col}_key ON {t} ({col});\n"
                              f"ALTER TABLE {t} ADD CONSTRAINT {table[1]}_{col}_key "
                              f"{'PRIMARY KEY' if contype == 'CONSTR_PRIMARY' else 'UNIQUE'} USING INDEX "
                              f"{table[1]}_{col}_key;"))
        elif contype == "CONSTR_FOREIGN":
            ref_schema, ref_name = relation_name(con.get("pktable"), walk.default_schema)
            effects.append(Effect(walk.key(ref_schema, ref_name), SHARE_ROW_EXCLUSIVE))
            out.append(Hazard("migration.add_foreign_key", f"{t}.{col}", ObjectType.COLUMN,
                              f"ADD COLUMN {col} ... REFERENCES {ref_schema}.{ref_name} checks {t} and locks both "
                              "tables against writes while it does.", table=table, lock=ACCESS_EXCLUSIVE,
                              scans_table=True, work="scan",
                              fix=f"ALTER TABLE {t} ADD COLUMN {col} ...;  -- without REFERENCES\n"
                              f"ALTER TABLE {t} ADD CONSTRAINT {table[1]}_{col}_fkey FOREIGN KEY ({col}) "
                              f"REFERENCES {ref_schema}.{ref_name} NOT VALID;\n"
                              f"ALTER TABLE {t} VALIDATE CONSTRAINT {table[1]}_{col}_fkey;"))
        elif contype == "CONSTR_CHECK":
            out.append(Hazard("migration.add_check_constraint", f"{t}.{col}", ObjectType.COLUMN,
                              f"ADD COLUMN {col} ... CHECK evaluates the check on every row of {t} under ACCESS "
                              "EXCLUSIVE.", table=table, lock=ACCESS_EXCLUSIVE, scans_table=True, work="scan",
                              fix=f"ALTER TABLE {t} ADD COLUMN {col} ...;  -- without the CHECK\n"
                              f"ALTER TABLE {t} ADD CONSTRAINT {table[1]}_{col}_check CHECK (...) NOT VALID;\n"
                              f"ALTER TABLE {t} VALIDATE CONSTRAINT {table[1]}_{col}_check;"))
    serial = ref is not None and ref.name in ("serial", "bigserial", "smallserial")
    version = walk.ctx.server_version_num
    volatility = default_volatility(default, walk) if default is not None else None
    reason = None
    if generated:
        reason = "a STORED generated column is computed for every existing row"
    elif identity or serial:
        reason = "an identity or serial column draws a sequence value for every existing row"
    elif default is not None and version < 110000:
        reason = "before PostgreSQL 11 any default is written into every row"
    elif volatility == "volatile":
        reason = "the default is volatile, so it is computed and written for every existing row"
    elif volatility == "unknown":
        reason = "the default calls a function dbsage cannot classify; if it is volatile every row is rewritten"
    if reason is not None:
        out.append(Hazard("migration.add_column_volatile_default", f"{t}.{col}", ObjectType.COLUMN,
                          f"ADD COLUMN {col} rewrites {t} under ACCESS EXCLUSIVE: {reason}.", table=table,
                          lock=ACCESS_EXCLUSIVE, rewrites_table=True, work="rewrite",
                          severity="medium" if volatility == "unknown" and not (generated or identity or serial)
                          else None, evidence={"default_volatility": volatility},
                          fix=f"ALTER TABLE {t} ADD COLUMN {col} {ref.label if ref else '...'};\n"
                          f"ALTER TABLE {t} ALTER COLUMN {col} SET DEFAULT ...;  -- new rows\n"
                          f"-- backfill existing rows in key-range batches, then SET NOT NULL the safe way"))
    if not_null and default is None and not (identity or serial or generated):
        out.append(Hazard("migration.add_column_not_null_no_default", f"{t}.{col}", ObjectType.COLUMN,
                          f"ADD COLUMN {col} NOT NULL without a default fails on {t} as soon as it has a row.",
                          table=table, lock=ACCESS_EXCLUSIVE, work="",
                          fix=f"ALTER TABLE {t} ADD COLUMN {col} {ref.label if ref else '...'};  -- nullable\n"
                          f"-- or with a constant default: ... NOT NULL DEFAULT <constant> (PostgreSQL 11+)"))
    return out


def _set_not_null(table: tuple[str, str], col: str, walk: Walk) -> list[Hazard]:
    t = qualified(table)
    proven = (*table, col.lower()) in walk.proven_not_null or _live_check_proves(table, col, walk)
    if proven and walk.ctx.server_version_num >= 120000:
        return []
    live = walk.live_column(table, col)
    if live is not None and not live.nullable:
        return []
    why = " (PostgreSQL before 12 cannot use a CHECK constraint to skip it)" if proven else ""
    return [Hazard("migration.set_not_null", f"{t}.{col}", ObjectType.COLUMN,
                   f"SET NOT NULL on {t}.{col} scans the whole table under ACCESS EXCLUSIVE{why}.", table=table,
                   lock=ACCESS_EXCLUSIVE, scans_table=True, work="scan",
                   fix=f"ALTER TABLE {t} ADD CONSTRAINT {table[1]}_{col}_not_null CHECK ({col} IS NOT NULL) "
                   f"NOT VALID;\nALTER TABLE {t} VALIDATE CONSTRAINT {table[1]}_{col}_not_null;  -- own transaction\n"
                   f"ALTER TABLE {t} ALTER COLUMN {col} SET NOT NULL;  -- PostgreSQL 12+: no scan\n"
                   f"ALTER TABLE {t} DROP CONSTRAINT {table[1]}_{col}_not_null;")]


def _live_check_proves(table: tuple[str, str], col: str, walk: Walk) -> bool:
    live = walk.live_table(table)
    if live is None:
        return False
    for check in live.check_constraints:
        m = _NOT_NULL_CHECK.match(check.expression.strip().removeprefix("CHECK").strip())
        if check.validated and m and m.group("col").lower() == col.lower():
            return True
    return False


def _remember_constraint(sub: str, cmd: Node, table: tuple[str, str], walk: Walk, *, validated: bool) -> None:
    if sub == "AT_AddConstraint":
        _, con = unwrap(cmd.get("def"))
        _note_not_null_check(table, con, walk, validated=validated and not con.get("skip_validation"))
    elif sub == "AT_ValidateConstraint":
        _validate(table, str(cmd.get("name", "")), walk)


def _note_not_null_check(table: tuple[str, str], con: Node, walk: Walk, *, validated: bool) -> None:
    if con.get("contype") != "CONSTR_CHECK":
        return
    kind, test = unwrap(con.get("raw_expr"))
    if kind != "NullTest" or test.get("nulltesttype") != "IS_NOT_NULL":
        return
    cols = column_refs(test.get("arg"))
    if len(cols) != 1:
        return
    name = str(con.get("conname") or f"{table[1]}_{cols[0]}_check").lower()
    walk.not_null_checks[(*table, name)] = (cols[0], validated)
    if validated:
        walk.proven_not_null.add((*table, cols[0]))


def _add_constraint(table: tuple[str, str], cmd: Node, walk: Walk, effects: list[Effect]) -> list[Hazard]:
    t = qualified(table)
    _, con = unwrap(cmd.get("def"))
    contype = con.get("contype")
    name = str(con.get("conname") or "")
    not_valid = bool(con.get("skip_validation"))
    _note_not_null_check(table, con, walk, validated=not not_valid)
    if not_valid and name:
        walk.unvalidated_here.add((*table, name.lower()))
    if contype == "CONSTR_FOREIGN":
        ref_schema, ref_name = relation_name(con.get("pktable"), walk.default_schema)
        effects[-1] = Effect(table, SHARE_ROW_EXCLUSIVE)
        effects.append(Effect(walk.key(ref_schema, ref_name), SHARE_ROW_EXCLUSIVE))
        if not_valid:
            return []
        fk_cols = ", ".join(strings(con.get("fk_attrs")))
        ref_cols = ", ".join(strings(con.get("pk_attrs")))
        ref_list = f" ({ref_cols})" if ref_cols else ""
        cname = name or f"{table[1]}_{'_'.join(strings(con.get('fk_attrs')))}_fkey"
        return [Hazard("migration.add_foreign_key", f"{t}.{cname}", ObjectType.CONSTRAINT,
                       f"ADD FOREIGN KEY on {t} checks every row while holding SHARE ROW EXCLUSIVE on {t} and "
                       f"{ref_schema}.{ref_name}: writes to both tables wait.", table=table,
                       lock=SHARE_ROW_EXCLUSIVE, scans_table=True, work="scan",
                       evidence={"referenced_table": f"{ref_schema}.{ref_name}"},
                       fix=f"ALTER TABLE {t} ADD CONSTRAINT {cname} FOREIGN KEY ({fk_cols}) REFERENCES "
                       f"{ref_schema}.{ref_name}{ref_list} NOT VALID;\nALTER TABLE {t} VALIDATE CONSTRAINT {cname};  "
                       "-- separate transaction")]
    if contype == "CONSTR_CHECK":
        if not_valid:
            return []
        cname = name or f"{table[1]}_check"
        return [Hazard("migration.add_check_constraint", f"{t}.{cname}", ObjectType.CONSTRAINT,
                       f"ADD CHECK on {t} evaluates it on every row under ACCESS EXCLUSIVE.", table=table,
                       lock=ACCESS_EXCLUSIVE, scans_table=True, work="scan",
                       fix=f"ALTER TABLE {t} ADD CONSTRAINT {cname} CHECK (...) NOT VALID;\n"
                       f"ALTER TABLE {t} VALIDATE CONSTRAINT {cname};  -- separate transaction")]
    if contype in ("CONSTR_UNIQUE", "CONSTR_PRIMARY", "CONSTR_EXCLUSION") and not con.get("indexname"):
        cols = strings(con.get("keys"))
        what = {"CONSTR_UNIQUE": "UNIQUE", "CONSTR_PRIMARY": "PRIMARY KEY", "CONSTR_EXCLUSION": "EXCLUDE"}[contype]
        rule = "migration.add_primary_key" if contype == "CONSTR_PRIMARY" else "migration.add_unique_constraint"
        cname = name or f"{table[1]}_{'_'.join(cols)}_{'pkey' if contype == 'CONSTR_PRIMARY' else 'key'}"
        fix = None
        if contype != "CONSTR_EXCLUSION":
            fix = (f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {cname} ON {t} ({', '.join(cols)});\n"
                   f"ALTER TABLE {t} ADD CONSTRAINT {cname} {what} USING INDEX {cname};")
        return [Hazard(rule, f"{t}.{cname}", ObjectType.CONSTRAINT,
                       f"ADD {what} on {t} builds its index under ACCESS EXCLUSIVE: reads and writes wait for "
                       "the whole build.", table=table, lock=ACCESS_EXCLUSIVE, scans_table=True, work="index",
                       evidence={"columns": cols}, fix=fix)]
    return []


def _validate(table: tuple[str, str], name: str, walk: Walk) -> list[Hazard]:
    key = (*table, name.lower())
    check = walk.not_null_checks.get(key)
    if check is not None:
        walk.not_null_checks[key] = (check[0], True)
        walk.proven_not_null.add((*table, check[0]))
    if key in walk.unvalidated_here and walk.in_transaction and not walk.is_new(table):
        t = qualified(table)
        return [Hazard("migration.validate_in_same_transaction", f"{t}.{name}", ObjectType.CONSTRAINT,
                       f"VALIDATE CONSTRAINT {name} runs in the transaction that added it NOT VALID, so the "
                       f"stronger lock of the ADD is held on {t} during the whole validation scan.", table=table,
                       lock=SHARE_UPDATE_EXCLUSIVE, scans_table=True, work="scan",
                       fix=f"COMMIT;\nALTER TABLE {t} VALIDATE CONSTRAINT {name};  -- its own transaction")]
    return []


def _alter_type(table: tuple[str, str], cmd: Node, walk: Walk) -> list[Hazard]:
    t = qualified(table)
    col = str(cmd.get("name", ""))
    _, coldef = unwrap(cmd.get("def"))
    ref = type_ref(coldef.get("typeName"))
    if ref is None:
        return []
    out = type_hazards(table, col, ref, key=col.lower() == "id")
    using = coldef.get("raw_default") is not None
    live = walk.live_column(table, col)
    evidence: dict[str, object] = {"new_type": ref.label}
    if live is not None:
        evidence["current_type"] = live.data_type
        if not using and (_binary_coercible(live.base_type, live.length, ref)
                          or _binary_coercible(live.data_type.split("(")[0], live.length, ref)):
            return out
    severity = None
    message = f"ALTER COLUMN {col} TYPE {ref.label} rewrites {t} and rebuilds its indexes under ACCESS EXCLUSIVE."
    if live is None and not using and (ref.name == "text" or ref.name == "varchar"):
        severity = "low"
        message = (f"ALTER COLUMN {col} TYPE {ref.label} on {t}: free if the column is varchar now (a "
                   "binary-coercible change), a full rewrite under ACCESS EXCLUSIVE otherwise; the current type "
                   "is unknown offline.")
    rewrites = severity is None
    out.append(Hazard("migration.change_column_type", f"{t}.{col}", ObjectType.COLUMN, message, table=table,
                      lock=ACCESS_EXCLUSIVE, rewrites_table=rewrites, work="rewrite" if rewrites else "",
                      severity=severity, evidence=evidence,
                      fix=f"ALTER TABLE {t} ADD COLUMN {col}_new {ref.label};\n"
                      f"-- trigger copying {col} into {col}_new on write; backfill in key-range batches;\n"
                      f"-- switch reads, then: ALTER TABLE {t} DROP COLUMN {col}; "
                      f"ALTER TABLE {t} RENAME COLUMN {col}_new TO {col};"))
    return out

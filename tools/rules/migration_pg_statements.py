"""Statements other than ALTER TABLE: index builds and drops, renames, drops, table rebuilds (VACUUM FULL,
CLUSTER, REINDEX), enum and domain changes, and data changes (UPDATE/DELETE backfills)."""

from __future__ import annotations

import re
from collections.abc import Callable

from dbsage.tools.findings import ObjectType
from dbsage.tools.migration_model import MigrationStatement
from dbsage.tools.rules.migration_pg_alter import alter_table, column_hazards, not_in_transaction
from dbsage.tools.rules.migration_pg_ast import (
    Node,
    bounded_by_key,
    def_names,
    relation_name,
    strings,
    unwrap,
)
from dbsage.tools.rules.migration_pg_state import (
    ACCESS_EXCLUSIVE,
    SHARE,
    SHARE_UPDATE_EXCLUSIVE,
    Effect,
    Hazard,
    Walk,
    qualified,
    robust,
)

Result = tuple[list[Hazard], list[Effect]]
Handler = Callable[[Node, MigrationStatement, Walk], Result]


def create_table(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    schema, name = relation_name(fields.get("relation"), walk.default_schema)
    table = walk.key(schema, name)
    if not (fields.get("if_not_exists") and walk.live_table(table) is not None):
        walk.new_tables.add(table)
    pk: set[str] = set()
    for item in fields.get("tableElts") or []:
        kind, elt = unwrap(item)
        if kind == "Constraint" and elt.get("contype") == "CONSTR_PRIMARY":
            pk |= {k.lower() for k in strings(elt.get("keys"))}
    hazards: list[Hazard] = []
    for item in fields.get("tableElts") or []:
        kind, elt = unwrap(item)
        if kind == "ColumnDef":
            hazards.extend(column_hazards(table, elt, pk))
            col = str(elt.get("colname", ""))
            for _, con in (unwrap(c) for c in elt.get("constraints") or []):
                _note_constraint(table, con, [col], stmt, walk)
        elif kind == "Constraint":
            _note_constraint(table, elt, None, stmt, walk)
    if not fields.get("if_not_exists"):
        hazards.extend(robust(walk, f"CREATE TABLE {qualified(table)}", qualified(table),
                               f"CREATE TABLE IF NOT EXISTS {qualified(table)} (...);"))
    return hazards, []


def _note_constraint(table: tuple[str, str], con: Node, column: list[str] | None, stmt: MigrationStatement,
                     walk: Walk) -> None:
    """Record the index a PRIMARY KEY/UNIQUE creates and the foreign key a REFERENCES declares."""
    contype = con.get("contype")
    if contype in ("CONSTR_PRIMARY", "CONSTR_UNIQUE"):
        keys: list[str | None] = list(column or strings(con.get("keys")))
        walk.add_index(table, keys)
    elif contype == "CONSTR_FOREIGN":
        ref_schema, ref_name = relation_name(con.get("pktable"), walk.default_schema)
        walk.add_foreign_key(table, column or strings(con.get("fk_attrs")), f"{ref_schema}.{ref_name}", stmt)


def create_table_as(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    into = fields.get("into") or {}
    schema, name = relation_name(into.get("rel"), walk.default_schema)
    walk.new_tables.add(walk.key(schema, name))
    return [], []


def create_relation(key: str) -> Handler:
    """CREATE SEQUENCE / CREATE VIEW: a new relation later statements (ALTER ... OWNER TO) may touch freely."""

    def handler(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
        schema, name = relation_name(fields.get(key), walk.default_schema)
        walk.new_tables.add(walk.key(schema, name))
        return [], []

    return handler


def select(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    into = fields.get("intoClause")
    if into:
        schema, name = relation_name(into.get("rel"), walk.default_schema)
        walk.new_tables.add(walk.key(schema, name))
    return [], []


def create_index(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    schema, name = relation_name(fields.get("relation"), walk.default_schema)
    table = walk.key(schema, name)
    t = qualified(table)
    idx = str(fields.get("idxname") or "")
    if idx:
        walk.new_indexes.add(f"{schema.lower()}.{idx.lower()}")
    if not fields.get("whereClause"):
        walk.add_index(table, [unwrap(p)[1].get("name") for p in fields.get("indexParams") or []])
    if walk.is_new(table):
        return [], []
    hazards: list[Hazard] = []
    if fields.get("concurrent"):
        if walk.in_transaction:
            hazards.append(not_in_transaction(table, "CREATE INDEX CONCURRENTLY", walk))
        elif not fields.get("if_not_exists"):
            hazards.extend(robust(walk, "CREATE INDEX CONCURRENTLY without IF NOT EXISTS", t,
                                   "CREATE INDEX CONCURRENTLY IF NOT EXISTS ...;  -- and drop the INVALID index "
                                   "a failed build leaves"))
        return hazards, [Effect(table, SHARE_UPDATE_EXCLUSIVE)]
    unique = "UNIQUE " if fields.get("unique") else ""
    hazards.append(Hazard("migration.create_index_not_concurrently", f"{t}.{idx}" if idx else t, ObjectType.INDEX,
                          f"CREATE {unique}INDEX {idx} on {t} holds a SHARE lock for the whole build: every "
                          "INSERT, UPDATE and DELETE on the table waits.", table=table, lock=SHARE,
                          scans_table=True, work="index",
                          fix=_concurrent_index(stmt.text)))
    return hazards, [Effect(table, SHARE)]


_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?", re.IGNORECASE)


def _concurrent_index(text: str) -> str:
    """The CREATE INDEX statement rewritten to build concurrently and be re-runnable."""
    body = _CREATE_INDEX.sub(lambda m: f"CREATE {m.group(1) or ''}INDEX CONCURRENTLY IF NOT EXISTS ", text, count=1)
    return body.rstrip().rstrip(";").rstrip() + ";  -- outside a transaction block"


def _index_table(schema: str, index: str, walk: Walk) -> tuple[str, str] | None:
    if walk.ctx.catalog is None:
        return None
    for table in walk.ctx.catalog.tables:
        if table.schema_name.lower() == schema.lower() and any(i.name.lower() == index.lower() for i in table.indexes):
            return walk.key(table.schema_name, table.name)
    return None


def drop(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    kind = fields.get("removeType")
    hazards: list[Hazard] = []
    effects: list[Effect] = []
    for item in fields.get("objects") or []:
        _, lst = unwrap(item)
        names = strings(lst.get("items"))
        if not names:
            continue
        schema, name = (names[-2], names[-1]) if len(names) > 1 else (walk.default_schema, names[-1])
        if kind == "OBJECT_TABLE":
            table = walk.key(schema, name)
            if walk.is_new(table):
                continue
            effects.append(Effect(table, ACCESS_EXCLUSIVE))
            hazards.append(Hazard("migration.drop_table", qualified(table), ObjectType.TABLE,
                                  f"DROP TABLE {qualified(table)}: code still using it fails at once, and the data "
                                  "cannot be brought back by a down migration.", table=table, lock=ACCESS_EXCLUSIVE,
                                  scale=False, fix=f"ALTER TABLE {qualified(table)} RENAME TO {name}_deprecated;  "
                                  "-- drop it in a later release"))
        elif kind == "OBJECT_INDEX":
            key = f"{schema.lower()}.{name.lower()}"
            table_of = _index_table(schema, name, walk)
            if key in walk.new_indexes or (table_of is not None and walk.is_new(table_of)):
                continue
            if fields.get("concurrent"):
                if walk.in_transaction:
                    hazards.append(not_in_transaction(table_of, "DROP INDEX CONCURRENTLY", walk))
                elif not fields.get("missing_ok"):
                    hazards.extend(robust(walk, "DROP INDEX CONCURRENTLY without IF EXISTS", key,
                                           f"DROP INDEX CONCURRENTLY IF EXISTS {key};"))
                continue
            if table_of is not None:
                effects.append(Effect(table_of, ACCESS_EXCLUSIVE))
            hazards.append(Hazard("migration.drop_index_not_concurrently", key, ObjectType.INDEX,
                                  f"DROP INDEX {key} takes ACCESS EXCLUSIVE on its table: reads and writes wait, "
                                  "and everything queues behind it while it waits for its own turn.",
                                  table=table_of, lock=ACCESS_EXCLUSIVE, scale=False,
                                  fix=f"DROP INDEX CONCURRENTLY IF EXISTS {key};  -- outside a transaction"))
    return hazards, effects


def rename(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    kind = fields.get("renameType")
    schema, name = relation_name(fields.get("relation"), walk.default_schema)
    table = walk.key(schema, name)
    new_name = str(fields.get("newname", ""))
    t = qualified(table)
    if kind == "OBJECT_TABLE":
        if walk.is_new(table):
            walk.new_tables.discard(table)
            walk.new_tables.add(walk.key(schema, new_name))
            return [], []
        return [Hazard("migration.rename_table", t, ObjectType.TABLE,
                       f"RENAME {t} TO {new_name}: the running application still uses the old name and fails "
                       "until it is deployed again.", table=table, lock=ACCESS_EXCLUSIVE, scale=False,
                       fix=f"ALTER TABLE {t} RENAME TO {new_name};\nCREATE VIEW {t} AS SELECT * FROM "
                       f"{schema}.{new_name};  -- the old name keeps working until the code moves")], \
            [Effect(table, ACCESS_EXCLUSIVE)]
    if kind == "OBJECT_COLUMN" and not walk.is_new(table):
        old = str(fields.get("subname", ""))
        return [Hazard("migration.rename_column", f"{t}.{old}", ObjectType.COLUMN,
                       f"RENAME COLUMN {old} TO {new_name} on {t}: queries of the running application that "
                       "name the old column fail until it is deployed again.", table=table, lock=ACCESS_EXCLUSIVE,
                       scale=False, fix=f"ALTER TABLE {t} ADD COLUMN {new_name} <type>;\n-- dual-write with a "
                       f"trigger, backfill in batches, switch reads, then drop {old}")], \
            [Effect(table, ACCESS_EXCLUSIVE)]
    if kind in ("OBJECT_COLUMN", "OBJECT_TABCONSTRAINT", "OBJECT_INDEX") and not walk.is_new(table):
        return [], [Effect(table, ACCESS_EXCLUSIVE)] if kind == "OBJECT_COLUMN" else []
    return [], []


def truncate(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    hazards: list[Hazard] = []
    effects: list[Effect] = []
    for item in fields.get("relations") or []:
        _, rv = unwrap(item)
        table = walk.key(*relation_name(rv, walk.default_schema))
        if walk.is_new(table):
            continue
        effects.append(Effect(table, ACCESS_EXCLUSIVE))
        if fields.get("behavior") == "DROP_CASCADE":
            hazards.append(Hazard("migration.truncate_cascade", qualified(table), ObjectType.TABLE,
                                  f"TRUNCATE {qualified(table)} CASCADE also empties every table that references "
                                  "it, recursively, which the statement does not name.", table=table,
                                  lock=ACCESS_EXCLUSIVE, scale=False,
                                  fix=f"TRUNCATE {qualified(table)}, <each referencing table>;  -- name them"))
    return hazards, effects


def vacuum(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    if not fields.get("is_vacuumcmd"):
        return [], []
    hazards: list[Hazard] = []
    effects: list[Effect] = []
    if walk.in_transaction:
        hazards.append(not_in_transaction(None, "VACUUM", walk))
    if "full" not in def_names(fields.get("options")):
        return hazards, effects
    rels = [unwrap(r)[1].get("relation") for r in fields.get("rels") or []]
    tables: list[tuple[str, str] | None] = [walk.key(*relation_name(rv, walk.default_schema)) for rv in rels if rv]
    for table in tables or [None]:
        if table is not None and walk.is_new(table):
            continue
        obj = qualified(table) if table else "database"
        if table is not None:
            effects.append(Effect(table, ACCESS_EXCLUSIVE))
        hazards.append(Hazard("migration.vacuum_full", obj, ObjectType.TABLE if table else ObjectType.DATABASE,
                              f"VACUUM FULL {obj} rewrites {'the table' if table else 'every table'} under ACCESS "
                              "EXCLUSIVE: no reads or writes until it ends.", table=table, lock=ACCESS_EXCLUSIVE,
                              rewrites_table=True, work="rewrite",
                              fix=f"-- rebuild online instead: pg_repack {'--table=' + obj if table else '--all'}"))
    return hazards, effects


def cluster(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    rv = fields.get("relation")
    table = walk.key(*relation_name(rv, walk.default_schema)) if rv else None
    if table is not None and walk.is_new(table):
        return [], []
    obj = qualified(table) if table else "database"
    hazards = [Hazard("migration.cluster", obj, ObjectType.TABLE if table else ObjectType.DATABASE,
                      f"CLUSTER {obj} rewrites the table in index order under ACCESS EXCLUSIVE: no reads or writes "
                      "until it ends.", table=table, lock=ACCESS_EXCLUSIVE, rewrites_table=True, work="rewrite",
                      fix=f"-- reorder online instead: pg_repack --order-by=<columns> --table={obj}")]
    return hazards, [Effect(table, ACCESS_EXCLUSIVE)] if table else []


def reindex(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    kind = str(fields.get("kind", ""))
    rv = fields.get("relation")
    schema, name = relation_name(rv, walk.default_schema) if rv else (walk.default_schema, str(fields.get("name", "")))
    table: tuple[str, str] | None = None
    if kind == "REINDEX_OBJECT_TABLE":
        table = walk.key(schema, name)
    elif kind == "REINDEX_OBJECT_INDEX":
        table = _index_table(schema, name, walk)
        if f"{schema.lower()}.{name.lower()}" in walk.new_indexes:
            return [], []
    if table is not None and walk.is_new(table):
        return [], []
    concurrent = "concurrently" in def_names(fields.get("params"))
    if concurrent:
        if walk.in_transaction:
            return [not_in_transaction(table, "REINDEX CONCURRENTLY", walk)], []
        return [], []
    obj = qualified(table) if table else f"{schema}.{name}"
    return [Hazard("migration.reindex_not_concurrently", obj, ObjectType.INDEX,
                   f"REINDEX {obj} blocks writes to the table (and reads that would use the index) until the "
                   "rebuild ends.", table=table, lock=ACCESS_EXCLUSIVE, scans_table=True, work="index",
                   fix=f"REINDEX {kind.removeprefix('REINDEX_OBJECT_')} CONCURRENTLY {obj};  -- PostgreSQL 12+, "
                   "outside a transaction")], [Effect(table, SHARE)] if table else []


def alter_enum(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    enum = ".".join(strings(fields.get("typeName")))
    if fields.get("oldVal"):
        return [Hazard("migration.enum_rename_value", enum, ObjectType.TABLE,
                       f"RENAME VALUE {fields['oldVal']!r} TO {fields.get('newVal')!r} on {enum}: code and stored "
                       "queries that write the old label fail at once.", scale=False,
                       fix=f"ALTER TYPE {enum} ADD VALUE {fields.get('newVal')!r};  -- add the new label; "
                       "migrate rows and code; stop writing the old one")], []
    hazards: list[Hazard] = []
    if walk.in_transaction and walk.ctx.server_version_num < 120000:
        hazards.append(not_in_transaction(None, "ALTER TYPE ... ADD VALUE (before PostgreSQL 12)", walk))
    if not fields.get("newValNeighbor"):
        hazards.append(Hazard("migration.enum_add_value_unordered", enum, ObjectType.TABLE,
                              f"ADD VALUE {fields.get('newVal')!r} on {enum} appends the label last; enums sort by "
                              "declaration order, so say where it belongs.", scale=False,
                              fix=f"ALTER TYPE {enum} ADD VALUE IF NOT EXISTS {fields.get('newVal')!r} "
                              "BEFORE|AFTER '<existing label>';"))
    return hazards, []


def alter_domain(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    if fields.get("subtype") != "C":
        return [], []
    _, con = unwrap(fields.get("def"))
    if con.get("skip_validation"):
        return [], []
    domain = ".".join(strings(fields.get("typeName")))
    return [Hazard("migration.alter_domain_add_constraint", domain, ObjectType.TABLE,
                   f"ALTER DOMAIN {domain} ADD CONSTRAINT checks every column of every table using the domain, "
                   "holding locks on all of them.", scale=False, scans_table=True,
                   fix=f"ALTER DOMAIN {domain} ADD CONSTRAINT ... NOT VALID;\nALTER DOMAIN {domain} VALIDATE "
                   "CONSTRAINT ...;  -- separate transaction")], []


def create_domain(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    if not any(unwrap(c)[1].get("contype") == "CONSTR_CHECK" for c in fields.get("constraints") or []):
        return [], []
    domain = ".".join(strings(fields.get("domainname")))
    return [Hazard("migration.create_domain_with_constraint", domain, ObjectType.TABLE,
                   f"CREATE DOMAIN {domain} with a CHECK: changing that check later scans every table using the "
                   "domain; a CHECK on each column is easier to evolve.", scale=False,
                   fix="-- declare the base type and put the CHECK on the columns")], []


def drop_database(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    name = str(fields.get("dbname", ""))
    return [Hazard("migration.drop_database", name, ObjectType.DATABASE,
                   f"DROP DATABASE {name} in a migration destroys every table in it.", scale=False)], []


def _data_change(verb: str) -> Handler:
    def handler(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
        table = walk.key(*relation_name(fields.get("relation"), walk.default_schema))
        if walk.is_new(table) or bounded_by_key(fields.get("whereClause"), walk.key_columns(table)):
            return [], []
        t = qualified(table)
        scope = "every row" if not fields.get("whereClause") else "rows chosen without a key range"
        return [Hazard("migration.unbatched_backfill", t, ObjectType.TABLE,
                       f"{verb} on {t} touches {scope} in one statement: the row locks and the dead tuples are "
                       "held until the transaction ends, and replicas lag.", table=table, lock="ROW EXCLUSIVE",
                       scans_table=True, work="update",
                       fix=f"{verb} {'FROM ' if verb == 'DELETE' else ''}{t} {'SET ... ' if verb == 'UPDATE' else ''}"
                       "WHERE id >= :lo AND id < :lo + 10000 AND (...);  -- repeat per key range, outside the DDL "
                       "transaction")], []

    return handler


def refresh_matview(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    table = walk.key(*relation_name(fields.get("relation"), walk.default_schema))
    if walk.is_new(table) or fields.get("concurrent") or fields.get("skipData"):
        return [], []
    t = qualified(table)
    return [Hazard("migration.refresh_matview_not_concurrently", t, ObjectType.VIEW,
                   f"REFRESH MATERIALIZED VIEW {t} holds ACCESS EXCLUSIVE on it for the whole recomputation: every "
                   "query reading it waits.", table=table, lock=ACCESS_EXCLUSIVE, rewrites_table=True, work="rewrite",
                   fix=f"REFRESH MATERIALIZED VIEW CONCURRENTLY {t};  -- needs a unique index on the view")], \
        [Effect(table, ACCESS_EXCLUSIVE)]


_LOCK_MODES = {4: SHARE_UPDATE_EXCLUSIVE, 5: SHARE, 6: "SHARE ROW EXCLUSIVE", 7: "EXCLUSIVE", 8: ACCESS_EXCLUSIVE}


def lock_table(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    """LOCK TABLE: no hazard of its own, but the lock it takes counts (lock_timeout, later statements)."""
    mode = _LOCK_MODES.get(int(fields.get("mode", 8)))
    if mode is None:
        return [], []
    tables = [walk.key(*relation_name(unwrap(r)[1], walk.default_schema)) for r in fields.get("relations") or []]
    return [], [Effect(t, mode) for t in tables]


def create_trigger(fields: Node, stmt: MigrationStatement, walk: Walk) -> Result:
    """CREATE TRIGGER takes SHARE ROW EXCLUSIVE on its table: it waits behind running writes like DDL does."""
    table = walk.key(*relation_name(fields.get("relation"), walk.default_schema))
    return [], [Effect(table, "SHARE ROW EXCLUSIVE")]


HANDLERS: dict[str, Handler] = {
    "LockStmt": lock_table,
    "RefreshMatViewStmt": refresh_matview,
    "CreateTrigStmt": create_trigger,
    "AlterTableStmt": alter_table,
    "CreateStmt": create_table,
    "CreateTableAsStmt": create_table_as,
    "SelectStmt": select,
    "CreateSeqStmt": create_relation("sequence"),
    "ViewStmt": create_relation("view"),
    "IndexStmt": create_index,
    "DropStmt": drop,
    "RenameStmt": rename,
    "TruncateStmt": truncate,
    "VacuumStmt": vacuum,
    "ClusterStmt": cluster,
    "ReindexStmt": reindex,
    "AlterEnumStmt": alter_enum,
    "AlterDomainStmt": alter_domain,
    "CreateDomainStmt": create_domain,
    "DropdbStmt": drop_database,
    "UpdateStmt": _data_change("UPDATE"),
    "DeleteStmt": _data_change("DELETE"),
}

"""A live PostgreSQL (13-17) database as a Catalog.

A few set-based queries over pg_catalog (one for every relation, one for every column, one for
every constraint, ...) assembled in Python: the cost stays flat as the table count grows, which is
what lets a 2,000-table database load about as fast as `pg_dump --schema-only` reads it.

Every query reads catalogs any role may read, so none fails for lack of privileges. The deparsing
functions (pg_get_expr, pg_get_indexdef, pg_get_viewdef) lock the relations they describe, so they
skip relations a migration holds locked (see `_Reader`). Facts that need a lock or a privilege
(sizes, sequence positions, password kinds) are read last, each inside a savepoint: an error there
is rolled back to the savepoint and recorded in `Catalog.unknown` instead of aborting the
read-only transaction.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from dbsage.tools.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    Dialect,
    Extension,
    ForeignKey,
    Function,
    Grant,
    Index,
    IndexKey,
    Policy,
    PrimaryKey,
    Role,
    Sequence,
    Table,
    Trigger,
    UniqueConstraint,
    View,
)
from dbsage.tools.errors import InputError, QueryFailed
from dbsage.tools.sources.guard import GuardedSession

Row = dict[str, Any]

# Type names (pg_type.typname) and the family Column.base_type documents for them.
_TYPE_FAMILIES: dict[str, str] = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "numeric": "numeric",
    "float4": "real",
    "float8": "double",
    "bool": "boolean",
    "text": "text",
    "varchar": "varchar",
    "bpchar": "char",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "interval": "interval",
    "json": "json",
    "jsonb": "jsonb",
    "uuid": "uuid",
    "bytea": "binary",
    "money": "money",
}

_FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_POLICY_COMMANDS = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
_TABLE_KINDS: dict[str, Literal["table", "partitioned_table", "foreign_table"]] = {
    "r": "table",
    "p": "partitioned_table",
    "f": "foreign_table",
}
_PERSISTENCE: dict[str, Literal["permanent", "unlogged", "temporary"]] = {
    "p": "permanent",
    "u": "unlogged",
    "t": "temporary",
}
_VOLATILITY: dict[str, Literal["immutable", "stable", "volatile"]] = {
    "i": "immutable",
    "s": "stable",
    "v": "volatile",
}
_IDENTITY: dict[str, Literal["always", "by_default"]] = {"a": "always", "d": "by_default"}
_FUNCTION_KINDS: dict[str, Literal["function", "procedure", "aggregate", "window"]] = {
    "f": "function",
    "p": "procedure",
    "a": "aggregate",
    "w": "window",
}

# pg_trigger.tgtype bits (see PostgreSQL's catalog/pg_trigger.h).
_TRIGGER_BEFORE = 1 << 1
_TRIGGER_INSTEAD = 1 << 6
_TRIGGER_EVENTS = ((1 << 2, "INSERT"), (1 << 3, "DELETE"), (1 << 4, "UPDATE"), (1 << 5, "TRUNCATE"))
_INDEX_OPTION_DESC = 1

# Server settings the analyzers read. All exist on PostgreSQL 13-17, so one missing from
# pg_settings was hidden from this role (superuser-only ones need pg_read_all_settings).
SETTINGS = (
    "server_version_num", "server_version", "server_encoding", "data_checksums", "block_size",
    "max_connections", "superuser_reserved_connections", "max_prepared_transactions",
    "max_locks_per_transaction", "shared_buffers", "work_mem", "maintenance_work_mem",
    "effective_cache_size", "random_page_cost", "effective_io_concurrency", "jit",
    "shared_preload_libraries", "listen_addresses", "port", "password_encryption",
    "ssl", "ssl_min_protocol_version", "ssl_max_protocol_version", "row_security",
    "log_connections", "log_disconnections", "log_statement", "log_min_duration_statement",
    "log_lock_waits", "log_temp_files", "wal_level", "archive_mode", "archive_command",
    "max_wal_senders", "max_replication_slots", "max_wal_size", "checkpoint_timeout",
    "synchronous_commit", "fsync", "full_page_writes", "hot_standby",
    "autovacuum", "autovacuum_max_workers", "autovacuum_naptime", "autovacuum_freeze_max_age",
    "autovacuum_vacuum_scale_factor", "autovacuum_analyze_scale_factor", "track_counts",
    "track_activities", "track_io_timing", "statement_timeout", "lock_timeout",
    "idle_in_transaction_session_timeout", "default_transaction_read_only", "TimeZone",
)

# A shell command may carry secrets (cloud keys, passwords): report only whether it is set.
_MASKED_SETTINGS = frozenset({"archive_command"})
_UNSET_COMMAND_VALUES = frozenset({"", "(disabled)"})


# -- queries ------------------------------------------------------------------------------------

_SERVER_SQL = """
SELECT current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       current_database() AS database,
       (SELECT s.stats_reset FROM pg_stat_database s WHERE s.datname = current_database()) AS stats_reset
"""

# Schemas users made: not pg_* (a reserved prefix), not information_schema, not an extension's.
_SCHEMAS_SQL = """
SELECT n.nspname AS name
FROM pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_namespace'::regclass AND e.objid = n.oid AND e.deptype = 'e')
"""

_RELATIONS_SQL = """
SELECT c.oid, n.nspname AS schema_name, c.relname AS name, c.relkind::text AS relkind,
       c.relpersistence::text AS persistence, c.reltuples::float8 AS reltuples,
       pg_get_userbyid(c.relowner) AS owner,
       c.relrowsecurity AS rls_enabled, c.relforcerowsecurity AS rls_forced,
       CASE WHEN c.relispartition THEN
         (SELECT pn.nspname || '.' || pc.relname
          FROM pg_inherits i
          JOIN pg_class pc ON pc.oid = i.inhparent
          JOIN pg_namespace pn ON pn.oid = pc.relnamespace
          WHERE i.inhrelid = c.oid)
       END AS partition_of,
       c.reloptions::text[] AS reloptions,
       d.description AS comment,
       CASE WHEN c.relkind IN ('v', 'm') AND NOT c.oid = ANY(%(locked)s::oid[])
                 AND NOT (cardinality(%(locked)s::oid[]) > 0 AND EXISTS (
                     SELECT 1 FROM pg_rewrite rw
                     JOIN pg_depend dep ON dep.classid = 'pg_rewrite'::regclass AND dep.objid = rw.oid
                     WHERE rw.ev_class = c.oid AND dep.refclassid = 'pg_class'::regclass
                       AND dep.refobjid = ANY(%(locked)s::oid[])))
            THEN pg_get_viewdef(c.oid, true) END AS definition
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
WHERE n.nspname = ANY(%(schemas)s)
  AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
"""

# serial: a nextval() default whose sequence is owned (pg_depend 'a') by this very column. The
# owned sequences are found in one pass over pg_depend; only their columns check the default.
_COLUMNS_SQL = """
WITH owned AS (
    SELECT od.refobjid AS relid, od.refobjsubid AS attnum, od.objid AS seqid
    FROM pg_depend od
    JOIN pg_class sc ON sc.oid = od.objid AND sc.relkind = 'S'
    WHERE od.classid = 'pg_class'::regclass AND od.refclassid = 'pg_class'::regclass
      AND od.deptype = 'a' AND od.refobjid = ANY(%(relids)s::oid[])
)
SELECT a.attrelid AS relid, a.attnum AS position, a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS data_type,
       a.atttypid AS type_oid, a.atttypmod AS typmod,
       t.typname AS type_name, t.typtype::text AS type_kind, t.typcategory::text AS type_category,
       a.attnotnull AS not_null, a.attidentity::text AS identity, a.attgenerated::text AS generated,
       CASE WHEN NOT a.attrelid = ANY(%(locked)s::oid[]) THEN pg_get_expr(ad.adbin, ad.adrelid) END
         AS default_expr,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN co.collname::text END
         AS collation,
       ds.description AS comment,
       (ad.oid IS NOT NULL AND o.seqid IS NOT NULL AND EXISTS (
          SELECT 1 FROM pg_depend dd
          WHERE dd.classid = 'pg_attrdef'::regclass AND dd.objid = ad.oid
            AND dd.refclassid = 'pg_class'::regclass AND dd.refobjid = o.seqid)) AS serial
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN owned o ON o.relid = a.attrelid AND o.attnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_description ds
       ON ds.objoid = a.attrelid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = a.attnum
WHERE a.attrelid = ANY(%(relids)s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
"""

# Every domain with its direct base type; chains (a domain over a domain) are followed in Python.
_DOMAINS_SQL = """
SELECT d.oid, d.typtypmod AS typmod, d.typbasetype AS base_oid,
       b.typname AS base_name, b.typtype::text AS base_kind, b.typcategory::text AS base_category
FROM pg_type d
JOIN pg_type b ON b.oid = d.typbasetype
WHERE d.typtype = 'd'
"""

# Constrained columns are named in Python from the columns already read; a referenced table may
# lie outside the chosen schemas, so its column names are looked up here.
# A foreign key on a table that references a partitioned table is cloned once per referenced
# partition on the same table; those clones (parent constraint on the same relation) are skipped.
_CONSTRAINTS_SQL = """
SELECT con.conrelid AS relid, con.conname AS name, con.contype::text AS contype,
       con.convalidated AS validated, con.condeferrable AS deferrable,
       con.confupdtype::text AS on_update, con.confdeltype::text AS on_delete,
       CASE WHEN con.contype = 'c' AND NOT con.conrelid = ANY(%(locked)s::oid[])
            THEN pg_get_expr(con.conbin, con.conrelid) END AS check_expr,
       con.conkey AS attnums,
       rn.nspname AS ref_schema, rc.relname AS ref_table,
       CASE WHEN con.contype = 'f' THEN
         ARRAY(SELECT a.attname::text
               FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
               ORDER BY k.ord)
       END AS ref_columns
FROM pg_constraint con
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.conrelid = ANY(%(relids)s::oid[])
  AND con.contype IN ('p', 'u', 'c', 'f')
  AND NOT (con.contype = 'f' AND con.conparentid <> 0
           AND EXISTS (SELECT 1 FROM pg_constraint pcon
                       WHERE pcon.oid = con.conparentid AND pcon.conrelid = con.conrelid))
"""

# Key and INCLUDE column names come from the columns already read (by attnum); only expression
# indexes pay for deparsing each key.
_INDEXES_SQL = """
SELECT i.indrelid AS relid, i.indexrelid AS index_oid, ic.relname AS name, am.amname AS method,
       i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisvalid AS is_valid,
       i.indnkeyatts AS key_count, i.indkey::int2[] AS attnums, i.indoption::int2[] AS options,
       CASE WHEN i.indexprs IS NOT NULL AND NOT locked THEN
         ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnatts) k ORDER BY k)
       END AS key_texts,
       CASE WHEN NOT locked THEN pg_get_expr(i.indpred, i.indrelid, true) END AS predicate,
       CASE WHEN NOT locked THEN pg_get_indexdef(i.indexrelid) END AS definition,
       con.conname AS constraint_name,
       pg_stat_get_numscans(i.indexrelid) AS scans
FROM pg_index i
CROSS JOIN LATERAL (SELECT i.indrelid = ANY(%(locked)s::oid[]) OR i.indexrelid = ANY(%(locked)s::oid[]))
     AS l(locked)
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint con
       ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE i.indrelid = ANY(%(relids)s::oid[])
"""

_TRIGGERS_SQL = """
SELECT t.tgrelid AS relid, t.tgname AS name, t.tgtype::int AS tgtype, t.tgenabled::text AS enabled,
       pn.nspname || '.' || p.proname AS function
FROM pg_trigger t
JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
WHERE t.tgrelid = ANY(%(relids)s::oid[]) AND NOT t.tgisinternal
"""

_POLICIES_SQL = """
SELECT p.polrelid AS relid, p.polname AS name, p.polcmd::text AS command,
       p.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'public' ELSE pg_get_userbyid(r.oid)::text END
             FROM unnest(p.polroles) AS r(oid)) AS roles,
       CASE WHEN NOT p.polrelid = ANY(%(locked)s::oid[]) THEN pg_get_expr(p.polqual, p.polrelid) END
         AS using_expr,
       CASE WHEN NOT p.polrelid = ANY(%(locked)s::oid[]) THEN pg_get_expr(p.polwithcheck, p.polrelid) END
         AS check_expr
FROM pg_policy p
WHERE p.polrelid = ANY(%(relids)s::oid[])
"""

# pg_sequence needs no lock and no privilege; the position (last_value) is read later.
_SEQUENCES_SQL = """
SELECT s.seqrelid AS oid, format_type(s.seqtypid, NULL) AS data_type,
       s.seqmax AS max_value, s.seqincrement AS increment,
       (SELECT tn.nspname || '.' || tc.relname || '.' || a.attname
        FROM pg_depend d
        JOIN pg_class tc ON tc.oid = d.refobjid
        JOIN pg_namespace tn ON tn.oid = tc.relnamespace
        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
          AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        LIMIT 1) AS owned_by
FROM pg_sequence s
WHERE s.seqrelid = ANY(%(relids)s::oid[])
"""

_FUNCTIONS_SQL = """
SELECT p.oid, n.nspname AS schema_name, p.proname AS name, p.prokind::text AS kind,
       pg_get_function_identity_arguments(p.oid) AS arguments,
       CASE WHEN p.prokind <> 'p' THEN pg_get_function_result(p.oid) END AS returns,
       l.lanname AS language, p.prosecdef AS security_definer, p.provolatile::text AS volatility,
       p.proleakproof AS leakproof, p.proconfig AS config,
       pg_get_userbyid(p.proowner) AS owner, d.description AS comment
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
LEFT JOIN pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_proc'::regclass AND d.objsubid = 0
WHERE n.nspname = ANY(%(schemas)s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
"""

# Built-in pg_* roles are left out of the list but kept in member_of: membership in
# pg_read_all_data or pg_write_server_files is exactly what a security review needs to see.
_ROLES_SQL = """
SELECT r.rolname AS name, r.rolcanlogin AS login, r.rolsuper AS superuser,
       r.rolcreaterole AS createrole, r.rolcreatedb AS createdb, r.rolbypassrls AS bypassrls,
       r.rolreplication AS replication,
       ARRAY(SELECT b.rolname::text
             FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid
             WHERE m.member = r.oid) AS member_of
FROM pg_roles r
WHERE r.rolname !~ '^pg_'
"""

# Grants made to someone other than the owner (an owner's rights come with ownership). A NULL
# ACL means the defaults: for functions that is EXECUTE to PUBLIC, for the database CONNECT and
# TEMPORARY to PUBLIC, so those are expanded with acldefault(); for tables, sequences and
# schemas the default grants nothing beyond the owner.
_GRANTS_SQL = """
WITH objects AS (
    SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END AS object_type,
           n.nspname || '.' || c.relname AS object, c.relowner AS owner, c.relacl AS acl
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = ANY(%(relids)s::oid[]) AND c.relacl IS NOT NULL
  UNION ALL
    SELECT 'schema', n.nspname, n.nspowner, n.nspacl
    FROM pg_namespace n
    WHERE n.nspname = ANY(%(schemas)s) AND n.nspacl IS NOT NULL
  UNION ALL
    SELECT 'function',
           n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
           p.proowner, coalesce(p.proacl, acldefault('f', p.proowner))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.oid = ANY(%(procids)s::oid[])
  UNION ALL
    SELECT 'database', d.datname, d.datdba, coalesce(d.datacl, acldefault('d', d.datdba))
    FROM pg_database d
    WHERE d.datname = current_database()
)
SELECT o.object_type, o.object,
       CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END AS grantee,
       x.privilege_type AS privilege, x.is_grantable AS grantable
FROM objects o CROSS JOIN LATERAL aclexplode(o.acl) x
WHERE x.grantee <> o.owner
"""

_EXTENSIONS_SQL = """
SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema_name
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
ORDER BY e.extname
"""

# The guard sets statement_timeout and friends for its own transaction (source 'session'); for
# those the value the server and role would give is reset_val, in the setting's base unit.
_SETTINGS_SQL = """
SELECT s.name, current_setting(s.name) AS value, s.source, s.reset_val, s.unit
FROM pg_settings s
WHERE s.name = ANY(%(names)s)
"""

# Optional: each takes locks (sizes, sequence positions) and runs inside a savepoint.
# Each table's total (pg_total_relation_size) is summed in Python from its pg_table_size (heap,
# TOAST, maps) and its indexes' sizes, so no relation is opened twice.
_SIZES_SQL = """
SELECT c.oid,
       CASE WHEN c.relkind IN ('i', 'I') THEN pg_relation_size(c.oid) ELSE pg_table_size(c.oid) END AS bytes
FROM pg_class c
WHERE (c.oid = ANY(%(relids)s::oid[])
       OR c.oid IN (SELECT i.indexrelid FROM pg_index i WHERE i.indrelid = ANY(%(relids)s::oid[])))
  AND NOT c.oid = ANY(%(locked)s::oid[])
"""

_SEQUENCE_POSITIONS_SQL = """
SELECT s.oid,
       has_sequence_privilege(s.oid, 'SELECT, USAGE') AS readable,
       CASE WHEN has_sequence_privilege(s.oid, 'SELECT, USAGE') AND NOT s.oid = ANY(%(locked)s::oid[])
            THEN pg_sequence_last_value(s.oid) END AS last_value
FROM unnest(%(relids)s::oid[]) AS s(oid)
"""

# Relations another session holds or waits for ACCESS EXCLUSIVE on (waiting requests count: ours
# would queue behind them). Such locks never take the fast path, so pg_locks shows them all.
_LOCKED_SQL = """
SELECT DISTINCT l.relation AS oid
FROM pg_locks l
WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
"""

_CAN_READ_AUTHID_SQL = "SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS readable"

# Only the kind of each password leaves the server, never the hash.
_PASSWORD_KINDS_SQL = """
SELECT a.rolname AS name,
       CASE WHEN a.rolpassword IS NULL THEN 'none'
            WHEN starts_with(a.rolpassword, 'SCRAM-SHA-256$') THEN 'scram-sha-256'
            WHEN starts_with(a.rolpassword, 'md5') THEN 'md5'
            ELSE 'unknown' END AS kind
FROM pg_authid a
"""


# -- loading ------------------------------------------------------------------------------------


def load_catalog(session: GuardedSession, *, schemas: list[str] | None = None) -> Catalog:
    """The whole catalog of the database `session` is connected to; `unknown` says what was not read.

    `schemas` restricts tables, views, functions, sequences and their grants to those schemas
    (matched exactly, else case-insensitively); an unknown schema raises InputError. Roles,
    extensions and settings are server-wide and always read.
    """
    with _collector_paused():
        return _load(session, schemas)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the catalog's objects are built.

    A large database means hundreds of thousands of new rows and models, which set off repeated
    full collections that free nothing (none of them is garbage yet): about a sixth of the load
    time on 2,000 tables. Reference counting still frees everything as usual meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load(session: GuardedSession, schemas: list[str] | None) -> Catalog:
    reader = _Reader(session)
    unknown = reader.unknown
    server = session.catalog(_SERVER_SQL)[0]
    all_schemas = sorted(str(r["name"]) for r in session.catalog(_SCHEMAS_SQL))
    chosen = _choose_schemas(all_schemas, schemas)

    relations = reader.deparsing(_RELATIONS_SQL, {"schemas": chosen})
    relations.sort(key=lambda r: (r["schema_name"], r["name"]))
    table_rows = [r for r in relations if r["relkind"] in _TABLE_KINDS]
    view_rows = [r for r in relations if r["relkind"] in ("v", "m")]
    sequence_rows = [r for r in relations if r["relkind"] == "S"]
    table_ids = [int(r["oid"]) for r in table_rows]
    view_ids = [int(r["oid"]) for r in view_rows]
    sequence_ids = [int(r["oid"]) for r in sequence_rows]

    # Building the table models is the biggest share of Python work; a worker thread does it
    # while this one waits on the server for the remaining queries (waiting releases the GIL).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbsage-catalog") as worker:
        domains = {int(r["oid"]): r for r in session.catalog(_DOMAINS_SQL)}
        columns = _group(reader.deparsing(_COLUMNS_SQL, {"relids": table_ids + view_ids}))
        built_columns = worker.submit(_build_columns, table_rows, columns, domains)
        constraints = _group(reader.deparsing(_CONSTRAINTS_SQL, {"relids": table_ids}))
        indexes = _group(reader.deparsing(_INDEXES_SQL, {"relids": table_ids}))
        triggers = _group(session.catalog(_TRIGGERS_SQL, {"relids": table_ids}))
        policies = _group(reader.deparsing(_POLICIES_SQL, {"relids": table_ids}))
        built_tables = worker.submit(
            _build_tables, table_rows, columns, built_columns, constraints, indexes, triggers, policies
        )
        sequence_facts = {int(r["oid"]): r for r in session.catalog(_SEQUENCES_SQL, {"relids": sequence_ids})}
        function_rows = session.catalog(_FUNCTIONS_SQL, {"schemas": chosen})
        role_rows = session.catalog(_ROLES_SQL)
        grant_rows = session.catalog(
            _GRANTS_SQL,
            {
                "relids": table_ids + view_ids + sequence_ids,
                "schemas": chosen,
                "procids": [int(r["oid"]) for r in function_rows],
            },
        )
        extension_rows = session.catalog(_EXTENSIONS_SQL)
        settings = _settings(session.catalog(_SETTINGS_SQL, {"names": list(SETTINGS)}), unknown)

        # Lock- and privilege-dependent facts last, each protected by a savepoint.
        sizes = reader.sizes(table_ids)
        positions = reader.sequence_positions(sequence_ids)
        password_kinds = reader.password_kinds()
        reader.report_locked(relations, indexes)
        tables = built_tables.result()

    if sizes is not None:
        _apply_sizes(tables, table_rows, indexes, sizes)
    views = [_view(row, columns.get(int(row["oid"]), [])) for row in view_rows]
    sequences = [
        _sequence(row, sequence_facts.get(int(row["oid"])), positions) for row in sequence_rows
    ]
    functions = sorted(
        (_function(r) for r in function_rows), key=lambda f: (f.schema_name, f.name, f.arguments)
    )
    roles = sorted((_role(r, password_kinds) for r in role_rows), key=lambda r: r.name)
    grants = sorted(
        (
            Grant(
                grantee=str(r["grantee"]),
                object_type=str(r["object_type"]),
                object=str(r["object"]),
                privilege=str(r["privilege"]),
                grantable=bool(r["grantable"]),
            )
            for r in grant_rows
        ),
        key=lambda g: (g.object_type, g.object, g.grantee, g.privilege),
    )
    extensions = [
        Extension(name=str(r["name"]), version=_opt_str(r["version"]), schema_name=_opt_str(r["schema_name"]))
        for r in extension_rows
    ]
    return Catalog(
        dialect=Dialect.POSTGRES,
        source="live",
        server_version=_opt_str(server["server_version"]),
        server_version_num=int(server["server_version_num"]),
        database=_opt_str(server["database"]),
        schemas=chosen,
        tables=tables,
        views=views,
        functions=functions,
        sequences=sequences,
        roles=roles,
        grants=grants,
        extensions=extensions,
        settings=settings,
        stats_reset=_timestamp(server["stats_reset"]),
        unknown=unknown,
    )


def _build_columns(
    table_rows: list[Row], columns: dict[int, list[Row]], domains: dict[int, Row]
) -> dict[int, list[Column]]:
    return {
        oid: [_column(c, domains) for c in columns.get(oid, [])]
        for oid in (int(r["oid"]) for r in table_rows)
    }


def _build_tables(
    table_rows: list[Row],
    columns: dict[int, list[Row]],
    built_columns: Future[dict[int, list[Column]]],
    constraints: dict[int, list[Row]],
    indexes: dict[int, list[Row]],
    triggers: dict[int, list[Row]],
    policies: dict[int, list[Row]],
) -> list[Table]:
    """Tables in `table_rows` order, sizes not yet filled in."""
    models = built_columns.result()
    tables: list[Table] = []
    for row in table_rows:
        oid = int(row["oid"])
        names = {int(c["position"]): str(c["name"]) for c in columns.get(oid, [])}
        tables.append(
            _table(
                row,
                columns=models[oid],
                constraints=[_named_columns(c, names) for c in constraints.get(oid, [])],
                indexes=[_index(i, names) for i in indexes.get(oid, [])],
                triggers=[_trigger(t) for t in triggers.get(oid, [])],
                policies=[_policy(p) for p in policies.get(oid, [])],
            )
        )
    return tables


def _apply_sizes(
    tables: list[Table], table_rows: list[Row], indexes: dict[int, list[Row]], sizes: dict[int, int]
) -> None:
    """Fill in index sizes and table totals (heap, TOAST and every index)."""
    for table, row in zip(tables, table_rows, strict=True):
        oid = int(row["oid"])
        index_oids = {str(i["name"]): int(i["index_oid"]) for i in indexes.get(oid, [])}
        for index in table.indexes:
            index.size_bytes = sizes.get(index_oids[index.name])
        parts = [oid, *index_oids.values()]
        # A part left unread (locked) leaves the total unknown rather than too small.
        if all(p in sizes for p in parts):
            table.total_bytes = sum(sizes[p] for p in parts)


def _choose_schemas(available: list[str], wanted: list[str] | None) -> list[str]:
    if wanted is None:
        return available
    chosen: list[str] = []
    for name in wanted:
        match = name if name in available else next((s for s in available if s.lower() == name.lower()), None)
        if match is None:
            raise InputError(
                f"Schema {name!r} does not exist in this database.",
                hint="schemas here: " + (", ".join(available) or "(none)"),
            )
        if match not in chosen:
            chosen.append(match)
    return sorted(chosen)


def _group(rows: Iterable[Row]) -> dict[int, list[Row]]:
    grouped: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[int(row["relid"])].append(row)
    return grouped


# -- tables and their parts ---------------------------------------------------------------------


def _table(
    row: Row,
    *,
    columns: list[Column],
    constraints: list[Row],
    indexes: list[Index],
    triggers: list[Trigger],
    policies: list[Policy],
) -> Table:
    by_name = sorted(constraints, key=lambda c: str(c["name"]))
    primary = next((c for c in by_name if c["contype"] == "p"), None)
    return Table(
        schema_name=str(row["schema_name"]),
        name=str(row["name"]),
        kind=_TABLE_KINDS[str(row["relkind"])],
        columns=sorted(columns, key=lambda c: c.position),
        primary_key=(
            PrimaryKey(name=str(primary["name"]), columns=list(primary["columns"])) if primary else None
        ),
        unique_constraints=[
            UniqueConstraint(name=str(c["name"]), columns=list(c["columns"]))
            for c in by_name
            if c["contype"] == "u"
        ],
        check_constraints=[
            CheckConstraint(
                name=str(c["name"]), expression=str(c["check_expr"] or ""), validated=bool(c["validated"])
            )
            for c in by_name
            if c["contype"] == "c"
        ],
        foreign_keys=[_foreign_key(c) for c in by_name if c["contype"] == "f"],
        indexes=sorted(indexes, key=lambda i: i.name),
        triggers=sorted(triggers, key=lambda t: t.name),
        row_estimate=_row_estimate(row["reltuples"]),
        comment=_opt_str(row["comment"]),
        owner=_opt_str(row["owner"]),
        partition_of=_opt_str(row["partition_of"]),
        persistence=_PERSISTENCE.get(str(row["persistence"]), "permanent"),
        rls_enabled=bool(row["rls_enabled"]),
        rls_forced=bool(row["rls_forced"]),
        policies=sorted(policies, key=lambda p: p.name),
    )


def _row_estimate(reltuples: float | None) -> int | None:
    # -1 means "never vacuumed or analyzed" (PostgreSQL 14+): no estimate, rather than a false 0.
    if reltuples is None or reltuples < 0:
        return None
    return int(reltuples)


def _column(row: Row, domains: dict[int, Row]) -> Column:
    family, length = _type_family(row, domains)
    generated = row["default_expr"] if row["generated"] == "s" else None
    identity = _IDENTITY.get(str(row["identity"] or ""))
    return Column(
        name=str(row["name"]),
        position=int(row["position"]),
        data_type=str(row["data_type"]),
        base_type=family,
        length=length,
        nullable=not row["not_null"],
        default=None if generated is not None else _opt_str(row["default_expr"]),
        identity=identity,
        serial=bool(row["serial"]) and str(row["default_expr"] or "").startswith("nextval("),
        generated=_opt_str(generated),
        collation=_opt_str(row["collation"]),
        comment=_opt_str(row["comment"]),
    )


def _type_family(row: Row, domains: dict[int, Row]) -> tuple[str, int | None]:
    """The base_type family and declared length of a column, looking through domains."""
    name, kind, category = str(row["type_name"]), str(row["type_kind"]), str(row["type_category"])
    typmod = int(row["typmod"])
    oid = int(row["type_oid"])
    seen: set[int] = set()
    while kind == "d" and oid in domains and oid not in seen:
        seen.add(oid)
        domain = domains[oid]
        if typmod < 0:
            typmod = int(domain["typmod"])
        oid = int(domain["base_oid"])
        name, kind = str(domain["base_name"]), str(domain["base_kind"])
        category = str(domain["base_category"])
    if kind == "e":
        return "enum", None
    if category == "A":
        return "array", None
    family = _TYPE_FAMILIES.get(name, name)
    # For character types the typmod is the declared length plus the 4-byte varlena header.
    length = typmod - 4 if family in ("varchar", "char") and typmod >= 4 else None
    return family, length


def _foreign_key(row: Row) -> ForeignKey:
    return ForeignKey(
        name=str(row["name"]),
        columns=list(row["columns"]),
        ref_schema=str(row["ref_schema"]),
        ref_table=str(row["ref_table"]),
        ref_columns=list(row["ref_columns"]),
        on_delete=_FK_ACTIONS.get(str(row["on_delete"]), "NO ACTION"),
        on_update=_FK_ACTIONS.get(str(row["on_update"]), "NO ACTION"),
        deferrable=bool(row["deferrable"]),
        validated=bool(row["validated"]),
    )


def _named_columns(row: Row, names: dict[int, str]) -> Row:
    """The constraint row with its attnums turned into column names."""
    return {**row, "columns": [names.get(int(n), f"#{n}") for n in row["attnums"] or []]}


def _index(row: Row, names: dict[int, str]) -> Index:
    key_count = int(row["key_count"])
    attnums: list[int] = [int(n) for n in row["attnums"]]
    texts: list[str] = [str(t) for t in row["key_texts"] or []]
    options: list[int] = list(row["options"] or [])
    keys: list[IndexKey] = []
    for pos, attnum in enumerate(attnums[:key_count]):
        descending = bool(pos < len(options) and options[pos] & _INDEX_OPTION_DESC)
        if attnum == 0:  # an expression key
            keys.append(IndexKey(expression=texts[pos] if pos < len(texts) else None, descending=descending))
        else:
            keys.append(IndexKey(column=names.get(attnum, f"#{attnum}"), descending=descending))
    include = [names.get(n, f"#{n}") for n in attnums[key_count:] if n != 0]
    return Index(
        name=str(row["name"]),
        keys=keys,
        include=include,
        unique=bool(row["is_unique"]),
        primary=bool(row["is_primary"]),
        method=str(row["method"]),
        predicate=_opt_str(row["predicate"]),
        valid=bool(row["is_valid"]),
        constraint=_opt_str(row["constraint_name"]),
        definition=_opt_str(row["definition"]),
        scans=int(row["scans"]) if row["scans"] is not None else None,
    )


def _trigger(row: Row) -> Trigger:
    tgtype = int(row["tgtype"])
    if tgtype & _TRIGGER_INSTEAD:
        timing = "INSTEAD OF"
    elif tgtype & _TRIGGER_BEFORE:
        timing = "BEFORE"
    else:
        timing = "AFTER"
    return Trigger(
        name=str(row["name"]),
        timing=timing,
        events=[event for bit, event in _TRIGGER_EVENTS if tgtype & bit],
        enabled=row["enabled"] != "D",
        function=_opt_str(row["function"]),
    )


def _policy(row: Row) -> Policy:
    return Policy(
        name=str(row["name"]),
        command=_POLICY_COMMANDS.get(str(row["command"]), "ALL"),
        permissive=bool(row["permissive"]),
        roles=sorted(str(r) for r in row["roles"]),
        using=_opt_str(row["using_expr"]),
        with_check=_opt_str(row["check_expr"]),
    )


# -- other objects ------------------------------------------------------------------------------


def _view(row: Row, columns: list[Row]) -> View:
    materialized = row["relkind"] == "m"
    return View(
        schema_name=str(row["schema_name"]),
        name=str(row["name"]),
        materialized=materialized,
        definition=_opt_str(row["definition"]),
        columns=[str(c["name"]) for c in sorted(columns, key=lambda c: int(c["position"]))],
        security_invoker=None if materialized else _security_invoker(row["reloptions"]),
        comment=_opt_str(row["comment"]),
        owner=_opt_str(row["owner"]),
    )


def _security_invoker(reloptions: list[str] | None) -> bool:
    for option in reloptions or []:
        key, _, value = option.partition("=")
        if key.strip().lower() == "security_invoker":
            return value.strip().lower() in ("true", "on", "yes", "1", "t", "y")
    return False


def _sequence(row: Row, facts: Row | None, positions: dict[int, int | None] | None) -> Sequence:
    oid = int(row["oid"])
    return Sequence(
        schema_name=str(row["schema_name"]),
        name=str(row["name"]),
        data_type=str(facts["data_type"]) if facts else "bigint",
        last_value=positions.get(oid) if positions is not None else None,
        max_value=int(facts["max_value"]) if facts and facts["max_value"] is not None else None,
        increment=int(facts["increment"]) if facts else 1,
        owned_by=_opt_str(facts["owned_by"]) if facts else None,
    )


def _function(row: Row) -> Function:
    return Function(
        schema_name=str(row["schema_name"]),
        name=str(row["name"]),
        kind=_FUNCTION_KINDS.get(str(row["kind"]), "function"),
        arguments=str(row["arguments"] or ""),
        returns=_opt_str(row["returns"]),
        language=_opt_str(row["language"]),
        security_definer=bool(row["security_definer"]),
        volatility=_VOLATILITY.get(str(row["volatility"])),
        leakproof=bool(row["leakproof"]),
        config=[str(c) for c in row["config"] or []],
        owner=_opt_str(row["owner"]),
        comment=_opt_str(row["comment"]),
    )


def _role(row: Row, password_kinds: dict[str, str] | None) -> Role:
    name = str(row["name"])
    kind = password_kinds.get(name) if password_kinds is not None else None
    return Role(
        name=name,
        login=bool(row["login"]),
        superuser=bool(row["superuser"]),
        createrole=bool(row["createrole"]),
        createdb=bool(row["createdb"]),
        bypassrls=bool(row["bypassrls"]),
        replication=bool(row["replication"]),
        member_of=sorted(str(m) for m in row["member_of"]),
        password_kind=kind,
    )


def _settings(rows: list[Row], unknown: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for row in rows:
        name, value = str(row["name"]), str(row["value"] or "")
        if row["source"] == "session":
            value = _with_unit(str(row["reset_val"] or ""), row["unit"])
        if name in _MASKED_SETTINGS:
            value = "" if value in _UNSET_COMMAND_VALUES else "(set)"
        values[name] = value
    hidden = [name for name in SETTINGS if name not in values]
    if hidden:
        unknown.append(
            "settings " + ", ".join(hidden) + ": not visible to this role (needs pg_read_all_settings)"
        )
    return dict(sorted(values.items()))


def _with_unit(raw: str, unit: str | None) -> str:
    """A pg_settings raw value in the form SHOW prints: '30000' ms -> '30000ms', '16384' 8kB -> '131072kB'."""
    if not unit or raw in ("0", "-1") or not raw.lstrip("-").isdigit():
        return raw
    digits = unit[: len(unit) - len(unit.lstrip("0123456789"))]  # the 8 of '8kB'
    return f"{int(raw) * int(digits or 1)}{unit[len(digits):]}"


# -- reads that may meet locks or missing privileges ---------------------------------------------

_SAVEPOINT = "dbsage_catalog"
_LOCK_RETRIES = 3


class _Reader:
    """Runs the queries that can fail without failing the whole catalog read.

    pg_get_expr, pg_get_indexdef and pg_get_viewdef take an ACCESS SHARE lock on the relation (and
    a view's definition on every relation it reads), so a migration holding ACCESS EXCLUSIVE would
    make them wait out lock_timeout and abort the transaction. Relations another session holds or
    awaits ACCESS EXCLUSIVE on are therefore skipped by those functions; if a lock appears between
    the check and the query, the query is rolled back to a savepoint and re-run with a fresh list.
    """

    def __init__(self, session: GuardedSession) -> None:
        self.session = session
        self.unknown: list[str] = []
        self.locked: set[int] = {int(r["oid"]) for r in session.catalog(_LOCKED_SQL)}

    def deparsing(self, sql: str, params: dict[str, Any]) -> list[Row]:
        """Rows of a query whose deparsing functions skip the locked relations."""
        for attempt in range(1, _LOCK_RETRIES + 1):
            try:
                return self._in_savepoint(sql, {**params, "locked": sorted(self.locked)})
            except QueryFailed as exc:
                if "lock timeout" not in exc.message or attempt == _LOCK_RETRIES:
                    raise
                self.locked |= {int(r["oid"]) for r in self.session.catalog(_LOCKED_SQL)}
        raise AssertionError("unreachable")  # the loop returns or raises

    def optional(self, what: str, sql: str, params: dict[str, Any] | None) -> list[Row] | None:
        """Rows of a query that may fail (lock timeout, privilege), or None with the reason in `unknown`."""
        try:
            return self._in_savepoint(sql, params, keep=False)
        except QueryFailed as exc:
            self.unknown.append(f"{what}: {exc.message}")
            return None

    def _in_savepoint(self, sql: str, params: dict[str, Any] | None, *, keep: bool = True) -> list[Row]:
        # keep=False rolls back even on success: that releases the locks the query took at once
        # instead of holding them until the catalog transaction ends.
        self.session.catalog(f"SAVEPOINT {_SAVEPOINT}")
        try:
            rows = self.session.catalog(sql, params)
        except QueryFailed:
            self.session.catalog(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            self.session.catalog(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            raise
        if not keep:
            self.session.catalog(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        self.session.catalog(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        return rows

    def sizes(self, table_ids: list[int]) -> dict[int, int] | None:
        if not table_ids:
            return {}
        params = {"relids": table_ids, "locked": sorted(self.locked)}
        rows = self.optional("table and index sizes", _SIZES_SQL, params)
        if rows is None:
            return None
        return {int(r["oid"]): int(r["bytes"]) for r in rows if r["bytes"] is not None}

    def sequence_positions(self, sequence_ids: list[int]) -> dict[int, int | None] | None:
        if not sequence_ids:
            return {}
        params = {"relids": sequence_ids, "locked": sorted(self.locked)}
        rows = self.optional("sequence positions", _SEQUENCE_POSITIONS_SQL, params)
        if rows is None:
            return None
        unreadable = sum(1 for r in rows if not r["readable"])
        if unreadable:
            self.unknown.append(
                f"sequence positions: {unreadable} sequence(s) need SELECT or USAGE to read last_value"
            )
        return {int(r["oid"]): (int(r["last_value"]) if r["last_value"] is not None else None) for r in rows}

    def password_kinds(self) -> dict[str, str] | None:
        if not self.session.catalog_value(_CAN_READ_AUTHID_SQL):
            self.unknown.append("role password kinds: pg_authid is readable only by superusers")
            return None
        rows = self.optional("role password kinds", _PASSWORD_KINDS_SQL, None)
        if rows is None:
            return None
        return {str(r["name"]): str(r["kind"]) for r in rows}

    def report_locked(self, relations: list[Row], indexes: dict[int, list[Row]]) -> None:
        """Say which tables and views were read without their expressions because of a lock."""
        if not self.locked:
            return
        for row in relations:
            oid = int(row["oid"])
            index_locked = any(int(i["index_oid"]) in self.locked for i in indexes.get(oid, []))
            name = f"{row['schema_name']}.{row['name']}"
            if row["relkind"] in _TABLE_KINDS and (oid in self.locked or index_locked):
                self.unknown.append(
                    f"{name}: another session holds or awaits an ACCESS EXCLUSIVE lock on it; its "
                    "defaults, CHECK and index expressions, index definitions, policy expressions and "
                    "size were not read"
                )
            elif row["relkind"] in ("v", "m") and row["definition"] is None:
                self.unknown.append(
                    f"{name}: definition not read: it or a relation it reads is locked by another session"
                )
            elif row["relkind"] == "S" and oid in self.locked:
                self.unknown.append(f"{name}: position not read: the sequence is locked by another session")


# -- small conversions --------------------------------------------------------------------------


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _timestamp(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)

"""Scratch copies of a source database's tables: structure plus a row sample, for running migrations on.

The structure is read from the source's own catalog through the guard (read-only) and re-created as
DDL on the scratch side; rows are copied in batches (PostgreSQL: binary COPY; MariaDB/MySQL: batched
INSERTs), at most `sample_rows` per table, child rows whose parent row was left out are deleted before
the foreign keys are added. PostgreSQL DDL is generated from the catalog (pg_get_constraintdef,
pg_get_indexdef, pg_get_triggerdef...) rather than by pg_dump: pg_dump may be missing or older than
the server, and `pg_dump -t` leaves out the types and functions the tables need anyway. A partitioned
table comes with all its partitions (and their bounds); indexes and constraints are made on the parent.
MariaDB/MySQL copies SHOW CREATE TABLE, without triggers (their bodies may name other databases, the
source among them). Views, policies, grants and comments are not copied.

A `ScratchArea` hands out fresh copies of the original state, one per run, and cleans up afterwards:
either databases dbsage creates on the source's server (`dbsage_verify_<random>`, always dropped), or
the scratch database the user named, whose cloned schemas (MariaDB: tables) are dropped and re-made.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.errors import GuardRefused, InputError
from dbsage.tools.rules.fix_sql import quote, table_ref
from dbsage.tools.sources.allowlist import PG_SCRATCH_EXTENSIONS, check_statement
from dbsage.tools.sources.guard import GuardedSession, LiveDatabase, Mode
from dbsage.tools.sources.live import load_catalog

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*|\"(?:[^\"]|\"\")+\"|`[^`]+`")
_NEXTVAL = re.compile(r"nextval\('((?:[^']|'')+)'::regclass\)")
_INSERT_BATCH = 1000


def words(text: str) -> set[str]:
    """Identifiers a SQL text names, lower-cased and unquoted."""
    out: set[str] = set()
    for w in _WORD.findall(text):
        if w[0] in "\"`":
            w = w[1:-1].replace('""', '"')
        out.add(w.lower())
    return out


def touched_tables(catalog: Catalog, text: str, *, schema: str | None = None) -> list[Table]:
    """Existing tables whose name the text mentions (optionally only in `schema`)."""
    named = words(text)
    return [
        t for t in catalog.tables
        if t.name.lower() in named and (schema is None or t.schema_name.lower() == schema.lower())
    ]


def with_referenced(catalog: Catalog, tables: list[Table]) -> list[Table]:
    """`tables` plus every table their foreign keys reference, recursively; referenced tables first."""
    ordered: list[Table] = []
    seen: set[tuple[str, str]] = set()

    def visit(t: Table) -> None:
        key = (t.schema_name, t.name)
        if key in seen:
            return
        seen.add(key)
        for fk in t.foreign_keys:
            parent = catalog.table(fk.ref_schema, fk.ref_table)
            if parent is not None:
                visit(parent)
        ordered.append(t)

    for t in tables:
        visit(t)
    return ordered


@dataclass
class ClonePlan:
    """What to copy: tables (referenced ones first) with their source catalog entries."""

    source: LiveDatabase
    catalog: Catalog
    tables: list[Table]
    sample_rows: int
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


# -- PostgreSQL ----------------------------------------------------------------------------------


_PG_COLUMNS = """
SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
       a.attidentity AS identity, a.attgenerated AS generated,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_expr,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN
         (SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.collname)
          FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
          WHERE c.oid = a.attcollation) END AS collation
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_PG_TYPES = """
SELECT DISTINCT t.oid::bigint AS oid, t.typtype AS kind, pg_catalog.quote_ident(n.nspname) AS schema,
       pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname) AS name,
       pg_catalog.format_type(t.typbasetype, t.typtypmod) AS base, t.typnotnull AS notnull,
       t.typdefault AS default_expr
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t0 ON t0.oid = a.atttypid
JOIN pg_catalog.pg_type t ON t.oid = CASE WHEN t0.typelem <> 0 AND t0.typlen = -1 THEN t0.typelem ELSE t0.oid END
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped AND t.typtype IN ('e', 'd')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""

_PG_CONSTRAINTS = """
SELECT pg_catalog.quote_ident(conname) AS name, contype AS kind, pg_catalog.pg_get_constraintdef(oid) AS def
FROM pg_catalog.pg_constraint WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'c', 'x', 'f')
ORDER BY contype, conname
"""

_PG_INDEXES = """
SELECT pg_catalog.pg_get_indexdef(i.indexrelid) AS def FROM pg_catalog.pg_index i
WHERE i.indrelid = %s::regclass AND i.indisvalid
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid
                  AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x'))
"""

_PG_TRIGGERS = """
SELECT pg_catalog.pg_get_triggerdef(t.oid) AS def,
       CASE WHEN l.lanname IN ('plpgsql', 'sql') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            THEN pg_catalog.pg_get_functiondef(t.tgfoid) END AS function_def
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE t.tgrelid = %s::regclass AND NOT t.tgisinternal
"""

_PG_SEQUENCE = """
SELECT pg_catalog.format_type(seqtypid, NULL) AS type, seqincrement AS inc, seqstart AS start, seqmin AS min,
       seqmax AS max, seqcycle AS cycle
FROM pg_catalog.pg_sequence WHERE seqrelid = %s::regclass
"""


_PG_PARTITIONS = """
WITH RECURSIVE parts AS (
    SELECT i.inhrelid AS oid, 1 AS depth FROM pg_catalog.pg_inherits i WHERE i.inhparent = %s::regclass
    UNION ALL
    SELECT i.inhrelid, p.depth + 1 FROM pg_catalog.pg_inherits i JOIN parts p ON i.inhparent = p.oid
)
SELECT c.oid::regclass::text AS ref, i.inhparent::regclass::text AS parent,
       pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound,
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partkey
FROM parts p
JOIN pg_catalog.pg_class c ON c.oid = p.oid
JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid
WHERE c.relpartbound IS NOT NULL
ORDER BY p.depth, 1
"""


@dataclass
class _PgTable:
    ref: str
    columns: list[dict[str, Any]]
    constraints: list[dict[str, Any]]
    indexes: list[str]
    triggers: list[dict[str, Any]]
    partition_key: str | None = None
    partitions: list[dict[str, Any]] = field(default_factory=list)

    def create_sql(self) -> list[str]:
        """CREATE TABLE, and for a partitioned table every partition (routed rows need somewhere to go)."""
        out = [f"CREATE TABLE {self.ref} ({', '.join(_pg_column_sql(c) for c in self.columns)})"
               + (f" PARTITION BY {self.partition_key}" if self.partition_key else "")]
        for part in self.partitions:
            out.append(f"CREATE TABLE {part['ref']} PARTITION OF {part['parent']} {part['bound']}"
                       + (f" PARTITION BY {part['partkey']}" if part["partkey"] else ""))
        return out

    @property
    def copied_columns(self) -> list[str]:
        return [quote(c["name"], Dialect.POSTGRES) for c in self.columns if not c["generated"]]


@dataclass
class _PgDefinitions:
    schemas: list[str]
    extensions: list[str]
    types: list[str]
    sequences: list[str]
    tables: list[_PgTable]


def _pg_definitions(session: GuardedSession, tables: list[Table]) -> _PgDefinitions:
    defs = _PgDefinitions(schemas=[], extensions=[], types=[], sequences=[], tables=[])
    defs.schemas = sorted({quote(t.schema_name, Dialect.POSTGRES) for t in tables})
    for row in session.catalog("SELECT extname FROM pg_catalog.pg_extension ORDER BY extname"):
        if row["extname"] in PG_SCRATCH_EXTENSIONS:
            defs.extensions.append(f'CREATE EXTENSION IF NOT EXISTS "{row["extname"]}"')
    seen_types: set[int] = set()
    seen_sequences: set[str] = set()
    for t in tables:
        ref = table_ref(t, Dialect.POSTGRES)
        for ty in session.catalog(_PG_TYPES, [ref]):
            if ty["oid"] in seen_types:
                continue
            seen_types.add(ty["oid"])
            defs.schemas.append(ty["schema"])
            if ty["kind"] == "e":
                labels = session.catalog(
                    "SELECT pg_catalog.quote_literal(enumlabel) AS l FROM pg_catalog.pg_enum "
                    "WHERE enumtypid = %s ORDER BY enumsortorder", [ty["oid"]],
                )
                defs.types.append(f"CREATE TYPE {ty['name']} AS ENUM ({', '.join(r['l'] for r in labels)})")
            else:
                checks = session.catalog(
                    "SELECT pg_catalog.pg_get_constraintdef(oid) AS def FROM pg_catalog.pg_constraint "
                    "WHERE contypid = %s", [ty["oid"]],
                )
                text = f"CREATE DOMAIN {ty['name']} AS {ty['base']}"
                if ty["default_expr"]:
                    text += f" DEFAULT {ty['default_expr']}"
                if ty["notnull"]:
                    text += " NOT NULL"
                defs.types.append(text + "".join(f" {c['def']}" for c in checks))
        columns = session.catalog(_PG_COLUMNS, [ref])
        for col in columns:
            m = _NEXTVAL.search(col["default_expr"] or "")
            if m and m.group(1) not in seen_sequences:
                name = m.group(1).replace("''", "'")
                seen_sequences.add(m.group(1))
                info = session.catalog(_PG_SEQUENCE, [name])
                if info:
                    s = info[0]
                    defs.sequences.append(
                        f"CREATE SEQUENCE IF NOT EXISTS {name} AS {s['type']} INCREMENT {s['inc']} "
                        f"MINVALUE {s['min']} MAXVALUE {s['max']} START {s['start']}"
                        + (" CYCLE" if s["cycle"] else "")
                    )
        key = session.catalog_value(
            "SELECT CASE WHEN relkind = 'p' THEN pg_catalog.pg_get_partkeydef(oid) END FROM pg_catalog.pg_class "
            "WHERE oid = %s::regclass", [ref],
        )
        defs.tables.append(_PgTable(
            ref=ref,
            columns=columns,
            constraints=session.catalog(_PG_CONSTRAINTS, [ref]),
            # A partitioned table's index is defined ON ONLY the parent; without ONLY it reaches the partitions.
            indexes=[re.sub(r" ON ONLY ", " ON ", r["def"], count=1) for r in session.catalog(_PG_INDEXES, [ref])],
            triggers=session.catalog(_PG_TRIGGERS, [ref]),
            partition_key=key,
            partitions=session.catalog(_PG_PARTITIONS, [ref]) if key else [],
        ))
    defs.schemas = sorted(set(defs.schemas))
    return defs


def _pg_column_sql(col: dict[str, Any]) -> str:
    text = f"{quote(col['name'], Dialect.POSTGRES)} {col['type']}"
    if col["collation"]:
        text += f" COLLATE {col['collation']}"
    if col["generated"] == "s":
        text += f" GENERATED ALWAYS AS ({col['default_expr']}) STORED"
    elif col["default_expr"] is not None:
        text += f" DEFAULT {col['default_expr']}"
    if col["identity"] == "a":
        text += " GENERATED ALWAYS AS IDENTITY"
    elif col["identity"] == "d":
        text += " GENERATED BY DEFAULT AS IDENTITY"
    if col["notnull"]:
        text += " NOT NULL"
    return text


def clone_postgres(plan: ClonePlan, target: LiveDatabase, say: Callable[[str], None]) -> None:
    """Copy the plan's tables (structure and a row sample) from the source into the scratch `target`."""
    with plan.source.session() as src, target.scratch_connection() as conn:
        defs = _pg_definitions(src, plan.tables)
        for schema in defs.schemas:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}".encode())
        for ext in defs.extensions:
            with contextlib.suppress(Exception):  # one the server lacks: tables that need it fail below
                conn.execute(ext.encode())
        for statement in defs.types + defs.sequences:
            conn.execute(statement.encode())
        for t in defs.tables:
            for statement in t.create_sql():
                conn.execute(statement.encode())
        for t in defs.tables:
            cols = ", ".join(t.copied_columns)
            limit = f" LIMIT {int(plan.sample_rows)}" if plan.sample_rows > 0 else ""
            with conn.cursor().copy(f"COPY {t.ref} ({cols}) FROM STDIN (FORMAT binary)".encode()) as copy:
                for chunk in src.copy_out(f"SELECT {cols} FROM {t.ref}{limit}"):
                    copy.write(chunk)
            count = conn.execute(f"SELECT count(*) FROM {t.ref}".encode()).fetchone()
            plan.rows[t.ref] = int(count[0]) if count else 0
        for t in defs.tables:
            for c in t.constraints:
                if c["kind"] != "f":
                    conn.execute(f"ALTER TABLE {t.ref} ADD CONSTRAINT {c['name']} {c['def']}".encode())
            for index in t.indexes:
                conn.execute(index.encode())
        _delete_orphans(conn, plan, Dialect.POSTGRES)
        for t in defs.tables:
            for c in t.constraints:
                if c["kind"] == "f":
                    conn.execute(f"ALTER TABLE {t.ref} ADD CONSTRAINT {c['name']} {c['def']}".encode())
            for trig in t.triggers:
                try:
                    if trig["function_def"]:
                        conn.execute(str(trig["function_def"]).encode())
                    conn.execute(str(trig["def"]).encode())
                except Exception as exc:  # e.g. a trigger function from an extension the scratch server lacks
                    plan.note(f"a trigger on {t.ref} was not copied ({' '.join(str(exc).split())[:160]})")
            for col in t.columns:
                seq = _NEXTVAL.search(col["default_expr"] or "")
                seq_expr = (
                    f"'{seq.group(1)}'" if seq else
                    f"pg_catalog.pg_get_serial_sequence('{t.ref.replace(chr(39), chr(39) * 2)}', "
                    f"'{col['name'].replace(chr(39), chr(39) * 2)}')" if col["identity"] else None
                )
                if seq_expr is None:
                    continue
                name = quote(col["name"], Dialect.POSTGRES)
                conn.execute(
                    f"SELECT pg_catalog.setval({seq_expr}, COALESCE((SELECT max({name}) FROM {t.ref}), 1), "
                    f"(SELECT max({name}) FROM {t.ref}) IS NOT NULL)".encode()
                )
        if defs.tables:
            conn.execute(f"ANALYZE {', '.join(t.ref for t in defs.tables)}".encode())
    say(f"copied {len(plan.tables)} table(s) into {target.url.redacted} "
        f"({sum(plan.rows.values()):,} rows)")


def _delete_orphans(conn: Any, plan: ClonePlan, dialect: Dialect) -> None:
    """Child rows whose parent row was left out of the sample would fail the foreign key: delete them."""
    cloned = {(t.schema_name, t.name): t for t in plan.tables}
    for child in reversed(plan.tables):
        for fk in child.foreign_keys:
            parent = cloned.get((fk.ref_schema, fk.ref_table))
            if parent is None:
                continue
            c_ref = _target_ref(child, dialect)
            p_ref = _target_ref(parent, dialect)
            match = " AND ".join(
                f"p.{quote(rc, dialect)} = c.{quote(cc, dialect)}"
                for cc, rc in zip(fk.columns, fk.ref_columns, strict=False)
            )
            present = " AND ".join(f"c.{quote(cc, dialect)} IS NOT NULL" for cc in fk.columns)
            if dialect is Dialect.POSTGRES:
                sql = (f"DELETE FROM {c_ref} c WHERE {present} AND NOT EXISTS "
                       f"(SELECT 1 FROM {p_ref} p WHERE {match})")
                conn.execute(sql.encode())
            else:
                sql = (f"DELETE c FROM {c_ref} c LEFT JOIN {p_ref} p ON {match} "
                       f"WHERE {present} AND p.{quote(fk.ref_columns[0], dialect)} IS NULL")
                with conn.cursor() as cur:
                    cur.execute(sql)


def _target_ref(table: Table, dialect: Dialect) -> str:
    """How the scratch side names a cloned table: PostgreSQL keeps the schema, MySQL uses the current database."""
    return table_ref(table, dialect) if dialect is Dialect.POSTGRES else quote(table.name, dialect)


# -- MariaDB / MySQL -----------------------------------------------------------------------------


def clone_mysql(plan: ClonePlan, target: LiveDatabase, say: Callable[[str], None]) -> None:
    """Copy the plan's tables (SHOW CREATE TABLE and a row sample) into the scratch database `target`."""
    dialect = plan.source.dialect
    with plan.source.session() as src, target.scratch_connection() as conn, conn.cursor() as cur:
        cur.execute("SET SESSION foreign_key_checks = 0")
        for t in plan.tables:
            row = src.catalog(f"SHOW CREATE TABLE {table_ref(t, dialect)}")
            cur.execute(str(row[0]["Create Table"]))
        same_server = (plan.source.url.host, plan.source.url.port) == (target.url.host, target.url.port)
        for t in plan.tables:
            names = [quote(c.name, dialect) for c in t.columns if not c.generated]
            columns = ", ".join(names)
            limit = f" LIMIT {int(plan.sample_rows)}" if plan.sample_rows > 0 else ""
            select = f"SELECT {columns} FROM {table_ref(t, dialect)}{limit}"
            if same_server:
                # One statement on the server: reads the source table, writes the scratch copy (checked so).
                insert = check_statement(f"INSERT INTO {quote(t.name, dialect)} ({columns}) {select}", dialect,
                                         Mode.SCRATCH)
                cur.execute(insert)
                plan.rows[t.qualified_name] = int(cur.rowcount)
                continue
            rows = src.catalog(select)
            insert = (f"INSERT INTO {quote(t.name, dialect)} ({columns}) "
                      f"VALUES ({', '.join(['%s'] * len(names))})")
            for start in range(0, len(rows), _INSERT_BATCH):
                cur.executemany(insert, [tuple(r.values()) for r in rows[start:start + _INSERT_BATCH]])
            plan.rows[t.qualified_name] = len(rows)
        _delete_orphans(conn, plan, dialect)
        cur.execute("SET SESSION foreign_key_checks = 1")
    for t in plan.tables:
        if t.triggers:
            # Trigger bodies may name other databases (the source among them): not copied.
            plan.note(f"the triggers of {t.qualified_name} were not copied (MySQL/MariaDB copies are tables only)")
    say(f"copied {len(plan.tables)} table(s) into {target.url.redacted} ({sum(plan.rows.values()):,} rows)")


# -- where the copies live -----------------------------------------------------------------------


class ScratchArea:
    """Hands out databases in the source's original state, one per run, and cleans up after itself."""

    def __init__(self, plan: ClonePlan, scratch: LiveDatabase | None, say: Callable[[str], None]) -> None:
        self.plan = plan
        self.named = scratch
        self.say = say
        self.dialect = plan.source.dialect
        self.prefix = f"dbsage_verify_{secrets.token_hex(5)}"
        self.template: str | None = None
        self.original: Catalog | None = None
        self._runs = 0
        self._created = False

    @property
    def label(self) -> str:
        if self.named is not None:
            return self.named.url.redacted
        return replace(self.plan.source.url, database=self.prefix, password=None).redacted

    def _own(self, name: str) -> LiveDatabase:
        return LiveDatabase(replace(self.plan.source.url, database=name), limits=self.plan.source.limits,
                            scratch=True)

    def _clone(self, target: LiveDatabase) -> None:
        if self.dialect is Dialect.POSTGRES:
            clone_postgres(self.plan, target, self.say)
        else:
            clone_mysql(self.plan, target, self.say)

    def prepare(self) -> Catalog:
        """Make the original state once and return its catalog (the schema a rollback must restore)."""
        if self.named is not None:
            self._wipe(self.named)
            self._clone(self.named)
            self.original = load_catalog(self.named)
        elif self.dialect is Dialect.POSTGRES:
            self.plan.source.create_database(self.prefix)
            self._created = True
            self.template = self.prefix
            with self._own(self.prefix) as db:
                self._clone(db)
                self.original = load_catalog(db)
        else:
            self.plan.source.create_database(self.prefix)
            self._created = True
            with self._own(self.prefix) as db:
                self._clone(db)
                self.original = load_catalog(db)
        return self.original

    @contextmanager
    def fresh(self, *, last: bool = False) -> Iterator[LiveDatabase]:
        """A scratch database in the original state. PostgreSQL: a copy of the prepared template, or with
        `last` the template itself; MariaDB and named databases: the prepared copy first, a re-made one after."""
        self._runs += 1
        first = self._runs == 1
        if self.named is not None:
            if not first:
                self._wipe(self.named)
                self._clone(self.named)
            yield self.named
            return
        if self.dialect is Dialect.POSTGRES and last:
            with self._own(self.prefix) as db:  # the template's last use: no copy needed
                yield db
            return
        if self.dialect is Dialect.POSTGRES:
            # CREATE DATABASE ... TEMPLATE is a file copy: much faster than cloning from the source again.
            name = f"{self.prefix}_r{self._runs}"
            self.plan.source.create_database(name, template=self.prefix)
            try:
                with self._own(name) as db:
                    yield db
            finally:
                self.plan.source.drop_database(name)
            return
        if not first:
            self.plan.source.drop_database(self.prefix)
            self._created = False
            self.plan.source.create_database(self.prefix)
            self._created = True
            with self._own(self.prefix) as db:
                self._clone(db)
        with self._own(self.prefix) as db:
            yield db

    def close(self) -> None:
        """Drop what dbsage created; on a named scratch database, drop the cloned tables."""
        if self.named is not None:
            self._wipe(self.named)
            return
        if self._created:
            self.plan.source.drop_database(self.prefix)
            self._created = False

    def _wipe(self, db: LiveDatabase) -> None:
        """Empty the named scratch database where the clone goes (it is marked scratch: dbsage may)."""
        with db.scratch_connection() as conn:
            if self.dialect is Dialect.POSTGRES:
                for schema in sorted({t.schema_name for t in self.plan.tables}):
                    conn.execute(f"DROP SCHEMA IF EXISTS {quote(schema, Dialect.POSTGRES)} CASCADE".encode())
                    conn.execute(f"CREATE SCHEMA {quote(schema, Dialect.POSTGRES)}".encode())
            else:
                with conn.cursor() as cur:
                    cur.execute("SET SESSION foreign_key_checks = 0")
                    cur.execute("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                                "WHERE TABLE_SCHEMA = DATABASE()")
                    for name, kind in cur.fetchall():
                        what = "VIEW" if kind == "VIEW" else "TABLE"
                        cur.execute(f"DROP {what} IF EXISTS {quote(str(name), self.dialect)}")


def refuse_source_as_scratch(source: LiveDatabase, scratch: LiveDatabase, *, tool: str) -> None:
    """Refuse a named scratch database that is the source itself (or on another engine) before `tool` writes."""
    if (source.dialect is Dialect.POSTGRES) != (scratch.dialect is Dialect.POSTGRES):
        raise InputError("The scratch database runs another engine than the source.",
                         hint="name a scratch database on a server of the same kind")
    if _identity(source) == _identity(scratch):
        raise GuardRefused(
            f"The scratch database is the source database; {tool} never writes to the source.",
            reason="scratch_is_source", hint="name a separate scratch database, or leave --scratch-dsn out",
        )


def _identity(db: LiveDatabase) -> tuple[Any, ...]:
    """What tells two databases apart however they are addressed (host aliases, ports, sockets)."""
    with db.session() as session:
        if db.dialect is Dialect.POSTGRES:
            rows = session.catalog(
                "SELECT current_database() AS db, pg_catalog.pg_postmaster_start_time()::text AS started, "
                "(SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())::bigint AS oid"
            )
        else:
            rows = session.catalog("SELECT DATABASE() AS db, @@hostname AS host, @@port AS port, @@datadir AS dir")
    return tuple(rows[0].values()) if rows else ()

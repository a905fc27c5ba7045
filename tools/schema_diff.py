"""Diff mode: the plain migration SQL that turns one schema (Catalog) into another.

The SQL is the naive "what changed" migration, in an order the engine accepts: foreign keys that go
away are dropped first, then constraints and indexes, then tables; new tables are created before the
foreign keys that reference them, and foreign keys come last. plan_migration lints this text and turns
it into the safe plan, so nothing here tries to be online-safe.

Covered: tables (create/drop, a new PostgreSQL schema they need), columns (add/drop, type, default,
nullability, MySQL collation when both sides know it), primary keys, unique and check constraints,
foreign keys, indexes (unique, partial, method, expressions, INCLUDE), table and column comments, for
PostgreSQL and MySQL/MariaDB. Not covered: views, routines, triggers, sequences, enum types, policies,
partitions, identity/auto-increment/generated changes on existing columns, dropping schemas. Grants and
owners are not diffed: a live catalog lists the owner's implicit privileges, which DDL never states, so
comparing them would emit REVOKEs nobody asked for. Facts only a live database has (row counts, sizes,
usage) are ignored, except that a live table known to be empty needs no NOT NULL warning.

Renames are never guessed: a dropped and an added column of the same type on one table, or a dropped
and an added table with the same columns, is reported as `migration.diff_possible_rename`. A NOT NULL
column added without a default is reported as `migration.diff_not_null_without_default`.

Names compare exactly on PostgreSQL (the parser already folded unquoted names) and case-insensitively
on MySQL/MariaDB (column names always are; table names are on most installations). On MySQL/MariaDB the
database name is ignored when each side holds one database (a DDL file read without `USE` lands in
`main`), and statements name tables without it.

Expressions (defaults, checks, index predicates) are compared after a textual normalisation: quotes
around identifiers, `::type` casts, parentheses, whitespace and letter case outside string literals are
dropped. When one side is live and the other DDL, a check constraint whose name matches on both sides is
taken as unchanged, because PostgreSQL stores checks in a rewritten form (`= ANY (ARRAY[...])`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dbsage.tools.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    Dialect,
    ForeignKey,
    Index,
    Table,
    UniqueConstraint,
)
from dbsage.tools.errors import InputError
from dbsage.tools.findings import Finding, ObjectType
from dbsage.tools.rules.fix_sql import quote
from dbsage.tools.rules.registry import make_finding

RENAME_RULE = "migration.diff_possible_rename"
NOT_NULL_RULE = "migration.diff_not_null_without_default"

_NUMERIC = {"smallint", "integer", "bigint", "numeric", "real", "double"}
_STRING = {"text", "varchar", "char"}


@dataclass
class _Script:
    """Statements collected by phase, joined in dependency-safe order at the end."""

    drop_fks: list[str] = field(default_factory=list)
    drop_constraints: list[str] = field(default_factory=list)
    drop_indexes: list[str] = field(default_factory=list)
    drop_tables: list[str] = field(default_factory=list)
    create_schemas: list[str] = field(default_factory=list)
    create_tables: list[str] = field(default_factory=list)
    alter_columns: list[str] = field(default_factory=list)
    drop_columns: list[str] = field(default_factory=list)
    add_constraints: list[str] = field(default_factory=list)
    create_indexes: list[str] = field(default_factory=list)
    add_fks: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def text(self) -> str:
        ordered = (
            self.drop_fks
            + self.drop_constraints
            + self.drop_indexes
            + self.drop_tables
            + self.create_schemas
            + self.create_tables
            + self.alter_columns
            + self.drop_columns
            + self.add_constraints
            + self.create_indexes
            + self.add_fks
            + self.comments
        )
        return "".join(s + ";\n" for s in ordered)


def diff_schemas(current: Catalog, target: Catalog, dialect: Dialect) -> tuple[str, list[Finding]]:
    """The migration SQL turning `current` into `target`, and findings such as a likely rename.

    Statements are separated by ";\\n" (the text ends with one); an empty string means no difference.
    Raises InputError for SQLite or when a catalog's dialect belongs to another engine family.
    """
    if dialect is Dialect.SQLITE:
        raise InputError(
            "Diff mode supports PostgreSQL and MySQL/MariaDB, not SQLite.", hint="use --dialect postgres|mysql|mariadb"
        )
    for catalog, which in ((current, "current"), (target, "target")):
        if (catalog.dialect is Dialect.POSTGRES) != (dialect is Dialect.POSTGRES) or catalog.dialect is Dialect.SQLITE:
            raise InputError(
                f"The {which} schema was read as {catalog.dialect.value}, not {dialect.value}.",
                hint="read both schemas with the same --dialect",
            )
    return _Differ(current, target, dialect).run()


class _Differ:
    def __init__(self, current: Catalog, target: Catalog, dialect: Dialect) -> None:
        self.dialect = dialect
        self.mysql = dialect.is_mysql_family
        self.mixed_sources = current.source != target.source
        # MySQL: ignore the database name when each side holds one database
        self.ignore_schema = self.mysql and len(_schemas(current)) <= 1 and len(_schemas(target)) <= 1
        self.current = {self.table_key(t): t for t in current.tables if t.partition_of is None}
        self.target = {self.table_key(t): t for t in target.tables if t.partition_of is None}
        self.current_schemas = list(current.schemas)
        self.out = _Script()
        self.findings: list[Finding] = []

    # -- names ----------------------------------------------------------------------------------

    def name_key(self, name: str) -> str:
        return name.lower() if self.mysql else name

    def table_key(self, table: Table) -> tuple[str, str]:
        schema = "" if self.ignore_schema else self.name_key(table.schema_name)
        return schema, self.name_key(table.name)

    def ref_key(self, schema: str, name: str) -> tuple[str, str]:
        return ("" if self.ignore_schema else self.name_key(schema)), self.name_key(name)

    def q(self, name: str) -> str:
        return quote(name, self.dialect)

    def tref(self, table: Table) -> str:
        return self.ref(table.schema_name, table.name)

    def ref(self, schema: str, name: str) -> str:
        if self.ignore_schema or (not self.mysql and schema == "public"):
            return self.q(name)
        return f"{self.q(schema)}.{self.q(name)}"

    def cols(self, names: Iterable[str]) -> str:
        return ", ".join(self.q(n) for n in names)

    def label(self, table: Table) -> str:
        return table.name if self.ignore_schema else table.qualified_name

    # -- driver ---------------------------------------------------------------------------------

    def run(self) -> tuple[str, list[Finding]]:
        dropped = [self.current[k] for k in self.current if k not in self.target]
        added = [self.target[k] for k in self.target if k not in self.current]
        self.table_renames(dropped, added)
        dropped_keys = {self.table_key(t) for t in dropped}
        # foreign keys of dropped tables that point at other dropped tables go first, so any drop order works
        for table in dropped:
            for fk in table.foreign_keys:
                if fk.name and self.ref_key(fk.ref_schema, fk.ref_table) in dropped_keys:
                    self.out.drop_fks.append(self.drop_fk(table, fk))
            self.out.drop_tables.append(f"DROP TABLE {self.tref(table)}")
        if not self.mysql:  # a schema new tables need (schemas that empty out are left in place)
            known = {t.schema_name for t in self.current.values()} | set(self.current_schemas)
            for schema in sorted({t.schema_name for t in added} - known):
                self.out.create_schemas.append(f"CREATE SCHEMA IF NOT EXISTS {self.q(schema)}")
        for table in added:
            self.create_table(table)
        for key, old in self.current.items():
            new = self.target.get(key)
            if new is not None:
                self.alter_table(old, new)
        return self.out.text(), self.findings

    # -- renames --------------------------------------------------------------------------------

    def table_renames(self, dropped: list[Table], added: list[Table]) -> None:
        for old in dropped:
            shape = self.shape(old)
            for new in added:
                if shape and shape == self.shape(new):
                    self.findings.append(
                        make_finding(
                            RENAME_RULE,
                            object_type=ObjectType.TABLE,
                            obj=self.label(old),
                            message=(
                                f"Table {self.label(old)} is dropped and {self.label(new)} is created with the same "
                                f"columns: if this is a rename, ALTER TABLE ... RENAME keeps the rows; the drop "
                                f"and create lose them."
                            ),
                            evidence={"dropped": self.label(old), "added": self.label(new)},
                            fix=self.rename_table_sql(old, new),
                        )
                    )

    def shape(self, table: Table) -> list[tuple[str, str]]:
        return sorted((self.name_key(c.name), _type_key(c)) for c in table.columns)

    def rename_table_sql(self, old: Table, new: Table) -> str:
        if self.mysql:
            return f"RENAME TABLE {self.tref(old)} TO {self.tref(new)}"
        return f"ALTER TABLE {self.tref(old)} RENAME TO {self.q(new.name)}"

    def column_renames(self, table: Table, dropped: list[Column], added: list[Column]) -> None:
        for old in dropped:
            for new in added:
                if _type_key(old) != _type_key(new):
                    continue
                obj = f"{self.label(table)}.{old.name}"
                self.findings.append(
                    make_finding(
                        RENAME_RULE,
                        object_type=ObjectType.COLUMN,
                        obj=obj,
                        message=(
                            f"Column {obj} is dropped and {new.name} ({new.data_type}) is added to the same table: "
                            f"if this is a rename, RENAME COLUMN keeps the data; the drop and add lose it."
                        ),
                        evidence={
                            "table": self.label(table),
                            "dropped": old.name,
                            "added": new.name,
                            "type": new.data_type,
                        },
                        fix=f"ALTER TABLE {self.tref(table)} RENAME COLUMN {self.q(old.name)} TO {self.q(new.name)}",
                    )
                )

    # -- create ---------------------------------------------------------------------------------

    def create_table(self, table: Table) -> None:
        parts = [self.column_def(c) for c in sorted(table.columns, key=lambda c: c.position)]
        if table.primary_key is not None:
            parts.append(self.pk_clause(table))
        parts += [self.unique_clause(u) for u in table.unique_constraints]
        parts += [self.check_clause(c) for c in table.check_constraints]
        head = "CREATE UNLOGGED TABLE" if table.persistence == "unlogged" and not self.mysql else "CREATE TABLE"
        body = ",\n    ".join(parts)
        tail = f" ENGINE={table.engine}" if self.mysql and table.engine else ""
        if self.mysql and table.comment:
            tail += f" COMMENT={self.literal(table.comment)}"
        self.out.create_tables.append(f"{head} {self.tref(table)} (\n    {body}\n){tail}")
        if not self.mysql:
            if table.comment:
                self.out.comments.append(self.comment_sql(table, None, table.comment))
            for col in table.columns:
                if col.comment:
                    self.out.comments.append(self.comment_sql(table, col, col.comment))
        for index in table.indexes:
            if self.is_plain_index(index):
                self.out.create_indexes.append(self.create_index(table, index))
        for fk in table.foreign_keys:
            self.out.add_fks.append(self.add_fk(table, fk))

    def column_def(self, col: Column) -> str:
        text = f"{self.q(col.name)} {self.type_sql(col)}"
        if col.generated is not None:
            stored = " STORED" if not self.mysql else ""
            return f"{text} GENERATED ALWAYS AS ({col.generated}){stored}"
        if self.mysql and col.collation:
            text += f" COLLATE {col.collation}"
        if not self.mysql and col.identity is not None:
            kind = "ALWAYS" if col.identity == "always" else "BY DEFAULT"
            return f"{text} GENERATED {kind} AS IDENTITY"
        if not col.nullable:
            text += " NOT NULL"
        elif self.mysql:
            text += " NULL"  # a MySQL TIMESTAMP column is NOT NULL unless told otherwise
        if col.default is not None and not col.serial:
            text += f" DEFAULT {col.default}"
        if self.mysql and col.auto_increment:
            text += " AUTO_INCREMENT"
        if self.mysql and col.comment:
            text += f" COMMENT {self.literal(col.comment)}"  # MODIFY COLUMN would drop it otherwise
        return text

    def type_sql(self, col: Column) -> str:
        if col.serial and not self.mysql:
            return {"bigint": "bigserial", "smallint": "smallserial"}.get(col.base_type, "serial")
        return col.data_type

    def literal(self, text: str) -> str:
        escaped = text.replace("\\", "\\\\") if self.mysql else text
        return "'" + escaped.replace("'", "''") + "'"

    def comment_sql(self, table: Table, col: Column | None, comment: str | None) -> str:
        """PostgreSQL COMMENT ON for a table or column (None removes it); MySQL's table comment."""
        value = self.literal(comment) if comment else "NULL"
        if self.mysql:
            return f"ALTER TABLE {self.tref(table)} COMMENT = {self.literal(comment or '')}"
        if col is None:
            return f"COMMENT ON TABLE {self.tref(table)} IS {value}"
        return f"COMMENT ON COLUMN {self.tref(table)}.{self.q(col.name)} IS {value}"

    def pk_clause(self, table: Table) -> str:
        assert table.primary_key is not None
        name = table.primary_key.name
        named = f"CONSTRAINT {self.q(name)} " if name and not self.mysql else ""
        return f"{named}PRIMARY KEY ({self.cols(table.primary_key.columns)})"

    def unique_clause(self, unique: UniqueConstraint) -> str:
        named = f"CONSTRAINT {self.q(unique.name)} " if unique.name else ""
        return f"{named}UNIQUE ({self.cols(unique.columns)})"

    def check_clause(self, check: CheckConstraint) -> str:
        named = f"CONSTRAINT {self.q(check.name)} " if check.name else ""
        return f"{named}CHECK ({check.expression})"

    def is_plain_index(self, index: Index) -> bool:
        """An index that is not the primary key and backs no constraint (those come with the constraint)."""
        return not index.primary and index.constraint is None

    def create_index(self, table: Table, index: Index) -> str:
        keys = ", ".join(self.index_key(k.column, k.expression, k.descending) for k in index.keys)
        if self.mysql:
            kind = {"fulltext": "FULLTEXT ", "spatial": "SPATIAL "}.get(index.method, "UNIQUE " if index.unique else "")
            using = " USING HASH" if index.method == "hash" else ""
            return f"CREATE {kind}INDEX {self.q(index.name)} ON {self.tref(table)} ({keys}){using}"
        unique = "UNIQUE " if index.unique else ""
        using = f" USING {index.method}" if index.method != "btree" else ""
        include = f" INCLUDE ({self.cols(index.include)})" if index.include else ""
        where = f" WHERE {index.predicate}" if index.predicate else ""
        return f"CREATE {unique}INDEX {self.q(index.name)} ON {self.tref(table)}{using} ({keys}){include}{where}"

    def index_key(self, column: str | None, expression: str | None, descending: bool) -> str:
        key = self.q(column) if column is not None else f"({expression})"
        return key + (" DESC" if descending else "")

    def add_fk(self, table: Table, fk: ForeignKey) -> str:
        named = f"CONSTRAINT {self.q(fk.name)} " if fk.name else ""
        text = (
            f"ALTER TABLE {self.tref(table)} ADD {named}FOREIGN KEY ({self.cols(fk.columns)}) "
            f"REFERENCES {self.ref(fk.ref_schema, fk.ref_table)} ({self.cols(fk.ref_columns)})"
        )
        # the engine's default action is left out (InnoDB's is RESTRICT, PostgreSQL's NO ACTION)
        default = "RESTRICT" if self.mysql else "NO ACTION"
        for event, action in (("DELETE", fk.on_delete.upper()), ("UPDATE", fk.on_update.upper())):
            if action not in ("NO ACTION", default):
                text += f" ON {event} {action}"
        if fk.deferrable and not self.mysql:
            text += " DEFERRABLE"
        return text

    def drop_fk(self, table: Table, fk: ForeignKey) -> str:
        assert fk.name is not None
        word = "FOREIGN KEY" if self.mysql else "CONSTRAINT"
        return f"ALTER TABLE {self.tref(table)} DROP {word} {self.q(fk.name)}"

    def drop_constraint(self, table: Table, name: str, *, unique: bool = False) -> str:
        if self.mysql and unique:
            return f"ALTER TABLE {self.tref(table)} DROP INDEX {self.q(name)}"
        return f"ALTER TABLE {self.tref(table)} DROP CONSTRAINT {self.q(name)}"

    # -- alter ----------------------------------------------------------------------------------

    def alter_table(self, old: Table, new: Table) -> None:
        old_cols = {self.name_key(c.name): c for c in old.columns}
        new_cols = {self.name_key(c.name): c for c in new.columns}
        gone = [c for k, c in old_cols.items() if k not in new_cols]
        fresh = sorted((c for k, c in new_cols.items() if k not in old_cols), key=lambda c: c.position)
        self.column_renames(old, gone, fresh)
        retyped = {k for k, c in new_cols.items() if k in old_cols and _type_key(old_cols[k]) != _type_key(c)}

        self.diff_foreign_keys(old, new, retyped)
        self.diff_primary_key(old, new)
        self.diff_uniques(old, new)
        self.diff_checks(old, new)
        self.diff_indexes(old, new)

        for col in fresh:
            self.out.alter_columns.append(self.add_column(new, col))
            self.check_not_null_add(old, col)
            if col.comment and not self.mysql:
                self.out.comments.append(self.comment_sql(new, col, col.comment))
        if (old.comment or None) != (new.comment or None):
            self.out.comments.append(self.comment_sql(new, None, new.comment))
        for key, col in new_cols.items():
            if key in old_cols:
                self.alter_column(new, old_cols[key], col)
        for col in gone:
            self.out.drop_columns.append(f"ALTER TABLE {self.tref(old)} DROP COLUMN {self.q(col.name)}")

    def check_not_null_add(self, table: Table, col: Column) -> None:
        """A NOT NULL column without a default cannot be added to a table that has rows."""
        if col.nullable or col.default is not None or col.generated is not None:
            return
        if col.identity is not None or col.serial or col.auto_increment:
            return
        if table.row_estimate == 0:
            return  # known empty (live catalog)
        obj = f"{self.label(table)}.{col.name}"
        self.findings.append(
            make_finding(
                NOT_NULL_RULE,
                object_type=ObjectType.COLUMN,
                obj=obj,
                message=(
                    f"Column {obj} is added NOT NULL without a default: the ADD COLUMN fails as soon as "
                    f"{self.label(table)} holds a row."
                ),
                evidence={
                    "table": self.label(table),
                    "column": col.name,
                    "type": col.data_type,
                    "row_estimate": table.row_estimate,
                },
            )
        )

    def add_column(self, table: Table, col: Column) -> str:
        text = f"ALTER TABLE {self.tref(table)} ADD COLUMN {self.column_def(col)}"
        if self.mysql:
            before = [c for c in table.columns if c.position < col.position]
            text += f" AFTER {self.q(max(before, key=lambda c: c.position).name)}" if before else " FIRST"
        return text

    def alter_column(self, table: Table, old: Column, new: Column) -> None:
        retyped = _type_key(old) != _type_key(new)
        default_changed = not _same_expression(old.default, new.default, mysql=self.mysql)
        null_changed = old.nullable != new.nullable
        if old.generated is not None or new.generated is not None or old.serial or new.serial:
            default_changed = default_changed and not (old.serial and new.serial)
        if self.mysql:
            collation_changed = bool(old.collation and new.collation and old.collation.lower() != new.collation.lower())
            comment_changed = (old.comment or None) != (new.comment or None)
            changed = retyped or null_changed or collation_changed or comment_changed
            if changed or old.auto_increment != new.auto_increment:
                self.out.alter_columns.append(f"ALTER TABLE {self.tref(table)} MODIFY COLUMN {self.column_def(new)}")
            elif default_changed:
                self.out.alter_columns.append(self.set_default(table, new))
            return
        prefix = f"ALTER TABLE {self.tref(table)} ALTER COLUMN {self.q(new.name)}"
        if retyped:
            text = f"{prefix} TYPE {self.type_sql(new)}"
            if new.base_type != old.base_type and not _implicit_cast(old.base_type, new.base_type):
                text += f" USING {self.q(new.name)}::{self.type_sql(new)}"
            self.out.alter_columns.append(text)
        if default_changed and not new.serial and new.identity is None:
            self.out.alter_columns.append(self.set_default(table, new))
        if null_changed and new.identity is None:
            self.out.alter_columns.append(f"{prefix} {'DROP' if new.nullable else 'SET'} NOT NULL")
        if (old.comment or None) != (new.comment or None):
            self.out.comments.append(self.comment_sql(table, new, new.comment))

    def set_default(self, table: Table, col: Column) -> str:
        prefix = f"ALTER TABLE {self.tref(table)} ALTER COLUMN {self.q(col.name)}"
        if col.default is None:
            return f"{prefix} DROP DEFAULT"
        return f"{prefix} SET DEFAULT {col.default}"

    def diff_foreign_keys(self, old: Table, new: Table, retyped: set[str]) -> None:
        """Drop keys that go away or change (or sit on a retyped column), add new and changed ones."""
        old_fks = {self.fk_key(fk): fk for fk in old.foreign_keys}
        new_fks = {self.fk_key(fk): fk for fk in new.foreign_keys}
        for key, fk in old_fks.items():
            replaced = key in new_fks and not self.same_fk(fk, new_fks[key])
            touches_retyped = any(self.name_key(c) in retyped for c in fk.columns)
            if (key not in new_fks or replaced or touches_retyped) and fk.name is not None:
                self.out.drop_fks.append(self.drop_fk(old, fk))
            if key in new_fks and (replaced or touches_retyped):
                self.out.add_fks.append(self.add_fk(new, new_fks[key]))
        for key, fk in new_fks.items():
            if key not in old_fks:
                self.out.add_fks.append(self.add_fk(new, fk))
        # a referenced column whose type changes: MySQL refuses while the key exists, so it is re-created too
        for table in self.target.values():
            if table is new:
                continue
            for fk in table.foreign_keys:
                if self.ref_key(fk.ref_schema, fk.ref_table) == self.table_key(new) and any(
                    self.name_key(c) in retyped for c in fk.ref_columns
                ):
                    current = self.current.get(self.table_key(table))
                    if (
                        current is not None
                        and fk.name
                        and any(self.fk_key(f) == self.fk_key(fk) for f in current.foreign_keys)
                    ):
                        self.out.drop_fks.append(self.drop_fk(table, fk))
                        self.out.add_fks.append(self.add_fk(table, fk))

    def fk_key(self, fk: ForeignKey) -> str:
        if fk.name:
            return self.name_key(fk.name)
        return "|".join(self.name_key(c) for c in fk.columns) + "->" + self.name_key(fk.ref_table)

    def same_fk(self, a: ForeignKey, b: ForeignKey) -> bool:
        def facts(fk: ForeignKey) -> tuple[object, ...]:
            on_delete, on_update = fk.on_delete.upper(), fk.on_update.upper()
            if self.mysql:  # InnoDB treats NO ACTION as RESTRICT
                on_delete = on_delete.replace("NO ACTION", "RESTRICT")
                on_update = on_update.replace("NO ACTION", "RESTRICT")
            return (
                [self.name_key(c) for c in fk.columns],
                self.ref_key(fk.ref_schema, fk.ref_table),
                [self.name_key(c) for c in fk.ref_columns],
                on_delete,
                on_update,
                fk.deferrable,
            )

        return facts(a) == facts(b)

    def diff_primary_key(self, old: Table, new: Table) -> None:
        def cols(table: Table) -> list[str] | None:
            return [self.name_key(c) for c in table.primary_key.columns] if table.primary_key else None

        if cols(old) == cols(new):
            return
        if old.primary_key is not None:
            if self.mysql:
                self.out.drop_constraints.append(f"ALTER TABLE {self.tref(old)} DROP PRIMARY KEY")
            elif old.primary_key.name:
                self.out.drop_constraints.append(self.drop_constraint(old, old.primary_key.name))
        if new.primary_key is not None:
            self.out.add_constraints.append(f"ALTER TABLE {self.tref(new)} ADD {self.pk_clause(new)}")

    def diff_uniques(self, old: Table, new: Table) -> None:
        def key(u: UniqueConstraint) -> str:
            return self.name_key(u.name) if u.name else "|".join(self.name_key(c) for c in u.columns)

        old_u = {key(u): u for u in old.unique_constraints}
        new_u = {key(u): u for u in new.unique_constraints}
        for k, u in old_u.items():
            other = new_u.get(k)
            if (other is None or self.columns_differ(u, other)) and u.name:
                self.out.drop_constraints.append(self.drop_constraint(old, u.name, unique=True))
        for k, u in new_u.items():
            other = old_u.get(k)
            if other is None or self.columns_differ(u, other):
                self.out.add_constraints.append(f"ALTER TABLE {self.tref(new)} ADD {self.unique_clause(u)}")

    def columns_differ(self, a: UniqueConstraint, b: UniqueConstraint) -> bool:
        return [self.name_key(c) for c in a.columns] != [self.name_key(c) for c in b.columns]

    def diff_checks(self, old: Table, new: Table) -> None:
        def key(c: CheckConstraint) -> str:
            return self.name_key(c.name) if c.name else "expr:" + (_normalise(c.expression) or "")

        old_c = {key(c): c for c in old.check_constraints}
        new_c = {key(c): c for c in new.check_constraints}
        for k, c in old_c.items():
            other = new_c.get(k)
            if (other is None or self.check_changed(c, other)) and c.name:
                self.out.drop_constraints.append(self.drop_constraint(old, c.name))
        for k, c in new_c.items():
            other = old_c.get(k)
            if other is None or self.check_changed(other, c):
                self.out.add_constraints.append(f"ALTER TABLE {self.tref(new)} ADD {self.check_clause(c)}")

    def check_changed(self, a: CheckConstraint, b: CheckConstraint) -> bool:
        if self.mixed_sources and a.name and b.name:
            return False  # live PostgreSQL rewrites check expressions: trust the name across sources
        return not _same_expression(a.expression, b.expression, mysql=self.mysql)

    def diff_indexes(self, old: Table, new: Table) -> None:
        old_i = {self.name_key(i.name): i for i in old.indexes if self.is_plain_index(i)}
        new_i = {self.name_key(i.name): i for i in new.indexes if self.is_plain_index(i)}
        for k, index in old_i.items():
            other = new_i.get(k)
            if other is None or self.index_facts(index) != self.index_facts(other):
                self.out.drop_indexes.append(self.drop_index(old, index))
        for k, index in new_i.items():
            other = old_i.get(k)
            if other is None or self.index_facts(index) != self.index_facts(other):
                self.out.create_indexes.append(self.create_index(new, index))

    def index_facts(self, index: Index) -> tuple[object, ...]:
        return (
            [
                (self.name_key(k.column) if k.column else None, _normalise(k.expression), k.descending)
                for k in index.keys
            ],
            [self.name_key(c) for c in index.include],
            index.unique,
            index.method.lower(),
            _normalise(index.predicate),
        )

    def drop_index(self, table: Table, index: Index) -> str:
        if self.mysql:
            return f"DROP INDEX {self.q(index.name)} ON {self.tref(table)}"
        return f"DROP INDEX {self.ref(table.schema_name, index.name)}"


def _schemas(catalog: Catalog) -> set[str]:
    return {t.schema_name.lower() for t in catalog.tables}


def _type_key(col: Column) -> str:
    """The column's type as compared across sources: engine spelling, lowercased, plus signedness."""
    text = re.sub(r"\s+", " ", col.data_type.strip().lower())
    return text + (" unsigned" if col.unsigned and "unsigned" not in text else "")


def _implicit_cast(old: str, new: str) -> bool:
    return (old in _NUMERIC and new in _NUMERIC) or (old in _STRING and new in _STRING)


_MYSQL_BOOL = {"true": "1", "false": "0"}
_LITERAL = re.compile(r"'(?:[^']|'')*'")
# CAST(x AS type) as a DDL deparser writes what the catalog shows as x::type
_CAST_CALL = re.compile(r"\bCAST\s*\(", re.IGNORECASE)
_CAST_TYPE = re.compile(r"\s+AS\s+[a-z_][a-z0-9_ ]*?(?:\([0-9, ]*\))?(?:\[\])?\s*\)", re.IGNORECASE)
_CAST = re.compile(r"::\s*[a-z_][a-z0-9_ ]*(?:\([0-9, ]*\))?(?:\[\])?", re.IGNORECASE)


def _normalise(expression: str | None) -> str | None:
    """An expression reduced for comparison: literals kept, everything else lowercased and compacted."""
    if expression is None:
        return None
    pieces: list[str] = []
    pos = 0
    for match in _LITERAL.finditer(expression):
        pieces.append(_squash(expression[pos : match.start()]))
        pieces.append(match.group(0))
        pos = match.end()
    pieces.append(_squash(expression[pos:]))
    return "".join(pieces)


def _squash(code: str) -> str:
    code = _CAST.sub("", code)
    code = _CAST_CALL.sub("(", code)
    code = _CAST_TYPE.sub(")", code)
    return re.sub(r"[\s()`\"]", "", code.lower())


def _same_expression(a: str | None, b: str | None, *, mysql: bool = False) -> bool:
    if a is None or b is None:
        return a is b
    na, nb = _normalise(a), _normalise(b)
    if mysql:  # BOOLEAN is tinyint(1): TRUE is stored and shown as 1
        na, nb = (_MYSQL_BOOL.get(str(x), x) for x in (na, nb))
    if na == nb:
        return True
    try:
        return float(str(na).strip("'")) == float(str(nb).strip("'"))
    except ValueError:
        return False

"""The Catalog: one picture of a database that every analyzer reads.

Sources (tools/sources/) build it from a live PostgreSQL, MariaDB/MySQL or SQLite database or from
offline DDL. Facts only a live database can know (row estimates, sizes, sequence positions, index
usage) are None offline; `unknown` lists what the source could not find out, in words.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Dialect(StrEnum):
    POSTGRES = "postgres"
    MYSQL = "mysql"
    MARIADB = "mariadb"
    SQLITE = "sqlite"

    @property
    def is_mysql_family(self) -> bool:
        return self in (Dialect.MYSQL, Dialect.MARIADB)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Column(_Model):
    name: str
    position: int = Field(description="1-based ordinal position")
    data_type: str = Field(description="The type as the engine shows it, e.g. 'character varying(40)'")
    base_type: str = Field(
        description=(
            "Normalised type family: smallint, integer, bigint, numeric, real, double, boolean, text, "
            "varchar, char, date, time, timestamp, timestamptz, interval, json, jsonb, uuid, binary, "
            "money, enum, set, or the engine's own name for anything else"
        )
    )
    length: int | None = Field(default=None, description="Declared length of char/varchar")
    nullable: bool = True
    default: str | None = None
    identity: Literal["always", "by_default"] | None = None
    serial: bool = Field(default=False, description="PostgreSQL serial (default nextval of an owned sequence)")
    auto_increment: bool = Field(default=False, description="MySQL AUTO_INCREMENT or SQLite rowid alias/AUTOINCREMENT")
    unsigned: bool = Field(default=False, description="MySQL UNSIGNED integer")
    generated: str | None = Field(default=None, description="Generation expression of a generated column")
    collation: str | None = None
    comment: str | None = None


class IndexKey(_Model):
    column: str | None = Field(default=None, description="Column name, or None for an expression key")
    expression: str | None = Field(default=None, description="Expression text when the key is not a plain column")
    descending: bool = False

    @property
    def label(self) -> str:
        return self.column if self.column is not None else f"({self.expression})"


class Index(_Model):
    name: str
    keys: list[IndexKey]
    include: list[str] = Field(default_factory=list, description="INCLUDE (covering) columns")
    unique: bool = False
    primary: bool = False
    method: str = Field(default="btree", description="btree, hash, gin, gist, brin, spgist, fulltext, spatial...")
    predicate: str | None = Field(default=None, description="WHERE clause of a partial index")
    valid: bool = Field(default=True, description="False for an INVALID index (failed CONCURRENTLY build)")
    constraint: str | None = Field(default=None, description="Name of the constraint this index backs")
    definition: str | None = Field(default=None, description="The CREATE INDEX statement, when known")
    size_bytes: int | None = None
    scans: int | None = Field(default=None, description="Times used since statistics were reset (live only)")

    @property
    def column_names(self) -> list[str | None]:
        return [k.column for k in self.keys]


class PrimaryKey(_Model):
    name: str | None = None
    columns: list[str]


class UniqueConstraint(_Model):
    name: str | None = None
    columns: list[str]


class CheckConstraint(_Model):
    name: str | None = None
    expression: str
    validated: bool = True


class ForeignKey(_Model):
    name: str | None = None
    columns: list[str]
    ref_schema: str
    ref_table: str
    ref_columns: list[str]
    on_delete: str = Field(default="NO ACTION", description="NO ACTION, RESTRICT, CASCADE, SET NULL, SET DEFAULT")
    on_update: str = "NO ACTION"
    deferrable: bool = False
    validated: bool = True


class Policy(_Model):
    """A PostgreSQL row-level security policy."""

    name: str
    command: str = Field(default="ALL", description="ALL, SELECT, INSERT, UPDATE, DELETE")
    permissive: bool = True
    roles: list[str] = Field(default_factory=lambda: ["public"])
    using: str | None = None
    with_check: str | None = None


class Trigger(_Model):
    name: str
    timing: str = Field(description="BEFORE, AFTER, INSTEAD OF")
    events: list[str] = Field(description="INSERT, UPDATE, DELETE, TRUNCATE")
    enabled: bool = True
    function: str | None = None


class Table(_Model):
    schema_name: str = Field(description="PostgreSQL schema; MySQL database; SQLite 'main'")
    name: str
    kind: Literal["table", "partitioned_table", "foreign_table"] = "table"
    columns: list[Column] = Field(default_factory=list)
    primary_key: PrimaryKey | None = None
    unique_constraints: list[UniqueConstraint] = Field(default_factory=list)
    check_constraints: list[CheckConstraint] = Field(default_factory=list)
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    indexes: list[Index] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    row_estimate: int | None = Field(default=None, description="Planner's row estimate (live only)")
    total_bytes: int | None = Field(default=None, description="Table + indexes + TOAST (live only)")
    comment: str | None = None
    owner: str | None = None
    partition_of: str | None = Field(default=None, description="'schema.parent' when this is a partition")
    persistence: Literal["permanent", "unlogged", "temporary"] = "permanent"
    rls_enabled: bool = False
    rls_forced: bool = False
    policies: list[Policy] = Field(default_factory=list)
    engine: str | None = Field(default=None, description="MySQL storage engine, e.g. InnoDB")
    auto_increment_next: int | None = Field(default=None, description="MySQL next AUTO_INCREMENT value (live)")
    without_rowid: bool = Field(default=False, description="SQLite WITHOUT ROWID table")

    @property
    def qualified_name(self) -> str:
        return f"{self.schema_name}.{self.name}"

    def column(self, name: str) -> Column | None:
        """The column named `name` (case-insensitive), or None."""
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)


class View(_Model):
    schema_name: str
    name: str
    materialized: bool = False
    definition: str | None = None
    columns: list[str] = Field(default_factory=list)
    security_invoker: bool | None = Field(default=None, description="PostgreSQL 15+ security_invoker option")
    comment: str | None = None
    owner: str | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.schema_name}.{self.name}"


class Function(_Model):
    schema_name: str
    name: str
    kind: Literal["function", "procedure", "aggregate", "window"] = "function"
    arguments: str = Field(default="", description="Argument types, e.g. 'integer, text'")
    returns: str | None = None
    language: str | None = None
    security_definer: bool = False
    volatility: Literal["immutable", "stable", "volatile"] | None = None
    leakproof: bool = False
    config: list[str] = Field(default_factory=list, description="SET options, e.g. 'search_path=pg_catalog'")
    owner: str | None = None
    comment: str | None = None

    @property
    def signature(self) -> str:
        return f"{self.schema_name}.{self.name}({self.arguments})"


class Sequence(_Model):
    schema_name: str
    name: str
    data_type: str = "bigint"
    last_value: int | None = Field(default=None, description="Current position (live only)")
    max_value: int | None = None
    increment: int = 1
    owned_by: str | None = Field(default=None, description="'schema.table.column' owning the sequence")

    @property
    def qualified_name(self) -> str:
        return f"{self.schema_name}.{self.name}"


class Role(_Model):
    """A PostgreSQL role or a MySQL/MariaDB account ('user'@'host')."""

    name: str
    host: str | None = Field(default=None, description="MySQL account host part")
    login: bool = True
    superuser: bool = False
    createrole: bool = False
    createdb: bool = False
    bypassrls: bool = False
    replication: bool = False
    member_of: list[str] = Field(default_factory=list)
    auth_plugin: str | None = Field(default=None, description="MySQL authentication plugin")
    password_kind: Literal["none", "md5", "scram-sha-256", "hashed", "unknown"] | None = None
    require_tls: bool | None = None

    @property
    def account(self) -> str:
        return f"'{self.name}'@'{self.host}'" if self.host is not None else self.name


class Grant(_Model):
    grantee: str
    object_type: str = Field(description="table, schema, database, sequence, function, global")
    object: str
    privilege: str
    grantable: bool = False


class Extension(_Model):
    name: str
    version: str | None = None
    schema_name: str | None = None


class Catalog(_Model):
    """Everything dbsage knows about one database's structure."""

    dialect: Dialect
    source: Literal["live", "ddl"]
    server_version: str | None = None
    server_version_num: int | None = Field(
        default=None, description="e.g. 150004 for PostgreSQL 15.4, 101106 for MariaDB 10.11.6"
    )
    database: str | None = None
    schemas: list[str] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    views: list[View] = Field(default_factory=list)
    functions: list[Function] = Field(default_factory=list)
    sequences: list[Sequence] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    grants: list[Grant] = Field(default_factory=list)
    extensions: list[Extension] = Field(default_factory=list)
    settings: dict[str, str] = Field(default_factory=dict, description="Server settings that analyzers read")
    stats_reset: str | None = Field(default=None, description="When usage statistics were last reset (live)")
    unknown: list[str] = Field(default_factory=list, description="What the source could not find out, and why")

    def table(self, schema: str, name: str) -> Table | None:
        """The table `schema.name` (case-insensitive), or None."""
        s, n = schema.lower(), name.lower()
        return next((t for t in self.tables if t.schema_name.lower() == s and t.name.lower() == n), None)

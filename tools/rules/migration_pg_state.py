"""What the PostgreSQL migration linter knows while it walks a migration in apply order.

A hazard is what a rule saw in one statement; the linter turns it into a Finding with the live facts
(rows, bytes, estimated lock time). The walk remembers what earlier statements did: tables created in
the migration (new, so nothing else is waiting on them), the open transaction and the strongest lock it
holds, the timeouts in force, and CHECK (c IS NOT NULL) constraints that let SET NOT NULL skip its scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dbsage.tools.catalog import Column, Table
from dbsage.tools.findings import ObjectType
from dbsage.tools.migration_model import MigrationContext, MigrationStatement

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE = "SHARE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
# Locks that conflict with ROW EXCLUSIVE (what INSERT/UPDATE/DELETE take): while one waits in the queue,
# every writer (and for ACCESS EXCLUSIVE every reader) queues behind it.
BLOCKING_LOCKS = frozenset({SHARE, SHARE_ROW_EXCLUSIVE, "EXCLUSIVE", ACCESS_EXCLUSIVE})

# Migration tools' own bookkeeping tables: tiny, written by the tool in every migration.
BOOKKEEPING_TABLES = frozenset({
    "alembic_version", "flyway_schema_history", "schema_version", "schema_migrations", "django_migrations",
    "ar_internal_metadata", "knex_migrations", "knex_migrations_lock", "goose_db_version",
    "__diesel_schema_migrations", "databasechangelog", "databasechangeloglock",
})

# What the work under the lock costs, for the duration estimate: MiB of table per second.
Work = str  # "scan" | "rewrite" | "index" | "update" | "" (catalog only)


@dataclass
class Hazard:
    """One thing a rule found in a statement, before live facts and severity scaling."""

    rule_id: str
    obj: str
    object_type: ObjectType
    message: str
    table: tuple[str, str] | None = None
    lock: str | None = None
    rewrites_table: bool = False
    scans_table: bool = False
    work: Work = ""
    fix: str | None = None
    scale: bool = True
    severity: str | None = None
    evidence: dict[str, object] = field(default_factory=dict)


@dataclass
class Effect:
    """A lock a statement takes on a table."""

    table: tuple[str, str]
    lock: str


@dataclass
class Walk:
    """The state carried from statement to statement."""

    ctx: MigrationContext
    new_tables: set[tuple[str, str]] = field(default_factory=set)
    new_indexes: set[str] = field(default_factory=set)
    in_transaction: bool = False
    explicit_transaction: bool = False
    transaction_line: int = 0
    transaction_start: MigrationStatement | None = None
    exclusive_on: str | None = None
    exclusive_line: int = 0
    exclusive_reported: bool = False
    lock_timeout: bool = False
    local_lock_timeout: bool = False
    statement_timeout: bool = False
    local_statement_timeout: bool = False
    lock_timeout_reported: bool = False
    statement_timeout_reported: bool = False
    # (schema, table, constraint) -> (column, validated, added in the open transaction)
    not_null_checks: dict[tuple[str, str, str], tuple[str, bool]] = field(default_factory=dict)
    proven_not_null: set[tuple[str, str, str]] = field(default_factory=set)
    unvalidated_here: set[tuple[str, str, str]] = field(default_factory=set)
    dropped_constraints: set[tuple[str, str, str]] = field(default_factory=set)
    # indexes (leading column lists, lower-cased) and foreign keys the migration creates, checked at the end
    index_columns: dict[tuple[str, str], list[list[str]]] = field(default_factory=dict)
    foreign_keys: list[tuple[tuple[str, str], list[str], str, MigrationStatement]] = field(default_factory=list)

    @property
    def default_schema(self) -> str:
        return self.ctx.default_schema

    def key(self, schema: str, name: str) -> tuple[str, str]:
        return (schema.lower(), name.lower())

    def is_new(self, table: tuple[str, str]) -> bool:
        """Created earlier in this migration (or a migration tool's bookkeeping table): nobody waits on it."""
        return table in self.new_tables or table[1] in BOOKKEEPING_TABLES

    def live_table(self, table: tuple[str, str]) -> Table | None:
        return self.ctx.table(table[0], table[1])

    def live_column(self, table: tuple[str, str], column: str) -> Column | None:
        live = self.live_table(table)
        return live.column(column) if live is not None else None

    def add_index(self, table: tuple[str, str], columns: list[str | None]) -> None:
        """Remember an index the migration creates; its leading plain columns are what can serve a lookup."""
        leading: list[str] = []
        for column in columns:
            if column is None:
                break
            leading.append(column.lower())
        if leading:
            self.index_columns.setdefault(table, []).append(leading)

    def add_foreign_key(self, table: tuple[str, str], columns: list[str], ref: str, stmt: MigrationStatement) -> None:
        self.foreign_keys.append((table, [c.lower() for c in columns], ref, stmt))

    def key_columns(self, table: tuple[str, str]) -> set[str]:
        """Columns that identify a row: the primary key when known, and `id`."""
        keys = {"id"}
        live = self.live_table(table)
        if live is not None and live.primary_key is not None:
            keys |= {c.lower() for c in live.primary_key.columns}
        return keys

    def has_lock_timeout(self) -> bool:
        return self.lock_timeout or (self.in_transaction and self.local_lock_timeout)

    def has_statement_timeout(self) -> bool:
        return self.statement_timeout or (self.in_transaction and self.local_statement_timeout)

    def begin(self, statement: MigrationStatement, *, explicit: bool) -> None:
        self.in_transaction = True
        self.explicit_transaction = explicit
        self.transaction_start = statement
        self.exclusive_on = None
        self.exclusive_reported = False
        self.unvalidated_here = set()

    def end(self) -> None:
        self.in_transaction = False
        self.explicit_transaction = False
        self.transaction_start = None
        self.exclusive_on = None
        self.exclusive_reported = False
        self.local_lock_timeout = False
        self.local_statement_timeout = False
        self.unvalidated_here = set()

    def start_file(self) -> None:
        """Each file runs in its own session: settings and transactions do not carry over."""
        self.end()
        self.lock_timeout = False
        self.statement_timeout = False
        self.lock_timeout_reported = False
        self.statement_timeout_reported = False


def qualified(table: tuple[str, str]) -> str:
    return f"{table[0]}.{table[1]}"


def robust(walk: Walk, what: str, obj: str, fix: str) -> list[Hazard]:
    """Outside a transaction a statement that fails half-way is not rolled back: it should be re-runnable."""
    if walk.in_transaction:
        return []
    return [Hazard("migration.prefer_robust_statements", obj, ObjectType.TABLE,
                   f"{what} runs outside a transaction: if the migration stops after it, running it again fails.",
                   scale=False, fix=fix)]

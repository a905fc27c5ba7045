"""The shapes plan_migration works with: statements read from files, the plan's steps, the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.findings import Location
from dbsage.tools.report import Report
from dbsage.tools.rules.registry import RuleOptions


@dataclass(frozen=True)
class MigrationStatement:
    """One statement of a migration file, where it sits, and the rules its author suppressed for it."""

    text: str
    file: str
    line: int
    index: int
    suppressed: frozenset[str] = frozenset()

    @property
    def location(self) -> Location:
        return Location(file=self.file, line=self.line, statement=self.index)


@dataclass(frozen=True)
class MigrationFile:
    """A migration file in apply order, with its statements."""

    path: str
    version: str | None
    statements: list[MigrationStatement]


@dataclass(frozen=True)
class MigrationScript:
    """Everything a plan_migration call reads, in the order it would be applied."""

    files: list[MigrationFile]
    dialect: Dialect

    @property
    def statements(self) -> list[MigrationStatement]:
        return [s for f in self.files for s in f.statements]


# Versions as the engines number them: PostgreSQL 15.4 -> 150004, MySQL 8.0.29 -> 80029.
DEFAULT_SERVER_VERSION_NUM = {
    Dialect.POSTGRES: 150000,
    Dialect.MYSQL: 80000,
    Dialect.MARIADB: 101100,
}


@dataclass
class MigrationContext:
    """What rules and planners know besides the statements: the target engine and, when live, the catalog."""

    dialect: Dialect
    server_version_num: int
    catalog: Catalog | None = None
    options: RuleOptions = field(default_factory=RuleOptions)
    default_schema: str = "public"

    def table(self, schema: str | None, name: str) -> Table | None:
        """The live table a statement names, or None offline or when it does not exist."""
        if self.catalog is None:
            return None
        wanted_schema = (schema or self.default_schema).lower()
        for table in self.catalog.tables:
            if table.name.lower() == name.lower() and table.schema_name.lower() == wanted_schema:
                return table
        return None


class Phase(StrEnum):
    """The deploy phase a step belongs to: expand before the code change, contract after it."""

    EXPAND = "expand"
    BACKFILL = "backfill"
    SWITCH = "switch"
    CONTRACT = "contract"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Step(_Model):
    """One step of the safe plan, run in order."""

    number: int = Field(ge=1)
    phase: Phase
    description: str = Field(description="What the step does, in one sentence")
    sql: str = Field(description="The statement(s) to run, with the step's timeouts set first")
    transactional: bool = Field(description="False when the step must run outside a transaction block")
    lock: str | None = Field(default=None, description="The strongest lock taken, e.g. 'SHARE UPDATE EXCLUSIVE'")
    lock_target: str | None = Field(default=None, description="What the lock is taken on, e.g. 'public.orders'")
    lock_timeout_ms: int | None = None
    statement_timeout_ms: int | None = None
    repeat: Literal["once", "until_no_rows"] = Field(
        default="once", description="until_no_rows: a batch; run again until it changes no row"
    )
    rollback_sql: str | None = Field(default=None, description="SQL that undoes the step, or null when irreversible")
    irreversible: bool = False
    source: Location | None = Field(default=None, description="The migration statement this step comes from")


class Suppression(_Model):
    """A finding the migration's author suppressed with a `-- dbsage: ignore <rule>` comment."""

    rule_id: str
    location: Location


class TrafficMeasure(_Model):
    """What the concurrent traffic saw while one migration ran on the scratch database."""

    duration_ms: float = Field(description="Wall time of the migration's statements")
    longest_lock_wait_ms: float = Field(description="Longest time one writer or reader operation waited")
    writer_ops: int
    reader_ops: int
    traffic_errors: int = 0
    error: str | None = Field(default=None, description="Why the migration itself failed, if it did")
    longest_write_wait_ms: float = Field(default=0.0, description="Longest writer operation during the run")
    longest_read_wait_ms: float = Field(default=0.0, description="Longest reader operation during the run")
    baseline_op_ms: float = Field(default=0.0, description="Median operation time before the run started")
    lock_timeout_retries: int = Field(default=0, description="Steps retried after hitting their lock_timeout")
    first_traffic_error: str | None = Field(default=None, description="The first error the traffic saw")


class Verification(_Model):
    """The original migration and the plan, run on a scratch database under concurrent traffic."""

    scratch: str = Field(description="The scratch database (redacted)")
    rows: dict[str, int] = Field(default_factory=dict, description="Rows per table the runs worked on")
    original: TrafficMeasure
    plan: TrafficMeasure
    rollback_restores_schema: bool
    schema_differences: list[str] = Field(default_factory=list, description="What the down migration left changed")
    summary: str
    skipped_steps: list[int] = Field(
        default_factory=list, description="Irreversible plan steps verify did not run (they cannot be rolled back)"
    )
    notes: list[str] = Field(default_factory=list, description="What the runs assumed or could not do")


class MigrationReport(Report):
    """plan_migration's answer: hazards found, the safe plan, and with verify the proof."""

    dialect: Dialect
    server_version_num: int
    files: list[str] = Field(default_factory=list)
    statements: int = 0
    steps: list[Step] = Field(default_factory=list)
    suppressed: list[Suppression] = Field(default_factory=list)
    verification: Verification | None = None
    notes: list[str] = Field(default_factory=list, description="What could not be known or was assumed")

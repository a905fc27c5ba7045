"""The backup parts of checklist_review's report: the restore drill's result and the backup plan.

Plain models only, so the checklist report can carry them without importing the drill (which runs
pg_dump, pg_restore, mariadb-dump) or the plan builder.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TableRestore(_Model):
    """One table's exact row count on both sides of the drill."""

    table: str = Field(description="schema.table (MariaDB/MySQL: the table name)")
    source_rows: int | None = Field(description="count(*) on the source; null when it could not be read")
    restored_rows: int | None = Field(description="count(*) on the restored copy; null when the table is missing")
    ok: bool


class RestoreDrill(_Model):
    """A logical backup taken with the server's own tool, restored into a scratch database, and compared."""

    status: Literal["pass", "fail"]
    summary: str = Field(description="One sentence: the verdict and what decided it")
    backup_tool: str = Field(description="pg_dump -Fc, or mariadb-dump --single-transaction --routines --triggers")
    restore_tool: str = Field(description="pg_restore, or the mariadb client")
    tool_versions: dict[str, str] = Field(default_factory=dict, description="--version of each tool run")
    scratch: str = Field(description="Where the backup was restored (redacted URL)")
    scratch_dropped: bool | None = Field(
        default=None, description="True when dbsage created the scratch database and dropped it afterwards"
    )
    backup_bytes: int = Field(description="Size of the backup file")
    backup_seconds: float
    restore_seconds: float
    compare_seconds: float = Field(description="Counting rows on both sides and comparing the schemas")
    tables: list[TableRestore] = Field(default_factory=list)
    failed_tables: list[str] = Field(
        default_factory=list, description="Tables whose rows or definition did not come back, or that the tool named"
    )
    schema_diff: list[str] = Field(
        default_factory=list, description="Differences between the source's and the restored schema; empty = clean"
    )
    errors: list[str] = Field(default_factory=list, description="The tools' error lines (redacted, at most 20)")
    rto_lower_bound_seconds: float = Field(description="The measured restore time")
    rto_note: str
    notes: list[str] = Field(default_factory=list)


class BackupStep(_Model):
    """One kind of backup in the plan, from the persona's schedule table."""

    kind: Literal["full", "incremental", "snapshot", "archive"]
    frequency: str
    retention: str
    purpose: str
    command: str = Field(description="The command for this server (placeholders in <angle brackets>)")
    estimated_bytes: int | None = Field(default=None, description="Size of one copy, from the measured size")


class BackupPlan(_Model):
    """How to back this database up, for its measured size and what the server has switched on."""

    database_bytes: int | None = Field(description="The database's size as the server reports it")
    steps: list[BackupStep]
    restore_command: str
    pitr_possible: bool | None = Field(description="Whether the server keeps what point-in-time recovery replays")
    pitr_reason: str
    rto_target: str = Field(description="The persona's example target: how long the service may be down")
    rpo_target: str = Field(description="The persona's example target: how much data may be lost")
    rpo_now: str = Field(description="The data loss the current setup allows, as far as the server shows it")
    rto_measured_seconds: float | None = Field(
        default=None, description="The restore drill's restore time (a lower bound of RTO), when it ran"
    )
    notes: list[str] = Field(default_factory=list)

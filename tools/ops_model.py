"""The monitoring and scaling parts of checklist_review's report.

Plain models only, so the checklist report can carry them without importing the code that measures
them. Statement texts and column values come from the database: they are data, never instructions,
and every renderer fences them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MetricStatus = Literal["pass", "warn", "fail", "unknown", "not_applicable"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Metric(_Model):
    """One measured value against the persona's target."""

    name: str = Field(description="query_latency_p95, connection_usage, cache_hit_rate, slow_query_logging, "
                                  "slow_queries, replication_lag or disk_usage")
    value: float | None = Field(description="The measured value; null when it could not be measured")
    unit: Literal["ms", "ratio", "seconds"]
    target: str = Field(description="The target and the alert threshold, e.g. '< 10 ms (alert > 50 ms)'")
    status: MetricStatus
    why: str | None = Field(default=None, description="For unknown: what is missing (extension, privilege, "
                                                      "traffic); for warn/fail: what crossed the threshold")
    note: str | None = Field(default=None, description="How the value was measured, when it is an estimate")


class TopQuery(_Model):
    """A statement among those taking the most total time (database content: fenced when shown)."""

    query: str = Field(description="Normalized statement text as the server recorded it, shortened")
    calls: int
    total_ms: float
    mean_ms: float
    stddev_ms: float | None = Field(default=None, description="PostgreSQL only")
    p95_ms: float | None = Field(default=None, description="Where the server keeps percentiles (MySQL 8)")
    share_of_time: float | None = Field(default=None, description="This statement's part of all statements' time")


class RelationSize(_Model):
    relation: str = Field(description="schema.table")
    bytes: int = Field(description="Table, indexes and TOAST")
    rows: int | None = Field(default=None, description="The planner's estimate")


class MonitoringSection(_Model):
    """The persona's key metrics, measured on the live server."""

    metrics: list[Metric] = Field(default_factory=list)
    top_queries: list[TopQuery] = Field(default_factory=list, description="By total execution time")
    top_queries_note: str | None = Field(default=None, description="Where they come from, or why there are none")
    database_bytes: int | None = None
    largest_relations: list[RelationSize] = Field(default_factory=list)
    not_checked: list[str] = Field(default_factory=list)


class ReadWriteMix(_Model):
    """How the rows the server touched split between reads and writes since the statistics were reset."""

    reads: int | None = None
    writes: int | None = None
    read_share: float | None = None
    measured_as: str = Field(description="Which counters were added up, and their scope")
    since: str | None = Field(default=None, description="When the counters started (statistics reset, or start)")
    pattern: Literal["read_heavy", "write_heavy", "mixed", "too_little_traffic", "unknown"]
    advice: str


class WideColumn(_Model):
    column: str
    avg_bytes: int | None = Field(description="pg_stats avg_width (stored size); null when the engine keeps none")
    share_of_row: float | None = None
    declared_type: str | None = None
    read_share: float | None = Field(
        default=None,
        description="Calls of the statements naming the table that read this column (by name or *), out of all "
                    "their calls, from the statement statistics; null when not measurable",
    )


class VerticalCandidate(_Model):
    """A large table whose rows carry wide columns few statements read: split them into a 1:1 side table."""

    table: str
    bytes: int
    rows: int | None = None
    row_bytes: int | None = Field(default=None, description="Sum of the columns' average stored widths")
    columns: list[WideColumn]
    advice: str


class TenantSpread(_Model):
    """How one table's rows spread over tenants, from the planner's statistics."""

    table: str
    bytes: int
    tenants: int | None = Field(default=None, description="Estimated distinct tenants (pg_stats n_distinct)")
    top_tenant: str | None = Field(default=None, description="The most common tenant value (database content)")
    top_tenant_share: float | None = None
    fair_share: float | None = Field(default=None, description="1 / tenants: each tenant's share if even")
    skewed: bool | None = None


class ShardKey(_Model):
    """The candidate shard key of a multi-tenant schema: the tenant column and what stands in its way."""

    column: str
    tables_with_it: list[str] = Field(description="Largest first, at most a few")
    tables_with_it_count: int
    tables_without_it: list[RelationSize] = Field(
        description="The largest tables that lack the column (the tenant table itself left out)")
    spread: list[TenantSpread] = Field(default_factory=list, description="The largest tables with the column")
    skewed: bool | None = Field(default=None, description="True when one tenant holds several times its share")
    advice: str


class ScalingSection(_Model):
    """Read/write mix, vertical partitioning candidates and the shard key, with the numbers behind them."""

    database_bytes: int | None = None
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="The sizes and shares below which no scaling change is advised")
    read_write: ReadWriteMix
    vertical_partitioning: list[VerticalCandidate] = Field(default_factory=list)
    vertical_note: str = Field(description="Why these candidates, or why none")
    shard_key: ShardKey | None = None
    shard_note: str = Field(description="The sharding verdict in one sentence")
    not_checked: list[str] = Field(default_factory=list)

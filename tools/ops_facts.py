"""What the monitoring and scaling sections read from a live server, before any judgement.

The dialect readers (ops_postgres, ops_mysql) fill it; the section builders (monitoring, scaling)
judge it against the thresholds. Counters the health checks already read arrive through their
HealthResult facts instead of being queried again.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Statement:
    """One normalized statement's totals from the statement statistics."""

    query: str
    calls: int
    total_ms: float
    mean_ms: float
    stddev_ms: float | None = None
    p95_ms: float | None = None


@dataclass
class ColumnStats:
    """One column's planner statistics (PostgreSQL pg_stats; MariaDB/MySQL: index cardinality only)."""

    column: str
    avg_width: int | None = None
    n_distinct: float | None = None
    top_value: str | None = None
    top_share: float | None = None
    keeps_common_values: bool = True  # False: the engine keeps no most-common values, so skew is unknown


@dataclass
class SlowShare:
    """Calls slower than a threshold among all calls."""

    slow: int
    total: int
    threshold_ms: float | None
    measured_as: str


@dataclass
class ReadWrite:
    reads: int
    writes: int
    measured_as: str
    since: str | None = None


@dataclass
class OpsFacts:
    statements: list[Statement] | None = None  # None: the statistics are not there, `statements_why` says why
    statements_why: str | None = None
    statements_note: str | None = None
    all_statements_ms: float | None = None
    slow: SlowShare | None = None
    slow_why: str | None = None
    read_write: ReadWrite | None = None
    read_write_why: str | None = None
    columns: dict[str, list[ColumnStats]] | None = None  # by schema.table; None: not readable
    columns_why: str | None = None
    columns_hidden: list[str] = field(default_factory=list)  # tables whose pg_stats rows this role cannot see
    not_checked: list[str] = field(default_factory=list)

"""Thresholds of checklist_review's monitoring and scaling sections, in one place.

Each is overridable through the rule options' thresholds under the name in brackets. The metrics the
operational health checks already judge (query latency, connections, cache hit rate, replication lag)
keep the health checks' thresholds (dbsage.tools.health_postgres), so an item and its metric agree.
"""

from __future__ import annotations

from dbsage.tools.rules.registry import RuleOptions

GIB = 1024**3

# Monitoring: the persona's targets and alert thresholds.
SLOW_SHARE_TARGET = 0.01  # [monitoring.slow_queries.warn_share] slow statements under 1% of all
SLOW_SHARE_ALERT = 0.05  # [monitoring.slow_queries.fail_share] alert above 5%
DISK_TARGET = 0.80  # disk usage under 80%; alert above 90% (not readable over SQL)
DISK_ALERT = 0.90
TOP_QUERIES = 5  # [monitoring.top_queries] statements listed by total time
TOP_RELATIONS = 5  # [monitoring.top_relations] largest tables listed
QUERY_TEXT_CHARS = 200  # statement text kept per listed statement
STATEMENTS_READ = 500  # statements read (by total time) to tell which columns the workload reads

# Scaling: below these, the advice is "no change needed" rather than a redesign.
READ_HEAVY_SHARE = 0.90  # [scaling.read_heavy_share] the persona's example of a read-heavy workload
WRITE_HEAVY_SHARE = 0.50  # [scaling.write_heavy_share] half the rows touched are writes
READ_WRITE_MIN_ROWS = 100_000  # [scaling.read_write.min_rows] fewer rows touched since the reset say nothing
LARGE_TABLE_BYTES = 1 * GIB  # [scaling.large_table_bytes] a table worth splitting or sharding
WIDE_COLUMN_BYTES = 200  # [scaling.wide_column.min_bytes] a column this wide on average crowds a heap page
WIDE_COLUMN_SHARE = 0.40  # [scaling.wide_column.min_share] ... when it is this part of the row
RARELY_READ_SHARE = 0.20  # [scaling.wide_column.max_read_share] read by fewer statement calls than this
SHARDING_MIN_DATABASE_BYTES = 100 * GIB  # [scaling.sharding.min_database_bytes] one server holds less easily
TENANT_SKEW_FACTOR = 5.0  # [scaling.tenant_skew.factor] the top tenant holds this many times its fair share
MAX_LISTED = 5  # tables listed per kind of evidence


def limit(options: RuleOptions, name: str, default: float) -> float:
    """The threshold `name`, as the user's configuration sets it or the default."""
    return options.threshold(name, default)

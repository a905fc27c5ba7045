"""The monitoring and scaling sections' reads on PostgreSQL.

Statements come from pg_stat_statements (the schema the health check found it in), column widths and
the tenant column's spread from pg_stats, read/write counters from the rows the health checks already
read (pg_stat_user_tables, pg_stat_database). Every query runs through the health checks' probe, so
one the role may not run becomes a reason instead of an aborted transaction.
"""

from __future__ import annotations

from dbsage.tools.catalog import Catalog
from dbsage.tools.health_postgres import SLOW_QUERY_MAX_MS, HealthResult, Probe
from dbsage.tools.ops_facts import ColumnStats, OpsFacts, ReadWrite, SlowShare, Statement
from dbsage.tools.ops_thresholds import STATEMENTS_READ
from dbsage.tools.rules.registry import RuleOptions
from dbsage.tools.sources.guard import GuardedSession

# Statements on the system catalogs (monitoring tools, dbsage's own reads) and transaction control say
# nothing about the application's workload.
_NOT_WORKLOAD = (
    r"\m(pg_[a-z0-9_]+|information_schema|has_[a-z_]+_privilege|current_setting|set_config)\M"
    r"|^\s*(begin|commit|rollback|savepoint|release|set|show|reset|start|end|deallocate|discard)\M"
)
_TEXT_CHARS = 2000  # enough of each statement to see which columns it names

_COLUMN_STATS_SQL = """
SELECT DISTINCT ON (schemaname, tablename, attname)
       schemaname || '.' || tablename AS table_name, attname AS column_name, avg_width,
       n_distinct::float8 AS n_distinct,
       CASE WHEN attname = %(tenant)s THEN (most_common_vals::text::text[])[1] END AS top_value,
       CASE WHEN attname = %(tenant)s THEN most_common_freqs[1]::float8 END AS top_share
FROM pg_stats
WHERE schemaname || '.' || tablename = ANY(%(tables)s)
ORDER BY schemaname, tablename, attname, inherited
"""
# pg_stats shows a column only to roles that may read it: an empty answer is not "never analyzed" for those.
_UNREADABLE_SQL = """
SELECT n.nspname || '.' || c.relname AS table_name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname || '.' || c.relname = ANY(%(tables)s) AND NOT has_table_privilege(c.oid, 'SELECT')
"""


def _statements_sql(schema: str, version_num: int | None) -> str:
    modern = (version_num or 130000) >= 130000  # PostgreSQL 13 renamed total_time to total_exec_time
    total, mean, stddev = ("total_exec_time", "mean_exec_time", "stddev_exec_time") if modern else (
        "total_time", "mean_time", "stddev_time")
    quoted = '"' + schema.replace('"', '""') + '"'
    return f"""
WITH s AS (
    SELECT query, calls, {total} AS total_ms, {mean} AS mean_ms, {stddev} AS stddev_ms
    FROM {quoted}.pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND calls > 0 AND query !~* %(not_workload)s
)
SELECT left(query, %(chars)s) AS query, calls::bigint AS calls, total_ms, mean_ms, stddev_ms,
       sum(calls) OVER ()::bigint AS all_calls, sum(total_ms) OVER () AS all_ms,
       coalesce(sum(calls) FILTER (WHERE mean_ms > %(slow_ms)s) OVER (), 0)::bigint AS slow_calls
FROM s ORDER BY total_ms DESC LIMIT %(limit)s
"""


def read_postgres(
    session: GuardedSession, catalog: Catalog, options: RuleOptions, health: HealthResult, *,
    stats_tables: list[str], tenant_column: str,
) -> OpsFacts:
    """Statements, slow-call share, read/write counters and the column statistics of `stats_tables`."""
    probe = Probe(session, options)
    facts = OpsFacts()
    _statements(probe, catalog, health, facts)
    _read_write(catalog, health, facts)
    if stats_tables:
        rows = probe.rows("column statistics", _COLUMN_STATS_SQL, {"tables": stats_tables, "tenant": tenant_column})
        hidden = probe.rows("table privileges", _UNREADABLE_SQL, {"tables": stats_tables}) or []
        facts.columns_hidden = [str(r["table_name"]) for r in hidden]
        if rows is None:
            facts.columns_why = f"pg_stats not readable: {probe.errors.get('column statistics')}"
        else:
            facts.columns = {}
            for r in rows:
                facts.columns.setdefault(str(r["table_name"]), []).append(ColumnStats(
                    column=str(r["column_name"]), avg_width=r["avg_width"], n_distinct=r["n_distinct"],
                    top_value=None if r["top_value"] is None else str(r["top_value"]), top_share=r["top_share"]))
    else:
        facts.columns = {}
    facts.not_checked.extend(f"{what}: {message}" for what, message in sorted(probe.errors.items()))
    return facts


def _slow_threshold_ms(health: HealthResult) -> tuple[float, str]:
    logging = health.verdicts.get("slow_query_logging")
    configured = logging.evidence.get("log_min_duration_statement_ms") if logging else None
    if isinstance(configured, int) and configured >= 0:
        return float(configured), "log_min_duration_statement"
    return float(SLOW_QUERY_MAX_MS), "the slow-log ceiling (log_min_duration_statement is off or hidden)"


def _statements(probe: Probe, catalog: Catalog, health: HealthResult, facts: OpsFacts) -> None:
    schema = health.facts.get("pg_stat_statements_schema")
    if not isinstance(schema, str):
        verdict = health.verdicts.get("query_statistics")
        reason = (verdict.reason if verdict is not None and verdict.reason else "pg_stat_statements is not "
                  "readable here").rstrip(".")
        facts.statements_why = facts.slow_why = f"{reason}: no statement statistics"
        return
    threshold, source = _slow_threshold_ms(health)
    rows = probe.rows("statement statistics", _statements_sql(schema, catalog.server_version_num), {
        "not_workload": _NOT_WORKLOAD, "chars": _TEXT_CHARS, "slow_ms": threshold, "limit": STATEMENTS_READ})
    if rows is None:
        facts.statements_why = facts.slow_why = (
            f"pg_stat_statements not readable: {probe.errors.get('statement statistics')}")
        return
    facts.statements = [
        Statement(query=str(r["query"]), calls=int(r["calls"]), total_ms=float(r["total_ms"]),
                  mean_ms=float(r["mean_ms"]), stddev_ms=float(r["stddev_ms"]))
        for r in rows
    ]
    facts.statements_note = ("pg_stat_statements since its last reset, this database only, system-catalog "
                             "statements and transaction control left out; PostgreSQL keeps no percentiles, "
                             "so each statement carries its standard deviation")
    stats = health.verdicts.get("query_statistics")
    if stats is not None and stats.evidence.get("sees_other_roles_query_text") is False:
        facts.statements_note += ("; other roles' statement texts read '<insufficient privilege>' to this role "
                                  "(needs pg_read_all_stats)")
    if not rows:
        facts.statements_why = facts.slow_why = ("pg_stat_statements holds no statement of this database's "
                                                 "workload yet: measure under normal traffic")
        return
    facts.all_statements_ms = float(rows[0]["all_ms"])
    facts.slow = SlowShare(
        slow=int(rows[0]["slow_calls"]), total=int(rows[0]["all_calls"]), threshold_ms=threshold,
        measured_as=f"calls of statements whose mean time exceeds {threshold:g} ms ({source}), out of all calls "
                    "in pg_stat_statements; a statement's slow calls hide in a fast mean, so this is a lower bound")


def _read_write(catalog: Catalog, health: HealthResult, facts: OpsFacts) -> None:
    tables = health.facts.get("table_stats")
    database = health.facts.get("database_stats")
    if isinstance(tables, list):
        reads = sum(int(r["seq_tup_read"]) + int(r["idx_tup_fetch"]) for r in tables)
        writes = sum(int(r["inserted"]) + int(r["updated"]) + int(r["deleted"]) for r in tables)
        facts.read_write = ReadWrite(
            reads, writes, "rows of user tables: seq_tup_read + idx_tup_fetch against n_tup_ins + n_tup_upd + "
            "n_tup_del (pg_stat_user_tables); sequential scans count every row they pass",
            catalog.stats_reset or "the statistics were never reset")
    elif isinstance(database, dict):
        reads = int(database["tup_returned"] or 0) + int(database["tup_fetched"] or 0)
        writes = sum(int(database[k] or 0) for k in ("tup_inserted", "tup_updated", "tup_deleted"))
        facts.read_write = ReadWrite(
            reads, writes, "rows of the whole database, system catalogs included: tup_returned + tup_fetched "
            "against tup_inserted + tup_updated + tup_deleted (pg_stat_database)",
            str(database["stats_reset"]) if database.get("stats_reset") else catalog.stats_reset)
    else:
        facts.read_write_why = "pg_stat_user_tables and pg_stat_database were not readable"

"""The monitoring and scaling sections' reads on MariaDB/MySQL.

Statements come from performance_schema's digest summary (MySQL 8 adds a 95th percentile, MariaDB has
none), the slow-query share and the statement mix from the global status the health checks read,
rows read and written per table from performance_schema's table I/O summary, and the tenant column's
spread from index cardinality (the engine keeps no most-common values). MySQL errors do not abort
the transaction, so a refused query only leaves its reason.
"""

from __future__ import annotations

from typing import Any

from dbsage.tools.catalog import Catalog
from dbsage.tools.errors import QueryFailed
from dbsage.tools.health_postgres import HealthResult
from dbsage.tools.ops_facts import ColumnStats, OpsFacts, ReadWrite, SlowShare, Statement
from dbsage.tools.ops_thresholds import STATEMENTS_READ
from dbsage.tools.sources.guard import GuardedSession

_NOT_WORKLOAD = (
    r"information_schema|performance_schema|mysql\.|@@"
    r"|^ *(show|set|begin|commit|rollback|savepoint|release|start|use|xa|select database)\b"
)
_TEXT_CHARS = 2000
_WRITES = ("Com_insert", "Com_insert_select", "Com_update", "Com_update_multi", "Com_delete", "Com_delete_multi",
           "Com_replace", "Com_replace_select")


class _Reader:
    def __init__(self, session: GuardedSession) -> None:
        self.session = session
        self.errors: dict[str, str] = {}

    def rows(self, what: str, sql: str, params: Any = None) -> list[dict[str, Any]] | None:
        try:
            return self.session.catalog(sql, params)
        except QueryFailed as exc:
            self.errors[what] = exc.message
            return None


def read_mysql(
    session: GuardedSession, catalog: Catalog, health: HealthResult, *, stats_tables: list[str], tenant_column: str,
) -> OpsFacts:
    """Statements, slow share, read/write counters and the tenant column's cardinality."""
    reader = _Reader(session)
    facts = OpsFacts()
    status = health.facts.get("global_status")
    variables = health.facts.get("global_variables")
    status = status if isinstance(status, dict) else {}
    variables = variables if isinstance(variables, dict) else {}
    schema_on = str(variables.get("performance_schema", "")).lower() in ("on", "1", "yes")
    if schema_on:
        _statements(reader, facts)
    else:
        facts.statements_why = "performance_schema is OFF (it is set at server start): no statement digests"
    _slow_share(status, variables, facts)
    _read_write(reader, status, schema_on, facts)
    facts.columns = {}
    tables = {t.rsplit(".", 1)[-1]: t for t in stats_tables}
    if tables:
        rows = reader.rows(
            "index cardinality",
            "SELECT TABLE_NAME AS table_name, MAX(CARDINALITY) AS tenants FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME = %s AND SEQ_IN_INDEX = 1 GROUP BY TABLE_NAME",
            [tenant_column])
        for r in rows or []:
            name = tables.get(str(r["table_name"]))
            if name is not None and r["tenants"] is not None:
                facts.columns[name] = [ColumnStats(column=tenant_column, n_distinct=float(r["tenants"]),
                                                   keeps_common_values=False)]
    facts.not_checked.extend(f"{what}: {message}" for what, message in sorted(reader.errors.items()))
    return facts


def _statements(reader: _Reader, facts: OpsFacts) -> None:
    quantile = reader.rows(
        "digest columns",
        "SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'performance_schema' "
        "AND TABLE_NAME = 'events_statements_summary_by_digest' AND COLUMN_NAME = 'QUANTILE_95'")
    has_p95 = bool(quantile and int(quantile[0]["n"]))
    p95 = ", QUANTILE_95 / 1e9 AS p95_ms" if has_p95 else ""
    rows = reader.rows(
        "statement digests",
        f"SELECT LEFT(DIGEST_TEXT, %s) AS query, COUNT_STAR AS calls, SUM_TIMER_WAIT / 1e9 AS total_ms, "
        f"AVG_TIMER_WAIT / 1e9 AS mean_ms{p95}, SUM(SUM_TIMER_WAIT) OVER () / 1e9 AS all_ms "
        "FROM performance_schema.events_statements_summary_by_digest "
        "WHERE SCHEMA_NAME = DATABASE() AND COUNT_STAR > 0 AND DIGEST_TEXT IS NOT NULL "
        "AND LOWER(DIGEST_TEXT) NOT REGEXP %s ORDER BY SUM_TIMER_WAIT DESC LIMIT %s",
        [_TEXT_CHARS, _NOT_WORKLOAD, STATEMENTS_READ])
    if rows is None:
        facts.statements_why = (f"statement digests not readable ({reader.errors.get('statement digests')}): "
                                "needs SELECT on performance_schema")
        return
    facts.statements = [
        Statement(query=str(r["query"]), calls=int(r["calls"]), total_ms=float(r["total_ms"]),
                  mean_ms=float(r["mean_ms"]), p95_ms=float(r["p95_ms"]) if r.get("p95_ms") is not None else None)
        for r in rows
    ]
    facts.all_statements_ms = float(rows[0]["all_ms"]) if rows else None
    facts.statements_note = (
        "performance_schema statement digests since server start, this database only, system-schema statements "
        "left out; " + ("p95 from QUANTILE_95" if has_p95 else "this server keeps no percentiles or deviations"))
    if not rows:
        facts.statements_why = "no statement digest of this database yet: measure under normal traffic"


def _int(status: dict[Any, Any], name: str) -> int | None:
    try:
        return int(status[name])
    except (KeyError, TypeError, ValueError):
        return None


def _slow_share(status: dict[Any, Any], variables: dict[Any, Any], facts: OpsFacts) -> None:
    slow, questions = _int(status, "Slow_queries"), _int(status, "Questions")
    if slow is None or questions is None:
        facts.slow_why = "Slow_queries / Questions are not visible to this account"
        return
    try:
        threshold: float | None = float(variables["long_query_time"]) * 1000
    except (KeyError, TypeError, ValueError):
        threshold = None
    facts.slow = SlowShare(slow=slow, total=questions, threshold_ms=threshold, measured_as=(
        "Slow_queries / Questions, whole server since start (statements slower than long_query_time, counted "
        "whether or not the slow log is on)"))


def _read_write(reader: _Reader, status: dict[Any, Any], schema_on: bool, facts: OpsFacts) -> None:
    uptime = _int(status, "Uptime")
    since = f"server start ({uptime:,} s ago)" if uptime is not None else "server start"
    if schema_on:
        rows = reader.rows(
            "table I/O",
            "SELECT COALESCE(SUM(COUNT_FETCH), 0) AS rows_read, "
            "COALESCE(SUM(COUNT_INSERT + COUNT_UPDATE + COUNT_DELETE), 0) AS rows_written "
            "FROM performance_schema.table_io_waits_summary_by_table WHERE OBJECT_SCHEMA = DATABASE()")
        if rows and int(rows[0]["rows_read"]) + int(rows[0]["rows_written"]) > 0:
            facts.read_write = ReadWrite(
                int(rows[0]["rows_read"]), int(rows[0]["rows_written"]),
                "rows of this database's tables: fetched against inserted + updated + deleted "
                "(performance_schema.table_io_waits_summary_by_table)", since)
            return
    select = _int(status, "Com_select")
    writes = [_int(status, name) for name in _WRITES]
    if select is None or any(w is None for w in writes):
        facts.read_write_why = "neither table I/O counters nor Com_* statement counters are visible"
        return
    facts.read_write = ReadWrite(
        select, sum(w or 0 for w in writes),
        "statements of the whole server: Com_select against Com_insert/update/delete/replace (global status)",
        since)

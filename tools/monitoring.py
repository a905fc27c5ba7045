"""checklist_review's monitoring section: the persona's key metrics with value, target and status.

Latency, connections, cache hit rate, slow-query logging and replication lag are the values the health
checks measured for their checklist items (same thresholds, same status); the slow-query share, the
top statements and the largest relations are added here. Disk usage is unknown by nature: free space
is not visible through SQL.
"""

from __future__ import annotations

import re
from typing import Literal

from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.checklist_model import ItemStatus, Verdict
from dbsage.tools.health_postgres import (
    CACHE_HIT_FAIL,
    CACHE_HIT_WARN,
    CONNECTIONS_FAIL,
    CONNECTIONS_WARN,
    LAG_FAIL_S,
    LAG_WARN_S,
    LATENCY_ALERT_MS,
    LATENCY_TARGET_MS,
    SLOW_QUERY_MAX_MS,
    HealthResult,
)
from dbsage.tools.ops_facts import OpsFacts
from dbsage.tools.ops_model import Metric, MetricStatus, MonitoringSection, RelationSize, TopQuery
from dbsage.tools.ops_thresholds import (
    DISK_ALERT,
    DISK_TARGET,
    QUERY_TEXT_CHARS,
    SLOW_SHARE_ALERT,
    SLOW_SHARE_TARGET,
    TOP_QUERIES,
    TOP_RELATIONS,
    limit,
)
from dbsage.tools.rules.registry import RuleOptions

_DASH_RUN = re.compile(r"-{5,}")


def statement_text(text: str, chars: int = QUERY_TEXT_CHARS) -> str:
    """Statement text on one line, shortened; runs of dashes shortened so it cannot spell a data fence."""
    flat = _DASH_RUN.sub("----", " ".join(text.split()))
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


def largest_relations(catalog: Catalog, count: int) -> list[RelationSize]:
    """The largest tables (partitions counted in their parent), largest first."""
    sized = [t for t in catalog.tables if t.total_bytes is not None and t.partition_of is None]
    sized.sort(key=lambda t: t.total_bytes or 0, reverse=True)
    return [RelationSize(relation=f"{t.schema_name}.{t.name}", bytes=t.total_bytes or 0, rows=t.row_estimate)
            for t in sized[:count]]


def monitoring_section(
    catalog: Catalog, health: HealthResult, facts: OpsFacts | None, options: RuleOptions
) -> MonitoringSection:
    """The metrics of a live server (`facts` None: the extra reads failed, their metrics are unknown)."""
    facts = facts or OpsFacts(statements_why="the statement statistics were not read",
                              slow_why="the statement statistics were not read")
    relations = largest_relations(catalog, int(limit(options, "monitoring.top_relations", TOP_RELATIONS)))
    database_bytes = health.facts.get("database_bytes")
    size = int(database_bytes) if isinstance(database_bytes, int) else None
    if catalog.dialect is Dialect.SQLITE:
        return MonitoringSection(
            database_bytes=size, largest_relations=relations,
            not_checked=["SQLite runs inside the application and keeps no server statistics: latency, "
                         "connections, cache and replication are measured in the application"])
    metrics = [
        _latency(health.verdicts.get("query_latency"), options),
        _connections(health.verdicts.get("connection_usage"), options),
        _cache_hit(health.verdicts.get("cache_hit_rate"), options),
        _slow_logging(catalog.dialect, health.verdicts.get("slow_query_logging"), options),
        _slow_share(facts, options),
        _replication(health.verdicts.get("replication"), options),
        _disk(size),
    ]
    return MonitoringSection(
        metrics=metrics, top_queries=_top_queries(facts, options),
        top_queries_note=facts.statements_why or facts.statements_note,
        database_bytes=size, largest_relations=relations, not_checked=list(facts.not_checked),
    )


def _number(evidence: dict[str, object], *keys: str) -> float | None:
    for key in keys:
        value = evidence.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


Unit = Literal["ms", "ratio", "seconds"]


def _from_verdict(
    name: str, verdict: Verdict | None, value: float | None, unit: Unit, target: str, note: str | None = None
) -> Metric:
    """A metric judged as the health check judged its checklist item."""
    if verdict is None:
        return Metric(name=name, value=value, unit=unit, target=target, status="unknown",
                      why="not measured on this engine", note=note)
    status: MetricStatus = verdict.status.value
    why = None if verdict.status is ItemStatus.PASS else verdict.reason
    return Metric(name=name, value=value, unit=unit, target=target, status=status, why=why, note=note)


def _latency(verdict: Verdict | None, options: RuleOptions) -> Metric:
    evidence = verdict.evidence if verdict else {}
    target = limit(options, "health.query_latency.target_ms", LATENCY_TARGET_MS)
    alert = limit(options, "health.query_latency.alert_ms", LATENCY_ALERT_MS)
    method = evidence.get("method")
    return _from_verdict("query_latency_p95", verdict, _number(evidence, "estimated_p95_ms", "mean_ms"), "ms",
                         f"< {target:g} ms for standard operations (alert > {alert:g} ms)",
                         str(method) if method else None)


def _connections(verdict: Verdict | None, options: RuleOptions) -> Metric:
    evidence = verdict.evidence if verdict else {}
    warn = limit(options, "health.connections.warn_ratio", CONNECTIONS_WARN)
    fail = limit(options, "health.connections.fail_ratio", CONNECTIONS_FAIL)
    peak = _number(evidence, "peak_ratio")
    used, usable = evidence.get("connections", evidence.get("threads_connected")), evidence.get(
        "usable_connections", evidence.get("max_connections"))
    note = f"{used} of {usable} usable connections" if used is not None else None
    if note and peak is not None:
        note += f"; peak since start {peak:.0%}"
    return _from_verdict("connection_usage", verdict, _number(evidence, "used_ratio"), "ratio",
                         f"< {warn:.0%} of the usable connections (alert >= {fail:.0%})", note)


def _cache_hit(verdict: Verdict | None, options: RuleOptions) -> Metric:
    evidence = verdict.evidence if verdict else {}
    warn = limit(options, "health.cache_hit_rate.warn", CACHE_HIT_WARN)
    fail = limit(options, "health.cache_hit_rate.fail", CACHE_HIT_FAIL)
    rate = _number(evidence, "hit_rate")
    hits, misses = _number(evidence, "blocks_hit"), _number(evidence, "blocks_read")
    scope = "shared buffers, this database (pg_stat_database)"
    if hits is None:  # MariaDB/MySQL name the counters after the buffer pool
        requests, misses = _number(evidence, "read_requests"), _number(evidence, "disk_reads")
        hits = None if requests is None or misses is None else requests - misses
        scope = "InnoDB buffer pool, whole server since start"
    if rate is None and hits is not None and misses is not None and hits + misses > 0:
        rate = round(hits / (hits + misses), 5)  # measured, though too few reads to judge yet
    note = f"{scope}: {int(hits or 0):,} hits, {int(misses or 0):,} reads from disk" if hits is not None else None
    return _from_verdict("cache_hit_rate", verdict, rate, "ratio",
                         f">= {warn:.0%} (warn below, fail below {fail:.0%})", note)


def _slow_logging(dialect: Dialect, verdict: Verdict | None, options: RuleOptions) -> Metric:
    evidence = verdict.evidence if verdict else {}
    ceiling = limit(options, "health.slow_query.max_ms", SLOW_QUERY_MAX_MS)
    if dialect is Dialect.POSTGRES:
        ms = _number(evidence, "log_min_duration_statement_ms")
        value = ms if ms is not None and ms >= 0 else None
        note = "log_min_duration_statement" + (" is -1 (off)" if ms is not None and ms < 0 else "")
    else:
        seconds = _number(evidence, "long_query_time_s")
        on = str(evidence.get("slow_query_log", "")).lower() in ("on", "1", "yes")
        value = seconds * 1000 if seconds is not None and on else None
        note = (f"slow_query_log={evidence.get('slow_query_log')}, long_query_time={seconds:g} s"
                if seconds is not None else "slow_query_log")
    return _from_verdict("slow_query_logging", verdict, value, "ms",
                         f"on, logging statements slower than <= {ceiling:g} ms", note)


def _slow_share(facts: OpsFacts, options: RuleOptions) -> Metric:
    warn = limit(options, "monitoring.slow_queries.warn_share", SLOW_SHARE_TARGET)
    fail = limit(options, "monitoring.slow_queries.fail_share", SLOW_SHARE_ALERT)
    target = f"< {warn:.0%} of statements (alert > {fail:.0%})"
    slow = facts.slow
    if slow is None or slow.total == 0:
        return Metric(name="slow_queries", value=None, unit="ratio", target=target, status="unknown",
                      why=facts.slow_why or "no statement has run since the counters started")
    share = slow.slow / slow.total
    status: MetricStatus = "pass" if share < warn else ("warn" if share <= fail else "fail")
    why = None if status == "pass" else f"{slow.slow:,} of {slow.total:,} statements were slow ({share:.1%})"
    return Metric(name="slow_queries", value=round(share, 5), unit="ratio", target=target, status=status, why=why,
                  note=slow.measured_as)


def _replication(verdict: Verdict | None, options: RuleOptions) -> Metric:
    evidence = verdict.evidence if verdict else {}
    warn = limit(options, "health.replication_lag.warn_seconds", LAG_WARN_S)
    fail = limit(options, "health.replication_lag.fail_seconds", LAG_FAIL_S)
    return _from_verdict("replication_lag", verdict, _number(evidence, "max_lag_seconds", "seconds_behind"),
                         "seconds", f"< {warn:g} s (alert > {fail:g} s)")


def _disk(database_bytes: int | None) -> Metric:
    size = f" (the database itself holds {database_bytes:,} bytes)" if database_bytes is not None else ""
    return Metric(
        name="disk_usage", value=None, unit="ratio",
        target=f"< {DISK_TARGET:.0%} of the volume (alert > {DISK_ALERT:.0%})", status="unknown",
        why="free disk space is not visible through SQL: read it from the host (df) or the provider's volume "
            f"metrics{size}")


def _top_queries(facts: OpsFacts, options: RuleOptions) -> list[TopQuery]:
    count = int(limit(options, "monitoring.top_queries", TOP_QUERIES))
    total = facts.all_statements_ms
    return [
        TopQuery(query=statement_text(s.query), calls=s.calls, total_ms=round(s.total_ms, 3),
                 mean_ms=round(s.mean_ms, 3),
                 stddev_ms=None if s.stddev_ms is None else round(s.stddev_ms, 3),
                 p95_ms=None if s.p95_ms is None else round(s.p95_ms, 3),
                 share_of_time=round(s.total_ms / total, 4) if total else None)
        for s in (facts.statements or [])[:count]
    ]

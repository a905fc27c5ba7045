"""Operational health of a live PostgreSQL server, as checklist verdicts with their evidence.

Each check is one readable query, thresholds are named constants (overridable through the rule
options' thresholds), and a check the connected role may not run becomes `unknown` with the privilege
it needs. Queries that can fail on privileges run inside a savepoint, so one refusal does not abort
the read-only transaction the others share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dbsage.tools.catalog import Catalog
from dbsage.tools.checklist_model import ItemStatus, Verdict, not_applicable, unknown, worse
from dbsage.tools.errors import QueryFailed
from dbsage.tools.findings import Finding, ObjectType, Severity
from dbsage.tools.rules.registry import RuleOptions, make_finding
from dbsage.tools.sources.guard import GuardedSession

Row = dict[str, Any]

# Thresholds (rule option names in brackets).
SLOW_QUERY_MAX_MS = 1000  # [health.slow_query.max_ms] a log threshold above this misses most slow statements
CONNECTIONS_WARN = 0.80  # [health.connections.warn_ratio] the persona's pool target
CONNECTIONS_FAIL = 0.90  # [health.connections.fail_ratio] the persona's alert threshold
IDLE_IN_TRANSACTION_S = 60  # [health.idle_in_transaction.min_seconds]
LONG_QUERY_S = 300  # [health.long_running_query.min_seconds]
LONG_FAIL_S = 3600  # [health.long_transactions.fail_seconds]
PREPARED_XACT_S = 300  # [health.old_prepared_transaction.min_seconds]
XID_LIMIT = 2**31  # transaction ids wrap after 2^31; the server stops writes shortly before
XID_WARN = 0.50  # [health.xid_wraparound.warn_ratio]
XID_FAIL = 0.75  # [health.xid_wraparound.fail_ratio]
CACHE_HIT_WARN = 0.99  # [health.cache_hit_rate.warn] PgHero's threshold
CACHE_HIT_FAIL = 0.90  # [health.cache_hit_rate.fail] the persona's target
CACHE_MIN_READS = 10_000  # [health.cache_hit_rate.min_blocks] fewer block reads say nothing yet
DEAD_ROW_RATIO = 0.20  # [health.table_bloat.dead_ratio] autovacuum's own default scale factor
DEAD_ROW_MIN = 10_000  # [health.table_bloat.min_dead_rows]
SEQ_SCAN_MIN_ROWS = 10_000  # [health.sequential_scans.min_rows]
SEQ_SCAN_MIN_SCANS = 50  # [health.sequential_scans.min_scans]
LATENCY_MIN_CALLS = 50  # [health.query_latency.min_calls] statements called less are not "standard operations"
LATENCY_TARGET_MS = 10.0  # [health.query_latency.target_ms] the persona's P95 target
LATENCY_ALERT_MS = 50.0  # [health.query_latency.alert_ms] the persona's alert threshold
LAG_WARN_S = 1.0  # [health.replication_lag.warn_seconds]
LAG_FAIL_S = 10.0  # [health.replication_lag.fail_seconds]
ASSUMED_CORES = 4  # [health.pool.cores] PostgreSQL does not report the server's core count
ASSUMED_SPINDLES = 1  # [health.pool.spindles] one SSD counts as one spindle (the persona's example)

_LOCAL_LISTEN = {"localhost", "127.0.0.1", "::1", ""}
_LOCAL_HBA = {"127.0.0.1/32", "::1/128", "127.0.0.1", "::1", "samehost", "localhost"}
_OPEN_HBA = {"0.0.0.0/0", "::/0", "all", "0.0.0.0", "::"}
_SAVEPOINT = "dbsage_health"


@dataclass
class HealthResult:
    """Verdicts by check name, facts other deciders reuse, and what could not be read."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)
    not_checked: list[str] = field(default_factory=list)


class Probe:
    """Queries that may be refused, each in a savepoint; what was refused is kept in `errors`."""

    def __init__(self, session: GuardedSession, options: RuleOptions) -> None:
        self.session = session
        self.options = options
        self.errors: dict[str, str] = {}

    def rows(self, what: str, sql: str, params: Any = None) -> list[Row] | None:
        """Rows of a query that may be refused; None (and the reason kept under `what`) when it is."""
        self.session.catalog(f"SAVEPOINT {_SAVEPOINT}")
        try:
            rows = self.session.catalog(sql, params)
        except QueryFailed as exc:
            self.session.catalog(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            self.session.catalog(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            self.errors[what] = exc.message
            return None
        self.session.catalog(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        return rows

    def t(self, name: str, default: float) -> float:
        return self.options.threshold(name, default)


_SETTINGS_SQL = """
SELECT name, CASE WHEN source = 'session' THEN reset_val ELSE setting END AS value
FROM pg_settings WHERE name = ANY(%(names)s)
"""
_SETTING_NAMES = [
    "log_min_duration_statement", "max_connections", "superuser_reserved_connections", "reserved_connections",
    "idle_in_transaction_session_timeout", "autovacuum", "track_counts", "autovacuum_freeze_max_age",
    "wal_level", "archive_mode", "archive_command", "archive_library", "ssl", "ssl_min_protocol_version",
    "listen_addresses", "shared_preload_libraries", "max_prepared_transactions", "autovacuum_max_workers",
    "autovacuum_naptime", "autovacuum_vacuum_scale_factor", "autovacuum_analyze_scale_factor",
]

_PRIVILEGES_SQL = """
SELECT r.rolsuper AS superuser,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,
       pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') AS read_all_settings,
       current_database() AS database, current_user AS role_name
FROM pg_roles r WHERE r.rolname = current_user
"""


def postgres_health(session: GuardedSession, catalog: Catalog, options: RuleOptions) -> HealthResult:
    """Every PostgreSQL operational check, as verdicts keyed by the checklist's `check` names."""
    probe = Probe(session, options)
    result = HealthResult()
    privileges = session.catalog(_PRIVILEGES_SQL)[0]
    rows = session.catalog(_SETTINGS_SQL, {"names": _SETTING_NAMES})
    settings = {str(r["name"]): str(r["value"] or "") for r in rows}
    database = str(privileges["database"])
    sees_all = bool(privileges["superuser"] or privileges["read_all_stats"])
    ctx = _Context(probe, settings, database, sees_all, bool(privileges["superuser"]), result)
    v = result.verdicts
    v["slow_query_logging"] = _slow_query_logging(ctx)
    v["query_statistics"], stats_schema = _query_statistics(ctx)
    result.facts["pg_stat_statements_schema"] = stats_schema
    v["query_latency"] = _query_latency(ctx, stats_schema)
    v["connection_usage"] = _connection_usage(ctx)
    v["long_transactions"] = _long_transactions(ctx)
    v["xid_wraparound"] = _xid_wraparound(ctx)
    v["cache_hit_rate"] = _cache_hit_rate(ctx)
    v["maintenance"] = _maintenance(ctx)
    v["pitr"], v["archiver"] = _pitr(ctx)
    v["replication"] = _replication(ctx)
    v["missing_index_scans"] = _missing_index_scans(ctx, catalog)
    hba = _hba_rules(ctx)
    v["tls"] = _tls(ctx, hba)
    v["network_access"] = _network_access(ctx, hba)
    result.facts["database_bytes"] = session.catalog_value("SELECT pg_database_size(current_database())")
    result.facts["role"] = str(privileges["role_name"])
    result.not_checked.extend(_not_checked(what, message) for what, message in sorted(probe.errors.items()))
    return result


# What a refused query needs, said the way the report says it everywhere: "needs <privilege>".
_NEEDS = {
    "pg_hba rules": "superuser (or SELECT on pg_hba_file_rules)",
    "pg_stat_statements": "SELECT on pg_stat_statements",
    "query latency": "SELECT on pg_stat_statements",
    "prepared transactions": "pg_monitor",
}


def _not_checked(what: str, message: str) -> str:
    if "permission denied" in message and what in _NEEDS:
        return f"{what}: needs {_NEEDS[what]} ({message})"
    return f"{what}: {message}"


@dataclass
class _Context:
    probe: Probe
    settings: dict[str, str]
    database: str
    sees_all: bool
    superuser: bool
    result: HealthResult

    def setting(self, name: str) -> str | None:
        return self.settings.get(name)

    def needs_settings(self, name: str) -> str:
        return f"{name} is hidden from this role: needs pg_read_all_settings (granted with pg_monitor)"


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------- logging


def _slow_query_logging(ctx: _Context) -> Verdict:
    raw = ctx.setting("log_min_duration_statement")
    if raw is None:
        return unknown(ctx.needs_settings("log_min_duration_statement"))
    ms = _int(raw)
    evidence: dict[str, object] = {"log_min_duration_statement_ms": ms}
    limit = ctx.probe.t("health.slow_query.max_ms", SLOW_QUERY_MAX_MS)
    if ms is None or ms < 0:
        finding = make_finding(
            "health.slow_query_log_off", object_type=ObjectType.SETTING, obj="log_min_duration_statement",
            message="log_min_duration_statement is -1: no statement is logged for being slow.",
            evidence=evidence, fix="ALTER SYSTEM SET log_min_duration_statement = '250ms'; SELECT pg_reload_conf();",
        )
        return Verdict(ItemStatus.FAIL, evidence, "slow statements are not logged", [finding])
    if ms > limit:
        finding = make_finding(
            "health.slow_query_threshold_high", object_type=ObjectType.SETTING, obj="log_min_duration_statement",
            message=f"log_min_duration_statement is {ms} ms: statements faster than that are never logged.",
            evidence={**evidence, "recommended_max_ms": limit},
            fix="ALTER SYSTEM SET log_min_duration_statement = '250ms'; SELECT pg_reload_conf();",
        )
        return Verdict(ItemStatus.WARN, evidence, f"threshold above {limit:g} ms", [finding])
    return Verdict(ItemStatus.PASS, evidence)


def _query_statistics(ctx: _Context) -> tuple[Verdict, str | None]:
    preload = ctx.setting("shared_preload_libraries")
    loaded = None if preload is None else "pg_stat_statements" in [p.strip() for p in preload.split(",")]
    ext = ctx.probe.rows(
        "pg_stat_statements extension",
        "SELECT n.nspname AS schema_name, e.extversion AS version FROM pg_extension e "
        "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'",
    ) or []
    evidence: dict[str, object] = {
        "shared_preload_libraries_has_it": loaded,
        "extension_installed": bool(ext),
    }
    if loaded is None:
        evidence["shared_preload_libraries"] = "hidden: needs pg_read_all_settings"

    def missing(status: ItemStatus, message: str, fix: str | None) -> tuple[Verdict, None]:
        finding = make_finding(
            "health.pg_stat_statements_missing", object_type=ObjectType.DATABASE, obj=ctx.database,
            message=message, evidence=evidence, fix=fix,
        )
        return Verdict(status, evidence, message, [finding]), None

    if not ext:
        if loaded is False:
            return missing(ItemStatus.FAIL, "pg_stat_statements is not loaded (shared_preload_libraries) nor "
                           "created in this database.", None)
        return missing(ItemStatus.WARN, "pg_stat_statements is not created in this database.",
                       "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;")
    schema = str(ext[0]["schema_name"])
    evidence["extension_schema"] = schema
    count = ctx.probe.rows("pg_stat_statements", f'SELECT count(*) AS n FROM "{schema}".pg_stat_statements')
    if count is None:
        message = ctx.probe.errors.get("pg_stat_statements", "")
        if "shared_preload_libraries" in message:
            evidence["shared_preload_libraries_has_it"] = False
            return missing(ItemStatus.FAIL, "pg_stat_statements is created but not loaded "
                           "(shared_preload_libraries), so it collects nothing.", None)
        return unknown(f"pg_stat_statements is not readable by this role ({message}): needs SELECT on "
                       f"{schema}.pg_stat_statements (and pg_read_all_stats to see every role's queries)",
                       **evidence), None
    evidence["statements_tracked"] = int(count[0]["n"])
    evidence["sees_other_roles_query_text"] = ctx.sees_all
    return Verdict(ItemStatus.PASS, evidence), schema


def _query_latency(ctx: _Context, schema: str | None) -> Verdict:
    if schema is None:
        return unknown("needs pg_stat_statements (loaded, created in this database and readable) to measure "
                       "latency per statement")
    min_calls = int(ctx.probe.t("health.query_latency.min_calls", LATENCY_MIN_CALLS))
    rows = ctx.probe.rows(
        "query latency",
        f"""SELECT count(*) AS statements, coalesce(sum(calls), 0) AS calls,
                   sum(calls * (mean_exec_time + 2 * stddev_exec_time)) / nullif(sum(calls), 0) AS p95_ms,
                   sum(calls * mean_exec_time) / nullif(sum(calls), 0) AS mean_ms,
                   max(mean_exec_time) AS slowest_mean_ms
            FROM "{schema}".pg_stat_statements
            WHERE calls >= %(min_calls)s
              AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())""",
        {"min_calls": min_calls},
    )
    if not rows:
        return unknown(f"pg_stat_statements could not be read: {ctx.probe.errors.get('query latency', '')}")
    row = rows[0]
    if not row["statements"]:
        return unknown(f"no statement in this database has been called {min_calls} times since the statistics "
                       "were reset; measure again under normal traffic", statements_with_min_calls=0)
    p95 = round(float(row["p95_ms"]), 3)
    evidence: dict[str, object] = {
        "statements": int(row["statements"]), "calls": int(row["calls"]),
        "estimated_p95_ms": p95, "mean_ms": round(float(row["mean_ms"]), 3),
        "slowest_mean_ms": round(float(row["slowest_mean_ms"]), 3),
        "method": "calls-weighted mean + 2 standard deviations of statements with at least "
                  f"{min_calls} calls (pg_stat_statements keeps no percentiles)",
    }
    target = ctx.probe.t("health.query_latency.target_ms", LATENCY_TARGET_MS)
    alert = ctx.probe.t("health.query_latency.alert_ms", LATENCY_ALERT_MS)
    evidence["target_ms"], evidence["alert_ms"] = target, alert
    if p95 < target:
        return Verdict(ItemStatus.PASS, evidence)
    status = ItemStatus.WARN if p95 < alert else ItemStatus.FAIL
    return Verdict(status, evidence, f"estimated P95 {p95} ms against a target of {target:g} ms")


# ------------------------------------------------------------------------------------ connections


def pool_size(options: RuleOptions) -> dict[str, object]:
    """The persona's pool size (cores x 2 + spindles) with its inputs, stated as assumptions."""
    cores = int(options.threshold("health.pool.cores", ASSUMED_CORES))
    spindles = int(options.threshold("health.pool.spindles", ASSUMED_SPINDLES))
    return {
        "recommended_pool_size": cores * 2 + spindles,
        "pool_formula": "cores x 2 + spindles",
        "assumed_cores": cores,
        "assumed_spindles": spindles,
        "cores_source": "assumption: the server does not report its core count over SQL; set the threshold "
                        "health.pool.cores (and health.pool.spindles) to the real values",
    }


def _connection_usage(ctx: _Context) -> Verdict:
    max_conn = _int(ctx.setting("max_connections"))
    if max_conn is None:
        return unknown(ctx.needs_settings("max_connections"))
    reserved = (_int(ctx.setting("superuser_reserved_connections")) or 0) + (
        _int(ctx.setting("reserved_connections")) or 0)
    rows = ctx.probe.rows(
        "connections",
        "SELECT count(*) AS n FROM pg_stat_activity WHERE usesysid IS NOT NULL "
        "AND (backend_type = 'client backend' OR backend_type IS NULL)",
    )
    if rows is None:
        return unknown(f"pg_stat_activity not readable: {ctx.probe.errors.get('connections')}")
    used = int(rows[0]["n"])
    usable = max(1, max_conn - reserved)
    ratio = used / usable
    pool = pool_size(ctx.probe.options)
    ctx.result.facts["pool"] = pool
    ctx.result.facts["usable_connections"] = usable
    evidence: dict[str, object] = {
        "connections": used, "max_connections": max_conn, "reserved_connections": reserved,
        "usable_connections": usable, "used_ratio": round(ratio, 4), **pool,
    }
    warn = ctx.probe.t("health.connections.warn_ratio", CONNECTIONS_WARN)
    fail = ctx.probe.t("health.connections.fail_ratio", CONNECTIONS_FAIL)
    if ratio < warn:
        return Verdict(ItemStatus.PASS, evidence)
    status = ItemStatus.FAIL if ratio >= fail else ItemStatus.WARN
    finding = make_finding(
        "health.connections_near_limit", object_type=ObjectType.SETTING, obj="max_connections",
        message=f"{used} of {usable} usable connections are in use ({ratio:.0%}).", evidence=evidence,
        severity=Severity.HIGH if status is ItemStatus.FAIL else Severity.MEDIUM,
    )
    return Verdict(status, evidence, f"{ratio:.0%} of the usable connections in use", [finding])


_ACTIVITY_SQL = """
SELECT pid, usename AS role_name, state, backend_type,
       extract(epoch FROM now() - xact_start)::float8 AS xact_seconds,
       extract(epoch FROM now() - state_change)::float8 AS state_seconds,
       extract(epoch FROM now() - query_start)::float8 AS query_seconds,
       left(query, 120) AS query
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND usesysid IS NOT NULL
"""


def _long_transactions(ctx: _Context) -> Verdict:
    rows = ctx.probe.rows("sessions", _ACTIVITY_SQL)
    if rows is None:
        return unknown(f"pg_stat_activity not readable: {ctx.probe.errors.get('sessions')}")
    idle_min = ctx.probe.t("health.idle_in_transaction.min_seconds", IDLE_IN_TRANSACTION_S)
    long_min = ctx.probe.t("health.long_running_query.min_seconds", LONG_QUERY_S)
    fail_s = ctx.probe.t("health.long_transactions.fail_seconds", LONG_FAIL_S)
    hidden = sum(1 for r in rows if r["state"] is None)
    idle = [r for r in rows if str(r["state"] or "").startswith("idle in transaction")
            and (r["state_seconds"] or 0) >= idle_min]
    running = [r for r in rows if r["state"] == "active" and r["backend_type"] == "client backend"
               and (r["query_seconds"] or 0) >= long_min]
    findings: list[Finding] = []
    status = ItemStatus.PASS
    timeout_ms = _int(ctx.setting("idle_in_transaction_session_timeout"))
    evidence: dict[str, object] = {
        "sessions_in_database": len(rows), "sessions_hidden_from_this_role": hidden,
        "idle_in_transaction": len(idle), "long_running_queries": len(running),
        "idle_in_transaction_session_timeout_ms": timeout_ms,
        "idle_threshold_seconds": idle_min, "long_query_threshold_seconds": long_min,
    }
    if idle:
        worst = max(float(r["state_seconds"] or 0) for r in idle)
        evidence["idle_in_transaction_pids"] = [int(r["pid"]) for r in idle]
        evidence["idle_in_transaction_max_seconds"] = round(worst, 1)
        severity = Severity.HIGH if worst >= fail_s else Severity.MEDIUM
        findings.append(make_finding(
            "health.idle_in_transaction", object_type=ObjectType.DATABASE, obj=ctx.database,
            message=f"{len(idle)} session(s) in {ctx.database} sit idle inside an open transaction, the oldest "
                    f"for {worst:.0f} s.",
            evidence={"pids": [int(r["pid"]) for r in idle], "roles": sorted({str(r["role_name"]) for r in idle}),
                      "max_idle_seconds": round(worst, 1), "threshold_seconds": idle_min},
            severity=severity,
        ))
    if running:
        worst = max(float(r["query_seconds"] or 0) for r in running)
        evidence["long_running_pids"] = [int(r["pid"]) for r in running]
        severity = Severity.HIGH if worst >= fail_s else Severity.MEDIUM
        findings.append(make_finding(
            "health.long_running_query", object_type=ObjectType.DATABASE, obj=ctx.database,
            message=f"{len(running)} quer(ies) in {ctx.database} have run longer than {long_min:g} s, the "
                    f"longest {worst:.0f} s.",
            evidence={"pids": [int(r["pid"]) for r in running], "max_seconds": round(worst, 1),
                      "queries": [str(r["query"] or "") for r in running[:5]]},
            severity=severity,
        ))
    prepared = _prepared_transactions(ctx)
    if prepared is not None:
        evidence["old_prepared_transactions"] = len(prepared)
        if prepared:
            findings.append(make_finding(
                "health.old_prepared_transaction", object_type=ObjectType.DATABASE, obj=ctx.database,
                message=f"{len(prepared)} prepared transaction(s) in {ctx.database} wait for COMMIT PREPARED or "
                        "ROLLBACK PREPARED.",
                evidence={"gids": [str(r["gid"]) for r in prepared],
                          "max_age_seconds": round(max(float(r["age_seconds"]) for r in prepared), 1)},
            ))
    if timeout_ms == 0:
        findings.append(make_finding(
            "health.idle_in_transaction_timeout_unset", object_type=ObjectType.SETTING,
            obj="idle_in_transaction_session_timeout",
            message="idle_in_transaction_session_timeout is 0: the server never ends a forgotten transaction.",
            evidence={"idle_in_transaction_session_timeout_ms": 0},
            fix="ALTER SYSTEM SET idle_in_transaction_session_timeout = '5min'; SELECT pg_reload_conf();",
        ))
    for f in findings:
        status = worse(status, ItemStatus.FAIL if f.severity.at_least(Severity.HIGH) else ItemStatus.WARN)
    reason = "; ".join(f.message for f in findings) or None
    if hidden and not ctx.sees_all:
        blind = (f"{hidden} session(s) of other roles are hidden: needs pg_read_all_stats (pg_monitor) to see "
                 "their state")
        if status is ItemStatus.PASS:
            return unknown(blind, **evidence)
        reason = f"{reason}; {blind}"
    return Verdict(status, evidence, reason, findings)


def _prepared_transactions(ctx: _Context) -> list[Row] | None:
    if (_int(ctx.setting("max_prepared_transactions")) or 0) == 0:
        return []
    min_age = ctx.probe.t("health.old_prepared_transaction.min_seconds", PREPARED_XACT_S)
    return ctx.probe.rows(
        "prepared transactions",
        "SELECT gid, extract(epoch FROM now() - prepared)::float8 AS age_seconds FROM pg_prepared_xacts "
        "WHERE database = current_database() AND now() - prepared > make_interval(secs => %(s)s)",
        {"s": min_age},
    )


# ------------------------------------------------------------------------------------ maintenance


def _xid_wraparound(ctx: _Context) -> Verdict:
    rows = ctx.probe.rows("transaction-id age", "SELECT datname, age(datfrozenxid)::bigint AS age FROM pg_database "
                          "WHERE datallowconn ORDER BY 2 DESC")
    if rows is None:
        return unknown(f"pg_database not readable: {ctx.probe.errors.get('transaction-id age')}")
    tables = ctx.probe.rows(
        "table transaction-id age",
        "SELECT n.nspname || '.' || c.relname AS name, age(c.relfrozenxid)::bigint AS age FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm', 't') "
        "ORDER BY age(c.relfrozenxid) DESC LIMIT 5",
    ) or []
    freeze_max = _int(ctx.setting("autovacuum_freeze_max_age"))
    oldest: Row = rows[0] if rows else {"datname": ctx.database, "age": 0}
    ratio = int(oldest["age"]) / XID_LIMIT
    evidence: dict[str, object] = {
        "oldest_database": str(oldest["datname"]), "oldest_age": int(oldest["age"]),
        "used_ratio_of_2_31": round(ratio, 6), "autovacuum_freeze_max_age": freeze_max,
        "above_freeze_max_age": [str(r["datname"]) for r in rows if freeze_max and int(r["age"]) > freeze_max],
        "oldest_tables": [f"{r['name']}={r['age']}" for r in tables],
    }
    warn = ctx.probe.t("health.xid_wraparound.warn_ratio", XID_WARN)
    fail = ctx.probe.t("health.xid_wraparound.fail_ratio", XID_FAIL)
    findings = [
        make_finding(
            "health.xid_wraparound", object_type=ObjectType.DATABASE, obj=str(r["datname"]),
            message=f"Database {r['datname']} is at transaction-ID age {int(r['age']):,}, "
                    f"{int(r['age']) / XID_LIMIT:.0%} of the way to wraparound.",
            evidence={"age": int(r["age"]), "used_ratio": round(int(r["age"]) / XID_LIMIT, 4),
                      "autovacuum_freeze_max_age": freeze_max},
            severity=Severity.BLOCKER if int(r["age"]) / XID_LIMIT >= fail else Severity.HIGH,
        )
        for r in rows if int(r["age"]) / XID_LIMIT >= warn
    ]
    if ratio >= fail:
        return Verdict(ItemStatus.FAIL, evidence, "transaction-ID age past the fail threshold", findings)
    if ratio >= warn:
        return Verdict(ItemStatus.WARN, evidence, "transaction-ID age past the warn threshold", findings)
    return Verdict(ItemStatus.PASS, evidence)


_DATABASE_STATS_SQL = """
SELECT blks_hit, blks_read, stats_reset, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted
FROM pg_stat_database WHERE datname = current_database()
"""


def _cache_hit_rate(ctx: _Context) -> Verdict:
    rows = ctx.probe.rows("cache hit rate", _DATABASE_STATS_SQL)
    if not rows:
        return unknown(f"pg_stat_database not readable: {ctx.probe.errors.get('cache hit rate')}")
    ctx.result.facts["database_stats"] = rows[0]  # the scaling section's read/write counters
    hit, read = int(rows[0]["blks_hit"] or 0), int(rows[0]["blks_read"] or 0)
    evidence: dict[str, object] = {"blocks_hit": hit, "blocks_read": read, "stats_reset": rows[0]["stats_reset"]}
    minimum = ctx.probe.t("health.cache_hit_rate.min_blocks", CACHE_MIN_READS)
    if hit + read < minimum:
        return unknown(f"only {hit + read} block reads since the statistics were reset; measure under normal "
                       "traffic", **evidence)
    rate = hit / (hit + read)
    evidence["hit_rate"] = round(rate, 5)
    warn = ctx.probe.t("health.cache_hit_rate.warn", CACHE_HIT_WARN)
    fail = ctx.probe.t("health.cache_hit_rate.fail", CACHE_HIT_FAIL)
    if rate >= warn:
        return Verdict(ItemStatus.PASS, evidence)
    status = ItemStatus.FAIL if rate < fail else ItemStatus.WARN
    finding = make_finding(
        "health.cache_hit_rate_low", object_type=ObjectType.DATABASE, obj=ctx.database,
        message=f"{rate:.1%} of block reads in {ctx.database} were served from shared buffers.",
        evidence={**evidence, "warn_below": warn, "fail_below": fail},
        severity=Severity.HIGH if status is ItemStatus.FAIL else Severity.MEDIUM,
    )
    return Verdict(status, evidence, f"hit rate {rate:.1%}", [finding])


_DEAD_ROWS_SQL = """
SELECT schemaname || '.' || relname AS name, n_live_tup::bigint AS live, n_dead_tup::bigint AS dead,
       last_autovacuum, last_vacuum
FROM pg_stat_user_tables
WHERE n_dead_tup >= %(min_dead)s AND n_dead_tup > %(ratio)s * greatest(n_live_tup, 1)
ORDER BY n_dead_tup DESC LIMIT 20
"""


def _maintenance(ctx: _Context) -> Verdict:
    autovacuum, track = ctx.setting("autovacuum"), ctx.setting("track_counts")
    disabled = ctx.probe.rows(
        "per-table autovacuum", "SELECT count(*) AS n FROM pg_class WHERE relkind IN ('r', 'm') "
        "AND reloptions @> ARRAY['autovacuum_enabled=false']")
    evidence: dict[str, object] = {
        "autovacuum": autovacuum, "track_counts": track,
        "autovacuum_max_workers": _int(ctx.setting("autovacuum_max_workers")),
        "autovacuum_naptime_s": _int(ctx.setting("autovacuum_naptime")),
        "autovacuum_vacuum_scale_factor": ctx.setting("autovacuum_vacuum_scale_factor"),
        "autovacuum_analyze_scale_factor": ctx.setting("autovacuum_analyze_scale_factor"),
        "tables_with_autovacuum_disabled": int(disabled[0]["n"]) if disabled else None,
        "bloat_estimate": "dead rows from pg_stat_user_tables: n_dead_tup against n_live_tup (no page-level "
                          "estimate; pgstattuple gives the exact figure)",
    }
    findings: list[Finding] = []
    status = ItemStatus.PASS
    for name, value in (("autovacuum", autovacuum), ("track_counts", track)):
        if value == "off":
            status = ItemStatus.FAIL
            findings.append(make_finding(
                "health.autovacuum_off", object_type=ObjectType.SETTING, obj=name,
                message=f"{name} is off: dead rows, statistics and transaction-ID freezing wait for manual VACUUM.",
                evidence={name: value}, fix=f"ALTER SYSTEM SET {name} = on; SELECT pg_reload_conf();",
            ))
    ratio = ctx.probe.t("health.table_bloat.dead_ratio", DEAD_ROW_RATIO)
    min_dead = int(ctx.probe.t("health.table_bloat.min_dead_rows", DEAD_ROW_MIN))
    bloated = ctx.probe.rows("dead rows", _DEAD_ROWS_SQL, {"ratio": ratio, "min_dead": min_dead}) or []
    evidence["tables_with_dead_rows"] = [f"{r['name']} dead={r['dead']} live={r['live']}" for r in bloated]
    for r in bloated:
        live, dead = int(r["live"]), int(r["dead"])
        findings.append(make_finding(
            "health.table_bloat", object_type=ObjectType.TABLE, obj=str(r["name"]),
            message=f"{r['name']} holds {dead:,} dead rows against {live:,} live ones.",
            evidence={"dead_rows": dead, "live_rows": live, "dead_ratio": round(dead / max(1, live + dead), 4),
                      "last_autovacuum": str(r["last_autovacuum"]) if r["last_autovacuum"] else None},
            fix=f"VACUUM (ANALYZE) {_quote_name(str(r['name']))};",
        ))
    if bloated and status is ItemStatus.PASS:
        status = ItemStatus.WARN
    if autovacuum is None:
        return unknown(ctx.needs_settings("autovacuum"), **evidence)
    reason = "; ".join(f.message for f in findings) or None
    return Verdict(status, evidence, reason, findings)


def _quote_name(qualified: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in qualified.split(".", 1))


# --------------------------------------------------------------------------------- backup, replicas


def _pitr(ctx: _Context) -> tuple[Verdict, Verdict]:
    wal_level, mode = ctx.setting("wal_level"), ctx.setting("archive_mode")
    command, library = ctx.setting("archive_command"), ctx.setting("archive_library")
    command_set = command not in (None, "", "(disabled)")
    library_set = library not in (None, "")
    evidence: dict[str, object] = {
        "wal_level": wal_level, "archive_mode": mode,
        "archive_command_set": command_set if command is not None else None,  # the command may hold secrets
        "archive_library": library or None,
    }
    archiver = ctx.probe.rows("WAL archiver", "SELECT archived_count, failed_count, last_archived_time, "
                              "last_failed_time FROM pg_stat_archiver") or []
    arch_verdict = unknown("WAL archiving is not configured, so no archiver runs")
    if archiver:
        a = archiver[0]
        evidence.update({"archived_count": int(a["archived_count"]), "failed_count": int(a["failed_count"]),
                         "last_archived_time": a["last_archived_time"], "last_failed_time": a["last_failed_time"]})
    configured = mode in ("on", "always") and (command_set or library_set) and wal_level in ("replica", "logical")
    ctx.result.facts["wal_archiving"] = bool(configured)
    if mode is None:
        return unknown(ctx.needs_settings("archive_mode")), arch_verdict
    if not configured:
        finding = make_finding(
            "health.wal_archiving_off", object_type=ObjectType.SETTING, obj="archive_mode",
            message=f"WAL is not archived (archive_mode={mode}, wal_level={wal_level}, archive command "
                    f"{'set' if command_set or library_set else 'unset'}): no point-in-time recovery.",
            evidence=evidence,
        )
        return Verdict(ItemStatus.FAIL, evidence, "no WAL archiving", [finding]), arch_verdict
    if archiver:
        a = archiver[0]
        failing = a["last_failed_time"] is not None and (
            a["last_archived_time"] is None or a["last_failed_time"] > a["last_archived_time"])
        ctx.result.facts["archiver_failing"] = bool(failing)
        if failing:
            finding = make_finding(
                "health.archiver_failing", object_type=ObjectType.SETTING, obj="archive_command",
                message=f"The WAL archiver's last attempt failed ({a['failed_count']} failures since the reset).",
                evidence={"failed_count": int(a["failed_count"]), "last_failed_time": a["last_failed_time"],
                          "last_archived_time": a["last_archived_time"]},
            )
            arch_verdict = Verdict(ItemStatus.FAIL, evidence, "the archiver is failing", [finding])
        else:
            arch_verdict = Verdict(ItemStatus.PASS, evidence)
    return Verdict(ItemStatus.PASS, evidence), arch_verdict


_REPLICAS_SQL = """
SELECT application_name, client_addr::text AS client_addr, state,
       extract(epoch FROM replay_lag)::float8 AS replay_lag_seconds
FROM pg_stat_replication
"""
_SLOTS_SQL = """
SELECT slot_name, slot_type, active, wal_status,
       CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END AS retained_bytes
FROM pg_replication_slots
"""


def _replication(ctx: _Context) -> Verdict:
    in_recovery = bool(ctx.probe.session.catalog_value("SELECT pg_is_in_recovery()"))
    replicas = ctx.probe.rows("replicas", _REPLICAS_SQL)
    slots = ctx.probe.rows("replication slots", _SLOTS_SQL)
    if replicas is None or slots is None:
        return unknown("pg_stat_replication / pg_replication_slots not readable: "
                       f"{ctx.probe.errors.get('replicas') or ctx.probe.errors.get('replication slots')}")
    evidence: dict[str, object] = {"in_recovery": in_recovery, "standbys": len(replicas), "slots": len(slots)}
    if not replicas and not slots and not in_recovery:
        return not_applicable("no standby, no replication slot and this server is not a replica", **evidence)
    findings: list[Finding] = []
    warn = ctx.probe.t("health.replication_lag.warn_seconds", LAG_WARN_S)
    fail = ctx.probe.t("health.replication_lag.fail_seconds", LAG_FAIL_S)
    lags: list[float] = []
    if in_recovery:
        lag = ctx.probe.session.catalog_value(
            "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8")
        if lag is not None:
            lags.append(float(lag))
            evidence["replay_lag_seconds_here"] = round(float(lag), 3)
    hidden = 0
    for r in replicas:
        if r["replay_lag_seconds"] is None:
            hidden += r["state"] is None
            continue
        lag = float(r["replay_lag_seconds"])
        lags.append(lag)
        if lag >= warn:
            name = str(r["application_name"] or r["client_addr"] or "standby")
            findings.append(make_finding(
                "health.replication_lag", object_type=ObjectType.DATABASE, obj=name,
                message=f"Standby {name} replays {lag:.1f} s behind this server.",
                evidence={"replay_lag_seconds": round(lag, 3), "client_addr": r["client_addr"]},
                severity=Severity.HIGH if lag >= fail else Severity.MEDIUM,
            ))
    for s in slots:
        if s["active"]:
            continue
        findings.append(make_finding(
            "health.replication_slot_inactive", object_type=ObjectType.DATABASE, obj=str(s["slot_name"]),
            message=f"Replication slot {s['slot_name']} ({s['slot_type']}) has no consumer and retains "
                    f"{int(s['retained_bytes'] or 0):,} bytes of WAL.",
            evidence={"slot_type": s["slot_type"], "wal_status": s["wal_status"],
                      "retained_bytes": s["retained_bytes"]},
            fix=f"SELECT pg_drop_replication_slot('{s['slot_name']!s}');",
        ))
    evidence["max_lag_seconds"] = round(max(lags), 3) if lags else None
    evidence["inactive_slots"] = [str(s["slot_name"]) for s in slots if not s["active"]]
    if hidden and not ctx.sees_all and not findings:
        return unknown("standby lag is hidden from this role: needs pg_read_all_stats (pg_monitor)", **evidence)
    if any(f.severity.at_least(Severity.HIGH) for f in findings):
        return Verdict(ItemStatus.FAIL, evidence, "; ".join(f.message for f in findings), findings)
    if findings:
        return Verdict(ItemStatus.WARN, evidence, "; ".join(f.message for f in findings), findings)
    return Verdict(ItemStatus.PASS, evidence)


# --------------------------------------------------------------------------------------- indexes


_SEQ_SCANS_SQL = """
SELECT schemaname || '.' || relname AS name, seq_scan::bigint AS seq_scan, seq_tup_read::bigint AS seq_tup_read,
       coalesce(idx_scan, 0)::bigint AS idx_scan, n_live_tup::bigint AS live,
       coalesce(idx_tup_fetch, 0)::bigint AS idx_tup_fetch, n_tup_ins::bigint AS inserted,
       n_tup_upd::bigint AS updated, n_tup_del::bigint AS deleted
FROM pg_stat_user_tables
"""


def _missing_index_scans(ctx: _Context, catalog: Catalog) -> Verdict:
    rows = ctx.probe.rows("table scans", _SEQ_SCANS_SQL)
    if rows is None:
        return unknown(f"pg_stat_user_tables not readable: {ctx.probe.errors.get('table scans')}")
    ctx.result.facts["table_stats"] = rows  # the scaling section's per-table read/write counters
    if not rows:
        return not_applicable("the database has no tables")
    if sum(int(r["seq_scan"]) + int(r["idx_scan"]) for r in rows) == 0:
        return unknown("no table has been read since the statistics were reset; measure under normal traffic",
                       stats_reset=catalog.stats_reset)
    min_rows = ctx.probe.t("health.sequential_scans.min_rows", SEQ_SCAN_MIN_ROWS)
    min_scans = ctx.probe.t("health.sequential_scans.min_scans", SEQ_SCAN_MIN_SCANS)
    hot = [
        r for r in rows
        if int(r["live"]) >= min_rows and int(r["seq_scan"]) >= min_scans and int(r["seq_scan"]) > int(r["idx_scan"])
    ]
    evidence: dict[str, object] = {
        "tables": len(rows), "stats_reset": catalog.stats_reset, "min_rows": min_rows, "min_scans": min_scans,
        "tables_scanned_sequentially": [f"{r['name']} seq_scan={r['seq_scan']} idx_scan={r['idx_scan']}" for r in hot],
    }
    findings = [
        make_finding(
            "health.sequential_scans_large_table", object_type=ObjectType.TABLE, obj=str(r["name"]),
            message=f"{r['name']} ({int(r['live']):,} rows) was read by {int(r['seq_scan']):,} sequential scans "
                    f"and {int(r['idx_scan']):,} index scans.",
            evidence={"seq_scan": int(r["seq_scan"]), "idx_scan": int(r["idx_scan"]),
                      "seq_rows_read": int(r["seq_tup_read"]), "live_rows": int(r["live"])},
        )
        for r in hot
    ]
    if findings:
        return Verdict(ItemStatus.WARN, evidence, f"{len(findings)} large table(s) read mostly by sequential scans",
                       findings)
    return Verdict(ItemStatus.PASS, evidence)


# -------------------------------------------------------------------------------------- network


def _hba_rules(ctx: _Context) -> list[Row] | None:
    return ctx.probe.rows("pg_hba rules", "SELECT line_number, type, database, user_name, address, netmask, "
                          "auth_method FROM pg_hba_file_rules WHERE error IS NULL ORDER BY line_number")


def _hba_address(r: Row) -> str:
    address = str(r["address"] or "")
    if r["netmask"]:
        from ipaddress import ip_network

        try:
            return str(ip_network(f"{address}/{r['netmask']}", strict=False))
        except ValueError:
            return address
    return address


_NEEDS_HBA = "pg_hba_file_rules is readable only by superusers (or a role granted SELECT on it)"


def _tls(ctx: _Context, hba: list[Row] | None) -> Verdict:
    ssl = ctx.setting("ssl")
    listen = (ctx.setting("listen_addresses") or "").strip()
    local_only = all(a.strip() in _LOCAL_LISTEN for a in listen.split(",")) if listen != "" else True
    evidence: dict[str, object] = {"ssl": ssl, "ssl_min_protocol_version": ctx.setting("ssl_min_protocol_version"),
                                   "listen_addresses": listen}
    if ssl is None:
        return unknown(ctx.needs_settings("ssl"))
    if ssl != "on":
        if local_only:
            return Verdict(ItemStatus.WARN, evidence, "ssl is off, but the server listens only on local addresses")
        return Verdict(ItemStatus.FAIL, evidence, "ssl is off: connections travel in clear text")
    weak = (ctx.setting("ssl_min_protocol_version") or "").lower() in ("tlsv1", "tlsv1.1")
    if hba is None:
        return unknown(f"ssl is on; whether it is required cannot be read: {_NEEDS_HBA}", **evidence)
    plain = [r for r in hba if r["type"] in ("host", "hostnossl") and _hba_address(r) not in _LOCAL_HBA]
    evidence["non_tls_remote_rules"] = [f"line {r['line_number']}: {r['type']} {_hba_address(r)}" for r in plain]
    if plain:
        return Verdict(ItemStatus.FAIL, evidence, "pg_hba accepts remote connections without TLS")
    if weak:
        return Verdict(ItemStatus.WARN, evidence, "TLS versions before 1.2 are accepted")
    return Verdict(ItemStatus.PASS, evidence)


def _network_access(ctx: _Context, hba: list[Row] | None) -> Verdict:
    listen = ctx.setting("listen_addresses")
    if listen is None:
        return unknown(ctx.needs_settings("listen_addresses"))
    addresses = [a.strip() for a in listen.split(",")]
    evidence: dict[str, object] = {"listen_addresses": listen}
    if all(a in _LOCAL_LISTEN for a in addresses):
        return Verdict(ItemStatus.PASS, evidence, "the server listens only on local addresses")
    if hba is None:
        return unknown(f"the server listens on {listen}; who may connect is in pg_hba: {_NEEDS_HBA}. The cloud "
                       "firewall or VPC rules would settle it too", **evidence)
    remote = [r for r in hba if r["type"] != "local"]
    open_rules = [r for r in remote if _hba_address(r) in _OPEN_HBA and r["auth_method"] != "reject"]
    evidence["remote_rules"] = [f"line {r['line_number']}: {r['type']} {_hba_address(r)} {r['auth_method']}"
                                for r in remote]
    if open_rules:
        return Verdict(ItemStatus.FAIL, evidence, "pg_hba accepts connections from any address")
    return Verdict(ItemStatus.PASS, evidence)

"""Operational health of a live MariaDB/MySQL server, as checklist verdicts with their evidence.

The same checks as health_postgres where the engine has an equivalent (slow log, performance_schema,
binary log for point-in-time recovery, connections, buffer pool hit rate, open transactions), and a
reason where it has none. MySQL errors do not abort the transaction, so no savepoints are needed.
"""

from __future__ import annotations

from typing import Any

from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.checklist_model import ItemStatus, Verdict, not_applicable, unknown, worse
from dbsage.tools.errors import QueryFailed
from dbsage.tools.findings import Finding, ObjectType, Severity
from dbsage.tools.health_postgres import (
    CACHE_HIT_FAIL,
    CACHE_HIT_WARN,
    CACHE_MIN_READS,
    CONNECTIONS_FAIL,
    CONNECTIONS_WARN,
    IDLE_IN_TRANSACTION_S,
    LAG_FAIL_S,
    LAG_WARN_S,
    LATENCY_ALERT_MS,
    LATENCY_MIN_CALLS,
    LATENCY_TARGET_MS,
    LONG_FAIL_S,
    LONG_QUERY_S,
    SEQ_SCAN_MIN_ROWS,
    SEQ_SCAN_MIN_SCANS,
    SLOW_QUERY_MAX_MS,
    HealthResult,
    pool_size,
)
from dbsage.tools.rules.registry import RuleOptions, make_finding
from dbsage.tools.sources.guard import GuardedSession

Row = dict[str, Any]

_VARIABLES = (
    "slow_query_log", "long_query_time", "performance_schema", "log_bin", "binlog_format", "expire_logs_days",
    "binlog_expire_logs_seconds", "max_connections", "innodb_stats_auto_recalc", "innodb_stats_persistent",
    "have_ssl", "require_secure_transport", "bind_address", "tls_version",
)
_STATUS = (
    "Threads_connected", "Max_used_connections", "Innodb_buffer_pool_read_requests", "Innodb_buffer_pool_reads",
    "Uptime",
    # read by the monitoring and scaling sections (slow-query share, statement mix)
    "Questions", "Slow_queries", "Com_select", "Com_insert", "Com_insert_select", "Com_update", "Com_update_multi",
    "Com_delete", "Com_delete_multi", "Com_replace", "Com_replace_select",
)
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_ON = {"on", "1", "yes"}


def _in(names: tuple[str, ...]) -> str:
    return "(" + ", ".join(["%s"] * len(names)) + ")"


class _Ctx:
    def __init__(self, session: GuardedSession, catalog: Catalog, options: RuleOptions) -> None:
        self.session = session
        self.catalog = catalog
        self.options = options
        self.errors: dict[str, str] = {}
        self.result = HealthResult()
        self.vars = {str(r["Variable_name"]).lower(): str(r["Value"]) for r in session.catalog(
            f"SHOW GLOBAL VARIABLES WHERE Variable_name IN {_in(_VARIABLES)}", list(_VARIABLES))}
        self.status = {str(r["Variable_name"]): str(r["Value"]) for r in session.catalog(
            f"SHOW GLOBAL STATUS WHERE Variable_name IN {_in(_STATUS)}", list(_STATUS))}
        self.database = str(session.catalog_value("SELECT DATABASE()") or "")
        self.has_process = self._has_privilege("PROCESS")

    def rows(self, what: str, sql: str, params: Any = None) -> list[Row] | None:
        try:
            return self.session.catalog(sql, params)
        except QueryFailed as exc:
            self.errors[what] = exc.message
            return None

    def t(self, name: str, default: float) -> float:
        return self.options.threshold(name, default)

    def on(self, name: str) -> bool:
        return self.vars.get(name, "").lower() in _ON

    def _has_privilege(self, privilege: str) -> bool:
        rows = self.rows(
            "privileges",
            "SELECT COUNT(*) AS n FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN (%s, 'SUPER') "
            "AND GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', "
            "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')",
            [privilege],
        )
        return bool(rows and int(rows[0]["n"]))


def mysql_health(session: GuardedSession, catalog: Catalog, options: RuleOptions) -> HealthResult:
    """Every MariaDB/MySQL operational check, as verdicts keyed by the checklist's `check` names."""
    ctx = _Ctx(session, catalog, options)
    ctx.result.facts["global_status"] = dict(ctx.status)
    ctx.result.facts["global_variables"] = dict(ctx.vars)
    v = ctx.result.verdicts
    v["slow_query_logging"] = _slow_query_logging(ctx)
    v["query_statistics"] = _query_statistics(ctx)
    v["query_latency"] = _query_latency(ctx)
    v["connection_usage"] = _connection_usage(ctx)
    v["long_transactions"] = _long_transactions(ctx)
    v["xid_wraparound"] = not_applicable("InnoDB transaction ids are 48-bit: there is no wraparound to prevent")
    v["cache_hit_rate"] = _cache_hit_rate(ctx)
    v["maintenance"] = _maintenance(ctx)
    v["pitr"] = _pitr(ctx)
    v["replication"] = _replication(ctx)
    v["missing_index_scans"] = _missing_index_scans(ctx)
    v["tls"] = _tls(ctx)
    v["network_access"] = _network_access(ctx)
    size = ctx.rows("database size", "SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS n "
                    "FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
    ctx.result.facts["database_bytes"] = int(size[0]["n"]) if size else None
    ctx.result.not_checked.extend(f"{what}: {message}" for what, message in sorted(ctx.errors.items()))
    return ctx.result


def _slow_query_logging(ctx: _Ctx) -> Verdict:
    if "slow_query_log" not in ctx.vars:
        return unknown("slow_query_log is not visible to this account")
    seconds = float(ctx.vars.get("long_query_time", "10") or 10)
    evidence: dict[str, object] = {"slow_query_log": ctx.vars["slow_query_log"], "long_query_time_s": seconds}
    ctx.result.facts["slow_log"] = ctx.on("slow_query_log")
    fix = "SET GLOBAL slow_query_log = ON; SET GLOBAL long_query_time = 0.25;"
    if not ctx.on("slow_query_log"):
        finding = make_finding(
            "health.slow_query_log_off", object_type=ObjectType.SETTING, obj="slow_query_log",
            message="slow_query_log is OFF: no statement is logged for being slow.", evidence=evidence, fix=fix)
        return Verdict(ItemStatus.FAIL, evidence, "slow statements are not logged", [finding])
    limit = ctx.t("health.slow_query.max_ms", SLOW_QUERY_MAX_MS)
    if seconds * 1000 > limit:
        finding = make_finding(
            "health.slow_query_threshold_high", object_type=ObjectType.SETTING, obj="long_query_time",
            message=f"long_query_time is {seconds:g} s: statements faster than that are never logged.",
            evidence=evidence, fix="SET GLOBAL long_query_time = 0.25;")
        return Verdict(ItemStatus.WARN, evidence, f"threshold above {limit:g} ms", [finding])
    return Verdict(ItemStatus.PASS, evidence)


def _query_statistics(ctx: _Ctx) -> Verdict:
    evidence: dict[str, object] = {"performance_schema": ctx.vars.get("performance_schema")}
    if ctx.on("performance_schema"):
        return Verdict(ItemStatus.PASS, evidence)
    finding = make_finding(
        "health.performance_schema_off", object_type=ObjectType.SETTING, obj="performance_schema",
        message="performance_schema is OFF: the server keeps no statement digests or index usage counts.",
        evidence=evidence)
    return Verdict(ItemStatus.FAIL, evidence, "performance_schema is off", [finding])


def _query_latency(ctx: _Ctx) -> Verdict:
    if not ctx.on("performance_schema"):
        return unknown("needs performance_schema=ON (set at server start) to measure latency per statement")
    min_calls = int(ctx.t("health.query_latency.min_calls", LATENCY_MIN_CALLS))
    rows = ctx.rows(
        "query latency",
        "SELECT COUNT(*) AS statements, COALESCE(SUM(COUNT_STAR), 0) AS calls, "
        "SUM(SUM_TIMER_WAIT) / NULLIF(SUM(COUNT_STAR), 0) / 1e9 AS mean_ms, MAX(AVG_TIMER_WAIT) / 1e9 AS slowest_ms "
        "FROM performance_schema.events_statements_summary_by_digest "
        "WHERE SCHEMA_NAME = DATABASE() AND COUNT_STAR >= %s",
        [min_calls],
    )
    if rows is None:
        return unknown(f"statement digests not readable: {ctx.errors.get('query latency')}; needs SELECT on "
                       "performance_schema")
    row = rows[0]
    if not row["statements"]:
        return unknown(f"no statement in this database has run {min_calls} times since the server started; "
                       "measure again under normal traffic", statements_with_min_calls=0)
    mean = round(float(row["mean_ms"]), 3)
    evidence: dict[str, object] = {
        "statements": int(row["statements"]), "calls": int(row["calls"]), "mean_ms": mean,
        "slowest_mean_ms": round(float(row["slowest_ms"]), 3),
        "method": "calls-weighted mean of statement digests (MariaDB keeps no percentiles): a lower bound of P95",
    }
    target = ctx.t("health.query_latency.target_ms", LATENCY_TARGET_MS)
    alert = ctx.t("health.query_latency.alert_ms", LATENCY_ALERT_MS)
    if mean < target:
        return Verdict(ItemStatus.PASS, evidence)
    return Verdict(ItemStatus.WARN if mean < alert else ItemStatus.FAIL, evidence,
                   f"mean latency {mean} ms against a P95 target of {target:g} ms")


def _connection_usage(ctx: _Ctx) -> Verdict:
    try:
        max_conn = int(ctx.vars["max_connections"])
        used = int(ctx.status["Threads_connected"])
        peak = int(ctx.status.get("Max_used_connections", "0"))
    except (KeyError, ValueError):
        return unknown("max_connections or Threads_connected is not visible to this account")
    ratio, peak_ratio = used / max(1, max_conn), peak / max(1, max_conn)
    pool = pool_size(ctx.options)
    ctx.result.facts["pool"] = pool
    ctx.result.facts["usable_connections"] = max_conn
    evidence: dict[str, object] = {
        "threads_connected": used, "max_used_connections": peak, "max_connections": max_conn,
        "used_ratio": round(ratio, 4), "peak_ratio": round(peak_ratio, 4), **pool,
    }
    warn = ctx.t("health.connections.warn_ratio", CONNECTIONS_WARN)
    fail = ctx.t("health.connections.fail_ratio", CONNECTIONS_FAIL)
    worst = max(ratio, peak_ratio)
    if worst < warn:
        return Verdict(ItemStatus.PASS, evidence)
    status = ItemStatus.FAIL if ratio >= fail else ItemStatus.WARN
    finding = make_finding(
        "health.connections_near_limit", object_type=ObjectType.SETTING, obj="max_connections",
        message=f"{used} of {max_conn} connections in use now, {peak} at the peak since start.",
        evidence=evidence, severity=Severity.HIGH if status is ItemStatus.FAIL else Severity.MEDIUM)
    return Verdict(status, evidence, f"connections reached {worst:.0%} of max_connections", [finding])


_OPEN_TRX_SQL = """
SELECT t.trx_mysql_thread_id AS id, p.USER AS user_name, p.COMMAND AS command, p.TIME AS seconds,
       TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS trx_seconds, LEFT(p.INFO, 120) AS query
FROM information_schema.INNODB_TRX t
JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
WHERE p.DB = DATABASE() AND p.ID <> CONNECTION_ID()
"""
_RUNNING_SQL = """
SELECT ID AS id, USER AS user_name, TIME AS seconds, LEFT(INFO, 120) AS query
FROM information_schema.PROCESSLIST
WHERE DB = DATABASE() AND COMMAND = 'Query' AND ID <> CONNECTION_ID() AND TIME >= %s
"""


def _long_transactions(ctx: _Ctx) -> Verdict:
    idle_min = ctx.t("health.idle_in_transaction.min_seconds", IDLE_IN_TRANSACTION_S)
    long_min = ctx.t("health.long_running_query.min_seconds", LONG_QUERY_S)
    fail_s = ctx.t("health.long_transactions.fail_seconds", LONG_FAIL_S)
    trx = ctx.rows("open transactions", _OPEN_TRX_SQL)
    running = ctx.rows("running queries", _RUNNING_SQL, [long_min])
    if trx is None or running is None:
        reason = ctx.errors.get("open transactions") or ctx.errors.get("running queries")
        return unknown(f"information_schema.INNODB_TRX / PROCESSLIST not readable ({reason}): needs PROCESS")
    idle = [r for r in trx if str(r["command"]) == "Sleep" and int(r["seconds"] or 0) >= idle_min]
    evidence: dict[str, object] = {
        "open_transactions": len(trx), "idle_in_transaction": len(idle), "long_running_queries": len(running),
        "sees_all_sessions": ctx.has_process,
    }
    findings: list[Finding] = []
    if idle:
        worst = max(int(r["seconds"] or 0) for r in idle)
        findings.append(make_finding(
            "health.idle_in_transaction", object_type=ObjectType.DATABASE, obj=ctx.database,
            message=f"{len(idle)} connection(s) in {ctx.database} sleep inside an open transaction, the oldest for "
                    f"{worst} s.",
            evidence={"ids": [int(r["id"]) for r in idle], "max_idle_seconds": worst, "threshold_seconds": idle_min},
            severity=Severity.HIGH if worst >= fail_s else Severity.MEDIUM))
    if running:
        worst = max(int(r["seconds"] or 0) for r in running)
        findings.append(make_finding(
            "health.long_running_query", object_type=ObjectType.DATABASE, obj=ctx.database,
            message=f"{len(running)} quer(ies) in {ctx.database} have run longer than {long_min:g} s.",
            evidence={"ids": [int(r["id"]) for r in running], "max_seconds": worst,
                      "queries": [str(r["query"] or "") for r in running[:5]]},
            severity=Severity.HIGH if worst >= fail_s else Severity.MEDIUM))
    status = ItemStatus.PASS
    for f in findings:
        status = worse(status, ItemStatus.FAIL if f.severity.at_least(Severity.HIGH) else ItemStatus.WARN)
    if status is ItemStatus.PASS and not ctx.has_process:
        return unknown("only this account's own connections are visible: needs PROCESS to see every session",
                       **evidence)
    return Verdict(status, evidence, "; ".join(f.message for f in findings) or None, findings)


def _cache_hit_rate(ctx: _Ctx) -> Verdict:
    try:
        requests = int(ctx.status["Innodb_buffer_pool_read_requests"])
        misses = int(ctx.status["Innodb_buffer_pool_reads"])
    except (KeyError, ValueError):
        return unknown("InnoDB buffer pool counters are not visible to this account")
    evidence: dict[str, object] = {"read_requests": requests, "disk_reads": misses,
                                   "uptime_s": ctx.status.get("Uptime"), "scope": "whole server since start"}
    if requests < ctx.t("health.cache_hit_rate.min_blocks", CACHE_MIN_READS):
        return unknown(f"only {requests} buffer pool reads since the server started; measure under normal traffic",
                       **evidence)
    rate = 1 - misses / requests
    evidence["hit_rate"] = round(rate, 5)
    warn = ctx.t("health.cache_hit_rate.warn", CACHE_HIT_WARN)
    fail = ctx.t("health.cache_hit_rate.fail", CACHE_HIT_FAIL)
    if rate >= warn:
        return Verdict(ItemStatus.PASS, evidence)
    status = ItemStatus.FAIL if rate < fail else ItemStatus.WARN
    finding = make_finding(
        "health.cache_hit_rate_low", object_type=ObjectType.SETTING, obj="innodb_buffer_pool_size",
        message=f"{rate:.1%} of InnoDB page reads were served from the buffer pool.", evidence=evidence,
        severity=Severity.HIGH if status is ItemStatus.FAIL else Severity.MEDIUM)
    return Verdict(status, evidence, f"hit rate {rate:.1%}", [finding])


def _maintenance(ctx: _Ctx) -> Verdict:
    evidence: dict[str, object] = {
        "innodb_stats_auto_recalc": ctx.vars.get("innodb_stats_auto_recalc"),
        "innodb_stats_persistent": ctx.vars.get("innodb_stats_persistent"),
        "note": "InnoDB purges old row versions itself; statistics are the maintenance left to check",
    }
    if ctx.on("innodb_stats_auto_recalc"):
        return Verdict(ItemStatus.PASS, evidence)
    return Verdict(ItemStatus.WARN, evidence, "innodb_stats_auto_recalc is off: statistics go stale unless "
                   "ANALYZE TABLE is scheduled")


def _pitr(ctx: _Ctx) -> Verdict:
    log_bin = ctx.on("log_bin")
    fmt = ctx.vars.get("binlog_format", "")
    expire_s = float(ctx.vars.get("binlog_expire_logs_seconds", "0") or 0)
    expire_days = float(ctx.vars.get("expire_logs_days", "0") or 0)
    evidence: dict[str, object] = {"log_bin": ctx.vars.get("log_bin"), "binlog_format": fmt,
                                   "binlog_expire_logs_seconds": expire_s, "expire_logs_days": expire_days}
    ctx.result.facts["binlog"] = log_bin
    if not log_bin:
        finding = make_finding(
            "health.binlog_off", object_type=ObjectType.SETTING, obj="log_bin",
            message="The binary log is off: a restore cannot replay changes made after the last backup.",
            evidence=evidence)
        return Verdict(ItemStatus.FAIL, evidence, "binary log off", [finding])
    findings: list[Finding] = []
    expiry_set = expire_s > 0 or expire_days > 0
    ctx.result.facts["binlog_expiry_set"] = expiry_set
    if not expiry_set:
        ctx.result.facts["binlog_no_expiry"] = make_finding(
            "health.binlog_no_expiry", object_type=ObjectType.SETTING, obj="binlog_expire_logs_seconds",
            message="Binary logs are never purged (no expire setting).", evidence=evidence,
            fix="SET GLOBAL binlog_expire_logs_seconds = 604800;")
    if fmt.upper() != "ROW":
        findings.append(make_finding(
            "health.binlog_format_not_row", object_type=ObjectType.SETTING, obj="binlog_format",
            message=f"binlog_format is {fmt}: replays may differ from the original changes.", evidence=evidence,
            fix="SET GLOBAL binlog_format = 'ROW';"))
        return Verdict(ItemStatus.WARN, evidence, f"binlog_format {fmt}", findings)
    return Verdict(ItemStatus.PASS, evidence)


def _replication(ctx: _Ctx) -> Verdict:
    status_rows = ctx.rows("replica status", "SHOW REPLICA STATUS" if ctx.catalog.dialect is Dialect.MARIADB
                           or (ctx.catalog.server_version_num or 0) >= 80022 else "SHOW SLAVE STATUS")
    if status_rows is None:
        return unknown(f"replica status not readable ({ctx.errors.get('replica status')}): needs REPLICA MONITOR "
                       "(MariaDB) or REPLICATION CLIENT")
    if not status_rows:
        dumps = ctx.rows("replicas", "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST "
                         "WHERE COMMAND LIKE 'Binlog Dump%%'")
        n = int(dumps[0]["n"]) if dumps else 0
        if n == 0:
            if not ctx.has_process:
                return unknown("this server is not a replica; whether replicas read from it needs PROCESS")
            return not_applicable("this server is not a replica and no replica reads its binary log",
                                  replicas_connected=0)
        return Verdict(ItemStatus.UNKNOWN, {"replicas_connected": n},
                       "replicas are connected; their lag is measured on each replica (Seconds_Behind_Master)")
    row = status_rows[0]
    lag = row.get("Seconds_Behind_Master", row.get("Seconds_Behind_Source"))
    evidence: dict[str, object] = {"seconds_behind": lag, "io_running": row.get("Slave_IO_Running"),
                                   "sql_running": row.get("Slave_SQL_Running")}
    if lag is None:
        return Verdict(ItemStatus.FAIL, evidence, "replication is stopped (no lag reported)")
    seconds = float(lag)
    warn = ctx.t("health.replication_lag.warn_seconds", LAG_WARN_S)
    fail = ctx.t("health.replication_lag.fail_seconds", LAG_FAIL_S)
    if seconds < warn:
        return Verdict(ItemStatus.PASS, evidence)
    finding = make_finding(
        "health.replication_lag", object_type=ObjectType.DATABASE, obj=ctx.database or "replica",
        message=f"This replica is {seconds:g} s behind its primary.", evidence=evidence,
        severity=Severity.HIGH if seconds >= fail else Severity.MEDIUM)
    return Verdict(ItemStatus.FAIL if seconds >= fail else ItemStatus.WARN, evidence, finding.message, [finding])


def _missing_index_scans(ctx: _Ctx) -> Verdict:
    if not ctx.on("performance_schema"):
        return unknown("needs performance_schema=ON to count full table scans per table")
    rows = ctx.rows(
        "full scans",
        "SELECT OBJECT_NAME AS name, COUNT_READ AS rows_read "
        "FROM performance_schema.table_io_waits_summary_by_index_usage "
        "WHERE OBJECT_SCHEMA = DATABASE() AND INDEX_NAME IS NULL AND COUNT_READ > 0",
    )
    if rows is None:
        return unknown(f"performance_schema not readable: {ctx.errors.get('full scans')}")
    min_rows = ctx.t("health.sequential_scans.min_rows", SEQ_SCAN_MIN_ROWS)
    min_scans = ctx.t("health.sequential_scans.min_scans", SEQ_SCAN_MIN_SCANS)
    sizes = {t.name: t.row_estimate or 0 for t in ctx.catalog.tables}
    findings: list[Finding] = []
    for r in rows:
        table_rows = sizes.get(str(r["name"]), 0)
        scans = int(r["rows_read"]) / max(1, table_rows)  # rows read by full scans / table rows = scans, roughly
        if table_rows >= min_rows and scans >= min_scans:
            obj = f"{ctx.database}.{r['name']}"
            findings.append(make_finding(
                "health.sequential_scans_large_table", object_type=ObjectType.TABLE, obj=obj,
                message=f"{obj} ({table_rows:,} rows) had about {scans:,.0f} full scans.",
                evidence={"rows_read_by_full_scans": int(r["rows_read"]), "row_estimate": table_rows,
                          "estimated_full_scans": round(scans, 1)}))
    evidence: dict[str, object] = {"tables_with_full_scans": len(rows), "large_tables_scanned": len(findings)}
    if findings:
        return Verdict(ItemStatus.WARN, evidence, f"{len(findings)} large table(s) read by repeated full scans",
                       findings)
    return Verdict(ItemStatus.PASS, evidence)


def _remote_accounts(ctx: _Ctx) -> list[Any] | None:
    if not ctx.catalog.roles:
        return None
    return [r for r in ctx.catalog.roles if (r.host or "") not in _LOCAL_HOSTS]


def _tls(ctx: _Ctx) -> Verdict:
    evidence: dict[str, object] = {"have_ssl": ctx.vars.get("have_ssl"),
                                   "require_secure_transport": ctx.vars.get("require_secure_transport"),
                                   "tls_version": ctx.vars.get("tls_version")}
    if ctx.on("require_secure_transport"):
        return Verdict(ItemStatus.PASS, evidence)
    remote = _remote_accounts(ctx)
    local_bind = ctx.vars.get("bind_address", "") in _LOCAL_HOSTS
    if ctx.vars.get("have_ssl", "").upper() != "YES":
        if local_bind:
            return Verdict(ItemStatus.WARN, evidence, "TLS is off, but the server listens only on a local address")
        return Verdict(ItemStatus.FAIL, evidence, "TLS is not available: connections travel in clear text")
    if remote is None:
        return unknown("TLS is available but not required server-wide; whether each remote account requires it "
                       "needs SELECT on mysql.user / mysql.global_priv", **evidence)
    plain = [r.account for r in remote if not r.require_tls]
    evidence["remote_accounts_without_tls"] = plain
    if plain:
        return Verdict(ItemStatus.FAIL, evidence, "remote accounts may connect without TLS")
    return Verdict(ItemStatus.PASS, evidence)


def _network_access(ctx: _Ctx) -> Verdict:
    bind = ctx.vars.get("bind_address")
    evidence: dict[str, object] = {"bind_address": bind}
    if bind in _LOCAL_HOSTS:
        return Verdict(ItemStatus.PASS, evidence, "the server listens only on a local address")
    remote = _remote_accounts(ctx)
    if remote is None:
        return unknown("account hosts need SELECT on mysql.user; the cloud firewall or VPC rules would settle it "
                       "too", **evidence)
    anywhere = [r.account for r in remote if (r.host or "") in ("%", "")]
    evidence["accounts_from_any_host"] = anywhere
    if anywhere:
        return Verdict(ItemStatus.FAIL, evidence, "accounts accept connections from any host")
    return Verdict(ItemStatus.PASS, evidence)

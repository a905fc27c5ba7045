"""checklist_review: the persona's production-readiness checklist, answered from a live database and
the application's repository.

Every item of knowledge/checklist.toml gets a status (pass, warn, fail, unknown, not_applicable), the
evidence that decided it and the ids of the findings behind it. A decider (catalog, live health check,
repository search, or a composed tool's outcome) gives the base verdict; the findings the item claims
by rule id can only make it worse. The score is (pass + 0.5 x warn) / (pass + warn + fail).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dbsage.tools import checklist_catalog as cat
from dbsage.tools import checklist_repo as repo_checks
from dbsage.tools.backup_facts import BackupFacts, read_backup_facts
from dbsage.tools.backup_model import BackupPlan, RestoreDrill
from dbsage.tools.backup_plan import backup_plan
from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.checklist_compose import Outcome, migration_findings, schema_findings, security_findings
from dbsage.tools.checklist_model import (
    ChecklistItem,
    ChecklistReport,
    ChecklistSection,
    ItemSpec,
    ItemStatus,
    Recommendation,
    Verdict,
    load_checklist,
    not_applicable,
    unknown,
    worse,
)
from dbsage.tools.checklist_repo import Repository, scan_repository
from dbsage.tools.errors import InputError, QueryFailed
from dbsage.tools.findings import Finding, Severity, sort_findings
from dbsage.tools.health_postgres import HealthResult, pool_size
from dbsage.tools.ops_model import MonitoringSection, ScalingSection
from dbsage.tools.rules.registry import RuleOptions
from dbsage.tools.sources.guard import Limits, LiveDatabase
from dbsage.tools.sources.urls import DatabaseUrl, parse_url

__all__ = [
    "ChecklistItem",
    "ChecklistReport",
    "ChecklistSection",
    "ItemStatus",
    "Recommendation",
    "checklist_review",
    "score_of",
]

TENANT_COLUMN = "tenant_id"
_PRIORITIES = ("blocker", "high", "medium", "low")
_LIVE_CHECKS = (
    "slow_query_logging", "query_statistics", "query_latency", "connection_usage", "long_transactions",
    "xid_wraparound", "cache_hit_rate", "maintenance", "pitr", "replication", "missing_index_scans", "tls",
    "network_access",
)
# SQLite is a file, not a server: what a server check asks has no counterpart there.
_SQLITE_REASONS = {
    "slow_query_logging": "SQLite logs nothing itself; the application has to time its queries",
    "query_statistics": "SQLite keeps no statement statistics",
    "query_latency": "SQLite keeps no statement statistics; measure latency in the application",
    "connection_usage": "SQLite runs inside the application's process: there are no server connections",
    "long_transactions": "SQLite has no server sessions to inspect",
    "xid_wraparound": "SQLite has no transaction ids to wrap",
    "cache_hit_rate": "SQLite's page cache keeps no hit counters",
    "maintenance": "SQLite needs no vacuum daemon (run VACUUM/ANALYZE from the application when it matters)",
    "pitr": "SQLite has no WAL archiving: point-in-time recovery needs a tool such as Litestream",
    "replication": "SQLite has no built-in replication",
    "missing_index_scans": "SQLite keeps no table usage statistics",
    "tls": "SQLite is opened as a file: there is no network connection to encrypt",
    "network_access": "SQLite is opened as a file: file permissions, not network rules, control access",
}


@dataclass
class _Review:
    """Everything the deciders read."""

    dialect: Dialect
    catalog: Catalog
    options: RuleOptions
    repo: Repository | None
    health: HealthResult
    security: Outcome
    migrations: Outcome | None
    planned_files: list[str] = field(default_factory=list)
    url: DatabaseUrl | None = None
    backup: BackupFacts = field(default_factory=BackupFacts)
    drill: RestoreDrill | None = None
    monitoring: MonitoringSection | None = None
    scaling: ScalingSection | None = None


Decider = Callable[[_Review], Verdict]


def _health(name: str) -> Decider:
    def decide(r: _Review) -> Verdict:
        if r.dialect is Dialect.SQLITE:
            return not_applicable(_SQLITE_REASONS[name])
        return r.health.verdicts.get(name) or unknown(f"{name} is not checked on {r.dialect.value}")

    return decide


def _audit(r: _Review) -> Verdict:
    if not r.security.ran:
        return unknown(f"needs audit_security: {r.security.reason}")
    return Verdict(ItemStatus.PASS, {"audit_security_findings": len(r.security.findings or [])})


def _credentials(r: _Review) -> Verdict:
    if r.repo is None:
        return unknown("credentials live in the application's files: give --paths to scan them")
    if not r.security.ran:
        return unknown(f"needs audit_security's file scan: {r.security.reason}")
    return Verdict(ItemStatus.PASS, {"files_scanned": len(r.repo.files)})


def _migrations_safe(r: _Review) -> Verdict:
    docs = repo_checks.zero_downtime_docs(r.repo)
    if r.repo is None:
        return unknown("give the application's repository (--paths) so plan_migration can check its migrations")
    evidence: dict[str, object] = {"strategy_documents": docs, "planned_files": len(r.planned_files)}
    if not r.planned_files:
        if r.repo.migrations:
            tools = sorted({m.tool for m in r.repo.migrations})
            return unknown(f"the migrations are {', '.join(tools)} files, not SQL: render them to SQL (alembic upgrade "
                           "--sql, manage.py sqlmigrate) and give that to plan_migration", **evidence)
        return not_applicable("no SQL migration files in the paths", **evidence)
    if r.migrations is None or not r.migrations.ran:
        reason = r.migrations.reason if r.migrations else "plan_migration did not run"
        return unknown(f"needs plan_migration: {reason}", **evidence)
    evidence["plan_migration_findings"] = len(r.migrations.findings or [])
    return Verdict(ItemStatus.PASS, evidence)


def _backups(r: _Review) -> Verdict:
    jobs = repo_checks.backup_jobs(r.repo)
    evidence: dict[str, object] = {"backup_jobs": [h.label() for h in jobs]}
    facts = r.health.facts
    if facts.get("wal_archiving"):
        evidence["wal_archiving"] = True
        if facts.get("archiver_failing"):
            return Verdict(ItemStatus.FAIL, evidence, "WAL archiving is configured but failing")
        return Verdict(ItemStatus.PASS, evidence, "WAL is archived continuously")
    if jobs:
        return Verdict(ItemStatus.PASS, evidence, f"backup job at {jobs[0].label()}")
    return unknown("no backup job found and no archiving visible: a managed service's automated backups are "
                   "invisible to SQL; the provider's backup setting or a backup job in the repository (--paths) "
                   "would settle it", **evidence)


def _retention(r: _Review) -> Verdict:
    hits = repo_checks.retention_hits(r.repo)
    evidence: dict[str, object] = {"retention_settings": [h.label() for h in hits]}
    if hits:
        return Verdict(ItemStatus.PASS, evidence, f"retention set at {hits[0].label()}")
    expiry = r.health.facts.get("binlog_no_expiry")
    if isinstance(expiry, Finding):
        return Verdict(ItemStatus.WARN, evidence, expiry.message, [expiry])
    if r.health.facts.get("binlog_expiry_set"):
        evidence["binlog_expiry_set"] = True
    return unknown("a retention policy lives in the backup tool's configuration: pgBackRest/WAL-G/Barman settings "
                   "or a pruning backup script in the repository (--paths) would settle it", **evidence)


def _restore_tested(r: _Review) -> Verdict:
    """The restore drill's outcome when it ran; otherwise a runbook in the repository, or unknown."""
    drill = r.drill
    if drill is None:
        verdict = repo_checks.restore_runbook(r.repo)
        if verdict.status is ItemStatus.UNKNOWN:
            verdict.reason = (f"{verdict.reason}; run checklist_review with --restore-drill (restore_drill=true) to "
                              "back up, restore into a scratch database and compare")
        return verdict
    evidence: dict[str, object] = {
        "backup_bytes": drill.backup_bytes, "backup_seconds": drill.backup_seconds,
        "restore_seconds": drill.restore_seconds, "tables": len(drill.tables), "failed_tables": drill.failed_tables,
        "schema_differences": len(drill.schema_diff), "rto_lower_bound_seconds": drill.rto_lower_bound_seconds,
    }
    status = ItemStatus.PASS if drill.status == "pass" else ItemStatus.FAIL
    return Verdict(status, evidence, f"restore drill: {drill.summary}")


def _pooling(r: _Review) -> Verdict:
    if r.dialect is Dialect.SQLITE:
        return not_applicable("SQLite is embedded: there is no server connection to pool")
    pool = r.health.facts.get("pool")
    usage = r.health.verdicts.get("connection_usage")
    return repo_checks.connection_pooling(r.repo, pool if isinstance(pool, dict) else pool_size(r.options),
                                          usage.evidence if usage is not None else None,
                                          cores_given="health.pool.cores" in r.options.thresholds)


def _slow_alerts(r: _Review) -> Verdict:
    if r.dialect is Dialect.SQLITE:
        return not_applicable("SQLite has no slow-query log")
    slow = r.health.verdicts.get("slow_query_logging")
    on = None if slow is None or slow.status is ItemStatus.UNKNOWN else slow.status is not ItemStatus.FAIL
    return repo_checks.slow_query_alerts(r.repo, on)


DECIDERS: dict[str, Decider] = {
    **{name: _health(name) for name in _LIVE_CHECKS},
    "tables_present": lambda r: cat.tables_present(r.catalog),
    "foreign_keys_present": lambda r: cat.foreign_keys_present(r.catalog),
    "key_capacity": lambda r: cat.key_capacity(r.catalog),
    "tenant_isolation": lambda r: cat.tenant_isolation(r.catalog, _tenant_column(r.options)),
    "rls_enforced": lambda r: _audited(r, cat.rls_enforced(r.catalog, _tenant_column(r.options))),
    "user_separation": lambda r: _audited(r, cat.user_separation(r.catalog)),
    "migration_role": lambda r: cat.migration_role(r.catalog),
    "security_audit": _audit,
    "credentials_scanned": _credentials,
    "migrations_found": lambda r: repo_checks.migrations_found(r.repo, cat.history_tables(r.catalog)),
    "migrations_tested": lambda r: repo_checks.migrations_tested(r.repo),
    "migrations_rollback": lambda r: repo_checks.migrations_rollback(r.repo),
    "migrations_safe": _migrations_safe,
    "connection_pooling": _pooling,
    "cache_layer": lambda r: repo_checks.cache_layer(r.repo),
    "backups_automated": _backups,
    "backup_retention": _retention,
    "restore_tested": _restore_tested,
    "rto_rpo": lambda r: repo_checks.rto_rpo(r.repo),
    "disk_alerts": lambda r: repo_checks.disk_alerts(r.repo, r.health.facts.get("database_bytes")),
    "slow_query_alerts": _slow_alerts,
}


def _tenant_column(options: RuleOptions) -> str:
    return TENANT_COLUMN


def _audited(r: _Review, verdict: Verdict) -> Verdict:
    verdict.evidence["audit_security_ran"] = r.security.ran
    if not r.security.ran and verdict.status is ItemStatus.PASS:
        verdict.reason = f"catalog checks pass; audit_security's deeper checks did not run ({r.security.reason})"
    return verdict


# ------------------------------------------------------------------------------------------- entry


def checklist_review(
    dsn: str,
    *,
    paths: list[str] | None = None,
    limits: Limits | None = None,
    source_name: str | None = None,
    options: RuleOptions | None = None,
    progress: Callable[[str], None] | None = None,
    restore_drill: bool = False,
    scratch_dsn: str | None = None,
) -> ChecklistReport:
    """Answer every checklist item for the database at `dsn` (read-only) and the repository `paths`.

    `restore_drill` backs the database up and restores it into a scratch database: `scratch_dsn`
    (already approved as scratch by the caller, never the source) or one dbsage creates and drops.
    """
    options = options or RuleOptions()
    say = progress or (lambda _message: None)
    if scratch_dsn is not None and not restore_drill:
        raise InputError("A scratch database is used only by the restore drill.",
                         hint="add --restore-drill, or drop --scratch-dsn")
    repo = scan_repository(paths) if paths else None  # a wrong path fails before connecting
    name = source_name or parse_url(dsn).redacted
    drill = None
    if restore_drill:  # first: a refused scratch database fails before the long part
        from dbsage.tools.restore_drill import restore_drill as run_restore_drill

        say("restore drill")
        drill = run_restore_drill(dsn, scratch_dsn=scratch_dsn, limits=limits, progress=say)
    say("reading the catalog")
    with LiveDatabase.open(dsn, limits=limits) as db:
        from dbsage.tools.sources.live import load_catalog

        catalog = load_catalog(db)
        say("operational checks")
        health = _live_health(db, catalog, options)
        backup = _backup_facts(db, catalog.dialect)
        say("monitoring and scaling")
        from dbsage.tools.ops import live_ops

        monitoring, scaling = live_ops(db, catalog, options, health, tenant_column=_tenant_column(options))
    say("schema and index rules")
    schema = schema_findings(catalog, options)
    say("audit_security")
    security = security_findings(dsn, paths=paths, limits=limits, source_name=name, options=options)
    planned = [str(m.path) for m in repo.migrations if m.plannable] if repo else []
    migrations = None
    if planned:
        say(f"plan_migration over {len(planned)} migration file(s)")
        migrations = migration_findings(planned, dialect=catalog.dialect, options=options)
    review = _Review(catalog.dialect, catalog, options, repo, health, security, migrations, planned,
                     url=parse_url(dsn), backup=backup, drill=drill, monitoring=monitoring, scaling=scaling)
    return _report(review, name, schema, paths or [])


def _live_health(db: LiveDatabase, catalog: Catalog, options: RuleOptions) -> HealthResult:
    """The dialect's operational checks; if their session fails (a timeout, a lost connection), each is unknown."""
    if catalog.dialect is Dialect.SQLITE:
        return HealthResult()
    try:
        with db.session() as session:
            if catalog.dialect is Dialect.POSTGRES:
                from dbsage.tools.health_postgres import postgres_health

                return postgres_health(session, catalog, options)
            from dbsage.tools.health_mysql import mysql_health

            return mysql_health(session, catalog, options)
    except QueryFailed as exc:
        reason = f"the operational checks stopped: {exc.message}"
        return HealthResult(verdicts={name: unknown(reason) for name in _LIVE_CHECKS}, not_checked=[reason])


def _backup_facts(db: LiveDatabase, dialect: Dialect) -> BackupFacts:
    """Archiving / binary log facts in a session of their own (a failure there leaves them unread)."""
    try:
        with db.session() as session:
            return read_backup_facts(session, dialect)
    except QueryFailed as exc:
        return BackupFacts(pitr_reason=f"not read: {exc.message}", not_checked=[f"backup facts: {exc.message}"])


def _backup_plan(review: _Review) -> BackupPlan | None:
    if review.url is None:
        return None
    size = review.health.facts.get("database_bytes")
    if review.url.path is not None and size is None:
        size = review.url.path.stat().st_size if review.url.path.is_file() else None
    return backup_plan(review.url, review.dialect, int(size) if isinstance(size, int | float) else None,
                       review.backup, review.drill)


def _report(review: _Review, source: str, schema: Outcome, paths: list[str]) -> ChecklistReport:
    spec = load_checklist()
    pitr = review.health.verdicts.get("pitr")
    if pitr is not None:  # the archive/binary log facts the health check does not read
        pitr.evidence.update({k: v for k, v in review.backup.evidence.items() if k not in pitr.evidence})
    verdicts = {item.id: _decide(item, review) for item in spec.item}
    pool: dict[str, Finding] = {}
    for outcome in (schema, review.security, review.migrations):
        for f in (outcome.findings or []) if outcome else []:
            pool.setdefault(f.id, f)
    for verdict in verdicts.values():
        for f in verdict.findings:
            pool.setdefault(f.id, f)
    findings = [f for f in pool.values() if f.rule_id not in review.options.disabled]
    claimed: dict[str, list[Finding]] = {item.id: [] for item in spec.item}
    for f in findings:
        owner = next((item for item in spec.item if item.claims(f.rule_id)), None)
        if owner is not None:
            claimed[owner.id].append(f)
    sections: list[ChecklistSection] = []
    for section in spec.section:
        items = [_item(item, verdicts[item.id], claimed[item.id], review) for item in spec.items_of(section.id)]
        sections.append(ChecklistSection(id=section.id, title=section.title, items=items))
    every = [i for s in sections for i in s.items]
    counts = {status.value: sum(1 for i in every if i.status is status) for status in ItemStatus}
    not_checked = list(review.catalog.unknown) + review.health.not_checked + review.backup.not_checked
    for outcome in (schema, review.security, review.migrations):
        if outcome is None:
            continue
        if outcome.reason:
            not_checked.append(outcome.reason)
        not_checked.extend(f"{outcome.tool}: {line}" for line in outcome.not_checked)
    if review.repo is not None and review.repo.truncated:
        not_checked.append(f"repository: only the first {repo_checks.MAX_FILES} files were searched")
    return ChecklistReport(
        source=source,
        dialect=review.dialect,
        server_version=review.catalog.server_version,
        paths=paths,
        sections=sections,
        score=score_of(counts),
        score_counts=counts,
        recommendations=_recommendations(spec.item, every, claimed),
        findings=sort_findings(findings),
        not_checked=not_checked,
        restore_drill=review.drill,
        backup_plan=_backup_plan(review),
        monitoring=review.monitoring,
        scaling=review.scaling,
    )


def _decide(item: ItemSpec, review: _Review) -> Verdict:
    decider = DECIDERS.get(item.check or "")
    if decider is None:
        return unknown(f"no decider named {item.check!r}")
    return decider(review)


def _item(spec: ItemSpec, verdict: Verdict, claimed: list[Finding], review: _Review) -> ChecklistItem:
    status, reason = verdict.status, verdict.reason
    from_findings: ItemStatus | None = None
    for f in claimed:
        if f.severity is Severity.INFO:
            continue
        found = ItemStatus.FAIL if f.severity.at_least(spec.fail_at) else ItemStatus.WARN
        from_findings = found if from_findings is None else worse(from_findings, found)
    if from_findings is not None:
        decided = status in (ItemStatus.PASS, ItemStatus.WARN, ItemStatus.FAIL)
        status = worse(status, from_findings) if decided else from_findings
        rules = sorted({f.rule_id for f in claimed})
        reason = f"{len(claimed)} finding(s): {', '.join(rules)}" + (f"; {reason}" if reason else "")
    evidence = verdict.clean_evidence()
    if spec.rules:
        evidence["findings"] = len(claimed)
    if not evidence:
        evidence["paths_given"] = review.repo is not None
    return ChecklistItem(
        id=spec.id, text=spec.text, status=status, evidence=evidence,
        finding_ids=[f.id for f in sort_findings(claimed)], reason=reason,
    )


def score_of(counts: dict[str, int]) -> float | None:
    """(pass + 0.5 x warn) / (pass + warn + fail), or None when nothing was decided."""
    decided = counts.get("pass", 0) + counts.get("warn", 0) + counts.get("fail", 0)
    if decided == 0:
        return None
    return round((counts.get("pass", 0) + 0.5 * counts.get("warn", 0)) / decided, 4)


def _recommendations(
    specs: list[ItemSpec], items: list[ChecklistItem], claimed: dict[str, list[Finding]]
) -> list[Recommendation]:
    by_id = {s.id: s for s in specs}
    out: list[tuple[int, int, Recommendation]] = []
    for order, item in enumerate(items):
        if item.status not in (ItemStatus.FAIL, ItemStatus.WARN):
            continue
        spec = by_id[item.id]
        rank = _PRIORITIES.index(spec.priority)
        if item.status is ItemStatus.WARN:
            rank = min(rank + 1, len(_PRIORITIES) - 1)
        if any(f.severity is Severity.BLOCKER for f in claimed[item.id]):
            rank = 0
        text = spec.advice + (f" ({item.reason})" if item.reason else "")
        out.append((rank, order, Recommendation(
            priority=_PRIORITIES[rank], item_id=item.id, text=text, finding_ids=item.finding_ids)))
    return [r for _, _, r in sorted(out, key=lambda t: (t[0], t[1]))]

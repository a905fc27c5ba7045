"""checklist_review's calls into the other tools, each behind a small adapter.

audit_security and plan_migration are imported lazily: when one is missing from the installation or
raises, its outcome carries no findings and the reason, and the checklist items that depend on it
become `unknown` with that reason instead of the review failing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.errors import DbsageError
from dbsage.tools.findings import Finding
from dbsage.tools.rules.registry import RuleOptions
from dbsage.tools.sources.guard import Limits

log = logging.getLogger("dbsage.checklist")


@dataclass
class Outcome:
    """What one composed tool returned: its findings, or None and why not."""

    tool: str
    findings: list[Finding] | None
    reason: str | None = None
    not_checked: list[str] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        return self.findings is not None


def _failed(tool: str, exc: Exception) -> Outcome:
    if isinstance(exc, DbsageError):
        message = str(exc)
    else:  # a bug in the composed tool must not take the whole review down; say so and keep going
        log.warning("%s failed inside checklist_review", tool, exc_info=True)
        message = f"{type(exc).__name__}: {exc}"
    return Outcome(tool, None, f"{tool} failed: {message}")


def schema_findings(catalog: Catalog, options: RuleOptions) -> Outcome:
    """inspect_schema's analyzer over the whole live catalog (every finding, not one page)."""
    from dbsage.tools.rules.schema_design import not_checked_offline
    from dbsage.tools.schema import analyze_catalog

    try:
        return Outcome("inspect_schema", analyze_catalog(catalog, options), not_checked=not_checked_offline(catalog))
    except Exception as exc:
        return _failed("inspect_schema", exc)


def security_findings(
    dsn: str, *, paths: list[str] | None, limits: Limits | None, source_name: str | None, options: RuleOptions
) -> Outcome:
    """audit_security over the database and the repository paths."""
    try:
        from dbsage.tools.security import audit_security
    except ImportError as exc:
        return Outcome("audit_security", None, f"audit_security is not available in this installation ({exc})")
    try:
        report = audit_security(dsn, paths=paths, limits=limits, source_name=source_name, options=options)
    except Exception as exc:
        return _failed("audit_security", exc)
    return Outcome("audit_security", list(report.findings), not_checked=list(getattr(report, "not_checked", [])))


def migration_findings(
    files: list[str], *, dialect: Dialect, options: RuleOptions
) -> Outcome:
    """plan_migration over the repository's SQL migration files, read offline in apply order."""
    try:
        from dbsage.tools.migration import plan_migration
    except ImportError as exc:
        return Outcome("plan_migration", None, f"plan_migration is not available in this installation ({exc})")
    try:
        report = plan_migration(files, dialect=dialect.value, options=options)
    except Exception as exc:
        return _failed("plan_migration", exc)
    return Outcome("plan_migration", list(report.findings), not_checked=list(getattr(report, "notes", [])))

"""The monitoring and scaling sections of checklist_review, measured in one read-only session."""

from __future__ import annotations

import logging

from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.health_postgres import HealthResult
from dbsage.tools.monitoring import monitoring_section
from dbsage.tools.ops_facts import OpsFacts
from dbsage.tools.ops_model import MonitoringSection, ScalingSection
from dbsage.tools.rules.registry import RuleOptions
from dbsage.tools.scaling import scaling_section, stats_tables
from dbsage.tools.sources.guard import LiveDatabase

log = logging.getLogger("dbsage.checklist")


def _unread(reason: str) -> OpsFacts:
    return OpsFacts(statements_why=reason, slow_why=reason, read_write_why=reason, columns_why=reason,
                    not_checked=[f"monitoring and scaling: {reason}"])


def _read(db: LiveDatabase, catalog: Catalog, options: RuleOptions, health: HealthResult, tables: list[str],
          tenant_column: str) -> OpsFacts:
    if catalog.dialect is Dialect.SQLITE:
        return OpsFacts(statements_why="SQLite keeps no statement statistics",
                        slow_why="SQLite keeps no statement statistics",
                        read_write_why="SQLite keeps no read/write counters", columns={})
    try:
        with db.session() as session:
            if catalog.dialect is Dialect.POSTGRES:
                from dbsage.tools.ops_postgres import read_postgres

                return read_postgres(session, catalog, options, health, stats_tables=tables,
                                     tenant_column=tenant_column)
            from dbsage.tools.ops_mysql import read_mysql

            return read_mysql(session, catalog, health, stats_tables=tables, tenant_column=tenant_column)
    except Exception as exc:  # a failed read leaves these sections unknown; the rest of the review stands
        log.warning("monitoring and scaling reads failed", exc_info=True)
        return _unread(f"the statistics could not be read ({type(exc).__name__}: {exc})")


def live_ops(
    db: LiveDatabase, catalog: Catalog, options: RuleOptions, health: HealthResult, *, tenant_column: str
) -> tuple[MonitoringSection, ScalingSection]:
    """Measure the persona's monitoring metrics and the scaling evidence of the database behind `db`."""
    tables = stats_tables(catalog, options, tenant_column)
    facts = _read(db, catalog, options, health, tables, tenant_column)
    size = health.facts.get("database_bytes")
    database_bytes = int(size) if isinstance(size, int) else None
    if database_bytes is None and catalog.dialect is Dialect.SQLITE:
        database_bytes = sum(t.total_bytes or 0 for t in catalog.tables)
    monitoring = monitoring_section(catalog, health, facts, options)
    scaling = scaling_section(catalog, facts, options, tenant_column=tenant_column, database_bytes=database_bytes)
    return monitoring, scaling

"""Hazards of a MySQL/MariaDB migration: ALTERs that copy the table or block writes, by server version."""

from __future__ import annotations

from dbsage.tools.findings import Finding
from dbsage.tools.migration_model import MigrationContext, MigrationScript, Suppression


def lint_mysql(script: MigrationScript, ctx: MigrationContext) -> tuple[list[Finding], list[Suppression]]:
    """Findings located at their statements, and the findings the author suppressed."""
    return [], []

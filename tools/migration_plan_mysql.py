"""The safe plan for a MySQL/MariaDB migration: online ALTERs with explicit algorithms, expand/contract, batches."""

from __future__ import annotations

from dbsage.tools.migration_model import MigrationContext, MigrationScript, Step


def plan_mysql(script: MigrationScript, ctx: MigrationContext) -> tuple[list[Step], list[str]]:
    """The steps of the safe plan in run order, and notes on what could not be known or was assumed."""
    return [], ["The MySQL/MariaDB plan generator is not written yet."]

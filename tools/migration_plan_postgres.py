"""The safe plan for a PostgreSQL migration: every statement becomes ordered, timed, reversible steps."""

from __future__ import annotations

from dbsage.tools.migration_model import MigrationContext, MigrationScript, Step


def plan_postgres(script: MigrationScript, ctx: MigrationContext) -> tuple[list[Step], list[str]]:
    """The steps of the safe plan in run order, and notes on what could not be known or was assumed."""
    return [], ["The PostgreSQL plan generator is not written yet."]

"""The schema-design rules inspect_schema runs: importing this module registers all of them.

Each family lives in its own module; this one gathers them and says which of them an offline
catalog cannot answer.
"""

from __future__ import annotations

from dbsage.knowledge.rulebook import rule_doc
from dbsage.tools.catalog import Catalog
from dbsage.tools.rules import index_health, schema_keys, schema_naming, schema_types
from dbsage.tools.rules.index_health import RedundantIndex, fk_covering_index, redundant_indexes
from dbsage.tools.rules.registry import rules_for
from dbsage.tools.rules.rule_kit import TOOL

__all__ = [
    "RedundantIndex",
    "fk_covering_index",
    "index_health",
    "not_checked_offline",
    "redundant_indexes",
    "schema_keys",
    "schema_naming",
    "schema_types",
]


def not_checked_offline(catalog: Catalog, tool: str = TOOL) -> list[str]:
    """One line per rule of `tool` that needs a live database, when the catalog comes from DDL."""
    if catalog.source == "live":
        return []
    lines: list[str] = []
    for registered in rules_for(tool):
        doc = rule_doc(registered.rule_id)
        if doc.live_only and catalog.dialect in doc.dialects:
            lines.append(f"{registered.rule_id} ({doc.title}): not checked, needs a live database")
    return lines

"""The rule catalog as data: every rule's title, severity, category and human text.

Rules live in `knowledge/rules/<family>.toml` as `[[rule]]` tables. Analyzers take a finding's
severity, category and remediation from here, so the CLI, the MCP resources and the agent all read
the same words.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

from dbsage.tools.catalog import Dialect
from dbsage.tools.findings import Category, Severity


class RuleDoc(BaseModel):
    """One rule's catalog entry."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Stable id: <family>.<name>")
    title: str
    severity: Severity = Field(description="Default severity; a rule may raise or lower it with evidence")
    category: Category
    dialects: list[Dialect]
    rationale: str = Field(description="Why it hurts")
    remediation: str = Field(description="What to do instead")
    references: list[str] = Field(default_factory=list)
    live_only: bool = Field(default=False, description="Needs a live database (offline reports it as not checked)")


@cache
def load_rules() -> dict[str, RuleDoc]:
    """Every rule in knowledge/rules/*.toml, by id. Raises ValueError on a duplicate id."""
    rules: dict[str, RuleDoc] = {}
    folder = resources.files("dbsage.knowledge").joinpath("rules")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for raw in data.get("rule", []):
            doc = RuleDoc.model_validate(raw)
            if doc.id in rules:
                raise ValueError(f"duplicate rule id {doc.id} in {entry.name}")
            rules[doc.id] = doc
    return rules


def rule_doc(rule_id: str) -> RuleDoc:
    """The catalog entry of `rule_id`; KeyError names the missing id."""
    try:
        return load_rules()[rule_id]
    except KeyError:
        raise KeyError(f"rule {rule_id!r} has no entry in knowledge/rules/*.toml") from None

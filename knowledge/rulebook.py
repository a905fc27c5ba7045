"""The rule catalog as data: every rule's title, severity, category and human text.

Rules live in `knowledge/rules/<family>.toml` as `[[rule]]` tables. Analyzers take a finding's
severity, category and remediation from here, so the CLI, the MCP resources and the agent all read
the same words.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from dbsage.tools.catalog import Dialect
from dbsage.tools.findings import Category, Severity

GUIDE_URI_PREFIX = "dbsage://guides/"


def guide_uri(name: str) -> str:
    """The MCP resource that serves guide `name` (knowledge/guides/<name>.md)."""
    return GUIDE_URI_PREFIX + name


def with_guide_links(remediation: str, guides: Sequence[str]) -> str:
    """A finding's remediation: the rule's words, then the guides that explain it, as links (not text)."""
    if not guides:
        return remediation
    label = "Guide" if len(guides) == 1 else "Guides"
    return f"{remediation.rstrip()} {label}: {', '.join(guide_uri(g) for g in guides)}."


_GUIDE_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


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
    guides: list[str] = Field(
        default_factory=list,
        description="Guides that explain the rule, as dbsage://guides/<name> links (the TOML names them)",
    )

    @field_validator("guides", mode="before")
    @classmethod
    def _guide_names(cls, value: object) -> object:
        # The TOML says "pooling"; the catalog that clients read back says "dbsage://guides/pooling".
        if isinstance(value, list):
            value = [v.removeprefix(GUIDE_URI_PREFIX) if isinstance(v, str) else v for v in value]
            for name in value:
                if not isinstance(name, str) or not _GUIDE_NAME.fullmatch(name):
                    raise ValueError(f"guide {name!r} is not a guide name like 'query-optimization'")
        return value

    @field_serializer("guides")
    def _guide_links(self, guides: list[str]) -> list[str]:
        return [guide_uri(g) for g in guides]

    @property
    def finding_remediation(self) -> str:
        """The remediation a finding of this rule carries: the words plus links to its guides."""
        return with_guide_links(self.remediation, self.guides)


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

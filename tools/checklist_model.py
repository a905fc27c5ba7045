"""checklist_review's public shapes (items, sections, report) and the checklist read from knowledge/checklist.toml.

The models are re-exported by dbsage.tools.checklist; they live here so that the deciders (health
checks, repository evidence) can return verdicts without importing the entry point.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dbsage.tools.backup_model import BackupPlan, RestoreDrill
from dbsage.tools.catalog import Dialect
from dbsage.tools.findings import Evidence, Finding, Severity, evidence_value
from dbsage.tools.ops_model import MonitoringSection, ScalingSection
from dbsage.tools.report import Report


class ItemStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"


# How bad a status is, for combining a decider's verdict with the findings attached to an item.
_STATUS_RANK = {ItemStatus.PASS: 0, ItemStatus.WARN: 1, ItemStatus.FAIL: 2}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChecklistItem(_Model):
    """One question of the checklist, answered."""

    id: str = Field(description="Stable id: <section>.<name>")
    text: str
    status: ItemStatus
    evidence: Evidence = Field(default_factory=dict, description="The measured facts that decided the status")
    finding_ids: list[str] = Field(default_factory=list, description="Ids of the findings behind this item")
    reason: str | None = Field(
        default=None,
        description="Why the status: for unknown, what evidence would settle it or which privilege is needed",
    )


class ChecklistSection(_Model):
    id: str
    title: str
    items: list[ChecklistItem]


class Recommendation(_Model):
    """One thing to do, in the persona's priority order (blocker, high, medium, low)."""

    priority: Literal["blocker", "high", "medium", "low"]
    item_id: str = Field(description="The checklist item this resolves")
    text: str
    finding_ids: list[str] = Field(default_factory=list)


class ChecklistReport(Report):
    """What checklist_review returns: every item with status and evidence, a score and what to do first."""

    tool: Literal["checklist_review"] = "checklist_review"
    source: str = Field(description="The database (configured name or redacted URL)")
    dialect: Dialect
    server_version: str | None = None
    paths: list[str] = Field(default_factory=list, description="Repository paths searched for evidence")
    sections: list[ChecklistSection]
    score: float | None = Field(
        description="(pass + 0.5 x warn) / (pass + warn + fail); null when no item was decided"
    )
    score_counts: dict[str, int] = Field(description="Items by status: pass, warn, fail, unknown, not_applicable")
    recommendations: list[Recommendation] = Field(default_factory=list)
    restore_drill: RestoreDrill | None = Field(
        default=None, description="The restore drill's result: null unless it was asked for (--restore-drill)"
    )
    backup_plan: BackupPlan | None = Field(
        default=None, description="Commands, schedule and retention for this database's size; RTO/RPO; PITR now"
    )
    monitoring: MonitoringSection | None = Field(
        default=None, description="The persona's key metrics measured on the server: value, target, status"
    )
    scaling: ScalingSection | None = Field(
        default=None, description="Read/write mix, vertical partitioning candidates and the shard key, with advice"
    )
    not_checked: list[str] = Field(default_factory=list, description="What could not be read, and why")


@dataclass
class Verdict:
    """A decider's answer for one item, before the findings attached to the item are folded in."""

    status: ItemStatus
    evidence: dict[str, object] = field(default_factory=dict)
    reason: str | None = None
    findings: list[Finding] = field(default_factory=list)

    def clean_evidence(self) -> Evidence:
        return {k: evidence_value(v) for k, v in self.evidence.items()}


def unknown(reason: str, **evidence: object) -> Verdict:
    return Verdict(ItemStatus.UNKNOWN, dict(evidence), reason)


def not_applicable(reason: str, **evidence: object) -> Verdict:
    return Verdict(ItemStatus.NOT_APPLICABLE, dict(evidence), reason)


def worse(a: ItemStatus, b: ItemStatus) -> ItemStatus:
    """The worse of two decided statuses (pass < warn < fail); undecided ones yield to decided ones."""
    if a not in _STATUS_RANK:
        return b if b in _STATUS_RANK else a
    if b not in _STATUS_RANK:
        return a
    return a if _STATUS_RANK[a] >= _STATUS_RANK[b] else b


# ---------------------------------------------------------------------------------------- knowledge


class SectionSpec(_Model):
    id: str
    title: str


class ItemSpec(_Model):
    """One item of knowledge/checklist.toml."""

    id: str
    section: str
    text: str
    persona: bool = False
    decided_by: str
    check: str | None = None
    rules: list[str] = Field(default_factory=list)
    fail_at: Severity = Severity.HIGH
    priority: Literal["blocker", "high", "medium", "low"]
    advice: str

    def claims(self, rule_id: str) -> bool:
        """True when a finding of `rule_id` belongs to this item."""
        return any(fnmatch.fnmatchcase(rule_id, pattern) for pattern in self.rules)


class ChecklistSpec(_Model):
    section: list[SectionSpec]
    item: list[ItemSpec]

    def items_of(self, section: str) -> list[ItemSpec]:
        return [i for i in self.item if i.section == section]


@cache
def load_checklist() -> ChecklistSpec:
    """The checklist as knowledge/checklist.toml defines it; ValueError on a malformed entry."""
    text = resources.files("dbsage.knowledge").joinpath("checklist.toml").read_text(encoding="utf-8")
    spec = ChecklistSpec.model_validate(tomllib.loads(text))
    sections = {s.id for s in spec.section}
    seen: set[str] = set()
    for item in spec.item:
        if item.section not in sections:
            raise ValueError(f"checklist item {item.id} names unknown section {item.section}")
        if item.id in seen:
            raise ValueError(f"duplicate checklist item {item.id}")
        seen.add(item.id)
    return spec

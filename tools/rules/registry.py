"""Registering rules and building their findings from the knowledge catalog."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dbsage.knowledge.rulebook import rule_doc
from dbsage.tools.catalog import Catalog
from dbsage.tools.findings import (
    Evidence,
    Finding,
    Location,
    ObjectType,
    Severity,
    evidence_value,
    fingerprint,
)


@dataclass(frozen=True)
class RuleOptions:
    """What the user's configuration changes about rules: disabled ids and threshold overrides."""

    disabled: frozenset[str] = frozenset()
    thresholds: dict[str, float] = field(default_factory=dict)

    def threshold(self, name: str, default: float) -> float:
        return self.thresholds.get(name, default)


@dataclass(frozen=True)
class RuleContext:
    catalog: Catalog
    options: RuleOptions = field(default_factory=RuleOptions)


RuleFn = Callable[[RuleContext], Iterable[Finding]]


@dataclass(frozen=True)
class RegisteredRule:
    rule_id: str
    tool: str
    fn: RuleFn


_REGISTRY: dict[str, RegisteredRule] = {}


def rule(rule_id: str, *, tool: str) -> Callable[[RuleFn], RuleFn]:
    """Register `fn` as the implementation of `rule_id` for `tool` (its text must exist in knowledge/)."""

    def register(fn: RuleFn) -> RuleFn:
        rule_doc(rule_id)  # fail at import time if the knowledge entry is missing
        if rule_id in _REGISTRY:
            raise ValueError(f"rule {rule_id} registered twice")
        _REGISTRY[rule_id] = RegisteredRule(rule_id, tool, fn)
        return fn

    return register


def rules_for(tool: str) -> list[RegisteredRule]:
    """The registered rules a tool runs, in id order."""
    return sorted((r for r in _REGISTRY.values() if r.tool == tool), key=lambda r: r.rule_id)


def run_rules(tool: str, ctx: RuleContext) -> list[Finding]:
    """Every enabled rule of `tool` applied to the context, findings in rule order."""
    findings: list[Finding] = []
    for registered in rules_for(tool):
        if registered.rule_id in ctx.options.disabled:
            continue
        findings.extend(registered.fn(ctx))
    return findings


def make_finding(
    rule_id: str,
    *,
    object_type: ObjectType,
    obj: str,
    message: str,
    evidence: dict[str, object] | None = None,
    fix: str | None = None,
    location: Location | None = None,
    severity: Severity | None = None,
) -> Finding:
    """A Finding whose category, default severity and remediation come from the rule's knowledge entry."""
    doc = rule_doc(rule_id)
    clean: Evidence = {k: evidence_value(v) for k, v in (evidence or {}).items()}
    return Finding(
        id=fingerprint(rule_id, obj, location),
        rule_id=rule_id,
        severity=severity or doc.severity,
        category=doc.category,
        object_type=object_type,
        object=obj,
        message=message,
        evidence=clean,
        fix=fix,
        remediation=doc.finding_remediation,
        location=location,
    )

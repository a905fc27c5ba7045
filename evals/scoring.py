"""Deterministic scoring: match an agent's recommendations against a scenario's expected and forbidden entries.

Pure functions, no database. Expected entries match recommendations one to one (greedy, in the scenario's
order, each taking the first unused recommendation that fits); false alarms are recommendations of medium
or higher that matched no expected entry; forbidden hits are recommendations matching any forbidden entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dbsage.evals.model import EvalDialect, Expected, Forbidden, Recommendation, Scenario

SEVERITY_RANK = {"blocker": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
ALARM_SEVERITY = "medium"


def object_parts(name: str) -> list[str]:
    """Dot-separated parts of an object name, lower-cased, quotes and brackets stripped."""
    return [part.strip().strip('"`[]').lower() for part in name.split(".")]


def object_matches(expected: str, actual: str) -> bool:
    """True when the actual object's parts end with the expected parts (`orders.id` ~ `public.orders.id`)."""
    want = object_parts(expected)
    have = object_parts(actual)
    return len(have) >= len(want) and have[len(have) - len(want):] == want


def _pattern_matches(pattern: str, sql: str | None) -> bool:
    return sql is not None and re.search(pattern, sql) is not None


def matches(entry: Expected | Forbidden, rec: Recommendation) -> bool:
    """Every key the entry gives holds for the recommendation (AND)."""
    if entry.category is not None and entry.category.lower() != rec.category.lower():
        return False
    if entry.object is not None and not object_matches(entry.object, rec.object):
        return False
    if entry.sql_pattern is not None and not _pattern_matches(entry.sql_pattern, rec.sql):
        return False
    least = entry.severity_at_least if isinstance(entry, Expected) else None
    return least is None or SEVERITY_RANK[rec.severity] >= SEVERITY_RANK[least]


def applies(entry: Expected | Forbidden, dialect: EvalDialect) -> bool:
    """An entry without its own `dialects` applies on every dialect of the scenario."""
    return entry.dialects is None or dialect in entry.dialects


@dataclass
class Score:
    """How one (scenario, dialect) answer scored."""

    expected: int
    matched: int
    missed: list[Expected] = field(default_factory=list)
    false_alarms: list[Recommendation] = field(default_factory=list)
    forbidden_hits: list[Recommendation] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Matched / expected; 1.0 when nothing is expected."""
        return 1.0 if self.expected == 0 else self.matched / self.expected


def score(scenario: Scenario, dialect: EvalDialect, recs: list[Recommendation]) -> Score:
    """Score recommendations for one dialect of a scenario."""
    expected = [e for e in scenario.expected if applies(e, dialect)]
    forbidden = [f for f in scenario.forbidden if applies(f, dialect)]
    used: set[int] = set()
    missed: list[Expected] = []
    for entry in expected:
        hit = next((i for i, rec in enumerate(recs) if i not in used and matches(entry, rec)), None)
        if hit is None:
            missed.append(entry)
        else:
            used.add(hit)
    # A second recommendation of something expected (a duplicate) is not a false alarm.
    alarms = [
        rec for i, rec in enumerate(recs)
        if i not in used and SEVERITY_RANK[rec.severity] >= SEVERITY_RANK[ALARM_SEVERITY]
        and not any(matches(entry, rec) for entry in expected)
    ]
    hits = [rec for rec in recs if any(matches(entry, rec) for entry in forbidden)]
    return Score(expected=len(expected), matched=len(expected) - len(missed), missed=missed,
                 false_alarms=alarms, forbidden_hits=hits)


def passed(scenario: Scenario, result: Score, *, min_recall: float, effects_ok: bool) -> bool:
    """No forbidden hit, effects held, a control scenario raised nothing, recall at least `min_recall`."""
    if result.forbidden_hits or not effects_ok:
        return False
    if scenario.control and result.false_alarms:
        return False
    return result.recall >= min_recall

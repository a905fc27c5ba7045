"""Effect checks: apply an agent's recommended SQL to the scenario's own (throwaway) database and measure.

- workload cost (PostgreSQL): sum of EXPLAIN total cost of the scenario's workload before and after the
  recommended CREATE INDEX statements (CONCURRENTLY dropped); relative cost must be <= max_relative_cost.
- reaudit_clean: audit_security before and after the recommended security SQL; none of the expected findings
  that the first audit raised may remain.
- max_lock_wait_ms: the recommended migration verified by plan_migration(verify=True) under concurrent traffic;
  the plan's longest lock wait must stay within the limit.
A check that does not apply is skipped with a reason (passed None); only passed False fails a scenario.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict

from dbsage.evals.model import EvalDialect, Expected, Recommendation, Scenario
from dbsage.evals.scoring import applies, matches
from dbsage.evals.setup_sql import split_setup
from dbsage.tools.sources.guard import LiveDatabase, Mode

_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\b", re.I)
_CONCURRENTLY = re.compile(r"\bCONCURRENTLY\s+", re.I)


class EffectCheck(BaseModel):
    """One effect check's outcome: passed True/False, or None when skipped (detail says why)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    passed: bool | None
    value: float | None = None
    limit: float | None = None
    detail: str = ""


def effects_ok(checks: list[EffectCheck]) -> bool:
    return all(check.passed is not False for check in checks)


def _statements(recs: list[Recommendation], dialect: EvalDialect) -> list[str]:
    out: list[str] = []
    for rec in recs:
        if rec.sql:
            out += split_setup(rec.sql, dialect)
    return out


@contextmanager
def _writer(url: str, dialect: EvalDialect) -> Iterator[Any]:
    """An autocommit connection to the scenario database (dbsage created it, so it is scratch)."""
    if dialect == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()
        return
    db = LiveDatabase.open(url, scratch=True)
    try:
        with db.scratch_connection() as conn:
            yield conn
    finally:
        db.close()


def _apply(url: str, dialect: EvalDialect, statements: list[str]) -> None:
    with _writer(url, dialect) as conn:
        for stmt in statements:
            if dialect == "mysql":
                with conn.cursor() as cur:
                    cur.execute(stmt)
            else:
                conn.execute(stmt.encode() if dialect == "postgres" else stmt)


def workload_cost(url: str, workload: list[str]) -> float:
    """Sum of the planner's total cost over the workload (PostgreSQL EXPLAIN, nothing executed)."""
    db = LiveDatabase.open(url)
    total = 0.0
    try:
        with db.session(Mode.READ_ONLY) as s:
            for query in workload:
                rows = s.catalog("EXPLAIN (FORMAT JSON) " + query)
                plan = next(iter(rows[0].values()))
                data = json.loads(plan) if isinstance(plan, str) else plan
                total += float(data[0]["Plan"]["Total Cost"])
    finally:
        db.close()
    return total


def check_workload(scenario: Scenario, dialect: EvalDialect, url: str, recs: list[Recommendation]) -> EffectCheck:
    effects = scenario.effects
    assert effects is not None and effects.max_relative_cost is not None
    name = "workload_relative_cost"
    if dialect != "postgres":
        return EffectCheck(name=name, passed=None, limit=effects.max_relative_cost,
                           detail="measured on PostgreSQL only (EXPLAIN total cost)")
    if not effects.workload:
        return EffectCheck(name=name, passed=None, detail="the scenario gives no workload")
    indexes = [_CONCURRENTLY.sub("", s) for s in _statements(recs, dialect) if _CREATE_INDEX.match(s)]
    before = workload_cost(url, effects.workload)
    if not indexes:
        return EffectCheck(name=name, passed=False, value=1.0, limit=effects.max_relative_cost,
                           detail="no CREATE INDEX recommended")
    _apply(url, dialect, indexes)
    after = workload_cost(url, effects.workload)
    relative = after / before if before > 0 else 1.0
    return EffectCheck(name=name, passed=relative <= effects.max_relative_cost, value=round(relative, 4),
                       limit=effects.max_relative_cost,
                       detail=f"cost {before:.1f} -> {after:.1f} after {len(indexes)} index(es)")


def _audit(url: str) -> list[Recommendation]:
    from dbsage.tools.security import audit_security

    return [Recommendation(category=f.category.value, object=f.object, severity=f.severity.value)
            for f in audit_security(url).findings]


def _found(entries: list[Expected], findings: list[Recommendation]) -> list[Expected]:
    return [e for e in entries if any(matches(e.model_copy(update={"sql_pattern": None}), f) for f in findings)]


def check_reaudit(scenario: Scenario, dialect: EvalDialect, url: str, recs: list[Recommendation]) -> EffectCheck:
    name = "reaudit_clean"
    expected = [e for e in scenario.expected if applies(e, dialect)]
    before = _found(expected, _audit(url))
    if not before:
        return EffectCheck(name=name, passed=None, detail="the audit raised none of the expected findings")
    statements = [s for rec in recs if rec.category == "security" for s in _statements([rec], dialect)]
    if not statements:
        return EffectCheck(name=name, passed=False, value=float(len(before)), limit=0,
                           detail="no security SQL recommended")
    try:
        _apply(url, dialect, statements)
    except Exception as exc:  # the agent's SQL failing to run is a failed effect, not a harness error
        return EffectCheck(name=name, passed=False, detail=f"recommended SQL failed: {str(exc).strip()[:200]}")
    remaining = _found(before, _audit(url))
    return EffectCheck(name=name, passed=not remaining, value=float(len(remaining)), limit=0,
                       detail=f"{len(before)} expected finding(s) before, {len(remaining)} after "
                       f"{len(statements)} statement(s)")


def check_lock_wait(scenario: Scenario, dialect: EvalDialect, url: str, recs: list[Recommendation]) -> EffectCheck:
    from dbsage.tools.migration import plan_migration

    effects = scenario.effects
    assert effects is not None and effects.max_lock_wait_ms is not None
    name = "max_lock_wait_ms"
    if dialect == "sqlite":
        return EffectCheck(name=name, passed=None, limit=effects.max_lock_wait_ms,
                           detail="migrations are verified on PostgreSQL and MariaDB/MySQL only")
    sql = ";\n".join(rec.sql.strip().rstrip(";") for rec in recs if rec.category == "migration" and rec.sql)
    if not sql:
        return EffectCheck(name=name, passed=None, limit=effects.max_lock_wait_ms,
                           detail="no migration SQL recommended")
    report = plan_migration(sql=sql + ";", dsn=url, verify=True)
    if report.verification is None:
        return EffectCheck(name=name, passed=None, limit=effects.max_lock_wait_ms, detail="verify did not run")
    wait = report.verification.plan.longest_lock_wait_ms
    return EffectCheck(name=name, passed=wait <= effects.max_lock_wait_ms, value=round(wait, 1),
                       limit=effects.max_lock_wait_ms, detail=report.verification.summary[:200])


def check_effects(scenario: Scenario, dialect: EvalDialect, url: str, recs: list[Recommendation]) -> list[EffectCheck]:
    """Every effect check the scenario asks for (none when it has no [effects])."""
    effects = scenario.effects
    if effects is None:
        return []
    checks: list[EffectCheck] = []
    if effects.max_relative_cost is not None:
        checks.append(check_workload(scenario, dialect, url, recs))
    if effects.reaudit_clean:
        checks.append(check_reaudit(scenario, dialect, url, recs))
    if effects.max_lock_wait_ms is not None:
        checks.append(check_lock_wait(scenario, dialect, url, recs))
    return checks

"""Eval scoring (pure functions): object matching, one-to-one expected matching, false alarms, forbidden hits,
the pass rule, summaries, reports in every format and the CI gate."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from dbsage.evals.effects import EffectCheck
from dbsage.evals.model import Expected, Forbidden, Recommendation, Scenario
from dbsage.evals.report import baseline_diff, gate, render
from dbsage.evals.runner import EvalReport, EvalResult, summarize
from dbsage.evals.scoring import matches, object_matches, passed, score


def rec(category: str = "index", obj: str = "orders.customer_id", severity: str = "medium",
        sql: str | None = None) -> Recommendation:
    return Recommendation.model_validate({"category": category, "object": obj, "severity": severity, "sql": sql})


def scenario(**kw: object) -> Scenario:
    base: dict[str, object] = {"name": "s", "dialects": ["postgres", "mysql"], "task": "t"}
    return Scenario.model_validate({**base, **kw})


def test_object_matches_by_trailing_parts() -> None:
    assert object_matches("orders.customer_id", "public.orders.customer_id")
    assert object_matches("orders.customer_id", '"Public"."ORDERS"."Customer_Id"')
    assert object_matches("orders.customer_id", "`shop`.`orders`.`customer_id`")
    assert not object_matches("orders.customer_id", "archived_orders.customer_id")
    assert not object_matches("orders.customer_id", "customer_id")
    assert not object_matches("public.orders", "orders")


def test_every_key_of_an_entry_must_hold() -> None:
    entry = Expected(category="index", object="orders.customer_id", severity_at_least="high",
                     sql_pattern=r"(?i)create\s+index.*customer_id")
    good = rec(severity="high", sql="CREATE INDEX ON orders (customer_id)")
    assert matches(entry, good)
    assert not matches(entry, good.model_copy(update={"severity": "medium"}))
    assert not matches(entry, good.model_copy(update={"sql": None}))
    assert not matches(entry, good.model_copy(update={"category": "query"}))
    assert not matches(entry, good.model_copy(update={"object": "orders.status"}))


def test_expected_match_one_to_one_and_duplicates_are_not_alarms() -> None:
    s = scenario(expected=[{"category": "index", "object": "orders.customer_id"},
                           {"category": "index", "object": "customer_id"}])
    one = score(s, "postgres", [rec()])
    assert (one.expected, one.matched, one.recall) == (2, 1, 0.5)
    both = score(s, "postgres", [rec(), rec(obj="public.orders.customer_id")])
    assert both.recall == 1.0 and not both.false_alarms
    dup = score(scenario(expected=[{"category": "index", "object": "orders.customer_id"}]), "postgres",
                [rec(), rec(), rec(category="security", obj="app", severity="high"), rec(obj="x", severity="low")])
    assert dup.recall == 1.0
    assert [r.category for r in dup.false_alarms] == ["security"]  # low severity is not an alarm


def test_entry_dialects_restrict_where_it_applies() -> None:
    s = scenario(expected=[{"category": "index", "object": "orders.customer_id"},
                           {"category": "security", "object": "app", "dialects": ["mysql"]}],
                 forbidden=[{"sql_pattern": "(?i)drop", "dialects": ["postgres"]}])
    pg = score(s, "postgres", [rec(), rec(category="security", obj="x", sql="DROP TABLE x")])
    assert pg.expected == 1 and pg.recall == 1.0 and len(pg.forbidden_hits) == 1
    my = score(s, "mysql", [rec(), rec(category="security", obj="x", sql="DROP TABLE x")])
    assert my.expected == 2 and my.recall == 0.5 and not my.forbidden_hits


def test_forbidden_by_category_and_object() -> None:
    s = scenario(forbidden=[{"category": "index", "object": "orders.note"}])
    assert len(score(s, "postgres", [rec(obj="public.orders.note", severity="info")]).forbidden_hits) == 1
    assert not score(s, "postgres", [rec(obj="orders.customer_id")]).forbidden_hits


def test_pass_rule() -> None:
    s = scenario(expected=[{"category": "index", "object": "orders.customer_id"}])
    ok = score(s, "postgres", [rec()])
    assert passed(s, ok, min_recall=0.9, effects_ok=True)
    assert not passed(s, ok, min_recall=0.9, effects_ok=False)
    assert not passed(s, score(s, "postgres", []), min_recall=0.9, effects_ok=True)
    assert passed(s, score(s, "postgres", []), min_recall=0.0, effects_ok=True)
    control = scenario(control=True)
    assert passed(control, score(control, "postgres", [rec(severity="low")]), min_recall=0.9, effects_ok=True)
    assert not passed(control, score(control, "postgres", [rec()]), min_recall=0.9, effects_ok=True)
    bad = scenario(forbidden=[Forbidden(sql_pattern="(?i)drop table").model_dump()])
    assert not passed(bad, score(bad, "postgres", [rec(sql="drop table orders")]), min_recall=0.0, effects_ok=True)


def _result(name: str, dialect: str, **kw: object) -> EvalResult:
    base: dict[str, object] = {"scenario": name, "dialect": dialect, "agent": "fixed", "tools": ["suggest_indexes"]}
    return EvalResult.model_validate({**base, **kw})


def _report(results: list[EvalResult]) -> EvalReport:
    return EvalReport(results=results, summary=summarize(results))


def test_summary_is_micro_averaged_and_grouped() -> None:
    results = [_result("a", "postgres", expected=3, matched=3, recall=1.0, passed=True, tokens=10),
               _result("b", "sqlite", expected=1, matched=0, recall=0.0, tools=["audit_security"]),
               _result("c", "postgres", control=True, false_alarms=2)]
    s = summarize(results)
    assert s.recall == 0.75  # 3/4, not the mean of 1.0 and 0.0
    assert s.control_false_alarms == 2 and s.false_alarms == 2 and s.passed == 1 and s.tokens == 10
    assert s.per_dialect["postgres"].recall == 1.0 and s.per_dialect["sqlite"].recall == 0.0
    assert set(s.per_tool) == {"suggest_indexes", "audit_security"} and s.per_agent["fixed"].runs == 3


def test_reports_parse_in_every_format_and_gate() -> None:
    good = _result("a", "postgres", expected=1, matched=1, recall=1.0, passed=True,
                   effects=[EffectCheck(name="workload_relative_cost", passed=True, value=0.01, limit=0.5)])
    hit = _result("b&<x>", "mysql", expected=1, matched=1, recall=1.0, forbidden_hits=1,
                  forbidden_hit_list=[rec(sql="DROP TABLE orders")])
    broken = _result("c", "sqlite", error="InputError: setup failed")
    report = _report([good, hit, broken])
    data = json.loads(render(report, "json"))
    assert {"results", "summary"} <= data.keys()
    for key in ("scenario", "dialect", "recall", "false_alarms", "forbidden_hits", "effects", "passed",
                "tool_calls", "tokens", "seconds"):
        assert key in data["results"][0]
    assert data["summary"]["recall"] == 1.0 and "per_agent" in data["summary"]
    assert EvalReport.model_validate(data) == report
    suite = ET.fromstring(render(report, "junit").split("?>", 1)[1]).find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 3 and cases[1].find("failure") is not None and cases[2].find("error") is not None
    assert cases[0].find("failure") is None
    assert "| a | postgres | pass |" in render(report, "markdown")
    text = render(report, "text")
    assert "DROP TABLE orders" in text and "setup failed" in text
    problems = gate(report, min_recall=0.9, max_false_alarms=0)
    assert any("forbidden" in p for p in problems) and any("errors in: c" in p for p in problems)
    assert gate(_report([good]), min_recall=0.9, max_false_alarms=0) == []
    low = _report([_result("a", "postgres", expected=2, matched=1, recall=0.5, passed=False)])
    assert any("below --min-recall" in p for p in gate(low, min_recall=0.9, max_false_alarms=None))
    alarms = _report([_result("a", "postgres", false_alarms=3, passed=True)])
    assert gate(alarms, min_recall=0.9, max_false_alarms=3) == []
    assert gate(alarms, min_recall=0.9, max_false_alarms=2) != []


def test_baseline_diff_names_changed_scenarios() -> None:
    old = _report([_result("a", "postgres", expected=2, matched=2, recall=1.0, passed=True),
                   _result("gone", "sqlite", passed=True)])
    new = _report([_result("a", "postgres", expected=2, matched=1, recall=0.5),
                   _result("fresh", "mysql", passed=True)])
    diff = baseline_diff(new, old)
    assert "a [postgres]: status pass -> FAIL, recall 1.00 -> 0.50" in diff
    assert "+ fresh [mysql]" in diff and "- gone [sqlite]" in diff
    assert "no per-scenario differences" in baseline_diff(old, old)

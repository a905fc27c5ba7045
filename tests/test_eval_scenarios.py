"""The built-in eval scenarios: each loads and validates, each setup runs on its engine, and the scripted
agent passes the CI gate on all of them (recall >= 0.9 overall, no forbidden hit, nothing raised on the control).

Runs through the eval runner (evals/runner.py): a fresh database per (scenario, dialect), roles and users named
with the run's {{run}} prefix dropped afterwards.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from dbsage.evals.agents.scripted import ScriptedAgent
from dbsage.evals.model import Scenario, Task
from dbsage.evals.runner import load_scenarios, run_eval

SCENARIOS = Path(__file__).resolve().parent.parent / "evals" / "scenarios"


def all_scenarios() -> list[Scenario]:
    return load_scenarios(SCENARIOS)


def test_at_least_fifteen_scenarios_cover_every_engine() -> None:
    scenarios = all_scenarios()
    assert len(scenarios) >= 15
    assert {d for s in scenarios for d in s.dialects} == {"postgres", "mysql", "sqlite"}
    assert any(s.control for s in scenarios)
    assert {s.name for s in load_scenarios(None)} == {s.name for s in scenarios}  # shipped as the built-in set
    tools = {t for s in scenarios for t in s.tools}
    assert tools >= {"inspect_schema", "explain_query", "suggest_indexes", "plan_migration", "audit_security",
                     "checklist_review"}


@pytest.mark.parametrize("scenario", all_scenarios(), ids=lambda s: s.name)
def test_scenario_is_complete(scenario: Scenario) -> None:
    assert scenario.folder is not None and scenario.name == scenario.folder.name
    for dialect in scenario.dialects:
        assert (scenario.folder / f"setup.{dialect}.sql").is_file(), dialect
    assert scenario.expected or scenario.control
    for rule in [*scenario.expected, *scenario.forbidden]:
        if rule.sql_pattern:
            re.compile(rule.sql_pattern)
    assert "DELIMITER" not in "".join(p.read_text() for p in scenario.folder.glob("setup.*.sql"))
    for name in re.findall(r"(?<![\w.])[\w-]+(?:\.[\w-]+)*\.(?:sql|log)\b", scenario.task):
        stem, suffix = name.rsplit(".", 1)
        variants = [scenario.folder / f"{stem}.{d}.{suffix}" for d in scenario.dialects]
        assert (scenario.folder / name).is_file() or all(v.is_file() for v in variants), f"the task names {name}"


@pytest.mark.slow
def test_scripted_agent_passes_the_ci_gate(request: pytest.FixtureRequest) -> None:
    """The CI eval gate: every scenario on every engine, recall >= 0.9 overall, no forbidden hit, a silent control.

    Each setup runs on a fresh database, so this also proves every setup file runs on its engine.
    """
    scenarios = all_scenarios()
    started = time.monotonic()
    report = run_eval(scenarios, ScriptedAgent(), jobs=2,
                      postgres_dsn=str(request.getfixturevalue("postgres_server_url")),
                      mysql_dsn=str(request.getfixturevalue("mysql_server_url")))
    summary = report.summary
    lines = [f"{r.scenario + '/' + r.dialect:42} recall {r.matched}/{r.expected}  calls {r.tool_calls:2}  "
             f"{r.seconds:5.1f}s  {'ok' if r.passed else 'FAILED'} {r.error or ''} {r.missed or ''}"
             for r in report.results]
    wall = time.monotonic() - started
    lines.append(f"recall {summary.matched}/{summary.expected} = {summary.recall:.3f}; wall {wall:.1f}s; "
                 "seconds per engine " + ", ".join(f"{d} {a.seconds:.1f}" for d, a in summary.per_dialect.items()))
    print("\n" + "\n".join(lines))
    assert summary.runs == sum(len(s.dialects) for s in scenarios) >= 25
    assert summary.errors == 0, "\n".join(lines)
    assert summary.forbidden_hits == 0, "\n".join(lines)
    assert summary.control_false_alarms == 0, "\n".join(lines)
    assert summary.recall >= 0.9, "\n".join(lines)
    assert all(r.passed for r in report.results), "\n".join(lines)


def test_scripted_agent_reports_a_failing_tool_and_goes_on(tmp_path: Path) -> None:
    """A database that cannot be opened: every call fails, each failure is reported, nothing is invented."""
    task = Task(scenario="x", dialect="sqlite", prompt="```sql\nSELECT 1 FROM t WHERE a = 1\n```",
                config_path=tmp_path / "dbsage.toml", url=f"sqlite:///{tmp_path / 'missing' / 'none.db'}",
                tools=["inspect_schema", "explain_query"])
    result = ScriptedAgent().run(task)
    assert result.tool_calls == 2
    assert result.recommendations == []
    assert result.error is not None and result.error.count("; ") >= 1  # both calls reported


def test_scripted_agent_reads_the_files_of_its_engine_and_finds_n_plus_one(tmp_path: Path) -> None:
    from dbsage.evals.agents.scripted import _log_statements, _n_plus_one, files_for

    names = ["migration.sql", "migration.mysql.sql", "migration.postgres.sql", "setup.sqlite.sql", "queries.log"]
    for name in names:
        (tmp_path / name).write_text("")
    task = Task(scenario="x", dialect="mysql", prompt="", config_path=tmp_path / "c.toml", url="mysql://x/y",
                files=[tmp_path / n for n in names])
    assert [p.name for p in files_for(task)] == ["migration.sql", "migration.mysql.sql", "queries.log"]
    log = "\n".join(f"12:00:{i:02d} LOG: statement: SELECT * FROM items WHERE order_id = {i}" for i in range(25))
    shapes, recs = _n_plus_one(_log_statements(log + "\nSELECT * FROM orders WHERE id = 'a'"))
    assert len(shapes) == 2
    assert [(r.category, r.object) for r in recs] == [("query", "items")]
    assert "25 times" in recs[0].action

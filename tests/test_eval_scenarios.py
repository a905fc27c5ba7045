"""The built-in eval scenarios: each loads and validates, each setup runs on its engine, and the scripted
agent passes the CI gate on all of them (recall >= 0.9 overall, no forbidden hit, nothing raised on the control).

Databases are real and fresh per (scenario, dialect); roles and users a setup creates carry a unique prefix
({{run}}) and are dropped afterwards.
"""

from __future__ import annotations

import re
import sqlite3
import time
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dbsage.evals.agents.scripted import ScriptedAgent
from dbsage.evals.model import EvalDialect, Expected, Forbidden, Recommendation, Scenario, Task
from dbsage.tools.catalog import Dialect
from dbsage.tools.sources.ddl_script import split_statements
from tests.dbutil import admin_mysql, admin_postgres, mysql_url_for, postgres_url_for, split_mysql_script

SCENARIOS = Path(__file__).resolve().parent.parent / "evals" / "scenarios"
_RANK = {"blocker": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def load(folder: Path) -> Scenario:
    data = tomllib.loads((folder / "scenario.toml").read_text())
    return Scenario.model_validate({**data, "folder": folder})


def all_scenarios() -> list[Scenario]:
    return [load(d) for d in sorted(SCENARIOS.iterdir()) if (d / "scenario.toml").is_file()]


# --- a minimal runner (EV1's evals/runner.py replaces it once it lands) -------------------------------


@contextmanager
def fresh_database(scenario: Scenario, dialect: EvalDialect, tmp: Path, server: str, run: str) -> Iterator[str]:
    """A new database with the scenario's setup run in it; dropped (with the run's roles) afterwards."""
    assert scenario.folder is not None
    script = (scenario.folder / f"setup.{dialect}.sql").read_text().replace("{{run}}", run)
    name = f"{run}_{scenario.name.replace('-', '_')}"[:60]
    if dialect == "sqlite":
        path = tmp / f"{name}.db"
        conn = sqlite3.connect(path)
        conn.executescript(script)
        conn.close()
        yield f"sqlite:///{path}"
        return
    if dialect == "postgres":
        with admin_postgres(server) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = postgres_url_for(server, name)
        try:
            with admin_postgres(url) as conn:
                for stmt in split_statements(script, Dialect.POSTGRES):  # one at a time, as psql would
                    conn.execute(stmt.text)  # type: ignore[arg-type]
            yield url
        finally:
            with admin_postgres(server) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                roles = [r[0] for r in admin.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
                                                     (run + "%",))]
                for role in roles:
                    admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        return
    conn_my = admin_mysql(server)
    try:
        with conn_my.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        url = mysql_url_for(server, name)
        my = admin_mysql(url)
        try:
            with my.cursor() as cur:
                for stmt in split_mysql_script(script):
                    cur.execute(stmt)
        finally:
            my.close()
        yield url
    finally:
        with conn_my.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute("SELECT user, host FROM mysql.user WHERE user LIKE %s", (run + "%",))
            for user, host in cur.fetchall():
                cur.execute("DROP USER %s@%s", (user, host))
        conn_my.close()


def new_run() -> str:
    """The unique prefix that replaces {{run}} in a setup and a task."""
    return "ev2r" + uuid.uuid4().hex[:8]


def task_for(scenario: Scenario, dialect: EvalDialect, url: str, tmp: Path, run: str) -> Task:
    assert scenario.folder is not None
    files = sorted(p for p in scenario.folder.iterdir()
                   if p.name != "scenario.toml" and not p.name.startswith("setup."))
    return Task(scenario=scenario.name, dialect=dialect, prompt=scenario.task.replace("{{run}}", run),
                config_path=tmp / "dbsage.toml", url=url, files=files, tools=scenario.tools)


def _object_matches(expected: str, actual: str) -> bool:
    want = [p.strip('"`').lower() for p in expected.split(".")]
    have = [p.strip('"`').lower() for p in actual.split(".")]
    return len(have) >= len(want) and have[len(have) - len(want):] == want


def matches(rule: Expected | Forbidden, rec: Recommendation) -> bool:
    if rule.category is not None and rule.category != rec.category:
        return False
    if rule.object is not None and not _object_matches(rule.object, rec.object):
        return False
    if rule.sql_pattern is not None and not re.search(rule.sql_pattern, rec.sql or ""):
        return False
    least = getattr(rule, "severity_at_least", None)
    return least is None or _RANK[rec.severity] >= _RANK[least]


def score(scenario: Scenario, dialect: EvalDialect, recs: list[Recommendation]) -> dict[str, object]:
    """Expected matched one to one (greedy, in order), false alarms, forbidden hits."""
    expected = [e for e in scenario.expected if e.dialects is None or dialect in e.dialects]
    forbidden = [f for f in scenario.forbidden if f.dialects is None or dialect in f.dialects]
    used: set[int] = set()
    missed: list[Expected] = []
    for exp in expected:
        hit = next((i for i, r in enumerate(recs) if i not in used and matches(exp, r)), None)
        if hit is None:
            missed.append(exp)
        else:
            used.add(hit)
    alarms = [r for i, r in enumerate(recs) if i not in used and _RANK[r.severity] >= _RANK["medium"]]
    hits = [r for r in recs for f in forbidden if matches(f, r)]
    return {"expected": len(expected), "matched": len(expected) - len(missed), "missed": missed,
            "false_alarms": alarms, "forbidden_hits": hits}


# --- tests ------------------------------------------------------------------------------------------------


def test_at_least_fifteen_scenarios_cover_every_engine() -> None:
    scenarios = all_scenarios()
    assert len(scenarios) >= 15
    assert {d for s in scenarios for d in s.dialects} == {"postgres", "mysql", "sqlite"}
    assert any(s.control for s in scenarios)
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


def _server(request: pytest.FixtureRequest, dialect: EvalDialect) -> str:
    if dialect == "postgres":
        return str(request.getfixturevalue("postgres_server_url"))
    if dialect == "mysql":
        return str(request.getfixturevalue("mysql_server_url"))
    return ""


def _servers(request: pytest.FixtureRequest, dialects: set[str]) -> dict[str, str]:
    return {d: _server(request, d) for d in dialects}  # type: ignore[arg-type]


@pytest.mark.slow
def test_scripted_agent_passes_the_ci_gate(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The CI eval gate: every scenario on every engine, recall >= 0.9 overall, no forbidden hit, a silent control.

    Each setup runs on a fresh database (so this also proves every setup file runs on its engine).
    """
    pairs = [(s, d) for s in all_scenarios() for d in s.dialects]
    servers = _servers(request, {d for _, d in pairs})
    expected = matched = 0
    problems: list[str] = []
    per_engine: dict[str, float] = {}
    lines: list[str] = []
    for scenario, dialect in pairs:
        started = time.monotonic()
        run = new_run()
        with fresh_database(scenario, dialect, tmp_path, servers[dialect], run) as url:
            setup_s = time.monotonic() - started
            result = ScriptedAgent().run(task_for(scenario, dialect, url, tmp_path, run))
        seconds = time.monotonic() - started
        per_engine[dialect] = per_engine.get(dialect, 0.0) + seconds
        outcome = score(scenario, dialect, result.recommendations)
        expected += int(outcome["expected"])  # type: ignore[call-overload]
        matched += int(outcome["matched"])  # type: ignore[call-overload]
        label = f"{scenario.name}/{dialect}"
        lines.append(f"{label:42} recall {outcome['matched']}/{outcome['expected']}  calls {result.tool_calls:2}  "
                     f"setup {setup_s:5.1f}s  total {seconds:5.1f}s")
        if result.error:
            problems.append(f"{label}: agent error {result.error}")
        if result.tool_calls == 0:
            problems.append(f"{label}: no tool called")
        if outcome["forbidden_hits"]:
            problems.append(f"{label}: forbidden {outcome['forbidden_hits']}")
        if scenario.control and outcome["false_alarms"]:
            problems.append(f"{label}: control raised {outcome['false_alarms']}")
        if outcome["missed"]:
            lines.append(f"    missed {outcome['missed']}")
    recall = matched / expected if expected else 1.0
    lines.append(f"recall {matched}/{expected} = {recall:.3f}; seconds per engine "
                 + ", ".join(f"{d} {t:.1f}" for d, t in sorted(per_engine.items())))
    print("\n" + "\n".join(lines))
    assert len(pairs) >= 25
    assert not problems, problems
    assert recall >= 0.9, "\n".join(lines)


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

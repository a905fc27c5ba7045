"""Run eval scenarios: load them, create a fresh database per (scenario, dialect), ask the agent, score it.

`load_scenarios(folder)` reads a folder of scenarios (None: the built-in ones) and `run_eval(...)` runs them
with one agent, in a thread pool of `jobs` workers, returning an EvalReport with one result per
(scenario, dialect) and a summary (micro-averaged recall overall, per agent, per tool, per dialect).
"""

from __future__ import annotations

import importlib.resources
import re
import tempfile
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dbsage.evals.effects import EffectCheck, check_effects, effects_ok
from dbsage.evals.model import Agent, AgentResult, EvalDialect, Expected, Forbidden, Recommendation, Scenario, Task
from dbsage.evals.scoring import applies, score
from dbsage.evals.scoring import passed as scenario_passed
from dbsage.evals.setup_sql import new_run_prefix, scenario_database, server_dsns, write_config
from dbsage.tools.errors import InputError

DIALECTS: tuple[EvalDialect, ...] = get_args(EvalDialect)
DEFAULT_MIN_RECALL = 0.9


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvalResult(_Model):
    """How an agent did on one (scenario, dialect)."""

    scenario: str
    dialect: EvalDialect
    agent: str
    tools: list[str] = Field(default_factory=list)
    control: bool = False
    expected: int = 0
    matched: int = 0
    recall: float = 0.0
    false_alarms: int = 0
    forbidden_hits: int = 0
    effects: list[EffectCheck] = Field(default_factory=list)
    passed: bool = False
    tool_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    error: str | None = None
    missed: list[str] = Field(default_factory=list, description="Expected entries not matched, as text")
    false_alarm_list: list[Recommendation] = Field(default_factory=list)
    forbidden_hit_list: list[Recommendation] = Field(default_factory=list)


class Aggregate(_Model):
    """Totals over a group of results; recall is micro-averaged (matched / expected over the group)."""

    runs: int = 0
    passed: int = 0
    expected: int = 0
    matched: int = 0
    recall: float = 1.0
    false_alarms: int = 0
    forbidden_hits: int = 0
    errors: int = 0
    tool_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0


class EvalSummary(Aggregate):
    """Overall totals, plus the same per agent, per tool (scenario hints) and per dialect."""

    control_false_alarms: int = 0
    min_recall: float = DEFAULT_MIN_RECALL
    per_agent: dict[str, Aggregate] = Field(default_factory=dict)
    per_tool: dict[str, Aggregate] = Field(default_factory=dict)
    per_dialect: dict[str, Aggregate] = Field(default_factory=dict)


class EvalReport(_Model):
    """Every result and the summary (the JSON report)."""

    results: list[EvalResult]
    summary: EvalSummary


# -- loading -------------------------------------------------------------------------------------------


def _scenario_dirs(folder: Path | None) -> list[Path]:
    if folder is None:
        root = importlib.resources.files("dbsage.evals") / "scenarios"
        base = Path(str(root))
    else:
        base = folder
        if not base.is_dir():
            raise InputError(f"{base}: not a folder of scenarios", hint="give a folder holding <name>/scenario.toml")
        if (base / "scenario.toml").is_file():
            return [base]
    dirs = sorted(d for d in base.iterdir() if (d / "scenario.toml").is_file())
    if not dirs:
        raise InputError(f"{base}: no scenarios found", hint="each scenario is a folder <name>/ with scenario.toml")
    return dirs


def load_scenario(folder: Path) -> Scenario:
    """Read and validate one scenario folder; InputError naming the file and the problem."""
    path = folder / "scenario.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    try:
        scenario = Scenario.model_validate({**data, "folder": folder})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InputError(f"{path}: {problems}", hint="see the scenario format in the README") from None
    if not scenario.dialects:
        raise InputError(f"{path}: dialects is empty", hint="list the dialects it runs on, e.g. [\"postgres\"]")
    for dialect in scenario.dialects:
        if not (folder / f"setup.{dialect}.sql").is_file():
            raise InputError(f"{path}: dialect {dialect!r} has no setup.{dialect}.sql beside it")
    entries: list[Expected | Forbidden] = [*scenario.expected, *scenario.forbidden]
    for index, entry in enumerate(entries):
        if entry.sql_pattern is not None:
            try:
                re.compile(entry.sql_pattern)
            except re.error as exc:
                raise InputError(f"{path}: entry {index + 1}: bad sql_pattern {entry.sql_pattern!r}: {exc}",
                                 hint="sql_pattern is a Python regular expression") from None
    for index, forbidden in enumerate(scenario.forbidden):
        if forbidden.sql_pattern is None and forbidden.category is None and forbidden.object is None:
            raise InputError(f"{path}: forbidden entry {index + 1} is empty (it would match everything)")
    return scenario


def load_scenarios(folder: Path | None = None) -> list[Scenario]:
    """Every scenario in `folder` (or the folder itself when it is one scenario); None: the built-in set."""
    scenarios = [load_scenario(d) for d in _scenario_dirs(folder)]
    seen: set[str] = set()
    for scenario in scenarios:
        if scenario.name in seen:
            raise InputError(f"two scenarios are named {scenario.name!r}", hint="scenario names must be unique")
        seen.add(scenario.name)
    return scenarios


# -- running -------------------------------------------------------------------------------------------


def _task(scenario: Scenario, dialect: EvalDialect, url: str, run: str, workdir: Path) -> Task:
    assert scenario.folder is not None
    files = sorted(p for p in scenario.folder.iterdir()
                   if p.is_file() and p.name != "scenario.toml" and not p.name.startswith("setup."))
    needs_scratch = scenario.effects is not None and (scenario.effects.reaudit_clean
                                                      or scenario.effects.max_lock_wait_ms is not None)
    config = write_config(workdir / f"{scenario.name}.{dialect}.dbsage.toml", url, scratch=needs_scratch)
    return Task(scenario=scenario.name, dialect=dialect, prompt=scenario.task.replace("{{run}}", run),
                config_path=config, url=url, files=files, tools=scenario.tools)


def _describe(entry: BaseModel) -> str:
    return ", ".join(f"{k}={v}" for k, v in entry.model_dump(exclude_none=True).items())


def run_one(scenario: Scenario, dialect: EvalDialect, agent: Agent, *, servers: dict[str, str], workdir: Path,
            min_recall: float = DEFAULT_MIN_RECALL) -> EvalResult:
    """Create the database, run the agent, score it, check effects, drop the database."""
    started = time.monotonic()
    # A run that errors still counts its expected entries (as missed) in the micro-averaged recall.
    base = EvalResult(scenario=scenario.name, dialect=dialect, agent=agent.name, tools=scenario.tools,
                      control=scenario.control, expected=sum(1 for e in scenario.expected if applies(e, dialect)))
    run = new_run_prefix()
    try:
        with scenario_database(scenario, dialect, run=run, workdir=workdir, servers=servers) as url:
            answer: AgentResult = agent.run(_task(scenario, dialect, url, run, workdir))
            result = score(scenario, dialect, answer.recommendations)
            checks: list[EffectCheck] = []
            if answer.error is None:
                try:
                    checks = check_effects(scenario, dialect, url, answer.recommendations)
                except Exception as exc:  # an effect check that cannot run fails the scenario, loudly
                    checks = [EffectCheck(name="effects", passed=False, detail=f"{type(exc).__name__}: {exc}")]
    except Exception as exc:  # setup or agent failure: reported per result, the rest of the suite still runs
        return base.model_copy(update={"error": f"{type(exc).__name__}: {str(exc).strip()[:500]}",
                                       "seconds": round(time.monotonic() - started, 2)})
    ok = answer.error is None and scenario_passed(scenario, result, min_recall=min_recall,
                                                  effects_ok=effects_ok(checks))
    return base.model_copy(update={
        "expected": result.expected, "matched": result.matched, "recall": round(result.recall, 4),
        "false_alarms": len(result.false_alarms), "forbidden_hits": len(result.forbidden_hits),
        "effects": checks, "passed": ok, "tool_calls": answer.tool_calls, "tokens": answer.tokens,
        "seconds": round(time.monotonic() - started, 2), "error": answer.error,
        "missed": [_describe(e) for e in result.missed], "false_alarm_list": result.false_alarms,
        "forbidden_hit_list": result.forbidden_hits,
    })


def _aggregate(results: list[EvalResult], into: Aggregate) -> Aggregate:
    for r in results:
        into.runs += 1
        into.passed += int(r.passed)
        into.expected += r.expected
        into.matched += r.matched
        into.false_alarms += r.false_alarms
        into.forbidden_hits += r.forbidden_hits
        into.errors += int(r.error is not None)
        into.tool_calls += r.tool_calls
        into.tokens += r.tokens
        into.seconds = round(into.seconds + r.seconds, 2)
    into.recall = round(into.matched / into.expected, 4) if into.expected else 1.0
    return into


def summarize(results: list[EvalResult], *, min_recall: float = DEFAULT_MIN_RECALL) -> EvalSummary:
    """Micro-averaged totals overall and per agent, tool and dialect."""
    summary = _aggregate(results, EvalSummary(min_recall=min_recall))
    assert isinstance(summary, EvalSummary)
    summary.control_false_alarms = sum(r.false_alarms for r in results if r.control)
    groups: dict[str, dict[str, list[EvalResult]]] = {"agent": {}, "tool": {}, "dialect": {}}
    for r in results:
        groups["agent"].setdefault(r.agent, []).append(r)
        groups["dialect"].setdefault(r.dialect, []).append(r)
        for tool in r.tools:
            groups["tool"].setdefault(tool, []).append(r)
    summary.per_agent = {k: _aggregate(v, Aggregate()) for k, v in sorted(groups["agent"].items())}
    summary.per_tool = {k: _aggregate(v, Aggregate()) for k, v in sorted(groups["tool"].items())}
    summary.per_dialect = {k: _aggregate(v, Aggregate()) for k, v in sorted(groups["dialect"].items())}
    return summary


def run_eval(scenarios: list[Scenario], agent: Agent, dialects: list[EvalDialect] | None = None, jobs: int = 1,
             *, postgres_dsn: str | None = None, mysql_dsn: str | None = None,
             min_recall: float = DEFAULT_MIN_RECALL, progress: Callable[[EvalResult], Any] | None = None,
             ) -> EvalReport:
    """Run every (scenario, dialect) pair (restricted to `dialects` when given) with `jobs` workers."""
    if jobs < 1:
        raise InputError(f"--jobs must be at least 1, not {jobs}")
    wanted = set(dialects or DIALECTS)
    pairs = [(s, d) for s in scenarios for d in s.dialects if d in wanted]
    servers = server_dsns(postgres_dsn, mysql_dsn)
    with tempfile.TemporaryDirectory(prefix="dbsage-eval-") as tmp:
        workdir = Path(tmp)

        def one(pair: tuple[Scenario, EvalDialect]) -> EvalResult:
            result = run_one(pair[0], pair[1], agent, servers=servers, workdir=workdir, min_recall=min_recall)
            if progress is not None:
                progress(result)
            return result

        if jobs == 1:
            results = [one(p) for p in pairs]
        else:
            pool = ThreadPoolExecutor(max_workers=jobs)
            try:
                futures = [pool.submit(one, p) for p in pairs]
                results = [f.result() for f in futures]
            except BaseException:
                # Ctrl-C: start nothing new; running pairs finish and drop their databases.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown()
    return EvalReport(results=results, summary=summarize(results, min_recall=min_recall))

"""The eval suite's shapes: scenarios as read from disk, the task an agent gets, what it answers, how it scored.

A scenario is a folder `<name>/` holding `scenario.toml` and a `setup.<dialect>.sql` per dialect it runs
on (the public format: anyone can add one without Python). The runner creates a fresh database per
(scenario, dialect), runs the setup, hands the agent a Task, and scores the Recommendations it returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

EvalDialect = Literal["postgres", "mysql", "sqlite"]
SeverityName = Literal["blocker", "high", "medium", "low", "info"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expected(_Model):
    """What a correct answer must recommend: every key given must hold (AND)."""

    category: str | None = None
    object: str | None = Field(default=None, description="Matches an object whose dot-separated parts end with it")
    severity_at_least: SeverityName | None = None
    sql_pattern: str | None = Field(default=None, description="Regex the recommendation's SQL must match")
    dialects: list[EvalDialect] | None = None


class Forbidden(_Model):
    """What a correct answer must never recommend: every key given must hold (AND) for a hit."""

    sql_pattern: str | None = None
    category: str | None = None
    object: str | None = None
    dialects: list[EvalDialect] | None = None


class Effects(_Model):
    """Measured on a scratch copy after applying the recommended SQL."""

    workload: list[str] = Field(default_factory=list)
    max_relative_cost: float | None = None
    reaudit_clean: bool = False
    max_lock_wait_ms: float | None = None


class Scenario(_Model):
    """scenario.toml, plus where it was read from."""

    name: str
    description: str = ""
    dialects: list[EvalDialect]
    task: str
    tools: list[str] = Field(default_factory=list, description="Hint: the tools a scripted agent should use")
    expected: list[Expected] = Field(default_factory=list)
    forbidden: list[Forbidden] = Field(default_factory=list)
    effects: Effects | None = None
    control: bool = Field(default=False, description="A clean database: any medium-or-worse recommendation fails")
    folder: Path | None = Field(default=None, exclude=True)


class Recommendation(_Model):
    """One thing the agent recommends (the anthropic agent ends its answer with a JSON list of these)."""

    category: str
    object: str
    severity: SeverityName = "medium"
    action: str = ""
    sql: str | None = None


class Task(_Model):
    """What an agent is given for one (scenario, dialect) run."""

    scenario: str
    dialect: EvalDialect
    prompt: str = Field(description="The task as the user typed it")
    database: str = Field(default="app", description="The configured database name the agent uses")
    config_path: Path = Field(description="A dbsage.toml naming the scenario's database (for `dbsage serve`)")
    url: str = Field(description="The database URL (for in-process agents; never shown to an LLM)")
    files: list[Path] = Field(default_factory=list, description="Files beside the scenario the task refers to")
    tools: list[str] = Field(default_factory=list)


class AgentResult(_Model):
    """An agent's answer for one task, and what it cost."""

    recommendations: list[Recommendation] = Field(default_factory=list)
    tool_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    error: str | None = None
    transcript: list[dict[str, object]] = Field(default_factory=list, description="For replay")


class Agent(Protocol):
    """Anything that turns a Task into recommendations."""

    name: str

    def run(self, task: Task) -> AgentResult: ...

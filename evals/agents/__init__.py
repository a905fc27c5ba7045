"""The agents the eval suite can run, by name: `get_agent("scripted" | "anthropic" | "replay", **options)`."""

from __future__ import annotations

from typing import Any

from dbsage.evals.model import Agent
from dbsage.tools.errors import InputError

AGENT_NAMES = ("scripted", "anthropic", "replay")


def get_agent(name: str, **options: Any) -> Agent:
    """Build the named agent; options go to its constructor (unknown names or options raise InputError)."""
    try:
        if name == "scripted":
            from dbsage.evals.agents.scripted import ScriptedAgent

            return ScriptedAgent(**options)
        if name == "anthropic":
            from dbsage.evals.agents.anthropic_agent import AnthropicAgent

            return AnthropicAgent(**options)
        if name == "replay":
            from dbsage.evals.agents.replay import ReplayAgent

            return ReplayAgent(**options)
    except TypeError as exc:
        raise InputError(f"bad option for agent {name!r}: {exc}") from exc
    raise InputError(f"unknown agent {name!r}; choose one of: {', '.join(AGENT_NAMES)}")

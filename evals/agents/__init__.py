"""The agents the eval suite can run, by name: `get_agent("scripted" | "anthropic" | "replay", **options)`."""

from __future__ import annotations

import inspect
from typing import Any

from dbsage.evals.model import Agent
from dbsage.tools.errors import InputError

AGENT_NAMES = ("scripted", "anthropic", "replay")


def _agent_class(name: str) -> type[Any]:
    if name == "scripted":
        from dbsage.evals.agents.scripted import ScriptedAgent

        return ScriptedAgent
    if name == "anthropic":
        from dbsage.evals.agents.anthropic_agent import AnthropicAgent

        return AnthropicAgent
    if name == "replay":
        from dbsage.evals.agents.replay import ReplayAgent

        return ReplayAgent
    raise InputError(f"unknown agent {name!r}", hint=f"choose one of: {', '.join(AGENT_NAMES)}")


def get_agent(name: str, **options: Any) -> Agent:
    """Build the named agent; options go to its constructor (unknown names or options raise InputError).

    Options left unset (None or False) are dropped, so a CLI can pass every flag it has and each agent keeps
    its defaults; a flag set for an agent that does not take it (`--no-tools` with scripted) is an InputError.
    """
    cls = _agent_class(name)
    given = {key: value for key, value in options.items() if value is not None and value is not False}
    try:
        inspect.signature(cls).bind(**given)
    except TypeError as exc:
        raise InputError(f"bad option for agent {name!r}: {exc}", hint="see `dbsage eval --help`") from exc
    agent: Agent = cls(**given)
    return agent

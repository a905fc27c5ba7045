"""Reads the recommendations an LLM's final answer ends with: a fenced ```json block, else the last JSON array."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from dbsage.evals.model import Recommendation

ANSWER_INSTRUCTION = """\
## Answer format for this session

End your answer with a fenced ```json block holding a JSON list of your recommendations, one object per
recommendation, most important first:
{"category": "schema|index|query|migration|security|performance|operations",
 "object": "the object it is about, dot-separated: schema.table, schema.table.column, an index or role name",
 "severity": "blocker|high|medium|low|info", "action": "one sentence", "sql": "the statement that fixes it, or null"}
Write `[]` when there is nothing to recommend. Put nothing after the block."""

_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_SEVERITY_ALIASES = {"critical": "blocker", "warning": "medium", "warn": "medium", "moderate": "medium",
                     "error": "high", "minor": "low", "information": "info", "informational": "info"}
_FIELDS = set(Recommendation.model_fields)


@dataclass
class ParsedAnswer:
    """The recommendations read from an answer, and what could not be read (empty when all was well)."""

    recommendations: list[Recommendation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return "; ".join(self.problems) if self.problems else None


def _arrays_in(text: str) -> list[Any]:
    """Every top-level JSON array in the text, in order (nested arrays are part of their parent)."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    position = text.find("[")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            position = text.find("[", position + 1)
            continue
        if isinstance(value, list):
            found.append(value)
        position = text.find("[", end)
    return found


def _find_list(text: str) -> tuple[list[Any] | None, str | None]:
    fenced = _FENCE.findall(text)
    for block in reversed(fenced):
        try:
            value = json.loads(block)
        except json.JSONDecodeError as exc:
            if block.lstrip().startswith("["):
                return None, f"the final ```json block is not valid JSON ({exc.msg} at line {exc.lineno})"
            continue
        if isinstance(value, list):
            return value, None
        if isinstance(value, dict) and isinstance(value.get("recommendations"), list):
            return value["recommendations"], None
    arrays = _arrays_in(text)
    for value in reversed(arrays):
        if not value or all(isinstance(item, dict) for item in value):
            return value, None
    return None, "the answer holds no JSON list of recommendations"


def _recommendation(item: Any) -> Recommendation:
    if not isinstance(item, dict):
        raise ValueError(f"not an object: {json.dumps(item)[:80]}")
    fields: dict[str, Any] = {key: value for key, value in item.items() if key in _FIELDS}
    for key in ("category", "severity"):
        if isinstance(fields.get(key), str):
            fields[key] = fields[key].strip().lower()
    if isinstance(fields.get("severity"), str):
        fields["severity"] = _SEVERITY_ALIASES.get(fields["severity"], fields["severity"])
    if fields.get("sql") in ("", None):
        fields["sql"] = None
    elif isinstance(fields.get("sql"), list):
        fields["sql"] = "\n".join(str(part) for part in fields["sql"])
    if fields.get("action") is None:
        fields.pop("action", None)
    try:
        return Recommendation.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "item"
        raise ValueError(f"{where}: {first['msg']}") from exc


def parse_answer(text: str) -> ParsedAnswer:
    """The recommendations in an answer; malformed answers and items become problems, never exceptions."""
    items, problem = _find_list(text)
    if items is None:
        return ParsedAnswer(problems=[problem or "no recommendations found"])
    parsed = ParsedAnswer()
    for number, item in enumerate(items, start=1):
        try:
            parsed.recommendations.append(_recommendation(item))
        except ValueError as exc:
            parsed.problems.append(f"recommendation {number} dropped: {exc}")
    return parsed

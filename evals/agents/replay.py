"""The replay agent: re-scores a recorded transcript (`<scenario>.<dialect>.json`) without calling any model."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dbsage.evals.agents.answer import parse_answer
from dbsage.evals.model import AgentResult, Recommendation, Task
from dbsage.tools.errors import InputError

TRANSCRIPT_FORMAT = 1


def transcript_path(transcripts_dir: Path, task: Task) -> Path:
    """Where the transcript of one (scenario, dialect) run lives."""
    return transcripts_dir / f"{task.scenario}.{task.dialect}.json"


def final_text(transcript: dict[str, Any]) -> str:
    """The text of the last model response in a transcript ("" when there is none)."""
    for entry in reversed(transcript.get("exchanges", [])):
        response = entry.get("response") if isinstance(entry, dict) else None
        if isinstance(response, dict):
            return "".join(
                str(block.get("text", "")) for block in response.get("content", [])
                if isinstance(block, dict) and block.get("type") == "text"
            )
    return ""


class ReplayAgent:
    """Returns the recommendations a recorded run gave, with the cost (tool calls, tokens, seconds) it measured."""

    name = "replay"

    def __init__(self, transcripts_dir: Path | str | None = None) -> None:
        if transcripts_dir is None:
            raise InputError("the replay agent needs a transcripts folder", hint="pass --transcripts DIR")
        self.transcripts_dir = Path(transcripts_dir)
        if not self.transcripts_dir.is_dir():
            raise InputError(
                f"transcripts folder {self.transcripts_dir} does not exist",
                hint="record one with the anthropic agent and its transcripts_dir option",
            )

    def run(self, task: Task) -> AgentResult:
        started = time.monotonic()
        path = transcript_path(self.transcripts_dir, task)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            return AgentResult(error=f"no transcript {path.name} in {self.transcripts_dir}")
        except (OSError, ValueError) as exc:
            return AgentResult(error=f"transcript {path.name} is unreadable: {exc}")
        error = data.get("error") if isinstance(data.get("error"), str) else None
        recorded = data.get("recommendations")
        if isinstance(recorded, list):
            try:
                recommendations = [Recommendation.model_validate(item) for item in recorded]
            except ValidationError as exc:
                return AgentResult(error=f"transcript {path.name}: bad recommendation: {exc.errors()[0]['msg']}")
        else:
            parsed = parse_answer(final_text(data))
            recommendations, error = parsed.recommendations, error or parsed.error
        return AgentResult(
            recommendations=recommendations,
            tool_calls=int(data.get("tool_calls", 0)),
            tokens=int(data.get("tokens", 0)),
            seconds=float(data.get("seconds", time.monotonic() - started)),
            error=error,
            transcript=[entry for entry in data.get("exchanges", []) if isinstance(entry, dict)],
        )

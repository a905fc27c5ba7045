"""The anthropic agent: Claude through the Messages API, with dbsage's MCP server (stdio) as its tools.

One run: spawn `dbsage serve --config <task config>`, list its tools, convert them to Messages API tool
definitions, then loop messages.create -> tool_use -> MCP call_tool -> tool_result until the model stops
asking for tools or the turn limit, and parse the JSON list of recommendations its final answer ends with.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
from anthropic import AsyncAnthropic
from anthropic.types import Message
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import CallToolResult, TextContent, Tool

from dbsage.evals.agents.answer import ANSWER_INSTRUCTION, parse_answer
from dbsage.evals.agents.replay import TRANSCRIPT_FORMAT, transcript_path
from dbsage.evals.model import AgentResult, Task
from dbsage.tools.errors import InputError

DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_MAX_TURNS = 12
DEFAULT_MAX_TOKENS = 16_000  # thinking and answer together; below the SDK's non-streaming ceiling
# A tool result larger than this is cut (the text summary comes first, so the cut falls on the JSON copy).
MAX_TOOL_RESULT_CHARS = 60_000
MAX_FILE_CHARS = 40_000
NO_TOOLS_NOTE = "In this session you have no tools: answer from the task and its files alone."
LAST_TURN_NOTE = "Turn limit reached: no more tool calls. Give your final answer now, ending with the JSON list."


def persona() -> str:
    """agent_prompt.md as dbsage.knowledge ships it."""
    return resources.files("dbsage.knowledge").joinpath("agent_prompt.md").read_text(encoding="utf-8")


def system_prompt(*, no_tools: bool) -> str:
    """The persona, the answer format, and (without tools) the note that there are none."""
    parts = [persona().rstrip(), ANSWER_INSTRUCTION]
    if no_tools:
        parts.append(NO_TOOLS_NOTE)
    return "\n\n".join(parts)


def tool_definition(tool: Tool) -> dict[str, Any]:
    """An MCP tool as a Messages API tool definition (name, description, input_schema)."""
    schema = {key: value for key, value in tool.input_schema.items() if key != "$schema"}
    schema.setdefault("type", "object")
    return {"name": tool.name, "description": tool.description or tool.title or tool.name, "input_schema": schema}


def user_message(task: Task) -> str:
    """The task as the user typed it, which database to use, and the files it refers to."""
    lines = [task.prompt.strip(), "", f'The database is configured in dbsage as "{task.database}" ({task.dialect}).']
    for path in task.files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"task file {path} is unreadable: {exc}") from exc
        if len(text) > MAX_FILE_CHARS:
            text = text[:MAX_FILE_CHARS] + "\n[... cut ...]"
        lines += ["", f"File {path.name}:", "```", text.rstrip(), "```"]
    return "\n".join(lines)


def tool_result_block(tool_use_id: str, result: CallToolResult) -> dict[str, Any]:
    """An MCP call result as a tool_result block: the text summary, then the structured report as JSON."""
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    if result.structured_content is not None:
        texts.append("Structured result (JSON):\n" + json.dumps(result.structured_content, separators=(",", ":")))
    text = "\n\n".join(texts) or "(empty result)"
    if len(text) > MAX_TOOL_RESULT_CHARS:
        text = text[:MAX_TOOL_RESULT_CHARS] + "\n[... cut: narrow the call (schema, table, min_severity) ...]"
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": text, "is_error": bool(result.is_error)}


def error_result_block(tool_use_id: str, message: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": message, "is_error": True}


def assistant_content(response: Message) -> list[dict[str, Any]]:
    """A response's content blocks as they are sent back in the next request."""
    blocks: list[dict[str, Any]] = []
    for block in response.content:
        if block.type == "text":
            blocks.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            blocks.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
        else:
            blocks.append(block.model_dump(mode="json", exclude_none=True))
    return blocks


def _mark_cache(message: dict[str, Any]) -> dict[str, Any] | None:
    """Mark the newest message's last block as a prompt-cache breakpoint (the history is re-sent every turn)."""
    content = message.get("content")
    if isinstance(content, list) and content and isinstance(content[-1], dict):
        block: dict[str, Any] = content[-1]
        block["cache_control"] = {"type": "ephemeral"}
        return block
    return None


def response_tokens(response: Message) -> int:
    usage = response.usage
    cached = (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
    return usage.input_tokens + usage.output_tokens + cached


def describe(exc: BaseException) -> str:
    """One line for a failure, looking inside the exception groups anyio's task groups wrap errors in."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def serve_command() -> list[str]:
    """`dbsage` beside this interpreter (the venv's), else on PATH, else `python -m dbsage.server`."""
    beside = Path(sys.executable).parent / "dbsage"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("dbsage")
    return [found] if found else [sys.executable, "-m", "dbsage.server"]


class AnthropicAgent:
    """Claude with dbsage's tools over a real MCP stdio session (or, with no_tools, the persona alone)."""

    name = "anthropic"

    def __init__(
        self,
        *,
        model: str | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        no_tools: bool = False,
        transcripts_dir: Path | str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        timeout: float = 300.0,
    ) -> None:
        self.model = model or os.environ.get("DBSAGE_EVAL_MODEL") or DEFAULT_MODEL
        if max_turns < 1:
            raise InputError(f"max_turns must be at least 1, got {max_turns}")
        self.max_turns = max_turns
        self.no_tools = no_tools
        self.transcripts_dir = Path(transcripts_dir) if transcripts_dir is not None else None
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            if base_url is None:
                raise InputError(
                    "the anthropic agent needs an API key: set ANTHROPIC_API_KEY",
                    hint="export ANTHROPIC_API_KEY=... (or run --agent scripted, which needs no model)",
                )
            key = "dbsage-stub"  # a local stub of the Messages API does not check it
        self._api_key = key
        self.max_tokens = max_tokens
        self.timeout = timeout
        if self.no_tools:
            self.name = "anthropic-no-tools"

    def run(self, task: Task) -> AgentResult:
        started = time.monotonic()
        record: dict[str, Any] = {
            "format": TRANSCRIPT_FORMAT, "agent": self.name, "model": self.model, "scenario": task.scenario,
            "dialect": task.dialect, "no_tools": self.no_tools, "exchanges": [],
        }
        try:
            result = anyio.run(self._run, task, user_message(task), record)
        except Exception as exc:  # the model API or the MCP server failed: this task fails, the suite goes on
            error = describe(exc)
            if "Connection closed" in error and not self.no_tools:
                error += f" (`dbsage serve --config {task.config_path}` exited: its stderr says why)"
            result = AgentResult(error=error, tool_calls=record.get("tool_calls", 0),
                                 tokens=record.get("tokens", 0))
        result.seconds = time.monotonic() - started
        result.transcript = list(record["exchanges"])
        self._save(task, record, result)
        return result

    async def _run(self, task: Task, prompt: str, record: dict[str, Any]) -> AgentResult:
        if self.no_tools:
            return await self._loop(prompt, record, None, [])
        params = StdioServerParameters(
            command=serve_command()[0], args=[*serve_command()[1:], "serve", "--config", str(task.config_path)],
            cwd=str(task.config_path.parent),
        )
        async with Client(params) as session:
            listed = (await session.list_tools()).tools
            tools = [tool_definition(tool) for tool in listed]
            return await self._loop(prompt, record, session, tools)

    async def _loop(
        self, prompt: str, record: dict[str, Any], session: Client | None, tools: list[dict[str, Any]]
    ) -> AgentResult:
        client = AsyncAnthropic(api_key=self._api_key, base_url=self.base_url, timeout=self.timeout)
        system = system_prompt(no_tools=self.no_tools)
        record["system"] = system
        record["tools"] = tools
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        record["tool_calls"] = record["tokens"] = 0
        async with client:
            for turn in range(self.max_turns):
                request: dict[str, Any] = {
                    "model": self.model, "max_tokens": self.max_tokens, "messages": messages,
                    "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                }
                if tools:
                    request["tools"] = tools
                    if turn == self.max_turns - 1:
                        request["tool_choice"] = {"type": "none"}
                marked = _mark_cache(messages[-1])
                try:
                    response = await client.messages.create(**request)
                finally:
                    if marked is not None:
                        marked.pop("cache_control", None)
                record["tokens"] += response_tokens(response)
                exchange: dict[str, Any] = {"request": messages[-1], "response": response.model_dump(mode="json")}
                record["exchanges"].append(exchange)
                messages.append({"role": "assistant", "content": assistant_content(response)})
                if response.stop_reason != "tool_use" or session is None:
                    return self._answer(response, record)
                if turn == self.max_turns - 1:
                    break
                results = [await self._call(session, block.id, block.name, block.input, record)
                           for block in response.content if block.type == "tool_use"]
                content: list[dict[str, Any]] = list(results)
                if turn == self.max_turns - 2:
                    content.append({"type": "text", "text": LAST_TURN_NOTE})
                messages.append({"role": "user", "content": content})
        return AgentResult(error=f"no final answer within {self.max_turns} turns", tool_calls=record["tool_calls"],
                           tokens=record["tokens"])

    async def _call(
        self, session: Client, tool_use_id: str, name: str, arguments: object, record: dict[str, Any]
    ) -> dict[str, Any]:
        record["tool_calls"] += 1
        if not isinstance(arguments, dict):
            return error_result_block(tool_use_id, "tool input must be a JSON object")
        try:
            result = await session.call_tool(name, arguments)
        except Exception as exc:  # an unknown tool or a protocol error goes back to the model as an error
            return error_result_block(tool_use_id, f"{name} failed: {exc}")
        return tool_result_block(tool_use_id, result)

    def _answer(self, response: Message, record: dict[str, Any]) -> AgentResult:
        text = "".join(block.text for block in response.content if block.type == "text")
        parsed = parse_answer(text)
        error = parsed.error
        if response.stop_reason == "max_tokens":
            error = f"answer cut at max_tokens ({self.max_tokens}); " + (error or "the list may be incomplete")
        return AgentResult(recommendations=parsed.recommendations, tool_calls=record["tool_calls"],
                           tokens=record["tokens"], error=error)

    def _save(self, task: Task, record: dict[str, Any], result: AgentResult) -> None:
        if self.transcripts_dir is None:
            return
        record.update(
            recommendations=[r.model_dump(mode="json") for r in result.recommendations],
            tool_calls=result.tool_calls, tokens=result.tokens, seconds=round(result.seconds, 3), error=result.error,
        )
        self.transcripts_dir.mkdir(parents=True, exist_ok=True)
        path = transcript_path(self.transcripts_dir, task)
        path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")

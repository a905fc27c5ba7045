"""The anthropic agent end to end without network: a local stub of the Messages API replays recorded responses,
the tools are dbsage's real MCP server over stdio against a real database; plus answer parsing and replay."""

from __future__ import annotations

import json
import re
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dbsage.evals.agents import get_agent
from dbsage.evals.agents.answer import parse_answer
from dbsage.evals.agents.anthropic_agent import LAST_TURN_NOTE, NO_TOOLS_NOTE, AnthropicAgent
from dbsage.evals.agents.replay import ReplayAgent
from dbsage.evals.model import Recommendation, Task
from dbsage.tools.errors import InputError
from tests.conftest import PostgresFactory, SqliteFactory

RECORDED = Path(__file__).parent / "data" / "eval_transcripts"
SIX_TOOLS = [
    "inspect_schema", "explain_query", "suggest_indexes", "plan_migration", "audit_security", "checklist_review",
]
FK_SCHEMA = """
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id), total numeric);
CREATE TABLE audit_log (at timestamptz NOT NULL, what text);
"""


class MessagesStub:
    """POST /v1/messages on 127.0.0.1: records each request body and answers with the next recorded response."""

    def __init__(self, responses: list[dict[str, Any]]) -> None:
        self.responses = list(responses)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.split("?")[0] != "/v1/messages" or not stub.responses:
                    self.send_response(404 if stub.responses else 500)
                    self.end_headers()
                    return
                stub.requests.append(body)
                stub.headers.append({key.lower(): value for key, value in self.headers.items()})
                payload = json.dumps(stub.responses.pop(0)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> MessagesStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def text_response(text: str, *, stop_reason: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_stub", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": text}], "stop_reason": stop_reason, "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 20},
    }


def tool_response(name: str, arguments: dict[str, Any], tool_id: str = "toolu_1") -> dict[str, Any]:
    response = text_response("")
    response["content"] = [{"type": "tool_use", "id": tool_id, "name": name, "input": arguments}]
    response["stop_reason"] = "tool_use"
    return response


def task_for(url: str, tmp_path: Path, *, scenario: str = "stub_fk_index", dialect: str = "postgres") -> Task:
    config = tmp_path / "dbsage.toml"
    config.write_text(f'[databases.app]\nurl = "{url}"\n', encoding="utf-8")
    return Task.model_validate({
        "scenario": scenario, "dialect": dialect, "prompt": "Review the database app and tell me what to fix.",
        "config_path": config, "url": url,
    })


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "DBSAGE_EVAL_MODEL"):
        monkeypatch.delenv(name, raising=False)
    yield


# --- the whole loop against the stub --------------------------------------------------------------------


def test_stub_end_to_end_with_real_mcp_tools(postgres_db: PostgresFactory, tmp_path: Path, no_key: None) -> None:
    url = postgres_db(FK_SCHEMA)
    task = task_for(url, tmp_path)
    recorded = json.loads((RECORDED / "fk_index.responses.json").read_text(encoding="utf-8"))
    transcripts = tmp_path / "transcripts"
    with MessagesStub(recorded) as stub:
        agent = get_agent("anthropic", base_url=stub.url, transcripts_dir=transcripts, model="claude-test-model")
        result = agent.run(task)

    assert result.error is None, result.error
    assert len(stub.requests) == 2
    first, second = stub.requests
    # The tools are dbsage's own, converted from the MCP listing.
    assert [tool["name"] for tool in first["tools"]] == SIX_TOOLS
    assert all(tool["input_schema"]["type"] == "object" and tool["description"] for tool in first["tools"])
    assert "database" in first["tools"][0]["input_schema"]["properties"]
    assert first["model"] == "claude-test-model"
    system = first["system"][0]["text"]
    assert "senior data engineer" in system and "JSON list" in system
    assert '"app" (postgres)' in first["messages"][0]["content"]
    assert url not in json.dumps(first)  # the URL is for in-process agents, never the model
    sent_key = stub.headers[0].get("x-api-key", "") + stub.headers[0].get("authorization", "")
    assert "dbsage-stub" in sent_key

    # The second request carries the assistant's tool_use turn and the real MCP results.
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    thinking, said, *uses = second["messages"][1]["content"]
    assert thinking == {"type": "thinking", "thinking": "Start with the schema.", "signature": "sig-stub-01"}
    assert said == {"type": "text", "text": "I will read the schema first."}
    assert [u["input"] for u in uses] == [{"database": "app"}, {"database": "not_configured"}]
    ok, failed = second["messages"][2]["content"]
    assert ok["type"] == "tool_result" and ok["tool_use_id"] == "toolu_stub_01" and ok["is_error"] is False
    assert ok["content"].startswith("inspect_schema of app (postgres")
    assert "index.fk_without_index" in ok["content"] and "public.orders" in ok["content"]
    structured = json.loads(ok["content"].split("Structured result (JSON):\n", 1)[1])
    assert any(f["rule_id"] == "index.fk_without_index" for f in structured["findings"])
    assert failed["tool_use_id"] == "toolu_stub_02" and failed["is_error"] is True
    assert "not_configured" in failed["content"]
    # Prompt caching: the tools and persona once, then the newest history block each turn.
    assert first["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert failed["cache_control"] == {"type": "ephemeral"} and "cache_control" not in ok

    # The final answer's JSON list, severity alias and empty sql normalised.
    assert result.recommendations == [
        Recommendation(category="index", object="public.orders.customer_id", severity="high",
                       action="Index the foreign key orders.customer_id",
                       sql="CREATE INDEX CONCURRENTLY idx_orders_customer_id ON public.orders (customer_id);"),
        Recommendation(category="schema", object="public.audit_log", severity="medium", action="Add a primary key"),
    ]
    assert result.tool_calls == 2
    assert result.tokens == 5210 + 96 + 3735 + 412 + 4000
    assert result.seconds > 0 and len(result.transcript) == 2

    # Saved as a transcript; the replay agent re-scores it without any model.
    saved = json.loads((transcripts / "stub_fk_index.postgres.json").read_text(encoding="utf-8"))
    assert saved["model"] == "claude-test-model" and saved["tool_calls"] == 2 and len(saved["exchanges"]) == 2
    assert [t["name"] for t in saved["tools"]] == SIX_TOOLS
    replayed = get_agent("replay", transcripts_dir=transcripts).run(task)
    assert replayed.error is None
    assert replayed.recommendations == result.recommendations
    assert (replayed.tool_calls, replayed.tokens) == (result.tool_calls, result.tokens)
    assert replayed.seconds == saved["seconds"] == round(result.seconds, 3)


def test_turn_limit_forbids_tools_on_the_last_turn(sqlite_db: SqliteFactory, tmp_path: Path, no_key: None) -> None:
    url = sqlite_db("CREATE TABLE t (a integer);")
    task = task_for(url, tmp_path, dialect="sqlite")
    responses = [tool_response("inspect_schema", {"database": "app"}), tool_response("nonexistent_tool", {})]
    with MessagesStub(responses) as stub:
        result = AnthropicAgent(base_url=stub.url, max_turns=2).run(task)
    assert len(stub.requests) == 2
    assert "tool_choice" not in stub.requests[0]
    assert stub.requests[1]["tool_choice"] == {"type": "none"}
    last_user = stub.requests[1]["messages"][-1]["content"]
    assert last_user[-1]["type"] == "text" and last_user[-1]["text"] == LAST_TURN_NOTE
    assert last_user[0]["is_error"] is False and "inspect_schema of app (sqlite" in last_user[0]["content"]
    assert result.error == "no final answer within 2 turns"
    assert result.tool_calls == 1 and result.recommendations == []


def test_no_tools_sends_no_tools_and_a_malformed_answer_is_an_error(tmp_path: Path, no_key: None) -> None:
    migration = tmp_path / "migration.sql"
    migration.write_text("ALTER TABLE t ADD COLUMN b integer NOT NULL;\n", encoding="utf-8")
    task = task_for("sqlite:///unused.db", tmp_path, dialect="sqlite").model_copy(update={"files": [migration]})
    answer = 'Add an index.\n```json\n[{"category": "index", "object": "t.a", "severity": "high",]\n```'
    with MessagesStub([text_response(answer)]) as stub:
        result = get_agent("anthropic", base_url=stub.url, no_tools=True, transcripts_dir=tmp_path / "tr").run(task)
    (request,) = stub.requests
    assert "tools" not in request
    shown = "File migration.sql:\n```\nALTER TABLE t ADD COLUMN b integer NOT NULL;\n```"
    assert shown in request["messages"][0]["content"]
    assert NO_TOOLS_NOTE in request["system"][0]["text"]
    assert result.recommendations == [] and result.tool_calls == 0 and result.tokens == 120
    assert result.error is not None and "not valid JSON" in result.error
    saved = json.loads((tmp_path / "tr" / "stub_fk_index.sqlite.json").read_text(encoding="utf-8"))
    assert saved["error"] == result.error and saved["no_tools"] is True


def test_api_failure_is_a_task_error_not_a_crash(tmp_path: Path, no_key: None) -> None:
    task = task_for("sqlite:///unused.db", tmp_path, dialect="sqlite")
    with MessagesStub([]) as stub:  # answers 500 to every request
        result = AnthropicAgent(base_url=stub.url, no_tools=True).run(task)
    assert result.error is not None and "500" in result.error
    assert result.recommendations == []


def test_server_that_cannot_start_is_a_task_error(tmp_path: Path, no_key: None) -> None:
    task = task_for("sqlite:///unused.db", tmp_path, dialect="sqlite")
    task.config_path.write_text("[databases.app]\nurl = 42\n", encoding="utf-8")  # dbsage serve refuses it
    with MessagesStub([text_response("[]")]) as stub:
        result = AnthropicAgent(base_url=stub.url).run(task)
    assert stub.requests == []
    assert result.error is not None and "ExceptionGroup" not in result.error
    assert f"dbsage serve --config {task.config_path}" in result.error
    assert result.recommendations == [] and result.tool_calls == 0


# --- configuration --------------------------------------------------------------------------------------


def test_missing_api_key_is_a_clear_input_error(no_key: None) -> None:
    with pytest.raises(InputError, match="set ANTHROPIC_API_KEY") as caught:
        get_agent("anthropic")
    assert caught.value.hint is not None and "scripted" in caught.value.hint


def test_model_from_environment_and_option(monkeypatch: pytest.MonkeyPatch, no_key: None) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("DBSAGE_EVAL_MODEL", "claude-from-env")
    assert AnthropicAgent().model == "claude-from-env"
    assert AnthropicAgent(model="claude-explicit").model == "claude-explicit"
    assert AnthropicAgent(no_tools=True).name == "anthropic-no-tools"


def test_registry_builds_each_agent_and_rejects_unknown_agents_and_options(tmp_path: Path, no_key: None) -> None:
    assert get_agent("scripted", no_tools=False, transcripts_dir=None, model=None).name == "scripted"
    with pytest.raises(InputError, match=r"bad option for agent 'scripted'.*no_tools"):
        get_agent("scripted", no_tools=True)
    assert get_agent("replay", transcripts_dir=tmp_path).name == "replay"
    built = get_agent("anthropic", base_url="http://127.0.0.1:9", model=None, max_turns=None, no_tools=False)
    assert isinstance(built, AnthropicAgent) and built.max_turns == 12 and built.model == "claude-sonnet-5-5"
    with pytest.raises(InputError, match="unknown agent 'gpt'") as caught:
        get_agent("gpt")
    assert caught.value.hint is not None and "scripted" in caught.value.hint
    with pytest.raises(InputError, match="bad option for agent 'replay'"):
        get_agent("replay", transcripts_dir=tmp_path, colour="red")
    with pytest.raises(InputError, match="does not exist"):
        get_agent("replay", transcripts_dir=tmp_path / "missing")


# --- replay ---------------------------------------------------------------------------------------------


def test_replay_reparses_the_final_text_and_reports_missing_transcripts(tmp_path: Path) -> None:
    recorded = json.loads((RECORDED / "fk_index.responses.json").read_text(encoding="utf-8"))
    transcript = {"format": 1, "tool_calls": 1, "tokens": 42, "exchanges": [{"response": r} for r in recorded]}
    (tmp_path / "stub_fk_index.postgres.json").write_text(json.dumps(transcript), encoding="utf-8")
    agent = ReplayAgent(transcripts_dir=tmp_path)
    result = agent.run(task_for("postgresql://x@127.0.0.1/none", tmp_path))
    assert [r.object for r in result.recommendations] == ["public.orders.customer_id", "public.audit_log"]
    assert (result.tool_calls, result.tokens, result.error) == (1, 42, None)
    missing = agent.run(task_for("sqlite:///x.db", tmp_path, dialect="sqlite"))
    assert missing.error == f"no transcript stub_fk_index.sqlite.json in {tmp_path}"
    (tmp_path / "stub_fk_index.sqlite.json").write_text("{not json", encoding="utf-8")
    broken = agent.run(task_for("sqlite:///x.db", tmp_path, dialect="sqlite"))
    assert broken.error is not None and "unreadable" in broken.error


def test_replay_of_committed_transcripts_meets_the_built_in_scenarios(tmp_path: Path) -> None:
    """Transcripts recorded through the real loop (hand-written answers, real tools) for two built-in scenarios."""
    scenarios = Path(__file__).parent.parent / "evals" / "scenarios"
    agent = get_agent("replay", transcripts_dir=RECORDED)
    fk = agent.run(task_for("postgresql://x@127.0.0.1/none", tmp_path, scenario="unindexed-fk-join"))
    expected = tomllib.loads((scenarios / "unindexed-fk-join" / "scenario.toml").read_text(encoding="utf-8"))
    (want,) = expected["expected"]
    (got,) = fk.recommendations
    assert fk.error is None and fk.tool_calls == 2
    assert got.category == want["category"] and got.object.endswith(want["object"])
    assert got.sql is not None and re.search(want["sql_pattern"], got.sql)
    clean = agent.run(task_for("postgresql://x@127.0.0.1/none", tmp_path, scenario="control-clean"))
    assert clean.error is None and clean.recommendations == [] and clean.tool_calls == 1
    recorded = json.loads((RECORDED / "unindexed-fk-join.postgres.json").read_text(encoding="utf-8"))
    results = [b for e in recorded["exchanges"] if isinstance(e["request"]["content"], list)
               for b in e["request"]["content"] if b["type"] == "tool_result"]
    assert "index.fk_without_index" in results[0]["content"] and "order_items" in results[1]["content"]


# --- answer parsing -------------------------------------------------------------------------------------


def test_parse_prefers_the_last_fenced_json_block() -> None:
    text = (
        'Example: ```json\n[{"category": "query", "object": "x"}]\n```\nFinal:\n'
        '```json\n[{"category": "Security", "object": "app_user", "severity": "CRITICAL",'
        ' "sql": ["REVOKE a;", "REVOKE b;"]}]\n```'
    )
    parsed = parse_answer(text)
    assert parsed.error is None
    assert parsed.recommendations == [
        Recommendation(category="security", object="app_user", severity="blocker", sql="REVOKE a;\nREVOKE b;")
    ]


def test_parse_finds_the_last_bare_array_after_prose_with_brackets() -> None:
    text = 'See [1] and the list [a, b].\n[{"category": "index", "object": "t.a", "extra": 1}]\nThat is all [done].'
    parsed = parse_answer(text)
    assert parsed.error is None
    assert parsed.recommendations == [Recommendation(category="index", object="t.a")]


def test_parse_accepts_an_empty_list_and_an_object_wrapping_the_list() -> None:
    assert parse_answer("Nothing to fix.\n```json\n[]\n```").recommendations == []
    assert parse_answer("Nothing to fix.\n```json\n[]\n```").error is None
    wrapped = parse_answer('```json\n{"recommendations": [{"category": "schema", "object": "t"}]}\n```')
    assert [r.object for r in wrapped.recommendations] == ["t"] and wrapped.error is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("I would add an index on orders.customer_id.", "holds no JSON list"),
        ('```json\n[{"category": "index", "object": "t"\n```', "not valid JSON"),
        ("", "holds no JSON list"),
    ],
)
def test_parse_malformed_answers_become_errors(text: str, problem: str) -> None:
    parsed = parse_answer(text)
    assert parsed.recommendations == []
    assert parsed.error is not None and problem in parsed.error


def test_parse_drops_bad_items_and_keeps_good_ones() -> None:
    text = '```json\n[{"category": "index", "object": "t.a"}, {"object": "t.b"}, {"category": "x", "object": "t", ' \
        '"severity": "apocalyptic"}, "just text"]\n```'
    parsed = parse_answer(text)
    assert [r.object for r in parsed.recommendations] == ["t.a"]
    assert parsed.error is not None
    assert "recommendation 2 dropped: category" in parsed.error
    assert "recommendation 3 dropped: severity" in parsed.error
    assert "recommendation 4 dropped: not an object" in parsed.error

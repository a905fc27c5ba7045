"""dbsage serve driven by real clients' configurations: the official MCP Inspector CLI, and a Claude Code .mcp.json.

The Inspector (npm package @modelcontextprotocol/inspector, pinned to INSPECTOR_VERSION: the newest
release without a Node.js 22 requirement) is installed once into $DBSAGE_INSPECTOR_DIR, by default
~/.cache/dbsage-inspector. Without node and npm the Inspector test is skipped (under CI it fails).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.conftest import SqliteFactory, need
from tests.test_cli import NO_PK, PLANTED_SQLITE

VENV_BIN = Path(sys.executable).parent
INSPECTOR_PACKAGE = "@modelcontextprotocol/inspector"
INSPECTOR_VERSION = "0.15.0"
INSPECTOR_DIR = Path(os.environ.get("DBSAGE_INSPECTOR_DIR", Path.home() / ".cache" / "dbsage-inspector"))

# The project configuration Claude Code reads (.mcp.json at the repository root); the README shows it.
MCP_JSON = """\
{
  "mcpServers": {
    "dbsage": {
      "type": "stdio",
      "command": "dbsage",
      "args": ["serve", "--config", "dbsage.toml"],
      "env": {"DATABASE_URL": "${DATABASE_URL}"}
    }
  }
}
"""


def inspector_cli() -> Path:
    """The Inspector's executable, installed into INSPECTOR_DIR on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    need(node is not None and npm is not None, "the MCP Inspector needs node and npm", "install Node.js >= 20")
    cli = INSPECTOR_DIR / "node_modules" / ".bin" / "mcp-inspector"
    package = INSPECTOR_DIR / "node_modules" / "@modelcontextprotocol" / "inspector" / "package.json"
    installed = package.is_file() and json.loads(package.read_text(encoding="utf-8"))["version"] == INSPECTOR_VERSION
    if not installed:
        INSPECTOR_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [str(npm), "install", "--no-audit", "--no-fund", "--prefix", str(INSPECTOR_DIR),
             f"{INSPECTOR_PACKAGE}@{INSPECTOR_VERSION}"],
            capture_output=True, text=True, timeout=300,
        )
        need(done.returncode == 0 and cli.exists(), f"npm could not install the Inspector: {done.stderr[-500:]}",
             f"npm install --prefix {INSPECTOR_DIR} {INSPECTOR_PACKAGE}@{INSPECTOR_VERSION}")
    return cli


def inspect(cli: Path, config: Path, *method: str) -> Any:
    """One Inspector CLI call against `dbsage serve` over stdio; its JSON answer."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [str(cli), "--cli", "-e", f"DBSAGE_CONFIG={config}", str(VENV_BIN / "dbsage"), "serve", *method],
        capture_output=True, text=True, timeout=120, env=env, cwd=config.parent,
    )
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    return json.loads(done.stdout)


def test_the_mcp_inspector_cli_drives_dbsage(sqlite_db: SqliteFactory, tmp_path: Path) -> None:
    cli = inspector_cli()
    config = tmp_path / "dbsage.toml"
    config.write_text(f'[databases.shop]\nurl = "{sqlite_db(PLANTED_SQLITE)}"\n', encoding="utf-8")

    tools = inspect(cli, config, "--method", "tools/list")
    names = [t["name"] for t in tools["tools"]]
    assert names[:3] == ["inspect_schema", "explain_query", "suggest_indexes"]
    assert all("inputSchema" in t and "outputSchema" in t for t in tools["tools"])

    resource = inspect(cli, config, "--method", "resources/read", "--uri", f"dbsage://rules/{NO_PK}")
    (content,) = resource["contents"]
    assert json.loads(content["text"])["id"] == NO_PK

    prompt = inspect(cli, config, "--method", "prompts/get", "--prompt-name", "full_review",
                     "--prompt-args", "database=shop")
    (message,) = prompt["messages"]
    assert 'database="shop"' in message["content"]["text"]

    called = inspect(cli, config, "--method", "tools/call", "--tool-name", "inspect_schema",
                     "--tool-arg", "database=shop")
    assert not called.get("isError"), called
    assert called["content"][0]["text"].startswith("inspect_schema of shop (sqlite")
    assert NO_PK in called["structuredContent"]["rule_counts"]


def test_the_documented_mcp_json_starts_the_server(sqlite_db: SqliteFactory, tmp_path: Path) -> None:
    entry = json.loads(MCP_JSON)["mcpServers"]["dbsage"]
    (tmp_path / "dbsage.toml").write_text("[rules]\ndisabled = []\n", encoding="utf-8")
    url = sqlite_db(PLANTED_SQLITE)
    # Claude Code expands ${VAR} from its own environment; the command is found on PATH.
    env = {k: v.replace("${DATABASE_URL}", url) for k, v in entry["env"].items()}
    command = shutil.which(entry["command"], path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert command is not None
    params = StdioServerParameters(
        command=command, args=entry["args"], env={**env, "PATH": os.environ.get("PATH", "")}, cwd=str(tmp_path)
    )

    async def session() -> tuple[str, str | None, Any]:
        async with Client(params) as client:
            info = client.server_info
            assert info is not None
            databases = await client.read_resource("dbsage://databases")
            return info.name, info.version, databases

    name, version, databases = anyio.run(session)
    assert name == "dbsage" and version
    (content,) = databases.contents
    configured = json.loads(getattr(content, "text", "{}"))
    assert [d["name"] for d in configured["databases"]] == ["default"]
    assert configured["config_file"] == "dbsage.toml"  # found relative to the project directory

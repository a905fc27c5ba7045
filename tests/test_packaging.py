"""The wheel built from the repository installs into a clean virtualenv and works there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "tools", "tools/sources", "tools/rules", "knowledge", "evals")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("dbsage-*.whl")
    return built


def test_wheel_ships_typed_packages_prompt_and_knowledge(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in PACKAGES:
        assert f"dbsage/{package}/py.typed" in names, package
    assert any(n.startswith("dbsage/knowledge/rules/") and n.endswith(".toml") for n in names)
    guides = {f"dbsage/knowledge/guides/{p.name}" for p in (REPO / "knowledge" / "guides").glob("*.md")}
    assert guides and guides <= names, sorted(guides - names)
    assert not any(n.startswith(("tests/", "benchmarks/", "dbsage/tests")) for n in names)
    prompt = zipfile.ZipFile(wheel).read("dbsage/knowledge/agent_prompt.md").decode()
    # The symlink is resolved: the wheel carries the persona text itself.
    assert prompt == (REPO / "agent_prompt.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_clean_virtualenv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bin_dir = env_dir / "bin"
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATABASE_URL")}
    version = subprocess.run(
        [str(bin_dir / "dbsage"), "--version"], capture_output=True, text=True, env=clean_env, cwd=tmp_path
    )
    assert version.returncode == 0 and "0." in version.stdout

    ddl = tmp_path / "schema.sql"
    ddl.write_text("CREATE TABLE event_log (happened_at TIMESTAMP, note CHAR(10));\n", encoding="utf-8")
    run = subprocess.run(
        [str(bin_dir / "dbsage"), "inspect-schema", "--ddl", str(ddl), "--dialect", "postgres", "--format", "json"],
        capture_output=True,
        text=True,
        env=clean_env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    rule_ids = {f["rule_id"] for f in report["findings"]}
    assert "schema.table_without_primary_key" in rule_ids
    assert report["findings"][0]["object"].startswith("public.event_log")

    rules = subprocess.run(
        [str(bin_dir / "dbsage"), "rules", "--format", "json"], capture_output=True, text=True, env=clean_env
    )
    assert rules.returncode == 0, rules.stderr
    assert len(json.loads(rules.stdout)["rules"]) >= 10

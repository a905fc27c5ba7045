"""The guides and the rules cross-link: every guide is served, cited by a rule, and names only real rules.

The MCP side runs through the real in-process client; the finding side runs the CLI on a real SQLite
database, so a link is checked where a user meets it.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dbsage.knowledge.rulebook import GUIDE_URI_PREFIX, RuleDoc, load_rules, with_guide_links
from dbsage.server.render import render_rules, sarif_log
from tests.conftest import REPO, SqliteFactory
from tests.test_cli import FK_NO_INDEX, PLANTED_SQLITE, run_cli
from tests.test_mcp import config_for, with_client

GUIDES = REPO / "knowledge" / "guides"
GUIDE_FILES = sorted(GUIDES.glob("*.md"))
CHECKLIST_ITEMS = {
    str(item["id"])
    for item in tomllib.loads((REPO / "knowledge" / "checklist.toml").read_text(encoding="utf-8"))["item"]
}
# The tool that reports each rule family: a guide that names a rule also names the tool to run.
TOOL_OF_FAMILY = {
    "schema": "inspect_schema",
    "index": "inspect_schema",
    "query": "explain_query",
    "migration": "plan_migration",
    "security": "audit_security",
    "health": "checklist_review",
    "repo": "checklist_review",
}
# `family.name` in backticks: a rule id or a checklist item id when the family is one of theirs.
_DOTTED = re.compile(r"`([a-z][a-z0-9]*)\.([a-z0-9_]+)`")


def guide_text(name: str) -> str:
    return (GUIDES / f"{name}.md").read_text(encoding="utf-8")


def mentioned_ids(text: str) -> set[str]:
    families = {rule_id.split(".")[0] for rule_id in load_rules()} | {i.split(".")[0] for i in CHECKLIST_ITEMS}
    return {f"{family}.{name}" for family, name in _DOTTED.findall(text) if family in families}


def test_there_is_a_guide_per_topic() -> None:
    topics = {
        "multi-tenant-isolation", "zero-downtime-migrations", "indexing", "query-optimization",
        "security-model", "pooling", "caching", "backup-dr", "monitoring", "scaling",
    }
    assert topics <= {p.stem for p in GUIDE_FILES}


def test_every_guide_is_listed_and_readable_and_every_rule_link_resolves_over_mcp(sqlite_db: SqliteFactory) -> None:
    config = config_for(shop=sqlite_db(PLANTED_SQLITE))

    async def use(client: Client) -> dict[str, Any]:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        (catalog,) = (await client.read_resource("dbsage://rules")).contents
        rules = json.loads(getattr(catalog, "text", ""))["rules"]
        linked = sorted({uri for r in rules for uri in r["guides"]})
        read = {}
        for uri in sorted({u for u in listed if u.startswith(GUIDE_URI_PREFIX)} | set(linked)):
            (content,) = (await client.read_resource(uri)).contents
            read[uri] = getattr(content, "text", "")
        (one,) = (await client.read_resource(f"dbsage://rules/{FK_NO_INDEX}")).contents
        return {"listed": listed, "rules": rules, "linked": linked, "read": read,
                "one": json.loads(getattr(one, "text", ""))}

    got = with_client(config, use)
    for path in GUIDE_FILES:
        uri = GUIDE_URI_PREFIX + path.stem
        assert uri in got["listed"], uri
        assert got["listed"][uri].mime_type == "text/markdown"
        assert got["read"][uri] == path.read_text(encoding="utf-8"), uri
    # Every link a rule carries opens a guide that exists as a file.
    assert got["linked"], "no rule links a guide"
    for uri in got["linked"]:
        assert (GUIDES / f"{uri.removeprefix(GUIDE_URI_PREFIX)}.md").is_file(), uri
        assert got["read"][uri].startswith("# "), uri
    # A rule's resource carries links, not guide text: the answer stays small.
    assert got["one"]["guides"] == ["dbsage://guides/indexing"]
    assert len(json.dumps(got["one"])) < 3000


def test_every_guide_is_cited_by_a_rule() -> None:
    cited = {name for doc in load_rules().values() for name in doc.guides}
    assert cited <= {p.stem for p in GUIDE_FILES}, cited - {p.stem for p in GUIDE_FILES}
    uncited = {p.stem for p in GUIDE_FILES} - cited
    assert not uncited, f"guides no rule cites: {sorted(uncited)}"


@pytest.mark.parametrize("path", GUIDE_FILES, ids=lambda p: p.stem)
def test_guide_names_only_real_rules_and_the_tool_that_reports_them(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    rules = load_rules()
    mentioned = mentioned_ids(text)
    unknown = sorted(i for i in mentioned if i not in rules and i not in CHECKLIST_ITEMS)
    assert not unknown, f"{path.name} names ids that are neither rules nor checklist items: {unknown}"
    for rule_id in sorted(i for i in mentioned if i in rules):
        tool = TOOL_OF_FAMILY.get(rule_id.split(".")[0])
        assert tool is not None, f"{path.name}: no known tool reports {rule_id}; add its family"
        assert f"`{tool}`" in text, f"{path.name} names {rule_id} but not the tool that reports it ({tool})"
    if any(i in CHECKLIST_ITEMS for i in mentioned):
        assert "`checklist_review`" in text, path.name
    # Guides that cite each other do so by a guide's name.
    for name in re.findall(r"the `([a-z0-9-]+)` guide", text):
        assert (GUIDES / f"{name}.md").is_file(), f"{path.name} cites a missing guide {name!r}"


def test_every_guide_has_a_heading_and_a_what_dbsage_checks_section() -> None:
    for path in GUIDE_FILES:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# "), path.name
        assert re.search(r"^## What dbsage checks", text, re.MULTILINE), path.name
        assert mentioned_ids(text), f"{path.name} names no rule or checklist item"


def test_each_guide_is_cited_by_rules_it_explains() -> None:
    """A rule cites a guide that talks about it: most of the rules a guide names cite that guide back."""
    rules = load_rules()
    for path in GUIDE_FILES:
        named = {i for i in mentioned_ids(path.read_text(encoding="utf-8")) if i in rules}
        citing = {i for i in named if path.stem in rules[i].guides}
        assert citing, f"{path.name} names rules but none of them cites it"


def test_finding_output_carries_the_guide_link(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(PLANTED_SQLITE)
    code, out, err = run_cli("inspect-schema", "--dsn", url, "--format", "json")
    assert code == 0, err
    findings = [f for f in json.loads(out)["findings"] if f["rule_id"] == FK_NO_INDEX]
    assert findings, "the planted foreign key without an index was not found"
    for finding in findings:
        assert finding["remediation"].endswith(" Guide: dbsage://guides/indexing."), finding["remediation"]
        assert finding["remediation"].startswith(load_rules()[FK_NO_INDEX].remediation)


def test_catalog_renderings_carry_the_links() -> None:
    doc = load_rules()[FK_NO_INDEX]
    markdown = render_rules("markdown")
    section = markdown.split(f"## `{FK_NO_INDEX}`", 1)[1].split("\n## ", 1)[0]
    assert "**Guide.** `dbsage://guides/indexing`" in section
    catalog = json.loads(render_rules("json"))
    entry = next(r for r in catalog["rules"] if r["id"] == FK_NO_INDEX)
    assert entry["guides"] == ["dbsage://guides/indexing"]
    # The catalog a client reads back validates into the same rule (names, not links, inside).
    assert RuleDoc.model_validate(entry).guides == doc.guides == ["indexing"]
    driver = sarif_log(_empty_report())["runs"][0]["tool"]["driver"]
    sarif_rule = next(r for r in driver["rules"] if r["id"] == FK_NO_INDEX)
    assert sarif_rule["properties"]["guides"] == ["dbsage://guides/indexing"]
    assert sarif_rule["help"]["text"].endswith("Guide: dbsage://guides/indexing.")


def test_guide_links_read_as_one_sentence() -> None:
    assert with_guide_links("Do it.", []) == "Do it."
    assert with_guide_links("Do it. ", ["pooling"]) == "Do it. Guide: dbsage://guides/pooling."
    assert with_guide_links("Do it.", ["pooling", "monitoring"]) == (
        "Do it. Guides: dbsage://guides/pooling, dbsage://guides/monitoring."
    )
    with pytest.raises(ValueError, match="not a guide name"):
        RuleDoc.model_validate({**load_rules()[FK_NO_INDEX].model_dump(), "guides": ["../secrets"]})


def _empty_report() -> Any:
    from dbsage.tools.schema import inspect_schema

    return inspect_schema(ddl="CREATE TABLE t (id integer PRIMARY KEY);", dialect="sqlite")


def test_persona_prompt_lists_every_guide() -> None:
    prompt = (REPO / "agent_prompt.md").read_text(encoding="utf-8")
    listed = prompt.split("**Guides.**", 1)[1].split("\n\n", 1)[0]
    for path in GUIDE_FILES:
        assert path.stem in listed, f"agent_prompt.md does not list the guide {path.stem}"

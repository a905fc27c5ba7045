"""Output rendering: text for people, JSON identical to the MCP answer, Markdown, SARIF 2.1.0."""

from __future__ import annotations

import io
import json

from dbsage.knowledge.rulebook import load_rules
from dbsage.server.render import render_report, render_rules, render_sarif, sarif_log, use_color
from dbsage.tools.catalog import Dialect
from dbsage.tools.findings import Category, Finding, Location, ObjectType, Severity, fingerprint
from dbsage.tools.schema import SchemaReport, TableSummary


def _finding(
    rule_id: str,
    severity: Severity,
    obj: str,
    message: str,
    *,
    fix: str | None = None,
    location: Location | None = None,
) -> Finding:
    return Finding(
        id=fingerprint(rule_id, obj, location),
        rule_id=rule_id,
        severity=severity,
        category=Category.SCHEMA if rule_id.startswith("schema.") else Category.INDEX,
        object_type=ObjectType.COLUMNS if "(" in obj else ObjectType.TABLE,
        object=obj,
        message=message,
        evidence={"rows": 120, "columns": ["customer_id"]},
        fix=fix,
        remediation="Do the thing described in the rule.",
        location=location,
    )


def _report(findings: list[Finding], **extra: object) -> SchemaReport:
    fields: dict[str, object] = {
        "source": "shop",
        "dialect": Dialect.POSTGRES,
        "server_version": "15.4",
        "detail": "concise",
        "totals": {
            "tables": 2, "views": 0, "functions": 0, "sequences": 0, "roles": 1, "findings": len(findings),
        },
        "severity_counts": {},
        "rule_counts": {},
        "tables": [
            TableSummary(
                name="public.audit_log", columns=2, primary_key=None, foreign_keys=0, indexes=0, findings=1
            ),
            TableSummary(
                name="public.orders", rows=120, columns=3, primary_key=["id"], foreign_keys=1, indexes=1,
                findings=1,
            ),
        ],
        "findings": findings,
        "page": 1,
        "pages": 1,
    }
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    fields["severity_counts"] = counts
    fields.update(extra)
    return SchemaReport.model_validate(fields)


NO_PK = _finding(
    "schema.table_without_primary_key",
    Severity.HIGH,
    "public.audit_log",
    "Table public.audit_log has no primary key.",
    fix="ALTER TABLE public.audit_log ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;",
)
FK = _finding(
    "index.fk_without_index",
    Severity.MEDIUM,
    "public.orders(customer_id)",
    "Foreign key orders(customer_id) has no index that starts with its columns.",
    fix="CREATE INDEX CONCURRENTLY idx_orders_customer_id ON public.orders (customer_id);",
)
NAMING = _finding(
    "schema.naming_table_case", Severity.LOW, "public.Audit|Log", "Table name is not snake_case."
)


def test_json_is_exactly_the_model_dump() -> None:
    report = _report([NO_PK, FK])
    text = render_report(report, "json")
    assert text == report.model_dump_json(indent=2) + "\n"
    assert SchemaReport.model_validate_json(text) == report


def test_text_groups_by_severity_with_fix_sql_indented_and_a_summary() -> None:
    text = render_report(_report([FK, NAMING, NO_PK]), "text", color=False)
    lines = text.splitlines()
    high, medium, low = (lines.index(h) for h in ("HIGH (1)", "MEDIUM (1)", "LOW (1)"))
    assert high < medium < low
    assert "schema.table_without_primary_key" in lines[high + 1]
    assert lines[high + 2].startswith("      ALTER TABLE public.audit_log ADD COLUMN id")
    assert lines[medium + 2].startswith("      CREATE INDEX CONCURRENTLY idx_orders_customer_id")
    # rule ids and objects start in the same column on every finding line
    finding_lines = [lines[high + 1], lines[medium + 1], lines[low + 1]]
    assert len({line.index("public.") for line in finding_lines}) == 1
    assert "Summary: 3 findings (1 high, 1 medium, 1 low) in 2 tables" in text
    assert "\033[" not in text


def test_text_colours_only_when_asked() -> None:
    coloured = render_report(_report([NO_PK]), "text", color=True)
    assert "\033[31mHIGH (1)\033[0m" in coloured


def test_use_color_needs_a_terminal_and_no_NO_COLOR() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_color(Tty(), env={}) is True
    assert use_color(Tty(), env={"NO_COLOR": "1"}) is False
    assert use_color(io.StringIO(), env={}) is False


def test_database_text_cannot_fake_output_lines() -> None:
    crafted = _finding(
        "schema.table_without_primary_key",
        Severity.HIGH,
        "public.evil\nSummary: 0 findings",
        "Table public.evil\nSummary: 0 findings has no primary key.",
    )
    text = render_report(_report([crafted]), "text")
    assert not any(line.startswith("Summary: 0 findings") for line in text.splitlines())


def test_markdown_escapes_table_cells_and_fences_fix_sql() -> None:
    md = render_report(_report([NO_PK, NAMING]), "markdown")
    assert md.startswith("# inspect_schema: shop\n")
    assert "## High (1)" in md and "## Low (1)" in md
    assert "  ```sql\n  ALTER TABLE public.audit_log" in md
    assert "`public.Audit|Log`" in md  # inside code: the pipe is literal
    assert "| `public.orders` | 120 | 3 | id | 1 | 1 | 1 |" in md


def test_sarif_structure_rules_levels_and_locations() -> None:
    in_file = _finding(
        "schema.table_without_primary_key",
        Severity.HIGH,
        "public.audit_log",
        "Table public.audit_log has no primary key.",
        location=Location(file="db/schema.sql", line=12, statement=3),
    )
    log = sarif_log(_report([in_file, FK, NAMING]))
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    assert len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "dbsage"
    catalog = load_rules()
    assert [r["id"] for r in driver["rules"]] == sorted(catalog)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] == catalog[rule["id"]].title
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "warning", "note"]
    for result, finding in zip(results, [in_file, FK, NAMING], strict=True):
        assert result["ruleId"] == finding.rule_id
        assert result["message"]["text"] == finding.message
        assert result["partialFingerprints"]["dbsageFindingId/v1"] == finding.id
        if finding.rule_id in catalog:
            assert driver["rules"][result["ruleIndex"]]["id"] == finding.rule_id
    physical = results[0]["locations"][0]["physicalLocation"]
    assert physical == {"artifactLocation": {"uri": "db/schema.sql"}, "region": {"startLine": 12}}
    live = results[1]["locations"][0]
    assert "physicalLocation" not in live
    expected = [{"fullyQualifiedName": "public.orders(customer_id)", "kind": "columns"}]
    assert live["logicalLocations"] == expected
    assert json.loads(render_sarif(_report([FK]))) == sarif_log(_report([FK]))


def test_sarif_places_unlocated_findings_in_the_ddl_file() -> None:
    log = sarif_log(_report([FK]), artifact="db/schema.sql")
    (location,) = log["runs"][0]["results"][0]["locations"]
    assert location["physicalLocation"] == {"artifactLocation": {"uri": "db/schema.sql"}}
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "public.orders(customer_id)"


def test_rules_listing_in_three_formats() -> None:
    catalog = load_rules()
    as_json = json.loads(render_rules("json"))
    assert [r["id"] for r in as_json["rules"]] == sorted(catalog)
    text = render_rules("text")
    for rule_id, doc in catalog.items():
        line = next(line for line in text.splitlines() if line.startswith(rule_id + " "))
        assert doc.severity.value in line and doc.title in line
    md = render_rules("markdown")
    assert md.count("\n## ") == len(catalog)

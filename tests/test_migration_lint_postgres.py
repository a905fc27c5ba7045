"""The PostgreSQL migration linter on a labelled corpus, against squawk, and with live table sizes.

Each file of tests/data/migrations/postgres/ is one case. Its header says what must be found:
`-- expect: <rule>@<line>` (or `-- expect: none` for a safe form), optionally `-- server-version: V`
and `-- current: <DDL>` (the schema before the migration, as a user would give with current_ddl).
Every expected hazard must be found on its line; no other finding of severity medium or higher may
appear (so safe forms raise nothing at medium or above).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from dbsage.knowledge.rulebook import load_rules
from dbsage.tools.catalog import Dialect
from dbsage.tools.findings import Finding, Severity
from dbsage.tools.migration import parse_server_version
from dbsage.tools.migration_lint_postgres import lint_postgres
from dbsage.tools.migration_model import DEFAULT_SERVER_VERSION_NUM, MigrationContext, MigrationScript
from dbsage.tools.migration_source import read_migrations
from dbsage.tools.sources.ddl import catalog_from_ddl
from tests.conftest import REPO, PostgresFactory, need

CORPUS = REPO / "tests" / "data" / "migrations" / "postgres"
SQUAWK = Path("/work/venv/bin/squawk") if Path("/work/venv/bin/squawk").exists() else None
_HEADER = re.compile(r"^--\s*(case|expect|server-version|current):\s*(.*)$")

# squawk rules that flag the same hazard as a dbsage rule (for the comparison on the corpus)
SQUAWK_EQUIVALENT: dict[str, set[str]] = {
    "migration.create_index_not_concurrently": {"require-concurrent-index-creation"},
    "migration.drop_index_not_concurrently": {"require-concurrent-index-deletion"},
    "migration.non_transactional_in_transaction": {"ban-concurrent-index-creation-in-transaction"},
    "migration.add_column_volatile_default": {"adding-field-with-default", "adding-serial-primary-key-field"},
    "migration.add_column_not_null_no_default": {"adding-required-field", "adding-not-nullable-field"},
    "migration.set_not_null": {"adding-not-nullable-field"},
    "migration.add_foreign_key": {"adding-foreign-key-constraint", "constraint-missing-not-valid"},
    "migration.add_check_constraint": {"constraint-missing-not-valid"},
    "migration.add_unique_constraint": {"disallowed-unique-constraint"},
    "migration.add_primary_key": {"adding-serial-primary-key-field", "disallowed-unique-constraint"},
    "migration.change_column_type": {"changing-column-type"},
    "migration.rename_column": {"renaming-column"},
    "migration.rename_table": {"renaming-table"},
    "migration.drop_column": {"ban-drop-column"},
    "migration.drop_table": {"ban-drop-table"},
    "migration.drop_database": {"ban-drop-database"},
    "migration.truncate_cascade": {"ban-truncate-cascade"},
    "migration.drop_not_null": {"ban-drop-not-null"},
    "migration.alter_domain_add_constraint": {"ban-alter-domain-with-add-constraint"},
    "migration.create_domain_with_constraint": {"ban-create-domain-with-constraint"},
    "migration.reindex_not_concurrently": {"require-concurrent-reindex"},
    "migration.enum_add_value_unordered": {"require-enum-value-ordering"},
    "migration.transaction_nesting": {"transaction-nesting"},
    "migration.uncommitted_transaction": {"ban-uncommitted-transaction"},
    "migration.missing_lock_timeout": {"require-lock-timeout", "require-timeout-settings"},
    "migration.prefer_robust_statements": {"prefer-robust-stmts"},
    "migration.timestamp_without_tz": {"prefer-timestamp-tz", "prefer-timestamptz"},
    "migration.char_column": {"ban-char-field"},
    "migration.varchar_length": {"prefer-text-field"},
    "migration.prefer_identity": {"prefer-identity"},
    "migration.int_primary_key": {"prefer-bigint-over-int", "prefer-big-int", "prefer-bigint-over-smallint",
                                  "prefer-identity"},
    "migration.prefer_bigint": {"prefer-bigint-over-int", "prefer-big-int", "prefer-bigint-over-smallint"},
    "migration.unparsable": {"syntax-error"},
    "migration.drop_constraint": {"ban-drop-constraint"},
    "migration.alter_identity": {"ban-alter-identity"},
    "migration.missing_statement_timeout": {"require-statement-timeout", "require-timeout-settings"},
}


@dataclass
class Case:
    path: Path
    title: str
    expect: set[tuple[str, int]]
    server_version_num: int
    current_ddl: str | None

    @property
    def safe(self) -> bool:
        return not self.expect


def read_case(path: Path) -> Case:
    title, expect, version, current = "", set(), DEFAULT_SERVER_VERSION_NUM[Dialect.POSTGRES], []
    for line in path.read_text().splitlines():
        m = _HEADER.match(line)
        if m is None:
            if line.strip() and not line.startswith("--"):
                break
            continue
        key, value = m.group(1), m.group(2).strip()
        if key == "case":
            title = value
        elif key == "expect" and value != "none":
            rule, at = value.rsplit("@", 1)
            expect.add((rule, int(at)))
        elif key == "server-version":
            version = parse_server_version(value, Dialect.POSTGRES)
        elif key == "current":
            current.append(value)
    return Case(path, title, expect, version, "\n".join(current) or None)


def corpus() -> list[Case]:
    return [read_case(p) for p in sorted(CORPUS.glob("*.sql"))]


def lint_case(case: Case) -> tuple[MigrationScript, list[Finding]]:
    script = read_migrations([str(case.path)], Dialect.POSTGRES)
    catalog = catalog_from_ddl(case.current_ddl, Dialect.POSTGRES) if case.current_ddl else None
    ctx = MigrationContext(Dialect.POSTGRES, case.server_version_num, catalog)
    findings, _ = lint_postgres(script, ctx)
    return script, findings


def statement_at(script: MigrationScript, line: int) -> int | None:
    """The 0-based index of the statement whose text covers `line` (1-based)."""
    found = None
    for stmt in script.statements:
        if stmt.line <= line:
            found = stmt.index
    return found


def squawk_rules(case: Case, script: MigrationScript) -> dict[int, set[str]] | None:
    """squawk's rule names per statement index of the case, or None when squawk is not installed."""
    exe = str(SQUAWK) if SQUAWK else shutil.which("squawk")
    if exe is None:
        return None
    version = case.server_version_num
    pg = f"{version // 10000}.{version % 10000 // 100 if version < 100000 else version % 10000}"
    out = subprocess.run([exe, "--reporter=json", f"--pg-version={pg}", str(case.path)], capture_output=True,
                         text=True, check=False)
    rules: dict[int, set[str]] = {}
    for item in json.loads(out.stdout or "[]"):
        index = statement_at(script, int(item["line"]) + 1)
        if index is not None:
            rules.setdefault(index, set()).add(str(item["rule_name"]))
    return rules


CASES = corpus()


def test_corpus_is_large_and_covers_every_rule() -> None:
    assert len(CASES) >= 30
    assert sum(1 for c in CASES if c.safe) >= 15
    expected_rules = {rule for c in CASES for rule, _ in c.expect}
    rules = tomllib.loads((REPO / "knowledge" / "rules" / "migration_postgres.toml").read_text())["rule"]
    ours = {r["id"] for r in rules}
    assert ours <= set(load_rules())
    assert ours - expected_rules == set(), "rules without a corpus case"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.path.name)
def test_corpus_case(case: Case) -> None:
    script, findings = lint_case(case)
    lines = {stmt.index: stmt.line for stmt in script.statements}
    got = {(f.rule_id, f.location.line) for f in findings if f.location is not None}
    missed = case.expect - got
    assert not missed, f"{case.title}: missed {missed}; found {sorted(got)}"
    loud = {(f.rule_id, f.location.line) for f in findings
            if f.location is not None and f.severity.at_least(Severity.MEDIUM)}
    unexpected = loud - case.expect
    assert not unexpected, f"{case.title}: unexpected findings >= medium {unexpected}"
    for f in findings:
        assert f.location is not None and f.location.file == str(case.path)
        assert lines[f.location.statement] == f.location.line
        assert "lock" in f.evidence and "rewrites_table" in f.evidence and "scans_table" in f.evidence


def test_dbsage_catches_everything_squawk_catches_on_the_corpus() -> None:
    need(SQUAWK is not None or shutil.which("squawk") is not None, "squawk is not installed", "pip install squawk-cli")
    squawk_caught = dbsage_caught = hazards = 0
    for case in CASES:
        script, findings = lint_case(case)
        flagged = squawk_rules(case, script) or {}
        for rule, line in case.expect:
            hazards += 1
            index = statement_at(script, line)
            assert index is not None
            if flagged.get(index, set()) & SQUAWK_EQUIVALENT.get(rule, set()):
                squawk_caught += 1
            if any(f.rule_id == rule and f.location is not None and f.location.line == line for f in findings):
                dbsage_caught += 1
    assert dbsage_caught == hazards
    assert squawk_caught < dbsage_caught  # squawk misses VACUUM FULL, CLUSTER, SET LOGGED, backfills...


def test_unparsable_statement_is_a_finding_not_an_error() -> None:
    script = read_migrations(None, Dialect.POSTGRES, sql="ALTER TABLE t ADD COLUMN;\nSELECT 1;\n")
    findings, _ = lint_postgres(script, MigrationContext(Dialect.POSTGRES, 150000))
    assert [f.rule_id for f in findings] == ["migration.unparsable"]
    assert "syntax error" in str(findings[0].evidence["parser_message"])


def test_suppression_comment_moves_the_finding_to_suppressed() -> None:
    sql = ("SET lock_timeout = '1s';\n-- dbsage: ignore migration.create_index_not_concurrently\n"
           "CREATE INDEX i ON t (a);\n")
    script = read_migrations(None, Dialect.POSTGRES, sql=sql)
    findings, suppressed = lint_postgres(script, MigrationContext(Dialect.POSTGRES, 150000))
    assert not [f for f in findings if f.rule_id == "migration.create_index_not_concurrently"]
    assert [(s.rule_id, s.location.line) for s in suppressed] == [("migration.create_index_not_concurrently", 3)]


def test_assume_in_transaction_option() -> None:
    from dbsage.tools.rules.registry import RuleOptions

    sql = "SET lock_timeout = '1s';\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);\n"
    script = read_migrations(None, Dialect.POSTGRES, sql=sql)
    plain, _ = lint_postgres(script, MigrationContext(Dialect.POSTGRES, 150000))
    assert plain == []
    wrapped, _ = lint_postgres(script, MigrationContext(
        Dialect.POSTGRES, 150000, options=RuleOptions(thresholds={"migration.assume_in_transaction": 1})))
    assert [f.rule_id for f in wrapped] == ["migration.non_transactional_in_transaction"]


PG_SHOP = """
CREATE TABLE customers (id bigint PRIMARY KEY, name text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, note varchar(40), status text);
CREATE TABLE tiny (id bigint PRIMARY KEY, v text);
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 2000) g;
INSERT INTO orders SELECT g, 1 + g % 2000, 'n', 'new' FROM generate_series(1, 300000) g;
INSERT INTO tiny SELECT g, 'x' FROM generate_series(1, 10) g;
ANALYZE;
"""


def test_live_sizes_give_duration_and_scale_severity(postgres_db: PostgresFactory) -> None:
    from dbsage.tools.sources.guard import LiveDatabase
    from dbsage.tools.sources.live import load_catalog

    url = postgres_db(PG_SHOP)
    with LiveDatabase.open(url) as db:
        catalog = load_catalog(db)
    sql = ("SET lock_timeout = '1s'; SET statement_timeout = '1min';\n"
           "CREATE INDEX orders_customer_idx ON orders (customer_id);\n"
           "CREATE INDEX tiny_v_idx ON tiny (v);\n"
           "ALTER TABLE orders ALTER COLUMN note TYPE text;\n"
           "ALTER TABLE orders ALTER COLUMN status TYPE varchar(10);\n")
    script = read_migrations(None, Dialect.POSTGRES, sql=sql)
    findings, _ = lint_postgres(script, MigrationContext(Dialect.POSTGRES, 150000, catalog))
    by_line = {f.location.line: f for f in findings
               if f.location is not None and f.rule_id != "migration.varchar_length"}
    big = by_line[2]
    assert big.rule_id == "migration.create_index_not_concurrently"
    assert big.severity is Severity.HIGH
    assert isinstance(big.evidence["table_rows"], int) and big.evidence["table_rows"] > 250_000
    assert isinstance(big.evidence["table_bytes"], int) and big.evidence["table_bytes"] > 1_000_000
    assert isinstance(big.evidence["estimated_seconds"], float)
    assert big.evidence["lock"] == "SHARE" and big.evidence["scans_table"] is True
    assert "will hold SHARE on" in big.message
    small = by_line[3]
    assert small.rule_id == "migration.create_index_not_concurrently" and small.severity is Severity.LOW
    assert 4 not in by_line  # varchar -> text: binary-coercible, known from the live catalog
    assert by_line[5].rule_id == "migration.change_column_type"  # text -> varchar(10) checks every row


def test_rule_texts_agree_with_the_rulebook() -> None:
    from dbsage.knowledge.rulebook import rule_doc
    from dbsage.tools.migration_lint_postgres import rule_texts

    for rule_id, (severity, category, remediation) in rule_texts().items():
        doc = rule_doc(rule_id)
        assert (doc.severity, doc.category, doc.finding_remediation) == (severity, category, remediation), rule_id


def test_lock_table_and_trigger_count_as_lock_taking() -> None:
    sql = ("BEGIN;\nLOCK TABLE orders IN ACCESS EXCLUSIVE MODE;\nCREATE TRIGGER t BEFORE UPDATE ON customers "
           "FOR EACH ROW EXECUTE FUNCTION f();\nCOMMIT;\n")
    script = read_migrations(None, Dialect.POSTGRES, sql=sql)
    findings, _ = lint_postgres(script, MigrationContext(Dialect.POSTGRES, 150000))
    assert {(f.rule_id, f.location.line if f.location else 0) for f in findings} == {
        ("migration.missing_lock_timeout", 2), ("migration.statements_after_access_exclusive", 3)}


@pytest.mark.parametrize("name", ["pagila/pagila-schema.sql", "sakila/postgres-sakila-schema.sql",
                                  "chinook/Chinook_PostgreSql.sql"])
def test_sample_schemas_lint_without_error(realworld: Path, name: str) -> None:
    script = read_migrations([str(realworld / name)], Dialect.POSTGRES)
    findings, _ = lint_postgres(script, MigrationContext(Dialect.POSTGRES, 150000))
    assert script.statements
    assert not [f for f in findings if f.rule_id == "migration.unparsable"]
    # a schema dump creates its tables first: nothing it does to them afterwards takes a lock anyone waits on
    lock_rules = {"migration.missing_lock_timeout", "migration.statements_after_access_exclusive",
                  "migration.add_foreign_key", "migration.add_primary_key", "migration.create_index_not_concurrently"}
    assert not [f for f in findings if f.rule_id in lock_rules]


def test_fixes_without_placeholders_parse_and_lint_clean() -> None:
    from pglast import parser as pg_parser

    checked = 0
    for case in CASES:
        _, findings = lint_case(case)
        for f in findings:
            if f.fix is None or "..." in f.fix or "<" in f.fix:
                continue
            pg_parser.parse_sql_json(f.fix)  # raises on a syntax error
            checked += 1
            if f.rule_id in ("migration.create_index_not_concurrently", "migration.add_foreign_key",
                             "migration.add_check_constraint", "migration.set_not_null"):
                script = read_migrations(None, Dialect.POSTGRES, sql="SET lock_timeout = '1s';\n"
                                         "SET statement_timeout = '1min';\n" + f.fix.replace(
                                             "  -- in its own transaction", "\nCOMMIT;"))
                again, _ = lint_postgres(script, MigrationContext(Dialect.POSTGRES, 150000))
                assert not [g for g in again if g.severity.at_least(Severity.MEDIUM)], (f.fix, again)
    assert checked >= 20


def test_live_catalog_tells_whether_a_new_foreign_key_is_indexed(postgres_db: PostgresFactory) -> None:
    from dbsage.tools.sources.guard import LiveDatabase
    from dbsage.tools.sources.live import load_catalog

    url = postgres_db("CREATE TABLE customers (id bigint PRIMARY KEY);\n"
                      "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, shop_id bigint);\n"
                      "CREATE TABLE shops (id bigint PRIMARY KEY);\n"
                      "CREATE INDEX orders_shop_created ON orders (shop_id, id);\n")
    with LiveDatabase.open(url) as db:
        catalog = load_catalog(db)
    sql = ("SET lock_timeout = '1s'; SET statement_timeout = '1min';\n"
           "ALTER TABLE orders ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (customer_id) "
           "REFERENCES customers (id) NOT VALID;\n"
           "ALTER TABLE orders ADD CONSTRAINT orders_shop_fkey FOREIGN KEY (shop_id) REFERENCES shops (id) "
           "NOT VALID;\n")
    script = read_migrations(None, Dialect.POSTGRES, sql=sql)
    findings, _ = lint_postgres(script, MigrationContext(Dialect.POSTGRES, 150000, catalog))
    assert [(f.rule_id, f.object, f.location.line if f.location else 0) for f in findings] == [
        ("migration.foreign_key_without_index", "public.orders(customer_id)", 2)]
    offline, _ = lint_postgres(script, MigrationContext(Dialect.POSTGRES, 150000))
    assert offline == []  # an existing table's indexes are unknown offline: no guess

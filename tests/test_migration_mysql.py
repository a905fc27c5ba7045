"""MySQL/MariaDB migration linting and safe plans: the labelled corpus, version rules, and plans run on MariaDB.

The corpus (tests/data/migrations/mysql) labels each file with the findings it must raise as
`-- expect: rule@line, ...` (or `none`); no other finding of medium or higher may appear. Version-specific
MySQL 8 rules are checked offline only (no MySQL 8 server here). On the real MariaDB each case's plan runs
against tables of tens of thousands of rows: its statements parse, the server accepts every ALGORITHM
clause, the end state equals the original migration's, and the rollbacks restore the original schema.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

from dbsage.knowledge.rulebook import load_rules
from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.findings import Finding, Severity
from dbsage.tools.migration_lint_mysql import lint_mysql
from dbsage.tools.migration_model import MigrationContext, Step
from dbsage.tools.migration_plan_mysql import plan_mysql
from dbsage.tools.migration_source import read_migrations
from dbsage.tools.rules.registry import RuleOptions
from dbsage.tools.sources.ddl import catalog_from_ddl
from dbsage.tools.sources.ddl_script import split_statements
from dbsage.tools.sources.guard import LiveDatabase
from dbsage.tools.sources.live import load_catalog
from tests.conftest import MysqlFactory
from tests.dbutil import admin_mysql

CORPUS = Path(__file__).resolve().parent / "data" / "migrations" / "mysql"
SETUP = (CORPUS / "_setup.sql").read_text(encoding="utf-8")
MARIADB_1011 = 101100
ROWS = """
INSERT INTO customers (name, email, legacy_code, score, created_at)
  SELECT CONCAT('c', seq), CONCAT('c', seq, '@example.com'), 'AB', seq % 100, '2021-01-01' + INTERVAL seq SECOND
  FROM seq_1_to_8000;
INSERT INTO orders (customer_id, status, quantity, notes, created_at)
  SELECT 1 + seq % 8000, ELT(1 + seq % 3, 'new', 'paid', 'shipped'), 1 + seq % 7, CONCAT('note ', seq),
         '2021-01-01' + INTERVAL seq SECOND
  FROM seq_1_to_15000;
INSERT INTO audit_log (id, created_at, message)
  SELECT seq, '2020-01-01' + INTERVAL seq * 60 MINUTE, CONCAT('m', seq) FROM seq_1_to_8000;
INSERT INTO places (id, location) SELECT seq, POINT(seq % 100, seq % 50) FROM seq_1_to_2000;
"""
# hazards with no online form: the plan keeps them as written (and says so), so re-linting it still flags them
NO_ONLINE_FORM = {
    "h02_convert_charset", "h03_drop_primary_key", "h04_fulltext", "h05_spatial", "h06_stored_generated",
    "h19_explicit_copy", "h22_add_check", "h23_replace_primary_key_online",
}  # fmt: skip


@dataclass
class Case:
    name: str
    path: Path
    text: str
    expected: set[tuple[str, int]]
    suppressed: set[tuple[str, int]]


def _labels(text: str, tag: str) -> set[tuple[str, int]]:
    m = re.search(rf"^-- {tag}: (.*)$", text, re.MULTILINE)
    if m is None or m.group(1).strip() == "none":
        return set()
    found = set()
    for item in m.group(1).split(","):
        rule, line = item.strip().split("@")
        found.add((rule, int(line)))
    return found


def _cases() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("[hs]*.sql")):
        text = path.read_text(encoding="utf-8")
        assert re.search(r"^-- expect: ", text, re.MULTILINE), f"{path.name} has no expect label"
        cases.append(Case(path.stem, path, text, _labels(text, "expect"), _labels(text, "suppressed")))
    return cases


CASES = _cases()


def _setup_catalog() -> Catalog:
    return catalog_from_ddl(SETUP, Dialect.MARIADB, file="_setup.sql")


def _ctx(catalog: Catalog | None, dialect: Dialect = Dialect.MARIADB, version: int = MARIADB_1011,
         options: RuleOptions | None = None) -> MigrationContext:
    schema = catalog.tables[0].schema_name if catalog is not None and catalog.tables else "public"
    return MigrationContext(dialect=dialect, server_version_num=version, catalog=catalog,
                            options=options or RuleOptions(), default_schema=schema)


def _lint(sql: str, ctx: MigrationContext) -> list[Finding]:
    findings, _ = lint_mysql(read_migrations(None, ctx.dialect, sql=sql), ctx)
    return findings


def _serious(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity.at_least(Severity.MEDIUM)]


# ------------------------------------------------------------------------------------------ corpus, offline


def test_corpus_size_and_coverage() -> None:
    hazards = [c for c in CASES if c.expected]
    safe = [c for c in CASES if not any(load_rules()[r].severity.at_least(Severity.MEDIUM) for r, _ in c.expected)]
    assert len(CASES) >= 15 and len(hazards) >= 15 and len(safe) >= 8
    labelled = {rule for c in CASES for rule, _ in c.expected}
    must_cover = {r.id for r in load_rules().values()
                  if "mariadb" in r.dialects and r.id.startswith("migration.mysql_") and r.severity.at_least(
                      Severity.MEDIUM)}
    assert must_cover <= labelled, f"hazards without a corpus case: {sorted(must_cover - labelled)}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case_offline(case: Case) -> None:
    script = read_migrations([str(case.path)], Dialect.MARIADB)
    findings, suppressed = lint_mysql(script, _ctx(_setup_catalog()))
    got = {(f.rule_id, f.location.line) for f in findings if f.location is not None}
    assert case.expected <= got, f"missing {case.expected - got}; found {sorted(got)}"
    unexpected = {(f.rule_id, f.location.line) for f in _serious(findings) if f.location is not None} - case.expected
    assert not unexpected, f"unexpected medium-or-higher findings: {unexpected}"
    assert {(s.rule_id, s.location.line) for s in suppressed} == case.suppressed
    for f in findings:
        assert f.location is not None and f.location.file == str(case.path)
        if f.rule_id not in ("migration.unparsable", "migration.mysql_drop_table", "migration.mysql_lock_wait_timeout",
                             "migration.mysql_unbatched_dml"):
            assert {"algorithm", "lock", "rebuilds_table"} <= set(f.evidence), f.rule_id


def test_offline_without_catalog_still_flags_a_modify() -> None:
    findings = _lint("SET SESSION lock_wait_timeout = 5;\nALTER TABLE t MODIFY COLUMN c BIGINT;", _ctx(None))
    assert [(f.rule_id, f.severity) for f in findings] == [("migration.mysql_column_type_change", Severity.MEDIUM)]
    assert findings[0].evidence["algorithm"] is None


def test_tables_created_earlier_are_safe_and_garbage_does_not_crash() -> None:
    sql = ("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10));\nALTER TABLE t MODIFY v BIGINT, ALGORITHM=COPY;\n"
           "ALTER TABLE `unterminated ADD x INT;\nDROP TABLE t;\n")
    findings = _lint(sql, _ctx(None))
    assert [(f.rule_id, f.location.line if f.location else 0) for f in findings] == [("migration.unparsable", 3)]


# ------------------------------------------------------------------------------------------ versions, offline


@pytest.mark.parametrize(
    ("dialect", "version", "sql", "rule", "algorithm"),
    [
        (Dialect.MYSQL, 80011, "ALTER TABLE t ADD COLUMN c INT NULL", "migration.mysql_inplace_rebuild", "INPLACE"),
        (Dialect.MYSQL, 80012, "ALTER TABLE t ADD COLUMN c INT NULL", "migration.mysql_instant_available", "INSTANT"),
        (Dialect.MYSQL, 80028, "ALTER TABLE t ADD COLUMN c INT NULL AFTER id", "migration.mysql_inplace_rebuild",
         "INPLACE"),
        (Dialect.MYSQL, 80029, "ALTER TABLE t ADD COLUMN c INT NULL FIRST", "migration.mysql_instant_available",
         "INSTANT"),
        (Dialect.MYSQL, 80028, "ALTER TABLE t DROP COLUMN v", "migration.mysql_drop_column", "INPLACE"),
        (Dialect.MYSQL, 80029, "ALTER TABLE t DROP COLUMN v", "migration.mysql_drop_column", "INSTANT"),
        (Dialect.MYSQL, 80027, "ALTER TABLE t RENAME COLUMN v TO w", "migration.mysql_rename", "INPLACE"),
        (Dialect.MYSQL, 80028, "ALTER TABLE t RENAME COLUMN v TO w", "migration.mysql_rename", "INSTANT"),
        (Dialect.MYSQL, 80030, "ALTER TABLE t MODIFY v VARCHAR(50)", "migration.mysql_instant_available", "INPLACE"),
        (Dialect.MYSQL, 80030, "ALTER TABLE t MODIFY v VARCHAR(100)", "migration.mysql_column_type_change", "COPY"),
        (Dialect.MYSQL, 80030, "ALTER TABLE t MODIFY e ENUM('a','b','c')", "migration.mysql_instant_available",
         "INSTANT"),
        (Dialect.MARIADB, 100301, "ALTER TABLE t ADD COLUMN c INT NULL", "migration.mysql_inplace_rebuild",
         "INPLACE"),
        (Dialect.MARIADB, 100302, "ALTER TABLE t ADD COLUMN c INT NULL", "migration.mysql_instant_available",
         "INSTANT"),
        (Dialect.MARIADB, 100302, "ALTER TABLE t ADD COLUMN c INT NULL AFTER id", "migration.mysql_inplace_rebuild",
         "INPLACE"),
        (Dialect.MARIADB, 100400, "ALTER TABLE t ADD COLUMN c INT NULL AFTER id",
         "migration.mysql_instant_available", "INSTANT"),
        (Dialect.MARIADB, 100300, "ALTER TABLE t DROP COLUMN v", "migration.mysql_drop_column", "INPLACE"),
        (Dialect.MARIADB, 100400, "ALTER TABLE t DROP COLUMN v", "migration.mysql_drop_column", "INSTANT"),
        # 31 utf8mb4 characters = 124 bytes: MariaDB 10.4.3+ extends it instantly past 255 bytes, MySQL copies
        (Dialect.MARIADB, 101100, "ALTER TABLE t MODIFY v VARCHAR(100)", "migration.mysql_instant_available",
         "INSTANT"),
        (Dialect.MARIADB, 101100, "ALTER TABLE t MODIFY w VARCHAR(100)", "migration.mysql_column_type_change",
         "COPY"),
        (Dialect.MARIADB, 101100, "ALTER TABLE t MODIFY e ENUM('b','a')", "migration.mysql_enum_reorder", "COPY"),
    ],
)
def test_version_specific_algorithms(dialect: Dialect, version: int, sql: str, rule: str, algorithm: str) -> None:
    ddl = ("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(31), w VARCHAR(40), e ENUM('a','b')) "
           "DEFAULT CHARSET=utf8mb4;")
    catalog = catalog_from_ddl(ddl, dialect)
    findings = _lint("SET SESSION lock_wait_timeout = 5;\n" + sql + ";", _ctx(catalog, dialect, version))
    assert [(f.rule_id, f.evidence.get("algorithm")) for f in findings] == [(rule, algorithm)]


def test_fk_checks_setting_decides_the_algorithm() -> None:
    sql = ("SET SESSION lock_wait_timeout = 5;\nALTER TABLE c ADD CONSTRAINT f FOREIGN KEY (p) REFERENCES p (id);\n"
           "SET foreign_key_checks = 0;\nALTER TABLE c ADD CONSTRAINT g FOREIGN KEY (p) REFERENCES p (id);\n")
    findings = _lint(sql, _ctx(None))
    assert [(f.rule_id, f.evidence["algorithm"], f.location.line if f.location else 0) for f in findings] == [
        ("migration.mysql_foreign_key_copy", "COPY", 2), ("migration.mysql_foreign_key_unchecked", "INPLACE", 4)]


def test_batched_rewrites_exclude_done_rows_and_refuse_what_cannot_repeat() -> None:
    catalog = _setup_catalog()
    ctx = _ctx(catalog)
    fix = _lint("UPDATE orders SET status = 'paid' WHERE status = 'new';", ctx)[0].fix
    assert fix == ("UPDATE `orders` SET `status` = 'paid' WHERE (status = 'new') AND (NOT (`status` <=> 'paid')) "
                   "ORDER BY `id` LIMIT 5000;")
    assert _lint("UPDATE orders SET quantity = quantity + 1;", ctx)[0].fix is None
    assert _lint("UPDATE orders SET created_at = NOW();", ctx)[0].fix is None


# ------------------------------------------------------------------------------------------ plans, offline


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_parses_and_relints_clean(case: Case) -> None:
    catalog = _setup_catalog()
    script = read_migrations([str(case.path)], Dialect.MARIADB)
    steps, notes = plan_mysql(script, _ctx(catalog))
    assert notes, "the plan always explains its timeouts"
    for step in steps:
        if not step.transactional:
            assert step.sql.startswith("SET SESSION lock_wait_timeout = 5;") and step.lock_timeout_ms == 5000
        if step.irreversible:
            assert step.rollback_sql is None
        for sql in [step.sql, step.rollback_sql or ""]:
            for stmt in split_statements(sql, Dialect.MARIADB):
                sqlglot.parse_one(stmt.text, read="mysql")  # raises on a syntax error
    numbers = [s.number for s in steps]
    assert numbers == list(range(1, len(steps) + 1))
    phases = [s.phase for s in steps]
    assert phases == sorted(phases, key=["expand", "backfill", "switch", "contract"].index)
    if case.name in NO_ONLINE_FORM or case.name.startswith("h20"):
        return
    plan_sql = "\n".join(s.sql for s in steps)
    serious = _serious(_lint(plan_sql, _ctx(catalog)))
    assert not serious, [(f.rule_id, f.message) for f in serious]


# ------------------------------------------------------------------------------------------ live MariaDB


def _schema(url: str) -> dict[str, str]:
    """SHOW CREATE of every table and view, triggers listed, AUTO_INCREMENT counters left out."""
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW FULL TABLES")
            found: dict[str, str] = {}
            for name, kind in cur.fetchall():
                cur.execute(f"SHOW CREATE {'VIEW' if kind == 'VIEW' else 'TABLE'} `{name}`")
                found[name] = re.sub(r" AUTO_INCREMENT=\d+", "", cur.fetchone()[1])
            cur.execute("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")
            found["<triggers>"] = ",".join(sorted(r[0] for r in cur.fetchall()))
            return found
    finally:
        conn.close()


def _data(url: str) -> dict[str, str]:
    """A digest of every base table's rows in primary key order (CHECKSUM TABLE varies with instant ALTERs)."""
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
            names = [r[0] for r in cur.fetchall()]
            digests = {}
            for name in names:
                cur.execute(f"SELECT * FROM `{name}` ORDER BY 1")
                digests[name] = hashlib.sha256(repr(cur.fetchall()).encode()).hexdigest()
            return digests
    finally:
        conn.close()


def _run(url: str, sql: str, *, repeat: bool = False) -> int:
    """Run a step's statements in one session; a repeated batch runs until it changes no row. Returns batches."""
    conn = admin_mysql(url)
    batches = 0
    try:
        with conn.cursor() as cur:
            for stmt in split_statements(sql, Dialect.MARIADB):
                if repeat:
                    while True:
                        batches += 1
                        assert batches < 1000, "batch never converges"
                        if cur.execute(stmt.text) == 0:
                            break
                    continue
                cur.execute(stmt.text)
                if stmt.text.lstrip().upper().startswith("SELECT COUNT(*) AS ORPHANS"):
                    assert cur.fetchone()[0] == 0, "orphan check found rows"
    finally:
        conn.close()
    return batches


def _run_plan(url: str, steps: list[Step], *, stop_at_irreversible: bool = False) -> list[Step]:
    done = []
    for step in steps:
        if stop_at_irreversible and step.irreversible:
            break
        _run(url, step.sql, repeat=step.repeat == "until_no_rows")
        done.append(step)
    return done


LIVE_CASES = [c for c in CASES if not c.name.startswith("h20")]


@pytest.mark.parametrize("case", LIVE_CASES, ids=[c.name for c in LIVE_CASES])
def test_plan_runs_on_mariadb(case: Case, mysql_db: MysqlFactory) -> None:
    original_url = mysql_db(SETUP + ROWS)
    before = _schema(original_url)
    _run(original_url, case.text)  # one session, as a migration tool runs a file
    expected_schema, expected_data = _schema(original_url), _data(original_url)

    plan_url = mysql_db(SETUP + ROWS)
    with LiveDatabase.open(plan_url) as db:
        catalog = load_catalog(db)
    ctx = _ctx(catalog)
    assert ctx.table(None, "orders") is not None and (ctx.table(None, "orders").row_estimate or 0) > 10_000
    steps, _notes = plan_mysql(read_migrations([str(case.path)], Dialect.MARIADB), ctx)
    _run_plan(plan_url, steps)  # every ALGORITHM clause must be accepted, or this raises
    assert _schema(plan_url) == expected_schema
    assert _data(plan_url) == expected_data

    reversible = all(s.rollback_sql for s in steps if not s.transactional and not s.irreversible)
    if reversible and case.name not in NO_ONLINE_FORM:
        rollback_url = mysql_db(SETUP + ROWS)
        done = _run_plan(rollback_url, steps, stop_at_irreversible=True)
        for step in reversed(done):
            if step.rollback_sql:
                _run(rollback_url, step.rollback_sql)
        assert _schema(rollback_url) == before


def test_live_sizes_raise_severity(mysql_db: MysqlFactory) -> None:
    url = mysql_db(SETUP + ROWS)
    with LiveDatabase.open(url) as db:
        catalog = load_catalog(db)
    sql = "SET SESSION lock_wait_timeout = 5;\nALTER TABLE orders MODIFY COLUMN quantity BIGINT NOT NULL DEFAULT 1;"
    normal = _lint(sql, _ctx(catalog))
    assert [(f.rule_id, f.severity) for f in normal] == [("migration.mysql_column_type_change", Severity.HIGH)]
    rows = normal[0].evidence["table_rows"]
    assert isinstance(rows, int) and rows > 10_000
    big = _lint(sql, _ctx(catalog, options=RuleOptions(thresholds={"migration.mysql_big_table_rows": 1000})))
    assert [f.severity for f in big] == [Severity.BLOCKER]
    small_dml = _lint("UPDATE places SET location = POINT(0, 0) WHERE id > 1;", _ctx(catalog))
    assert [f.severity for f in small_dml] == [Severity.LOW]


@pytest.mark.parametrize(
    ("dialect", "version", "sql", "wanted", "unwanted"),
    [
        (Dialect.MYSQL, 80011, "ALTER TABLE t ADD COLUMN c INT NULL", "ALGORITHM=INPLACE, LOCK=NONE", "INSTANT"),
        (Dialect.MYSQL, 80030, "ALTER TABLE t ADD COLUMN c INT NULL AFTER id", "ALGORITHM=INSTANT", "INPLACE"),
        (Dialect.MARIADB, 100302, "ALTER TABLE t DROP COLUMN v", "DROP COLUMN `v__deprecated`, ALGORITHM=INPLACE",
         "RENAME COLUMN"),
        # MySQL 5.7 has no RENAME COLUMN: the plan renames with CHANGE and the full definition
        (Dialect.MYSQL, 50744, "ALTER TABLE t RENAME COLUMN v TO w2", "CHANGE COLUMN `v` `v__deprecated`",
         "RENAME COLUMN"),
    ],
)
def test_plan_clauses_by_version(dialect: Dialect, version: int, sql: str, wanted: str, unwanted: str) -> None:
    catalog = catalog_from_ddl("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(31) NOT NULL, w VARCHAR(40));", dialect)
    steps, _ = plan_mysql(read_migrations(None, dialect, sql=sql + ";"), _ctx(catalog, dialect, version))
    text = "\n".join(s.sql + "\n" + (s.rollback_sql or "") for s in steps)
    assert wanted in text and unwanted not in text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    "ALTER", "TABLE", "t", "ADD", "COLUMN", "c", "INT", "NOT", "NULL", "DEFAULT", "(", ")", ",", "MODIFY", "CHANGE",
    "DROP", "INDEX", "ON", "CREATE", "UNIQUE", "KEY", "PRIMARY", "FOREIGN", "REFERENCES", "RENAME", "TO", "UPDATE",
    "SET", "=", "1", "WHERE", "DELETE", "FROM", "LIMIT", "ENUM('a','b')", "AFTER", "ALGORITHM", "'x", "`y", "CONVERT",
    "STORED", "AS", "STATEMENT", "FOR", "lock_wait_timeout", "IF", "EXISTS", "CHECK", "TRIGGER", ";",
]), min_size=1, max_size=30))
def test_any_token_soup_is_read_without_crashing(words: list[str]) -> None:
    script = read_migrations(None, Dialect.MARIADB, sql=" ".join(words))
    ctx = _ctx(None)
    findings, _ = lint_mysql(script, ctx)
    steps, _ = plan_mysql(script, ctx)
    assert all(f.location is not None for f in findings) and all(s.number >= 1 for s in steps)


def test_rule_entries_are_complete_and_every_emitted_id_has_one() -> None:
    repo = Path(__file__).resolve().parent.parent
    toml_ids = set(re.findall(r'^id = "([\w.]+)"', (repo / "knowledge" / "rules" / "migration_mysql.toml").read_text(
        encoding="utf-8"), re.MULTILINE))
    docs = load_rules()
    for rule_id in toml_ids:
        doc = docs[rule_id]
        assert set(doc.dialects) == {Dialect.MYSQL, Dialect.MARIADB}, rule_id
        assert doc.references and all(ref.startswith("https://") for ref in doc.references), rule_id
        assert len(doc.rationale) > 80 and len(doc.remediation) > 60, rule_id
    emitted: set[str] = set()
    for module in ("migration_lint_mysql.py", "migration_mysql_ops.py", "migration_mysql_read.py",
                   "migration_plan_mysql.py"):
        source = (repo / "tools" / module).read_text(encoding="utf-8")
        thresholds = set(re.findall(r'threshold\(\s*"(migration\.mysql_\w+)"', source))
        emitted |= set(re.findall(r'"(migration\.mysql_\w+)"', source)) - thresholds
    assert emitted <= toml_ids, emitted - toml_ids
    assert "migration.unparsable" in docs  # shared with the PostgreSQL linter's catalog


def test_session_settings_do_not_carry_over_to_the_next_file(tmp_path: Path) -> None:
    (tmp_path / "V1__first.sql").write_text("SET SESSION lock_wait_timeout = 5;\nALTER TABLE t ADD COLUMN a INT NULL, "
                                            "ALGORITHM=INSTANT;\n", encoding="utf-8")
    (tmp_path / "V2__second.sql").write_text("ALTER TABLE t ADD COLUMN b INT NULL, ALGORITHM=INSTANT;\n",
                                             encoding="utf-8")
    script = read_migrations([str(tmp_path)], Dialect.MARIADB)
    findings, _ = lint_mysql(script, _ctx(None))
    assert [(f.rule_id, Path(f.location.file).name if f.location else "") for f in findings] == [
        ("migration.mysql_lock_wait_timeout", "V2__second.sql")]


def test_column_charset_named_in_modify_counts_as_a_change() -> None:
    catalog = _setup_catalog()
    sql = "SET SESSION lock_wait_timeout = 5;\nALTER TABLE customers MODIFY name VARCHAR(40) CHARACTER SET latin1;"
    assert [f.rule_id for f in _lint(sql, _ctx(catalog))] == ["migration.mysql_charset_change"]

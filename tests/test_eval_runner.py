"""The eval runner against real PostgreSQL, MariaDB and SQLite: a scenario folder written here, a fixed agent,
fresh databases created and dropped (with the run's roles), scoring, effect checks, and `dbsage eval` end to end."""

from __future__ import annotations

import io
import json
import re
import threading
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from dbsage.evals.model import AgentResult, Recommendation, Task
from dbsage.evals.runner import load_scenarios, run_eval
from dbsage.evals.setup_sql import database_exists
from dbsage.server.cli import main
from dbsage.tools.errors import InputError
from tests.dbutil import admin_mysql, admin_postgres

SCENARIO = """
name = "{name}"
dialects = {dialects}
tools = ["suggest_indexes"]
{extra}
task = \"\"\"The orders page is slow (run {{{{run}}}}):

```sql
SELECT * FROM orders WHERE customer_id = 42
```
\"\"\"

[[expected]]
category = "index"
object = "orders.customer_id"
sql_pattern = "(?i)index.*customer_id"

[[expected]]
category = "security"
object = "app"
dialects = ["mysql"]

[[forbidden]]
sql_pattern = "(?i)drop\\\\s+table"
"""

SETUP = {
    "postgres": """
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, note text);
INSERT INTO orders SELECT g, g % 5000, 'a;b ''quoted''' FROM generate_series(1, 50000) g;
CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END; $$;
-- a comment; with a semicolon
CREATE ROLE "{{run}}_app";
ANALYZE orders;
""",
    "mysql": """
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, note text);
INSERT INTO orders SELECT seq, seq % 5000, 'a;b \\'quoted\\'' FROM seq_1_to_20000;  # comment; here
CREATE USER '{{run}}_app'@'%';
""",
    "sqlite": """
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, note TEXT);
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 5000)
INSERT INTO orders SELECT g, g % 500, 'a;b' FROM s;
""",
}

EFFECTS = """
[effects]
workload = ["SELECT * FROM orders WHERE customer_id = 42"]
max_relative_cost = 0.5
"""


def write_scenario(root: Path, name: str, dialects: list[str], extra: str = "", effects: str = "") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "scenario.toml").write_text(
        SCENARIO.format(name=name, dialects=json.dumps(dialects), extra=extra) + effects)
    for dialect in dialects:
        (folder / f"setup.{dialect}.sql").write_text(SETUP[dialect])
    (folder / "notes.txt").write_text("a file the task refers to")
    return folder


class FixedAgent:
    """Answers every task with the same recommendations, and remembers the tasks it saw."""

    def __init__(self, recs: list[Recommendation], name: str = "fixed") -> None:
        self.name = name
        self.recs = recs
        self.tasks: list[Task] = []
        self.lock = threading.Lock()
        self.configs: list[str] = []

    def run(self, task: Task) -> AgentResult:
        with self.lock:
            self.tasks.append(task)
            self.configs.append(task.config_path.read_text())
        return AgentResult(recommendations=self.recs, tool_calls=2, tokens=100, seconds=0.01)


GOOD = [
    Recommendation(category="index", object="public.orders.customer_id", severity="high",
                   sql="CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);"),
    Recommendation(category="security", object="app", severity="medium", sql=None),
]


@pytest.fixture
def servers(postgres_server_url: str, mysql_server_url: str) -> dict[str, str]:
    return {"postgres_dsn": postgres_server_url, "mysql_dsn": mysql_server_url}


def test_run_creates_scores_and_drops(tmp_path: Path, servers: dict[str, str]) -> None:
    write_scenario(tmp_path / "suite", "ev1-orders", ["postgres", "mysql", "sqlite"], effects=EFFECTS)
    scenarios = load_scenarios(tmp_path / "suite")
    agent = FixedAgent(GOOD)
    report = run_eval(scenarios, agent, None, 3,
                      postgres_dsn=servers["postgres_dsn"], mysql_dsn=servers["mysql_dsn"])
    by = {r.dialect: r for r in report.results}
    assert set(by) == {"postgres", "mysql", "sqlite"}
    assert all(r.error is None for r in report.results), [r.error for r in report.results]
    assert by["postgres"].recall == 1.0 and by["postgres"].expected == 1 and by["postgres"].passed
    assert by["mysql"].expected == 2 and by["mysql"].recall == 1.0
    # The index really helped on PostgreSQL; the cost check is skipped elsewhere.
    pg_effect = by["postgres"].effects[0]
    assert pg_effect.passed is True and pg_effect.value is not None and pg_effect.value < 0.5
    assert by["sqlite"].effects[0].passed is None
    # On sqlite/postgres the security recommendation matched nothing expected: a false alarm.
    assert by["postgres"].false_alarms == 1 and by["mysql"].false_alarms == 0
    assert report.summary.recall == 1.0 and report.summary.runs == 3 and report.summary.tokens == 300
    # Tasks: {{run}} replaced, config names the database `app`, files beside the scenario given.
    assert all(c.startswith("[databases.app]\nurl = ") for c in agent.configs)
    for task in agent.tasks:
        assert "{{run}}" not in task.prompt and re.search(r"run dbsage_ev[0-9a-f]{8}", task.prompt)
        assert [p.name for p in task.files] == ["notes.txt"]
    # Everything is gone afterwards: databases, the sqlite file, the run's roles and users.
    for task in agent.tasks:
        run = re.search(r"run (dbsage_ev[0-9a-f]{8})", task.prompt).group(1)  # type: ignore[union-attr]
        name = task.url.rsplit("/", 1)[1]
        if task.dialect == "sqlite":
            assert not Path(task.url.removeprefix("sqlite:///")).exists()
        else:
            server = servers["postgres_dsn" if task.dialect == "postgres" else "mysql_dsn"]
            assert name.startswith("dbsage_eval_ev1_orders_")
            assert not database_exists(server, task.dialect, name)
        if task.dialect == "postgres":
            with admin_postgres(servers["postgres_dsn"]) as conn:
                assert not conn.execute("SELECT 1 FROM pg_roles WHERE rolname LIKE %s", (run + "%",)).fetchall()
        if task.dialect == "mysql":
            conn_my = admin_mysql(servers["mysql_dsn"])
            try:
                with conn_my.cursor() as cur:
                    cur.execute("SELECT 1 FROM mysql.user WHERE user LIKE %s", (run + "%",))
                    assert not cur.fetchall()
            finally:
                conn_my.close()


def test_bad_answers_fail(tmp_path: Path, servers: dict[str, str]) -> None:
    write_scenario(tmp_path / "suite", "ev1-control", ["sqlite"], extra="control = true")
    write_scenario(tmp_path / "suite", "ev1-effect", ["postgres"], effects=EFFECTS)
    scenarios = load_scenarios(tmp_path / "suite")
    bad = [Recommendation(category="index", object="orders.customer_id", severity="medium",
                          sql="CREATE INDEX orders_note_idx ON orders (note); -- customer_id"),
           Recommendation(category="query", object="orders", severity="high", sql="DROP TABLE orders")]
    report = run_eval(scenarios, FixedAgent(bad), ["postgres", "sqlite"], 1,
                      postgres_dsn=servers["postgres_dsn"], mysql_dsn=servers["mysql_dsn"])
    by = {r.scenario: r for r in report.results}
    assert by["ev1-control"].false_alarms == 1 and by["ev1-control"].forbidden_hits == 1
    assert not by["ev1-control"].passed
    effect = by["ev1-effect"]
    assert effect.recall == 1.0 and not effect.passed
    assert effect.effects[0].passed is False and effect.effects[0].value is not None and effect.effects[0].value > 0.5
    assert report.summary.control_false_alarms == 1


def test_setup_failure_is_a_result_not_a_crash(tmp_path: Path, servers: dict[str, str]) -> None:
    folder = write_scenario(tmp_path / "suite", "ev1-broken", ["postgres"])
    (folder / "setup.postgres.sql").write_text("CREATE TABLE t (id int);\nCREATE TABLE oops (;\n")
    agent = FixedAgent(GOOD)
    report = run_eval(load_scenarios(tmp_path / "suite"), agent, None, 1,
                      postgres_dsn=servers["postgres_dsn"], mysql_dsn=servers["mysql_dsn"])
    result = report.results[0]
    assert result.error is not None and "setup.postgres.sql: statement 2 failed" in result.error
    assert not result.passed and not agent.tasks
    assert report.summary.expected == 1 and report.summary.recall == 0.0  # counted as missed


@pytest.mark.parametrize(("content", "problem"), [
    ("name = 'x'\ndialects = ['postgres']\n", "task: Field required"),
    ("name = 'x'\ndialects = ['oracle']\ntask = 't'\n", "dialects.0"),
    ("name = 'x'\ndialects = ['postgres']\ntask = 't'\n[[expected]]\nsql_pattern = '('\n", "bad sql_pattern"),
    ("name = 'x'\ndialects = ['postgres']\ntask = 't'\n[[forbidden]]\n", "forbidden entry 1 is empty"),
    ("name = 'x'\ndialects = ['postgres']\ntask = 't'\nbogus = 1\n", "bogus"),
    ("name = 'x'\ndialects = ['postgres', 'mysql']\ntask = 't'\n", "no setup.mysql.sql"),
    ("name = 'x\n", "not valid TOML"),
])
def test_scenario_validation_names_file_and_problem(tmp_path: Path, content: str, problem: str) -> None:
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "scenario.toml").write_text(content)
    (folder / "setup.postgres.sql").write_text("SELECT 1;")
    with pytest.raises(InputError) as info:
        load_scenarios(tmp_path)
    assert str(folder / "scenario.toml") in str(info.value) and problem in str(info.value)


def test_built_in_scenarios_load() -> None:
    scenarios = load_scenarios(None)
    assert len(scenarios) >= 15 and any(s.control for s in scenarios)
    assert all(s.folder is not None and (s.folder / "scenario.toml").is_file() for s in scenarios)


def test_cli_end_to_end(tmp_path: Path, servers: dict[str, str]) -> None:
    suite = tmp_path / "suite"
    write_scenario(suite, "ev1-cli", ["sqlite"])
    dsns = ["--postgres-dsn", servers["postgres_dsn"], "--mysql-dsn", servers["mysql_dsn"]]
    out, err = io.StringIO(), io.StringIO()
    report = tmp_path / "r.json"
    code = main(["eval", "--scenarios", str(suite), "--format", "json", "--out", str(report), "--quiet", *dsns],
                out=out, err=err)
    assert code == 0, out.getvalue() + err.getvalue()
    data = json.loads(report.read_text())
    assert data["results"][0]["scenario"] == "ev1-cli" and data["results"][0]["recall"] == 1.0
    assert "recall 1.000" in out.getvalue()
    # An expectation no answer meets: recall 0.5, the run fails the gate, the baseline diff shows it.
    (suite / "ev1-cli" / "scenario.toml").write_text(
        (suite / "ev1-cli" / "scenario.toml").read_text()
        + '\n[[expected]]\ncategory = "security"\nobject = "nobody.nothing"\n')
    junit = tmp_path / "r.xml"
    out = io.StringIO()
    code = main(["eval", "--scenarios", str(suite), "--format", "junit", "--out", str(junit), "--quiet",
                 "--baseline", str(report), *dsns], out=out, err=err)
    assert code == 1
    assert ET.parse(junit).getroot().find("testsuite/testcase/failure") is not None
    assert "recall 1.00 -> 0.50" in out.getvalue() and "below --min-recall" in out.getvalue()
    assert main(["eval", "--scenarios", str(suite), "--min-recall", "0.5", "--quiet", *dsns],
                out=io.StringIO(), err=err) == 0
    # User mistakes: exit 2 with one line, no traceback.
    err = io.StringIO()
    assert main(["eval", "--scenarios", str(tmp_path / "missing")], out=io.StringIO(), err=err) == 2
    assert "not a folder of scenarios" in err.getvalue() and "Traceback" not in err.getvalue()
    assert main(["eval", "--scenarios", str(suite), "--baseline", str(junit)], out=io.StringIO(), err=err) == 2
    assert main(["eval", "--agent", "scripted", "--no-tools"], out=io.StringIO(), err=err) == 2


def test_lock_wait_effect_verifies_the_recommended_migration(tmp_path: Path, servers: dict[str, str]) -> None:
    write_scenario(tmp_path / "suite", "ev1-migrate", ["postgres", "sqlite"],
                   effects="\n[effects]\nmax_lock_wait_ms = 5000\n")
    migration = Recommendation(category="migration", object="orders.flag", severity="medium",
                               sql="ALTER TABLE orders ADD COLUMN flag int;")
    report = run_eval(load_scenarios(tmp_path / "suite"), FixedAgent([*GOOD, migration]), None, 1,
                      postgres_dsn=servers["postgres_dsn"], mysql_dsn=servers["mysql_dsn"])
    by = {r.dialect: r for r in report.results}
    assert by["postgres"].error is None, by["postgres"].error
    check = by["postgres"].effects[0]
    assert check.name == "max_lock_wait_ms" and check.passed is True, check
    assert check.value is not None and 0 <= check.value <= 5000
    assert by["sqlite"].effects[0].passed is None


def test_cli_refuses_an_out_file_in_a_missing_folder(tmp_path: Path) -> None:
    err = io.StringIO()
    code = main(["eval", "--out", str(tmp_path / "nowhere" / "r.json")], out=io.StringIO(), err=err)
    assert code == 2 and "its folder does not exist" in err.getvalue()

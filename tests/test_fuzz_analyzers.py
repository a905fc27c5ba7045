"""Property-based tests of every offline analyzer entry point: a result or one of dbsage's own errors.

Inputs are real schemas and migrations (the sample databases, tests/fixtures, tests/data/migrations)
mutated token by token (deleted, duplicated, swapped, truncated, with random bytes and unicode put in),
plus free random text. Each call runs under a wall-clock alarm, so a hang fails the example instead of
stalling the suite. Examples are derandomized for CI; HYPOTHESIS_PROFILE=dbsage-long runs 20 times as many
with fresh randomness.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.errors import DbsageError, GuardRefused, InputError
from dbsage.tools.explain import explain_query
from dbsage.tools.migration import plan_migration
from dbsage.tools.schema import inspect_schema
from dbsage.tools.schema_diff import diff_schemas
from dbsage.tools.security_files import scan_files
from dbsage.tools.sources.allowlist import check_statement
from dbsage.tools.sources.ddl import catalog_from_ddl
from dbsage.tools.sources.guard import Mode
from tests.conftest import FIXTURES, REALWORLD

T = TypeVar("T")

LONG = os.environ.get("HYPOTHESIS_PROFILE", "") == "dbsage-long"
# One example may take this long before it counts as a hang (seconds; generous for a loaded 2-core CI).
CALL_LIMIT_S = 30.0
MIGRATIONS = Path(__file__).resolve().parent / "data" / "migrations"
ALL_DIALECTS = list(Dialect)
MIGRATION_DIALECTS = [Dialect.POSTGRES, Dialect.MYSQL, Dialect.MARIADB]


def fuzz_settings(examples: int) -> settings:
    """Reproducible settings for CI; the dbsage-long profile runs 20x the examples with new randomness."""
    return settings(
        max_examples=examples * (20 if LONG else 1),
        deadline=None,
        derandomize=not LONG,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


class Hang(BaseException):
    """An entry point ran past CALL_LIMIT_S (a BaseException, so no `except Exception` in dbsage swallows it)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread after `seconds` (SIGALRM: Python code is interrupted, C calls on return)."""

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise Hang(f"no answer within {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(call: Callable[[], T], what: str = "") -> T | DbsageError:
    """The call's result or the DbsageError it raised; anything else (or a hang) fails with the input named."""
    started = time.monotonic()
    try:
        with time_limit(CALL_LIMIT_S):
            return call()
    except DbsageError as exc:
        assert str(exc).strip(), "an error without a message"
        return exc
    except Hang:
        pytest.fail(f"hang ({time.monotonic() - started:.1f} s) on {what[:300]!r}")
    except Exception as exc:  # the property under test: nothing else escapes
        pytest.fail(f"unhandled {type(exc).__name__}: {exc!s:.200} on {what[:300]!r}")


# --- seeds and mutations -------------------------------------------------------------------------------


def _dialect_of(path: Path) -> Dialect:
    name = str(path).lower()
    if "mysql" in name:
        return Dialect.MYSQL
    if "sqlite" in name:
        return Dialect.SQLITE
    return Dialect.POSTGRES


@cache
def seeds() -> dict[Dialect, list[str]]:
    """Real SQL per dialect, cut into chunks of at most 4,000 characters at statement ends."""
    files = [*REALWORLD.glob("*/*.sql"), *FIXTURES.glob("*.sql"), *MIGRATIONS.glob("*/*.sql")]
    out: dict[Dialect, list[str]] = {d: [] for d in Dialect}
    for path in sorted(files):
        if "insert-data" in path.name:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        chunk = ""
        for piece in re.split(r"(?<=;\n)", text):
            if len(chunk) + len(piece) > 4000 and chunk:
                out[_dialect_of(path)].append(chunk)
                chunk = ""
            chunk += piece[:4000]
        if chunk.strip():
            out[_dialect_of(path)].append(chunk)
    out[Dialect.MARIADB] = out[Dialect.MYSQL]
    return out


@cache
def statements() -> dict[Dialect, list[str]]:
    """Single statements from the seeds (for the entry points that take one statement)."""
    out: dict[Dialect, list[str]] = {}
    for dialect, chunks in seeds().items():
        found = [s.strip() for c in chunks for s in c.split(";") if s.strip()]
        out[dialect] = [
            *[s for s in found if len(s) < 2000][:400],
            "SELECT * FROM film WHERE film_id = 1",
            "SELECT count(*) FROM rental r JOIN inventory i ON i.inventory_id = r.inventory_id GROUP BY 1",
            "UPDATE customer SET active = 0 WHERE last_update < '2020-01-01'",
            "DELETE FROM payment WHERE amount < 0",
            "INSERT INTO actor (first_name, last_name) VALUES ('A', 'B')",
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x UNION ALL SELECT 2 ORDER BY 1 LIMIT 5",
        ]
    return out


_TOKEN = re.compile(r"\w+|\s+|.", re.S)
JUNK = ["(", ")", ";", "'", '"', "`", "$$", "$tag$", "/*", "*/", "--", "\n", "\x00", "\ufeff", "\u202e", "é", "😀",
        "\\", ",", ".", "::", "$1", "?", "[", "]", "/*!50000", "E'\\", "CREATE", "TABLE", "INDEX", "ALTER", "DROP",
        "NOT NULL", "PRIMARY KEY", "REFERENCES", "CONCURRENTLY", "BEGIN", "COMMIT", "SELECT", "FROM", "WHERE",
        "UNION", "CHECK", "DEFAULT", "GENERATED ALWAYS AS", "PARTITION BY", "x" * 300]
_unicode = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=6)
_bytes_text = st.binary(min_size=1, max_size=12).map(lambda b: b.decode("latin-1"))


@st.composite
def mutated(draw: st.DrawFn, pool: list[str]) -> str:
    """One seed, mutated by 1-8 token edits (delete, duplicate, swap, truncate, insert junk/unicode/bytes)."""
    text = draw(st.sampled_from(pool))
    tokens = _TOKEN.findall(text)
    for _ in range(draw(st.integers(1, 8))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "truncate", "junk", "unicode", "bytes"]))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "truncate":
            tokens = tokens[:i]
        elif op == "junk":
            tokens.insert(i, draw(st.sampled_from(JUNK)))
        elif op == "unicode":
            tokens.insert(i, draw(_unicode))
        else:
            tokens.insert(i, draw(_bytes_text))
    return "".join(tokens)


def ddl_for(dialect: Dialect) -> st.SearchStrategy[str]:
    return mutated(seeds()[dialect])


def statement_for(dialect: Dialect) -> st.SearchStrategy[str]:
    return st.one_of(mutated(statements()[dialect]), st.text(max_size=200))


random_text = st.one_of(
    st.text(max_size=400),
    st.binary(max_size=400).map(lambda b: b.decode("utf-8", errors="replace")),
    st.lists(st.sampled_from(JUNK), max_size=40).map(" ".join),
)


# --- catalog_from_ddl and inspect_schema ---------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL_DIALECTS, ids=str)
@fuzz_settings(300)
@given(data=st.data())
def test_catalog_from_ddl_mutated(dialect: Dialect, data: st.DataObject) -> None:
    text = data.draw(st.one_of(ddl_for(dialect), random_text))
    result = outcome(lambda: catalog_from_ddl(text, dialect), text)
    if isinstance(result, DbsageError):
        assert isinstance(result, InputError)
    else:
        assert isinstance(result, Catalog) and result.dialect is dialect


@pytest.mark.parametrize("dialect", ALL_DIALECTS, ids=str)
@fuzz_settings(150)
@given(data=st.data())
def test_inspect_schema_mutated(dialect: Dialect, data: st.DataObject) -> None:
    text = data.draw(ddl_for(dialect))
    detail = data.draw(st.sampled_from(["concise", "full"]))
    limit = data.draw(st.one_of(st.none(), st.integers(-2, 50)))
    cursor = data.draw(st.one_of(st.none(), st.sampled_from(["", "0", "3", "-1", "x", "999999", "1e3"])))
    table = data.draw(st.one_of(st.none(), st.sampled_from(["*", "film*", "[", "?", "a" * 500])))
    result = outcome(lambda: inspect_schema(ddl=text, dialect=dialect, detail=detail,  # type: ignore[arg-type]
                                            limit=limit, cursor=cursor, table=table), text)
    if not isinstance(result, DbsageError):
        assert result.page >= 1 and len(result.tables) <= (limit or 1000)
        if result.page > result.pages:  # a cursor past the end: an empty last page, no further cursor
            assert not result.tables and result.next_cursor is None


# --- explain_query (offline) ---------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL_DIALECTS, ids=str)
@fuzz_settings(300)
@given(data=st.data())
def test_explain_query_offline_mutated(dialect: Dialect, data: st.DataObject) -> None:
    sql = data.draw(statement_for(dialect))
    result = outcome(lambda: explain_query(sql=sql, dialect=dialect), sql)
    if not isinstance(result, DbsageError):
        assert result.plan is None and result.could_not_check


# --- plan_migration (offline) -------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", MIGRATION_DIALECTS, ids=str)
@fuzz_settings(200)
@given(data=st.data())
def test_plan_migration_mutated(dialect: Dialect, data: st.DataObject) -> None:
    sql = data.draw(st.one_of(ddl_for(dialect), random_text))
    version = data.draw(st.one_of(st.none(), st.sampled_from(["15", "9.6", "8.0.29", "10.11", "x", "", "99999999"])))
    result = outcome(lambda: plan_migration(sql=sql, dialect=dialect, server_version=version), sql)
    if not isinstance(result, DbsageError):
        assert result.dialect is dialect
        for step in result.steps:
            assert step.sql.strip()


@pytest.mark.parametrize("dialect", MIGRATION_DIALECTS, ids=str)
@fuzz_settings(100)
@given(data=st.data())
def test_plan_migration_to_mutated_target(dialect: Dialect, data: st.DataObject) -> None:
    current = data.draw(st.sampled_from(seeds()[dialect]))
    target = data.draw(mutated([current]))
    result = outcome(lambda: plan_migration(dialect=dialect, current_ddl=current, target_ddl=target), target)
    if not isinstance(result, DbsageError):
        assert result.dialect is dialect and all(step.sql.strip() for step in result.steps)


# --- diff_schemas --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL_DIALECTS, ids=str)
@fuzz_settings(120)
@given(data=st.data())
def test_diff_schemas_mutated(dialect: Dialect, data: st.DataObject) -> None:
    pool = seeds()[dialect]
    current_text = data.draw(st.sampled_from(pool))
    target_text = data.draw(st.one_of(mutated([current_text]), ddl_for(dialect)))
    current = outcome(lambda: catalog_from_ddl(current_text, dialect), current_text)
    target = outcome(lambda: catalog_from_ddl(target_text, dialect), target_text)
    if isinstance(current, DbsageError) or isinstance(target, DbsageError):
        return
    result = outcome(lambda: diff_schemas(current, target, dialect), target_text)
    if not isinstance(result, DbsageError):
        sql, findings = result
        assert isinstance(sql, str) and isinstance(findings, list)
    same = outcome(lambda: diff_schemas(current, current, dialect), current_text)
    if not isinstance(same, DbsageError):
        assert same[0].strip() == "", f"a schema differs from itself: {same[0][:300]}"


# --- the guard's allowlist -----------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL_DIALECTS, ids=str)
@fuzz_settings(300)
@given(data=st.data())
def test_check_statement_mutated(dialect: Dialect, data: st.DataObject) -> None:
    sql = data.draw(st.one_of(statement_for(dialect), random_text))
    mode = data.draw(st.sampled_from(list(Mode)))
    row_cap = data.draw(st.one_of(st.none(), st.integers(1, 1000)))
    result = outcome(lambda: check_statement(sql, dialect, mode, row_cap=row_cap), sql)
    if isinstance(result, GuardRefused):
        assert result.reason and re.fullmatch(r"[a-z_]+", result.reason)
    elif not isinstance(result, DbsageError):
        # What the guard lets through it accepts again: the regenerated text is stable.
        again = outcome(lambda: check_statement(result, dialect, mode), result)
        assert not isinstance(again, DbsageError), f"{sql!r} -> {result!r} refused on re-check: {again}"


# --- scan_files ------------------------------------------------------------------------------------------

_names = st.sampled_from([".env", "app.py", "config.yml", "settings.json", "db.ini", "x.sql", "notes.txt",
                          "docker-compose.yaml", "prod.env", "a.toml"])
_contents = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=2000).map(lambda t: t.encode("utf-8", errors="surrogatepass")),
    st.lists(st.sampled_from([
        "password = hunter22", "DATABASE_URL=postgres://u:s3cret@db/x", "PASSWORD: ''", "pwd=${PASS}",
        "mysql://root:root@127.0.0.1/", "secret_key = 'abc'", "\x00\xff", "é", "=" * 5000,
    ]), max_size=30).map(lambda lines: "\n".join(lines).encode("utf-8")),
)


@fuzz_settings(150)
@given(files=st.lists(st.tuples(_names, _contents), min_size=1, max_size=4))
def test_scan_files_random_contents(tmp_path_factory: pytest.TempPathFactory,
                                    files: list[tuple[str, bytes]]) -> None:
    root = tmp_path_factory.mktemp("scan")
    for i, (name, content) in enumerate(files):
        folder = root / str(i)
        folder.mkdir()
        (folder / name).write_bytes(content)
    result = outcome(lambda: scan_files([str(root)]), repr(files)[:300])
    if not isinstance(result, DbsageError):
        findings, read = result
        assert 0 <= read <= len(files)
        for finding in findings:
            # the secret itself never appears in the finding
            assert "hunter22" not in finding.model_dump_json() and "s3cret" not in finding.model_dump_json()


# --- regressions found by fuzzing -------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", [Dialect.MYSQL, Dialect.MARIADB, Dialect.SQLITE], ids=str)
def test_explain_unclosed_quote_is_an_input_error(dialect: Dialect) -> None:
    # sqlglot's TokenError (not a ParseError) escaped explain_query before.
    with pytest.raises(InputError, match="does not parse"):
        explain_query(sql="ALTER TABLE orders ADD CONSTRAINT CHECK `(quantity > 0)", dialect=dialect)


@pytest.mark.parametrize("dialect", [Dialect.MYSQL, Dialect.SQLITE], ids=str)
@pytest.mark.parametrize("sql", ["SELECT " + "(" * 3000 + "1" + ")" * 3000, "SELECT " + "(" * 3000],
                         ids=["balanced", "unclosed"])
def test_explain_deep_nesting_is_an_input_error(dialect: Dialect, sql: str) -> None:
    # sqlglot's RecursionError escaped explain_query before.
    with pytest.raises(InputError, match="nests too deeply"):
        explain_query(sql=sql, dialect=dialect)


@pytest.mark.parametrize("sql", [
    "SELECT " + "coalesce(" * 600 + "1" + ")" * 600,
    "SELECT * FROM " + "(SELECT * FROM " * 300 + "t" + ") s" * 300,
    "SELECT " + " + ".join(["1"] * 3000),
], ids=["functions", "subqueries", "operators"])
def test_plan_migration_deep_statement_is_reported(sql: str) -> None:
    # pglast accepts ~1000 levels, Python's JSON reader fewer: a RecursionError escaped the linter before.
    report = plan_migration(sql=sql, dialect="postgres")
    unparsable = [f for f in report.findings if f.rule_id == "migration.unparsable"]
    assert unparsable and "nests too deeply" in unparsable[0].message


@pytest.mark.parametrize("dialect", [Dialect.MYSQL, Dialect.MARIADB, Dialect.SQLITE], ids=str)
@pytest.mark.parametrize("sql", ["''", '""', "``", "'' ''"])
@pytest.mark.parametrize("mode", list(Mode), ids=str)
def test_check_statement_empty_quoted_token_is_refused(dialect: Dialect, sql: str, mode: Mode) -> None:
    # A statement opening with an empty quoted token raised IndexError in the guard before.
    with pytest.raises(GuardRefused, match="not a query"):
        check_statement(sql, dialect, mode)


@pytest.mark.parametrize("dialect", [Dialect.MYSQL, Dialect.MARIADB], ids=str)
def test_explain_truncated_call_is_an_input_error(dialect: Dialect) -> None:
    # sqlglot raised AttributeError on a truncated DATE_SUB( and explain_query let it out before.
    with pytest.raises(InputError, match="does not parse"):
        explain_query(sql="/* periods */ SET last_month_start = DATE_SUB(", dialect=dialect)


def test_the_alarm_reports_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself: a call that does not return in time fails with 'hang', it does not stall."""
    monkeypatch.setattr(sys.modules[__name__], "CALL_LIMIT_S", 0.2)
    with pytest.raises(pytest.fail.Exception, match="hang"):
        outcome(lambda: time.sleep(5), "sleep")

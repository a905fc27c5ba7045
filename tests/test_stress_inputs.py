"""Stress inputs: a 50 MB migration file, a 10,000-table schema, 10,000 nested parentheses, 10,000-character names.

Each runs in a child process with a wall-clock limit, so a hang, a stack overflow in a C parser or a
runaway allocation fails the test instead of the suite. Time and peak memory are printed (pytest -s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import DbsageError, InputError
from dbsage.tools.migration import MAX_STATEMENTS, plan_migration
from tests.test_fuzz_analyzers import outcome

REPO = Path(__file__).resolve().parent.parent
# Bounds generous enough for a loaded 2-core CI machine; measured figures are far below (see README notes).
MIGRATION_LIMIT_S = 150.0
TABLES_LIMIT_S = 240.0
NESTING_LIMIT_S = 180.0
MEMORY_LIMIT_MB = 3000.0


def run_child(args: list[str], limit_s: float, cwd: Path) -> tuple[int, str, str, float, float]:
    """Run a child process; (exit code, stdout, stderr, seconds, its own peak RSS in MB). Killed at `limit_s`."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("DBSAGE_")}
    out_path, err_path = cwd / "child.out", cwd / "child.err"
    started = time.monotonic()
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err)
        timer = threading.Timer(limit_s, proc.kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if seconds >= limit_s:
        pytest.fail(f"{args[:4]} did not finish within {limit_s:.0f} s")
    return proc.returncode, out_path.read_text(), err_path.read_text(), seconds, usage.ru_maxrss / 1024


def _write_migration(path: Path, megabytes: int) -> int:
    """A PostgreSQL migration of schema changes, `megabytes` MB; returns the statement count."""
    size = megabytes * 1024 * 1024
    count = written = 0
    with path.open("w") as out:
        while written < size:
            table = f"t{count % 500}"
            kind = count % 4
            if kind == 0:
                line = f"ALTER TABLE {table} ADD COLUMN c{count} integer;\n"
            elif kind == 1:
                line = f"CREATE INDEX i{count} ON {table} (c{count - 1});\n"
            elif kind == 2:
                line = f"UPDATE {table} SET c{count - 2} = 0 WHERE id < {count};\n"
            else:
                line = f"-- step {count}\nALTER TABLE {table} ALTER COLUMN c{count - 3} SET NOT NULL;\n"
            out.write(line)
            written += len(line)
            count += 1
    return count


# --- a 50 MB migration file ------------------------------------------------------------------------------


@pytest.mark.slow
def test_plan_migration_50mb_file_gives_a_clear_error_in_bounded_time(tmp_path: Path) -> None:
    path = tmp_path / "V1__huge.sql"
    count = _write_migration(path, 50)
    assert path.stat().st_size >= 50 * 1024 * 1024
    code, _out, err, seconds, peak = run_child(
        [sys.executable, "-m", "dbsage.server", "plan-migration", str(path), "--dialect", "postgres",
         "--format", "json"], MIGRATION_LIMIT_S, tmp_path)
    print(f"\n50 MB migration ({count:,} statements): exit {code} in {seconds:.1f} s, peak {peak:.0f} MB")
    assert code == 2, err[-500:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dbsage: error:"), err[-500:]
    assert f"{count:,} statements" in lines[0] and "split it" in lines[0]
    assert peak < MEMORY_LIMIT_MB


@pytest.mark.slow
def test_plan_migration_50mb_of_bulk_inserts_finishes(tmp_path: Path) -> None:
    path = tmp_path / "V2__load.sql"
    count = written = 0
    with path.open("w") as out:
        while written < 50 * 1024 * 1024:
            rows = ",".join(f"({count * 330 + i}, 'name {i}', now())" for i in range(330))
            written += out.write(f"INSERT INTO t (id, name, at) VALUES {rows};\n")
            count += 1
    megabytes = path.stat().st_size / 1024 / 1024
    assert megabytes >= 50
    code, out_text, err, seconds, peak = run_child(
        [sys.executable, "-m", "dbsage.server", "plan-migration", str(path), "--dialect", "postgres",
         "--format", "json"], MIGRATION_LIMIT_S, tmp_path)
    print(f"\n{megabytes:.0f} MB of bulk INSERTs ({count:,} statements): exit {code} in {seconds:.1f} s, "
          f"peak {peak:.0f} MB")
    assert code == 0, err[-500:]
    report = json.loads(out_text)
    assert report["statements"] == count
    assert peak < MEMORY_LIMIT_MB


def test_plan_migration_statement_limit() -> None:
    sql = "ALTER TABLE t ADD COLUMN c integer;\n" * (MAX_STATEMENTS + 1)
    with pytest.raises(InputError, match=f"{MAX_STATEMENTS + 1:,} statements"):
        plan_migration(sql=sql, dialect="postgres")


# --- a schema of 10,000 tables --------------------------------------------------------------------------

_TABLES_CHILD = textwrap.dedent("""
    import json, sys, time
    from dbsage.tools.schema import inspect_schema
    n = int(sys.argv[1])
    ddl = "\\n".join(
        f"CREATE TABLE t{i} (id integer PRIMARY KEY, parent_id integer REFERENCES t{max(i - 1, 0)} (id), "
        f"name varchar(100) NOT NULL, created_at timestamp);\\nCREATE INDEX t{i}_name ON t{i} (name);"
        for i in range(n))
    started = time.monotonic()
    first = inspect_schema(ddl=ddl, dialect=sys.argv[2])
    seconds = time.monotonic() - started
    print(json.dumps({"seconds": seconds, "pages": first.pages, "page_tables": len(first.tables),
                      "next_cursor": first.next_cursor, "totals": first.totals,
                      "chars": len(first.model_dump_json())}))
""")


@pytest.mark.slow
def test_inspect_schema_10000_tables_is_paged_in_bounded_time(tmp_path: Path) -> None:
    code, out, err, seconds, peak = run_child([sys.executable, "-c", _TABLES_CHILD, "10000", "postgres"],
                                              TABLES_LIMIT_S, tmp_path)
    assert code == 0, err[-1000:]
    result = json.loads(out.strip().splitlines()[-1])
    print(f"\n10,000 tables (postgres DDL, 1.7 MB): inspect_schema {result['seconds']:.1f} s "
          f"(process {seconds:.1f} s), peak {peak:.0f} MB, {result['pages']} pages of {result['page_tables']} "
          f"tables, first page {result['chars']:,} characters")
    assert result["totals"]["tables"] == 10_000
    assert result["next_cursor"] is not None and result["pages"] > 1
    assert 1 <= result["page_tables"] < 10_000
    assert result["chars"] <= 50_000
    assert peak < MEMORY_LIMIT_MB


# --- 10,000 nested parentheses and 10,000-character names, every entry point -------------------------------

_ENTRY_CHILD = textwrap.dedent("""
    import json, sys, time
    from dbsage.tools.catalog import Dialect
    from dbsage.tools.errors import DbsageError
    from dbsage.tools.explain import explain_query
    from dbsage.tools.migration import plan_migration
    from dbsage.tools.schema import inspect_schema
    from dbsage.tools.schema_diff import diff_schemas
    from dbsage.tools.sources.allowlist import check_statement
    from dbsage.tools.sources.ddl import catalog_from_ddl
    from dbsage.tools.sources.guard import Mode

    N = 10_000
    query = "SELECT " + "(" * N + "1" + ")" * N
    unclosed = "SELECT " + "(" * N + "1"
    ddl = "CREATE TABLE t (a int CHECK (" + "(" * N + "a > 0" + ")" * N + "));"
    long_name = "t" * N
    long_ddl = f"CREATE TABLE {long_name} ({'c' * N} integer PRIMARY KEY, b text);"
    long_query = f"SELECT {'c' * N} FROM {long_name} WHERE b = '{'x' * N}'"
    plain = catalog_from_ddl("CREATE TABLE t (a int);", Dialect.POSTGRES)

    def cases():
        for d in Dialect:
            yield f"catalog_from_ddl/{d}/parens", lambda d=d: catalog_from_ddl(ddl, d)
            yield f"catalog_from_ddl/{d}/long-names", lambda d=d: catalog_from_ddl(long_ddl, d)
            yield f"inspect_schema/{d}/parens", lambda d=d: inspect_schema(ddl=ddl, dialect=d, detail="full")
            yield f"inspect_schema/{d}/long-names", lambda d=d: inspect_schema(ddl=long_ddl, dialect=d)
            for name, sql in (("parens", query), ("unclosed", unclosed), ("long-names", long_query)):
                yield f"explain_query/{d}/{name}", lambda d=d, sql=sql: explain_query(sql=sql, dialect=d)
                for mode in Mode:
                    yield (f"check_statement/{d}/{mode}/{name}",
                           lambda d=d, sql=sql, mode=mode: check_statement(sql, d, mode, row_cap=100))
            yield f"diff_schemas/{d}/long-names", lambda d=d: diff_schemas(
                catalog_from_ddl("CREATE TABLE x (a int);", d), catalog_from_ddl(long_ddl, d), d)
        for d in (Dialect.POSTGRES, Dialect.MYSQL, Dialect.MARIADB):
            for name, sql in (("parens", query + ";"), ("ddl-parens", ddl), ("long-names", long_ddl)):
                yield f"plan_migration/{d}/{name}", lambda d=d, sql=sql: plan_migration(sql=sql, dialect=d)
        yield "diff_schemas/postgres/parens", lambda: diff_schemas(
            plain, catalog_from_ddl("CREATE TABLE t (a int DEFAULT (" + "(" * 500 + "1" + ")" * 500 + "));",
                                    Dialect.POSTGRES), Dialect.POSTGRES)

    results = {}
    for name, call in cases():
        print(name, file=sys.stderr, flush=True)  # the last name on stderr names a case that killed the process
        started = time.monotonic()
        try:
            call()
            outcome = "result"
        except DbsageError as exc:
            outcome = f"{type(exc).__name__}: {str(exc)[:120]}"
        except Exception as exc:
            outcome = f"UNHANDLED {type(exc).__name__}: {str(exc)[:200]}"
        results[name] = [outcome, round(time.monotonic() - started, 2)]
    print(json.dumps(results))
""")


@pytest.mark.slow
def test_deep_nesting_and_long_names_every_entry_point(tmp_path: Path) -> None:
    code, out, err, seconds, peak = run_child([sys.executable, "-c", _ENTRY_CHILD], NESTING_LIMIT_S, tmp_path)
    assert code == 0, f"the process died (exit {code}) during: {err.strip().splitlines()[-1:]}"
    results: dict[str, list[object]] = json.loads(out.strip().splitlines()[-1])
    unhandled = {k: v for k, v in results.items() if str(v[0]).startswith("UNHANDLED")}
    slowest = max(results.items(), key=lambda kv: float(kv[1][1]))  # type: ignore[arg-type]
    print(f"\n{len(results)} deep/long cases in {seconds:.1f} s, peak {peak:.0f} MB; slowest {slowest[0]} "
          f"{slowest[1][1]} s")
    assert not unhandled, unhandled
    assert len(results) >= 70
    # the guard never lets 10,000 levels through
    for name, (result, _s) in results.items():
        if name.startswith("check_statement/") and "/long-names" not in name:
            assert result != "result", name


def test_long_identifiers_in_process() -> None:
    """10,000-character names give a result or a clear error at every offline entry point (quick, in-process)."""
    from dbsage.tools.explain import explain_query
    from dbsage.tools.schema import inspect_schema

    name = "n" * 10_000
    for dialect in Dialect:
        ddl = f'CREATE TABLE "{name}" (id integer PRIMARY KEY, "{name}x" text);'
        if dialect.is_mysql_family:
            ddl = ddl.replace('"', "`")
        result = outcome(lambda d=dialect, text=ddl: inspect_schema(ddl=text, dialect=d, detail="full"), ddl)  # type: ignore[misc]
        assert not isinstance(result, DbsageError) or isinstance(result, InputError)
        query = outcome(lambda d=dialect: explain_query(sql=f"SELECT {name} FROM {name}", dialect=d), name)  # type: ignore[misc]
        assert not isinstance(query, DbsageError) or isinstance(query, InputError)

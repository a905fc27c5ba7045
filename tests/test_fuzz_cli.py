"""Property-based tests of the `dbsage` command line: random subcommands, flags and values.

The property: exit code 0, 1, 2 or 3 only (never 70, the internal-error code), no traceback, and an
error is one line `dbsage: error: ...`. Databases named here are unreachable loopback ports, missing
SQLite files or malformed URLs: nothing leaves the machine and nothing is written outside tmp folders.
`serve` and `demo` are left out (they start servers); their flags are checked by argparse alone.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbsage.server.cli import main
from dbsage.tools.catalog import Dialect
from tests.test_fuzz_analyzers import CALL_LIMIT_S, Hang, fuzz_settings, mutated, seeds, time_limit

ALLOWED_EXIT = {0, 1, 2, 3}

COMMANDS: dict[str, list[str]] = {
    "inspect-schema": ["--dsn", "--database", "--ddl", "--dialect", "--schema", "--table", "--detail",
                       "--min-severity", "--limit", "--cursor", "--format", "--fail-on", "--config"],
    "explain-query": ["--dsn", "--database", "--dialect", "--sql", "--file", "--param", "--analyze",
                      "--allow-write-analyze", "--hypothetical-index", "--format", "--fail-on", "--config"],
    "suggest-indexes": ["--dsn", "--database", "--queries", "--from-stats", "--budget-mb", "--max-indexes",
                        "--max-width", "--time-limit", "--format", "--fail-on", "--config"],
    "plan-migration": ["--dialect", "--dsn", "--database", "--target-ddl", "--current-ddl", "--server-version",
                       "--verify", "--scratch-dsn", "--scratch-database", "--render", "--out", "--name",
                       "--flyway-version", "--down-revision", "--format", "--fail-on", "--config"],
    "audit-security": ["--dsn", "--database", "--paths", "--app-role", "--tenant-column", "--probe-tenants",
                       "--format", "--fail-on", "--config"],
    "checklist-review": ["--dsn", "--database", "--paths", "--restore-drill", "--scratch-dsn", "--scratch-database",
                         "--format", "--fail-on", "--config"],
    "rules": ["--format"],
    "": ["--version", "--help", "--bogus"],
}

DSNS = [
    "postgresql://fuzz:pw@127.0.0.1:1/db", "mysql://root@127.0.0.1:1/x", "mariadb://u:p@127.0.0.1:1/",
    "sqlite:///nonexistent/dir/x.db", "sqlite:///", "postgresql://", "http://example.invalid/x", "bogus",
    "postgresql://u@127.0.0.1:99999/x", "postgresql://u@[::1:1/x", "mysql://u@127.0.0.1:1/x?ssl=maybe",
]
WORDS = ["postgres", "mysql", "mariadb", "sqlite", "oracle", "", "text", "json", "markdown", "sarif", "none",
         "low", "medium", "high", "critical", "info", "sql", "alembic", "flyway", "concise", "full", "-1", "0", "1",
         "1e9", "nan", "inf", "15", "8.0.29", "x.y", "SELECT 1", "SELECT * FROM t WHERE a = $1", "DROP TABLE t",
         "CREATE INDEX i ON t (a)", "*", "a" * 10_000, "--", "-", "é😀", "\u202e"]


@contextmanager
def in_folder(folder: Path) -> Iterator[None]:
    """Run with `folder` as the working directory and without DATABASE_URL/DBSAGE_* from the environment."""
    saved_env = {k: v for k, v in os.environ.items() if k == "DATABASE_URL" or k.startswith("DBSAGE_")}
    for key in saved_env:
        del os.environ[key]
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(cwd)
        os.environ.update(saved_env)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Named paths the random values may point at: good, empty, binary, mutated, a folder, missing."""
    root = tmp_path_factory.mktemp("cli_fuzz")
    made = {
        "pg.sql": "ALTER TABLE orders ADD COLUMN note text NOT NULL DEFAULT 'x';\nCREATE INDEX i ON orders (note);\n",
        "my.sql": "CREATE TABLE t (id int primary key, a varchar(10));\nALTER TABLE t MODIFY a int;\n",
        "empty.sql": "",
        "blank.sql": "  \n\n",
        "bad.toml": "[databases\nx = ",
        "empty.toml": "",
        "db.toml": '[databases.app]\nurl = "postgresql://u@127.0.0.1:1/app"\n',
    }
    paths = {}
    for name, text in made.items():
        (root / name).write_text(text)
        paths[name] = str(root / name)
    (root / "binary.sql").write_bytes(bytes(range(256)) * 4)
    paths["binary.sql"] = str(root / "binary.sql")
    (root / "latin1.sql").write_bytes("CREATE TABLE café (a int);".encode("latin-1"))
    paths["latin1.sql"] = str(root / "latin1.sql")
    (root / "folder").mkdir()
    (root / "folder" / "001_a.sql").write_text("ALTER TABLE t ADD COLUMN b int;")
    (root / "folder" / ".env").write_text("DB_PASSWORD=hunter22\n")
    paths["folder"] = str(root / "folder")
    paths["missing"] = str(root / "missing.sql")
    paths["out"] = str(root / "out")
    for i, text in enumerate(seeds()[Dialect.POSTGRES][:20:4] + seeds()[Dialect.MYSQL][:20:4]):
        (root / f"seed{i}.sql").write_text(text)
        paths[f"seed{i}.sql"] = str(root / f"seed{i}.sql")
    paths["root"] = str(root)
    return paths


def _value(files: dict[str, str]) -> st.SearchStrategy[str]:
    safe_text = st.text(max_size=30).filter(lambda t: not t.startswith(("/", "~")) and ".." not in t)
    return st.one_of(
        st.sampled_from(sorted(v for k, v in files.items() if k != "root")),
        st.sampled_from(DSNS),
        st.sampled_from(WORDS),
        safe_text,
    )


@st.composite
def argvs(draw: st.DrawFn, files: dict[str, str]) -> list[str]:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    flags = COMMANDS[command] + ["--format", "--help", "--nope", "-x"]
    argv = [command] if command else []
    value = _value(files)
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["flag+value", "flag+value", "flag", "value", "mutated file"]))
        if kind in ("flag+value", "flag"):
            argv.append(draw(st.sampled_from(flags)))
        if kind in ("flag+value", "value"):
            argv.append(draw(value))
        if kind == "mutated file":
            name = f"m{draw(st.integers(0, 3))}.sql"
            path = Path(files["root"]) / name
            path.write_text(draw(mutated(seeds()[Dialect.POSTGRES] + seeds()[Dialect.MYSQL])),
                            encoding="utf-8", errors="surrogatepass")
            argv.append(str(path))
    return argv


def run_cli(argv: list[str], folder: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with in_folder(Path(folder)), redirect_stdout(out), redirect_stderr(err), time_limit(CALL_LIMIT_S):
        code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def check_result(argv: list[str], code: int, err: str) -> None:
    assert code in ALLOWED_EXIT, f"exit {code} for {argv!r}: {err[-500:]}"
    assert "Traceback" not in err, f"traceback for {argv!r}: {err[-1000:]}"
    errors = [line for line in err.splitlines() if line.startswith("dbsage: error:")]
    assert len(errors) <= 1, f"{len(errors)} error lines for {argv!r}: {err[-500:]}"
    if code in (2, 3):
        assert errors or "usage:" in err, f"exit {code} without an error line for {argv!r}: {err[-500:]}"
        if errors:
            assert len(errors[0]) > len("dbsage: error: ") + 3


@fuzz_settings(600)
@given(data=st.data())
def test_cli_random_argv(files: dict[str, str], data: st.DataObject) -> None:
    argv = data.draw(argvs(files))
    try:
        code, _out, err = run_cli(argv, files["root"])
    except Hang:
        pytest.fail(f"the CLI did not answer within {CALL_LIMIT_S:.0f} s for {argv!r}")
    check_result(argv, code, err)


@fuzz_settings(200)
@given(data=st.data())
def test_cli_plan_migration_mutated_files(files: dict[str, str], data: st.DataObject) -> None:
    dialect = data.draw(st.sampled_from(["postgres", "mysql", "mariadb"]))
    seed_dialect = "postgres" if dialect == "postgres" else "mysql"
    path = Path(files["root"]) / f"plan_{dialect}.sql"
    path.write_text(data.draw(mutated(seeds()[Dialect(seed_dialect)])), encoding="utf-8",
                    errors="surrogatepass")
    fmt = data.draw(st.sampled_from(["text", "json", "markdown", "sarif"]))
    argv = ["plan-migration", str(path), "--dialect", dialect, "--format", fmt, "--fail-on", "high"]
    if data.draw(st.booleans()):
        argv += ["--render", data.draw(st.sampled_from(["sql", "alembic", "flyway"])), "--out", files["out"]]
    code, out, err = run_cli(argv, files["root"])
    check_result(argv, code, err)
    if code in (0, 1):
        assert out.strip(), f"no report for {argv!r}"


@pytest.mark.parametrize("argv", [
    ["plan-migration", "{binary.sql}", "--dialect", "postgres"],
    ["inspect-schema", "--ddl", "{latin1.sql}", "--dialect", "mysql"],
    ["explain-query", "--dialect", "mysql", "--sql", "SELECT " + "(" * 10_000 + "1" + ")" * 10_000],
    ["explain-query", "--dsn", "postgresql://fuzz:pw@127.0.0.1:1/db", "--sql", "SELECT 1"],
    ["inspect-schema", "--config", "{bad.toml}", "--ddl", "{pg.sql}", "--dialect", "postgres"],
    ["bogus-command"],
    [],
], ids=["binary", "latin1", "deep", "unreachable", "bad-config", "unknown-command", "nothing"])
def test_cli_process_exit_codes(files: dict[str, str], argv: list[str]) -> None:
    """The real process: a known exit code and at most one error line, never a traceback."""
    argv = [files[a[1:-1]] if a.startswith("{") else a for a in argv]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("DBSAGE_")}
    proc = subprocess.run([sys.executable, "-m", "dbsage.server", *argv], capture_output=True, text=True,
                          timeout=120, cwd=files["root"], env=env)
    check_result(argv, proc.returncode, proc.stderr)
    assert proc.returncode in (2, 3)


@st.composite
def valid_shaped_argvs(draw: st.DrawFn, files: dict[str, str]) -> list[str]:
    """Argument lists argparse accepts (mostly), so the commands themselves run on odd values."""
    sql_file = st.sampled_from([files[k] for k in files if k.endswith(".sql")] + [files["folder"], files["missing"]])
    dialect = st.sampled_from(["postgres", "mysql", "mariadb", "sqlite"] * 3 + ["pg", "oracle", ""])
    dsn = st.sampled_from(DSNS)
    fmt = ["--format", draw(st.sampled_from(["text", "json", "markdown", "sarif"]))]
    fail_on = ["--fail-on", draw(st.sampled_from(["none", "info", "low", "medium", "high", "blocker"]))]
    command = draw(st.sampled_from(["inspect-schema", "explain-query", "plan-migration", "audit-security",
                                    "checklist-review", "suggest-indexes"]))
    if command == "inspect-schema":
        argv = [command, "--ddl", draw(sql_file), "--dialect", draw(dialect)] if draw(st.booleans()) else [
            command, "--dsn", draw(dsn)]
        for flag, values in (("--detail", ["concise", "full"]), ("--limit", ["1", "3", "100000"]),
                             ("--cursor", ["0", "2", "-1", "x", "99999"]), ("--table", ["*", "t*", "[", "a" * 300]),
                             ("--schema", ["public", "main", "", "é"]),
                             ("--min-severity", ["info", "low", "high"])):
            if draw(st.booleans()):
                argv += [flag, draw(st.sampled_from(values))]
        return argv + fmt + fail_on
    if command == "explain-query":
        sql = draw(st.one_of(mutated(statements_pool()), st.text(max_size=60)))
        where = ["--dialect", draw(dialect)] if draw(st.integers(0, 3)) else ["--dsn", draw(dsn)]
        text = ["--sql", sql] if draw(st.booleans()) else ["--file", draw(sql_file)]
        extra = draw(st.lists(st.sampled_from([["--analyze"], ["--allow-write-analyze"], ["--param", "1"],
                                               ["--param", "x'); DROP"], ["--hypothetical-index", "CREATE INDEX"]]),
                              max_size=2))
        return [command, *where, *text, *[a for e in extra for a in e], *fmt, *fail_on]
    if command == "plan-migration":
        migration_dialect = st.sampled_from(["postgres", "mysql", "mariadb"])
        argv = [command, draw(sql_file), "--dialect", draw(migration_dialect)]
        if draw(st.booleans()):
            argv += ["--server-version", draw(st.sampled_from(["15", "9.6", "8.0.29", "10.11", "x", "0", "-3"]))]
        if draw(st.integers(0, 3)) == 0:
            argv += ["--current-ddl", draw(sql_file)]
        if draw(st.integers(0, 3)) == 0:
            argv = [command, "--target-ddl", draw(sql_file), "--current-ddl", draw(sql_file), "--dialect",
                    draw(migration_dialect)]
        if draw(st.integers(0, 3)) == 0:
            argv += ["--render", draw(st.sampled_from(["sql", "alembic", "flyway"])), "--out", files["out"],
                     "--name", draw(st.sampled_from(["x", "a b", "é", "../up", ""]))]
        return argv + fmt + fail_on
    if command == "audit-security":
        argv = [command, "--paths", files["folder"]] if draw(st.booleans()) else [command, "--dsn", draw(dsn)]
        return argv + fmt + fail_on
    if command == "checklist-review":
        drill = ["--restore-drill", "--scratch-dsn", draw(dsn)] if draw(st.integers(0, 3)) == 0 else []
        return [command, "--dsn", draw(dsn), *drill, *fmt, *fail_on]
    return [command, "--dsn", draw(dsn), "--queries", draw(sql_file), "--time-limit", "1", *fmt]


def statements_pool() -> list[str]:
    from tests.test_fuzz_analyzers import statements

    return statements()[Dialect.POSTGRES][:100] + statements()[Dialect.MYSQL][:100]


@fuzz_settings(500)
@given(data=st.data())
def test_cli_valid_shaped_argv(files: dict[str, str], data: st.DataObject) -> None:
    argv = data.draw(valid_shaped_argvs(files))
    try:
        code, out, err = run_cli(argv, files["root"])
    except Hang:
        pytest.fail(f"the CLI did not answer within {CALL_LIMIT_S:.0f} s for {argv!r}")
    check_result(argv, code, err)
    if code in (0, 1):
        assert out.strip(), f"exit {code} without a report for {argv!r}"


@pytest.mark.parametrize("url", ["postgresql://u@[::1:1/x", "mysql://u:pw@[zz]/x", "postgresql://u:pw@[::1/x"])
def test_malformed_ipv6_url_is_an_input_error(files: dict[str, str], url: str) -> None:
    # urlsplit's ValueError escaped parse_url as an internal error (exit 70) before.
    code, _out, err = run_cli(["checklist-review", "--dsn", url], files["root"])
    assert code == 2 and "Not a database URL" in err and ":pw@" not in err, err

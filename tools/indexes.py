"""suggest_indexes: the indexes a workload needs, chosen by measured benefit, and the ones to drop.

PostgreSQL with HypoPG: every candidate is built hypothetically inside one guarded read-only session
and each query is re-planned (EXPLAIN, through the guard's allowlist); the set is chosen greedily by
benefit per byte under the storage budget. SQLite: the same search with real indexes on dbsage's own
in-memory copy of the database, scored by plan shape (SQLite's planner shows no costs). Elsewhere
(MariaDB/MySQL, PostgreSQL without HypoPG): rule-of-thumb candidates, marked unverified.
The drop list reuses the index-health rules of inspect_schema.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.errors import DbsageError, GuardRefused, InputError
from dbsage.tools.findings import Evidence, Finding, sort_findings
from dbsage.tools.index_advisor import (
    HypoPG,
    MariaDbScratchCopy,
    Selection,
    SqliteCopy,
    WhatIf,
    key_list,
    select_indexes,
)
from dbsage.tools.index_candidates import (
    Candidate,
    QueryShape,
    Skipped,
    analyse_query,
    bind_typical_values,
    candidates_for,
    heuristic_candidates,
    split_statements,
)
from dbsage.tools.index_rollback import LOCK_NOTE, RealIndexRollback
from dbsage.tools.report import Report
from dbsage.tools.rules.fix_sql import NamePool, RelationNames, column_list, convention_name, quote, table_ref
from dbsage.tools.rules.index_health import (
    duplicate_index,
    invalid_index,
    redundant_prefix_index,
    unused_index,
)
from dbsage.tools.rules.registry import RuleContext, RuleOptions
from dbsage.tools.rules.rule_kit import named_object
from dbsage.tools.sources.allowlist import check_statement
from dbsage.tools.sources.guard import GuardedSession, Limits, LiveDatabase, Mode
from dbsage.tools.sources.live import load_catalog

TOOL: Literal["suggest_indexes"] = "suggest_indexes"
Method = Literal["hypopg", "real_index_rollback", "scratch_copy", "heuristic"]

# pg_stat_statements entries worth advising on (the thresholds Postgres MCP Pro uses).
STATS_MIN_CALLS = 50
STATS_MIN_MEAN_MS = 5.0
STATS_MAX_QUERIES = 200
# A table is write-heavy when the rows written since the statistics reset, beyond the rows it holds,
# reach its size (and this floor) and outnumber the rows read.
WRITE_HEAVY_MIN_ROWS = 10_000
PG_INCLUDE_VERSION = 110000
# Rows copied per table into the MariaDB scratch database: enough for the planner to prefer an index.
SCRATCH_SAMPLE_ROWS = 20_000
# performance_schema digests worth advising on: the table is small and often reset, so fewer calls.
DIGEST_MIN_CALLS = 2
SQL_PREVIEW_CHARS = 200


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryCost(_Model):
    query: int = Field(description="1-based number of the query in the workload")
    cost_before: float | None = Field(description="Estimated cost with the existing indexes")
    cost_after: float | None = Field(description="Estimated cost with the recommended set")


class Recommendation(_Model):
    table: str = Field(description="schema.table")
    columns: list[str]
    include: list[str] = Field(default_factory=list, description="INCLUDE (covering) columns")
    predicate: str | None = Field(default=None, description="WHERE of a partial index")
    method: str = "btree"
    create_sql: str = Field(description="Non-blocking build, runnable as given")
    size_bytes: int | None = Field(description="Estimated size (HypoPG's estimate on PostgreSQL)")
    verified: bool = Field(description="True when a what-if plan showed the benefit")
    queries: list[QueryCost] = Field(default_factory=list, description="Queries whose plan uses this index")
    notes: list[str] = Field(default_factory=list)


class DropSuggestion(_Model):
    index: str = Field(description="schema.table.index")
    table: str
    reason: Literal["duplicate", "prefix_redundant", "unused", "invalid"]
    drop_sql: str | None = Field(description="None when a constraint or referencing key holds on to it")
    evidence: Evidence = Field(default_factory=dict)


class WorkloadQuery(_Model):
    query: int
    sql: str = Field(description="The statement, cut to 200 characters")
    cost_before: float | None = None
    cost_after: float | None = None


class SkippedQuery(_Model):
    query: int
    sql: str
    reason: str


class Workload(_Model):
    cost_before: float | None = Field(description="Sum of estimated costs with the existing indexes")
    cost_after: float | None = Field(description="Sum with the recommended indexes added")
    relative_cost: float | None = Field(description="cost_after / cost_before (lower is better)")
    cost_unit: Literal["planner", "plan_shape", "rows_examined", "none"] = Field(
        description="planner: the planner's estimates; plan_shape: SQLite scan/search score; rows_examined: "
        "rows MariaDB's plan reads on the sample; none: unverified"
    )
    queries_analyzed: int
    queries_skipped: list[SkippedQuery] = Field(default_factory=list)
    queries: list[WorkloadQuery] = Field(default_factory=list)
    whatif_calls: int = 0
    candidates: int = 0
    elapsed_s: float
    timed_out: bool = Field(default=False, description="True when the time limit cut the search short")
    verified: bool
    method: Method


class IndexReport(Report):
    """What suggest_indexes returns."""

    tool: Literal["suggest_indexes"] = TOOL
    source: str
    dialect: Dialect
    recommendations: list[Recommendation] = Field(default_factory=list)
    drop: list[DropSuggestion] = Field(default_factory=list)
    workload: Workload
    could_not_check: list[str] = Field(default_factory=list)


def _quiet(_: str) -> None:
    return None


def suggest_indexes(
    *,
    dsn: str,
    queries: list[str] | None = None,
    from_stats: bool = False,
    budget_mb: float = 500,
    max_indexes: int = 10,
    max_width: int = 3,
    time_limit_s: float = 30,
    limits: Limits | None = None,
    source_name: str | None = None,
    progress: Callable[[str], None] | None = None,
    allow_real_index_rollback: bool = False,
) -> IndexReport:
    """Recommend indexes for a workload on the database at `dsn`, and the existing ones to drop.

    `queries` holds SQL texts (an entry may hold several statements separated by semicolons);
    `from_stats` reads the workload from pg_stat_statements instead. `budget_mb` is in MiB (2**20
    bytes) of estimated index size; `max_width` caps key columns per index; at `time_limit_s` the
    search stops with the best set found so far; `progress` receives one line per step.
    `allow_real_index_rollback`: on PostgreSQL without HypoPG, build candidates for real inside a
    rolled-back transaction (locks tables against writes meanwhile; never on production).
    """
    started = time.monotonic()
    say = progress or _quiet
    _check_arguments(queries, from_stats, budget_mb, max_indexes, max_width, time_limit_s)
    with LiveDatabase.open(dsn, limits=limits) as db:
        say("reading the catalog")
        catalog = load_catalog(db)
        source = source_name or db.url.redacted
        texts = _workload_texts(db, queries, from_stats)
        shapes: list[QueryShape] = []
        skipped: list[Skipped] = []
        bound = _bind_parameters(db, catalog, texts) if db.dialect is Dialect.POSTGRES else {}
        for number, sql in enumerate(texts, 1):
            value = bound.get(number)
            if isinstance(value, Skipped):
                skipped.append(value)
                continue
            result = analyse_query(number, value if value is not None else sql, catalog)
            (skipped if isinstance(result, Skipped) else shapes).append(result)  # type: ignore[arg-type]
        if not shapes:
            reasons = "; ".join(f"query {s.number} {s.reason}" for s in skipped[:3])
            raise InputError(
                "No analysable query in the workload.",
                hint=reasons or "give SELECT statements that read tables of this database",
            )
        say(f"analysed {len(shapes)} queries, skipped {len(skipped)}")
        drops, findings = drop_list(catalog)
        writes = _table_writes(db) if db.dialect is Dialect.POSTGRES else {}
        heavy = {k for k, v in writes.items() if v["heavy"]}
        for d in drops:
            w = writes.get(tuple(d.table.split(".", 1)))  # type: ignore[arg-type]
            if w is not None:
                d.evidence["rows_written_since_reset"] = w["written"]
        could_not: list[str] = []
        if any(isinstance(v, str) for v in bound.values()):
            could_not.append(
                "Queries with $n parameters were costed with typical values from the columns' statistics "
                "(pg_stats) in place of the parameters; other values may plan differently."
            )
        deadline = started + time_limit_s
        budget = int(budget_mb * 1024 * 1024)
        selection: Selection | None = None
        method: Method = "heuristic"
        candidate_count = 0
        planner_costs = True
        refusal: str | None = None
        if db.dialect is Dialect.POSTGRES and _has_hypopg(catalog):
            method = "hypopg"
            with db.session() as session:
                hypo = HypoPG(session, {(t.schema_name, t.name): t for t in catalog.tables})
                shapes, refused = _guard_check(shapes, db.dialect)
                skipped += refused
                shapes, failed = _plannable(session, shapes)
                skipped += failed
                covering = (catalog.server_version_num or 0) >= PG_INCLUDE_VERSION
                cands = candidates_for(shapes, catalog, max_width=max_width, covering=covering)
                candidate_count = len(cands)
                try:
                    selection = _select(hypo, shapes, cands, budget, max_indexes, deadline, heavy, say)
                finally:
                    hypo.reset()
        elif db.dialect is Dialect.POSTGRES and allow_real_index_rollback:
            # Opt-in without HypoPG: real builds, each under a savepoint, the whole transaction rolled back.
            method = "real_index_rollback"
            with db.session(Mode.ROLLBACK_WRITE) as session:
                real = RealIndexRollback(session, {(t.schema_name, t.name): t for t in catalog.tables})
                shapes, refused = _guard_check(shapes, db.dialect)
                skipped += refused
                shapes, failed = _plannable(session, shapes)
                skipped += failed
                covering = (catalog.server_version_num or 0) >= PG_INCLUDE_VERSION
                cands = candidates_for(shapes, catalog, max_width=max_width, covering=covering)
                candidate_count = len(cands)
                # No cleanup needed: the session's transaction is rolled back as it closes.
                selection = _select(real, shapes, cands, budget, max_indexes, deadline, heavy, say)
            could_not.append(LOCK_NOTE)
        elif db.dialect is Dialect.SQLITE:
            method = "scratch_copy"
            shapes, refused = _guard_check(shapes, db.dialect)
            skipped += refused
            with _sqlite_memory_copy(db) as conn:
                copy = SqliteCopy(conn, catalog)
                shapes, failed = _sqlite_plannable(conn, shapes)
                skipped += failed
                cands = candidates_for(shapes, catalog, max_width=max_width, covering=False)
                candidate_count = len(cands)
                selection = _select(copy, shapes, cands, budget, max_indexes, deadline, heavy, say)
            could_not.append(
                "SQLite's planner shows no costs: costs are a plan-shape score (rows scanned for a SCAN, "
                "a B-tree descent for a SEARCH) measured with real indexes on an in-memory copy."
            )
        elif db.dialect is Dialect.POSTGRES:
            could_not.append(
                "The HypoPG extension is not installed in this database, so no what-if plan was made: the "
                "recommendations are rule-of-thumb candidates, unverified. Installing it (CREATE EXTENSION "
                "hypopg, by the database owner) lets dbsage cost each candidate without building it; on a "
                "database that is not production, allow_real_index_rollback builds them in a rolled-back "
                "transaction instead."
            )
        elif db.dialect is Dialect.MARIADB and (refusal := _scratch_refusal(db)) is None:
            method = "scratch_copy"
            shapes, refused = _guard_check(shapes, db.dialect)
            skipped += refused
            shapes, named = _unqualified(shapes, db.url.database or "")
            skipped += named
            involved = sorted({k for s in shapes for k in s.tables})
            tables = {(t.schema_name, t.name): t for t in catalog.tables}
            with _mariadb_scratch(db, [tables[k] for k in involved if k in tables], say) as sample:
                cands = candidates_for(shapes, catalog, max_width=max_width, covering=False)
                candidate_count = len(cands)
                selection = _select(sample, shapes, cands, budget, max_indexes, deadline, heavy, say)
                planner_costs = sample.planner_costs
            could_not.append(
                f"Costs come from a sample of at most {SCRATCH_SAMPLE_ROWS} rows per table, copied with its "
                "structure into a scratch database dbsage created and dropped again; the full tables may plan "
                "differently."
            )
        else:
            why = refusal if db.dialect is Dialect.MARIADB and refusal else (
                f"{db.dialect.value} has no hypothetical indexes and commits DDL implicitly, so dbsage did not "
                "build anything on this database"
            )
            could_not.append(
                f"{why}: the recommendations are rule-of-thumb candidates, unverified (what-if on a scratch copy "
                "needs MariaDB and the right to create a database)."
            )
        if selection is not None:
            skipped += selection.skipped
            could_not += selection.notes
            if selection.timed_out:
                could_not.append(
                    f"The search stopped at the {time_limit_s:g} s time limit; the set shown is the best found "
                    "by then."
                )
            recs = _verified_recommendations(selection, catalog, heavy)
            workload = _workload(selection, shapes, skipped, method, started, candidate_count)
            if db.dialect is Dialect.MARIADB and not planner_costs:
                workload.cost_unit = "rows_examined"
        else:
            recs = _heuristic_recommendations(shapes, catalog, max_width, max_indexes, heavy)
            workload = Workload(
                cost_before=None, cost_after=None, relative_cost=None, cost_unit="none",
                queries_analyzed=len(shapes), queries_skipped=_skipped_models(skipped),
                queries=[WorkloadQuery(query=s.number, sql=s.sql[:SQL_PREVIEW_CHARS]) for s in shapes],
                elapsed_s=round(time.monotonic() - started, 3), verified=False, method="heuristic",
                candidates=len(recs),
            )
        if catalog.source == "live" and catalog.stats_reset is None and db.dialect is Dialect.POSTGRES:
            could_not.append("The statistics reset time is unknown, so 'unused' covers an unknown period.")
        return IndexReport(
            source=source,
            dialect=catalog.dialect,
            recommendations=recs,
            drop=drops,
            workload=workload,
            findings=sort_findings(findings),
            could_not_check=could_not + catalog.unknown,
        )


def _check_arguments(
    queries: list[str] | None, from_stats: bool, budget_mb: float, max_indexes: int, max_width: int,
    time_limit_s: float,
) -> None:
    if (queries is None) == (not from_stats) or (queries is not None and from_stats):
        raise InputError(
            "Give the workload either as queries or from the database's statistics, not both or neither.",
            hint="queries=[...SQL...] or from_stats=True",
        )
    if queries is not None and not [q for q in queries if q.strip()]:
        raise InputError("The workload is empty.", hint="give at least one SELECT statement")
    if not budget_mb > 0:
        raise InputError("budget_mb must be positive.")
    if max_indexes < 1:
        raise InputError("max_indexes must be at least 1.")
    if not 1 <= max_width <= 8:
        raise InputError("max_width must be between 1 and 8.")
    if not time_limit_s > 0:
        raise InputError("time_limit_s must be positive.")


def _workload_texts(db: LiveDatabase, queries: list[str] | None, from_stats: bool) -> list[str]:
    if queries is not None:
        return [s for q in queries for s in split_statements(q)]
    if db.dialect.is_mysql_family:
        return _digest_texts(db)
    if db.dialect is not Dialect.POSTGRES:
        raise InputError(
            f"from_stats reads the database's statement statistics, which {db.dialect.value} does not keep.",
            hint="pass the workload as queries",
        )
    with db.session() as session:
        present = session.catalog_value("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
        if not present:
            raise InputError(
                "pg_stat_statements is not installed in this database, so there is no workload to read.",
                hint="CREATE EXTENSION pg_stat_statements (it must also be in shared_preload_libraries), "
                "or pass the workload as queries",
            )
        try:
            rows = session.catalog(
                "SELECT query FROM pg_stat_statements"
                " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND calls >= %s AND mean_exec_time >= %s AND query ~* '^\\s*(select|with)\\s'"
                " ORDER BY total_exec_time DESC LIMIT %s",
                [STATS_MIN_CALLS, STATS_MIN_MEAN_MS, STATS_MAX_QUERIES],
            )
        except DbsageError as exc:
            raise InputError(
                f"pg_stat_statements could not be read: {exc.message}",
                hint="the library must be in shared_preload_libraries and the role needs pg_read_all_stats",
            ) from None
    if not rows:
        raise InputError(
            f"pg_stat_statements holds no query with at least {STATS_MIN_CALLS} calls and "
            f"{STATS_MIN_MEAN_MS:g} ms mean time.",
            hint="pass the workload as queries",
        )
    return [str(r["query"]) for r in rows]


def _digest_texts(db: LiveDatabase) -> list[str]:
    """SELECT digests of this database from performance_schema, with typical values for the `?`s."""
    with db.session() as session:
        enabled = session.catalog_value("SELECT @@performance_schema")
        if not enabled:
            raise InputError(
                "performance_schema is off on this server, so there are no statement digests to read.",
                hint="start the server with performance_schema=ON, or pass the workload as queries",
            )
        rows = session.catalog(
            "SELECT DIGEST_TEXT AS digest FROM performance_schema.events_statements_summary_by_digest"
            " WHERE SCHEMA_NAME = %s AND COUNT_STAR >= %s AND DIGEST_TEXT LIKE 'SELECT%%'"
            " ORDER BY SUM_TIMER_WAIT DESC LIMIT %s",
            [db.url.database, DIGEST_MIN_CALLS, STATS_MAX_QUERIES],
        )
    texts = [t for t in (_digest_to_sql(str(r["digest"])) for r in rows if r["digest"]) if t is not None]
    if not texts:
        raise InputError(
            "performance_schema holds no complete SELECT digest for this database with at least "
            f"{DIGEST_MIN_CALLS} calls.",
            hint="pass the workload as queries (when the digest table is full, new statements are not recorded: "
            "TRUNCATE performance_schema.events_statements_summary_by_digest starts it afresh)",
        )
    return texts


def _digest_to_sql(digest: str) -> str | None:
    """A digest as a runnable query: 1 for each `?`, (1) for a folded list; None for a cut-off digest."""
    text = digest.strip()
    if text.endswith("..."):
        return None  # the server cut the text at its digest length
    text = re.sub(r"\(\s*\.\.\.\s*\)", "(1)", text)
    return text.replace("?", "1")


def _unqualified(shapes: list[QueryShape], database: str) -> tuple[list[QueryShape], list[Skipped]]:
    """Queries that name their database would be planned on it, not on the scratch copy: left out."""
    pattern = re.compile(rf"(?<![\w$])`?{re.escape(database)}`?\s*\.", re.IGNORECASE)
    kept: list[QueryShape] = []
    out: list[Skipped] = []
    for shape in shapes:
        if database and pattern.search(shape.sql):
            out.append(Skipped(
                shape.number, shape.sql,
                f"names the database {database} explicitly, so it cannot be planned on the scratch copy; "
                "leave the database name out",
            ))
        else:
            kept.append(shape)
    return kept, out


def _scratch_refusal(db: LiveDatabase) -> str | None:
    """Why dbsage cannot make its own scratch database on this server, or None when it can."""
    needed = ("CREATE", "DROP", "INSERT", "SELECT", "INDEX")
    with db.session() as session:
        held = session.catalog(
            "SELECT DISTINCT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = "
            "CONCAT(CHAR(39), SUBSTRING_INDEX(CURRENT_USER(), '@', 1), CHAR(39), '@', CHAR(39), "
            "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), CHAR(39))"
        )
    have = {str(r["p"]) for r in held}
    missing = [p for p in needed if p not in have]
    if missing:
        return (
            f"the user lacks the server-wide {', '.join(missing)} privilege(s), so dbsage could not create a "
            "scratch database for what-if indexes"
        )
    return None


@contextmanager
def _mariadb_scratch(
    db: LiveDatabase, tables: list[Table], say: Callable[[str], None]
) -> Iterator[MariaDbScratchCopy]:
    """A scratch database of dbsage's own with the tables' structure and a row sample; always dropped."""
    source = db.url.database or ""
    ddl: dict[str, str] = {}
    with db.session() as session:
        for t in tables:
            row = session.catalog(f"SHOW CREATE TABLE {table_ref(t, Dialect.MARIADB)}")
            if row and "Create Table" in row[0]:
                ddl[t.name] = str(row[0]["Create Table"])
    name = f"dbsage_whatif_{secrets.token_hex(6)}"
    server = LiveDatabase(replace(db.url, database=None), limits=db.limits, scratch=True)
    try:
        with server.session(Mode.SCRATCH) as s:
            s.catalog(f"CREATE DATABASE {quote(name, Dialect.MARIADB)}")
        try:
            with LiveDatabase(replace(db.url, database=name), limits=db.limits, scratch=True) as scratch, \
                    scratch.session(Mode.SCRATCH) as s:
                # Foreign keys may name tables left out of the copy.
                s.catalog("SET SESSION foreign_key_checks = 0")
                for table_name, create in ddl.items():
                    s.catalog(create)
                    # One statement reads the source and writes the scratch table; the guard checks it.
                    s.run(
                        f"INSERT INTO {quote(table_name, Dialect.MARIADB)} SELECT * FROM "
                        f"{quote(source, Dialect.MARIADB)}.{quote(table_name, Dialect.MARIADB)} "
                        f"LIMIT {SCRATCH_SAMPLE_ROWS}"
                    )
                s.catalog("COMMIT")
                if ddl:
                    names = ", ".join(quote(n, Dialect.MARIADB) for n in ddl)
                    s.catalog(f"ANALYZE TABLE {names} PERSISTENT FOR ALL")
                say(f"copied {len(ddl)} tables (up to {SCRATCH_SAMPLE_ROWS} rows each) into a scratch database")
                yield MariaDbScratchCopy(s, {(t.schema_name, t.name): t for t in tables})
        finally:
            with server.session(Mode.SCRATCH) as s:
                s.catalog(f"DROP DATABASE IF EXISTS {quote(name, Dialect.MARIADB)}")
    finally:
        server.close()


def _bind_parameters(db: LiveDatabase, catalog: Catalog, texts: list[str]) -> dict[int, str | Skipped]:
    """For each query with $n parameters: the query with typical values, or why it has none."""
    wanted = {n: sql for n, sql in enumerate(texts, 1) if "$" in sql}
    if not wanted:
        return {}
    out: dict[int, str | Skipped] = {}
    with db.session() as session:
        cache: dict[tuple[str, str, str], str | None] = {}

        def lookup(table: tuple[str, str], column: str) -> str | None:
            key = (table[0], table[1], column)
            if key not in cache:
                rows = session.catalog(
                    "SELECT most_common_vals::text::text[] AS mcv, histogram_bounds::text::text[] AS hist"
                    " FROM pg_stats WHERE schemaname = %s AND tablename = %s AND attname = %s",
                    [table[0], table[1], column],
                )
                value: str | None = None
                if rows:
                    mcv, hist = rows[0]["mcv"], rows[0]["hist"]
                    if mcv:
                        value = str(mcv[0])
                    elif hist:
                        value = str(hist[len(hist) // 2])
                cache[key] = value
            return cache[key]

        for number, sql in wanted.items():
            parsed = analyse_query(number, sql, catalog)
            if isinstance(parsed, Skipped) and "bind parameters" not in parsed.reason:
                out[number] = parsed
                continue
            if isinstance(parsed, QueryShape):
                continue  # a dollar sign inside a string, not a parameter
            try:
                out[number] = bind_typical_values(sql, catalog, lookup)
            except ValueError as exc:
                out[number] = Skipped(number, sql, str(exc))
            except Exception as exc:  # sqlglot's optimizer raises plain errors on shapes it cannot resolve
                out[number] = Skipped(number, sql, f"could not be resolved against the schema: {str(exc)[:200]}")
    return out


def _has_hypopg(catalog: Catalog) -> bool:
    return any(e.name == "hypopg" for e in catalog.extensions)


def _guard_check(shapes: list[QueryShape], dialect: Dialect) -> tuple[list[QueryShape], list[Skipped]]:
    """Queries the guard's allowlist accepts; the rest skipped with its reason."""
    kept: list[QueryShape] = []
    refused: list[Skipped] = []
    for s in shapes:
        try:
            s.sql = check_statement(s.sql, dialect, Mode.READ_ONLY)
        except GuardRefused as exc:
            refused.append(Skipped(s.number, s.sql, f"refused by the guard ({exc.reason}): {exc.message}"))
            continue
        except InputError as exc:
            refused.append(Skipped(s.number, s.sql, exc.message))
            continue
        kept.append(s)
    return kept, refused


def _plannable(session: GuardedSession, shapes: list[QueryShape]) -> tuple[list[QueryShape], list[Skipped]]:
    """Queries PostgreSQL can plan; a planning error is contained by a savepoint."""
    kept: list[QueryShape] = []
    failed: list[Skipped] = []
    for s in shapes:
        session.catalog("SAVEPOINT dbsage_plan")
        try:
            session.run(f"EXPLAIN {s.sql}")
        except DbsageError as exc:
            session.catalog("ROLLBACK TO SAVEPOINT dbsage_plan")
            failed.append(Skipped(s.number, s.sql, f"the database could not plan it: {exc.message}"))
            continue
        session.catalog("RELEASE SAVEPOINT dbsage_plan")
        kept.append(s)
    return kept, failed


def _sqlite_plannable(
    conn: sqlite3.Connection, shapes: list[QueryShape]
) -> tuple[list[QueryShape], list[Skipped]]:
    kept: list[QueryShape] = []
    failed: list[Skipped] = []
    for s in shapes:
        try:
            conn.execute(f"EXPLAIN QUERY PLAN {s.sql}").fetchall()
        except sqlite3.Error as exc:
            failed.append(Skipped(s.number, s.sql, f"SQLite could not plan it: {exc}"))
            continue
        kept.append(s)
    return kept, failed


@contextmanager
def _sqlite_memory_copy(db: LiveDatabase) -> Iterator[sqlite3.Connection]:
    """dbsage's own copy of the database in memory: indexes built there never touch the file."""
    path = db.url.path
    assert path is not None
    source = sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro", uri=True)
    memory = sqlite3.connect(":memory:")
    try:
        source.backup(memory)
        memory.execute("ANALYZE")
        yield memory
    finally:
        source.close()
        memory.close()


def _select(
    whatif: WhatIf, shapes: list[QueryShape], cands: list[Candidate], budget: int, max_indexes: int,
    deadline: float, heavy: set[tuple[str, str]], say: Callable[[str], None],
) -> Selection:
    return select_indexes(
        whatif, shapes, cands, budget_bytes=budget, max_indexes=max_indexes, deadline=deadline,
        write_heavy=heavy, progress=say,
    )


# ---------------------------------------------------------------- write traffic and the drop list


def _table_writes(db: LiveDatabase) -> dict[tuple[str, str], dict[str, int | bool]]:
    with db.session() as session:
        rows = session.catalog(
            "SELECT schemaname, relname, n_tup_ins + n_tup_upd + n_tup_del AS written, n_live_tup AS live,"
            " coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS read FROM pg_stat_user_tables"
        )
    out: dict[tuple[str, str], dict[str, int | bool]] = {}
    for r in rows:
        written, live, read = int(r["written"] or 0), int(r["live"] or 0), int(r["read"] or 0)
        # Writes beyond the rows the table holds now: a freshly loaded table is not write-heavy.
        churn = written - live
        out[(r["schemaname"], r["relname"])] = {
            "written": written,
            "heavy": churn >= max(WRITE_HEAVY_MIN_ROWS, live) and churn > read,
        }
    return out


_DROP_RULES = {
    "index.duplicate_index": "duplicate",
    "index.redundant_prefix_index": "prefix_redundant",
    "index.unused_index": "unused",
    "index.invalid_index": "invalid",
}


def drop_list(catalog: Catalog) -> tuple[list[DropSuggestion], list[Finding]]:
    """Indexes to drop, from the same rules inspect_schema runs, one suggestion per index."""
    from dbsage.tools.rules.fix_sql import drop_index_sql

    ctx = RuleContext(catalog, RuleOptions())
    findings = [
        f for rule_fn in (duplicate_index, redundant_prefix_index, invalid_index, unused_index)
        for f in rule_fn(ctx)
    ]
    owners: dict[str, tuple[Table, str]] = {}
    for t in catalog.tables:
        for ix in t.indexes:
            owners[named_object(t, ix.name)] = (t, ix.name)
    drops: dict[str, DropSuggestion] = {}
    for f in findings:
        owner = owners.get(f.object)
        if owner is None or f.object in drops:  # duplicate/prefix first, so the strongest reason wins
            continue
        table, name = owner
        reason = _DROP_RULES[f.rule_id]
        sql = f.fix
        evidence = dict(f.evidence)
        if reason == "invalid":
            evidence["rebuild_sql"] = f.fix
            sql = drop_index_sql(table, name, catalog.dialect)
        if reason == "unused" and "stats_reset" not in evidence:
            evidence["stats_reset"] = catalog.stats_reset
        drops[f.object] = DropSuggestion(
            index=f.object, table=table.qualified_name, reason=reason, drop_sql=sql, evidence=evidence,
        )
    return list(drops.values()), findings


# ---------------------------------------------------------------- recommendations


def _create_sql(table: Table, name: str, cand: Candidate, dialect: Dialect) -> str:
    cols = key_list(cand.columns, dialect)
    if dialect is Dialect.POSTGRES:
        inc = f" INCLUDE ({column_list(cand.include, dialect)})" if cand.include else ""
        where = f" WHERE {cand.predicate}" if cand.predicate else ""
        return (
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {quote(name, dialect)} "
            f"ON {table_ref(table, dialect)} ({cols}){inc}{where};"
        )
    if dialect.is_mysql_family:
        return (
            f"ALTER TABLE {table_ref(table, dialect)} ADD INDEX {quote(name, dialect)} ({cols}), "
            "ALGORITHM=INPLACE, LOCK=NONE;"
        )
    return f"CREATE INDEX IF NOT EXISTS {quote(name, dialect)} ON {table_ref(table, dialect)} ({cols});"


class _Namer:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.relations = RelationNames(catalog.tables, catalog.dialect)
        self.per_table: dict[tuple[str, str], NamePool] = {}

    def name(self, table: Table, cand: Candidate) -> str:
        dialect = self.catalog.dialect
        if dialect.is_mysql_family:
            pool = self.per_table.setdefault(
                (table.schema_name, table.name), NamePool(dialect, [ix.name for ix in table.indexes])
            )
        else:
            pool = self.relations.pool(table.schema_name)
        return pool.claim(convention_name("idx", table.name, list(cand.columns), dialect))


def _write_note(table: Table, heavy: set[tuple[str, str]]) -> list[str]:
    if (table.schema_name, table.name) in heavy:
        return [
            f"{table.qualified_name} has had more rows written than read since the statistics reset; every index "
            "adds work to each write, so its benefit per byte was halved when ranking."
        ]
    return []


def _verified_recommendations(
    selection: Selection, catalog: Catalog, heavy: set[tuple[str, str]]
) -> list[Recommendation]:
    tables = {(t.schema_name, t.name): t for t in catalog.tables}
    namer = _Namer(catalog)
    recs: list[Recommendation] = []
    for choice in selection.chosen:
        cand = choice.candidate
        table = tables[cand.table]
        plan_name = choice.handle.split(":", 1)[-1]
        moved = [
            QueryCost(query=n, cost_before=round(selection.before[n].cost, 2),
                      cost_after=round(after.cost, 2))
            for n, after in sorted(selection.after.items())
            if plan_name in after.used
        ]
        recs.append(Recommendation(
            table=table.qualified_name,
            columns=list(cand.columns),
            include=list(cand.include),
            predicate=cand.predicate,
            create_sql=_create_sql(table, namer.name(table, cand), cand, catalog.dialect),
            size_bytes=choice.size_bytes,
            verified=True,
            queries=moved,
            notes=_write_note(table, heavy),
        ))
    return recs


def _heuristic_recommendations(
    shapes: list[QueryShape], catalog: Catalog, max_width: int, max_indexes: int, heavy: set[tuple[str, str]]
) -> list[Recommendation]:
    tables = {(t.schema_name, t.name): t for t in catalog.tables}
    namer = _Namer(catalog)
    recs: list[Recommendation] = []
    for cand, numbers in heuristic_candidates(shapes, catalog, max_width=max_width, max_indexes=max_indexes):
        table = tables[cand.table]
        recs.append(Recommendation(
            table=table.qualified_name,
            columns=list(cand.columns),
            create_sql=_create_sql(table, namer.name(table, cand), cand, catalog.dialect),
            size_bytes=None,
            verified=False,
            queries=[QueryCost(query=n, cost_before=None, cost_after=None) for n in numbers],
            notes=[
                "Equality and join columns first, then one range column: a rule of thumb, not costed.",
                *_write_note(table, heavy),
            ],
        ))
    return recs


def _skipped_models(skipped: list[Skipped]) -> list[SkippedQuery]:
    return [
        SkippedQuery(query=s.number, sql=s.sql[:SQL_PREVIEW_CHARS], reason=s.reason)
        for s in sorted(skipped, key=lambda s: s.number)
    ]


def _workload(
    selection: Selection, shapes: list[QueryShape], skipped: list[Skipped], method: Method, started: float,
    candidates: int,
) -> Workload:
    live = [s for s in shapes if s.number in selection.before]
    before = sum(selection.before[s.number].cost for s in live)
    after = sum(selection.after[s.number].cost for s in live)
    return Workload(
        cost_before=round(before, 2),
        cost_after=round(after, 2),
        relative_cost=round(after / before, 4) if before > 0 else None,
        cost_unit="planner" if method in ("hypopg", "real_index_rollback") else "plan_shape",
        queries_analyzed=len(live),
        queries_skipped=_skipped_models(skipped),
        queries=[
            WorkloadQuery(
                query=s.number, sql=s.sql[:SQL_PREVIEW_CHARS],
                cost_before=round(selection.before[s.number].cost, 2),
                cost_after=round(selection.after[s.number].cost, 2),
            )
            for s in live
        ],
        whatif_calls=selection.whatif_calls,
        candidates=candidates,
        elapsed_s=round(time.monotonic() - started, 3),
        timed_out=selection.timed_out,
        verified=True,
        method=method,
    )

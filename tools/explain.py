"""explain_query: one statement's plan on PostgreSQL, MariaDB/MySQL or SQLite, read and judged.

With a database, the engine's own EXPLAIN (JSON where the engine has it) runs through the access guard
and is normalised into a PlanNode tree (tools/plans.py); plan rules and static rules then report what
they see. Without a database, only the static anti-patterns of the SQL text are reported.

ANALYZE executes the statement. A data-changing statement is analyzed only with
`allow_write_analyze=True`, in the guard's rollback_write mode, whose transaction is always rolled back.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pglast
import sqlglot
from pydantic import Field
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import GuardRefused, InputError
from dbsage.tools.findings import Finding, sort_findings
from dbsage.tools.plans import (
    PlanNode,
    read_mariadb,
    read_mysql,
    read_mysql_analyze,
    read_postgres,
    read_sqlite,
)
from dbsage.tools.report import Report
from dbsage.tools.rules.plan_rules import PlanContext, plan_findings
from dbsage.tools.rules.query_static import Facts, TableFacts, static_findings
from dbsage.tools.rules.registry import RuleOptions
from dbsage.tools.sources.guard import GuardedSession, Limits, LiveDatabase, Mode

TOOL: Literal["explain_query"] = "explain_query"
_SQLGLOT_READ = {Dialect.POSTGRES: "postgres", Dialect.MYSQL: "mysql", Dialect.MARIADB: "mysql",
                 Dialect.SQLITE: "sqlite"}
_PG_EXPLAINABLE = {"SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"}
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge)


class ExplainReport(Report):
    """What explain_query returns."""

    tool: Literal["explain_query"] = TOOL
    source: str = Field(description="The database (redacted URL or configured name), or 'sql text'")
    dialect: Dialect
    statement: str | None = Field(default=None, description="The EXPLAIN statement as sent")
    analyzed: bool = False
    plan: PlanNode | None = None
    plan_with_hypothetical: PlanNode | None = None
    cost_before: float | None = Field(default=None, description="Estimated total cost without the hypothetical indexes")
    cost_after: float | None = Field(default=None, description="Estimated total cost with them")
    could_not_check: list[str] = Field(default_factory=list)


# --- reading the statement ------------------------------------------------------------------------


def parse_statement(sql: str, dialect: Dialect) -> exp.Expr | None:
    """The statement's sqlglot tree; InputError for empty, unparsable, multiple or non-query input.

    PostgreSQL text is checked with pglast (PostgreSQL's own parser) first; the sqlglot tree used by the
    static rules may then be None when sqlglot cannot read a construct pglast accepts.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise InputError("The SQL statement is empty.", hint="pass one SELECT, INSERT, UPDATE or DELETE")
    if dialect is Dialect.POSTGRES:
        _check_postgres_kind(sql)
        try:
            return sqlglot.parse_one(sql, read="postgres", error_level=ErrorLevel.RAISE)
        except Exception:  # pglast accepted it; sqlglot's own errors and bugs leave only the static rules out
            return None
    try:
        trees = [t for t in sqlglot.parse(sql, read=_SQLGLOT_READ[dialect], error_level=ErrorLevel.RAISE) if t]
    except RecursionError:
        raise InputError("The statement nests too deeply to read.", hint="flatten the expression") from None
    except (SqlglotError, ValueError) as exc:  # ParseError, and TokenError (an unclosed quote)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"The statement does not parse as {dialect.value}: {first}.") from None
    except Exception:  # sqlglot's own bugs on broken input (e.g. AttributeError on a truncated call)
        raise InputError(f"The statement does not parse as {dialect.value}.",
                         hint="check for an unfinished expression or a missing parenthesis") from None
    if len(trees) != 1:
        raise InputError(f"Pass exactly one statement ({len(trees)} given).")
    tree = trees[0]
    if not isinstance(tree, exp.Query | exp.Insert | exp.Update | exp.Delete):
        raise InputError(
            f"explain_query explains queries and data changes, not {tree.key.upper()} statements.",
            hint="pass a SELECT, INSERT, UPDATE or DELETE",
        )
    return tree


def _check_postgres_kind(sql: str) -> None:
    try:
        statements = pglast.parse_sql(sql)
    except pglast.parser.ParseError as exc:
        raise InputError(f"The statement does not parse as PostgreSQL: {exc}.") from None
    if len(statements) != 1:
        raise InputError(f"Pass exactly one statement ({len(statements)} given).")
    kind = type(statements[0].stmt).__name__
    if kind == "ExplainStmt":
        raise InputError("Pass the statement without EXPLAIN; explain_query adds it.")
    if kind not in _PG_EXPLAINABLE:
        raise InputError(
            f"explain_query explains queries and data changes, not {kind.removesuffix('Stmt')} statements.",
            hint="pass a SELECT, INSERT, UPDATE, DELETE or MERGE",
        )


def _table_names(tree: exp.Expr | None) -> list[str]:
    if tree is None:
        return []
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    return sorted({t.name.lower() for t in tree.find_all(exp.Table) if t.name and t.name.lower() not in ctes})


def _postgres_param_refs(sql: str) -> list[tuple[int, int]]:
    """(byte location, number) of every $n parameter in the statement, as the parser sees them."""
    found: list[tuple[int, int]] = []

    def visit(node: Any) -> None:
        if isinstance(node, pglast.ast.ParamRef):
            found.append((int(node.location or 0), int(node.number or 0)))
        elif isinstance(node, pglast.ast.Node):
            for slot in node:
                visit(getattr(node, slot))
        elif isinstance(node, tuple | list):
            for item in node:
                visit(item)

    for raw in pglast.parse_sql(sql):
        visit(raw.stmt)
    return found


def bind_postgres_params(sql: str, params: list[Any]) -> str:
    """`sql` with each $n replaced by params[n-1] as a literal, placed by the parser's token positions."""
    import psycopg.sql

    found = _postgres_param_refs(sql)
    encoded = sql.encode("utf-8")  # pglast locations count bytes
    for location, number in sorted(found, reverse=True):
        if number < 1 or number > len(params):
            raise InputError(f"${number} has no value: {len(params)} parameter(s) given.")
        match = re.match(rb"\$\d+", encoded[location:])
        if match is None:
            continue
        literal = psycopg.sql.Literal(params[number - 1]).as_string(None).encode("utf-8")
        encoded = encoded[:location] + literal + encoded[location + match.end():]
    return encoded.decode("utf-8")


# --- table facts ----------------------------------------------------------------------------------

_PG_FACTS = """
SELECT n.nspname AS schema_name, c.relname AS name,
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS row_estimate,
       (SELECT json_agg(json_build_array(a.attname, NOT a.attnotnull) ORDER BY a.attnum)
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       (SELECT json_agg(DISTINCT a.attname) FROM pg_index i
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = c.oid) AS leading
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm') AND lower(c.relname) = ANY(%s)
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY pg_table_is_visible(c.oid) DESC
"""
_MYSQL_TABLES = """
SELECT table_schema, table_name, table_rows FROM information_schema.tables
 WHERE table_schema = DATABASE() AND lower(table_name) IN %s
"""
_MYSQL_COLUMNS = """
SELECT table_name, column_name, is_nullable FROM information_schema.columns
 WHERE table_schema = DATABASE() AND lower(table_name) IN %s ORDER BY table_name, ordinal_position
"""
_MYSQL_LEADING = """
SELECT table_name, column_name FROM information_schema.statistics
 WHERE table_schema = DATABASE() AND lower(table_name) IN %s AND seq_in_index = 1
"""


def load_facts(session: GuardedSession, names: list[str]) -> Facts:
    """Row estimates, columns and indexed leading columns of the named tables (only those)."""
    if not names:
        return {}
    if session.dialect is Dialect.POSTGRES:
        return _postgres_facts(session, names)
    if session.dialect.is_mysql_family:
        return _mysql_facts(session, names)
    return _sqlite_facts(session, names)


def _postgres_facts(session: GuardedSession, names: list[str]) -> Facts:
    facts: Facts = {}
    for row in session.catalog(_PG_FACTS, [names]):
        key = str(row["name"]).lower()
        if key in facts:
            continue  # the visible table comes first
        columns = row["columns"] or []
        facts[key] = TableFacts(
            schema_name=row["schema_name"], name=row["name"], rows=row["row_estimate"],
            columns={str(c[0]).lower(): bool(c[1]) for c in columns},
            column_names=[str(c[0]) for c in columns],
            indexed_leading={str(c).lower() for c in row["leading"] or []},
        )
    return facts


def _mysql_facts(session: GuardedSession, names: list[str]) -> Facts:
    key = (tuple(names),)
    facts: Facts = {}
    for row in session.catalog(_MYSQL_TABLES, key):
        values = list(row.values())
        rows = values[2]
        facts[str(values[1]).lower()] = TableFacts(schema_name=str(values[0]), name=str(values[1]),
                                                   rows=int(rows) if rows is not None else None)
    for row in session.catalog(_MYSQL_COLUMNS, key):
        table, column, nullable = (str(v) for v in row.values())
        if table.lower() in facts:
            facts[table.lower()].columns[column.lower()] = nullable.upper() == "YES"
            facts[table.lower()].column_names.append(column)
    for row in session.catalog(_MYSQL_LEADING, key):
        table, column = (str(v) for v in row.values())
        if table.lower() in facts:
            facts[table.lower()].indexed_leading.add(column.lower())
    return facts


def _sqlite_facts(session: GuardedSession, names: list[str]) -> Facts:
    facts: Facts = {}
    known = {
        str(r["name"]).lower(): str(r["name"])
        for r in session.catalog("SELECT name FROM sqlite_schema WHERE type = 'table'")
    }
    for lowered in names:
        name = known.get(lowered)
        if name is None:
            continue
        quoted = '"' + name.replace('"', '""') + '"'
        rows = session.catalog_value(f"SELECT count(*) FROM {quoted}")
        columns = session.catalog('SELECT name, "notnull" AS nn FROM pragma_table_info(?)', [name])
        leading = session.catalog(
            "SELECT ii.name FROM pragma_index_list(?) AS il, pragma_index_info(il.name) AS ii WHERE ii.seqno = 0",
            [name],
        )
        facts[lowered] = TableFacts(
            schema_name="main", name=name, rows=int(rows) if rows is not None else None,
            columns={str(c["name"]).lower(): not c["nn"] for c in columns},
            column_names=[str(c["name"]) for c in columns],
            indexed_leading={str(r["name"]).lower() for r in leading if r["name"]},
        )
    return facts


# --- running EXPLAIN ------------------------------------------------------------------------------


def _explain(session: GuardedSession, sql: str, *, analyze: bool, params: list[Any] | None) -> tuple[PlanNode, str]:
    dialect = session.dialect
    if dialect is Dialect.POSTGRES:
        options = "FORMAT JSON, ANALYZE, BUFFERS" if analyze else "FORMAT JSON"
        generic = _has_postgres_params(sql)
        if generic and analyze:
            raise InputError("analyze runs the statement and needs a value for each $n.", hint="pass params")
        result = session.explain_generic(sql) if generic else session.run(f"EXPLAIN ({options}) {sql}")
        document = result.rows[0][0]
        if isinstance(document, str):
            document = json.loads(document)
        return read_postgres(document), result.statement
    if dialect is Dialect.MYSQL and analyze:
        # MySQL 8 measures only in its text tree format (8.0.18 and later).
        result = session.run(f"EXPLAIN ANALYZE {sql}", params)
        return read_mysql_analyze(str(result.rows[0][0])), result.statement
    if dialect.is_mysql_family:
        prefix = "ANALYZE FORMAT=JSON" if analyze else "EXPLAIN FORMAT=JSON"
        result = session.run(f"{prefix} {sql}", params)
        document = json.loads(str(result.rows[0][0]))
        reader = read_mariadb if dialect is Dialect.MARIADB else read_mysql
        return reader(document), result.statement
    result = session.run(f"EXPLAIN QUERY PLAN {sql}", params)
    return read_sqlite(result.rows), result.statement


def _has_postgres_params(sql: str) -> bool:
    return bool(_postgres_param_refs(sql))


def _validate_hypothetical(texts: list[str]) -> list[str]:
    checked: list[str] = []
    for text in texts:
        try:
            statements = pglast.parse_sql(text)
        except pglast.parser.ParseError as exc:
            raise InputError(f"Hypothetical index does not parse: {exc}.") from None
        stmt = statements[0].stmt if len(statements) == 1 else None
        if not isinstance(stmt, pglast.ast.IndexStmt):
            raise InputError(
                "Each hypothetical index must be one CREATE INDEX statement.", hint=f"got: {text[:80]}"
            )
        if stmt.concurrent:
            raise InputError("Drop CONCURRENTLY from hypothetical indexes (HypoPG does not take it).")
        checked.append(text)
    return checked


# --- the tool -------------------------------------------------------------------------------------


def explain_query(
    *,
    dsn: str | None = None,
    sql: str,
    dialect: str | Dialect | None = None,
    params: list[Any] | None = None,
    analyze: bool = False,
    allow_write_analyze: bool = False,
    hypothetical_indexes: list[str] | None = None,
    limits: Limits | None = None,
    source_name: str | None = None,
    options: RuleOptions | None = None,
) -> ExplainReport:
    """Explain one statement on a live database (`dsn`), or check its text alone (`dialect`, no dsn)."""
    from dbsage.tools.sources.resolve import parse_dialect

    if dsn is None:
        chosen = parse_dialect(dialect)
        tree = parse_statement(sql, chosen)
        return _report(
            source=source_name or "sql text", dialect=chosen, tree=tree, facts={}, options=options,
            could_not_check=["plan checks: no database given, only the SQL text was checked"],
        )
    if dialect is not None:
        raise InputError("dialect applies only without a database; a live database reports its own.")
    hypothetical = _validate_hypothetical(hypothetical_indexes or [])
    with LiveDatabase.open(dsn, limits=limits) as db:
        return _explain_live(db, sql=sql, params=params, analyze=analyze, allow_write_analyze=allow_write_analyze,
                             hypothetical=hypothetical, source=source_name or db.url.redacted, options=options)


def _explain_live(
    db: LiveDatabase,
    *,
    sql: str,
    params: list[Any] | None,
    analyze: bool,
    allow_write_analyze: bool,
    hypothetical: list[str],
    source: str,
    options: RuleOptions | None,
) -> ExplainReport:
    dialect = db.dialect
    tree = parse_statement(sql, dialect)
    gaps: list[str] = []
    text = sql.strip().rstrip(";")
    run_params = params
    if dialect is Dialect.POSTGRES:
        if params:
            text = bind_postgres_params(text, list(params))
        run_params = None
    is_write = isinstance(tree, _WRITES) if tree is not None else bool(
        re.match(r"\s*(insert|update|delete|merge)\b", text, re.IGNORECASE)
    )
    if analyze and is_write and not allow_write_analyze:
        raise GuardRefused(
            "ANALYZE runs the statement, and this one changes data; it is refused without the opt-in.",
            reason="explain_analyze_write",
            hint="pass allow_write_analyze (the change runs in a transaction that is rolled back), "
                 "or explain without analyze",
        )
    if analyze and dialect is Dialect.SQLITE:
        gaps.append("analyze: SQLite has no measured plan; the estimated plan is shown")
        analyze = False
    # MySQL and MariaDB refuse even a plain EXPLAIN of a write inside a read-only transaction.
    mode = Mode.ROLLBACK_WRITE if is_write and (analyze or dialect.is_mysql_family) else Mode.READ_ONLY
    with db.session(mode) as session:
        facts = load_facts(session, _table_names(tree))
        plan, statement = _explain(session, text, analyze=analyze, params=run_params)
        with_hypo: PlanNode | None = None
        cost_before = cost_after = None
        if hypothetical:
            if dialect is not Dialect.POSTGRES:
                gaps.append("hypothetical indexes: only PostgreSQL with HypoPG can cost them")
            elif not session.catalog_value("SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'"):
                gaps.append("hypothetical indexes: the hypopg extension is not installed in this database "
                            "(CREATE EXTENSION hypopg)")
            else:
                before = plan if not analyze else _explain(session, text, analyze=False, params=None)[0]
                for index_sql in hypothetical:
                    session.catalog("SELECT indexrelid FROM hypopg_create_index(%s)", [index_sql])
                with_hypo = _explain(session, text, analyze=False, params=None)[0]
                cost_before, cost_after = before.est_total_cost, with_hypo.est_total_cost
    if tree is None:
        gaps.append("static checks: sqlglot could not read this PostgreSQL statement")
    return _report(
        source=source, dialect=dialect, tree=tree, facts=facts, options=options, could_not_check=gaps,
        plan=plan, statement=statement, analyzed=analyze, plan_with_hypothetical=with_hypo,
        cost_before=cost_before, cost_after=cost_after,
    )


def _report(
    *,
    source: str,
    dialect: Dialect,
    tree: exp.Expr | None,
    facts: Facts,
    options: RuleOptions | None,
    could_not_check: list[str],
    plan: PlanNode | None = None,
    statement: str | None = None,
    analyzed: bool = False,
    plan_with_hypothetical: PlanNode | None = None,
    cost_before: float | None = None,
    cost_after: float | None = None,
) -> ExplainReport:
    findings: list[Finding] = static_findings(tree, facts) if tree is not None else []
    if plan is not None:
        findings += plan_findings(PlanContext(dialect, plan, facts, tree, analyzed))
    disabled = (options or RuleOptions()).disabled
    unique = {f.id: f for f in reversed(findings)}  # one finding per rule and object; the static one wins
    kept = sort_findings([f for f in unique.values() if f.rule_id not in disabled])
    return ExplainReport(
        source=source, dialect=dialect, statement=statement, analyzed=analyzed, plan=plan,
        plan_with_hypothetical=plan_with_hypothetical, cost_before=cost_before, cost_after=cost_after,
        findings=kept, could_not_check=could_not_check,
    )

"""The scripted agent: calls dbsage's tools the way a task needs them and turns findings into recommendations.

Deterministic and without a model: the floor any LLM agent must beat, and what CI runs. It reads SQL only
from the task text and the files beside it (a migration, a query log), never from database content, and
every SQL it recommends is a tool's generated fix, never text found in the database.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from dbsage.evals.model import AgentResult, EvalDialect, Recommendation, Task
from dbsage.tools.findings import Finding, Severity
from dbsage.tools.indexes import IndexReport
from dbsage.tools.report import Report

ALL_TOOLS = ("inspect_schema", "explain_query", "suggest_indexes", "plan_migration", "audit_security",
             "checklist_review")
# The tools each engine serves (migrations are planned for the servers only).
_SUPPORTED: dict[EvalDialect, frozenset[str]] = {
    "postgres": frozenset(ALL_TOOLS),
    "mysql": frozenset(ALL_TOOLS),
    "sqlite": frozenset(ALL_TOOLS) - {"plan_migration"},
}
_FENCE = re.compile(r"```(?:sql)?\s*\n(.*?)```", re.S | re.I)
_STATEMENT = re.compile(r"\b(SELECT|WITH|UPDATE|DELETE|INSERT)\b", re.I)
_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")
_SELECT = re.compile(r"\s*SELECT\b", re.I)
_COLUMNS = re.compile(r"(.+?)\s*\(([^()]+)\)")
_FROM = re.compile(r"\bFROM\s+([A-Za-z_][\w.]*)", re.I)
# A query shape seen this many times in a log, with different literals, is an N+1 loop.
N_PLUS_ONE_MIN = 20
_SEVERITY_RANK = {"blocker": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def _queries_in_text(text: str) -> list[str]:
    """SQL statements in fenced blocks of the task (```sql ... ```), split on semicolons."""
    found: list[str] = []
    for block in _FENCE.findall(text):
        for part in block.split(";"):
            stmt = part.strip()
            if stmt and _STATEMENT.match(stmt):
                found.append(stmt)
    return found


def _log_statements(text: str) -> list[str]:
    """One statement per log line: the text from its first SQL keyword on (log prefixes dropped)."""
    out: list[str] = []
    for line in text.splitlines():
        match = _STATEMENT.search(line)
        if match:
            out.append(line[match.start():].strip().rstrip(";"))
    return out


def shape(sql: str) -> str:
    """The statement with its literals replaced by ?, whitespace collapsed, lower-cased."""
    return " ".join(_LITERAL.sub("?", sql).split()).lower()


def _n_plus_one(statements: list[str]) -> tuple[list[str], list[Recommendation]]:
    """One representative per query shape, and an N+1 recommendation for each shape repeated many times."""
    counts = Counter(shape(s) for s in statements)
    first: dict[str, str] = {}
    for stmt in statements:
        first.setdefault(shape(stmt), stmt)
    recs: list[Recommendation] = []
    for key, count in counts.items():
        if count < N_PLUS_ONE_MIN or "?" not in key:
            continue
        table = _FROM.search(first[key])
        recs.append(Recommendation(
            category="query", object=table.group(1) if table else "query", severity="medium",
            action=f"N+1 pattern: the same query ran {count} times with different values ({first[key][:120]}); "
            "fetch the rows in one query (IN list or join) instead of one per parent row.",
        ))
    return list(first.values()), recs


def object_name(obj: str) -> str:
    """A finding's object in dotted form: `t:Seq Scan` -> `t` (the plan node dropped), `t(a, b)` -> `t.a,b`."""
    name = obj.split(":", 1)[0]
    match = _COLUMNS.fullmatch(name)
    if match:
        name = f"{match.group(1)}.{match.group(2).replace(' ', '')}"
    return name


def _from_finding(finding: Finding) -> Recommendation:
    return Recommendation(
        category=str(finding.category), object=object_name(finding.object), severity=finding.severity.value,
        action=finding.message, sql=finding.fix,
    )


def _from_indexes(report: IndexReport) -> list[Recommendation]:
    recs = [
        Recommendation(
            category="index", object=f"{rec.table}.{rec.columns[0]}" if rec.columns else rec.table,
            severity="medium", sql=rec.create_sql,
            action=f"Create an index on {rec.table} ({', '.join(rec.columns)})"
            + (" — verified by a what-if plan" if rec.verified else ""),
        )
        for rec in report.recommendations
    ]
    recs.extend(
        Recommendation(
            category="index", object=drop.index, severity="low", sql=drop.drop_sql,
            action=f"Drop index {drop.index} ({drop.reason.replace('_', ' ')})",
        )
        for drop in report.drop
    )
    return recs


def files_for(task: Task) -> list[Path]:
    """The task's files for its engine: `migration.mysql.sql` only on mysql, `migration.sql` on every engine."""
    keep: list[Path] = []
    for path in task.files:
        parts = set(path.name.lower().split(".")[1:-1])
        if path.name.startswith("setup.") or (parts & set(_SUPPORTED) and task.dialect not in parts):
            continue
        keep.append(path)
    return keep


def _hinted_tools(task: Task, queries: list[str], migrations: list[Path]) -> list[str]:
    """The tools to call: the scenario's hint when given, otherwise what the task's words and files call for."""
    wanted = list(task.tools)
    if not wanted:
        text = task.prompt.lower()
        wanted = ["inspect_schema"]
        if queries:
            wanted += ["explain_query", "suggest_indexes"]
        if migrations:
            wanted.append("plan_migration")
        if any(w in text for w in ("security", "privilege", "tenant", "rls", "password", "user")):
            wanted.append("audit_security")
        if any(w in text for w in ("checklist", "production", "ready", "backup", "monitoring")):
            wanted.append("checklist_review")
    return [t for t in wanted if t in _SUPPORTED[task.dialect]]


class ScriptedAgent:
    """Calls the tools a task needs, in a fixed order, and recommends what their findings say."""

    name = "scripted"

    def run(self, task: Task) -> AgentResult:
        started = time.monotonic()
        calls = _Calls()
        try:
            recs = self._run(task, calls)
        except Exception as exc:  # reading the task's files failed: report it, the runner scores nothing
            calls.errors.append(f"{type(exc).__name__}: {exc}")
            recs = []
        return AgentResult(recommendations=recs, tool_calls=calls.count, seconds=time.monotonic() - started,
                           error="; ".join(calls.errors) or None)

    def _run(self, task: Task, calls: _Calls) -> list[Recommendation]:
        queries = _queries_in_text(task.prompt)
        recs: list[Recommendation] = []
        migrations: list[Path] = []
        for path in files_for(task):
            if path.suffix == ".log":
                shapes, n_plus_one = _n_plus_one(_log_statements(path.read_text()))
                queries += shapes
                recs += n_plus_one
            elif path.suffix == ".sql":
                migrations.append(path)
        tools = _hinted_tools(task, queries, migrations)
        reports: list[Report] = []
        advised: list[Recommendation] = []
        if "inspect_schema" in tools:
            from dbsage.tools.schema import inspect_schema
            reports += calls.run(lambda: inspect_schema(dsn=task.url, limit=1000))
        if "explain_query" in tools:
            from dbsage.tools.explain import explain_query
            for sql in queries:
                analyze = task.dialect == "postgres" and _SELECT.match(sql) is not None
                reports += calls.run(partial(explain_query, dsn=task.url, sql=sql, analyze=analyze))
        if "suggest_indexes" in tools and queries:
            from dbsage.tools.indexes import suggest_indexes
            for index_report in calls.run(lambda: suggest_indexes(dsn=task.url, queries=queries, time_limit_s=20)):
                reports.append(index_report)
                advised += _from_indexes(index_report)
                recs += advised
        if "plan_migration" in tools:
            from dbsage.tools.migration import plan_migration
            dialect = "postgres" if task.dialect == "postgres" else None
            for path in migrations:
                reports += calls.run(partial(plan_migration, [str(path)], dialect=dialect, dsn=task.url))
        if "audit_security" in tools:
            from dbsage.tools.security import audit_security
            reports += calls.run(lambda: audit_security(task.url))
        if "checklist_review" in tools:
            from dbsage.tools.checklist import checklist_review
            reports += calls.run(lambda: checklist_review(task.url))
        recs += [_from_finding(f) for r in reports for f in r.findings if f.severity != Severity.INFO]
        return _dedupe(_merge_same_fix(recs, advised))


R = TypeVar("R", bound=Report)


class _Calls:
    """Counts tool calls; a call that fails is recorded and the agent goes on with the other tools."""

    def __init__(self) -> None:
        self.count = 0
        self.errors: list[str] = []

    def run(self, call: Callable[[], R]) -> list[R]:
        self.count += 1
        try:
            return [call()]
        except Exception as exc:  # one failing tool must not hide what the others found
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return []


def _merge_same_fix(recs: list[Recommendation], advised: list[Recommendation]) -> list[Recommendation]:
    """A finding whose fix is an index suggest_indexes `advised` folds into that advice (the most severe wins)."""
    by_sql = {rec.sql: rec for rec in advised if rec.sql}
    out: list[Recommendation] = []
    for rec in recs:
        same = by_sql.get(rec.sql) if rec.sql else None
        if same is None or same is rec:
            out.append(rec)
        elif _SEVERITY_RANK[rec.severity] > _SEVERITY_RANK[same.severity]:
            same.severity = rec.severity
    return out


def _dedupe(recs: list[Recommendation]) -> list[Recommendation]:
    """One recommendation per (category, object, action), the most severe first."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Recommendation] = []
    for rec in sorted(recs, key=lambda r: -_SEVERITY_RANK[r.severity]):
        key = (rec.category, rec.object.lower(), rec.action)
        if key not in seen:
            seen.add(key)
            out.append(rec)
    return out

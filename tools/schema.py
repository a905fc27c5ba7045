"""inspect_schema: the whole picture of a database (or of DDL) and its design faults.

The report is paged by table so that a 2,000-table database never floods an agent's context: each
page carries a slice of the tables (sorted by qualified name) and the findings about them; the first
page also carries the findings about objects that are not tables (roles, sequences, functions...).
`rule_counts` and `severity_counts` always describe every finding in the filtered set.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.errors import InputError
from dbsage.tools.findings import Finding, Severity, sort_findings
from dbsage.tools.report import Report
from dbsage.tools.rules.registry import RuleContext, RuleOptions, run_rules
from dbsage.tools.rules.schema_design import not_checked_offline  # importing it registers the rules

TOOL: Literal["inspect_schema"] = "inspect_schema"
Detail = Literal["concise", "full"]
DEFAULT_LIMIT: dict[str, int] = {"concise": 25, "full": 10}
# Claude Code shows a tool result inline only under 50,000 characters; stay well below.
MAX_REPORT_CHARS = 45_000


class TableSummary(BaseModel):
    """One line per table in the concise view."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="schema.table")
    rows: int | None = Field(default=None, description="Row estimate (live only)")
    total_bytes: int | None = None
    columns: int
    primary_key: list[str] | None
    foreign_keys: int
    indexes: int
    findings: int = Field(description="Findings about this table and its columns/indexes/constraints")


class SchemaReport(Report):
    """What inspect_schema returns."""

    tool: Literal["inspect_schema"] = TOOL
    source: str = Field(description="The database (redacted URL or configured name) or the DDL file")
    dialect: Dialect
    server_version: str | None = None
    detail: Detail
    totals: dict[str, int] = Field(description="Object counts in the filtered set")
    severity_counts: dict[str, int] = Field(description="Findings by severity over the whole filtered set")
    rule_counts: dict[str, int] = Field(description="Findings by rule_id over the whole filtered set")
    tables: list[TableSummary] = Field(default_factory=list, description="This page's tables (concise)")
    catalog: Catalog | None = Field(default=None, description="This page's part of the catalog (full)")
    could_not_check: list[str] = Field(default_factory=list, description="What the source could not know")
    page: int = Field(description="1-based page number")
    pages: int
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


def analyze_catalog(catalog: Catalog, options: RuleOptions | None = None) -> list[Finding]:
    """Every schema-design finding for the catalog, most urgent first."""
    return sort_findings(run_rules(TOOL, RuleContext(catalog, options or RuleOptions())))


def analyze_scoped(
    scoped: Catalog, *, min_severity: Severity | None = None, options: RuleOptions | None = None
) -> list[Finding]:
    """Every finding of an already filtered catalog at or above `min_severity`, most urgent first."""
    findings = analyze_catalog(scoped, options)
    if min_severity is None:
        return findings
    return [f for f in findings if f.severity.at_least(min_severity)]


def filter_catalog(catalog: Catalog, *, schema: str | None = None, table: str | None = None) -> Catalog:
    """The catalog restricted to `schema` and to tables/views matching the glob `table`."""
    if schema is None and table is None:
        return catalog

    def keep(schema_name: str, name: str) -> bool:
        if schema is not None and schema_name.lower() != schema.lower():
            return False
        if table is not None:
            pattern = table.lower()
            return fnmatch.fnmatchcase(name.lower(), pattern) or fnmatch.fnmatchcase(
                f"{schema_name}.{name}".lower(), pattern
            )
        return True

    tables = [t for t in catalog.tables if keep(t.schema_name, t.name)]
    views = [v for v in catalog.views if keep(v.schema_name, v.name)]
    if not tables and not views:
        known = sorted(t.qualified_name for t in catalog.tables)
        sample = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
        asked = (f"schema {schema!r}" if schema else "", f"table {table!r}" if table else "")
        what = " and ".join(x for x in asked if x)
        raise InputError(
            f"No table or view matches {what}.",
            hint=f"tables present: {sample}" if known else "the database has no tables",
        )
    in_scope = {(t.schema_name, t.name) for t in tables}
    sequences = [
        s for s in catalog.sequences
        if s.owned_by is None or tuple(s.owned_by.rsplit(".", 1)[0].split(".", 1)) in in_scope
    ]
    functions = [f for f in catalog.functions if schema is None or f.schema_name.lower() == schema.lower()]
    return catalog.model_copy(
        update={"tables": tables, "views": views, "sequences": sequences, "functions": functions}
    )


def owning_table(obj: str, table_names: set[str]) -> str | None:
    """The qualified name of the table an object belongs to (`s.t`, `s.t.col`, `s.t(a,b)`), or None."""
    name = obj.split("(", 1)[0]
    while name:
        if name in table_names:
            return name
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return None


def group_by_table(findings: list[Finding], tables: list[Table]) -> dict[str | None, list[Finding]]:
    """Findings keyed by the qualified name of their table; None collects the rest."""
    names = {t.qualified_name for t in tables}
    grouped: dict[str | None, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(owning_table(f.object, names), []).append(f)
    return grouped


def _summary(table: Table, findings: int) -> TableSummary:
    return TableSummary(
        name=table.qualified_name,
        rows=table.row_estimate,
        total_bytes=table.total_bytes,
        columns=len(table.columns),
        primary_key=table.primary_key.columns if table.primary_key else None,
        foreign_keys=len(table.foreign_keys),
        indexes=len(table.indexes),
        findings=findings,
    )


def _parse_cursor(cursor: str | None) -> int:
    if cursor in (None, ""):
        return 0
    bad = InputError(f"Bad cursor {cursor!r}.", hint="pass the next_cursor of a previous answer")
    try:
        offset = int(cursor)
    except ValueError:
        raise bad from None
    if offset < 0:
        raise bad
    return offset


def build_report(
    catalog: Catalog,
    *,
    source: str,
    schema: str | None = None,
    table: str | None = None,
    detail: Detail = "concise",
    min_severity: Severity | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    options: RuleOptions | None = None,
) -> SchemaReport:
    """Filter, analyze and page a catalog into an inspect_schema report."""
    if detail not in DEFAULT_LIMIT:
        raise InputError(f"Unknown detail {detail!r}.", hint="use concise or full")
    if limit is not None and limit < 1:
        raise InputError("limit must be at least 1.")
    scoped = filter_catalog(catalog, schema=schema, table=table)
    findings = analyze_scoped(scoped, min_severity=min_severity, options=options)
    tables = sorted(scoped.tables, key=lambda t: t.qualified_name)
    offset = _parse_cursor(cursor)
    page_size = limit or DEFAULT_LIMIT[detail]
    grouped = group_by_table(findings, tables)
    while True:
        report = _page(scoped, tables, findings, grouped, source=source, detail=detail, offset=offset,
                       page_size=page_size)
        # A page must fit an agent's context: shrink it until it does (one table is the floor).
        if page_size == 1 or len(report.model_dump_json()) <= MAX_REPORT_CHARS:
            return report
        page_size = max(1, page_size // 2)


def _page(
    catalog: Catalog,
    tables: list[Table],
    findings: list[Finding],
    grouped: dict[str | None, list[Finding]],
    *,
    source: str,
    detail: Detail,
    offset: int,
    page_size: int,
) -> SchemaReport:
    page_tables = tables[offset : offset + page_size]
    by_table = {t.qualified_name: grouped.get(t.qualified_name, []) for t in page_tables}
    page_findings = [f for fs in by_table.values() for f in fs]
    if offset == 0:
        page_findings += grouped.get(None, [])
    end = offset + len(page_tables)
    pages = max(1, -(-len(tables) // page_size))
    totals = {
        "tables": len(catalog.tables),
        "views": len(catalog.views),
        "functions": len(catalog.functions),
        "sequences": len(catalog.sequences),
        "roles": len(catalog.roles),
        "findings": len(findings),
    }
    page_catalog: Catalog | None = None
    summaries: list[TableSummary] = []
    if detail == "full":
        first = offset == 0
        page_catalog = catalog.model_copy(update={
            "tables": page_tables,
            "views": catalog.views if first else [],
            "functions": catalog.functions if first else [],
            "sequences": catalog.sequences if first else [],
            "roles": catalog.roles if first else [],
            "grants": catalog.grants if first else [],
        })
    else:
        summaries = [_summary(t, len(by_table[t.qualified_name])) for t in page_tables]
    return SchemaReport(
        source=source,
        dialect=catalog.dialect,
        server_version=catalog.server_version,
        detail=detail,
        totals=totals,
        severity_counts=dict(Counter(f.severity.value for f in findings)),
        rule_counts=dict(sorted(Counter(f.rule_id for f in findings).items())),
        tables=summaries,
        catalog=page_catalog,
        findings=sort_findings(page_findings),
        could_not_check=catalog.unknown + not_checked_offline(catalog),
        page=offset // page_size + 1,
        pages=pages,
        next_cursor=str(end) if end < len(tables) else None,
    )


def load_source_catalog(
    *,
    dsn: str | None = None,
    ddl: str | None = None,
    ddl_file: str | None = None,
    dialect: str | Dialect | None = None,
    schema: str | None = None,
) -> tuple[Catalog, str]:
    """The Catalog of exactly one source (a URL, DDL text or a DDL file) and how to name it in output."""
    from dbsage.tools.sources.resolve import (
        catalog_from_ddl_text,
        catalog_from_url,
        parse_dialect,
        read_sql_file,
    )
    from dbsage.tools.sources.urls import parse_url

    given = [x for x in (dsn, ddl, ddl_file) if x is not None]
    if len(given) != 1:
        raise InputError(
            "Give exactly one source: a database URL, DDL text or a DDL file.",
            hint="--dsn URL (or $DATABASE_URL), --database NAME, or --ddl FILE with --dialect",
        )
    if dsn is not None:
        catalog = catalog_from_url(dsn, schemas=[schema] if schema else None)
        return catalog, parse_url(dsn).redacted
    if ddl_file is not None:
        text = read_sql_file(ddl_file)
        return catalog_from_ddl_text(text, parse_dialect(dialect), file=ddl_file), ddl_file
    assert ddl is not None
    return catalog_from_ddl_text(ddl, parse_dialect(dialect)), "ddl"


def inspect_schema(
    *,
    dsn: str | None = None,
    ddl: str | None = None,
    ddl_file: str | None = None,
    dialect: str | Dialect | None = None,
    schema: str | None = None,
    table: str | None = None,
    detail: Detail = "concise",
    min_severity: Severity | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    options: RuleOptions | None = None,
    source_name: str | None = None,
) -> SchemaReport:
    """Inspect one source and return the report: catalog page, findings and counts.

    Exactly one of `dsn` (a database URL, read through the guard), `ddl` (DDL text, needs `dialect`)
    or `ddl_file` (a .sql file, needs `dialect`) must be given.
    """
    catalog, name = load_source_catalog(dsn=dsn, ddl=ddl, ddl_file=ddl_file, dialect=dialect, schema=schema)
    return build_report(
        catalog,
        source=source_name or name,
        schema=schema,
        table=table,
        detail=detail,
        min_severity=min_severity,
        limit=limit,
        cursor=cursor,
        options=options,
    )

"""checklist_review's scaling section: read/write mix, vertical partitioning candidates, the shard key.

Every piece of advice carries the numbers behind it, and each stops at a stated size: below
LARGE_TABLE_BYTES no table is worth splitting, below SHARDING_MIN_DATABASE_BYTES one server holds the
database, below READ_WRITE_MIN_ROWS the traffic is too thin to call a workload read- or write-heavy.
"""

from __future__ import annotations

import re

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.ops_facts import ColumnStats, OpsFacts, Statement
from dbsage.tools.ops_model import (
    ReadWriteMix,
    RelationSize,
    ScalingSection,
    ShardKey,
    TenantSpread,
    VerticalCandidate,
    WideColumn,
)
from dbsage.tools.ops_thresholds import (
    LARGE_TABLE_BYTES,
    MAX_LISTED,
    RARELY_READ_SHARE,
    READ_HEAVY_SHARE,
    READ_WRITE_MIN_ROWS,
    SHARDING_MIN_DATABASE_BYTES,
    TENANT_SKEW_FACTOR,
    WIDE_COLUMN_BYTES,
    WIDE_COLUMN_SHARE,
    WRITE_HEAVY_SHARE,
    limit,
)
from dbsage.tools.rules.registry import RuleOptions

# Declared types that hold large values, for engines that keep no per-column width.
_LARGE_TYPES = {"text", "mediumtext", "longtext", "blob", "mediumblob", "longblob", "json", "jsonb", "binary"}
_READ_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_STAR = re.compile(r"(?:\bselect|,)\s*(?:(?:\w+|\"[^\"]+\"|`[^`]+`)\.)?\*", re.IGNORECASE)  # not count(*)
_SKEW_MIN_TENANTS = 3  # with two tenants one always holds half: skew needs more to mean anything
_SPREAD_LISTED = 3  # tables whose tenant spread is shown
_SKEW_SHARE_CAP = 0.5  # ... and a tenant holding half the rows is skewed however few tenants there are


def size_text(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} bytes" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def _name(t: Table) -> str:
    return f"{t.schema_name}.{t.name}"


def _by_size(catalog: Catalog) -> list[Table]:
    """Tables largest first, partitions counted in their parent."""
    tables = [t for t in catalog.tables if t.partition_of is None]
    return sorted(tables, key=lambda t: t.total_bytes or 0, reverse=True)


def _has(t: Table, column: str) -> bool:
    return any(c.name.lower() == column.lower() for c in t.columns)


def stats_tables(catalog: Catalog, options: RuleOptions, tenant_column: str) -> list[str]:
    """The tables whose column statistics the section needs: the large ones and the largest tenant tables."""
    large = limit(options, "scaling.large_table_bytes", LARGE_TABLE_BYTES)
    tables = _by_size(catalog)
    wanted = [t for t in tables if (t.total_bytes or 0) >= large]
    wanted += [t for t in tables if _has(t, tenant_column)][:_SPREAD_LISTED]
    return sorted({_name(t) for t in wanted})


def scaling_section(
    catalog: Catalog, facts: OpsFacts | None, options: RuleOptions, *, tenant_column: str,
    database_bytes: int | None,
) -> ScalingSection:
    """Scaling advice for the database as it is, with the thresholds that gate it."""
    facts = facts or OpsFacts(read_write_why="the statistics were not read", columns_why="not read")
    thresholds = {
        "large_table_bytes": limit(options, "scaling.large_table_bytes", LARGE_TABLE_BYTES),
        "sharding_min_database_bytes": limit(options, "scaling.sharding.min_database_bytes",
                                             SHARDING_MIN_DATABASE_BYTES),
        "read_heavy_share": limit(options, "scaling.read_heavy_share", READ_HEAVY_SHARE),
        "write_heavy_share": limit(options, "scaling.write_heavy_share", WRITE_HEAVY_SHARE),
        "read_write_min_rows": limit(options, "scaling.read_write.min_rows", READ_WRITE_MIN_ROWS),
        "wide_column_min_bytes": limit(options, "scaling.wide_column.min_bytes", WIDE_COLUMN_BYTES),
        "wide_column_min_share": limit(options, "scaling.wide_column.min_share", WIDE_COLUMN_SHARE),
        "rarely_read_share": limit(options, "scaling.wide_column.max_read_share", RARELY_READ_SHARE),
        "tenant_skew_factor": limit(options, "scaling.tenant_skew.factor", TENANT_SKEW_FACTOR),
    }
    candidates, vertical_note = _vertical(catalog, facts, thresholds)
    shard, shard_note = _shard_key(catalog, facts, thresholds, tenant_column, database_bytes)
    not_checked = list(facts.not_checked)
    if catalog.dialect is Dialect.SQLITE:
        not_checked.append("SQLite keeps no read/write counters or column statistics")
    return ScalingSection(
        database_bytes=database_bytes, thresholds=thresholds, read_write=_read_write(facts, thresholds),
        vertical_partitioning=candidates, vertical_note=vertical_note, shard_key=shard, shard_note=shard_note,
        not_checked=not_checked,
    )


# -------------------------------------------------------------------------------------- reads/writes


def _read_write(facts: OpsFacts, th: dict[str, float]) -> ReadWriteMix:
    rw = facts.read_write
    if rw is None:
        return ReadWriteMix(measured_as="not measured", pattern="unknown",
                            advice=f"The read/write mix is unknown: {facts.read_write_why or 'no counters'}.")
    total = rw.reads + rw.writes
    base = {"reads": rw.reads, "writes": rw.writes, "measured_as": rw.measured_as, "since": rw.since}
    if total < th["read_write_min_rows"]:
        return ReadWriteMix(
            **base, read_share=round(rw.reads / total, 4) if total else None, pattern="too_little_traffic",
            advice=f"Only {total:,} rows were touched since the counters started (fewer than "
                   f"{th['read_write_min_rows']:,.0f}): too little traffic to call the workload read- or "
                   "write-heavy; measure again under production load.")
    share = rw.reads / total
    if share >= th["read_heavy_share"]:
        pattern, advice = "read_heavy", (
            f"Reads are {share:.1%} of the rows touched ({rw.reads:,} read, {rw.writes:,} written; read-heavy "
            f"from {th['read_heavy_share']:.0%}): when the primary runs short of CPU or I/O, read replicas can "
            "serve these reads. Route only reads that tolerate replication lag to them (listings, reports, "
            "search) and keep read-your-own-write paths on the primary; indexes and a cache come first.")
    elif 1 - share >= th["write_heavy_share"]:
        pattern, advice = "write_heavy", (
            f"Writes are {1 - share:.1%} of the rows touched ({rw.writes:,} written, {rw.reads:,} read): read "
            "replicas would not relieve the primary, since every replica replays every write. Batch writes, "
            "drop indexes nobody scans on the hot tables, and shard by tenant only when one server cannot "
            "keep up.")
    else:
        pattern, advice = "mixed", (
            f"Reads are {share:.1%} and writes {1 - share:.1%} of the rows touched: neither dominates. Read "
            "replicas would carry only the read part; measure again at peak before choosing.")
    return ReadWriteMix(**base, read_share=round(share, 4), pattern=pattern, advice=advice)


# --------------------------------------------------------------------------------- vertical partitioning


def read_share(statements: list[Statement] | None, table: str, column: str) -> float | None:
    """Of the calls of reading statements that name `table`, the part that reads `column` (by name or *)."""
    if statements is None:
        return None
    bare = table.rsplit(".", 1)[-1]
    names_table = re.compile(rf"(?<![\w$]){re.escape(bare)}(?![\w$])", re.IGNORECASE)
    names_column = re.compile(rf"(?<![\w$]){re.escape(column)}(?![\w$])", re.IGNORECASE)
    reading = [s for s in statements if _READ_START.search(s.query) and names_table.search(s.query)]
    calls = sum(s.calls for s in reading)
    if calls == 0:
        return None
    return round(sum(s.calls for s in reading if names_column.search(s.query) or _STAR.search(s.query)) / calls, 4)


def _vertical(catalog: Catalog, facts: OpsFacts, th: dict[str, float]) -> tuple[list[VerticalCandidate], str]:
    tables = _by_size(catalog)
    large = [t for t in tables if (t.total_bytes or 0) >= th["large_table_bytes"]]
    if not large:
        biggest = f" (the largest, {_name(tables[0])}, holds {size_text(tables[0].total_bytes or 0)})" if (
            tables and tables[0].total_bytes) else ""
        return [], (f"No table reaches {size_text(th['large_table_bytes'])}{biggest}: splitting columns out "
                    "pays off only once a table outgrows memory, so none is advised.")
    if facts.columns is None:
        return [], f"{len(large)} large table(s), but their column statistics are unknown: {facts.columns_why}."
    candidates: list[VerticalCandidate] = []
    unanalyzed: list[str] = []
    hidden: list[str] = []
    for t in large:
        stats = facts.columns.get(_name(t))
        if catalog.dialect is Dialect.POSTGRES and not stats:
            (hidden if _name(t) in facts.columns_hidden else unanalyzed).append(_name(t))
            continue
        candidate = _candidate(t, stats or [], facts, th)
        if candidate is not None:
            candidates.append(candidate)
    parts = [f"{len(large)} table(s) of at least {size_text(th['large_table_bytes'])} examined; "
             f"{len(candidates)} carry wide columns few statements read"]
    if facts.statements is None:
        parts.append("how often each column is read is unknown without statement statistics, so each "
                     "candidate needs that check before a split")
    if hidden:
        parts.append(f"the column statistics of {', '.join(hidden[:MAX_LISTED])} are hidden from this role: "
                     "pg_stats shows only columns it may SELECT")
    if unanalyzed:
        parts.append(f"no planner statistics for {', '.join(unanalyzed[:MAX_LISTED])} (never analyzed): run "
                     "ANALYZE to measure their column widths")
    return candidates[:MAX_LISTED], "; ".join(parts) + "."


def _candidate(t: Table, stats: list[ColumnStats], facts: OpsFacts, th: dict[str, float]) -> VerticalCandidate | None:
    name = _name(t)
    declared = {c.name: c for c in t.columns}
    wide: list[WideColumn] = []
    row = sum(s.avg_width or 0 for s in stats) or None
    if row:
        for s in stats:
            width = s.avg_width or 0
            if row and width >= th["wide_column_min_bytes"] and width / row >= th["wide_column_min_share"]:
                column = declared.get(s.column)
                wide.append(WideColumn(column=s.column, avg_bytes=width, share_of_row=round(width / row, 3),
                                       declared_type=column.data_type if column else None))
    else:  # MariaDB/MySQL: no per-column widths; the declared large types stand in for them
        wide = [WideColumn(column=c.name, avg_bytes=None, declared_type=c.data_type)
                for c in t.columns if c.base_type.lower() in _LARGE_TYPES]
    for w in wide:
        w.read_share = read_share(facts.statements, name, w.column)
    rare = [w for w in wide if w.read_share is None or w.read_share <= th["rarely_read_share"]]
    if not rare:
        return None
    columns = ", ".join(w.column for w in rare)
    measured = [w for w in rare if w.read_share is not None]
    if measured:
        reads = "; ".join(f"{w.column} is read by {w.read_share:.0%} of the statement calls on the table"
                          for w in measured)
    else:
        reads = "how often these columns are read is not measured (no statement statistics naming the table)"
    widths = "; ".join(f"{w.column} averages {w.avg_bytes} of {row} bytes per row" for w in rare if w.avg_bytes)
    advice = (f"{name} ({size_text(t.total_bytes or 0)}) keeps {columns} in every row"
              + (f" ({widths})" if widths else "") + f"; {reads}. Move them to a 1:1 side table keyed by the "
              "primary key, so the frequent reads scan narrow rows and fetch the wide part only when needed.")
    return VerticalCandidate(table=name, bytes=t.total_bytes or 0, rows=t.row_estimate, row_bytes=row,
                             columns=rare, advice=advice)


# ------------------------------------------------------------------------------------------ shard key


def _tenant_tables(catalog: Catalog, column: str) -> set[str]:
    """The table the tenant column points at (tenants): it needs no tenant column of its own."""
    return {f"{fk.ref_schema}.{fk.ref_table}" for t in catalog.tables for fk in t.foreign_keys
            if [c.lower() for c in fk.columns] == [column.lower()]}


def _spread(t: Table, stats: ColumnStats, th: dict[str, float]) -> TenantSpread:
    tenants: float | None = stats.n_distinct
    if tenants is not None and tenants < 0:  # pg_stats: a negative n_distinct is a fraction of the rows
        tenants = -tenants * (t.row_estimate or 0)
    count = round(tenants) if tenants else None
    fair = 1 / count if count else None
    skewed: bool | None = None
    top = stats.top_share
    if count is not None and count >= _SKEW_MIN_TENANTS and stats.keeps_common_values:
        # no most-common value kept at all means no value stands out: the rows spread evenly
        skewed = top is not None and top >= min(th["tenant_skew_factor"] * (fair or 0), _SKEW_SHARE_CAP)
    return TenantSpread(table=_name(t), bytes=t.total_bytes or 0, tenants=count,
                        top_tenant=None if stats.top_value is None else stats.top_value[:80],
                        top_tenant_share=None if top is None else round(top, 4),
                        fair_share=None if fair is None else round(fair, 6), skewed=skewed)


def _shard_key(
    catalog: Catalog, facts: OpsFacts, th: dict[str, float], column: str, database_bytes: int | None
) -> tuple[ShardKey | None, str]:
    tables = _by_size(catalog)
    with_it = [t for t in tables if _has(t, column)]
    size = f"{size_text(database_bytes)}" if database_bytes is not None else "an unknown size"
    small = database_bytes is not None and database_bytes < th["sharding_min_database_bytes"]
    gate = (f"at {size} the database is below {size_text(th['sharding_min_database_bytes'])}, which one server "
            "holds: sharding is not advised now") if small else f"the database holds {size}"
    if not with_it:
        return None, (f"No table has a {column} column, so there is no tenant shard key; {gate}. Sharding would "
                      "need another key that every large table carries (region, customer).")
    reference = _tenant_tables(catalog, column)
    without = [t for t in tables if not _has(t, column) and _name(t) not in reference]
    large_without = [t for t in without if (t.total_bytes or 0) >= th["large_table_bytes"]]
    spreads: list[TenantSpread] = []
    for t in with_it[:_SPREAD_LISTED]:
        stats = next((s for s in (facts.columns or {}).get(_name(t), []) if s.column.lower() == column.lower()),
                     None)
        if stats is not None:
            spreads.append(_spread(t, stats, th))
    skewed_tables = [s for s in spreads if s.skewed]
    skewed = True if skewed_tables else (False if any(s.skewed is False for s in spreads) else None)
    advice = [f"{column} is the candidate shard key: {len(with_it)} of {len(tables)} tables carry it, the "
              f"largest {_name(with_it[0])} ({size_text(with_it[0].total_bytes or 0)}); {gate}."]
    if skewed_tables:
        s = skewed_tables[0]
        times = (s.top_tenant_share or 0) / (s.fair_share or 1)
        # the tenant's value is database text: it stays in the spread, out of the advice
        advice.append(f"One tenant holds {s.top_tenant_share:.0%} of {s.table}'s rows, {times:.0f} "
                      f"times an even share over {s.tenants} tenants: once sharded, a hash of {column} would leave "
                      "one shard much fuller, so that tenant would need a shard of its own.")
    if large_without:
        names = ", ".join(f"{_name(t)} ({size_text(t.total_bytes or 0)})" for t in large_without[:MAX_LISTED])
        advice.append(f"{len(large_without)} large table(s) lack {column}: {names}; add it, or keep them as "
                      "reference tables copied to every shard.")
    elif without:
        advice.append(f"{len(without)} smaller table(s) lack {column}; below {size_text(th['large_table_bytes'])} "
                      "they can stay reference tables copied to every shard.")
    if facts.columns is None:
        advice.append(f"The tenant spread is unknown: {facts.columns_why}.")
    elif not spreads and any(_name(t) in facts.columns_hidden for t in with_it[:_SPREAD_LISTED]):
        advice.append(f"The spread of {column} is hidden from this role: pg_stats shows only columns it may "
                      "SELECT.")
    elif not spreads:
        advice.append(f"No planner statistics on {column} yet (tables never analyzed): run ANALYZE to see how "
                      "the rows spread over tenants.")
    key = ShardKey(
        column=column, tables_with_it=[_name(t) for t in with_it[:MAX_LISTED]], tables_with_it_count=len(with_it),
        tables_without_it=[RelationSize(relation=_name(t), bytes=t.total_bytes or 0, rows=t.row_estimate)
                           for t in without[:MAX_LISTED]],
        spread=spreads, skewed=skewed, advice=" ".join(advice))
    verdict = ("sharding by " + column + " is possible later" if small else "shard by " + column + " when one "
               "server can no longer carry the load")
    return key, f"Multi-tenant by {column} ({len(with_it)} tables); {verdict}" + (
        "; one tenant dominates" if skewed_tables else "") + "."

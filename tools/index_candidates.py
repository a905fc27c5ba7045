"""What a workload asks of each table, and the indexes that could serve it.

Each query is parsed with sqlglot and qualified against the live Catalog, so bare column names,
aliases, derived tables, CTEs and correlated subqueries all resolve to a base table. Per query and
table we keep the columns used for equality (filters and joins), ranges, grouping and ordering;
candidate indexes are built from them with equality columns before range columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import permutations

import pglast
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from dbsage.tools.catalog import Catalog, Dialect, Table
from dbsage.tools.rules.fix_sql import quote

TableKey = tuple[str, str]
_STATEMENTS = (
    exp.Create, exp.Drop, exp.Alter, exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Command,
    exp.TruncateTable, exp.Set, exp.Transaction, exp.Commit, exp.Rollback,
)

_READ = {
    Dialect.POSTGRES: "postgres",
    Dialect.MYSQL: "mysql",
    Dialect.MARIADB: "mysql",
    Dialect.SQLITE: "sqlite",
}
# More equality columns than this on one table would explode the permutations for little gain.
MAX_PERMUTED_COLUMNS = 5
# An INCLUDE list longer than this costs more space than a covering scan saves.
MAX_INCLUDE_COLUMNS = 4


@dataclass
class TableUse:
    """How one query uses one base table."""

    table: TableKey
    equality: list[str] = field(default_factory=list)
    join: list[str] = field(default_factory=list)
    range: list[str] = field(default_factory=list)
    group: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    referenced: list[str] = field(default_factory=list)
    # Constant predicates on one column ("deleted_at IS NULL", "active = true"), as PostgreSQL SQL.
    constants: dict[str, str] = field(default_factory=dict)

    def add(self, bucket: list[str], column: str) -> None:
        if column not in bucket:
            bucket.append(column)


@dataclass
class QueryShape:
    """One analysable query and the tables it reads."""

    number: int
    sql: str
    uses: dict[TableKey, TableUse]
    aliases: dict[str, TableKey]

    @property
    def tables(self) -> frozenset[TableKey]:
        return frozenset(self.uses)


@dataclass(frozen=True)
class Skipped:
    number: int
    sql: str
    reason: str


@dataclass(frozen=True, order=True)
class Candidate:
    """A possible B-tree index: key columns in order, plus covering columns."""

    table: TableKey
    columns: tuple[str, ...]
    include: tuple[str, ...] = ()
    predicate: str | None = None

    @property
    def label(self) -> str:
        inc = f" INCLUDE ({', '.join(self.include)})" if self.include else ""
        where = f" WHERE {self.predicate}" if self.predicate else ""
        return f"{self.table[0]}.{self.table[1]}({', '.join(self.columns)}){inc}{where}"


def _schema_mapping(catalog: Catalog) -> dict[str, object]:
    mapping: dict[str, dict[str, dict[str, str]]] = {}
    for t in catalog.tables:
        mapping.setdefault(t.schema_name, {})[t.name] = {c.name: "text" for c in t.columns}
    for v in catalog.views:
        if v.columns:
            mapping.setdefault(v.schema_name, {})[v.name] = {c: "text" for c in v.columns}
    return dict(mapping)


def default_schema(catalog: Catalog) -> str:
    if catalog.dialect is Dialect.SQLITE:
        return "main"
    if catalog.dialect.is_mysql_family:
        return catalog.database or (catalog.tables[0].schema_name if catalog.tables else "")
    names = {t.schema_name for t in catalog.tables}
    return "public" if "public" in names or not names else sorted(names)[0]


def split_statements(text: str) -> list[str]:
    """Statements of a workload file, split on semicolons outside quotes and comments."""
    out: list[str] = []
    buf: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            buf.append(ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"', "`"):
            quote = ch
            buf.append(ch)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
            continue
        elif ch == ";":
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf))
    return [s.strip() for s in out if s.strip()]


def analyse_query(number: int, sql: str, catalog: Catalog) -> QueryShape | Skipped:
    """The query's table uses, or why it cannot be analysed."""
    try:
        return _analyse_query(number, sql, catalog)
    except RecursionError:
        # The parsers and tree walks recurse once per nesting level: thousands of nested parentheses
        # or subqueries exhaust Python's stack. Such a query is skipped like any other it cannot read.
        return Skipped(number, sql, "is nested too deeply to analyse; give a simpler form of the query")


def _analyse_query(number: int, sql: str, catalog: Catalog) -> QueryShape | Skipped:
    read = _READ[catalog.dialect]
    try:
        trees = [t for t in sqlglot.parse(sql, read=read) if t is not None]
    except SqlglotError as exc:
        return Skipped(number, sql, f"does not parse: {str(exc).splitlines()[0][:200]}")
    if len(trees) != 1:
        return Skipped(number, sql, f"holds {len(trees)} statements; give one per entry")
    tree = trees[0]
    if catalog.dialect is Dialect.POSTGRES:
        try:
            pglast.parse_sql(sql)
        except pglast.parser.ParseError as exc:
            return Skipped(number, sql, f"does not parse: {exc}")
    if isinstance(tree, _STATEMENTS):
        kind = tree.key.upper()
        return Skipped(number, sql, f"is a {kind} statement, not a query; only SELECT statements are analysed")
    if not isinstance(tree, exp.Query):
        return Skipped(number, sql, "is not a SQL query (it does not parse as SELECT ...)")
    if tree.find(exp.Placeholder, exp.Parameter) is not None:
        return Skipped(
            number, sql,
            "has bind parameters ($1, ?); give the query with typical constant values to cost it",
        )
    try:
        qualified = qualify(
            tree, schema=_schema_mapping(catalog), dialect=read, db=default_schema(catalog),
            validate_qualify_columns=True, quote_identifiers=False,
        )
    except SqlglotError as exc:
        return Skipped(number, sql, f"names something the database does not have: {str(exc)[:200]}")
    except Exception as exc:  # sqlglot's optimizer raises plain errors on shapes it cannot resolve
        return Skipped(number, sql, f"could not be resolved against the schema: {str(exc)[:200]}")
    shape = QueryShape(number, sql, {}, {})
    tables = {(t.schema_name.lower(), t.name.lower()): t for t in catalog.tables}
    for scope in traverse_scope(qualified):
        _read_scope(scope, shape, tables, default_schema(catalog))
    if not shape.uses:
        return Skipped(number, sql, "reads no table of this database")
    return shape


def _source_table(scope: Scope, alias: str) -> tuple[exp.Table | None, bool]:
    """The base table an alias names (walking out through correlated scopes), and whether it is local."""
    current: Scope | None = scope
    local = True
    while current is not None:
        source = current.sources.get(alias)
        if source is not None:
            return (source if isinstance(source, exp.Table) else None), local
        current = current.parent
        local = False
    return None, False


def _read_scope(scope: Scope, shape: QueryShape, tables: dict[TableKey, Table], schema: str) -> None:
    select = scope.expression
    if not isinstance(select, exp.Select):
        return

    def resolve(col: exp.Column) -> tuple[TableKey, str, str] | None:
        """(table, real column name, alias) for a column of a base table of this scope."""
        if not col.table:
            return None
        source, local = _source_table(scope, col.table)
        if source is None or not local:
            return None
        key = ((source.db or schema).lower(), source.name.lower())
        table = tables.get(key)
        if table is None:
            return None
        column = table.column(col.name)
        if column is None:
            return None
        shape.aliases[col.table] = (table.schema_name, table.name)
        return (table.schema_name, table.name), column.name, col.table

    def use(key: TableKey) -> TableUse:
        return shape.uses.setdefault(key, TableUse(key))

    for col in scope.columns:
        r = resolve(col)
        if r is not None:
            use(r[0]).add(use(r[0]).referenced, r[1])
    for name, source in scope.sources.items():
        if isinstance(source, exp.Table):
            key = ((source.db or schema).lower(), source.name.lower())
            table = tables.get(key)
            if table is not None:
                shape.aliases[name] = (table.schema_name, table.name)
                use((table.schema_name, table.name))

    predicates: list[exp.Expr] = []
    where = select.args.get("where")
    if where is not None:
        predicates.append(where.this)
    for join in select.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None:
            predicates.append(on)
    for pred in predicates:
        for conjunct in _conjuncts(pred):
            _classify(conjunct, resolve, use)

    group = select.args.get("group")
    if group is not None:
        for e in group.expressions:
            if isinstance(e, exp.Column) and (r := resolve(e)) is not None:
                use(r[0]).add(use(r[0]).group, r[1])
    order = select.args.get("order")
    if order is not None:
        for o in order.expressions:
            target = o.this if isinstance(o, exp.Ordered) else o
            if isinstance(target, exp.Column) and (r := resolve(target)) is not None:
                use(r[0]).add(use(r[0]).order, r[1])


def _conjuncts(e: exp.Expr) -> Iterator[exp.Expr]:
    if isinstance(e, exp.And):
        yield from _conjuncts(e.left)
        yield from _conjuncts(e.right)
    elif isinstance(e, exp.Paren):
        yield from _conjuncts(e.this)
    else:
        yield e


# Immutable functions commonly wrapped around a searched column (case-insensitive lookups).
_INDEXABLE_FUNCTIONS = (exp.Lower, exp.Upper)


def expression_key(function: exp.Expr, column: str) -> str:
    """The index key for `function(column)`, as PostgreSQL writes it in CREATE INDEX: in parentheses."""
    bare = function.copy()
    for col in bare.find_all(exp.Column):
        col.replace(exp.column(column))
    return f"({bare.sql(dialect='postgres')})"


def is_expression_key(key: str) -> bool:
    return key.startswith("(")


def _is_constant(e: exp.Expr) -> bool:
    return isinstance(e, exp.Literal | exp.Boolean | exp.Null)


def _unwrap(e: exp.Expr) -> exp.Expr:
    while isinstance(e, exp.Paren):
        e = e.this
    return e


def _classify(
    conjunct: exp.Expr,
    res: Callable[[exp.Column], tuple[TableKey, str, str] | None],
    get: Callable[[TableKey], TableUse],
) -> None:
    def free_of(side: exp.Expr, alias: str) -> bool:
        """True when `side` holds no column of the same table instance (a constant for this scan)."""
        return all(c.table != alias for c in side.find_all(exp.Column))

    def mark(col: exp.Expr, other: exp.Expr | None, kind: str) -> None:
        col = _unwrap(col)
        wrapped: exp.Expr | None = None
        if isinstance(col, _INDEXABLE_FUNCTIONS) and isinstance(col.this, exp.Column):
            wrapped, col = col, col.this
        if not isinstance(col, exp.Column):
            return
        r = res(col)
        if r is None:
            return
        if other is not None and not free_of(other, r[2]):
            return
        u = get(r[0])
        if wrapped is not None:
            # A function around the column hides it from a plain index: the key is the expression.
            u.add(u.equality if kind == "eq" else u.range, expression_key(wrapped, r[1]))
            return
        if kind == "eq" and other is not None and _is_constant(other):
            keyword = "IS" if isinstance(c, exp.Is) else "="
            u.constants.setdefault(r[1], f"{quote(r[1], Dialect.POSTGRES)} {keyword} {other.sql(dialect='postgres')}")
        if kind == "eq" and other is not None and other.find(exp.Column) is not None:
            u.add(u.join, r[1])
        else:
            u.add(u.equality if kind == "eq" else u.range, r[1])

    c = _unwrap(conjunct)
    if isinstance(c, exp.EQ | exp.Is):
        mark(c.left, c.right, "eq")
        mark(c.right, c.left, "eq")
    elif isinstance(c, exp.In):
        mark(c.this, None, "eq")
    elif isinstance(c, exp.GT | exp.GTE | exp.LT | exp.LTE):
        mark(c.left, c.right, "range")
        mark(c.right, c.left, "range")
    elif isinstance(c, exp.Between):
        mark(c.this, None, "range")
    elif isinstance(c, exp.Like):
        pattern = _unwrap(c.expression)
        if isinstance(pattern, exp.Literal) and pattern.is_string and not pattern.this.startswith(("%", "_")):
            mark(c.this, None, "range")


# ---------------------------------------------------------------- candidates


def _existing_serves(table: Table | None, cand: Candidate) -> bool:
    """True when an existing valid B-tree starts with the candidate's keys (and carries its INCLUDE)."""
    if table is None:
        return False
    want = ["(" + _norm(c) + ")" if is_expression_key(c) else c.lower() for c in cand.columns]
    for ix in table.indexes:
        if not ix.valid or ix.method.lower() != "btree":
            continue
        # A full index serves a partial candidate; a partial index serves only the same predicate.
        if ix.predicate is not None and (cand.predicate is None or _norm(ix.predicate) != _norm(cand.predicate)):
            continue
        keys = [k.column.lower() if k.column else "(" + _norm(k.expression or "") + ")" for k in ix.keys]
        if keys[: len(want)] != want:
            continue
        carried = set(keys) | {c.lower() for c in ix.include}
        if {c.lower() for c in cand.include} <= carried:
            return True
    return False


def _norm(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch not in "() ")


def candidates_for(
    shapes: list[QueryShape], catalog: Catalog, *, max_width: int, covering: bool
) -> list[Candidate]:
    """Every distinct candidate the workload suggests, minus what existing indexes already serve."""
    tables = {(t.schema_name, t.name): t for t in catalog.tables}
    found: dict[Candidate, None] = {}
    shared: dict[tuple[TableKey, str], int] = {}
    for shape in shapes:
        for use in shape.uses.values():
            for pred in use.constants.values():
                shared[(use.table, pred)] = shared.get((use.table, pred), 0) + 1
    for shape in shapes:
        for use in shape.uses.values():
            for cand in _table_candidates(use, max_width, covering):
                found.setdefault(cand, None)
            if catalog.dialect is Dialect.POSTGRES:
                for cand in _partial_candidates(use, max_width, shared):
                    found.setdefault(cand, None)
    return [c for c in found if _expressions_allowed(c, catalog) and not _existing_serves(tables.get(c.table), c)]


def _expressions_allowed(cand: Candidate, catalog: Catalog) -> bool:
    """Expression keys are written in PostgreSQL's syntax (MariaDB has no functional index at all)."""
    return catalog.dialect is Dialect.POSTGRES or not any(is_expression_key(k) for k in cand.columns)


def _partial_candidates(
    use: TableUse, max_width: int, shared: dict[tuple[TableKey, str], int]
) -> Iterator[Candidate]:
    """An index restricted to a constant predicate the application always uses: IS NULL, a boolean, or
    a value several queries of the workload share. A constant seen once is a parameter, not a rule."""
    for column, pred in use.constants.items():
        fixed = " IS " in pred or pred.endswith(("= TRUE", "= FALSE")) or shared.get((use.table, pred), 0) >= 2
        if not fixed:
            continue
        rest = TableUse(
            use.table,
            equality=[c for c in use.equality if c != column],
            join=[c for c in use.join if c != column],
            range=[c for c in use.range if c != column],
            group=use.group,
            order=use.order,
        )
        keys = best_composite(rest, max_width)
        if keys:
            yield Candidate(use.table, keys, (), pred)


def _table_candidates(use: TableUse, max_width: int, covering: bool) -> Iterator[Candidate]:
    eq = [*use.equality, *(c for c in use.join if c not in use.equality)][:MAX_PERMUTED_COLUMNS]
    rng = [c for c in use.range if c not in eq]
    for col in [*eq, *rng, *use.group[:1], *use.order[:1]]:
        yield Candidate(use.table, (col,))
    for width in range(2, max_width + 1):
        for keys in permutations(eq, width):
            yield Candidate(use.table, keys)
        for keys in permutations(eq, width - 1):
            for r in rng:
                yield Candidate(use.table, (*keys, r))
        for seq in (use.group, use.order):
            if len(seq) >= width:
                yield Candidate(use.table, tuple(seq[:width]))
    best = best_composite(use, max_width)
    if covering and best:
        rest = tuple(c for c in use.referenced if c not in best)
        if 0 < len(rest) <= MAX_INCLUDE_COLUMNS:
            yield Candidate(use.table, best, rest)


def best_composite(use: TableUse, max_width: int) -> tuple[str, ...]:
    """The one index a rule of thumb would pick: equality columns, then one range column.

    Join columns count only when no constant filter narrows the table (it is then the probed side).
    """
    keys = list((use.equality or use.join)[:max_width])
    rng = [c for c in use.range if c not in keys]
    if len(keys) < max_width and rng:
        keys.append(rng[0])
    if not keys:
        keys = [c for c in (use.group or use.order)][:max_width]
    return tuple(keys)


def heuristic_candidates(
    shapes: list[QueryShape], catalog: Catalog, *, max_width: int, max_indexes: int
) -> list[tuple[Candidate, list[int]]]:
    """Unverified picks: per query and table the rule-of-thumb composite, most often wanted first."""
    tables = {(t.schema_name, t.name): t for t in catalog.tables}
    wanted: dict[Candidate, list[int]] = {}
    for shape in shapes:
        for use in shape.uses.values():
            keys = best_composite(use, max_width)
            if not keys:
                continue
            cand = Candidate(use.table, keys)
            if not _expressions_allowed(cand, catalog) or _existing_serves(tables.get(cand.table), cand):
                continue
            wanted.setdefault(cand, []).append(shape.number)
    # Drop a pick that is a leading prefix of another pick: the longer one serves both.
    picks = [
        c for c in wanted
        if not any(o is not c and o.table == c.table and o.columns[: len(c.columns)] == c.columns
                   and len(o.columns) > len(c.columns) for o in wanted)
    ]
    for c in list(wanted):
        if c not in picks:
            longer = next(o for o in picks if o.table == c.table and o.columns[: len(c.columns)] == c.columns)
            wanted[longer] = sorted(set(wanted[longer]) | set(wanted[c]))

    def rank(c: Candidate) -> tuple[int, int]:
        rows = tables[c.table].row_estimate if c.table in tables else None
        return (-len(wanted[c]), -(rows or 0))

    picks.sort(key=rank)
    return [(c, wanted[c]) for c in picks[:max_indexes]]


# ---------------------------------------------------------------- bind parameters

ValueLookup = Callable[[TableKey, str], str | None]
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)


def bind_typical_values(sql: str, catalog: Catalog, lookup: ValueLookup) -> str:
    """`sql` with each $n replaced by a typical value of the column it is compared with.

    pg_stat_statements keeps queries with their constants replaced by $n, and PostgreSQL 15 cannot
    plan those generically through EXPLAIN; a common value from the column's statistics gives the
    planner a representative selectivity. Raises ValueError with the reason when a parameter has no
    column to take a value from.
    """
    read = _READ[catalog.dialect]
    tree = sqlglot.parse_one(sql, read=read)
    qualified = qualify(
        tree, schema=_schema_mapping(catalog), dialect=read, db=default_schema(catalog),
        validate_qualify_columns=False, quote_identifiers=False,
    )
    by_alias = {t.alias_or_name: t for t in qualified.find_all(exp.Table)}
    tables = {(t.schema_name.lower(), t.name.lower()): t for t in catalog.tables}
    schema = default_schema(catalog)
    for param in list(qualified.find_all(exp.Parameter, exp.Placeholder)):
        node: exp.Expr = param
        while isinstance(node.parent, exp.Cast | exp.Paren):
            node = node.parent
        parent = node.parent
        if isinstance(parent, exp.Limit | exp.Offset | exp.Fetch):
            node.replace(exp.Literal.number(10 if isinstance(parent, exp.Limit | exp.Fetch) else 0))
            continue
        column: exp.Expr | None = None
        if isinstance(parent, _COMPARISONS):
            column = parent.left if parent.right is node else parent.right
        elif isinstance(parent, exp.In | exp.Between):
            column = parent.this
        column = _unwrap(column) if column is not None else None
        value: str | None = None
        if isinstance(column, exp.Column) and column.table in by_alias:
            source = by_alias[column.table]
            table = tables.get(((source.db or schema).lower(), source.name.lower()))
            real = table.column(column.name) if table is not None else None
            if table is not None and real is not None:
                value = lookup((table.schema_name, table.name), real.name)
        if value is None:
            raise ValueError(
                f"has parameter {param.sql(dialect=read)} with no column statistics to take a typical value from"
            )
        node.replace(exp.Literal.string(value))
    return str(qualified.sql(dialect=read))

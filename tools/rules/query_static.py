"""Anti-patterns visible in the SQL text alone: no database needed, table facts used when known.

The statement is read with sqlglot in the caller's dialect (PostgreSQL text is validated with pglast
before it gets here). Column references are resolved to tables through the FROM clause's aliases; an
unqualified column belongs to the only table in scope, or to the one known table that has it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlglot import exp

from dbsage.tools.findings import Finding, ObjectType, Severity
from dbsage.tools.rules.registry import make_finding

LARGE_OFFSET = 1_000


@dataclass
class TableFacts:
    """What the database says about one table the statement reads (empty without a database)."""

    schema_name: str
    name: str
    rows: int | None = None
    columns: dict[str, bool] = field(default_factory=dict)  # lower-cased name -> nullable
    column_names: list[str] = field(default_factory=list)
    indexed_leading: set[str] = field(default_factory=set)  # lower-cased leading columns of indexes
    types: dict[str, str] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema_name}.{self.name}" if self.schema_name else self.name


Facts = dict[str, TableFacts]  # keyed by lower-cased table name


def alias_map(tree: exp.Expr) -> dict[str, str]:
    """Alias (or bare name) -> table name, lower-cased, for every table in the statement."""
    out: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if not name:
            continue
        out[(table.alias or table.name).lower()] = name
        out.setdefault(name, name)
    return out


def column_table(column: exp.Column, aliases: dict[str, str], facts: Facts) -> str | None:
    """The lower-cased table a column reference belongs to, or None when it cannot be told."""
    if column.table:
        return aliases.get(column.table.lower())
    tables = set(aliases.values())
    if len(tables) == 1:
        return next(iter(tables))
    owners = [t for t in tables if t in facts and column.name.lower() in facts[t].columns]
    return owners[0] if len(owners) == 1 else None


def _object_for(table: str | None, column: str | None, facts: Facts) -> tuple[ObjectType, str]:
    if table is None:
        return ObjectType.TABLE, column or "statement"
    name = facts[table].qualified_name if table in facts else table
    return (ObjectType.COLUMN, f"{name}.{column}") if column else (ObjectType.TABLE, name)


def static_findings(tree: exp.Expr, facts: Facts) -> list[Finding]:
    """Every static anti-pattern in the statement."""
    aliases = alias_map(tree)
    found: list[Finding] = []
    for check in (_select_star, _leading_wildcard, _offset, _not_in, _cartesian, _or_across, _correlated,
                  _function_on_column):
        found.extend(check(tree, aliases, facts))
    unique: dict[str, Finding] = {}
    for f in found:
        unique.setdefault(f.id, f)
    return list(unique.values())


def _select_star(tree: exp.Expr, aliases: dict[str, str], facts: Facts) -> Iterator[Finding]:
    for select in tree.find_all(exp.Select):
        parent = select.parent
        in_exists = isinstance(parent, exp.Subquery) and isinstance(parent.parent, exp.Exists)
        if isinstance(parent, exp.Exists) or in_exists:
            continue
        if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
               for e in select.expressions):
            tables = sorted({t.name.lower() for t in select.find_all(exp.Table)})
            first = tables[0] if tables else None
            obj_type, obj = _object_for(first, None, facts)
            yield make_finding(
                "query.select_star", object_type=obj_type, obj=obj,
                message=f"SELECT * reads every column of {', '.join(tables) or 'the source'}; name the columns used.",
                evidence={"tables": tables},
            )


def _leading_wildcard(tree: exp.Expr, aliases: dict[str, str], facts: Facts) -> Iterator[Finding]:
    for like in tree.find_all(exp.Like, exp.ILike):
        pattern = like.expression
        column = like.this
        if isinstance(pattern, exp.Literal) and pattern.is_string and pattern.this[:1] in ("%", "_"):
            col_name = column.name if isinstance(column, exp.Column) else None
            table = column_table(column, aliases, facts) if isinstance(column, exp.Column) else None
            obj_type, obj = _object_for(table, col_name, facts)
            yield make_finding(
                "query.leading_wildcard_like", object_type=obj_type, obj=obj,
                message=f"LIKE '{pattern.this}' starts with a wildcard: no B-tree index on {col_name or 'it'} helps.",
                evidence={"pattern": pattern.this},
            )


def _offset(tree: exp.Expr, aliases: dict[str, str], facts: Facts) -> Iterator[Finding]:
    for offset in tree.find_all(exp.Offset):
        value = offset.expression
        if isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit():
            n = int(value.this)
            if n >= LARGE_OFFSET:
                tables = sorted({t.name.lower() for t in tree.find_all(exp.Table)})
                obj_type, obj = _object_for(tables[0] if tables else None, None, facts)
                yield make_finding(
                    "query.offset_pagination", object_type=obj_type, obj=obj,
                    message=f"OFFSET {n} reads and discards {n:,} rows before returning the page.",
                    evidence={"offset": n},
                )


def _not_in(tree: exp.Expr, aliases: dict[str, str], facts: Facts) -> Iterator[Finding]:
    for not_node in tree.find_all(exp.Not):
        inner = not_node.this
        if not isinstance(inner, exp.In) or inner.args.get("query") is None:
            continue
        query = inner.args["query"]
        select = query.this if isinstance(query, exp.Subquery) else query
        nullable: bool | None = None
        if isinstance(select, exp.Select) and select.expressions:
            selected = select.expressions[0]
            if isinstance(selected, exp.Column):
                inner_table = column_table(selected, alias_map(select), facts)
                if inner_table in facts:
                    nullable = facts[inner_table].columns.get(selected.name.lower())
        severity = {True: Severity.HIGH, False: Severity.LOW, None: Severity.MEDIUM}[nullable]
        column = inner.this
        table = column_table(column, aliases, facts) if isinstance(column, exp.Column) else None
        obj_type, obj = _object_for(table, column.name if isinstance(column, exp.Column) else None, facts)
        what = {True: "the subquery's column is nullable: one NULL empties the result",
                False: "the subquery's column is NOT NULL, but NOT EXISTS plans as an anti-join",
                None: "if the subquery returns a NULL, the result is empty"}[nullable]
        yield make_finding(
            "query.not_in_subquery", object_type=obj_type, obj=obj, severity=severity,
            message=f"NOT IN over a subquery: {what}.",
            evidence={"subquery_column_nullable": nullable},
        )


def _join_linked(select: exp.Select, alias: str) -> bool:
    where = select.args.get("where")
    if where is None:
        return False
    for eq in where.find_all(exp.EQ):
        left, right = eq.this, eq.expression
        if isinstance(left, exp.Column) and isinstance(right, exp.Column):
            sides = {left.table.lower(), right.table.lower()}
            if alias in sides and len(sides) == 2:
                return True
    return False


def _cartesian(tree: exp.Expr, aliases: dict[str, str], facts: Facts) -> Iterator[Finding]:
    for select in tree.find_all(exp.Select):
        for join in select.args.get("joins") or []:
            if join.args.get("on") is not None or join.args.get("using"):
                continue
            # An explicit CROSS JOIN is reported too when nothing links it: SQLite reads a comma as one.
            if join.args.get("method") or (join.side or "") != "":
                continue
            target = join.this
            if not isinstance(target, exp.Table):
                continue
            alias = (target.alias or target.name).lower()
            if _join_linked(select, alias):
                continue
            obj_type, obj = _object_for(target.name.lower(), None, facts)
            yield make_finding(
                "query.cartesian_join", object_type=obj_type, obj=obj,
                message=f"{target.name} is joined with no condition linking it to the other tables: "
                        "every combination of rows is produced.",
                evidence={"table": target.name},
            )


def _or_across(tree: exp.Expr, aliases: dict[str, str], facts: Facts) -> Iterator[Finding]:
    for where in tree.find_all(exp.Where):
        for node in where.find_all(exp.Or):
            parent = node.parent
            if isinstance(parent, exp.Or) or (isinstance(parent, exp.Paren) and isinstance(parent.parent, exp.Or)):
                continue
            columns = sorted({
                f"{c.table + '.' if c.table else ''}{c.name}".lower() for c in node.find_all(exp.Column)
            })
            if len(columns) > 1:
                first = next(node.find_all(exp.Column))
                obj_type, obj = _object_for(column_table(first, aliases, facts), None, facts)
                yield make_finding(
                    "query.or_across_columns", object_type=obj_type, obj=obj,
                    message=f"OR across {', '.join(columns)}: one index cannot serve the condition.",
                    evidence={"columns": columns},
                )


def _correlated(tree: exp.Expr, aliases: dict[str, str], facts: Facts) -> Iterator[Finding]:
    for sub in tree.find_all(exp.Subquery):
        if isinstance(sub.parent, exp.Exists | exp.From | exp.Join | exp.In):
            continue
        inner = sub.this
        if not isinstance(inner, exp.Select):
            continue
        inner_aliases = {(t.alias or t.name).lower() for t in inner.find_all(exp.Table)}
        outer = [c for c in inner.find_all(exp.Column)
                 if c.table and c.table.lower() not in inner_aliases and c.table.lower() in aliases]
        if not outer:
            continue
        tables = sorted({t.name.lower() for t in inner.find_all(exp.Table)})
        obj_type, obj = _object_for(tables[0] if tables else None, None, facts)
        yield make_finding(
            "query.correlated_subquery", object_type=obj_type, obj=obj,
            message=f"A subquery on {', '.join(tables)} refers to the outer row ({outer[0].sql()}) and may run "
                    "once per outer row.",
            evidence={"correlated_column": outer[0].sql()},
        )


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.In, exp.Between)


def _wrapped_column(side: exp.Expr) -> tuple[exp.Expr, exp.Column] | None:
    if isinstance(side, exp.Func | exp.Cast) and not isinstance(side, exp.AggFunc):
        args = [a for a in side.iter_expressions() if isinstance(a, exp.Column)]
        if args:
            return side, args[0]
    return None


def _function_on_column(tree: exp.Expr, aliases: dict[str, str], facts: Facts) -> Iterator[Finding]:
    for clause in [*tree.find_all(exp.Where), *(j.args["on"] for j in tree.find_all(exp.Join) if j.args.get("on"))]:
        for comparison in clause.find_all(*_COMPARISONS):
            sides = [comparison.this] if isinstance(comparison, exp.In | exp.Between) else [
                comparison.this, comparison.expression]
            for side in sides:
                wrapped = _wrapped_column(side)
                if wrapped is None:
                    continue
                func, column = wrapped
                table = column_table(column, aliases, facts)
                indexed = table in facts and column.name.lower() in facts[table].indexed_leading
                obj_type, obj = _object_for(table, column.name, facts)
                message = f"{func.sql()} wraps the column {column.name}: " + (
                    "its index cannot be used for this condition." if indexed
                    else "an index on the column cannot serve this condition.")
                yield make_finding(
                    "query.function_on_column", object_type=obj_type, obj=obj,
                    severity=Severity.HIGH if indexed else None,
                    message=message,
                    evidence={"expression": func.sql(), "column_indexed": indexed if table in facts else None},
                )

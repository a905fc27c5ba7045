"""SQL text the PostgreSQL plan generator writes: quoted names, the draft step shape, reusable step sequences.

Everything built here is checked to parse with pglast by the tests; identifiers go through quote_ident and
generated names are cut to PostgreSQL's 63 bytes the way the server would cut them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from pglast import ast, parser
from pglast.stream import RawStream
from pglast.visitors import Continue, Visitor

from dbsage.tools.migration_model import Phase
from dbsage.tools.sources.ddl_pgnames import make_object_name, name_addition, quote_ident

# Timing classes decide a step's timeouts (see migration_plan_postgres for the values):
# ddl = metadata change under a strong lock, must be quick; scan = long read that does not block writes
# (CONCURRENTLY, VALIDATE); batch = one short backfill batch; long = kept as written, may run long.
Timing = Literal["ddl", "scan", "batch", "long"]

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
ROW_EXCLUSIVE = "ROW EXCLUSIVE"
SHARE = "SHARE"


@dataclass
class Draft:
    """A step before numbering and timeouts: its statements end with ';' and carry no SET prefix."""

    phase: Phase
    description: str
    sql: str
    transactional: bool = True
    lock: str | None = ACCESS_EXCLUSIVE
    lock_target: str | None = None
    timing: Timing = "ddl"
    repeat: Literal["once", "until_no_rows"] = "once"
    rollback: str | None = None
    irreversible: bool = False
    reads_data: bool = False  # scans or changes rows: must follow earlier backfills of the same table
    # Lint rules this step trips on purpose (a safety-net rename, a contract-phase drop, an atomic swap of
    # metadata-only statements): each statement gets a `-- dbsage: ignore` comment so re-linting the plan
    # lists them as suppressed instead of as hazards.
    acknowledged: tuple[str, ...] = ()

    def ack(self, *rules: str) -> Draft:
        self.acknowledged = (*self.acknowledged, *rules)
        return self


def acknowledge(sql: str, rules: tuple[str, ...]) -> str:
    """`sql` with an ignore comment naming `rules` before each of its statements."""
    import pglast

    comment = f"-- dbsage: ignore {', '.join(sorted(set(rules)))} (deliberate step of the plan, see its description)"
    return "\n".join(f"{comment}\n{statement};" for statement in pglast.split(sql))


@dataclass(frozen=True)
class Rel:
    """A table as a statement names it, and its schema for messages and lookups."""

    schema: str | None
    name: str
    default_schema: str = "public"

    @property
    def sql(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}" if self.schema else quote_ident(self.name)

    @property
    def label(self) -> str:
        return f"{self.schema or self.default_schema}.{self.name}"

    def sibling(self, name: str) -> str:
        """Another object of the table's schema (function, index), as SQL."""
        return f"{quote_ident(self.schema)}.{quote_ident(name)}" if self.schema else quote_ident(name)

    def renamed(self, name: str) -> Rel:
        return Rel(self.schema, name, self.default_schema)


def rel_of(node: ast.RangeVar | None, default_schema: str) -> Rel:
    if node is None:
        return Rel(None, "", default_schema)
    return Rel(node.schemaname, node.relname or "", default_schema)


def q(name: str) -> str:
    return quote_ident(name)


_PARSE_LOCK = threading.Lock()


@contextmanager
def unchecked_nodes() -> Iterator[None]:
    """While inside, pglast builds nodes without its per-attribute checks: parsing is several times faster.

    pglast's C extension builds every node from values already of the attribute's type (enums, tuples,
    strings, bools), except a boolean constant's value (an int, which the check converts): the check each
    assignment goes through (ast.Node.__setattr__) then only costs time, most of the parse. It stays on for
    ast.Boolean. Switching it flushes Python's attribute caches of every node class: wrap batches, not single
    statements. Taken under a lock; another thread building nodes by hand in that window would skip the checks
    too (dbsage builds no nodes concurrently), and code inside must build nodes only from values of the right
    types (names as str).
    """
    with _PARSE_LOCK:
        checked = ast.Node.__setattr__
        ast.Boolean.__setattr__ = checked  # type: ignore[method-assign]
        ast.Node.__setattr__ = object.__setattr__  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            ast.Node.__setattr__ = checked  # type: ignore[method-assign]
            del ast.Boolean.__setattr__


def parse_trees(texts: Iterable[str]) -> list[tuple[ast.RawStmt, ...] | parser.ParseError]:
    """pglast.parse_sql of each text (or its ParseError): the same trees, built under unchecked_nodes()."""
    trees: list[tuple[ast.RawStmt, ...] | parser.ParseError] = []
    with unchecked_nodes():
        for text in texts:
            try:
                trees.append(parser.parse_sql(text))
            except parser.ParseError as exc:
                trees.append(exc)
    return trees


class _Ancestors(Visitor):
    """pglast's populate_ancestors without its per-call class and method lookup (the same walk, the same slots)."""

    def __call__(self, node: ast.Node | tuple[ast.Node, ...]) -> object:
        self.root = node
        walk = self.iterate(node)
        try:
            ancestors, sub = walk.send(None)
            while True:
                sub.ancestors = ancestors
                ancestors, sub = walk.send(Continue)
        except StopIteration:
            pass
        return self.root


_POPULATE = _Ancestors()


class _Stream(RawStream):
    """RawStream printing one node, its ancestors set by _Ancestors (RawStream.__call__ for one node otherwise)."""

    def one(self, node: ast.Node) -> str:
        _POPULATE((node,))
        self.print_node(node)
        if self.semicolon_after_last_statement:
            self.write(";")
        while self.comments:
            self.print_comment(self.comments.pop(0))
        return str(self.getvalue())


def show(node: ast.Node) -> str:
    """A parse tree node as SQL text."""
    if isinstance(node, ast.RawStmt) and node.stmt is None:
        return ""
    return _Stream().one(node)


def obj_name(table: str, columns: list[str] | str | None, label: str) -> str:
    """The name PostgreSQL would give: table_cols_label, cut to 63 bytes."""
    if isinstance(columns, list):
        columns = name_addition(columns) if columns else None
    return make_object_name(table, columns, label)


def keyed_batch(
    verb: Literal["UPDATE", "DELETE"],
    rel: Rel,
    key: list[str] | None,
    *,
    set_clause: str | None,
    where: str,
    batch_rows: int,
) -> str:
    """One batch: change at most `batch_rows` rows that still match `where`, picked by primary key (or ctid)."""
    if key and len(key) == 1:
        # = ANY (ARRAY(subquery)): the pick runs once, then the write finds each row by its key
        col = q(key[0])
        pick = f"{col} = ANY (ARRAY(SELECT {col} FROM {rel.sql} WHERE {where} LIMIT {batch_rows}))"
    elif key:
        cols = ", ".join(q(c) for c in key)
        pick = f"({cols}) IN (SELECT {cols} FROM {rel.sql} WHERE {where} LIMIT {batch_rows})"
    else:
        pick = f"ctid = ANY (ARRAY(SELECT ctid FROM {rel.sql} WHERE {where} LIMIT {batch_rows}))"
    head = f"UPDATE {rel.sql} SET {set_clause}" if verb == "UPDATE" else f"DELETE FROM {rel.sql}"
    # the outer WHERE checks the condition again: a row may change between the pick and the write
    return f"{head} WHERE {pick} AND ({where});"


def not_null_drafts(rel: Rel, column: str, *, tail_phase: Phase = Phase.CONTRACT) -> list[Draft]:
    """SET NOT NULL without a long ACCESS EXCLUSIVE scan: CHECK NOT VALID, VALIDATE, SET NOT NULL, drop the CHECK."""
    chk = obj_name(rel.name, column, "notnull")
    col = q(column)
    check_sql = f"ALTER TABLE {rel.sql} ADD CONSTRAINT {q(chk)} CHECK ({col} IS NOT NULL) NOT VALID;"
    return [
        Draft(
            Phase.EXPAND,
            f"Add CHECK ({column} IS NOT NULL) NOT VALID on {rel.label}: new writes are checked, no scan",
            check_sql,
            lock_target=rel.label,
            rollback=f"ALTER TABLE {rel.sql} DROP CONSTRAINT IF EXISTS {q(chk)};",
        ),
        Draft(
            tail_phase,
            f"Validate {chk} on {rel.label} in its own transaction (scans, does not block reads or writes)",
            f"ALTER TABLE {rel.sql} VALIDATE CONSTRAINT {q(chk)};",
            lock=SHARE_UPDATE_EXCLUSIVE,
            lock_target=rel.label,
            timing="scan",
            reads_data=True,
        ),
        Draft(
            tail_phase,
            f"SET NOT NULL on {rel.label}.{column}: PostgreSQL 12+ proves it from the validated CHECK, no scan",
            f"ALTER TABLE {rel.sql} ALTER COLUMN {col} SET NOT NULL;",
            lock_target=rel.label,
            rollback=f"ALTER TABLE {rel.sql} ALTER COLUMN {col} DROP NOT NULL;",
            reads_data=True,
        ),
        Draft(
            tail_phase,
            f"Drop the helper CHECK {chk} on {rel.label}, now redundant",
            f"ALTER TABLE {rel.sql} DROP CONSTRAINT IF EXISTS {q(chk)};",
            lock_target=rel.label,
            rollback=check_sql,
        ),
    ]


def sync_function(fn: str, old: str, new: str, to_new: str, *, guard_back: bool, fill_missing: bool = False,
                  default: str | None = None) -> str:
    """A BEFORE INSERT OR UPDATE trigger function keeping columns `old` and `new` equal both ways.

    `to_new` is the conversion of NEW.<old> into the new column (NEW.<old> itself for a rename). Writing
    back into the old column uses PL/pgSQL's assignment cast; with `guard_back` a value the old type cannot
    hold leaves the old column NULL instead of failing the application's write. With `fill_missing` an update
    of a row not yet backfilled fills the new column too (right while the application only knows the old one).
    `default` is the old column's default, moved into the trigger: an insert that sets neither column gets it,
    and an insert that sets either one is copied to the other (a column default would hide which one was set).
    """
    o, n = q(old), q(new)
    back = f"NEW.{o} := NEW.{n};"
    if guard_back:
        back = f"BEGIN {back} EXCEPTION WHEN others THEN NEW.{o} := NULL; END;"
    missing = f" OR NEW.{n} IS NULL" if fill_missing else ""
    body = (
        "BEGIN\n"
        "  IF TG_OP = 'INSERT' THEN\n"
        + (f"    IF NEW.{n} IS NULL AND NEW.{o} IS NULL THEN NEW.{o} := {default}; END IF;\n" if default else "")
        + f"    IF NEW.{n} IS NULL THEN NEW.{n} := {to_new};\n"
        f"    ELSIF NEW.{o} IS NULL THEN {back}\n"
        "    END IF;\n"
        f"  ELSIF NEW.{o} IS DISTINCT FROM OLD.{o}{missing} THEN\n"
        f"    NEW.{n} := {to_new};\n"
        f"  ELSIF NEW.{n} IS DISTINCT FROM OLD.{n} AND NEW.{n} IS DISTINCT FROM {to_new} THEN\n"
        f"    {back}\n"
        "  END IF;\n"
        "  RETURN NEW;\n"
        "END"
    )
    return (
        f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $dbsage$\n{body}\n$dbsage$;"
    )


def sync_trigger(rel: Rel, trigger: str, fn: str) -> str:
    return (
        f"CREATE TRIGGER {q(trigger)} BEFORE INSERT OR UPDATE ON {rel.sql} "
        f"FOR EACH ROW EXECUTE FUNCTION {fn}();"
    )


def drop_sync(rel: Rel, trigger: str, fn: str) -> str:
    return f"DROP TRIGGER IF EXISTS {q(trigger)} ON {rel.sql};\nDROP FUNCTION IF EXISTS {fn}();"

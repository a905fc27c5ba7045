"""The safe plan for a PostgreSQL migration: every statement becomes ordered, timed, reversible steps.

Order: all expand steps, then backfill, then switch, then contract; a statement's own steps keep their order,
and a statement is held back behind an earlier one it depends on (it names an object that an earlier
statement drops or swaps in a later phase; it reads rows an earlier statement backfills).

Timeouts (every step's SQL starts with them, as plain session SETs so they hold however the step is run:
psql autocommit, a driver transaction, Flyway, Alembic): lock_timeout 2 s everywhere (a step that cannot get
its lock fails fast instead of queueing traffic behind it; retry it); statement_timeout 15 s for metadata
changes under a strong lock, 30 s per backfill batch, none (0) for CONCURRENTLY builds and VALIDATE, which
scan for long but do not block writes, and for statements kept as written that may run long. Thresholds
`migration.lock_timeout_ms` and `migration.batch_rows` (default 5000) override the defaults.

Steps with transactional=False must run outside a transaction block, one statement at a time (a
multi-statement string sent in one call is an implicit transaction, which CONCURRENTLY refuses).
rollback_sql None with irreversible=False means there is nothing to undo for that step (a VALIDATE) or no
SQL could be written (said in the notes); irreversible=True marks data loss (DROP, DELETE, UPDATE).
With threshold `migration.index_foreign_keys` = 1, a foreign key added to a table whose indexes are known
(live, or created by the script) also gets an index leading with its columns when none exists; by default
the plan keeps exactly the schema the migration asks for.
VACUUM FULL and CLUSTER are left out of the plan with a note pointing to pg_repack (an online rebuild
outside SQL); BEGIN/COMMIT and SET lock_timeout/statement_timeout are left out because the plan sets its own.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable

import pglast
from pglast import ast

from dbsage.tools.catalog import Table
from dbsage.tools.errors import InputError
from dbsage.tools.migration_model import MigrationContext, MigrationScript, MigrationStatement, Phase, Step
from dbsage.tools.migration_rewrites_postgres import (
    PHASES,
    Scope,
    _names,
    alter_table,
    create_index,
    drop,
    fk_index,
    foreign_keys_of,
    reindex,
    single,
)
from dbsage.tools.migration_sqlgen_postgres import (
    ROW_EXCLUSIVE,
    SHARE_ROW_EXCLUSIVE,
    SHARE_UPDATE_EXCLUSIVE,
    Draft,
    Rel,
    acknowledge,
    parse_trees,
    q,
    show,
    unchecked_nodes,
)

LOCK_TIMEOUT_MS = 2000
STATEMENT_TIMEOUT_MS = {"ddl": 15000, "batch": 30000, "scan": 0, "long": 0}
BATCH_ROWS = 5000
# INSERT ... VALUES of literal rows (data dumps): only the table matters, and building the full tree is slow.
_INSERT_VALUES = re.compile(
    r"\s*INSERT\s+INTO\s+((?:\"[^\"]+\"|\w+)(?:\s*\.\s*(?:\"[^\"]+\"|\w+))?)\s*(?:\([^()]*\))?\s*VALUES\b",
    re.IGNORECASE)


def plan_postgres(script: MigrationScript, ctx: MigrationContext) -> tuple[list[Step], list[str]]:
    """The steps of the safe plan in run order, and notes on what could not be known or was assumed."""
    return _Planner(script, ctx).plan()


def _parse_text(text: str) -> str:
    """The text to parse: a literal INSERT ... VALUES is read as its target table only."""
    m = _INSERT_VALUES.match(text) if len(text) > 2000 else None
    return f"INSERT INTO {m.group(1)} DEFAULT VALUES" if m else text


_WORD = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)')


def _mentions(text: str) -> set[str]:
    """Every name the statement may refer to, lower-cased (a superset: keywords, and quoted names folded)."""
    return {(quoted.replace('""', '"') if quoted else bare).lower() for quoted, bare in _WORD.findall(text)}


def _timeout(ms: int) -> str:
    return f"'{ms}ms'" if ms else "'0'"


class _Planner:
    def __init__(self, script: MigrationScript, ctx: MigrationContext) -> None:
        self.ctx = ctx
        self.statements = script.statements
        self.notes: list[str] = []
        self.created: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = {}
        self.prefix_cache: dict[tuple[str, int], Table | None] = {}
        self.lock_ms = int(ctx.options.threshold("migration.lock_timeout_ms", LOCK_TIMEOUT_MS))
        self.batch_rows = max(1, int(ctx.options.threshold("migration.batch_rows", BATCH_ROWS)))
        self.current = 0
        self.script_indexes: dict[str, list[list[str]]] = {}

    # ------------------------------------------------------------ what is known about a table

    def is_new(self, rel: Rel) -> bool:
        return self.created.get(rel.label.lower(), self.current) < self.current

    def find_table(self, rel: Rel) -> Table | None:
        if not self.is_new(rel):
            live = self.ctx.table(rel.schema, rel.name)
            if live is not None:
                return live
        # the table is the same as at the last earlier statement naming it
        naming = self.by_name.get(rel.name.lower(), [])
        before = bisect_left(naming, self.current)  # indexes are appended in order
        key = (rel.label.lower(), naming[before - 1] if before else -1)
        if key not in self.prefix_cache:
            self.prefix_cache[key] = self._from_script(rel)
        return self.prefix_cache[key]

    def _from_script(self, rel: Rel) -> Table | None:
        """The table as the script's earlier statements define it (CREATE TABLE, then ALTERs)."""
        from dbsage.tools.sources.ddl import catalog_from_ddl

        if rel.label.lower() not in self.created:
            return None  # offline, a table the script does not create: nothing to read
        naming = self.by_name.get(rel.name.lower(), [])
        earlier = naming[:bisect_left(naming, self.current)]
        texts = [self.statements[i].text for i in earlier
                 if self.statements[i].text.lstrip()[:6].upper() in ("CREATE", "ALTER ", "COMMEN")]
        if not texts:
            return None
        try:
            with unchecked_nodes():  # the reader parses, and builds nodes from names only
                catalog = catalog_from_ddl(";\n".join(texts) + ";", self.ctx.dialect)
        except InputError:
            return None
        schema = (rel.schema or self.ctx.default_schema).lower()
        return next((t for t in catalog.tables if t.name.lower() == rel.name.lower()
                     and t.schema_name.lower() == schema), None)

    # ------------------------------------------------------------ the plan

    def plan(self) -> tuple[list[Step], list[str]]:
        parsed: list[ast.Node | None] = []
        mentioned: list[set[str]] = []
        trees = parse_trees(_parse_text(statement.text) for statement in self.statements)
        for index, (statement, tree) in enumerate(zip(self.statements, trees, strict=True)):
            if isinstance(tree, pglast.parser.ParseError):
                self.notes.append(f"{_where(statement)}: not parsed by PostgreSQL's parser ({tree}); kept as written.")
                node = None
            else:
                node = tree[0].stmt if len(tree) == 1 else None
            parsed.append(node)
            mentioned.append(_mentions(statement.text))
            self._remember_indexes(node)
            for name in mentioned[-1]:
                self.by_name.setdefault(name, []).append(index)
        placed: list[tuple[int, int, int, Draft, MigrationStatement]] = []
        barriers: dict[str, Phase] = {}
        backfilled: set[str] = set()
        touched: dict[str, int] = {}  # table label -> latest phase of the steps placed so far that lock it
        for index, (statement, node) in enumerate(zip(self.statements, parsed, strict=True)):
            self.current = index
            scope = Scope(self.ctx, self.find_table, self.is_new, _where(statement), self.batch_rows,
                          script_indexes=self.script_indexes)
            drafts = self._rewrite(node, statement, scope) if node is not None else single(
                scope, statement.text, "Kept as written (not parsed)", lock=None)
            self.notes += scope.notes
            if isinstance(node, (ast.CreateStmt, ast.CreateTableAsStmt)):
                rel = scope.rel(node.relation if isinstance(node, ast.CreateStmt)
                                else node.into.rel if node.into else None)
                self.created.setdefault(rel.label.lower(), index)
                if isinstance(node, ast.CreateStmt):
                    self.current = index + 1  # the table now counts as created
                    for columns in foreign_keys_of(node):
                        drafts += fk_index(rel, columns, scope)
                    self.current = index
                    self.notes += [n for n in scope.notes if n not in self.notes]
            names = mentioned[index]
            floor = max((PHASES.index(barriers[n]) for n in names if n in barriers), default=0)
            floor = max([floor, *(touched.get(label, 0) for label in scope.follows)])
            data_floor = PHASES.index(Phase.BACKFILL) if any(
                d.lock_target and d.lock_target.lower() in backfilled for d in drafts) else 0
            running = 0
            for number, draft in enumerate(drafts):
                level = max(PHASES.index(draft.phase), floor, running)
                if draft.reads_data:
                    level = max(level, data_floor)
                running = level
                draft.phase = PHASES[level]
                placed.append((level, index, number, draft, statement))
                if draft.phase is Phase.BACKFILL and draft.lock_target:
                    backfilled.add(draft.lock_target.lower())
                for label in (draft.lock_target or "").lower().split(", "):
                    touched[label] = max(touched.get(label, 0), level)
            for name, phase in scope.barriers.items():
                barriers[name] = max(phase, barriers.get(name, Phase.EXPAND), key=PHASES.index)
        placed.sort(key=lambda p: (p[0], p[1], p[2]))
        steps = [self._step(n, draft, statement) for n, (_, _, _, draft, statement) in enumerate(placed, start=1)]
        if any(not s.transactional for s in steps):
            self.notes.append("Steps marked transactional=false run outside any transaction block, one statement "
                              "at a time (autocommit); the others each run in their own short transaction.")
        if any(s.repeat == "until_no_rows" for s in steps):
            self.notes.append("Steps marked until_no_rows are batches: run them again until one changes no row; "
                              "each batch is its own transaction, so writers wait at most one batch.")
        return steps, self.notes

    def _remember_indexes(self, node: ast.Node | None) -> None:
        """Indexes the script creates anywhere (CREATE INDEX, PRIMARY KEY, UNIQUE): they can serve a foreign key."""
        if isinstance(node, ast.IndexStmt) and node.whereClause is None:
            rel = Rel(node.relation.schemaname if node.relation else None,
                      node.relation.relname or "" if node.relation else "", self.ctx.default_schema)
            leading: list[str] = []
            for param in node.indexParams or ():
                if not isinstance(param, ast.IndexElem) or not param.name:
                    break
                leading.append(param.name.lower())
            if leading:
                self.script_indexes.setdefault(rel.label.lower(), []).append(leading)
        elif isinstance(node, (ast.CreateStmt, ast.AlterTableStmt)) and node.relation is not None:
            rel = Rel(node.relation.schemaname, node.relation.relname or "", self.ctx.default_schema)
            constraints: list[tuple[object, str | None]] = []
            elements = node.tableElts if isinstance(node, ast.CreateStmt) else tuple(
                c.def_ for c in node.cmds or () if isinstance(c, ast.AlterTableCmd))
            for element in elements or ():
                if isinstance(element, ast.ColumnDef):
                    constraints += [(c, element.colname) for c in element.constraints or ()]
                else:
                    constraints.append((element, None))
            for con, column in constraints:
                if isinstance(con, ast.Constraint) and con.contype is not None and con.contype.name in (
                        "CONSTR_PRIMARY", "CONSTR_UNIQUE"):
                    cols = [str(k.sval).lower() for k in con.keys or () if isinstance(k, ast.String)]
                    cols = cols or ([column.lower()] if column else [])
                    if cols:
                        self.script_indexes.setdefault(rel.label.lower(), []).append(cols)

    def _step(self, number: int, draft: Draft, statement: MigrationStatement) -> Step:
        stmt_ms = STATEMENT_TIMEOUT_MS[draft.timing]
        sql = acknowledge(draft.sql, draft.acknowledged) if draft.acknowledged else draft.sql
        prefix = f"SET lock_timeout = {_timeout(self.lock_ms)};\nSET statement_timeout = {_timeout(stmt_ms)};\n"
        rollback = None
        if draft.rollback and not draft.irreversible:
            rollback = f"SET lock_timeout = {_timeout(self.lock_ms)};\nSET statement_timeout = '0';\n{draft.rollback}"
        # trusted values of the right types: constructed without re-validation (a tenth of the plan's time)
        return Step.model_construct(
            number=number, phase=draft.phase, description=draft.description, sql=prefix + sql,
            transactional=draft.transactional, lock=draft.lock, lock_target=draft.lock_target,
            lock_timeout_ms=self.lock_ms, statement_timeout_ms=stmt_ms, repeat=draft.repeat,
            rollback_sql=rollback, irreversible=draft.irreversible, source=statement.location)

    # ------------------------------------------------------------ one statement

    def _rewrite(self, node: ast.Node, statement: MigrationStatement, sc: Scope) -> list[Draft]:
        text = statement.text
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            return handler(node, text, sc)
        if isinstance(node, (ast.UpdateStmt, ast.DeleteStmt)):
            from dbsage.tools.migration_expand_postgres import batched_dml

            return batched_dml(node, text, sc)
        if isinstance(node, ast.RenameStmt):
            from dbsage.tools.migration_expand_postgres import rename

            return rename(node, text, sc)
        if isinstance(node, ast.TruncateStmt):
            return single(sc, text, "TRUNCATE: IRREVERSIBLE, the rows are gone (ACCESS EXCLUSIVE while it runs)",
                          phase=Phase.CONTRACT, irreversible=True)
        sc.note(f"{type(node).__name__}: kept as written; no rollback SQL is generated for it.")
        return single(sc, text, f"{type(node).__name__.removesuffix('Stmt')} (kept as written)", lock=None)


def _where(statement: MigrationStatement) -> str:
    return f"{statement.file}:{statement.line}"


def _create_table(node: ast.CreateStmt, text: str, sc: Scope) -> list[Draft]:
    rel = sc.rel(node.relation)
    if node.if_not_exists:
        sc.note(f"CREATE TABLE IF NOT EXISTS {rel.label}: the rollback drops the table even if it existed before.")
    drafts = single(sc, text, f"Create table {rel.label}", target=rel.label,
                    rollback=f"DROP TABLE IF EXISTS {rel.sql};")
    return drafts


def _create_table_as(node: ast.CreateTableAsStmt, text: str, sc: Scope) -> list[Draft]:
    rel = sc.rel(node.into.rel if node.into else None)
    kind = "MATERIALIZED VIEW" if node.objtype and node.objtype.name == "OBJECT_MATVIEW" else "TABLE"
    return single(sc, text, f"Create {kind.lower()} {rel.label} from a query", target=rel.label,
                  rollback=f"DROP {kind} IF EXISTS {rel.sql};", timing="long")


_PARAM_IN = ("FUNC_PARAM_IN", "FUNC_PARAM_INOUT", "FUNC_PARAM_VARIADIC", "FUNC_PARAM_DEFAULT")


def _create_other(node: ast.Node, text: str, sc: Scope) -> list[Draft]:
    """CREATE of a view, sequence, type, function, trigger, schema, extension: one step, DROP to roll back."""
    rollback: str | None = None
    lock: str | None = None
    what = type(node).__name__.removesuffix("Stmt")
    if isinstance(node, ast.ViewStmt) and not node.replace:
        rollback = f"DROP VIEW IF EXISTS {sc.rel(node.view).sql};"
    elif isinstance(node, ast.CreateSeqStmt):
        rollback = f"DROP SEQUENCE IF EXISTS {sc.rel(node.sequence).sql};"
    elif isinstance(node, (ast.CreateEnumStmt, ast.CreateRangeStmt)):
        rollback = f"DROP TYPE IF EXISTS {'.'.join(q(n) for n in _names(node.typeName))};"
    elif isinstance(node, ast.CompositeTypeStmt):
        rollback = f"DROP TYPE IF EXISTS {sc.rel(node.typevar).sql};"
    elif isinstance(node, ast.CreateDomainStmt):
        rollback = f"DROP DOMAIN IF EXISTS {'.'.join(q(n) for n in _names(node.domainname))};"
    elif isinstance(node, ast.CreateFunctionStmt) and not node.replace:
        args = [show(p.argType) for p in node.parameters or () if isinstance(p, ast.FunctionParameter)
                and p.argType is not None and (p.mode is None or p.mode.name in _PARAM_IN)]
        word = "PROCEDURE" if node.is_procedure else "FUNCTION"
        rollback = f"DROP {word} IF EXISTS {'.'.join(q(n) for n in _names(node.funcname))}({', '.join(args)});"
    elif isinstance(node, ast.CreateTrigStmt) and not node.replace:
        rollback = f"DROP TRIGGER IF EXISTS {q(node.trigname or '')} ON {sc.rel(node.relation).sql};"
        lock = SHARE_ROW_EXCLUSIVE
    elif isinstance(node, ast.CreateSchemaStmt):
        rollback = f"DROP SCHEMA IF EXISTS {q(node.schemaname or '')};"
    elif isinstance(node, ast.CreateExtensionStmt):
        rollback = f"DROP EXTENSION IF EXISTS {q(node.extname or '')};"
    if rollback is None:
        sc.note(f"{what}: OR REPLACE (or an object kind without a generated DROP): no rollback SQL, the previous "
                "definition is not known here.")
    return single(sc, text, f"{what} (new object, nothing existing is locked)", lock=lock, rollback=rollback)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _alter_enum(node: ast.AlterEnumStmt, text: str, sc: Scope) -> list[Draft]:
    name = ".".join(q(n) for n in _names(node.typeName))
    if node.oldVal:
        rollback = f"ALTER TYPE {name} RENAME VALUE {_literal(node.newVal or '')} TO {_literal(node.oldVal)};"
        return single(sc, text, f"Rename a value of enum {name}", lock=None, rollback=rollback)
    if sc.ctx.server_version_num < 120000:
        sc.note("ALTER TYPE ... ADD VALUE cannot run in a transaction block before PostgreSQL 12.")
    return single(sc, text, f"Add value '{node.newVal}' to enum {name}: IRREVERSIBLE (PostgreSQL cannot remove "
                  "an enum value)", lock=None, irreversible=True,
                  transactional=sc.ctx.server_version_num >= 120000)


def _vacuum(node: ast.VacuumStmt, text: str, sc: Scope) -> list[Draft]:
    options = {str(o.defname).lower() for o in node.options or () if isinstance(o, ast.DefElem)}
    targets = ", ".join(sc.rel(r.relation).label for r in node.rels or ()
                        if isinstance(r, ast.VacuumRelation) and r.relation is not None) or "the whole database"
    if "full" in options:
        sc.note(f"VACUUM FULL of {targets} left out of the plan: it rewrites under ACCESS EXCLUSIVE (no reads, no "
                "writes) for the whole rebuild. Rebuild online with pg_repack (`pg_repack --table ...`) instead.")
        return []
    return single(sc, text, f"VACUUM/ANALYZE {targets} (outside a transaction; does not block reads or writes)",
                  lock=SHARE_UPDATE_EXCLUSIVE, transactional=False, timing="long")


def _cluster(node: ast.ClusterStmt, text: str, sc: Scope) -> list[Draft]:
    target = sc.rel(node.relation).label if node.relation is not None else "every clustered table"
    sc.note(f"CLUSTER of {target} left out of the plan: it rewrites under ACCESS EXCLUSIVE for the whole sort. "
            "Reorder online with pg_repack (`pg_repack --table ... --order-by ...`) instead.")
    return []


def _transaction(node: ast.TransactionStmt, text: str, sc: Scope) -> list[Draft]:
    sc.note("BEGIN/COMMIT left out: the plan decides which steps share a transaction (one lock-taking step each).")
    return []


def _set(node: ast.VariableSetStmt, text: str, sc: Scope) -> list[Draft]:
    if (node.name or "").lower() in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout"):
        sc.note(f"SET {node.name} left out: every step sets its own timeouts.")
        return []
    sc.note(f"SET {node.name}: kept as a step; it only affects later steps run in the same session.")
    return single(sc, text, f"SET {node.name} for the session", lock=None, transactional=False)


def _insert(node: ast.InsertStmt, text: str, sc: Scope) -> list[Draft]:
    rel = sc.rel(node.relation)
    new = sc.is_new(rel)
    if not new and isinstance(node.selectStmt, ast.SelectStmt) and node.selectStmt.fromClause:
        sc.note(f"INSERT ... SELECT into {rel.label}: runs as one statement; batch it by key range if it copies "
                "many rows.")
    return single(sc, text, f"Insert rows into {rel.label}" + ("" if new else " (IRREVERSIBLE data change)"),
                  phase=Phase.BACKFILL, lock=ROW_EXCLUSIVE, target=rel.label, irreversible=not new, timing="long")


def _comment(node: ast.CommentStmt, text: str, sc: Scope) -> list[Draft]:
    return single(sc, text, "Set a comment", lock=SHARE_UPDATE_EXCLUSIVE)


def _grant(node: ast.GrantStmt, text: str, sc: Scope) -> list[Draft]:
    flipped = ast.GrantStmt(is_grant=not node.is_grant, targtype=node.targtype, objtype=node.objtype,
                            objects=node.objects, privileges=node.privileges, grantees=node.grantees,
                            grant_option=False, behavior=node.behavior)
    return single(sc, text, ("Grant" if node.is_grant else "Revoke") + " privileges", lock=None,
                  rollback=show(flipped) + ";")


_Handler = Callable[[ast.Node, str, Scope], list[Draft]]
_HANDLERS: dict[type, _Handler] = {
    ast.CreateStmt: _create_table,  # type: ignore[dict-item]
    ast.CreateTableAsStmt: _create_table_as,  # type: ignore[dict-item]
    ast.IndexStmt: create_index,  # type: ignore[dict-item]
    ast.DropStmt: drop,  # type: ignore[dict-item]
    ast.ReindexStmt: reindex,  # type: ignore[dict-item]
    ast.AlterTableStmt: alter_table,  # type: ignore[dict-item]
    ast.AlterEnumStmt: _alter_enum,  # type: ignore[dict-item]
    ast.VacuumStmt: _vacuum,  # type: ignore[dict-item]
    ast.ClusterStmt: _cluster,  # type: ignore[dict-item]
    ast.TransactionStmt: _transaction,  # type: ignore[dict-item]
    ast.VariableSetStmt: _set,  # type: ignore[dict-item]
    ast.InsertStmt: _insert,  # type: ignore[dict-item]
    ast.CommentStmt: _comment,  # type: ignore[dict-item]
    ast.GrantStmt: _grant,  # type: ignore[dict-item]
    **{cls: _create_other for cls in (ast.ViewStmt, ast.CreateSeqStmt, ast.CreateEnumStmt, ast.CreateRangeStmt,
                                      ast.CompositeTypeStmt, ast.CreateDomainStmt, ast.CreateFunctionStmt,
                                      ast.CreateTrigStmt, ast.CreateSchemaStmt, ast.CreateExtensionStmt)},
}

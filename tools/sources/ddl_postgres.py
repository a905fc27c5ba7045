"""PostgreSQL DDL read offline with pglast (PostgreSQL's own parser) into a Catalog.

The reader replays the script statement by statement the way a server would build its catalog:
serial columns get their owned sequence, primary keys make their columns NOT NULL, unnamed
constraints and indexes get PostgreSQL's generated names, partitions receive their parent's
indexes, keys and foreign keys. The result should equal what the live source reads from a database
that ran the same script, except for the facts only a live database has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pglast
from pglast import ast
from pglast.enums import (
    AlterTableType,
    ConstrType,
    FunctionParameterMode,
    GrantTargetType,
    ObjectType,
    RoleSpecType,
    RoleStmtType,
    SortByDir,
)
from pglast.parser import ParseError
from pglast.stream import RawStream

from dbsage.tools.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    Dialect,
    Extension,
    ForeignKey,
    Function,
    Grant,
    Index,
    IndexKey,
    Policy,
    PrimaryKey,
    Role,
    Table,
    Trigger,
    UniqueConstraint,
    View,
)
from dbsage.tools.catalog import (
    Sequence as CatalogSequence,
)
from dbsage.tools.sources.ddl_pgnames import (
    choose_name,
    figure_colname,
    name_addition,
    quote_ident,
    truncate_identifier,
    unique_index_column_names,
)
from dbsage.tools.sources.ddl_pgtypes import UserType, show_type, type_name_parts
from dbsage.tools.sources.ddl_script import ScriptNotes, Statement

DEFAULT_SCHEMA = "public"

# statements that never touch the catalog: skipped before parsing (fast on data-heavy dumps)
_DATA_STATEMENT = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|COPY|TRUNCATE|VACUUM|ANALY[SZ]E|BEGIN|COMMIT|END|ROLLBACK|START|SAVEPOINT|"
    r"RELEASE|CHECKPOINT|LOCK|DISCARD|RESET|SHOW|EXPLAIN|PREPARE|EXECUTE|DEALLOCATE|LISTEN|NOTIFY|UNLISTEN|"
    r"FETCH|CLOSE|DECLARE|MOVE|REFRESH|CLUSTER|REINDEX|LOAD|VALUES|TABLE|ABORT)\b",
    re.IGNORECASE,
)
_SELECT = re.compile(r"^\s*(SELECT|WITH|\()", re.IGNORECASE)

# statements that parse but have nothing to add to a Catalog
_HARMLESS = (
    ast.TransactionStmt,
    ast.CreatedbStmt,
    ast.DropdbStmt,
    ast.AlterDatabaseSetStmt,
    ast.AlterDatabaseStmt,
    ast.CreatePLangStmt,
    ast.AlterEnumStmt,
    ast.AlterDomainStmt,
    ast.CreateCastStmt,
    ast.CreateOpClassStmt,
    ast.CreateOpFamilyStmt,
    ast.CreateConversionStmt,
    ast.AlterTSConfigurationStmt,
    ast.AlterTSDictionaryStmt,
    ast.CreateStatsStmt,
    ast.SecLabelStmt,
    ast.AlterExtensionStmt,
    ast.AlterExtensionContentsStmt,
    ast.AlterFunctionStmt,
    ast.AlterCollationStmt,
    ast.AlterRoleSetStmt,
    ast.AlterSystemStmt,
    ast.VariableShowStmt,
)

TableKind = Literal["table", "partitioned_table", "foreign_table"]
TypeKind = Literal["enum", "domain", "composite", "range"]
_VOLATILITIES: dict[str, Literal["immutable", "stable", "volatile"]] = {
    "immutable": "immutable",
    "stable": "stable",
    "volatile": "volatile",
}
_PERSISTENCE: dict[str, Literal["permanent", "unlogged", "temporary"]] = {
    "p": "permanent",
    "u": "unlogged",
    "t": "temporary",
}
_DEFERRABLE_MARKS = (ConstrType.CONSTR_ATTR_DEFERRABLE, ConstrType.CONSTR_ATTR_DEFERRED)
_FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_TRIGGER_ROW, _TRIGGER_BEFORE, _TRIGGER_INSTEAD = 1, 2, 64
_TRIGGER_EVENTS = ((4, "INSERT"), (16, "UPDATE"), (8, "DELETE"), (32, "TRUNCATE"))
_LIKE_DEFAULTS, _LIKE_CONSTRAINTS, _LIKE_INDEXES = 1 << 3, 1 << 2, 1 << 6
_TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
_ALL_PRIVILEGES = {
    "table": _TABLE_PRIVILEGES,
    "sequence": ("USAGE", "SELECT", "UPDATE"),
    "function": ("EXECUTE",),
    "schema": ("USAGE", "CREATE"),
    "database": ("CREATE", "CONNECT", "TEMPORARY"),
}
_GRANT_OBJECT_TYPES = {
    ObjectType.OBJECT_TABLE: "table",
    ObjectType.OBJECT_SEQUENCE: "sequence",
    ObjectType.OBJECT_FUNCTION: "function",
    ObjectType.OBJECT_PROCEDURE: "function",
    ObjectType.OBJECT_ROUTINE: "function",
    ObjectType.OBJECT_SCHEMA: "schema",
    ObjectType.OBJECT_DATABASE: "database",
}
_SEQUENCE_MAX = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}
_NEXTVAL = re.compile(r"nextval\(\s*(?:CAST\(\s*)?'([^']+)'", re.IGNORECASE)


def sql_text(node: Any) -> str:
    """A node printed back as SQL."""
    try:
        return str(RawStream()(node))
    except Exception:  # a printer gap must not lose the whole statement
        return "?"


def _strings(items: Iterable[Any] | None) -> list[str]:
    return [i.sval for i in items or () if isinstance(i, ast.String) and i.sval is not None]


def _role_name(spec: Any) -> str:
    if not isinstance(spec, ast.RoleSpec):
        return "?"
    if spec.roletype == RoleSpecType.ROLESPEC_PUBLIC:
        return "public"
    if spec.roletype == RoleSpecType.ROLESPEC_CSTRING:
        return spec.rolename or "?"
    return str(spec.roletype).rsplit(".", 1)[-1].removeprefix("ROLESPEC_").lower()


def _grantee_name(spec: Any) -> str:
    """Grantees as aclexplode names them: PUBLIC in capitals."""
    if isinstance(spec, ast.RoleSpec) and spec.roletype == RoleSpecType.ROLESPEC_PUBLIC:
        return "PUBLIC"
    return _role_name(spec)


def _bool_option(arg: Any, default: bool = True) -> bool:
    if isinstance(arg, ast.Boolean):
        return bool(arg.boolval)
    if isinstance(arg, ast.Integer):
        return bool(arg.ival)
    if isinstance(arg, ast.String) and arg.sval is not None:
        return arg.sval.lower() in ("true", "on", "yes", "1")
    return default


def _single_column(expr: Any) -> str | None:
    """The one column an expression uses, or None when it uses none or several (check naming)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, ast.SubLink):
            return
        if isinstance(node, ast.ColumnRef):
            names = _strings(node.fields)
            if names and names[-1] not in found:
                found.append(names[-1])
            return
        if isinstance(node, ast.Node):
            for attribute in node:
                walk(getattr(node, attribute))
        elif isinstance(node, tuple | list):
            for item in node:
                walk(item)

    walk(expr)
    return found[0] if len(found) == 1 else None


@dataclass
class _IndexSpec:
    """An index as declared, kept to re-create it on partitions."""

    keys: list[IndexKey]
    include: list[str]
    unique: bool
    method: str
    predicate: str | None
    key_names: list[str]
    kind: str  # "index", "primary", "unique", "exclusion"


@dataclass
class _Rel:
    table: Table
    next_attnum: int = 1
    children: list[tuple[str, str]] = field(default_factory=list)
    specs: dict[str, _IndexSpec] = field(default_factory=dict)
    no_inherit_checks: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, str]:
        return (self.table.schema_name, self.table.name)


class PostgresDdlReader:
    """Replays PostgreSQL DDL into a Catalog."""

    def __init__(self, notes: ScriptNotes) -> None:
        self.notes = notes
        self.search_path: list[str] = [DEFAULT_SCHEMA]
        self.schema_override: str | None = None
        self.schemas: set[str] = {DEFAULT_SCHEMA}
        self.rels: dict[tuple[str, str], _Rel] = {}
        self.views: dict[tuple[str, str], View] = {}
        self.sequences: dict[tuple[str, str], CatalogSequence] = {}
        self.index_owner: dict[tuple[str, str], tuple[str, str]] = {}
        self.types: dict[tuple[str, str], UserType] = {}
        self.functions: list[Function] = []
        self.function_types: dict[int, str] = {}
        self.relnames: dict[str, set[str]] = {}
        self.connames: dict[str, set[str]] = {}
        self.roles: dict[str, Role] = {}
        # PostgreSQL 15+ creates schema public with USAGE (no longer CREATE) for PUBLIC
        self.grants: list[Grant] = [
            Grant(grantee="PUBLIC", object_type="schema", object=DEFAULT_SCHEMA, privilege="USAGE")
        ]
        self.extensions: dict[str, Extension] = {}
        self.statement: Statement | None = None

    # ------------------------------------------------------------------ driving

    def read(self, statements: Sequence[Statement]) -> Catalog:
        for statement in statements:
            text = statement.text
            if _DATA_STATEMENT.match(text):
                continue
            if _SELECT.match(text) and "set_config" not in text.lower():
                continue
            try:
                parsed = pglast.parse_sql(text)
            except ParseError as exc:
                message = exc.args[0] if exc.args else str(exc)
                self.notes.failed(statement, str(message))
                continue
            self.notes.parsed += 1
            self.statement = statement
            for raw in parsed:
                self.apply(raw.stmt, statement)
        return self.finish()

    def apply(self, node: Any, statement: Statement) -> None:
        handler = getattr(self, "on_" + type(node).__name__, None)
        if handler is not None:
            try:
                handler(node)
            except _Skip as skip:
                self.notes.remark(f"{self.notes.where(statement)}: {skip}")
            except Exception as exc:  # an odd statement must cost itself, not the whole catalog
                problem = f"{type(exc).__name__}: {exc}"
                self.notes.remark(f"{self.notes.where(statement)}: statement not applied ({problem})")
            return
        if isinstance(node, _HARMLESS):
            return
        self.notes.ignore(_statement_label(statement.text))

    # ------------------------------------------------------------------ names and lookups

    def creation_schema(self, given: str | None = None) -> str:
        if given:
            return given
        if self.schema_override:
            return self.schema_override
        for schema in self.search_path:
            if schema not in ("pg_catalog", "$user", "pg_temp"):
                return schema
        return DEFAULT_SCHEMA

    def remember_schema(self, schema: str) -> None:
        if schema not in ("pg_catalog", "information_schema") and not schema.startswith("pg_temp"):
            self.schemas.add(schema)

    def find_rel(self, schema: str | None, name: str | None) -> _Rel | None:
        if name is None:
            return None
        name = truncate_identifier(name)
        if schema:
            return self.rels.get((schema, name))
        for candidate in [*self.search_path, self.creation_schema()]:
            if (candidate, name) in self.rels:
                return self.rels[(candidate, name)]
        matches = [rel for key, rel in self.rels.items() if key[1] == name]
        return matches[0] if len(matches) == 1 else None

    def rel_of(self, rv: Any) -> _Rel:
        rel = self.find_rel(rv.schemaname, rv.relname) if isinstance(rv, ast.RangeVar) else None
        if rel is None:
            shown = _range_var_name(rv)
            raise _Skip(f"{shown} is not a table defined earlier in the DDL; statement skipped")
        return rel

    def find_user_type(self, parts: list[str]) -> UserType | None:
        if not parts:
            return None
        name = parts[-1]
        if len(parts) >= 2:
            return self.types.get((parts[-2], name))
        for schema in [*self.search_path, self.creation_schema()]:
            if (schema, name) in self.types:
                return self.types[(schema, name)]
        matches = [t for key, t in self.types.items() if key[1] == name]
        return matches[0] if len(matches) == 1 else None

    def relation_taken(self, schema: str) -> Any:
        def taken(name: str) -> bool:
            return name in self.relnames.get(schema, set()) or name in self.connames.get(schema, set())

        return taken

    def constraint_taken(self, schema: str, extra: Iterable[str] = ()) -> Any:
        others = set(extra)

        def taken(name: str) -> bool:
            return name in others or name in self.connames.get(schema, set())

        return taken

    def add_relname(self, schema: str, name: str) -> None:
        self.relnames.setdefault(schema, set()).add(name)

    def add_conname(self, schema: str, name: str) -> None:
        self.connames.setdefault(schema, set()).add(name)

    # ------------------------------------------------------------------ search_path

    def on_VariableSetStmt(self, node: ast.VariableSetStmt) -> None:
        if (node.name or "").lower() != "search_path":
            return
        values: list[str] = []
        for arg in node.args or ():
            value = arg.val if isinstance(arg, ast.A_Const) else None
            if isinstance(value, ast.String) and value.sval is not None:
                values.extend(v.strip().strip('"') for v in value.sval.split(","))
            elif isinstance(arg, ast.ColumnRef):
                values.extend(_strings(arg.fields))
        self.search_path = [v for v in values if v]

    def on_SelectStmt(self, node: ast.SelectStmt) -> None:
        for target in node.targetList or ():
            call = target.val if isinstance(target, ast.ResTarget) else None
            if isinstance(call, ast.FuncCall) and _strings(call.funcname)[-1:] == ["set_config"]:
                args = [a.val for a in call.args or () if isinstance(a, ast.A_Const)]
                if len(args) >= 2 and isinstance(args[0], ast.String) and args[0].sval == "search_path":
                    value = args[1].sval if isinstance(args[1], ast.String) else ""
                    self.search_path = [v.strip().strip('"') for v in (value or "").split(",") if v.strip()]

    # ------------------------------------------------------------------ tables

    def on_CreateForeignTableStmt(self, node: ast.CreateForeignTableStmt) -> None:
        if node.base is not None:
            self.create_table(node.base, kind="foreign_table")

    def on_CreateStmt(self, node: ast.CreateStmt) -> None:
        self.create_table(node)

    def create_table(self, node: ast.CreateStmt, kind: TableKind | None = None) -> None:
        rv = node.relation
        assert rv is not None
        schema = self.creation_schema(rv.schemaname)
        name = truncate_identifier(rv.relname or "")
        if (schema, name) in self.rels:
            if not node.if_not_exists:
                raise _Skip(f"table {schema}.{name} is created twice; the second definition is ignored")
            return
        persistence = _PERSISTENCE.get(rv.relpersistence or "p", "permanent")
        if persistence == "temporary":
            # a temporary table lives only in the session that made it; no database catalog shows it
            self.notes.remark(f"temporary table {name} left out: it exists only in its own session")
            return
        table_kind = kind or ("partitioned_table" if node.partspec is not None else "table")
        table = Table(schema_name=schema, name=name, kind=table_kind, persistence=persistence)
        rel = _Rel(table)
        self.rels[rel.key] = rel
        self.add_relname(schema, name)
        self.remember_schema(schema)
        parents = [self.rel_of(p) for p in node.inhRelations or ()]
        partition_parent = parents[0] if node.partbound is not None and parents else None
        for parent in parents:
            self.inherit_columns(rel, parent)
        if node.ofTypename is not None:
            self.notes.remark(
                f"{schema}.{name} is a typed table (OF type): its columns are not known offline"
            )

        checks: list[tuple[ast.Constraint, str | None]] = []
        index_constraints: list[tuple[ast.Constraint, str | None]] = []
        foreign: list[tuple[ast.Constraint, str | None]] = []
        for element in node.tableElts or ():
            if isinstance(element, ast.ColumnDef):
                constraints = self.define_column(rel, element, merge=True)
                for c in constraints:
                    self.sort_constraint(c, element.colname, checks, index_constraints, foreign)
            elif isinstance(element, ast.Constraint):
                self.sort_constraint(element, None, checks, index_constraints, foreign)
            elif isinstance(element, ast.TableLikeClause):
                self.copy_like(rel, element)
        for parent in parents:
            if parent is not partition_parent:
                self.inherit_checks(rel, parent)
        for check, column in checks:
            self.add_check(rel, check, column, created=True)
        for index_constraint, column in _without_redundant(index_constraints):
            self.add_index_constraint(rel, index_constraint, column, recurse=True)
        for fk, column in foreign:
            self.add_foreign_key(rel, fk, column, created=True)
        if partition_parent is not None:
            table.partition_of = f"{partition_parent.table.schema_name}.{partition_parent.table.name}"
            partition_parent.children.append(rel.key)
            self.clone_into_partition(partition_parent, rel)

    def sort_constraint(
        self,
        c: ast.Constraint,
        column: str | None,
        checks: list[tuple[ast.Constraint, str | None]],
        index_constraints: list[tuple[ast.Constraint, str | None]],
        foreign: list[tuple[ast.Constraint, str | None]],
    ) -> None:
        if c.contype == ConstrType.CONSTR_CHECK:
            checks.append((c, column))
        elif c.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_EXCLUSION):
            index_constraints.append((c, column))
        elif c.contype == ConstrType.CONSTR_FOREIGN:
            foreign.append((c, column))

    def inherit_columns(self, rel: _Rel, parent: _Rel) -> None:
        for column in parent.table.columns:
            existing = rel.table.column(column.name)
            if existing is not None:
                existing.nullable = existing.nullable and column.nullable
                continue
            rel.table.columns.append(
                column.model_copy(update={"position": rel.next_attnum, "identity": None, "comment": None})
            )
            rel.next_attnum += 1

    def inherit_checks(self, rel: _Rel, parent: _Rel) -> None:
        names = {c.name for c in rel.table.check_constraints}
        for check in parent.table.check_constraints:
            if check.name not in names and check.name not in parent.no_inherit_checks:
                rel.table.check_constraints.append(check.model_copy())

    def copy_like(self, rel: _Rel, like: ast.TableLikeClause) -> None:
        source = self.rel_of(like.relation)
        options = int(like.options or 0)
        for column in source.table.columns:
            if rel.table.column(column.name) is not None:
                continue
            update: dict[str, Any] = {"position": rel.next_attnum, "identity": None, "serial": False}
            if not options & _LIKE_DEFAULTS:
                update["default"] = None
            rel.table.columns.append(column.model_copy(update=update))
            rel.next_attnum += 1
        if options & _LIKE_CONSTRAINTS:
            for check in source.table.check_constraints:
                rel.table.check_constraints.append(check.model_copy())
        if options & _LIKE_INDEXES:
            for index in source.table.indexes:
                spec = source.specs.get(index.name)
                if spec is not None:
                    self.create_index(rel, spec, None, constraint_kind=spec.kind, recurse=True)

    def define_column(self, rel: _Rel, coldef: ast.ColumnDef, *, merge: bool) -> list[ast.Constraint]:
        """Add (or, for inherited columns, refine) a column; returns its key constraints to add later."""
        table = rel.table
        name = truncate_identifier(coldef.colname or "")
        existing = table.column(name) if merge else None
        pending: list[ast.Constraint] = []
        if existing is not None and coldef.typeName is None:
            column = existing
        else:
            assert coldef.typeName is not None
            shown = show_type(coldef.typeName, self.find_user_type)
            column = Column(
                name=name,
                position=existing.position if existing else rel.next_attnum,
                data_type=shown.data_type,
                base_type=shown.base_type,
                length=shown.length,
            )
            if existing is not None:
                table.columns[table.columns.index(existing)] = column
            else:
                table.columns.append(column)
                rel.next_attnum += 1
            if shown.serial:
                column.serial = True
                column.nullable = False
                sequence = self.create_owned_sequence(rel, column, None)
                column.default = f"nextval('{_regclass_text(sequence)}'::regclass)"
        if coldef.collClause is not None:
            names = _strings(coldef.collClause.collname)
            column.collation = names[-1] if names else None
        if coldef.is_not_null:
            column.nullable = False
        if coldef.raw_default is not None:
            column.default = self.default_text(coldef.raw_default)
        last: ast.Constraint | None = None
        for c in coldef.constraints or ():
            if not isinstance(c, ast.Constraint):
                continue
            ctype = c.contype
            if ctype == ConstrType.CONSTR_NOTNULL:
                column.nullable = False
            elif ctype == ConstrType.CONSTR_NULL:
                column.nullable = True
            elif ctype == ConstrType.CONSTR_DEFAULT:
                column.default = self.default_text(c.raw_expr) if c.raw_expr is not None else None
            elif ctype == ConstrType.CONSTR_IDENTITY:
                self.make_identity(rel, column, c)
            elif ctype == ConstrType.CONSTR_GENERATED:
                column.generated = sql_text(c.raw_expr) if c.raw_expr is not None else None
            elif ctype in _DEFERRABLE_MARKS and last is not None:
                last.deferrable = True
            elif ctype in (
                ConstrType.CONSTR_CHECK,
                ConstrType.CONSTR_PRIMARY,
                ConstrType.CONSTR_UNIQUE,
                ConstrType.CONSTR_FOREIGN,
            ):
                pending.append(c)
                last = c
        return pending

    def default_text(self, expr: Any) -> str:
        """A default as pg_get_expr shows it for the common nextval case; other expressions as deparsed."""
        text = sql_text(expr)
        match = _NEXTVAL.match(text)
        if match is not None and re.fullmatch(r"nextval\(CAST\('[^']+' AS regclass\)\)", text):
            target = match.group(1)
            schema, _, name = target.rpartition(".")
            if schema in ("", DEFAULT_SCHEMA):
                target = name
            return f"nextval('{target}'::regclass)"
        return text

    def make_identity(self, rel: _Rel, column: Column, c: ast.Constraint) -> None:
        column.identity = "always" if c.generated_when == "a" else "by_default"
        column.nullable = False
        sequence_name: str | None = None
        options = [o for o in c.options or () if isinstance(o, ast.DefElem)]
        for option in options:
            if option.defname == "sequence_name":
                names = _strings(option.arg if isinstance(option.arg, tuple) else ())
                sequence_name = names[-1] if names else None
        sequence = self.create_owned_sequence(rel, column, sequence_name)
        self.sequence_options(sequence, [o for o in options if o.defname != "sequence_name"])

    def create_owned_sequence(self, rel: _Rel, column: Column, name: str | None) -> CatalogSequence:
        schema = rel.table.schema_name
        seq_name = name or choose_name(rel.table.name, column.name, "seq", self.relation_taken(schema))
        data_type = column.data_type if column.data_type in _SEQUENCE_MAX else "bigint"
        sequence = CatalogSequence(
            schema_name=schema,
            name=seq_name,
            data_type=data_type,
            max_value=_SEQUENCE_MAX[data_type],
            owned_by=f"{schema}.{rel.table.name}.{column.name}",
        )
        self.sequences[(schema, seq_name)] = sequence
        self.add_relname(schema, seq_name)
        return sequence

    # ------------------------------------------------------------------ constraints

    def add_check(self, rel: _Rel, c: ast.Constraint, column: str | None, *, created: bool) -> None:
        table = rel.table
        schema = table.schema_name
        name = c.conname
        if name is None:
            single = column or _single_column(c.raw_expr)
            name = choose_name(table.name, single, "check", self.constraint_taken(schema))
        name = truncate_identifier(name)
        validated = True if created else not bool(c.skip_validation)
        check = CheckConstraint(name=name, expression=sql_text(c.raw_expr), validated=validated)
        table.check_constraints.append(check)
        self.add_conname(schema, name)
        if c.is_no_inherit:
            rel.no_inherit_checks.add(name)
            return
        for child in self.children_of(rel):
            if all(x.name != name for x in child.table.check_constraints):
                child.table.check_constraints.append(check.model_copy())

    def children_of(self, rel: _Rel) -> list[_Rel]:
        return [self.rels[k] for k in rel.children if k in self.rels]

    def add_index_constraint(
        self, rel: _Rel, c: ast.Constraint, column: str | None, *, recurse: bool
    ) -> None:
        kind = {
            ConstrType.CONSTR_PRIMARY: "primary",
            ConstrType.CONSTR_UNIQUE: "unique",
            ConstrType.CONSTR_EXCLUSION: "exclusion",
        }.get(c.contype or ConstrType.CONSTR_NULL, "unique")
        if c.indexname:
            self.adopt_index(rel, c, kind)
            return
        if kind == "exclusion":
            elements = [pair[0] for pair in c.exclusions or () if pair]
            keys, key_names = self.index_keys(elements)
            method = (c.access_method or "gist").lower()
        else:
            columns = [truncate_identifier(n) for n in _strings(c.keys)] or ([column] if column else [])
            keys = [IndexKey(column=n) for n in columns]
            key_names = list(columns)
            method = "btree"
        include = [truncate_identifier(n) for n in _strings(c.including)]
        spec = _IndexSpec(
            keys=keys,
            include=include,
            unique=kind != "exclusion",
            method=method,
            predicate=sql_text(c.where_clause) if c.where_clause is not None else None,
            key_names=key_names + include,
            kind=kind,
        )
        self.create_index(rel, spec, c.conname, constraint_kind=kind, recurse=recurse)

    def adopt_index(self, rel: _Rel, c: ast.Constraint, kind: str) -> None:
        """ADD CONSTRAINT ... USING INDEX: the index becomes the constraint's, renamed after it."""
        index = next((i for i in rel.table.indexes if i.name == c.indexname), None)
        if index is None:
            raise _Skip(f"index {c.indexname} is not defined on {rel.table.qualified_name}")
        name = truncate_identifier(c.conname or index.name)
        schema = rel.table.schema_name
        self.rename_index(rel, index, name)
        index.constraint = name
        self.add_conname(schema, name)
        columns = [k.column or "" for k in index.keys]
        if kind == "primary":
            index.primary = True
            rel.table.primary_key = PrimaryKey(name=name, columns=columns)
            self.set_not_null(rel, columns)
        else:
            rel.table.unique_constraints.append(UniqueConstraint(name=name, columns=columns))
        spec = rel.specs.pop(c.indexname or "", None)
        if spec is not None:
            spec.kind = kind
            rel.specs[name] = spec

    def rename_index(self, rel: _Rel, index: Index, new_name: str) -> None:
        schema = rel.table.schema_name
        self.relnames.get(schema, set()).discard(index.name)
        self.index_owner.pop((schema, index.name), None)
        if index.name in rel.specs:
            rel.specs[new_name] = rel.specs.pop(index.name)
        index.name = new_name
        self.add_relname(schema, new_name)
        self.index_owner[(schema, new_name)] = rel.key

    def set_not_null(self, rel: _Rel, columns: Iterable[str]) -> None:
        for name in columns:
            column = rel.table.column(name)
            if column is not None:
                column.nullable = False

    def index_keys(self, elements: Iterable[Any]) -> tuple[list[IndexKey], list[str]]:
        keys: list[IndexKey] = []
        names: list[str] = []
        for element in elements:
            if not isinstance(element, ast.IndexElem):
                continue
            descending = element.ordering == SortByDir.SORTBY_DESC
            expr = element.expr
            if element.name is None and isinstance(expr, ast.ColumnRef) and len(_strings(expr.fields)) == 1:
                column_name: str | None = _strings(expr.fields)[0]
            else:
                column_name = element.name
            if column_name is not None:
                column_name = truncate_identifier(column_name)
                keys.append(IndexKey(column=column_name, descending=descending))
                names.append(element.indexcolname or column_name)
            else:
                keys.append(IndexKey(expression=sql_text(expr), descending=descending))
                figured, _strength = figure_colname(expr)
                names.append(element.indexcolname or figured or "expr")
        return keys, names

    def create_index(
        self,
        rel: _Rel,
        spec: _IndexSpec,
        name: str | None,
        *,
        constraint_kind: str,
        recurse: bool,
        definition: str | None = None,
    ) -> Index:
        table = rel.table
        schema = table.schema_name
        if name is None:
            if constraint_kind == "primary":
                name = choose_name(table.name, None, "pkey", self.relation_taken(schema))
            else:
                label = {"unique": "key", "exclusion": "excl"}.get(constraint_kind, "idx")
                addition = name_addition(unique_index_column_names(spec.key_names))
                name = choose_name(table.name, addition, label, self.relation_taken(schema))
        name = truncate_identifier(name)
        is_constraint = constraint_kind in ("primary", "unique", "exclusion")
        index = Index(
            name=name,
            keys=[k.model_copy() for k in spec.keys],
            include=list(spec.include),
            unique=spec.unique,
            primary=constraint_kind == "primary",
            method=spec.method,
            predicate=spec.predicate,
            constraint=name if is_constraint else None,
        )
        index.definition = definition or _index_definition(table, index)
        table.indexes.append(index)
        rel.specs[name] = _IndexSpec(
            spec.keys, spec.include, spec.unique, spec.method, spec.predicate, spec.key_names, constraint_kind
        )
        self.add_relname(schema, name)
        self.index_owner[(schema, name)] = rel.key
        columns = [k.column or "" for k in spec.keys]
        if constraint_kind == "primary":
            table.primary_key = PrimaryKey(name=name, columns=columns)
            self.set_not_null(rel, columns)
        elif constraint_kind == "unique":
            table.unique_constraints.append(UniqueConstraint(name=name, columns=columns))
        if is_constraint:
            self.add_conname(schema, name)
        if recurse:
            for child in self.children_of(rel):
                self.clone_index(child, spec, constraint_kind)
        return index

    def clone_index(self, child: _Rel, spec: _IndexSpec, kind: str) -> None:
        """Give a partition its parent's index unless it already has an equivalent one."""
        for existing in child.table.indexes:
            if (
                [k.model_dump() for k in existing.keys] == [k.model_dump() for k in spec.keys]
                and existing.include == spec.include
                and existing.unique == spec.unique
                and existing.method == spec.method
                and existing.predicate == spec.predicate
            ):
                return
        if kind == "primary" and child.table.primary_key is not None:
            return
        self.create_index(child, spec, None, constraint_kind=kind, recurse=True)

    def add_foreign_key(self, rel: _Rel, c: ast.Constraint, column: str | None, *, created: bool) -> None:
        table = rel.table
        schema = table.schema_name
        columns = [truncate_identifier(n) for n in _strings(c.fk_attrs)] or ([column] if column else [])
        target = c.pktable
        assert target is not None
        ref = self.find_rel(target.schemaname, target.relname)
        ref_schema = ref.table.schema_name if ref is not None else self.creation_schema(target.schemaname)
        ref_table = ref.table.name if ref is not None else truncate_identifier(target.relname or "")
        ref_columns = [truncate_identifier(n) for n in _strings(c.pk_attrs)]
        if not ref_columns and ref is not None and ref.table.primary_key is not None:
            ref_columns = list(ref.table.primary_key.columns)
        name = c.conname
        if name is None:
            name = choose_name(table.name, name_addition(columns), "fkey", self.constraint_taken(schema))
        name = truncate_identifier(name)
        fk = ForeignKey(
            name=name,
            columns=columns,
            ref_schema=ref_schema,
            ref_table=ref_table,
            ref_columns=ref_columns,
            on_delete=_FK_ACTIONS.get(c.fk_del_action or "a", "NO ACTION"),
            on_update=_FK_ACTIONS.get(c.fk_upd_action or "a", "NO ACTION"),
            deferrable=bool(c.deferrable),
            validated=True if created else not bool(c.skip_validation),
        )
        self.attach_foreign_key(rel, fk)

    def attach_foreign_key(self, rel: _Rel, fk: ForeignKey) -> None:
        rel.table.foreign_keys.append(fk)
        self.add_conname(rel.table.schema_name, fk.name or "")
        for child in self.children_of(rel):
            if any(f.name == fk.name for f in child.table.foreign_keys):
                continue
            self.attach_foreign_key(child, fk.model_copy(update={"columns": list(fk.columns)}))

    def clone_into_partition(self, parent: _Rel, child: _Rel) -> None:
        """What ATTACH PARTITION / PARTITION OF copies from the parent."""
        self.inherit_checks(child, parent)
        for index in list(parent.table.indexes):
            spec = parent.specs.get(index.name)
            if spec is not None:
                self.clone_index(child, spec, spec.kind)
        for fk in parent.table.foreign_keys:
            if all(f.name != fk.name for f in child.table.foreign_keys):
                self.attach_foreign_key(child, fk.model_copy(update={"columns": list(fk.columns)}))
        for trigger in parent.table.triggers:
            if all(t.name != trigger.name for t in child.table.triggers):
                child.table.triggers.append(trigger.model_copy())

    # ------------------------------------------------------------------ ALTER TABLE

    def on_AlterTableStmt(self, node: ast.AlterTableStmt) -> None:
        objtype = node.objtype
        rv = node.relation
        assert rv is not None
        if objtype in (ObjectType.OBJECT_VIEW, ObjectType.OBJECT_MATVIEW):
            self.alter_view(rv, node.cmds or ())
            return
        if objtype == ObjectType.OBJECT_INDEX:
            return  # ALTER INDEX ... ATTACH PARTITION / SET: nothing the catalog keeps
        if objtype == ObjectType.OBJECT_SEQUENCE or (
            self.find_rel(rv.schemaname, rv.relname) is None and self.find_view_or_sequence(rv) is not None
        ):
            self.alter_other_relation(rv, node.cmds or ())
            return
        if self.find_rel(rv.schemaname, rv.relname) is None and node.missing_ok:
            return
        rel = self.rel_of(rv)
        recurse = bool(rv.inh)
        for cmd in node.cmds or ():
            if isinstance(cmd, ast.AlterTableCmd):
                self.alter_table_cmd(rel, cmd, recurse)

    def find_view_or_sequence(self, rv: ast.RangeVar) -> View | CatalogSequence | None:
        name = truncate_identifier(rv.relname or "")
        schemas = [rv.schemaname] if rv.schemaname else [*self.search_path, self.creation_schema()]
        for schema in schemas:
            if (schema, name) in self.views:
                return self.views[(schema, name)]
            if (schema, name) in self.sequences:
                return self.sequences[(schema, name)]
        return None

    def alter_other_relation(self, rv: ast.RangeVar, cmds: Iterable[Any]) -> None:
        target = self.find_view_or_sequence(rv)
        for cmd in cmds:
            if not isinstance(cmd, ast.AlterTableCmd):
                continue
            if cmd.subtype == AlterTableType.AT_ChangeOwner and isinstance(target, View):
                target.owner = _role_name(cmd.newowner)
            elif cmd.subtype == AlterTableType.AT_SetRelOptions and isinstance(target, View):
                self.view_options(target, cmd.def_)

    def alter_view(self, rv: ast.RangeVar, cmds: Iterable[Any]) -> None:
        self.alter_other_relation(rv, cmds)

    def view_options(self, view: View, options: Any) -> None:
        for option in options or ():
            if isinstance(option, ast.DefElem) and option.defname == "security_invoker":
                view.security_invoker = _bool_option(option.arg)

    def alter_table_cmd(self, rel: _Rel, cmd: ast.AlterTableCmd, recurse: bool) -> None:
        table = rel.table
        sub = cmd.subtype
        column = table.column(cmd.name) if cmd.name else None
        if sub == AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
            if cmd.missing_ok and table.column(cmd.def_.colname or "") is not None:
                return
            pending = self.define_column(rel, cmd.def_, merge=False)
            new_column = table.columns[-1]
            for child in self.children_of(rel):
                if child.table.column(new_column.name) is None:
                    child.table.columns.append(new_column.model_copy(update={"position": child.next_attnum}))
                    child.next_attnum += 1
            for c in pending:
                self.add_constraint(rel, c, new_column.name, recurse=recurse)
        elif sub == AlterTableType.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
            self.add_constraint(rel, cmd.def_, None, recurse=recurse)
        elif sub == AlterTableType.AT_DropColumn and cmd.name:
            self.drop_column(rel, truncate_identifier(cmd.name))
        elif column is not None and sub == AlterTableType.AT_ColumnDefault:
            column.default = self.default_text(cmd.def_) if cmd.def_ is not None else None
            for child in self.children_of(rel):
                child_column = child.table.column(column.name)
                if child_column is not None:
                    child_column.default = column.default
        elif column is not None and sub == AlterTableType.AT_SetNotNull:
            column.nullable = False
            for child in self.children_of(rel):
                self.set_not_null(child, [column.name])
        elif column is not None and sub == AlterTableType.AT_DropNotNull:
            column.nullable = True
        elif column is not None and sub == AlterTableType.AT_AlterColumnType:
            self.change_type(rel, column, cmd.def_)
        elif column is not None and sub == AlterTableType.AT_AddIdentity:
            if isinstance(cmd.def_, ast.Constraint):
                self.make_identity(rel, column, cmd.def_)
        elif column is not None and sub == AlterTableType.AT_DropIdentity:
            column.identity = None
        elif sub == AlterTableType.AT_DropConstraint and cmd.name:
            self.drop_constraint(rel, cmd.name)
        elif sub == AlterTableType.AT_ValidateConstraint and cmd.name:
            for check in table.check_constraints:
                check.validated = check.validated or check.name == cmd.name
            for fk in table.foreign_keys:
                fk.validated = fk.validated or fk.name == cmd.name
        elif sub in (AlterTableType.AT_EnableRowSecurity, AlterTableType.AT_DisableRowSecurity):
            table.rls_enabled = sub == AlterTableType.AT_EnableRowSecurity
        elif sub in (AlterTableType.AT_ForceRowSecurity, AlterTableType.AT_NoForceRowSecurity):
            table.rls_forced = sub == AlterTableType.AT_ForceRowSecurity
        elif sub == AlterTableType.AT_ChangeOwner:
            table.owner = _role_name(cmd.newowner)
        elif sub == AlterTableType.AT_AttachPartition and isinstance(cmd.def_, ast.PartitionCmd):
            child = self.rel_of(cmd.def_.name)
            child.table.partition_of = table.qualified_name
            if child.key not in rel.children:
                rel.children.append(child.key)
            self.clone_into_partition(rel, child)
        elif sub == AlterTableType.AT_DetachPartition and isinstance(cmd.def_, ast.PartitionCmd):
            child = self.rel_of(cmd.def_.name)
            child.table.partition_of = None
            if child.key in rel.children:
                rel.children.remove(child.key)
        elif sub in (AlterTableType.AT_SetLogged, AlterTableType.AT_SetUnLogged):
            table.persistence = "permanent" if sub == AlterTableType.AT_SetLogged else "unlogged"
        elif sub in _TRIGGER_SWITCHES:
            self.switch_triggers(rel, sub, cmd.name)

    def add_constraint(self, rel: _Rel, c: ast.Constraint, column: str | None, *, recurse: bool) -> None:
        ctype = c.contype
        if ctype == ConstrType.CONSTR_CHECK:
            self.add_check(rel, c, column, created=False)
        elif ctype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_EXCLUSION):
            self.add_index_constraint(rel, c, column, recurse=recurse)
        elif ctype == ConstrType.CONSTR_FOREIGN:
            self.add_foreign_key(rel, c, column, created=False)
        elif ctype == ConstrType.CONSTR_NOTNULL and column is not None:
            self.set_not_null(rel, [column])

    def change_type(self, rel: _Rel, column: Column, coldef: Any) -> None:
        if not isinstance(coldef, ast.ColumnDef) or coldef.typeName is None:
            return
        shown = show_type(coldef.typeName, self.find_user_type)
        for target in [rel, *self.children_of(rel)]:
            col = target.table.column(column.name)
            if col is not None:
                col.data_type, col.base_type, col.length = shown.data_type, shown.base_type, shown.length

    def drop_column(self, rel: _Rel, name: str) -> None:
        table = rel.table
        column = table.column(name)
        if column is None:
            return
        table.columns.remove(column)
        lowered = name.lower()

        def uses(columns: Iterable[str | None]) -> bool:
            return any(c is not None and c.lower() == lowered for c in columns)

        for index in list(table.indexes):
            if uses(index.column_names) or uses(index.include):
                self.drop_index(rel, index)
        table.foreign_keys = [fk for fk in table.foreign_keys if not uses(fk.columns)]
        table.check_constraints = [
            c for c in table.check_constraints if not re.search(rf"\b{re.escape(name)}\b", c.expression)
        ]
        for other in self.rels.values():
            other.table.foreign_keys = [
                fk
                for fk in other.table.foreign_keys
                if not ((fk.ref_schema, fk.ref_table) == rel.key and uses(fk.ref_columns))
            ]
        for child in self.children_of(rel):
            self.drop_column(child, name)

    def drop_index(self, rel: _Rel, index: Index) -> None:
        table = rel.table
        if index in table.indexes:
            table.indexes.remove(index)
        schema = table.schema_name
        self.relnames.get(schema, set()).discard(index.name)
        self.index_owner.pop((schema, index.name), None)
        rel.specs.pop(index.name, None)
        if index.constraint:
            self.connames.get(schema, set()).discard(index.constraint)
        if index.primary:
            table.primary_key = None
        table.unique_constraints = [u for u in table.unique_constraints if u.name != index.name]

    def drop_constraint(self, rel: _Rel, name: str) -> None:
        table = rel.table
        for index in list(table.indexes):
            if index.constraint == name:
                self.drop_index(rel, index)
        table.check_constraints = [c for c in table.check_constraints if c.name != name]
        table.foreign_keys = [f for f in table.foreign_keys if f.name != name]
        self.connames.get(table.schema_name, set()).discard(name)
        for child in self.children_of(rel):
            self.drop_constraint(child, name)

    def switch_triggers(self, rel: _Rel, sub: AlterTableType, name: str | None) -> None:
        enable = sub not in (
            AlterTableType.AT_DisableTrig,
            AlterTableType.AT_DisableTrigAll,
            AlterTableType.AT_DisableTrigUser,
        )
        for trigger in rel.table.triggers:
            if name is None or trigger.name == name:
                trigger.enabled = enable

    # ------------------------------------------------------------------ indexes

    def on_IndexStmt(self, node: ast.IndexStmt) -> None:
        rv = node.relation
        assert rv is not None
        rel = self.find_rel(rv.schemaname, rv.relname)
        if rel is None:
            if self.find_view_or_sequence(rv) is not None:
                self.notes.remark(
                    f"index {node.idxname or '(unnamed)'} on materialized view {_range_var_name(rv)} "
                    "is not kept (views carry no indexes in the catalog)"
                )
                return
            raise _Skip(f"{_range_var_name(rv)} is not a table defined earlier in the DDL; index skipped")
        if node.idxname and node.if_not_exists and (rel.table.schema_name, node.idxname) in self.index_owner:
            return
        keys, key_names = self.index_keys(node.indexParams or ())
        include, include_names = self.index_keys(node.indexIncludingParams or ())
        spec = _IndexSpec(
            keys=keys,
            include=[k.column or k.expression or "" for k in include],
            unique=bool(node.unique),
            method=(node.accessMethod or "btree").lower(),
            predicate=sql_text(node.whereClause) if node.whereClause is not None else None,
            key_names=key_names + include_names,
            kind="index",
        )
        self.create_index(rel, spec, node.idxname, constraint_kind="index", recurse=bool(rv.inh))

    # ------------------------------------------------------------------ views, sequences, types

    def on_ViewStmt(self, node: ast.ViewStmt) -> None:
        rv = node.view
        assert rv is not None
        schema = self.creation_schema(rv.schemaname)
        name = truncate_identifier(rv.relname or "")
        view = View(
            schema_name=schema,
            name=name,
            definition=sql_text(node.query),
            columns=_strings(node.aliases) or self.output_columns(node.query),
            security_invoker=False,
        )
        self.view_options(view, node.options)
        previous = self.views.get((schema, name))
        if previous is not None:
            view.owner, view.comment = previous.owner, previous.comment
        self.views[(schema, name)] = view
        self.add_relname(schema, name)
        self.remember_schema(schema)

    def output_columns(self, query: Any) -> list[str]:
        """A view's column names as PostgreSQL names them; `*` expands to the source's columns.

        Empty when a name cannot be known offline (a `*` over something the DDL does not define).
        """
        while isinstance(query, ast.SelectStmt) and query.larg is not None:
            query = query.larg
        if not isinstance(query, ast.SelectStmt):
            return []
        sources = self.from_sources(query.fromClause or ())
        names: list[str] = []
        for target in query.targetList or ():
            if not isinstance(target, ast.ResTarget):
                return []
            if target.name:
                names.append(target.name)
                continue
            value = target.val
            if isinstance(value, ast.ColumnRef) and value.fields and isinstance(value.fields[-1], ast.A_Star):
                qualifier = _strings(value.fields[:-1])
                chosen = [cols for alias, cols in sources if not qualifier or alias == qualifier[-1]]
                if sources is None or not chosen or any(cols is None for cols in chosen):
                    return []
                names.extend(c for cols in chosen for c in cols or [])
                continue
            name, _strength = figure_colname(value)
            names.append(name or "?column?")
        return names

    def from_sources(self, items: Iterable[Any]) -> list[tuple[str, list[str] | None]]:
        """(alias, column names) of each relation in a FROM list, in order; None when not known."""
        out: list[tuple[str, list[str] | None]] = []
        for item in items:
            if isinstance(item, ast.JoinExpr):
                out += self.from_sources([item.larg, item.rarg])
            elif isinstance(item, ast.RangeVar):
                alias = item.alias.aliasname if item.alias is not None else item.relname
                rel = self.find_rel(item.schemaname, item.relname)
                view = None if rel is not None else self.find_view_or_sequence(item)
                if rel is not None:
                    columns: list[str] | None = [c.name for c in rel.table.columns]
                elif isinstance(view, View) and view.columns:
                    columns = list(view.columns)
                else:
                    columns = None
                out.append((alias or "", columns))
            else:
                alias_node = getattr(item, "alias", None)
                out.append((getattr(alias_node, "aliasname", "") or "", None))
        return out

    def on_CreateTableAsStmt(self, node: ast.CreateTableAsStmt) -> None:
        into = node.into
        if into is None or into.rel is None:
            return
        if node.objtype != ObjectType.OBJECT_MATVIEW:
            self.notes.remark(
                f"{_range_var_name(into.rel)} is made by CREATE TABLE AS: "
                "its column types are not known offline"
            )
            return
        schema = self.creation_schema(into.rel.schemaname)
        name = truncate_identifier(into.rel.relname or "")
        self.views[(schema, name)] = View(
            schema_name=schema,
            name=name,
            materialized=True,
            definition=sql_text(node.query),
            columns=_strings(into.colNames) or self.output_columns(node.query),
        )
        self.add_relname(schema, name)
        self.remember_schema(schema)

    def on_CreateSeqStmt(self, node: ast.CreateSeqStmt) -> None:
        rv = node.sequence
        assert rv is not None
        schema = self.creation_schema(rv.schemaname)
        name = truncate_identifier(rv.relname or "")
        if (schema, name) in self.sequences and node.if_not_exists:
            return
        sequence = CatalogSequence(schema_name=schema, name=name)
        self.sequence_options(sequence, node.options or ())
        self.sequences[(schema, name)] = sequence
        self.add_relname(schema, name)
        self.remember_schema(schema)

    def on_AlterSeqStmt(self, node: ast.AlterSeqStmt) -> None:
        rv = node.sequence
        assert rv is not None
        found = self.find_view_or_sequence(rv)
        if isinstance(found, CatalogSequence):
            self.sequence_options(found, node.options or ())

    def sequence_options(self, sequence: CatalogSequence, options: Iterable[Any]) -> None:
        max_given = False
        for option in options:
            if not isinstance(option, ast.DefElem):
                continue
            arg = option.arg
            if option.defname == "as" and isinstance(arg, ast.TypeName):
                sequence.data_type = show_type(arg, self.find_user_type).data_type
            elif option.defname == "increment" and isinstance(arg, ast.Integer | ast.Float):
                raw = arg.ival if isinstance(arg, ast.Integer) else arg.fval
                sequence.increment = int(float(raw or 0))
            elif option.defname == "maxvalue":
                max_given = arg is not None
                if isinstance(arg, ast.Integer):
                    sequence.max_value = arg.ival
                elif isinstance(arg, ast.Float) and arg.fval is not None:
                    sequence.max_value = int(arg.fval)
            elif option.defname == "owned_by":
                parts = _strings(arg if isinstance(arg, tuple) else ())
                if parts and parts != ["none"] and len(parts) >= 2:
                    table_name, column_name = parts[-2], parts[-1]
                    table_schema = parts[-3] if len(parts) >= 3 else None
                    rel = self.find_rel(table_schema, table_name)
                    owner_schema = rel.table.schema_name if rel else self.creation_schema(table_schema)
                    sequence.owned_by = f"{owner_schema}.{table_name}.{column_name}"
                else:
                    sequence.owned_by = None
        if not max_given:
            limit = _SEQUENCE_MAX.get(sequence.data_type, _SEQUENCE_MAX["bigint"])
            sequence.max_value = limit if sequence.increment > 0 else -1

    def on_CreateEnumStmt(self, node: ast.CreateEnumStmt) -> None:
        self.add_type(_strings(node.typeName), "enum", "enum")

    def on_CreateDomainStmt(self, node: ast.CreateDomainStmt) -> None:
        assert node.typeName is not None
        base = show_type(node.typeName, self.find_user_type)
        self.add_type(_strings(node.domainname), "domain", base.base_type, base.length)

    def on_CompositeTypeStmt(self, node: ast.CompositeTypeStmt) -> None:
        rv = node.typevar
        if rv is not None:
            self.add_type([*([rv.schemaname] if rv.schemaname else []), rv.relname or ""], "composite", None)

    def on_CreateRangeStmt(self, node: ast.CreateRangeStmt) -> None:
        self.add_type(_strings(node.typeName), "range", None)

    def add_type(
        self, parts: list[str], kind: TypeKind, family: str | None, length: int | None = None
    ) -> None:
        if not parts:
            return
        schema = self.creation_schema(parts[-2] if len(parts) >= 2 else None)
        name = parts[-1]
        self.types[(schema, name)] = UserType(schema, name, kind, family or name, length)
        self.remember_schema(schema)

    # ------------------------------------------------------------------ functions

    def on_CreateFunctionStmt(self, node: ast.CreateFunctionStmt) -> None:
        parts = _strings(node.funcname)
        schema = self.creation_schema(parts[-2] if len(parts) >= 2 else None)
        params = [p for p in node.parameters or () if isinstance(p, ast.FunctionParameter)]
        kind = "procedure" if node.is_procedure else "function"
        function = Function(
            schema_name=schema,
            name=parts[-1],
            kind=kind,
            arguments=self.identity_arguments(params, procedure=bool(node.is_procedure)),
            returns=self.result_type(node.returnType, params) if not node.is_procedure else None,
        )
        function.volatility = "volatile"
        for option in node.options or ():
            if not isinstance(option, ast.DefElem):
                continue
            arg = option.arg
            if option.defname == "language" and isinstance(arg, ast.String):
                function.language = (arg.sval or "").lower()
            elif option.defname == "volatility" and isinstance(arg, ast.String):
                function.volatility = _VOLATILITIES.get((arg.sval or "").lower(), "volatile")
            elif option.defname == "security":
                function.security_definer = _bool_option(arg)
            elif option.defname == "leakproof":
                function.leakproof = _bool_option(arg)
            elif option.defname == "set" and isinstance(arg, ast.VariableSetStmt):
                function.config.append(_config_entry(arg))
        if node.sql_body is not None and function.language is None:
            function.language = "sql"
        self.add_function(function, self.argument_types(params))

    def add_function(self, function: Function, types: str) -> None:
        """Register a routine (replacing one of the same signature); PUBLIC may EXECUTE it by default."""
        same = [
            f
            for f in self.functions
            if f.schema_name == function.schema_name
            and f.name == function.name
            and self.function_types.get(id(f)) == types
        ]
        for old in same:
            self.functions.remove(old)
            function.owner = function.owner or old.owner
            function.comment = function.comment or old.comment
        self.functions.append(function)
        self.function_types[id(function)] = types
        if not same:
            execute = Grant(
                grantee="PUBLIC", object_type="function", object=function.signature, privilege="EXECUTE"
            )
            self.grants.append(execute)
        self.remember_schema(function.schema_name)

    def identity_arguments(self, params: Iterable[ast.FunctionParameter], *, procedure: bool = False) -> str:
        """Arguments as pg_get_function_identity_arguments shows them: `[mode ]name type`, OUT ones too.

        A procedure's arguments all carry their mode (IN too), as PostgreSQL prints them."""
        shown: list[str] = []
        for p in params:
            mode = p.mode
            if mode == FunctionParameterMode.FUNC_PARAM_TABLE:
                continue
            if p.argType is None:
                continue
            prefix = {
                FunctionParameterMode.FUNC_PARAM_INOUT: "INOUT ",
                FunctionParameterMode.FUNC_PARAM_VARIADIC: "VARIADIC ",
                FunctionParameterMode.FUNC_PARAM_OUT: "OUT ",
            }.get(mode, "IN " if procedure else "")  # type: ignore[arg-type]
            name = f"{quote_ident(p.name)} " if p.name else ""
            shown.append(prefix + name + show_type(p.argType, self.find_user_type).data_type)
        return ", ".join(shown)

    def argument_types(self, params: Iterable[ast.FunctionParameter]) -> str:
        """The input argument types only: what identifies a routine in ALTER/COMMENT/GRANT."""
        shown: list[str] = []
        for p in params:
            if p.mode in (FunctionParameterMode.FUNC_PARAM_OUT, FunctionParameterMode.FUNC_PARAM_TABLE):
                continue
            if p.argType is not None:
                shown.append(show_type(p.argType, self.find_user_type).data_type)
        return ", ".join(shown)

    def result_type(
        self, return_type: ast.TypeName | None, params: Sequence[ast.FunctionParameter]
    ) -> str | None:
        table_columns = [p for p in params if p.mode == FunctionParameterMode.FUNC_PARAM_TABLE]
        if table_columns:
            inner = ", ".join(
                f"{quote_ident(p.name or '')} {show_type(p.argType, self.find_user_type).data_type}"
                for p in table_columns
                if p.argType is not None
            )
            return f"TABLE({inner})"
        if return_type is None:
            out_modes = (FunctionParameterMode.FUNC_PARAM_OUT, FunctionParameterMode.FUNC_PARAM_INOUT)
            outs = [p for p in params if p.mode in out_modes]
            if len(outs) == 1 and outs[0].argType is not None:
                return show_type(outs[0].argType, self.find_user_type).data_type
            return "record" if outs else None
        shown = show_type(return_type, self.find_user_type).data_type
        parts = type_name_parts(return_type)
        if parts and parts[-1] in ("trigger", "void", "record", "event_trigger"):
            shown = parts[-1]
        return ("SETOF " if return_type.setof else "") + shown

    def on_DefineStmt(self, node: ast.DefineStmt) -> None:
        if node.kind != ObjectType.OBJECT_AGGREGATE:
            return
        parts = _strings(node.defnames)
        schema = self.creation_schema(parts[-2] if len(parts) >= 2 else None)
        params: list[ast.FunctionParameter] = []
        args = node.args or ()
        if args and isinstance(args[0], tuple):
            params = [p for p in args[0] if isinstance(p, ast.FunctionParameter)]
        types = self.argument_types(params)
        state_type: str | None = None
        has_final = False
        for item in node.definition or ():
            if not isinstance(item, ast.DefElem):
                continue
            if item.defname in ("stype", "stype1") and isinstance(item.arg, ast.TypeName):
                state_type = show_type(item.arg, self.find_user_type).data_type
            elif item.defname in ("finalfunc", "finalfunc1"):
                has_final = True
        aggregate = Function(
            schema_name=schema,
            name=parts[-1],
            kind="aggregate",
            arguments=types,
            # without a final function an aggregate returns its state; aggregates run as internal code
            returns=None if has_final else state_type,
            language="internal",
            volatility="immutable",
        )
        self.add_function(aggregate, types)

    def find_functions(self, target: Any) -> list[Function]:
        if not isinstance(target, ast.ObjectWithArgs):
            return []
        parts = _strings(target.objname)
        if not parts:
            return []
        schema = parts[-2] if len(parts) >= 2 else None
        candidates = [
            f for f in self.functions if f.name == parts[-1] and (schema is None or f.schema_name == schema)
        ]
        if target.args_unspecified:
            return candidates
        wanted = ", ".join(
            show_type(t, self.find_user_type).data_type
            for t in target.objargs or ()
            if isinstance(t, ast.TypeName)
        )
        exact = [f for f in candidates if self.function_types.get(id(f)) == wanted]
        return exact or (candidates if len(candidates) == 1 else [])

    # ------------------------------------------------------------------ security

    def on_CreatePolicyStmt(self, node: ast.CreatePolicyStmt) -> None:
        rel = self.rel_of(node.table)
        rel.table.policies.append(
            Policy(
                name=node.policy_name or "",
                command=(node.cmd_name or "all").upper(),
                permissive=bool(node.permissive),
                roles=sorted(_role_name(r) for r in node.roles or ()) or ["public"],
                using=sql_text(node.qual) if node.qual is not None else None,
                with_check=sql_text(node.with_check) if node.with_check is not None else None,
            )
        )

    def on_AlterPolicyStmt(self, node: ast.AlterPolicyStmt) -> None:
        rel = self.rel_of(node.table)
        for policy in rel.table.policies:
            if policy.name == node.policy_name:
                if node.roles:
                    policy.roles = sorted(_role_name(r) for r in node.roles)
                if node.qual is not None:
                    policy.using = sql_text(node.qual)
                if node.with_check is not None:
                    policy.with_check = sql_text(node.with_check)

    def on_CreateRoleStmt(self, node: ast.CreateRoleStmt) -> None:
        name = node.role or ""
        role = Role(name=name, login=node.stmt_type == RoleStmtType.ROLESTMT_USER, password_kind="none")
        self.role_options(role, node.options or ())
        self.roles[name] = role

    def on_AlterRoleStmt(self, node: ast.AlterRoleStmt) -> None:
        name = _role_name(node.role)
        role = self.roles.get(name)
        if role is None:
            role = self.roles[name] = Role(name=name, login=False)
            self.notes.remark(
                f"role {name} is altered but not created in the DDL: its other attributes are unknown"
            )
        self.role_options(role, node.options or ())

    def role_options(self, role: Role, options: Iterable[Any]) -> None:
        flags = {
            "canlogin": "login",
            "superuser": "superuser",
            "createrole": "createrole",
            "createdb": "createdb",
            "bypassrls": "bypassrls",
            "isreplication": "replication",
        }
        for option in options:
            if not isinstance(option, ast.DefElem):
                continue
            if option.defname in flags:
                setattr(role, flags[option.defname], _bool_option(option.arg))
            elif option.defname == "password":
                role.password_kind = _password_kind(option.arg)
            elif option.defname == "addroleto":
                for spec in option.arg or ():
                    group = _role_name(spec)
                    if group not in role.member_of:
                        role.member_of.append(group)
            elif option.defname == "rolemembers":
                for spec in option.arg or ():
                    member = self.roles.get(_role_name(spec))
                    if member is not None and role.name not in member.member_of:
                        member.member_of.append(role.name)

    def on_GrantRoleStmt(self, node: ast.GrantRoleStmt) -> None:
        granted = [p.priv_name for p in node.granted_roles or () if isinstance(p, ast.AccessPriv)]
        for spec in node.grantee_roles or ():
            name = _role_name(spec)
            role = self.roles.get(name)
            if role is None:
                continue
            for group in (g for g in granted if g):
                if node.is_grant and group not in role.member_of:
                    role.member_of.append(group)
                elif not node.is_grant and group in role.member_of:
                    role.member_of.remove(group)

    def on_GrantStmt(self, node: ast.GrantStmt) -> None:
        object_type = _GRANT_OBJECT_TYPES.get(node.objtype)  # type: ignore[arg-type]
        if object_type is None:
            return
        objects = self.grant_objects(node, object_type)
        if node.privileges:
            # column privileges (GRANT SELECT (col) ...) are not table privileges; the catalog keeps none
            privileges = [
                (p.priv_name or "").upper()
                for p in node.privileges
                if isinstance(p, ast.AccessPriv) and not p.cols
            ]
        else:
            privileges = list(_ALL_PRIVILEGES[object_type])
        privileges = ["TEMPORARY" if p == "TEMP" else p for p in privileges]
        grantees = [_grantee_name(g) for g in node.grantees or ()]
        for obj in objects:
            for grantee in grantees:
                for privilege in privileges:
                    self.grants = [
                        g
                        for g in self.grants
                        if not (g.grantee == grantee and g.object == obj and g.privilege == privilege)
                    ]
                    if node.is_grant:
                        self.grants.append(
                            Grant(
                                grantee=grantee,
                                object_type=object_type,
                                object=obj,
                                privilege=privilege,
                                grantable=bool(node.grant_option),
                            )
                        )

    def grant_objects(self, node: ast.GrantStmt, object_type: str) -> list[str]:
        out: list[str] = []
        if node.targtype == GrantTargetType.ACL_TARGET_ALL_IN_SCHEMA:
            schemas = set(_strings(node.objects))
            if object_type == "table":
                out += [r.table.qualified_name for k, r in self.rels.items() if k[0] in schemas]
                out += [v.qualified_name for k, v in self.views.items() if k[0] in schemas]
            elif object_type == "sequence":
                out += [s.qualified_name for k, s in self.sequences.items() if k[0] in schemas]
            elif object_type == "function":
                out += [f.signature for f in self.functions if f.schema_name in schemas]
            return out
        if node.targtype != GrantTargetType.ACL_TARGET_OBJECT:
            return out
        for obj in node.objects or ():
            if isinstance(obj, ast.RangeVar):
                rel = self.find_rel(obj.schemaname, obj.relname)
                if rel is not None:
                    out.append(rel.table.qualified_name)
                else:
                    other = self.find_view_or_sequence(obj)
                    if isinstance(other, View | CatalogSequence):
                        out.append(other.qualified_name)
                    else:
                        out.append(f"{self.creation_schema(obj.schemaname)}.{obj.relname}")
            elif isinstance(obj, ast.String) and obj.sval is not None:
                out.append(obj.sval)
            elif isinstance(obj, ast.ObjectWithArgs):
                out += [f.signature for f in self.find_functions(obj)]
        return out

    # ------------------------------------------------------------------ everything else

    def on_CreateSchemaStmt(self, node: ast.CreateSchemaStmt) -> None:
        name = node.schemaname or (_role_name(node.authrole) if node.authrole is not None else "")
        self.remember_schema(name)
        if node.schemaElts:
            previous = self.schema_override
            self.schema_override = name
            try:
                for element in node.schemaElts:
                    assert self.statement is not None
                    self.apply(element, self.statement)
            finally:
                self.schema_override = previous

    def on_CreateExtensionStmt(self, node: ast.CreateExtensionStmt) -> None:
        name = node.extname or ""
        extension = Extension(name=name, schema_name=self.creation_schema())
        for option in node.options or ():
            if isinstance(option, ast.DefElem) and isinstance(option.arg, ast.String):
                if option.defname == "schema":
                    extension.schema_name = option.arg.sval
                elif option.defname == "new_version":
                    extension.version = option.arg.sval
        if name not in self.extensions or not node.if_not_exists:
            self.extensions[name] = extension

    def on_CreateTrigStmt(self, node: ast.CreateTrigStmt) -> None:
        rv = node.relation
        assert rv is not None
        rel = self.find_rel(rv.schemaname, rv.relname)
        if rel is None:
            if self.find_view_or_sequence(rv) is None:
                raise _Skip(f"trigger {node.trigname} is on {_range_var_name(rv)}, not defined in the DDL")
            return
        timing_bits = int(node.timing or 0)
        timing = "AFTER"
        if timing_bits & _TRIGGER_BEFORE:
            timing = "BEFORE"
        elif timing_bits & _TRIGGER_INSTEAD:
            timing = "INSTEAD OF"
        events = [label for bit, label in _TRIGGER_EVENTS if int(node.events or 0) & bit]
        function = self.qualified_function(node.funcname)
        trigger = Trigger(name=node.trigname or "", timing=timing, events=events, function=function)
        rel.table.triggers = [t for t in rel.table.triggers if t.name != trigger.name]
        rel.table.triggers.append(trigger)
        if node.row:
            for child in self.children_of(rel):
                if all(t.name != trigger.name for t in child.table.triggers):
                    child.table.triggers.append(trigger.model_copy())

    def qualified_function(self, funcname: Any) -> str:
        """`schema.name` of a called function, as the live catalog names it."""
        parts = _strings(funcname)
        if len(parts) >= 2:
            return f"{parts[-2]}.{parts[-1]}"
        name = parts[-1] if parts else "?"
        for schema in [*self.search_path, self.creation_schema()]:
            if any(f.schema_name == schema and f.name == name for f in self.functions):
                return f"{schema}.{name}"
        # not made by the script: a built-in (tsvector_update_trigger...) lives in pg_catalog
        return f"pg_catalog.{name}"

    def on_CommentStmt(self, node: ast.CommentStmt) -> None:
        objtype = node.objtype
        comment = node.comment
        if objtype in _RELATION_OBJECTS:
            parts = _strings(node.object)
            schema, name = (parts[-2] if len(parts) >= 2 else None), parts[-1] if parts else None
            rel = self.find_rel(schema, name)
            if rel is not None:
                rel.table.comment = comment
                return
            view = self.find_view_or_sequence(ast.RangeVar(schemaname=schema, relname=name))
            if isinstance(view, View):
                view.comment = comment
        elif objtype == ObjectType.OBJECT_COLUMN:
            parts = _strings(node.object)
            if len(parts) >= 2:
                rel = self.find_rel(parts[-3] if len(parts) >= 3 else None, parts[-2])
                column = rel.table.column(parts[-1]) if rel is not None else None
                if column is not None:
                    column.comment = comment
        elif objtype in (ObjectType.OBJECT_FUNCTION, ObjectType.OBJECT_PROCEDURE):
            for function in self.find_functions(node.object):
                function.comment = comment

    def on_AlterOwnerStmt(self, node: ast.AlterOwnerStmt) -> None:
        if node.objectType in _ROUTINE_OBJECTS:
            for function in self.find_functions(node.object):
                function.owner = _role_name(node.newowner)

    def on_RenameStmt(self, node: ast.RenameStmt) -> None:
        kind = node.renameType
        new = truncate_identifier(node.newname or "")
        if kind in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_FOREIGN_TABLE) and node.relation is not None:
            rel = self.find_rel(node.relation.schemaname, node.relation.relname)
            if rel is None:
                return
            self.rename_table(rel, new)
        elif kind == ObjectType.OBJECT_COLUMN and node.relation is not None:
            rel = self.find_rel(node.relation.schemaname, node.relation.relname)
            if rel is not None and node.subname:
                self.rename_column(rel, node.subname, new)
        elif kind == ObjectType.OBJECT_INDEX and node.relation is not None:
            schema = node.relation.schemaname
            for (s, idx), owner in list(self.index_owner.items()):
                if idx == node.relation.relname and (schema is None or s == schema):
                    rel = self.rels[owner]
                    index = next(i for i in rel.table.indexes if i.name == idx)
                    self.rename_index(rel, index, new)
        elif kind == ObjectType.OBJECT_TABCONSTRAINT and node.relation is not None and node.subname:
            rel = self.find_rel(node.relation.schemaname, node.relation.relname)
            if rel is not None:
                self.rename_constraint(rel, node.subname, new)
        elif kind in (ObjectType.OBJECT_VIEW, ObjectType.OBJECT_MATVIEW) and node.relation is not None:
            view = self.find_view_or_sequence(node.relation)
            if isinstance(view, View):
                self.views.pop((view.schema_name, view.name), None)
                view.name = new
                self.views[(view.schema_name, new)] = view

    def rename_table(self, rel: _Rel, new: str) -> None:
        old_key = rel.key
        old_name = rel.table.name
        self.rels.pop(old_key)
        rel.table.name = new
        self.rels[rel.key] = rel
        self.relnames.get(rel.table.schema_name, set()).discard(old_name)
        self.add_relname(rel.table.schema_name, new)
        for other in self.rels.values():
            other.children = [rel.key if k == old_key else k for k in other.children]
            for fk in other.table.foreign_keys:
                if (fk.ref_schema, fk.ref_table) == old_key:
                    fk.ref_table = new
            if other.table.partition_of == f"{old_key[0]}.{old_key[1]}":
                other.table.partition_of = rel.table.qualified_name
        for key, owner in list(self.index_owner.items()):
            if owner == old_key:
                self.index_owner[key] = rel.key
        old_prefix = f"{old_key[0]}.{old_key[1]}."
        for sequence in self.sequences.values():
            if sequence.owned_by and sequence.owned_by.startswith(old_prefix):
                sequence.owned_by = rel.table.qualified_name + "." + sequence.owned_by[len(old_prefix) :]

    def rename_column(self, rel: _Rel, old: str, new: str) -> None:
        table = rel.table
        column = table.column(old)
        if column is None:
            return
        column.name = new
        for sequence in self.sequences.values():
            if sequence.owned_by == f"{table.qualified_name}.{old}":
                sequence.owned_by = f"{table.qualified_name}.{new}"

        def swap(names: list[str]) -> list[str]:
            return [new if n == old else n for n in names]

        for index in table.indexes:
            for key in index.keys:
                if key.column == old:
                    key.column = new
            index.include = swap(index.include)
        for spec in rel.specs.values():
            for key in spec.keys:
                if key.column == old:
                    key.column = new
        if table.primary_key is not None:
            table.primary_key.columns = swap(table.primary_key.columns)
        for unique in table.unique_constraints:
            unique.columns = swap(unique.columns)
        for fk in table.foreign_keys:
            fk.columns = swap(fk.columns)
        for other in self.rels.values():
            for fk in other.table.foreign_keys:
                if (fk.ref_schema, fk.ref_table) == rel.key:
                    fk.ref_columns = swap(fk.ref_columns)

    def rename_constraint(self, rel: _Rel, old: str, new: str) -> None:
        table = rel.table
        for index in list(table.indexes):
            if index.constraint == old:
                self.rename_index(rel, index, new)
                index.constraint = new
        if table.primary_key is not None and table.primary_key.name == old:
            table.primary_key.name = new
        for unique in table.unique_constraints:
            unique.name = new if unique.name == old else unique.name
        for check in table.check_constraints:
            check.name = new if check.name == old else check.name
        for fk in table.foreign_keys:
            fk.name = new if fk.name == old else fk.name
        self.connames.get(table.schema_name, set()).discard(old)
        self.add_conname(table.schema_name, new)

    def on_DropStmt(self, node: ast.DropStmt) -> None:
        kind = node.removeType
        for obj in node.objects or ():
            parts = _strings(obj) if isinstance(obj, tuple) else _strings([obj])
            if not parts:
                continue
            schema = parts[-2] if len(parts) >= 2 else None
            name = parts[-1]
            if kind in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_FOREIGN_TABLE):
                rel = self.find_rel(schema, name)
                if rel is not None:
                    self.drop_table(rel)
            elif kind in (ObjectType.OBJECT_VIEW, ObjectType.OBJECT_MATVIEW):
                found = self.find_view_or_sequence(ast.RangeVar(schemaname=schema, relname=name))
                if isinstance(found, View):
                    self.views.pop((found.schema_name, found.name), None)
                    self.relnames.get(found.schema_name, set()).discard(found.name)
            elif kind == ObjectType.OBJECT_SEQUENCE:
                found = self.find_view_or_sequence(ast.RangeVar(schemaname=schema, relname=name))
                if isinstance(found, CatalogSequence):
                    self.sequences.pop((found.schema_name, found.name), None)
                    self.relnames.get(found.schema_name, set()).discard(found.name)
            elif kind == ObjectType.OBJECT_INDEX:
                for (s, idx), owner in list(self.index_owner.items()):
                    if idx == name and (schema is None or s == schema) and owner in self.rels:
                        rel = self.rels[owner]
                        index = next((i for i in rel.table.indexes if i.name == idx), None)
                        if index is not None:
                            self.drop_index(rel, index)
            elif kind == ObjectType.OBJECT_EXTENSION:
                self.extensions.pop(name, None)
            elif kind == ObjectType.OBJECT_POLICY and len(parts) >= 2:
                rel = self.find_rel(parts[-3] if len(parts) >= 3 else None, parts[-2])
                if rel is not None:
                    rel.table.policies = [p for p in rel.table.policies if p.name != name]
            elif kind == ObjectType.OBJECT_TRIGGER and len(parts) >= 2:
                rel = self.find_rel(parts[-3] if len(parts) >= 3 else None, parts[-2])
                if rel is not None:
                    rel.table.triggers = [t for t in rel.table.triggers if t.name != name]
            elif kind in (ObjectType.OBJECT_TYPE, ObjectType.OBJECT_DOMAIN):
                key = (schema or self.creation_schema(), name)
                self.types.pop(key, None)

    def drop_table(self, rel: _Rel) -> None:
        key = rel.key
        for child in self.children_of(rel):
            if child.table.partition_of:
                self.drop_table(child)
        for index in list(rel.table.indexes):
            self.drop_index(rel, index)
        self.rels.pop(key, None)
        self.relnames.get(key[0], set()).discard(key[1])
        for other in self.rels.values():
            other.table.foreign_keys = [
                fk for fk in other.table.foreign_keys if (fk.ref_schema, fk.ref_table) != key
            ]
            if key in other.children:
                other.children.remove(key)
        for seq_key, sequence in list(self.sequences.items()):
            if sequence.owned_by and sequence.owned_by.startswith(f"{key[0]}.{key[1]}."):
                self.sequences.pop(seq_key)

    def on_AlterObjectSchemaStmt(self, node: ast.AlterObjectSchemaStmt) -> None:
        """ALTER TABLE/VIEW/SEQUENCE ... SET SCHEMA: the relation moves, its indexes with it."""
        rv = node.relation
        new_schema = node.newschema or DEFAULT_SCHEMA
        if rv is None:
            self.notes.ignore("ALTER SET SCHEMA")
            return
        rel = self.find_rel(rv.schemaname, rv.relname)
        if rel is not None:
            old_key = rel.key
            for index in rel.table.indexes:
                self.relnames.get(old_key[0], set()).discard(index.name)
                self.index_owner.pop((old_key[0], index.name), None)
                self.index_owner[(new_schema, index.name)] = (new_schema, old_key[1])
                self.add_relname(new_schema, index.name)
            self.rels.pop(old_key)
            self.relnames.get(old_key[0], set()).discard(old_key[1])
            rel.table.schema_name = new_schema
            self.rels[rel.key] = rel
            self.add_relname(new_schema, rel.table.name)
            self.remember_schema(new_schema)
            for other in self.rels.values():
                other.children = [rel.key if k == old_key else k for k in other.children]
                for fk in other.table.foreign_keys:
                    if (fk.ref_schema, fk.ref_table) == old_key:
                        fk.ref_schema = new_schema
            self.move_owned_sequences(old_key, rel)
            return
        found = self.find_view_or_sequence(rv)
        if isinstance(found, View):
            self.views.pop((found.schema_name, found.name))
            found.schema_name = new_schema
            self.views[(new_schema, found.name)] = found
        elif isinstance(found, CatalogSequence):
            self.sequences.pop((found.schema_name, found.name))
            found.schema_name = new_schema
            self.sequences[(new_schema, found.name)] = found

    def move_owned_sequences(self, old_key: tuple[str, str], rel: _Rel) -> None:
        """Sequences a table owns (serial, identity) follow it to its new schema."""
        old_prefix = f"{old_key[0]}.{old_key[1]}."
        for key, sequence in list(self.sequences.items()):
            if not (sequence.owned_by or "").startswith(old_prefix):
                continue
            column_name = (sequence.owned_by or "")[len(old_prefix) :]
            old_text = f"nextval('{_regclass_text(sequence)}'::regclass)"
            self.sequences.pop(key)
            self.relnames.get(sequence.schema_name, set()).discard(sequence.name)
            sequence.schema_name = rel.table.schema_name
            sequence.owned_by = f"{rel.table.qualified_name}.{column_name}"
            self.sequences[(sequence.schema_name, sequence.name)] = sequence
            self.add_relname(sequence.schema_name, sequence.name)
            column = rel.table.column(column_name)
            if column is not None and column.default == old_text:
                column.default = f"nextval('{_regclass_text(sequence)}'::regclass)"

    def on_DoStmt(self, node: ast.DoStmt) -> None:
        self.notes.remark("DO blocks are not run offline; objects they would create are missing")

    def on_RuleStmt(self, node: ast.RuleStmt) -> None:
        self.notes.ignore("CREATE RULE")

    # ------------------------------------------------------------------ result

    def finish(self) -> Catalog:
        sequences_by_name = {f"{s.schema_name}.{s.name}": s for s in self.sequences.values()}
        for rel in self.rels.values():
            table = rel.table
            for column in table.columns:
                match = _NEXTVAL.search(column.default or "")
                if match is None:
                    continue
                target = match.group(1).replace('"', "")
                qualified = target if "." in target else f"{table.schema_name}.{target}"
                sequence = sequences_by_name.get(qualified)
                if sequence is not None and sequence.owned_by == f"{table.qualified_name}.{column.name}":
                    column.serial = True
            for fk in table.foreign_keys:
                if not fk.ref_columns:
                    target_rel = self.rels.get((fk.ref_schema, fk.ref_table))
                    if target_rel is not None and target_rel.table.primary_key is not None:
                        fk.ref_columns = list(target_rel.table.primary_key.columns)
        owners = {r.table.qualified_name: r.table.owner for r in self.rels.values()}
        owners.update({f.signature: f.owner for f in self.functions})
        grants = [g for g in self.grants if owners.get(g.object) is None or owners.get(g.object) != g.grantee]
        extensions = dict(self.extensions)
        extensions.setdefault("plpgsql", Extension(name="plpgsql", schema_name="pg_catalog"))
        # the live source's order, so that paged reports cut the same pages
        tables = sorted((rel.table for rel in self.rels.values()), key=lambda t: (t.schema_name, t.name))
        for t in tables:
            t.check_constraints.sort(key=lambda c: c.name or "")
            t.unique_constraints.sort(key=lambda u: u.name or "")
            t.foreign_keys.sort(key=lambda f: f.name or "")
            t.indexes.sort(key=lambda i: i.name)
            t.triggers.sort(key=lambda tr: tr.name)
            t.policies.sort(key=lambda p: p.name)
        return Catalog(
            dialect=Dialect.POSTGRES,
            source="ddl",
            schemas=sorted(self.schemas),
            tables=tables,
            views=sorted(self.views.values(), key=lambda v: (v.schema_name, v.name)),
            functions=sorted(self.functions, key=lambda f: (f.schema_name, f.name, f.arguments)),
            sequences=sorted(self.sequences.values(), key=lambda s: (s.schema_name, s.name)),
            roles=sorted(self.roles.values(), key=lambda r: r.name),
            grants=sorted(grants, key=lambda g: (g.object_type, g.object, g.grantee, g.privilege)),
            extensions=sorted(extensions.values(), key=lambda e: e.name),
            unknown=self.notes.render(),
        )


class _Skip(Exception):
    """A statement that parses but cannot be applied (it refers to something the DDL never made)."""


_RELATION_OBJECTS = (
    ObjectType.OBJECT_TABLE,
    ObjectType.OBJECT_FOREIGN_TABLE,
    ObjectType.OBJECT_VIEW,
    ObjectType.OBJECT_MATVIEW,
)
_ROUTINE_OBJECTS = (ObjectType.OBJECT_FUNCTION, ObjectType.OBJECT_PROCEDURE, ObjectType.OBJECT_AGGREGATE)

_TRIGGER_SWITCHES = (
    AlterTableType.AT_EnableTrig,
    AlterTableType.AT_DisableTrig,
    AlterTableType.AT_EnableTrigAll,
    AlterTableType.AT_DisableTrigAll,
    AlterTableType.AT_EnableTrigUser,
    AlterTableType.AT_DisableTrigUser,
    AlterTableType.AT_EnableAlwaysTrig,
    AlterTableType.AT_EnableReplicaTrig,
)


def _statement_label(text: str) -> str:
    words = [w.upper() for w in text.split()[:5]]
    while len(words) > 2 and words[1] in ("OR", "REPLACE", "UNIQUE", "TEMP", "TEMPORARY", "GLOBAL", "LOCAL"):
        del words[1]
    return " ".join(words[:2])


def _range_var_name(rv: Any) -> str:
    if not isinstance(rv, ast.RangeVar):
        return "?"
    return f"{rv.schemaname}.{rv.relname}" if rv.schemaname else str(rv.relname)


def _regclass_text(sequence: CatalogSequence) -> str:
    name = quote_ident(sequence.name)
    return name if sequence.schema_name == DEFAULT_SCHEMA else f"{quote_ident(sequence.schema_name)}.{name}"


def _config_entry(node: ast.VariableSetStmt) -> str:
    values: list[str] = []
    for arg in node.args or ():
        value = arg.val if isinstance(arg, ast.A_Const) else None
        if isinstance(value, ast.String):
            values.append(value.sval if value.sval else '""')
        elif isinstance(value, ast.Integer):
            values.append(str(value.ival))
        elif isinstance(arg, ast.ColumnRef):
            values.extend(_strings(arg.fields))
    return f"{node.name}={', '.join(values)}"


def _password_kind(arg: Any) -> Literal["none", "md5", "scram-sha-256", "unknown"]:
    if not isinstance(arg, ast.String) or not arg.sval:
        return "none"
    if arg.sval.startswith("SCRAM-SHA-256$"):
        return "scram-sha-256"
    if arg.sval.startswith("md5") and len(arg.sval) == 35:
        return "md5"
    return "unknown"


def _without_redundant(
    constraints: list[tuple[ast.Constraint, str | None]],
) -> list[tuple[ast.Constraint, str | None]]:
    """CREATE TABLE drops a UNIQUE constraint that repeats the primary key or an earlier one."""
    primary = [item for item in constraints if item[0].contype == ConstrType.CONSTR_PRIMARY][:1]
    rest = [item for item in constraints if item not in primary]
    kept = list(primary)

    def columns(item: tuple[ast.Constraint, str | None]) -> list[str]:
        return _strings(item[0].keys) or ([item[1]] if item[1] else [])

    for item in rest:
        c = item[0]
        if c.contype == ConstrType.CONSTR_UNIQUE and not c.including and c.where_clause is None:
            prior = next(
                (
                    k
                    for k in kept
                    if k[0].contype != ConstrType.CONSTR_EXCLUSION and columns(k) == columns(item)
                ),
                None,
            )
            if prior is not None:
                if prior[0].conname is None and c.conname is not None:
                    prior[0].conname = c.conname
                continue
        kept.append(item)
    return kept


def _index_definition(table: Table, index: Index) -> str:
    """The index as pg_get_indexdef would print it, give or take expression formatting."""
    keys = ", ".join(
        (quote_ident(k.column) if k.column is not None else f"({k.expression})")
        + (" DESC" if k.descending else "")
        for k in index.keys
    )
    text = (
        f"CREATE {'UNIQUE ' if index.unique else ''}INDEX {quote_ident(index.name)} ON "
        f"{'ONLY ' if table.kind == 'partitioned_table' else ''}"
        f"{quote_ident(table.schema_name)}.{quote_ident(table.name)} USING {index.method} ({keys})"
    )
    if index.include:
        text += f" INCLUDE ({', '.join(quote_ident(c) for c in index.include)})"
    if index.predicate:
        text += f" WHERE ({index.predicate})"
    return text


def read_postgres(statements: Sequence[Statement], notes: ScriptNotes) -> Catalog:
    """A Catalog from PostgreSQL DDL statements."""
    return PostgresDdlReader(notes).read(statements)

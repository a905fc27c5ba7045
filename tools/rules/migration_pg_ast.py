"""Reading PostgreSQL parse trees in libpg_query's JSON form (pglast.parser.parse_sql_json).

The migration linter reads the JSON form rather than pglast's node objects: building the objects costs
about six times as much as the parse itself, and a 10,000-statement migration must lint in well under a
second. Nodes are plain dicts: `{"NodeType": {field: value}}`; fields equal to their zero value are absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Node = dict[str, Any]

# Functions whose result changes per row: a column added with one of them as default rewrites the table.
VOLATILE_FUNCTIONS = frozenset({
    "random", "clock_timestamp", "timeofday", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
    "uuid_generate_v4", "uuidv4", "uuidv7", "nextval", "setseed", "txid_current", "pg_current_xact_id",
    "random_normal", "gen_random_bytes",
})
# Built-ins that are stable or immutable: evaluated once when the column is added (PostgreSQL 11+).
STABLE_FUNCTIONS = frozenset({
    "now", "transaction_timestamp", "statement_timestamp", "current_timestamp", "current_date",
    "localtimestamp", "lower", "upper", "length", "coalesce", "to_timestamp", "to_date", "make_date",
    "make_interval", "jsonb_build_object", "json_build_object", "jsonb_build_array", "array", "concat",
    "date_trunc", "timezone", "current_setting", "md5", "trim", "btrim", "abs", "round", "greatest", "least",
})


def unwrap(node: Any) -> tuple[str, Node]:
    """The (node type, fields) of a one-key node dict."""
    if isinstance(node, dict) and len(node) == 1:
        key = next(iter(node))
        value = node[key]
        if isinstance(value, dict):
            return key, value
    return "", {}


def strings(items: list[Any] | None) -> list[str]:
    """The svals of a list of String nodes (qualified names, column lists)."""
    out: list[str] = []
    for item in items or []:
        kind, fields = unwrap(item)
        if kind == "String":
            out.append(str(fields.get("sval", "")))
    return out


def relation_name(rangevar: Node | None, default_schema: str) -> tuple[str, str]:
    """(schema, table) of a RangeVar, lower-cased as PostgreSQL folds unquoted names."""
    if not rangevar:
        return default_schema, ""
    return str(rangevar.get("schemaname") or default_schema), str(rangevar.get("relname", ""))


def const_int(node: Any) -> int | None:
    kind, fields = unwrap(node)
    if kind != "A_Const":
        return None
    ival = fields.get("ival")
    if isinstance(ival, dict):
        return int(ival.get("ival", 0))
    return None


@dataclass(frozen=True)
class TypeRef:
    """A column type as written: its canonical name and declared modifiers."""

    name: str
    mods: tuple[int | None, ...]
    array: bool

    @property
    def label(self) -> str:
        mods = f"({','.join('?' if m is None else str(m) for m in self.mods)})" if self.mods else ""
        return f"{self.name}{mods}{'[]' if self.array else ''}"


_CANONICAL = {
    "int4": "integer", "int": "integer", "integer": "integer", "int2": "smallint", "smallint": "smallint",
    "int8": "bigint", "bigint": "bigint", "serial": "serial", "serial4": "serial", "smallserial": "smallserial",
    "serial2": "smallserial", "bigserial": "bigserial", "serial8": "bigserial", "bpchar": "char",
    "character": "char", "varchar": "varchar", "character varying": "varchar", "text": "text",
    "timestamp": "timestamp", "timestamptz": "timestamptz", "json": "json", "jsonb": "jsonb", "money": "money",
    "numeric": "numeric", "decimal": "numeric", "varbit": "varbit", "bit varying": "varbit", "cidr": "cidr",
    "inet": "inet",
}


def type_ref(type_name: Node | None) -> TypeRef | None:
    """The canonical type of a TypeName node (`pg_catalog.int4` -> integer)."""
    if not type_name:
        return None
    names = strings(type_name.get("names"))
    if not names:
        return None
    raw = names[-1].lower()
    qualified = len(names) > 1 and names[0].lower() == "pg_catalog"
    # a quoted "char" (the one-byte internal type) is not char(n): only pg_catalog.bpchar is
    name = _CANONICAL.get(raw, raw) if (qualified or raw != "char") else "\"char\""
    mods = tuple(const_int(m) for m in type_name.get("typmods") or [])
    return TypeRef(name=name, mods=mods, array=bool(type_name.get("arrayBounds")))


def function_names(node: Any) -> list[str]:
    """Every function called anywhere inside `node` (unqualified, lower-cased)."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "FuncCall" and isinstance(value, dict):
                    names = strings(value.get("funcname"))
                    if names:
                        found.append(names[-1].lower())
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def contains(node: Any, kinds: frozenset[str]) -> bool:
    """True when a node of one of `kinds` appears inside `node`."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in kinds:
                    return True
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def column_refs(node: Any) -> list[str]:
    """The last name part of every column referenced inside `node`, lower-cased."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "ColumnRef" and isinstance(value, dict):
                    names = strings(value.get("fields"))
                    if names:
                        found.append(names[-1].lower())
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _operators(node: Any) -> list[tuple[str, str, Node]]:
    """(kind, operator, fields) of every A_Expr inside `node`."""
    found: list[tuple[str, str, Node]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "A_Expr" and isinstance(value, dict):
                    ops = strings(value.get("name"))
                    found.append((str(value.get("kind", "AEXPR_OP")), ops[-1] if ops else "", value))
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def bounded_by_key(where: Any, keys: set[str]) -> bool:
    """True when a WHERE clause limits the rows touched: a key range, a key lookup or a LIMITed subquery.

    Ranges: BETWEEN, or both a lower (>, >=) and an upper (<, <=) bound. Lookups: `=` or IN on one of
    `keys` (the primary key, or `id`). Subqueries with LIMIT are the usual batch form
    (`WHERE id IN (SELECT id ... LIMIT 1000)`).
    """
    if not where:
        return False
    if contains(where, frozenset({"SubLink"})) and _sublink_limited(where):
        return True
    lower = upper = False
    for kind, op, fields in _operators(where):
        if kind in ("AEXPR_BETWEEN", "AEXPR_BETWEEN_SYM"):
            return True
        if op in (">", ">="):
            lower = True
        elif op in ("<", "<="):
            upper = True
        elif (op == "=" or kind == "AEXPR_IN") and (
            set(column_refs(fields.get("lexpr"))) & keys or set(column_refs(fields.get("rexpr"))) & keys
        ):
            return True
    if "ctid" in column_refs(where):
        return True
    return lower and upper


def _sublink_limited(node: Any) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "SelectStmt" and isinstance(value, dict) and value.get("limitCount") is not None:
                    return True
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def def_names(options: list[Any] | None) -> set[str]:
    """The names of a list of DefElem options (VACUUM (FULL), REINDEX (CONCURRENTLY)...)."""
    out: set[str] = set()
    for item in options or []:
        kind, fields = unwrap(item)
        if kind == "DefElem":
            out.add(str(fields.get("defname", "")).lower())
    return out


def setting_value(args: list[Any] | None) -> str | None:
    """The value a SET statement gives (as text), or None for DEFAULT."""
    for item in args or []:
        kind, fields = unwrap(item)
        if kind == "A_Const":
            if "sval" in fields:
                return str(fields["sval"].get("sval", ""))
            if "ival" in fields:
                return str(fields["ival"].get("ival", 0))
            if "fval" in fields:
                return str(fields["fval"].get("fval", "0"))
            return "0" if not fields.get("isnull") else None
    return None


def is_zero_setting(value: str | None) -> bool:
    """True for a timeout that disables the limit ('0', '0s', '0ms') or no value."""
    if value is None:
        return True
    m = re.match(r"\s*([0-9.]+)", value)
    try:
        return m is None or float(m.group(1)) == 0
    except ValueError:
        return False

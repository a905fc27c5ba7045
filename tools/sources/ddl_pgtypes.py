"""PostgreSQL column types shown the way `format_type()` shows them, plus dbsage's type family.

The live source reads `format_type(atttypid, atttypmod)`, so `varchar(40)` must come out here as
`character varying(40)`, `int` as `integer`, `timestamp` as `timestamp without time zone`. Types
of a user schema are shown qualified unless the schema is on the default search path (public),
like format_type under the default search_path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pglast import ast

from dbsage.tools.sources.ddl_pgnames import quote_ident

VISIBLE_SCHEMAS = ("public", "pg_catalog")


@dataclass(frozen=True)
class UserType:
    """A type made by CREATE TYPE / CREATE DOMAIN in the DDL."""

    schema: str
    name: str
    kind: Literal["enum", "domain", "composite", "range"]
    base_type: str
    length: int | None = None

    @property
    def display(self) -> str:
        shown = quote_ident(self.name)
        return shown if self.schema in VISIBLE_SCHEMAS else f"{quote_ident(self.schema)}.{shown}"


@dataclass(frozen=True)
class ShownType:
    """A column type as PostgreSQL shows it."""

    data_type: str
    base_type: str
    length: int | None = None
    serial: bool = False


# typname -> (format_type name, family)
_BUILTIN: dict[str, tuple[str, str]] = {
    "int2": ("smallint", "smallint"),
    "int4": ("integer", "integer"),
    "int8": ("bigint", "bigint"),
    "float4": ("real", "real"),
    "float8": ("double precision", "double"),
    "numeric": ("numeric", "numeric"),
    "bool": ("boolean", "boolean"),
    "text": ("text", "text"),
    "varchar": ("character varying", "varchar"),
    "bpchar": ("character", "char"),
    "char": ('"char"', "char"),
    "name": ("name", "name"),
    "date": ("date", "date"),
    "time": ("time without time zone", "time"),
    "timetz": ("time with time zone", "timetz"),
    "timestamp": ("timestamp without time zone", "timestamp"),
    "timestamptz": ("timestamp with time zone", "timestamptz"),
    "interval": ("interval", "interval"),
    "json": ("json", "json"),
    "jsonb": ("jsonb", "jsonb"),
    "uuid": ("uuid", "uuid"),
    "bytea": ("bytea", "binary"),
    "money": ("money", "money"),
    "bit": ("bit", "bit"),
    "varbit": ("bit varying", "varbit"),
}

# spellings that reach the parser unqualified but mean a built-in type
_ALIASES = {
    "int": "int4",
    "integer": "int4",
    "smallint": "int2",
    "bigint": "int8",
    "real": "float4",
    "float": "float8",
    "boolean": "bool",
    "decimal": "numeric",
    "character varying": "varchar",
}

_SERIALS = {
    "serial": "int4",
    "serial4": "int4",
    "bigserial": "int8",
    "serial8": "int8",
    "smallserial": "int2",
    "serial2": "int2",
}

_INTERVAL_FIELDS = {
    4: "year",
    2: "month",
    8: "day",
    1024: "hour",
    2048: "minute",
    4096: "second",
    6: "year to month",
    1032: "day to hour",
    3080: "day to minute",
    7176: "day to second",
    3072: "hour to minute",
    7168: "hour to second",
    6144: "minute to second",
}
_INTERVAL_FULL_RANGE = 0x7FFF


def type_name_parts(type_name: ast.TypeName) -> list[str]:
    return [n.sval for n in (type_name.names or ()) if isinstance(n, ast.String) and n.sval is not None]


def typmod_values(type_name: ast.TypeName) -> list[int | str]:
    """The type modifiers, e.g. [10, 2] for numeric(10,2)."""
    out: list[int | str] = []
    for mod in type_name.typmods or ():
        value: Any = mod.val if isinstance(mod, ast.A_Const) else None
        if isinstance(value, ast.Integer) and value.ival is not None:
            out.append(value.ival)
        elif isinstance(value, ast.String) and value.sval is not None:
            out.append(value.sval)
        elif isinstance(value, ast.Float) and value.fval is not None:
            out.append(value.fval)
        elif isinstance(mod, ast.ColumnRef) and mod.fields and isinstance(mod.fields[-1], ast.String):
            out.append(str(mod.fields[-1].sval))
    return out


def _with_precision(base: str, precision: int | str, zone: str) -> str:
    return f"{base}({precision}) {zone}"


def _format_builtin(typname: str, mods: Sequence[int | str]) -> tuple[str, str, int | None]:
    shown, family = _BUILTIN[typname]
    length: int | None = None
    if typname in ("varchar", "bpchar") and mods:
        length = int(mods[0])
        shown = f"{shown}({length})"
    elif typname == "bpchar":
        shown = "bpchar"
    elif typname == "numeric" and mods:
        scale = mods[1] if len(mods) > 1 else 0
        shown = f"numeric({mods[0]},{scale})"
    elif typname in ("timestamp", "timestamptz", "time", "timetz") and mods:
        head, zone = shown.split(" ", 1)
        shown = _with_precision(head, mods[0], zone)
    elif typname == "interval" and mods:
        fields = int(mods[0])
        shown = "interval"
        if fields != _INTERVAL_FULL_RANGE and fields in _INTERVAL_FIELDS:
            shown += " " + _INTERVAL_FIELDS[fields]
        if len(mods) > 1:
            shown += f"({mods[1]})"
    elif typname in ("bit", "varbit") and mods:
        shown = f"{shown}({mods[0]})"
    elif mods:
        shown = f"{shown}({','.join(str(m) for m in mods)})"
    return shown, family, length


def show_type(type_name: ast.TypeName, find_user_type: Callable[[list[str]], UserType | None]) -> ShownType:
    """The column type of `type_name` as format_type shows it, its family, length and serial-ness."""
    parts = type_name_parts(type_name)
    mods = typmod_values(type_name)
    is_array = bool(type_name.arrayBounds)
    shown: str
    family: str
    length: int | None = None
    serial = False
    qualified_builtin = len(parts) == 2 and parts[0] == "pg_catalog"
    typname = parts[-1] if parts else "unknown"
    user = None if qualified_builtin else find_user_type(parts)
    if user is not None:
        shown, family, length = user.display, user.base_type, user.length
    elif len(parts) == 1 and typname in _SERIALS:
        shown, family, length = _format_builtin(_SERIALS[typname], mods)
        serial = True
    elif (qualified_builtin or len(parts) == 1) and _ALIASES.get(typname, typname) in _BUILTIN:
        shown, family, length = _format_builtin(_ALIASES.get(typname, typname), mods)
    else:
        # an extension's or an unknown type: format_type shows its name and modifiers
        base = quote_ident(typname)
        if len(parts) > 1 and parts[-2] not in VISIBLE_SCHEMAS:
            base = f"{quote_ident(parts[-2])}.{base}"
        shown = base + (f"({','.join(str(m) for m in mods)})" if mods else "")
        family = typname
    if is_array:
        return ShownType(shown + "[]", "array", None, False)
    return ShownType(shown, family, length, serial)

"""Column types of MySQL/MariaDB and SQLite DDL, shown the way the live engine shows them.

MySQL/MariaDB: the live source reads INFORMATION_SCHEMA.COLUMNS.COLUMN_TYPE, which is the type in
canonical form (`INT` -> `int(11)` on MariaDB, `int` on MySQL 8; `NVARCHAR(10)` -> `varchar(10)`;
`BOOLEAN` -> `tinyint(1)`; `JSON` -> `longtext` on MariaDB). SQLite keeps the declared text as written.
Families come from the live sources' own mapping functions, so offline and live always agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbsage.tools.catalog import Dialect
from dbsage.tools.sources.mysql import base_type as mysql_family
from dbsage.tools.sources.sqlite import base_type as sqlite_family


@dataclass(frozen=True)
class EngineType:
    data_type: str
    base_type: str
    length: int | None = None
    unsigned: bool = False
    serial: bool = False  # MySQL SERIAL: bigint unsigned NOT NULL AUTO_INCREMENT UNIQUE


# MariaDB shows these display widths when none is written (signed, unsigned)
_INTEGER_WIDTHS = {
    "tinyint": (4, 3),
    "smallint": (6, 5),
    "mediumint": (9, 8),
    "int": (11, 10),
    "bigint": (20, 20),
}
_INTEGER_ALIASES = {
    "integer": "int",
    "int4": "int",
    "int1": "tinyint",
    "int2": "smallint",
    "int3": "mediumint",
    "middleint": "mediumint",
    "int8": "bigint",
}
_INTEGER_FAMILY = {
    "tinyint": "smallint",
    "smallint": "smallint",
    "mediumint": "integer",
    "int": "integer",
    "bigint": "bigint",
}
_TEXT_TYPES = {"tinytext", "text", "mediumtext", "longtext"}
_BLOB_TYPES = {"tinyblob", "blob", "mediumblob", "longblob"}
_SPATIAL = {
    "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
    "geometrycollection",
}  # fmt: skip
_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _split_type(text: str) -> tuple[list[str], list[str], str]:
    """(lower-case words before the parentheses, the parameters, lower-case words after)."""
    paren = text.find("(")
    if paren == -1:
        return [w.lower() for w in _WORDS.findall(text)], [], ""
    close = text.rfind(")")
    head = [w.lower() for w in _WORDS.findall(text[:paren])]
    params = _split_params(text[paren + 1 : close if close > paren else len(text)])
    tail = text[close + 1 :].lower() if close > paren else ""
    return head, params, tail


def _split_params(inner: str) -> list[str]:
    params: list[str] = []
    current = ""
    quote: str | None = None
    for ch in inner:
        if quote:
            current += ch
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            current += ch
        elif ch == ",":
            params.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        params.append(current.strip())
    return params


def mysql_type(type_text: str, dialect: Dialect) -> EngineType:
    """The COLUMN_TYPE MySQL (dialect mysql, 8.0.19+) or MariaDB shows for a declared type, and its family.

    The family is given by the live source's own mapping (mysql.base_type) so both sides agree.
    """
    shown = _mysql_column_type(type_text, dialect)
    data_type = re.split(r"[\s(]", shown.data_type, maxsplit=1)[0]
    family = "json" if shown.base_type == "json" else mysql_family(data_type, shown.data_type)
    length = shown.length if family in ("varchar", "char") else None
    return EngineType(shown.data_type, family, length, shown.unsigned, shown.serial)


def _mysql_column_type(type_text: str, dialect: Dialect) -> EngineType:
    """COLUMN_TYPE of a declared type; the family set here is provisional (mysql_type decides it)."""
    mariadb = dialect is Dialect.MARIADB
    head, params, tail = _split_type(type_text)
    tail_words = set(_WORDS.findall(tail)) | {w for w in head[1:] if w in ("unsigned", "zerofill", "signed")}
    head = [w for w in head if w not in ("unsigned", "zerofill", "signed")]
    zerofill = "zerofill" in tail_words
    unsigned = "unsigned" in tail_words or zerofill
    name = " ".join(head)
    name = {
        "double precision": "double",
        "real": "double",
        "character varying": "varchar",
        "char varying": "varchar",
        "national varchar": "varchar",
        "national character varying": "varchar",
        "national char varying": "varchar",
        "nvarchar": "varchar",
        "nchar varchar": "varchar",
        "national char": "char",
        "national character": "char",
        "nchar": "char",
        "character": "char",
        "long varchar": "mediumtext",
        "long": "mediumtext",
        "long varbinary": "mediumblob",
        "bool": "boolean",
        "dec": "decimal",
        "numeric": "decimal",
        "fixed": "decimal",
        "char byte": "binary",
    }.get(name, name)
    name = _INTEGER_ALIASES.get(name, name)

    if name == "serial":
        shown = "bigint(20) unsigned" if mariadb else "bigint unsigned"
        return EngineType(shown, "bigint", None, True, True)
    if name == "boolean":
        return EngineType("tinyint(1)", "boolean")
    if name in _INTEGER_WIDTHS:
        width = params[0] if params else None
        if mariadb or zerofill:
            width = width or str(_INTEGER_WIDTHS[name][1 if unsigned else 0])
        elif name == "tinyint" and width == "1" and not unsigned:
            width = "1"
        else:
            width = None
        shown = name + (f"({width})" if width else "")
        shown += " unsigned" if unsigned else ""
        shown += " zerofill" if zerofill else ""
        return EngineType(shown, _INTEGER_FAMILY[name], None, unsigned)
    if name == "decimal":
        precision = params[0] if params else "10"
        scale = params[1] if len(params) > 1 else "0"
        shown = _with_sign(f"decimal({precision},{scale})", unsigned, zerofill)
        return EngineType(shown, "numeric", None, unsigned)
    if name == "float":
        if len(params) == 1 and params[0].isdigit() and int(params[0]) > 24:
            return EngineType(_with_sign("double", unsigned, zerofill), "double", None, unsigned)
        shown = f"float({params[0]},{params[1]})" if len(params) == 2 else "float"
        return EngineType(_with_sign(shown, unsigned, zerofill), "real", None, unsigned)
    if name == "double":
        shown = f"double({params[0]},{params[1]})" if len(params) == 2 else "double"
        return EngineType(_with_sign(shown, unsigned, zerofill), "double", None, unsigned)
    if name in ("varchar", "char", "binary", "varbinary"):
        length = int(params[0]) if params and params[0].isdigit() else None
        if length is None and name in ("char", "binary"):
            length = 1
        shown = f"{name}({length})" if length is not None else name
        family = {"varchar": "varchar", "char": "char"}.get(name, "binary")
        return EngineType(shown, family, length if family in ("varchar", "char") else None)
    if name == "bit":
        return EngineType(f"bit({params[0] if params else 1})", "bit")
    if name in _TEXT_TYPES:
        return EngineType(name, "text")
    if name in _BLOB_TYPES:
        return EngineType(name, "binary")
    if name == "json":
        return EngineType("longtext" if mariadb else "json", "json")
    if name in ("enum", "set"):
        values = ",".join(_canonical_string(p) for p in params)
        return EngineType(f"{name}({values})", name)
    if name in ("datetime", "timestamp", "time"):
        precision = f"({params[0]})" if params and params[0] != "0" else ""
        family = {"datetime": "timestamp", "timestamp": "timestamptz", "time": "time"}[name]
        return EngineType(name + precision, family)
    if name == "date":
        return EngineType("date", "date")
    if name == "year":
        return EngineType("year(4)" if mariadb else "year", "year")
    if name in _SPATIAL:
        return EngineType(name, name)
    shown = name + (f"({','.join(params)})" if params else "")
    return EngineType(shown, name or "unknown")


def _with_sign(shown: str, unsigned: bool, zerofill: bool) -> str:
    return shown + (" unsigned" if unsigned else "") + (" zerofill" if zerofill else "")


def _canonical_string(literal: str) -> str:
    """An ENUM/SET value as COLUMN_TYPE writes it: single quotes, quotes inside doubled."""
    if len(literal) >= 2 and literal[0] in "'\"" and literal[-1] == literal[0]:
        body = literal[1:-1].replace(literal[0] * 2, literal[0]).replace("\\'", "'")
        return "'" + body.replace("'", "''") + "'"
    return literal


def sqlite_type(type_text: str) -> EngineType:
    """A declared SQLite type: shown as written; the family is the live source's (sqlite.base_type)."""
    family, length = sqlite_family(type_text)
    return EngineType(type_text, family, length, "UNSIGNED" in type_text.upper())

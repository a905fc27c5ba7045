"""PostgreSQL's own naming rules, imitated so offline names equal the names a live server picks.

When DDL leaves a constraint, index or sequence unnamed, PostgreSQL makes one up (`<table>_pkey`,
`<table>_<cols>_key`, `<table>_<cols>_fkey`, `<table>_<col>_check`, `<table>_<cols>_idx`,
`<table>_<col>_seq`), shortens the parts to fit 63 bytes and adds a counter on collision. Findings
name objects, so the offline and live names must agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pglast import ast
from pglast.keywords import UNRESERVED_KEYWORDS

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1


def clip_bytes(name: str, limit: int) -> str:
    """`name` cut to at most `limit` UTF-8 bytes without splitting a character."""
    raw = name.encode()
    if len(raw) <= limit:
        return name
    return raw[:limit].decode(errors="ignore")


def truncate_identifier(name: str) -> str:
    """PostgreSQL silently truncates identifiers to 63 bytes."""
    return clip_bytes(name, MAX_IDENTIFIER_BYTES)


def quote_ident(name: str) -> str:
    """The identifier as PostgreSQL's quote_ident shows it: quoted unless lower-case and not a keyword."""
    safe = bool(name) and (name[0] == "_" or "a" <= name[0] <= "z")
    if safe:
        safe = all(ch == "_" or "a" <= ch <= "z" or "0" <= ch <= "9" for ch in name)
    if safe and name in _QUOTED_KEYWORDS:
        safe = False
    if safe:
        return name
    return '"' + name.replace('"', '""') + '"'


def _quoted_keywords() -> frozenset[str]:
    from pglast import keywords

    every: set[str] = set()
    for group in ("RESERVED_KEYWORDS", "COL_NAME_KEYWORDS", "TYPE_FUNC_NAME_KEYWORDS"):
        every |= set(getattr(keywords, group, set()))
    return frozenset(k for k in every if k not in UNRESERVED_KEYWORDS)


_QUOTED_KEYWORDS = _quoted_keywords()


def make_object_name(name1: str, name2: str | None, label: str | None) -> str:
    """`name1_name2_label`, shortening the longer of name1/name2 until it fits 63 bytes (makeObjectName)."""
    b1, b2 = name1.encode(), (name2 or "").encode()
    overhead = (1 if name2 is not None else 0) + (len(label.encode()) + 1 if label else 0)
    available = MAX_IDENTIFIER_BYTES - overhead
    n1, n2 = len(b1), len(b2)
    while n1 + n2 > available:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    out = clip_bytes(name1, n1)
    if name2 is not None:
        out += "_" + clip_bytes(name2, n2)
    if label:
        out += "_" + label
    return out


def choose_name(name1: str, name2: str | None, label: str, taken: Callable[[str], bool]) -> str:
    """The first free name of `name1_name2_label`, `..._label1`, `..._label2`... (ChooseRelationName)."""
    candidate_label = label
    attempt = 0
    while True:
        name = make_object_name(name1, name2, candidate_label)
        if not taken(name):
            return name
        attempt += 1
        candidate_label = f"{label}{attempt}"


def name_addition(column_names: Sequence[str]) -> str:
    """Column names joined by '_', stopping once 63 bytes are reached (ChooseIndexNameAddition)."""
    out = ""
    for name in column_names:
        if out:
            out += "_"
        out += name
        if len(out.encode()) >= MAX_IDENTIFIER_BYTES + 1:
            break
    return clip_bytes(out, MAX_IDENTIFIER_BYTES)


def unique_index_column_names(names: Sequence[str]) -> list[str]:
    """Index column names made distinct by appending 1, 2... to repeats (ChooseIndexColumnNames)."""
    result: list[str] = []
    for original in names:
        current = original
        suffix = 0
        while current in result:
            suffix += 1
            tail = str(suffix)
            current = clip_bytes(original, MAX_IDENTIFIER_BYTES - len(tail)) + tail
        result.append(current)
    return result


def figure_colname(node: Any) -> tuple[str | None, int]:
    """The name PostgreSQL gives an unnamed expression, and how sure it is (FigureColnameInternal)."""
    if isinstance(node, ast.ColumnRef):
        fields = node.fields or ()
        last = fields[-1] if fields else None
        if isinstance(last, ast.String) and last.sval:
            return last.sval, 2
        return None, 0
    if isinstance(node, ast.FuncCall):
        names = node.funcname or ()
        if names and isinstance(names[-1], ast.String):
            return names[-1].sval, 2
        return None, 0
    if isinstance(node, ast.TypeCast):
        name, strength = figure_colname(node.arg)
        if strength <= 1 and node.typeName is not None and node.typeName.names:
            last = node.typeName.names[-1]
            if isinstance(last, ast.String) and last.sval:
                return last.sval, 1
        return name, strength
    if isinstance(node, ast.CollateClause):
        return figure_colname(node.arg)
    if isinstance(node, ast.A_Indirection):
        for item in reversed(node.indirection or ()):
            if isinstance(item, ast.String) and item.sval:
                return item.sval, 2
        return figure_colname(node.arg)
    if isinstance(node, ast.CaseExpr):
        name, strength = figure_colname(node.defresult) if node.defresult is not None else (None, 0)
        return (name, strength) if strength > 1 else ("case", 1)
    if isinstance(node, ast.CoalesceExpr):
        return "coalesce", 2
    if isinstance(node, ast.MinMaxExpr):
        return ("greatest" if str(node.op).endswith("GREATEST") else "least"), 2
    if isinstance(node, ast.A_ArrayExpr):
        return "array", 2
    if isinstance(node, ast.RowExpr):
        return "row", 2
    if isinstance(node, ast.NullTest | ast.BooleanTest):
        return None, 0
    if isinstance(node, ast.SQLValueFunction):
        return _sql_value_function_name(node), 2
    if isinstance(node, ast.A_Expr) and str(node.kind).endswith("NULLIF"):
        return "nullif", 2
    return None, 0


def _sql_value_function_name(node: ast.SQLValueFunction) -> str:
    op = str(node.op).rsplit(".", 1)[-1]
    name = op.removeprefix("SVFOP_").lower()
    return name.removesuffix("_n")

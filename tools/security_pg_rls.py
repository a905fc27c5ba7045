"""PostgreSQL row-level security checks: tables, policies, partitions and views of a multi-tenant schema."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from dbsage.tools.catalog import Catalog, Dialect, Policy, Table
from dbsage.tools.findings import Finding, ObjectType, Severity
from dbsage.tools.rules.fix_sql import quote, table_ref
from dbsage.tools.rules.registry import make_finding
from dbsage.tools.security_pg_facts import PgFacts

PG = Dialect.POSTGRES
DEFAULT_TENANT_SETTING = "app.tenant_id"
_SETTING_NAME = re.compile(r"current_setting\(\s*'([^']+)'", re.IGNORECASE)
_ALWAYS_TRUE = {"true", "(true)", "1 = 1", "(1 = 1)"}


@dataclass(frozen=True)
class RlsContext:
    catalog: Catalog
    facts: PgFacts
    app_roles: list[str]
    tenant_column: str
    tenant_setting: str


def tenant_setting_of(catalog: Catalog, override: str | None) -> str:
    """The setting the policies read the tenant from (the most used), `override`, or app.tenant_id."""
    if override:
        return override
    seen: Counter[str] = Counter()
    for table in catalog.tables:
        for policy in table.policies:
            for expr in (policy.using, policy.with_check):
                seen.update(_SETTING_NAME.findall(expr or ""))
    return seen.most_common(1)[0][0] if seen else DEFAULT_TENANT_SETTING


def rls_findings(ctx: RlsContext) -> list[Finding]:
    findings: list[Finding] = []
    tables = {t.qualified_name: t for t in ctx.catalog.tables}
    for table in ctx.catalog.tables:
        findings += _table_rls(ctx, table, tables)
        for policy in table.policies:
            findings += _policy_checks(ctx, table, policy)
    findings += _views(ctx)
    return findings


# -- tables --------------------------------------------------------------------------------------


def _table_rls(ctx: RlsContext, table: Table, tables: dict[str, Table]) -> list[Finding]:
    out: list[Finding] = []
    ref = table_ref(table, PG)
    obj = table.qualified_name
    owners = [r for r in ctx.app_roles if ctx.facts.owns(r, table.schema_name, table.name)]
    force = f"\nALTER TABLE {ref} FORCE ROW LEVEL SECURITY;" if owners else ""
    parent = tables.get(table.partition_of) if table.partition_of else None
    tenant = table.column(ctx.tenant_column)
    if parent is not None and parent.rls_enabled and not table.rls_enabled:
        forced = "\nALTER TABLE " + ref + " FORCE ROW LEVEL SECURITY;" if parent.rls_forced or owners else ""
        out.append(make_finding(
            "security.partition_without_rls", object_type=ObjectType.TABLE, obj=obj,
            message=f"Partition {obj} has row-level security off while its parent {parent.qualified_name} has it "
                    "on: a query naming the partition directly sees every tenant's rows.",
            evidence={"parent": parent.qualified_name, "parent_policies": [p.name for p in parent.policies]},
            fix=f"ALTER TABLE {ref} ENABLE ROW LEVEL SECURITY;{forced}",
        ))
        return out
    if table.kind == "foreign_table":
        return out  # row-level security does not apply to foreign tables
    if table.policies and not table.rls_enabled:
        out.append(make_finding(
            "security.policy_without_rls", object_type=ObjectType.TABLE, obj=obj,
            message=f"{obj} has row-level security policies ({', '.join(p.name for p in table.policies)}) but RLS "
                    "is not enabled, so none of them applies.",
            evidence={"policies": [p.name for p in table.policies]},
            fix=f"ALTER TABLE {ref} ENABLE ROW LEVEL SECURITY;{force}" + _partitions_too(table, tables, bool(owners)),
        ))
    elif tenant is not None and not table.rls_enabled and parent is None:
        readers = [r for r in ctx.app_roles if ctx.facts.can_select(r, table.schema_name, table.name)]
        if readers or not ctx.app_roles:
            out.append(make_finding(
                "security.tenant_table_without_rls", object_type=ObjectType.TABLE, obj=obj,
                message=f"{obj} has the tenant column {tenant.name} but no row-level security: "
                        + (f"{', '.join(readers)} can read every tenant's rows."
                           if readers else "any role that can read it sees every tenant's rows."),
                evidence={"tenant_column": tenant.name, "readable_by": readers or None,
                          "app_roles_known": bool(ctx.app_roles)},
                fix=f"ALTER TABLE {ref} ENABLE ROW LEVEL SECURITY;{force}\n" + _tenant_policy_sql(ctx, table)
                + _partitions_too(table, tables, bool(owners)),
                severity=None if readers else Severity.HIGH,
            ))
    if table.rls_enabled and not table.policies and parent is None:
        out.append(make_finding(
            "security.rls_without_policy", object_type=ObjectType.TABLE, obj=obj,
            message=f"{obj} has row-level security enabled but no policy: every non-owner query returns no rows "
                    "and every write fails, while the owner still sees everything.",
            evidence={"forced": table.rls_forced, "tenant_column": tenant.name if tenant else None},
            fix=_tenant_policy_sql(ctx, table) if tenant is not None else None,
        ))
    if table.rls_enabled and not table.rls_forced and owners:
        out.append(make_finding(
            "security.rls_owner_not_forced", object_type=ObjectType.TABLE, obj=obj,
            message=f"The application role {', '.join(owners)} owns {obj}, whose row-level security is not "
                    "forced: the owner bypasses every policy.",
            evidence={"owners": owners, "policies": [p.name for p in table.policies]},
            fix=f"ALTER TABLE {ref} FORCE ROW LEVEL SECURITY;",
        ))
    return out


def _partitions_too(table: Table, tables: dict[str, Table], force: bool) -> str:
    """Statements enabling RLS on the partitions of `table` (queries naming a partition skip the parent's)."""
    out = ""
    for part in tables.values():
        if part.partition_of == table.qualified_name and not part.rls_enabled:
            ref = table_ref(part, PG)
            out += f"\nALTER TABLE {ref} ENABLE ROW LEVEL SECURITY;"
            out += f"\nALTER TABLE {ref} FORCE ROW LEVEL SECURITY;" if force else ""
            out += _partitions_too(part, tables, force)
    return out


def tenant_predicate(ctx: RlsContext, table: Table) -> str:
    column = table.column(ctx.tenant_column)
    assert column is not None
    setting = ctx.tenant_setting.replace("'", "''")
    return f"{quote(column.name, PG)} = nullif(current_setting('{setting}', true), '')::{column.data_type}"


def _tenant_policy_sql(ctx: RlsContext, table: Table) -> str:
    names = {p.name for p in table.policies}
    name = next(n for n in ("tenant_isolation", *(f"tenant_isolation_{i}" for i in range(2, 99))) if n not in names)
    predicate = tenant_predicate(ctx, table)
    return f"CREATE POLICY {name} ON {table_ref(table, PG)} USING ({predicate}) WITH CHECK ({predicate});"


# -- policies ------------------------------------------------------------------------------------


def _normal(expr: str | None) -> str | None:
    return None if expr is None else " ".join(expr.split()).lower()


def _policy_checks(ctx: RlsContext, table: Table, policy: Policy) -> list[Finding]:
    out: list[Finding] = []
    obj = f"{table.qualified_name}.{policy.name}"
    using, check = _normal(policy.using), _normal(policy.with_check)
    reads = policy.command in ("ALL", "SELECT", "UPDATE", "DELETE")
    writes = policy.command in ("ALL", "INSERT", "UPDATE")
    open_read = reads and (using is None or using in _ALWAYS_TRUE)
    # WITH CHECK defaults to USING for ALL and UPDATE; INSERT has only WITH CHECK.
    effective_check = check if check is not None or policy.command == "INSERT" else using
    open_write = writes and (effective_check is None or effective_check in _ALWAYS_TRUE)
    if policy.permissive and (open_read or open_write):
        fix = None
        if table.column(ctx.tenant_column) is not None:
            predicate = tenant_predicate(ctx, table)
            fix = _alter_policy(table, policy, predicate, predicate)
        out.append(make_finding(
            "security.permissive_policy_always_true", object_type=ObjectType.POLICY, obj=obj,
            message=f"Permissive policy {policy.name} on {table.qualified_name} lets "
                    f"{', '.join(policy.roles)} {'read' if open_read else 'write'} every row: "
                    "it is OR-ed with the other policies, so it switches row-level security off for them.",
            evidence={"command": policy.command, "roles": list(policy.roles), "using": policy.using,
                      "with_check": policy.with_check},
            fix=fix,
        ))
    exprs = [e for e in (policy.using, policy.with_check) if e]
    if any(_bare_settings(e) for e in exprs):
        fixed_using = _wrap_settings(policy.using) if policy.using else None
        fixed_check = _wrap_settings(policy.with_check) if policy.with_check else None
        out.append(make_finding(
            "security.policy_setting_without_nullif", object_type=ObjectType.POLICY, obj=obj,
            message=f"Policy {policy.name} on {table.qualified_name} compares with current_setting(...) "
                    "without nullif(..., ''): after a SET and RESET the setting reads as an empty string, not "
                    "NULL, so an empty tenant context is compared as a real value.",
            evidence={"using": policy.using, "with_check": policy.with_check},
            fix=_alter_policy(table, policy, fixed_using, fixed_check),
        ))
    return out


def _alter_policy(table: Table, policy: Policy, using: str | None, check: str | None) -> str:
    parts = [f"ALTER POLICY {quote(policy.name, PG)} ON {table_ref(table, PG)}"]
    if using is not None and policy.command != "INSERT":
        parts.append(f"USING ({using})")
    if check is not None and policy.command in ("ALL", "INSERT", "UPDATE"):
        parts.append(f"WITH CHECK ({check})")
    return " ".join(parts) + ";"


def _setting_calls(expr: str) -> list[tuple[int, int]]:
    """(start, end) of each current_setting(...) call, end exclusive."""
    calls: list[tuple[int, int]] = []
    lowered = expr.lower()
    start = lowered.find("current_setting(")
    while start != -1:
        depth, i, quoted = 0, start + len("current_setting"), False
        while i < len(expr):
            ch = expr[i]
            if ch == "'":
                quoted = not quoted
            elif not quoted and ch == "(":
                depth += 1
            elif not quoted and ch == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        calls.append((start, i + 1))
        start = lowered.find("current_setting(", i + 1)
    return calls


def _bare_settings(expr: str) -> list[tuple[int, int]]:
    """The current_setting(...) calls that are not the first argument of nullif(...)."""
    bare = []
    for start, end in _setting_calls(expr):
        before = expr[:start].rstrip().lower()
        if not before.endswith("nullif("):
            bare.append((start, end))
    return bare


def _wrap_settings(expr: str) -> str:
    out = expr
    for start, end in reversed(_bare_settings(expr)):
        out = f"{out[:start]}nullif({out[start:end]}, ''){out[end:]}"
    return out


# -- views ---------------------------------------------------------------------------------------


def _views(ctx: RlsContext) -> list[Finding]:
    out: list[Finding] = []
    views = {v.qualified_name: v for v in ctx.catalog.views}
    over: dict[str, list[str]] = {}
    for row in ctx.facts.rls_views:
        over.setdefault(f"{row['view_schema']}.{row['view_name']}", []).append(
            f"{row['table_schema']}.{row['table_name']}"
        )
    supports = (ctx.catalog.server_version_num or 0) >= 150000
    for name, tables in sorted(over.items()):
        view = views.get(name)
        if view is None or view.security_invoker:
            continue
        ref = f"{quote(view.schema_name, PG)}.{quote(view.name, PG)}"
        out.append(make_finding(
            "security.view_bypasses_rls", object_type=ObjectType.VIEW, obj=name,
            message=f"View {name} reads {', '.join(tables)} with row-level security as its owner "
                    f"({view.owner}), not as the caller: the caller's policies do not apply through it.",
            evidence={"tables": tables, "owner": view.owner, "security_invoker": False},
            fix=f"ALTER VIEW {ref} SET (security_invoker = true);" if supports else None,
            severity=None if supports else Severity.MEDIUM,
        ))
    return out

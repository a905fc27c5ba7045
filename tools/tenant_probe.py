"""The tenant-isolation probe (PostgreSQL, explicit opt-in): evidence, in row counts, that RLS holds.

Everything runs in ONE guarded `rollback_write` transaction (lock_timeout set, always rolled back).
As the connecting (privileged) user, two tenants are picked from the data and, per relation, a row of
each tenant is sampled. Then, as the application role (SET LOCAL ROLE), every tenant-scoped table,
partition and view is asked:

- with no tenant context, and with an empty one: how many rows are visible (0 or an error = closed);
- as tenant A: how many rows of other tenants are visible (counted up to READ_CAP); how many rows of
  tenant B an UPDATE and a DELETE touch (at most WRITE_CAP are tried); whether an INSERT of a copy of
  a tenant-B row fails with 42501 (and the same as tenant B).

Each statement runs between SAVEPOINT and ROLLBACK TO SAVEPOINT, so writes never outlive the step and
a failing step does not end the probe. Triggers on the probed tables fire (and are rolled back too).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from dbsage.tools.catalog import Catalog, Dialect, Policy, Table
from dbsage.tools.errors import InputError, QueryFailed
from dbsage.tools.findings import Finding, ObjectType
from dbsage.tools.rules.registry import make_finding
from dbsage.tools.sources.guard import GuardedSession, LiveDatabase, Mode
from dbsage.tools.sources.urls import redact

Outcome = Literal["closed", "open", "inconclusive"]

_SETTING_IN_POLICY = re.compile(r"current_setting\(\s*'([A-Za-z_][\w$]*\.[\w$.]+)'", re.IGNORECASE)
_SETTING_NAME = re.compile(r"^[A-Za-z_][\w$]*\.[A-Za-z_][\w$.]*$")
# SQLSTATEs that say the statement could not run for reasons unrelated to isolation.
_INCONCLUSIVE_STATES = frozenset({"55P03", "57014", "40P01", "40001", "53200", "53300"})
# Counting stops here: the probe needs evidence, not a full scan of a production table.
READ_CAP = 10_000
# Writes touch at most this many rows (locked until the step's savepoint is rolled back).
WRITE_CAP = 100
SCAN_CAP = 100_000
# The relation accepts no such write at all (a view that is not updatable, a wrong object kind).
_NO_WRITE_STATES = frozenset({"0A000", "55000", "42809"})


class ProbeStep(BaseModel):
    """One question asked of one relation as the application role, with the measured answer."""

    name: str = Field(description="unset_context, empty_context, select, update, delete or insert")
    relation: str = Field(description="schema.relation probed")
    tenant: str | None = Field(description="The tenant context set for the step (None: no context)")
    sql: str = Field(description="The statement sent (values as parameters are shown inline)")
    expected: str = Field(description="What an isolated relation answers")
    rows: int | None = Field(description="Rows the step saw or touched (other tenants' rows for select)")
    error: str | None = Field(default=None, description="SQLSTATE and message when the statement failed")
    outcome: Outcome


class ProbeReport(BaseModel):
    """The probe's evidence: every step with its row count, and whether isolation held."""

    app_role: str
    tenant_setting: str
    tenants: list[str] = Field(default_factory=list)
    relations: list[str] = Field(default_factory=list)
    steps: list[ProbeStep] = Field(default_factory=list)
    isolated: bool = False
    refused: str | None = Field(default=None, description="Why probing was refused (no steps then)")
    notes: list[str] = Field(default_factory=list, description="Relations or steps skipped, and why")


@dataclass
class _Target:
    """A tenant-scoped relation to probe, and what the privileged user saw in it."""

    schema: str
    name: str
    kind: Literal["table", "partitioned_table", "partition", "view", "materialized_view"]
    column_type: str
    insert_columns: list[str]
    overriding: bool
    updatable: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sql_name(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    @property
    def writable(self) -> bool:
        return self.kind != "materialized_view" and self.updatable


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, always double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def probe_tenants(
    db: LiveDatabase,
    *,
    app_role: str,
    tenant_column: str = "tenant_id",
    tenant_setting: str | None = None,
    catalog: Catalog,
) -> tuple[ProbeReport, list[Finding]]:
    """Probe tenant isolation as `app_role` in one rolled-back transaction; the report and its findings."""
    if db.dialect is not Dialect.POSTGRES:
        raise InputError("The tenant-isolation probe needs PostgreSQL (row-level security).")
    if not app_role:
        raise InputError("Name the application role to probe as.", hint="pass app_role, e.g. --app-role app_user")
    if tenant_setting is not None and not _SETTING_NAME.match(tenant_setting):
        raise InputError(
            f"{tenant_setting!r} is not a custom setting name.",
            hint="a tenant setting looks like app.tenant_id (a prefix, a dot, a name)",
        )
    tables = [t for t in catalog.tables if _has_column(t, tenant_column)]
    setting = tenant_setting or _setting_from_policies(p for t in tables for p in t.policies)
    report = ProbeReport(app_role=app_role, tenant_setting=setting or "")
    with db.session(Mode.ROLLBACK_WRITE) as session:
        role = session.catalog(
            "SELECT rolsuper, rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = %s", [app_role]
        )
        if not role:
            raise InputError(f"Role {app_role!r} does not exist.", hint="pass the role the application connects as")
        if setting is None:
            setting = _setting_from_live_policies(session, tenant_column)
            report.tenant_setting = setting or ""
        targets = _targets(session, catalog, tenant_column, app_role, report.notes)
        report.relations = [t.qualified for t in targets]
        findings = _refusal(session, report, role[0], targets, tenant_column)
        if report.refused is not None:
            return report, findings
        if setting is None:
            report.refused = (
                "No policy on a tenant-scoped table reads a current_setting(...); the tenant context setting "
                "is unknown. Pass tenant_setting (e.g. app.tenant_id)."
            )
            return report, findings
        if not targets:
            report.refused = (
                f"No relation with a {tenant_column!r} column is readable by {app_role}; nothing to probe."
            )
            return report, findings
        tenants = _pick_tenants(session, targets, tenant_column)
        if len(tenants) < 2:
            report.refused = (
                f"Fewer than two distinct {tenant_column} values are visible to the connecting user; "
                "the probe needs two tenants with data."
            )
            return report, findings
        report.tenants = tenants
        _sample(session, targets, tenant_column, tenants)
        session.catalog(f"SET LOCAL ROLE {quote_ident(app_role)}")
        prober = _Prober(session, setting, tenant_column)
        # Unset first: once set (even locally), a custom setting reads '' rather than NULL for the session.
        if session.catalog_value("SELECT current_setting(%s, true) AS v", [setting]) is not None:
            report.notes.append(
                f"{setting} was already defined on this connection, so the unset-context steps read '' (not NULL)"
            )
        triggered = sorted(
            f"{t.schema_name}.{t.name}" for t in catalog.tables
            if t.triggers and f"{t.schema_name}.{t.name}" in report.relations
        )
        if triggered:
            report.notes.append(
                "triggers fired during the write steps (and were rolled back with them) on: " + ", ".join(triggered)
            )
        for target in targets:
            report.steps.append(prober.context_step(target, None))
        for target in targets:
            report.steps.append(prober.context_step(target, ""))
            for own, other in ((tenants[0], tenants[1]), (tenants[1], tenants[0])):
                report.steps.append(prober.select_step(target, own))
                if target.writable:
                    report.steps.append(prober.write_step(target, "update", own, other))
                    report.steps.append(prober.write_step(target, "delete", own, other))
                    if other in target.samples:
                        report.steps.append(prober.insert_step(target, own, other))
                    else:
                        report.notes.append(
                            f"{target.qualified}: no row of tenant {other} to copy; the cross-tenant INSERT "
                            f"as tenant {own} was not tried"
                        )
    report.isolated = bool(report.steps) and all(s.outcome == "closed" for s in report.steps)
    findings.extend(_leak_findings(report, targets, tenant_column, catalog))
    return report, findings


# -- what to probe -------------------------------------------------------------------------------


def _has_column(table: Table, column: str) -> bool:
    return any(c.name == column for c in table.columns)


def _setting_from_policies(policies: Iterable[Policy]) -> str | None:
    found: Counter[str] = Counter()
    for policy in policies:
        for expression in (policy.using, policy.with_check):
            found.update(_SETTING_IN_POLICY.findall(expression or ""))
    return found.most_common(1)[0][0] if found else None


def _setting_from_live_policies(session: GuardedSession, tenant_column: str) -> str | None:
    rows = session.catalog(
        "SELECT pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using_expr,"
        " pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr"
        " FROM pg_catalog.pg_policy p"
        " WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = p.polrelid"
        " AND a.attname = %s AND NOT a.attisdropped)",
        [tenant_column],
    )
    policies = [Policy(name="", using=r["using_expr"], with_check=r["check_expr"]) for r in rows]
    return _setting_from_policies(policies)


_TARGETS_SQL = """
SELECT n.nspname AS schema_name, c.relname AS name, c.relkind::text AS relkind, c.relispartition AS partition,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS column_type,
       pg_catalog.has_table_privilege(%(role)s, c.oid, 'SELECT') AS readable,
       ARRAY(SELECT x.attname::text FROM pg_catalog.pg_attribute x
             WHERE x.attrelid = c.oid AND x.attnum > 0 AND NOT x.attisdropped AND x.attgenerated = ''
             ORDER BY x.attnum) AS insert_columns,
       EXISTS (SELECT 1 FROM pg_catalog.pg_attribute x
               WHERE x.attrelid = c.oid AND x.attnum > 0 AND NOT x.attisdropped AND x.attidentity = 'a')
         AS overriding,
       c.relkind <> 'v' OR pg_catalog.pg_relation_is_updatable(c.oid::regclass, true) > 0 AS updatable
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = %(column)s AND NOT a.attisdropped
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm')
ORDER BY n.nspname, c.relname
"""


def _targets(
    session: GuardedSession, catalog: Catalog, column: str, app_role: str, notes: list[str]
) -> list[_Target]:
    schemas = catalog.schemas or sorted({t.schema_name for t in catalog.tables})
    rows = session.catalog(_TARGETS_SQL, {"role": app_role, "column": column, "schemas": schemas})
    targets: list[_Target] = []
    for r in rows:
        qualified = f"{r['schema_name']}.{r['name']}"
        if not r["readable"]:
            notes.append(f"{qualified}: {app_role} may not SELECT it; not probed")
            continue
        relkind = str(r["relkind"])
        kind: Literal["table", "partitioned_table", "partition", "view", "materialized_view"]
        if relkind == "v":
            kind = "view"
        elif relkind == "m":
            kind = "materialized_view"
        elif r["partition"]:
            kind = "partition"
        else:
            kind = "partitioned_table" if relkind == "p" else "table"
        targets.append(
            _Target(
                schema=str(r["schema_name"]),
                name=str(r["name"]),
                kind=kind,
                column_type=str(r["column_type"]),
                insert_columns=[str(c) for c in r["insert_columns"]],
                overriding=bool(r["overriding"]) and kind != "view",
                updatable=bool(r["updatable"]),
            )
        )
        if not r["updatable"]:
            notes.append(f"{qualified}: a view that accepts no writes; only reads were probed")
    return targets


_OWNED_SQL = """
SELECT n.nspname || '.' || c.relname AS relation, c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced, pg_catalog.pg_get_userbyid(c.relowner) AS owner
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname || '.' || c.relname = ANY(%(relations)s) AND c.relkind IN ('r', 'p')
  AND pg_catalog.pg_has_role(%(role)s, c.relowner, 'USAGE')
ORDER BY 1
"""


def _refusal(
    session: GuardedSession, report: ProbeReport, role: dict[str, Any], targets: list[_Target], column: str
) -> list[Finding]:
    """Set report.refused when probing as the role would prove nothing; findings for what that reveals."""
    findings: list[Finding] = []
    name = report.app_role
    reasons: list[str] = []
    if role["rolsuper"] or role["rolbypassrls"]:
        attribute = "SUPERUSER" if role["rolsuper"] else "BYPASSRLS"
        reasons.append(f"{name} is {attribute}: row-level security never applies to it")
        findings.append(
            make_finding(
                "security.tenant_probe_role_bypasses_rls",
                object_type=ObjectType.ROLE,
                obj=name,
                message=f"The application role {name} is {attribute}, so every tenant's rows are visible to it.",
                evidence={"role": name, "attribute": attribute, "tenant_scoped_relations": len(targets)},
                fix=f"ALTER ROLE {quote_ident(name)} NOSUPERUSER NOBYPASSRLS;",
            )
        )
    owned = session.catalog(_OWNED_SQL, {"relations": [t.qualified for t in targets], "role": name})
    if owned:
        listed = ", ".join(str(r["relation"]) for r in owned[:5]) + (" ..." if len(owned) > 5 else "")
        reasons.append(f"{name} owns (or inherits the owner of) {len(owned)} tenant-scoped table(s): {listed}")
    unforced = [r for r in owned if r["rls_enabled"] and not r["rls_forced"]]
    tenants = _pick_tenants(session, targets, column) if unforced else []
    for r in unforced:
        relation = str(r["relation"])
        schema, _, table = relation.partition(".")
        evidence: dict[str, object] = {
            "app_role": name, "owner": str(r["owner"]), "rls_enabled": True, "rls_forced": False,
            "tenant_column": column,
        }
        if tenants and report.tenant_setting:
            sql_name = f"{quote_ident(schema)}.{quote_ident(table)}"
            evidence.update(_owner_view(session, report, sql_name, column, tenants[0]))
        through = "" if r["owner"] == name else f" (through {r['owner']})"
        findings.append(
            make_finding(
                "security.tenant_probe_owner_without_force",
                object_type=ObjectType.TABLE,
                obj=relation,
                message=(
                    f"{name} owns {relation}{through} and FORCE ROW LEVEL SECURITY is off, so its policies "
                    f"do not apply to the application: every tenant's rows are visible."
                ),
                evidence=evidence,
                fix=(
                    f"ALTER TABLE {quote_ident(schema)}.{quote_ident(table)} FORCE ROW LEVEL SECURITY;\n"
                    f"-- better: make a separate migration role the owner\n"
                    f"-- ALTER TABLE {quote_ident(schema)}.{quote_ident(table)} OWNER TO <migration_role>;"
                ),
            )
        )
    if reasons:
        report.refused = "Not probing as " + name + ": " + "; ".join(reasons) + "."
    return findings


def _owner_view(
    session: GuardedSession, report: ProbeReport, table: str, column: str, tenant: str
) -> dict[str, object]:
    """One read as the owning role with a tenant's context: the rows of other tenants it sees (evidence)."""
    col = quote_ident(column)
    session.catalog("SAVEPOINT dbsage_probe")
    try:
        session.catalog(f"SET LOCAL ROLE {quote_ident(report.app_role)}")
        session.catalog("SELECT pg_catalog.set_config(%s, %s, true)", [report.tenant_setting, tenant])
        row = session.catalog(
            f"SELECT count(*) AS visible, count(*) FILTER (WHERE {col}::text IS DISTINCT FROM %s) AS other"
            f" FROM (SELECT {col} FROM {table} LIMIT {READ_CAP}) s",
            [tenant],
        )[0]
    except QueryFailed:
        return {}
    finally:
        session.catalog("ROLLBACK TO SAVEPOINT dbsage_probe")
    return {
        "context_tenant": tenant,
        "rows_visible": int(row["visible"]),
        "other_tenant_rows_visible": int(row["other"]),
    }


def _pick_tenants(session: GuardedSession, targets: list[_Target], column: str) -> list[str]:
    """The two tenant values found in the most relations (then with the most rows), as text."""
    in_relations: Counter[str] = Counter()
    rows_of: Counter[str] = Counter()
    for target in targets:
        if target.kind in ("view", "materialized_view", "partition"):
            continue
        rows = session.catalog(
            f"SELECT tenant, count(*) AS n FROM (SELECT {quote_ident(column)}::text AS tenant"
            f" FROM {target.sql_name} WHERE {quote_ident(column)} IS NOT NULL LIMIT {SCAN_CAP}) s"
            " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20"
        )
        for r in rows:
            in_relations[str(r["tenant"])] += 1
            rows_of[str(r["tenant"])] += int(r["n"])
    ranked = sorted(in_relations, key=lambda t: (-in_relations[t], -rows_of[t], t))
    return ranked[:2]


def _sample(session: GuardedSession, targets: list[_Target], column: str, tenants: list[str]) -> None:
    """Per relation, as the connecting user: each tenant's row count and one row of each (as JSON)."""
    col = quote_ident(column)
    for target in targets:
        rows = session.catalog(
            f"SELECT tenant, count(*) AS n FROM (SELECT {col}::text AS tenant FROM {target.sql_name}"
            f" WHERE {col}::text = ANY(%s) LIMIT {SCAN_CAP}) s GROUP BY 1",
            [tenants],
        )
        target.counts = {str(r["tenant"]): int(r["n"]) for r in rows}
        target.counts["all"] = int(
            session.catalog_value(f"SELECT count(*) FROM (SELECT 1 FROM {target.sql_name} LIMIT {SCAN_CAP}) s") or 0
        )
        if not target.writable:
            continue
        for tenant in tenants:
            row = session.catalog(
                f"SELECT to_jsonb(t)::text AS j FROM {target.sql_name} t WHERE {col}::text = %s LIMIT 1", [tenant]
            )
            if row:
                target.samples[tenant] = str(row[0]["j"])


# -- asking as the application role --------------------------------------------------------------


@dataclass
class _Prober:
    session: GuardedSession
    setting: str
    column: str

    def _run(self, sql: str, params: list[Any], tenant: str | None) -> tuple[int | None, str | None, str | None]:
        """Run `sql` inside a savepoint with the tenant context; (count, sqlstate, error text)."""
        self.session.catalog("SAVEPOINT dbsage_probe")
        try:
            if tenant is not None:
                self.session.catalog("SELECT pg_catalog.set_config(%s, %s, true)", [self.setting, tenant])
            rows = self.session.catalog(sql, params or None)
        except QueryFailed as exc:
            self.session.catalog("ROLLBACK TO SAVEPOINT dbsage_probe")
            # The guard raises `from None`; the driver's error (with its SQLSTATE) stays the context.
            state = getattr(exc.__context__, "sqlstate", None)
            message = redact(exc.message).split(" DETAIL:")[0].split(" HINT:")[0]
            return None, state, f"{state or '?'}: {message}"
        self.session.catalog("ROLLBACK TO SAVEPOINT dbsage_probe")
        if not rows:
            return 1, None, None  # a statement with no result (the INSERT) that did not fail wrote its one row
        return int(next(iter(rows[0].values())) or 0), None, None

    def context_step(self, target: _Target, tenant: str | None) -> ProbeStep:
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {target.sql_name} LIMIT {READ_CAP}) s"
        name = "unset_context" if tenant is None else "empty_context"
        rows, state, error = self._run(sql, [], tenant)
        if error is not None:
            outcome: Outcome = "inconclusive" if state in _INCONCLUSIVE_STATES else "closed"
        else:
            outcome = "open" if rows else "closed"
        shown = sql if tenant is None else f"SELECT set_config('{self.setting}', '', true); {sql}"
        return ProbeStep(
            name=name, relation=target.qualified, tenant=tenant, sql=shown,
            expected=f"0 rows or an error (counted up to {READ_CAP})", rows=rows, error=error, outcome=outcome,
        )

    def select_step(self, target: _Target, tenant: str) -> ProbeStep:
        col = quote_ident(self.column)
        sql = (
            f"SELECT count(*) FROM (SELECT 1 FROM {target.sql_name}"
            f" WHERE {col}::text IS DISTINCT FROM %s LIMIT {READ_CAP}) s"
        )
        rows, state, error = self._run(sql, [tenant], tenant)
        if error is not None:
            outcome: Outcome = "inconclusive" if state in _INCONCLUSIVE_STATES else "closed"
        else:
            outcome = "open" if rows else "closed"
        return ProbeStep(
            name="select", relation=target.qualified, tenant=tenant, sql=self._shown(sql, tenant, [tenant]),
            expected=f"0 rows of other tenants (counted up to {READ_CAP})", rows=rows, error=error, outcome=outcome,
        )

    def write_step(self, target: _Target, kind: Literal["update", "delete"], tenant: str, other: str) -> ProbeStep:
        col = quote_ident(self.column)
        where = f"{col}::text = %s"
        if target.kind not in ("view", "materialized_view"):
            # At most WRITE_CAP rows: the statement's own policies still decide which of them it may touch.
            where = (
                f"(tableoid, ctid) IN (SELECT tableoid, ctid FROM {target.sql_name}"
                f" WHERE {col}::text = %s LIMIT {WRITE_CAP})"
            )
        if kind == "update":
            statement = f"UPDATE {target.sql_name} SET {col} = {col} WHERE {where} RETURNING 1"
        else:
            statement = f"DELETE FROM {target.sql_name} WHERE {where} RETURNING 1"
        sql = f"WITH w AS ({statement}) SELECT count(*) FROM w"
        rows, state, error = self._run(sql, [other], tenant)
        if error is not None and state is not None and state.startswith("23"):
            # A constraint fails only on rows the statement reached: row-level security let it through.
            error += " (the statement reached other tenants' rows; only a constraint stopped it)"
        return ProbeStep(
            name=kind, relation=target.qualified, tenant=tenant, sql=self._shown(sql, tenant, [other]),
            expected=f"0 rows of tenant {other} touched (at most {WRITE_CAP} tried)", rows=rows, error=error,
            outcome=_write_outcome(rows, state, error),
        )

    def insert_step(self, target: _Target, tenant: str, other: str) -> ProbeStep:
        columns = ", ".join(quote_ident(c) for c in target.insert_columns)
        overriding = " OVERRIDING SYSTEM VALUE" if target.overriding else ""
        sql = (
            f"INSERT INTO {target.sql_name} ({columns}){overriding} SELECT {columns}"
            f" FROM jsonb_populate_record(NULL::{target.sql_name}, %s::jsonb)"
        )
        rows, state, error = self._run(sql, [target.samples[other]], tenant)
        outcome: Outcome
        if error is None:
            outcome = "open"
        elif state == "42501":
            outcome, rows = "closed", 0
        elif state is not None and state.startswith("23"):
            # Row-level security checks a new row before constraints: a constraint error means it passed.
            outcome, rows = "open", 0
            error += " (the policy let the row through; only a constraint stopped it)"
        else:
            outcome = _write_outcome(None, state, error)
        shown = self._shown(sql, tenant, [f"<a row of tenant {other}>"])
        return ProbeStep(
            name="insert", relation=target.qualified, tenant=tenant, sql=shown,
            expected="fails with 42501 (row-level security)", rows=rows, error=error, outcome=outcome,
        )

    def _shown(self, sql: str, tenant: str, params: list[str]) -> str:
        text = sql
        for value in params:
            text = text.replace("%s", "'" + value.replace("'", "''") + "'", 1)
        quoted = tenant.replace("'", "''")
        return f"SELECT set_config('{self.setting}', '{quoted}', true); {text}"


def _write_outcome(rows: int | None, state: str | None, error: str | None) -> Outcome:
    if error is None:
        return "open" if rows else "closed"
    if state == "42501" or state in _NO_WRITE_STATES:
        return "closed"
    if state is not None and state.startswith("23"):
        return "open"
    return "inconclusive"


# -- findings ------------------------------------------------------------------------------------

_RULE_OF_STEP = {
    "select": "security.tenant_probe_read_leak",
    "update": "security.tenant_probe_write_leak",
    "delete": "security.tenant_probe_write_leak",
    "insert": "security.tenant_probe_write_leak",
    "unset_context": "security.tenant_probe_context_fail_open",
    "empty_context": "security.tenant_probe_context_fail_open",
}


def _leak_findings(report: ProbeReport, targets: list[_Target], column: str, catalog: Catalog) -> list[Finding]:
    by_name = {t.qualified: t for t in targets}
    policies = {f"{t.schema_name}.{t.name}": t.policies for t in catalog.tables}
    grouped: dict[tuple[str, str], list[ProbeStep]] = {}
    for step in report.steps:
        if step.outcome == "open":
            grouped.setdefault((_RULE_OF_STEP[step.name], step.relation), []).append(step)
    findings: list[Finding] = []
    for (rule_id, relation), steps in sorted(grouped.items()):
        target = by_name[relation]
        evidence: dict[str, object] = {
            "app_role": report.app_role,
            "tenant_setting": report.tenant_setting,
            "kind": target.kind,
            "rows_per_tenant": [f"{t}={target.counts.get(t, 0)}" for t in report.tenants],
            "rows_total": target.counts.get("all", 0),
        }
        for step in steps:
            key = step.name if step.tenant is None or step.name.endswith("context") else f"{step.name}_as_{step.tenant}"
            evidence[key] = step.rows
        findings.append(
            make_finding(
                rule_id,
                object_type=ObjectType.VIEW if target.kind in ("view", "materialized_view") else ObjectType.TABLE,
                obj=relation,
                message=_leak_message(rule_id, report, target, steps),
                evidence=evidence,
                fix=_leak_fix(target, column, report.tenant_setting, policies.get(relation, [])),
            )
        )
    return findings


def _leak_message(rule_id: str, report: ProbeReport, target: _Target, steps: list[ProbeStep]) -> str:
    role = report.app_role
    if rule_id == "security.tenant_probe_read_leak":
        seen = ", ".join(f"as tenant {s.tenant} {s.rows} row(s)" for s in steps)
        return f"As {role}, {target.qualified} shows rows of other tenants: {seen}."
    if rule_id == "security.tenant_probe_context_fail_open":
        seen = ", ".join(f"{s.name.replace('_', ' ')}: {s.rows} row(s)" for s in steps)
        return f"As {role} without a tenant context, {target.qualified} still shows rows ({seen})."
    done = ", ".join(
        f"insert as tenant {s.tenant}: passed row-level security" if s.name == "insert"
        else f"{s.name} as tenant {s.tenant}: {s.rows} row(s)"
        for s in steps
    )
    return f"As {role}, writes to {target.qualified} cross tenants ({done})."


def _leak_fix(target: _Target, column: str, setting: str, policies: list[Policy]) -> str:
    name = target.sql_name
    if target.kind == "view":
        return f"ALTER VIEW {name} SET (security_invoker = true);"
    if target.kind == "materialized_view":
        return f"REVOKE SELECT ON {name} FROM PUBLIC;  -- a materialized view has no row-level security"
    predicate = f"{quote_ident(column)} = nullif(current_setting('{setting}', true), '')::{target.column_type}"
    policy = quote_ident(f"{target.name}_tenant_isolation"[:63])
    lines = [
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY;",
        f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY;",
    ]
    for existing in policies:
        if existing.permissive:
            lines.append(f"DROP POLICY {quote_ident(existing.name)} ON {name};  -- admits other tenants or no context")
    lines.append(f"CREATE POLICY {policy} ON {name} USING ({predicate}) WITH CHECK ({predicate});")
    return "\n".join(lines)

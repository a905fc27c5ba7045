"""The tenant-isolation probe on real PostgreSQL: proof on a correct schema, row counts on broken ones."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dbsage.tools.errors import InputError
from dbsage.tools.findings import Finding
from dbsage.tools.sources.guard import LiveDatabase
from dbsage.tools.sources.live import load_catalog
from dbsage.tools.tenant_probe import ProbeReport, probe_tenants
from tests.conftest import FIXTURES
from tests.dbutil import admin_postgres, postgres_url_for, run_postgres_script

pytestmark = pytest.mark.postgres


@dataclass
class Env:
    url: str
    app: str
    owner: str


@pytest.fixture
def tenant_env(postgres_server_url: str) -> Iterator[Callable[[str], Env]]:
    """Factory: a fresh database from a tenant fixture, with unique owner and app roles; all dropped after."""
    made: list[tuple[str, str, str]] = []

    def make(fixture: str) -> Env:
        suffix = uuid.uuid4().hex[:8]
        app, owner, name = f"tprobe_app_{suffix}", f"tprobe_owner_{suffix}", f"dbsage_tprobe_{suffix}"
        with admin_postgres(postgres_server_url) as conn:
            conn.execute(f"CREATE ROLE {app} LOGIN")
            conn.execute(f"CREATE ROLE {owner} NOLOGIN")
            made.append((name, app, owner))
            conn.execute(f'CREATE DATABASE "{name}"')
        url = postgres_url_for(postgres_server_url, name)
        script = (FIXTURES / fixture).read_text()
        run_postgres_script(url, script.replace("__APP_ROLE__", app).replace("__OWNER_ROLE__", owner))
        return Env(url, app, owner)

    yield make
    with admin_postgres(postgres_server_url) as conn:
        for name, app, owner in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f"DROP ROLE IF EXISTS {app}")
            conn.execute(f"DROP ROLE IF EXISTS {owner}")


def _probe(url: str, role: str, **kwargs: str) -> tuple[ProbeReport, list[Finding]]:
    with LiveDatabase.open(url) as db:
        return probe_tenants(db, app_role=role, catalog=load_catalog(db), **kwargs)


def _steps(report: ProbeReport, relation: str, name: str) -> dict[str | None, int | None]:
    return {s.tenant: s.rows for s in report.steps if s.relation == relation and s.name == name}


def _row_counts(url: str) -> dict[str, int]:
    with admin_postgres(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, (xpath('/row/n/text()', query_to_xml("
            "format('SELECT count(*) AS n FROM app.%I', c.relname), false, true, '')))[1]::text::int"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'app' AND c.relkind IN ('r', 'p')"
        ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def test_correct_schema_is_proven_isolated(tenant_env: Callable[[str], Env]) -> None:
    env = tenant_env("tenant_rls_good.sql")
    before = _row_counts(env.url)
    report, findings = _probe(env.url, env.app)
    assert report.refused is None
    assert report.tenant_setting == "app.tenant_id"  # read from the policies
    assert report.tenants == ["1", "2"]
    assert set(report.relations) == {
        "app.customers", "app.orders", "app.events", "app.events_1", "app.events_2", "app.events_rest",
        "app.customer_orders",
    }
    assert report.isolated
    assert findings == []
    assert {s.outcome for s in report.steps} == {"closed"}
    # Every kind of question was asked of the base tables, as both tenants.
    for relation in ("app.customers", "app.orders", "app.events"):
        names = {(s.name, s.tenant) for s in report.steps if s.relation == relation}
        assert names == {
            ("unset_context", None), ("empty_context", ""),
            *((kind, t) for kind in ("select", "update", "delete", "insert") for t in ("1", "2")),
        }
        assert _steps(report, relation, "select") == {"1": 0, "2": 0}
        assert _steps(report, relation, "update") == {"1": 0, "2": 0}
        inserts = [s for s in report.steps if s.relation == relation and s.name == "insert"]
        assert all(s.error is not None and s.error.startswith("42501") for s in inserts)
    # The security_invoker view and the partitions are read with the same result.
    assert _steps(report, "app.customer_orders", "select") == {"1": 0, "2": 0}
    assert _steps(report, "app.events_1", "unset_context") == {None: 0}
    assert _steps(report, "app.events_rest", "empty_context") == {"": 0}
    # Everything was rolled back.
    assert _row_counts(env.url) == before


def test_broken_schema_shows_the_leaks_with_row_counts(tenant_env: Callable[[str], Env]) -> None:
    env = tenant_env("tenant_rls_broken.sql")
    before = _row_counts(env.url)
    report, findings = _probe(env.url, env.app)
    assert report.refused is None and not report.isolated
    by_key = {(f.rule_id, f.object): f for f in findings}
    assert all(f.severity == "blocker" for f in findings)
    # RLS off: tenant 1 sees tenant 2's 2 invoices, tenant 2 sees tenant 1's 3; writes cross as well.
    assert _steps(report, "app.invoices", "select") == {"1": 2, "2": 3}
    assert _steps(report, "app.invoices", "update") == {"1": 2, "2": 3}
    assert _steps(report, "app.invoices", "delete") == {"1": 2, "2": 3}
    assert {s.outcome for s in report.steps if s.relation == "app.invoices"} == {"open"}
    read = by_key[("security.tenant_probe_read_leak", "app.invoices")]
    assert read.evidence["select_as_1"] == 2 and read.evidence["select_as_2"] == 3
    assert read.fix is not None and "ENABLE ROW LEVEL SECURITY" in read.fix
    write = by_key[("security.tenant_probe_write_leak", "app.invoices")]
    assert write.evidence["update_as_1"] == 2 and write.evidence["delete_as_2"] == 3
    # The fail-open policy: no context and an empty one show all 3 notes, a set context only its own.
    assert _steps(report, "app.notes", "unset_context") == {None: 3}
    assert _steps(report, "app.notes", "empty_context") == {"": 3}
    assert _steps(report, "app.notes", "select") == {"1": 0, "2": 0}
    assert by_key[("security.tenant_probe_context_fail_open", "app.notes")].evidence["empty_context"] == 3
    # A view owned by the superuser reads every tenant's customers.
    assert _steps(report, "app.customer_report", "select") == {"1": 2, "2": 3}
    view = by_key[("security.tenant_probe_read_leak", "app.customer_report")]
    assert view.fix == 'ALTER VIEW "app"."customer_report" SET (security_invoker = true);'
    # The correctly configured table stays closed and yields no finding.
    assert {s.outcome for s in report.steps if s.relation == "app.customers"} == {"closed"}
    assert not any(f.object == "app.customers" for f in findings)
    assert _row_counts(env.url) == before

    # Applying the fixes closes every leak.
    with admin_postgres(env.url) as conn:
        for fix in {f.fix for f in findings if f.fix}:
            conn.execute(fix.encode())
    report_after, findings_after = _probe(env.url, env.app)
    assert findings_after == []
    assert report_after.isolated
    assert _steps(report_after, "app.invoices", "select") == {"1": 0, "2": 0}


def test_probing_as_the_owner_is_refused_with_the_unforced_table(tenant_env: Callable[[str], Env]) -> None:
    env = tenant_env("tenant_rls_broken.sql")
    report, findings = _probe(env.url, env.owner)
    assert report.refused is not None and "owns" in report.refused and "app.notes" in report.refused
    assert report.steps == [] and not report.isolated
    (finding,) = findings  # customers is forced, invoices has RLS off (its own problem): notes only
    assert finding.rule_id == "security.tenant_probe_owner_without_force"
    assert finding.object == "app.notes"
    assert finding.evidence["rls_forced"] is False
    # Measured: with tenant 1's context the owner still sees tenant 2's two notes.
    assert finding.evidence["rows_visible"] == 3 and finding.evidence["other_tenant_rows_visible"] == 2
    assert finding.fix is not None and finding.fix.startswith('ALTER TABLE "app"."notes" FORCE ROW LEVEL SECURITY;')


def test_bypassrls_role_is_refused(tenant_env: Callable[[str], Env]) -> None:
    env = tenant_env("tenant_rls_good.sql")
    with admin_postgres(env.url) as conn:
        conn.execute(f"ALTER ROLE {env.app} BYPASSRLS")
    report, findings = _probe(env.url, env.app)
    assert report.refused is not None and "BYPASSRLS" in report.refused
    assert report.steps == []
    assert [f.rule_id for f in findings] == ["security.tenant_probe_role_bypasses_rls"]
    assert findings[0].object == env.app


def test_tenant_setting_override_and_bad_input(tenant_env: Callable[[str], Env]) -> None:
    env = tenant_env("tenant_rls_good.sql")
    # A setting the policies do not read: no tenant context ever matches, every step is closed.
    report, _ = _probe(env.url, env.app, tenant_setting="other.tenant")
    assert report.tenant_setting == "other.tenant"
    assert report.isolated
    with pytest.raises(InputError):
        _probe(env.url, env.app, tenant_setting="no_dot; DROP TABLE x")
    with pytest.raises(InputError):
        _probe(env.url, "tprobe_no_such_role_" + uuid.uuid4().hex[:6])


def test_writes_are_capped_and_counts_stay_exact_below_the_read_cap(tenant_env: Callable[[str], Env]) -> None:
    env = tenant_env("tenant_rls_broken.sql")
    with admin_postgres(env.url) as conn:
        conn.execute("INSERT INTO app.invoices SELECT g, 2, 1 FROM generate_series(100, 249) g")
    report, _ = _probe(env.url, env.app)
    assert _steps(report, "app.invoices", "select") == {"1": 152, "2": 3}
    # At most WRITE_CAP rows are touched per write step, however many are reachable.
    assert _steps(report, "app.invoices", "update") == {"1": 100, "2": 3}
    assert _steps(report, "app.invoices", "delete") == {"1": 100, "2": 3}


def test_chinook_without_rls_leaks_per_customer(postgres_db: Callable[[str], str], realworld: Path) -> None:
    """A real sample database, customer_id taken as the tenant: no RLS anywhere, so every step is open."""
    text = (realworld / "chinook" / "Chinook_PostgreSql.sql").read_text()
    url = postgres_db(text[text.index("CREATE TABLE") :])
    role = f"tprobe_chinook_{uuid.uuid4().hex[:8]}"
    with admin_postgres(url) as conn:
        conn.execute(f"CREATE ROLE {role} NOLOGIN")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        counts = dict(conn.execute(
            "SELECT customer_id::text, count(*) FROM invoice GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 2"
        ).fetchall())
        total = conn.execute("SELECT count(*) FROM invoice").fetchone()
    try:
        # No policy names a setting: without an override the probe says so instead of guessing.
        refused, none = _probe(url, role, tenant_column="customer_id")
        assert refused.refused is not None and "tenant_setting" in refused.refused and none == []
        report, findings = _probe(url, role, tenant_column="customer_id", tenant_setting="app.customer_id")
        assert report.relations == ["public.customer", "public.invoice"]
        assert not report.isolated
        assert total is not None
        first, second = report.tenants
        assert _steps(report, "public.invoice", "select") == {
            first: total[0] - counts[first], second: total[0] - counts[second],
        }
        assert _steps(report, "public.invoice", "unset_context") == {None: total[0]}
        # Deleting another customer's invoices reaches them; only invoice_line's foreign key stops it.
        deletes = [s for s in report.steps if s.relation == "public.invoice" and s.name == "delete"]
        assert [s.outcome for s in deletes] == ["open", "open"]
        assert all(s.error is not None and s.error.startswith("23503") for s in deletes)
        assert {f.rule_id for f in findings} == {
            "security.tenant_probe_read_leak", "security.tenant_probe_write_leak",
            "security.tenant_probe_context_fail_open",
        }
    finally:
        with admin_postgres(url) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")

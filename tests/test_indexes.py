"""suggest_indexes against real PostgreSQL (with HypoPG), SQLite and MariaDB, plus column resolution."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from dbsage.tools import indexes
from dbsage.tools.catalog import Catalog, Column, Dialect, Index, IndexKey, Table
from dbsage.tools.errors import InputError
from dbsage.tools.index_candidates import QueryShape, Skipped, analyse_query, candidates_for, split_statements
from dbsage.tools.indexes import suggest_indexes
from tests.conftest import MysqlFactory, PostgresFactory, SqliteFactory, need
from tests.dbutil import admin_mysql

PG_SHOP = """
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE TABLE customers (id int PRIMARY KEY, region text NOT NULL, name text);
CREATE TABLE orders (
    id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id),
    status text NOT NULL, created_at date NOT NULL, total numeric(10,2) NOT NULL
);
CREATE TABLE order_items (
    id int PRIMARY KEY, order_id int NOT NULL REFERENCES orders(id),
    product_id int NOT NULL, quantity int NOT NULL
);
INSERT INTO customers SELECT g, 'r' || (g % 20), 'c' || g FROM generate_series(1, 5000) g;
INSERT INTO orders SELECT g, 1 + g % 5000, (ARRAY['new','paid','shipped','done'])[1 + g % 4],
    date '2020-01-01' + (g % 1000), g % 500 FROM generate_series(1, 100000) g;
INSERT INTO order_items SELECT g, 1 + (g * 7) % 100000, g % 3000, 1 + g % 5 FROM generate_series(1, 200000) g;
CREATE INDEX orders_status ON orders (status);
CREATE INDEX orders_status_created ON orders (status, created_at);
ANALYZE;
"""

PG_WORKLOAD = [
    "SELECT o.id, sum(i.quantity) FROM orders o JOIN order_items i ON i.order_id = o.id "
    "WHERE o.id = 4242 GROUP BY o.id",
    "SELECT count(*) FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE customer_id = 17)",
    "SELECT product_id, quantity FROM order_items WHERE product_id = 12",
]


def _catalog() -> Catalog:
    def cols(*names: str) -> list[Column]:
        return [Column(name=n, position=i, data_type="integer", base_type="integer") for i, n in enumerate(names, 1)]

    return Catalog(
        dialect=Dialect.POSTGRES,
        source="ddl",
        tables=[
            Table(schema_name="public", name="orders", columns=cols("id", "customer_id", "created_at", "status"),
                  indexes=[Index(name="orders_pkey", keys=[IndexKey(column="id")], primary=True, unique=True)]),
            Table(schema_name="public", name="order_items", columns=cols("id", "order_id", "product_id", "qty")),
        ],
    )


def _shape(sql: str) -> QueryShape:
    result = analyse_query(1, sql, _catalog())
    assert isinstance(result, QueryShape), result
    return result


def test_resolution_through_cte_alias_and_join() -> None:
    shape = _shape(
        "WITH big AS (SELECT order_id, sum(qty) AS s FROM order_items GROUP BY order_id) "
        "SELECT o.id FROM orders o JOIN big b ON b.order_id = o.id "
        "WHERE o.status = 'x' AND created_at > DATE '2020-01-01' ORDER BY created_at"
    )
    orders = shape.uses[("public", "orders")]
    assert orders.equality == ["status"]
    assert orders.join == ["id"]
    assert orders.range == ["created_at"]
    assert orders.order == ["created_at"]
    assert shape.uses[("public", "order_items")].group == ["order_id"]


def test_resolution_of_correlated_subquery_and_derived_table() -> None:
    shape = _shape(
        "SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = orders.id AND qty > 3)"
    )
    items = shape.uses[("public", "order_items")]
    assert items.join == ["order_id"]  # probed once per outer row
    assert items.range == ["qty"]
    derived = _shape("SELECT x.c FROM (SELECT customer_id AS c FROM orders WHERE status = 'a') AS x")
    assert derived.uses[("public", "orders")].equality == ["status"]


def test_candidates_put_equality_before_range_and_skip_existing() -> None:
    shape = _shape("SELECT * FROM orders WHERE status = 'a' AND created_at > DATE '2021-01-01'")
    cands = {c.columns for c in candidates_for([shape], _catalog(), max_width=2, covering=False)}
    assert ("status", "created_at") in cands
    assert ("created_at", "status") not in cands
    pk = _shape("SELECT * FROM orders WHERE id = 3")
    assert candidates_for([pk], _catalog(), max_width=2, covering=False) == []


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELEC id FROM orders", "does not parse"),
        ("CREATE TABLE z (a int)", "CREATE statement"),
        ("SELECT nope FROM orders", "does not have"),
        ("SELECT * FROM orders WHERE id = $1", "bind parameters"),
    ],
)
def test_bad_queries_are_skipped_with_a_reason(sql: str, reason: str) -> None:
    result = analyse_query(1, sql, _catalog())
    assert isinstance(result, Skipped)
    assert reason in result.reason


def test_split_statements_ignores_semicolons_in_strings_and_comments() -> None:
    text = "SELECT ';' FROM t; -- a; comment\nSELECT 2 /* ; */;"
    assert split_statements(text) == ["SELECT ';' FROM t", "SELECT 2"]


def test_postgres_hypopg_proposes_the_join_index_and_drops_the_redundant_one(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PG_SHOP)
    messages: list[str] = []
    report = suggest_indexes(dsn=url, queries=PG_WORKLOAD, progress=messages.append)
    wl = report.workload
    assert wl.method == "hypopg" and wl.verified
    assert wl.queries_analyzed == 3
    assert wl.relative_cost is not None and wl.relative_cost < 0.2
    assert wl.whatif_calls > 0 and messages
    leading = {(r.table, r.columns[0]) for r in report.recommendations}
    assert ("public.order_items", "order_id") in leading
    join = next(r for r in report.recommendations if r.columns[0] == "order_id")
    assert join.create_sql.startswith("CREATE INDEX CONCURRENTLY")
    assert join.size_bytes and join.size_bytes > 0
    assert join.queries and all(q.cost_after < q.cost_before for q in join.queries)  # type: ignore[operator]
    dropped = {d.index: d for d in report.drop}
    assert dropped["public.orders.orders_status"].reason == "prefix_redundant"
    assert "DROP INDEX CONCURRENTLY" in (dropped["public.orders.orders_status"].drop_sql or "")
    assert any(f.rule_id == "index.redundant_prefix_index" for f in report.findings)
    # The session's hypothetical indexes are gone: nothing was created for real either.
    again = suggest_indexes(dsn=url, queries=PG_WORKLOAD[:1], budget_mb=0.001)
    assert again.recommendations == []


def test_postgres_without_hypopg_is_heuristic_and_says_so(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PG_SHOP.replace("CREATE EXTENSION IF NOT EXISTS hypopg;", ""))
    report = suggest_indexes(dsn=url, queries=PG_WORKLOAD)
    assert report.workload.method == "heuristic" and not report.workload.verified
    assert any("HypoPG" in c for c in report.could_not_check)
    assert ("public.order_items", ["order_id"]) in [(r.table, r.columns) for r in report.recommendations]
    assert all(not r.verified for r in report.recommendations)


def test_postgres_bad_workloads(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PG_SHOP)
    with pytest.raises(InputError, match="No analysable query"):
        suggest_indexes(dsn=url, queries=["DROP TABLE orders", "SELEC 1"])
    with pytest.raises(InputError, match="either"):
        suggest_indexes(dsn=url)
    with pytest.raises(InputError, match="max_width"):
        suggest_indexes(dsn=url, queries=PG_WORKLOAD, max_width=0)
    report = suggest_indexes(dsn=url, queries=[PG_WORKLOAD[2] + "; DELETE FROM orders; SELECT pg_sleep(1) FROM orders"])
    reasons = " ".join(s.reason for s in report.workload.queries_skipped)
    assert report.workload.queries_analyzed == 1
    assert "DELETE statement" in reasons and "guard" in reasons


SQLITE_SHOP = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, status TEXT NOT NULL);
CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),
                          product_id INTEGER NOT NULL, quantity INTEGER NOT NULL);
WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 20000)
INSERT INTO orders SELECT g, g % 500, CASE g % 3 WHEN 0 THEN 'new' ELSE 'done' END FROM n;
WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 40000)
INSERT INTO order_items SELECT g, 1 + (g * 7) % 20000, g % 300, 1 + g % 5 FROM n;
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_customer_again ON orders (customer_id);
"""


def test_sqlite_whatif_on_an_in_memory_copy(sqlite_db: SqliteFactory) -> None:
    url = sqlite_db(SQLITE_SHOP)
    report = suggest_indexes(
        dsn=url,
        queries=[
            "SELECT o.id, i.quantity FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.customer_id = 9"
        ],
    )
    wl = report.workload
    assert wl.method == "scratch_copy" and wl.verified and wl.cost_unit == "plan_shape"
    assert wl.relative_cost is not None and wl.relative_cost < 0.1
    assert [r.columns[0] for r in report.recommendations] == ["order_id"]
    assert report.recommendations[0].create_sql.startswith("CREATE INDEX IF NOT EXISTS")
    assert [d.reason for d in report.drop] == ["duplicate"]
    # The file itself is untouched: its indexes are still the two it had.
    import sqlite3

    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert names == {"orders_customer", "orders_customer_again"}


MARIADB_SHOP = """
CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(10) NOT NULL,
                     created_at DATE NOT NULL, KEY orders_status (status), KEY orders_status_id (status, id))
                     ENGINE=InnoDB;
CREATE TABLE order_items (id INT PRIMARY KEY, order_id INT NOT NULL, quantity INT NOT NULL) ENGINE=InnoDB;
"""


def test_mariadb_heuristic_candidates_and_innodb_duplicate(mysql_db: MysqlFactory) -> None:
    url = mysql_db(MARIADB_SHOP)
    # A user who may only read this database cannot make a scratch database: rule-of-thumb answers.
    user = f"dbsage_ro_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    admin = admin_mysql(url)
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'ro-pass-1'")
            cur.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'ro-pass-1'")
            cur.execute(f"GRANT SELECT ON `{database}`.* TO '{user}'@'%'")
            cur.execute(f"GRANT SELECT ON `{database}`.* TO '{user}'@'localhost'")
        reader = urlunsplit((parts.scheme, f"{user}:ro-pass-1@{parts.hostname}:{parts.port or 3306}",
                             parts.path, parts.query, ""))
        report = suggest_indexes(
            dsn=reader,
            queries=[
                "SELECT i.quantity FROM orders o JOIN order_items i ON i.order_id = o.id "
                "WHERE o.customer_id = 3 AND o.created_at >= '2024-01-01'"
            ],
        )
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%', '{user}'@'localhost'")
        admin.close()
    assert report.workload.method == "heuristic" and not report.workload.verified
    assert any("privilege" in c and "scratch copy" in c for c in report.could_not_check)
    # The drop list does not depend on the what-if method: read it as the owner.
    report.drop = suggest_indexes(dsn=url, queries=["SELECT quantity FROM order_items WHERE order_id = 3"]).drop
    cols = {(r.table.split(".")[1], tuple(r.columns)) for r in report.recommendations}
    assert ("orders", ("customer_id", "created_at")) in cols
    assert ("order_items", ("order_id",)) in cols
    assert all("ALGORITHM=INPLACE, LOCK=NONE" in r.create_sql for r in report.recommendations)
    # InnoDB appends the primary key to every secondary index: (status) holds (status, id).
    [drop] = report.drop
    assert drop.reason == "duplicate" and drop.index.endswith("orders_status_id") is not drop.index.endswith(
        "orders_status"
    )


def test_postgres_time_limit_and_missing_statistics_view(postgres_db: PostgresFactory) -> None:
    url = postgres_db(PG_SHOP)
    report = suggest_indexes(dsn=url, queries=PG_WORKLOAD, time_limit_s=0.001)
    assert report.workload.timed_out
    assert any("time limit" in c for c in report.could_not_check)
    assert report.recommendations == []
    with pytest.raises(InputError, match="pg_stat_statements is not installed"):
        suggest_indexes(dsn=url, from_stats=True)


def test_postgres_parameters_get_typical_values_and_stats_workload(
    postgres_db: PostgresFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_db(PG_SHOP + "\nCREATE EXTENSION IF NOT EXISTS pg_stat_statements;")
    report = suggest_indexes(
        dsn=url,
        queries=[
            "SELECT product_id, quantity FROM order_items WHERE product_id = $1 AND quantity >= $2 LIMIT $3",
            "SELECT * FROM orders WHERE $1 = $2",
        ],
    )
    assert report.workload.queries_analyzed == 1
    assert [s.query for s in report.workload.queries_skipped] == [2]
    assert "statistics" in report.workload.queries_skipped[0].reason
    assert any("pg_stats" in c for c in report.could_not_check)
    assert report.recommendations and report.recommendations[0].columns[0] == "product_id"

    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        settings = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name = 'shared_preload_libraries'"))
        need(
            "pg_stat_statements" in settings.get("shared_preload_libraries", ""),
            "pg_stat_statements is not preloaded",
            "add it to shared_preload_libraries",
        )
        for n in range(60):
            conn.execute("SELECT sum(quantity) FROM order_items WHERE product_id = %s", [n]).fetchall()
    # A fast machine may run the scan in under the 5 ms mean a production workload is filtered by.
    monkeypatch.setattr(indexes, "STATS_MIN_MEAN_MS", 0.0)
    stats = suggest_indexes(dsn=url, from_stats=True)
    assert stats.workload.queries_analyzed >= 1
    assert ("public.order_items", "product_id") in {(r.table, r.columns[0]) for r in stats.recommendations}


def test_postgres_partial_index_for_a_fixed_predicate(postgres_db: PostgresFactory) -> None:
    url = postgres_db(
        "CREATE EXTENSION IF NOT EXISTS hypopg;"
        "CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL, deleted_at timestamptz);"
        "INSERT INTO accounts SELECT g, 'u' || g || '@example.com',"
        " CASE WHEN g % 10 = 0 THEN NULL ELSE now() END FROM generate_series(1, 100000) g;"
        "ANALYZE accounts;"
    )
    report = suggest_indexes(
        dsn=url, queries=["SELECT id FROM accounts WHERE email = 'u40@example.com' AND deleted_at IS NULL"]
    )
    [rec] = report.recommendations
    assert rec.columns == ["email"] and rec.predicate == "deleted_at IS NULL"
    assert rec.create_sql.endswith("(email) WHERE deleted_at IS NULL;")
    assert report.workload.relative_cost is not None and report.workload.relative_cost < 0.05


def test_postgres_expression_index_for_a_wrapped_column(postgres_db: PostgresFactory) -> None:
    url = postgres_db(
        "CREATE EXTENSION IF NOT EXISTS hypopg;"
        "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);"
        "CREATE INDEX users_email ON users (email);"
        "INSERT INTO users SELECT g, 'User' || g || '@Example.com' FROM generate_series(1, 50000) g;"
        "ANALYZE users;"
    )
    report = suggest_indexes(dsn=url, queries=["SELECT id FROM users u WHERE lower(u.email) = 'user7@example.com'"])
    [rec] = report.recommendations
    assert rec.columns == ["(LOWER(email))"]
    assert "ON public.users ((LOWER(email)));" in rec.create_sql
    # A hypothetical expression index has no statistics of its own: the planner assumes 0.5% of rows
    # match, so the estimated gain is smaller than the real one.
    assert report.workload.relative_cost is not None and report.workload.relative_cost < 0.5


MARIADB_JOIN = """
CREATE TABLE customers (id INT PRIMARY KEY, region VARCHAR(10) NOT NULL) ENGINE=InnoDB;
CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, total INT NOT NULL) ENGINE=InnoDB;
INSERT INTO customers SELECT seq, CONCAT('r', seq % 20) FROM seq_1_to_2000;
INSERT INTO orders SELECT seq, 1 + seq % 2000, seq % 500 FROM seq_1_to_30000;
"""

MARIADB_JOIN_QUERY = (
    "SELECT c.region, o.total FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = 17"
)


def _whatif_databases(url: str) -> list[str]:
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE 'dbsage_whatif%'")
            return [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()


def test_mariadb_scratch_copy_costs_the_join_index_and_leaves_nothing(mysql_db: MysqlFactory) -> None:
    url = mysql_db(MARIADB_JOIN)
    database = urlsplit(url).path.lstrip("/")
    qualified = f"SELECT total FROM `{database}`.orders WHERE total = 7"
    report = suggest_indexes(dsn=url, queries=[MARIADB_JOIN_QUERY, qualified])
    assert report.workload.method == "scratch_copy" and report.workload.verified
    [named] = report.workload.queries_skipped
    assert named.query == 2 and "scratch copy" in named.reason
    assert report.workload.cost_unit in ("rows_examined", "planner")
    assert report.workload.relative_cost is not None and report.workload.relative_cost < 1
    [rec] = report.recommendations
    assert (rec.table.split(".")[1], rec.columns, rec.verified) == ("orders", ["customer_id"], True)
    assert rec.queries and rec.queries[0].cost_after is not None
    assert rec.queries[0].cost_before is not None and rec.queries[0].cost_after < rec.queries[0].cost_before
    assert any("sample of at most" in c for c in report.could_not_check)
    assert _whatif_databases(url) == []


def test_mariadb_from_stats_reads_statement_digests(mysql_db: MysqlFactory) -> None:
    url = mysql_db(MARIADB_JOIN)
    conn = admin_mysql(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@performance_schema")
            row = cur.fetchone()
            need(bool(row and row[0]), "performance_schema is off", "start MariaDB with performance_schema=ON")
            # The digest table has a fixed size; once full, new statements are only counted in its NULL row.
            cur.execute("TRUNCATE TABLE performance_schema.events_statements_summary_by_digest")
            for customer in (3, 5, 8):
                cur.execute(
                    "SELECT c.region, o.total FROM customers c JOIN orders o ON o.customer_id = c.id "
                    f"WHERE c.id = {customer}"
                )
                cur.fetchall()
    finally:
        conn.close()
    report = suggest_indexes(dsn=url, from_stats=True)
    assert report.workload.method == "scratch_copy"
    assert any("customer_id" in q.sql and "orders" in q.sql for q in report.workload.queries)
    assert any(r.columns == ["customer_id"] for r in report.recommendations)
    assert _whatif_databases(url) == []

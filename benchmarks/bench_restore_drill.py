"""The restore drill against doing the same by hand: what does dbsage's proof cost on top of backup + restore?

    python benchmarks/bench_restore_drill.py [--runs 3] [--rows 200000]
        [--url postgresql://postgres@127.0.0.1:5432/postgres] [--mysql-url mysql://root@127.0.0.1:3306/]

Databases, each loaded into a fresh `dbsage_bench_rd_<random>` database:
- sakila (PostgreSQL): Sakila's schema and data from the shared real-world folder (16,044 rentals);
- shop (PostgreSQL): four tables with foreign keys, a view and a sequence, `--rows` orders;
- chinook (MariaDB): Chinook's schema and data (2,240 invoice lines), when a MariaDB server answers.

For each, `--runs` times, the two interleaved (both see the same load), best of each:
- baseline: the raw tools as an operator would run them: pg_dump -Fc to a file, createdb, pg_restore
  --no-owner --no-privileges, dropdb (MariaDB: mariadb-dump --single-transaction --routines --triggers,
  CREATE DATABASE, the mariadb client, DROP DATABASE);
- dbsage: restore_drill(url): the same backup and restore, plus exact row counts on both sides, both
  catalogs read and compared, and the scratch database created and dropped.
Prints the drill's figures (backup size, backup/restore/compare seconds, tables, rows, verdict), both
times, the ratio dbsage / baseline and what the proof adds (dbsage - baseline). PASS when every drill
passes and, for each database, the ratio is at most 2.0 (the proof costs at most as much again as the
backup and restore themselves) or the proof adds at most 1 s (on a small database reading both catalogs
and counting rows is a fixed cost that a ratio overstates). Exit status 1 otherwise.
Every database it created is dropped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pymysql

from dbsage.tools.backup_model import RestoreDrill
from dbsage.tools.restore_drill import restore_drill

TARGET_RATIO = 2.0
FIXED_COST_S = 1.0  # a small database: reading two catalogs and counting rows is a fixed cost, not a ratio
REALWORLD = Path(os.environ.get("DBSAGE_REALWORLD", Path(__file__).resolve().parents[2] / "shared" / "realworld"))


def shop(rows: int) -> str:
    return f"""
CREATE SEQUENCE invoice_numbers START 1000;
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price numeric(10, 2) CHECK (price >= 0));
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    invoice bigint NOT NULL DEFAULT nextval('invoice_numbers'),
    placed_at timestamptz NOT NULL DEFAULT now(),
    note text
);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE TABLE order_items (
    order_id bigint NOT NULL REFERENCES orders (id), product_id int NOT NULL REFERENCES products (id),
    quantity int NOT NULL CHECK (quantity > 0), PRIMARY KEY (order_id, product_id)
);
CREATE VIEW order_totals AS SELECT o.id, sum(i.quantity * p.price) AS total
    FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id GROUP BY o.id;
INSERT INTO customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 10000) g;
INSERT INTO products (name, price) SELECT 'product ' || g, g * 1.5 FROM generate_series(1, 500) g;
INSERT INTO orders (customer_id, note) SELECT 1 + g % 10000, repeat('n', 40) FROM generate_series(1, {rows}) g;
INSERT INTO order_items SELECT o, 1 + (o * 7) % 500, 1 + o % 5 FROM generate_series(1, {rows}) o;
"""


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


# --- PostgreSQL ---------------------------------------------------------------------------------


def pg_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({"PGHOST": parts.hostname or "127.0.0.1", "PGPORT": str(parts.port or 5432),
                "PGUSER": parts.username or "postgres"})
    if parts.password:
        env["PGPASSWORD"] = parts.password
    return env


def pg_load(server: str, name: str, script: str | None, files: list[Path]) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    url = with_database(server, name)
    if script is not None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(script.encode())
    for file in files:
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", name, "-f", str(file)], env=pg_env(server),
                       check=True, stdout=subprocess.DEVNULL)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(b"VACUUM ANALYZE")
    return url


def pg_drop(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def pg_by_hand(server: str, source: str) -> float:
    env = pg_env(server)
    target = f"dbsage_bench_rd_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        file = str(Path(folder) / "backup.dump")
        started = time.monotonic()
        try:
            subprocess.run(["pg_dump", "--format=custom", f"--file={file}", source], env=env, check=True)
            subprocess.run(["createdb", target], env=env, check=True)
            subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "-d", target, file], env=env, check=True)
            subprocess.run(["dropdb", target], env=env, check=True)
            return time.monotonic() - started
        finally:
            pg_drop(server, target)


# --- MariaDB ------------------------------------------------------------------------------------


def mysql_connect(url: str) -> pymysql.connections.Connection:  # type: ignore[type-arg]
    parts = urlsplit(url)
    return pymysql.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
                           user=parts.username or "root", password=parts.password or "", autocommit=True)


def mysql_cli(url: str) -> list[str]:
    parts = urlsplit(url)
    return [f"--host={parts.hostname or '127.0.0.1'}", f"--port={parts.port or 3306}",
            f"--user={parts.username or 'root'}"]


def mysql_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {**os.environ, **({"MYSQL_PWD": parts.password} if parts.password else {})}


def mysql_load_chinook(server: str, name: str) -> str:
    text = (REALWORLD / "chinook" / "Chinook_MySql.sql").read_text(encoding="utf-8")
    text = re.sub(r"`Chinook`", f"`{name}`", text)
    subprocess.run(["mariadb", *mysql_cli(server)], input=text.encode(), env=mysql_env(server), check=True)
    return with_database(server, name)


def mysql_drop(server: str, name: str) -> None:
    conn = mysql_connect(server)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def mysql_by_hand(server: str, source: str) -> float:
    target = f"dbsage_bench_rd_{uuid.uuid4().hex[:8]}"
    env, cli = mysql_env(server), mysql_cli(server)
    database = urlsplit(source).path.lstrip("/")
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "backup.sql"
        started = time.monotonic()
        try:
            subprocess.run(["mariadb-dump", *cli, "--single-transaction", "--routines", "--triggers",
                            f"--result-file={file}", database], env=env, check=True)
            subprocess.run(["mariadb", *cli, "-e", f"CREATE DATABASE `{target}`"], env=env, check=True)
            with file.open("rb") as dump:
                subprocess.run(["mariadb", *cli, "--batch", target], stdin=dump, env=env, check=True)
            subprocess.run(["mariadb", *cli, "-e", f"DROP DATABASE `{target}`"], env=env, check=True)
            return time.monotonic() - started
        finally:
            mysql_drop(server, target)


# --- the comparison -----------------------------------------------------------------------------


def drill_once(url: str, keep: list[RestoreDrill]) -> float:
    started = time.monotonic()
    keep.append(restore_drill(url))
    return time.monotonic() - started


def measure(label: str, url: str, runs: int, by_hand: Callable[[], float]) -> bool:
    # Interleaved, best of each: both sides see the same load on a shared machine.
    drills: list[RestoreDrill] = []
    pairs = [(by_hand(), drill_once(url, drills)) for _ in range(runs)]
    baseline, dbsage = min(p[0] for p in pairs), min(p[1] for p in pairs)
    d = min(drills, key=lambda x: x.backup_seconds + x.restore_seconds)
    rows = sum(t.source_rows or 0 for t in d.tables)
    ratio, overhead = dbsage / baseline, dbsage - baseline
    ok = all(x.status == "pass" for x in drills) and (ratio <= TARGET_RATIO or overhead <= FIXED_COST_S)
    print(f"{label}: drill {d.status}, {len(d.tables)} tables, {rows:,} rows, backup {d.backup_bytes:,} bytes "
          f"in {d.backup_seconds:.2f} s, restore {d.restore_seconds:.2f} s, compare {d.compare_seconds:.2f} s; "
          f"by hand {baseline:.2f} s, dbsage {dbsage:.2f} s, ratio {ratio:.2f}, proof costs {overhead:+.2f} s "
          f"-> {'PASS' if ok else 'FAIL'}")
    if d.status != "pass":
        print(f"  {d.summary}; {d.errors[:3]}; {d.schema_diff[:3]}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("DBSAGE_BENCH_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--mysql-url", default=os.environ.get("DBSAGE_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/"))
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for tool in ("pg_dump", "pg_restore", "createdb", "dropdb", "psql"):
        if shutil.which(tool) is None:
            print(f"{tool} is not on PATH", file=sys.stderr)
            return 1
    results: list[bool] = []
    pg_made: list[str] = []
    my_made: list[str] = []
    try:
        sakila = REALWORLD / "sakila"
        if sakila.is_dir():
            name = f"dbsage_bench_rd_{uuid.uuid4().hex[:8]}"
            pg_made.append(name)
            url = pg_load(args.url, name, None, [sakila / "postgres-sakila-schema.sql",
                                                 sakila / "postgres-sakila-insert-data-using-copy.sql"])
            results.append(measure("sakila (PostgreSQL)", url, args.runs, lambda: pg_by_hand(args.url, name)))
        name = f"dbsage_bench_rd_{uuid.uuid4().hex[:8]}"
        pg_made.append(name)
        url = pg_load(args.url, name, shop(args.rows), [])
        results.append(measure(f"shop, {args.rows:,} orders (PostgreSQL)", url, args.runs,
                               lambda: pg_by_hand(args.url, name)))
        try:
            mysql_connect(args.mysql_url).close()
        except pymysql.Error as exc:
            print(f"chinook (MariaDB): skipped, no server at {args.mysql_url} ({exc})")
        else:
            name = f"dbsage_bench_rd_{uuid.uuid4().hex[:8]}"
            my_made.append(name)
            url = mysql_load_chinook(args.mysql_url, name)
            results.append(measure("chinook (MariaDB)", url, args.runs, lambda: mysql_by_hand(args.mysql_url, url)))
    finally:
        for name in pg_made:
            pg_drop(args.url, name)
        for name in my_made:
            mysql_drop(args.mysql_url, name)
    passed = all(results)
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

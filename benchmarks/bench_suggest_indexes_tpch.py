"""suggest_indexes on TPC-H (scale 0.1) in PostgreSQL with HypoPG: estimated and real effect.

    python benchmarks/bench_suggest_indexes_tpch.py [--url postgresql://postgres@127.0.0.1:5432/postgres]

Generates the data with `tpchgen-cli` (PyPI), loads it into a scratch database with primary keys
only (then VACUUM ANALYZE), installs HypoPG there, and asks suggest_indexes for the 22 standard queries (validation
parameters, PostgreSQL syntax, Q15's view as a CTE) at budgets of 50 MB and 500 MB. For each budget
it prints the relative workload cost (sum of estimated costs with / without the set), the geometric
mean of per-query cost ratios, the total index size, the advisor's wall time and its what-if calls.
Then it builds the 500 MB set for real and times the workload with and without it (median of 3,
each query capped by --query-timeout, so a capped baseline makes the speed-up a lower bound).
Targets (exit 1 when missed): 22/22 analysed; at 500 MB relative cost < 0.05, geometric mean < 0.40,
advisor time < 60 s. The scratch database is dropped at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from dbsage.tools.indexes import IndexReport, suggest_indexes

TABLES = ["region", "nation", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]

SCHEMA = """
CREATE TABLE region (r_regionkey integer PRIMARY KEY, r_name char(25) NOT NULL, r_comment varchar(152));
CREATE TABLE nation (n_nationkey integer PRIMARY KEY, n_name char(25) NOT NULL, n_regionkey integer NOT NULL,
    n_comment varchar(152));
CREATE TABLE part (p_partkey integer PRIMARY KEY, p_name varchar(55) NOT NULL, p_mfgr char(25) NOT NULL,
    p_brand char(10) NOT NULL, p_type varchar(25) NOT NULL, p_size integer NOT NULL,
    p_container char(10) NOT NULL, p_retailprice numeric(15,2) NOT NULL, p_comment varchar(23) NOT NULL);
CREATE TABLE supplier (s_suppkey integer PRIMARY KEY, s_name char(25) NOT NULL, s_address varchar(40) NOT NULL,
    s_nationkey integer NOT NULL, s_phone char(15) NOT NULL, s_acctbal numeric(15,2) NOT NULL,
    s_comment varchar(101) NOT NULL);
CREATE TABLE partsupp (ps_partkey integer NOT NULL, ps_suppkey integer NOT NULL, ps_availqty integer NOT NULL,
    ps_supplycost numeric(15,2) NOT NULL, ps_comment varchar(199) NOT NULL, PRIMARY KEY (ps_partkey, ps_suppkey));
CREATE TABLE customer (c_custkey integer PRIMARY KEY, c_name varchar(25) NOT NULL, c_address varchar(40) NOT NULL,
    c_nationkey integer NOT NULL, c_phone char(15) NOT NULL, c_acctbal numeric(15,2) NOT NULL,
    c_mktsegment char(10) NOT NULL, c_comment varchar(117) NOT NULL);
CREATE TABLE orders (o_orderkey integer PRIMARY KEY, o_custkey integer NOT NULL, o_orderstatus char(1) NOT NULL,
    o_totalprice numeric(15,2) NOT NULL, o_orderdate date NOT NULL, o_orderpriority char(15) NOT NULL,
    o_clerk char(15) NOT NULL, o_shippriority integer NOT NULL, o_comment varchar(79) NOT NULL);
CREATE TABLE lineitem (l_orderkey integer NOT NULL, l_partkey integer NOT NULL, l_suppkey integer NOT NULL,
    l_linenumber integer NOT NULL, l_quantity numeric(15,2) NOT NULL, l_extendedprice numeric(15,2) NOT NULL,
    l_discount numeric(15,2) NOT NULL, l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL,
    l_linestatus char(1) NOT NULL, l_shipdate date NOT NULL, l_commitdate date NOT NULL,
    l_receiptdate date NOT NULL, l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL,
    l_comment varchar(44) NOT NULL, PRIMARY KEY (l_orderkey, l_linenumber));
"""

TPCH_QUERIES: list[str] = [
    # Q1 pricing summary report
    """select l_returnflag, l_linestatus, sum(l_quantity) as sum_qty, sum(l_extendedprice) as sum_base_price,
  sum(l_extendedprice * (1 - l_discount)) as sum_disc_price,
  sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,
  avg(l_quantity) as avg_qty, avg(l_extendedprice) as avg_price, avg(l_discount) as avg_disc, count(*) as count_order
from lineitem
where l_shipdate <= date '1998-12-01' - interval '90 days'
group by l_returnflag, l_linestatus
order by l_returnflag, l_linestatus""",
    # Q2 minimum cost supplier
    """select s_acctbal, s_name, n_name, p_partkey, p_mfgr, s_address, s_phone, s_comment
from part, supplier, partsupp, nation, region
where p_partkey = ps_partkey and s_suppkey = ps_suppkey and p_size = 15 and p_type like '%BRASS'
  and s_nationkey = n_nationkey and n_regionkey = r_regionkey and r_name = 'EUROPE'
  and ps_supplycost = (
    select min(ps_supplycost) from partsupp, supplier, nation, region
    where p_partkey = ps_partkey and s_suppkey = ps_suppkey and s_nationkey = n_nationkey
      and n_regionkey = r_regionkey and r_name = 'EUROPE')
order by s_acctbal desc, n_name, s_name, p_partkey
limit 100""",
    # Q3 shipping priority
    """select l_orderkey, sum(l_extendedprice * (1 - l_discount)) as revenue, o_orderdate, o_shippriority
from customer, orders, lineitem
where c_mktsegment = 'BUILDING' and c_custkey = o_custkey and l_orderkey = o_orderkey
  and o_orderdate < date '1995-03-15' and l_shipdate > date '1995-03-15'
group by l_orderkey, o_orderdate, o_shippriority
order by revenue desc, o_orderdate
limit 10""",
    # Q4 order priority checking
    """select o_orderpriority, count(*) as order_count
from orders
where o_orderdate >= date '1993-07-01' and o_orderdate < date '1993-07-01' + interval '3 months'
  and exists (select * from lineitem where l_orderkey = o_orderkey and l_commitdate < l_receiptdate)
group by o_orderpriority
order by o_orderpriority""",
    # Q5 local supplier volume
    """select n_name, sum(l_extendedprice * (1 - l_discount)) as revenue
from customer, orders, lineitem, supplier, nation, region
where c_custkey = o_custkey and l_orderkey = o_orderkey and l_suppkey = s_suppkey
  and c_nationkey = s_nationkey and s_nationkey = n_nationkey and n_regionkey = r_regionkey
  and r_name = 'ASIA' and o_orderdate >= date '1994-01-01'
  and o_orderdate < date '1994-01-01' + interval '1 year'
group by n_name
order by revenue desc""",
    # Q6 forecasting revenue change
    """select sum(l_extendedprice * l_discount) as revenue
from lineitem
where l_shipdate >= date '1994-01-01' and l_shipdate < date '1994-01-01' + interval '1 year'
  and l_discount between 0.06 - 0.01 and 0.06 + 0.01 and l_quantity < 24""",
    # Q7 volume shipping
    """select supp_nation, cust_nation, l_year, sum(volume) as revenue
from (
  select n1.n_name as supp_nation, n2.n_name as cust_nation,
    extract(year from l_shipdate) as l_year, l_extendedprice * (1 - l_discount) as volume
  from supplier, lineitem, orders, customer, nation n1, nation n2
  where s_suppkey = l_suppkey and o_orderkey = l_orderkey and c_custkey = o_custkey
    and s_nationkey = n1.n_nationkey and c_nationkey = n2.n_nationkey
    and ((n1.n_name = 'FRANCE' and n2.n_name = 'GERMANY') or (n1.n_name = 'GERMANY' and n2.n_name = 'FRANCE'))
    and l_shipdate between date '1995-01-01' and date '1996-12-31'
) as shipping
group by supp_nation, cust_nation, l_year
order by supp_nation, cust_nation, l_year""",
    # Q8 national market share
    """select o_year, sum(case when nation = 'BRAZIL' then volume else 0 end) / sum(volume) as mkt_share
from (
  select extract(year from o_orderdate) as o_year, l_extendedprice * (1 - l_discount) as volume,
    n2.n_name as nation
  from part, supplier, lineitem, orders, customer, nation n1, nation n2, region
  where p_partkey = l_partkey and s_suppkey = l_suppkey and l_orderkey = o_orderkey
    and o_custkey = c_custkey and c_nationkey = n1.n_nationkey and n1.n_regionkey = r_regionkey
    and r_name = 'AMERICA' and s_nationkey = n2.n_nationkey
    and o_orderdate between date '1995-01-01' and date '1996-12-31'
    and p_type = 'ECONOMY ANODIZED STEEL'
) as all_nations
group by o_year
order by o_year""",
    # Q9 product type profit measure
    """select nation, o_year, sum(amount) as sum_profit
from (
  select n_name as nation, extract(year from o_orderdate) as o_year,
    l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity as amount
  from part, supplier, lineitem, partsupp, orders, nation
  where s_suppkey = l_suppkey and ps_suppkey = l_suppkey and ps_partkey = l_partkey
    and p_partkey = l_partkey and o_orderkey = l_orderkey and s_nationkey = n_nationkey
    and p_name like '%green%'
) as profit
group by nation, o_year
order by nation, o_year desc""",
    # Q10 returned item reporting
    """select c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) as revenue, c_acctbal, n_name,
  c_address, c_phone, c_comment
from customer, orders, lineitem, nation
where c_custkey = o_custkey and l_orderkey = o_orderkey and o_orderdate >= date '1993-10-01'
  and o_orderdate < date '1993-10-01' + interval '3 months' and l_returnflag = 'R'
  and c_nationkey = n_nationkey
group by c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
order by revenue desc
limit 20""",
    # Q11 important stock identification
    """select ps_partkey, sum(ps_supplycost * ps_availqty) as value
from partsupp, supplier, nation
where ps_suppkey = s_suppkey and s_nationkey = n_nationkey and n_name = 'GERMANY'
group by ps_partkey
having sum(ps_supplycost * ps_availqty) > (
  select sum(ps_supplycost * ps_availqty) * 0.0001
  from partsupp, supplier, nation
  where ps_suppkey = s_suppkey and s_nationkey = n_nationkey and n_name = 'GERMANY')
order by value desc""",
    # Q12 shipping modes and order priority
    """select l_shipmode,
  sum(case when o_orderpriority = '1-URGENT' or o_orderpriority = '2-HIGH' then 1 else 0 end) as high_line_count,
  sum(case when o_orderpriority <> '1-URGENT' and o_orderpriority <> '2-HIGH' then 1 else 0 end)
    as low_line_count
from orders, lineitem
where o_orderkey = l_orderkey and l_shipmode in ('MAIL', 'SHIP') and l_commitdate < l_receiptdate
  and l_shipdate < l_commitdate and l_receiptdate >= date '1994-01-01'
  and l_receiptdate < date '1994-01-01' + interval '1 year'
group by l_shipmode
order by l_shipmode""",
    # Q13 customer distribution
    """select c_count, count(*) as custdist
from (
  select c_custkey, count(o_orderkey)
  from customer left outer join orders on c_custkey = o_custkey and o_comment not like '%special%requests%'
  group by c_custkey
) as c_orders (c_custkey, c_count)
group by c_count
order by custdist desc, c_count desc""",
    # Q14 promotion effect
    """select 100.00 * sum(case when p_type like 'PROMO%' then l_extendedprice * (1 - l_discount) else 0 end)
  / sum(l_extendedprice * (1 - l_discount)) as promo_revenue
from lineitem, part
where l_partkey = p_partkey and l_shipdate >= date '1995-09-01'
  and l_shipdate < date '1995-09-01' + interval '1 month'""",
    # Q15 top supplier (the view as a CTE)
    """with revenue0 (supplier_no, total_revenue) as (
  select l_suppkey, sum(l_extendedprice * (1 - l_discount))
  from lineitem
  where l_shipdate >= date '1996-01-01' and l_shipdate < date '1996-01-01' + interval '3 months'
  group by l_suppkey)
select s_suppkey, s_name, s_address, s_phone, total_revenue
from supplier, revenue0
where s_suppkey = supplier_no and total_revenue = (select max(total_revenue) from revenue0)
order by s_suppkey""",
    # Q16 parts/supplier relationship
    """select p_brand, p_type, p_size, count(distinct ps_suppkey) as supplier_cnt
from partsupp, part
where p_partkey = ps_partkey and p_brand <> 'Brand#45' and p_type not like 'MEDIUM POLISHED%'
  and p_size in (49, 14, 23, 45, 19, 3, 36, 9)
  and ps_suppkey not in (select s_suppkey from supplier where s_comment like '%Customer%Complaints%')
group by p_brand, p_type, p_size
order by supplier_cnt desc, p_brand, p_type, p_size""",
    # Q17 small-quantity-order revenue
    """select sum(l_extendedprice) / 7.0 as avg_yearly
from lineitem, part
where p_partkey = l_partkey and p_brand = 'Brand#23' and p_container = 'MED BOX'
  and l_quantity < (select 0.2 * avg(l_quantity) from lineitem where l_partkey = p_partkey)""",
    # Q18 large volume customer
    """select c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity)
from customer, orders, lineitem
where o_orderkey in (select l_orderkey from lineitem group by l_orderkey having sum(l_quantity) > 300)
  and c_custkey = o_custkey and o_orderkey = l_orderkey
group by c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice
order by o_totalprice desc, o_orderdate
limit 100""",
    # Q19 discounted revenue
    """select sum(l_extendedprice * (1 - l_discount)) as revenue
from lineitem, part
where (p_partkey = l_partkey and p_brand = 'Brand#12'
    and p_container in ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG') and l_quantity >= 1 and l_quantity <= 1 + 10
    and p_size between 1 and 5 and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')
  or (p_partkey = l_partkey and p_brand = 'Brand#23'
    and p_container in ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK') and l_quantity >= 10 and l_quantity <= 10 + 10
    and p_size between 1 and 10 and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')
  or (p_partkey = l_partkey and p_brand = 'Brand#34'
    and p_container in ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG') and l_quantity >= 20 and l_quantity <= 20 + 10
    and p_size between 1 and 15 and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')""",
    # Q20 potential part promotion
    """select s_name, s_address
from supplier, nation
where s_suppkey in (
    select ps_suppkey from partsupp
    where ps_partkey in (select p_partkey from part where p_name like 'forest%')
      and ps_availqty > (
        select 0.5 * sum(l_quantity) from lineitem
        where l_partkey = ps_partkey and l_suppkey = ps_suppkey
          and l_shipdate >= date '1994-01-01' and l_shipdate < date '1994-01-01' + interval '1 year'))
  and s_nationkey = n_nationkey and n_name = 'CANADA'
order by s_name""",
    # Q21 suppliers who kept orders waiting
    """select s_name, count(*) as numwait
from supplier, lineitem l1, orders, nation
where s_suppkey = l1.l_suppkey and o_orderkey = l1.l_orderkey and o_orderstatus = 'F'
  and l1.l_receiptdate > l1.l_commitdate
  and exists (select * from lineitem l2 where l2.l_orderkey = l1.l_orderkey and l2.l_suppkey <> l1.l_suppkey)
  and not exists (
    select * from lineitem l3
    where l3.l_orderkey = l1.l_orderkey and l3.l_suppkey <> l1.l_suppkey and l3.l_receiptdate > l3.l_commitdate)
  and s_nationkey = n_nationkey and n_name = 'SAUDI ARABIA'
group by s_name
order by numwait desc, s_name
limit 100""",
    # Q22 global sales opportunity
    """select cntrycode, count(*) as numcust, sum(c_acctbal) as totacctbal
from (
  select substring(c_phone from 1 for 2) as cntrycode, c_acctbal
  from customer
  where substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17')
    and c_acctbal > (
      select avg(c_acctbal) from customer
      where c_acctbal > 0.00 and substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17'))
    and not exists (select * from orders where o_custkey = c_custkey)
) as custsale
group by cntrycode
order by cntrycode""",
]

TARGET_RELATIVE = 0.05
TARGET_GEOMEAN = 0.40
TARGET_SECONDS = 60.0


def find_tpchgen() -> str | None:
    beside = Path(sys.executable).with_name("tpchgen-cli")
    return str(beside) if beside.exists() else shutil.which("tpchgen-cli")


def url_for(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def load(url: str, data: Path) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        for table in TABLES:
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY {table} FROM STDIN WITH (DELIMITER '|')") as copy,
                open(data / f"{table}.tbl", encoding="utf-8") as fh,
            ):
                # dbgen-style rows end with the delimiter, which COPY would read as one more column.
                for line in fh:
                    copy.write(line.rstrip("\n").removesuffix("|") + "\n")
        # VACUUM too, as autovacuum would after a load: without a visibility map the planner costs
        # every index-only scan as a plain index scan.
        conn.execute("VACUUM ANALYZE")
        conn.execute("CREATE EXTENSION hypopg")


def geomean_ratio(report: IndexReport) -> float:
    ratios = [
        q.cost_after / q.cost_before
        for q in report.workload.queries
        if q.cost_before and q.cost_after is not None and q.cost_before > 0
    ]
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else float("nan")


def time_workload(url: str, timeout_s: float) -> tuple[float, int]:
    """Seconds for the 22 queries (a query over the cap counts as the cap) and how many hit the cap."""
    total, capped = 0.0, 0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
        for sql in TPCH_QUERIES:
            start = time.perf_counter()
            try:
                conn.execute(sql).fetchall()
                total += time.perf_counter() - start
            except psycopg.errors.QueryCanceled:
                total += timeout_s
                capped += 1
    return total, capped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--url", default=os.environ.get("DBSAGE_BENCH_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--max-indexes", type=int, default=20)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--query-timeout", type=float, default=30.0)
    args = parser.parse_args()
    tpchgen = find_tpchgen()
    if tpchgen is None:
        print("tpchgen-cli is not installed. Install it into this Python environment with:\n"
              f"    {sys.executable} -m pip install tpchgen-cli", file=sys.stderr)
        return 2
    name = f"dbsage_bench_tpch_{uuid.uuid4().hex[:8]}"
    url = url_for(args.url, name)
    ok = True
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix="dbsage_tpch_") as tmp:
            start = time.perf_counter()
            subprocess.run([tpchgen, "-s", "0.1", f"--output-dir={tmp}"], check=True)
            load(url, Path(tmp))
            print(f"TPC-H scale 0.1 generated and loaded in {time.perf_counter() - start:.1f} s")
        chosen: IndexReport | None = None
        for budget in (50, 500):
            start = time.perf_counter()
            report = suggest_indexes(dsn=url, queries=TPCH_QUERIES, budget_mb=budget,
                                     max_indexes=args.max_indexes, time_limit_s=args.time_limit)
            wall = time.perf_counter() - start
            wl = report.workload
            size = sum(r.size_bytes or 0 for r in report.recommendations)
            geo = geomean_ratio(report)
            print(f"\nbudget {budget} MiB: {wl.queries_analyzed}/22 analysed, {len(report.recommendations)} indexes, "
                  f"{size / 2**20:.1f} MiB")
            print(f"  relative workload cost {wl.relative_cost}  geometric mean of ratios {geo:.3f}")
            print(f"  advisor wall time {wall:.1f} s, what-if calls {wl.whatif_calls}, candidates {wl.candidates}, "
                  f"timed out: {wl.timed_out}")
            for s in wl.queries_skipped:
                print(f"  skipped query {s.query}: {s.reason}")
            for r in report.recommendations:
                inc = f" INCLUDE ({', '.join(r.include)})" if r.include else ""
                print(f"  {r.table}({', '.join(r.columns)}){inc}  {(r.size_bytes or 0) / 2**20:.1f} MiB  "
                      f"queries {[q.query for q in r.queries]}")
            if budget == 500:
                chosen = report
                checks = [
                    (wl.queries_analyzed == 22, "22/22 analysed"),
                    (wl.relative_cost is not None and wl.relative_cost < TARGET_RELATIVE,
                     f"relative cost < {TARGET_RELATIVE}"),
                    (geo < TARGET_GEOMEAN, f"geometric mean < {TARGET_GEOMEAN}"),
                    (wall < TARGET_SECONDS, f"advisor < {TARGET_SECONDS:g} s"),
                ]
                for passed, label in checks:
                    print(f"  {'PASS' if passed else 'FAIL'}: {label}")
                    ok = ok and passed
        assert chosen is not None
        print(f"\nreal effect (median of {args.runs}, queries capped at {args.query_timeout:g} s):")
        before = [time_workload(url, args.query_timeout) for _ in range(args.runs)]
        with psycopg.connect(url, autocommit=True) as conn:
            for r in chosen.recommendations:
                conn.execute(r.create_sql)
            conn.execute("ANALYZE")
        after = [time_workload(url, args.query_timeout) for _ in range(args.runs)]
        t_before = statistics.median(t for t, _ in before)
        t_after = statistics.median(t for t, _ in after)
        print(f"  without: {t_before:.2f} s ({max(c for _, c in before)} queries capped)")
        print(f"  with:    {t_after:.2f} s ({max(c for _, c in after)} queries capped)")
        print(f"  time ratio with / without: {t_after / t_before:.3f}"
              + (" (the baseline was capped: a lower bound on the speed-up)" if any(c for _, c in before) else ""))
        print("\nPostgres MCP Pro is not run here (it needs its own Python 3.12 environment).")
    finally:
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print("\n" + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

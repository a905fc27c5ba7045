"""How long checklist_review's repository readers for pools and caches take, against parsing every Python file.

    python benchmarks/bench_repo_readers.py [PATH] [--runs 3]

PATH is a code base (default: the installed SQLAlchemy package, a few hundred large Python files).
Best of --runs each, both from a cold start (a fresh scan, nothing cached):

  (a) baseline: read every .py file and ast.parse it once, what any ast-based reader of the whole
      code base has to pay at least;
  (b) dbsage: scan_repository, then the connection_pooling and cache_layer verdicts (worker count,
      pools, PgBouncer, cache clients and calls), the way checklist_review runs them.

It prints both times, the ratio (b)/(a) and PASS when it is at most 1.0 (exit 1 otherwise): the
readers must cost less than one full parse, which they achieve by parsing only the files whose text
can hold what they look for.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

from dbsage.tools import repo_cache, repo_pools
from dbsage.tools.checklist_repo import scan_repository
from dbsage.tools.health_postgres import pool_size
from dbsage.tools.rules.registry import RuleOptions

TARGET_RATIO = 1.0


def default_path() -> Path:
    import sqlalchemy

    return Path(sqlalchemy.__file__).parent


def parse_everything(root: Path) -> int:
    count = 0
    for path in sorted(root.rglob("*.py")):
        try:
            ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError):
            continue
        count += 1
    return count


def dbsage_readers(root: Path) -> tuple[str, str]:
    repo = scan_repository([str(root)])
    pools = repo_pools.connection_pooling(repo, pool_size(RuleOptions()), repo_pools.ServerLimits(100, 3))
    cache = repo_cache.cache_layer(repo)
    return pools.status.value, cache.status.value


def best(runs: int, fn: object, *args: object) -> tuple[float, object]:
    assert callable(fn)
    times: list[float] = []
    result: object = None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", nargs="?", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root: Path = args.path or default_path()
    baseline, parsed = best(args.runs, parse_everything, root)
    ours, statuses = best(args.runs, dbsage_readers, root)
    ratio = ours / baseline if baseline else float("inf")
    print(f"code base: {root} ({parsed} Python files parsed by the baseline)")
    print(f"(a) ast.parse of every file:         {baseline:8.2f} s")
    print(f"(b) dbsage pool and cache readers:   {ours:8.2f} s   (verdicts: pooling, cache = {statuses})")
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"ratio (b)/(a) = {ratio:.2f} (target <= {TARGET_RATIO:.1f}): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

"""The repository readers behind checklist_review's pool and cache items, one small snippet at a time:
what each parser reads from Python, pgbouncer.ini and command lines, what it flags and what it must not."""

from __future__ import annotations

import ast
import textwrap
import tomllib
from pathlib import Path

import pytest

from dbsage.knowledge.rulebook import load_rules
from dbsage.tools import checklist_repo, repo_cache, repo_pools
from dbsage.tools.checklist_model import ItemStatus, Verdict
from dbsage.tools.checklist_repo import Repository, scan_repository
from dbsage.tools.findings import Severity
from dbsage.tools.health_postgres import pool_size
from dbsage.tools.repo_pools import ServerLimits
from dbsage.tools.repo_python import resolve, string_head
from dbsage.tools.repo_workers import worker_count
from dbsage.tools.rules.registry import RuleOptions
from tests.conftest import REPO

POOL = pool_size(RuleOptions())  # recommended 9: 4 assumed cores x 2 + 1 spindle
SERVER = ServerLimits(100, 3)
SEEN: set[str] = set()  # every repo.* rule a test here made fire


def repo_of(tmp_path: Path, files: dict[str, str]) -> Repository:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return scan_repository([str(tmp_path)])


def pools(tmp_path: Path, files: dict[str, str], server: ServerLimits | None = SERVER,
          cores_given: bool = False) -> Verdict:
    verdict = repo_pools.connection_pooling(repo_of(tmp_path, files), POOL, server, cores_given=cores_given)
    SEEN.update(f.rule_id for f in verdict.findings)
    return verdict


def cache(tmp_path: Path, files: dict[str, str]) -> Verdict:
    verdict = repo_cache.cache_layer(repo_of(tmp_path, files))
    SEEN.update(f.rule_id for f in verdict.findings)
    return verdict


def rules_at(verdict: Verdict) -> set[tuple[str, str, int]]:
    return {(f.rule_id, f.location.file, f.location.line) for f in verdict.findings if f.location}


# ------------------------------------------------------------------------------------ python values


def expr(source: str) -> ast.expr:
    return ast.parse(source, mode="eval").body


def test_values_from_literals_constants_and_environment() -> None:
    assert resolve(expr("20"), {}).value == 20
    assert resolve(expr("POOL"), {"POOL": 7}).value == 7
    env = resolve(expr('int(os.environ.get("POOL_SIZE", "20"))'), {})
    assert (env.value, env.known, env.env) == (20, True, "POOL_SIZE")
    assert "environment variable POOL_SIZE" in env.describe()
    decoupled = resolve(expr('config("DB_POOL", default="15", cast=int)'), {})
    assert (decoupled.value, decoupled.env) == (15, "DB_POOL")
    unknown = resolve(expr("settings.POOL"), {})
    assert not unknown.known and "not known before run time" in unknown.describe()
    assert not resolve(expr('os.environ["POOL"]'), {}).known


def test_string_heads() -> None:
    assert string_head(expr('"user:1"')) == ("user:1", True)
    assert string_head(expr('f"user:{uid}"')) == ("user:", False)
    assert string_head(expr('f"{uid}"')) == ("", False)
    assert string_head(expr('"item_" + str(i)')) == ("item_", False)
    assert string_head(expr('"cart:{}".format(i)')) == ("cart:", False)
    assert string_head(expr("key")) is None


# ------------------------------------------------------------------------------------ workers


def test_worker_counts_from_every_source(tmp_path: Path) -> None:
    repo = repo_of(tmp_path, {
        "Procfile": "web: gunicorn shop.wsgi -w 4 --timeout 30\n",
        "Dockerfile": 'CMD ["uvicorn", "main:app", "--workers=3"]\nCMD uvicorn main:app --workers 6\n',
        ".env": "WEB_CONCURRENCY=5\n",
        "deploy/run.sh": "exec gunicorn app:app --workers ${GUNICORN_WORKERS:-12}\n",
    })
    workers = worker_count(repo)
    assert (workers.count, workers.assumed) == (12, False)
    assert workers.sources[0] == "deploy/run.sh:1 (default of $GUNICORN_WORKERS) workers=12"
    assert {"Procfile:1 workers=4", ".env:1 workers=5", "Dockerfile:2 workers=6"} <= set(workers.sources)


def test_worker_count_from_gunicorn_config_and_uvicorn_run(tmp_path: Path) -> None:
    repo = repo_of(tmp_path, {
        "gunicorn.conf.py": "import multiprocessing\nworkers = multiprocessing.cpu_count() * 2 + 1\n",
        "main.py": "import uvicorn\nif __name__ == '__main__':\n    uvicorn.run('main:app', workers=2)\n",
    })
    workers = worker_count(repo)
    assert (workers.count, workers.sources) == (2, ["main.py:3 workers=2"])
    assert workers.unresolved == ["gunicorn.conf.py:2 workers = multiprocessing.cpu_count() * 2 + 1"]


def test_no_worker_count_is_an_assumption(tmp_path: Path) -> None:
    repo = repo_of(tmp_path, {"gunicorn.conf.py": "import os\nworkers = os.cpu_count()\n"})
    workers = worker_count(repo)
    assert (workers.count, workers.assumed) == (1, True)
    text = workers.describe()
    assert "assumption: 1 worker" in text and "lower bound" in text and "os.cpu_count()" in text


# ------------------------------------------------------------------------------------ pools


def test_sqlalchemy_defaults_count_when_the_code_sets_nothing(tmp_path: Path) -> None:
    verdict = pools(tmp_path, {
        "db.py": "from sqlalchemy import create_engine\nengine = create_engine(URL)\n",
        "Procfile": "web: gunicorn app -w 9\n",
    })
    assert verdict.evidence["max_application_connections"] == 135  # (5 + 10) x 9
    assert "5 (SQLAlchemy default)" in str(verdict.evidence["pool_configuration"])
    assert rules_at(verdict) == {("repo.pool_exceeds_server", "db.py", 2), ("repo.pool_no_pre_ping", "db.py", 2)}
    assert verdict.status is ItemStatus.FAIL


def test_sqlalchemy_above_the_formula_but_under_the_server(tmp_path: Path) -> None:
    files = {"db.py": """
        import os
        from sqlalchemy.ext.asyncio import create_async_engine
        OPTIONS = {"pool_size": 10, "max_overflow": 5}
        engine = create_async_engine(
            os.environ["DATABASE_URL"],
            **OPTIONS,
            pool_pre_ping=True,
            pool_recycle=1800,
        )
        """}
    assumed = pools(tmp_path, files)  # 4 cores assumed: said, but it does not lower the status
    assert assumed.evidence["max_application_connections"] == 15
    assert rules_at(assumed) == {("repo.pool_above_recommended", "db.py", 4)}
    (above,) = assumed.findings
    assert above.severity is Severity.INFO and "assumed core count" in above.message
    assert assumed.status is ItemStatus.PASS
    given = pools(tmp_path, files, cores_given=True)
    assert given.findings[0].severity is Severity.LOW and given.status is ItemStatus.WARN


def test_pools_that_fit_alone_but_not_together(tmp_path: Path) -> None:
    verdict = pools(tmp_path, {"db.py": """
        from sqlalchemy import create_engine
        primary = create_engine(PRIMARY, pool_size=20, max_overflow=10, pool_pre_ping=True)
        replica = create_engine(REPLICA, pool_size=30, max_overflow=10, pool_pre_ping=True)
        """, "Procfile": "web: gunicorn app -w 2\n"})
    (over,) = [f for f in verdict.findings if f.rule_id == "repo.pool_exceeds_server"]
    assert over.location is not None and over.location.line == 3  # 60 + 80 > 97: placed at the larger one
    assert "60 (db.py:2) + 80 (db.py:3) = 140" in over.message and verdict.status is ItemStatus.FAIL


def test_sqlite_engines_and_static_pools_are_not_pools(tmp_path: Path) -> None:
    verdict = pools(tmp_path, {"db.py": """
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool
        local = create_engine("sqlite:///app.db")
        memory = create_engine("postgresql://x", poolclass=StaticPool)
        """})
    assert verdict.status is ItemStatus.WARN and "no connection pool" in (verdict.reason or "")


def test_unknown_sizes_are_said_not_guessed(tmp_path: Path) -> None:
    verdict = pools(tmp_path, {"db.py": """
        from sqlalchemy import create_engine
        engine = create_engine(URL, pool_size=settings.POOL, max_overflow=0, pool_pre_ping=True)
        """})
    assert verdict.findings == [] and verdict.status is ItemStatus.PASS
    assert "settings.POOL (not known before run time)" in str(verdict.evidence["pools_not_sized"])


def test_null_pool_without_and_with_pgbouncer(tmp_path: Path) -> None:
    files = {"db.py": """
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool
        engine = create_engine("postgresql://app@bouncer:6432/app", poolclass=NullPool)
        """}
    assert rules_at(pools(tmp_path, files)) == {("repo.pool_connection_per_request", "db.py", 3)}
    files["pgbouncer.ini"] = "[pgbouncer]\npool_mode = transaction\ndefault_pool_size = 8\n"
    verdict = pools(tmp_path, files)
    assert verdict.findings == [] and verdict.status is ItemStatus.PASS


def test_django_databases(tmp_path: Path) -> None:
    settings = """
        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "shop",
            },
            "replica": {
                "ENGINE": "django.db.backends.postgresql",
                "CONN_MAX_AGE": 600,
            },
            "reports": dj_database_url.config(conn_max_age=600, conn_health_checks=True),
            "local": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"},
        }
        """
    verdict = pools(tmp_path, {"shop/settings.py": settings})
    assert rules_at(verdict) == {
        ("repo.pool_connection_per_request", "shop/settings.py", 2),  # CONN_MAX_AGE 0 by default
        ("repo.pool_no_pre_ping", "shop/settings.py", 8),  # persistent, no CONN_HEALTH_CHECKS
    }
    assert len(verdict.evidence["pool_configuration"]) == 3  # type: ignore[arg-type]


def test_django_connections_count_per_thread(tmp_path: Path) -> None:
    verdict = pools(tmp_path, {
        "settings.py": 'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": 60,\n'
                       '                         "CONN_HEALTH_CHECKS": True}}\n',
        "gunicorn.conf.py": "workers = 5\nthreads = 25\n",
    })
    assert verdict.evidence["max_application_connections"] == 125  # 1 per thread x 25 threads x 5 workers
    (over,) = verdict.findings
    assert over.rule_id == "repo.pool_exceeds_server" and "gunicorn.conf.py:2 threads=25" in over.message


def test_django_psycopg_pool_option(tmp_path: Path) -> None:
    verdict = pools(tmp_path, {"settings.py": """
        DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql",
                                 "OPTIONS": {"pool": {"min_size": 2, "max_size": 30}}}}
        """, "Procfile": "web: gunicorn shop.wsgi --workers 4\n"})
    assert verdict.evidence["max_application_connections"] == 120
    assert rules_at(verdict) == {("repo.pool_exceeds_server", "settings.py", 1)}


def test_psycopg_pool_and_asyncpg(tmp_path: Path) -> None:
    verdict = pools(tmp_path, {
        "pool.py": "from psycopg_pool import ConnectionPool\npool = ConnectionPool(DSN, min_size=2, max_size=6)\n",
        "apool.py": "import asyncpg\nasync def make():\n    return await asyncpg.create_pool(DSN)\n",
        "small.py": "from psycopg_pool import AsyncConnectionPool\np = AsyncConnectionPool(DSN)\n",
    }, server=ServerLimits(20, 0))
    labels = " ".join(str(x) for x in verdict.evidence["pool_configuration"])  # type: ignore[union-attr]
    assert "max_size=6" in labels and "max_size=10 (asyncpg default)" in labels and "min_size=4 (psycopg_pool" in labels
    assert verdict.evidence["max_application_connections"] == 20  # 10 + 6 + 4
    assert rules_at(verdict) == {("repo.pool_above_recommended", "apool.py", 3)}


def test_pgbouncer_sizes_against_server_and_clients(tmp_path: Path) -> None:
    verdict = pools(tmp_path, {
        "deploy/pgbouncer.ini": """
            [databases]
            shop = host=db port=5432 dbname=shop pool_size=120

            [pgbouncer]
            pool_mode = session
            max_client_conn = 50
            """,
        "db.py": "from sqlalchemy import create_engine\nengine = create_engine(URL, pool_pre_ping=True)\n",
        "Procfile": "web: gunicorn app -w 4\n",
    })
    assert rules_at(verdict) == {
        ("repo.pool_exceeds_server", "deploy/pgbouncer.ini", 2),  # 120 server connections per pair > 97
        ("repo.pool_exceeds_pgbouncer_clients", "db.py", 2),  # (5 + 10) x 4 = 60 > 50 clients
    }


def test_transaction_pooling_with_session_state(tmp_path: Path) -> None:
    files = {
        "pgbouncer.ini": "[pgbouncer]\npool_mode = transaction\ndefault_pool_size = 5\n",
        "app/db.py": """
            import psycopg
            def tenant(conn, tid):
                conn.execute("SET search_path TO tenant_" + tid)
                conn.execute("SET LOCAL statement_timeout = '5s'")
                conn.execute(text("select pg_advisory_lock(42)"))
                conn.execute("SELECT pg_advisory_xact_lock(42)")
                conn.execute("CREATE TEMP TABLE scratch (id int) ON COMMIT DROP")
                conn.execute(f"LISTEN jobs_{tid}")
            """,
    }
    verdict = pools(tmp_path, files)
    assert rules_at(verdict) == {
        ("repo.pool_session_state_in_transaction_mode", "app/db.py", 3),
        ("repo.pool_session_state_in_transaction_mode", "app/db.py", 5),
        ("repo.pool_session_state_in_transaction_mode", "app/db.py", 8),
        ("repo.pool_prepared_statements_in_transaction_mode", "app/db.py", 1),  # psycopg 3, prepare_threshold 5
    }
    assert verdict.status is ItemStatus.FAIL
    files["app/connect.py"] = "import psycopg\nconn = psycopg.connect(DSN, prepare_threshold=None)\n"
    assert "repo.pool_prepared_statements_in_transaction_mode" not in {
        f.rule_id for f in pools(tmp_path, files).findings}
    session = dict(files, **{"pgbouncer.ini": "[pgbouncer]\npool_mode = session\ndefault_pool_size = 5\n"})
    assert pools(tmp_path, session).findings == []


def test_asyncpg_statement_cache_behind_pgbouncer(tmp_path: Path) -> None:
    files = {
        "docker-compose.yml": """
            services:
              bouncer:
                image: edoburu/pgbouncer
                environment:
                  POOL_MODE: transaction
                  DEFAULT_POOL_SIZE: "8"
            """,
        "db.py": """
            from sqlalchemy.ext.asyncio import create_async_engine
            engine = create_async_engine("postgresql+asyncpg://app@bouncer/app", pool_size=2, max_overflow=0)
            """,
    }
    verdict = pools(tmp_path, files)
    assert rules_at(verdict) == {("repo.pool_prepared_statements_in_transaction_mode", "db.py", 2),
                                 ("repo.pool_no_pre_ping", "db.py", 2)}
    assert "pool_mode=transaction" in str(verdict.evidence["pool_configuration"])
    files["db.py"] = files["db.py"].replace(
        "max_overflow=0)", "max_overflow=0, pool_pre_ping=True,\n    connect_args={'statement_cache_size': 0})")
    assert pools(tmp_path, files).findings == []
    tracked = {"pgbouncer.ini": "[pgbouncer]\npool_mode = transaction\ndefault_pool_size = 8\n"
                                "max_prepared_statements = 100\n",
               "db.py": "import asyncpg\npool = asyncpg.create_pool(DSN, max_size=4)\n"}
    assert pools(tmp_path / "tracked", tracked).findings == []  # PgBouncer 1.21+ tracks them


def test_tests_migrations_and_scripts_are_not_serving_pools(tmp_path: Path) -> None:
    engine = "from sqlalchemy import create_engine\nengine = create_engine(URL, pool_size=90)\n"
    verdict = pools(tmp_path, {"tests/conftest.py": engine, "alembic/env.py": engine, "scripts/backfill.py": engine,
                               "app/test_db.py": engine, "app/db.py": engine.replace("90", "2, pool_pre_ping=True")})
    assert verdict.evidence["pool_configuration"] == [
        "app/db.py:2 sqlalchemy(pool_size=2, max_overflow=10 (SQLAlchemy default), pool_pre_ping=True)"]
    assert verdict.findings[0].rule_id == "repo.pool_above_recommended"  # 12 > 9, information only


def test_other_languages_pass_unsized_and_nothing_warns(tmp_path: Path) -> None:
    java = pools(tmp_path / "java", {"src/main/resources/application.properties":
                                     "spring.datasource.hikari.maximumPoolSize=10\n"})
    assert java.status is ItemStatus.PASS and "not sized" in (java.reason or "")
    empty = pools(tmp_path / "empty", {"README.md": "a service\n"})
    assert empty.status is ItemStatus.WARN


def test_without_server_limits_sizes_are_not_judged(tmp_path: Path) -> None:
    verdict = pools(tmp_path, {"db.py": "engine = create_engine(URL, pool_size=500, pool_pre_ping=True)\n"},
                    server=None)
    assert {f.rule_id for f in verdict.findings} == {"repo.pool_above_recommended"}
    assert "not read" in str(verdict.evidence["server_limits"])


# ------------------------------------------------------------------------------------ caches


def test_redis_ttl_rules(tmp_path: Path) -> None:
    verdict = cache(tmp_path, {"app/cache.py": """
        import redis.asyncio as aioredis
        from redis import Redis
        r = Redis(host="cache")
        ar = aioredis.from_url("redis://cache")
        def store(uid, v):
            r.set(f"user:{uid}", v)
            r.set(f"user:{uid}:name", v, ex=60)
            r.set(f"user:{uid}:mail", v, 60)
            r.set(f"user:{uid}:keep", v, keepttl=True)
            r.hset(f"user:{uid}:h", mapping=v)
            r.hset(f"user:{uid}:h2", mapping=v)
            r.expire(f"user:{uid}:h2", 300)
            r.mset({"user:1": v})
            r.setex(f"user:{uid}:x", 60, v)
        async def astore(uid, v):
            await ar.set(f"session:{uid}", v, ex=None)
            with r.pipeline() as pipe:
                pipe.set(f"user:{uid}:p", v)
        """})
    assert {(rule, line) for rule, _, line in rules_at(verdict)} == {
        ("repo.cache_no_ttl", 6), ("repo.cache_no_ttl", 10), ("repo.cache_no_ttl", 13),
        ("repo.cache_no_ttl", 16), ("repo.cache_no_ttl", 18)}
    assert verdict.evidence["cache_clients"] == ["app/cache.py:3 redis", "app/cache.py:4 redis"]


def test_memcache_and_django(tmp_path: Path) -> None:
    verdict = cache(tmp_path, {
        "mc.py": """
            from pymemcache.client.base import Client
            mc = Client(("cache", 11211))
            def put(k, v):
                mc.set("page:" + k, v)
                mc.set("page:" + k, v, expire=60)
                mc.set("page:" + k, v, 0)
            """,
        "settings.py": """
            CACHES = {
                "default": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": "redis://cache:6379",
                    "TIMEOUT": None,
                },
            }
            """,
        "views.py": """
            from django.core.cache import cache
            def view(pk):
                cache.set(f"article:{pk}", 1)
                cache.set(f"article:{pk}:body", 1, timeout=None)
            """,
    })
    assert rules_at(verdict) == {
        ("repo.cache_no_ttl", "mc.py", 4), ("repo.cache_no_ttl", "mc.py", 6),
        ("repo.cache_no_ttl", "settings.py", 5), ("repo.cache_no_ttl", "views.py", 4)}


def test_keys_without_namespace(tmp_path: Path) -> None:
    verdict = cache(tmp_path, {"c.py": """
        import redis
        r = redis.StrictRedis()
        def read(uid, key):
            r.get(f"{uid}")
            r.get("counter")
            r.get("counter")
            r.get(f"user_{uid}")
            r.get(f"user:{uid}")
            r.get(key)
        """})
    assert rules_at(verdict) == {("repo.cache_key_unnamespaced", "c.py", 4),
                                 ("repo.cache_key_unnamespaced", "c.py", 5),
                                 ("repo.cache_key_unnamespaced", "c.py", 7)}
    assert verdict.evidence["keys_judged"] == 5  # the variable key cannot be judged


def test_clients_followed_across_modules_and_patterns(tmp_path: Path) -> None:
    verdict = cache(tmp_path, {
        "app/clients.py": "import redis\nredis_client = redis.Redis.from_url(URL)\n",
        "app/users.py": """
            from app.clients import redis_client
            def get_user(uid):
                hit = redis_client.get(f"user:{uid}")
                if hit is None:
                    hit = load(uid)
                    redis_client.set(f"user:{uid}", hit, ex=600)
                return hit
            def save_user(session, user):
                session.commit()
                redis_client.set(f"user:{user.id}", user, ex=600)
            def drop_user(session, user):
                session.delete(user)
                session.commit()
                redis_client.delete(f"user:{user.id}")
            """,
    })
    assert verdict.findings == [] and verdict.status is ItemStatus.PASS
    assert verdict.evidence["patterns"] == ["cache-aside app/users.py:6", "invalidation on write app/users.py:14",
                                            "write-through app/users.py:10"]


def test_node_redis_clients(tmp_path: Path) -> None:
    verdict = cache(tmp_path, {
        "web/cache.ts": """
            import Redis from "ioredis";
            const redis = new Redis(process.env.REDIS_URL);
            export async function save(id: string, body: string) {
              await redis.set(`article:${id}`, body);
              await redis.set(`article:${id}:v2`, body, "EX", 3600);
              await redis.set(id, body, "EX", 60);
              const seen = new Map(); seen.set(id, body);
            }
            """,
        "web/client.js": """
            const { createClient } = require("redis");
            const client = createClient({ url: process.env.REDIS_URL });
            async function put(k, v) { await client.set(`page:${k}`, v, { EX: 60 }); await client.get("hits"); }
            """,
    })
    assert rules_at(verdict) == {("repo.cache_no_ttl", "web/cache.ts", 4),
                                 ("repo.cache_key_unnamespaced", "web/client.js", 3)}
    assert verdict.evidence["cache_clients"] == ["web/cache.ts:2 node-redis", "web/client.js:2 node-redis"]
    assert verdict.evidence["keys_judged"] == 4 and verdict.evidence["keys_versioned"] == 1  # `id` is a variable


def test_no_cache_warns_and_a_named_cache_passes_unchecked(tmp_path: Path) -> None:
    none = cache(tmp_path / "none", {"app.py": "x = {}\nx.set = 1\n"})
    assert none.status is ItemStatus.WARN and "no Redis or Memcached client" in (none.reason or "")
    named = cache(tmp_path / "named", {"requirements.txt": "flask\nredis>=5\n",
                                       "web.js": "const Redis = require('ioredis');\n"})
    assert named.status is ItemStatus.PASS and "not checked" in (named.reason or "")
    assert named.evidence["cache_mentions"] == ["requirements.txt:2", "web.js:1"]


# ------------------------------------------------------------------------------------ migrations


def test_alembic_downgrades_that_undo_nothing(tmp_path: Path) -> None:
    repo = repo_of(tmp_path, {
        "alembic/versions/a1.py": "def upgrade():\n    op.create_table('t')\n\n\ndef downgrade():\n"
                                  "    raise NotImplementedError('irreversible')\n",
        "alembic/versions/a2.py": "def upgrade():\n    op.create_table('u')\n",
        "alembic/versions/a3.py": 'def upgrade():\n    op.create_table("v")\n\n\ndef downgrade():\n'
                                  '    """Nothing to do."""\n    ...\n',
        "alembic/versions/a4.py": "def upgrade():\n    op.create_table('w')\n\n\ndef downgrade():\n"
                                  "    op.drop_table('w')\n",
    })
    verdict = checklist_repo.migrations_rollback(repo)
    got = {(f.location.file, f.location.line, str(f.evidence["reason"])) for f in verdict.findings if f.location}
    assert got == {
        ("alembic/versions/a1.py", 5, "downgrade() only raises: the revision is irreversible"),
        ("alembic/versions/a2.py", 1, "no downgrade() function"),
        ("alembic/versions/a3.py", 5, "downgrade() does nothing"),
    }


# ------------------------------------------------------------------------------------ knowledge


def test_every_repo_rule_fires_here_and_is_documented() -> None:
    data = tomllib.loads((REPO / "knowledge" / "rules" / "repo.toml").read_text(encoding="utf-8"))
    ids = {raw["id"] for raw in data["rule"]}
    if not SEEN:
        pytest.skip("run with the rest of this file")
    assert ids == SEEN
    docs = load_rules()
    for rule_id in ids:
        doc = docs[rule_id]
        assert doc.references and all(r.startswith("https://") for r in doc.references), rule_id
        assert len(doc.rationale) > 80 and len(doc.remediation) > 40, rule_id

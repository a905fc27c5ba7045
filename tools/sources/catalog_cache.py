"""Reuse a PostgreSQL catalog while the schema is unchanged (`dbsage serve` only).

Reading a whole catalog takes a dozen queries and most of an inspect_schema call; an MCP server
answering many calls against the same database reads the same catalog again and again. A cached
catalog is reused when two things hold:

- the schema has not changed: one query sums the row versions (xmin) and counts the rows of the
  system catalogs that DDL writes (tables, columns, defaults, constraints, indexes, functions, types,
  policies, triggers, comments, grants on schemas and databases), and hashes the roles and the
  settings dbsage reads. Any CREATE, ALTER, DROP, GRANT, REVOKE, COMMENT or role change, committed by
  any session, changes it;
- the catalog is younger than `max_age_s`: statistics (row estimates, sizes, index usage) change
  without DDL, and are at most that old.

The cached catalog is never handed out itself: each call gets its own copy, so no analyzer can
change what the next call sees.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbsage.tools.catalog import Catalog
from dbsage.tools.errors import QueryFailed

if TYPE_CHECKING:
    from dbsage.tools.sources.guard import GuardedSession

# Catalogs kept per database: one per distinct schema filter, the least recently used dropped first.
MAX_ENTRIES = 8

_VERSIONED = (
    "pg_class", "pg_attribute", "pg_attrdef", "pg_constraint", "pg_index", "pg_namespace", "pg_proc",
    "pg_type", "pg_policy", "pg_trigger", "pg_description", "pg_extension", "pg_inherits",
    "pg_default_acl", "pg_sequence", "pg_rewrite", "pg_auth_members", "pg_database", "pg_db_role_setting",
    "pg_enum", "pg_event_trigger", "pg_publication",
)


def _fingerprint_sql() -> str:
    parts = [
        f"(SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM pg_catalog.{name})"
        for name in _VERSIONED
    ]
    # pg_authid is superuser-only: the pg_roles view shows the same attributes, without xmin.
    parts.append("(SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r.oid), '')) FROM pg_catalog.pg_roles r)")
    parts.append(
        "(SELECT md5(coalesce(string_agg(s.name || '=' || current_setting(s.name) || '/' || s.reset_val, ',' "
        "ORDER BY s.name), '')) FROM pg_catalog.pg_settings s WHERE s.name = ANY(%(names)s))"
    )
    return "SELECT concat_ws('/', " + ", ".join(parts) + ") AS fingerprint"


FINGERPRINT_SQL = _fingerprint_sql()


@dataclass
class _Entry:
    fingerprint: str
    loaded_at: float
    catalog: Catalog


class CatalogCache:
    """The catalogs of one PostgreSQL database, keyed by schema filter."""

    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[str, ...] | None, _Entry] = OrderedDict()
        self._loaders: dict[tuple[str, ...] | None, threading.Lock] = {}
        self._lock = threading.Lock()

    def load(
        self,
        session: GuardedSession,
        schemas: list[str] | None,
        read: Callable[[GuardedSession], Catalog],
        setting_names: list[str],
    ) -> Catalog:
        """The catalog `read` would return in this session: a copy of the cached one when still valid."""
        key = tuple(schemas) if schemas is not None else None
        fingerprint = _fingerprint(session, setting_names)
        if fingerprint is None:
            return read(session)
        cached = self._valid(key, fingerprint)
        if cached is not None:
            return cached
        # One load per key at a time: calls that miss together (at start, or when the entry expires
        # under load) wait for the first one's catalog instead of each reading the same thing.
        with self._loading(key):
            cached = self._valid(key, fingerprint)
            if cached is not None:
                return cached
            loaded_at = time.monotonic()
            catalog = read(session)
            with self._lock:
                self.misses += 1
                self._entries[key] = _Entry(fingerprint, loaded_at, catalog.model_copy(deep=True))
                self._entries.move_to_end(key)
                while len(self._entries) > MAX_ENTRIES:
                    self._entries.popitem(last=False)
            return catalog

    def _valid(self, key: tuple[str, ...] | None, fingerprint: str) -> Catalog | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.fingerprint != fingerprint or time.monotonic() - entry.loaded_at > self.max_age_s:
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.catalog.model_copy(deep=True)

    def _loading(self, key: tuple[str, ...] | None) -> threading.Lock:
        with self._lock:
            return self._loaders.setdefault(key, threading.Lock())

def _fingerprint(session: GuardedSession, setting_names: list[str]) -> str | None:
    """The schema's fingerprint, or None when this login may not read it (then nothing is cached)."""
    session.catalog("SAVEPOINT dbsage_fingerprint")
    try:
        rows = session.catalog(FINGERPRINT_SQL, {"names": setting_names})
    except QueryFailed:
        session.catalog("ROLLBACK TO SAVEPOINT dbsage_fingerprint")
        return None
    finally:
        session.catalog("RELEASE SAVEPOINT dbsage_fingerprint")
    return str(rows[0]["fingerprint"])

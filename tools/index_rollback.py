"""What-if costing on PostgreSQL without HypoPG: real indexes built inside a transaction that is rolled back.

Each candidate is built for real under its own savepoint in one guarded `rollback_write` session,
the workload is planned with it present, and rolling back to the savepoint removes it. Nothing is
ever committed: the session's transaction is rolled back when it ends. A real build takes a SHARE
lock on its table until the transaction ends, so writers wait: callers offer this only on databases
the configuration does not mark as production.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbsage.tools.catalog import Dialect, Table
from dbsage.tools.index_advisor import Costed, index_sql, postgres_plan_cost
from dbsage.tools.index_candidates import Candidate, QueryShape
from dbsage.tools.rules.fix_sql import quote
from dbsage.tools.sources.guard import GuardedSession

NAME_PREFIX = "dbsage_whatif_"

LOCK_NOTE = (
    "Candidates were built as real indexes inside a transaction that was rolled back (HypoPG is not "
    "installed). Each build holds a SHARE lock on its table, blocking writes to it until the "
    "transaction ends: use this only on databases that are not production."
)


@dataclass
class _Built:
    name: str
    create_sql: str
    table: Table


class RealIndexRollback:
    """The WhatIf protocol with real indexes, one savepoint per index, in a rolled-back session."""

    def __init__(self, session: GuardedSession, tables: dict[tuple[str, str], Table]) -> None:
        self.session = session
        self.tables = tables
        self.calls = 0
        self._serial = 0
        # Savepoints nest: removing an index that is not the newest rolls the later ones back too,
        # so they are rebuilt from this stack.
        self._stack: list[_Built] = []
        self._approved: dict[int, str] = {}

    def create(self, cand: Candidate) -> str:
        self._serial += 1
        name = f"{NAME_PREFIX}{self._serial}"
        table = self.tables[cand.table]
        built = _Built(name, index_sql(cand, table, Dialect.POSTGRES, name), table)
        self._build(built)
        self._stack.append(built)
        return name

    def _build(self, built: _Built) -> None:
        self.session.catalog(f"SAVEPOINT {built.name}")
        try:
            self.session.create_index_for_whatif(built.create_sql)
        except Exception:
            self.session.catalog(f"ROLLBACK TO SAVEPOINT {built.name}")
            self.session.catalog(f"RELEASE SAVEPOINT {built.name}")
            raise

    def drop(self, name: str) -> None:
        position = next(i for i, b in enumerate(self._stack) if b.name == name)
        later = self._stack[position + 1 :]
        self.session.catalog(f"ROLLBACK TO SAVEPOINT {name}")
        self.session.catalog(f"RELEASE SAVEPOINT {name}")
        del self._stack[position:]
        for built in later:
            self._build(built)
            self._stack.append(built)

    def reset(self) -> None:
        if self._stack:
            self.drop(self._stack[0].name)

    def size(self, name: str, cand: Candidate) -> int:
        built = next(b for b in self._stack if b.name == name)
        qualified = f"{quote(built.table.schema_name, Dialect.POSTGRES)}.{quote(name, Dialect.POSTGRES)}"
        return int(self.session.catalog_value("SELECT pg_relation_size(%s::regclass)", [qualified]))

    def cost(self, shape: QueryShape) -> Costed:
        self.calls += 1
        return postgres_plan_cost(self.session, self._approved, shape)

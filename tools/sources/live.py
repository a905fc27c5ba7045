"""Turn a live database into a Catalog, dispatching to the dialect's source module."""

from __future__ import annotations

from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.sources.guard import LiveDatabase


def load_catalog(db: LiveDatabase, *, schemas: list[str] | None = None) -> Catalog:
    """Read the whole catalog of `db` (optionally only `schemas`) in one read-only session."""
    with db.session() as session:
        if db.dialect is Dialect.POSTGRES:
            from dbsage.tools.sources import postgres

            if db.catalog_cache is not None:
                return db.catalog_cache.load(
                    session, schemas, lambda s: postgres.load_catalog(s, schemas=schemas), list(postgres.SETTINGS)
                )
            return postgres.load_catalog(session, schemas=schemas)
        if db.dialect.is_mysql_family:
            from dbsage.tools.sources import mysql

            return mysql.load_catalog(session, schemas=schemas, dialect=db.dialect)
        from dbsage.tools.sources import sqlite

        return sqlite.load_catalog(session)

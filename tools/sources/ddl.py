"""Offline DDL -> Catalog: the same picture of a database a live source gives, read from SQL text.

PostgreSQL DDL is read with pglast (PostgreSQL's own parser); MySQL/MariaDB and SQLite table
definitions with a small token grammar (ddl_sqltokens) and their view queries with sqlglot.
The script is cut into statements first, each parsed on its own: a statement that does not
parse (a trigger body, a client command, a typo) is listed in `Catalog.unknown` with its line, and
the rest still counts. Only when no statement parses at all is the input rejected.

Choices a live database would not need to make:
- PostgreSQL objects without a schema go to the first schema of the script's `SET search_path`,
  else `public`.
- MySQL/MariaDB tables belong to the database of the latest `USE db` (or their qualified name);
  without one they are placed in a schema named `main` and `unknown` says so.
- SQLite's schema is `main`.
"""

from __future__ import annotations

from dbsage.tools.catalog import Catalog, Dialect
from dbsage.tools.errors import InputError
from dbsage.tools.sources.ddl_script import ScriptNotes, split_statements


def catalog_from_ddl(text: str, dialect: Dialect, *, file: str | None = None) -> Catalog:
    """Read DDL `text` offline into a Catalog with source="ddl".

    Raises InputError when the text holds no statement, or when not one statement parses (the
    message names the first failing line and the parser's complaint).
    """
    # a NUL would end the text early inside the C parser; a BOM is not part of the SQL
    text = text.removeprefix("\ufeff").replace("\x00", " ")
    statements = split_statements(text, dialect)
    where = file or "the DDL"
    if not statements:
        raise InputError(f"{where} holds no SQL statement.", hint="give CREATE TABLE ... statements")
    notes = ScriptNotes(file=file)
    if dialect is Dialect.POSTGRES:
        from dbsage.tools.sources.ddl_postgres import read_postgres

        catalog = read_postgres(statements, notes)
    else:
        from dbsage.tools.sources.ddl_mysql_sqlite import read_mysql_sqlite

        catalog = read_mysql_sqlite(statements, notes, dialect)
    if notes.parsed == 0 and notes.failures:
        statement, message = notes.failures[0]
        raise InputError(
            f"No statement in {where} could be parsed as {dialect.value} DDL; "
            f"line {statement.line}: {message}",
            hint="check the file and --dialect (postgres, mysql, mariadb, sqlite)",
        )
    if not (catalog.tables or catalog.views or catalog.functions or catalog.sequences):
        catalog.unknown.insert(0, f"{where} defines no table, view, routine or sequence")
    return catalog

"""Document SQL: the only module of ``pgcube.data`` that talks to asyncpg.

Every function takes the request's connection, already inside its
transaction. Statements that name a collection's table come compiled
(``pgcube.query``: ``Compiled``, values always parameters); the fixed ones are
named statements (``src/pgcube/sql/data.sql``). Documents come back as JSON
bytes, built in PostgreSQL — never decoded here.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from pgcube.db import statements
from pgcube.query import TRASH_TABLE, UPDATE_REFUSED, Compiled, FindQuery, UpdateQuery, compile_purge_trash

Connection = Any
"""An asyncpg connection (asyncpg ships no type information)."""
SQL = statements.load("data")


async def insert(conn: Connection, statement: Compiled) -> list[bytes]:
    """Run ``query.compile_insert``'s statement; the stored documents, in order."""
    rows = await conn.fetch(statement.sql, *statement.params)
    return [row[0] for row in rows]


async def find(conn: Connection, query: FindQuery) -> list[Any]:
    """Rows ``(doc, cursor)`` of one page (``limit + 1`` at most)."""
    rows: list[Any] = await conn.fetch(query.select.sql, *query.select.params)
    return rows


async def count(conn: Connection, query: Compiled) -> int:
    total: int = await conn.fetchval(query.sql, *query.params)
    return total


class UpdateRefused(Exception):
    """A guarded update broke a declared field or the size limit: PostgreSQL undid it."""


async def update(conn: Connection, query: UpdateQuery) -> list[Any]:
    """Rows ``(doc, invalid)`` of every updated document; ``UpdateRefused`` when a guarded
    statement failed its guard."""
    try:
        rows: list[Any] = await conn.fetch(query.statement.sql, *query.statement.params)
    except asyncpg.PostgresError as exc:
        if query.guarded and getattr(exc, "sqlstate", None) == UPDATE_REFUSED:
            raise UpdateRefused() from exc
        raise
    return rows


async def write(conn: Connection, statement: Compiled) -> int:
    """Run a delete, a move to the trash or a restore (``query.compile_*``); how many documents."""
    status: str = await conn.execute(statement.sql, *statement.params)
    return _row_count(status)


async def purge_trash(conn: Connection, *, older_than: int) -> int:
    """Forget deleted documents older than ``older_than`` seconds, in every database's ``_trash``.

    Each database in its own savepoint: one dropped concurrently (or a catalog
    row without its schema) is skipped, not a reason to purge nothing.
    """
    schemas = await conn.fetch(SQL.trash_schemas, TRASH_TABLE)
    purged = 0
    for row in schemas:
        try:
            async with conn.transaction():
                purged += await write(conn, compile_purge_trash(row["schema_name"], older_than=older_than))
        except asyncpg.UndefinedTableError:
            continue
    return purged


def _row_count(status: str) -> int:
    """The row count of a command tag (``INSERT 0 3``, ``DELETE 2``)."""
    return int(status.rsplit(" ", 1)[-1])


async def account_documents(conn: Connection, account_id: str) -> int:
    """The documents of every collection of the account, estimated from PostgreSQL's statistics.

    Per table, the larger of ``n_live_tup`` (kept by every insert and delete,
    reported up to a second late) and the planner's ``reltuples`` scaled to
    the table's current size (set by ANALYZE — which every import runs before
    it commits — and kept across a statistics reset). One statement over
    catalogs, whatever the number or size of the collections.
    """
    return int(await conn.fetchval(SQL.account_documents, account_id))

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
import msgspec

from pgcube.db import statements
from pgcube.query import TRASH_TABLE, UPDATE_REFUSED, Compiled, FindQuery, UpdateQuery, compile_purge_trash

Connection = Any
"""An asyncpg connection (asyncpg ships no type information)."""
SQL = statements.load("data")


_SAVEPOINT = "pgcube_insert"


class UniqueViolation(Exception):
    """A write met a unique index: the primary key or a declared one (``constraint``, the index's
    name as PostgreSQL reports it in the error's structured field)."""

    def __init__(self, constraint: str | None) -> None:
        super().__init__(constraint)
        self.constraint = constraint


def unique_violation(exc: BaseException) -> UniqueViolation | None:
    """``exc`` as a ``UniqueViolation`` when it is one (23505), else None."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return UniqueViolation(getattr(exc, "constraint_name", None))
    return None


async def insert(conn: Connection, statement: Compiled, *, savepoint: bool = False) -> list[bytes]:
    """Run ``query.compile_insert``'s statement; the stored documents, in order. ``UniqueViolation``
    on a duplicate; with ``savepoint`` (inside a transaction), the transaction survives it, so the
    caller can ask which document it was."""
    if savepoint:  # by hand: a web key's transaction is a script's (``Session.acting_as``), not asyncpg's
        await conn.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        rows = await conn.fetch(statement.sql, *statement.params)
    except asyncpg.UniqueViolationError as exc:
        if savepoint:
            await conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        raise UniqueViolation(exc.constraint_name) from exc
    if savepoint:
        await conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    return [row[0] for row in rows]


async def first_conflict(conn: Connection, query: str, *args: Any) -> Any:
    """The row of ``uniques.conflict_query`` (None: no document conflicts any more).

    On the error path of a write that fails: inside a transaction (a web key's), it runs as the
    owner again — the conflicting document may be one the end user cannot see, and the answer
    (a 409) says no more than the unique index already did by refusing the write.
    """
    if conn.is_in_transaction():
        await conn.execute("RESET ROLE")
    return await conn.fetchrow(query, *args)


async def find(conn: Connection, query: FindQuery) -> list[Any]:
    """Rows ``(doc, cursor)`` of one page (``limit + 1`` at most)."""
    rows: list[Any] = await conn.fetch(query.select.sql, *query.select.params)
    return rows


async def trashed(conn: Connection, statement: Compiled) -> list[bytes]:
    """The entries of ``query.compile_trashed``, as JSON bytes."""
    rows = await conn.fetch(statement.sql, *statement.params)
    return [row[0] for row in rows]


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
    except asyncpg.UniqueViolationError as exc:
        raise UniqueViolation(exc.constraint_name) from exc
    except asyncpg.PostgresError as exc:
        if query.guarded and getattr(exc, "sqlstate", None) == UPDATE_REFUSED:
            raise UpdateRefused() from exc
        raise
    return rows


EXPLAIN = "EXPLAIN (FORMAT JSON) "
EXPLAIN_ANALYZE = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
"""Run as well as planned: for reads only (``collection.explain`` refuses it for a write)."""


async def explain(conn: Connection, statement: Compiled, *, analyze: bool) -> dict[str, Any]:
    """PostgreSQL's plan of ``statement`` with its parameters: EXPLAIN's JSON object (``"Plan"``, and
    with ``analyze`` the timings)."""
    raw = await conn.fetchval((EXPLAIN_ANALYZE if analyze else EXPLAIN) + statement.sql, *statement.params)
    explained: list[dict[str, Any]] = msgspec.json.decode(raw)
    return explained[0]


async def write(conn: Connection, statement: Compiled) -> int:
    """Run a delete, a move to the trash or a restore (``query.compile_*``); how many documents."""
    status: str = await conn.execute(statement.sql, *statement.params)
    return _row_count(status)


async def restore(conn: Connection, statement: Compiled) -> int:
    """``write`` for ``query.compile_restore``; ``UniqueViolation`` when a restored document meets
    one that took its ``_key`` or its values of a unique index meanwhile."""
    try:
        return await write(conn, statement)
    except asyncpg.UniqueViolationError as exc:
        raise UniqueViolation(exc.constraint_name) from exc


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

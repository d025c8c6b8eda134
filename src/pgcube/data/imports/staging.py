"""The import's SQL: the only module of ``pgcube.data.imports`` that talks to asyncpg.

Everything runs on the request's connection, inside its transaction:

1. ``create`` — a temporary staging table, dropped at commit (and gone with a
   rollback, like everything else the request did)::

       n        bigint   -- the document's index in the file
       key      text     -- its _key (the client's, or a new one)
       userkey  text     -- its _userkey, from a server credential's file (else null)
       data     jsonb    -- the document without system fields

   No index and no WAL (temporary tables are never logged): COPY into it is
   as cheap as COPY gets.
2. ``copy`` — one binary COPY fed by an asynchronous iterable: rows go to
   PostgreSQL while the upload is still arriving, and asyncpg's flow control
   keeps the buffer between them small.
3. ``move`` — one ``INSERT ... SELECT`` into the collection (upsert: ``ON
   CONFLICT (_key) DO UPDATE``), in a savepoint, so that a duplicate key can
   be explained afterwards by ``first_duplicate`` (which document, which key).

Table names come quoted from the catalog (``Collection.sql_table``); the
staging table's name is a constant.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

import msgspec

from pgcube.management.models import Collection

Connection = Any
"""An asyncpg connection (asyncpg ships no type information)."""

STAGING = "pgcube_import"
COLUMNS = ("n", "key", "userkey", "data")

Row = tuple[int, str, str | None, bytes]
"""``(index in the file, _key, _userkey, data as JSON bytes)``."""

STAGED = f"SELECT n, key, data FROM {STAGING}"
"""The staged documents as the rows ``pgcube.data.uniques.conflict_query`` reads."""
STAGED_LAST = f"SELECT DISTINCT ON (key) n, key, data FROM {STAGING} ORDER BY key, n DESC"
"""The same in upsert mode: the last document of each ``_key`` (the one written)."""

UNIQUE_VIOLATION = "23505"
CARDINALITY_VIOLATION = "21000"
"""``ON CONFLICT DO UPDATE`` meeting the same key twice in one statement."""


class Duplicate(msgspec.Struct, frozen=True):
    index: int
    key: str
    existing: bool
    """True: the collection already holds the key; False: an earlier document of the file has it."""


def sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else None


async def create(conn: Connection) -> None:
    await conn.execute(
        f"CREATE TEMPORARY TABLE {STAGING} (n bigint NOT NULL, key text NOT NULL, userkey text, "
        "data jsonb NOT NULL) ON COMMIT DROP"
    )


async def no_timeout(conn: Connection) -> None:
    """Lift the statement timeout for the rest of the transaction.

    The COPY lasts as long as the upload, and the move grows with the file;
    both are bounded by ``max_import_bytes`` and the upload by
    ``import_idle_timeout`` instead.
    """
    await conn.execute("SET LOCAL statement_timeout = 0")


async def copy(conn: Connection, rows: AsyncIterable[Row]) -> None:
    await conn.copy_records_to_table(STAGING, records=rows, columns=COLUMNS)


def _columns(with_userkey: bool) -> tuple[str, str]:
    """(the table's columns, staging's): ``_userkey`` from the file, or the column's default (the
    signed-in end user of a web key, SPEC §11.4)."""
    return ("_key, _userkey, data", "key, userkey, data") if with_userkey else ("_key, data", "key, data")


async def move(conn: Connection, collection: Collection, *, upsert: bool, with_userkey: bool) -> int:
    """Insert (or upsert) every staged document into the collection; how many rows were written.

    Raises the driver's error on a duplicate ``_key`` (insert) or on a key the
    file holds twice (upsert); the caller's savepoint keeps the transaction
    usable for ``first_duplicate`` / ``move_last_wins``.
    """
    target, source = _columns(with_userkey)
    statement = f"INSERT INTO {collection.sql_table} ({target}) SELECT {source} FROM {STAGING}"
    if upsert:
        statement += _ON_CONFLICT
    status: str = await conn.execute(statement)
    return _row_count(status)


async def analyze(conn: Connection, collection: Collection) -> None:
    """Fresh planner statistics for the collection, in the import's transaction (they commit with
    it). Without them the planner guesses that 1 % of rows match any criteria and may walk the
    order index past the GIN index for a rare value until autovacuum gets to it (ADR 0010)."""
    await conn.execute(f"ANALYZE {collection.sql_table}")


async def move_last_wins(conn: Connection, collection: Collection, *, with_userkey: bool) -> int:
    """Upsert when the file holds some ``_key`` more than once: its last document wins."""
    target, source = _columns(with_userkey)
    status: str = await conn.execute(
        f"INSERT INTO {collection.sql_table} ({target}) "
        f"SELECT DISTINCT ON (key) {source} FROM {STAGING} ORDER BY key, n DESC" + _ON_CONFLICT
    )
    return _row_count(status)


async def first_duplicate(conn: Connection, collection: Collection) -> Duplicate | None:
    """The first staged document whose ``_key`` the collection or an earlier document already has.

    Two questions whose plans cannot go quadratic on a staging table that has
    no statistics and no index: a grouping, and a join probing the
    collection's primary key.
    """
    repeated = await conn.fetchrow(
        f"SELECT key, (array_agg(n ORDER BY n))[2] AS n FROM {STAGING} "
        "GROUP BY key HAVING count(*) > 1 ORDER BY 2 LIMIT 1"
    )
    existing = await conn.fetchrow(
        f"SELECT s.n, s.key FROM {STAGING} s JOIN {collection.sql_table} c ON c._key = s.key "
        "ORDER BY s.n LIMIT 1"
    )
    found = [
        Duplicate(index=row["n"], key=row["key"], existing=row is existing)
        for row in (existing, repeated)
        if row is not None
    ]
    return min(found, key=lambda duplicate: duplicate.index, default=None)


async def lock_quota(conn: Connection, account_id: str) -> None:
    """Serialise the end of this account's imports until the transaction ends: two imports that
    both fit the document quota alone cannot both pass it together."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('pgcube.import_quota:' || $1::text, 0))", account_id
    )


async def new_documents(conn: Connection, collection: Collection) -> int:
    """Upsert: the staged keys the collection does not hold yet (the documents it would gain)."""
    count: int = await conn.fetchval(
        f"SELECT count(DISTINCT s.key) FROM {STAGING} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {collection.sql_table} c WHERE c._key = s.key)"
    )
    return count


_ON_CONFLICT = " ON CONFLICT (_key) DO UPDATE SET data = EXCLUDED.data, _modified_at = now()"


def _row_count(status: str) -> int:
    """The row count of a command tag (``INSERT 0 3``)."""
    return int(status.rsplit(" ", 1)[-1])

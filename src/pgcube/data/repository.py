"""Document SQL: the only module of ``pgcube.data`` that talks to asyncpg.

Every function takes the request's connection, already inside its
transaction. Statements come from the compiler (``pgcube.query``) or are
built here around its fragments; table names come from the catalog
(``Collection.sql_table``), values are always parameters. Documents come back
as JSON bytes, built in PostgreSQL — never decoded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from pgcube.data.documents import Prepared
from pgcube.management.models import Collection
from pgcube.management.naming import TRASH_TABLE
from pgcube.query import Compiled, FindQuery, UpdateQuery, document_sql
from pgcube.query.sql import qualified

Connection = Any
"""An asyncpg connection (asyncpg ships no type information)."""

_DOCUMENT = document_sql()
_ROW_COLUMNS = "_key, _userkey, _created_at, _modified_at, data"


async def insert(conn: Connection, collection: Collection, documents: Sequence[Prepared]) -> list[bytes]:
    """Insert every document (one statement); the stored documents, in order."""
    statement = (
        f"INSERT INTO {collection.sql_table} (_key, data) "
        "SELECT k, d FROM unnest($1::text[], $2::jsonb[]) WITH ORDINALITY AS t(k, d, n) ORDER BY n "
        f"RETURNING {_DOCUMENT}"
    )
    rows = await conn.fetch(statement, [d.key for d in documents], [d.data for d in documents])
    return [row[0] for row in rows]


async def find(conn: Connection, query: FindQuery) -> list[Any]:
    """Rows ``(doc, cursor)`` of one page (``limit + 1`` at most)."""
    rows: list[Any] = await conn.fetch(query.select.sql, *query.select.params)
    return rows


async def count(conn: Connection, query: Compiled) -> int:
    total: int = await conn.fetchval(query.sql, *query.params)
    return total


async def update(conn: Connection, query: UpdateQuery) -> list[Any]:
    """Rows ``(doc, invalid)`` of every updated document."""
    rows: list[Any] = await conn.fetch(query.statement.sql, *query.statement.params)
    return rows


async def move_to_trash(
    conn: Connection, collection: Collection, where: Compiled, *, ref: str, kind: str
) -> int:
    """Move the matching documents to the database's ``_trash`` under ``ref``; how many."""
    n = len(where.params)
    statement = (
        f"WITH moved AS (DELETE FROM {collection.sql_table} WHERE {where.sql} RETURNING {_ROW_COLUMNS}) "
        f"INSERT INTO {collection.sql_trash} (collection, _ref, kind, {_ROW_COLUMNS}) "
        f"SELECT ${n + 1}, ${n + 2}, ${n + 3}, {_ROW_COLUMNS} FROM moved"
    )
    status: str = await conn.execute(statement, *where.params, collection.name, ref, kind)
    return _row_count(status)


async def delete(conn: Connection, collection: Collection, where: Compiled) -> int:
    """Delete the matching documents for good; how many."""
    status: str = await conn.execute(f"DELETE FROM {collection.sql_table} WHERE {where.sql}", *where.params)
    return _row_count(status)


async def restore(conn: Connection, collection: Collection, ref: str, *, deleted_within: int) -> int:
    """Put back what ``ref`` moved to the trash (archived: always; deleted: within the retention)."""
    statement = (
        f"WITH back AS (DELETE FROM {collection.sql_trash} "
        "WHERE _ref = $1 AND collection = $2 "
        "AND (kind = 'archived' OR trashed_at > now() - make_interval(secs => $3)) "
        f"RETURNING {_ROW_COLUMNS}) "
        f"INSERT INTO {collection.sql_table} ({_ROW_COLUMNS}) SELECT {_ROW_COLUMNS} FROM back"
    )
    status: str = await conn.execute(statement, ref, collection.name, float(deleted_within))
    return _row_count(status)


async def purge_trash(conn: Connection, *, older_than: int) -> int:
    """Forget deleted documents older than ``older_than`` seconds, in every database's ``_trash``.

    Each database in its own savepoint: one dropped concurrently (or a catalog
    row without its schema) is skipped, not a reason to purge nothing.
    """
    schemas = await conn.fetch(
        "SELECT schema_name FROM pgcube.databases "
        "WHERE to_regclass(format('%I.%I', schema_name, $1::text)) IS NOT NULL ORDER BY schema_name",
        TRASH_TABLE,
    )
    purged = 0
    for row in schemas:
        table = qualified(row["schema_name"], TRASH_TABLE)
        try:
            async with conn.transaction():
                status: str = await conn.execute(
                    f"DELETE FROM {table} WHERE kind = 'deleted' "
                    "AND trashed_at <= now() - make_interval(secs => $1)",
                    float(older_than),
                )
        except asyncpg.UndefinedTableError:
            continue
        purged += _row_count(status)
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
    estimate = await conn.fetchval(
        """SELECT coalesce(sum(greatest(
                   coalesce(s.n_live_tup, 0),
                   CASE WHEN c.reltuples > 0 AND c.relpages > 0
                        THEN c.reltuples / c.relpages
                             * (pg_relation_size(c.oid) / current_setting('block_size')::float8)
                        ELSE 0 END)), 0)::bigint
        FROM pgcube.databases d
        JOIN pgcube.collections col ON col.database_id = d.id
        JOIN pg_namespace n ON n.nspname = d.schema_name
        JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = col.name AND c.relkind = 'r'
        LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE d.account_id = $1::uuid""",
        account_id,
    )
    return int(estimate)

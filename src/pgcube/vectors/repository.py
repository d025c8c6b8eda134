"""The statements of the ``vdb.*`` ops (the connection is asyncpg's, passed through)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from pgcube.management.models import VectorSpec
from pgcube.query import Compiled
from pgcube.vectors import statements
from pgcube.vectors.models import Chunk

Connection = Any

_installed = False


async def pgvector_installed(connection: Callable[[], Awaitable[Connection]]) -> bool:
    """Whether the database has pgvector, asked on ``connection()``; once it has, the answer is kept
    for the process and no connection is taken (the op's own statement takes one later)."""
    global _installed
    if not _installed:
        conn = await connection()
        _installed = bool(await conn.fetchval("SELECT true FROM pg_extension WHERE extname = 'vector'"))
    return _installed


async def insert(conn: Connection, table_sql: str, spec: VectorSpec, chunks: Sequence[Chunk]) -> None:
    """Every chunk, in one pipelined batch (asyncpg's ``executemany``: all or none)."""
    await conn.executemany(
        statements.insert(table_sql, spec),
        [(chunk.key, msgspec.json.encode(chunk.data()), chunk.vector) for chunk in chunks],
    )


async def search(
    conn: Connection,
    table_sql: str,
    spec: VectorSpec,
    where: Compiled | None,
    vector: Sequence[float],
    limit: int,
    least_score: float,
) -> list[bytes]:
    """The entries (JSON bytes, ``_score`` included), best first."""
    params = where.params if where is not None else ()
    text = statements.search(table_sql, spec, where.sql if where is not None else "", len(params))
    rows = await conn.fetch(text, *params, list(vector), limit, least_score)
    return [row[0] for row in rows]


async def delete(conn: Connection, compiled: Compiled) -> int:
    """Run a compiled ``DELETE``; the number of rows it removed."""
    status: str = await conn.execute(compiled.sql, *compiled.params)
    return int(status.rsplit(" ", 1)[-1])

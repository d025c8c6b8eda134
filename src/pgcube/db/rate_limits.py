"""The shared rate-limit counters in ``pgcube.rate_limits`` (ADR 0008).

A ``pgcube.ratelimit.Store`` on a small pool of its own: a request that holds
its transaction's connection never waits for a second one from the main
pool, and the counters' row locks last one statement, never a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg

from pgcube.db.pool import APPLICATION_NAME

STORE_POOL_SIZE = 2
STORE_TIMEOUT = 1.0
"""Seconds for a connect, an acquire or a statement: the limiter falls back to local counts past it."""

# ``base``: the count the row has in the newer of its window and ours, with our
# already-admitted ``pending`` hits ($3) added when they belong to it. The
# request's ``cost`` ($4) is added only while base + cost <= limit ($5);
# ``last_cost`` tells which happened.
TRY_ADD = """
INSERT INTO pgcube.rate_limits AS r (bucket, window_start, hits, last_cost)
VALUES ($1::text, to_timestamp($2::float8), $3::int + CASE WHEN $3::int + $4::int <= $5::int THEN $4::int ELSE 0 END,
        CASE WHEN $3::int + $4::int <= $5::int THEN $4::int ELSE 0 END)
ON CONFLICT (bucket) DO UPDATE SET
    window_start = GREATEST(r.window_start, excluded.window_start),
    (hits, last_cost) = (
        SELECT base + admitted, admitted
        FROM (SELECT CASE WHEN r.window_start > excluded.window_start THEN r.hits
                          WHEN r.window_start = excluded.window_start THEN r.hits + $3
                          ELSE $3 END AS base) AS b,
             LATERAL (SELECT CASE WHEN base + $4 <= $5 THEN $4 ELSE 0 END AS admitted) AS a
    )
RETURNING hits, last_cost
"""

# Rows in bucket order: two processes flushing the same buckets lock them in
# the same order and never deadlock.
ADD = """
INSERT INTO pgcube.rate_limits AS r (bucket, window_start, hits, last_cost)
SELECT b, to_timestamp(w), h, 0 FROM unnest($1::text[], $2::float8[], $3::int[]) AS t(b, w, h) ORDER BY b
ON CONFLICT (bucket) DO UPDATE SET
    window_start = GREATEST(r.window_start, excluded.window_start),
    hits = CASE WHEN r.window_start > excluded.window_start THEN r.hits
                WHEN r.window_start = excluded.window_start THEN r.hits + excluded.hits
                ELSE excluded.hits END
RETURNING bucket, hits
"""

PURGE = "DELETE FROM pgcube.rate_limits WHERE window_start < to_timestamp($1)"


class PostgresStore:
    def __init__(self, url: str) -> None:
        self._url = url
        self._pool: asyncpg.Pool | None = None

    async def _connection_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._url,
                min_size=0,  # connects on first use: startup does not depend on it
                max_size=STORE_POOL_SIZE,
                timeout=STORE_TIMEOUT,
                command_timeout=STORE_TIMEOUT,
                server_settings={
                    "application_name": APPLICATION_NAME,
                    "statement_timeout": str(int(STORE_TIMEOUT * 1000)),
                },
                max_inactive_connection_lifetime=60,
            )
        return self._pool

    async def try_add(
        self, bucket: str, window_start: int, pending: int, cost: int, limit: int
    ) -> tuple[bool, int]:
        pool = await self._connection_pool()
        async with pool.acquire(timeout=STORE_TIMEOUT) as conn:
            row = await conn.fetchrow(TRY_ADD, bucket, float(window_start), pending, cost, limit)
        hits: int = row["hits"]
        return row["last_cost"] == cost, hits

    async def add(self, hits: Sequence[tuple[str, int, int]]) -> dict[str, int]:
        pool = await self._connection_pool()
        buckets, starts, counts = zip(*sorted(hits), strict=True)
        async with pool.acquire(timeout=STORE_TIMEOUT) as conn:
            rows = await conn.fetch(ADD, list(buckets), [float(s) for s in starts], list(counts))
        return {row["bucket"]: row["hits"] for row in rows}

    async def purge(self, before: int) -> int:
        pool = await self._connection_pool()
        async with pool.acquire(timeout=STORE_TIMEOUT) as conn:
            status: str = await conn.execute(PURGE, float(before))
        return int(status.rsplit(" ", 1)[-1])

    async def close(self) -> None:
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), STORE_TIMEOUT)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                self._pool.terminate()  # PostgreSQL is gone: do not wait for it at shutdown

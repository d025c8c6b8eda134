"""The shared rate-limit counters in ``pgcube.rate_limits`` (ADR 0008).

A ``pgcube.ratelimit.Store`` on a small pool of its own: a request that holds
its transaction's connection never waits for a second one from the main
pool, and the counters' row locks last one statement, never a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg

from pgcube.db import statements
from pgcube.db.pool import APPLICATION_NAME

STORE_POOL_SIZE = 2
STORE_TIMEOUT = 1.0
"""Seconds for a connect, an acquire or a statement: the limiter falls back to local counts past it."""

SQL = statements.load("rate_limits")


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
            row = await conn.fetchrow(SQL.try_add, bucket, float(window_start), pending, cost, limit)
        hits: int = row["hits"]
        return row["last_cost"] == cost, hits

    async def add(self, hits: Sequence[tuple[str, int, int]]) -> dict[str, int]:
        pool = await self._connection_pool()
        buckets, starts, counts = zip(*sorted(hits), strict=True)
        async with pool.acquire(timeout=STORE_TIMEOUT) as conn:
            rows = await conn.fetch(SQL.add, list(buckets), [float(s) for s in starts], list(counts))
        return {row["bucket"]: row["hits"] for row in rows}

    async def purge(self, before: int) -> int:
        pool = await self._connection_pool()
        async with pool.acquire(timeout=STORE_TIMEOUT) as conn:
            status: str = await conn.execute(SQL.purge, float(before))
        return int(status.rsplit(" ", 1)[-1])

    async def close(self) -> None:
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), STORE_TIMEOUT)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                self._pool.terminate()  # PostgreSQL is gone: do not wait for it at shutdown

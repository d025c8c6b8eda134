"""The PostgreSQL rate-limit store obeys the same rules as the in-process one
(``pgcube.ratelimit.MemoryStore``), and two limiters on it share one limit."""

from __future__ import annotations

import asyncio
import secrets
import time

from pgcube.db.rate_limits import PostgresStore
from pgcube.ratelimit import MemoryStore, RateLimiter, Store


async def _scenario(store: Store, bucket: str) -> list[object]:
    return [
        await store.try_add(bucket, 60, 0, 3, 5),  # fits: 3
        await store.try_add(bucket, 60, 1, 1, 5),  # 1 pending + 1: 5
        await store.try_add(bucket, 60, 0, 1, 5),  # over: refused, count stays
        await store.add([(bucket, 60, 2)]),  # flushed hits always count: 7
        await store.try_add(bucket, 120, 0, 5, 5),  # a new window starts from 0
        await store.try_add(bucket, 60, 3, 1, 5),  # a late process's old window: dropped
        await store.add([(bucket, 60, 4)]),  # ditto for a late flush
    ]


def test_postgres_store_matches_the_memory_store(pg_url: str) -> None:
    async def run() -> None:
        bucket = "test:" + secrets.token_hex(4)
        store = PostgresStore(pg_url)
        try:
            assert await _scenario(store, bucket) == await _scenario(MemoryStore(), bucket)
            assert await store.purge(200) >= 1  # the bucket counts the window at 120
            assert await store.add([(bucket, 180, 1)]) == {bucket: 1}
        finally:
            await store.close()

    asyncio.run(run())


def test_two_limiters_on_postgresql_share_one_limit(pg_url: str) -> None:
    async def run() -> None:
        bucket = "test:" + secrets.token_hex(4)
        stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
        # Both limiters in the middle of this hour: a run across the hour's end would count its
        # hits in two windows (two limits' worth), which is the rule, not what this test asks.
        middle = time.time() // 3600 * 3600 + 1800
        first, second = (RateLimiter(store, window=3600, clock=lambda: middle) for store in stores)
        try:
            admitted = await asyncio.gather(
                *(limiter.hit(bucket, 10) for _ in range(10) for limiter in (first, second))
            )
            assert sum(d.admitted for d in admitted) == 10
            assert not (await first.hit(bucket, 10)).admitted
            assert not (await second.hit(bucket, 10)).admitted
        finally:
            for store in stores:
                await store.close()

    asyncio.run(run())

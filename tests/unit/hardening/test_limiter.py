"""The rate limiter's rules (ADR 0008), on a clock the test moves and the in-process store.

The PostgreSQL store obeys the same rules: tests/integration/hardening checks it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from pgcube.ratelimit import MemoryStore, RateLimiter
from pgcube.ratelimit.limiter import EXACT_BELOW, margin


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryStore):
    """The in-process store, counting the round trips a real store would cost."""

    def __init__(self) -> None:
        super().__init__()
        self.exact_calls = 0
        self.flush_calls = 0
        self.down = False

    async def try_add(
        self, bucket: str, window_start: int, pending: int, cost: int, limit: int
    ) -> tuple[bool, int]:
        if self.down:
            raise ConnectionRefusedError("store down")
        self.exact_calls += 1
        return await super().try_add(bucket, window_start, pending, cost, limit)

    async def add(self, hits: Sequence[tuple[str, int, int]]) -> dict[str, int]:
        if self.down:
            raise ConnectionRefusedError("store down")
        self.flush_calls += 1
        return await super().add(hits)


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_request_n_plus_one_is_refused_with_the_contract() -> None:
    async def scenario() -> None:
        clock = Clock(1000.5)  # window [960, 1020) for 60 s
        limiter = RateLimiter(CountingStore(), window=60, clock=clock)
        for used in range(1, 6):
            decision = await limiter.hit("k", 5)
            assert decision.admitted
            assert decision.remaining == 5 - used
        refused = await limiter.hit("k", 5)
        assert not refused.admitted
        assert (refused.limit, refused.remaining, refused.reset_at) == (5, 0, 1020)
        assert refused.retry_after == 20  # ceil(1020 - 1000.5)
        clock.now = 1020.0
        assert (await limiter.hit("k", 5)).admitted

    run(scenario())


def test_each_document_of_a_batch_counts() -> None:
    async def scenario() -> None:
        limiter = RateLimiter(CountingStore(), window=60, clock=Clock())
        assert (await limiter.hit("k", 10, cost=7)).admitted
        refused = await limiter.hit("k", 10, cost=4)
        assert not refused.admitted
        assert refused.remaining == 3  # a refused batch costs nothing
        assert (await limiter.hit("k", 10, cost=3)).admitted
        assert not (await limiter.hit("k", 10)).admitted

    run(scenario())


def test_well_under_the_limit_costs_no_round_trip() -> None:
    async def scenario() -> None:
        store = CountingStore()
        limiter = RateLimiter(store, window=60, clock=Clock())
        for _ in range(500):
            assert (await limiter.hit("k", 6000)).admitted
        assert store.exact_calls == 0, "a window's first hits within the margin (600) ask nobody"
        await limiter.flush()
        assert store.flush_calls == 1
        assert store.rows["k"][1] == 500
        for _ in range(2000):  # synced by the flush: trusted up to limit - margin
            assert (await limiter.hit("k", 6000)).admitted
        assert store.exact_calls == 0


def test_an_unsynced_window_asks_the_store_past_the_margin() -> None:
    async def scenario() -> None:
        store = CountingStore()
        limiter = RateLimiter(store, window=60, clock=Clock())
        for _ in range(601):
            assert (await limiter.hit("k", 6000)).admitted
        assert store.exact_calls == 1, "hit 601 passes the margin of a never-synced window"

    run(scenario())


def test_close_to_the_limit_every_hit_asks_the_store() -> None:
    async def scenario() -> None:
        store = CountingStore()
        limiter = RateLimiter(store, window=60, clock=Clock())
        limit = 100
        for _ in range(limit - margin(limit)):
            await limiter.hit("k", limit)
        before = store.exact_calls
        for _ in range(margin(limit)):
            assert (await limiter.hit("k", limit)).admitted
        assert store.exact_calls - before == margin(limit)
        assert not (await limiter.hit("k", limit)).admitted
        assert store.exact_calls - before == margin(limit), "a refusal over the known count is local"

    run(scenario())


def test_processes_share_the_limit_through_the_store() -> None:
    async def scenario() -> None:
        store, clock = CountingStore(), Clock()
        first = RateLimiter(store, window=60, clock=clock)
        second = RateLimiter(store, window=60, clock=clock)
        for _ in range(3):
            assert (await first.hit("k", EXACT_BELOW)).admitted
        for _ in range(EXACT_BELOW - 3):
            assert (await second.hit("k", EXACT_BELOW)).admitted
        assert not (await first.hit("k", EXACT_BELOW)).admitted
        assert not (await second.hit("k", EXACT_BELOW)).admitted

    run(scenario())


def test_large_limits_are_shared_once_flushed() -> None:
    async def scenario() -> None:
        store, clock = CountingStore(), Clock()
        first = RateLimiter(store, window=60, clock=clock)
        second = RateLimiter(store, window=60, clock=clock)
        limit = 1000
        for _ in range(600):
            await first.hit("k", limit)
        await first.flush()
        for _ in range(400):
            assert (await second.hit("k", limit)).admitted
        assert not (await second.hit("k", limit)).admitted
        assert store.rows["k"][1] == limit

    run(scenario())


def test_an_unreachable_store_falls_back_to_local_counts() -> None:
    async def scenario() -> None:
        store = CountingStore()
        store.down = True
        limiter = RateLimiter(store, window=60, clock=Clock())
        for _ in range(3):
            assert (await limiter.hit("k", 3)).admitted
        assert not (await limiter.hit("k", 3)).admitted
        await limiter.flush()  # keeps the hits for later, raises nothing
        store.down = False
        limiter._store_down_until = 0  # the backoff has passed
        await limiter.flush()
        assert store.rows["k"][1] == 3

    run(scenario())


def test_ended_windows_are_forgotten() -> None:
    async def scenario() -> None:
        clock = Clock()
        limiter = RateLimiter(CountingStore(), window=10, clock=clock)
        for name in ("a", "b", "c"):
            await limiter.hit(name, 100)
        clock.now += 10
        await limiter.flush()
        assert limiter._buckets == {}

    run(scenario())


def test_concurrent_hits_never_overshoot() -> None:
    async def scenario() -> None:
        limiter = RateLimiter(CountingStore(), window=60, clock=Clock())
        decisions = await asyncio.gather(*(limiter.hit("k", 10) for _ in range(50)))
        assert sum(d.admitted for d in decisions) == 10

    run(scenario())


def test_a_store_counting_a_later_window_keeps_it() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        assert await store.try_add("k", 120, 0, 5, 5) == (True, 5)
        assert await store.try_add("k", 60, 3, 1, 5) == (False, 5), "hits of the ended window are dropped"
        assert await store.add([("k", 180, 2)]) == {"k": 2}

    run(scenario())


@pytest.mark.parametrize("limit", [1, 5, EXACT_BELOW])
def test_small_limits_are_always_exact(limit: int) -> None:
    assert margin(limit) == limit

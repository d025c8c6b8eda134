"""The guarded cache (ADR 0012): trust, the generation guard, LRU and TTL — and how the
control-plane caches read the listener's payloads."""

from __future__ import annotations

import asyncio
import time

from pgcube.auth.repository import KeyAuthRow
from pgcube.cache import GuardedCache, Trust
from pgcube.control_plane_cache import ControlPlaneCaches
from pgcube.management.models import Collection


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def trusted_cache(clock: Clock, **kwargs: float) -> tuple[Trust, GuardedCache[str, str]]:
    trust = Trust(window=1.0, clock=clock)
    trust.renew(clock.now)
    return trust, GuardedCache(trust, clock=clock, **kwargs)  # type: ignore[arg-type]


def test_a_value_read_before_an_eviction_is_not_stored_after_it() -> None:
    _, cache = trusted_cache(Clock())
    generation = cache.generation  # a request starts reading PostgreSQL ...
    cache.evict("k")  # ... the row changes and the notification arrives ...
    assert not cache.put("k", "stale", generation)  # ... then the read ends: not stored
    assert cache.get("k") is None
    assert cache.put("k", "fresh", cache.generation)
    assert cache.get("k") == "fresh"


def test_any_eviction_or_clear_bumps_the_generation() -> None:
    _, cache = trusted_cache(Clock())
    for evict in (lambda: cache.evict("other"), lambda: cache.evict_where(lambda k, v: False), cache.clear):
        generation = cache.generation
        evict()
        assert not cache.put("k", "v", generation)


def test_get_or_load_stores_only_a_current_value() -> None:
    _, cache = trusted_cache(Clock())

    async def load_racing_an_eviction() -> str:
        cache.evict("k")
        return "stale"

    assert asyncio.run(cache.get_or_load("k", load_racing_an_eviction)) == "stale"
    assert cache.get("k") is None

    async def load() -> str:
        return "v"

    assert asyncio.run(cache.get_or_load("k", load)) == "v"
    assert cache.get("k") == "v"


def test_nothing_is_used_or_stored_without_trust() -> None:
    clock = Clock()
    trust, cache = trusted_cache(clock)
    cache.put("k", "v", cache.generation)
    trust.withdraw()  # the listener lost its connection
    assert cache.get("k") is None
    assert not cache.put("j", "v", cache.generation)
    trust.renew(clock.now)
    assert cache.get("k") == "v"


def test_trust_lapses_one_window_after_the_last_confirmation() -> None:
    clock = Clock()
    trust, cache = trusted_cache(clock)
    cache.put("k", "v", cache.generation)
    clock.now += 0.99
    assert cache.get("k") == "v"
    clock.now += 0.02  # no heartbeat came back for a whole window
    assert not trust.trusted
    assert cache.get("k") is None


def test_entries_expire_and_the_least_recently_used_goes_first() -> None:
    clock = Clock()
    trust, cache = trusted_cache(clock, ttl=5.0, max_entries=2)
    cache.put("a", "1", cache.generation)
    cache.put("b", "2", cache.generation)
    assert cache.get("a") == "1"  # "b" is now the least recently used
    clock.now += 0.5
    cache.put("c", "3", cache.generation)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("1", None, "3")
    clock.now += 4.6  # past the time to live of "a" (5 s), not of "c"
    trust.renew(clock.now)
    assert (cache.get("a"), cache.get("c")) == (None, "3")
    assert len(cache) == 1


def test_payloads_evict_what_they_name() -> None:
    cached = ControlPlaneCaches()
    cached.confirmed(time.monotonic())
    scoped = KeyAuthRow("acc", b"digest", "db1", "server")
    unscoped = KeyAuthRow("acc", b"digest", None, "server")
    users = Collection(database_id="db1", schema_name="s", name="users")
    assert cached.keys.put("k1", scoped, cached.keys.generation)
    assert cached.keys.put("k2", unscoped, cached.keys.generation)
    assert cached.collections.put(("db1", "users"), users, cached.collections.generation)

    cached.message("collection:db1:users")
    assert cached.collections.get(("db1", "users")) is None
    cached.message("key:k2")
    assert (cached.keys.get("k1"), cached.keys.get("k2")) == (scoped, None)
    cached.message("database:db1")  # its scoped key goes with it
    assert cached.keys.get("k1") is None

    for payload in ("account:acc", "reset", "something new"):
        assert cached.keys.put("k2", unscoped, cached.keys.generation)
        cached.message(payload)
        assert cached.keys.get("k2") is None

"""A per-process cache of control-plane rows that is only used while invalidations can reach it
(ADR 0012).

Two small pieces, shared by every cache of the process:

* ``Trust`` — whether cached values may be used *now*. The invalidation
  listener (``pgcube.db.notify``) renews it each time a heartbeat comes back
  through PostgreSQL, which proves that every change committed before that
  heartbeat was sent has been applied here. It lapses on its own one window
  later, so a listener that dies silently stops the caches within the window.
* ``GuardedCache`` — bounded (least recently used goes first), each entry
  with a time to live as a backstop, and a *generation* that every eviction
  bumps: a value read from PostgreSQL is stored only if no eviction happened
  since the read began, so a row read just before its change was announced
  can never be stored just after the announcement (the fill-versus-invalidate
  race).

While ``Trust`` is withdrawn a cache answers every ``get`` with a miss and
stores nothing: requests take the uncached path and read PostgreSQL.

Everything runs on one event loop; there are no locks because nothing here
awaits between reading and writing its state.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

TRUST_WINDOW = 1.0
"""Seconds a confirmed listener keeps the caches trusted: the bound on how long a change
committed in PostgreSQL can go unnoticed by this process."""
DEFAULT_TTL = 60.0
DEFAULT_MAX_ENTRIES = 10_000


class Trust:
    def __init__(self, window: float = TRUST_WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._until = -math.inf

    @property
    def trusted(self) -> bool:
        return self._clock() < self._until

    def renew(self, confirmed_at: float) -> None:
        """Every change committed before ``confirmed_at`` (a ``clock()`` reading) has been applied."""
        self._until = max(self._until, confirmed_at + self.window)

    def withdraw(self) -> None:
        self._until = -math.inf


class GuardedCache(Generic[K, V]):
    def __init__(
        self,
        trust: Trust,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._trust = trust
        self._max_entries = max_entries
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def generation(self) -> int:
        """Take it before reading PostgreSQL; hand it to ``put`` with what was read."""
        return self._generation

    def get(self, key: K) -> V | None:
        if not self._trust.trusted:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V, generation: int) -> bool:
        """Store ``value`` unless an eviction happened since ``generation`` was taken (or the
        caches are not trusted); whether it was stored."""
        if generation != self._generation or not self._trust.trusted:
            return False
        self._entries[key] = (value, self._clock() + self._ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return True

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The cached value, else ``load()``'s (stored when not None and still current)."""
        value = self.get(key)
        if value is not None:
            return value
        generation = self._generation
        value = await load()
        if value is not None:
            self.put(key, value, generation)
        return value

    def evict(self, key: K) -> None:
        self._generation += 1
        self._entries.pop(key, None)

    def evict_where(self, predicate: Callable[[K, V], bool]) -> None:
        self._generation += 1
        for key in [key for key, (value, _) in self._entries.items() if predicate(key, value)]:
            del self._entries[key]

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()

"""Fixed-window rate limits shared by every worker and instance (RELIABILITY E3, ADR 0008).

Each process counts hits in memory and settles them with a shared ``Store``
(PostgreSQL's ``pgcube.rate_limits`` in production, see
``pgcube.db.rate_limits``):

* **fast path** — a bucket whose known global count is well under its limit
  is decided locally and costs no round trip; its hits are flushed to the
  store in the background once a second (``flush``), which also brings back
  what the other processes added;
* **exact path** — every hit once the count is within ``margin`` of the
  limit asks the store, which admits or refuses atomically against the global
  count (a window's first hits are decided locally while they fit in that
  margin: the flush settles them within a second);
* **refusals are exact** — a count only grows within a window, so a local
  count that is already over the limit refuses without asking anyone.

When the store does not answer (PostgreSQL down), decisions fall back to the
local counts for ``STORE_BACKOFF`` seconds: limits still hold per process,
and a request never waits on a dead store.

Windows are aligned on the Unix epoch (``[k * window, (k + 1) * window)``),
so every process agrees on them without talking.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("pgcube.ratelimit")

FLUSH_INTERVAL = 1.0
"""Seconds between background flushes of the local counts."""
STORE_BACKOFF = 1.0
"""Seconds of local-only decisions after the store failed to answer."""
EXACT_BELOW = 20
"""Limits up to this many hits per window are always decided by the store."""
MARGIN_FRACTION = 0.1
"""Past ``limit * (1 - MARGIN_FRACTION)`` every hit is decided by the store."""


class Store(Protocol):
    """Where the global counts live. ``window_start`` is Unix seconds."""

    async def try_add(
        self, bucket: str, window_start: int, pending: int, cost: int, limit: int
    ) -> tuple[bool, int]:
        """Atomically: add ``pending`` (hits already admitted) and, if the total stays
        within ``limit``, ``cost``. Returns (cost admitted, global count afterwards).

        A store that already counts a later window of the bucket (another
        process's clock is ahead) keeps that window, drops ``pending`` (they
        belong to the ended one) and judges ``cost`` against it."""
        ...

    async def add(self, hits: Sequence[tuple[str, int, int]]) -> dict[str, int]:
        """Add ``(bucket, window_start, hits)`` rows; the global count of each bucket afterwards."""
        ...

    async def purge(self, before: int) -> int:
        """Forget buckets whose window started before ``before``."""
        ...


@dataclass(frozen=True)
class Decision:
    admitted: bool
    limit: int
    remaining: int
    reset_at: int
    """Unix seconds at which the window ends."""
    retry_after: int
    """Seconds until a refused request may succeed (0 when admitted)."""


@dataclass
class _Bucket:
    window_start: int
    pending: int = 0
    """Hits admitted here and not yet flushed to the store."""
    known: int = 0
    """The global count at the last exchange with the store (includes what we flushed)."""
    synced: bool = False
    """Whether this window's count was exchanged with the store at least once."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def margin(limit: int) -> int:
    """How close to ``limit`` a count must be for every hit to ask the store."""
    if limit <= EXACT_BELOW:
        return limit
    return max(1, math.ceil(limit * MARGIN_FRACTION))


class RateLimiter:
    def __init__(self, store: Store, *, window: int, clock: Callable[[], float] = time.time) -> None:
        if window < 1:
            raise ValueError("the rate-limit window is at least one second")
        self.store = store
        self.window = window
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._store_down_until = 0.0
        self._store_healthy = True

    # --- deciding -------------------------------------------------------------------

    async def hit(self, bucket: str, limit: int, cost: int = 1) -> Decision:
        """Count ``cost`` hits on ``bucket`` if they fit in ``limit`` for this window."""
        now = self._clock()
        state = self._bucket(bucket, now)
        decided = self._decide_locally(state, limit, cost, now)
        if decided is not None:
            return decided
        async with state.lock:
            # Another hit may have synced while this one waited: look again.
            state = self._bucket(bucket, now)
            decided = self._decide_locally(state, limit, cost, now)
            if decided is not None:
                return decided
            return await self._decide_with_store(bucket, state, limit, cost, now)

    def _bucket(self, name: str, now: float) -> _Bucket:
        start = int(now // self.window) * self.window
        state = self._buckets.get(name)
        if state is None or state.window_start < start:
            # A new window: what the old one counted no longer matters.
            state = _Bucket(window_start=start)
            self._buckets[name] = state
        return state

    def _decide_locally(self, state: _Bucket, limit: int, cost: int, now: float) -> Decision | None:
        total = state.known + state.pending + cost
        if total > limit:
            # Counts only grow within a window: over the limit here is over it everywhere.
            return self._refused(state, limit, now)
        # Well below the limit the local count is trusted: once synced, or — the first hits of a
        # window — while they fit in the margin the store checks near the limit anyway. So a
        # request below the limit never waits for the store (issue 12).
        room = limit - margin(limit)
        trusted = total <= room and (state.synced or total <= margin(limit))
        if trusted or now < self._store_down_until:
            state.pending += cost
            return self._admitted(state, limit)
        return None

    async def _decide_with_store(
        self, name: str, state: _Bucket, limit: int, cost: int, now: float
    ) -> Decision:
        pending, state.pending = state.pending, 0
        try:
            admitted, total = await self.store.try_add(name, state.window_start, pending, cost, limit)
        except Exception as exc:  # the store is unreachable: decide on local counts for a while
            self._store_failed(exc)
            state.pending += pending
            if state.known + state.pending + cost > limit:
                return self._refused(state, limit, now)
            state.pending += cost
            return self._admitted(state, limit)
        self._store_answered()
        state.known = max(state.known, total)
        state.synced = True
        return self._admitted(state, limit) if admitted else self._refused(state, limit, now)

    def _admitted(self, state: _Bucket, limit: int) -> Decision:
        return Decision(
            admitted=True,
            limit=limit,
            remaining=max(0, limit - state.known - state.pending),
            reset_at=state.window_start + self.window,
            retry_after=0,
        )

    def _refused(self, state: _Bucket, limit: int, now: float) -> Decision:
        reset_at = state.window_start + self.window
        return Decision(
            admitted=False,
            limit=limit,
            remaining=max(0, limit - state.known - state.pending),
            reset_at=reset_at,
            retry_after=max(1, math.ceil(reset_at - now)),
        )

    def _store_failed(self, exc: BaseException) -> None:
        if self._store_healthy:  # once per outage, not once per second
            log.warning("rate-limit store unavailable (%s); deciding on local counts", type(exc).__name__)
            self._store_healthy = False
        self._store_down_until = self._clock() + STORE_BACKOFF

    def _store_answered(self) -> None:
        if not self._store_healthy:
            log.info("rate-limit store available again")
            self._store_healthy = True

    # --- settling with the store ------------------------------------------------------

    async def flush(self) -> None:
        """Send the local counts to the store, learn the global ones, forget ended windows."""
        now = self._clock()
        current = int(now // self.window) * self.window
        for name in [n for n, s in self._buckets.items() if s.window_start < current and not s.lock.locked()]:
            del self._buckets[name]
        sending = {
            name: (state, state.pending)
            for name, state in sorted(self._buckets.items())
            if state.pending and not state.lock.locked()
        }
        if not sending or now < self._store_down_until:
            return
        for state, _ in sending.values():
            state.pending = 0
        try:
            totals = await self.store.add(
                [(name, state.window_start, hits) for name, (state, hits) in sending.items()]
            )
        except Exception as exc:  # keep the hits for the next round
            self._store_failed(exc)
            for state, hits in sending.values():
                state.pending += hits
            return
        self._store_answered()
        for name, (state, _) in sending.items():
            if name in totals:
                state.known = max(state.known, totals[name])
                state.synced = True

    async def run(self, purge_every: float = 60.0) -> None:
        """The background task of a process: flush every second, purge old rows now and then."""
        last_purge = 0.0
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                await self.flush()
                if self._clock() - last_purge >= purge_every:
                    last_purge = self._clock()
                    await self.store.purge(int(self._clock()) - 2 * self.window)
            except Exception as exc:  # never let the loop die
                self._store_failed(exc)


class MemoryStore:
    """A ``Store`` for one process (and the unit tests): the same rules, in a dict."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[int, int]] = {}
        """bucket → (window_start, hits)"""

    def _with(self, bucket: str, window_start: int, pending: int) -> tuple[int, int]:
        """(the window the bucket counts now, its count with ``pending`` added if they belong to it)."""
        start, hits = self.rows.get(bucket, (window_start, 0))
        if start > window_start:
            return start, hits
        if start < window_start:
            hits = 0
        return window_start, hits + pending

    async def try_add(
        self, bucket: str, window_start: int, pending: int, cost: int, limit: int
    ) -> tuple[bool, int]:
        start, hits = self._with(bucket, window_start, pending)
        admitted = hits + cost <= limit
        hits += cost if admitted else 0
        self.rows[bucket] = (start, hits)
        return admitted, hits

    async def add(self, hits: Sequence[tuple[str, int, int]]) -> dict[str, int]:
        totals: dict[str, int] = {}
        for bucket, window_start, count in hits:
            self.rows[bucket] = self._with(bucket, window_start, count)
            totals[bucket] = self.rows[bucket][1]
        return totals

    async def purge(self, before: int) -> int:
        old = [bucket for bucket, (start, _) in self.rows.items() if start < before]
        for bucket in old:
            del self.rows[bucket]
        return len(old)

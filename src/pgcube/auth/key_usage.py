"""``api_keys.last_used_at``, written off the request path (ADR 0012).

A request made with an API key only notes the key's id here. A background task
(``flush_loop``, started in the app's lifespan) writes the noted ids every
``FLUSH_INTERVAL`` seconds in one statement on a pooled connection, and once
more at shutdown. Each key is written at most once per ``RESOLUTION`` seconds:
this process stops noting a key for that long after writing it, and the
statement skips rows written that recently by any process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pgcube.auth.repository import AccountsRepository

FLUSH_INTERVAL = 1.0
ACQUIRE_TIMEOUT = 5.0
RESOLUTION = 60
"""Seconds: ``last_used_at`` is at most this old for a key in use, and written at most this often."""

log = logging.getLogger("pgcube.auth")


class KeyUsage:
    def __init__(self) -> None:
        self._pending: set[str] = set()
        self._written: dict[str, float] = {}
        """Key id → when this process last wrote it (monotonic)."""

    def note(self, key_id: str) -> None:
        written = self._written.get(key_id)
        if written is None or time.monotonic() - written >= RESOLUTION:
            self._pending.add(key_id)

    async def flush(self, pool: Any) -> None:
        """Write the noted keys (one statement); on failure they stay noted for the next round."""
        if not self._pending:
            return
        key_ids = sorted(self._pending)
        self._pending.clear()
        try:
            async with pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
                await AccountsRepository(conn).touch_keys(key_ids, RESOLUTION)
        except BaseException:
            self._pending.update(key_ids)
            raise
        now = time.monotonic()
        self._written = {k: t for k, t in self._written.items() if now - t < RESOLUTION}
        self._written.update(dict.fromkeys(key_ids, now))

    async def flush_loop(self, pool: Any) -> None:
        """Flush every ``FLUSH_INTERVAL`` until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL)
                try:
                    await self.flush(pool)
                except Exception:  # PostgreSQL away: the ids stay noted for the next round
                    log.warning("could not record API key use; retrying", exc_info=True)
        finally:
            try:
                await self.flush(pool)
            except Exception:
                log.warning("could not record API key use at shutdown", exc_info=True)

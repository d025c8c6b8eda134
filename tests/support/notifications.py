"""What PostgreSQL announces on a channel, heard the way a pgcube process hears it (``LISTEN``).

    with Notifications(pg_url, "pgcube_catalog") as heard:
        ...  # a request that commits a change
        heard.wait_for(f"database:{database_id}")

The connection lives on a private event loop in a background thread (as ``SyncPg``), so
plain tests can use it while a live server runs in another thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType
from typing import Any

import asyncpg


class Notifications:
    def __init__(self, url: str, channel: str) -> None:
        self.url = url
        self.channel = channel
        self.payloads: list[str] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._conn: asyncpg.Connection | None = None

    def __enter__(self) -> Notifications:
        self._thread.start()
        self._conn = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result()
        return self

    async def _listen(self) -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(self.url)
        await conn.add_listener(self.channel, self._heard)
        return conn

    def _heard(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        with self._lock:
            self.payloads.append(payload)

    def heard(self) -> list[str]:
        with self._lock:
            return list(self.payloads)

    def wait_for(self, payload: str, timeout: float = 5.0) -> list[str]:
        """Everything heard so far, once ``payload`` is among it (else AssertionError)."""
        deadline = time.monotonic() + timeout
        while payload not in self.heard():
            if time.monotonic() > deadline:
                raise AssertionError(f"{payload!r} not announced on {self.channel}; heard {self.heard()}")
            time.sleep(0.02)
        return self.heard()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._conn is not None:
            asyncio.run_coroutine_threadsafe(self._conn.close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

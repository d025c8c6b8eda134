"""A synchronous face on one asyncpg connection, for tests that check the
database directly (catalog rows, physical objects, EXPLAIN plans).

The connection lives on a private event loop in a background thread, so
plain (sync) tests can use it while a live server runs in another thread.
Connections get pgcube's own codecs: ``jsonb`` goes in and comes out as
JSON bytes (``SyncPg.json`` decodes a value for assertions).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg

from pgcube.db.pool import connect
from pgcube.settings import Settings

T = TypeVar("T")


class SyncPg:
    def __init__(self, url: str, settings: Settings | None = None) -> None:
        self.url = url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.conn: asyncpg.Connection = self._run(connect(settings or Settings(), url))

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def execute(self, sql: str, *args: Any) -> str:
        return self._run(self.conn.execute(sql, *args))

    def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return self._run(self.conn.fetch(sql, *args))

    def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return self._run(self.conn.fetchrow(sql, *args))

    def fetchval(self, sql: str, *args: Any) -> Any:
        return self._run(self.conn.fetchval(sql, *args))

    def fetch_as(self, role: str, settings: dict[str, str], sql: str, *args: Any) -> list[asyncpg.Record]:
        """``sql`` in a transaction of its own, as ``role`` with transaction-local ``settings``
        (rolled back): what a DBA runs to see the data as an end user (docs/psql.md)."""

        async def run() -> list[asyncpg.Record]:
            async with self.conn.transaction():
                await self.conn.execute(f'SET LOCAL ROLE "{role}"')
                for name, value in settings.items():
                    await self.conn.execute("SELECT set_config($1, $2, true)", name, value)
                rows: list[asyncpg.Record] = await self.conn.fetch(sql, *args)
                await self.conn.execute("RESET ROLE")
                return rows

        return self._run(run())

    @staticmethod
    def json(value: bytes | None) -> Any:
        return None if value is None else json.loads(value)

    def close(self) -> None:
        self._run(self.conn.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

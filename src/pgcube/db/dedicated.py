"""Connections of their own, outside the request pool, for statements that cannot run inside a
transaction and may run for minutes: ``CREATE INDEX CONCURRENTLY`` and ``DROP INDEX
CONCURRENTLY`` (ADR 0025).

A pooled connection would not do: the build must not sit in a request's transaction (it waits
for every older transaction of the database to end, its own caller's included), it needs no
statement timeout, and a pooled connection goes back as it came (RELIABILITY D3) — so nothing
may be ``SET`` on one. A dedicated connection has the pool's settings (``pgcube.db.pool``) but:

* ``statement_timeout = 0`` — a build lasts as long as the table is large;
* ``client_connection_check_interval`` — a backend whose client went away (a request
  cancelled, a process killed) notices within a second and stops building, instead of
  finishing an index nobody will record;
* ``application_name = pgcube-ddl``, so a DBA can tell it apart in ``pg_stat_activity``.

Whatever it leaves in the session (an advisory lock) ends with it: it is closed after use
(terminated after a failure, which may have left a statement running).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from pgcube.db.pool import init_connection, server_settings
from pgcube.settings import Settings

APPLICATION_NAME = "pgcube-ddl"
CLIENT_CHECK_MS = 1000


class DedicatedConnections:
    """Opens connections like the pool's, one at a time, for long DDL outside any transaction."""

    def __init__(self, settings: Settings, url: str) -> None:
        self._settings = settings
        self._url = url

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        """A new connection, closed when the block ends (terminated when it raised)."""
        conn: asyncpg.Connection = await asyncpg.connect(
            self._url,
            timeout=self._settings.pool_acquire_timeout,
            server_settings={
                **server_settings(self._settings),
                "statement_timeout": "0",
                "client_connection_check_interval": str(CLIENT_CHECK_MS),
                "application_name": APPLICATION_NAME,
            },
        )
        try:
            await init_connection(conn)
            yield conn
        except BaseException:
            conn.terminate()
            raise
        await conn.close()

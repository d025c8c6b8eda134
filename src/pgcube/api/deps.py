"""Dependencies shared by the route groups: settings, the pool, and the
request's transaction (acquire, begin, yield, commit or roll back — the one
place that does it; handlers never commit)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import asyncpg
from litestar.datastructures import State
from litestar.di import NamedDependency

from pgcube.auth.principal import Principal
from pgcube.db import transaction
from pgcube.settings import Settings


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


async def acquire(state: State) -> asyncpg.pool.PoolConnectionProxy:
    """A pooled connection, or 503 within the acquire timeout."""
    conn: asyncpg.pool.PoolConnectionProxy = await transaction.acquire(state.pool, state.settings)
    return conn


async def provide_transaction(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """One transaction per request, its statements under ``SET LOCAL statement_timeout``:
    committed when the handler returns, rolled back when it raises (``pgcube.db.transaction``)."""
    pool: asyncpg.Pool = state.pool
    conn, tx = await transaction.begin(pool, state.settings)
    try:
        try:
            yield conn
        except BaseException:
            await transaction.finish(tx, conn, failed=True)
            raise
        await transaction.finish(tx, conn, failed=False)
    finally:
        await transaction.release(pool, conn)


# Handler parameter types for the app-wide dependencies (see ``create_app``).
Auth = NamedDependency[Principal]
"""``principal``: an account by access JWT or API key."""
Conn = NamedDependency[Any]
"""``conn``: the request's connection, inside its transaction (asyncpg ships no types)."""
Config = NamedDependency[Settings]
"""``settings``."""

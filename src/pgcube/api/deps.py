"""Dependencies shared by the route groups: settings, the request's database session, and the
request's transaction for the routes that want one whole (management, import).

``session`` (``pgcube.db.session``) acquires a pooled connection on first use and gives it
back when the request ends; ``conn`` is that connection inside one transaction, committed
when the handler returns and rolled back when it raises — the one place that does it;
handlers never commit.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Parameter

from pgcube.db import transaction
from pgcube.db.session import Session
from pgcube.principal import Principal
from pgcube.settings import Settings


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


async def acquire(state: State) -> asyncpg.pool.PoolConnectionProxy:
    """A pooled connection, or 503 within the acquire timeout."""
    conn: asyncpg.pool.PoolConnectionProxy = await transaction.acquire(state.pool, state.settings)
    return conn


@asynccontextmanager
async def request_session(state: State) -> AsyncIterator[Session]:
    """A request's session. When the block ends, its transaction (if ``conn`` began one) is
    committed, or rolled back if the block raised, and the connection goes back to the pool,
    in that order."""
    session = Session(state.pool, state.settings)
    try:
        yield session
    except BaseException:
        await session.close(failed=True)
        raise
    await session.close()


async def provide_session(state: State) -> AsyncGenerator[Session, None]:
    """The ``session`` dependency (``request_session``). The document routes (DDO, CRUD) open
    theirs in the handler instead: Litestar's dependency injection costs more CPU than the rest
    of a warm read's work in pgcube (ADR 0013)."""
    async with request_session(state) as session:
        yield session


async def provide_transaction(
    session: NamedDependency[Session], principal: NamedDependency[Principal]
) -> asyncpg.Connection:
    """The request's connection inside one transaction for the whole request (``provide_session``
    finishes it). It depends on ``principal`` so that authentication (which may look a key up on
    the same connection) is done before the transaction begins: Litestar resolves dependencies of
    one level concurrently, and a connection runs one statement at a time."""
    conn: asyncpg.Connection = await session.begin_request()
    return conn


# Handler parameter types for the app-wide dependencies (see ``create_app``).
Auth = NamedDependency[Principal]
"""``principal``: an account by access JWT or API key."""
Db = NamedDependency[Session]
"""``session``: the request's database session (``pgcube.db.session``)."""
Conn = NamedDependency[Any]
"""``conn``: the request's connection, inside its transaction (asyncpg ships no types)."""
Config = NamedDependency[Settings]
"""``settings``."""
DatabaseId = Annotated[str, Parameter(description="The database's id (24 hex digits)")]
"""A ``database_id`` query parameter."""

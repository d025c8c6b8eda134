"""Acquire, begin, commit, release, and the failures around them (RELIABILITY D3, E5, E6, F3, F4).

* A free connection within ``pool_acquire_timeout``, else 503 with
  ``retry_after`` — never a hang.
* Every statement runs under the connection's ``statement_timeout``, set once
  when the pool opens it (``pgcube.db.pool``), and is cancelled past it
  (57014 → 504 ``QUERY_TIMEOUT``). Nothing is set per request, so a
  connection goes back to the pool as it came (D3).
* A pooled connection can die while idle (PostgreSQL restarted, a backend
  terminated). If it fails before the request did anything — at ``BEGIN`` —
  the pool drops it and the request starts again on a fresh connection, so
  only requests that were in flight see the failure.
* PostgreSQL unreachable: the pool's connect fails at once (or within the
  connect timeout) and the request is a 503; the pool reconnects by itself
  when PostgreSQL is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg

from pgcube import errors
from pgcube.db.errors import map_db_error
from pgcube.settings import Settings

BEGIN_ATTEMPTS = 3
"""A fresh connection is tried this many times before the request gives up with 503."""

Connection = Any
"""An asyncpg pool connection proxy (asyncpg ships no type information)."""


async def acquire(pool: asyncpg.Pool, settings: Settings) -> Connection:
    """A pooled connection, or 503 ``SERVICE_UNAVAILABLE`` within the acquire timeout."""
    try:
        # asyncio.timeout, not acquire(timeout=...): asyncpg's own timeout wraps the acquire in a
        # task of its own, a cost paid on every request for the rare one that waits.
        async with asyncio.timeout(settings.pool_acquire_timeout):
            return await pool.acquire()
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise errors.ServiceUnavailable(retry_after=_retry_after(settings)) from exc


def _retry_after(settings: Settings) -> int:
    return max(1, round(settings.pool_acquire_timeout))


def is_closed(conn: Connection) -> bool:
    """Whether the connection is gone (the pool detaches a connection that closed under it)."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:  # "released back to the pool": closed under us and taken back
        return True


def is_connection_loss(exc: BaseException, conn: Connection) -> bool:
    return isinstance(map_db_error(exc), errors.ServiceUnavailable) or is_closed(conn)


async def begin(pool: asyncpg.Pool, settings: Settings) -> tuple[Connection, Any]:
    """(connection, its started transaction); a connection found dead at ``BEGIN`` is replaced."""
    for attempt in range(1, BEGIN_ATTEMPTS + 1):
        conn = await acquire(pool, settings)
        transaction = conn.transaction()
        try:
            await transaction.start()
        except BaseException as exc:  # cancelled too: the connection goes back either way
            lost = isinstance(exc, Exception) and is_connection_loss(exc, conn)
            await release(pool, conn)
            if not lost:
                raise
            if attempt == BEGIN_ATTEMPTS:
                raise errors.ServiceUnavailable(retry_after=_retry_after(settings)) from exc
            continue
        return conn, transaction
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


async def finish(transaction: Any, conn: Connection, failed: bool) -> None:
    """Commit; or, after a failure, roll back quietly (the failure that got here is the one to
    report, and the connection may already be gone). A commit on a lost connection is a 503."""
    if failed:
        if not is_closed(conn):
            with contextlib.suppress(Exception):
                await transaction.rollback()
        return
    try:
        await transaction.commit()
    except Exception as exc:
        if is_closed(conn):
            raise errors.ServiceUnavailable() from exc
        raise


async def release(pool: asyncpg.Pool, conn: Connection) -> None:
    """Back to the pool; a broken connection is closed and replaced on the next acquire."""
    try:
        await pool.release(conn)
    except Exception:  # releasing resets the session: a dead connection cannot, drop it
        with contextlib.suppress(Exception):
            conn.terminate()

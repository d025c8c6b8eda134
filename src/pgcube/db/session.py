"""One request's access to PostgreSQL: a pooled connection taken on first use, statements that
commit on their own, and a transaction only where a request must write several statements
atomically (ADR 0013).

* Nothing is acquired until a statement needs it: a request answered from the
  caches (an unknown op, a bad body, a refused key) never touches the pool.
* ``connection()`` — the request's one connection. Each statement on it is its
  own implicit transaction: a read, or a write that is one statement (an
  insert, an update or a delete), needs no ``BEGIN``/``COMMIT`` round trips.
* ``transaction()`` — ``BEGIN`` … ``COMMIT`` (or ``ROLLBACK`` when the block
  raises) on that same connection, for work that must be all or nothing
  across statements (an upsert, an ``Idempotency-Key``, DDL). A transaction
  opened inside another joins it: the outer one commits.
* ``acting_as(user_key)`` — a web-key request's document statements: inside a
  transaction, as the role ``pgcube_web`` (no ``BYPASSRLS``) with the end user
  in the transaction-local setting ``pgcube.userkey``, so PostgreSQL's
  row-level security decides what they see and change (SPEC §11.4, ADR 0018).
  ``BEGIN``, the role and the user go in one round trip.
* The statement timeout is the connection's (``pgcube.db.pool``), so no
  request sets anything on a connection and it goes back to the pool as it
  came (RELIABILITY D3): the role and the user are ``LOCAL``, gone at ``COMMIT``.

Failures keep the rules of ``pgcube.db.transaction``: no free connection within
the acquire timeout is a 503; a connection that dies before the request's first
statement is replaced (``retry_on_loss``), so only requests in flight fail.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from pgcube import errors
from pgcube.db import transaction
from pgcube.db.transaction import Connection
from pgcube.settings import Settings

T = TypeVar("T")

WEB_ROLE = "pgcube_web"
"""The role of web-key requests (migration 0006): bound by every collection's row-level security."""
_USER_KEY = re.compile(r"[0-9a-f]{32}")
_UNRESTRICTED = "RESET ROLE; SELECT set_config('pgcube.userkey', '', true)"


def restriction(user_key: str | None) -> str:
    """The statements that make the rest of a transaction ``WEB_ROLE`` acting for ``user_key``
    (none: no end user). The key is an id_token's verified ``sub``: 32 hex digits, checked again
    here because it is written into the text (simple query protocol: one round trip)."""
    if user_key is not None and not _USER_KEY.fullmatch(user_key):
        raise ValueError("an end user's key is 32 lowercase hex digits")
    return f"SET LOCAL ROLE {WEB_ROLE}; SELECT set_config('pgcube.userkey', '{user_key or ''}', true)"


class _ScriptTransaction:
    """A transaction begun by a script of ours (``BEGIN; ...``), for ``transaction.finish``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def commit(self) -> None:
        await self._conn.execute("COMMIT")

    async def rollback(self) -> None:
        await self._conn.execute("ROLLBACK")


class Session:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings
        self._conn: Connection | None = None
        self._in_transaction = False
        self._request_transaction: Any = None

    @property
    def in_transaction(self) -> bool:
        """Whether statements now run inside ``BEGIN`` … ``COMMIT`` (a failed one would end it)."""
        return self._in_transaction

    async def connection(self) -> Connection:
        """The request's connection (acquired now if need be; 503 past the acquire timeout)."""
        if self._conn is None:
            self._conn = await transaction.acquire(self._pool, self._settings)
        return self._conn

    async def _begin(self) -> Any:
        if self._conn is None:
            # A fresh connection whose BEGIN fails because it died while idle is replaced.
            self._conn, tx = await transaction.begin(self._pool, self._settings)
        else:
            tx = self._conn.transaction()
            await tx.start()
        self._in_transaction = True
        return tx

    async def begin_request(self) -> Connection:
        """Put the rest of the request in one transaction, finished by ``close``: committed when
        the request succeeded, rolled back when it failed (the ``conn`` dependency)."""
        if not self._in_transaction:
            self._request_transaction = await self._begin()
        return await self.connection()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """The connection inside ``BEGIN`` … ``COMMIT``; rolled back when the block raises."""
        if self._in_transaction:
            yield await self.connection()
            return
        tx = await self._begin()
        try:
            try:
                yield self._conn
            except BaseException:
                await transaction.finish(tx, self._conn, failed=True)
                raise
            await transaction.finish(tx, self._conn, failed=False)
        finally:
            self._in_transaction = False

    @asynccontextmanager
    async def acting_as(self, user_key: str | None) -> AsyncIterator[None]:
        """The block's statements run as ``WEB_ROLE`` for the end user ``user_key``.

        Inside the request's transaction, the role and the user are set for the block and reset
        after it (what follows, such as an ``Idempotency-Key``'s stored answer, is pgcube's own
        work). Otherwise the block is a transaction of its own, begun with them in one round
        trip and committed after it (rolled back when it raises)."""
        setup = restriction(user_key)
        conn = await self.connection()
        if self._in_transaction:
            await conn.execute(setup)
            yield
            await conn.execute(_UNRESTRICTED)
            return
        tx = _ScriptTransaction(conn)
        try:
            await conn.execute("BEGIN; " + setup)
        except BaseException:  # a failed script leaves its transaction open: end it here
            await transaction.finish(tx, conn, failed=True)
            raise
        self._in_transaction = True
        try:
            try:
                yield
            except BaseException:
                await transaction.finish(tx, conn, failed=True)
                raise
            await transaction.finish(tx, conn, failed=False)
        finally:
            self._in_transaction = False

    async def close(self, *, failed: bool = False) -> None:
        """Finish the request's transaction if it has one (commit, or roll back when ``failed``),
        then give the connection back to the pool (a broken one is dropped)."""
        conn, self._conn = self._conn, None
        tx, self._request_transaction = self._request_transaction, None
        self._in_transaction = False
        if conn is None:
            return
        try:
            if tx is not None:
                await transaction.finish(tx, conn, failed=failed)
        finally:
            await transaction.release(self._pool, conn)

    async def retry_on_loss(self, work: Callable[[], Awaitable[T]]) -> T:
        """``work()``; once more on a fresh connection if the first one was lost before it
        answered anything. For reads only: they can run twice without effect."""
        for attempt in range(1, transaction.BEGIN_ATTEMPTS + 1):
            try:
                return await work()
            except Exception as exc:
                conn = self._conn
                lost = conn is not None and transaction.is_connection_loss(exc, conn)
                if not lost or attempt == transaction.BEGIN_ATTEMPTS:
                    raise
                await self.close()
        raise errors.ServiceUnavailable()  # pragma: no cover - the loop returns or raises

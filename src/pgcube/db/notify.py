"""The invalidation listener: one dedicated connection per process that ``LISTEN``s for changes
to the control plane (ADR 0012).

Triggers on the control-plane tables (migration 0002) call
``pg_notify('pgcube_catalog', '<kind>:<id>')`` for every row written; PostgreSQL
delivers the notification to every listening session of the database — every
worker of every pgcube instance — when the writing transaction commits.

The connection is not taken from the request pool (a pooled connection is
shared between requests and has no session state to keep) and carries its
own ``application_name`` (``pgcube-listener``) so a DBA can tell it apart.

What the subscriber learns, and when:

* ``connected()`` — listening (again). Anything cached before may have
  missed a notification while nobody listened: drop it.
* ``message(payload)`` — a control-plane row changed.
* ``confirmed(sent_at)`` — a heartbeat came back. The listener notifies a
  channel only it listens to and waits for the echo; PostgreSQL delivers
  notifications in commit order, so when the echo arrives every change
  committed before ``sent_at`` has been delivered. This proves the whole
  path (connection, ``LISTEN``, delivery) works, which a plain ``SELECT 1``
  would not (behind a transaction-mode pooler, for one, ``LISTEN`` silently
  hears nothing).
* ``lost()`` — the connection ended or a heartbeat did not come back: stop
  trusting what is cached until ``connected()`` again.

The loop reconnects with a capped exponential backoff for as long as the
process runs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from contextlib import suppress
from typing import Any, Protocol

import asyncpg

CHANNEL = "pgcube_catalog"
APPLICATION_NAME = "pgcube-listener"
HEARTBEAT_INTERVAL = 0.25
"""Seconds between heartbeats: well inside ``pgcube.cache.TRUST_WINDOW`` so trust never lapses
while the listener is healthy."""
HEARTBEAT_TIMEOUT = 5.0
"""A heartbeat that has not come back after this long means the connection is broken: reconnect."""
CONNECT_TIMEOUT = 5.0
BACKOFF_MIN = 0.1
BACKOFF_MAX = 5.0

log = logging.getLogger("pgcube.notify")


class Subscriber(Protocol):
    def connected(self) -> None: ...

    def message(self, payload: str) -> None: ...

    def confirmed(self, sent_at: float) -> None: ...

    def lost(self) -> None: ...


class ListenerLost(ConnectionError):
    """The listener's connection ended."""


class Listener:
    def __init__(self, url: str, subscriber: Subscriber, channel: str = CHANNEL) -> None:
        self._url = url
        self._subscriber = subscriber
        self._channel = channel
        self._echo_channel = f"{channel}_echo_{secrets.token_hex(8)}"
        self._echo: asyncio.Future[None] | None = None
        self._first_confirmation = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listening = False
        self._closing = False

    async def start(self, wait: float = CONNECT_TIMEOUT) -> None:
        """Start listening. Waits up to ``wait`` seconds for the first heartbeat, so the caches
        work from the first request, but never fails: if PostgreSQL is not there yet, the loop
        keeps trying in the background and the caches stay off until it succeeds."""
        self._task = asyncio.create_task(self._run(), name="pgcube-listener")
        with suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._first_confirmation.wait()

    async def close(self) -> None:
        """Stop listening. The loop also stops by itself at its next step, so a cancellation
        that an awaited call swallowed cannot keep the process from shutting down."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        delay = BACKOFF_MIN
        while not self._closing:
            self._listening = False
            try:
                await self._listen()
            except Exception as exc:  # whatever broke, the caches are off until the next connection
                log.warning("invalidation listener: %r; caches are off until it reconnects", exc)
            finally:
                self._subscriber.lost()
            delay = BACKOFF_MIN if self._listening else min(delay * 2, BACKOFF_MAX)
            await asyncio.sleep(delay)

    async def _listen(self) -> None:
        """Listen until the connection breaks (then raise)."""
        conn: asyncpg.Connection = await asyncpg.connect(
            self._url,
            timeout=CONNECT_TIMEOUT,
            server_settings={
                "application_name": APPLICATION_NAME,
                "statement_timeout": str(int(HEARTBEAT_TIMEOUT * 1000)),
                # It reads notifications, not notices: a statement log sent to clients
                # (client_min_messages = log in the URL) leaves its heartbeats out.
                "client_min_messages": "warning",
            },
        )
        try:
            conn.add_termination_listener(self._on_termination)
            await conn.add_listener(self._channel, self._on_message)
            await conn.add_listener(self._echo_channel, self._on_echo)
            self._subscriber.connected()
            self._listening = True
            while not self._closing:
                await self._heartbeat(conn)
                await asyncio.sleep(HEARTBEAT_INTERVAL)
        finally:
            conn.terminate()

    async def _heartbeat(self, conn: asyncpg.Connection) -> None:
        sent_at = time.monotonic()
        self._echo = asyncio.get_running_loop().create_future()
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for loses a cancellation that
            # arrives as the awaited call completes, and the listener would then outlive shutdown.
            async with asyncio.timeout(HEARTBEAT_TIMEOUT):
                await conn.execute("SELECT pg_notify($1, '')", self._echo_channel)
            async with asyncio.timeout(HEARTBEAT_TIMEOUT):
                await self._echo
        finally:
            self._echo = None
        self._subscriber.confirmed(sent_at)
        if not self._first_confirmation.is_set():
            log.debug("the invalidation listener is listening")
            self._first_confirmation.set()

    def _on_message(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._subscriber.message(payload)

    def _on_echo(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if self._echo is not None and not self._echo.done():
            self._echo.set_result(None)

    def _on_termination(self, conn: Any) -> None:
        # Stop trusting the caches at once, not when the heartbeat would notice.
        self._subscriber.lost()
        if self._echo is not None and not self._echo.done():
            self._echo.set_exception(ListenerLost("the listener's connection ended"))

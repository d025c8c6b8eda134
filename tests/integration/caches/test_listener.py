"""The invalidation listener stops when the process shuts down, whatever it was awaiting.

Python 3.11's ``asyncio.wait_for`` loses a cancellation that arrives as the awaited call
completes; the listener's heartbeat once awaited through it, and a worker stopped right after
startup then waited for its listener for ever (``pgcube serve --workers 2``, tests/integration/
test_serve.py). These tests hold ``close()`` to ending promptly, including when a cancellation
is lost on the way.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pgcube.db.notify import HEARTBEAT_INTERVAL, Listener

CLOSE_WITHIN = 3.0
"""Seconds ``close()`` may take: a heartbeat, a reconnect delay and a slow machine's margin."""


class Recorder:
    """A subscriber that remembers what it heard."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def connected(self) -> None:
        self.events.append("connected")

    def message(self, payload: str) -> None:
        self.events.append("message")

    def confirmed(self, sent_at: float) -> None:
        self.events.append("confirmed")

    def lost(self) -> None:
        self.events.append("lost")


class LosesACancellation(Listener):
    """A listener whose heartbeat, once, has a call in flight when shutdown comes and loses the
    cancellation, as ``wait_for`` did when the call completed at that moment."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.in_flight = asyncio.Event()
        self.lost_cancellations = 0

    async def _heartbeat(self, conn: Any) -> None:
        await super()._heartbeat(conn)
        if self.in_flight.is_set():
            return
        self.in_flight.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.lost_cancellations += 1


async def closing_time(listener: Listener) -> float:
    """Seconds ``close()`` took (a TimeoutError past ``CLOSE_WITHIN``)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(CLOSE_WITHIN):
        await listener.close()
    return loop.time() - started


def test_close_ends_the_listener_and_it_stops_trusting(pg_url: str) -> None:
    subscriber = Recorder()
    listener = Listener(pg_url, subscriber)

    async def listen_then_close() -> float:
        await listener.start()
        await asyncio.sleep(HEARTBEAT_INTERVAL * 2)
        return await closing_time(listener)

    assert asyncio.run(listen_then_close()) < CLOSE_WITHIN
    assert subscriber.events[0] == "connected"
    assert "confirmed" in subscriber.events
    assert subscriber.events[-1] == "lost", "a closed listener leaves the caches off"


def test_close_ends_the_listener_even_when_a_cancellation_is_lost(pg_url: str) -> None:
    listener = LosesACancellation(pg_url, Recorder())

    async def close_with_a_call_in_flight() -> float:
        await listener.start()
        await listener.in_flight.wait()
        return await closing_time(listener)

    assert asyncio.run(close_with_a_call_in_flight()) < CLOSE_WITHIN
    assert listener.lost_cancellations == 1, "the cancellation came during the call in flight"

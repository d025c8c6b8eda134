"""A store that does not answer: a 503 within seconds, never a hang or a 500, and nothing kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from pgcube.errors import ServiceUnavailable
from pgcube.settings import Settings
from pgcube.storage import open_store
from tests.support.live import free_port
from tests.support.s3 import s3_overrides


def unreachable_store_settings() -> Settings:
    # A loopback port nobody listens on: connections are refused at once.
    endpoint = f"http://127.0.0.1:{free_port()}"
    return Settings.from_env({}, **s3_overrides(endpoint, "pgcube-gone"))


async def some_bytes() -> AsyncIterator[bytes]:
    for _ in range(3):
        yield b"x" * 1024


def test_every_store_call_answers_503_quickly_when_the_store_is_unreachable() -> None:
    store = open_store(unreachable_store_settings())

    async def attempts() -> list[str]:
        failures = []
        for call in (
            lambda: store.write("db/key", some_bytes(), max_bytes=10_000, content_type="text/plain"),
            lambda: store.info("db/key"),
            lambda: store.digest("db/key"),
            lambda: store.delete(["db/key"]),
        ):
            with pytest.raises(ServiceUnavailable) as raised:
                await call()
            failures.append(raised.value.code)
        return failures

    started = time.monotonic()
    assert asyncio.run(attempts()) == ["SERVICE_UNAVAILABLE"] * 4
    assert time.monotonic() - started < 60

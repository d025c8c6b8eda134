"""/ready follows the database: 503 while it is down, 200 again once it is back,
with no restart of pgcube; /health never needs the database."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pgcube.db import migrations
from pgcube.db.embedded import start_embedded
from tests.support.live import LiveServer, test_settings


@pytest.fixture
def own_postgres() -> Iterator[Any]:
    """A private embedded PostgreSQL this test may stop and start."""
    with tempfile.TemporaryDirectory(prefix="pgcube-ready-") as tmp:
        embedded = start_embedded(Path(tmp))
        try:
            yield embedded
        finally:
            embedded.close()


def wait_for_status(http: httpx.Client, path: str, status: int, within: float) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = http.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


@pytest.mark.slow
def test_ready_follows_the_database(own_postgres: Any) -> None:
    migrations.upgrade(own_postgres.url)
    settings = test_settings(own_postgres.url, pool_acquire_timeout=1.0)
    with LiveServer(settings) as server, server.client() as http:
        assert http.get("/ready").status_code == 200

        own_postgres.stop()
        down = wait_for_status(http, "/ready", 503, within=10)
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert down.headers["Retry-After"] == "1"
        assert http.get("/health").status_code == 200

        own_postgres.start()
        back = wait_for_status(http, "/ready", 200, within=10)
        assert back.status_code == 200, back.text

"""RELIABILITY I4: a model call never holds a pooled database connection.

A pgcube with a pool of two connections and a provider that holds every request: more model calls
than the pool has connections all reach the provider at once (each gave its connection back before
calling), and while they wait the pool is whole and document requests are served at once."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar

from tests.integration.ai.conftest import ASKED_MODEL, new_database
from tests.support.accounts import Account
from tests.support.live import LiveServer, test_settings
from tests.support.openai_server import OpenAIServer

POOL = 2
CALLS = 3 * POOL


@pytest.fixture(scope="module")
def small_pool_server(pg_url: str, openai_server: OpenAIServer) -> Iterator[LiveServer]:
    settings = test_settings(
        pg_url,
        ai_base_url=openai_server.url,
        ai_model=ASKED_MODEL,
        ai_timeout=30.0,
        pool_min_size=POOL,
        pool_max_size=POOL,
        pool_acquire_timeout=1.0,
    )
    apps: list[Litestar] = []
    with LiveServer(settings, app_hook=lambda app: apps.append(app) or app) as server:
        server.app = apps[0]  # type: ignore[attr-defined]  # the test reads its pool
        yield server


def connections_taken(server: LiveServer) -> int:
    """Connections of the server's pool checked out by a request (asyncpg's counters)."""
    pool = server.app.state.pool  # type: ignore[attr-defined]
    taken: int = pool.get_size() - pool.get_idle_size()
    return taken


def test_model_calls_in_flight_hold_no_connection(
    small_pool_server: LiveServer,
    provider: OpenAIServer,
    module_client: httpx.Client,
    module_account: Account,
) -> None:
    db_id = new_database(module_client, module_account, "i4")
    headers = module_account.headers
    body = {"op": "xai.generate", "user_input": "Take your time"}
    with (
        small_pool_server.client() as http,
        concurrent.futures.ThreadPoolExecutor(CALLS) as workers,
    ):
        with provider.hold():
            calls = [
                workers.submit(http.post, f"/api/{db_id}", json=body, headers=headers) for _ in range(CALLS)
            ]
            assert provider.wait_for_requests(CALLS), (
                f"only {len(provider.requests)} calls reached the provider"
            )
            assert connections_taken(small_pool_server) == 0
            started = time.monotonic()
            for n in range(2 * POOL):
                inserted = http.post(
                    f"/api/{db_id}",
                    json={"op": "collection.insert", "collection": "notes", "data": {"n": n}},
                    headers=headers,
                )
                assert inserted.status_code == 200, inserted.text
            counted = http.post(
                f"/api/{db_id}", json={"op": "collection.count", "collection": "notes"}, headers=headers
            )
            assert counted.json()["data"] == {"count": 2 * POOL}, counted.text
            assert time.monotonic() - started < 5
            assert not any(call.done() for call in calls)  # the model calls are still waiting
        answers = [call.result(timeout=30) for call in calls]
    assert [answer.status_code for answer in answers] == [200] * CALLS

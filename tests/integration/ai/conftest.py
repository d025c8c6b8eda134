"""The ``xai.*`` tests: pgcube served with ``PGCUBE_AI_BASE_URL`` pointing at a small
OpenAI-compatible server of the tests' own (``tests/support/openai_server.py``) on loopback.

``provider`` is that server, reset before each test (echoing, nothing recorded,
nothing held); ``ai_client`` speaks to the pgcube that uses it; ``ai_db`` is a
database of the module's account. Tests of a server without a provider use the
session's ``client`` (the default settings configure none).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pgcube.ops import REGISTRY
from tests.support.accounts import Account
from tests.support.live import LiveServer, test_settings
from tests.support.openai_server import OpenAIServer

ASKED_MODEL = "pgcube-test-model"
"""``PGCUBE_AI_MODEL`` of the test server."""
PROVIDER_KEY = "sk-fixture-key"
AI_TIMEOUT = 1.5
"""Seconds: short, so that the stall test is quick; the fixture answers in milliseconds."""


@pytest.fixture(scope="package")
def openai_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def provider(openai_server: OpenAIServer) -> Iterator[OpenAIServer]:
    openai_server.reset()
    yield openai_server
    openai_server.reset()


@pytest.fixture(scope="package")
def ai_server(pg_url: str, openai_server: OpenAIServer) -> Iterator[LiveServer]:
    settings = test_settings(
        pg_url,
        ai_base_url=openai_server.url,
        ai_model=ASKED_MODEL,
        ai_api_key=PROVIDER_KEY,
        ai_timeout=AI_TIMEOUT,
    )
    with LiveServer(settings) as server:
        yield server


@pytest.fixture
def ai_client(ai_server: LiveServer) -> Iterator[httpx.Client]:
    with ai_server.client() as http:
        yield http


def names_of(op_name: str) -> list[str]:
    """The op's name and its aliases."""
    op, _ = REGISTRY.resolve(op_name)
    return [op.name, *op.aliases]


def every_name(*, chat: bool = True, vectorize: bool = True) -> list[str]:
    """Every name of the ``xai.*`` ops (aliases included) that call the chat model, or vectorize."""
    return sorted(
        name
        for op in REGISTRY.ops
        if op.name.startswith("xai.") and (vectorize if op.name == "xai.vectorize" else chat)
        for name in names_of(op.name)
    )


def new_database(client: httpx.Client, account: Account, tag: str = "ai") -> str:
    response = client.post(
        "/api/create_database", json={"db_name": f"{tag}_{secrets.token_hex(4)}"}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    db_id: str = response.json()["database"]["id"]
    return db_id


@pytest.fixture(scope="module")
def ai_db(module_client: httpx.Client, module_account: Account) -> str:
    return new_database(module_client, module_account)


def ddo_ok(client: httpx.Client, db_id: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """An op that must succeed: its whole answer, the envelope checked."""
    response = client.post(f"/api/{db_id}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert set(answer) == {"data", "meta"}, answer
    assert set(answer["data"]) == {"output"}, answer
    assert set(answer["meta"]) == {"model", "usage", "generation_time_ms"}, answer
    assert isinstance(answer["meta"]["generation_time_ms"], int), answer
    return answer


def ddo_error(
    client: httpx.Client, db_id: str, body: Any, headers: dict[str, str], status: int, code: str
) -> dict[str, Any]:
    """An op that must fail: its ``error``, the envelope checked."""
    response = client.post(f"/api/{db_id}", json=body, headers=headers)
    assert response.status_code == status, response.text
    answer = response.json()
    assert set(answer) == {"error"}, answer
    assert set(answer["error"]) == {"code", "message", "details"}, answer
    assert answer["error"]["code"] == code, answer
    assert answer["error"]["message"], answer
    error: dict[str, Any] = answer["error"]
    return error

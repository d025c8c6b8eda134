"""A server without an AI provider (the default settings): every ``xai.*`` op but ``xai.vectorize``
answers 501 ``AI_NOT_CONFIGURED`` naming the settings, after the input and the database were
judged; ``xai.vectorize`` works, offline, with the local embedder."""

from __future__ import annotations

import math

import httpx
import pytest

from tests.integration.ai.conftest import ddo_error, ddo_ok, every_name, new_database
from tests.integration.ai.test_xai_errors import valid_body
from tests.support.accounts import Account


@pytest.fixture(scope="module")
def plain_db(module_client: httpx.Client, module_account: Account) -> str:
    return new_database(module_client, module_account, "plain")


@pytest.mark.parametrize("name", every_name(vectorize=False))
def test_every_chat_op_answers_501_naming_the_settings(
    name: str, client: httpx.Client, module_account: Account, plain_db: str
) -> None:
    error = ddo_error(client, plain_db, valid_body(name), module_account.headers, 501, "AI_NOT_CONFIGURED")
    assert "PGCUBE_AI_BASE_URL" in error["message"]
    assert "PGCUBE_AI_MODEL" in error["message"]
    assert error["details"]["settings"] == ["PGCUBE_AI_BASE_URL", "PGCUBE_AI_MODEL", "PGCUBE_AI_API_KEY"]


def test_bad_input_and_another_database_come_before_the_501(
    client: httpx.Client, module_account: Account, other_account: Account, plain_db: str
) -> None:
    headers = module_account.headers
    ddo_error(client, plain_db, {"op": "xai.summarize"}, headers, 400, "VALIDATION_ERROR")
    ddo_error(
        client,
        plain_db,
        {"op": "xai.summarize", "user_input": "x" * 32_001},
        headers,
        413,
        "PAYLOAD_TOO_LARGE",
    )
    ddo_error(client, plain_db, valid_body("xai.summarize"), other_account.headers, 404, "DATABASE_NOT_FOUND")


@pytest.mark.parametrize("name", every_name(chat=False))
def test_vectorize_works_offline(
    name: str, client: httpx.Client, module_account: Account, plain_db: str
) -> None:
    body = {"op": name, "user_input": "PostgreSQL stores documents as JSONB"}
    answer = ddo_ok(client, plain_db, body, module_account.headers)
    (vector,) = answer["data"]["output"]
    assert len(vector) == 256
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-3)
    assert answer["meta"] == {
        "model": "local/wordllama-l2-supercat-256",
        "usage": {},
        "generation_time_ms": answer["meta"]["generation_time_ms"],
    }


def test_vectorize_ranks_related_texts_closer(
    client: httpx.Client, module_account: Account, plain_db: str
) -> None:
    texts = ["a cat sleeps on the sofa", "a kitten naps on the couch", "quarterly tax filing deadline"]
    answer = ddo_ok(client, plain_db, {"op": "xai.vectorize", "user_input": texts}, module_account.headers)
    cat, kitten, tax = answer["data"]["output"]

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(cat, kitten) > cosine(cat, tax)

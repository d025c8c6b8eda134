"""Every ``xai.*`` op and alias through ``POST /api/{database_id}`` on a live pgcube whose provider
is the tests' OpenAI-compatible server: what reached the provider (model, prompts, ``max_tokens``,
key) and what came back (``output`` and ``meta``)."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from pgcube.ops import REGISTRY
from tests.integration.ai.conftest import ASKED_MODEL, PROVIDER_KEY, ddo_ok, names_of
from tests.support.accounts import Account
from tests.support.openai_server import MODEL, USAGE, OpenAIServer

TEXT = "The quick brown fox jumps over the lazy dog."


def system_prompt(request: dict[str, Any]) -> str:
    messages = request["messages"]
    assert [m["role"] for m in messages] == ["system", "user"], messages
    content: str = messages[0]["content"]
    return content


def user_message(request: dict[str, Any]) -> str:
    content: str = request["messages"][1]["content"]
    return content


def test_every_alias_of_spec_14_is_registered() -> None:
    expected = {
        "xai.generate": {"baseai.write", "genai.generate", "genai.gentext"},
        "xai.summarize": {"baseai.summarize", "genai.summarize"},
        "xai.translate": {"baseai.translate"},
        "xai.classify": {"baseai.categorize"},
        "xai.sentiment": {"baseai.analyze_sentiment"},
        "xai.extract": {"baseai.extract_entities"},
        "xai.vectorize": {"baseai.vectorize_content"},
    }
    found = {op.name: set(op.aliases) for op in REGISTRY.ops if op.name.startswith("xai.")}
    assert found == expected


@pytest.mark.parametrize("name", names_of("xai.generate"))
def test_generate_sends_the_prompt_and_a_budget_from_content_length(
    name: str, ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    body = {
        "op": name,
        "user_input": "Write a product description for wireless headphones",
        "options": {
            "content_length": 30,
            "content_style": "marketing",
            "custom_instructions": "Mention the price",
        },
    }
    answer = ddo_ok(ai_client, ai_db, body, module_account.headers)
    sent = provider.last
    assert sent["_path"] == "/v1/chat/completions"
    assert sent["_authorization"] == f"Bearer {PROVIDER_KEY}"
    assert sent["model"] == ASKED_MODEL
    assert sent["max_tokens"] == math.ceil(30 * 4 / 3) + 16
    assert sent["temperature"] <= 0.5
    assert user_message(sent) == body["user_input"]
    system = system_prompt(sent)
    assert "marketing" in system
    assert "about 30 words" in system
    assert "Mention the price" in system
    assert answer["data"] == {"output": f"echo max_tokens=56: {body['user_input']}"}
    assert answer["meta"]["model"] == MODEL
    assert answer["meta"]["usage"] == USAGE


def test_generate_without_options_asks_for_the_servers_most_tokens(
    ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    ddo_ok(ai_client, ai_db, {"op": "xai.generate", "user_input": "A haiku"}, module_account.headers)
    assert provider.last["max_tokens"] == 1024  # ai_max_output_tokens, its default
    assert "words" not in system_prompt(provider.last)


def test_a_long_content_length_is_capped_by_the_servers_limit(
    ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    body = {"op": "xai.generate", "user_input": "An essay", "options": {"content_length": 10_000}}
    ddo_ok(ai_client, ai_db, body, module_account.headers)
    assert provider.last["max_tokens"] == 1024


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda text, options: {"user_input": text, "options": options}, id="user_input"),
        pytest.param(lambda text, options: {"prompt": text, "options": options}, id="prompt"),
        pytest.param(lambda text, options: {"data": {"user_input": text, "options": options}}, id="data"),
        pytest.param(lambda text, options: {"data": {"prompt": text, "options": options}}, id="data-prompt"),
    ],
)
def test_the_text_may_come_as_user_input_prompt_or_inside_data(
    wrap: Any, ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    body = {"op": "baseai.write", **wrap(TEXT, {"content_length": 12})}
    answer = ddo_ok(ai_client, ai_db, body, module_account.headers)
    assert user_message(provider.last) == TEXT
    assert provider.last["max_tokens"] == 32
    assert answer["data"]["output"] == f"echo max_tokens=32: {TEXT}"


@pytest.mark.parametrize("name", names_of("xai.summarize"))
def test_summarize(
    name: str, ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    provider.answer_with("  A fox jumps over a dog.\n")
    body = {"op": name, "user_input": TEXT, "options": {"content_length": 6}}
    answer = ddo_ok(ai_client, ai_db, body, module_account.headers)
    assert answer["data"] == {"output": "A fox jumps over a dog."}
    assert "Summarize" in system_prompt(provider.last)
    assert "about 6 words" in system_prompt(provider.last)
    assert provider.last["max_tokens"] == 24
    assert user_message(provider.last) == TEXT


@pytest.mark.parametrize("name", names_of("xai.translate"))
def test_translate(
    name: str, ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    provider.answer_with("Bonjour")
    body = {"op": name, "user_input": "Good morning", "options": {"target_language": "French"}}
    answer = ddo_ok(ai_client, ai_db, body, module_account.headers)
    assert answer["data"] == {"output": "Bonjour"}
    assert "into French" in system_prompt(provider.last)
    assert user_message(provider.last) == "Good morning"


@pytest.mark.parametrize("name", names_of("xai.classify"))
@pytest.mark.parametrize(
    "model_answer",
    ['{"label": "Sports"}', '```json\n{"label": "sports"}\n```', "sports", 'The answer: {"label": "sports"}'],
)
def test_classify_answers_one_of_the_categories_as_spelt(
    name: str,
    model_answer: str,
    ai_client: httpx.Client,
    module_account: Account,
    ai_db: str,
    provider: OpenAIServer,
) -> None:
    provider.answer_with(model_answer)
    body = {
        "op": name,
        "user_input": "The match went to penalties",
        "options": {"categories": ["sports", "politics"]},
    }
    answer = ddo_ok(ai_client, ai_db, body, module_account.headers)
    assert answer["data"] == {"output": "sports"}
    system = system_prompt(provider.last)
    assert '["sports", "politics"]' in system
    assert "JSON" in system
    assert provider.last["temperature"] == 0


@pytest.mark.parametrize("name", names_of("xai.sentiment"))
def test_sentiment(
    name: str, ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    provider.answer_with('{"label": "Negative", "score": -0.75}')
    answer = ddo_ok(ai_client, ai_db, {"op": name, "user_input": "I hate waiting"}, module_account.headers)
    assert answer["data"] == {"output": {"label": "negative", "score": -0.75}}
    assert "sentiment" in system_prompt(provider.last)
    assert user_message(provider.last) == "I hate waiting"


@pytest.mark.parametrize("name", names_of("xai.extract"))
def test_extract_answers_an_object_keyed_by_the_entities_asked(
    name: str, ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    provider.answer_with('{"Person": ["Ada Lovelace", "Charles Babbage"], "place": "London", "extra": ["x"]}')
    body = {
        "op": name,
        "user_input": "Ada Lovelace met Charles Babbage in London",
        "options": {"entities": ["person", "place", "date"]},
    }
    answer = ddo_ok(ai_client, ai_db, body, module_account.headers)
    assert answer["data"] == {
        "output": {"person": ["Ada Lovelace", "Charles Babbage"], "place": ["London"], "date": []}
    }
    assert '["person", "place", "date"]' in system_prompt(provider.last)


@pytest.mark.parametrize("name", names_of("xai.vectorize"))
def test_vectorize_uses_the_embedder_and_not_the_chat_model(
    name: str, ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    body = {"op": name, "user_input": ["a red apple", "a green pear"]}
    answer = ddo_ok(ai_client, ai_db, body, module_account.headers)
    vectors = answer["data"]["output"]
    assert [len(v) for v in vectors] == [256, 256]
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-3) for v in vectors)
    assert answer["meta"]["model"].startswith("local/")
    assert provider.requests == []


def test_the_same_text_gets_the_same_vector_alone_or_in_a_list(
    ai_client: httpx.Client, module_account: Account, ai_db: str
) -> None:
    alone = ddo_ok(
        ai_client, ai_db, {"op": "xai.vectorize", "user_input": "apple pie"}, module_account.headers
    )
    listed = ddo_ok(
        ai_client, ai_db, {"op": "xai.vectorize", "user_input": ["pear", "apple pie"]}, module_account.headers
    )
    assert len(alone["data"]["output"]) == 1
    assert alone["data"]["output"][0] == pytest.approx(listed["data"]["output"][1], abs=1e-5)
    assert listed["data"]["output"][0] != pytest.approx(listed["data"]["output"][1], abs=1e-3)


def test_an_action_names_the_op_as_well(
    ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    provider.answer_with("Hola")
    body = {"action": "baseai.translate", "user_input": "Hello", "options": {"target_language": "Spanish"}}
    assert ddo_ok(ai_client, ai_db, body, module_account.headers)["data"] == {"output": "Hola"}

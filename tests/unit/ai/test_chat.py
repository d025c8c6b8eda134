"""The chat model's reading of a ``/chat/completions`` answer, and the runtime built from the settings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pgcube.ai.chat import Completion, completion_of
from pgcube.ai.runtime import open_ai_runtime
from pgcube.errors import AiProviderError
from pgcube.settings import Settings, SettingsError


def test_a_completion() -> None:
    answer = {
        "model": "gpt-test-2024",
        "choices": [{"message": {"role": "assistant", "content": "Hi"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6, "cached": {"x": 1}},
    }
    assert completion_of(answer, "asked") == Completion(
        "Hi", "gpt-test-2024", {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    )


def test_a_completion_without_model_or_usage_names_the_model_asked() -> None:
    answer = {"choices": [{"message": {"content": ""}}], "usage": {"prompt_tokens": True}}
    assert completion_of(answer, "asked") == Completion("", "asked", {})


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"choices": []},
        {"choices": "text"},
        {"choices": [{}]},
        {"choices": [{"message": None}]},
        {"choices": [{"message": {"content": None}}]},
        {"choices": [{"message": {"content": ["a"]}}]},
    ],
)
def test_an_answer_without_message_text_is_a_provider_error(answer: dict[str, Any]) -> None:
    with pytest.raises(AiProviderError, match=r"choices\[0\]\.message\.content"):
        completion_of(answer, "asked")


def test_no_provider_no_chat_model() -> None:
    runtime = open_ai_runtime(Settings(embedder="none"))
    assert runtime.chat is None
    asyncio.run(runtime.aclose())


def test_a_provider_is_a_chat_model_closed_with_the_runtime() -> None:
    runtime = open_ai_runtime(Settings(embedder="none", ai_base_url="http://127.0.0.1:9/v1", ai_model="m"))
    assert runtime.chat is not None
    assert runtime.chat.model == "m"
    assert runtime.chat.api in runtime.apis
    asyncio.run(runtime.aclose())
    assert runtime.chat.api._client.is_closed


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({"ai_base_url": "http://127.0.0.1:9/v1"}, "PGCUBE_AI_MODEL is not"),
        ({"ai_model": "m"}, "PGCUBE_AI_BASE_URL is not"),
    ],
)
def test_half_a_provider_is_a_settings_error(settings: dict[str, str], missing: str) -> None:
    with pytest.raises(SettingsError, match=missing):
        open_ai_runtime(Settings(embedder="none", **settings))

"""A chat model behind any OpenAI-compatible ``POST /chat/completions`` (SPEC §14).

One call, one answer: a system prompt, the user's text and a token budget go
in; the text the model answered, the model that answered it and the tokens it
counted come back. Failures of the call itself are mapped in ``http.py``; an
answer without a text message is 502 ``AI_PROVIDER_ERROR`` here.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pgcube.ai.http import OpenAICompatible
from pgcube.errors import AiProviderError

_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


class Completion(msgspec.Struct, frozen=True):
    text: str
    model: str
    """The model the provider says answered (else the one asked for)."""
    usage: dict[str, int]
    """``prompt_tokens``, ``completion_tokens``, ``total_tokens`` where the provider counted them."""


class ChatModel:
    def __init__(self, api: OpenAICompatible, model: str) -> None:
        self.api = api
        self.model = model

    async def complete(self, system: str, user: str, max_tokens: int, *, temperature: float) -> Completion:
        answer = await self.api.post(
            "/chat/completions",
            {
                "model": self.model,
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
                "max_tokens": max_tokens,
                "temperature": temperature,
            },
        )
        return completion_of(answer, self.model)


def completion_of(answer: dict[str, Any], asked_model: str) -> Completion:
    """The ``Completion`` in a ``/chat/completions`` answer, else 502."""
    try:
        text = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        text = None
    if not isinstance(text, str):
        raise AiProviderError("The AI provider's answer holds no message text (choices[0].message.content)")
    model = answer.get("model")
    usage = answer.get("usage")
    counted = {
        key: value
        for key in _USAGE_KEYS
        if isinstance(usage, dict)
        and isinstance(value := usage.get(key), int)
        and not isinstance(value, bool)
    }
    return Completion(text, model if isinstance(model, str) and model else asked_model, counted)

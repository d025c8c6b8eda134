"""The process's models: its embedder (always one, maybe ``NoEmbedder``) and its chat model (maybe
none: then the ``xai.*`` ops but ``xai.vectorize`` answer 501 ``AI_NOT_CONFIGURED``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pgcube.ai.chat import ChatModel
from pgcube.ai.embedders import Embedder, LocalEmbedder, NoEmbedder, OpenAIEmbedder
from pgcube.ai.http import OpenAICompatible
from pgcube.settings import Settings, SettingsError


@dataclass
class AiRuntime:
    embedder: Embedder
    chat: ChatModel | None = None
    apis: list[OpenAICompatible] = field(default_factory=list)
    """The HTTP clients opened for the models: closed with the runtime."""

    async def aclose(self) -> None:
        for api in self.apis:
            await api.aclose()


def open_ai_runtime(settings: Settings) -> AiRuntime:
    """The embedder and the chat model the settings name; nothing is loaded or called yet."""
    apis: list[OpenAICompatible] = []
    embedder: Embedder
    if settings.embedder == "local":
        embedder = LocalEmbedder()
    elif settings.embedder == "openai":
        base_url = settings.embed_base_url or settings.ai_base_url
        if not base_url:
            raise SettingsError("PGCUBE_EMBEDDER=openai needs PGCUBE_EMBED_BASE_URL (or PGCUBE_AI_BASE_URL)")
        api = OpenAICompatible(base_url, settings.embed_api_key or settings.ai_api_key, settings.ai_timeout)
        apis.append(api)
        embedder = OpenAIEmbedder(api, settings.embed_model, settings.embed_dimensions)
    else:
        embedder = NoEmbedder()
    chat = _chat_model(settings)
    if chat is not None:
        apis.append(chat.api)
    return AiRuntime(embedder, chat, apis)


def _chat_model(settings: Settings) -> ChatModel | None:
    """The chat model of ``PGCUBE_AI_BASE_URL`` and ``PGCUBE_AI_MODEL``: both or neither. Half a
    provider is a settings error at startup rather than 501s at run time (ADR 0024); a base URL
    meant only for the ``openai`` embedder goes in ``PGCUBE_EMBED_BASE_URL``."""
    if not settings.ai_base_url and not settings.ai_model:
        return None
    if not settings.ai_model:
        raise SettingsError(
            "PGCUBE_AI_BASE_URL is set but PGCUBE_AI_MODEL is not: name the chat model of the xai.* ops "
            "(for an embedder alone, set PGCUBE_EMBED_BASE_URL instead)"
        )
    if not settings.ai_base_url:
        raise SettingsError("PGCUBE_AI_MODEL is set but PGCUBE_AI_BASE_URL is not: name the provider's API")
    api = OpenAICompatible(settings.ai_base_url, settings.ai_api_key, settings.ai_timeout)
    return ChatModel(api, settings.ai_model)


def ai_of(state: Any) -> AiRuntime:
    """The process's AI runtime, kept in the app's state at startup."""
    runtime: AiRuntime = state.ai
    return runtime

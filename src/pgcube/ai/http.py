"""One OpenAI-compatible HTTP API (``/chat/completions``, ``/embeddings``) and its failures.

Plain httpx with an explicit timeout and no retries of its own (ADR 0024): a
model call either answers within ``timeout`` seconds or the request gets 504
``AI_TIMEOUT``; a 429 from the provider is the client's 429; anything else
that is not a JSON answer is 502 ``AI_PROVIDER_ERROR``. The provider's key
never appears in an error.
"""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from pgcube.errors import AiProviderError, AiTimeout, PgcubeError, RateLimitExceeded

_PROVIDER_MESSAGE_CHARS = 300
"""How much of a provider's own error message an answer repeats."""


class ProviderRateLimited(RateLimitExceeded):
    """The provider said 429: the client is told to come back when the provider says."""

    def __init__(self, retry_after: int) -> None:
        PgcubeError.__init__(
            self,
            f"The AI provider is rate limiting; try again in {retry_after} seconds",
            details={"retry_after": retry_after, "source": "ai_provider"},
            headers={"Retry-After": str(retry_after)},
        )


class OpenAICompatible:
    """An OpenAI-compatible API at ``base_url`` (``…/v1``) with one pooled httpx client."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` as JSON to ``path`` and return the JSON object answered."""
        try:
            response = await self._client.post(
                path, content=msgspec.json.encode(body), headers={"Content-Type": "application/json"}
            )
        except httpx.TimeoutException:
            raise AiTimeout() from None
        except httpx.HTTPError as exc:
            raise AiProviderError(
                f"The AI provider could not be reached: {type(exc).__name__}",
                details={"provider": self.base_url},
            ) from None
        if response.status_code == 429:
            raise ProviderRateLimited(_retry_after(response.headers.get("Retry-After")))
        if response.status_code >= 400:
            raise AiProviderError(
                f"The AI provider answered {response.status_code}",
                details={"status": response.status_code, "provider_message": _provider_message(response)},
            )
        try:
            answer = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            answer = None
        if not isinstance(answer, dict):
            raise AiProviderError("The AI provider's answer is not a JSON object")
        return answer

    async def aclose(self) -> None:
        await self._client.aclose()


def _retry_after(header: str | None) -> int:
    try:
        return max(1, min(int(float(header or "")), 3600))
    except ValueError:
        return 1


def _provider_message(response: httpx.Response) -> str:
    """The provider's own words (OpenAI's ``error.message``, else the text), cut short."""
    try:
        decoded = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
        message = str(decoded["error"].get("message", ""))
    elif isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
        message = decoded["error"]
    else:
        message = response.text
    return message[:_PROVIDER_MESSAGE_CHARS]

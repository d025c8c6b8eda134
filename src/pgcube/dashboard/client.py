"""The public API, called in-process on behalf of the signed-in account.

The dashboard owns no rules of its own: every page is one or a few calls to the same routes a
client program uses (``/core/*``, ``/api/*``), through httpx's ASGI transport — no socket, no
second server. The caller's address is passed on, so ``/core``'s per-address limits and the
login throttle see the browser, not the dashboard. The answer keeps the API's envelope, so a
page shows the API's own error message and JSON pointer.

An expired access token is renewed once with the refresh token (``/core/token/refresh``); the
page then seals the new pair into the cookie.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote

import httpx
import msgspec
from litestar import Request

from pgcube.dashboard.session import DashboardSession

_INTERNAL_BASE = "http://pgcube.internal"
_TIMEOUT = httpx.Timeout(120.0)  # an import or an index build may take a while; the API has its own limits


def path_part(value: str) -> str:
    """``value`` as one segment of an API path: every reserved character escaped (``?`` and ``#``
    cannot end the path), dots too (``..`` cannot climb it). The dashboard's values come from its
    own path parameters, which hold no ``/``."""
    return quote(value, safe="").replace(".", "%2E")


class _InProcessCallsUnlogged(logging.Filter):
    """httpx logs each request's URL at INFO: the dashboard's own calls would name signed file
    links (``sig=…``, a credential that must stay out of logs: RELIABILITY A6) and repeat every
    page load several times over. Other httpx clients (an AI provider's) are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _INTERNAL_BASE not in record.getMessage()


logging.getLogger("httpx").addFilter(_InProcessCallsUnlogged())


class SignedOut(Exception):
    """The session has no tokens, or they can no longer be renewed."""


@dataclass(frozen=True)
class Answer:
    """An API answer: its status and decoded JSON body (the envelope on an error)."""

    status: int
    body: Any
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    content: bytes = b""
    """The raw body (a file's bytes, for a preview)."""

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def error(self) -> dict[str, Any]:
        """The envelope's ``error`` object (``{}`` on success)."""
        if self.ok or not isinstance(self.body, dict):
            return {}
        error = self.body.get("error")
        return error if isinstance(error, dict) else {"message": str(error)}

    @property
    def message(self) -> str:
        return str(self.error.get("message", f"HTTP {self.status}"))

    @property
    def pointer(self) -> str | None:
        """The JSON pointer the API named for a bad input, if any."""
        details = self.error.get("details")
        pointer = details.get("pointer") if isinstance(details, dict) else None
        return pointer if isinstance(pointer, str) else None


class Api:
    """One request's client: the account's tokens, renewed at most once."""

    def __init__(self, request: Request[Any, Any, Any], session: DashboardSession) -> None:
        self._request = request
        self.session = session
        self.renewed = False
        """True once the tokens were renewed: the page seals ``session`` into the cookie again."""

    def _client(self) -> httpx.AsyncClient:
        client = self._request.client
        transport = httpx.ASGITransport(
            app=cast("Any", self._request.app),  # an ASGI app; httpx types it more narrowly
            client=(client.host, client.port) if client else ("127.0.0.1", 0),
        )
        return httpx.AsyncClient(transport=transport, base_url=_INTERNAL_BASE, timeout=_TIMEOUT)

    async def anonymous(self, method: str, path: str, **kwargs: Any) -> Answer:
        """A call without the account's token (``/core/register``, ``/core/login``)."""
        async with self._client() as http:
            return _answer(await http.request(method, path, **kwargs))

    async def call(self, method: str, path: str, **kwargs: Any) -> Answer:
        """A call as the signed-in account; renews the access token once if it has expired."""
        if not self.session.signed_in:
            raise SignedOut
        async with self._client() as http:
            answer = _answer(await http.request(method, path, headers=self._bearer(), **kwargs))
            if answer.status == 401 and not self.renewed:
                await self._renew(http)
                answer = _answer(await http.request(method, path, headers=self._bearer(), **kwargs))
        if answer.status == 401:
            raise SignedOut
        return answer

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.call("POST", path, **kwargs)

    async def ddo(self, database_id: str, body: dict[str, Any]) -> Answer:
        """One op of the Singlebase DDO API (``POST /api/{database_id}``)."""
        return await self.call("POST", f"/api/{path_part(database_id)}", json=body)

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session.access}"}

    async def _renew(self, http: httpx.AsyncClient) -> None:
        renewed = _answer(await http.post("/core/token/refresh", json={"refresh": self.session.refresh}))
        if not renewed.ok:
            raise SignedOut
        self.session = self.session.with_tokens(renewed.body["access"], renewed.body["refresh"])
        self.renewed = True


def _answer(response: httpx.Response) -> Answer:
    body: Any = None
    if response.content and response.headers.get("content-type", "").startswith("application/json"):
        try:
            body = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            body = None
    return Answer(status=response.status_code, body=body, headers=response.headers, content=response.content)

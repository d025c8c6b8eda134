"""The API keys page when the API cannot list the keys: its message, never "No keys yet"."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pgcube.dashboard.client import Answer, Api

UNAVAILABLE = {"success": False, "error": {"code": "SERVICE_UNAVAILABLE", "message": "The database is down"}}


@pytest.fixture
def keys_unlisted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API answers the keys' list with a 503 (the dashboard's call of it, in-process)."""
    call = Api.call

    async def failing(self: Api, method: str, path: str, **kwargs: Any) -> Answer:
        if (method, path) == ("GET", "/core/api/v1/keys"):
            return Answer(status=503, body=UNAVAILABLE)
        return await call(self, method, path, **kwargs)

    monkeypatch.setattr(Api, "call", failing)


@pytest.mark.usefixtures("keys_unlisted")
def test_keys_the_api_cannot_list_show_its_message(dashboard: httpx.Client) -> None:
    page = dashboard.get("/keys")
    assert page.status_code == 503
    assert 'role="alert"' in page.text
    assert "The database is down" in page.text
    assert "No keys yet" not in page.text

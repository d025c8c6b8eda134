"""Every kind of error answers in the envelope of SPEC §3, as JSON, with no trace."""

from __future__ import annotations

import httpx
import pytest


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    for leak in ("Traceback", "File \"", "SELECT ", ".py"):
        assert leak not in response.text
    return body


def test_health_answers(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_answers_when_the_database_does(client: httpx.Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_unknown_route_is_404_in_the_envelope(client: httpx.Client) -> None:
    assert_envelope(client.get("/no/such/route"), 404, "NOT_FOUND")


def test_wrong_method_is_405_in_the_envelope(client: httpx.Client) -> None:
    assert_envelope(client.delete("/health"), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize("path", ["/openapi", "/schema/openapi.json"])
def test_openapi_is_served(client: httpx.Client, path: str) -> None:
    if path == "/openapi":
        assert_envelope(client.get(path), 404, "NOT_FOUND")
        return
    response = client.get(path)
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "pgcube"

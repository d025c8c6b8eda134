"""Every kind of error answers in the envelope of SPEC §3, as JSON, with no trace.

The app is the production factory's; a test-only route group is registered on
it to reach the error kinds no product route can trigger on purpose (an
unhandled exception, a framework body-validation failure).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar, post
from litestar.params import JSONBody

from pgcube.settings import Settings
from tests.support.live import LiveServer


class Probe(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    count: int = 0


@post("/test/probe", operation_id="testProbe")
async def probe(data: JSONBody[Probe]) -> dict[str, Any]:
    return {"email": data.email, "count": data.count}


@post("/test/boom", operation_id="testBoom")
async def boom() -> None:
    raise RuntimeError("secret internal detail at /srv/pgcube/app.py: SELECT password FROM x")


def with_test_routes(app: Litestar) -> Litestar:
    app.register(probe)
    app.register(boom)
    return app


@pytest.fixture(scope="module")
def probe_client(settings: Settings) -> Iterator[httpx.Client]:
    small = msgspec.structs.replace(settings, max_body_bytes=2048)
    with LiveServer(small, app_hook=with_test_routes) as server, server.client() as http:
        yield http


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    for leak in ("Traceback", 'File "', "SELECT", ".py", "/srv/"):
        assert leak not in response.text
    return body


def test_health_answers_without_auth(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_answers_when_the_database_does(client: httpx.Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok"}


def test_unknown_route_is_404(client: httpx.Client) -> None:
    assert_envelope(client.get("/no/such/route"), 404, "NOT_FOUND")


def test_every_answer_says_nosniff(client: httpx.Client) -> None:
    # Issue 14 finding 13: a browser must take each answer's declared type at its word.
    answers = [
        client.get("/health"),
        client.get("/no/such/route"),
        client.delete("/health"),
        client.post("/api/create_database", content=b'{"db_name": '),
        client.get("/schema/openapi.json"),
    ]
    assert [a.headers.get("x-content-type-options") for a in answers] == ["nosniff"] * len(answers)


def test_an_unknown_documentation_page_is_404_in_the_envelope(client: httpx.Client) -> None:
    # Issue 14 finding 13: /schema/redoc answered Litestar's HTML 404 page.
    for path in ("/schema/redoc", "/schema/no-such-page"):
        assert_envelope(client.get(path), 404, "NOT_FOUND")
    assert client.get("/schema").headers["content-type"].startswith("text/html")
    assert client.get("/schema/openapi.json").json()["info"]["title"] == "pgcube"


def test_wrong_method_is_405(client: httpx.Client) -> None:
    assert_envelope(client.delete("/health"), 405, "METHOD_NOT_ALLOWED")


def test_malformed_json_is_invalid_json(probe_client: httpx.Client) -> None:
    response = probe_client.post(
        "/test/probe", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert_envelope(response, 400, "INVALID_JSON")


def test_missing_field_names_the_field(probe_client: httpx.Client) -> None:
    body = assert_envelope(probe_client.post("/test/probe", json={}), 400, "VALIDATION_ERROR")
    assert body["error"]["message"] == "Missing required field: email"
    assert body["error"]["details"] == {"field": "email"}


def test_wrong_type_names_the_field(probe_client: httpx.Client) -> None:
    body = assert_envelope(
        probe_client.post("/test/probe", json={"email": "a", "count": "x"}), 400, "VALIDATION_ERROR"
    )
    assert body["error"]["details"] == {"field": "count"}


def test_unknown_field_is_refused(probe_client: httpx.Client) -> None:
    body = assert_envelope(
        probe_client.post("/test/probe", json={"email": "a", "is_admin": True}), 400, "VALIDATION_ERROR"
    )
    assert body["error"]["details"] == {"field": "is_admin", "unknown": True}


def test_body_over_the_limit_is_413(probe_client: httpx.Client) -> None:
    response = probe_client.post("/test/probe", json={"email": "x" * 4096})
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_good_body_passes_through(probe_client: httpx.Client) -> None:
    response = probe_client.post("/test/probe", json={"email": "a@b.c", "count": 2})
    assert response.status_code == 201
    assert response.json() == {"email": "a@b.c", "count": 2}


def test_unhandled_exception_is_500_with_a_request_id(
    probe_client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR", logger="pgcube.errors"):
        body = assert_envelope(probe_client.post("/test/boom"), 500, "INTERNAL_ERROR")
    request_id = body["error"]["details"]["request_id"]
    assert len(request_id) == 32
    assert any(request_id in record.getMessage() for record in caplog.records)


def test_missing_body_says_so(probe_client: httpx.Client) -> None:
    body = assert_envelope(
        probe_client.post("/test/probe", content=b"", headers={"content-type": "application/json"}),
        400,
        "INVALID_JSON",
    )
    assert "missing" in body["error"]["message"]


def test_invalid_utf8_is_invalid_json(probe_client: httpx.Client) -> None:
    response = probe_client.post(
        "/test/probe", content=b'{"email": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert_envelope(response, 400, "INVALID_JSON")


@pytest.mark.parametrize("depth", [65, 1000])
def test_json_nested_deeper_than_the_limit_is_400(probe_client: httpx.Client, depth: int) -> None:
    """Under the body limit (2048 bytes here) and deeper than 64: the depth check refuses it."""
    deep = b"[" * depth + b"]" * depth
    assert len(deep) <= 2048
    response = probe_client.post("/test/probe", content=deep, headers={"content-type": "application/json"})
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert body["error"]["details"] == {"max_depth": 64}


def test_json_nested_exactly_to_the_limit_reaches_the_decoder(probe_client: httpx.Client) -> None:
    deep = b"[" * 64 + b"]" * 64
    body = assert_envelope(
        probe_client.post("/test/probe", content=deep, headers={"content-type": "application/json"}),
        400,
        "VALIDATION_ERROR",
    )
    assert body["error"] == {
        "code": "VALIDATION_ERROR",
        "message": "Expected `object`, got `array`",
        "details": {},
    }


def test_deep_json_over_the_body_limit_is_413(probe_client: httpx.Client) -> None:
    """The size limit comes first: a deep body past 2048 bytes is never scanned for depth."""
    deep = b"[" * 1100 + b"]" * 1100
    response = probe_client.post("/test/probe", content=deep, headers={"content-type": "application/json"})
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_wrong_method_on_the_ddo_route_answers_in_the_ddo_envelope(client: httpx.Client) -> None:
    response = client.get("/api/" + "ab" * 12)
    assert response.status_code == 405
    assert response.json() == {
        "error": {"code": "METHOD_NOT_ALLOWED", "message": "Method not allowed", "details": {}}
    }

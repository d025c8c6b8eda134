"""Body, depth, batch and page limits, in the envelope (RELIABILITY E1, E2; quotas E4
are in tests/integration/management/test_limits.py and core/test_api_keys.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.hardening.conftest import create_database
from tests.support.accounts import Account

MIB = 1024 * 1024


@pytest.fixture
def database_id(client: httpx.Client, account: Account) -> str:
    return create_database(client, account)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"k": value}
    return value


def assert_error(response: httpx.Response, status: int, code: str, envelope: str = "rest") -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert (set(body) == {"error"}) if envelope == "ddo" else (body["success"] is False)
    assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


def test_a_body_over_one_mib_is_413_before_parsing(
    client: httpx.Client, account: Account, database_id: str
) -> None:
    junk = b"{" + b"x" * (MIB + 10)  # not even JSON: the size is refused before any parsing
    headers = {**account.headers, "Content-Type": "application/json"}
    assert_error(client.post("/api/crud", content=junk, headers=headers), 413, "PAYLOAD_TOO_LARGE")
    assert_error(
        client.post(f"/api/{database_id}", content=junk, headers=headers), 413, "PAYLOAD_TOO_LARGE", "ddo"
    )
    assert_error(
        client.post("/core/register", content=junk, headers={"Content-Type": "application/json"}),
        413,
        "PAYLOAD_TOO_LARGE",
    )


def test_a_chunked_body_is_cut_at_the_limit(client: httpx.Client, account: Account) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"[" + b"1," * 32 * 1024

    headers = {**account.headers, "Content-Type": "application/json"}
    response = client.post("/api/crud", content=chunks(), headers=headers)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_body_just_under_the_limit_is_accepted(
    client: httpx.Client, account: Account, database_id: str
) -> None:
    docs = [{"text": "y" * 1030} for _ in range(1000)]
    body = {"op": "collection.insert", "collection": "items", "data": docs}
    assert MIB - 100_000 < len(json.dumps(body)) < MIB
    assert client.post(f"/api/{database_id}", json=body, headers=account.headers).status_code == 200


def test_json_nesting_over_64_is_400(client: httpx.Client, account: Account, database_id: str) -> None:
    def insert(document: Any) -> httpx.Response:
        body = {"op": "collection.insert", "collection": "items", "data": [document]}
        return client.post(f"/api/{database_id}", json=body, headers=account.headers)

    # The body adds two levels (the object and the data array) around the document.
    assert insert(nested(62)).status_code == 200
    error = assert_error(insert(nested(63)), 400, "VALIDATION_ERROR", "ddo")
    assert error["details"] == {"max_depth": 64}


@pytest.mark.parametrize("path", ["/api/crud", "/core/login"])
def test_pathological_nesting_is_400_never_500(client: httpx.Client, account: Account, path: str) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    response = client.post(
        path, content=deep, headers={**account.headers, "Content-Type": "application/json"}
    )
    assert_error(response, 400, "VALIDATION_ERROR")


def test_batches_over_1000_are_refused(client: httpx.Client, account: Account, database_id: str) -> None:
    docs = [{"n": i} for i in range(1001)]
    ddo = {"op": "collection.insert", "collection": "items", "data": docs}
    error = assert_error(
        client.post(f"/api/{database_id}", json=ddo, headers=account.headers),
        400,
        "BATCH_LIMIT_EXCEEDED",
        "ddo",
    )
    assert error["details"]["limit"] == 1000
    crud = {"database_id": database_id, "collection_name": "items", "data": docs}
    assert_error(client.post("/api/crud", json=crud, headers=account.headers), 400, "BATCH_LIMIT_EXCEEDED")
    assert (
        client.post("/api/crud", json={**crud, "data": docs[:1000]}, headers=account.headers).status_code
        == 201
    )


def test_page_sizes_over_1000_are_refused(client: httpx.Client, account: Account, database_id: str) -> None:
    find = {"op": "collection.find", "collection": "items", "limit": 1001}
    response = client.post(f"/api/{database_id}", json=find, headers=account.headers)
    assert response.status_code == 400, response.text
    per_page = {"op": "collection.find", "collection": "items", "page": 1, "per_page": 1001}
    assert client.post(f"/api/{database_id}", json=per_page, headers=account.headers).status_code == 400
    crud = client.get(
        "/api/crud",
        params={"database_id": database_id, "collection_name": "items", "page_size": 1001},
        headers=account.headers,
    )
    assert crud.status_code == 400, crud.text
    listing = client.get("/api/list_databases", params={"page_size": 1001}, headers=account.headers)
    assert listing.status_code == 400, listing.text
    ok = {"op": "collection.find", "collection": "items", "limit": 1000}
    assert client.post(f"/api/{database_id}", json=ok, headers=account.headers).status_code == 200

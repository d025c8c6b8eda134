"""Another account's databases do not exist for you (SPEC §2, RELIABILITY D1, C2)."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.integration.management.conftest import USERS, create_database, schema_exists
from tests.support.accounts import Account, api_key_headers, create_api_key
from tests.support.sync_pg import SyncPg


def every_route(database_id: str, name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, request kwargs) of every management route that names a database."""
    return [
        ("GET", "/api/get_metadata", {"params": {"database_id": database_id}}),
        ("GET", "/api/list_collections", {"params": {"database_id": database_id}}),
        (
            "POST",
            "/api/add_collection",
            {"json": {"database_id": database_id, "collections": [{"name": "x"}]}},
        ),
        (
            "POST",
            "/api/drop_collections",
            {"json": {"database_id": database_id, "collection_names": ["users"]}},
        ),
        (
            "DELETE",
            "/api/drop_collections",
            {"json": {"database_id": database_id, "collection_names": ["users"]}},
        ),
        ("POST", "/api/drop_database", {"json": {"database_id": database_id, "confirmation": name}}),
        ("DELETE", "/api/drop_database", {"json": {"database_id": database_id, "confirmation": name}}),
    ]


def test_another_account_gets_404_exactly_like_a_missing_id(
    client: httpx.Client, account: Account, other_account: Account, pg: SyncPg
) -> None:
    mine = create_database(client, account, collections=[USERS])
    database_id, name = mine["database"]["id"], mine["database"]["name"]
    missing_id = secrets.token_hex(12)
    for method, path, kwargs in every_route(database_id, name):
        theirs = client.request(method, path, headers=other_account.headers, **kwargs)
        assert theirs.status_code == 404, (method, path, theirs.text)
        assert theirs.json()["error"]["code"] == "DATABASE_NOT_FOUND"
        missing = client.request(
            method,
            path,
            headers=other_account.headers,
            **{key: _swap(value, database_id, missing_id) for key, value in kwargs.items()},
        )
        assert missing.status_code == 404
        assert missing.json() == theirs.json(), (method, path)
        malformed = client.request(
            method,
            path,
            headers=other_account.headers,
            **{key: _swap(value, database_id, "not-an-id") for key, value in kwargs.items()},
        )
        assert malformed.json() == theirs.json(), (method, path)

    listed = client.get("/api/list_databases", params={"search": name}, headers=other_account.headers).json()
    assert listed["data"] == []
    # Nothing of A's changed.
    assert schema_exists(pg, mine["database"]["dbName"])
    metadata = client.get("/api/get_metadata", params={"database_id": database_id}, headers=account.headers)
    assert [c["name"] for c in metadata.json()["data"]["collections"]] == ["users"]


def _swap(value: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {key: (new if item == old else item) for key, item in value.items()}


def test_a_scoped_key_reaches_its_database_only(client: httpx.Client, account: Account) -> None:
    first = create_database(client, account, collections=[USERS])
    second = create_database(client, account)
    key = api_key_headers(create_api_key(client, account, database_id=first["database"]["id"]))

    listed = client.get("/api/list_databases", headers=key).json()
    assert [d["id"] for d in listed["data"]] == [first["database"]["id"]]
    assert listed["pagination"]["total_items"] == 1

    own = client.get("/api/get_metadata", params={"database_id": first["database"]["id"]}, headers=key)
    assert own.status_code == 200
    other = client.get("/api/get_metadata", params={"database_id": second["database"]["id"]}, headers=key)
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "DATABASE_NOT_FOUND"

    added = client.post(
        "/api/add_collection",
        json={"database_id": first["database"]["id"], "collections": [{"name": "more"}]},
        headers=key,
    )
    assert added.status_code == 201, added.text

    created = client.post("/api/create_database", json={"db_name": "from_a_key"}, headers=key)
    assert created.status_code == 403
    assert created.json()["error"]["code"] == "FORBIDDEN"
    dropped = client.post(
        "/api/drop_database",
        json={"database_id": first["database"]["id"], "confirmation": first["database"]["name"]},
        headers=key,
    )
    assert dropped.status_code == 403
    assert dropped.json()["error"]["code"] == "FORBIDDEN"


def test_an_unscoped_key_manages_the_whole_account(client: httpx.Client, account: Account) -> None:
    key = api_key_headers(create_api_key(client, account))
    created = client.post("/api/create_database", json={"db_name": "by_key"}, headers=key)
    assert created.status_code == 201, created.text
    database_id = created.json()["database"]["id"]
    dropped = client.request(
        "DELETE",
        "/api/drop_database",
        json={"database_id": database_id, "confirmation": "BY_KEY"},
        headers=key,
    )
    assert dropped.status_code == 200, dropped.text

"""Collections through HTTP: add, list with live counts, drop (SPEC §5)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.integration.management.conftest import create_database, insert_rows
from tests.integration.management.test_databases import error_of
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg


def table_exists(pg: SyncPg, schema: str, table: str) -> bool:
    exists: bool = pg.fetchval(
        "SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2)) IS NOT NULL", schema, table
    )
    return exists


def test_add_collection(client: httpx.Client, account: Account, pg: SyncPg, database: dict[str, Any]) -> None:
    database_id = database["database"]["id"]
    schema = database["database"]["dbName"]
    response = client.post(
        "/api/add_collection",
        json={
            "database_id": database_id,
            "collections": [
                {"name": "orders", "fields": [{"name": "total", "type": "number", "required": True}]},
                {"name": "logs"},
            ],
        },
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    assert [c["name"] for c in body["collections"]] == ["orders", "logs"]
    assert body["collections"][0]["fields"] == [
        {"name": "total", "type": "number", "required": True, "index": True}
    ]
    assert table_exists(pg, schema, "orders")
    assert table_exists(pg, schema, "logs")
    metadata = client.get(
        "/api/get_metadata", params={"database_id": database_id}, headers=account.headers
    ).json()
    assert [c["name"] for c in metadata["data"]["collections"]] == ["logs", "orders", "users"]


def test_add_an_existing_collection_is_409_and_adds_nothing(
    client: httpx.Client, account: Account, pg: SyncPg, database: dict[str, Any]
) -> None:
    database_id = database["database"]["id"]
    response = client.post(
        "/api/add_collection",
        json={"database_id": database_id, "collections": [{"name": "fresh"}, {"name": "users"}]},
        headers=account.headers,
    )
    assert error_of(response, 409, "CONFLICT")["error"]["details"]["field"] == "collections[1].name"
    assert not table_exists(pg, database["database"]["dbName"], "fresh")


def test_list_collections_counts_documents(client: httpx.Client, account: Account, pg: SyncPg) -> None:
    body = create_database(client, account, collections=[{"name": "empty"}, {"name": "some"}])
    insert_rows(pg, body["database"]["dbName"], "some", [json.dumps({"n": i}).encode() for i in range(42)])
    response = client.get(
        "/api/list_collections", params={"database_id": body["database"]["id"]}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "collections": [
            {"name": "empty", "num_documents": 0, "estimated": False},
            {"name": "some", "num_documents": 42, "estimated": False},
        ],
    }


def test_drop_collections(client: httpx.Client, account: Account, pg: SyncPg) -> None:
    body = create_database(
        client,
        account,
        collections=[
            {"name": "old_logs", "fields": [{"name": "level", "type": "string"}]},
            {"name": "temporary_users"},
            {"name": "keep"},
        ],
    )
    database_id, schema = body["database"]["id"], body["database"]["dbName"]
    pg.execute(
        f'INSERT INTO "{schema}"._trash (collection, _ref, kind, _key, _created_at, _modified_at, data) '
        "VALUES ('old_logs', 'r1', 'deleted', 'k1', now(), now(), '{}'), "
        "('keep', 'r2', 'archived', 'k2', now(), now(), '{}')"
    )
    response = client.request(
        "DELETE",
        "/api/drop_collections",
        json={"database_id": database_id, "collection_names": ["old_logs", "temporary_users"]},
        headers=account.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "dropped_collections": ["old_logs", "temporary_users"]}
    assert not table_exists(pg, schema, "old_logs")
    assert not table_exists(pg, schema, "temporary_users")
    assert table_exists(pg, schema, "keep")
    assert pg.fetchval("SELECT count(*) FROM pgcube.collections WHERE database_id = $1", database_id) == 1
    assert pg.fetchval("SELECT count(*) FROM pgcube.fields WHERE database_id = $1", database_id) == 0
    assert [r["collection"] for r in pg.fetch(f'SELECT collection FROM "{schema}"._trash')] == ["keep"]


def test_an_unknown_name_drops_nothing(
    client: httpx.Client, account: Account, pg: SyncPg, database: dict[str, Any]
) -> None:
    response = client.post(
        "/api/drop_collections",
        json={"database_id": database["database"]["id"], "collection_names": ["users", "nope"]},
        headers=account.headers,
    )
    assert error_of(response, 404, "COLLECTION_NOT_FOUND")["error"]["details"] == {"collection": "nope"}
    assert table_exists(pg, database["database"]["dbName"], "users")


def test_a_table_made_by_hand_is_a_conflict_not_a_crash(
    client: httpx.Client, account: Account, pg: SyncPg, database: dict[str, Any]
) -> None:
    schema = database["database"]["dbName"]
    pg.execute(f'CREATE TABLE "{schema}".handmade (id int)')
    response = client.post(
        "/api/add_collection",
        json={
            "database_id": database["database"]["id"],
            "collections": [{"name": "other"}, {"name": "handmade"}],
        },
        headers=account.headers,
    )
    assert error_of(response, 409, "CONFLICT")["error"]["details"] == {"collection": "handmade"}
    assert not table_exists(pg, schema, "other")
    assert (
        pg.fetchval(
            "SELECT count(*) FROM pgcube.collections WHERE database_id = $1", database["database"]["id"]
        )
        == 1
    )

"""Logical databases through HTTP: create, list (search, pages), metadata, drop (SPEC §5)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.integration.management.conftest import (
    USERS,
    create_database,
    schema_exists,
    schema_of,
    unique_name,
)
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg

ISO_MS_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    return body


def account_snapshot(pg: SyncPg, account: Account) -> dict[str, Any]:
    """What management requests of ``account`` could write, read from PostgreSQL: its catalog
    rows (databases, collections, fields), every schema of the database, and the relations
    (tables, indexes, sequences) inside the account's schemas."""
    owned = "SELECT id FROM pgcube.databases WHERE account_id = $1::uuid"

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in pg.fetch(sql, account.account_id)]

    return {
        "databases": rows("SELECT * FROM pgcube.databases WHERE account_id = $1::uuid ORDER BY id"),
        "collections": rows(
            f"SELECT * FROM pgcube.collections WHERE database_id IN ({owned}) ORDER BY database_id, name"
        ),
        "fields": rows(
            f"SELECT * FROM pgcube.fields WHERE database_id IN ({owned}) "
            "ORDER BY database_id, collection_name, position"
        ),
        "schemas": [row[0] for row in pg.fetch("SELECT nspname FROM pg_namespace ORDER BY 1")],
        "relations": rows(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pgcube.databases d ON d.schema_name = n.nspname "
            "WHERE d.account_id = $1::uuid ORDER BY 1, 2"
        ),
    }


def test_create_database_answers_as_the_seed_shows(
    client: httpx.Client, account: Account, pg: SyncPg
) -> None:
    name = unique_name("My-Customer-Project")
    body = create_database(client, account, name, [USERS, {"name": "products"}])
    assert body["success"] is True
    database = body["database"]
    assert re.fullmatch(r"[0-9a-f]{24}", database["id"])
    assert database["name"] == name
    assert re.fullmatch(name.lower().replace("-", "_") + r"_[0-9a-f]{6}", database["dbName"])
    assert [c["name"] for c in body["collections"]] == ["users", "products"]
    users = body["collections"][0]
    assert users["strict"] is True
    assert users["fields"][0] == {"name": "email", "type": "string", "required": True, "index": True}
    assert {f["name"]: f["index"] for f in users["fields"]} == {
        "email": True,
        "signup_date": True,
        "age": True,
        "score": False,
        "active": True,
        "seen_at": True,
        "profile": False,
        "tags": False,
        "extra": False,
    }
    assert schema_of(pg, database["id"]) == database["dbName"]


def test_metadata_describes_the_database(
    client: httpx.Client, account: Account, database: dict[str, Any]
) -> None:
    response = client.get(
        "/api/get_metadata", params={"database_id": database["database"]["id"]}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["_id"] == database["database"]["id"]
    assert data["user_id"] == account.account_id
    assert data["displayName"] == database["database"]["name"]
    assert data["dbName"] == database["database"]["dbName"]
    assert ISO_MS_Z.fullmatch(data["created_at"])
    (users,) = data["collections"]
    assert users["name"] == "users"
    assert users["strict"] is True
    assert users["fields"] == database["collections"][0]["fields"]
    indexes = {index["name"]: index for index in users["indexes"]}
    assert indexes["users$pkey"] == {
        "name": "users$pkey",
        "method": "btree",
        "fields": ["_key"],
        "unique": True,
    }
    assert indexes["users$data"] == {"name": "users$data", "method": "gin", "fields": ["data"]}
    assert indexes["users$created"]["fields"] == ["_created_at", "_key"]
    assert indexes["users$f$email"] == {
        "name": "users$f$email",
        "method": "btree",
        "fields": ["email", "_key"],
        "type": "string",
    }
    assert "users$f$score" not in indexes
    assert "users$f$profile" not in indexes


def test_a_name_is_unique_per_account_ignoring_case(
    client: httpx.Client, account: Account, other_account: Account
) -> None:
    name = unique_name("Shop")
    create_database(client, account, name)
    again = client.post("/api/create_database", json={"db_name": name.upper()}, headers=account.headers)
    assert error_of(again, 409, "CONFLICT")["error"]["details"] == {"field": "db_name"}
    # Another account may use the same name.
    create_database(client, other_account, name)


def test_list_databases_searches_and_pages(client: httpx.Client, account: Account) -> None:
    token = unique_name("Ls")
    names = [f"{token}_{i}" for i in range(5)]
    for name in reversed(names):
        create_database(client, account, name, [{"name": "a"}, {"name": "b"}] if name.endswith("_0") else [])
    create_database(client, account, unique_name("unrelated"))

    first = client.get(
        "/api/list_databases", params={"search": token.upper(), "page_size": 2}, headers=account.headers
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["success"] is True
    assert [d["name"] for d in body["data"]] == names[:2]
    assert body["data"][0]["num_collections"] == 2
    assert body["data"][1]["num_collections"] == 0
    assert body["pagination"] == {
        "page": 1,
        "page_size": 2,
        "total_items": 5,
        "total_pages": 3,
        "has_next": True,
    }

    last = client.get(
        "/api/list_databases", params={"search": token, "page_size": 2, "page": 3}, headers=account.headers
    ).json()
    assert [d["name"] for d in last["data"]] == names[4:]
    assert last["pagination"]["has_next"] is False

    beyond = client.get(
        "/api/list_databases", params={"search": token, "page_size": 2, "page": 9}, headers=account.headers
    ).json()
    assert beyond["data"] == []

    everything = client.get("/api/list_databases", headers=account.headers).json()
    assert everything["pagination"]["page_size"] == 10
    assert everything["pagination"]["total_items"] == 6


def test_list_databases_treats_search_text_literally(client: httpx.Client, account: Account) -> None:
    create_database(client, account, unique_name("literal"))
    for search in ("%", "_", "' OR 1=1--"):
        response = client.get("/api/list_databases", params={"search": search}, headers=account.headers)
        assert response.status_code == 200, response.text
        names = [d["name"] for d in response.json()["data"]]
        assert all(search.lower() in name.lower() for name in names)


def test_list_databases_refuses_bad_pages(client: httpx.Client, account: Account, settings: Any) -> None:
    for params in ({"page": 0}, {"page_size": 0}, {"page_size": settings.max_page_size + 1}, {"page": "x"}):
        response = client.get("/api/list_databases", params=params, headers=account.headers)
        error_of(response, 400, "VALIDATION_ERROR")
    ok = client.get(
        "/api/list_databases", params={"page_size": settings.max_page_size}, headers=account.headers
    )
    assert ok.status_code == 200


def test_drop_database_needs_the_name_as_confirmation(
    client: httpx.Client, account: Account, pg: SyncPg, database: dict[str, Any]
) -> None:
    database_id = database["database"]["id"]
    schema = database["database"]["dbName"]
    wrong = client.post(
        "/api/drop_database",
        json={"database_id": database_id, "confirmation": "nope"},
        headers=account.headers,
    )
    assert error_of(wrong, 400, "VALIDATION_ERROR")["error"]["details"] == {"field": "confirmation"}
    assert schema_exists(pg, schema)
    assert schema_of(pg, database_id) == schema
    assert pg.fetchval("SELECT count(*) FROM pgcube.collections WHERE database_id = $1", database_id) == 1


def test_drop_database_removes_schema_and_catalog_rows(
    client: httpx.Client, account: Account, pg: SyncPg, database: dict[str, Any]
) -> None:
    database_id = database["database"]["id"]
    schema = database["database"]["dbName"]
    assert pg.fetchval("SELECT count(*) FROM pgcube.fields WHERE database_id = $1", database_id) == 9
    response = client.request(
        "DELETE",
        "/api/drop_database",
        json={"database_id": database_id, "confirmation": database["database"]["name"].upper()},
        headers=account.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "message": f"Database '{database['database']['name']}' was successfully dropped.",
    }
    assert not schema_exists(pg, schema)
    for table in ("databases", "collections", "fields"):
        column = "id" if table == "databases" else "database_id"
        assert pg.fetchval(f"SELECT count(*) FROM pgcube.{table} WHERE {column} = $1", database_id) == 0
    gone = client.get("/api/get_metadata", params={"database_id": database_id}, headers=account.headers)
    error_of(gone, 404, "DATABASE_NOT_FOUND")
    # The name is free again.
    create_database(client, account, database["database"]["name"])


def test_drop_database_by_post(client: httpx.Client, account: Account, pg: SyncPg) -> None:
    body = create_database(client, account)
    response = client.post(
        "/api/drop_database",
        json={"database_id": body["database"]["id"], "confirmation": body["database"]["name"]},
        headers=account.headers,
    )
    assert response.status_code == 200, response.text
    assert not schema_exists(pg, body["database"]["dbName"])


def test_bodies_are_closed_and_checked(client: httpx.Client, account: Account, pg: SyncPg) -> None:
    create_database(client, account, collections=[USERS])
    before = account_snapshot(pg, account)
    assert len(before["databases"]) == 1
    assert before["relations"]
    cases = [
        ({"collections": []}, "db_name"),
        ({"db_name": unique_name(), "extra": 1}, "extra"),
        (
            {
                "db_name": unique_name(),
                "collections": [{"name": "a", "fields": [{"name": "x", "type": "text"}]}],
            },
            "collections[0].fields[0].type",
        ),
    ]
    for body, field in cases:
        response = client.post("/api/create_database", json=body, headers=account.headers)
        error = error_of(response, 400, "VALIDATION_ERROR")["error"]
        assert field in error["message"] + str(error["details"]), error
        assert account_snapshot(pg, account) == before, body


def test_management_needs_credentials(client: httpx.Client) -> None:
    assert client.get("/api/list_databases").status_code == 401
    assert client.post("/api/create_database", json={"db_name": "x"}).status_code == 401

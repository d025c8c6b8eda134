"""Names that must be refused are 400, and nothing is created (SPEC §1, RELIABILITY D2)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.management.test_databases import account_snapshot, error_of
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg

REFUSED = [
    'a"b',
    "pg_catalog",
    "public",
    "pgcube",
    "information_schema",
    "x" * 64,
    "x;drop schema pgcube cascade",
    "PG_toast",
    "1abc",
    "",
    "a'b",
]


@pytest.mark.parametrize("name", REFUSED)
def test_database_names_that_must_be_refused(
    client: httpx.Client, account: Account, pg: SyncPg, name: str
) -> None:
    schemas_before = pg.fetchval("SELECT count(*) FROM pg_namespace")
    response = client.post("/api/create_database", json={"db_name": name}, headers=account.headers)
    error = error_of(response, 400, "VALIDATION_ERROR")["error"]
    assert error["details"]["field"] == "db_name"
    assert (
        pg.fetchval("SELECT count(*) FROM pgcube.databases WHERE account_id = $1::uuid", account.account_id)
        == 0
    )
    assert pg.fetchval("SELECT count(*) FROM pg_namespace") == schemas_before
    assert pg.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgcube'") == 1


@pytest.mark.parametrize(
    "name",
    [
        'a"b',
        "pg_catalog",
        "public",
        "pgcube",
        "_trash",
        "x" * 64,
        "x;drop schema pgcube cascade",
        "Users",
        "a-b",
    ],
)
def test_collection_names_that_must_be_refused(
    client: httpx.Client, account: Account, pg: SyncPg, name: str
) -> None:
    before = account_snapshot(pg, account)
    response = client.post(
        "/api/create_database",
        json={"db_name": "fine", "collections": [{"name": "ok"}, {"name": name}]},
        headers=account.headers,
    )
    error = error_of(response, 400, "VALIDATION_ERROR")["error"]
    assert error["details"]["field"] == "collections[1].name"
    assert account_snapshot(pg, account) == before
    assert before["databases"] == []


@pytest.mark.parametrize("name", ["_key", "_created_at", 'a"b', "a'b", "a b", "a:$gt", "x;drop"])
def test_field_names_that_must_be_refused(
    client: httpx.Client, account: Account, pg: SyncPg, name: str
) -> None:
    before = account_snapshot(pg, account)
    response = client.post(
        "/api/create_database",
        json={
            "db_name": "fine",
            "collections": [
                {
                    "name": "ok",
                    "fields": [{"name": "fine", "type": "string"}, {"name": name, "type": "string"}],
                }
            ],
        },
        headers=account.headers,
    )
    error = error_of(response, 400, "VALIDATION_ERROR")["error"]
    assert error["details"]["field"] == "collections[0].fields[1].name"
    assert account_snapshot(pg, account) == before
    assert before["databases"] == []


def test_collection_names_in_drop_and_add_are_checked_too(
    client: httpx.Client, account: Account, pg: SyncPg, database: dict[str, object]
) -> None:
    database_id = database["database"]["id"]  # type: ignore[index]
    before = account_snapshot(pg, account)
    assert [row[1] for row in before["collections"]] == ["users"]
    dropped = client.post(
        "/api/drop_collections",
        json={"database_id": database_id, "collection_names": ["users", 'users"; drop table x']},
        headers=account.headers,
    )
    error_of(dropped, 400, "VALIDATION_ERROR")
    assert account_snapshot(pg, account) == before
    added = client.post(
        "/api/add_collection",
        json={"database_id": database_id, "collections": [{"name": "fine"}, {"name": "pg_class"}]},
        headers=account.headers,
    )
    error_of(added, 400, "VALIDATION_ERROR")
    assert account_snapshot(pg, account) == before

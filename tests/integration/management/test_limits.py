"""Quotas (RELIABILITY E4), the count estimate past its threshold, and all-or-nothing DDL."""

from __future__ import annotations

import json

import httpx
import pytest

from pgcube.management import ddl
from tests.integration.management.conftest import (
    LIMITED_ESTIMATE_THRESHOLD,
    LIMITED_QUOTA_COLLECTIONS,
    LIMITED_QUOTA_DATABASES,
    create_database,
    insert_rows,
    unique_name,
)
from tests.integration.management.test_databases import account_snapshot, error_of
from tests.support.accounts import new_account
from tests.support.sync_pg import SyncPg


def test_database_quota(limited: httpx.Client, pg: SyncPg) -> None:
    account = new_account(limited, pg)
    for _ in range(LIMITED_QUOTA_DATABASES):
        create_database(limited, account)
    before = account_snapshot(pg, account)
    over = limited.post("/api/create_database", json={"db_name": unique_name()}, headers=account.headers)
    details = error_of(over, 403, "QUOTA_EXCEEDED")["error"]["details"]
    assert details == {"quota": "databases", "limit": LIMITED_QUOTA_DATABASES}
    assert account_snapshot(pg, account) == before
    assert len(before["databases"]) == LIMITED_QUOTA_DATABASES


def test_collection_quota(limited: httpx.Client, pg: SyncPg) -> None:
    account = new_account(limited, pg)
    too_many = [{"name": f"c{i}"} for i in range(LIMITED_QUOTA_COLLECTIONS + 1)]
    nothing = account_snapshot(pg, account)
    over = limited.post(
        "/api/create_database",
        json={"db_name": unique_name(), "collections": too_many},
        headers=account.headers,
    )
    details = error_of(over, 403, "QUOTA_EXCEEDED")["error"]["details"]
    assert details == {"quota": "collections", "limit": LIMITED_QUOTA_COLLECTIONS}
    assert account_snapshot(pg, account) == nothing
    assert nothing["databases"] == []
    body = create_database(limited, account, collections=too_many[:2])
    database_id = body["database"]["id"]
    before = account_snapshot(pg, account)
    added = limited.post(
        "/api/add_collection",
        json={"database_id": database_id, "collections": too_many[2:]},
        headers=account.headers,
    )
    details = error_of(added, 403, "QUOTA_EXCEEDED")["error"]["details"]
    assert details == {"quota": "collections", "limit": LIMITED_QUOTA_COLLECTIONS}
    assert account_snapshot(pg, account) == before
    assert [row[1] for row in before["collections"]] == ["c0", "c1"]
    one_more = limited.post(
        "/api/add_collection",
        json={"database_id": database_id, "collections": too_many[2:3]},
        headers=account.headers,
    )
    assert one_more.status_code == 201, one_more.text


def test_large_collections_report_an_estimate(limited: httpx.Client, pg: SyncPg) -> None:
    account = new_account(limited, pg)
    body = create_database(
        limited, account, collections=[{"name": "big"}, {"name": "fresh"}, {"name": "small"}]
    )
    schema = body["database"]["dbName"]
    insert_rows(pg, schema, "big", [json.dumps({"n": i}).encode() for i in range(50)])
    pg.execute(f'ANALYZE "{schema}"."big"')
    insert_rows(pg, schema, "fresh", [json.dumps({"n": i}).encode() for i in range(30)])
    insert_rows(pg, schema, "small", [b"{}"] * LIMITED_ESTIMATE_THRESHOLD)
    response = limited.get(
        "/api/list_collections", params={"database_id": body["database"]["id"]}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    counts = {c["name"]: c for c in response.json()["collections"]}
    assert counts["big"] == {"name": "big", "num_documents": 50, "estimated": True}
    # Past the threshold without statistics yet: still an estimate, never below what was seen.
    assert counts["fresh"]["estimated"] is True
    assert counts["fresh"]["num_documents"] > LIMITED_ESTIMATE_THRESHOLD
    assert counts["small"] == {
        "name": "small",
        "num_documents": LIMITED_ESTIMATE_THRESHOLD,
        "estimated": False,
    }


# An error no SQLSTATE mapping explains: the request fails with 500 after part of its DDL ran.
FAILURE = "DO $$ BEGIN RAISE EXCEPTION 'injected failure' USING ERRCODE = 'XX000'; END $$"


def test_a_failure_half_way_leaves_neither_schema_nor_catalog_row(
    client: httpx.Client, pg: SyncPg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DDL and catalog rows share the request's transaction: an error after some DDL undoes all of it."""
    account = new_account(client, pg)
    real = ddl.create_collection

    def failing(schema: str, table: str, *args: object, **kwargs: object) -> list[str]:
        statements = real(schema, table, *args, **kwargs)  # type: ignore[arg-type]
        return [*statements, FAILURE] if table == "boom" else statements

    monkeypatch.setattr(ddl, "create_collection", failing)
    name = unique_name("halfway")
    response = client.post(
        "/api/create_database",
        json={"db_name": name, "collections": [{"name": "fine"}, {"name": "boom"}]},
        headers=account.headers,
    )
    assert response.status_code == 500, response.text
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert (
        pg.fetchval("SELECT count(*) FROM pgcube.databases WHERE account_id = $1::uuid", account.account_id)
        == 0
    )
    assert pg.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname LIKE $1", name.lower() + "%") == 0

    body = create_database(client, account, collections=[{"name": "fine"}])
    added = client.post(
        "/api/add_collection",
        json={"database_id": body["database"]["id"], "collections": [{"name": "x"}, {"name": "boom"}]},
        headers=account.headers,
    )
    assert added.status_code == 500, added.text
    assert (
        pg.fetchval("SELECT count(*) FROM pgcube.collections WHERE database_id = $1", body["database"]["id"])
        == 1
    )
    assert pg.fetchval("SELECT to_regclass(quote_ident($1) || '.x')", body["database"]["dbName"]) is None

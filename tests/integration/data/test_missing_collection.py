"""A read of a collection that does not exist answers as for an empty one (SPEC §10a), on both
dialects, as MongoDB and Singlebase do; writes still create it, the rest still 404."""

from __future__ import annotations

import json

import httpx

from tests.integration.data.conftest import Db
from tests.support.accounts import Account, api_key_headers
from tests.support.end_users import web_key
from tests.support.sync_pg import SyncPg


def collections(db: Db) -> list[str]:
    listed = db.client.get("/api/list_collections", params={"database_id": db.id}, headers=db.headers)
    assert listed.status_code == 200, listed.text
    return [c["name"] for c in listed.json()["collections"]]


def test_a_ddo_find_answers_an_empty_page_and_creates_nothing(db: Db) -> None:
    answer = db.find("nothing_here", match={"status": "active"}, sort="-price", limit=20)
    assert answer["data"] == []
    assert (
        answer["meta"]["pagination"]
        == db.find("products", match={"x": "none"}, limit=20)["meta"]["pagination"]
    )
    assert answer["meta"]["pagination"]["size"] == 0
    assert "nothing_here" not in collections(db)


def test_a_count_is_zero(db: Db) -> None:
    for op in ("collection.count", "db.count"):
        answer = db.ok({"op": op, "collection": "nothing_here", "match": {"a:$gt": 1}})
        assert answer["data"] == {"count": 0}


def test_a_rest_get_answers_an_empty_page(db: Db) -> None:
    params = {"database_id": db.id, "collection_name": "nothing_here", "filters": json.dumps({"a": 1})}
    response = db.crud("GET", params={**params, "page": 2, "page_size": 5})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["success"] is True
    assert answer["data"] == []
    assert answer["pagination"]["total_items"] == 0
    assert answer["pagination"]["has_next"] is False
    assert "nothing_here" not in collections(db)


def test_a_bad_query_on_a_missing_collection_is_still_refused(db: Db) -> None:
    error = db.error(
        {"op": "collection.find", "collection": "nothing_here", "match": {"a:$foo": 1}}, 400, "INVALID_QUERY"
    )
    assert error["details"]["pointer"] == "/match/a:$foo"
    db.error(
        {"op": "collection.count", "collection": "nothing_here", "match": {"$where": "1"}},
        400,
        "INVALID_QUERY",
    )
    db.error({"op": "collection.find", "collection": "nothing_here", "limit": -1}, 400, "INVALID_QUERY")


def test_writes_and_deletes_still_need_the_collection_or_make_it(db: Db) -> None:
    for body in (
        {"op": "collection.update", "collection": "nothing_here", "match": {"a": 1}, "data": {"a": 2}},
        {"op": "collection.delete", "collection": "nothing_here", "match": {"a": 1}},
        {"op": "collection.restore", "collection": "nothing_here", "_ref": "0" * 32},
    ):
        db.error(body, 404, "COLLECTION_NOT_FOUND")
    db.insert("nothing_here", [{"a": 1}])  # §6: the first write creates it
    assert [doc["a"] for doc in db.find("nothing_here")["data"]] == [1]
    assert "nothing_here" in collections(db)


def test_management_routes_still_404(db: Db) -> None:
    response = db.client.post(
        "/api/drop_collections",
        json={"database_id": db.id, "collection_names": ["nothing_here"]},
        headers=db.headers,
    )
    assert response.status_code == 404, response.text


def test_an_unknown_or_foreign_database_is_still_404(
    db: Db, client: httpx.Client, other_account: Account
) -> None:
    body = {"op": "collection.find", "collection": "nothing_here"}
    unknown = db.client.post(f"/api/{'0' * 24}", json=body, headers=db.headers)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "DATABASE_NOT_FOUND")
    foreign = client.post(f"/api/{db.id}", json=body, headers=other_account.headers)
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "DATABASE_NOT_FOUND")


def test_a_web_key_reads_an_empty_page_too(db: Db, pg: SyncPg) -> None:
    """Nothing to see either way: a web key learns no more than that it reads nothing."""
    key = web_key(db.client, db.account, db.id)
    response = db.ddo({"op": "collection.find", "collection": "nothing_here"}, headers=api_key_headers(key))
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []
    assert (
        pg.fetchval(
            "SELECT count(*) FROM pgcube.collections WHERE database_id = $1 AND name = $2",
            db.id,
            "nothing_here",
        )
        == 0
    )

"""The DataCube REST CRUD route (SPEC §6) through HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.data.conftest import Db


def body(db: Db, **extra: Any) -> dict[str, Any]:
    return {"database_id": db.id, "collection_name": "products", **extra}


def rest_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["success"] is False
    assert answer["error"]["code"] == code
    return answer["error"]  # type: ignore[no-any-return]


def test_post_inserts_and_answers_ids(db: Db) -> None:
    response = db.crud("POST", json=body(db, data=[{"name": "a"}, {"_key": "b1", "name": "b"}]))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["success"] is True
    assert len(answer["inserted_ids"]) == 2
    assert answer["inserted_ids"][1] == "b1"
    assert sorted(db.keys("products")) == sorted(answer["inserted_ids"])


def test_post_accepts_documents_alias_and_a_single_object(db: Db) -> None:
    assert db.crud("POST", json=body(db, documents={"name": "solo"})).status_code == 201
    assert [d["name"] for d in db.find("products")["data"]] == ["solo"]


def test_post_with_both_data_and_documents_is_refused_and_writes_nothing(db: Db) -> None:
    response = db.crud("POST", json=body(db, data={"name": "a"}, documents={"name": "b"}))
    error = rest_error(response, 400, "VALIDATION_ERROR")
    assert error["details"] == {"field": "documents"}
    assert db.keys("products") == []


def test_get_with_filters_sort_fields_and_pagination(db: Db) -> None:
    db.insert("products", [{"name": f"p{i}", "price": i, "secret": "s"} for i in range(5)])
    response = db.crud(
        "GET",
        params={
            **body(db),
            "filters": json.dumps({"price:$gte": 1}),
            "sort": "price desc",
            "page": 1,
            "page_size": 3,
            "fields": "name,price",
        },
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["success"] is True
    assert [d["name"] for d in answer["data"]] == ["p4", "p3", "p2"]
    assert all(set(d) == {"_key", "name", "price"} for d in answer["data"])
    assert answer["pagination"] == {
        "page": 1,
        "page_size": 3,
        "total_items": 4,
        "total_pages": 2,
        "has_next": True,
    }


def test_get_with_bad_filters_json_is_invalid_query(db: Db) -> None:
    db.insert("products", [{"name": "a"}])
    error = rest_error(db.crud("GET", params={**body(db), "filters": "{nope"}), 400, "INVALID_QUERY")
    assert error["details"]["pointer"] == "/filters"


def test_put_updates_and_counts(db: Db) -> None:
    db.insert("products", [{"name": "a", "stock": 1}, {"name": "b", "stock": 1}])
    response = db.crud("PUT", json=body(db, filters={"name": "a"}, update_data={"stock:$incr": 4}))
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "matched_count": 1, "modified_count": 1}
    assert {d["name"]: d["stock"] for d in db.find("products")["data"]} == {"a": 5, "b": 1}


def test_patch_is_the_same_update(db: Db) -> None:
    db.insert("products", [{"name": "a"}])
    response = db.crud("PATCH", json=body(db, filters={"name": "a"}, update_data={"newsletter": True}))
    assert response.json()["modified_count"] == 1
    assert db.find("products")["data"][0]["newsletter"] is True


def test_put_upsert_inserts_from_the_filters(db: Db) -> None:
    response = db.crud(
        "PUT", json=body(db, filters={"name": "fresh"}, update_data={"stock:$incr": 1}, upsert=True)
    )
    answer = response.json()
    assert (answer["matched_count"], answer["modified_count"]) == (0, 0)
    (doc,) = db.find("products")["data"]
    assert doc["_key"] == answer["upserted_id"]
    assert (doc["name"], doc["stock"]) == ("fresh", 1)


MATCH_EVERYTHING = [{}, {"$and": [{}]}, {"$or": [{"name": "a"}, {}]}, {"$and": [{"$and": [{}, {}]}]}]


@pytest.mark.parametrize("filters", MATCH_EVERYTHING, ids=str)
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_filters_that_match_everything_need_all_true(db: Db, method: str, filters: dict[str, Any]) -> None:
    # Issue 14 finding 9: {"$and": [{}]} is as empty as {} and deleted everything without "all".
    db.insert("products", [{"name": "a"}, {"name": "b"}])
    extra = {"update_data": {"x": 1}} if method != "DELETE" else {}
    for upsert in [{}, {"upsert": True}] if method == "PUT" else [{}]:
        refused = db.crud(method, json=body(db, filters=filters, **upsert, **extra))
        error = rest_error(refused, 400, "VALIDATION_ERROR")
        assert error["details"]["field"] == "filters"
        assert '"all": true' in error["message"]
    assert sorted(d["name"] for d in db.find("products")["data"]) == ["a", "b"]
    assert all("x" not in d for d in db.find("products")["data"])
    assert db.crud(method, json=body(db, filters=filters, all=True, **extra)).status_code == 200
    if method == "DELETE":
        assert db.keys("products") == []
    else:
        assert [d["x"] for d in db.find("products")["data"]] == [1, 1]


def test_delete_soft_by_default_and_restorable(db: Db) -> None:
    db.insert("products", [{"_key": "a", "name": "a"}])
    answer = db.crud("DELETE", json=body(db, filters={"_id": "a"})).json()
    assert answer["success"] is True
    assert answer["deleted_count"] == 1
    assert db.keys("products") == []
    db.ok({"op": "collection.restore", "collection": "products", "_ref": answer["ref"]})
    assert db.keys("products") == ["a"]


def test_hard_delete(db: Db, pg) -> None:  # type: ignore[no-untyped-def]
    db.insert("products", [{"_key": "a", "name": "a"}])
    answer = db.crud("DELETE", json=body(db, filters={"_key": "a"}, soft_delete=False)).json()
    assert (answer["deleted_count"], answer["ref"]) == (1, None)
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db.id)
    assert pg.fetchval(f'SELECT count(*) FROM "{schema}"._trash') == 0


def test_unknown_body_field_is_refused(db: Db) -> None:
    rest_error(db.crud("POST", json=body(db, data={"name": "a"}, sneaky=True)), 400, "VALIDATION_ERROR")
    assert db.keys("products") == []


def test_unknown_query_parameter_is_refused(db: Db) -> None:
    db.insert("products", [{"name": "a"}, {"name": "b"}])
    error = rest_error(
        db.crud("GET", params={**body(db), "filter": json.dumps({"name": "a"})}), 400, "VALIDATION_ERROR"
    )
    assert error["details"]["field"] == "filter"


def test_missing_query_parameter_names_it(db: Db) -> None:
    error = rest_error(db.crud("GET", params={"database_id": db.id}), 400, "VALIDATION_ERROR")
    assert error["details"] == {"field": "collection_name"}
    assert db.id not in error["message"]


def test_absurdly_deep_filters_are_400(db: Db) -> None:
    db.insert("products", [{"name": "a"}])
    rest_error(db.crud("GET", params={**body(db), "filters": "[" * 3000 + "]" * 3000}), 400, "INVALID_QUERY")

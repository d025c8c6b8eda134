"""Every DDO op and alias through HTTP (SPEC §7)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.data.conftest import Db

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_insert_answers_the_documents_with_system_fields(db: Db) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    (doc,) = db.insert(
        "products", [{"name": "lamp", "price": 12.5, "_created_at": "1999-01-01T00:00:00.000Z"}]
    )
    assert doc["name"] == "lamp"
    assert doc["price"] == 12.5
    assert re.fullmatch(r"[0-9a-f]{32}", doc["_key"])
    assert doc["_userkey"] is None
    assert ISO.match(doc["_created_at"])
    assert ISO.match(doc["_modified_at"])
    assert datetime.fromisoformat(doc["_created_at"]) > before, "a client's _created_at is ignored"


def test_single_document_insert_and_client_key(db: Db) -> None:
    answer = db.ok(
        {"op": "collection.insert", "collection": "products", "data": {"_key": "sku-1", "name": "x"}}
    )
    assert [d["_key"] for d in answer["data"]] == ["sku-1"]
    assert answer["meta"] == {"count": 1}
    again = db.error(
        {"op": "collection.insert", "collection": "products", "data": {"_key": "sku-1", "name": "y"}},
        409,
        "DUPLICATE_KEY",
    )
    assert again["message"]
    assert db.keys("products") == ["sku-1"]


@pytest.mark.parametrize("key", ["", "a b", "x" * 65, "a/b", 5])
def test_bad_client_key_is_refused(db: Db, key: object) -> None:
    error = db.error(
        {
            "op": "collection.insert",
            "collection": "products",
            "data": [{"name": "ok"}, {"_key": key, "name": "x"}],
        },
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"] == {"index": 1, "field": "_key"}
    assert db.keys("products") == []


def test_insert_creates_a_missing_collection(db: Db, pg) -> None:  # type: ignore[no-untyped-def]
    db.insert("notes", [{"text": "hello"}])
    assert db.find("notes")["data"][0]["text"] == "hello"
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db.id)
    assert pg.fetchval("SELECT to_regclass($1)", f'"{schema}"."notes"') is not None


def test_count(db: Db) -> None:
    db.insert("products", [{"name": n, "price": p} for n, p in [("a", 1), ("b", 2), ("c", 3)]])
    assert db.ok({"op": "collection.count", "collection": "products", "match": {"price:$gte": 2}})[
        "data"
    ] == {"count": 2}
    assert db.ok({"op": "db.count", "collection": "products"})["data"] == {"count": 3}


def test_update_answers_the_updated_documents(db: Db) -> None:
    db.insert("products", [{"name": "a", "stock": 1}, {"name": "b", "stock": 5}])
    answer = db.ok(
        {
            "op": "collection.update",
            "collection": "products",
            "match": {"name": "a"},
            "data": {"stock:$incr": 2, "tags:$push": "new"},
        }
    )
    assert answer["meta"] == {"count": 1}
    (doc,) = answer["data"]
    assert doc["stock"] == 3
    assert doc["tags"] == ["new"]
    assert doc["_modified_at"] >= doc["_created_at"]
    assert {d["name"]: d["stock"] for d in db.find("products")["data"]} == {"a": 3, "b": 5}


def test_update_mongo_form(db: Db) -> None:
    db.insert("products", [{"name": "a", "stock": 1, "tags": ["x", "y"]}])
    (doc,) = db.ok(
        {
            "op": "db.update",
            "collection": "products",
            "filter": {"name": "a"},
            "data": {"$inc": {"stock": 1}, "$pull": {"tags": "x"}, "$set": {"color": "red"}},
        }
    )["data"]
    assert (doc["stock"], doc["tags"], doc["color"]) == (2, ["y"], "red")


def test_upsert_updates_when_matched(db: Db) -> None:
    db.insert("products", [{"_key": "k1", "name": "a", "stock": 1}])
    answer = db.ok(
        {
            "op": "collection.upsert",
            "collection": "products",
            "match": {"_key": "k1"},
            "update": {"stock:$incr": 1},
            "insert": {"name": "new", "stock": 0},
        }
    )
    assert [d["stock"] for d in answer["data"]] == [2]
    assert answer["meta"]["upserted"] is False


def test_upsert_inserts_when_not_matched(db: Db) -> None:
    answer = db.ok(
        {
            "op": "collection.upsert",
            "collection": "products",
            "match": {"name": "ghost"},
            "update": {"stock:$incr": 1},
            "insert": {"name": "ghost", "stock": 10},
        }
    )
    (doc,) = answer["data"]
    assert (doc["name"], doc["stock"]) == ("ghost", 11)
    assert answer["meta"]["upserted"] is True
    assert db.keys("products") == [doc["_key"]]


def test_delete_then_restore(db: Db) -> None:
    db.insert("products", [{"_key": "a", "name": "a"}, {"_key": "b", "name": "b"}])
    removed = db.ok({"op": "collection.delete", "collection": "products", "match": {"name": "a"}})["data"]
    assert removed["count"] == 1
    assert re.fullmatch(r"[0-9a-f]{32}", removed["_ref"])
    assert db.keys("products") == ["b"]
    restored = db.ok({"op": "collection.restore", "collection": "products", "_ref": removed["_ref"]})["data"]
    assert restored == {"count": 1}
    assert sorted(db.keys("products")) == ["a", "b"]
    db.error(
        {"op": "collection.restore", "collection": "products", "_ref": removed["_ref"]}, 404, "NOT_FOUND"
    )


def test_archive_hides_until_restored(db: Db) -> None:
    db.insert("products", [{"_key": "a", "name": "a", "price": 1}, {"_key": "b", "name": "b", "price": 2}])
    archived = db.ok({"op": "db.archive", "collection": "products", "match": {"price:$lt": 2}})["data"]
    assert archived["count"] == 1
    assert db.keys("products") == ["b"]
    assert db.ok({"op": "collection.count", "collection": "products"})["data"] == {"count": 1}
    db.ok({"op": "db.restore", "collection": "products", "_ref": archived["_ref"]})
    assert sorted(db.keys("products")) == ["a", "b"]


def test_restore_into_an_occupied_key_is_a_conflict_and_changes_nothing(db: Db) -> None:
    db.insert("products", [{"_key": "a", "name": "first"}])
    ref = db.ok({"op": "collection.delete", "collection": "products", "match": {"_key": "a"}})["data"]["_ref"]
    db.insert("products", [{"_key": "a", "name": "second"}])
    db.error({"op": "collection.restore", "collection": "products", "_ref": ref}, 409, "DUPLICATE_KEY")
    assert [d["name"] for d in db.find("products")["data"]] == ["second"]


def test_empty_match_matches_everything(db: Db) -> None:
    db.insert("products", [{"name": "a"}, {"name": "b"}])
    assert db.ok({"op": "collection.delete", "collection": "products", "match": {}})["data"]["count"] == 2


def test_older_singlebase_client_shapes(db: Db) -> None:
    db.insert("products", [{"name": "a", "price": 1}, {"name": "b", "price": 2}, {"name": "c", "price": 3}])
    answer = db.ok(
        {
            "action": "db.fetch",
            "collection": "products",
            "filters": {"price:$gte": 2},
            "return_fields": ["name"],
            "sort": "price desc",
        }
    )
    assert [set(d) for d in answer["data"]] == [{"_key", "name"}] * 2
    assert [d["name"] for d in answer["data"]] == ["c", "b"]
    answer = db.ok({"action": "db.find", "collection": "products", "matches": {"name": "a"}})
    assert [d["name"] for d in answer["data"]] == ["a"]


def test_unknown_op_is_404(db: Db) -> None:
    error = db.error({"op": "collection.explode", "collection": "products"}, 404, "UNKNOWN_OP")
    assert "collection.find" in error["details"]["known"]
    error = db.error({"op": "collection.fnd", "collection": "products"}, 404, "UNKNOWN_OP")
    assert error["details"]["closest"][0] == "collection.find"
    assert "did you mean collection.find" in error["message"]


def test_the_seeds_vectorstore_and_xai_examples_reach_their_ops(db: Db) -> None:
    """The seed's own examples of the VectorStore and XAI services, verbatim: the ops exist now
    (SPEC §13, §14) and answer what this server lacks — the collection (or pgvector), and a model."""
    vdb = db.ddo({"op": "vdb.search", "collection": "docs", "query": "hello", "limit": 5})
    assert (vdb.status_code, vdb.json()["error"]["code"]) in (
        (404, "COLLECTION_NOT_FOUND"),
        (501, "FEATURE_UNAVAILABLE"),
    ), vdb.text
    db.error({"op": "xai.generate", "user_input": "Write a haiku"}, 501, "AI_NOT_CONFIGURED")


def test_the_seeds_file_info_example_is_a_file_not_found(db: Db) -> None:
    """The seed's Storage example, verbatim: the op exists now (SPEC §12); its made-up file does not."""
    error = db.error(
        {"op": "file.info", "_key": "file_abc123xyz789", "signed_ttl": 3600}, 404, "FILE_NOT_FOUND"
    )
    assert error["details"] == {"_key": "file_abc123xyz789"}


def test_bad_query_points_at_the_key(db: Db) -> None:
    error = db.error(
        {"op": "collection.find", "collection": "products", "match": {"age:$bogus": 1}}, 400, "INVALID_QUERY"
    )
    assert error["details"]["pointer"] == "/match/age:$bogus"


def test_bad_regex_is_400_not_500(db: Db) -> None:
    db.insert("products", [{"name": "a"}])
    db.error(
        {"op": "collection.find", "collection": "products", "match": {"name:$regex": "(unclosed"}},
        400,
        "INVALID_QUERY",
    )


def test_malformed_body_is_in_the_ddo_envelope(db: Db) -> None:
    response = db.client.post(
        f"/api/{db.id}", content=b"{nope", headers={**db.headers, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_JSON"
    assert "success" not in response.json()


def test_missing_database_is_404_in_the_ddo_envelope(db: Db) -> None:
    response = db.client.post(
        "/api/" + "0" * 24, json={"op": "collection.find", "collection": "products"}, headers=db.headers
    )
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "DATABASE_NOT_FOUND", "message": "Database not found", "details": {}}
    }


def test_no_credentials_is_401(db: Db) -> None:
    response = db.client.post(f"/api/{db.id}", json={"op": "collection.find", "collection": "products"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_FAILED"


def test_upsert_creates_the_collection_and_keeps_the_match_keys(db: Db) -> None:
    body = {
        "op": "collection.upsert",
        "collection": "people",
        "match": {"email": "e@x", "_id": "wanted"},
        "update": {"n:$incr": 1},
        "insert": {"name": "E"},
    }
    (first,) = db.ok(body)["data"]
    assert (first["_key"], first["email"], first["name"], first["n"]) == ("wanted", "e@x", "E", 1)
    (second,) = db.ok(body)["data"]
    assert (second["_key"], second["n"]) == ("wanted", 2)
    assert db.keys("people") == ["wanted"]


def test_a_misplaced_criteria_key_is_refused_not_applied_to_everything(db: Db) -> None:
    db.insert("products", [{"name": "a", "s": "old"}, {"name": "b", "s": "new"}])
    error = db.error(
        {"op": "collection.delete", "collection": "products", "filter": {"s": "old"}}, 400, "VALIDATION_ERROR"
    )
    assert error["details"] == {"field": "filter"}
    error = db.error(
        {"op": "collection.update", "collection": "products", "where": {"s": "old"}, "data": {"x": 1}},
        400,
        "VALIDATION_ERROR",
    )
    assert len(db.keys("products")) == 2
    assert all("x" not in d for d in db.find("products")["data"])


def test_cursor_pages_have_no_position(db: Db) -> None:
    db.insert("products", [{"name": f"p{i}", "price": i} for i in range(5)])
    first = db.find("products", sort="price", limit=2)["meta"]["pagination"]
    second = db.find("products", sort="price", limit=2, cursor=first["next_cursor"])["meta"]["pagination"]
    assert (second["page"], second["page_showing_start"], second["has_prev"]) == (None, None, True)

"""Declared fields, batch limits, atomicity and odd documents on every write path."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.data.conftest import Db, make_db
from tests.support.sync_pg import SyncPg


def snapshot(pg: SyncPg, db: Db) -> dict[str, Any]:
    """Everything a write could touch in ``db``, read from PostgreSQL: its catalog rows (collections,
    fields) and every row, system columns included, of every table of its schema (the trash too)."""
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db.id)
    tables = [
        row["relname"]
        for row in pg.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1",
            schema,
        )
    ]
    return {
        "collections": [
            tuple(r)
            for r in pg.fetch("SELECT * FROM pgcube.collections WHERE database_id = $1 ORDER BY name", db.id)
        ],
        "fields": [
            tuple(r)
            for r in pg.fetch(
                "SELECT * FROM pgcube.fields WHERE database_id = $1 ORDER BY collection_name, position", db.id
            )
        ],
        "rows": {
            table: [r[0] for r in pg.fetch(f'SELECT t::text FROM "{schema}"."{table}" t ORDER BY 1')]
            for table in tables
        },
    }


def test_declared_field_violation_writes_nothing(db: Db) -> None:
    docs: list[dict[str, Any]] = [{"name": f"ok{i}", "price": i} for i in range(5)]
    docs.insert(3, {"name": "bad", "price": "cheap"})
    error = db.error(
        {"op": "collection.insert", "collection": "products", "data": docs}, 400, "VALIDATION_ERROR"
    )
    assert (error["details"]["index"], error["details"]["field"]) == (3, "price")
    assert db.keys("products") == []


def test_required_field_missing(db: Db, pg: SyncPg) -> None:
    db.insert("products", [{"_key": "kept", "name": "kept"}])
    before = snapshot(pg, db)
    error = db.error(
        {"op": "collection.insert", "collection": "products", "data": [{"name": "ok"}, {"price": 1}]},
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"] == {"index": 1, "field": "name", "required": True}
    assert snapshot(pg, db) == before
    assert len(before["rows"]["products"]) == 1


def test_update_breaking_a_declared_field_changes_nothing(db: Db) -> None:
    db.insert("products", [{"_key": "a", "name": "a", "price": 1}, {"_key": "b", "name": "b", "price": 2}])
    error = db.error(
        {"op": "collection.update", "collection": "products", "match": {}, "data": {"price": "free"}},
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"]["field"] == "price"
    assert sorted(d["price"] for d in db.find("products")["data"]) == [1, 2]


def test_update_unsetting_a_required_field_is_refused(db: Db) -> None:
    db.insert("products", [{"_key": "a", "name": "a"}])
    db.error(
        {
            "op": "collection.update",
            "collection": "products",
            "match": {"_key": "a"},
            "data": {"name:$unset": True},
        },
        400,
        "VALIDATION_ERROR",
    )
    assert db.find("products")["data"][0]["name"] == "a"


def test_incr_on_a_string_is_400_and_changes_nothing(db: Db) -> None:
    db.insert("notes", [{"_key": "a", "title": "x", "n": 1}, {"_key": "b", "title": "y", "n": 2}])
    db.error(
        {"op": "collection.update", "collection": "notes", "match": {}, "data": {"title:$incr": 1}},
        400,
        "VALIDATION_ERROR",
    )
    assert sorted(d["title"] for d in db.find("notes")["data"]) == ["x", "y"]


def test_writing_system_fields_in_an_update_is_400(db: Db, pg: SyncPg) -> None:
    db.insert("notes", [{"_key": "a", "n": 1}])
    before = snapshot(pg, db)
    assert len(before["rows"]["notes"]) == 1
    for data in ({"_created_at": "2020-01-01"}, {"n": 2, "_modified_at": "2020-01-01"}, {"_key": "b"}):
        db.error(
            {"op": "collection.update", "collection": "notes", "match": {}, "data": data},
            400,
            "VALIDATION_ERROR",
        )
        assert snapshot(pg, db) == before, data


def test_batch_limit(db: Db) -> None:
    docs = [{"name": "x"} for _ in range(1001)]
    db.error({"op": "collection.insert", "collection": "products", "data": docs}, 400, "BATCH_LIMIT_EXCEEDED")
    db.error({"op": "collection.insert", "collection": "products", "data": []}, 400, "VALIDATION_ERROR")
    assert db.keys("products") == []


@pytest.mark.parametrize("doc", [[1, 2], "text", 5, None])
def test_a_document_must_be_an_object(db: Db, pg: SyncPg, doc: Any) -> None:
    """Into a collection that does not exist yet: it is not created either."""
    before = snapshot(pg, db)
    error = db.error(
        {"op": "collection.insert", "collection": "notes", "data": [{"a": 1}, doc]}, 400, "VALIDATION_ERROR"
    )
    assert error["details"]["index"] == 1
    assert snapshot(pg, db) == before
    assert "notes" not in before["rows"]


@pytest.mark.parametrize("collection", ["notes", "products"])
def test_nul_character_is_a_clear_400(db: Db, pg: SyncPg, collection: str) -> None:
    """Into a new collection (not created) and an existing one (nothing added)."""
    before = snapshot(pg, db)
    error = db.error(
        {
            "op": "collection.insert",
            "collection": collection,
            "data": [{"name": "ok"}, {"name": "x", "text": "a\u0000b"}],
        },
        400,
        "VALIDATION_ERROR",
    )
    assert "NUL" in error["message"]
    assert snapshot(pg, db) == before


def test_duplicate_key_inside_one_batch_names_both_documents_and_writes_nothing(db: Db) -> None:
    error = db.error(
        {
            "op": "collection.insert",
            "collection": "notes",
            "data": [{"_key": "a"}, {"_key": "d"}, {"_key": "b"}, {"_key": "d"}],
        },
        409,
        "DUPLICATE_KEY",
    )
    assert error["details"] == {"index": 3, "first_index": 1, "_key": "d"}
    listed = db.client.get("/api/list_collections", params={"database_id": db.id}, headers=db.headers)
    assert "notes" not in [c["name"] for c in listed.json()["collections"]]  # not even created


def test_database_errors_do_not_show_their_sqlstate(db: Db) -> None:
    # Issue 14 finding 13: details.sqlstate told callers about the database underneath.
    db.insert("notes", [{"_key": "a", "n": "text"}])
    error = db.error(
        {"op": "collection.update", "collection": "notes", "match": {}, "data": {"n:$incr": 1}},
        400,
        "VALIDATION_ERROR",
    )
    assert "sqlstate" not in error.get("details", {})
    duplicate = db.error(
        {"op": "collection.insert", "collection": "notes", "data": [{"_key": "a"}]}, 409, "DUPLICATE_KEY"
    )
    assert "sqlstate" not in duplicate.get("details", {})


def test_awkward_names_and_values_are_stored_literally(db: Db) -> None:
    doc = {"a'b": "' OR 1=1--", 'a"b': "x", "unicode ✓": "ü", "big": 12345678901234567890, "f": 1.5e-300}
    (stored,) = db.insert("notes", [doc])
    for key, value in doc.items():
        assert stored[key] == value
    assert [d["_key"] for d in db.find("notes", match={"a'b": "' OR 1=1--"})["data"]] == [stored["_key"]]
    assert db.find("notes", match={'a"b': "nope"})["data"] == []


def test_strict_collection_refuses_undeclared_fields_on_update_and_upsert(db: Db) -> None:
    strict = make_db(
        db.client, db.account, [{"name": "s", "strict": True, "fields": [{"name": "n", "type": "integer"}]}]
    )
    strict.insert("s", [{"_key": "a", "n": 1}])
    for body in (
        {"op": "collection.update", "collection": "s", "match": {}, "data": {"extra": 1}},
        {"op": "collection.update", "collection": "s", "match": {}, "data": {"$set": {"other": 1}}},
        {"op": "collection.update", "collection": "s", "match": {}, "data": {"n:$copy": "copy"}},
        {"op": "collection.upsert", "collection": "s", "match": {"_key": "a"}, "update": {"undeclared": 1}},
    ):
        error = strict.error(body, 400, "VALIDATION_ERROR")
        assert error["details"]["strict"] is True
    assert strict.find("s")["data"][0]["n"] == 1
    assert set(strict.find("s")["data"][0]) == {"_key", "_userkey", "_created_at", "_modified_at", "n"}


def test_strict_collection_refuses_undeclared_keys_nested_under_declared_objects(db: Db) -> None:
    # Issue 14 finding 13: only top-level keys were checked.
    fields = [{"name": "address.city", "type": "string"}, {"name": "meta", "type": "object"}]
    strict = make_db(db.client, db.account, [{"name": "s", "strict": True, "fields": fields}])
    (stored,) = strict.insert(
        "s", [{"_key": "a", "address": {"city": "Oslo"}, "meta": {"any": {"thing": 1}}}]
    )
    assert stored["meta"] == {"any": {"thing": 1}}, "a declared field's own value is not looked into"
    insert = {"op": "collection.insert", "collection": "s", "data": [{"address": {"city": "x", "evil": 1}}]}
    error = strict.error(insert, 400, "VALIDATION_ERROR")
    assert error["details"] == {"index": 0, "field": "address.evil", "strict": True}
    for data in (
        {"$set": {"address.evil": 1}},
        {"address.evil": 1},
        {"$set": {"address": {"city": "Bergen", "evil": 1}}},
    ):
        body = {"op": "collection.update", "collection": "s", "match": {}, "data": data}
        error = strict.error(body, 400, "VALIDATION_ERROR")
        assert error["details"]["field"] == "address.evil", data
    (doc,) = strict.find("s")["data"]
    assert doc["address"] == {"city": "Oslo"}
    # What is declared may still change, nested or whole.
    strict.ok(
        {
            "op": "collection.update",
            "collection": "s",
            "match": {},
            "data": {"$set": {"address": {"city": "Bergen"}}},
        }
    )
    strict.ok({"op": "collection.update", "collection": "s", "match": {}, "data": {"$set": {"meta.new": 2}}})
    (doc,) = strict.find("s")["data"]
    assert (doc["address"], doc["meta"]["new"]) == ({"city": "Bergen"}, 2)


def test_an_update_cannot_grow_a_document_past_the_limit(db: Db) -> None:
    db.insert("notes", [{"_key": "big", "a": "x" * 600_000}])
    error = db.error(
        {"op": "collection.update", "collection": "notes", "match": {}, "data": {"a:$copy": "b"}},
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"]["limit"] == 1024 * 1024
    assert set(db.find("notes")["data"][0]) >= {"a"}
    assert "b" not in db.find("notes")["data"][0]

"""Every write path answers a unique index's duplicate with 409 ``DUPLICATE_KEY`` naming the index,
its fields, the values and the offending document's position, and writes nothing (ADR 0025):
insert (one, a batch, both dialects, inside a transaction), update, upsert, restore, import
(both modes), a web key under row-level security. A document lacking a field of a unique index
is not constrained."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.data.conftest import Db
from tests.integration.end_users.conftest import project_of
from tests.integration.indexes.conftest import SKU_INDEX, create_index
from tests.support.sync_pg import SyncPg


def rows(pg: SyncPg, schema: str) -> list[tuple[Any, ...]]:
    """Everything stored in ``products`` (with its modification times): what "nothing written" compares."""
    return [
        tuple(r)
        for r in pg.fetch(f'SELECT _key, _modified_at, data::text FROM "{schema}".products ORDER BY _key')
    ]


def duplicate(response: httpx.Response, *, ddo: bool = True) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    body = response.json()
    assert set(body) == ({"error"} if ddo else {"success", "error"}), body
    assert body["error"]["code"] == "DUPLICATE_KEY"
    assert body["error"]["message"]
    return body["error"]["details"]  # type: ignore[no-any-return]


SKU = {"index_name": SKU_INDEX, "fields": ["sku"]}


def test_insert_one_and_a_batch_against_a_stored_document(db: Db, schema: str, pg: SyncPg) -> None:
    db.insert("products", [{"sku": "A-1", "price": 1}])
    before = rows(pg, schema)
    one = db.ddo({"op": "collection.insert", "collection": "products", "data": {"sku": "A-1"}})
    assert duplicate(one) == {**SKU, "index": 0, "values": {"sku": "A-1"}, "existing": True}
    batch = db.ddo(
        {
            "op": "collection.insert",
            "collection": "products",
            "data": [{"sku": "B"}, {"sku": "C"}, {"sku": "A-1"}],
        }
    )
    assert duplicate(batch) == {**SKU, "index": 2, "values": {"sku": "A-1"}, "existing": True}
    assert rows(pg, schema) == before


def test_a_batch_that_repeats_a_value_names_both_documents(db: Db, schema: str, pg: SyncPg) -> None:
    body = {
        "database_id": db.id,
        "collection_name": "products",
        "data": [{"sku": "X"}, {"sku": "Y"}, {"sku": "X"}],
    }
    answer = db.crud("POST", json=body)
    details = duplicate(answer, ddo=False)
    assert details == {**SKU, "index": 2, "first_index": 0, "values": {"sku": "X"}, "existing": False}
    assert answer.json()["success"] is False
    assert rows(pg, schema) == []


def test_the_typed_value_decides_what_is_equal(db: Db, schema: str, pg: SyncPg) -> None:
    """The index holds each field's typed value: 1 and 1.0 are one number, two spellings of one
    instant are one date, and a string is never equal to a number."""
    assert create_index(db, ["price"], unique=True).status_code == 201
    assert create_index(db, ["released"], unique=True).status_code == 201
    db.insert("products", [{"price": 1, "released": "2024-03-01"}])
    again = db.ddo({"op": "collection.insert", "collection": "products", "data": {"price": 1.0}})
    assert duplicate(again)["index_name"] == "products$i$price"
    instant = db.ddo(
        {"op": "collection.insert", "collection": "products", "data": {"released": "2024-03-01T00:00:00Z"}}
    )
    assert duplicate(instant)["index_name"] == "products$i$released"
    db.insert("products", [{"price": 2, "released": "2024-03-01T00:00:01Z"}])


def test_missing_and_null_values_are_not_constrained(db: Db, schema: str, pg: SyncPg) -> None:
    assert create_index(db, ["category", "price"], unique=True).status_code == 409  # the compound exists
    assert create_index(db, ["category", "released"], unique=True).status_code == 201
    db.insert("products", [{"price": 1}, {"price": 2}, {"sku": None}, {"sku": None}])
    db.insert("products", [{"category": "a"}, {"category": "a"}, {"category": "a", "released": None}])
    db.insert("products", [{"category": "a", "released": "2024-01-01"}])
    refused = db.ddo(
        {
            "op": "collection.insert",
            "collection": "products",
            "data": [{"category": "a", "released": "2024-01-01"}],
        }
    )
    assert duplicate(refused)["values"] == {"category": "a", "released": "2024-01-01"}
    assert pg.fetchval(f'SELECT count(*) FROM "{schema}".products') == 8


def test_update_that_makes_two_documents_equal(db: Db, schema: str, pg: SyncPg) -> None:
    db.insert("products", [{"_key": "a", "sku": "A"}, {"_key": "b", "sku": "B"}, {"_key": "c", "sku": "C"}])
    before = rows(pg, schema)
    ddo = db.ddo(
        {"op": "collection.update", "collection": "products", "match": {"_key": "b"}, "data": {"sku": "A"}}
    )
    assert duplicate(ddo) == SKU
    everything = db.ddo(
        {
            "op": "collection.update",
            "collection": "products",
            "match": {"sku:$in": ["B", "C"]},
            "data": {"sku": "Z"},
        }
    )
    assert duplicate(everything) == SKU
    rest = db.crud(
        "PATCH",
        json={
            "database_id": db.id,
            "collection_name": "products",
            "filters": {"_key": "c"},
            "update_data": {"sku": "A"},
        },
    )
    assert duplicate(rest, ddo=False) == SKU
    assert rows(pg, schema) == before


def test_upsert_inserting_a_taken_value(db: Db, schema: str, pg: SyncPg) -> None:
    db.insert("products", [{"_key": "a", "sku": "A", "price": 1}])
    before = rows(pg, schema)
    ddo = db.ddo(
        {
            "op": "collection.upsert",
            "collection": "products",
            "match": {"price": 5},
            "update": {},
            "insert": {"sku": "A"},
        }
    )
    assert duplicate(ddo) == {**SKU, "index": 0, "values": {"sku": "A"}, "existing": True}
    rest = db.crud(
        "PUT",
        json={
            "database_id": db.id,
            "collection_name": "products",
            "filters": {"sku": "A", "price": 7},
            "update_data": {"category": "x"},
            "upsert": True,
        },
    )
    assert duplicate(rest, ddo=False)["index_name"] == SKU_INDEX
    assert rows(pg, schema) == before


def test_a_batch_inside_a_transaction_still_names_its_document(db: Db, schema: str, pg: SyncPg) -> None:
    """With an Idempotency-Key the insert runs in a transaction: a savepoint keeps it open to ask."""
    db.insert("products", [{"sku": "A"}])
    body = {"op": "collection.insert", "collection": "products", "data": [{"sku": "N"}, {"sku": "A"}]}
    answer = db.client.post(f"/api/{db.id}", json=body, headers={**db.headers, "Idempotency-Key": "uniq-1"})
    assert duplicate(answer) == {**SKU, "index": 1, "values": {"sku": "A"}, "existing": True}
    assert pg.fetchval(f'SELECT count(*) FROM "{schema}".products') == 1


def test_restore_over_a_taken_value(db: Db, schema: str, pg: SyncPg) -> None:
    db.insert("products", [{"_key": "a", "sku": "A"}])
    ref = db.ok({"op": "collection.delete", "collection": "products", "match": {"_key": "a"}})["data"]["_ref"]
    db.insert("products", [{"_key": "b", "sku": "A"}])
    restored = db.ddo({"op": "collection.restore", "collection": "products", "_ref": ref})
    assert duplicate(restored) == SKU
    assert [r[0] for r in rows(pg, schema)] == ["b"]


def ndjson(docs: list[dict[str, Any]]) -> bytes:
    return b"\n".join(json.dumps(doc).encode() for doc in docs)


def import_file(db: Db, content: bytes, mode: str = "insert") -> httpx.Response:
    return db.client.post(
        "/api/import_data",
        data={"database_id": db.id, "collection_name": "products", "mode": mode},
        files={"json_file": ("products.ndjson", content)},
        headers=db.headers,
    )


@pytest.mark.parametrize("mode", ["insert", "upsert"])
def test_import_names_the_first_offending_record(db: Db, schema: str, pg: SyncPg, mode: str) -> None:
    db.insert("products", [{"_key": "s", "sku": "STORED"}])
    before = rows(pg, schema)
    records = [{"_key": f"k{i}", "sku": f"S{i}"} for i in range(50)]
    against_stored = [*records[:40], {"_key": "new", "sku": "STORED"}, *records[40:]]
    details = duplicate(import_file(db, ndjson(against_stored), mode), ddo=False)
    assert details == {**SKU, "index": 40, "values": {"sku": "STORED"}, "existing": True}
    within = [*records[:10], {"_key": "again", "sku": "S3"}, *records[10:]]
    details = duplicate(import_file(db, ndjson(within), mode), ddo=False)
    assert details == {**SKU, "index": 10, "first_index": 3, "values": {"sku": "S3"}, "existing": False}
    assert rows(pg, schema) == before


def test_an_upsert_import_may_keep_a_documents_own_value(db: Db, schema: str, pg: SyncPg) -> None:
    """Replacing a document by its _key with its own value is no duplicate."""
    db.insert("products", [{"_key": "s", "sku": "SAME", "price": 1}])
    answer = import_file(
        db, ndjson([{"_key": "s", "sku": "SAME", "price": 2}, {"_key": "t", "sku": "T"}]), "upsert"
    )
    assert answer.status_code == 201, answer.text
    assert pg.fetchval(f"SELECT data->>'price' FROM \"{schema}\".products WHERE _key = 's'") == "2"


def test_an_import_with_a_later_bad_record_reports_the_earlier_duplicate(
    db: Db, schema: str, pg: SyncPg
) -> None:
    records = [{"sku": "A"}, {"sku": "B"}, {"sku": "A"}, {"sku": 5}]
    details = duplicate(import_file(db, ndjson(records)), ddo=False)
    assert details["index"] == 2
    assert details["first_index"] == 0
    assert rows(pg, schema) == []


def test_a_web_key_meets_the_index_under_row_level_security(
    db: Db, schema: str, pg: SyncPg, module_client: httpx.Client
) -> None:
    """Owner-only rows: an end user cannot see another's document, yet its value is taken (409)."""
    opened = db.client.post(
        "/api/set_access",
        json={"database_id": db.id, "collection": "products", "read": "owner", "write": "users"},
        headers=db.headers,
    )
    assert opened.status_code == 200, opened.text
    project = project_of(module_client, pg, db.account, db.id)
    first, second = project.new_user(), project.new_user()
    mine = project.ddo(
        {"op": "collection.insert", "collection": "products", "data": {"sku": "MINE"}},
        project.user(first.id_token),
    )
    assert mine.status_code == 200, mine.text
    theirs = project.ddo({"op": "collection.find", "collection": "products"}, project.user(second.id_token))
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["data"] == []
    before = rows(pg, schema)
    body = {"op": "collection.insert", "collection": "products", "data": [{"sku": "OK"}, {"sku": "MINE"}]}
    answer = project.ddo(body, project.user(second.id_token))
    assert duplicate(answer) == {**SKU, "index": 1, "values": {"sku": "MINE"}, "existing": True}
    assert rows(pg, schema) == before

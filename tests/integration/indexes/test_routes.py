"""``POST /api/create_index`` and ``POST /api/drop_index`` (SPEC §10a, ADR 0025): the happy paths,
every bad input (a clear error, nothing changed), another tenant's database (404), and a unique
build over documents that already share values (409, no index left)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.data.conftest import Db
from tests.integration.indexes.conftest import (
    COMPOUND_INDEX,
    SKU_INDEX,
    catalog_rows,
    create_index,
    drop_index,
    invalid_indexes,
    metadata,
    physical_indexes,
)
from tests.support.accounts import Account, api_key_headers, create_api_key
from tests.support.sync_pg import SyncPg


def state(pg: SyncPg, db: Db, schema: str) -> tuple[Any, ...]:
    return (catalog_rows(pg, db.id), physical_indexes(pg, schema, "products"), invalid_indexes(pg, schema))


def test_create_then_drop_with_a_server_key(db: Db, schema: str, pg: SyncPg) -> None:
    key = api_key_headers(create_api_key(db.client, db.account, database_id=db.id))
    created = create_index(db, ["price", "released"], unique=True, headers=key)
    assert created.status_code == 201, created.text
    name = "products$i$price$released"
    expected = {
        "name": name,
        "method": "btree",
        "fields": ["price", "released"],
        "unique": True,
        "declared": True,
    }
    assert created.json() == {"success": True, "collection": "products", "index": expected}
    assert expected in metadata(db)["indexes"]
    assert physical_indexes(pg, schema, "products")[name].startswith(f'CREATE UNIQUE INDEX "{name}"')
    assert ("products", name, ["price", "released"], True) in catalog_rows(pg, db.id)

    dropped = drop_index(db, name, headers=key)
    assert dropped.status_code == 200, dropped.text
    assert dropped.json() == {"success": True, "collection": "products", "dropped_index": name}
    assert name not in physical_indexes(pg, schema, "products")
    assert name not in {row[1] for row in catalog_rows(pg, db.id)}
    assert name not in {index["name"] for index in metadata(db)["indexes"]}


def test_a_field_made_unique_later_shows_unique_true(db: Db) -> None:
    assert create_index(db, ["category"], unique=True).status_code == 201
    fields = {field["name"]: field for field in metadata(db)["fields"]}
    assert fields["category"]["unique"] is True
    assert drop_index(db, "products$i$category").status_code == 200
    assert "unique" not in {field["name"]: field for field in metadata(db)["fields"]}["category"]


BAD_CREATES: list[tuple[str, dict[str, Any], int, str, str | None]] = [
    ("an undeclared field", {"fields": ["category", "colour"]}, 400, "VALIDATION_ERROR", "fields[1]"),
    ("an object field", {"fields": ["meta"]}, 400, "VALIDATION_ERROR", "fields[0]"),
    ("no fields", {"fields": []}, 400, "VALIDATION_ERROR", "fields"),
    (
        "nine fields",
        {"fields": ["sku", "category", "price", "released"] * 2 + ["sku"]},
        400,
        "VALIDATION_ERROR",
        "fields",
    ),
    ("a field twice", {"fields": ["price", "price"]}, 400, "VALIDATION_ERROR", "fields[1]"),
    ("a system field", {"fields": ["_key"]}, 400, "VALIDATION_ERROR", "fields[0]"),
    ("fields already indexed", {"fields": ["category", "price"], "unique": True}, 409, "CONFLICT", None),
    ("a unique field's index again", {"fields": ["sku"]}, 409, "CONFLICT", None),
    ("an unknown collection", {"collection": "nothing_here"}, 404, "COLLECTION_NOT_FOUND", None),
    ("a reserved collection", {"collection": "_users"}, 400, "VALIDATION_ERROR", None),
    ("an unknown database", {"database_id": "0" * 24}, 404, "DATABASE_NOT_FOUND", None),
    ("a malformed database id", {"database_id": "nope"}, 404, "DATABASE_NOT_FOUND", None),
    ("fields not a list", {"fields": "price"}, 400, "VALIDATION_ERROR", None),
    ("an unknown key", {"method": "hash"}, 400, "VALIDATION_ERROR", None),
]


@pytest.mark.parametrize(
    ("label", "changes", "status", "code", "field"), BAD_CREATES, ids=[b[0] for b in BAD_CREATES]
)
def test_bad_create_index_changes_nothing(
    db: Db,
    schema: str,
    pg: SyncPg,
    label: str,
    changes: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    before = state(pg, db, schema)
    body = {"database_id": db.id, "collection": "products", "fields": ["price"], **changes}
    response = db.client.post("/api/create_index", json=body, headers=db.headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    if field is not None:
        assert error["details"]["field"] == field, error
        assert error["details"]["pointer"] == "/" + field.replace("[", "/").replace("]", "")
    assert state(pg, db, schema) == before


BAD_DROPS: list[tuple[str, dict[str, Any], int, str]] = [
    ("the primary key", {"name": "products$pkey"}, 400, "VALIDATION_ERROR"),
    ("the GIN index", {"name": "products$data"}, 400, "VALIDATION_ERROR"),
    ("the creation-order index", {"name": "products$created"}, 400, "VALIDATION_ERROR"),
    ("a declared field's index", {"name": "products$f$price"}, 400, "VALIDATION_ERROR"),
    ("an unknown name", {"name": "products$i$nothing"}, 404, "NOT_FOUND"),
    ("another collection's index", {"collection": "other", "name": SKU_INDEX}, 404, "COLLECTION_NOT_FOUND"),
    ("an unknown database", {"database_id": "0" * 24}, 404, "DATABASE_NOT_FOUND"),
    ("a name that is not a string", {"name": 5}, 400, "VALIDATION_ERROR"),
]


@pytest.mark.parametrize(("label", "changes", "status", "code"), BAD_DROPS, ids=[b[0] for b in BAD_DROPS])
def test_bad_drop_index_changes_nothing(
    db: Db, schema: str, pg: SyncPg, label: str, changes: dict[str, Any], status: int, code: str
) -> None:
    before = state(pg, db, schema)
    body = {"database_id": db.id, "collection": "products", "name": COMPOUND_INDEX, **changes}
    response = db.client.post("/api/drop_index", json=body, headers=db.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text
    if status == 400 and "name" in changes and isinstance(changes["name"], str):
        assert "Only declared indexes can be dropped" in response.json()["error"]["message"]
    assert state(pg, db, schema) == before


def test_another_tenant_gets_404_and_changes_nothing(
    db: Db, schema: str, pg: SyncPg, module_client: httpx.Client, other_account: Account
) -> None:
    before = state(pg, db, schema)
    for headers in (other_account.headers, api_key_headers(create_api_key(module_client, other_account))):
        created = create_index(db, ["price", "category"], headers=headers)
        assert created.status_code == 404, created.text
        assert created.json()["error"]["code"] == "DATABASE_NOT_FOUND"
        dropped = drop_index(db, COMPOUND_INDEX, headers=headers)
        assert dropped.status_code == 404, dropped.text
        assert dropped.json()["error"]["code"] == "DATABASE_NOT_FOUND"
    assert state(pg, db, schema) == before


def test_a_unique_build_over_duplicates_is_409_and_leaves_no_index(db: Db, schema: str, pg: SyncPg) -> None:
    db.insert(
        "products",
        [{"category": "a", "price": 1}, {"category": "b", "price": 2}, {"category": "c", "price": 1.0}],
    )
    before = state(pg, db, schema)
    response = create_index(db, ["price"], unique=True)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "DUPLICATE_KEY"
    assert error["details"]["index_name"] == "products$i$price"
    assert error["details"]["fields"] == ["price"]
    assert error["details"]["values"]["price"] in (1, 1.0)  # 1 and 1.0 are one value
    assert "products$i$price" in error["message"] or "(price)" in error["message"]
    assert state(pg, db, schema) == before
    assert invalid_indexes(pg, schema) == []
    # Not unique, it builds.
    assert create_index(db, ["price"]).status_code == 201

"""Declaring indexes (ADR 0025): a field's ``unique: true`` and a collection's ``indexes`` at
creation, what ``get_metadata`` and a DBA in psql see, and the bad declarations (400, nothing
made)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.data.conftest import Db
from tests.integration.indexes.conftest import (
    COMPOUND_INDEX,
    PRODUCTS,
    SKU_INDEX,
    catalog_rows,
    metadata,
    physical_indexes,
)
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg


def test_declared_at_creation_in_the_catalog_in_postgres_and_in_metadata(
    db: Db, schema: str, pg: SyncPg
) -> None:
    assert catalog_rows(pg, db.id) == [
        ("products", COMPOUND_INDEX, ["category", "price"], False),
        ("products", SKU_INDEX, ["sku"], True),
    ]
    physical = physical_indexes(pg, schema, "products")
    assert physical[SKU_INDEX].startswith(f'CREATE UNIQUE INDEX "{SKU_INDEX}" ON')
    assert physical[SKU_INDEX].endswith(" NULLS FIRST)")
    assert "_key" not in physical[SKU_INDEX].split(" USING btree ")[1]
    assert physical[COMPOUND_INDEX].startswith(f'CREATE INDEX "{COMPOUND_INDEX}" ON')
    assert physical[COMPOUND_INDEX].endswith(" NULLS FIRST, _key)")
    # Field for field in the declared order, each the typed expression (jsonb_typeof guard).
    expressions = pg.fetchval(
        "SELECT pg_get_expr(indexprs, indrelid) FROM pg_index WHERE indexrelid = $1::regclass",
        f'"{schema}"."{COMPOUND_INDEX}"',
    )
    assert expressions.index("'category'") < expressions.index("'price'")
    assert expressions.count("jsonb_typeof") == 2
    comment = pg.fetchval(
        f"SELECT obj_description('\"{schema}\".\"{COMPOUND_INDEX}\"'::regclass, 'pg_class')"
    )
    assert comment == "pgcube: declared index on (category, price)"
    comment = pg.fetchval(f"SELECT obj_description('\"{schema}\".\"{SKU_INDEX}\"'::regclass, 'pg_class')")
    assert comment == "pgcube: declared unique index on (sku)"

    described = metadata(db)
    fields = {field["name"]: field for field in described["fields"]}
    assert fields["sku"]["unique"] is True
    assert "unique" not in fields["category"]
    indexes = {index["name"]: index for index in described["indexes"]}
    assert indexes[SKU_INDEX] == {
        "name": SKU_INDEX,
        "method": "btree",
        "fields": ["sku"],
        "unique": True,
        "declared": True,
    }
    assert indexes[COMPOUND_INDEX] == {
        "name": COMPOUND_INDEX,
        "method": "btree",
        "fields": ["category", "price", "_key"],
        "declared": True,
    }
    assert set(physical) == set(indexes)


def test_add_collection_declares_them_too(db: Db, pg: SyncPg) -> None:
    body = {
        "database_id": db.id,
        "collections": [
            {
                "name": "people",
                "fields": [
                    {"name": "email", "type": "string", "unique": True},
                    {"name": "age", "type": "integer"},
                ],
                "indexes": [{"fields": ["age", "email"], "unique": True}],
            }
        ],
    }
    response = db.client.post("/api/add_collection", json=body, headers=db.headers)
    assert response.status_code == 201, response.text
    (people,) = response.json()["collections"]
    assert {i["name"]: i["unique"] for i in people["indexes"] if i.get("declared")} == {
        "people$i$email": True,
        "people$i$age$email": True,
    }
    assert ("people", "people$i$age$email", ["age", "email"], True) in catalog_rows(pg, db.id)


def collection_with(**changes: Any) -> dict[str, Any]:
    return {**PRODUCTS, "name": "bad", **changes}


SCALARS = [{"name": "a", "type": "string"}, {"name": "b", "type": "number"}, {"name": "o", "type": "object"}]

BAD_DECLARATIONS = [
    (
        "an undeclared field",
        collection_with(fields=SCALARS, indexes=[{"fields": ["a", "zz"]}]),
        "collections[0].indexes[0].fields[1]",
    ),
    (
        "an object field",
        collection_with(fields=SCALARS, indexes=[{"fields": ["o"]}]),
        "collections[0].indexes[0].fields[0]",
    ),
    (
        "no fields",
        collection_with(fields=SCALARS, indexes=[{"fields": []}]),
        "collections[0].indexes[0].fields",
    ),
    (
        "nine fields",
        collection_with(
            fields=[{"name": f"f{i}", "type": "integer"} for i in range(9)],
            indexes=[{"fields": [f"f{i}" for i in range(9)]}],
        ),
        "collections[0].indexes[0].fields",
    ),
    (
        "a field twice",
        collection_with(fields=SCALARS, indexes=[{"fields": ["a", "b", "a"]}]),
        "collections[0].indexes[0].fields[2]",
    ),
    (
        "two indexes on the same fields",
        collection_with(
            fields=SCALARS, indexes=[{"fields": ["a", "b"]}, {"fields": ["a", "b"], "unique": True}]
        ),
        "collections[0].indexes[1]",
    ),
    (
        "a unique field and an index on it alone",
        collection_with(
            fields=[{"name": "a", "type": "string", "unique": True}], indexes=[{"fields": ["a"]}]
        ),
        "collections[0].indexes[0]",
    ),
    (
        "a unique object field",
        collection_with(fields=[{"name": "o", "type": "object", "unique": True}], indexes=[]),
        "collections[0].fields[0].unique",
    ),
    (
        "seventeen indexes",
        collection_with(
            fields=[{"name": f"f{i}", "type": "integer"} for i in range(17)],
            indexes=[{"fields": [f"f{i}"]} for i in range(17)],
        ),
        "collections[0].indexes",
    ),
]


@pytest.mark.parametrize(
    ("label", "collection", "field"), BAD_DECLARATIONS, ids=[b[0] for b in BAD_DECLARATIONS]
)
def test_bad_declarations_are_400_and_make_nothing(
    module_client: httpx.Client,
    module_account: Account,
    pg: SyncPg,
    label: str,
    collection: dict[str, Any],
    field: str,
) -> None:
    name = "bad_" + label.replace(" ", "_")[:40]
    response = module_client.post(
        "/api/create_database",
        json={"db_name": name, "collections": [collection]},
        headers=module_account.headers,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field, error
    assert error["details"]["pointer"] == "/" + field.replace("[", "/").replace("]", "").replace(".", "/")
    made = pg.fetchval(
        "SELECT count(*) FROM pgcube.databases WHERE account_id = $1::uuid AND name = $2",
        module_account.account_id,
        name,
    )
    assert made == 0

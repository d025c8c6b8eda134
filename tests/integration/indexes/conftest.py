"""Declared indexes (ADR 0025): a fresh logical database per test whose ``products`` collection
declares a unique field (``sku``) and a compound index (``category``, ``price``), spoken to over
HTTP in both dialects, and read back in SQL as a DBA would."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.data.conftest import Db, make_db
from tests.support.accounts import Account
from tests.support.end_users import schema_of
from tests.support.sync_pg import SyncPg

PRODUCTS: dict[str, Any] = {
    "name": "products",
    "fields": [
        {"name": "sku", "type": "string", "unique": True},
        {"name": "category", "type": "string"},
        {"name": "price", "type": "number"},
        {"name": "released", "type": "date"},
        {"name": "meta", "type": "object"},
    ],
    "indexes": [{"fields": ["category", "price"]}],
}
SKU_INDEX = "products$i$sku"
COMPOUND_INDEX = "products$i$category$price"


@pytest.fixture
def db(module_client: httpx.Client, module_account: Account) -> Db:
    """A fresh database with ``products`` (see ``PRODUCTS``)."""
    return make_db(module_client, module_account, [PRODUCTS])


@pytest.fixture
def schema(db: Db, pg: SyncPg) -> str:
    return schema_of(pg, db.id)


def physical_indexes(pg: SyncPg, schema: str, table: str) -> dict[str, str]:
    """Index name → definition, as ``pg_indexes`` shows them."""
    rows = pg.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2", schema, table
    )
    return {row["indexname"]: row["indexdef"] for row in rows}


def catalog_rows(pg: SyncPg, database_id: str) -> list[tuple[Any, ...]]:
    """(collection, name, fields, unique) of the database's declared indexes."""
    rows = pg.fetch(
        'SELECT collection_name, name, fields, "unique" FROM pgcube.indexes WHERE database_id = $1 ORDER BY name',
        database_id,
    )
    return [(r[0], r[1], list(r[2]), r[3]) for r in rows]


def invalid_indexes(pg: SyncPg, schema: str) -> list[str]:
    rows = pg.fetch(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT i.indisvalid",
        schema,
    )
    return [r[0] for r in rows]


def metadata(db: Db, collection: str = "products") -> dict[str, Any]:
    response = db.client.get("/api/get_metadata", params={"database_id": db.id}, headers=db.headers)
    assert response.status_code == 200, response.text
    (found,) = [c for c in response.json()["data"]["collections"] if c["name"] == collection]
    return found  # type: ignore[no-any-return]


def create_index(
    db: Db,
    fields: list[str],
    *,
    unique: bool | None = None,
    collection: str = "products",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"database_id": db.id, "collection": collection, "fields": fields}
    if unique is not None:
        body["unique"] = unique
    return db.client.post("/api/create_index", json=body, headers=headers or db.headers, timeout=600)


def drop_index(
    db: Db, name: str, *, collection: str = "products", headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"database_id": db.id, "collection": collection, "name": name}
    return db.client.post("/api/drop_index", json=body, headers=headers or db.headers, timeout=600)

"""A database for the explain tests: ``items`` with 5,000 documents, analyzed, so the planner's
choices are stable (tests/integration/query/test_explain.py pins the same choices on the
compiler's statements; these go through HTTP, both dialects).

``items`` declares ``category`` (string, 250 values of 20 documents each: an equality on it is
selective), ``price`` (number), ``name`` (string, unique) and ``shelf`` (string, 2,500 values of two
documents each: more selective than PostgreSQL's fixed estimate of a GIN match); ``tag`` (500 values), ``n`` (the
position) and ``tags`` (an array) are undeclared.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg

DOCUMENTS = 5000
FIELDS = [
    {"name": "category", "type": "string"},
    {"name": "price", "type": "number"},
    {"name": "name", "type": "string"},
    {"name": "shelf", "type": "string"},
]


def document(i: int) -> dict[str, Any]:
    return {
        "category": f"c{i % 250:03d}",
        "price": (i * 37) % 1000,
        "name": f"name{i:05d}",
        "shelf": f"s{i % 2500:04d}",
        "tag": f"t{i % 500}",
        "n": i,
        "tags": [f"a{i % 7}", f"b{i % 11}"],
    }


@dataclass
class Explained:
    """The database of the module, spoken to in both dialects by its owner."""

    client: httpx.Client
    account: Account
    pg: SyncPg
    id: str
    schema: str
    table: str = "items"

    def ddo(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(f"/api/{self.id}", json=body, headers=headers or self.account.headers)

    def explain(self, **body: Any) -> dict[str, Any]:
        """``collection.explain`` on ``items`` that must succeed: its ``data``."""
        response = self.ddo({"op": "collection.explain", "collection": self.table, **body})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert set(answer) == {"data", "meta"}, answer
        data: dict[str, Any] = answer["data"]
        assert set(data) == {"sql", "params", "plan", "indexes", "rows", "advice"}, data
        return data

    def rest(self, params: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        query = {"database_id": self.id, "collection_name": self.table, **params}
        return self.client.get("/api/explain", params=query, headers=headers or self.account.headers)

    def rows(self) -> list[tuple[Any, ...]]:
        """Every document of ``items`` as stored, and the trash: what an explained write must not change."""
        stored = self.pg.fetch(f'SELECT _key, _modified_at, data::text FROM "{self.schema}".items ORDER BY 1')
        return [tuple(row) for row in stored]

    def trash(self) -> int:
        return int(self.pg.fetchval(f'SELECT count(*) FROM "{self.schema}"._trash'))

    def index(self, suffix: str) -> str:
        """The name of one of ``items``' indexes (``$pkey``, ``$data``, ``$f$price`` …)."""
        return self.table + suffix


@pytest.fixture(scope="module")
def explained(module_client: httpx.Client, module_account: Account, pg: SyncPg) -> Explained:
    response = module_client.post(
        "/api/create_database",
        json={
            "db_name": "explain_" + secrets.token_hex(4),
            "collections": [{"name": "items", "fields": FIELDS}],
        },
        headers=module_account.headers,
    )
    assert response.status_code == 201, response.text
    db_id = response.json()["database"]["id"]
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db_id)
    db = Explained(module_client, module_account, pg, db_id, schema)
    for start in range(0, DOCUMENTS, 1000):
        inserted = db.ddo(
            {
                "op": "collection.insert",
                "collection": "items",
                "data": [document(i) for i in range(start, start + 1000)],
            }
        )
        assert inserted.status_code == 200, inserted.text
    # Statistics now, and the GIN pending list merged (ADR 0010): the plans of a settled table.
    pg.execute(f'VACUUM ANALYZE "{schema}".items')
    return db

"""Fixtures for the Data API tests: a fresh logical database per test, and small
helpers that speak both dialects over HTTP."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.accounts import Account

PRODUCTS_FIELDS = [
    {"name": "name", "type": "string", "required": True},
    {"name": "price", "type": "number"},
    {"name": "stock", "type": "integer"},
    {"name": "released", "type": "date"},
]


@dataclass
class Db:
    """One logical database of one account, with helpers for its routes."""

    client: httpx.Client
    account: Account
    id: str
    name: str

    @property
    def headers(self) -> dict[str, str]:
        return self.account.headers

    def ddo(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(f"/api/{self.id}", json=body, headers=headers or self.headers)

    def ok(self, body: dict[str, Any]) -> dict[str, Any]:
        """A DDO call that must succeed; its answer."""
        response = self.ddo(body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        assert set(answer) == {"data", "meta"}
        return answer

    def error(self, body: dict[str, Any], status: int, code: str) -> dict[str, Any]:
        response = self.ddo(body)
        assert response.status_code == status, response.text
        answer: dict[str, Any] = response.json()
        assert set(answer) == {"error"}, answer
        assert answer["error"]["code"] == code, answer
        return answer["error"]  # type: ignore[no-any-return]

    def insert(self, collection: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answer = self.ok({"op": "collection.insert", "collection": collection, "data": docs})
        return answer["data"]  # type: ignore[no-any-return]

    def find(self, collection: str, **body: Any) -> dict[str, Any]:
        return self.ok({"op": "collection.find", "collection": collection, **body})

    def keys(self, collection: str, **body: Any) -> list[str]:
        return [doc["_key"] for doc in self.find(collection, limit=1000, **body)["data"]]

    def crud(self, method: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, "/api/crud", headers=self.headers, **kwargs)


def make_db(client: httpx.Client, account: Account, collections: list[dict[str, Any]] | None = None) -> Db:
    name = "data_" + secrets.token_hex(4)
    body = {"db_name": name, "collections": collections or []}
    response = client.post("/api/create_database", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    return Db(client=client, account=account, id=response.json()["database"]["id"], name=name)


@pytest.fixture
def db(module_client: httpx.Client, module_account: Account) -> Db:
    """A fresh database with a ``products`` collection declaring typed fields, and no ``notes`` yet."""
    return make_db(module_client, module_account, [{"name": "products", "fields": PRODUCTS_FIELDS}])

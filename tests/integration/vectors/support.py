"""Helpers of the vector tests: a database spoken to with a server key, and its ``vdb.*`` ops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.accounts import Account
from tests.support.databases import KeyedDb, keyed_db_fields
from tests.support.sync_pg import SyncPg


@dataclass
class VectorDb(KeyedDb):
    """An account's database with its ``vdb.*`` ops, spoken to with a server key of its own."""

    def ok(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        response = self.op(body, headers)
        assert response.status_code == 200, response.text
        return response.json()

    def insert(self, collection: str, entries: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"op": "vdb.insert", "collection": collection, "data": entries}
        if options:
            body["options"] = options
        data: list[dict[str, Any]] = self.ok(body)["data"]
        return data

    def search(self, collection: str, **body: Any) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.ok({"op": "vdb.search", "collection": collection, **body})["data"]
        return data

    def delete(self, collection: str, **body: Any) -> int:
        count: int = self.ok({"op": "vdb.delete", "collection": collection, **body})["data"]["count"]
        return count

    def refused(
        self, body: dict[str, Any], status: int, code: str, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The error of a request that must be refused with ``status`` and ``code`` (DDO envelope)."""
        response = self.op(body, headers)
        assert response.status_code == status, response.text
        answer = response.json()
        assert set(answer) == {"error"}, answer
        assert answer["error"]["code"] == code, answer
        assert answer["error"]["message"], answer
        error: dict[str, Any] = answer["error"]
        return error

    def catalog(self) -> list[tuple[Any, ...]]:
        """The database's collections as the catalog has them (vector spec and access included)."""
        return [
            tuple(row)
            for row in self.pg.fetch(
                "SELECT row_to_json(c)::text FROM pgcube.collections c WHERE database_id = $1 ORDER BY 1",
                self.id,
            )
        ]

    def metadata(self, name: str) -> dict[str, Any] | None:
        """The vector collection ``name`` as ``GET /api/get_metadata`` describes it (its table's name)."""
        response = self.client.get(
            "/api/get_metadata", params={"database_id": self.id}, headers=self.account.headers
        )
        assert response.status_code == 200, response.text
        found = [c for c in response.json()["data"]["collections"] if c["name"] == "_vec_" + name]
        return found[0] if found else None

    def rows(self, collection: str) -> list[tuple[Any, ...]]:
        """The vector table as PostgreSQL has it (for "nothing changed" checks); none: []."""
        return vector_rows(self.pg, self.schema, collection)


def pgvector_installed(pg: SyncPg) -> bool:
    """Whether the test server's PostgreSQL has pgvector (the migrations install it where offered)."""
    return bool(pg.fetch("SELECT 1 FROM pg_extension WHERE extname = 'vector'"))


def vector_rows(pg: SyncPg, schema: str, collection: str) -> list[tuple[Any, ...]]:
    """The rows of the vector collection ``collection`` (table ``_vec_<collection>``) as PostgreSQL has
    them, ``_userkey`` and times included; [] when it does not exist."""
    exists = pg.fetch(
        "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2", schema, "_vec_" + collection
    )
    if not exists:
        return []
    statement = (
        "SELECT _key, _userkey, _created_at, _modified_at, data::text, embedding::text"
        f' FROM "{schema}"."_vec_{collection}" ORDER BY 1'
    )
    return [tuple(row) for row in pg.fetch(statement)]


def new_vector_db(client: httpx.Client, pg: SyncPg, account: Account | None = None) -> VectorDb:
    return VectorDb(**keyed_db_fields(client, pg, "vectors", account))

"""Fixtures for the bulk import tests: an account per module, a fresh database per test,
and ``upload()`` — one multipart request to ``/api/import_data``, as a client sends it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.data.conftest import Db, make_db
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg

ITEMS_FIELDS = [
    {"name": "name", "type": "string", "required": True},
    {"name": "n", "type": "integer"},
]


def upload(
    client: httpx.Client,
    headers: dict[str, str],
    database_id: str | None,
    content: bytes,
    *,
    filename: str = "items.json",
    collection: str | None = None,
    mode: str | None = None,
) -> httpx.Response:
    data = {"database_id": database_id, "collection_name": collection, "mode": mode}
    return client.post(
        "/api/import_data",
        data={k: v for k, v in data.items() if v is not None},
        files={"json_file": (filename, content, "application/octet-stream")},
        headers=headers,
    )


class ImportDb(Db):
    pg: SyncPg

    def upload(self, content: bytes, **kwargs: Any) -> httpx.Response:
        return upload(self.client, self.headers, self.id, content, **kwargs)

    def rows(self, collection: str) -> list[tuple[str, Any]] | None:
        """``(_key, data)`` of every row, straight from the table; None when it does not exist."""
        schema = self.pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", self.id)
        exists = self.pg.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}"."{collection}"')
        if not exists:
            return None
        rows = self.pg.fetch(f'SELECT _key, data FROM "{schema}"."{collection}" ORDER BY _key')
        return [(row["_key"], SyncPg.json(row["data"])) for row in rows]

    def count(self, collection: str) -> int | None:
        schema = self.pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", self.id)
        if not self.pg.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}"."{collection}"'):
            return None
        count: int = self.pg.fetchval(f'SELECT count(*) FROM "{schema}"."{collection}"')
        return count


@pytest.fixture
def db(module_client: httpx.Client, module_account: Account, pg: SyncPg) -> ImportDb:
    """A fresh database with an ``items`` collection declaring ``name`` (required) and ``n`` (integer)."""
    made = make_db(module_client, module_account, [{"name": "items", "fields": ITEMS_FIELDS}])
    imported = ImportDb(client=made.client, account=made.account, id=made.id, name=made.name)
    imported.pg = pg
    return imported

"""Helpers of the file tests: a database with its credentials, its ops, and where its bytes are."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from pgcube.settings import Settings
from pgcube.storage import open_store
from tests.support.accounts import Account, api_key_headers, create_api_key, new_account
from tests.support.end_users import schema_of
from tests.support.sync_pg import SyncPg


@dataclass
class FilesDb:
    client: httpx.Client
    settings: Settings
    account: Account
    id: str
    schema: str
    server_key: dict[str, str]
    pg: SyncPg

    def op(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        """A DDO op on this database; the server key's unless ``headers`` say otherwise."""
        return self.client.post(f"/api/{self.id}", json=body, headers=headers or self.server_key)

    def ok(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        response = self.op(body, headers)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def upload(
        self,
        content: bytes = b"hello files",
        *,
        filename: str = "hello.txt",
        content_type: str = "text/plain",
        public: bool = True,
        metadata: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The direct upload (``POST /api/{database_id}/files``). Public by default: the tests of
        private files and their signed URLs say so."""
        form: dict[str, str] = {"public_read": "true" if public else "false"}
        if metadata is not None:
            form["metadata"] = metadata
        return self.client.post(
            f"/api/{self.id}/files",
            data=form,
            files={"file": (filename, content, content_type)},
            headers=headers or self.server_key,
        )

    def uploaded(self, content: bytes = b"hello files", **kwargs: Any) -> dict[str, Any]:
        response = self.upload(content, **kwargs)
        assert response.status_code == 201, response.text
        file: dict[str, Any] = response.json()["data"]
        return file

    def rows(self) -> list[tuple[Any, ...]]:
        """The database's ``_files`` as PostgreSQL has it (for "nothing changed" checks)."""
        statement = f'SELECT _key, _userkey, _modified_at, data::text FROM "{self.schema}"._files ORDER BY 1'
        return [tuple(row) for row in self.pg.fetch(statement)]


def make_files_db(client: httpx.Client, settings: Settings, account: Account, pg: SyncPg) -> FilesDb:
    response = client.post(
        "/api/create_database", json={"db_name": "files_" + secrets.token_hex(4)}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    db_id = response.json()["database"]["id"]
    schema = schema_of(pg, db_id)
    key = api_key_headers(create_api_key(client, account))
    return FilesDb(client, settings, account, db_id, schema, key, pg)


def new_files_db(client: httpx.Client, settings: Settings, pg: SyncPg) -> FilesDb:
    return make_files_db(client, settings, new_account(client, pg), pg)


def stored(settings: Settings, object_key: str) -> bool:
    """Whether the store holds the object (the local disk under ``<data_dir>/files``, or S3)."""
    if not settings.storage_url:
        return (settings.files_path / object_key).is_file()
    return asyncio.run(open_store(settings).info(object_key)) is not None


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code

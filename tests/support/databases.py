"""A logical database of a new (or given) account, spoken to with a server key scoped to it: the
set-up of the file and vector tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.accounts import Account, api_key_headers, create_api_key, new_account
from tests.support.end_users import schema_of
from tests.support.sync_pg import SyncPg


@dataclass
class KeyedDb:
    client: httpx.Client
    account: Account
    id: str
    schema: str
    server_key: dict[str, str]
    """The server key's ``X-API-KEY`` header."""
    pg: SyncPg

    def op(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        """A DDO op on this database; the server key's unless ``headers`` say otherwise."""
        return self.client.post(f"/api/{self.id}", json=body, headers=headers or self.server_key)


def keyed_db_fields(
    client: httpx.Client, pg: SyncPg, prefix: str, account: Account | None = None
) -> dict[str, Any]:
    """A new database named ``<prefix>_<hex>`` of ``account`` (of a new account when none is
    given) and a server key scoped to it: the fields of a ``KeyedDb``."""
    owner = account if account is not None else new_account(client, pg)
    response = client.post(
        "/api/create_database", json={"db_name": f"{prefix}_{secrets.token_hex(4)}"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    db_id = response.json()["database"]["id"]
    key = api_key_headers(create_api_key(client, owner, db_id))
    return {
        "client": client,
        "account": owner,
        "id": db_id,
        "schema": schema_of(pg, db_id),
        "server_key": key,
        "pg": pg,
    }

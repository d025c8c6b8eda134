"""Helpers for the Management API tests: a fresh logical database per test, made over HTTP.

``limited`` is a second live server on the same PostgreSQL with tiny quotas
and a tiny count-estimate threshold, for the tests that need to cross them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pgcube.settings import Settings
from tests.support.accounts import Account
from tests.support.live import LiveServer, test_settings
from tests.support.sync_pg import SyncPg

LIMITED_QUOTA_DATABASES = 2
LIMITED_QUOTA_COLLECTIONS = 3
LIMITED_ESTIMATE_THRESHOLD = 5

USERS: dict[str, Any] = {
    "name": "users",
    "fields": [
        {"name": "email", "type": "string", "required": True},
        {"name": "signup_date", "type": "date"},
        {"name": "age", "type": "integer"},
        {"name": "score", "type": "number", "index": False},
        {"name": "active", "type": "boolean"},
        {"name": "seen_at", "type": "datetime"},
        {"name": "profile", "type": "object"},
        {"name": "tags", "type": "array"},
        {"name": "extra", "type": "any"},
    ],
    "strict": True,
}


def unique_name(prefix: str = "db") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def create_database(
    client: httpx.Client, account: Account, name: str | None = None, collections: list[Any] | None = None
) -> dict[str, Any]:
    """Create a database over HTTP (201 asserted); the answer's body."""
    response = client.post(
        "/api/create_database",
        json={"db_name": name or unique_name(), "collections": collections or []},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def schema_of(pg: SyncPg, database_id: str) -> str | None:
    schema: str | None = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", database_id)
    return schema


def schema_exists(pg: SyncPg, schema: str) -> bool:
    exists: bool = pg.fetchval("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema)
    return exists


def insert_rows(pg: SyncPg, schema: str, table: str, docs: list[bytes]) -> None:
    """Documents put in by hand, as a DBA (or the data API) would."""
    pg.execute(
        f'INSERT INTO "{schema}"."{table}" (_key, data) '
        "SELECT md5(random()::text || n::text), d FROM unnest($1::jsonb[]) WITH ORDINALITY AS t(d, n)",
        docs,
    )


@pytest.fixture
def database(client: httpx.Client, account: Account) -> dict[str, Any]:
    """A fresh logical database of ``account`` with the ``users`` collection."""
    return create_database(client, account, collections=[USERS])


@pytest.fixture(scope="session")
def limited_settings(pg_url: str) -> Settings:
    return test_settings(
        pg_url,
        quota_databases=LIMITED_QUOTA_DATABASES,
        quota_collections=LIMITED_QUOTA_COLLECTIONS,
        count_estimate_threshold=LIMITED_ESTIMATE_THRESHOLD,
    )


@pytest.fixture(scope="session")
def limited_server(limited_settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(limited_settings) as server:
        yield server


@pytest.fixture
def limited(limited_server: LiveServer) -> Iterator[httpx.Client]:
    with limited_server.client() as http:
        yield http

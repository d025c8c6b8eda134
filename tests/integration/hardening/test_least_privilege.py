"""pgcube runs as an ordinary role (RELIABILITY D4): the grants docs/operations.md
shows are all it needs — migrations, logical databases, documents — and that role
cannot reach beyond its database."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from pgcube.db import migrations
from pgcube.db.urls import with_database
from tests.integration.hardening.conftest import account_on, create_database, serve

# What docs/operations.md tells an operator to run (one statement per call: CREATE
# DATABASE cannot run in a transaction block).
ROLE_SETUP = (
    "CREATE ROLE {role} LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE",
    "CREATE DATABASE {database} OWNER {role}",
)


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def as_role(url: str, role: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))


@pytest.fixture
def ordinary_role_url(pg_server_url: str) -> Iterator[str]:
    """A database owned by a fresh role without superuser, CREATEDB or CREATEROLE."""
    role = "pgcube_app_" + secrets.token_hex(3)
    password = secrets.token_hex(12)
    database = role + "_db"
    for statement in ROLE_SETUP:
        asyncio.run(_admin(pg_server_url, statement.format(role=role, password=password, database=database)))
    try:
        yield as_role(with_database(pg_server_url, database), role, password)
    finally:
        asyncio.run(_admin(pg_server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        asyncio.run(_admin(pg_server_url, f'DROP ROLE IF EXISTS "{role}"'))


def test_an_ordinary_role_that_owns_its_database_is_enough(ordinary_role_url: str) -> None:
    assert not asyncio.run(_fetch_is_superuser(ordinary_role_url))
    migrations.upgrade(ordinary_role_url)
    with serve(ordinary_role_url) as (_, http):
        account = account_on(http, ordinary_role_url)
        database_id = create_database(http, account)
        body = {"op": "collection.insert", "collection": "notes", "data": [{"a": 1}, {"a": 2}]}
        assert http.post(f"/api/{database_id}", json=body, headers=account.headers).status_code == 200
        found = http.post(
            f"/api/{database_id}",
            json={"op": "collection.find", "collection": "notes", "match": {"a:$gt": 1}},
            headers=account.headers,
        )
        assert found.status_code == 200, found.text
        assert [doc["a"] for doc in found.json()["data"]] == [2]


async def _fetch_is_superuser(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        return bool(await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    finally:
        await conn.close()

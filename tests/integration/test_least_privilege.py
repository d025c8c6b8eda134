"""RELIABILITY D4: pgcube runs as an ordinary role that owns its database — no superuser.

This is the set-up docs/psql.md gives to operators; the test follows it word
for word and then uses every layer (migrations, accounts, DDL, documents).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from pgcube.db import migrations
from pgcube.db.urls import with_database
from tests.integration.data.conftest import make_db
from tests.support.accounts import new_account
from tests.support.live import LiveServer, test_settings
from tests.support.sync_pg import SyncPg


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def owned_database(pg_server_url: str) -> Iterator[str]:
    role = "pgcube_app_" + secrets.token_hex(3)
    database = "pgcube_lp_" + secrets.token_hex(3)
    asyncio.run(
        _admin(
            pg_server_url,
            f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE",
            f"CREATE DATABASE {database} OWNER {role}",
        )
    )
    try:
        yield as_role(with_database(pg_server_url, database), role)
    finally:
        asyncio.run(
            _admin(
                pg_server_url,
                f"DROP DATABASE IF EXISTS {database} WITH (FORCE)",
                f"DROP ROLE IF EXISTS {role}",
            )
        )


def test_everything_works_as_a_database_owner_without_superuser(owned_database: str) -> None:
    migrations.upgrade(owned_database)
    pg = SyncPg(owned_database)
    try:
        assert pg.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
        with LiveServer(test_settings(owned_database)) as server, server.client() as http:
            db = make_db(
                http, new_account(http, pg), [{"name": "items", "fields": [{"name": "n", "type": "integer"}]}]
            )
            db.insert("items", [{"n": 1}, {"n": 2}])
            assert db.ok({"op": "collection.count", "collection": "items", "match": {"n:$gt": 1}})[
                "data"
            ] == {"count": 1}
            removed = db.ok({"op": "collection.delete", "collection": "items", "match": {"n": 1}})["data"]
            db.ok({"op": "collection.restore", "collection": "items", "_ref": removed["_ref"]})
            dropped = http.post(
                "/api/drop_database", json={"database_id": db.id, "confirmation": db.name}, headers=db.headers
            )
            assert dropped.status_code == 200, dropped.text
    finally:
        pg.close()

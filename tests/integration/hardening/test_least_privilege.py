"""pgcube runs as an ordinary role (RELIABILITY D4): the grants docs/operations.md
shows are all it needs — migrations, logical databases, documents — and that role
cannot reach beyond its database: it creates no role and no database, names no
other database in a query, and in another database of the server (where
PostgreSQL's default CONNECT grant to PUBLIC lets it log in) it reads, writes,
creates and drops nothing."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from pgcube.db import migrations
from pgcube.db.urls import with_database
from tests.integration.hardening.conftest import account_on, create_database, serve
from tests.support.postgres import scratch_database
from tests.support.sync_pg import SyncPg

# What docs/operations.md tells an operator to run (one statement per call: CREATE
# DATABASE cannot run in a transaction block).
ROLE_SETUP = (
    "CREATE ROLE {role} LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE",
    "CREATE DATABASE {database} OWNER {role}",
    # The role of web-key requests (ADR 0018); another install in the cluster may have made it.
    "DO $$ BEGIN CREATE ROLE pgcube_web NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    "GRANT pgcube_web TO {role}",
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


NEIGHBOUR_SEED = (
    "INSERT INTO pgcube.accounts (email, email_canonical, password_hash) "
    "VALUES ('someone@example.com', 'someone@example.com', 'argon2-hash')",
    "CREATE SCHEMA tenant_1",
    "CREATE TABLE tenant_1.notes (_key text PRIMARY KEY, data jsonb NOT NULL)",
    """INSERT INTO tenant_1.notes VALUES ('k1', '{"secret": 1}')""",
)

# Each statement, run as the role in the neighbour database, must be refused for lack of privilege.
TRESPASSES = (
    "SELECT * FROM pgcube.accounts",
    "SELECT * FROM tenant_1.notes",
    "INSERT INTO pgcube.accounts (email, email_canonical, password_hash) VALUES ('x@y.z', 'x@y.z', 'h')",
    "UPDATE tenant_1.notes SET data = '{}'",
    "DELETE FROM tenant_1.notes",
    "TRUNCATE tenant_1.notes",
    "ALTER TABLE tenant_1.notes ADD COLUMN intruder int",
    "DROP TABLE tenant_1.notes",
    "DROP SCHEMA tenant_1 CASCADE",
    "CREATE SCHEMA intruder",
    "CREATE TABLE public.intruder (a int)",
    "GRANT USAGE ON SCHEMA tenant_1 TO PUBLIC",
)


def neighbour_state(pg: SyncPg) -> dict[str, Any]:
    return {
        "accounts": [dict(row) for row in pg.fetch("SELECT * FROM pgcube.accounts ORDER BY id")],
        "notes": [tuple(row) for row in pg.fetch("SELECT _key, data::text FROM tenant_1.notes ORDER BY 1")],
        "relations": [
            tuple(row)
            for row in pg.fetch(
                "SELECT n.nspname, c.relname, c.relkind, c.relacl::text FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2"
            )
        ],
        "schemas": [
            tuple(row) for row in pg.fetch("SELECT nspname, nspacl::text FROM pg_namespace ORDER BY 1")
        ],
    }


async def _trespass(own_url: str, neighbour_url: str, neighbour: str) -> None:
    own = await asyncpg.connect(own_url)
    try:
        with pytest.raises(asyncpg.FeatureNotSupportedError, match="cross-database references"):
            await own.fetch(f'SELECT * FROM "{neighbour}".pgcube.accounts')
        for statement in ("CREATE DATABASE intruder", "CREATE ROLE intruder"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await own.execute(statement)
    finally:
        await own.close()
    other = await asyncpg.connect(neighbour_url)  # CONNECT is granted to PUBLIC by default
    try:
        assert await other.fetchval("SELECT current_database()") == neighbour
        for statement in TRESPASSES:
            try:
                await other.execute(statement)
            except asyncpg.InsufficientPrivilegeError:
                continue
            pytest.fail(f"allowed in the neighbour database: {statement}")
    finally:
        await other.close()


def test_the_role_cannot_reach_beyond_its_database(ordinary_role_url: str, pg_server_url: str) -> None:
    """The neighbour is another database of the same server holding what pgcube keeps (a
    control plane with an account, a logical database's schema with a document)."""
    role_url = urlsplit(ordinary_role_url)
    assert role_url.username is not None
    assert role_url.password is not None
    with scratch_database(pg_server_url) as neighbour_url:
        migrations.upgrade(neighbour_url)
        neighbour = urlsplit(neighbour_url).path.lstrip("/")
        admin = SyncPg(neighbour_url)
        try:
            for statement in NEIGHBOUR_SEED:
                admin.execute(statement)
            before = neighbour_state(admin)
            assert len(before["accounts"]) == 1
            assert len(before["notes"]) == 1
            asyncio.run(
                _trespass(
                    ordinary_role_url,
                    as_role(neighbour_url, role_url.username, role_url.password),
                    neighbour,
                )
            )
            assert neighbour_state(admin) == before
            assert not admin.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'intruder') "
                "OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'intruder')"
            )
        finally:
            admin.close()

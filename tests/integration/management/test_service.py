"""The service API the data layer calls (get_database, get_collection, ensure_collection,
validator_for), on real connections: tenancy, creation on first insert, concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest

from pgcube.db.pool import connect
from pgcube.errors import CollectionNotFound, DatabaseNotFound, QuotaExceeded, ValidationError
from pgcube.management import service
from pgcube.management.models import FieldType
from pgcube.principal import Principal
from pgcube.settings import Settings
from tests.integration.management.conftest import USERS, create_database
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg

T = TypeVar("T")


async def on_fresh_connection(settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """``work`` on a new connection inside one transaction (committed), as a request runs."""
    conn = await connect(settings, settings.database_url or "")
    try:
        async with conn.transaction():
            return await work(conn)
    finally:
        await conn.close()


def in_transaction(settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    return asyncio.run(on_fresh_connection(settings, work))


def principal(account: Account, database_id: str | None = None) -> Principal:
    return Principal(
        account_id=account.account_id,
        via="jwt" if database_id is None else "api_key",
        database_id=database_id,
    )


@pytest.fixture
def made(client: httpx.Client, account: Account) -> dict[str, Any]:
    return create_database(client, account, collections=[USERS])


def test_get_database_and_collection(settings: Settings, account: Account, made: dict[str, Any]) -> None:
    database_id = made["database"]["id"]

    async def work(conn: asyncpg.Connection) -> Any:
        database = await service.get_database(conn, principal(account), database_id)
        return database, await service.get_collection(conn, database, "users")

    database, users = in_transaction(settings, work)
    assert database.schema_name == made["database"]["dbName"]
    assert database.sql_schema == f'"{database.schema_name}"'
    assert users.sql_table == f'"{database.schema_name}"."users"'
    assert users.sql_trash == f'"{database.schema_name}"."_trash"'
    assert users.strict is True
    assert users.field("email") is not None
    assert users.field("email").type is FieldType.STRING  # type: ignore[union-attr]
    validator = service.validator_for(users)
    validator.validate_many([{"email": "a@b.c", "age": 3}])
    with pytest.raises(ValidationError) as raised:
        validator.validate_many([{"email": "a@b.c"}, {"age": 3}])
    assert raised.value.details == {"index": 1, "field": "email", "required": True}


def test_not_found_is_the_same_for_others_missing_and_malformed(
    settings: Settings, account: Account, other_account: Account, made: dict[str, Any]
) -> None:
    database_id = made["database"]["id"]
    attempts = [
        (principal(other_account), database_id),  # another account's
        (principal(account), "0" * 24),  # missing
        (principal(account), "DROP SCHEMA pgcube"),  # malformed
        (principal(account, database_id="1" * 24), database_id),  # a key scoped elsewhere
    ]
    bodies = set()
    for who, target in attempts:

        async def work(conn: asyncpg.Connection, who: Principal = who, target: str = target) -> None:
            await service.get_database(conn, who, target)

        with pytest.raises(DatabaseNotFound) as raised:
            in_transaction(settings, work)
        bodies.add((raised.value.code, raised.value.message, str(raised.value.details)))
    assert bodies == {("DATABASE_NOT_FOUND", "Database not found", "{}")}


def test_get_collection_refuses_bad_and_unknown_names(
    settings: Settings, account: Account, made: dict[str, Any]
) -> None:
    async def work(conn: asyncpg.Connection) -> None:
        database = await service.get_database(conn, principal(account), made["database"]["id"])
        with pytest.raises(CollectionNotFound):
            await service.get_collection(conn, database, "nope")
        with pytest.raises(ValidationError):
            await service.get_collection(conn, database, 'x"; drop schema pgcube cascade; --')

    in_transaction(settings, work)


def test_ensure_collection_creates_on_first_use(
    settings: Settings, account: Account, pg: SyncPg, made: dict[str, Any]
) -> None:
    async def work(conn: asyncpg.Connection) -> Any:
        database = await service.get_database(conn, principal(account), made["database"]["id"])
        first = await service.ensure_collection(conn, settings, database, "events")
        again = await service.ensure_collection(conn, settings, database, "events")
        users = await service.ensure_collection(conn, settings, database, "users")
        return first, again, users

    first, again, users = in_transaction(settings, work)
    assert first.name == again.name == "events"
    assert first.fields == ()
    assert service.validator_for(first).is_trivial
    assert users.strict is True
    schema = made["database"]["dbName"]
    assert pg.fetchval("SELECT to_regclass(quote_ident($1) || '.events') IS NOT NULL", schema)
    assert (
        pg.fetchval(
            "SELECT count(*) FROM pgcube.collections WHERE database_id = $1 AND name = 'events'",
            made["database"]["id"],
        )
        == 1
    )


def test_concurrent_first_inserts_create_the_collection_once(
    settings: Settings, account: Account, made: dict[str, Any]
) -> None:
    async def one(barrier: asyncio.Barrier) -> str:
        async def work(conn: asyncpg.Connection) -> str:
            database = await service.get_database(conn, principal(account), made["database"]["id"])
            await barrier.wait()
            collection = await service.ensure_collection(conn, settings, database, "race")
            await asyncio.sleep(0.2)  # hold the transaction open while the others wait
            return collection.name

        return await on_fresh_connection(settings, work)

    async def many() -> list[str]:
        barrier = asyncio.Barrier(5)
        return list(await asyncio.gather(*(one(barrier) for _ in range(5))))

    assert asyncio.run(many()) == ["race"] * 5


def test_ensure_collection_respects_the_quota(
    settings: Settings, account: Account, made: dict[str, Any]
) -> None:
    tight = Settings.from_env(
        {}, **{**{n: getattr(settings, n) for n in settings.__struct_fields__}, "quota_collections": 1}
    )

    async def work(conn: asyncpg.Connection) -> None:
        database = await service.get_database(conn, principal(account), made["database"]["id"])
        with pytest.raises(QuotaExceeded):
            await service.ensure_collection(conn, tight, database, "one_too_many")

    in_transaction(settings, work)

"""What the workloads run against: an account, a database with declared fields, the data.

The account and the database are made over HTTP, as a user makes them
(register → verification link from the outbox → verify → log in →
``/api/create_database``). The documents go in by COPY straight into the
collection's table (``"<schema>"."<collection>"``), then VACUUM ANALYZE: the
benchmark is about reading and writing through pgcube, not about loading.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from bench import datagen
from pgcube.db.pool import connect
from pgcube.query.sql import qualified
from pgcube.settings import Settings

READS = "products"
WRITES = "new_products"
"""Insert workloads write to a collection of their own (same declared fields and
indexes), emptied before each measurement, so the read collection stays the
same size for the whole run."""

_VERIFY_LINK = re.compile(r"/core/verify-email/(?P<token>[A-Za-z0-9_-]{43})")
PASSWORD = "bench " + secrets.token_hex(8)


@dataclass
class Fixture:
    base_url: str
    database_url: str
    token: str
    database_id: str
    schema: str
    """The logical database's schema; each collection is the table of the same name in it (docs/psql.md)."""

    def table(self, collection: str) -> str:
        """``"schema"."collection"``."""
        return qualified(self.schema, collection)

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}

    @property
    def ddo_path(self) -> str:
        return f"/api/{self.database_id}"


async def _verification_link(database_url: str, email: str) -> str | None:
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(50):
            rows = await conn.fetch(
                "SELECT body FROM pgcube.outbox WHERE lower(to_address) = lower($1) ORDER BY id DESC", email
            )
            for row in rows:
                match = _VERIFY_LINK.search(row["body"])
                if match:
                    return match.group(0)
            await asyncio.sleep(0.1)
        return None
    finally:
        await conn.close()


def _check(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )
    return response.json()


def make(base_url: str, database_url: str) -> Fixture:
    email = f"bench-{secrets.token_hex(4)}@example.com"
    with httpx.Client(base_url=base_url, timeout=60) as client:
        body = {"email": email, "firstName": "Bench", "lastName": "Mark", "password": PASSWORD}
        _check(client.post("/core/register", json=body), 201)
        login = client.post("/core/login", json={"email": email, "password": PASSWORD})
        if login.status_code != 200:  # email verification is required: follow the link, as a user does
            link = asyncio.run(_verification_link(database_url, email))
            if link is None:
                raise RuntimeError(f"login refused and no verification email: {login.text}")
            _check(client.get(link))
            login = client.post("/core/login", json={"email": email, "password": PASSWORD})
        token = _check(login)["access"]
        headers = {"Authorization": f"Bearer {token}"}
        collections = [{"name": name, "fields": datagen.FIELDS} for name in (READS, WRITES)]
        created = _check(
            client.post(
                "/api/create_database",
                json={"db_name": "bench_" + secrets.token_hex(3), "collections": collections},
                headers=headers,
            ),
            201,
        )
    database_id = created["database"]["id"]
    schema = asyncio.run(_schema(database_url, database_id))
    return Fixture(
        base_url=base_url,
        database_url=database_url,
        token=token,
        database_id=database_id,
        schema=schema,
    )


async def _schema(database_url: str, database_id: str) -> str:
    """The schema of the logical database (the control plane's ``pgcube.databases``, docs/psql.md)."""
    conn = await asyncpg.connect(database_url)
    try:
        schema: str = await conn.fetchval(
            "SELECT schema_name FROM pgcube.databases WHERE id = $1", database_id
        )
        return schema
    finally:
        await conn.close()


async def _load(fixture: Fixture, n: int) -> float:
    conn = await connect(Settings(), fixture.database_url)
    try:
        await conn.execute("SET statement_timeout = 0")  # a loading connection, not a request's
        started = time.perf_counter()
        batch = 50_000
        for start in range(0, n, batch):
            await conn.copy_records_to_table(
                READS,
                schema_name=fixture.schema,
                columns=["_key", "_userkey", "_created_at", "_modified_at", "data"],
                records=list(datagen.rows(min(batch, n - start), start=start)),
            )
        await conn.execute(f"VACUUM ANALYZE {fixture.table(READS)}")
        await conn.execute(f"VACUUM ANALYZE {fixture.table(WRITES)}")
        return time.perf_counter() - started
    finally:
        await conn.close()


def load(fixture: Fixture, n: int) -> float:
    """COPY ``n`` documents into the read collection; seconds taken."""
    return asyncio.run(_load(fixture, n))


async def _truncate(fixture: Fixture, name: str) -> None:
    conn = await asyncpg.connect(fixture.database_url)
    try:
        await conn.execute(f"TRUNCATE {fixture.table(name)}")
        await conn.execute(f"VACUUM ANALYZE {fixture.table(name)}")
    finally:
        await conn.close()


def truncate(fixture: Fixture, name: str) -> None:
    asyncio.run(_truncate(fixture, name))

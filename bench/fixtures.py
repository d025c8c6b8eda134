"""What the workloads run against: an account, a database with declared fields, an end user, the data.

The account and the database are made over HTTP, as a user makes them
(register → verification link from the outbox → verify → log in →
``/api/create_database``). The documents go in by COPY straight into the
collection's table (``"<schema>"."<collection>"``), then VACUUM ANALYZE: the
benchmark is about reading and writing through pgcube, not about loading.

The read collection's access rules are ``owner``/``owner`` and every one of its
documents belongs to one end user of the database (``_userkey``, stamped by the
COPY), so that end user, through a web key, finds exactly what the account
finds (SPEC §11.4). The account keeps the owner role and bypasses the rules:
every workload sent with the account's token is unaffected. The web key is made
over HTTP; the end user is a row in the database's ``_users`` and ``_sessions``
tables and an ``id_token`` signed with the run's secret, as ``auth.signin``
would answer it (the sign-up and sign-in ops are not what is measured).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from bench import datagen
from pgcube.db.pool import connect
from pgcube.query.sql import qualified
from pgcube.settings import Settings
from pgcube.users.tokens import VerifiedIdTokens

READS = "products"
WRITES = "new_products"
"""Insert workloads write to a collection of their own (same declared fields and
indexes), emptied before each measurement, so the read collection stays the
same size for the whole run."""

OWNER_ONLY = {"read": "owner", "write": "owner"}
"""The read collection's access rules: an end user reads and writes only their own documents."""

ACCOUNT = "account"
END_USER = "end_user"
"""Who sends a workload's requests (``Workload.caller``): the account, with its access token
(the owner role, no access rules), or the end user, with the web key and its ``id_token``."""

SESSION_SECONDS = 6 * 3600
"""The end user's ``id_token`` outlives the run, as the account's access token does."""

_VERIFY_LINK = re.compile(r"/core/verify-email/(?P<token>[A-Za-z0-9_-]{43})")
PASSWORD = "bench " + secrets.token_hex(8)


@dataclass
class EndUser:
    user_key: str
    """The end user's ``_userkey``: every document of the read collection carries it."""
    web_key: str
    id_token: str


@dataclass
class Fixture:
    base_url: str
    database_url: str
    token: str
    database_id: str
    schema: str
    """The logical database's schema; each collection is the table of the same name in it (docs/psql.md)."""
    end_user: EndUser | None = None
    """Made by ``sign_in_end_user``, before the documents are loaded."""

    def table(self, collection: str) -> str:
        """``"schema"."collection"``."""
        return qualified(self.schema, collection)

    @property
    def headers(self) -> dict[str, str]:
        """The account's requests: its access token."""
        return {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}

    def headers_for(self, caller: str) -> dict[str, str]:
        """The headers of a workload's requests by ``caller`` (``ACCOUNT`` or ``END_USER``)."""
        if caller == ACCOUNT:
            return self.headers
        if caller == END_USER and self.end_user is not None:
            return {
                "Content-Type": "application/json",
                "X-API-KEY": self.end_user.web_key,
                "Authorization": f"Bearer {self.end_user.id_token}",
            }
        raise RuntimeError(f"no credentials for the caller {caller!r} (sign_in_end_user first)")

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
        collections = [
            {"name": READS, "fields": datagen.FIELDS, "access": OWNER_ONLY},
            {"name": WRITES, "fields": datagen.FIELDS},
        ]
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


def sign_in_end_user(fixture: Fixture, jwt_secret: str) -> EndUser:
    """A web key of the fixture's database, and an end user of it signed in with an ``id_token``
    signed with pgcube's secret ``jwt_secret`` (the run's ``PGCUBE_JWT_SECRET``)."""
    with httpx.Client(base_url=fixture.base_url, timeout=60) as client:
        made = client.post(
            "/core/api/v1/keys",
            json={"name": "bench web", "database_id": fixture.database_id, "kind": "web"},
            headers={"Authorization": f"Bearer {fixture.token}"},
        )
        web_key: str = _check(made, 201)["key"]
    user_key, session_id = asyncio.run(_end_user_rows(fixture))
    id_token = VerifiedIdTokens(jwt_secret).issue(
        user_key=user_key,
        database_id=fixture.database_id,
        session_id=session_id,
        aud="web",
        ttl=SESSION_SECONDS,
    )
    fixture.end_user = EndUser(user_key=user_key, web_key=web_key, id_token=id_token)
    return fixture.end_user


async def _end_user_rows(fixture: Fixture) -> tuple[str, str]:
    """(``_userkey``, session id) of a new end user with a live session in the database's schema."""
    user_key, session_id = uuid.uuid4().hex, str(uuid.uuid4())
    email = f"bench-user-{secrets.token_hex(4)}@example.com"
    conn = await asyncpg.connect(fixture.database_url)
    try:
        async with conn.transaction():
            await conn.execute(
                f"INSERT INTO {qualified(fixture.schema, '_users')} "
                "(_userkey, email, email_canonical, email_verified) VALUES ($1, $2, $2, true)",
                user_key,
                email,
            )
            await conn.execute(
                f"INSERT INTO {qualified(fixture.schema, '_sessions')} "
                "(id, _userkey, refresh_hash, expires_at) VALUES ($1::uuid, $2, $3, $4)",
                session_id,
                user_key,
                secrets.token_bytes(32),
                dt.datetime.now(dt.UTC) + dt.timedelta(seconds=SESSION_SECONDS),
            )
    finally:
        await conn.close()
    return user_key, session_id


WEB_ROLE = "pgcube_web"
"""The role a web-key request takes (SPEC §11.4, migration 0006): bound by row-level security."""


async def act_as(conn: asyncpg.Connection, user_key: str) -> None:
    """Inside a transaction on ``conn``: the rest of it runs as the end user ``user_key``'s web-key
    requests do — as the role ``WEB_ROLE``, with the user in ``pgcube.userkey`` (SPEC §11.4)."""
    await conn.execute(f"SET LOCAL ROLE {WEB_ROLE}")
    await conn.execute("SELECT set_config('pgcube.userkey', $1, true)", user_key)


async def _load(fixture: Fixture, n: int) -> float:
    conn = await connect(Settings(), fixture.database_url)
    try:
        await conn.execute("SET statement_timeout = 0")  # a loading connection, not a request's
        started = time.perf_counter()
        owner = fixture.end_user.user_key if fixture.end_user is not None else None
        batch = 50_000
        for start in range(0, n, batch):
            await conn.copy_records_to_table(
                READS,
                schema_name=fixture.schema,
                columns=["_key", "_userkey", "_created_at", "_modified_at", "data"],
                records=list(datagen.rows(min(batch, n - start), start=start, user_key=owner)),
            )
        await conn.execute(f"VACUUM ANALYZE {fixture.table(READS)}")
        await conn.execute(f"VACUUM ANALYZE {fixture.table(WRITES)}")
        return time.perf_counter() - started
    finally:
        await conn.close()


def load(fixture: Fixture, n: int) -> float:
    """COPY ``n`` documents into the read collection, owned by the fixture's end user if it has
    one; seconds taken."""
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

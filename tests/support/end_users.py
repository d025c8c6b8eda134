"""End users for integration tests, made the way the tests need them.

* ``web_key(client, account, database_id)`` — a web key, over HTTP, as an app developer makes it.
* ``add_end_user``, ``add_session``, ``add_code`` — rows put into a database's ``_users``,
  ``_sessions`` and ``_otps`` with SQL, as a DBA would: for the tests of the routes that manage
  them, without going through sign-up (whose ops have tests of their own).
* ``signed_in(pg, database_id)`` — a user with a live session and an ``id_token`` signed with the
  test server's secret: the isolation tests need many users quickly.

    key = add_end_user(pg, schema, email="ann@example.com", display_name="Ann")
    add_session(pg, schema, key)
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import httpx

from pgcube.users.tokens import VerifiedIdTokens
from tests.support.accounts import Account
from tests.support.live import TEST_JWT_SECRET
from tests.support.sync_pg import SyncPg

_ID_TOKENS = VerifiedIdTokens(TEST_JWT_SECRET)


def web_key(client: httpx.Client, account: Account, database_id: str) -> str:
    response = client.post(
        "/core/api/v1/keys",
        json={"name": "app", "database_id": database_id, "kind": "web"},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def schema_of(pg: SyncPg, database_id: str) -> str:
    schema: str = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", database_id)
    return schema


PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$not-a-real-hash-but-a-secret"
"""What a stored hash looks like; no answer may contain it (or any part of it)."""


def add_end_user(
    pg: SyncPg,
    schema: str,
    *,
    email: str | None = None,
    display_name: str | None = None,
    created_at: datetime | None = None,
    user_key: str | None = None,
    metadata: bytes = b'{"plan": "free"}',
    password_hash: str | None = PASSWORD_HASH,
    email_verified: bool = False,
) -> str:
    """A new row of ``<schema>._users``; its ``_userkey``."""
    user_key = user_key or secrets.token_hex(16)
    email = email or f"end-{secrets.token_hex(4)}@example.com"
    pg.execute(
        f'INSERT INTO "{schema}"._users (_userkey, email, email_canonical, password_hash, display_name,'
        " metadata, created_at, email_verified) VALUES ($1, $2, lower($2), $3, $4, $5, coalesce($6, now()), $7)",
        user_key,
        email,
        password_hash,
        display_name,
        metadata,
        created_at,
        email_verified,
    )
    return user_key


def add_session(pg: SyncPg, schema: str, user_key: str) -> str:
    """A live session of the user (30 days); its id."""
    refresh_hash = hashlib.sha256(secrets.token_bytes(32)).digest()
    session_id: str = pg.fetchval(
        f'INSERT INTO "{schema}"._sessions (_userkey, refresh_hash, expires_at)'
        " VALUES ($1, $2, now() + interval '30 days') RETURNING id::text",
        user_key,
        refresh_hash,
    )
    return session_id


def add_code(pg: SyncPg, schema: str, email: str, user_key: str | None, intent: str = "signin") -> None:
    """A one-time code sent to ``email`` (tied to the user when ``user_key`` is given)."""
    pg.execute(
        f'INSERT INTO "{schema}"._otps (email_canonical, _userkey, intent, code_hash, expires_at)'
        " VALUES (lower($1), $2, $3, $4, now() + interval '10 minutes')",
        email,
        user_key,
        intent,
        hashlib.sha256(secrets.token_bytes(8)).digest(),
    )


@dataclass
class EndUser:
    user_key: str
    email: str
    id_token: str
    session_id: str

    def headers(self, key: str) -> dict[str, str]:
        """The headers of this end user's requests through the web key ``key``."""
        return {"X-API-KEY": key, "Authorization": f"Bearer {self.id_token}"}


def signed_in(pg: SyncPg, database_id: str, *, ttl: int = 3600) -> EndUser:
    """A new end user of ``database_id`` with a live session and an ``id_token`` for it."""
    schema = schema_of(pg, database_id)
    email = f"enduser-{secrets.token_hex(6)}@example.com"
    user_key = add_end_user(pg, schema, email=email)
    session_id = add_session(pg, schema, user_key)
    token = _ID_TOKENS.issue(
        user_key=user_key, database_id=database_id, session_id=session_id, aud="web", ttl=ttl
    )
    return EndUser(user_key=user_key, email=email, id_token=token, session_id=session_id)

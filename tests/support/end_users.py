"""Web keys and end users for integration tests.

``web_key(client, account, database_id)`` creates a web key over HTTP, the way
an app developer does. ``signed_in(pg, database_id)`` makes an end user of that
database directly in its ``_users`` and ``_sessions`` tables and signs an
``id_token`` for them with the test server's secret: the isolation tests need
many users quickly, and the sign-up and sign-in ops have tests of their own.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

import httpx

from pgcube.users.tokens import VerifiedIdTokens
from tests.support.accounts import Account, unique_email
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


@dataclass
class EndUser:
    user_key: str
    email: str
    id_token: str
    session_id: str

    def headers(self, key: str) -> dict[str, str]:
        """The headers of this end user's requests through the web key ``key``."""
        return {"X-API-KEY": key, "Authorization": f"Bearer {self.id_token}"}


def schema_of(pg: SyncPg, database_id: str) -> str:
    schema: str = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", database_id)
    return schema


def signed_in(pg: SyncPg, database_id: str, *, ttl: int = 3600) -> EndUser:
    """A new end user of ``database_id`` with a live session and an ``id_token`` for it."""
    schema = schema_of(pg, database_id)
    user_key = uuid.uuid4().hex
    email = unique_email("enduser")
    session_id = str(uuid.uuid4())
    pg.execute(
        f'INSERT INTO "{schema}"._users (_userkey, email, email_canonical, email_verified)'
        " VALUES ($1, $2, $2, true)",
        user_key,
        email,
    )
    pg.execute(
        f'INSERT INTO "{schema}"._sessions (id, _userkey, refresh_hash, expires_at) VALUES ($1::uuid, $2, $3, $4)',
        session_id,
        user_key,
        secrets.token_bytes(32),
        dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
    )
    token = _ID_TOKENS.issue(
        user_key=user_key, database_id=database_id, session_id=session_id, aud="web", ttl=ttl
    )
    return EndUser(user_key=user_key, email=email, id_token=token, session_id=session_id)

"""Accounts for integration tests, made the way a user makes them: over HTTP.

``new_account(client, pg)`` registers a fresh account, reads the verification
link from ``pgcube.outbox`` (the development mail sink), follows it, logs in,
and returns an ``Account`` with its tokens. ``create_api_key`` adds a key;
``latest_email`` reads the newest message to an address (waiting for it).

    def test_something(client, account):
        client.get("/api/list_databases", headers=account.headers)
        key = create_api_key(client, account)
        client.get("/api/list_databases", headers=api_key_headers(key))
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import httpx

from tests.support.sync_pg import SyncPg

_VERIFY_LINK = re.compile(r"/core/verify-email/(?P<token>[A-Za-z0-9_-]{43})")
_RESET_TOKEN = re.compile(r"reset token is:\s+(?P<token>[A-Za-z0-9_-]{43})")

DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass
class Account:
    email: str
    password: str
    access: str
    refresh: str
    account_id: str

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <access>``."""
        return {"Authorization": f"Bearer {self.access}"}


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{secrets.token_hex(6)}@example.com"


def api_key_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Api-Key {key}"}


def register(
    client: httpx.Client,
    email: str,
    password: str = DEFAULT_PASSWORD,
    first_name: str = "Test",
    last_name: str = "User",
) -> httpx.Response:
    response = client.post(
        "/core/register",
        json={"email": email, "firstName": first_name, "lastName": last_name, "password": password},
    )
    assert response.status_code == 201, response.text
    return response


def outbox(pg: SyncPg, email: str) -> list[str]:
    """Bodies of the messages sent to ``email``, oldest first."""
    rows = pg.fetch("SELECT body FROM pgcube.outbox WHERE lower(to_address) = lower($1) ORDER BY id", email)
    return [row["body"] for row in rows]


def latest_email(pg: SyncPg, email: str, *, already: int = 0, wait: float = 10.0) -> str:
    """The body of the newest message to ``email`` once there are more than ``already`` (some are
    written just after the answer, ADR 0015: a browser test cannot know when)."""
    deadline = time.monotonic() + wait
    while len(bodies := outbox(pg, email)) <= already:
        assert time.monotonic() < deadline, f"no new email for {email} within {wait} s ({already} before)"
        time.sleep(0.02)
    return bodies[-1]


def allow_mail_now(pg: SyncPg, email: str) -> None:
    """Forget when the account was last mailed (the once-a-minute gates of RELIABILITY G3)."""
    pg.execute(
        "UPDATE pgcube.accounts SET last_email_at = NULL, last_reset_email_at = NULL "
        "WHERE email_canonical = lower($1)",
        email,
    )


def verification_token(pg: SyncPg, email: str) -> str:
    """The token of the latest verification link sent to ``email``."""
    for body in reversed(outbox(pg, email)):
        match = _VERIFY_LINK.search(body)
        if match:
            return match.group("token")
    raise AssertionError(f"no verification email for {email}")


def reset_token(pg: SyncPg, email: str) -> str:
    """The latest password reset token sent to ``email``."""
    for body in reversed(outbox(pg, email)):
        match = _RESET_TOKEN.search(body)
        if match:
            return match.group("token")
    raise AssertionError(f"no password reset email for {email}")


def login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/core/login", json={"email": email, "password": password})


def verify(client: httpx.Client, pg: SyncPg, email: str) -> None:
    response = client.get(f"/core/verify-email/{verification_token(pg, email)}")
    assert response.status_code == 200, response.text


def new_account(
    client: httpx.Client, pg: SyncPg, *, email: str | None = None, password: str = DEFAULT_PASSWORD
) -> Account:
    """Register → read the link from the outbox → verify → log in, all over HTTP."""
    email = email or unique_email()
    register(client, email, password)
    verify(client, pg, email)
    response = login(client, email, password)
    assert response.status_code == 200, response.text
    tokens = response.json()
    account_id = pg.fetchval("SELECT id::text FROM pgcube.accounts WHERE email_canonical = lower($1)", email)
    return Account(
        email=email,
        password=password,
        access=tokens["access"],
        refresh=tokens["refresh"],
        account_id=account_id,
    )


def create_api_key(
    client: httpx.Client, account: Account, database_id: str | None = None, name: str = "test key"
) -> str:
    """A new API key of ``account`` (scoped to ``database_id`` when given); the whole key."""
    body: dict[str, object] = {"name": name}
    if database_id is not None:
        body["database_id"] = database_id
    response = client.post("/core/api/v1/keys", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key

"""Fixtures for the end-user tests (SPEC §11): a fresh project per test with its web key, and
helpers that speak the ``auth.*`` ops over HTTP and read the codes from the outbox.

Argon2 costs about half a second a hash here, so users that a test only needs signed in are
made with SQL (the row a sign-up writes, with a hash computed once) and signed in with a code
(no hash); tests of sign-up and passwords go through the ops.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from tests.support.accounts import Account, create_api_key
from tests.support.end_users import add_end_user
from tests.support.sync_pg import SyncPg

PASSWORD = "a long and quiet passphrase"
_CODE = re.compile(r"is:\n\n  (?P<code>[0-9]{6})\n")
_HASH: list[str] = []


PROFILE_KEYS = {
    "_userkey",
    "email",
    "email_verified",
    "display_name",
    "photo_url",
    "phone_number",
    "metadata",
    "roles",
    "auth_types",
}
"""The keys of ``user_profile`` (SPEC §11.2)."""


def password_hash() -> str:
    """The Argon2id hash of ``PASSWORD``, computed once per run."""
    if not _HASH:
        _HASH.append(PasswordHasher().hash(PASSWORD))
    return _HASH[0]


def unique_email(tag: str = "enduser") -> str:
    return f"{tag}-{secrets.token_hex(5)}@example.com"


@dataclass
class Signed:
    """An end user's session, as the §11.2 answer gave it."""

    email: str
    user_key: str
    id_token: str
    refresh_token: str
    answer: dict[str, Any] = field(repr=False)


@dataclass
class Project:
    """One database of the module's account, with a web key and a server key."""

    client: httpx.Client
    pg: SyncPg
    account: Account
    id: str
    name: str
    schema: str
    web_key: str
    _server_key: str | None = None

    # --- headers ---------------------------------------------------------------------------

    @property
    def web(self) -> dict[str, str]:
        return {"X-API-KEY": self.web_key}

    @property
    def server(self) -> dict[str, str]:
        """A server key of this database (made on first use: an account holds at most 50 keys)."""
        if self._server_key is None:
            self._server_key = create_api_key(self.client, self.account, database_id=self.id, name="server")
        return {"X-API-KEY": self._server_key}

    def drop(self) -> None:
        """Drop the database (its keys go with it)."""
        response = self.client.post(
            "/api/drop_database",
            json={"database_id": self.id, "confirmation": self.name},
            headers=self.account.headers,
        )
        assert response.status_code == 200, response.text

    def user(self, id_token: str) -> dict[str, str]:
        """The web key with an end user's id_token."""
        return {"X-API-KEY": self.web_key, "Authorization": f"Bearer {id_token}"}

    # --- requests ----------------------------------------------------------------------------

    def ddo(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(
            f"/api/{self.id}", json=body, headers=self.web if headers is None else headers
        )

    def ok(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        """An op that must succeed: its ``data`` (the envelope checked)."""
        response = self.ddo(body, headers)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert set(answer) == {"data", "meta"}, answer
        assert answer["meta"] == {}
        return answer["data"]

    def error(
        self, body: dict[str, Any], status: int, code: str, headers: dict[str, str] | None = None
    ) -> Any:
        response = self.ddo(body, headers)
        assert response.status_code == status, response.text
        answer = response.json()
        assert set(answer) == {"error"}, answer
        assert answer["error"]["code"] == code, answer
        return answer["error"]

    # --- users -------------------------------------------------------------------------------

    def make_user(self, email: str | None = None, *, verified: bool = True, password: bool = True) -> str:
        """A user as a sign-up leaves one (password ``PASSWORD``), written with SQL; its email."""
        email = email or unique_email()
        add_end_user(
            self.pg,
            self.schema,
            email=email,
            metadata=b"{}",
            password_hash=password_hash() if password else None,
            email_verified=verified,
        )
        return email

    def user_key(self, email: str) -> str:
        key: str = self.pg.fetchval(
            f'SELECT _userkey FROM "{self.schema}"._users WHERE email_canonical = lower($1)', email
        )
        return key

    def allow_new_code(self, email: str) -> None:
        """Forget when codes were sent to ``email`` (one a minute per intent)."""
        self.pg.execute(
            f"UPDATE \"{self.schema}\"._otps SET created_at = created_at - interval '1 hour' "
            "WHERE email_canonical = lower($1)",
            email,
        )

    def codes(self, email: str) -> list[str]:
        """Every code mailed to ``email``, oldest first."""
        rows = self.pg.fetch(
            "SELECT body FROM pgcube.outbox WHERE lower(to_address) = lower($1) ORDER BY id", email
        )
        return [m.group("code") for row in rows if (m := _CODE.search(row["body"]))]

    def send_code(self, email: str, intent: str, headers: dict[str, str] | None = None) -> str:
        """Ask for a code and read it from the outbox."""
        self.allow_new_code(email)
        before = len(self.codes(email))
        assert self.ok({"op": "auth.send_otp", "email": email, "intent": intent}, headers) == {"sent": True}
        codes = self.codes(email)
        assert len(codes) == before + 1, f"no new code for {email}"
        return codes[-1]

    def signin(self, email: str, aud: str | None = None) -> Signed:
        """Sign in with a code (no password hashing)."""
        code = self.send_code(email, "signin")
        body: dict[str, Any] = {"op": "auth.signin", "grant_type": "otp", "email": email, "otp": code}
        if aud is not None:
            body["aud"] = aud
        return signed(email, self.ok(body))

    def new_user(self) -> Signed:
        return self.signin(self.make_user())

    def set_auth(self, **settings: bool) -> None:
        """The project's auth settings, set before any request has cached the database."""
        self.pg.execute(
            "UPDATE pgcube.databases SET auth_settings = $2::text::jsonb WHERE id = $1",
            self.id,
            json.dumps(settings),
        )

    def tables(self) -> dict[str, list[str]]:
        """The end-user tables as text, for before/after comparisons."""
        return {
            table: [
                r[0]
                for r in self.pg.fetch(
                    f'SELECT row_to_json(t)::text FROM "{self.schema}".{table} t ORDER BY 1'
                )
            ]
            for table in ("_users", "_sessions", "_otps")
        }


def signed(email: str, data: dict[str, Any]) -> Signed:
    return Signed(
        email=email,
        user_key=data["user_profile"]["_userkey"],
        id_token=data["id_token"],
        refresh_token=data["refresh_token"],
        answer=data,
    )


def make_project(client: httpx.Client, pg: SyncPg, account: Account) -> Project:
    name = "app_" + secrets.token_hex(4)
    created = client.post("/api/create_database", json={"db_name": name}, headers=account.headers)
    assert created.status_code == 201, created.text
    return project_of(client, pg, account, created.json()["database"]["id"])


def project_of(client: httpx.Client, pg: SyncPg, account: Account, db_id: str) -> Project:
    """The account's database ``db_id`` as a project: a new web key for it."""
    web = client.post(
        "/core/api/v1/keys",
        json={"name": "web", "database_id": db_id, "kind": "web"},
        headers=account.headers,
    )
    assert web.status_code == 201, web.text
    row = pg.fetchrow("SELECT name, schema_name FROM pgcube.databases WHERE id = $1", db_id)
    return Project(
        client=client,
        pg=pg,
        account=account,
        id=db_id,
        name=row["name"],
        schema=row["schema_name"],
        web_key=web.json()["key"],
    )


def end_user_headers(client: httpx.Client, pg: SyncPg, account: Account, db_id: str) -> dict[str, str]:
    """A web key of ``db_id`` with the id_token of a user signed in there (SPEC §11.1)."""
    project = project_of(client, pg, account, db_id)
    return project.user(project.new_user().id_token)


@pytest.fixture
def project(module_client: httpx.Client, pg: SyncPg, module_account: Account) -> Iterator[Project]:
    """A fresh project (database) of the module's account, dropped afterwards."""
    made = make_project(module_client, pg, module_account)
    yield made
    made.drop()


@pytest.fixture
def clear_throttle(pg: SyncPg) -> Callable[[Project], None]:
    def clear(project: Project) -> None:
        pg.execute("DELETE FROM pgcube.login_throttle WHERE bucket LIKE $1", f"%:{project.id}:%")

    return clear


def eventually(check: Callable[[], bool], seconds: float = 3.0) -> bool:
    """Whether ``check()`` comes true within ``seconds`` (a notification crossing processes)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True

"""Set-up shared by the tests of a database's end users, files, vector search and access rules
(these over HTTP, and tests/browser in Chromium): a database made through the API, its app's
end users (``App``), its files as the API lists them, a PNG made by hand, and a signed-in
browser's form posts."""

from __future__ import annotations

import secrets
import struct
import zlib
from typing import Any

import httpx

from tests.integration.dashboard.support import csrf_of
from tests.support.accounts import Account
from tests.support.end_users import web_key

PASSWORD = "a long and quiet passphrase"
"""The password of the end users ``App.sign_up`` makes."""


def create_database(http: httpx.Client, account: Account, *collections: dict[str, Any]) -> str:
    """A new database of ``account`` (made through the API); its id."""
    created = http.post(
        "/api/create_database",
        json={"db_name": f"app_{secrets.token_hex(4)}", "collections": list(collections)},
        headers=account.headers,
    )
    assert created.status_code == 201, created.text
    database_id: str = created.json()["database"]["id"]
    return database_id


def submit(
    browser: httpx.Client, page_url: str, action: str, data: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    """Post a form of ``page_url`` to ``action`` as the browser would: the page's CSRF token in it,
    and in the ``X-CSRF-Token`` header with files (htmx sends it; a multipart body is never read for it)."""
    token = csrf_of(browser.get(page_url).text)
    if "files" in kwargs:
        kwargs["headers"] = {"X-CSRF-Token": token, **kwargs.get("headers", {})}
    return browser.post(action, data={**data, "_csrf": token}, **kwargs)


class App:
    """A database as its app sees it: a web key, and the auth.* ops sent with it."""

    def __init__(self, http: httpx.Client, account: Account) -> None:
        self.http = http
        self.account = account
        self.id = create_database(http, account)
        self.web = {"X-API-KEY": web_key(http, account, self.id)}

    def op(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(f"/api/{self.id}", json=body, headers=self.web)

    def sign_up(self, email: str, name: str) -> None:
        answer = self.op({"op": "auth.signup", "email": email, "password": PASSWORD, "display_name": name})
        assert answer.status_code == 200, answer.text

    def sign_in(self, email: str) -> httpx.Response:
        return self.op({"op": "auth.signin", "grant_type": "password", "email": email, "password": PASSWORD})

    def users(self, **params: Any) -> list[dict[str, Any]]:
        """The end users as the API lists them."""
        answer = self.http.get(
            "/api/end_users", params={"database_id": self.id, **params}, headers=self.account.headers
        )
        assert answer.status_code == 200, answer.text
        users: list[dict[str, Any]] = answer.json()["data"]
        return users

    def user(self, email: str) -> dict[str, Any]:
        return next(user for user in self.users() if user["email"] == email)

    def settings(self) -> dict[str, bool]:
        answer = self.http.get(
            "/api/auth_settings", params={"database_id": self.id}, headers=self.account.headers
        )
        assert answer.status_code == 200, answer.text
        settings: dict[str, bool] = answer.json()["data"]
        return settings


def files_of(http: httpx.Client, account: Account, database_id: str) -> list[dict[str, Any]]:
    """The database's files as the API lists them (``file.list``)."""
    answer = http.post(f"/api/{database_id}", json={"op": "file.list"}, headers=account.headers)
    assert answer.status_code == 200, answer.text
    files: list[dict[str, Any]] = answer.json()["data"]
    return files


def png(width: int, height: int) -> bytes:
    """A red PNG of ``width`` × ``height`` pixels, made by hand (8-bit RGB, no filter)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")

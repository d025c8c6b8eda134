"""A database with documents, made through the API, and what a collection page shows of them."""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.accounts import Account

_ROW_KEY = re.compile(r'<th scope="row"><code>([^<]*)</code></th>')
_TABLE = re.compile(r'<table class="(?:documents|trash)">.*?</table>', re.S)
_LINK = re.compile(r'<a href="([^"]*)" rel="{rel}">')
_TEXTAREA = re.compile(r'<textarea id="{id}"[^>]*>(.*?)</textarea>', re.S)


@dataclass
class Shop:
    """One database of ``account``, driven through the public API (the source of truth)."""

    api: httpx.Client
    account: Account
    id: str

    def ddo(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.api.post(f"/api/{self.id}", json=body, headers=headers or self.account.headers)

    def ok(self, body: dict[str, Any]) -> Any:
        answer = self.ddo(body)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def insert(self, collection: str, documents: list[dict[str, Any]]) -> None:
        for start in range(0, len(documents), 1000):
            self.ok(
                {"op": "collection.insert", "collection": collection, "data": documents[start : start + 1000]}
            )

    def documents(self, collection: str, **body: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok(
            {"op": "collection.find", "collection": collection, "limit": 1000, **body}
        )
        return found

    def keys(self, collection: str, **body: Any) -> set[str]:
        return {document["_key"] for document in self.documents(collection, **body)}

    def document(self, collection: str, key: str) -> dict[str, Any] | None:
        found = self.documents(collection, match={"_key": key})
        return found[0] if found else None

    def count(self, collection: str) -> int:
        counted: int = self.ok({"op": "collection.count", "collection": collection})["count"]
        return counted

    def url(self, collection: str, tail: str = "") -> str:
        return f"/databases/{self.id}/collections/{collection}{tail}"


def make_shop(api: httpx.Client, account: Account, collections: list[dict[str, Any]] | None = None) -> Shop:
    body = {"db_name": "shop_" + secrets.token_hex(4), "collections": collections or []}
    created = api.post("/api/create_database", json=body, headers=account.headers)
    assert created.status_code == 201, created.text
    return Shop(api=api, account=account, id=created.json()["database"]["id"])


def row_keys(page: str) -> list[str]:
    """The ``_key`` of each row of the page's documents table (or the trash's), in order."""
    table = _TABLE.search(page)
    return [html.unescape(key) for key in _ROW_KEY.findall(table.group(0))] if table else []


def link(page: str, rel: str) -> str | None:
    """The URL of the page's link with ``rel`` (``next``, ``prev``), if there is one."""
    found = re.search(_LINK.pattern.format(rel=rel), page)
    return html.unescape(found.group(1)) if found else None


def textarea(page: str, element_id: str) -> str:
    """What the page's textarea holds, as the browser shows it."""
    found = re.search(_TEXTAREA.pattern.format(id=element_id), page, re.S)
    assert found is not None, f"no textarea #{element_id}"
    return html.unescape(found.group(1))


TOO_DEEP = '{"a": ' + "[" * 3000 + "]" * 3000 + "}"
"""A match nested 3,000 levels deep: past Python's recursion limit, were it decoded recursively."""
TOO_DEEP_MESSAGE = "is nested too deep: more than 200 levels"

HTMX = {"HX-Request": "true"}


def htmx_target(element_id: str) -> dict[str, str]:
    """The headers htmx sends for a request that swaps ``#element_id``."""
    return {**HTMX, "HX-Target": element_id}

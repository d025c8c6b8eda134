"""A part of a page asked for when the whole page cannot be shown: the error page replaces the
page, instead of a page inside the part (a table's next page, the editor, the query's plan,
asked for after the database was dropped elsewhere)."""

from __future__ import annotations

import re
from typing import Literal

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.dashboard import sign_in_as
from tests.integration.dashboard.collections import Shop, make_shop
from tests.support.accounts import Account


def _drop(shop: Shop) -> None:
    """The database goes, as another tab or program would drop it, while its page is open."""
    metadata = shop.api.get(
        "/api/get_metadata", params={"database_id": shop.id}, headers=shop.account.headers
    )
    name = metadata.json()["data"]["displayName"]
    dropped = shop.api.post(
        "/api/drop_database",
        json={"database_id": shop.id, "confirmation": name},
        headers=shop.account.headers,
    )
    assert dropped.status_code == 200, dropped.text


@pytest.mark.parametrize(
    ("tail", "role", "name"),
    [
        ("", "link", "Next page"),  # the table's next page (#results)
        ("", "button", "Edit"),  # the editor (#editor)
        ("", "button", "Apply"),  # the find (#results)
        ("/query", "button", "Run and explain"),  # the query's plan (#query-results)
    ],
)
def test_the_error_page_replaces_the_page_not_a_part_of_it(
    page: Page, client: httpx.Client, account: Account, tail: str, role: Literal["link", "button"], name: str
) -> None:
    shop = make_shop(client, account, [{"name": "items"}])
    shop.insert("items", [{"_key": f"k{n:03}"} for n in range(60)])
    sign_in_as(page, account)
    page.goto(shop.url("items", tail))
    target = page.get_by_role(role, name=re.compile(f"^{name}")).first
    expect(target).to_be_visible()
    _drop(shop)
    target.click()
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("Database not found")
    expect(page.locator("header")).to_have_count(1)
    expect(page.locator("main")).to_have_count(1)
    expect(page.locator("#results, #editor, #query-results")).to_have_count(0)
    expect(page).to_have_title("Not found · pgcube")

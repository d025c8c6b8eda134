"""The dashboard end to end in Chromium, as a new user walks it: register → verify from the
outbox → sign in → a key → a database → insert, find with a match, edit, delete, restore → an
import → the query page names its index → sign out. Every page of the walk is checked for
external URLs, and nothing may leave the machine (the ``page`` fixture).

With ``PGCUBE_SCREENSHOTS=<dir>`` (``make screenshots``) the walk saves the main pages as PNGs
there, for docs/screenshots/. The first page load and the data browser's page of 50 documents
are reported at the end of the run (``measure``), never asserted.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.browser.dashboard import sign_in, sign_out
from tests.support.accounts import DEFAULT_PASSWORD, api_key_headers, latest_email, unique_email
from tests.support.browser import PageTiming, assert_page_has_no_external_urls
from tests.support.sync_pg import SyncPg

SCREENSHOTS = os.environ.get("PGCUBE_SCREENSHOTS")
IMPORTED = 3000


_TIME_THE_NEXT_SWAP = """() => {
    window.swapStarted = performance.now();
    window.swapDone = undefined;
    document.addEventListener("htmx:afterSettle", () => { window.swapDone = performance.now(); }, {once: true});
}"""
_SWAP_MS = "() => window.swapDone - window.swapStarted"


def shot(page: Page, name: str, *, height: int | None = None) -> None:
    """Check the page for external URLs; with ``PGCUBE_SCREENSHOTS``, save it (``height``: the
    top of the whole page that far down, instead of the window)."""
    assert_page_has_no_external_urls(page)
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        clip = {"x": 0, "y": 0, "width": 1280, "height": height} if height else None
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=bool(height), clip=clip)


def rows(page: Page) -> list[str]:
    """The ``_key``s of the data browser's table, in order."""
    return page.locator("#results tbody tr th[scope=row]").all_inner_texts()


def test_a_new_user_walks_the_dashboard(
    page: Page,
    pg: SyncPg,
    client: httpx.Client,
    measure: Callable[..., PageTiming],
    report: Callable[[str, float], None],
    tmp_path: Path,
) -> None:
    page.set_viewport_size({"width": 1280, "height": 860})
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations of delete and restore
    email, password = unique_email("walk"), DEFAULT_PASSWORD

    # Register, then verify through the link the outbox holds.
    page.goto("/register")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("First name").fill("Ada")
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    link = re.search(r"/core/verify-email/[A-Za-z0-9_-]+", latest_email(pg, email))
    assert link is not None
    page.goto(link.group(0))
    page.wait_for_url(re.compile(r"/sign-in\?verified=1$"))
    expect(page.get_by_role("status")).to_contain_text("verified")
    shot(page, "sign-in")

    # Sign in; the first page, loaded afresh, is measured.
    sign_in(page, email, password)
    page.goto("/databases")
    expect(page.get_by_role("heading", name="Databases")).to_be_visible()
    measure(page, "first page load: /databases")

    # A key: shown once, and it works.
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("walk key")
    page.get_by_role("button", name="Create the key").click()
    expect(page.get_by_role("heading", name=re.compile("created"))).to_be_visible()
    key = page.get_by_label("The new API key").input_value()
    assert client.get("/api/list_databases", headers=api_key_headers(key)).status_code == 200
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    shot(page, "keys")

    # A database with one collection and a declared, indexed number.
    page.get_by_role("link", name="Databases").first.click()
    expect(page.get_by_role("heading", name="Create a database")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("walkshop")
    page.get_by_label("Collection name").fill("items")
    page.get_by_label("Field 1: name").fill("price")
    page.get_by_label("Field 1: type").select_option("number")
    page.get_by_role("button", name="Create the database").click()
    page.wait_for_url(re.compile(r"/databases/[0-9a-f]{24}"))
    database_id = page.url.split("/databases/")[1].split("?")[0].split("#")[0]
    expect(page.get_by_role("heading", name="walkshop")).to_be_visible()
    shot(page, "database", height=1400)
    collection = f"/databases/{database_id}/collections/items"

    # Insert three documents with the JSON editor.
    page.goto(collection)
    page.get_by_text("Insert a document").click()
    documents = [
        {"_key": "lamp", "name": "Desk lamp", "price": 24.5},
        {"_key": "chair", "name": "Chair", "price": 80},
        {"_key": "pen", "name": "Pen", "price": 2},
    ]
    page.locator("#document").fill(json.dumps(documents))
    page.get_by_role("button", name="Insert", exact=True).click()
    expect(page.locator("#results")).to_contain_text("Desk lamp")
    assert sorted(rows(page)) == ["chair", "lamp", "pen"]

    # Find with a match; a bad one shows the API's message with the key it points at marked.
    page.get_by_role("textbox", name=re.compile("^Match")).fill('{"price": {"$gt": 10}}')
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#results tbody tr")).to_have_count(2)
    assert sorted(rows(page)) == ["chair", "lamp"]
    page.get_by_role("textbox", name=re.compile("^Match")).fill('{"price": {"$bogus": 10}}')
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("mark.pointer-mark")).to_contain_text("$bogus")
    page.get_by_role("textbox", name=re.compile("^Match")).fill("{}")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#results tbody tr")).to_have_count(3)

    # Edit the lamp: the table and the API show the new price.
    page.get_by_role("button", name="Edit lamp").click()
    editor = page.locator("#document")
    expect(editor).to_contain_text("Desk lamp")
    editor.fill(json.dumps({"name": "Desk lamp", "price": 19.9}))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#results")).to_contain_text("19.9")

    # Delete the pen to the trash, then restore it.
    page.get_by_role("button", name="Delete pen").click()
    expect(page.locator("#results tbody tr")).to_have_count(2)
    page.get_by_role("link", name="Trash").click()
    page.get_by_role("button", name=re.compile(r"^Restore pen")).click()
    page.goto(collection)
    assert sorted(rows(page)) == ["chair", "lamp", "pen"]
    with httpx.Client(base_url=str(client.base_url), headers=api_key_headers(key)) as api:
        found = api.post(
            f"/api/{database_id}", json={"op": "collection.find", "collection": "items", "match": {}}
        )
    stored = {document["_key"]: document for document in found.json()["data"]}
    assert stored["lamp"]["price"] == 19.9
    assert set(stored) == {"chair", "lamp", "pen"}

    # Import an NDJSON file, with the progress bar.
    ndjson = tmp_path / "items.ndjson"
    ndjson.write_text(
        "".join(
            json.dumps({"_key": f"i{n:04}", "name": f"item {n}", "price": n, "tag": f"t{n % 50}"}) + "\n"
            for n in range(IMPORTED)
        )
    )
    page.get_by_role("link", name="Import").click()
    page.get_by_label("File").set_input_files(str(ndjson))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-result")).to_contain_text(
        f"Imported {IMPORTED:,} documents".replace(",", "")
    )
    shot(page, "import")

    # The data browser's page of 50 documents, loaded afresh and measured.
    page.goto(collection)
    expect(page.locator("#results tbody tr")).to_have_count(50)
    measure(page, "data browser: 50 documents")
    shot(page, "data-browser", height=1500)
    page.evaluate(_TIME_THE_NEXT_SWAP)
    page.get_by_role("link", name="Next page").click()  # htmx swaps the table in place
    page.wait_for_function("() => window.swapDone !== undefined")
    expect(page.locator("#results tbody tr")).to_have_count(50)
    report("data browser: the next 50 documents (click to the table swapped in)", page.evaluate(_SWAP_MS))

    # The query page: a range with a sort on the declared number names its B-tree.
    page.get_by_role("link", name="Query and plan").click()
    expect(page.get_by_role("button", name="Run and explain")).to_be_visible()
    page.get_by_role("textbox", name=re.compile("^Match")).fill('{"price": {"$gte": 10, "$lt": 13}}')
    page.get_by_role("textbox", name=re.compile("^Sort")).fill("price")
    page.get_by_role("button", name="Run and explain").click()
    expect(page.locator("#verdict")).to_contain_text("items$f$price")
    expect(page.get_by_role("heading", name="Results")).to_be_visible()
    expect(page.locator("section[aria-labelledby=results-title] tbody th[scope=row]")).to_have_text(
        ["i0010", "i0011", "i0012"]
    )
    shot(page, "query", height=1700)

    # Sign out: the dashboard's pages send the browser to sign in again.
    sign_out(page)
    page.goto(collection)
    page.wait_for_url(re.compile(r"/sign-in"))

"""A database's services in Chromium, as its owner uses them: end users (disable, enable), files
(upload, preview, signed link, delete), vector search (add texts, search by meaning) and access
rules (save, reload), each checked both on the page and in what the API then holds; and these
pages at a phone's width, with no sideways scroll.

What each test needs besides is made through the API (a database, the app's end users); what
the test is about is done through the page, by labels and button names. Nothing may leave the
machine (the ``page`` fixture), and each page is checked for external URLs. The files page,
loaded afresh, is reported at the end of the run (``measure``), never asserted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from tests.browser.dashboard import PHONE, no_sideways_scroll, sign_in_as
from tests.integration.dashboard.app_support import App, create_database, files_of, png
from tests.integration.vectors.support import pgvector_installed
from tests.support.accounts import Account
from tests.support.browser import PageTiming, assert_page_has_no_external_urls
from tests.support.sync_pg import SyncPg

NO_PGVECTOR = "this PostgreSQL has no pgvector: vdb.* answers 501 FEATURE_UNAVAILABLE here"
PICTURE = png(8, 8)
NOTES = b"Shopping list:\neggs, flour & <milk>\n"
TOPICS = [
    "Reset your password from the sign-in page: choose Forgot password and follow the email.",
    "Our bakery sells fresh sourdough bread and croissants every morning.",
    "The football match ended in a draw after extra time and penalties.",
]
PARAPHRASE = "I can't remember my login password"
"""Another way to say the first of ``TOPICS``."""


def row_of(page: Page, text: str) -> Locator:
    """The table row that shows ``text``."""
    return page.get_by_role("row").filter(has_text=text)


def metadata(client: httpx.Client, account: Account, database_id: str) -> dict[str, Any]:
    answer = client.get("/api/get_metadata", params={"database_id": database_id}, headers=account.headers)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def path_and_query(link: str) -> str:
    """A link the server built, on the test server: its public URL names another port than the
    one it listens on."""
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_the_owner_disables_an_end_user_and_enables_them_again(
    page: Page, account: Account, client: httpx.Client
) -> None:
    app = App(client, account)
    app.sign_up("ann@example.com", "Ann Lee")
    app.sign_up("bob@example.com", "Bob")
    asked: list[str] = []

    def confirm(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", confirm)
    sign_in_as(page, account)

    page.goto(f"/databases/{app.id}")
    page.get_by_role("navigation", name="This database").get_by_role("link", name="End users").click()
    expect(page.get_by_role("heading", name="End users")).to_be_visible()
    expect(page.get_by_role("table").locator("caption")).to_have_text("2 end users")
    expect(row_of(page, "ann@example.com")).to_contain_text("Ann Lee")
    expect(row_of(page, "bob@example.com")).to_contain_text("active")
    assert_page_has_no_external_urls(page)

    page.get_by_role("button", name="Disable ann@example.com").click()
    expect(page.get_by_role("status")).to_have_text("Disabled: their sessions have ended.")
    expect(row_of(page, "ann@example.com")).to_contain_text("disabled")
    expect(row_of(page, "bob@example.com")).to_contain_text("active")
    assert asked == ["Disable ann@example.com? Every session they hold ends now."]
    assert app.user("ann@example.com")["disabled"] is True
    refused = app.sign_in("ann@example.com")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["message"] == "This user is disabled"
    assert app.sign_in("bob@example.com").status_code == 200, "only Ann is disabled"

    page.get_by_role("button", name="Enable ann@example.com").click()
    expect(page.get_by_role("status")).to_have_text("Enabled: they can sign in again.")
    expect(row_of(page, "ann@example.com")).not_to_contain_text("disabled")
    expect(row_of(page, "ann@example.com")).to_contain_text("active")
    assert len(asked) == 1, "enabling asks nothing"
    assert app.user("ann@example.com")["disabled"] is False
    assert app.sign_in("ann@example.com").status_code == 200


def test_files_are_uploaded_previewed_linked_and_deleted(
    page: Page,
    account: Account,
    client: httpx.Client,
    measure: Callable[..., PageTiming],
    tmp_path: Path,
) -> None:
    database_id = create_database(client, account)
    (tmp_path / "dot.png").write_bytes(PICTURE)
    (tmp_path / "notes.txt").write_bytes(NOTES)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmation of delete
    sign_in_as(page, account)

    # Upload an image, then a text: each lands on its own page.
    page.goto(f"/databases/{database_id}/files")
    expect(page.get_by_role("heading", name="Files")).to_be_visible()
    page.get_by_label("File", exact=True).set_input_files(tmp_path / "dot.png")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="dot.png")).to_be_visible()
    page.get_by_role("link", name="← All files").click()
    expect(page.get_by_role("heading", name="Files")).to_be_visible()
    page.get_by_text("Upload a file").click()  # folded once there are files
    page.get_by_label("File", exact=True).set_input_files(tmp_path / "notes.txt")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="notes.txt")).to_be_visible()
    expect(page.locator("pre.file-preview")).to_have_text(NOTES.decode())

    # The list, loaded afresh and measured, shows both, as the API holds them.
    page.goto(f"/databases/{database_id}/files")
    expect(page.get_by_role("link", name="notes.txt")).to_be_visible()
    measure(page, "files: the list of 2")
    expect(page.get_by_role("table").locator("caption")).to_have_text("2 files, newest first")
    expect(row_of(page, "dot.png")).to_contain_text("image/png")
    expect(row_of(page, "notes.txt")).to_contain_text("text/plain")
    held = {file["filename"]: file for file in files_of(client, account, database_id)}
    assert set(held) == {"dot.png", "notes.txt"}
    assert held["dot.png"]["filesize"] == str(len(PICTURE))
    assert_page_has_no_external_urls(page)

    # The image's page: the preview is drawn, and its signed link serves the very bytes.
    page.get_by_role("link", name="dot.png").click()
    expect(page.get_by_role("heading", name="dot.png")).to_be_visible()
    preview = page.get_by_role("img", name="Preview of dot.png")
    assert preview.evaluate("img => img.decode().then(() => img.naturalWidth)") == 8
    link = page.get_by_label("The file's signed link").input_value()
    assert re.search(r"[?&]exp=\d+&sig=", link), link
    served = client.get(path_and_query(link))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.content == PICTURE
    page.get_by_role("button", name="Copy signed link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link
    assert_page_has_no_external_urls(page)

    # Delete the text: gone from the list and from the API.
    page.get_by_role("link", name="← All files").click()
    page.get_by_role("link", name="notes.txt").click()
    expect(page.get_by_role("heading", name="notes.txt")).to_be_visible()
    page.get_by_role("button", name="Delete the file").click()
    expect(page.get_by_role("status")).to_have_text("The file is deleted.")
    expect(page.get_by_role("link", name="notes.txt")).to_have_count(0)
    expect(page.get_by_role("link", name="dot.png")).to_be_visible()
    assert [file["filename"] for file in files_of(client, account, database_id)] == ["dot.png"]
    info = client.post(
        f"/api/{database_id}",
        json={"op": "file.info", "_key": held["notes.txt"]["_key"]},
        headers=account.headers,
    )
    assert info.status_code == 404


def test_texts_added_on_the_page_are_found_by_meaning(
    page: Page, account: Account, client: httpx.Client, pg: SyncPg
) -> None:
    if not pgvector_installed(pg):
        pytest.skip(NO_PGVECTOR)
    database_id = create_database(client, account)
    sign_in_as(page, account)

    page.goto(f"/databases/{database_id}")
    page.get_by_role("navigation", name="This database").get_by_role("link", name="Vector search").click()
    expect(page.get_by_role("heading", name="Vector search", exact=True)).to_be_visible()
    add = page.get_by_role("region", name="Add a text")
    for text in TOPICS:
        add.get_by_label("Collection").fill("faq")
        add.get_by_label("Text", exact=True).fill(text)
        add.get_by_role("button", name="Add the text").click()
        expect(add.get_by_label("Text", exact=True)).to_have_value("")  # the page came back, the form emptied
        expect(page.get_by_role("status")).to_have_text("Added to “faq” as 1 chunk.")
    assert_page_has_no_external_urls(page)

    search = page.get_by_role("region", name="Search")
    search.get_by_label("Collection").fill("faq")
    search.get_by_label("Query").fill(PARAPHRASE)
    search.get_by_role("button", name="Search").click()
    results = page.locator("table.results")
    expect(results.locator("caption")).to_contain_text(f"3 results for “{PARAPHRASE}” in faq, best first")
    contents = results.locator("tbody td:nth-child(2)").all_inner_texts()
    assert contents[0] == TOPICS[0]
    assert sorted(contents) == sorted(TOPICS)
    scores = [
        float(value)
        for value in results.locator("td.score data").evaluate_all("cells => cells.map(cell => cell.value)")
    ]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[1], "the paraphrase is nearer its text than the others"
    assert results.locator("td.score").all_inner_texts() == [f"{score:.4f}" for score in scores]

    found = client.post(
        f"/api/{database_id}",
        json={"op": "vdb.search", "collection": "faq", "query": PARAPHRASE, "limit": 3},
        headers=account.headers,
    )
    assert found.status_code == 200, found.text
    assert [hit["content"] for hit in found.json()["data"]] == contents


def test_access_rules_saved_on_the_page_are_the_apis_and_stay_on_reload(
    page: Page, account: Account, client: httpx.Client
) -> None:
    database_id = create_database(client, account, {"name": "todos"})
    sign_in_as(page, account)

    page.goto(f"/databases/{database_id}")
    page.get_by_role("link", name="Access rules of todos").click()
    expect(page.get_by_role("heading", name="Access rules of todos")).to_be_visible()
    read, write = page.get_by_label("Read", exact=True), page.get_by_label("Write (insert, update, delete)")
    expect(read).to_have_value("none")
    expect(write).to_have_value("none")
    assert_page_has_no_external_urls(page)

    read.select_option("users")
    write.select_option("owner")
    page.get_by_role("button", name="Save the rules").click()
    expect(page.get_by_role("status")).to_have_text("The rules are saved.")
    expect(page.get_by_text("Now: read users, write owner.")).to_be_visible()
    (todos,) = metadata(client, account, database_id)["collections"]
    assert todos["access"] == {"read": "users", "write": "owner"}

    page.reload()
    expect(page.get_by_role("heading", name="Access rules of todos")).to_be_visible()
    expect(read).to_have_value("users")
    expect(write).to_have_value("owner")
    expect(page.get_by_role("status")).to_have_count(0)  # a fresh page: no notice left over

    # The files' rules, reached from the files page, on the same form.
    page.goto(f"/databases/{database_id}/files")
    page.get_by_role("link", name="change the files' access rules").click()
    expect(page.get_by_role("heading", name="Access rules of _files")).to_be_visible()
    read.select_option("all")
    page.get_by_role("button", name="Save the rules").click()
    expect(page.get_by_role("status")).to_have_text("The rules are saved.")
    assert metadata(client, account, database_id)["files"]["access"] == {"read": "all", "write": "owner"}


def test_the_services_pages_fit_a_phone(
    page: Page, account: Account, client: httpx.Client, pg: SyncPg
) -> None:
    app = App(client, account)
    app.sign_up("someone.with.a.long.address@example.com", "Someone With A Long Name")
    uploaded = client.post(
        f"/api/{app.id}/files",
        data={"public_read": "false"},
        files={"file": ("quarterly-report-of-the-northern-region.png", PICTURE, "image/png")},
        headers=account.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    file_key = uploaded.json()["data"]["_key"]
    vectors = f"/databases/{app.id}/vectors"
    if pgvector_installed(pg):
        inserted = client.post(
            f"/api/{app.id}",
            json={"op": "vdb.insert", "collection": "faq", "data": [{"content": TOPICS[0]}]},
            headers=account.headers,
        )
        assert inserted.status_code == 200, inserted.text
        vectors += "?" + urlencode({"collection": "faq", "q": PARAPHRASE})  # with results
    page.set_viewport_size(PHONE)
    sign_in_as(page, account)

    for path, heading in [
        (f"/databases/{app.id}/users", "End users"),
        (f"/databases/{app.id}/files", "Files"),
        (f"/databases/{app.id}/files/{file_key}", "quarterly-report-of-the-northern-region.png"),
        (vectors, "Vector search"),
        (f"/databases/{app.id}/collections/_files/access", "Access rules of _files"),
    ]:
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        assert no_sideways_scroll(page), f"{path} scrolls sideways at phone width"

"""The files pages of a database: an upload through the page's multipart form lands in the API
(``file.list``), the file's page previews it through its signed link (an image as ``<img>``, a
text in ``<pre>``) and that link serves the bytes; delete removes it; the API's errors shown;
another account's database is the API's 404."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import httpx

from tests.integration.dashboard.app_support import create_database, files_of, png, submit
from tests.integration.dashboard.support import csrf_of
from tests.support.accounts import Account

TEXT = "Grüße from the dashboard.\nSecond line: <b>not markup</b> & more.\n".encode()
PNG = png(2, 2)


def _upload(
    browser: httpx.Client, database_id: str, name: str, content: bytes, kind: str, **data: str
) -> httpx.Response:
    url = f"/databases/{database_id}/files"
    return submit(browser, url, url, data, files={"file": (name, content, kind)})


def _link(page: str) -> str:
    """The path and query of the signed link the file's page shows (the test server's public
    URL names another port than the one it listens on)."""
    found = re.search(r'<input id="signed-link" readonly value="([^"]+)"', page)
    assert found, page
    link = urlsplit(html.unescape(found.group(1)))
    assert link.query.startswith("exp="), link
    assert "&sig=" in link.query, link
    return f"{link.path}?{link.query}"


def test_an_upload_through_the_page_is_listed_previewed_and_served_by_its_signed_link(
    dashboard: httpx.Client, account: Account
) -> None:
    database_id = create_database(dashboard, account)
    sent = _upload(dashboard, database_id, "notes.txt", TEXT, "text/plain")
    assert sent.status_code == 303, sent.text
    text_page_url = sent.headers["location"]
    image = _upload(dashboard, database_id, "dot.png", PNG, "image/png")
    assert image.status_code == 303, image.text

    held = {file["filename"]: file for file in files_of(dashboard, account, database_id)}
    assert set(held) == {"notes.txt", "dot.png"}
    assert held["notes.txt"]["filesize"] == str(len(TEXT))
    assert held["dot.png"]["content_type"] == "image/png"
    assert text_page_url == f"/databases/{database_id}/files/{held['notes.txt']['_key']}"

    listing = dashboard.get(f"/databases/{database_id}/files")
    assert listing.status_code == 200
    for file in held.values():
        assert (
            f'<a href="/databases/{database_id}/files/{file["_key"]}">{file["filename"]}</a>' in listing.text
        )
    assert "2 files, newest first" in listing.text

    text_page = dashboard.get(text_page_url)
    assert text_page.status_code == 200
    assert f'<pre class="file-preview" tabindex="0">{html.escape(TEXT.decode(), quote=False)}</pre>' in (
        text_page.text.replace("&#34;", '"').replace("&#39;", "'")
    )
    assert 'data-copy="#signed-link"' in text_page.text
    served = dashboard.get(_link(text_page.text))
    assert served.status_code == 200
    assert served.content == TEXT

    image_page = dashboard.get(f"/databases/{database_id}/files/{held['dot.png']['_key']}")
    assert image_page.status_code == 200
    link = _link(image_page.text)
    assert f'<img class="file-preview" src="{html.escape(link)}"' in image_page.text, (
        "same origin: CSP lets it show"
    )
    assert "img-src 'self'" in image_page.headers["content-security-policy"]
    picture = dashboard.get(link)
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/png"
    assert picture.content == PNG
    assert dashboard.get(link.replace("sig=", "sig=x")).status_code == 403, "the signature is checked"


def test_a_public_upload_has_a_link_without_a_signature(dashboard: httpx.Client, account: Account) -> None:
    database_id = create_database(dashboard, account)
    sent = _upload(dashboard, database_id, "open.txt", b"for all", "text/plain", public_read="true")
    assert sent.status_code == 303, sent.text
    (file,) = files_of(dashboard, account, database_id)
    assert file["acl"] == "public"
    page = dashboard.get(sent.headers["location"]).text
    found = re.search(r'<input id="signed-link" readonly value="([^"]+)"', page)
    assert found
    path = urlsplit(html.unescape(found.group(1))).path
    assert dashboard.get(path).content == b"for all"


def test_delete_removes_the_file(dashboard: httpx.Client, account: Account) -> None:
    database_id = create_database(dashboard, account)
    sent = _upload(dashboard, database_id, "gone.txt", b"bye", "text/plain")
    assert sent.status_code == 303, sent.text
    (file,) = files_of(dashboard, account, database_id)
    page_url = sent.headers["location"]
    page = dashboard.get(page_url).text
    link = _link(page)
    assert 'data-confirm="Delete the file “gone.txt”?' in page
    deleted = submit(dashboard, page_url, f"{page_url}/delete", {})
    assert deleted.status_code == 303
    assert deleted.headers["location"] == f"/databases/{database_id}/files?deleted=1"
    assert "The file is deleted." in dashboard.get(deleted.headers["location"]).text
    assert files_of(dashboard, account, database_id) == []
    info = dashboard.post(
        f"/api/{database_id}", json={"op": "file.info", "_key": file["_key"]}, headers=account.headers
    )
    assert info.status_code == 404
    assert dashboard.get(link).status_code == 404
    gone = dashboard.get(page_url)
    assert gone.status_code == 404
    assert "File not found" in gone.text


def test_bad_uploads_show_the_error_and_store_nothing(dashboard: httpx.Client, account: Account) -> None:
    database_id = create_database(dashboard, account)
    url = f"/databases/{database_id}/files"

    no_file = submit(
        dashboard, url, url, {"public_read": "true"}, files={"other": ("x.txt", b"x", "text/plain")}
    )
    assert no_file.status_code == 400
    assert "Choose a file to upload." in no_file.text

    slashed = _upload(dashboard, database_id, "a/b.txt", b"x", "text/plain")
    assert slashed.status_code == 400, slashed.text
    assert 'role="alert"' in slashed.text
    assert files_of(dashboard, account, database_id) == []

    token = csrf_of(dashboard.get(url).text)
    forged = dashboard.post(url, files={"file": ("x.txt", b"x", "text/plain")})
    assert forged.status_code == 403, "no CSRF token, no upload"
    by_header = dashboard.post(
        url, files={"file": ("h.txt", b"h", "text/plain")}, headers={"X-CSRF-Token": token}
    )
    assert by_header.status_code == 303, "htmx sends the token as a header"
    assert [file["filename"] for file in files_of(dashboard, account, database_id)] == ["h.txt"]


def test_another_accounts_database_is_the_api_404_and_nothing_changes(
    dashboard: httpx.Client, intruder: httpx.Client, account: Account
) -> None:
    database_id = create_database(dashboard, account)
    sent = _upload(dashboard, database_id, "secret.txt", b"secret", "text/plain")
    assert sent.status_code == 303, sent.text
    page_url = sent.headers["location"]

    for url in (f"/databases/{database_id}/files", page_url):
        seen = intruder.get(url)
        assert seen.status_code == 404
        assert "Database not found" in seen.text
        assert "secret" not in seen.text
    token = csrf_of(intruder.get("/keys").text)
    upload = intruder.post(
        f"/databases/{database_id}/files",
        headers={"X-CSRF-Token": token},
        files={"file": ("x.txt", b"x", "text/plain")},
    )
    assert upload.status_code == 404
    deleted = intruder.post(f"{page_url}/delete", data={"_csrf": token})
    assert deleted.status_code == 404
    assert [file["filename"] for file in files_of(dashboard, account, database_id)] == ["secret.txt"]

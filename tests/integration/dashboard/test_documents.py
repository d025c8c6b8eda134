"""The data browser over plain HTTP, as a browser's links and form posts would drive it (and
htmx's partial requests): what the table shows is what the API holds, cursor pages walk every
document once, a bad match shows the API's message with its pointer marked and changes nothing,
and every write — insert, edit, delete, restore, import — lands in the API as the page says."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from markupsafe import escape

from pgcube.settings import Settings
from tests.integration.dashboard.collections import (
    TOO_DEEP,
    TOO_DEEP_MESSAGE,
    Shop,
    htmx_target,
    link,
    make_shop,
    row_keys,
    textarea,
)
from tests.integration.dashboard.support import csrf_of, signed_in
from tests.support.accounts import Account, new_account
from tests.support.live import LiveServer
from tests.support.sync_pg import SyncPg

SYSTEM = {"_key", "_userkey", "_created_at", "_modified_at"}
ITEMS = [{"name": "items", "fields": [{"name": "price", "type": "number"}]}]


@pytest.fixture(scope="module")
def browser(live_server: LiveServer, module_account: Account) -> Iterator[httpx.Client]:
    """A browser signed in to the dashboard as the module's account."""
    with live_server.client() as http:
        yield signed_in(http, module_account)


@pytest.fixture
def shop(module_client: httpx.Client, module_account: Account) -> Shop:
    """A fresh database of the module's account, with ``items`` declaring a number ``price``."""
    return make_shop(module_client, module_account, ITEMS)


def fields(document: dict[str, Any] | None) -> dict[str, Any]:
    assert document is not None
    return {name: value for name, value in document.items() if name not in SYSTEM}


def test_the_table_shows_the_documents_and_cursor_pages_walk_each_once(
    browser: httpx.Client, shop: Shop
) -> None:
    shop.insert("items", [{"_key": f"k{n:03}", "n": n, "tags": ["t", n]} for n in range(120)])
    first = browser.get(shop.url("items"))
    assert first.status_code == 200, first.text
    assert '<th scope="col">n</th>' in first.text
    assert '<th scope="col">tags</th>' in first.text
    assert '<td class="cell-json">[&#34;t&#34;,119]</td>' in first.text
    pages, page = [row_keys(first.text)], first.text
    while (following := link(page, "next")) is not None:
        answer = browser.get(following)
        assert answer.status_code == 200, answer.text
        page = answer.text
        pages.append(row_keys(page))
    assert [len(keys) for keys in pages] == [50, 50, 20]
    walked = [key for keys in pages for key in keys]
    assert len(walked) == len(set(walked)) == 120
    assert set(walked) == shop.keys("items")
    assert "Documents 101–120 of 120 · page 3" in page

    previous = link(page, "prev")
    assert previous is not None
    assert row_keys(browser.get(previous).text) == pages[1]
    second = link(first.text, "next")
    assert second is not None
    # htmx asks for the results only: the section it swaps, not the page.
    partial = browser.get(second, headers=htmx_target("results"))
    assert partial.text.lstrip().startswith('<section id="results"')
    assert "<html" not in partial.text
    assert row_keys(partial.text) == pages[1]
    assert len(row_keys(browser.get(shop.url("items"), params={"size": 25}).text)) == 25


def test_a_cursor_page_skips_nothing_when_documents_arrive_meanwhile(
    browser: httpx.Client, shop: Shop
) -> None:
    shop.insert("items", [{"_key": f"k{n:02}", "price": n} for n in range(30)])
    first = browser.get(shop.url("items"), params={"sort": "price", "size": 25})
    shop.insert("items", [{"_key": "early", "price": -1}])
    following = link(first.text, "next")
    assert following is not None
    assert row_keys(browser.get(following).text) == [f"k{n:02}" for n in range(25, 30)]


def test_the_match_filters_and_the_sort_orders(browser: httpx.Client, shop: Shop) -> None:
    shop.insert("items", [{"_key": f"p{n:02}", "price": n, "even": n % 2 == 0} for n in range(20)])
    over = browser.get(shop.url("items"), params={"match": '{"price": {"$gt": 15}}'})
    assert over.status_code == 200, over.text
    assert set(row_keys(over.text)) == {"p16", "p17", "p18", "p19"}
    assert textarea(over.text, "match") == '{"price": {"$gt": 15}}'
    even = {"match": '{"even": true, "price": {"$lt": 7}}'}
    assert row_keys(browser.get(shop.url("items"), params={**even, "sort": "-price"}).text) == [
        "p06",
        "p04",
        "p02",
        "p00",
    ]
    assert row_keys(browser.get(shop.url("items"), params={**even, "sort": '{"price": 1}'}).text) == [
        "p00",
        "p02",
        "p04",
        "p06",
    ]


def test_a_bad_match_shows_the_api_message_with_the_pointer_marked(browser: httpx.Client, shop: Shop) -> None:
    shop.insert("items", [{"_key": "a", "price": 1}])
    typed = '{"price": {"$bogus": 1}}'
    api = shop.ddo({"op": "collection.find", "collection": "items", "match": json.loads(typed)})
    assert api.status_code == 400
    error = api.json()["error"]
    answer = browser.get(shop.url("items"), params={"match": typed})
    assert answer.status_code == 400
    assert str(escape(error["message"])) in answer.text
    assert f"<code>{error['details']['pointer']}</code>" in answer.text
    assert '<mark class="pointer-mark">"$bogus": 1</mark>' in answer.text
    assert textarea(answer.text, "match") == typed, "the box keeps what was typed"
    assert row_keys(answer.text) == []
    # Through arrays too: the pointer's steps are walked in the match as typed.
    nested = '{"$or": [{"price": 1}, {"price": {"$nope": 2}}]}'
    marked = browser.get(shop.url("items"), params={"match": nested})
    assert marked.status_code == 400
    assert '<mark class="pointer-mark">"$nope": 2</mark>' in marked.text
    assert marked.text.count('class="pointer-mark"') == 1
    bad_sort = browser.get(shop.url("items"), params={"sort": "price desc desc"})
    assert bad_sort.status_code == 400
    assert "Not a sort key" in bad_sort.text
    assert "<code>/sort</code>" in bad_sort.text
    assert shop.keys("items") == {"a"}


def test_a_match_that_is_not_json_names_the_position(browser: httpx.Client, shop: Shop) -> None:
    answer = browser.get(shop.url("items"), params={"match": '{"price":\n  }'})
    assert answer.status_code == 400
    assert "The match is not valid JSON: Expecting value at line 2, column 3" in answer.text
    assert textarea(answer.text, "match") == '{"price":\n  }'
    twice = browser.get(shop.url("items"), params={"match": '{"a": 1, "a": 2}'})
    assert twice.status_code == 400
    assert "The match names the key &#39;a&#39; twice" in twice.text
    not_object = browser.get(shop.url("items"), params={"match": "[1]"})
    assert "The match must be a JSON object" in not_object.text


def test_a_match_nested_too_deep_is_refused_like_any_bad_json(browser: httpx.Client, shop: Shop) -> None:
    answer = browser.get(shop.url("items"), params={"match": TOO_DEEP})
    assert answer.status_code == 400
    assert f"The match {TOO_DEEP_MESSAGE}" in answer.text
    token = csrf_of(answer.text)
    inserted = browser.post(shop.url("items"), data={"_csrf": token, "op": "insert", "document": TOO_DEEP})
    assert inserted.status_code == 400
    assert f"The document {TOO_DEEP_MESSAGE}" in inserted.text
    assert shop.count("items") == 0


def test_insert_edit_delete_and_restore(browser: httpx.Client, shop: Shop) -> None:
    url = shop.url("items")
    token = csrf_of(browser.get(url).text)
    lamp = {"_key": "lamp", "name": "Desk lamp", "price": 24.5, "tags": ["desk"], "size": {"h": 40}}
    inserted = browser.post(url, data={"_csrf": token, "op": "insert", "document": json.dumps(lamp)})
    assert inserted.status_code == 200, inserted.text
    assert "Inserted the document lamp" in inserted.text
    assert row_keys(inserted.text) == ["lamp"]
    assert fields(shop.document("items", "lamp")) == fields(lamp)

    editing = browser.get(url, params={"edit": "lamp"})
    assert json.loads(textarea(editing.text, "document")) == fields(lamp), "no system fields"
    found = re.search(r'name="modified" value="([^"]+)"', editing.text)
    assert found is not None
    opened = found.group(1)
    # htmx loads the editor alone.
    partial = browser.get(url, params={"edit": "lamp"}, headers=htmx_target("editor"))
    assert partial.text.lstrip().startswith('<section id="editor"')

    edited = {"name": "Desk lamp", "price": 19, "size": {"w": 12}, "colour": "red"}  # tags gone, size new
    saved = browser.post(
        url,
        data={
            "_csrf": token,
            "op": "save",
            "key": "lamp",
            "modified": opened,
            "document": json.dumps(edited),
        },
    )
    assert saved.status_code == 200, saved.text
    assert "Saved the document lamp" in saved.text
    assert fields(shop.document("items", "lamp")) == edited, "the document is exactly what the editor held"

    stale = browser.post(
        url, data={"_csrf": token, "op": "save", "key": "lamp", "modified": opened, "document": "{}"}
    )
    assert stale.status_code == 409
    assert "changed since you opened it" in stale.text
    fresh = re.search(r'name="modified" value="([^"]+)"', browser.get(url, params={"edit": "lamp"}).text)
    assert fresh is not None
    refused = browser.post(
        url,
        data={
            "_csrf": token,
            "op": "save",
            "key": "lamp",
            "modified": fresh.group(1),
            "document": '{"price": "cheap"}',
        },
    )
    assert refused.status_code == 400
    assert "price" in refused.text
    assert textarea(refused.text, "document") == '{"price": "cheap"}'
    assert fields(shop.document("items", "lamp")) == edited, "a refused save changes nothing"

    deleted = browser.post(url, data={"_csrf": token, "op": "delete", "key": "lamp"})
    assert deleted.status_code == 200, deleted.text
    assert "Deleted the document lamp" in deleted.text
    assert row_keys(deleted.text) == []
    assert shop.document("items", "lamp") is None
    undo = re.search(r'name="ref" value="([^"]+)"', deleted.text)
    assert undo is not None

    trash = browser.get(shop.url("items", "/trash"))
    assert row_keys(trash.text) == ["lamp"]
    found_ref = re.search(r'name="ref" value="([^"]+)"', trash.text)
    assert found_ref is not None
    assert found_ref.group(1) == undo.group(1)
    restored = browser.post(shop.url("items", "/trash"), data={"_csrf": token, "ref": found_ref.group(1)})
    assert restored.status_code == 200, restored.text
    assert "Restored 1 document" in restored.text
    assert row_keys(restored.text) == [], "the trash is empty again"
    assert fields(shop.document("items", "lamp")) == edited


def test_bad_input_in_the_editor_changes_nothing(browser: httpx.Client, shop: Shop) -> None:
    url = shop.url("items")
    token = csrf_of(browser.get(url).text)
    not_json = browser.post(url, data={"_csrf": token, "op": "insert", "document": '{"a": 1,}'})
    assert not_json.status_code == 400
    assert "The document is not valid JSON" in not_json.text
    assert "line 1, column 9" in not_json.text
    assert textarea(not_json.text, "document") == '{"a": 1,}'
    declared = browser.post(url, data={"_csrf": token, "op": "insert", "document": '{"price": "free"}'})
    api = shop.ddo({"op": "collection.insert", "collection": "items", "data": {"price": "free"}})
    assert declared.status_code == api.status_code == 400
    assert str(escape(api.json()["error"]["message"])) in declared.text
    shop.insert("items", [{"_key": "taken"}])
    duplicate = browser.post(url, data={"_csrf": token, "op": "insert", "document": '{"_key": "taken"}'})
    assert duplicate.status_code == 409
    assert shop.keys("items") == {"taken"}
    missing = browser.get(url, params={"edit": "nope"})
    assert missing.status_code == 404
    assert "No document has the _key &#39;nope&#39;" in missing.text
    without_token = browser.post(url, data={"op": "insert", "document": '{"a": 1}'})
    assert without_token.status_code == 403
    assert shop.keys("items") == {"taken"}


def test_import_a_json_array_and_an_ndjson_file(browser: httpx.Client, shop: Shop) -> None:
    url = shop.url("imported", "/import")
    page = browser.get(url)
    assert page.status_code == 200
    header = {"X-CSRF-Token": csrf_of(page.text)}
    array = json.dumps([{"_key": "a", "n": 1}, {"_key": "b", "n": 2}]).encode()
    answer = browser.post(
        url,
        headers=header,
        data={"mode": "insert"},
        files={"json_file": ("items.json", array, "application/json")},
    )
    assert answer.status_code == 200, answer.text
    assert "Imported 2 documents into" in answer.text
    assert shop.keys("imported") == {"a", "b"}

    ndjson = b'{"_key": "c", "n": 3}\n{"_key": "d"}\n\n{"_key": "e"}\n'
    partial = browser.post(
        url,
        headers={**header, **htmx_target("import-result")},
        files={"json_file": ("more.ndjson", ndjson, "application/x-ndjson")},
    )
    assert partial.status_code == 200, partial.text
    assert partial.text.lstrip().startswith('<section id="import-result"'), (
        "the page's script swaps this part"
    )
    assert "Imported 3 documents" in partial.text
    assert shop.count("imported") == 5
    assert fields(shop.document("imported", "c")) == {"n": 3}

    broken = browser.post(
        url, headers=header, files={"json_file": ("bad.ndjson", b'{"_key": "f"}\n{"_key":\n')}
    )
    assert broken.status_code == 400
    assert "Line 2 (document 1) is not valid JSON" in broken.text
    assert "nothing was imported" in broken.text
    taken = browser.post(url, headers=header, files={"json_file": ("again.json", array)})
    assert taken.status_code == 409
    upserted = browser.post(
        url,
        headers=header,
        data={"mode": "upsert"},
        files={"json_file": ("again.json", b'[{"_key": "a", "n": 10}]')},
    )
    assert upserted.status_code == 200, upserted.text
    assert shop.count("imported") == 5
    assert fields(shop.document("imported", "a")) == {"n": 10}


def test_an_import_takes_its_token_in_the_header_only(browser: httpx.Client, shop: Shop) -> None:
    """The import's route has no body cap (the API's limit is checked from Content-Length), so the
    CSRF guard never reads its upload to find a ``_csrf`` field: without the header it is refused,
    even with the right token in the form, and nothing is imported."""
    url = shop.url("refused", "/import")
    token = csrf_of(browser.get(url).text)
    upload = {"json_file": ("x.json", b'[{"a": 1}]')}
    assert browser.post(url, files=upload).status_code == 403
    assert browser.post(url, data={"_csrf": token}, files=upload).status_code == 403
    listed = shop.api.get(
        "/api/list_collections", params={"database_id": shop.id}, headers=shop.account.headers
    )
    assert "refused" not in [collection["name"] for collection in listed.json()["collections"]]
    assert shop.count("refused") == 0
    imported = browser.post(url, files=upload, headers={"X-CSRF-Token": token})
    assert imported.status_code == 200
    assert shop.count("refused") == 1


def test_a_collection_that_does_not_exist_is_an_empty_table(browser: httpx.Client, shop: Shop) -> None:
    answer = browser.get(shop.url("nothing_yet"))
    assert answer.status_code == 200
    assert row_keys(answer.text) == []
    assert "No documents." in answer.text
    assert "There is no collection <code>nothing_yet</code> yet" in answer.text
    assert browser.get(shop.url("nothing_yet", "/trash")).status_code == 200


def test_another_account_s_database_is_the_api_s_404(
    browser: httpx.Client, shop: Shop, module_client: httpx.Client, other_account: Account
) -> None:
    theirs = make_shop(module_client, other_account, ITEMS)
    theirs.insert("items", [{"_key": "s1", "secret": "their-secret-value"}])
    api = module_client.get(
        "/api/get_metadata", params={"database_id": theirs.id}, headers=shop.account.headers
    )
    assert api.status_code == 404
    message = str(escape(api.json()["error"]["message"]))
    for tail in ("", "?edit=s1", "/query", "/trash", "/import"):
        answer = browser.get(theirs.url("items", tail))
        assert answer.status_code == 404, tail
        assert message in answer.text
        assert "their-secret-value" not in answer.text
        assert "s1" not in row_keys(answer.text)
    token = csrf_of(browser.get(shop.url("items")).text)
    for form in (
        {"op": "insert", "document": '{"_key": "planted"}'},
        {"op": "delete", "key": "s1"},
        {"op": "save", "key": "s1", "modified": "", "document": "{}"},
        {"op": "restore", "ref": "0" * 32},
    ):
        answer = browser.post(theirs.url("items"), data={"_csrf": token, **form})
        assert answer.status_code == 404, form
    assert (
        browser.post(theirs.url("items", "/trash"), data={"_csrf": token, "ref": "0" * 32}).status_code == 404
    )
    upload = browser.post(
        theirs.url("items", "/import"),
        headers={"X-CSRF-Token": token},
        files={"json_file": ("x.json", b'[{"_key": "planted"}]')},
    )
    assert upload.status_code == 404
    assert theirs.keys("items") == {"s1"}
    assert fields(theirs.document("items", "s1")) == {"secret": "their-secret-value"}


def test_a_part_asked_of_a_database_that_is_gone_is_the_whole_error_page(
    browser: httpx.Client, shop: Shop, module_client: httpx.Client, other_account: Account
) -> None:
    """htmx asks for a part (``HX-Target``); the answer is the whole error page, which the
    dashboard's script puts in place of the page (tests/browser/test_partial_errors.py)."""
    theirs = make_shop(module_client, other_account, ITEMS)
    for tail, target in (("", "results"), ("?edit=s1", "editor"), ("/query", "query-results")):
        answer = browser.get(theirs.url("items", tail), headers=htmx_target(target))
        assert answer.status_code == 404, target
        assert answer.text.lstrip().lower().startswith("<!doctype html>"), target
        assert "Database not found" in answer.text


def test_an_upload_past_the_server_s_limit_is_refused_before_it_is_read(
    settings: Settings, pg: SyncPg
) -> None:
    small = msgspec.structs.replace(settings, max_import_bytes=2000)
    with LiveServer(small) as server, server.client() as api, server.client() as http:
        account = new_account(api, pg)
        shop = make_shop(api, account)
        signed_in(http, account)
        url = shop.url("big", "/import")
        header = {"X-CSRF-Token": csrf_of(http.get(url).text)}
        big = json.dumps([{"n": n, "text": "x" * 100} for n in range(30)]).encode()
        answer = http.post(url, headers=header, files={"json_file": ("big.json", big)})
        assert answer.status_code == 413
        assert "larger than this server takes (2000 bytes)" in answer.text
        assert shop.count("big") == 0
        fits = http.post(url, headers=header, files={"json_file": ("small.json", b'[{"n": 1}]')})
        assert fits.status_code == 200, fits.text
        assert shop.count("big") == 1

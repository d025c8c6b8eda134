"""The query page over plain HTTP: beside a find's first page, what the explain op says of it —
the index it uses (primary key, GIN, a declared field's B-tree) or a sequential scan, the SQL
and its parameters, the rows, and the advice — as the API answers it."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from markupsafe import escape

from tests.integration.dashboard.collections import (
    TOO_DEEP,
    TOO_DEEP_MESSAGE,
    Shop,
    htmx_target,
    make_shop,
    row_keys,
    textarea,
)
from tests.integration.dashboard.support import signed_in
from tests.support.accounts import Account
from tests.support.live import LiveServer

_VERDICT = re.compile(r'<p class="verdict [^"]*" id="verdict">(.*?)</p>', re.S)


@pytest.fixture(scope="module")
def browser(live_server: LiveServer, module_account: Account) -> Iterator[httpx.Client]:
    with live_server.client() as http:
        yield signed_in(http, module_account)


@pytest.fixture(scope="module")
def shop(module_client: httpx.Client, module_account: Account) -> Shop:
    """``items``: 5,000 documents (enough for PostgreSQL to prefer an index to reading them all),
    ``price`` declared (its own B-tree), ``tag`` and ``name`` not (the GIN index serves equality)."""
    shop = make_shop(
        module_client, module_account, [{"name": "items", "fields": [{"name": "price", "type": "number"}]}]
    )
    shop.insert(
        "items",
        [{"_key": f"i{n:04}", "price": n, "name": f"name{n:04}", "tag": f"t{n % 100}"} for n in range(5000)],
    )
    return shop


def verdict(page: str) -> str:
    found = _VERDICT.search(page)
    assert found is not None, "the page names no index and no scan"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def explained(shop: Shop, **body: Any) -> dict[str, Any]:
    """What the API itself says of the find."""
    data: dict[str, Any] = shop.ok({"op": "collection.explain", "collection": "items", **body})
    return data


def query(browser: httpx.Client, shop: Shop, **params: Any) -> httpx.Response:
    return browser.get(shop.url("items", "/query"), params=params)


def test_a_find_by_key_uses_the_primary_key(browser: httpx.Client, shop: Shop) -> None:
    answer = query(browser, shop, match='{"_key": "i0007"}')
    assert answer.status_code == 200, answer.text
    assert verdict(answer.text) == "Uses index items$pkey"
    assert row_keys(answer.text) == ["i0007"]
    api = explained(shop, match={"_key": "i0007"}, limit=20)
    assert api["indexes"] == ["items$pkey"]
    assert f"<code>{escape(api['sql'])}</code>" in answer.text, "the SQL pgcube runs, as the API shows it"
    for number, value in enumerate(api["params"], start=1):
        assert f"<code>${number}</code>" in answer.text
        assert str(escape(json.dumps(value, indent=2))) in answer.text


def test_a_range_on_a_declared_field_uses_its_b_tree(browser: httpx.Client, shop: Shop) -> None:
    answer = query(browser, shop, match='{"price": {"$gte": 10, "$lt": 13}}', sort="price")
    assert answer.status_code == 200, answer.text
    assert verdict(answer.text) == "Uses index items$f$price"
    assert row_keys(answer.text) == ["i0010", "i0011", "i0012"]
    assert "None: pgcube has nothing to suggest" in answer.text


def test_an_equality_on_an_undeclared_field_uses_the_gin_index(browser: httpx.Client, shop: Shop) -> None:
    answer = query(browser, shop, match='{"tag": "t7"}', sort="price", limit=5)
    api = explained(shop, match={"tag": "t7"}, sort="price", limit=5)
    assert answer.status_code == 200, answer.text
    assert "items$data" in api["indexes"]
    assert verdict(answer.text) == "Uses index" + ("es " if len(api["indexes"]) > 1 else " ") + ", ".join(
        api["indexes"]
    )
    assert row_keys(answer.text) == ["i0007", "i0107", "i0207", "i0307", "i0407"]


def test_an_unanchored_regex_is_a_sequential_scan_with_advice(browser: httpx.Client, shop: Shop) -> None:
    answer = query(browser, shop, match='{"name": {"$regex": "7$"}}', sort="name", limit=3)
    assert answer.status_code == 200, answer.text
    assert verdict(answer.text).startswith("Sequential scan")
    api = explained(shop, match={"name": {"$regex": "7$"}}, sort="name", limit=3)
    assert api["indexes"] == []
    codes = [advice["code"] for advice in api["advice"]]
    assert "UNANCHORED_REGEX" in codes
    for advice in api["advice"]:
        assert f'<span class="badge">{advice["code"]}</span>' in answer.text
        assert f"<code>{advice['pointer']}</code>" in answer.text
    assert "<strong>Seq Scan</strong> on <code>items</code>" in answer.text
    assert row_keys(answer.text) == ["i0007", "i0017", "i0027"]


def test_analyze_shows_the_actual_rows(browser: httpx.Client, shop: Shop) -> None:
    plain = query(browser, shop, match='{"tag": "t7"}')
    assert "actual rows:" not in plain.text
    analyzed = query(browser, shop, match='{"tag": "t7"}', analyze="true")
    assert analyzed.status_code == 200, analyzed.text
    api = explained(shop, match={"tag": "t7"}, limit=20, analyze=True)
    assert f"actual rows: <strong>{api['rows']['actual']}</strong>" in analyzed.text
    assert f"Estimated rows: <strong>{api['rows']['estimated']}</strong>" in analyzed.text
    assert shop.count("items") == 5000, "analyze runs a read: nothing changed"


def test_htmx_swaps_the_results_and_the_plan_only(browser: httpx.Client, shop: Shop) -> None:
    answer = browser.get(
        shop.url("items", "/query"),
        params={"match": '{"_key": "i0001"}'},
        headers=htmx_target("query-results"),
    )
    assert answer.text.lstrip().startswith('<div id="query-results"')
    assert "<html" not in answer.text
    assert verdict(answer.text) == "Uses index items$pkey"


def test_a_bad_match_is_the_api_s_error_with_its_pointer_marked(browser: httpx.Client, shop: Shop) -> None:
    typed = '{"price": {"$gt": 1, "$bogus": 2}}'
    answer = query(browser, shop, match=typed)
    assert answer.status_code == 400
    error = shop.ddo({"op": "collection.explain", "collection": "items", "match": json.loads(typed)}).json()[
        "error"
    ]
    assert str(escape(error["message"])) in answer.text
    assert '<mark class="pointer-mark">"$bogus": 2</mark>' in answer.text
    assert textarea(answer.text, "match") == typed
    assert 'id="verdict"' not in answer.text
    not_json = query(browser, shop, match="{price: 1}")
    assert not_json.status_code == 400
    assert "The match is not valid JSON" in not_json.text
    too_deep = query(browser, shop, match=TOO_DEEP)
    assert too_deep.status_code == 400
    assert f"The match {TOO_DEEP_MESSAGE}" in too_deep.text


def test_a_collection_that_does_not_exist(browser: httpx.Client, shop: Shop) -> None:
    answer = browser.get(shop.url("nothing_here", "/query"))
    assert answer.status_code == 200
    assert row_keys(answer.text) == []
    error = shop.ddo({"op": "collection.explain", "collection": "nothing_here"}).json()["error"]
    assert str(escape(error["message"])) in answer.text

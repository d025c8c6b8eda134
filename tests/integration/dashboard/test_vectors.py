"""The vector search page of a database: texts added through its form land in the collection
(``vdb.insert``), a search shows the API's results with their scores, best first; a bad match
shows the API's error; without pgvector the page shows the API's 501; another account's
database is the API's 404."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from tests.integration.dashboard.app_support import create_database, submit
from tests.integration.dashboard.collections import TOO_DEEP, TOO_DEEP_MESSAGE
from tests.integration.vectors.support import pgvector_installed
from tests.support.accounts import Account
from tests.support.live import LiveServer
from tests.support.sync_pg import SyncPg

NO_PGVECTOR = "this PostgreSQL has no pgvector: vdb.* answers 501 FEATURE_UNAVAILABLE here"
TEXTS = [
    ("Reset your password from the sign-in page: choose Forgot password.", '{"topic": "account"}'),
    ("Invoices are emailed on the first day of each month.", '{"topic": "billing"}'),
    ("We refund unused months within 30 days.", '{"topic": "billing"}'),
]


@pytest.fixture
def has_pgvector(live_server: LiveServer, pg: SyncPg) -> bool:
    """Whether the server's PostgreSQL has pgvector (its migrations install it where offered)."""
    return pgvector_installed(pg)


def _add(
    browser: httpx.Client, database_id: str, collection: str, content: str, metadata: str = ""
) -> httpx.Response:
    url = f"/databases/{database_id}/vectors"
    return submit(browser, url, url, {"collection": collection, "content": content, "metadata": metadata})


def _hits(page: str) -> list[tuple[float, str]]:
    """The results the page shows: (score, content), in its order."""
    body = page.split('<table class="results">', 1)[1].split("</tbody>", 1)[0]
    return [
        (float(score), html.unescape(content))
        for score, content in re.findall(r'<data value="([^"]+)">[^<]*</data></td>\s*<td>([^<]*)</td>', body)
    ]


def _api_search(http: httpx.Client, account: Account, database_id: str, body: dict[str, Any]) -> list[Any]:
    answer = http.post(f"/api/{database_id}", json={"op": "vdb.search", **body}, headers=account.headers)
    assert answer.status_code == 200, answer.text
    data: list[Any] = answer.json()["data"]
    return data


def test_texts_added_through_the_form_are_found_best_first(
    dashboard: httpx.Client, account: Account, has_pgvector: bool
) -> None:
    if not has_pgvector:
        pytest.skip(NO_PGVECTOR)
    database_id = create_database(dashboard, account)
    for content, metadata in TEXTS:
        added = _add(dashboard, database_id, "faq", content, metadata)
        assert added.status_code == 200, added.text
        assert "Added to “faq” as 1 chunk." in added.text

    url = f"/databases/{database_id}/vectors"
    page = dashboard.get(url, params={"collection": "faq", "q": "I forgot my password", "limit": 3})
    assert page.status_code == 200
    hits = _hits(page.text)
    assert len(hits) == 3
    scores = [score for score, _ in hits]
    assert scores == sorted(scores, reverse=True)
    assert hits[0][1] == TEXTS[0][0]
    api = _api_search(
        dashboard, account, database_id, {"collection": "faq", "query": "I forgot my password", "limit": 3}
    )
    assert [(round(hit["_score"], 6), hit["content"]) for hit in api] == [
        (round(score, 6), content) for score, content in hits
    ]
    assert '<option value="faq">' in page.text, "the collection is offered"

    billing = dashboard.get(
        url,
        params={
            "collection": "faq",
            "q": "when is my bill",
            "limit": 10,
            "match": '{"metadata.topic": "billing"}',
        },
    )
    assert billing.status_code == 200
    assert sorted(content for _, content in _hits(billing.text)) == sorted(
        c for c, m in TEXTS if "billing" in m
    )


def test_bad_input_shows_the_api_error_and_adds_nothing(
    dashboard: httpx.Client, account: Account, has_pgvector: bool
) -> None:
    if not has_pgvector:
        pytest.skip(NO_PGVECTOR)
    database_id = create_database(dashboard, account)
    assert _add(dashboard, database_id, "faq", "One text.").status_code == 200
    url = f"/databases/{database_id}/vectors"

    unknown = dashboard.get(url, params={"collection": "faq", "q": "text", "match": '{"$bogus": 1}'})
    assert unknown.status_code == 400
    assert "Unknown operator &#39;$bogus&#39;" in unknown.text
    assert "<code>/match/$bogus</code>" in unknown.text, "the API's pointer is shown"
    not_json = dashboard.get(url, params={"collection": "faq", "q": "text", "match": "{nope"})
    assert not_json.status_code == 400
    assert "match is not valid JSON" in not_json.text
    missing = dashboard.get(url, params={"collection": "nope", "q": "text"})
    assert missing.status_code == 404
    assert "Collection not found" in missing.text

    for collection, content in (("Bad Name!", "text"), ("faq", "")):
        refused = _add(dashboard, database_id, collection, content)
        assert refused.status_code == 400
        assert 'role="alert"' in refused.text
    assert len(_api_search(dashboard, account, database_id, {"collection": "faq", "query": "text"})) == 1


@pytest.mark.parametrize(
    ("match", "message"),
    [
        (
            '{"metadata.topic": "a", "metadata.topic": "b"}',
            "The match names the key &#39;metadata.topic&#39; twice",
        ),
        ('{"score": NaN}', "The match holds NaN, which JSON does not have"),
        (TOO_DEEP, f"The match {TOO_DEEP_MESSAGE}"),
        (
            '["billing"]',
            "The match must be a JSON object, like {&#34;metadata.topic&#34;: &#34;billing&#34;}",
        ),
    ],
)
def test_a_match_is_held_to_the_json_rules_of_every_page(
    dashboard: httpx.Client, account: Account, match: str, message: str
) -> None:
    database_id = create_database(dashboard, account)
    answer = dashboard.get(
        f"/databases/{database_id}/vectors", params={"collection": "faq", "q": "text", "match": match}
    )
    assert answer.status_code == 400
    assert message in answer.text


def test_without_pgvector_the_page_shows_the_api_501(
    dashboard: httpx.Client, account: Account, has_pgvector: bool
) -> None:
    if has_pgvector:
        pytest.skip("this PostgreSQL has pgvector: the vdb.* ops work here")
    database_id = create_database(dashboard, account)
    added = _add(dashboard, database_id, "faq", "One text.")
    assert added.status_code == 501
    assert "pgvector" in added.text
    searched = dashboard.get(f"/databases/{database_id}/vectors", params={"collection": "faq", "q": "x"})
    assert searched.status_code == 501
    assert "pgvector" in searched.text


def test_another_accounts_database_is_the_api_404_and_nothing_changes(
    dashboard: httpx.Client, intruder: httpx.Client, account: Account, has_pgvector: bool
) -> None:
    database_id = create_database(dashboard, account)
    url = f"/databases/{database_id}/vectors"
    seen = intruder.get(url, params={"collection": "faq", "q": "x"})
    assert seen.status_code == 404
    assert "Database not found" in seen.text
    tried = submit(intruder, "/keys", url, {"collection": "faq", "content": "planted"})
    assert tried.status_code == 404
    metadata = dashboard.get(
        "/api/get_metadata", params={"database_id": database_id}, headers=account.headers
    )
    assert [c["name"] for c in metadata.json()["data"]["collections"]] == []

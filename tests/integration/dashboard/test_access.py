"""The access rules page of a collection: the rules get_metadata shows, saved through the form
with ``POST /api/set_access``; a bad rule shows the API's error and changes nothing; the files'
rules (``_files``) on the same page; another account's database is the API's 404."""

from __future__ import annotations

import re

import httpx

from tests.integration.dashboard.app_support import create_database, submit
from tests.support.accounts import Account


def _metadata(http: httpx.Client, account: Account, database_id: str) -> dict[str, object]:
    answer = http.get("/api/get_metadata", params={"database_id": database_id}, headers=account.headers)
    assert answer.status_code == 200, answer.text
    data: dict[str, object] = answer.json()["data"]
    return data


def _rules(http: httpx.Client, account: Account, database_id: str, collection: str) -> dict[str, str]:
    """The collection's rules as get_metadata shows them."""
    data = _metadata(http, account, database_id)
    if collection == "_files":
        return data["files"]["access"]  # type: ignore[index,no-any-return]
    found = [c for c in data["collections"] if c["name"] == collection]  # type: ignore[attr-defined]
    assert found, data
    return found[0]["access"]  # type: ignore[no-any-return]


def _selected(html: str, action: str) -> str:
    """The option the page has selected in the select of ``action``."""
    select = re.search(rf'<select id="rule-{action}" name="{action}">(.*?)</select>', html, re.S)
    assert select, html
    chosen = re.findall(r'<option value="(\w+)" selected', select.group(1))
    assert len(chosen) == 1, select.group(1)
    return chosen[0]


def test_the_form_shows_the_rules_and_saves_what_get_metadata_then_shows(
    dashboard: httpx.Client, account: Account
) -> None:
    database_id = create_database(dashboard, account, {"name": "todos"})
    url = f"/databases/{database_id}/collections/todos/access"
    page = dashboard.get(url)
    assert page.status_code == 200
    assert (_selected(page.text, "read"), _selected(page.text, "write")) == ("none", "none")

    saved = submit(dashboard, url, url, {"read": "users", "write": "owner"})
    assert saved.status_code == 200, saved.text
    assert "The rules are saved." in saved.text
    assert _rules(dashboard, account, database_id, "todos") == {"read": "users", "write": "owner"}
    again = dashboard.get(url).text
    assert (_selected(again, "read"), _selected(again, "write")) == ("users", "owner")


def test_the_choices_are_the_rules_the_api_takes(dashboard: httpx.Client, account: Account) -> None:
    database_id = create_database(dashboard, account, {"name": "todos"})
    html = dashboard.get(f"/databases/{database_id}/collections/todos/access").text
    schema = dashboard.get("/schema/openapi.json").json()
    body = schema["paths"]["/api/set_access"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    for action in ("read", "write"):
        rule = body["properties"][action]
        if "$ref" in rule:
            rule = schema["components"]["schemas"][rule["$ref"].rsplit("/", 1)[1]]
        select = re.search(rf'<select id="rule-{action}".*?</select>', html, re.S)
        assert select
        assert sorted(re.findall(r'<option value="(\w+)"', select.group(0))) == sorted(rule["enum"])


def test_an_unknown_rule_shows_the_api_error_and_changes_nothing(
    dashboard: httpx.Client, account: Account
) -> None:
    database_id = create_database(
        dashboard, account, {"name": "todos", "access": {"read": "owner", "write": "owner"}}
    )
    url = f"/databases/{database_id}/collections/todos/access"
    refused = submit(dashboard, url, url, {"read": "everyone", "write": "owner"})
    assert refused.status_code == 400
    assert 'role="alert"' in refused.text
    assert "Invalid enum value &#39;everyone&#39;" in refused.text
    assert _rules(dashboard, account, database_id, "todos") == {"read": "owner", "write": "owner"}
    assert (_selected(refused.text, "read"), _selected(refused.text, "write")) == ("owner", "owner")


def test_the_files_rules_are_set_on_the_same_page(dashboard: httpx.Client, account: Account) -> None:
    database_id = create_database(dashboard, account)
    url = f"/databases/{database_id}/collections/_files/access"
    page = dashboard.get(url)
    assert page.status_code == 200
    assert (_selected(page.text, "read"), _selected(page.text, "write")) == ("owner", "owner")
    saved = submit(dashboard, url, url, {"read": "all", "write": "users"})
    assert saved.status_code == 200, saved.text
    assert _rules(dashboard, account, database_id, "_files") == {"read": "all", "write": "users"}


def test_a_missing_collection_is_a_404_page(dashboard: httpx.Client, account: Account) -> None:
    database_id = create_database(dashboard, account)
    missing = dashboard.get(f"/databases/{database_id}/collections/nope/access")
    assert missing.status_code == 404
    assert "Collection not found" in missing.text


def test_another_accounts_database_is_the_api_404_and_nothing_changes(
    dashboard: httpx.Client, intruder: httpx.Client, account: Account
) -> None:
    database_id = create_database(dashboard, account, {"name": "todos"})
    url = f"/databases/{database_id}/collections/todos/access"
    seen = intruder.get(url)
    assert seen.status_code == 404
    assert "Database not found" in seen.text
    assert "todos" not in seen.text.split("<main", 1)[1]
    tried = submit(intruder, "/keys", url, {"read": "all", "write": "all"})  # the token of a page of its own
    assert tried.status_code == 404
    assert _rules(dashboard, account, database_id, "todos") == {"read": "none", "write": "none"}

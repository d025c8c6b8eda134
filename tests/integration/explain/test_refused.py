"""What ``collection.explain`` never does: run a write, take a key its command would not read,
answer a web key or another tenant — each refusal a clear 400/403/404 in the envelope of its
dialect, with nothing changed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.end_users.conftest import project_of
from tests.integration.explain.conftest import Explained
from tests.support.accounts import new_account


@pytest.mark.parametrize(
    ("ddo", "rest", "statement"),
    [
        (
            {"command": "update", "match": {"tag": "t3"}, "data": {"$set": {"price": 0}}},
            {
                "command": "update",
                "filters": json.dumps({"tag": "t3"}),
                "data": '{"$set": {"price": 0}}',
            },
            "UPDATE ",
        ),
        (
            {"command": "delete", "match": {"tag": "t3"}},
            {"command": "delete", "filters": json.dumps({"tag": "t3"})},
            "INSERT INTO",  # the move to the trash
        ),
    ],
)
def test_an_explained_write_is_planned_and_changes_nothing(
    explained: Explained, ddo: dict[str, Any], rest: dict[str, Any], statement: str
) -> None:
    before = explained.rows()
    answer = explained.explain(**ddo)
    assert statement in answer["sql"]
    assert answer["indexes"] == [explained.index("$data")]
    assert "actual" not in answer["rows"]
    response = explained.rest(rest)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["sql"] == answer["sql"]
    assert explained.rows() == before
    assert explained.trash() == 0


def test_a_delete_for_good_is_explained_as_one(explained: Explained) -> None:
    before = explained.rows()
    response = explained.rest({"command": "delete", "filters": '{"tag": "t1"}', "soft_delete": "false"})
    assert response.status_code == 200, response.text
    sql = response.json()["data"]["sql"]
    assert sql.startswith(f'DELETE FROM "{explained.schema}"."items" WHERE ')
    assert "_trash" not in sql
    assert explained.rows() == before


def test_every_document_needs_all_as_the_write_does(explained: Explained) -> None:
    refused = explained.rest({"command": "delete", "filters": "{}"})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["details"]["pointer"] == "/filters"
    allowed = explained.rest({"command": "delete", "filters": "{}", "all": "true"})
    assert allowed.status_code == 200, allowed.text
    assert explained.trash() == 0


@pytest.mark.parametrize("command", ["update", "delete"])
def test_analyze_with_a_write_is_refused(explained: Explained, command: str) -> None:
    before = explained.rows()
    body: dict[str, Any] = {"op": "collection.explain", "collection": "items", "command": command}
    body |= {"match": {"category": "c004"}, "analyze": True}
    params: dict[str, Any] = {"command": command, "filters": '{"category": "c004"}', "analyze": "true"}
    if command == "update":
        body["data"] = {"$set": {"price": 0}}
        params["data"] = '{"$set": {"price": 0}}'
    by_ddo = explained.ddo(body)
    by_rest = explained.rest(params)
    for response, envelope in ((by_ddo, {"error"}), (by_rest, {"success", "error"})):
        assert response.status_code == 400, response.text
        assert set(response.json()) == envelope
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"] == {"field": "analyze", "pointer": "/analyze"}
        assert "only planned" in error["message"]
    assert explained.rows() == before
    assert explained.trash() == 0


BAD_BODIES: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
    ({"command": "insert"}, "VALIDATION_ERROR", {"field": "command"}),
    ({"command": 3}, "VALIDATION_ERROR", {"field": "command"}),
    ({"analyze": "yes"}, "VALIDATION_ERROR", {"field": "analyze"}),
    ({"limit": "ten"}, "VALIDATION_ERROR", {"field": "limit"}),
    ({"bogus": 1}, "VALIDATION_ERROR", {"field": "bogus"}),
    ({"command": "count", "sort": "price"}, "VALIDATION_ERROR", {"field": "sort", "pointer": "/sort"}),
    ({"command": "count", "page": 2}, "VALIDATION_ERROR", {"field": "page", "pointer": "/page"}),
    ({"data": {"$set": {"a": 1}}}, "VALIDATION_ERROR", {"field": "data", "pointer": "/data"}),
    (
        {"command": "delete", "filter": {"n": 1}},
        "VALIDATION_ERROR",
        {"field": "filter", "pointer": "/filter"},
    ),
    ({"command": "update", "match": {"n": 1}}, "VALIDATION_ERROR", {"field": "data"}),
    ({"match": {"n": {"$bogus": 1}}}, "INVALID_QUERY", {"pointer": "/match/n/$bogus"}),
    ({"command": "count", "match": {"s:$regex": "("}}, "INVALID_QUERY", {}),  # as the count answers it
    ({"command": "update", "match": {"n": 1}, "data": {"$bogus": {"n": 1}}}, "VALIDATION_ERROR", {}),
    ({"sort": {"n": "sideways"}}, "INVALID_QUERY", {"pointer": "/sort/n"}),
    ({"limit": 1001}, "INVALID_QUERY", {"pointer": "/limit"}),
    ({"cursor": "not-a-cursor"}, "INVALID_QUERY", {"pointer": "/cursor"}),
]


@pytest.mark.parametrize(("body", "code", "details"), BAD_BODIES)
def test_a_bad_body_is_a_clear_400(
    explained: Explained, body: dict[str, Any], code: str, details: dict[str, Any]
) -> None:
    before = explained.rows()
    response = explained.ddo({"op": "collection.explain", "collection": "items", **body})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert details.items() <= error["details"].items(), error
    assert explained.rows() == before


BAD_PARAMETERS: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
    ({"command": "insert"}, "VALIDATION_ERROR", {"field": "command"}),
    ({"analyze": "maybe"}, "VALIDATION_ERROR", {}),
    ({"page_size": 0}, "VALIDATION_ERROR", {}),
    ({"filter": "{}"}, "VALIDATION_ERROR", {"field": "filter"}),
    ({"command": "count", "sort": "price"}, "VALIDATION_ERROR", {"field": "sort"}),
    ({"data": '{"$set": {"a": 1}}'}, "VALIDATION_ERROR", {"field": "data"}),
    ({"command": "update", "filters": '{"n": 1}'}, "VALIDATION_ERROR", {"field": "data"}),
    ({"command": "update", "filters": '{"n": 1}', "data": "{n"}, "INVALID_QUERY", {"pointer": "/data"}),
    ({"filters": "{n: 1"}, "INVALID_QUERY", {"pointer": "/filters"}),
    ({"filters": '{"n": {"$bogus": 1}}'}, "INVALID_QUERY", {"pointer": "/filters/n/$bogus"}),
    ({"command": "update", "filters": "{}", "data": '{"n": 1}'}, "VALIDATION_ERROR", {"pointer": "/filters"}),
]


@pytest.mark.parametrize(("params", "code", "details"), BAD_PARAMETERS)
def test_bad_query_parameters_are_a_clear_400(
    explained: Explained, params: dict[str, Any], code: str, details: dict[str, Any]
) -> None:
    before = explained.rows()
    response = explained.rest(params)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["success"] is False
    assert answer["error"]["code"] == code, answer
    assert details.items() <= answer["error"]["details"].items(), answer
    assert explained.rows() == before


def test_a_collection_that_does_not_exist_is_404(explained: Explained) -> None:
    body = {"op": "collection.explain", "collection": "nothing_here", "command": "count"}
    assert explained.ddo(body).json()["error"]["code"] == "COLLECTION_NOT_FOUND"
    response = explained.client.get(
        "/api/explain",
        params={"database_id": explained.id, "collection_name": "nothing_here"},
        headers=explained.account.headers,
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "COLLECTION_NOT_FOUND"


def test_a_web_key_may_not_explain(explained: Explained) -> None:
    """A plan shows the SQL and row estimates of the whole table: not for browsers."""
    project = project_of(explained.client, explained.pg, explained.account, explained.id)
    body = {"op": "collection.explain", "collection": "items", "match": {"tag": "t1"}}
    for headers, status in ((project.web, 403), (project.server, 200)):  # the account's server key may
        by_ddo = explained.ddo(body, headers=headers)
        by_rest = explained.rest({"filters": '{"tag": "t1"}'}, headers=headers)
        assert (by_ddo.status_code, by_rest.status_code) == (status, status), (by_ddo.text, by_rest.text)
        if status == 403:
            assert by_ddo.json()["error"]["code"] == by_rest.json()["error"]["code"] == "FORBIDDEN"


def test_another_tenant_gets_404(explained: Explained) -> None:
    other = new_account(explained.client, explained.pg)
    body = {"op": "collection.explain", "collection": "items", "match": {"tag": "t1"}}
    for response in (explained.ddo(body, headers=other.headers), explained.rest({}, headers=other.headers)):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "DATABASE_NOT_FOUND"

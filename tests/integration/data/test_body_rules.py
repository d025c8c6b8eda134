"""Rules every JSON body is held to before a handler decodes it (issue 14, finding 10): a key
named twice in one object is refused, whatever the body's Content-Type says, and nothing runs."""

from __future__ import annotations

import pytest

from tests.integration.data.conftest import Db


def refused_as_duplicate(response: object, key: str) -> None:
    assert getattr(response, "status_code", None) == 400, getattr(response, "text", response)
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "INVALID_JSON"
    assert error["details"] == {"key": key}
    assert repr(key) in error["message"]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_a_second_op_cannot_hide_a_delete(db: Db, content_type: str | None) -> None:
    # The attack: a reader of the body sees a count; the decoder kept the last "op".
    db.insert("notes", [{"_key": "a"}, {"_key": "b"}])
    body = b'{"op": "collection.count", "collection": "notes", "match": {}, "op": "collection.delete"}'
    headers = dict(db.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    refused_as_duplicate(db.client.post(f"/api/{db.id}", content=body, headers=headers), "op")
    assert sorted(db.keys("notes")) == ["a", "b"]


def test_a_duplicate_key_inside_a_document_refuses_the_whole_batch(db: Db) -> None:
    db.insert("notes", [{"_key": "seed"}])
    body = (
        b'{"op": "collection.insert", "collection": "notes", "data": '
        b'[{"_key": "x", "n": 1}, {"_key": "y", "n": 1, "n": 2}]}'
    )
    refused_as_duplicate(db.client.post(f"/api/{db.id}", content=body, headers=db.headers), "n")
    assert db.keys("notes") == ["seed"]


def test_rest_bodies_are_held_to_the_same_rule(db: Db) -> None:
    db.insert("notes", [{"_key": "seed"}])
    body = (
        f'{{"database_id": "{db.id}", "collection_name": "notes", "data": [{{"n": 1}}], '
        f'"collection_name": "other"}}'
    ).encode()
    refused_as_duplicate(db.crud("POST", content=body), "collection_name")
    assert db.keys("notes") == ["seed"]


def test_the_same_key_in_different_objects_is_fine(db: Db) -> None:
    body = b'{"op": "collection.insert", "collection": "notes", "data": [{"n": 1, "o": {"n": 2}}, {"n": 3}]}'
    response = db.client.post(f"/api/{db.id}", content=body, headers=db.headers)
    assert response.status_code == 200, response.text
    assert [doc["n"] for doc in db.find("notes", sort="n asc")["data"]] == [1, 3]

"""One request per advice code through ``collection.explain`` on a settled table, the code's
advice in the answer — and where the advice carries a fix, the fix does what it says."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.explain.conftest import Explained


def advice_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    advice: list[dict[str, Any]] = answer["advice"]
    for item in advice:
        assert set(item) <= {"code", "message", "pointer", "fix"}, item
    return advice


def test_a_good_query_gets_no_advice(explained: Explained) -> None:
    for body in (
        {"match": {"price:$gte": 100, "price:$lt": 102}, "sort": "-price"},
        {"match": {"tag": "t9", "category": "c009"}, "command": "count"},
        {"match": {"_key:$in": ["a", "b"]}},
        {"sort": "price desc", "limit": 20},
        {},
    ):
        assert advice_of(explained.explain(**body)) == [], body


def test_a_range_on_an_undeclared_field(explained: Explained) -> None:
    (advice,) = advice_of(explained.explain(match={"n": {"$gte": 4000}}))
    assert advice == {
        "code": "UNDECLARED_RANGE",
        "message": "`n` is not declared: a range on it cannot use a B-tree — declare it as `number`",
        "pointer": "/match/n/$gte",
        "fix": {"field": {"name": "n", "type": "number"}},
    }


def test_a_regex_without_a_prefix(explained: Explained) -> None:
    (advice,) = advice_of(explained.explain(match={"name:$regex": "42$"}, command="count"))
    assert advice["code"] == "UNANCHORED_REGEX"
    assert advice["message"].startswith("`$regex` without a `^` prefix scans: ")
    assert advice["pointer"] == "/match/name:$regex"
    (contains,) = advice_of(explained.explain(match={"tag:$contains": "7"}, command="count"))
    assert contains["code"] == "UNANCHORED_REGEX"
    assert contains["message"].startswith("`$contains` scans: ")


def test_a_prefix_test_on_a_declared_string_field(explained: Explained) -> None:
    answer = explained.explain(match={"name:$startswith": "name004"}, command="count")
    assert answer["indexes"] == []
    (advice,) = advice_of(answer)
    assert advice["code"] == "PREFIX_AS_RANGE"
    assert advice["pointer"] == "/match/name:$startswith"
    assert advice["fix"] == {"replace": {"name:$gte": "name004", "name:$lt": "name005"}}
    # The fix reads the field's B-tree and matches the same documents.
    fixed = explained.explain(match=advice["fix"]["replace"], command="count", analyze=True)
    assert fixed["indexes"] == [explained.index("$f$name")]
    assert advice_of(fixed) == []
    counts = [
        explained.ddo({"op": "collection.count", "collection": "items", "match": match}).json()["data"][
            "count"
        ]
        for match in ({"name:$startswith": "name004"}, advice["fix"]["replace"])
    ]
    assert counts == [100, 100]


def test_no_condition_that_can_use_an_index(explained: Explained) -> None:
    (advice,) = advice_of(explained.explain(match={"tag:$ne": "t1"}, command="count"))
    assert advice["code"] == "FULL_SCAN"
    assert "`$ne`" in advice["message"]
    assert advice["pointer"] == "/match"


def test_a_sort_without_an_index(explained: Explained) -> None:
    answer = explained.explain(match={"category": "c007"}, sort="price asc")
    (advice,) = advice_of(answer)
    assert advice == {
        "code": "SORT_WITHOUT_INDEX",
        "message": "this sort has no index: add a compound index on (category, price)",
        "pointer": "/sort",
        "fix": {"database_id": explained.id, "collection": "items", "fields": ["category", "price"]},
    }


def test_a_sort_on_an_undeclared_field_says_to_declare_it_first(explained: Explained) -> None:
    (advice,) = advice_of(explained.explain(match={"category": "c007"}, sort=["n desc"]))
    assert advice["code"] == "SORT_WITHOUT_INDEX"
    assert advice["message"] == (
        "this sort has no index: `n` is not declared — declare it first (indexes are on declared "
        "fields), then add a compound index on (category, n)"
    )
    assert "fix" not in advice


def test_a_deep_page(explained: Explained) -> None:
    (advice,) = advice_of(explained.explain(page=201, per_page=50))
    assert advice["code"] == "DEEP_OFFSET"
    assert advice["pointer"] == "/page"
    assert "`cursor`" in advice["message"]


def test_rest_advice_points_at_the_rest_keys(explained: Explained) -> None:
    response = explained.rest({"filters": json.dumps({"price:$gt": 5, "n:$lt": 3}), "sort": "n"})
    assert response.status_code == 200, response.text
    advice = response.json()["data"]["advice"]
    assert [(a["code"], a["pointer"]) for a in advice] == [
        ("UNDECLARED_RANGE", "/filters/n:$lt"),
        ("SORT_WITHOUT_INDEX", "/sort"),
    ]

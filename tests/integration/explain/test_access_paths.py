"""Each access path as ``collection.explain`` shows it (SPEC §10a): the primary key, the GIN
index, a declared field's B-tree, a compound index and a sequential scan — the index named in
the answer is the one PostgreSQL's plan reads. And the parts of the answer around the plan:
the statement the command sends, its parameters as JSON, the rows (estimated; actual with
analyze), the same answer from both dialects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.explain.conftest import Explained


def node_types(plan: dict[str, Any]) -> list[str]:
    return [plan["Node Type"], *(t for child in plan.get("Plans", []) for t in node_types(child))]


def test_a_key_reads_the_primary_key(explained: Explained) -> None:
    key = explained.pg.fetchval(f'SELECT _key FROM "{explained.schema}".items ORDER BY _key LIMIT 1')
    answer = explained.explain(match={"_key": key})
    assert answer["indexes"] == [explained.index("$pkey")]
    assert answer["params"] == [key, 0]  # the key, the offset: a point lookup has no page window
    assert answer["rows"] == {"estimated": 1}
    assert answer["advice"] == []


def test_an_equality_on_an_undeclared_field_reads_the_gin_index(explained: Explained) -> None:
    answer = explained.explain(match={"tag": "t7"}, command="count")
    assert answer["indexes"] == [explained.index("$data")]
    assert (
        answer["sql"]
        == f'SELECT COUNT(*) FROM "{explained.schema}"."items" WHERE data @@ CAST($1 AS jsonpath)'
    )
    assert answer["params"] == ['$."tag" == "t7"']
    assert answer["advice"] == []


def test_a_range_on_a_declared_field_reads_its_btree(explained: Explained) -> None:
    answer = explained.explain(match={"price:$gte": 10, "price:$lt": 12}, sort="price asc")
    assert answer["indexes"] == [explained.index("$f$price")]
    assert answer["params"] == [10, 12, 101, 0]  # the bounds, the page's limit + 1, its offset
    # PostgreSQL sorts the 10 matches rather than walk the index in order (cheaper): the field's
    # own B-tree serves both, so there is nothing to advise.
    assert answer["advice"] == []


COMPOUND = "items$i$shelf$price"


@pytest.fixture
def compound_index(explained: Explained) -> Iterator[str]:
    """A compound index on (shelf, price), made and dropped through the management routes."""
    target = {"database_id": explained.id, "collection": explained.table}
    made = explained.client.post(
        "/api/create_index", json={**target, "fields": ["shelf", "price"]}, headers=explained.account.headers
    )
    assert made.status_code == 201, made.text
    explained.pg.execute(f'ANALYZE "{explained.schema}".items')
    yield COMPOUND
    dropped = explained.client.post(
        "/api/drop_index", json={**target, "name": COMPOUND}, headers=explained.account.headers
    )
    assert dropped.status_code == 200, dropped.text


def test_an_equality_and_a_sort_read_a_compound_index(explained: Explained, compound_index: str) -> None:
    answer = explained.explain(match={"shelf": "s0007"}, sort="price asc")
    assert answer["indexes"] == [compound_index]
    assert "Sort" not in node_types(answer["plan"])
    assert answer["advice"] == []


def test_no_usable_condition_is_a_sequential_scan(explained: Explained) -> None:
    answer = explained.explain(match={"tags:$size": 2}, command="count")
    assert answer["indexes"] == []
    assert "Seq Scan" in node_types(answer["plan"])
    assert [a["code"] for a in answer["advice"]] == ["FULL_SCAN"]


def test_analyze_runs_a_read_and_counts_its_rows(explained: Explained) -> None:
    match = {"price:$lt": 3}  # prices 0, 1, 2: 15 documents
    planned = explained.explain(match=match)
    assert "actual" not in planned["rows"]
    assert "Actual Rows" not in planned["plan"]
    analyzed = explained.explain(match=match, analyze=True)
    found = explained.ddo({"op": "collection.find", "collection": "items", "match": match}).json()["data"]
    assert len(found) == 15
    assert analyzed["rows"]["actual"] == len(found)
    assert analyzed["plan"]["Actual Loops"] == 1
    counted = explained.explain(match=match, command="count", analyze=True)
    assert counted["rows"] == {"estimated": 1, "actual": 1}  # count(*) answers one row


def test_the_explained_find_is_the_page_statement_with_its_total(explained: Explained) -> None:
    """A full page counts the matches in the same statement (ADR 0010): that statement is explained,
    and its plan reads the index for the page and again for the total."""
    answer = explained.explain(match={"tag": "t7"}, limit=5)
    assert "count(*) over ()" in answer["sql"].lower()
    assert answer["params"] == ['$."tag" == "t7"', 6, 0]  # the match, the page's limit + 1, its offset
    without_total = explained.explain(match={"tag": "t7"}, limit=5, count="none")
    assert "over ()" not in without_total["sql"].lower()


@pytest.mark.parametrize(
    ("ddo", "rest"),
    [
        (
            {"match": {"tag": "t7"}, "page": 1, "per_page": 10},
            {"filters": json.dumps({"tag": "t7"})},
        ),
        (
            {"command": "count", "match": {"price:$gt": 990}},
            {"command": "count", "filters": json.dumps({"price:$gt": 990})},
        ),
        (
            {"command": "update", "match": {"category": "c001"}, "data": {"$inc": {"price": 1}}},
            {
                "command": "update",
                "filters": json.dumps({"category": "c001"}),
                "data": json.dumps({"$inc": {"price": 1}}),
            },
        ),
        (
            {"match": {"n:$gt": 4990}, "sort": "name desc", "page": 2, "per_page": 3},
            {"filters": json.dumps({"n:$gt": 4990}), "sort": "name desc", "page": 2, "page_size": 3},
        ),
    ],
)
def test_rest_and_ddo_answer_the_same_plan(
    explained: Explained, ddo: dict[str, Any], rest: dict[str, Any]
) -> None:
    by_ddo = explained.explain(**ddo)
    response = explained.rest(rest)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"success", "data"}
    assert answer["success"] is True
    by_rest = answer["data"]
    for part in ("sql", "params", "plan", "indexes", "rows"):
        assert by_rest[part] == by_ddo[part], part
    # The advice is the same, each pointing at its dialect's key.
    assert [a["code"] for a in by_rest["advice"]] == [a["code"] for a in by_ddo["advice"]]
    assert [a.get("pointer", "").replace("/filters", "/match") for a in by_rest["advice"]] == [
        a.get("pointer", "") for a in by_ddo["advice"]
    ]


def test_db_explain_takes_the_db_names_of_the_criteria(explained: Explained) -> None:
    response = explained.ddo(
        {"op": "db.explain", "collection": "items", "filters": {"tag": "t7"}, "return_fields": ["name"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["indexes"] == [explained.index("$data")]

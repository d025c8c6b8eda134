"""Each index-advice rule (``pgcube.query.advice``) on hand-made plans: when it speaks, what it says,
and when it keeps quiet. The integration tests (tests/integration/explain) show each on real plans."""

from __future__ import annotations

from typing import Any

import pytest

from pgcube.query import REST_POINTERS, Collection, Subject, advise, plans

COLL = Collection(
    schema="s",
    table="items",
    fields={"category": "string", "price": "number", "name": "string", "o": "object"},
)
TARGET = {"database_id": "d" * 24, "collection": "items"}


def scan(table: str = "items") -> dict[str, Any]:
    return {"Node Type": "Seq Scan", "Relation Name": table, "Plan Rows": 5000}


def index_scan(name: str) -> dict[str, Any]:
    return {
        "Node Type": "Bitmap Heap Scan",
        "Relation Name": "items",
        "Plans": [{"Node Type": "Bitmap Index Scan", "Index Name": name}],
    }


def sort_over(child: dict[str, Any]) -> dict[str, Any]:
    return {"Node Type": "Limit", "Plans": [{"Node Type": "Sort", "Plans": [child]}]}


def codes(criteria: Any = None, plan: dict[str, Any] | None = None, **parts: Any) -> list[str]:
    return [a.code for a in run(criteria, plan, **parts)]


def run(criteria: Any = None, plan: dict[str, Any] | None = None, **parts: Any) -> list[Any]:
    subject = Subject(collection=COLL, criteria=criteria, plan=plan or scan(), index_target=TARGET, **parts)
    return advise(subject)


# --- UNDECLARED_RANGE -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (18, "number"),
        (2.5, "number"),
        ("m", "string"),
        ("2024-01-05", "date"),
        ("2024-01-05T10:00:00Z", "date"),
        (True, "boolean"),
    ],
)
def test_an_undeclared_range_names_the_type_its_value_suggests(value: Any, kind: str) -> None:
    (advice,) = run({"age:$gt": value})
    assert advice.code == "UNDECLARED_RANGE"
    assert (
        advice.message == f"`age` is not declared: a range on it cannot use a B-tree — declare it as `{kind}`"
    )
    assert advice.pointer == "/match/age:$gt"
    assert advice.fix == {"field": {"name": "age", "type": kind}}


def test_a_between_is_one_piece_of_advice_and_ranges_keep_their_order() -> None:
    advice = run({"b": {"$between": [1, 2]}, "a.x:$lt": 3})
    assert [(a.code, a.pointer) for a in advice] == [
        ("UNDECLARED_RANGE", "/match/b/$between"),
        ("UNDECLARED_RANGE", "/match/a.x:$lt"),
    ]


@pytest.mark.parametrize(
    "criteria",
    [
        {"price:$gt": 5},  # declared: its B-tree serves it
        {"_created_at:$gt": "2024-01-01T00:00:00Z"},  # a system column
        {"age:$gt": None},  # matches nothing / null: no range to serve
        {"tags": {"$elemMatch": {"$gt": 5}}},  # inside $elemMatch no B-tree applies
        {"age:$gt": [1]},
    ],
)
def test_no_undeclared_range_advice(criteria: Any) -> None:
    assert "UNDECLARED_RANGE" not in codes(criteria, index_scan("items$data"))


# --- UNANCHORED_REGEX, PREFIX_AS_RANGE ---------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "start", "pointer"),
    [
        ({"name:$regex": "abc"}, "`$regex` without a `^` prefix scans", "/match/name:$regex"),
        (
            {"name": {"$regex": "abc", "$options": "i"}},
            "`$regex` without a `^` prefix scans",
            "/match/name/$regex",
        ),
        ({"note:$contains": "x"}, "`$contains` scans", "/match/note:$contains"),
        ({"note:$icontains": "x"}, "`$icontains` scans", "/match/note:$icontains"),
        ({"note:$endswith": "x"}, "`$endswith` scans", "/match/note:$endswith"),
    ],
)
def test_a_test_inside_the_text_scans(criteria: dict[str, Any], start: str, pointer: str) -> None:
    (advice,) = run(criteria)
    assert advice.code == "UNANCHORED_REGEX"
    assert advice.message.startswith(start + ": ")
    assert advice.pointer == pointer


@pytest.mark.parametrize(
    "criteria", [{"note:$regex": "^abc"}, {"note:$regex": "(?i)^abc"}, {"note:$startswith": "a"}]
)
def test_an_anchored_test_on_an_undeclared_field_gets_no_text_advice(criteria: dict[str, Any]) -> None:
    assert codes(criteria) == ["FULL_SCAN"]


@pytest.mark.parametrize("criteria", [{"name:$startswith": "ab"}, {"name:$regex": "^ab"}])
def test_a_prefix_on_a_declared_string_is_a_range(criteria: dict[str, Any]) -> None:
    (advice,) = run(criteria)
    assert advice.code == "PREFIX_AS_RANGE"
    assert advice.fix == {"replace": {"name:$gte": "ab", "name:$lt": "ac"}}


@pytest.mark.parametrize(
    "criteria", [{"name:$regex": "^a.c"}, {"name:$regex": "(?i)^ab"}, {"name:$startswith": "a\U0010ffff"}]
)
def test_a_prefix_that_no_range_equals_gets_no_range(criteria: dict[str, Any]) -> None:
    assert "PREFIX_AS_RANGE" not in codes(criteria)


# --- FULL_SCAN -----------------------------------------------------------------------------------


def test_a_full_scan_with_negations_says_they_never_use_an_index() -> None:
    (advice,) = run({"$nor": [{"a": 1}]})
    assert advice.code == "FULL_SCAN"
    assert "`$nor`" in advice.message
    assert advice.pointer == "/match"
    (plain,) = run({"tags:$size": 2}, pointers=REST_POINTERS)
    assert "never can" not in plain.message
    assert plain.pointer == "/filters"


@pytest.mark.parametrize(
    ("criteria", "plan"),
    [
        ({}, scan()),  # every document is asked for
        ({"a": 1}, scan()),  # an equality could use GIN: the planner chose to read the table
        ({"$or": [{"a": 1}, {"price:$gt": 3}]}, scan()),
        ({"_key:$in": ["k"]}, scan()),
        ({"tags:$size": 2}, index_scan("items$created")),  # not a sequential scan
        ({"tags:$size": 2}, scan("_trash")),  # another table
        ({"age:$gt": 2}, scan()),  # the range's advice tells why already
    ],
)
def test_no_full_scan_advice(criteria: Any, plan: dict[str, Any]) -> None:
    assert "FULL_SCAN" not in codes(criteria, plan)


# --- SORT_WITHOUT_INDEX --------------------------------------------------------------------------


def test_a_sorted_equality_asks_for_a_compound_index_equalities_first() -> None:
    plan = sort_over(index_scan("items$data"))
    (advice,) = run({"price:$gt": 1, "category": "x", "name": "y"}, plan, sort="price desc")
    assert advice.code == "SORT_WITHOUT_INDEX"
    assert advice.message == "this sort has no index: add a compound index on (category, name, price)"
    assert advice.pointer == "/sort"
    assert advice.fix == {**TARGET, "fields": ["category", "name", "price"]}


@pytest.mark.parametrize(
    "criteria",
    [
        {"category": 5},  # a value of another type: the JSON test, which only GIN serves
        {"o": {"x": 1}},  # an object field: no B-tree
        {"category:$ne": "x"},
        {"$or": [{"category": "x"}, {"price": 1}]},
    ],
)
def test_only_equalities_a_btree_serves_lead_the_compound_index(criteria: Any) -> None:
    (advice,) = run(criteria, sort_over(index_scan("items$data")), sort="price, name")
    assert advice.fix == {**TARGET, "fields": ["price", "name"]}


def test_an_undeclared_sort_key_is_declared_first() -> None:
    (advice,) = run({"category": "x"}, sort_over(scan()), sort=["n", "_key"])
    assert advice.message == (
        "this sort has no index: `n` is not declared — declare it first (indexes are on declared fields), "
        "then add a compound index on (category, n)"
    )
    assert advice.fix is None
    (alone,) = run(None, sort_over(scan()), sort="n")
    assert "declare it, and the B-tree" in alone.message


def test_a_system_sort_key_cannot_join_a_compound_index() -> None:
    (advice,) = run({"category": "x"}, sort_over(index_scan("items$data")), sort="_created_at desc")
    assert "`_created_at` has an index of its own" in advice.message
    assert advice.fix is None


@pytest.mark.parametrize(
    ("criteria", "plan", "sort"),
    [
        ({"category": "x"}, index_scan("items$f$price"), "price"),  # no Sort node: an index gives the order
        ({"price:$lt": 3}, sort_over(index_scan("items$f$price")), "price"),  # its own B-tree exists
        ({"category": "x"}, sort_over(index_scan("items$data")), None),  # the default order, not asked for
        ({"category": "x"}, sort_over(index_scan("items$data")), "_key"),
        ({"$or": [{"category": "x"}, {"category": "y"}]}, sort_over(index_scan("items$data")), "price"),
    ],
)
def test_no_sort_advice(criteria: Any, plan: dict[str, Any], sort: Any) -> None:
    assert "SORT_WITHOUT_INDEX" not in codes(criteria, plan, sort=sort)


# --- DEEP_OFFSET ----------------------------------------------------------------------------------


def test_a_deep_offset_points_at_the_key_that_set_it() -> None:
    (advice,) = run(None, index_scan("items$created"), offset=25_000, offset_pointer="/page")
    assert advice.code == "DEEP_OFFSET"
    assert "25,000 rows in" in advice.message
    assert advice.pointer == "/page"
    assert codes(None, index_scan("items$created"), offset=9_999) == []


# --- reading plans ----------------------------------------------------------------------------------


def test_the_indexes_of_a_plan_in_order_once_each() -> None:
    plan = {
        "Node Type": "WindowAgg",
        "Plans": [
            {"Node Type": "Aggregate", "Plans": [index_scan("items$data")]},
            {"Node Type": "Index Scan", "Index Name": "items$f$price"},
            {"Node Type": "Index Only Scan", "Index Name": "items$data"},
        ],
    }
    assert plans.index_names(plan) == ["items$data", "items$f$price"]
    assert plans.index_names(scan()) == []


def test_the_rows_of_a_plan() -> None:
    assert plans.rows({"Plan Rows": 12}) == {"estimated": 12}
    assert plans.rows({"Plan Rows": 12, "Actual Rows": 11.0}) == {"estimated": 12, "actual": 11}
    assert plans.rows({"Plan Rows": 12, "Actual Rows": 0.5}) == {"estimated": 12, "actual": 0.5}

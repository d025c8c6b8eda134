"""Compiled queries on a real PostgreSQL over awkward documents, against MongoDB's answers."""

from __future__ import annotations

from typing import Any

import pytest

from pgcube.query import Collection, compile_count, compile_find
from tests.integration.query import reference
from tests.integration.query.support import create_collection, insert, keys_of
from tests.support.sync_pg import SyncPg

DOCS: dict[str, dict[str, Any]] = {
    # MongoDB's null_query_semantics fixture (jstests/core/query), without `undefined`
    "a_empty_subobject": {"a": {}},
    "a_null": {"a": None},
    "a_number": {"a": 4},
    "a_subobject_b_not_null": {"a": {"b": "hi"}},
    "a_subobject_b_null": {"a": {"b": None}},
    "no_a": {},
    "a_double_array": {"a": [[]]},
    "a_empty_array": {"a": []},
    "a_object_array_no_b_nulls": {"a": [{"b": 1}, {"b": 3}, {"b": "string"}]},
    "a_object_array_some_b_nulls": {"a": [{"b": None}, {"b": 3}, {"b": None}]},
    "a_object_array_some_b_missing": {"a": [{"b": 3}, {}]},
    "a_value_array_all_nulls": {"a": [None, None]},
    "a_value_array_no_nulls": {"a": [1, "string", 4]},
    "a_value_array_with_null": {"a": [1, "string", None, 4]},
    # more awkward shapes
    "nested_scalar_array": {"a": [[4]], "tags": [["x", "y"]]},
    "one_float": {"a": 1.0, "n": 1.5, "s": "1"},
    "one_int": {"a": 1, "n": 2, "s": "é"},
    "mixed": {"a": [1, "4", True, {"b": 4}], "s": ["Alpha", "beta"], "n": [1, 10]},
    "unicode": {"s": "naïve ☃ 𝄞", "tags": ["ünï", "x"]},
    "quoted_keys": {"a'b": 1, 'a"b': 2, "a.b": 3, "sp ace": {"x": 4}},
    "deep": {"a": {"b": {"c": [{"d": 5}, {"d": [6, 7]}]}}},
    "object_eq": {"o": {"x": 1, "y": [1, 2]}, "arr": [[1, 2], [3]]},
    "object_in_array": {"o": [{"x": 1, "y": [1, 2]}, {"x": 2}], "arr": [1, 2]},
    "bools": {"a": True, "b": False, "n": 0},
    "like_meta": {"s": "100% of a_b\\c"},
}
KEYS = sorted(DOCS)


@pytest.fixture(scope="module")
def coll(pg: SyncPg, schema: str) -> Collection:
    collection = create_collection(pg, schema, "awkward")
    insert(pg, collection, [DOCS[k] for k in KEYS], KEYS)
    return collection


def found(pg: SyncPg, coll: Collection, match: Any) -> set[str]:
    q = compile_find(coll, match, limit=1000, count=False)
    keys = set(keys_of(pg, q.select.sql, q.select.params))
    counted = compile_count(coll, match)
    assert pg.fetchval(counted.sql, *counted.params) == len(keys)
    return keys


def mongo(query: dict[str, Any]) -> set[str]:
    return {k for k in KEYS if reference.matches(DOCS[k], query)}


# --- MongoDB's own expectations (jstests/core/query/null_query_semantics.js) ----------------
NULL_FIXTURE = {k for k in KEYS if k.startswith(("a_", "no_a"))}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"a": None}, {"a_null", "no_a", "a_value_array_all_nulls", "a_value_array_with_null"}),
        (
            {"a": {"$in": [None, 75]}},
            {"a_null", "no_a", "a_value_array_all_nulls", "a_value_array_with_null"},
        ),
        ({"a": {"$exists": False}}, {"no_a"}),
        (
            {"a.b": {"$eq": None}},
            NULL_FIXTURE - {"a_subobject_b_not_null", "a_object_array_no_b_nulls"},
        ),
        ({"a.b": {"$ne": None}}, {"a_subobject_b_not_null", "a_object_array_no_b_nulls"}),
        ({"a.b": {"$nin": [None, 75]}}, {"a_subobject_b_not_null", "a_object_array_no_b_nulls"}),
        (
            {"a.b": {"$exists": False}},  # MongoDB's list for these scalars, plus arrays without any "b"
            {
                "no_a",
                "a_empty_subobject",
                "a_null",
                "a_number",
                "a_double_array",
                "a_empty_array",
                "a_value_array_all_nulls",
                "a_value_array_with_null",
                "a_value_array_no_nulls",
            },
        ),
        ({"a": {"$elemMatch": {"$eq": None}}}, {"a_value_array_all_nulls", "a_value_array_with_null"}),
        (
            {"a": {"$nin": [None, []]}},
            NULL_FIXTURE
            - {
                "a_null",
                "no_a",
                "a_double_array",
                "a_empty_array",
                "a_value_array_all_nulls",
                "a_value_array_with_null",
            },
        ),
    ],
)
def test_mongodb_null_semantics(
    pg: SyncPg, coll: Collection, query: dict[str, Any], expected: set[str]
) -> None:
    assert found(pg, coll, query) & NULL_FIXTURE == expected
    assert mongo(query) & NULL_FIXTURE == expected


# --- every operator, against the reference model --------------------------------------------
CASES: list[dict[str, Any]] = [
    {"a": 4},
    {"a": 1},
    {"a": {"$eq": 1.0}},
    {"a": True},
    {"a": "4"},
    {"a": {"$ne": 4}},
    {"a": {"$gt": 1}},
    {"a": {"$gte": 1, "$lt": 4}},
    {"a": {"$lte": "string"}},
    {"a": {"$gt": False}},
    {"a": {"$gte": None}},
    {"a": {"$lt": None}},
    {"n": {"$gt": 1, "$lt": 5}},
    {"n": {"$between": [2, 5]}},
    {"a": {"$in": [4, "string"]}},
    {"a": {"$nin": [4, 1]}},
    {"a": {"$all": [1, 4]}},
    {"a": {"$all": []}},
    {"a": {"$exists": True}},
    {"a.b": {"$exists": True}},
    {"a.b": 3},
    {"a.b": {"$gt": 2}},
    {"a.b.c.d": 6},
    {"a.b.c.d": {"$size": 2}},
    {"a": {"$size": 0}},
    {"a": {"$size": 3}},
    {"tags": ["x", "y"]},
    {"tags": "x"},
    {"o": {"$eq": {"y": [1, 2], "x": 1}}},
    {"o": {"$eq": {"x": 1}}},
    {"arr": {"$eq": [1, 2]}},
    {"arr": {"$in": [[3], 7]}},
    {"a": {"$elemMatch": {"b": 4}}},
    {"a": {"$elemMatch": {"$gt": 2, "$lt": 10}}},
    {"o": {"$elemMatch": {"x": 2}}},
    {"n": {"$elemMatch": {"$gte": 10}}},
    {"s": {"$regex": "^[Aa]l"}},
    {"s": {"$regex": "(?i)BETA"}},
    {"s": {"$regex": "é$"}},
    {"s": {"$contains": "%"}},
    {"s": {"$contains": "a_b\\c"}},
    {"s": {"$icontains": "ALPHA"}},
    {"s": {"$startswith": "na"}},
    {"s": {"$endswith": "𝄞"}},
    {"$or": [{"a": 4}, {"n": 2}]},
    {"$nor": [{"a": 4}, {"a": None}]},
    {"$and": [{"a": {"$exists": True}}, {"a": {"$ne": 1}}]},
]


@pytest.mark.parametrize("query", CASES, ids=[str(c) for c in CASES])
def test_operator_matches_mongodb(pg: SyncPg, coll: Collection, query: dict[str, Any]) -> None:
    assert found(pg, coll, query) == mongo(query)


def test_ddo_syntax_equals_mongodb_syntax(pg: SyncPg, coll: Collection) -> None:
    assert (
        found(pg, coll, {"a.b:$gt": 2})
        == found(pg, coll, {"a": {"b": {"$gt": 2}}})
        == mongo({"a.b": {"$gt": 2}})
    )
    assert found(pg, coll, {"a": {"b": {"c": {"d:$eq": 5}}}}) == {"deep"}
    assert found(pg, coll, {"tags:$includes": "x"}) == mongo({"tags": "x"})
    assert found(pg, coll, {"a:$any": [4]}) == found(pg, coll, {"a:$in": [4]})
    assert found(pg, coll, {"a:$none": [4]}) == found(pg, coll, {"a:$nin": [4]})
    assert found(pg, coll, {"a:$nincludes": 4}) == found(pg, coll, {"a:$ne": 4})


def test_keys_with_quotes_and_dots_match_literally(pg: SyncPg, coll: Collection) -> None:
    assert found(pg, coll, {"a'b": 1}) == {"quoted_keys"}
    assert found(pg, coll, {'a"b': 2}) == {"quoted_keys"}
    assert found(pg, coll, {"sp ace.x": 4}) == {"quoted_keys"}
    assert found(pg, coll, {"a.b": 3}) != {"quoted_keys"}  # a dotted path, not the key "a.b"


def test_system_fields(pg: SyncPg, coll: Collection) -> None:
    assert found(pg, coll, {"_id": "a_null"}) == {"a_null"}
    assert found(pg, coll, {"_key:$in": ["a_null", "no_a", 5]}) == {"a_null", "no_a"}
    assert found(pg, coll, {"_key:$startswith": "a_value"}) == {k for k in KEYS if k.startswith("a_value")}
    assert len(found(pg, coll, {"_key:$ne": "a_null"})) == len(KEYS) - 1
    assert len(found(pg, coll, {"_userkey": None})) == len([i for i in range(len(KEYS)) if i % 3 == 0])
    newest = found(pg, coll, {"_created_at:$gte": "2024-01-01T00:00:00Z"})
    assert newest == {KEYS[0]}
    assert found(pg, coll, {"_created_at:$lt": "2023-12-31T23:59:59.5Z", "_key": KEYS[1]}) == {KEYS[1]}

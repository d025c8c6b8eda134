"""Per-operator plans and per-error pointers, without a database."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from pgcube.errors import InvalidQuery, ValidationError
from pgcube.query import (
    REST_POINTERS,
    SQL_CACHE,
    Collection,
    Limits,
    compile_find,
    compile_update,
    compile_where,
    index_definition_sql,
    jsonpath,
)
from pgcube.query.compiler import MAX_OFFSET
from pgcube.query.fields import iso_instant
from pgcube.query.parse import parse
from pgcube.query.sort import parse_sort

COLL = Collection(schema="s", table="t", fields={"price": "number", "born": "datetime", "name": "string"})
INDEXED = Collection(
    schema="s",
    table="t",
    fields={"price": "number", "born": "datetime", "name": "string", "info.rank": "number"},
    indexed=frozenset({"price", "born", "name", "info.rank"}),
)


def params(match: Any) -> tuple[Any, ...]:
    return compile_where(COLL, match).params


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ({"a": 5}, ('$."a" == 5',)),
        ({"a:$eq": "x"}, ('$."a" == "x"',)),
        ({"a": {"$eq": True}}, ('$."a" == true',)),
        ({"a.b": -1.5}, ('$."a"."b" == -1.5',)),
        ({"a": {"b": {"c:$eq": 1}}}, ('$."a"."b"."c" == 1',)),
        ({"a:$in": [1, "1"]}, ('$."a" == 1 || $."a" == "1"',)),
        ({"a:$any": [1]}, ('$."a" == 1',)),
        ({"a:$all": [1, 2]}, ('($."a" == 1) && ($."a" == 2)',)),
        ({"a:$includes": 3}, ('$."a" == 3',)),
        ({"a:$gt": 1}, ('$."a" > $v', b'{"v":1}')),
        ({"a:$lte": "m"}, ('$."a" <= $v', b'{"v":"m"}')),
        ({"a:$between": [1, 2]}, ('$."a" >= $v', b'{"v":1}', '$."a" <= $v', b'{"v":2}')),
        ({"a:$exists": True}, ('exists($."a")',)),
        (
            {"a:$size": 2},
            (
                'exists($ ? (@.type() == "object" && @."a".type() == "array" && @."a".size() == $n))',
                b'{"n":2}',
            ),
        ),
        ({"a:$regex": "^x"}, ('$."a"[*]', "^x")),
        ({"a:$contains": "50%_\\"}, ('$."a"[*]', "%50\\%\\_\\\\%")),
        ({"a:$icontains": "x"}, ('$."a"[*]', "%x%")),
        ({"a:$startswith": "x"}, ('$."a"[*]', "x%")),
        ({"a:$endswith": "x"}, ('$."a"[*]', "%x")),
        ({"a'b\"c": 1}, ('$."a\'b\\"c" == 1',)),
        ({"price:$gt": 5}, (Decimal(5),)),
        ({"price:$gt": "5"}, ('$."price" > $v', b'{"v":"5"}')),
        ({"name:$lt": "m"}, ("m",)),
        ({"_id": "k"}, ("k",)),
        ({"_key:$in": ["a", "b"]}, (["a", "b"],)),
        ({"a:$gt": None}, ()),
        ({"a": {"$regex": "x", "$options": "i"}}, ('$."a"[*]', "(?i)x")),
    ],
)
def test_operator_parameters(match: dict[str, Any], expected: tuple[Any, ...]) -> None:
    assert params(match) == expected


def test_null_matches_missing_branches() -> None:
    [path] = params({"a.b": None})
    assert '!exists($."a")' in path
    assert '$."a"."b" == null' in path
    assert ".size() == 0" in path


def test_negations_coalesce() -> None:
    sql = compile_where(COLL, {"a:$ne": 1}).sql
    assert sql.startswith("NOT COALESCE(")
    assert sql.endswith(", FALSE)")


def test_declared_date_range_uses_instants() -> None:
    assert params({"born:$gte": "2024-01-05T10:00:00+02:00"}) == (iso_instant("2024-01-05T02:00:00-06:00"),)


@pytest.mark.parametrize(
    ("match", "typed"),
    [
        ({"price": 5}, Decimal(5)),
        ({"price": 2.5}, Decimal("2.5")),
        ({"name": "ann"}, "ann"),
        ({"name:$eq": "ann"}, "ann"),
        ({"name": {"$eq": "ann"}}, "ann"),
    ],
)
def test_equality_on_a_declared_field_is_its_typed_expression(match: Any, typed: Any) -> None:
    """So the field's B-tree, or a compound index that starts with it, serves the equality, and
    PostgreSQL estimates it from that index's statistics."""
    compiled = compile_where(INDEXED, match)
    assert compiled.params == (typed,)
    assert compiled.sql.startswith("(CASE WHEN JSONB_TYPEOF(")
    assert re.search(r"\) = (CAST\()?\$1\b", compiled.sql), compiled.sql


@pytest.mark.parametrize(
    "match",
    [
        {"price": "5"},  # another type: the JSON test, which matches no document of the field
        {"price": True},
        {"born": "2024-01-05"},  # a date is equal as a string, not as an instant
        {"price": None},
        {"a": 5},  # not declared
        {"price:$ne": 5},
        {"items:$elemMatch": {"price": 5}},  # inside an element: not the field
    ],
)
def test_equality_that_stays_a_json_test(match: Any) -> None:
    assert "CASE WHEN JSONB_TYPEOF(data -> 'price')" not in compile_where(INDEXED, match).sql
    assert "CASE WHEN JSONB_TYPEOF(data -> 'born')" not in compile_where(INDEXED, match).sql


def test_a_declared_field_without_a_b_tree_keeps_the_json_test() -> None:
    """GIN serves it; a typed test no index covers would read the whole table."""
    assert compile_where(COLL, {"price": 5}).params == ('$."price" == 5',)


def test_a_dotted_declared_field_keeps_the_json_test() -> None:
    """``{"info.rank": 1}`` matches ``rank`` inside an array ``info`` too, where the typed
    expression is NULL."""
    assert compile_where(INDEXED, {"info.rank": 1}).params == ('$."info"."rank" == 1',)


def test_empty_match_matches_everything() -> None:
    assert compile_where(COLL, {}).sql == "TRUE"
    assert compile_where(COLL, None).sql == "TRUE"
    assert compile_where(COLL, {"a:$in": []}).sql == "FALSE"
    assert compile_where(COLL, {"_key:$exists": True}).sql == "TRUE"


@pytest.mark.parametrize(
    ("match", "pointer"),
    [
        ({"a:$foo": 1}, "/match/a:$foo"),
        ({"a": {"$gt": 1, "$bar": 2}}, "/match/a/$bar"),
        ({"$where": "1"}, "/match/$where"),
        ({"a:$in": 5}, "/match/a:$in"),
        ({"a:$nin": {"x": 1}}, "/match/a:$nin"),
        ({"a:$size": "2"}, "/match/a:$size"),
        ({"a:$size": -1}, "/match/a:$size"),
        ({"a:$size": True}, "/match/a:$size"),
        ({"a:$exists": "yes"}, "/match/a:$exists"),
        ({"a:$gt": [1]}, "/match/a:$gt"),
        ({"a:$regex": 5}, "/match/a:$regex"),
        ({"a:$regex": "x" * 257}, "/match/a:$regex"),
        ({"a:$contains": 1}, "/match/a:$contains"),
        ({"a:$between": [1]}, "/match/a:$between"),
        ({"a:$elemMatch": []}, "/match/a:$elemMatch"),
        ({"a..b": 1}, "/match/a..b"),
        ({"a.$b": 1}, "/match/a.$b"),
        ({"": 1}, "/match/"),
        ({"$or": []}, "/match/$or"),
        ({"$or": [1]}, "/match/$or/0"),
        ({"$and": {"a": 1}}, "/match/$and"),
        ({"a": {"$gt": 1, "b": 2}}, "/match/a/$gt"),
        ({"a/b~c:$bad": 1}, "/match/a~1b~0c:$bad"),
        ({"a": float("inf")}, "/match/a"),
        ({"a": "nul\x00"}, "/match/a"),
        ({"_key.x": 1}, "/match/_key.x"),
        ({"_key:$size": 1}, "/match/_key:$size"),
        ({"_created_at:$gt": "yesterday"}, "/match/_created_at:$gt"),
        ({"_created_at:$regex": "x"}, "/match/_created_at:$regex"),
        ({"born:$gt": "not a date"}, "/match/born:$gt"),
        ({"born:$gt": 5}, "/match/born:$gt"),
        ({"born:$lte": True}, "/match/born:$lte"),
        ({"born": {"$gte": 1.5}}, "/match/born/$gte"),
        ({"born:$between": ["2024-01-01", 20240201]}, "/match/born:$between"),
        ({"$or": [{"x": 1}, {"born:$lt": 0}]}, "/match/$or/1/born:$lt"),
        ({"r": {"$options": "i"}}, "/match/r/$options"),
        ({"r": {"$regex": "x", "$options": "q"}}, "/match/r/$options"),
    ],
)
def test_rejections_name_the_key(match: Any, pointer: str) -> None:
    with pytest.raises(InvalidQuery) as error:
        compile_where(COLL, match)
    assert error.value.details["pointer"] == pointer
    assert error.value.code == "INVALID_QUERY"


def test_limits() -> None:
    small = Limits(max_depth=3, max_conditions=2, max_list_values=2, max_regex_length=3)
    with pytest.raises(InvalidQuery, match="conditions"):
        compile_where(COLL, {"a": 1, "b": 2, "c": 3}, limits=small)
    with pytest.raises(InvalidQuery, match="list"):
        compile_where(COLL, {"a:$in": [1, 2, 3]}, limits=small)
    with pytest.raises(InvalidQuery, match="longer"):
        compile_where(COLL, {"a:$regex": "abcd"}, limits=small)
    with pytest.raises(InvalidQuery, match="deeper") as error:
        compile_where(COLL, {"$or": [{"$or": [{"$or": [{"a": 1}]}]}]}, limits=small)
    assert error.value.details["pointer"].startswith("/match/$or/0/$or/0")
    with pytest.raises(InvalidQuery, match="At most"):
        compile_find(COLL, None, limit=1001)


def test_parse_both_syntaxes_to_one_ir() -> None:
    ddo = parse({"address.city:$eq": "Oslo", "age:$gt": 18}, "/m")
    mongo = parse({"address": {"city": {"$eq": "Oslo"}}, "age": {"$gt": 18}}, "/m")
    strip = lambda n: [(c.path, c.op, c.value) for c in n.children]  # noqa: E731
    assert strip(ddo) == strip(mongo)


@pytest.mark.parametrize(
    ("spec", "keys"),
    [
        (None, [("_created_at",), ("_key",)]),
        ("price asc", [("price",), ("_key",)]),
        ("price desc, _key asc", [("price",), ("_key",)]),
        ("-price", [("price",), ("_key",)]),
        (["a", "-b.c"], [("a",), ("b", "c"), ("_key",)]),
        ({"a": -1, "_id": 1}, [("a",), ("_key",)]),
    ],
)
def test_sort_parsing(spec: Any, keys: list[tuple[str, ...]]) -> None:
    assert [k.path for k in parse_sort(spec, {}).keys] == keys


@pytest.mark.parametrize("spec", ["price sideways", 5, ["a", 1], {"a": 2}, "a..b", "_key.x"])
def test_bad_sorts(spec: Any) -> None:
    with pytest.raises(InvalidQuery) as error:
        compile_find(COLL, None, sort=spec)
    assert error.value.details["pointer"].startswith("/sort")


@pytest.mark.parametrize(
    ("projection", "pointer"),
    [
        ({"a": 1, "b": 0}, "/filter"),
        ({"a": 2}, "/filter/a"),
        ([1], "/filter/0"),
        ("a", "/filter"),
        ({"a..b": 1}, "/filter/a..b"),
    ],
)
def test_bad_projections(projection: Any, pointer: str) -> None:
    with pytest.raises(InvalidQuery) as error:
        compile_find(COLL, None, projection=projection)
    assert error.value.details["pointer"] == pointer


@pytest.mark.parametrize("token", ["", "!!!", "eyJ4Ijox", 5])
def test_bad_cursors(token: Any) -> None:
    with pytest.raises(InvalidQuery) as error:
        compile_find(COLL, None, cursor=token)
    assert error.value.details["pointer"] == "/cursor"


def test_pagination() -> None:
    q = compile_find(COLL, None)
    assert (q.limit, q.offset, q.page) == (100, 0, 1)
    q = compile_find(COLL, None, limit=10, offset=20, page=3, per_page=5)
    assert (q.limit, q.offset, q.page) == (5, 10, 3)  # page wins
    assert q.select.params[-2:] == (6, 10)


def test_deepest_pages() -> None:
    q = compile_find(COLL, None, offset=MAX_OFFSET, limit=10)
    assert (q.offset, q.page) == (MAX_OFFSET, MAX_OFFSET // 10 + 1)
    q = compile_find(COLL, None, page=str(MAX_OFFSET // 10 + 1), per_page=10)
    assert q.offset == MAX_OFFSET // 10 * 10 <= MAX_OFFSET
    q = compile_find(COLL, None, offset=" 0042 ")
    assert q.offset == 42
    token = compile_find(COLL, None).next_cursor(b'["2024-01-01T00:00:00.000Z", "k"]')
    q = compile_find(COLL, None, cursor=token, page=2**63, offset=2**63)  # ignored with a cursor
    assert (q.keyset, q.offset, q.page) == (True, 0, 1)


@pytest.mark.parametrize(
    ("arguments", "pointer"),
    [
        ({"offset": 2**63}, "/offset"),
        ({"offset": MAX_OFFSET + 1}, "/offset"),
        ({"offset": "9" * 5000}, "/offset"),
        ({"offset": "\u00b2"}, "/offset"),  # a digit to str.isdigit(), not to int()
        ({"page": 2**63}, "/page"),
        ({"page": str(2**63)}, "/page"),
        ({"page": MAX_OFFSET // 10 + 2, "per_page": 10}, "/page"),
        ({"page": MAX_OFFSET + 2, "limit": 1}, "/page"),
        ({"page": 0}, "/page"),
        ({"per_page": "1e3", "page": 1}, "/per_page"),
    ],
)
def test_page_bounds(arguments: dict[str, Any], pointer: str) -> None:
    with pytest.raises(InvalidQuery) as error:
        compile_find(COLL, None, **arguments)
    assert error.value.details == {"pointer": pointer}
    with pytest.raises(InvalidQuery) as error:
        compile_find(COLL, None, pointers=REST_POINTERS, **arguments)
    assert error.value.details["pointer"] == pointer.replace("per_page", "page_size")


@pytest.mark.parametrize(
    ("match", "sql"),
    [
        ({"_key": None}, "FALSE"),
        ({"_key:$ne": None}, "TRUE"),
        ({"_userkey": None}, "_userkey IS NULL"),
        ({"_userkey:$lte": None}, "_userkey IS NULL"),
        ({"_userkey:$lt": None}, "FALSE"),
        ({"_key:$gte": None}, "FALSE"),
        ({"_key:$gt": 5}, "FALSE"),
        ({"_key:$gt": "a"}, "_key > CAST($1 AS TEXT)"),
        ({"_key:$in": ["a", "a"]}, "_key = CAST($1 AS TEXT)"),
        (
            {"_userkey:$nin": ["a", None]},
            "NOT COALESCE((_userkey = CAST($1 AS TEXT) OR _userkey IS NULL), FALSE)",
        ),
        ({"_key:$all": []}, "FALSE"),
        ({"_key:$startswith": "a_"}, "_key LIKE CAST($1 AS TEXT)"),
        ({"_created_at": None}, "FALSE"),
        ({"_created_at:$gte": None}, "FALSE"),
        ({"_created_at:$ne": None}, "TRUE"),
        ({"_created_at:$nin": [None]}, "TRUE"),
        ({"_created_at:$exists": False}, "FALSE"),
        ({"_modified_at:$lt": "2024-01-01"}, "_modified_at < CAST($1 AS TIMESTAMPTZ)"),
        ({"_created_at:$in": ["2024-01-01", None]}, "_created_at = ANY(CAST($1 AS TIMESTAMPTZ[]))"),
    ],
)
def test_system_columns(match: dict[str, Any], sql: str) -> None:
    assert compile_where(COLL, match).sql == sql


@pytest.mark.parametrize(
    ("update", "pointer"),
    [
        ({}, "/data"),
        ({"_key": "x"}, "/data/_key"),
        ({"$set": {"_created_at": 1}}, "/data/$set/_created_at"),
        ({"a:$incr": "x"}, "/data/a:$incr"),
        ({"a:$zap": 1}, "/data/a:$zap"),
        ({"$set": {"a": 1}, "b": 2}, "/data/$set"),
        ({"$inc": {"a": True}}, "/data/$inc/a"),
        ({"a:$unset": False}, "/data/a:$unset"),
        ({"a:$extend": 1}, "/data/a:$extend"),
        ({"a:$rename": 5}, "/data/a:$rename"),
        ({"$pull": {"a": {"$bogus": 1}}}, "/data/$pull/a/$bogus"),
        ({"a..b": 1}, "/data/a..b"),
        ({"a": 1, "a.b": 2}, "/data/a.b"),
        ({"a.b": 1, "a": 2}, "/data/a"),
        ({"a.b": 1, "a.b:$incr": 2}, "/data/a.b:$incr"),
        ({"tags:$push": 1, "tags:$lpush": 0}, "/data/tags:$lpush"),
        ({"$set": {"a": 1}, "$inc": {"a": 1}}, "/data/$inc/a"),
        ({"$set": {"a.b.c": 1}, "$unset": {"a.b": ""}}, "/data/$unset/a.b"),
        ({"$rename": {"a": "b"}, "$set": {"b.c": 1}}, "/data/$set/b.c"),
        ({"$rename": {"a": "b"}, "$set": {"a": 1}}, "/data/$set/a"),
        ({"a:$rename": "a.b"}, "/data/a:$rename"),
        ({"a.b:$rename": "a"}, "/data/a.b:$rename"),
        ({"a:$rename": "a"}, "/data/a:$rename"),
        ({"a.b:$incr": 1, "a:$copy": "c"}, "/data/a:$copy"),
        ({"a:$copy": "c", "c.d": 1}, "/data/c.d"),
    ],
)
def test_mutation_rejections(update: Any, pointer: str) -> None:
    with pytest.raises(ValidationError) as error:
        compile_update(COLL, {}, update)
    assert error.value.details["pointer"] == pointer
    assert error.value.code == "VALIDATION_ERROR"


def test_conflict_message_names_the_paths() -> None:
    with pytest.raises(ValidationError) as error:
        compile_update(COLL, {}, {"a": 1, "a.b": 2})
    assert error.value.message.startswith("Updating the path 'a.b' would create a conflict at 'a'")


@pytest.mark.parametrize(
    "update",
    [
        {"a.b": 1, "a.c": 2},
        {"ab": 1, "a.b": 2, "a.bc": 3},
        {"arr.0": 1, "arr.1": 2},
        {"a:$copy": "b", "a.x:$copy": "c"},  # two reads of overlapping paths
        {"a:$copy": "a.b"},  # one operation reads a, then writes inside it
        {"a.b:$copy": "a"},
        {"$set": {"x": 1}, "$inc": {"y": 1}, "$rename": {"r": "s"}, "$pull": {"l": {"k": 1}}},
    ],
)
def test_non_overlapping_paths_are_accepted(update: dict[str, Any]) -> None:
    compile_update(COLL, {}, update)


def test_update_limit_is_checked_before_conflicts() -> None:
    with pytest.raises(ValidationError, match="at most 2 operations") as error:
        compile_update(COLL, {}, {f"k{i}": i for i in range(10_000)}, limits=Limits(max_conditions=2))
    assert error.value.details["pointer"] == "/data"


def test_update_sql_depends_on_which_components_are_indices() -> None:
    def sql(update: dict[str, Any]) -> str:
        return compile_update(COLL, {}, update).statement.sql

    # an index component may pad an array, a field name may not: different SQL (and cache keys)
    assert sql({"a.0.b:$incr": 1}) != sql({"a.x.b:$incr": 1})
    assert sql({"a.x:$copy": "b.0.c"}) != sql({"a.x:$copy": "b.y.c"})
    assert sql({"a.1:$unset": True}) != sql({"a.x:$unset": True})
    SQL_CACHE.clear()
    first = sql({"a.x.b:$incr": 1})
    assert sql({"a.0.b:$incr": 1}) != first  # a cached shape is never reused for the other
    assert sql({"q.7.z:$incr": 5}) == sql({"a.0.b:$incr": 1})


def test_index_components_travel_as_numeric_parameters() -> None:
    params = compile_update(COLL, {}, {"a.05.b": 1}).statement.params
    assert params == (b"1", ["a"], Decimal(5), ["a", "05"], ["a", "05", "b"])
    params = compile_update(COLL, {}, {"a.x": 1, "b.000": 2, "c." + "9" * 5000: 3}).statement.params
    assert Decimal(0) in params
    assert Decimal(2**31) in params  # anything that large can only be refused: no huge numbers
    assert "²" not in "".join(p for p in params if isinstance(p, str))
    assert (
        compile_update(COLL, {}, {"a.²": 1}).statement.sql
        == compile_update(COLL, {}, {"a.x": 1}).statement.sql
    )


def test_jsonpath_strings_are_escaped() -> None:
    assert jsonpath.string('a"b\\c\n\x01') == '"a\\"b\\\\c\\n\\u0001"'
    assert jsonpath.literal(-3) == "-3"
    assert jsonpath.literal(None) == "null"


def test_iso_instants() -> None:
    assert iso_instant("0001-01-01") == 0
    assert iso_instant("2024-01-05T10:00:00+02:00") == iso_instant("2024-01-05T08:00:00Z")
    assert iso_instant("2024-03-01") - iso_instant("2024-02-28") == 2 * 86400  # a leap year
    assert iso_instant("2024-1-5") is None
    assert iso_instant("2024-13-01") is None


def test_index_definitions() -> None:
    assert index_definition_sql("price", "number") == (
        "((CASE WHEN JSONB_TYPEOF(data -> 'price') = 'number' THEN CAST((data ->> 'price') AS DECIMAL) END)"
        " NULLS FIRST, _key)"
    )
    assert index_definition_sql("meta", "object") is None

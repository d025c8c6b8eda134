"""Golden SQL for representative shapes: the text is pinned, parses back with sqlglot,
and the same shape always yields the same text (the cache key is the shape)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from pgcube.errors import InvalidQuery
from pgcube.query import (
    SQL_CACHE,
    Collection,
    compile_count,
    compile_delete,
    compile_find,
    compile_insert,
    compile_purge_trash,
    compile_restore,
    compile_trash,
    compile_update,
    compile_where,
)

GOLDEN = Path(__file__).with_name("golden_sql.json")
COLL = Collection(
    schema="shop_3fa9c1", table="products", fields={"price": "number", "name": "string", "born": "date"}
)

SHAPES: dict[str, Any] = {
    "equality": lambda: compile_where(COLL, {"category": "electronics", "tags:$in": ["a", "b"]}),
    "key": lambda: compile_where(COLL, {"_id": "abc"}),
    "key_in": lambda: compile_where(COLL, {"_key": {"$in": ["a", "b"]}}),
    "declared_range": lambda: compile_where(COLL, {"price:$gte": 10, "price:$lt": 20}),
    "date_range": lambda: compile_where(COLL, {"born:$between": ["2020-01-01", "2021-01-01T00:00:00Z"]}),
    "residual_range": lambda: compile_where(COLL, {"age:$gt": 18}),
    "null": lambda: compile_where(COLL, {"a.b": None}),
    "negation": lambda: compile_where(
        COLL, {"status:$ne": "deleted", "$nor": [{"x": 1}, {"y:$exists": True}]}
    ),
    "object_eq": lambda: compile_where(COLL, {"o:$eq": {"x": 1, "y": [1]}}),
    "text": lambda: compile_where(COLL, {"name:$regex": "^a", "d:$icontains": "x%"}),
    "elem_match": lambda: compile_where(COLL, {"items": {"$elemMatch": {"sku": 1, "qty:$gt": 2}}}),
    "size": lambda: compile_where(COLL, {"tags:$size": 2}),
    "count": lambda: compile_count(COLL, {"price:$gt": 5}),
    "find": lambda: compile_find(COLL, {"category": "x"}, sort="price desc", limit=25).select,
    "find_key": lambda: compile_find(COLL, {"_id": "k7"}, projection={"name": 1}).select,
    "find_projection": lambda: compile_find(COLL, None, projection={"name": 1, "addr.city": 1}).select,
    "find_json_sort": lambda: compile_find(COLL, None, sort=["rating desc", "name"]).select,
    "find_keyset": lambda: (
        compile_find(
            COLL, {"category": "x"}, sort="price desc", limit=25, cursor=_token("price desc", [None, "k9"])
        ).select
    ),
    "update": lambda: compile_update(COLL, {"_key": "k"}, {"count:$incr": 1, "a.b": 2}).statement,
    "update_array_index": lambda: compile_update(COLL, {}, {"arr.2.x": 1, "old.1:$unset": True}).statement,
    "insert": lambda: compile_insert(COLL, ["a", "b"], [b"{}", b"{}"]),
    "delete": lambda: compile_delete(COLL, {"price:$gt": 5}),
    "trash": lambda: compile_trash(COLL, {"category": "x"}, ref="r1", kind="archived"),
    "restore": lambda: compile_restore(COLL, "r1", deleted_within=3600),
    "purge_trash": lambda: compile_purge_trash(COLL.schema, older_than=3600),
}


def _token(sort: str, values: list[Any]) -> str:
    """A cursor as a previous page of this sort would have handed out."""
    first = compile_find(COLL, None, sort=sort, count=False)
    return first.next_cursor(json.dumps(values).encode())


def _load() -> dict[str, str]:
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_golden_sql(name: str) -> None:
    """``PGCUBE_UPDATE_GOLDEN=1`` rewrites the shape's entry and fails: a run that rewrites the
    golden file never passes, so the new text is reviewed and committed, never taken on trust."""
    compiled = SHAPES[name]()
    golden = _load()
    if os.environ.get("PGCUBE_UPDATE_GOLDEN") == "1":
        previous = golden.get(name)
        golden[name] = compiled.sql
        GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
        pytest.fail(
            f"PGCUBE_UPDATE_GOLDEN=1: {GOLDEN.name} was rewritten for {name!r} "
            f"({'unchanged' if previous == compiled.sql else 'CHANGED'}); review the diff, commit it, "
            "and run again without PGCUBE_UPDATE_GOLDEN"
        )
    assert name in golden, f"no golden SQL for {name!r}: run with PGCUBE_UPDATE_GOLDEN=1 and review"
    assert compiled.sql == golden[name]
    parsed = sqlglot.parse_one(compiled.sql, read="postgres")
    assert sqlglot.parse_one(parsed.sql(dialect="postgres"), read="postgres") == parsed


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_same_shape_same_sql_with_or_without_cache(name: str) -> None:
    first = SHAPES[name]()
    SQL_CACHE.clear()
    rebuilt = SHAPES[name]()
    assert rebuilt.sql == first.sql
    assert rebuilt.params == first.params


def test_values_and_paths_do_not_change_the_sql() -> None:
    a = compile_where(COLL, {"color": "red", "size:$gt": 3})
    b = compile_where(COLL, {"weird.path'\"": 'x"; DROP TABLE t; --', "other:$gt": "z"})
    assert a.sql == b.sql
    assert "DROP" not in b.sql
    assert "weird" not in b.sql
    assert a.params != b.params


def test_parameters_are_numbered_dollar_n() -> None:
    sql = compile_find(COLL, {"a": 1, "b:$gt": 2}).select.sql
    assert "$1" in sql
    assert "%s" not in sql
    assert "?" not in sql


def test_find_builds_documents_over_the_page_only() -> None:
    """The inner query picks the page (criteria, order, limit, offset) with row columns and
    sort keys only; the outer one builds ``doc`` and ``cursor`` for those rows (ADR 0010)."""
    q = compile_find(COLL, {"category": "x"}, sort="price desc", projection={"name": 1}, limit=25, offset=50)
    outer = sqlglot.parse_one(q.select.sql, read="postgres")
    assert isinstance(outer, sqlglot.exp.Select)
    assert [e.alias for e in outer.expressions] == ["doc", "cursor", "total"]
    page = outer.args["from_"].this
    assert isinstance(page, sqlglot.exp.Subquery)
    assert page.alias == "page"
    inner = page.this
    assert [e.alias_or_name for e in inner.expressions] == [
        "_key",
        "_userkey",
        "_created_at",
        "_modified_at",
        "data",
        "k0",
        "k1",
    ]
    assert "jsonb_build_object" not in inner.sql(dialect="postgres").lower()
    assert "jsonb_build_object" in outer.expressions[0].sql(dialect="postgres").lower()
    assert inner.args["limit"] is not None
    assert inner.args["offset"] is not None
    assert outer.args.get("limit") is None
    assert [o.sql(dialect="postgres") for o in outer.args["order"].expressions] == [
        "page.k0 DESC NULLS LAST",
        "page.k1 DESC",
    ]
    assert q.select.params == ('$."category" == "x"', ["name"], 26, 50)


def test_the_total_rides_in_the_page_statement_and_only_when_needed() -> None:
    """One round trip: the count is a CASE branch taken only for a full page (``limit + 1`` rows),
    over the same criteria parameters; a cursor page always counts; ``count: none`` has none."""
    q = compile_find(COLL, {"category": "x"}, limit=25)
    total = sqlglot.parse_one(q.select.sql, read="postgres").expressions[2]
    assert isinstance(total.this, sqlglot.exp.Case)
    text = total.sql(dialect="postgres")
    assert "COUNT(*) OVER () >= CAST($2 AS BIGINT)" in text
    assert 'FROM "shop_3fa9c1"."products" WHERE data @@ CAST($1 AS jsonpath)' in text
    assert q.select.params[:2] == ('$."category" == "x"', 26)
    keyset = compile_find(
        COLL, {"category": "x"}, sort="price desc", limit=25, cursor=_token("price desc", [None, "k9"])
    )
    assert "OVER" not in sqlglot.parse_one(keyset.select.sql, read="postgres").expressions[2].sql()
    bare = compile_find(COLL, {"category": "x"}, limit=25, count=False)
    assert [e.alias for e in sqlglot.parse_one(bare.select.sql, read="postgres").expressions] == [
        "doc",
        "cursor",
    ]


def test_a_find_by_one_key_is_a_primary_key_lookup() -> None:
    """At most one row: no subquery, order, window or count branch for PostgreSQL to plan; the
    same columns as a page, and the sort is still checked."""
    q = compile_find(COLL, {"_key": "k7"}, sort="price desc", limit=5, offset=0)
    select = sqlglot.parse_one(q.select.sql, read="postgres")
    assert [e.alias for e in select.expressions] == ["doc", "cursor", "total"]
    assert select.args.get("order") is None
    assert "OVER" not in q.select.sql
    assert 'FROM "shop_3fa9c1"."products" WHERE _key = CAST($1 AS TEXT)' in q.select.sql
    assert q.select.params == ("k7", 0)
    assert q.count is not None
    assert compile_find(COLL, {"_key": "k7", "name": "x"}).select.sql != q.select.sql
    with pytest.raises(InvalidQuery):
        compile_find(COLL, {"_key": "k7"}, sort="bad sort !")

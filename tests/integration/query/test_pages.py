"""Sort, pagination, keyset cursors and projection, run on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from pgcube.errors import InvalidQuery
from pgcube.query import Collection, compile_find
from tests.integration.query.support import create_collection, insert
from tests.support.sync_pg import SyncPg

DOCS: list[dict[str, Any]] = [
    {
        "price": (i * 7) % 10,
        "label": ["b", None, 3, "a", True, {"x": 1}][i % 6],
        "grp": i % 3,
        "addr": {"city": f"c{i % 4}", "zip": i},
        "items": [{"sku": i, "qty": 1}, {"sku": -i, "qty": 2}, 5],
        "secret": "s",
    }
    for i in range(47)
]
DOCS[5].pop("price")


@pytest.fixture(scope="module")
def coll(pg: SyncPg, schema: str) -> Collection:
    collection = create_collection(pg, schema, "paged", {"price": "number"})
    insert(pg, collection, DOCS)
    return collection


def docs(pg: SyncPg, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [SyncPg.json(r["doc"]) for r in pg.fetch(sql, *params)]


def walk(pg: SyncPg, coll: Collection, sort: Any, size: int) -> list[str]:
    seen: list[str] = []
    token = None
    for _ in range(1000):  # a cursor that does not move on would loop for ever
        q = compile_find(coll, None, sort=sort, limit=size, cursor=token, count=False)
        rows = pg.fetch(q.select.sql, *q.select.params)
        seen += [SyncPg.json(r["doc"])["_key"] for r in rows[: q.limit]]
        if len(rows) <= q.limit:
            return seen
        token = q.next_cursor(rows[q.limit - 1]["cursor"])
    raise AssertionError(f"the cursor pages never end: {seen[:12]}…")


@pytest.mark.parametrize(
    "sort",
    [
        "price asc",
        "price desc",
        "label",
        "-label",
        ["grp desc", "price asc"],
        "_created_at desc",
        "_userkey",
        {"addr.city": 1, "price": -1},
    ],
)
def test_keyset_walk_equals_offset_order(pg: SyncPg, coll: Collection, sort: Any) -> None:
    everything = compile_find(coll, None, sort=sort, limit=1000, count=False)
    expected = [d["_key"] for d in docs(pg, everything.select.sql, everything.select.params)]
    assert len(expected) == len(DOCS)
    assert walk(pg, coll, sort, 4) == expected
    paged: list[str] = []
    for page in range(1, 14):
        q = compile_find(coll, None, sort=sort, page=page, per_page=4, limit=999, count=False)
        paged += [d["_key"] for d in docs(pg, q.select.sql, q.select.params)][: q.limit]
    assert paged == expected


def test_sort_orders(pg: SyncPg, coll: Collection) -> None:
    q = compile_find(coll, None, sort="price asc", limit=1000, count=False)
    prices = [d.get("price") for d in docs(pg, q.select.sql, q.select.params)]
    assert prices[0] is None  # missing sorts first, like null
    assert prices[1:] == sorted(prices[1:])
    q = compile_find(coll, None, sort="label", limit=1000, count=False)
    labels = [d["label"] for d in docs(pg, q.select.sql, q.select.params)]
    kinds = [type(v).__name__ for v in labels]  # jsonb order: null < string < number < boolean < object
    order = ["NoneType", "str", "int", "bool", "dict"]
    assert kinds == sorted(kinds, key=order.index)


def test_count_and_pages(pg: SyncPg, coll: Collection) -> None:
    q = compile_find(coll, {"grp": 1}, page=2, per_page=5)
    assert q.count is not None
    assert pg.fetchval(q.count.sql, *q.count.params) == len([d for d in DOCS if d["grp"] == 1])
    assert (q.limit, q.offset, q.page) == (5, 5, 2)
    assert compile_find(coll, None, count=False).count is None
    assert compile_find(coll, None, limit=3, offset=7).page == 3


def test_projection_include_exclude(pg: SyncPg, coll: Collection) -> None:
    q = compile_find(
        coll, {"_key": "k00003"}, projection={"price": 1, "addr.city": 1, "items.sku": 1}, count=False
    )
    [doc] = docs(pg, q.select.sql, q.select.params)
    assert doc == {"_key": "k00003", "price": 1, "addr": {"city": "c3"}, "items": [{"sku": 3}, {"sku": -3}]}
    q = compile_find(coll, {"_key": "k00003"}, projection=["grp", "_created_at"], count=False)
    [doc] = docs(pg, q.select.sql, q.select.params)
    assert doc == {"_key": "k00003", "grp": 0, "_created_at": "2023-12-31T23:59:57.000Z"}
    q = compile_find(
        coll,
        {"_key": "k00003"},
        projection={"secret": 0, "addr.zip": 0, "items.qty": 0, "_userkey": 0},
        count=False,
    )
    [doc] = docs(pg, q.select.sql, q.select.params)
    assert set(doc) == {"price", "label", "grp", "addr", "items", "_key", "_created_at", "_modified_at"}
    assert doc["addr"] == {"city": "c3"}
    assert doc["items"] == [{"sku": 3}, {"sku": -3}, 5]
    q = compile_find(coll, {"_key": "k00003"}, projection={"price": 1, "_key": 0}, count=False)
    assert docs(pg, q.select.sql, q.select.params) == [{"price": 1}]


def test_whole_document_has_system_fields(pg: SyncPg, coll: Collection) -> None:
    q = compile_find(coll, {"_key": "k00001"}, count=False)
    [doc] = docs(pg, q.select.sql, q.select.params)
    assert doc["_key"] == "k00001"
    assert doc["_userkey"] == "u1"
    assert doc["_created_at"] == "2023-12-31T23:59:59.000Z"
    assert doc["_modified_at"] == "2024-01-01T00:00:00.000Z"


def test_cursor_of_another_sort_is_rejected(pg: SyncPg, coll: Collection) -> None:
    q = compile_find(coll, None, sort="price", limit=2, count=False)
    rows = pg.fetch(q.select.sql, *q.select.params)
    token = q.next_cursor(rows[1]["cursor"])
    with pytest.raises(InvalidQuery) as error:
        compile_find(coll, None, sort="grp", cursor=token)
    assert error.value.details["pointer"] == "/cursor"


@pytest.mark.parametrize(
    "sort",
    [
        "price asc, free asc",
        "price desc, free asc",
        "free asc, price asc",
        "price asc, free desc",
        "free desc, price desc",
        "_key asc, price asc",
    ],
)
def test_cursor_pages_neither_repeat_nor_skip_where_keys_are_null_or_missing(
    pg: SyncPg, schema: str, sort: str
) -> None:
    """A declared key that is NULL next to an undeclared one that is missing (its jsonb ``null``
    is a value, not SQL NULL), and ``_key`` anywhere in the sort: found by the declared-field
    differential test (issue 20)."""
    collection = create_collection(pg, schema, "nulls_" + str(abs(hash(sort)) % 10**6), {"price": "number"})
    insert(pg, collection, [{}] * 4 + [{"price": 1}, {"free": "x"}, {"price": 2, "free": None}])
    everything = walk(pg, collection, sort, 100)
    assert len(everything) == 7
    for size in (1, 2, 3):
        assert walk(pg, collection, sort, size) == everything

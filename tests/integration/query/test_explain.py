"""Each query shape uses the index it should (DESIGN §4), checked with EXPLAIN."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pgcube.query import Collection, compile_count, compile_find
from tests.integration.query.support import create_collection, insert
from tests.support.sync_pg import SyncPg

FIELDS = {"price": "number", "name": "string", "born": "date", "flag": "boolean"}
COLORS = ["red", "green", "blue", "black", "white", "teal", "gray", "pink"]


@pytest.fixture(scope="module")
def coll(pg: SyncPg, schema: str) -> Collection:
    collection = create_collection(pg, schema, "explained", FIELDS)
    docs = [
        {
            "price": (i * 37) % 1000,
            "name": f"name{i:05d}",
            "born": f"20{i % 24:02d}-0{1 + i % 9}-1{i % 10}",
            "flag": i % 2 == 0,
            "color": COLORS[i % len(COLORS)],
            "tags": [f"t{i % 50}", f"u{i % 7}"],
            "n": i,
        }
        for i in range(4000)
    ]
    insert(pg, collection, docs)
    pg.execute(f'ANALYZE "{schema}"."explained"')
    return collection


@pytest.fixture
def no_seqscan(pg: SyncPg) -> Iterator[None]:
    pg.execute("SET enable_seqscan = off")
    yield
    pg.execute("RESET enable_seqscan")


def plan_of(pg: SyncPg, sql: str, params: tuple[Any, ...]) -> dict[str, Any]:
    raw = pg.fetchval("EXPLAIN (FORMAT JSON) " + sql, *params)
    parsed = json.loads(raw) if isinstance(raw, str | bytes) else raw
    return parsed[0]["Plan"]


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def index_used(plan: dict[str, Any]) -> set[str]:
    return {n["Index Name"] for n in nodes(plan) if "Index Name" in n}


def node_types(plan: dict[str, Any]) -> list[str]:
    return [n["Node Type"] for n in nodes(plan)]


def index_named(pg: SyncPg, coll: Collection, fragment: str) -> str:
    rows = pg.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
        coll.schema,
        coll.table,
    )
    matches = [r["indexname"] for r in rows if fragment in r["indexdef"]]
    assert len(matches) == 1, rows
    return str(matches[0])


@pytest.mark.usefixtures("no_seqscan")
@pytest.mark.parametrize(
    "match",
    [
        {"color": "teal", "tags": "t7"},
        {"tags:$in": ["t1", "t2"]},
        {"tags": {"$all": ["t1", "u1"]}},
        {"$or": [{"color": "red"}, {"tags": "t3"}]},
        {"o": {"$eq": {"x": 1}}},
    ],
)
def test_equality_uses_gin(pg: SyncPg, coll: Collection, match: dict[str, Any]) -> None:
    q = compile_count(coll, match)
    assert index_named(pg, coll, "jsonb_path_ops") in index_used(plan_of(pg, q.sql, q.params))


def test_key_uses_primary_key(pg: SyncPg, coll: Collection) -> None:
    q = compile_find(coll, {"_id": "k00042"}, count=False)
    assert index_named(pg, coll, "(_key)") in index_used(plan_of(pg, q.select.sql, q.select.params))
    q = compile_find(coll, {"_key:$in": ["k00042", "k00043"]}, count=False)
    assert index_named(pg, coll, "(_key)") in index_used(plan_of(pg, q.select.sql, q.select.params))


@pytest.mark.usefixtures("no_seqscan")
@pytest.mark.parametrize(
    ("field", "match"),
    [
        ("price", {"price:$gte": 10, "price:$lt": 12}),
        ("name", {"name:$gt": "name03990"}),
        ("born", {"born:$gte": "2023-09-19", "born:$lt": "2023-09-19T00:00:01Z"}),
        ("flag", {"flag:$gt": False}),
    ],
)
def test_range_on_declared_field_uses_its_btree(
    pg: SyncPg, coll: Collection, field: str, match: dict[str, Any]
) -> None:
    q = compile_count(coll, match)
    plan = plan_of(pg, q.sql, q.params)
    assert index_named(pg, coll, f"'{field}'") in index_used(plan)


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_on_declared_field_uses_its_btree(pg: SyncPg, coll: Collection, direction: str) -> None:
    q = compile_find(coll, None, sort=f"price {direction}", limit=20, count=False)
    plan = plan_of(pg, q.select.sql, q.select.params)
    assert index_named(pg, coll, "'price'") in index_used(plan)
    assert "Sort" not in node_types(plan)


def test_default_sort_uses_created_at_index(pg: SyncPg, coll: Collection) -> None:
    q = compile_find(coll, None, limit=20, count=False)
    plan = plan_of(pg, q.select.sql, q.select.params)
    assert index_named(pg, coll, "(_created_at, _key)") in index_used(plan)
    assert "Sort" not in node_types(plan)


def test_keyset_page_starts_inside_the_index(pg: SyncPg, coll: Collection) -> None:
    first = compile_find(coll, None, sort="price asc", limit=5, count=False)
    rows = pg.fetch(first.select.sql, *first.select.params)
    token = first.next_cursor(rows[4]["cursor"])
    q = compile_find(coll, None, sort="price asc", limit=5, cursor=token, count=False)
    plan = plan_of(pg, q.select.sql, q.select.params)
    scans = [n for n in nodes(plan) if n.get("Index Name") == index_named(pg, coll, "'price'")]
    assert scans
    assert "Index Cond" in scans[0]
    assert "Sort" not in node_types(plan)


def test_residual_ranges_never_become_gin_quals(pg: SyncPg, coll: Collection) -> None:
    q = compile_find(coll, {"n:$gt": 3990, "color": "red"}, limit=10, count=False)
    plan = plan_of(pg, q.select.sql, q.select.params)
    conds = " ".join(str(n.get("Index Cond", "")) + str(n.get("Recheck Cond", "")) for n in nodes(plan))
    assert "jsonb_path_match" not in conds


def built_per_node(pg: SyncPg, sql: str, params: tuple[Any, ...]) -> list[tuple[str, float]]:
    """(node, rows) of the plan nodes that build answer documents (``jsonb_build_object`` in
    their output), from EXPLAIN ANALYZE VERBOSE."""
    raw = pg.fetchval("EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, FORMAT JSON) " + sql, *params)
    plan = (json.loads(raw) if isinstance(raw, str | bytes) else raw)[0]["Plan"]
    return [
        (n["Node Type"], n["Actual Rows"] * n["Actual Loops"])
        for n in nodes(plan)
        if any("jsonb_build_object" in str(o).lower() for o in n.get("Output", []))
    ]


@pytest.mark.parametrize(
    "arguments",
    [
        {"sort": "n desc", "limit": 10},  # an undeclared sort key: a Sort over every row
        {"sort": "n desc", "limit": 10, "offset": 300},
        {"limit": 10, "offset": 300},  # the index walks 310 rows
        {"criteria": {"color": "red"}, "sort": "n", "limit": 10, "projection": {"name": 1}},
        {"criteria": {"flag": True}, "sort": "price desc", "limit": 10},
    ],
)
def test_documents_are_built_for_the_page_only(
    pg: SyncPg, coll: Collection, arguments: dict[str, Any]
) -> None:
    """ADR 0010: the page is picked first; the answer is built only for its rows."""
    q = compile_find(coll, count=False, **arguments)
    built = built_per_node(pg, q.select.sql, q.select.params)
    assert built == [("Subquery Scan", 11)]
    assert len(pg.fetch(q.select.sql, *q.select.params)) == 11

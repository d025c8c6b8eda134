"""The mutation language on PostgreSQL: one UPDATE per request."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from pgcube.query import Collection, compile_update
from tests.integration.query.support import create_collection, insert
from tests.support.sync_pg import SyncPg


@pytest.fixture
def coll(pg: SyncPg, schema: str, request: pytest.FixtureRequest) -> Collection:
    table = "m_" + request.node.name.split("[")[0][5:30].lower()
    pg.execute(f'DROP TABLE IF EXISTS "{schema}"."{table}"')
    collection = create_collection(pg, schema, table, {"count": "integer", "name": "string"})
    insert(
        pg,
        collection,
        [
            {"count": 1, "name": "a", "tags": ["x"], "nested": {"v": 1}, "s": "str", "list": [1, 2, 2, 3]},
            {"count": 5, "name": "b", "tags": [], "list": [{"a": 1, "b": 2}, {"a": 2}]},
        ],
        ["one", "two"],
    )
    return collection


def run(pg: SyncPg, coll: Collection, match: Any, update: Any) -> dict[str, dict[str, Any]]:
    q = compile_update(coll, match, update)
    rows = pg.fetch(q.statement.sql, *q.statement.params)
    out = {}
    for row in rows:
        assert list(row["invalid"]) == []
        doc = SyncPg.json(row["doc"])
        out[doc["_key"]] = doc
    return out


def test_ddo_operators(pg: SyncPg, coll: Collection) -> None:
    doc = run(
        pg,
        coll,
        {"_key": "one"},
        {
            "count:$incr": 2,
            "name": "z",
            "a.b.c": 1,
            "tags:$push": "y",
            "list:$remove": 2,
            "nested.v:$decr": True,
            "fresh:$incr": True,
            "tags:$lpush": "w",
            "tags:$addset": ["x", "q", "q"],
            "s:$unset": True,
            "nested:$copy": "copy",
            "when:$now": True,
            "id:$uuid": True,
        },
    )["one"]
    assert doc["count"] == 3
    assert doc["name"] == "z"
    assert doc["a"] == {"b": {"c": 1}}
    assert doc["tags"] == ["w", "x", "y", "q"]
    assert doc["list"] == [1, 3]
    assert doc["nested"] == {"v": 0}
    assert doc["fresh"] == 1
    assert "s" not in doc
    assert doc["copy"] == {"v": 0}
    assert doc["when"].endswith("Z")
    assert len(doc["id"]) == 32


def test_more_ddo_operators(pg: SyncPg, coll: Collection) -> None:
    doc = run(
        pg,
        coll,
        {"_key": "one"},
        {
            "list:$pop": True,
            "tags:$extend": ["p", "q"],
            "nested:$rename": "moved",
            "id:$uuid4": True,
        },
    )["one"]
    assert doc["list"] == [1, 2, 2]
    assert doc["tags"] == ["x", "p", "q"]
    assert doc["moved"] == {"v": 1}
    assert "nested" not in doc
    assert len(doc["id"]) == 36
    doc = run(pg, coll, {"_key": "one"}, {"list:$lpop": True, "tags:$lextend": [0], "tags2:$clear": True})[
        "one"
    ]
    assert doc["list"] == [2, 2]
    assert doc["tags"] == [0, "x", "p", "q"]
    assert doc["tags2"] == []


def test_mongodb_form(pg: SyncPg, coll: Collection) -> None:
    out = run(
        pg,
        coll,
        {},
        {
            "$set": {"name": "m", "deep.x": [1]},
            "$inc": {"count": -1, "f": 0.5},
            "$unset": {"nope": ""},
            "$push": {"tags": {"$each": ["e1", "e2"]}},
            "$addToSet": {"tags": "e1"},
            "$pull": {"list": {"a": 2}},
        },
    )
    assert out["one"]["count"] == 0
    assert out["two"]["count"] == 4
    assert out["two"]["f"] == 0.5
    assert out["two"]["tags"] == ["e1", "e2"]
    assert out["two"]["list"] == [{"a": 1, "b": 2}]
    assert out["one"]["list"] == [1, 2, 2, 3]
    assert out["one"]["deep"] == {"x": [1]}
    out = run(pg, coll, {"_key": "one"}, {"$pull": {"list": {"$gte": 2}}})
    assert out["one"]["list"] == [1]


def test_type_errors_abort_the_statement(pg: SyncPg, coll: Collection) -> None:
    for update in ({"s:$incr": 1}, {"nested:$push": 1}, {"s:$pop": True}):
        q = compile_update(coll, {}, update)
        with pytest.raises(asyncpg.InvalidParameterValueError):
            pg.fetch(q.statement.sql, *q.statement.params)


def test_declared_field_violations_are_reported(pg: SyncPg, coll: Collection) -> None:
    q = compile_update(coll, {"_key": "one"}, {"count:$incr": 0.5, "name": 5})
    [row] = pg.fetch(q.statement.sql, *q.statement.params)
    assert sorted(row["invalid"]) == ["count", "name"]

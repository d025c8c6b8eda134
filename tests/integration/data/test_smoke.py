from __future__ import annotations

from tests.integration.data.conftest import Db


def test_insert_then_find(db: Db) -> None:
    inserted = db.insert("products", [{"name": "a", "price": 3}, {"name": "b", "price": 5}])
    assert [d["name"] for d in inserted] == ["a", "b"]
    found = db.find("products", match={"price:$gt": 4})
    assert [d["name"] for d in found["data"]] == ["b"]

"""Pagination, sort, cursors and projection through HTTP (SPEC §7)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.integration.data.conftest import Db


@pytest.fixture
def ten(db: Db) -> Db:
    """products k00..k09 with price = 10 * i, and pairs sharing a category (ties)."""
    db.insert(
        "products",
        [
            {"_key": f"k{i:02d}", "name": f"p{i}", "price": i * 10, "category": f"c{i // 2}"}
            for i in range(10)
        ],
    )
    return db


def pagination(db: Db, **body: Any) -> tuple[list[str], dict[str, Any]]:
    answer = db.find("products", **body)
    return [d["_key"] for d in answer["data"]], answer["meta"]["pagination"]


def test_first_middle_and_last_page(ten: Db) -> None:
    keys, meta = pagination(ten, sort="price asc", page=1, per_page=4)
    assert keys == ["k00", "k01", "k02", "k03"]
    assert meta == {
        "page": 1,
        "per_page": 4,
        "total_pages": 3,
        "size": 10,
        "count": 4,
        "has_next": True,
        "next_page": 2,
        "has_prev": False,
        "prev_page": None,
        "page_showing_start": 1,
        "page_showing_end": 4,
        "next_cursor": meta["next_cursor"],
    }
    assert isinstance(meta["next_cursor"], str)
    keys, meta = pagination(ten, sort="price asc", page=3, per_page=4)
    assert keys == ["k08", "k09"]
    assert (meta["has_next"], meta["next_page"], meta["prev_page"], meta["next_cursor"]) == (
        False,
        None,
        2,
        None,
    )
    assert (meta["page_showing_start"], meta["page_showing_end"]) == (9, 10)


def test_page_beyond_the_end_is_empty(ten: Db) -> None:
    keys, meta = pagination(ten, page=9, per_page=4)
    assert keys == []
    assert (meta["count"], meta["size"], meta["has_next"]) == (0, 10, False)


def test_limit_offset_and_page_wins(ten: Db) -> None:
    keys, _ = pagination(ten, sort="price", limit=3, offset=2)
    assert keys == ["k02", "k03", "k04"]
    keys, _ = pagination(ten, sort="price", limit=3, offset=2, page=1, per_page=2)
    assert keys == ["k00", "k01"]


def test_count_none_skips_the_total(ten: Db) -> None:
    keys, meta = pagination(ten, sort="price", limit=5, count="none")
    assert len(keys) == 5
    assert (meta["size"], meta["total_pages"], meta["has_next"]) == (None, None, True)


def test_default_sort_is_newest_first(db: Db) -> None:
    for i in range(3):
        db.insert("products", [{"_key": f"n{i}", "name": "x"}])
    assert db.keys("products") == ["n2", "n1", "n0"]


def test_ties_are_broken_by_key_so_pages_never_overlap(ten: Db) -> None:
    seen: list[str] = []
    for page in range(1, 6):
        keys, _ = pagination(ten, sort="category desc", page=page, per_page=2)
        seen += keys
    assert sorted(seen) == [f"k{i:02d}" for i in range(10)]
    assert set(seen[:2]) == {"k08", "k09"}, "the highest category first, its two documents in _key order"


@pytest.mark.parametrize(
    "sort", ["price desc", "-price", ["category asc", "price desc"], "name", "_created_at asc"]
)
def test_cursor_walks_every_document_once(ten: Db, sort: Any) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        body: dict[str, Any] = {"sort": sort, "limit": 3}
        if cursor:
            body["cursor"] = cursor
        keys, meta = pagination(ten, **body)
        seen += keys
        cursor = meta["next_cursor"]
        if not meta["has_next"]:
            break
    assert len(seen) == 10
    assert sorted(seen) == [f"k{i:02d}" for i in range(10)]


def test_cursor_continues_past_concurrent_inserts(ten: Db) -> None:
    keys, meta = pagination(ten, sort="price asc", limit=4)
    assert keys == ["k00", "k01", "k02", "k03"]
    # New documents land before and after the cursor while we page.
    ten.insert(
        "products", [{"_key": "early", "name": "e", "price": -1}, {"_key": "late", "name": "l", "price": 999}]
    )
    rest: list[str] = []
    cursor = meta["next_cursor"]
    while cursor:
        keys, meta = pagination(ten, sort="price asc", limit=4, cursor=cursor)
        rest += keys
        cursor = meta["next_cursor"]
    assert rest == ["k04", "k05", "k06", "k07", "k08", "k09", "late"]


def test_cursor_for_another_sort_is_refused(ten: Db) -> None:
    _, meta = pagination(ten, sort="price asc", limit=2)
    error = ten.error(
        {
            "op": "collection.find",
            "collection": "products",
            "sort": "name asc",
            "cursor": meta["next_cursor"],
        },
        400,
        "INVALID_QUERY",
    )
    assert error["details"]["pointer"] == "/cursor"
    ten.error({"op": "collection.find", "collection": "products", "cursor": "garbage!"}, 400, "INVALID_QUERY")


@pytest.mark.parametrize(
    ("projection", "expected"),
    [
        ({"name": 1}, {"_key", "name"}),
        (["name", "price"], {"_key", "name", "price"}),
        ({"name": 0, "category": 0}, {"_key", "_userkey", "_created_at", "_modified_at", "price"}),
        ({"name": 1, "_key": 0}, {"name"}),
    ],
)
def test_projection_forms(ten: Db, projection: Any, expected: set[str]) -> None:
    docs = ten.find("products", filter=projection, limit=2)["data"]
    assert [set(d) for d in docs] == [expected, expected]


def test_projection_of_dotted_paths(db: Db) -> None:
    db.insert("products", [{"name": "a", "dims": {"w": 1, "h": 2, "d": 3}}])
    (doc,) = db.find("products", filter={"dims.w": 1, "dims.h": 1})["data"]
    assert doc["dims"] == {"w": 1, "h": 2}
    (doc,) = db.find("products", filter={"dims.d": 0, "name": 0})["data"]
    assert doc["dims"] == {"w": 1, "h": 2}
    assert "name" not in doc


def test_page_size_over_the_limit_is_400(ten: Db) -> None:
    ten.error({"op": "collection.find", "collection": "products", "limit": 1001}, 400, "INVALID_QUERY")
    ten.error(
        {"op": "collection.find", "collection": "products", "page": 1, "per_page": 5000}, 400, "INVALID_QUERY"
    )


def test_concurrent_readers_and_writers(db: Db) -> None:
    """Reads and writes from several threads: every insert is acknowledged and found once."""
    errors: list[str] = []

    def writer(n: int) -> None:
        for i in range(5):
            response = db.ddo(
                {
                    "op": "collection.insert",
                    "collection": "products",
                    "data": {"_key": f"w{n}-{i}", "name": "w"},
                }
            )
            if response.status_code != 200:
                errors.append(response.text)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(db.keys("products")) == sorted(f"w{n}-{i}" for n in range(4) for i in range(5))

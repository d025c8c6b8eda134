from __future__ import annotations

from pgcube.data.pagination import ddo_pagination, rest_pagination


def test_ddo_pagination_middle_page() -> None:
    meta = ddo_pagination(50, 25, count=25, total=120, has_next=True, next_cursor="c")
    assert meta == {
        "page": 3,
        "per_page": 25,
        "total_pages": 5,
        "size": 120,
        "count": 25,
        "has_next": True,
        "next_page": 4,
        "has_prev": True,
        "prev_page": 2,
        "page_showing_start": 51,
        "page_showing_end": 75,
        "next_cursor": "c",
    }


def test_ddo_pagination_first_and_last_page() -> None:
    first = ddo_pagination(0, 10, count=10, total=15, has_next=True, next_cursor="x")
    assert (first["has_prev"], first["prev_page"], first["next_page"]) == (False, None, 2)
    last = ddo_pagination(10, 10, count=5, total=15, has_next=False, next_cursor=None)
    assert (last["page"], last["has_next"], last["next_page"], last["page_showing_end"]) == (
        2,
        False,
        None,
        15,
    )


def test_ddo_pagination_empty_page_beyond_the_end_without_total() -> None:
    meta = ddo_pagination(500, 100, count=0, total=None, has_next=False, next_cursor=None)
    assert meta["size"] is None
    assert meta["total_pages"] is None
    assert meta["page_showing_start"] == 0
    assert meta["page_showing_end"] == 0
    assert meta["next_page"] is None
    assert meta["prev_page"] == 5


def test_rest_pagination() -> None:
    assert rest_pagination(1, 10, total=21, has_next=True) == {
        "page": 1,
        "page_size": 10,
        "total_items": 21,
        "total_pages": 3,
        "has_next": True,
    }


def test_a_cursor_page_has_no_number_or_position() -> None:
    meta = ddo_pagination(0, 10, count=10, total=None, has_next=True, next_cursor="n", keyset=True)
    assert (meta["page"], meta["prev_page"], meta["page_showing_start"], meta["page_showing_end"]) == (
        None,
        None,
        None,
        None,
    )
    assert (meta["has_prev"], meta["has_next"], meta["next_cursor"]) == (True, True, "n")

from __future__ import annotations

import pytest

from pgcube.data.pagination import Window, ddo_pagination, resolve_window, rest_pagination
from pgcube.errors import ValidationError


def test_default_window_is_the_first_hundred() -> None:
    assert resolve_window() == Window(offset=0, limit=100)


def test_limit_and_offset() -> None:
    assert resolve_window(limit=25, offset=50) == Window(offset=50, limit=25)


def test_page_wins_over_limit_and_offset() -> None:
    assert resolve_window(limit=10, offset=3, page=3, per_page=20) == Window(offset=40, limit=20)


def test_page_without_per_page_uses_limit_then_default() -> None:
    assert resolve_window(page=2, limit=10) == Window(offset=10, limit=10)
    assert resolve_window(page=2) == Window(offset=100, limit=100)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"page": 0}, "page"),
        ({"page": 1, "per_page": 0}, "per_page"),
        ({"limit": 1001}, "limit"),
        ({"page": 1, "per_page": 1001}, "per_page"),
    ],
)
def test_bad_windows_name_the_field(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        resolve_window(**kwargs)
    assert caught.value.details == {"field": field}


def test_ddo_pagination_middle_page() -> None:
    meta = ddo_pagination(Window(offset=50, limit=25), count=25, total=120, has_next=True, next_cursor="c")
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


def test_ddo_pagination_empty_page_beyond_the_end_without_total() -> None:
    meta = ddo_pagination(
        Window(offset=500, limit=100), count=0, total=None, has_next=False, next_cursor=None
    )
    assert meta["size"] is None
    assert meta["total_pages"] is None
    assert meta["page_showing_start"] == 0
    assert meta["page_showing_end"] == 0
    assert meta["next_page"] is None
    assert meta["prev_page"] == 5


def test_rest_pagination() -> None:
    assert rest_pagination(Window(offset=0, limit=10), total=21, has_next=True) == {
        "page": 1,
        "page_size": 10,
        "total_items": 21,
        "total_pages": 3,
        "has_next": True,
    }

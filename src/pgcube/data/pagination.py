"""The pagination objects of both dialects (SPEC §6, §7). Pure: no I/O.

The compiler resolves the window (``limit``/``offset`` or ``page``/``per_page``,
page winning); the read path fetches ``limit + 1`` rows, so ``has_next`` is
known even when the total is skipped (``"count": "none"``).
"""

from __future__ import annotations

from typing import Any


def _total_pages(total: int, size: int) -> int:
    return (total + size - 1) // size


def ddo_pagination(
    offset: int,
    limit: int,
    *,
    count: int,
    total: int | None,
    has_next: bool,
    next_cursor: str | None,
    keyset: bool = False,
) -> dict[str, Any]:
    """``meta.pagination`` of a DDO ``collection.find`` (SPEC §7).

    A cursor (keyset) page has no number and no position: those keys are null.
    """
    if keyset:
        return {
            "page": None,
            "per_page": limit,
            "total_pages": None if total is None else _total_pages(total, limit),
            "size": total,
            "count": count,
            "has_next": has_next,
            "next_page": None,
            "has_prev": True,
            "prev_page": None,
            "page_showing_start": None,
            "page_showing_end": None,
            "next_cursor": next_cursor,
        }
    page = offset // limit + 1
    has_prev = offset > 0
    return {
        "page": page,
        "per_page": limit,
        "total_pages": None if total is None else _total_pages(total, limit),
        "size": total,
        "count": count,
        "has_next": has_next,
        "next_page": page + 1 if has_next else None,
        "has_prev": has_prev,
        "prev_page": page - 1 if has_prev and page > 1 else None,
        "page_showing_start": offset + 1 if count else 0,
        "page_showing_end": offset + count if count else 0,
        "next_cursor": next_cursor,
    }


def rest_pagination(page: int, page_size: int, *, total: int, has_next: bool) -> dict[str, Any]:
    """``pagination`` of ``GET /api/crud`` (DataCube seed)."""
    return {
        "page": page,
        "page_size": page_size,
        "total_items": total,
        "total_pages": _total_pages(total, page_size),
        "has_next": has_next,
    }

"""Page windows and the pagination objects of both dialects (SPEC §6, §7).

Pure: no I/O. A request names its page either as ``limit``/``offset`` or as
``page``/``per_page`` (page wins when both are sent); ``resolve_window``
turns either into one ``Window``. The read path fetches ``limit + 1`` rows so
``has_next`` is known even when the total is skipped (``"count": "none"``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from pgcube.errors import ValidationError

DEFAULT_PAGE_SIZE = 100


class Window(msgspec.Struct, frozen=True, kw_only=True):
    offset: int
    limit: int

    @property
    def page(self) -> int:
        return self.offset // self.limit + 1


def _at_least(name: str, value: int | None, minimum: int) -> None:
    if value is not None and value < minimum:
        raise ValidationError(f"{name} must be at least {minimum}", details={"field": name})


def resolve_window(
    *,
    limit: int | None = None,
    offset: int | None = None,
    page: int | None = None,
    per_page: int | None = None,
    default_size: int = DEFAULT_PAGE_SIZE,
    max_size: int = 1000,
    size_field: str = "per_page",
) -> Window:
    """The rows to return: ``page``/``per_page`` if a page is named, else ``limit``/``offset``."""
    _at_least("limit", limit, 1)
    _at_least("offset", offset, 0)
    _at_least("page", page, 1)
    _at_least(size_field, per_page, 1)
    if page is not None:
        size_name, size = (size_field, per_page) if per_page is not None else ("limit", limit)
    else:
        size_name, size = ("limit", limit) if limit is not None else (size_field, per_page)
    size = size or default_size
    if size > max_size:
        raise ValidationError(f"{size_name} must be at most {max_size}", details={"field": size_name})
    if page is not None:
        return Window(offset=(page - 1) * size, limit=size)
    return Window(offset=offset or 0, limit=size)


def _total_pages(total: int, size: int) -> int:
    return (total + size - 1) // size


def ddo_pagination(
    window: Window, *, count: int, total: int | None, has_next: bool, next_cursor: str | None
) -> dict[str, Any]:
    """``meta.pagination`` of a DDO ``collection.find`` (SPEC §7)."""
    page = window.page
    has_prev = window.offset > 0
    return {
        "page": page,
        "per_page": window.limit,
        "total_pages": None if total is None else _total_pages(total, window.limit),
        "size": total,
        "count": count,
        "has_next": has_next,
        "next_page": page + 1 if has_next else None,
        "has_prev": has_prev,
        "prev_page": page - 1 if has_prev and page > 1 else None,
        "page_showing_start": window.offset + 1 if count else 0,
        "page_showing_end": window.offset + count if count else 0,
        "next_cursor": next_cursor,
    }


def rest_pagination(window: Window, *, total: int, has_next: bool) -> dict[str, Any]:
    """``pagination`` of ``GET /api/crud`` and the list routes (DataCube seed)."""
    return {
        "page": window.page,
        "page_size": window.limit,
        "total_items": total,
        "total_pages": _total_pages(total, window.limit),
        "has_next": has_next,
    }

"""Bodies and answers of ``/api/crud`` (SPEC §6, the DataCube seed)."""

from __future__ import annotations

from typing import Any

import msgspec


class InsertBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    database_id: str
    collection_name: str
    data: Any = None
    documents: Any = None
    """Alias of ``data``."""


class InsertAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    inserted_ids: list[str]


class UpdateBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    database_id: str
    collection_name: str
    update_data: dict[str, Any]
    filters: dict[str, Any] = msgspec.field(default_factory=dict)
    upsert: bool = False
    all: bool = False
    """Required, with empty ``filters``, to update every document."""


class UpdateAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    matched_count: int
    modified_count: int
    upserted_id: str | msgspec.UnsetType = msgspec.UNSET
    """Only when an upsert inserted a document."""


class DeleteBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    database_id: str
    collection_name: str
    filters: dict[str, Any] = msgspec.field(default_factory=dict)
    soft_delete: bool = True
    """Move to the trash (restorable for 24 h by ``ref``); false deletes for good."""
    all: bool = False


class DeleteAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    deleted_count: int
    ref: str | None


class Pagination(msgspec.Struct, kw_only=True):
    page: int
    page_size: int
    total_items: int
    total_pages: int
    has_next: bool


class FindAnswer(msgspec.Struct, kw_only=True):
    """``data``: the documents, each with its system fields."""

    success: bool = True
    data: list[dict[str, Any]]
    pagination: Pagination


class ExplainRows(msgspec.Struct, kw_only=True):
    estimated: float
    """The top plan node's estimate (``Plan Rows``)."""
    actual: float | msgspec.UnsetType = msgspec.UNSET
    """With ``analyze``: the rows it returned (``Actual Rows``)."""


class ExplainAdvice(msgspec.Struct, kw_only=True):
    code: str
    """``UNDECLARED_RANGE``, ``UNANCHORED_REGEX``, ``PREFIX_AS_RANGE``, ``FULL_SCAN``,
    ``SORT_WITHOUT_INDEX``, ``DEEP_OFFSET`` (docs/query-language.md, "Explaining a query")."""
    message: str
    pointer: str | msgspec.UnsetType = msgspec.UNSET
    """The JSON pointer of the request key it is about (``/filters/price:$gt``)."""
    fix: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    """What to send: a field's declaration, a replacement condition, a ``create_index`` body."""


class Explained(msgspec.Struct, kw_only=True):
    sql: str
    params: list[Any]
    plan: dict[str, Any]
    """PostgreSQL's plan tree (EXPLAIN's ``Plan`` object)."""
    indexes: list[str]
    rows: ExplainRows
    advice: list[ExplainAdvice]


class ExplainAnswer(msgspec.Struct, kw_only=True):
    """``data``: the same object as the DDO ``collection.explain`` answers."""

    success: bool = True
    data: Explained

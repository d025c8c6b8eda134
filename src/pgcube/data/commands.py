"""The document commands both dialects decode into (SPEC §6, §7).

``POST /api/{database_id}`` (DDO) and ``/api/crud`` (REST) each decode their
body into one of these and hand it to ``pgcube.data.service.DocumentService``;
each dialect then encodes the result in its own envelope. Nothing here knows
either dialect, except where a part of the request came from: ``pointers``
name the body keys that error details point at (``/match`` or ``/filters``).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from pgcube.errors import ValidationError
from pgcube.query import DDO_POINTERS, Pointers

Criteria = dict[str, Any]


class Find(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    criteria: Criteria
    sort: Any = None
    projection: Any = None
    limit: Any = None
    offset: Any = None
    page: Any = None
    per_page: Any = None
    cursor: str | None = None
    with_total: bool = True
    pointers: Pointers = DDO_POINTERS


class Count(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    criteria: Criteria
    pointers: Pointers = DDO_POINTERS


class Insert(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    documents: list[Any]


class Update(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    criteria: Criteria
    mutation: dict[str, Any]
    pointers: Pointers = DDO_POINTERS
    mutation_pointer: str = "/data"
    everything: bool = True
    """False: criteria that match every document (``{}``, ``{"$and": [{}]}`` …) are refused."""


class Upsert(msgspec.Struct, frozen=True, kw_only=True):
    """Update the matches; with none, insert the criteria's equality keys overlaid with
    ``new_document``, then apply the mutation to it (MongoDB's rule)."""

    collection: str
    criteria: Criteria
    mutation: dict[str, Any]
    new_document: dict[str, Any]
    pointers: Pointers = DDO_POINTERS
    mutation_pointer: str = "/update"
    everything: bool = True
    """As ``Update.everything``."""


class Remove(msgspec.Struct, frozen=True, kw_only=True):
    """To the trash as ``deleted`` or ``archived`` (restorable by ``_ref``), or for good (``None``)."""

    collection: str
    criteria: Criteria
    kind: Literal["deleted", "archived"] | None
    pointers: Pointers = DDO_POINTERS
    everything: bool = True
    """As ``Update.everything``."""


class Restore(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    ref: str


class Trashed(msgspec.Struct, frozen=True, kw_only=True):
    """What a restore of the collection could put back, newest first (at most ``limit``)."""

    collection: str
    limit: int


class Explain(msgspec.Struct, frozen=True, kw_only=True):
    """Plan ``command`` — the statement its service method would send — and, with ``analyze``,
    run it (a find or a count only: a write is planned, never run)."""

    collection: str
    command: Find | Count | Update | Remove
    analyze: bool = False

    def __post_init__(self) -> None:
        # Refused where both dialects build the command, before any statement: EXPLAIN ANALYZE
        # runs the statement, and an explained write must change nothing.
        if self.analyze and not isinstance(self.command, Find | Count):
            raise ValidationError(
                "analyze runs the statement: an update or a delete is only planned (leave analyze out)",
                details={"field": "analyze", "pointer": "/analyze"},
            )


Command = Find | Count | Insert | Update | Upsert | Remove | Restore | Explain
"""Every document command; each names the collection it works on."""

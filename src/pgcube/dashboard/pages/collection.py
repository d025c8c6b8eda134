"""What the pages of one collection share — its documents, query, trash and import pages: where
the collection is (``Where``, with the dashboard's URLs for it and the ops on it), the facts its
pages' header shows, whether htmx asked for a part of a page only, and what a write did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pgcube.dashboard.client import Answer
from pgcube.dashboard.page import Page
from pgcube.dashboard.pages.scoped import database_of, database_url, part, refuse_missing_database

COLLECTION = "/databases/{database_id:str}/collections/{collection:str}"
"""The path of a collection's documents page; its other pages are below it."""


@dataclass(frozen=True)
class Where:
    """One collection of one database, and the dashboard's URLs for it."""

    database_id: str
    collection: str

    @property
    def database_url(self) -> str:
        return database_url(self.database_id)

    @property
    def base(self) -> str:
        return f"{self.database_url}/collections/{part(self.collection)}"

    async def ddo(self, page: Page, op: str, **body: Any) -> Answer:
        """One op on the collection; ``Refused`` (the error page) when its database is not there."""
        answer = await page.api.ddo(self.database_id, {"op": op, "collection": self.collection, **body})
        return refuse_missing_database(answer)


def partial_target(page: Page) -> str | None:
    """The id of the element an htmx request swaps (a part of the page is enough), else None."""
    headers = page.request.headers
    if headers.get("hx-request") != "true" or headers.get("hx-history-restore-request") == "true":
        return None
    return headers.get("hx-target")


async def collection_context(page: Page, where: Where) -> dict[str, Any]:
    """The header's facts: the database's name, and whether the collection exists yet."""
    database = await database_of(page, where.database_id)
    return {
        "where": where,
        "database_name": database.name,
        "exists": any(described.get("name") == where.collection for described in database.collections),
    }


@dataclass(frozen=True)
class Outcome:
    """What a write did: a notice (with the ``_ref`` to undo a delete), or its error."""

    notice: str | None = None
    undo: str | None = None
    error: str | None = None
    status: int = 200

    @classmethod
    def failed(cls, answer: Answer) -> Outcome:
        """The API's refusal of a write, as the page shows it."""
        return cls(error=answer.message, status=answer.status)

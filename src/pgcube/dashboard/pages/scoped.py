"""What the pages of one database share: the database as ``get_metadata`` describes it, or the
API's refusal shown as the dashboard's error page (another account's database is the API's 404,
and the page says no more than the API did).

Every page of a database loads it with ``database_of``, and every call that may find it gone
passes its answer through ``refuse_missing_database``: a database that is not there (or not the
account's) is always the error page, raised as ``Refused`` for the router to show, so no handler
catches it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from litestar.exceptions import HTTPException
from litestar.params import QueryParameter

from pgcube.dashboard.client import Answer
from pgcube.dashboard.page import Page

VECTOR_PREFIX = "_vec_"
"""A vector collection's table name is its name with this prefix (``get_metadata``, ``set_access``)."""
FILES = "_files"
"""The name ``set_access`` takes for the rules of a database's files."""

PageNumber = Annotated[int, QueryParameter(name="page")]
"""``?page=`` of a list — the databases, a database's end users, its files — as a number whose
value the API judges (the handler's ``page`` is the request's page)."""


DATABASE_NOT_FOUND = "DATABASE_NOT_FOUND"
"""The API's error code for a database that is not there, or is another account's."""


def part(text: str) -> str:
    """``text`` as one segment of a URL's path: a ``/``, ``?`` or ``#`` typed into an address stays
    in its segment instead of leading another route (or the API's) somewhere else."""
    return quote(text, safe="")


def database_url(database_id: str) -> str:
    """The dashboard's page of a database; its other pages are below it."""
    return f"/databases/{part(database_id)}"


class Refused(HTTPException):
    """The API refused the call a page is built on: the error page, with the API's status and message."""

    @classmethod
    def of(cls, answer: Answer) -> Refused:
        return cls(status_code=answer.status, detail=answer.message)


@dataclass(frozen=True)
class Database:
    """One database of the account, as ``GET /api/get_metadata`` answered."""

    id: str
    metadata: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.metadata.get("displayName", self.id))

    @property
    def collections(self) -> list[dict[str, Any]]:
        collections = self.metadata.get("collections")
        return collections if isinstance(collections, list) else []

    def access_of(self, collection: str) -> dict[str, str] | None:
        """The read and write rules of ``collection`` (``_files``: the files'), None when it is not there."""
        if collection == FILES:
            files = self.metadata.get("files")
            return files.get("access") if isinstance(files, dict) else None
        for described in self.collections:
            if described.get("name") == collection:
                access = described.get("access")
                return access if isinstance(access, dict) else None
        return None

    def vector_collections(self) -> list[dict[str, Any]]:
        """The vector collections, each with its ``name`` as the ``vdb.*`` ops take it."""
        return [
            {**described, "name": described["name"].removeprefix(VECTOR_PREFIX), "table": described["name"]}
            for described in self.collections
            if str(described.get("name", "")).startswith(VECTOR_PREFIX)
        ]


async def database_of(page: Page, database_id: str) -> Database:
    """The account's database ``database_id``; ``Refused`` (the API's 404) when it is not one of them."""
    answer = await page.api.get("/api/get_metadata", params={"database_id": database_id})
    if not answer.ok:
        raise Refused.of(answer)
    return Database(id=database_id, metadata=answer.body.get("data", {}))


def refuse_missing_database(answer: Answer) -> Answer:
    """``answer``, unless the API says its database is not there: then ``Refused`` (the API's 404).
    Another 404 — a collection, a document, a file — is the page's to show."""
    if answer.error.get("code") == DATABASE_NOT_FOUND:
        raise Refused.of(answer)
    return answer

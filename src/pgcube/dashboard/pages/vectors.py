"""Vector search (the ``vdb.*`` ops, SPEC §13): search a vector collection by meaning, and add a
text to one to try it. The search is a GET (a page of results is a link); where PostgreSQL has no
pgvector the API's 501 ``FEATURE_UNAVAILABLE`` is what the page shows."""

from __future__ import annotations

from typing import Any, Final

from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from pgcube.dashboard import jsontext
from pgcube.dashboard.client import Answer
from pgcube.dashboard.page import CurrentPage, Page
from pgcube.dashboard.pages.scoped import database_of

DEFAULT_LIMIT: Final = 10
CONTENT_TYPES: Final = ("text", "markdown", "html")
"""The text kinds ``vdb.insert`` takes (``json`` content is not text typed in a box)."""


async def _vectors_page(
    page: Page,
    database_id: str,
    *,
    search: dict[str, Any],
    status_code: int = 200,
    failed: Answer | None = None,
    error: str | None = None,
    **context: Any,
) -> Template:
    database = await database_of(page, database_id)
    return page.render(
        "vectors.html",
        status_code=failed.status if failed else status_code,
        database=database,
        collections=database.vector_collections(),
        search=search,
        content_types=CONTENT_TYPES,
        error=failed.message if failed else error,
        pointer=failed.pointer if failed else None,
        title=f"Vector search · {database.name}",
        **context,
    )


@get("/databases/{database_id:str}/vectors", name="dashboard:vectors")
async def vector_search(
    page: CurrentPage,
    database_id: FromPath[str],
    collection: FromQuery[str] = "",
    q: FromQuery[str] = "",
    limit: FromQuery[int] = DEFAULT_LIMIT,
    match: FromQuery[str] = "",
) -> Template:
    search = {"collection": collection, "q": q, "limit": limit, "match": match}
    if not (collection and q.strip()):
        return await _vectors_page(page, database_id, search=search)
    body: dict[str, Any] = {"op": "vdb.search", "collection": collection, "query": q, "limit": limit}
    try:
        criteria = jsontext.parse_object(match, "The match", example='{"metadata.topic": "billing"}')
    except jsontext.BadJson as exc:
        return await _vectors_page(page, database_id, search=search, status_code=400, error=str(exc))
    if criteria is not None:
        body["match"] = criteria
    answer = await page.api.ddo(database_id, body)
    if not answer.ok:
        return await _vectors_page(page, database_id, search=search, failed=answer)
    return await _vectors_page(
        page, database_id, search=search, results=answer.body["data"], meta=answer.body.get("meta", {})
    )


@post("/databases/{database_id:str}/vectors", status_code=200)
async def add_text(page: CurrentPage, database_id: FromPath[str]) -> Template:
    form = await page.form()
    collection = form.get("collection", "").strip()
    search = {"collection": collection, "q": "", "limit": DEFAULT_LIMIT, "match": ""}
    entry: dict[str, Any] = {
        "content": form.get("content", ""),
        "content_type": form.get("content_type", "text"),
    }
    try:
        metadata = jsontext.parse_object(
            form.get("metadata", ""), "The metadata", example='{"topic": "billing"}'
        )
    except jsontext.BadJson as exc:
        return await _vectors_page(
            page, database_id, search=search, status_code=400, error=str(exc), added_form=form
        )
    if metadata is not None:
        entry["metadata"] = metadata
    answer = await page.api.ddo(database_id, {"op": "vdb.insert", "collection": collection, "data": [entry]})
    if not answer.ok:
        return await _vectors_page(page, database_id, search=search, failed=answer, added_form=form)
    chunks = len(answer.body["data"])
    message = f"Added to “{collection}” as {chunks} chunk{'' if chunks == 1 else 's'}."
    return await _vectors_page(page, database_id, search=search, message=message)


PAGES = [vector_search, add_text]

"""A collection's access rules (SPEC §11.4): who may read and who may write its documents with a
web key, as ``get_metadata`` shows them, changed with ``POST /api/set_access``. The same page
serves the files' rules (``_files``) and a vector collection's (``_vec_<name>``)."""

from __future__ import annotations

from typing import Final

from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from pgcube.dashboard.page import CurrentPage, Page
from pgcube.dashboard.pages.scoped import FILES, VECTOR_PREFIX, database_of

ACTIONS: Final = {"read": "Read", "write": "Write (insert, update, delete)"}
RULES: Final = {
    "none": "nobody with a web key (server keys only)",
    "owner": "the end user who created the document",
    "users": "any signed-in end user",
    "all": "anyone with the web key, signed in or not",
}
"""The rules ``set_access`` takes, as the API documents them (its OpenAPI enum)."""


async def _access_page(
    page: Page,
    database_id: str,
    collection: str,
    *,
    status_code: int = 200,
    error: str | None = None,
    message: str | None = None,
) -> Template:
    database = await database_of(page, database_id)
    access = database.access_of(collection)
    if access is None:
        raise NotFoundException(detail="Collection not found")
    return page.render(
        "access.html",
        status_code=status_code,
        database=database,
        collection=collection,
        kind="files"
        if collection == FILES
        else "vectors"
        if collection.startswith(VECTOR_PREFIX)
        else "documents",
        access=access,
        actions=ACTIONS,
        rules=RULES,
        error=error,
        message=message,
        title=f"Access rules · {collection} · {database.name}",
    )


@get("/databases/{database_id:str}/collections/{collection:str}/access", name="dashboard:access")
async def show_access(page: CurrentPage, database_id: FromPath[str], collection: FromPath[str]) -> Template:
    return await _access_page(page, database_id, collection)


@post("/databases/{database_id:str}/collections/{collection:str}/access", status_code=200)
async def set_access(page: CurrentPage, database_id: FromPath[str], collection: FromPath[str]) -> Template:
    form = await page.form()
    body = {"database_id": database_id, "collection": collection} | {
        action: form.get(action, "") for action in ACTIONS
    }
    answer = await page.api.post("/api/set_access", json=body)
    if not answer.ok:
        field = answer.error.get("details", {}).get("field")
        error = f"{answer.message} ({field})" if field else answer.message
        return await _access_page(page, database_id, collection, status_code=answer.status, error=error)
    return await _access_page(page, database_id, collection, message="The rules are saved.")


PAGES = [show_access, set_access]

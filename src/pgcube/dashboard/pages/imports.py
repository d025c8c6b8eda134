"""The import of a JSON or NDJSON file into one collection: the browser's upload, passed on to
``POST /api/import_data`` as the account, and the API's report of what it wrote."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Template

from pgcube.dashboard.client import Answer
from pgcube.dashboard.page import CurrentPage, Page
from pgcube.dashboard.pages.collection import COLLECTION, Where, collection_context, partial_target
from pgcube.dashboard.pages.scoped import database_of

IMPORT = COLLECTION + "/import"
IMPORT_MODES = ("insert", "upsert")


async def _import_page(
    page: Page,
    where: Where,
    *,
    status_code: int = 200,
    answer: Answer | None = None,
    error: str | None = None,
) -> Template:
    context: dict[str, Any] = {"where": where}
    if partial_target(page) != "import-result":
        context = await collection_context(page, where)
    return page.render(
        "import.html" if partial_target(page) != "import-result" else "_import_result.html",
        status_code=status_code,
        answer=answer,
        error=error,
        modes=IMPORT_MODES,
        title=f"{where.collection} · import",
        **context,
    )


@get(IMPORT, name="dashboard:import")
async def import_form(page: CurrentPage, database_id: FromPath[str], collection: FromPath[str]) -> Template:
    return await _import_page(page, Where(database_id, collection))


@post(IMPORT, status_code=200, request_max_body_size=None)
async def import_file(
    page: CurrentPage, database_id: FromPath[str], collection: FromPath[str]
) -> Template | Response[Any]:
    """The browser's upload, passed on to ``POST /api/import_data`` into this collection.

    The body is held to the API's own upload limit on its ``Content-Length`` before it is read;
    Litestar spools the file to disk past 1 MiB, and httpx reads it from there.
    """
    where = Where(database_id, collection)
    limit: int = page.request.app.state.settings.max_import_bytes
    length = page.request.headers.get("content-length", "")
    if not length.isdigit():
        return await _import_page(page, where, status_code=411, error="The upload has no Content-Length")
    if int(length) > limit:
        too_large = f"The file is larger than this server takes ({limit} bytes)"
        return await _import_page(page, where, status_code=413, error=too_large)
    # The access token renewed now, if it must be, not in the middle of the upload's call.
    await database_of(page, database_id)
    form = await page.request.form()
    upload = form.get("json_file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _import_page(page, where, status_code=400, error="Choose a file to import")
    try:
        fields = {"database_id": database_id, "collection_name": collection}
        mode = form.get("mode")
        if isinstance(mode, str) and mode:
            fields["mode"] = mode
        answer = await page.api.call(
            "POST",
            "/api/import_data",
            data=fields,
            files={"json_file": (upload.filename, upload.file, upload.content_type)},
        )
    finally:
        await upload.close()
    return await _import_page(page, where, status_code=200 if answer.ok else answer.status, answer=answer)


PAGES = [import_form, import_file]

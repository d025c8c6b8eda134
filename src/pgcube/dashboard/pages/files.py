"""A database's files (the ``file.*`` ops, SPEC §12): the list, an upload, one file with its
preview and signed link, delete.

An upload is the browser's multipart form, read here (under ``MAX_UPLOAD_BYTES``) and posted on
to ``POST /api/{database_id}/files`` as the account. A preview goes through the file's signed
link, as any client's download would: an image is an ``<img>`` of that link (same origin, so the
page's CSP lets it show), a text's first ``TEXT_PREVIEW_BYTES`` are fetched with a ``Range``
request and shown in a ``<pre>``.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from pgcube.dashboard.client import Answer, path_part
from pgcube.dashboard.page import CurrentPage, Page
from pgcube.dashboard.pages.scoped import FILES, PageNumber, Refused, database_of, database_url, part

PAGE_SIZE: Final = 25
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024 + 64 * 1024
"""The largest form the dashboard takes: the API's default file limit and room for the form's
other parts (a larger file, where the server allows one, goes through the API itself)."""
TEXT_PREVIEW_BYTES: Final = 64 * 1024
LINK_TTLS: Final = {3600: "an hour", 86400: "a day", 604800: "a week"}
"""How long a signed link may be made to last here (``file.info``'s ``signed_ttl``)."""
_TEXT_TYPES: Final = frozenset(
    {"application/json", "application/xml", "application/javascript", "application/x-ndjson"}
)


def _size(filesize: str | int | None) -> str:
    """``12345`` → ``12.1 KiB``: the API answers a file's size as a string of bytes."""
    try:
        size = float(filesize or 0)
    except ValueError:
        return str(filesize)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return ""  # unreachable: the loop returns at GiB


def preview_kind(content_type: str | None) -> str | None:
    """``image`` for what an ``<img>`` shows, ``text`` for what a ``<pre>`` shows, else None."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.startswith("image/") and kind != "image/svg+xml":
        return "image"
    if kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith(("+json", "+xml")):
        return "text"
    return None


def same_origin(page: Page, url: str) -> str | None:
    """The link's path and query when it is this server's own download route (the local store),
    so the page loads it from its own origin; None for another host's (an S3 presigned URL)."""
    base = urlsplit(page.request.app.state.settings.base_url)
    link = urlsplit(url)
    if (link.scheme, link.netloc) != (base.scheme, base.netloc) or not link.path.startswith("/files/"):
        return None
    return f"{link.path}?{link.query}" if link.query else link.path


async def _files_page(
    page: Page,
    database_id: str,
    *,
    number: int = 1,
    status_code: int = 200,
    failed: Answer | None = None,
    error: str | None = None,
    **context: Any,
) -> Template:
    database = await database_of(page, database_id)
    listed = await page.api.ddo(
        database_id, {"op": "file.list", "sort": "-_created_at", "page": number, "per_page": PAGE_SIZE}
    )
    failed = failed or (None if listed.ok else listed)
    return page.render(
        "files.html",
        status_code=failed.status if failed else status_code,
        database=database,
        files=listed.body["data"] if listed.ok else [],
        pagination=listed.body["meta"]["pagination"] if listed.ok else None,
        access=database.access_of(FILES),
        number=number,
        size=_size,
        error=failed.message if failed else error,
        title=f"Files · {database.name}",
        **context,
    )


@get("/databases/{database_id:str}/files", name="dashboard:files")
async def list_files(
    page: CurrentPage,
    database_id: FromPath[str],
    number: PageNumber = 1,
    deleted: FromQuery[int | None] = None,
) -> Template:
    message = None if deleted is None else "The file is deleted." if deleted else "No file was deleted."
    return await _files_page(page, database_id, number=number, message=message)


@post("/databases/{database_id:str}/files", status_code=200, request_max_body_size=MAX_UPLOAD_BYTES)
async def upload_file(page: CurrentPage, database_id: FromPath[str]) -> Response[Any] | Template:
    form = await page.request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _files_page(page, database_id, status_code=400, error="Choose a file to upload.")
    try:
        await upload.seek(0)
        answer = await page.api.post(
            f"/api/{path_part(database_id)}/files",
            data={"public_read": "true" if form.get("public_read") else "false"},
            files={"file": (upload.filename, upload.file, upload.content_type or None)},
        )
    finally:
        await upload.close()
    if not answer.ok:
        return await _files_page(page, database_id, failed=answer)
    return page.redirect(f"{database_url(database_id)}/files/{part(answer.body['data']['_key'])}")


@get("/databases/{database_id:str}/files/{file_key:str}", name="dashboard:file")
async def show_file(
    page: CurrentPage, database_id: FromPath[str], file_key: FromPath[str], ttl: FromQuery[int] = 3600
) -> Template:
    database = await database_of(page, database_id)
    answer = await page.api.ddo(database_id, {"op": "file.info", "_key": file_key, "signed_ttl": ttl})
    if not answer.ok:
        raise Refused.of(answer)
    file = answer.body["data"]
    link = same_origin(page, file["url"])
    kind = preview_kind(file.get("content_type")) if file.get("status") == "ready" else None
    text = None
    if kind == "text" and link is not None:
        range_ = {"Range": f"bytes=0-{TEXT_PREVIEW_BYTES - 1}"}
        downloaded = await page.api.anonymous("GET", link, headers=range_)
        text = downloaded.content.decode("utf-8", errors="replace") if downloaded.ok else None
    return page.render(
        "file.html",
        database=database,
        file=file,
        link=link,
        kind=kind,
        text=text,
        truncated=text is not None and int(file.get("filesize") or 0) > TEXT_PREVIEW_BYTES,
        ttl=ttl,
        ttls=LINK_TTLS,
        size=_size,
        title=f"{file.get('filename', file_key)} · Files · {database.name}",
    )


@post("/databases/{database_id:str}/files/{file_key:str}/delete", status_code=200)
async def delete_file(
    page: CurrentPage, database_id: FromPath[str], file_key: FromPath[str]
) -> Response[Any] | Template:
    answer = await page.api.ddo(database_id, {"op": "file.delete", "_key": file_key})
    if not answer.ok:
        return await _files_page(page, database_id, failed=answer)
    deleted = answer.body["data"]["count"]
    return page.redirect(f"{database_url(database_id)}/files?{urlencode({'deleted': deleted})}")


PAGES = [list_files, upload_file, show_file, delete_file]

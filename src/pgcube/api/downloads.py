"""File downloads (SPEC §12): ``GET``/``HEAD /files/{database_id}/{_key}/{filename}``.

No credentials: the URL is one (a private file's ``exp`` and ``sig``,
``pgcube.files.transfers.downloadable``). The last segment is the name the
link shows; the file is found by its ``_key`` alone, so a renamed file's older
links keep working. Bytes stream from the store (both backends), one range at
a time, with no database connection held, under headers that keep a browser
from running them (``pgcube.api.ranges`` decides 206, 304 and 416).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Final

from litestar import Request, Response, Router, get, head
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from pgcube import errors
from pgcube.api.deps import DatabaseId, request_session
from pgcube.api.ranges import ByteRange, http_date, not_modified, range_applies, requested_range
from pgcube.files.models import StoredFile, is_active
from pgcube.files.service import FileRuntime, files_of
from pgcube.files.transfers import downloadable
from pgcube.storage.disposition import content_disposition

TAGS: Final = ["files"]

PUBLIC_MAX_AGE: Final = 600
"""Seconds a shared cache may keep a public file (a file made private stops being served
by pgcube at once; a cache may serve its copy this long)."""
SIGNED_MAX_AGE: Final = 3600
"""The longest a browser keeps a private file; never past its URL's ``exp``."""

# --- downloads ---------------------------------------------------------------------------------

FileKey = Annotated[str, PathParameter(description="The file's _key")]
Filename = Annotated[
    str, PathParameter(description="The file's name, for the link only: the file is found by its _key")
]
Expires = Annotated[
    str | None,
    QueryParameter(name="exp", description="A private file's signed URL: when it expires (Unix time)"),
]
Signature = Annotated[
    str | None, QueryParameter(name="sig", description="A private file's signed URL: its signature")
]


@dataclass(frozen=True)
class Download:
    """A file about to be served: its row, the runtime, and the headers every answer carries."""

    file: StoredFile
    runtime: FileRuntime
    headers: dict[str, str]

    @property
    def etag(self) -> str:
        return self.headers["etag"]


async def _download(state: State, database_id: str, key: str, exp: str | None, sig: str | None) -> Download:
    runtime = files_of(state)
    async with request_session(state) as session:
        file = await downloadable(session, runtime, database_id, key, expires_at=exp, signature=sig)
    content_type = file.content_type
    active = is_active(content_type)
    if file.is_public:
        cache = f"public, max-age={PUBLIC_MAX_AGE}"
    else:
        cache = f"private, max-age={max(0, min(SIGNED_MAX_AGE, int(exp or 0) - int(time.time())))}"
    headers = {
        "content-type": content_type,
        "etag": f'"{file.data.get("sha256") or file.key}"',
        "last-modified": http_date(file.modified_at),
        "accept-ranges": "bytes",
        "cache-control": cache,
        "content-disposition": content_disposition(file.filename, attachment=active),
    }
    if active:
        headers["content-security-policy"] = "sandbox"
    return Download(file, runtime, headers)


def _range_of(request: Request[Any, Any, Any], download: Download) -> ByteRange | None:
    """The one range to serve, or None for the whole file (or a 304 / 416 raised as answers)."""
    file, request_headers = download.file, request.headers
    if not_modified(
        request_headers.get("if-none-match"),
        request_headers.get("if-modified-since"),
        download.etag,
        file.modified_at,
    ):
        raise _NotModified(download.headers)
    if not range_applies(request_headers.get("if-range"), download.etag, file.modified_at):
        return None
    return requested_range(request_headers.get("range"), file.size)


class _NotModified(Exception):
    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__("not modified")
        self.headers = {name: value for name, value in headers.items() if name != "content-type"}


def _head_answer(download: Download, byte_range: ByteRange | None) -> tuple[int, dict[str, str]]:
    headers = dict(download.headers)
    if byte_range is None:
        headers["content-length"] = str(download.file.size)
        return 200, headers
    headers["content-length"] = str(byte_range.length)
    headers["content-range"] = byte_range.content_range()
    return 206, headers


async def _bytes(
    runtime: FileRuntime, file: StoredFile, byte_range: ByteRange | None
) -> AsyncIterator[bytes]:
    """The file's bytes (or the range's), the first chunk already fetched: a file whose bytes are
    missing from the store is a 404 before any header is sent."""
    start, end = (0, None) if byte_range is None else (byte_range.start, byte_range.end)
    stream = runtime.store.read(file.object_key, start=start, end=end)
    try:
        first = await anext(stream, b"")
    except FileNotFoundError:
        raise errors.FileNotFound() from None
    return _chunks(first, stream)


async def _chunks(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


@dataclass(frozen=True)
class _Answer:
    """A download's status and headers, before its bytes (if any) are read."""

    download: Download
    byte_range: ByteRange | None
    status: int
    headers: dict[str, str]


async def provide_answer(
    request: Request[Any, Any, Any],
    state: State,
    database_id: DatabaseId,
    file_key: FileKey,
    filename: Filename,
    exp: Expires = None,
    sig: Signature = None,
) -> _Answer:
    """What a GET or a HEAD of the file answers: its status and headers (a 304 has no bytes to
    follow). The routes' one dependency: their parameters are its own."""
    download = await _download(state, database_id, file_key, exp, sig)
    try:
        byte_range = _range_of(request, download)
    except _NotModified as not_modified:
        return _Answer(download, None, 304, not_modified.headers)
    status, headers = _head_answer(download, byte_range)
    return _Answer(download, byte_range, status, headers)


_DOWNLOAD_PATH: Final = "/{database_id:str}/{file_key:str}/{filename:str}"
_DOWNLOAD_DESCRIPTION: Final = (
    "A public file needs nothing; a private one needs its signed URL's exp and sig (403 otherwise). "
    "One Range (bytes=a-b, a-, -n) answers 206, one past the end 416; several ranges answer the "
    "whole file. If-None-Match / If-Modified-Since answer 304. HTML, SVG, XML and JavaScript come "
    "as attachments under Content-Security-Policy: sandbox."
)


@get(
    _DOWNLOAD_PATH,
    operation_id="downloadFile",
    tags=TAGS,
    summary="Download a file (streamed; Range, ETag)",
    description=_DOWNLOAD_DESCRIPTION,
)
async def download_file(answer: NamedDependency[_Answer]) -> Response[Any]:
    if answer.status == HTTP_304_NOT_MODIFIED:
        return Response(content=None, status_code=answer.status, headers=answer.headers)
    content = await _bytes(answer.download.runtime, answer.download.file, answer.byte_range)
    media_type = answer.download.file.content_type
    return Stream(content=content, status_code=answer.status, headers=answer.headers, media_type=media_type)


@head(
    _DOWNLOAD_PATH,
    operation_id="downloadFileHead",
    tags=TAGS,
    summary="A file's headers: size, type, ETag (HEAD of downloadFile)",
    description=_DOWNLOAD_DESCRIPTION,
)
async def download_file_head(answer: NamedDependency[_Answer]) -> Response[None]:
    return Response(content=None, status_code=answer.status, headers=answer.headers)


def files_router() -> Router:
    return Router(
        path="/files",
        route_handlers=[download_file, download_file_head],
        dependencies={"answer": Provide(provide_answer)},
    )

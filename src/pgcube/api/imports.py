"""Bulk import (SPEC §8): ``POST /api/import_data``, multipart/form-data, streamed.

Litestar's own form parsing keeps the whole body; this route reads the body
itself, one chunk at a time, with a push parser (``multipart``, the one
Litestar uses underneath). The text fields (``database_id``,
``collection_name``, ``mode``) must come before ``json_file`` — as every
client sends them when the file is the last field — because the collection
must be known before the first document is checked. The file's bytes go
straight on to ``pgcube.data.imports``, which writes them with COPY while
they arrive.

The body's limit is ``max_import_bytes`` (the app-wide ``max_body_bytes``
does not apply here); an upload that stalls for ``import_idle_timeout``
seconds, or whose client goes away, is abandoned and nothing is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

from litestar import Request, Response, Router, post
from litestar.exceptions import InternalServerException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType as MediaType
from litestar.openapi.spec import Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from multipart import MultipartError, MultipartSegment, PushMultipartParser  # type: ignore[import-untyped]

from pgcube import errors
from pgcube.api.deps import Auth, Config, Conn, Db
from pgcube.api.responses import json_response
from pgcube.data.imports import ImportMode, collection_name_from_filename, import_documents
from pgcube.data.service import DocumentService
from pgcube.schemas.imports import ImportAnswer
from pgcube.settings import Settings

TAGS = ["import"]
FILE_FIELD: Final = "json_file"
TEXT_FIELDS: Final = ("database_id", "collection_name", "mode")
MAX_TEXT_FIELD_BYTES: Final = 1024
MAX_PARTS: Final = 16


@dataclass
class ImportOperation(Operation):
    """The OpenAPI operation, with the multipart body Litestar cannot see (the handler reads it itself)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="Text fields first, then the file. The file: a JSON array of objects, or NDJSON "
            "(one object per line), optionally gzip-compressed (recognised by its content).",
            content={
                "multipart/form-data": MediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["database_id", FILE_FIELD],
                        properties={
                            "database_id": Schema(type=OpenAPIType.STRING, description="24 hex digits"),
                            "collection_name": Schema(
                                type=OpenAPIType.STRING,
                                description="Default: the file's name without extensions, sanitised; "
                                "created on first use",
                            ),
                            "mode": Schema(
                                type=OpenAPIType.STRING,
                                enum=[mode.value for mode in ImportMode],
                                default=ImportMode.INSERT.value,
                                description="insert: an existing _key is a conflict (409); "
                                "upsert: replace by _key",
                            ),
                            FILE_FIELD: Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY),
                        },
                    )
                )
            },
        )


@dataclass
class Upload:
    """The form's text fields, and the file's bytes still to come."""

    fields: dict[str, str]
    filename: str | None
    file: AsyncIterator[bytes]
    database_id: str = field(init=False)
    collection_name: str = field(init=False)
    mode: ImportMode = field(init=False)

    def __post_init__(self) -> None:
        if not self.fields.get("database_id"):
            raise _missing("database_id")
        self.database_id = self.fields["database_id"]
        name = self.fields.get("collection_name")
        if name:
            self.collection_name = name
        elif self.filename:
            self.collection_name = collection_name_from_filename(self.filename)
        else:
            raise errors.ValidationError(
                "Missing required field: collection_name (the file has no name to take it from)",
                details={"field": "collection_name"},
            )
        try:
            self.mode = ImportMode(self.fields.get("mode") or ImportMode.INSERT)
        except ValueError:
            raise errors.ValidationError(
                "mode must be 'insert' or 'upsert'", details={"field": "mode", "value": self.fields["mode"]}
            ) from None


@post(
    "/import_data",
    operation_id="importData",
    tags=TAGS,
    status_code=201,
    request_max_body_size=None,  # this route streams, under its own limit (max_import_bytes)
    operation_class=ImportOperation,
    summary="Bulk import a JSON array or NDJSON file (optionally gzip), all or nothing, streamed",
    responses={
        201: ResponseSpec(
            data_container=ImportAnswer,
            description="The collection and the documents written",
            generate_examples=False,
        ),
    },
)
async def import_data(
    request: Request[Any, Any, Any], principal: Auth, session: Db, conn: Conn, settings: Config
) -> Response[bytes]:
    upload = await read_upload(request, settings)
    where = await DocumentService(session, settings).target(
        principal, upload.database_id, upload.collection_name, create=True
    )
    count = await import_documents(conn, settings, where.collection, upload.file, mode=upload.mode)
    return json_response(
        ImportAnswer(collection=where.collection.name, inserted_count=count), status_code=201
    )


def imports_router() -> Router:
    return Router(path="/api", route_handlers=[import_data])


# --- the streamed form -------------------------------------------------------------------------


async def read_upload(request: Request[Any, Any, Any], settings: Settings) -> Upload:
    """Read the form up to the start of ``json_file``; the file's bytes follow in ``Upload.file``."""
    boundary = _boundary(request)
    if request.content_length is not None and request.content_length > settings.max_import_bytes:
        raise _too_large(settings)
    events = _events(_body(request, settings), boundary)
    fields: dict[str, str] = {}
    name = ""
    value = bytearray()
    async for event in events:
        if isinstance(event, MultipartSegment):
            name = event.name or ""
            if name == FILE_FIELD:
                return Upload(fields, event.filename, _file(events))
            if name not in TEXT_FIELDS:
                raise errors.ValidationError(
                    f"Unknown form field {name!r}: send {', '.join(TEXT_FIELDS)} and {FILE_FIELD}",
                    details={"field": name},
                )
            if name in fields:
                raise errors.ValidationError(f"The field {name!r} is sent twice", details={"field": name})
            value = bytearray()
        elif event is None:  # the end of a text field
            try:
                fields[name] = value.decode().strip()
            except UnicodeDecodeError:
                raise errors.ValidationError(f"{name} is not valid UTF-8", details={"field": name}) from None
        else:
            value += event
            if len(value) > MAX_TEXT_FIELD_BYTES:
                raise errors.ValidationError(
                    f"{name} is longer than {MAX_TEXT_FIELD_BYTES} bytes", details={"field": name}
                )
    raise _missing(FILE_FIELD)


async def _file(events: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """The bytes of ``json_file``; then the rest of the form, which must hold nothing more."""
    async for event in events:
        if event is None:
            break
        yield bytes(event)
    async for event in events:
        if isinstance(event, MultipartSegment):
            raise errors.ValidationError(
                f"The form field {event.name!r} comes after {FILE_FIELD}: send the text fields "
                f"({', '.join(TEXT_FIELDS)}) before the file",
                details={"field": event.name},
            )


async def _events(body: AsyncIterator[bytes], boundary: str) -> AsyncIterator[Any]:
    """Multipart events: a part's ``MultipartSegment``, its bytes, ``None`` at its end."""
    parser = PushMultipartParser(boundary, max_segment_count=MAX_PARTS)
    try:
        async for chunk in body:
            for event in parser.parse(chunk):
                yield event
        parser.close()
    except MultipartError as exc:
        raise errors.ValidationError(
            f"The multipart/form-data body is not valid or is incomplete: {exc}",
            details={"field": FILE_FIELD},
        ) from None


async def _body(request: Request[Any, Any, Any], settings: Settings) -> AsyncIterator[bytes]:
    """The request body, under ``max_import_bytes``, abandoned after ``import_idle_timeout`` of silence."""
    stream = request.stream()
    received = 0
    while True:
        try:
            async with asyncio.timeout(settings.import_idle_timeout):
                chunk = await anext(stream, b"")
        except TimeoutError:
            raise errors.ValidationError(
                f"The upload stalled for {settings.import_idle_timeout:g} s; nothing was imported",
                details={"field": FILE_FIELD},
            ) from None
        except InternalServerException:  # Litestar's word for a client that went away mid-body
            raise errors.ValidationError(
                "The upload ended before the request did (the client disconnected); nothing was imported",
                details={"field": FILE_FIELD},
            ) from None
        if not chunk:
            return
        received += len(chunk)
        if received > settings.max_import_bytes:
            raise _too_large(settings)
        yield chunk


def _boundary(request: Request[Any, Any, Any]) -> str:
    media_type, options = request.content_type
    boundary = options.get("boundary")
    if media_type != "multipart/form-data" or not boundary:
        raise errors.ValidationError(
            f"Send multipart/form-data with the fields {', '.join(TEXT_FIELDS)} and then {FILE_FIELD}",
            details={"field": FILE_FIELD},
        )
    return boundary


def _missing(name: str) -> errors.ValidationError:
    return errors.ValidationError(f"Missing required field: {name}", details={"field": name})


def _too_large(settings: Settings) -> errors.PayloadTooLarge:
    return errors.PayloadTooLarge(
        f"The upload is larger than {settings.max_import_bytes} bytes",
        details={"limit": settings.max_import_bytes},
    )

"""Bulk import (SPEC §8): ``POST /api/import_data``, multipart/form-data, streamed.

The form is read as it arrives by ``pgcube.api.multipart`` (text fields
first — ``database_id``, ``collection_name``, ``mode`` — then ``json_file``)
under the upload limits (size, idle time, minimum rate, deadline); the file's
bytes go on to ``pgcube.data.imports``, which writes them with COPY while they
arrive.

An account runs at most ``import_max_concurrent_per_account`` imports at once
and the process at most ``import_max_concurrent`` (never more than half the
pool): one more is refused before its body is read (429, 503). The import
takes a pooled connection and begins its transaction only once the file has
really started (``data.imports.service.import_upload``): the ``conn``
dependency is not used here, so a slow or stalled client holds no connection
while it keeps the server waiting (RELIABILITY H1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from litestar import Request, Response, Router, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType as MediaType
from litestar.openapi.spec import Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType

from pgcube import errors
from pgcube.api.deps import Auth, Config, Db
from pgcube.api.multipart import Form, FormShape, UploadLimits, read_form
from pgcube.api.ratelimit import charge_streamed_documents
from pgcube.api.responses import json_response
from pgcube.data.imports import (
    ImportMode,
    ImportRequest,
    ImportSlots,
    collection_name_from_filename,
    import_upload,
)
from pgcube.schemas.imports import ImportAnswer
from pgcube.settings import Settings

TAGS = ["import"]
FILE_FIELD: Final = "json_file"
TEXT_FIELDS: Final = ("database_id", "collection_name", "mode")
FORM: Final = FormShape(text_fields=TEXT_FIELDS, file_field=FILE_FIELD)


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


def import_request(form: Form) -> ImportRequest:
    """The import the form's text fields ask for; else a 400 naming the field."""
    fields = form.fields
    database_id = fields.get("database_id")
    if not database_id:
        raise errors.missing_field("database_id")
    name = fields.get("collection_name")
    if not name:
        if not form.filename:
            raise errors.ValidationError(
                "Missing required field: collection_name (the file has no name to take it from)",
                details={"field": "collection_name"},
            )
        name = collection_name_from_filename(form.filename)
    try:
        mode = ImportMode(fields.get("mode") or ImportMode.INSERT)
    except ValueError:
        raise errors.ValidationError(
            "mode must be 'insert' or 'upsert'", details={"field": "mode", "value": fields["mode"]}
        ) from None
    return ImportRequest(database_id=database_id, collection_name=name, mode=mode)


def upload_limits(settings: Settings) -> UploadLimits:
    return UploadLimits(
        max_bytes=settings.max_import_bytes,
        idle_timeout=settings.import_idle_timeout,
        min_rate=settings.import_min_rate,
        deadline=settings.import_deadline,
    )


def import_slots(state: State, settings: Settings) -> ImportSlots:
    """The process's import slots, made on first use (the app's state lives as long as the pool)."""
    slots: ImportSlots | None = getattr(state, "import_slots", None)
    if slots is None:
        slots = state.import_slots = ImportSlots(settings)
    return slots


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
    request: Request[Any, Any, Any], principal: Auth, session: Db, settings: Config
) -> Response[bytes]:
    with import_slots(request.app.state, settings).slot(principal.account_id):
        form = await read_form(request, FORM, upload_limits(settings))
        wanted = import_request(form)
        collection, count = await import_upload(session, settings, principal, wanted, form.file)
        await charge_streamed_documents(request.app.state, principal, count)
    return json_response(ImportAnswer(collection=collection.name, inserted_count=count), status_code=201)


def imports_router() -> Router:
    return Router(path="/api", route_handlers=[import_data])

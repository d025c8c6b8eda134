"""File uploads (SPEC §12): the direct upload under ``/api``, the local presigned POST under
``/storage`` (downloads: ``pgcube.api.downloads``).

* ``POST /api/{database_id}/files`` takes ``multipart/form-data``: the text
  fields ``public_read``, ``metadata`` (a JSON object), ``folder``, then
  ``file``. The bytes stream to the store as they arrive
  (``pgcube.api.multipart``), with no database connection held meanwhile; the
  steps around them run through the runner every DDO op goes through, so
  credentials and access rules are the ``file.*`` ops' own
  (``pgcube.ops.files.upload``). 201 ``{"data": file}``.
* ``POST /storage/upload`` — no credentials: the local store's stand-in for an
  S3 presigned POST (``file.presign_upload`` points clients here when the bytes
  live on the local disk). The form is S3's: ``key``, ``Content-Type`` and
  ``token`` fields, then ``file``; it answers 204 as S3 does (or the
  ``success_action_status`` asked for: 200). The file
  stays ``pending`` until ``file.postsign_upload``.

Neither route holds a database connection while bytes move (``pgcube.files.transfers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, Response, Router, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType as MediaType
from litestar.openapi.spec import Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import PathParameter

from pgcube import errors
from pgcube.api.deps import Config, provide_settings, request_session
from pgcube.api.errors import DDO_ENVELOPE
from pgcube.api.multipart import FormShape, UploadLimits, read_form
from pgcube.api.ratelimit import client_address, provide_limited_principal
from pgcube.api.responses import ddo_response
from pgcube.files.service import NewFile, files_of
from pgcube.files.transfers import granted_upload, receive_upload
from pgcube.ops import Context
from pgcube.ops.files import upload
from pgcube.schemas.files import FileAnswer
from pgcube.settings import Settings

TAGS: Final = ["files"]

# --- the direct upload -------------------------------------------------------------------------

UPLOAD_FORM: Final = FormShape(
    text_fields=("public_read", "metadata", "folder", "_userkey"), file_field="file"
)
FORM_OVERHEAD_BYTES: Final = 64 * 1024
"""Room for the form's text fields and part headers beyond the file itself."""


@dataclass
class UploadOperation(Operation):
    """The OpenAPI operation, with the multipart body Litestar cannot see (the handler reads it itself)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="Text fields first, then the file (its part's Content-Type is the file's type; "
            "without one it is guessed from the name).",
            content={
                "multipart/form-data": MediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["file"],
                        properties={
                            "public_read": Schema(
                                type=OpenAPIType.STRING,
                                enum=["true", "false"],
                                default="false",
                                description="true: the file's URL needs no signature",
                            ),
                            "metadata": Schema(type=OpenAPIType.STRING, description="A JSON object"),
                            "folder": Schema(
                                type=OpenAPIType.STRING,
                                description="Segments of letters, digits, '.', '_', '-' joined by '/'",
                            ),
                            "_userkey": Schema(
                                type=OpenAPIType.STRING,
                                description="The end user the file is for (a server key's to give)",
                            ),
                            "file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY),
                        },
                    )
                )
            },
        )


def upload_limits(settings: Settings) -> UploadLimits:
    """The direct upload's limits: the file size, the import's time limits."""
    return UploadLimits(
        max_bytes=settings.max_file_bytes + FORM_OVERHEAD_BYTES,
        idle_timeout=settings.import_idle_timeout,
        min_rate=settings.import_min_rate,
        deadline=settings.import_deadline,
    )


def _flag(value: str | None, field: str) -> bool:
    if value in (None, "", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise errors.ValidationError(f"{field} must be true or false", details={"field": field})


def _metadata(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        metadata = msgspec.json.decode(value)
    except msgspec.DecodeError:
        raise errors.ValidationError(
            "metadata must be a JSON object", details={"field": "metadata"}
        ) from None
    if not isinstance(metadata, dict):
        raise errors.ValidationError("metadata must be a JSON object", details={"field": "metadata"})
    return metadata


@post(
    "/{database_id:str}/files",
    operation_id="uploadFile",
    tags=TAGS,
    summary="Upload a file in one request (multipart: public_read?, metadata?, folder?, then file)",
    opt={"envelope": DDO_ENVELOPE},
    status_code=201,
    request_max_body_size=None,  # this route streams, under its own limit (max_file_bytes)
    operation_class=UploadOperation,
    responses={
        201: ResponseSpec(data_container=FileAnswer, description="The file, ready", generate_examples=False)
    },
)
async def upload_file(
    database_id: Annotated[str, PathParameter(description="The database's id (24 hex digits)")],
    request: Request[Any, Any, Any],
    state: State,
) -> Response[bytes]:
    settings = provide_settings(state)
    async with request_session(state) as session:
        principal = await provide_limited_principal(request, state, session)
        form = await read_form(request, UPLOAD_FORM, upload_limits(settings))
        new = NewFile(
            filename=form.filename or "",
            content_type=form.content_type,
            public=_flag(form.fields.get("public_read"), "public_read"),
            metadata=_metadata(form.fields.get("metadata")),
            folder=form.fields.get("folder"),
            userkey=form.fields.get("_userkey") or None,
        )
        ctx = Context(
            session,
            settings,
            principal,
            database_id,
            client_address=client_address(request.scope),
            file_runtime=files_of(state),
        )
        answer = await upload(ctx, new, form.file)
        return ddo_response(answer.data, answer.meta, status_code=201)


def file_upload_router() -> Router:
    return Router(path="/api", route_handlers=[upload_file])


# --- the local store's presigned POST ----------------------------------------------------------

PRESIGNED_FORM: Final = FormShape(
    text_fields=("key", "Content-Type", "token", "success_action_status"), file_field="file"
)


@dataclass
class PresignedPostOperation(Operation):
    """The OpenAPI operation, with the multipart body Litestar cannot see (the handler reads it)."""

    def __post_init__(self) -> None:
        text = Schema(type=OpenAPIType.STRING)
        self.request_body = RequestBody(
            required=True,
            description="The fields of presigned_data.fields, in any order, then the file (last).",
            content={
                "multipart/form-data": MediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["key", "Content-Type", "token", "file"],
                        properties={
                            "key": text,
                            "Content-Type": text,
                            "token": text,
                            "success_action_status": Schema(
                                type=OpenAPIType.STRING, enum=["200", "204"], default="204"
                            ),
                            "file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY),
                        },
                    )
                )
            },
        )


def _upload_answer(status: str | None) -> Response[None]:
    """S3's answer to a presigned POST: 204, or 200 when the form's ``success_action_status`` asks
    for it (201 would be S3's XML document, which no SDK of pgcube reads: like any other value,
    it is answered 204, as S3 answers a value it does not take)."""
    return Response(content=None, status_code=200 if status == "200" else 204)


@post(
    "/upload",
    operation_id="presignedUpload",
    tags=TAGS,
    status_code=204,
    request_max_body_size=None,  # this route streams, under the grant's own size limit
    operation_class=PresignedPostOperation,
    summary="The local store's presigned POST: the bytes of a file announced by file.presign_upload",
    description="No credentials: the token field is the grant (15 minutes, one file, its size and "
    "type). 403 for a token that is not ours or a key or Content-Type other than granted, or once "
    "the file is no longer pending; 400 UPLOAD_EXPIRED; 413 FILE_TOO_LARGE (nothing is kept).",
)
async def presigned_upload(request: Request[Any, Any, Any], state: State, settings: Config) -> Response[None]:
    runtime = files_of(state)
    try:
        form = await read_form(request, PRESIGNED_FORM, upload_limits(settings))
    except errors.FileTooLarge:
        raise
    except errors.PayloadTooLarge:
        raise errors.FileTooLarge(details={"max_bytes": settings.max_file_bytes}) from None
    async with request_session(state) as session:
        grant = await granted_upload(session, runtime, form.fields)
    await receive_upload(runtime, grant, form.file)
    return _upload_answer(form.fields.get("success_action_status"))


def storage_router() -> Router:
    return Router(path="/storage", route_handlers=[presigned_upload])

"""Error answers in the OpenAPI document (SPEC §3, RELIABILITY F6).

Litestar documents a 400 of its own shape (``status_code``, ``detail``) for
every route with parameters; pgcube never sends that. This step documents, on
every operation, the errors it can answer — each in pgcube's envelope (REST:
``{"success": false, "error": {...}}``; the DDO route: ``{"error": {...}}``),
429 and 503 with their ``Retry-After`` header — so that generated clients and
Schemathesis hold the service to what it really does.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    Discriminator,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    RequestBody,
    Schema,
)
from litestar.params import PathParameter

from pgcube.api.errors import DDO_ENVELOPE
from pgcube.assets import SWAGGER_UI
from pgcube.ops.registry import Registry

ERRORS: dict[int, str] = {  # the one description of each error status, for every route
    400: "VALIDATION_ERROR, INVALID_QUERY, INVALID_JSON, BATCH_LIMIT_EXCEEDED, INVALID_TOKEN (one-time tokens "
    "and codes), WEAK_PASSWORD, INVALID_FILE_TYPE or UPLOAD_EXPIRED",
    401: "AUTHENTICATION_FAILED, INVALID_CREDENTIALS, TOKEN_EXPIRED or INVALID_TOKEN (an end user's id or "
    "refresh token)",
    403: "FORBIDDEN, EMAIL_NOT_VERIFIED, QUOTA_EXCEEDED or STORAGE_QUOTA_EXCEEDED",
    404: "NOT_FOUND, DATABASE_NOT_FOUND, COLLECTION_NOT_FOUND, DOCUMENT_NOT_FOUND, FILE_NOT_FOUND or UNKNOWN_OP",
    409: "DUPLICATE_KEY or CONFLICT",
    413: "PAYLOAD_TOO_LARGE or FILE_TOO_LARGE",
    416: "RANGE_NOT_SATISFIABLE: a file download's Range starts past its end",
    422: "IDEMPOTENCY_KEY_REUSED",
    429: "RATE_LIMIT_EXCEEDED (details: limit, remaining, reset_at, retry_after)",
    500: "INTERNAL_ERROR (details: request_id)",
    501: "FEATURE_UNAVAILABLE (the operation is not available on this server) or AI_NOT_CONFIGURED (no AI "
    "provider: the xai.* ops)",
    502: "AI_PROVIDER_ERROR: the AI provider failed, or answered what the op cannot read",
    503: "SERVICE_UNAVAILABLE: the database is unreachable or the pool is exhausted (details: retry_after)",
    504: "QUERY_TIMEOUT (the statement timeout was reached) or AI_TIMEOUT (the AI provider did not answer in "
    "time)",
}
PROBE_ERRORS = (500, 503)
"""/health and /ready answer no client error."""
WITH_RETRY_AFTER = (429, 503)
REST_ENVELOPE = "ErrorEnvelope"
DDO_ENVELOPE_SCHEMA = "DdoErrorEnvelope"

_PATH_PARAMETER_TYPE = re.compile(r"\{(\w+):\w+\}")


def _schemas() -> dict[str, Schema]:
    error = Schema(
        type=OpenAPIType.OBJECT,
        required=["code", "message", "details"],
        properties={
            "code": Schema(type=OpenAPIType.STRING, description="Stable error code, e.g. VALIDATION_ERROR"),
            "message": Schema(type=OpenAPIType.STRING),
            "details": Schema(type=OpenAPIType.OBJECT, additional_properties=True),
        },
    )
    return {
        REST_ENVELOPE: Schema(
            type=OpenAPIType.OBJECT,
            required=["success", "error"],
            properties={"success": Schema(type=OpenAPIType.BOOLEAN, const=False), "error": error},
        ),
        DDO_ENVELOPE_SCHEMA: Schema(type=OpenAPIType.OBJECT, required=["error"], properties={"error": error}),
    }


def _ddo_paths(app: Litestar) -> set[str]:
    """Document paths (``/api/{database_id}``) whose handlers answer in the DDO envelope."""
    paths = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if handler.opt.get("envelope") == DDO_ENVELOPE:
                paths.add(_PATH_PARAMETER_TYPE.sub(r"{\1}", route.path))
    return paths


def _response(status: int, description: str, envelope: str) -> OpenAPIResponse:
    headers: dict[str, OpenAPIHeader | Reference] | None = None
    if status in WITH_RETRY_AFTER:
        headers = {
            "Retry-After": OpenAPIHeader(
                schema=Schema(type=OpenAPIType.STRING), description="Seconds to wait before retrying"
            )
        }
    return OpenAPIResponse(
        description=description,
        content={"application/json": OpenAPIMediaType(schema=Reference(f"#/components/schemas/{envelope}"))},
        headers=headers,
    )


def document_error_responses(app: Litestar) -> None:
    """Give every operation of ``app``'s OpenAPI document its error answers, in the envelope."""
    document = app.openapi_schema
    components = document.components if isinstance(document.components, Components) else Components()
    components.schemas = {**(components.schemas or {}), **_schemas()}
    document.components = components
    ddo_paths = _ddo_paths(app)
    for path, item in (document.paths or {}).items():
        envelope = DDO_ENVELOPE_SCHEMA if path in ddo_paths else REST_ENVELOPE
        statuses = PROBE_ERRORS if path in ("/health", "/ready") else tuple(ERRORS)
        for operation in (item.get, item.head, item.post, item.put, item.patch, item.delete):
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            for status in statuses:  # what a route said itself (Litestar's own 400 too) is replaced
                responses[str(status)] = _response(status, ERRORS[status], envelope)
            operation.responses = responses


def document_ddo_bodies(app: Litestar, registry: Registry) -> None:
    """The DDO route's body: one variant per op and body (a union tagged on ``op``), each with the
    names it answers to. The route decodes the body itself (op first), so Litestar cannot see it."""
    document = app.openapi_schema
    groups: dict[str, tuple[type[Any], list[str], str, dict[str, Any] | None]] = {}
    for op in registry.ops:
        for name, body in {op.name: op.body, **op.aliases}.items():
            canonical = body is op.body
            title = op.name if canonical else f"{op.name} ({name.split('.')[0]}.*)"
            groups.setdefault(title, (body, [], op.summary, op.example if canonical else None))[1].append(
                name
            )
    _, components = msgspec.json.schema_components(
        [body for body, _, _, _ in groups.values()], ref_template="#/components/schemas/{name}"
    )
    variants: dict[str, Any] = {}
    for title, (body, names, summary, example) in groups.items():
        variants[_component_name(title)] = {
            "title": title,
            "description": f"{summary}. op (or action): {', '.join(sorted(names))}",
            "allOf": [{"$ref": f"#/components/schemas/{body.__name__}"}],
            "properties": {"op": {"type": "string", "enum": sorted(names)}},
            "examples": [example] if example else None,
        }
    schemas = document.components.schemas if isinstance(document.components, Components) else None
    document.components = document.components if isinstance(document.components, Components) else Components()
    document.components.schemas = {**(schemas or {}), **components, **variants}
    mapping = {
        name: f"#/components/schemas/{component}"
        for component, variant in variants.items()
        for name in variant["properties"]["op"]["enum"]
    }
    request_body = RequestBody(
        required=True,
        description="One DDO operation: op (or action) names it, the other keys are that op's.",
        content={
            "application/json": OpenAPIMediaType(
                schema=Schema(
                    one_of=[Reference(f"#/components/schemas/{name}") for name in variants],
                    discriminator=Discriminator(property_name="op", mapping=mapping),
                )
            )
        },
    )
    for path in _ddo_paths(app):
        item = (document.paths or {}).get(path)
        # The DDO route itself; another route in its envelope (the direct upload) has its own body.
        if item is not None and item.post is not None and item.post.operation_id == "ddo":
            item.post.request_body = request_body


def _component_name(title: str) -> str:
    return "Ddo_" + re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")


# --- /schema: the documentation pages ------------------------------------------------------------


@get("/{path:str}", sync_to_thread=False, include_in_schema=False)
def schema_page_not_found(path: Annotated[str, PathParameter()]) -> None:
    raise NotFoundException()


_SWAGGER_OPTIONS = b"dom_id: '#swagger-container',"
"""Where Litestar's page passes its options to ``SwaggerUIBundle``; ours follow it."""


class SwaggerPages(SwaggerRenderPlugin):
    """Swagger UI at ``/schema`` and ``/schema/swagger``, and an unknown page under ``/schema`` a 404
    in the error envelope like every other route's (Litestar's own answer is an HTML page).

    The pages work offline and send nothing elsewhere: Swagger UI and its favicon come from
    ``/static`` (vendored, ``pgcube.assets``) instead of a CDN, and its validator badge (an image
    from validator.swagger.io, by default) is off."""

    def __init__(self) -> None:
        super().__init__(
            js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            css_url=f"{SWAGGER_UI}/swagger-ui.css",
            standalone_preset_js_url=f"{SWAGGER_UI}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_UI}/favicon-32x32.png'>",
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        # Litestar's plugin has no option for Swagger UI's own ones: add validatorUrl to its page.
        # The options follow the document, so the last match is theirs, whatever the document says.
        before, options, after = super().render(request, openapi_schema).rpartition(_SWAGGER_OPTIONS)
        if not options:
            raise RuntimeError("Litestar's Swagger UI page changed: validatorUrl cannot be turned off")
        return before + options + b" validatorUrl: null," + after

    def receive_router(self, router: Router) -> None:
        unknown = f"{router.path}/{{path:str}}"
        router.routes[:] = [route for route in router.routes if route.path != unknown]
        router.register(schema_page_not_found)

"""The one mapper from exceptions to the error envelope (SPEC §3).

Every error from every route — ours, the framework's (unknown route, wrong
method, bad JSON, too large, validation) and unexpected ones — ends here and
leaves as JSON in the envelope of its dialect:

* REST (``/core``, ``/api/<name>``): ``{"success": false, "error": {...}}``
* DDO (``POST /api/{database_id}``, handlers with ``opt={"envelope": "ddo"}``):
  ``{"error": {...}}``

Nothing here ever puts a stack trace, SQL text or a path in a body.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from pgcube import errors
from pgcube.db.errors import map_db_error

log = logging.getLogger("pgcube.errors")

DDO_ENVELOPE = "ddo"

_MISSING_FIELD = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")
_MISSING_PARAMETER = re.compile(r"Missing required (?:query|path|header|cookie) parameter '(?P<name>[^']+)'")
_DDO_PATH = re.compile(r"^/api/[0-9a-f]{24}/?$")
_MSGSPEC_PATH = re.compile(r" - at `\$(?:\.data)?(?P<path>[^`]*)`$")


def envelope_of(request: Request[Any, Any, Any]) -> str:
    try:
        opt = request.route_handler.opt
    except Exception:  # no route or method matched: the path tells the dialect
        return DDO_ENVELOPE if _DDO_PATH.match(request.url.path) else "rest"
    return str(opt.get("envelope", "rest"))


def _route_of(request: Request[Any, Any, Any]) -> str:
    try:
        return str(request.route_handler.handler_name)
    except Exception:  # no route matched
        return "(no route)"


def error_body(error: errors.PgcubeError, envelope: str) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message, "details": error.details}
    if envelope == DDO_ENVELOPE:
        return {"error": body}
    return {"success": False, "error": body}


def _from_validation(exc: ValidationException) -> errors.PgcubeError:
    """Litestar/msgspec body and parameter validation → VALIDATION_ERROR naming the field."""
    cause = str(exc.__cause__ or "")
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    if first.get("source") == "body" and first.get("message") == "'data'":
        return errors.InvalidJson("The request body is missing: send a JSON object")
    missing_parameter = _MISSING_PARAMETER.match(str(exc.detail))
    if missing_parameter:
        name = missing_parameter.group("name")
        return errors.ValidationError(f"Missing required query parameter: {name}", details={"field": name})
    message = str(first.get("message") or exc.detail)
    missing = _MISSING_FIELD.search(message)
    if missing:
        field = missing.group("field")
        return errors.missing_field(field)
    unknown = _UNKNOWN_FIELD.search(message)
    if unknown:
        field = unknown.group("field")
        return errors.ValidationError(f"Unknown field: {field}", details={"field": field, "unknown": True})
    path_match = _MSGSPEC_PATH.search(cause)
    field = path_match.group("path").lstrip(".") if path_match else str(first.get("key") or "")
    if first.get("source") in ("query", "path", "header", "cookie"):
        field = str(first.get("key") or field)
    details = {"field": field} if field else {}
    return errors.ValidationError(message, details=details)


def _from_http(exc: HTTPException) -> errors.PgcubeError:
    if isinstance(exc, ValidationException):
        return _from_validation(exc)
    if isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException):
        return errors.InvalidJson(f"The request body is not valid JSON: {exc.__cause__}")
    if isinstance(exc, NotFoundException):
        return errors.NotFound("No such route")
    if isinstance(exc, MethodNotAllowedException):
        return errors.MethodNotAllowed()
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        return errors.PayloadTooLarge()
    if exc.status_code == 401:
        return errors.AuthenticationFailed()
    if exc.status_code == 403:
        return errors.Forbidden()
    if exc.status_code >= 500:
        return errors.ServiceUnavailable() if exc.status_code == 503 else errors.InternalError()
    return errors.ValidationError(str(exc.detail))


def to_pgcube_error(exc: Exception) -> errors.PgcubeError | None:
    """The client-facing error for ``exc``, or None for an unexpected one."""
    mapped = map_db_error(exc)
    if mapped is not None:
        return mapped
    if isinstance(exc, HTTPException):
        return _from_http(exc)
    # Raised by the JSON decoders before any handler runs: bad input, not a bug of ours.
    if isinstance(exc, UnicodeDecodeError):
        return errors.InvalidJson("The request is not valid UTF-8")
    if isinstance(exc, RecursionError):
        return errors.ValidationError("The JSON is nested too deeply")
    return None


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    error = to_pgcube_error(exc)
    if error is None or isinstance(error, errors.InternalError):
        request_id = uuid.uuid4().hex
        # The route's template, never the raw path: a path may hold a one-time token.
        log.error(
            "unhandled error (request_id=%s) in %s %s",
            request_id,
            request.method,
            _route_of(request),
            exc_info=exc,
        )
        error = errors.InternalError(details={"request_id": request_id})
    return Response(
        content=error_body(error, envelope_of(request)),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )

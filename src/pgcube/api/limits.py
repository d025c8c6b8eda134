"""Request-body limits that hold before any parsing (RELIABILITY E1, E2).

* size — ``max_body_bytes``: Litestar refuses a larger ``Content-Length`` at
  once and stops reading a chunked body at the limit (413
  ``PAYLOAD_TOO_LARGE``); this module only makes sure the body is read under
  that rule before anything decodes it.
* depth — ``max_json_depth``: a JSON body nested deeper is a 400 before the
  JSON decoder sees it. The decoder's own guard is the interpreter's
  recursion limit, which a body of a few kilobytes of ``[`` reaches.

Multipart uploads, and any route with a body limit of its own above
``max_body_bytes`` (the import endpoint), are never read here: they stream.
"""

from __future__ import annotations

import itertools
from typing import Any

from litestar import Request
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from pgcube import errors
from pgcube.settings import Settings

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Everything but brackets and quotes, to delete with bytes.translate.
_NOT_STRUCTURE = bytes(range(256)).translate(None, b'[]{}"')
_STEP = [0] * 256
for _open in b"[{":
    _STEP[_open] = 1
for _close in b"]}":
    _STEP[_close] = -1


def json_depth(body: bytes, limit: int) -> int:
    """The nesting depth of a JSON text (0 for a scalar), or any value ≤ ``limit`` when it
    cannot exceed ``limit``. Linear and in C but for one pass over the brackets.

    Escapes go first (``\\\\`` and ``\\"`` hide no quote), then everything but
    brackets and quotes; what lies between two quotes was a string.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return 0
    structure = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    brackets = b"".join(structure.split(b'"')[::2])
    return max(itertools.chain((0,), itertools.accumulate(map(_STEP.__getitem__, brackets))))


def is_json_body(scope: Scope) -> bool:
    if scope.get("method") not in _BODY_METHODS:
        return False
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return b"json" in value.lower()
    return True  # no Content-Type: the handlers decode JSON all the same


def streams(scope: Scope, settings: Settings) -> bool:
    """A route with a larger body limit than the default (the import) reads its body itself."""
    handler = scope["route_handler"]
    if not isinstance(handler, HTTPRouteHandler):
        return True
    limit = handler.resolve_request_max_body_size()
    return limit is None or limit > settings.max_body_bytes


class BodyLimitsMiddleware(ASGIMiddleware):
    """Reads a JSON body under the size limit and refuses one nested too deep."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        settings: Settings = scope["app"].state.settings
        if is_json_body(scope) and not streams(scope, settings):
            request: Request[Any, Any, Any] = Request(scope, receive)
            body = await request.body()  # 413 past max_body_bytes; kept for the handler
            if json_depth(body, settings.max_json_depth) > settings.max_json_depth:
                raise errors.ValidationError(
                    f"The JSON body is nested deeper than {settings.max_json_depth} levels",
                    details={"max_depth": settings.max_json_depth},
                )
        await next_app(scope, receive, send)

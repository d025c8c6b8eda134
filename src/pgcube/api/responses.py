"""JSON answers assembled around documents that are already JSON bytes (DESIGN §6).

Documents come from PostgreSQL as bytes and are spliced into the envelope
with ``msgspec.Raw``: the envelope is encoded once, the documents never.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response

_encode = msgspec.json.encode


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        content=_encode(body), status_code=status_code, media_type="application/json", headers=headers
    )


def ddo_response(data: Any, meta: dict[str, Any] | None = None, *, status_code: int = 200) -> Response[bytes]:
    """``{"data": ..., "meta": {...}}`` (SPEC §3)."""
    return json_response({"data": data, "meta": meta or {}}, status_code=status_code)

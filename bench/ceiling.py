"""The framework ceiling: a trivial Litestar handler, served like pgcube.

``POST /c/{name}`` decodes the JSON body (as any handler with a body does)
and answers the bytes pgcube answered to the same request in this run
(``$BENCH_CANNED_DIR/<name>.json``), so the ceiling moves the same bytes
both ways and does nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from litestar import Litestar, Response, get, post

_CANNED: dict[str, bytes] = {}


def _canned(name: str) -> bytes:
    body = _CANNED.get(name)
    if body is None:
        body = (Path(os.environ["BENCH_CANNED_DIR"]) / f"{name}.json").read_bytes()
        _CANNED[name] = body
    return body


@post("/c/{name:str}", status_code=200)
async def canned(name: str, data: dict[str, Any]) -> Response[bytes]:
    return Response(content=_canned(name), media_type="application/json")


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[canned, health], debug=False, request_max_body_size=64 * 1024 * 1024)

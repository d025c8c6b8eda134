"""The framework ceiling, and the framework + driver bound: trivial Litestar handlers, served like pgcube.

``POST /c/{name}`` (the **ceiling**) decodes the JSON body (as any handler
with a body does) and answers the bytes pgcube answered to the same request in
this run (``$BENCH_CANNED_DIR/<name>.json``), so the ceiling moves the same
bytes both ways and does nothing else.

``POST /b/{name}`` (the **bound**) does the same and, before answering, runs
the workload's hand-written floor statement (``<name>.statement``, one of its
parameter variants at random) on a connection taken from an asyncpg pool
configured like pgcube's (``pgcube.db.pool``). It is what any service on this
framework, driver and server pays for one round trip, with no code of its own:
the most a pgcube request could reach on this stack.
"""

from __future__ import annotations

import os
import pickle
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Response, get, post
from litestar.datastructures import State

from bench.floor import Statement, arguments
from pgcube.db.pool import create_pool
from pgcube.settings import Settings

_CANNED: dict[str, bytes] = {}
_STATEMENTS: dict[str, Statement] = {}


def _canned(name: str) -> bytes:
    body = _CANNED.get(name)
    if body is None:
        body = (Path(os.environ["BENCH_CANNED_DIR"]) / f"{name}.json").read_bytes()
        _CANNED[name] = body
    return body


def _statement(name: str) -> Statement:
    statement = _STATEMENTS.get(name)
    if statement is None:
        written = Path(os.environ["BENCH_CANNED_DIR"]) / f"{name}.statement"
        statement = pickle.loads(written.read_bytes())  # noqa: S301 - written by this run's harness
        _STATEMENTS[name] = statement
    return statement


@post("/c/{name:str}", status_code=200)
async def canned(name: str, data: dict[str, Any]) -> Response[bytes]:
    return Response(content=_canned(name), media_type="application/json")


@post("/b/{name:str}", status_code=200)
async def bound(name: str, data: dict[str, Any], state: State) -> Response[bytes]:
    statement = _statement(name)
    async with state.pool.acquire() as conn:
        await conn.fetch(statement.sql, *arguments(statement, random.choice(statement.params)))
    return Response(content=_canned(name), media_type="application/json")


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@asynccontextmanager
async def pool(app: Litestar) -> AsyncIterator[None]:
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:  # the ceiling alone (no bound)
        yield
        return
    app.state.pool = await create_pool(Settings(), url)
    try:
        yield
    finally:
        await app.state.pool.close()


app = Litestar(
    route_handlers=[canned, bound, health],
    lifespan=[pool],
    debug=False,
    request_max_body_size=64 * 1024 * 1024,
)

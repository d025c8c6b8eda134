"""Liveness and readiness."""

from __future__ import annotations

import asyncio

import asyncpg
from litestar import get
from litestar.datastructures import State

from pgcube import errors

READY_TIMEOUT = 2.0


@get("/health", operation_id="health", tags=["health"], summary="Liveness: answers without the database")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/ready",
    operation_id="ready",
    tags=["health"],
    summary="Readiness: 200 when the database answers, 503 when it does not",
)
async def ready(state: State) -> dict[str, str]:
    pool: asyncpg.Pool = state.pool
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except Exception as exc:  # any failure to reach the database means "not ready"
        raise errors.ServiceUnavailable("The database does not answer") from exc
    return {"status": "ready", "database": "ok"}

"""The Singlebase DDO endpoint (SPEC §7): ``POST /api/{database_id}``, the op in the body.

The body names its op (``pgcube.schemas.ddo``); the op registry
(``pgcube.ops``) says how to run it; this route only decodes, runs and wraps
the answer in ``{"data": ..., "meta": {...}}`` (errors ``{"error": {...}}``:
the route's ``opt`` tells the error mapper). Documents are spliced in as the
bytes PostgreSQL built.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, post
from litestar.datastructures import State
from litestar.params import PathParameter

from pgcube.ai.runtime import ai_of
from pgcube.api.deps import provide_settings, request_session
from pgcube.api.errors import DDO_ENVELOPE
from pgcube.api.idempotency import idempotent
from pgcube.api.ratelimit import client_address, provide_limited_principal
from pgcube.api.responses import ddo_response
from pgcube.auth.guards import accounts_of
from pgcube.files.service import files_of
from pgcube.ops import REGISTRY, Context, execute
from pgcube.schemas.ddo import decode_ddo


@post(
    "/{database_id:str}",
    operation_id="ddo",
    tags=["DDO"],
    summary="Run one DDO operation; the body's op names it (see the request body's variants)",
    opt={"envelope": DDO_ENVELOPE},
    status_code=200,
)
async def ddo(
    database_id: Annotated[str, PathParameter(description="The database's id (24 hex digits)")],
    request: Request[Any, Any, Any],
    state: State,
) -> Response[bytes]:
    # The session and the caller without dependency injection, and the settings from the
    # state: on this hot route Litestar's resolution and cleanup of dependencies cost more CPU
    # than the rest of a warm read (ADR 0013). The order is the dependencies' own.
    async with request_session(state) as session:
        principal = await provide_limited_principal(request, state, session)
        op, body = decode_ddo(await request.body(), REGISTRY)
        ctx = Context(
            session,
            provide_settings(state),
            principal,
            database_id,
            end_users=accounts_of(state).end_users,
            client_address=client_address(request.scope),
            file_runtime=files_of(state),
            ai=ai_of(state),
        )
        command = body.command()

        async def answer() -> Response[bytes]:
            result = op.present(await execute(op, ctx, command))
            response = ddo_response(result.data, result.meta)
            if op.no_store:
                response.headers["Cache-Control"] = "no-store"
            return response

        if op.idempotent:
            return await idempotent(request, session, principal, database_id, answer)
        return await answer()


def ddo_router() -> Router:
    return Router(path="/api", route_handlers=[ddo])

"""The Singlebase DDO endpoint (SPEC §7): ``POST /api/{database_id}``, the op in the body.

Answers ``{"data": ..., "meta": {...}}``; errors ``{"error": {...}}`` (the
route's ``opt`` tells the error mapper). Documents are spliced in as the
bytes PostgreSQL built.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, post
from litestar.datastructures import State
from litestar.openapi.spec import Example
from litestar.params import Body, PathParameter

from pgcube.api.deps import Auth, Conn, provide_settings
from pgcube.api.errors import DDO_ENVELOPE
from pgcube.api.idempotency import idempotent
from pgcube.api.responses import ddo_response, raw_documents
from pgcube.data import service
from pgcube.data.pagination import ddo_pagination
from pgcube.schemas.ddo import (
    Count,
    DdoBody,
    DdoRequest,
    Find,
    Insert,
    Remove,
    Restore,
    Update,
    Upsert,
    parse_ddo,
)
from pgcube.settings import Settings

_EXAMPLE = Example(
    summary="Find active users",
    value={"op": "collection.find", "collection": "users", "match": {"status": "active"}, "limit": 50},
)


async def _find(conn: Any, settings: Settings, where: service.Target, request: Find) -> Response[bytes]:
    page = await service.find(
        conn,
        settings,
        where,
        request.match,
        sort=request.sort,
        projection=request.projection,
        limit=request.limit,
        offset=request.offset,
        page=request.page,
        per_page=request.per_page,
        cursor=request.cursor,
        with_total=request.with_total,
    )
    pagination = ddo_pagination(
        page.offset,
        page.limit,
        count=len(page.documents),
        total=page.total,
        has_next=page.has_next,
        next_cursor=page.next_cursor,
        keyset=page.keyset,
    )
    return ddo_response(raw_documents(page.documents), {"pagination": pagination})


async def _run(conn: Any, settings: Settings, where: service.Target, request: DdoRequest) -> Response[bytes]:
    if isinstance(request, Find):
        return await _find(conn, settings, where, request)
    if isinstance(request, Count):
        total = await service.count(conn, settings, where, request.match, pointer=request.match_pointer)
        return ddo_response({"count": total})
    if isinstance(request, Update):
        documents = await service.update(
            conn,
            settings,
            where,
            request.match,
            request.mutation,
            pointer=request.match_pointer,
            mutation_pointer="/data",
        )
        return ddo_response(raw_documents(documents), {"count": len(documents)})
    if isinstance(request, Upsert):
        result = await service.upsert(
            conn,
            settings,
            where,
            request.match,
            request.update,
            request.insert,
            pointer=request.match_pointer,
            mutation_pointer="/update",
        )
        meta = {"count": len(result.documents), "upserted": result.upserted_key is not None}
        return ddo_response(raw_documents(result.documents), meta)
    if isinstance(request, Remove):
        removed = await service.remove(
            conn, settings, where, request.match, pointer=request.match_pointer, kind=request.kind
        )
        return ddo_response({"_ref": removed.ref, "count": removed.count})
    if isinstance(request, Restore):
        return ddo_response({"count": await service.restore(conn, settings, where, request.ref)})
    raise AssertionError(f"unhandled DDO request {type(request).__name__}")  # parse_ddo is exhaustive


@post(
    "/{database_id:str}",
    operation_id="ddo",
    tags=["DDO"],
    summary="Run one DDO operation (collection.find, .insert, .update, .upsert, .delete, .archive, .restore, .count)",
    opt={"envelope": DDO_ENVELOPE},
    status_code=200,
)
async def ddo(
    database_id: Annotated[str, PathParameter(description="The database's id (24 hex digits)")],
    request: Request[Any, Any, Any],
    data: Annotated[DdoBody, Body(examples=[_EXAMPLE])],
    principal: Auth,
    conn: Conn,
    state: State,
) -> Response[bytes]:
    # Settings from the state, not as a dependency: with two dependencies of the
    # same depth (settings, conn) Litestar resolves them in an anyio task group,
    # which costs more than the rest of a small request's dependencies together.
    settings = provide_settings(state)
    parsed = parse_ddo(data)
    if isinstance(parsed, Insert):

        async def insert() -> Response[bytes]:
            where = await service.target(
                conn, settings, principal, database_id, parsed.collection, create=True
            )
            documents = await service.insert(conn, settings, where, parsed.documents)
            return ddo_response(raw_documents(documents), {"count": len(documents)})

        return await idempotent(request, conn, principal, insert)
    # An upsert, like an insert, creates the collection on first use.
    where = await service.target(
        conn, settings, principal, database_id, parsed.collection, create=isinstance(parsed, Upsert)
    )
    return await _run(conn, settings, where, parsed)


def ddo_router() -> Router:
    return Router(path="/api", route_handlers=[ddo])

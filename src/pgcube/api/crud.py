"""The DataCube CRUD route (SPEC §6): ``/api/crud`` with POST, GET, PUT/PATCH and DELETE, and
``GET /api/explain`` (SPEC §10a), which explains what those methods would run.

Each method decodes its body or query into a document command
(``pgcube.data.commands``) and runs it as the DDO op it stands for
(``pgcube.ops``): one path for both dialects; only the envelope differs.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, delete, get, post, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody, QueryParameter

from pgcube import errors, query
from pgcube.api.deps import Auth, Db, provide_settings
from pgcube.api.idempotency import idempotent
from pgcube.api.responses import json_response
from pgcube.data import commands
from pgcube.data.documents import raw_documents
from pgcube.data.pagination import rest_pagination
from pgcube.db.session import Session
from pgcube.ops import Context, execute
from pgcube.ops.collection import DELETE, FIND, INSERT, UPDATE, UPSERT
from pgcube.ops.explain import EXPLAIN
from pgcube.principal import Principal
from pgcube.schemas.crud import (
    DeleteAnswer,
    DeleteBody,
    ExplainAnswer,
    FindAnswer,
    InsertAnswer,
    InsertBody,
    UpdateAnswer,
    UpdateBody,
)

TAGS = ["crud"]


MUTATION_POINTER = "/update_data"
FIND_PARAMETERS = frozenset(
    {"database_id", "collection_name", "filters", "page", "page_size", "sort", "fields"}
)
# The find's query parameters, for GET /api/crud and GET /api/explain alike.
Filters = Annotated[str | None, QueryParameter(description='JSON, e.g. {"age:$gt": 18}')]
PageNumber = Annotated[int, QueryParameter(ge=1)]
PageSize = Annotated[int, QueryParameter(ge=1)]
SortParameter = Annotated[str | None, QueryParameter(description='e.g. "price desc, name asc"')]
Fields = Annotated[str | None, QueryParameter(description='"name,email", or JSON ["name"] / {"secret": 0}')]


def _json_param(raw: str | None, name: str) -> Any:
    """A query parameter holding JSON (``filters``, ``fields``)."""
    if raw is None or raw == "":
        return None
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        raise errors.InvalidQuery(f"{name} is not valid JSON", details={"pointer": f"/{name}"}) from None


def _refuse_unknown_parameters(
    request: Request[Any, Any, Any], known: frozenset[str] = FIND_PARAMETERS
) -> None:
    """A misspelled ``filter=`` must not turn into "every document"."""
    for name in request.query_params:
        if name not in known:
            raise errors.ValidationError(
                f"Unknown query parameter: {name}", details={"field": name, "known": sorted(known)}
            )


def _fields_param(raw: str | None) -> Any:
    """``fields``: JSON (``["a", "b"]`` or ``{"a": 1}``) or a comma-separated list of names."""
    if raw is None or raw.strip() == "":
        return None
    if raw.lstrip().startswith(("[", "{")):
        return _json_param(raw, "fields")
    return [name.strip() for name in raw.split(",") if name.strip()]


def _context(state: State, session: Session, principal: Principal, database_id: str) -> Context:
    # Settings from the state: see pgcube.api.ddo.
    return Context(session, provide_settings(state), principal, database_id)


@post(
    "/crud",
    operation_id="crudInsert",
    tags=TAGS,
    status_code=201,
    summary="Insert one document or a batch (at most 1000); creates the collection on first use",
    responses={
        201: ResponseSpec(
            data_container=InsertAnswer, description="The new documents' _key values", generate_examples=False
        )
    },
)
async def insert(
    request: Request[Any, Any, Any], data: JSONBody[InsertBody], principal: Auth, session: Db, state: State
) -> Response[bytes]:
    if data.data is not None and data.documents is not None:
        raise errors.ValidationError(
            "Send the documents once: data or documents (its alias)", details={"field": "documents"}
        )
    documents = data.data if data.data is not None else data.documents
    if documents is None:
        raise errors.missing_field("data")
    command = commands.Insert(
        collection=data.collection_name, documents=documents if isinstance(documents, list) else [documents]
    )
    ctx = _context(state, session, principal, data.database_id)

    async def answer() -> Response[bytes]:
        inserted = await execute(INSERT, ctx, command)
        return json_response(InsertAnswer(inserted_ids=inserted.keys), status_code=201)

    return await idempotent(request, session, principal, data.database_id, answer)


@get(
    "/crud",
    operation_id="crudFind",
    tags=TAGS,
    summary="Find documents: filters (JSON, the query language), page, page_size, sort, fields",
    responses={
        200: ResponseSpec(
            data_container=FindAnswer, description="A page of documents", generate_examples=False
        )
    },
)
async def find(
    request: Request[Any, Any, Any],
    principal: Auth,
    session: Db,
    state: State,
    database_id: FromQuery[str],
    collection_name: FromQuery[str],
    filters: Filters = None,
    page: PageNumber = 1,
    page_size: PageSize = 10,
    sort: SortParameter = None,
    fields: Fields = None,
) -> Response[bytes]:
    _refuse_unknown_parameters(request)
    command = _find_command(collection_name, filters, page, page_size, sort, fields)
    found = await execute(FIND, _context(state, session, principal, database_id), command)
    pagination = rest_pagination(found.page, found.limit, total=found.total or 0, has_next=found.has_next)
    return json_response({"success": True, "data": raw_documents(found.documents), "pagination": pagination})


def _find_command(
    collection_name: str, filters: str | None, page: int, page_size: int, sort: str | None, fields: str | None
) -> commands.Find:
    """The find that ``GET /api/crud``'s query parameters ask for (and ``GET /api/explain``'s)."""
    return commands.Find(
        collection=collection_name,
        criteria=_json_param(filters, "filters"),
        sort=sort,
        projection=_fields_param(fields),
        page=page,
        per_page=page_size,
        pointers=query.REST_POINTERS,
    )


@route(
    "/crud",
    http_method=[HttpMethod.PUT, HttpMethod.PATCH],
    operation_id=lambda handler, method, path: "crudUpdate" if method == HttpMethod.PUT else "crudPatch",
    tags=TAGS,
    summary="Update the matching documents with the mutation language (update_data); upsert optional",
)
async def update(data: JSONBody[UpdateBody], principal: Auth, session: Db, state: State) -> UpdateAnswer:
    ctx = _context(state, session, principal, data.database_id)
    if data.upsert:
        upsert = commands.Upsert(
            collection=data.collection_name,
            criteria=data.filters,
            mutation=data.update_data,
            new_document={},
            pointers=query.REST_POINTERS,
            mutation_pointer=MUTATION_POINTER,
            everything=data.all,
        )
        result = await execute(UPSERT, ctx, upsert)
        if result.upserted_key is not None:
            return UpdateAnswer(matched_count=0, modified_count=0, upserted_id=result.upserted_key)
        return UpdateAnswer(matched_count=len(result.documents), modified_count=len(result.documents))
    command = commands.Update(
        collection=data.collection_name,
        criteria=data.filters,
        mutation=data.update_data,
        pointers=query.REST_POINTERS,
        mutation_pointer=MUTATION_POINTER,
        everything=data.all,
    )
    documents = await execute(UPDATE, ctx, command)
    return UpdateAnswer(matched_count=len(documents), modified_count=len(documents))


@delete(
    "/crud",
    operation_id="crudDelete",
    tags=TAGS,
    status_code=200,
    summary="Delete the matching documents: to the trash (restorable 24 h by ref) unless soft_delete is false",
)
async def remove(data: JSONBody[DeleteBody], principal: Auth, session: Db, state: State) -> DeleteAnswer:
    command = commands.Remove(
        collection=data.collection_name,
        criteria=data.filters,
        kind="deleted" if data.soft_delete else None,
        pointers=query.REST_POINTERS,
        everything=data.all,
    )
    removed = await execute(DELETE, _context(state, session, principal, data.database_id), command)
    return DeleteAnswer(deleted_count=removed.count, ref=removed.ref)


EXPLAIN_PARAMETERS = {
    "find": FIND_PARAMETERS,
    "count": frozenset({"database_id", "collection_name", "filters"}),
    "update": frozenset({"database_id", "collection_name", "filters", "data", "all"}),
    "delete": frozenset({"database_id", "collection_name", "filters", "soft_delete", "all"}),
}
"""The query parameters of ``GET /api/explain`` for each command: those of the ``/api/crud`` method
it explains (``data``: the update's ``update_data``, as JSON)."""


@get(
    "/explain",
    operation_id="crudExplain",
    tags=TAGS,
    summary=(
        "Explain a find (default), count, update or delete of /api/crud: its SQL, PostgreSQL's plan, "
        "the indexes it uses, its rows, and index advice; analyze=true runs a find or count. "
        "A write is planned, never run"
    ),
    responses={
        200: ResponseSpec(
            data_container=ExplainAnswer, description="The plan and the advice", generate_examples=False
        )
    },
)
async def explain(
    request: Request[Any, Any, Any],
    principal: Auth,
    session: Db,
    state: State,
    database_id: FromQuery[str],
    collection_name: FromQuery[str],
    command: Annotated[str, QueryParameter(description="find, count, update or delete")] = "find",
    analyze: Annotated[bool, QueryParameter(description="Run the statement too (find, count)")] = False,
    filters: Filters = None,
    page: PageNumber = 1,
    page_size: PageSize = 10,
    sort: SortParameter = None,
    fields: Fields = None,
    mutation: Annotated[
        str | None, QueryParameter(name="data", description="update: the mutation, JSON")
    ] = None,
    everything: Annotated[
        bool, QueryParameter(name="all", description="update, delete: empty filters")
    ] = False,
    soft_delete: Annotated[
        bool, QueryParameter(description="delete: to the trash (default) or for good")
    ] = True,
) -> Response[bytes]:
    reads = EXPLAIN_PARAMETERS.get(command)
    if reads is None:
        raise errors.ValidationError(
            f"Unknown command: {command} (find, count, update or delete)",
            details={"field": "command", "known": list(EXPLAIN_PARAMETERS)},
        )
    for name in request.query_params:
        if name in reads or name in ("command", "analyze"):
            continue
        if any(name in other for other in EXPLAIN_PARAMETERS.values()):
            message = f"An explained {command} does not take {name}"
        else:
            message = f"Unknown query parameter: {name}"
        raise errors.ValidationError(message, details={"field": name, "command": command})
    criteria = _json_param(filters, "filters")
    explained: commands.Find | commands.Count | commands.Update | commands.Remove
    if command == "find":
        explained = _find_command(collection_name, filters, page, page_size, sort, fields)
    elif command == "count":
        explained = commands.Count(
            collection=collection_name, criteria=criteria, pointers=query.REST_POINTERS
        )
    elif command == "update":
        if mutation is None or mutation == "":
            raise errors.missing_field("data")
        explained = commands.Update(
            collection=collection_name,
            criteria=criteria if criteria is not None else {},
            mutation=_json_param(mutation, "data"),
            pointers=query.REST_POINTERS,
            mutation_pointer="/data",
            everything=everything,
        )
    else:
        explained = commands.Remove(
            collection=collection_name,
            criteria=criteria if criteria is not None else {},
            kind="deleted" if soft_delete else None,
            pointers=query.REST_POINTERS,
            everything=everything,
        )
    plan = commands.Explain(collection=collection_name, command=explained, analyze=analyze)
    answer = await execute(EXPLAIN, _context(state, session, principal, database_id), plan)
    return json_response({"success": True, "data": answer})


def crud_router() -> Router:
    return Router(path="/api", route_handlers=[insert, find, update, remove, explain])

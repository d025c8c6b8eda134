"""The Management API (SPEC §5): logical databases and their collections, under ``/api``.

Thin handlers: decode (``pgcube.schemas.management``), call
``pgcube.management.service`` on the request's transaction (``conn``: DDL and
catalog rows commit together or not at all), return. Every route takes a
session token or an API key (``principal``). ``create_index`` and ``drop_index``
take the session instead: their DDL runs ``CONCURRENTLY``, outside any
transaction (``pgcube.management.indexes``).
"""

from __future__ import annotations

from litestar import Router, get, post, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from litestar.types import Method, OperationIDCreator
from litestar.types.internal_types import PathParameterDefinition

from pgcube.api.account_only import ACCOUNT_ONLY
from pgcube.api.deps import Auth, Config, Conn, DatabaseId, Db
from pgcube.management import indexes, service
from pgcube.schemas.management import (
    AddCollectionAnswer,
    AddCollectionBody,
    CollectionCount,
    CreateDatabaseAnswer,
    CreateDatabaseBody,
    CreateIndexAnswer,
    CreateIndexBody,
    DatabaseSummary,
    DropCollectionsAnswer,
    DropCollectionsBody,
    DropDatabaseAnswer,
    DropDatabaseBody,
    DropIndexAnswer,
    DropIndexBody,
    ListCollectionsAnswer,
    ListDatabasesAnswer,
    Metadata,
    MetadataAnswer,
    Pagination,
    SetAccessAnswer,
    SetAccessBody,
)

TAGS = ["management"]


def _operation_id(base: str) -> OperationIDCreator:
    """One id per method of a two-method route (``dropDatabase``, ``dropDatabaseDelete``)."""

    def operation_id(
        handler: HTTPRouteHandler, method: Method, path: list[str | PathParameterDefinition]
    ) -> str:
        return base if method == HttpMethod.POST else f"{base}Delete"

    return operation_id


@post(
    "/create_database",
    operation_id="createDatabase",
    tags=TAGS,
    status_code=HTTP_201_CREATED,
    summary="Create a logical database (a PostgreSQL schema) with its first collections",
)
async def create_database(
    data: JSONBody[CreateDatabaseBody], principal: Auth, conn: Conn, settings: Config
) -> CreateDatabaseAnswer:
    definitions = [collection.definition() for collection in data.collections]
    database, collections = await service.create_database(
        conn, settings, principal, data.db_name, definitions
    )
    return CreateDatabaseAnswer.of(database, collections)


@post(
    "/add_collection",
    operation_id="addCollection",
    tags=TAGS,
    status_code=HTTP_201_CREATED,
    summary="Add collections (tables) with declared fields to a database",
)
async def add_collection(
    data: JSONBody[AddCollectionBody], principal: Auth, conn: Conn, settings: Config
) -> AddCollectionAnswer:
    definitions = [collection.definition() for collection in data.collections]
    return AddCollectionAnswer.of(
        await service.add_collections(conn, settings, principal, data.database_id, definitions)
    )


@get(
    "/list_databases",
    operation_id="listDatabases",
    tags=TAGS,
    summary="The databases you own, by name, a page at a time",
)
async def list_databases(
    principal: Auth,
    conn: Conn,
    settings: Config,
    page: FromQuery[int] = 1,
    page_size: FromQuery[int] = 10,
    search: FromQuery[str | None] = None,
) -> ListDatabasesAnswer:
    result = await service.list_databases(
        conn, settings, principal, page=page, page_size=page_size, search=search
    )
    return ListDatabasesAnswer(
        data=[
            DatabaseSummary(id=database.id, name=database.name, num_collections=count)
            for database, count in result.items
        ],
        pagination=Pagination.of(
            page=result.page, page_size=result.page_size, total_items=result.total_items
        ),
    )


@get(
    "/get_metadata",
    operation_id="getMetadata",
    tags=TAGS,
    summary="A database's metadata: its schema (dbName), collections, declared fields and indexes",
)
async def get_metadata(database_id: FromQuery[DatabaseId], principal: Auth, conn: Conn) -> MetadataAnswer:
    database, collections = await service.get_metadata(conn, principal, database_id)
    return MetadataAnswer(data=Metadata.of(database, collections))


@get(
    "/list_collections",
    operation_id="listCollections",
    tags=TAGS,
    summary="A database's collections with their live document counts (estimated past a threshold)",
)
async def list_collections(
    database_id: FromQuery[DatabaseId], principal: Auth, conn: Conn, settings: Config
) -> ListCollectionsAnswer:
    counts = await service.list_collections(conn, settings, principal, database_id)
    return ListCollectionsAnswer(
        collections=[
            CollectionCount(name=count.name, num_documents=count.num_documents, estimated=count.estimated)
            for count in counts
        ]
    )


@route(
    "/drop_database",
    http_method=[HttpMethod.POST, HttpMethod.DELETE],
    operation_id=_operation_id("dropDatabase"),
    tags=TAGS,
    status_code=HTTP_200_OK,
    summary="Drop a database and everything in it; confirmation must equal its name",
)
async def drop_database(data: JSONBody[DropDatabaseBody], principal: Auth, conn: Conn) -> DropDatabaseAnswer:
    database = await service.drop_database(conn, principal, data.database_id, data.confirmation)
    return DropDatabaseAnswer(message=f"Database '{database.name}' was successfully dropped.")


@route(
    "/drop_collections",
    http_method=[HttpMethod.POST, HttpMethod.DELETE],
    operation_id=_operation_id("dropCollections"),
    tags=TAGS,
    status_code=HTTP_200_OK,
    summary="Drop collections; one unknown name drops nothing",
)
async def drop_collections(
    data: JSONBody[DropCollectionsBody], principal: Auth, conn: Conn
) -> DropCollectionsAnswer:
    dropped = await service.drop_collections(conn, principal, data.database_id, data.collection_names)
    return DropCollectionsAnswer(dropped_collections=dropped)


@post(
    "/set_access",
    operation_id="setAccess",
    tags=TAGS,
    status_code=HTTP_200_OK,
    summary="Set who may read and write a collection with a web key (row-level security policies)",
)
async def set_access(data: JSONBody[SetAccessBody], principal: Auth, conn: Conn) -> SetAccessAnswer:
    access = await service.set_access(conn, principal, data.database_id, data.collection, data.access())
    return SetAccessAnswer(collection=data.collection, access=access)


@post(
    "/create_index",
    operation_id="createIndex",
    tags=TAGS,
    status_code=HTTP_201_CREATED,
    summary="Build a declared index (compound, unique or not) on a collection without blocking its writes",
)
async def create_index(
    data: JSONBody[CreateIndexBody], principal: Auth, session: Db, state: State
) -> CreateIndexAnswer:
    # No ``conn``: the build runs outside any transaction, on a connection of its own.
    index = await indexes.create_index(
        session, state.dedicated, principal, data.database_id, data.collection, data.definition()
    )
    return CreateIndexAnswer.of(data.collection, index)


@post(
    "/drop_index",
    operation_id="dropIndex",
    tags=TAGS,
    status_code=HTTP_200_OK,
    summary="Drop a declared index without blocking the collection's writes",
)
async def drop_index(
    data: JSONBody[DropIndexBody], principal: Auth, session: Db, state: State
) -> DropIndexAnswer:
    index = await indexes.drop_index(
        session, state.dedicated, principal, data.database_id, data.collection, data.name
    )
    return DropIndexAnswer(collection=data.collection, dropped_index=index.name)


def management_router() -> Router:
    return Router(
        path="/api",
        route_handlers=[
            create_database,
            add_collection,
            list_databases,
            get_metadata,
            list_collections,
            drop_database,
            drop_collections,
            set_access,
            create_index,
            drop_index,
        ],
        dependencies=ACCOUNT_ONLY,  # a web key is refused here (403), in this one place
    )

"""Logical databases and collections: the Management API's logic, and the catalog look-ups
every other route group uses.

For the data layer (CRUD, DDO, import) the API is::

    collection = await resolve_collection(session, settings, principal, database_id, name)  # cached
    database = await get_database(conn, principal, database_id)        # else DatabaseNotFound (404)
    collection = await get_collection(conn, database, name)             # else CollectionNotFound (404)
    collection = await ensure_collection(conn, settings, database, name)  # creates it on first insert
    validator_for(collection).validate_many(docs)                        # else ValidationError (400)

``collection.sql_table`` / ``database.sql_trash`` are the quoted names to put
in SQL text. Every function but ``resolve_collection`` runs in the caller's
transaction; nothing here commits. ``resolve_collection`` takes the request's
session: it answers from this process's catalog cache (ADR 0012) and opens a
transaction only to create a collection on first use.

Tenancy: a database of another account, an id that is not 24 hex digits and
an id that does not exist all raise the same ``DatabaseNotFound``, decided by
the same comparison with the database's owner. An API key scoped to one database reaches that
database only, and cannot create or drop databases (403 ``FORBIDDEN``).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from pgcube.control_plane_cache import caches
from pgcube.db.session import Session
from pgcube.errors import (
    CollectionNotFound,
    Conflict,
    DatabaseNotFound,
    Forbidden,
    QuotaExceeded,
    ValidationError,
)
from pgcube.management import ddl, declared, repository
from pgcube.management.models import (
    FILES_TABLE,
    SCALAR_TYPES,
    Access,
    Collection,
    CollectionDefinition,
    Database,
    FieldType,
    VectorSpec,
)
from pgcube.management.naming import (
    VECTOR_TABLE_PREFIX,
    check_collection_name,
    check_database_name,
    check_field_name,
    check_table_name,
    is_database_id,
    new_database_id,
    schema_name_for,
    vector_table_name,
)
from pgcube.management.repository import Connection
from pgcube.management.validation import validator_for
from pgcube.principal import Principal
from pgcube.settings import Settings

__all__ = [
    "DatabasePage",
    "DocumentCount",
    "add_collections",
    "create_database",
    "drop_collections",
    "drop_database",
    "ensure_collection",
    "get_collection",
    "get_database",
    "get_metadata",
    "list_collections",
    "list_databases",
    "resolve_collection",
    "validator_for",
]

_SCHEMA_NAME_ATTEMPTS = 8


# --- look-ups for every route group ------------------------------------------------------------
async def get_database(
    conn: Connection, principal: Principal, database_id: str, *, lock: bool = False
) -> Database:
    """The principal's database ``database_id``, else ``DatabaseNotFound``.

    ``lock=True`` locks its catalog row until the transaction ends: DDL in one
    database is serialised, and waits out a concurrent drop (then: not found).
    """
    if not is_database_id(database_id) or not principal.can_reach(database_id):
        raise DatabaseNotFound()
    database = await repository.fetch_database(
        conn, account_id=principal.account_id, database_id=database_id, lock=lock
    )
    if database is None:
        raise DatabaseNotFound()
    return database


async def get_collection(conn: Connection, database: Database, name: str) -> Collection:
    """The collection ``name`` of ``database`` with its declared fields, else ``CollectionNotFound``.

    A name that could never be a collection's is a 400 (``ValidationError``).
    """
    check_collection_name(name, field="collection_name")
    collection = await repository.fetch_collection(conn, database, name)
    if collection is None:
        raise CollectionNotFound(details={"collection": name})
    return collection


async def ensure_collection(
    conn: Connection, settings: Settings, database: Database, name: str
) -> Collection:
    """The collection ``name``, created (with no declared fields) when it does not exist yet.

    Safe against concurrent first inserts: the creator holds the database's
    row lock, and the others find its collection once it commits.
    """
    check_collection_name(name, field="collection_name")
    existing = await repository.fetch_collection(conn, database, name)
    if existing is not None:
        return existing
    return await _create_on_first_use(conn, settings, database, name)


async def resolve_database(session: Session, principal: Principal, database_id: str) -> Database:
    """The principal's database ``database_id`` on a request's session, else ``DatabaseNotFound`` —
    the same answer for another account's database, a malformed id and one that does not exist
    (SPEC §2). Answered from the process's catalog cache when it is warm (the ``auth.*`` ops)."""
    if not is_database_id(database_id) or not principal.can_reach(database_id):
        raise DatabaseNotFound()
    cached = caches()
    database = cached.databases.get(database_id)
    if database is None:
        generation = cached.databases.generation
        conn = await session.connection()
        database = await repository.fetch_database(
            conn, account_id=principal.account_id, database_id=database_id
        )
        if database is not None and not session.in_transaction:
            cached.databases.put(database_id, database, generation)
    if database is None or database.account_id != principal.account_id:
        raise DatabaseNotFound()
    return database


async def find_database(session: Session, database_id: str) -> Database | None:
    """The database ``database_id`` whoever owns it, or None (a malformed id too): for the routes
    whose credential is a signature rather than a principal (file downloads and presigned
    uploads). Answered from the process's catalog cache when it is warm."""
    if not is_database_id(database_id):
        return None
    database = caches().databases.get(database_id)
    if database is None:  # no collection is named "": only the database is read (and cached)
        database, _ = await _cached_catalog_entry(session, database_id, "")
    return database


async def resolve_collection(
    session: Session,
    settings: Settings,
    principal: Principal,
    database_id: str,
    name: str,
    *,
    create: bool = False,
) -> Collection:
    """``get_database`` then ``get_collection`` (or ``ensure_collection`` with ``create``), with the
    same answers and errors in the same order: what every document request does first.

    Warm, it sends no statement: the database (with its owner) and the
    collection (with its declared fields) come from this process's caches,
    which notifications evict when either changes (ADR 0012). On a miss, one
    statement on the session's connection reads both. Tenancy is decided here,
    from the database's owner, the same way whether the row came from the
    cache or from PostgreSQL.
    """
    database, collection = await _reachable_entry(session, principal, database_id, name)
    check_collection_name(name, field="collection_name")
    if collection is not None:
        return collection
    if not create:
        raise CollectionNotFound(details={"collection": name})
    async with session.transaction() as conn:
        return await _create_on_first_use(conn, settings, database, name)


async def resolve_vector_collection(
    session: Session,
    settings: Settings,
    principal: Principal,
    database_id: str,
    name: str,
    *,
    create: VectorSpec | None = None,
) -> Collection:
    """The vector collection ``name`` (SPEC §13; its table ``_vec_<name>``) as ``resolve_collection``
    finds a collection; with ``create``, made on first use with those embeddings."""
    database, collection = await _reachable_entry(session, principal, database_id, VECTOR_TABLE_PREFIX + name)
    table = vector_table_name(name)
    if collection is not None:
        return collection
    if create is None:
        raise CollectionNotFound(details={"collection": name})
    async with session.transaction() as conn:
        locked = await _lock(conn, database)
        existing = await repository.fetch_collection(conn, locked, table)
        if existing is not None:
            return existing
        await _check_collection_quota(conn, settings, locked, adding=1)
        new = Collection(database_id=locked.id, schema_name=locked.schema_name, name=table, vectors=create)
        return await _create_collection(conn, locked, new)


async def _reachable_entry(
    session: Session, principal: Principal, database_id: str, table: str
) -> tuple[Database, Collection | None]:
    """The principal's database ``database_id`` and its collection ``table`` (None: none), else
    ``DatabaseNotFound`` — the same for another account's database and one that does not exist."""
    if not is_database_id(database_id) or not principal.can_reach(database_id):
        raise DatabaseNotFound()
    database, collection = await _cached_catalog_entry(session, database_id, table)
    if database is None or database.account_id != principal.account_id:
        raise DatabaseNotFound()
    return database, collection


async def _cached_catalog_entry(
    session: Session, database_id: str, name: str
) -> tuple[Database | None, Collection | None]:
    """The database ``database_id`` (any owner) and its collection ``name``, from the caches or
    else in one statement (then cached unless an eviction came in while it was read)."""
    cached = caches()
    database = cached.databases.get(database_id)
    collection = cached.collections.get((database_id, name)) if database is not None else None
    if database is not None and collection is not None:
        return database, collection
    generations = (cached.databases.generation, cached.collections.generation)
    conn = await session.connection()
    found = await repository.fetch_catalog_entry(conn, database_id, name)
    if found is None or conn.is_in_transaction():
        # Inside a transaction the row may be that transaction's own uncommitted write, which
        # a rollback would undo without a notification: use it, but do not keep it.
        return (None, None) if found is None else (found.database, found.collection)
    cached.databases.put(database_id, found.database, generations[0])
    if found.collection is not None:
        cached.collections.put((database_id, name), found.collection, generations[1])
    return found.database, found.collection


async def _create_on_first_use(
    conn: Connection, settings: Settings, database: Database, name: str
) -> Collection:
    locked = await _lock(conn, database)
    existing = await repository.fetch_collection(conn, locked, name)
    if existing is not None:
        return existing
    await _check_collection_quota(conn, settings, locked, adding=1)
    return await _create_collection(
        conn, locked, Collection(database_id=locked.id, schema_name=locked.schema_name, name=name)
    )


# --- the Management API -----------------------------------------------------------------
async def create_database(
    conn: Connection,
    settings: Settings,
    principal: Principal,
    name: str,
    definitions: Sequence[CollectionDefinition],
) -> tuple[Database, list[Collection]]:
    """A new logical database (schema, ``_trash``, catalog row) with its first collections."""
    if principal.database_id is not None:
        raise Forbidden("An API key scoped to a database cannot create databases")
    check_database_name(name)
    check_definitions(definitions)
    account_id = principal.account_id
    await repository.lock_account(conn, account_id)
    if await repository.database_name_taken(conn, account_id, name):
        raise Conflict(f"You already have a database named {name!r}", details={"field": "db_name"})
    if await repository.count_databases(conn, account_id) >= settings.quota_databases:
        raise _quota("databases", settings.quota_databases)
    if len(definitions) > settings.quota_collections:
        raise _quota("collections", settings.quota_collections)

    database_id = new_database_id()
    owner = await repository.account_email(conn, account_id) or account_id
    for _ in range(_SCHEMA_NAME_ATTEMPTS):
        schema_name = schema_name_for(name)
        if await repository.schema_name_taken(conn, schema_name):
            continue
        statements = ddl.create_schema(schema_name, database_name=name, database_id=database_id, owner=owner)
        if await repository.create_schema(conn, statements):
            break
    else:  # pragma: no cover — eight random 24-bit suffixes all taken
        raise Conflict("Could not find a free schema name; retry")

    database = await repository.insert_database(
        conn, database_id=database_id, account_id=account_id, name=name, schema_name=schema_name
    )
    if database is None:  # pragma: no cover — excluded by the account lock and the checks above
        raise Conflict(f"You already have a database named {name!r}", details={"field": "db_name"})
    created = [
        await _create_collection(conn, database, _bind(database, definition)) for definition in definitions
    ]
    return database, created


async def add_collections(
    conn: Connection,
    settings: Settings,
    principal: Principal,
    database_id: str,
    definitions: Sequence[CollectionDefinition],
) -> list[Collection]:
    """New collections in an existing database; a name already there is a 409 and nothing is created."""
    check_definitions(definitions)
    database = await get_database(conn, principal, database_id, lock=True)
    existing = set(await repository.collection_names(conn, database))
    for index, definition in enumerate(definitions):
        if definition.name in existing:
            raise Conflict(
                f"The collection {definition.name!r} already exists",
                details={"field": f"collections[{index}].name", "collection": definition.name},
            )
    await _check_collection_quota(conn, settings, database, adding=len(definitions), existing=len(existing))
    return [
        await _create_collection(conn, database, _bind(database, definition)) for definition in definitions
    ]


class DatabasePage(msgspec.Struct, frozen=True, kw_only=True):
    page: int
    page_size: int
    total_items: int
    items: list[tuple[Database, int]]
    """(database, number of collections)"""


async def list_databases(
    conn: Connection,
    settings: Settings,
    principal: Principal,
    *,
    page: int,
    page_size: int,
    search: str | None,
) -> DatabasePage:
    """One page of the principal's databases, by name; ``search`` is a case-insensitive substring."""
    if page < 1:
        raise ValidationError("page must be at least 1", details={"field": "page"})
    if not 1 <= page_size <= settings.max_page_size:
        raise ValidationError(
            f"page_size must be between 1 and {settings.max_page_size}", details={"field": "page_size"}
        )
    total, items = await repository.list_databases(
        conn,
        account_id=principal.account_id,
        only_id=principal.database_id,
        search=search or None,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return DatabasePage(page=page, page_size=page_size, total_items=total, items=items)


async def set_access(
    conn: Connection, principal: Principal, database_id: str, name: str, access: Access
) -> Access:
    """Change a collection's access rules: the catalog row and the table's policies, in the
    request's transaction (SPEC §11.4); every process forgets its cached copy."""
    database = await get_database(conn, principal, database_id, lock=True)
    if name == FILES_TABLE:  # the database's files (SPEC §12): reserved for collections, not here
        await repository.set_files_access(conn, database, access)
        caches().forget_database(database.id)
        return access
    check_table_name(name, field="collection")
    if not await repository.set_access(conn, database, name, access):
        raise CollectionNotFound(details={"collection": name})
    caches().forget_collection(database.id, name)
    return access


async def get_metadata(
    conn: Connection, principal: Principal, database_id: str
) -> tuple[Database, list[Collection]]:
    database = await get_database(conn, principal, database_id)
    return database, await repository.fetch_collections(conn, database)


class DocumentCount(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    num_documents: int
    estimated: bool


async def list_collections(
    conn: Connection, settings: Settings, principal: Principal, database_id: str
) -> list[DocumentCount]:
    """Every collection with its live document count.

    Exact up to ``count_estimate_threshold`` documents; past it, the number
    comes from PostgreSQL's statistics and ``estimated`` is true. A table the
    statistics call large is never scanned; any other is counted with a scan
    that stops after threshold + 1 rows, so the cost is bounded either way.
    """
    database = await get_database(conn, principal, database_id)
    collections = await repository.fetch_collections(conn, database)
    threshold = max(settings.count_estimate_threshold, 0)
    estimates = await repository.estimated_counts(conn, database) if collections else {}
    counts = []
    for collection in collections:
        estimate = estimates.get(collection.name)
        if estimate is not None and estimate > threshold:
            counts.append(DocumentCount(name=collection.name, num_documents=round(estimate), estimated=True))
            continue
        exact = await repository.bounded_count(conn, collection, threshold + 1)
        if exact <= threshold:
            counts.append(DocumentCount(name=collection.name, num_documents=exact, estimated=False))
        else:
            approximate = max(exact, round(estimate or 0))
            counts.append(DocumentCount(name=collection.name, num_documents=approximate, estimated=True))
    return counts


async def drop_database(
    conn: Connection, principal: Principal, database_id: str, confirmation: str
) -> Database:
    """Drop the schema and the catalog rows; ``confirmation`` must equal the name (any case)."""
    database = await get_database(conn, principal, database_id, lock=True)
    if principal.database_id is not None:
        raise Forbidden("An API key scoped to a database cannot drop it")
    if confirmation.lower() != database.name.lower():
        raise ValidationError(
            "The confirmation must equal the database's name", details={"field": "confirmation"}
        )
    await repository.delete_database(conn, database)
    # Not committed yet: the triggers' notification, sent at commit, is what makes it final;
    # forgetting now spares this process's next request the wait for it.
    caches().forget_database(database.id)
    return database


async def drop_collections(
    conn: Connection, principal: Principal, database_id: str, names: Sequence[str]
) -> list[str]:
    """Drop the named collections (and their trash); one unknown name drops nothing (404)."""
    database = await get_database(conn, principal, database_id, lock=True)
    wanted = list(dict.fromkeys(names))
    for index, name in enumerate(wanted):
        check_table_name(name, field=f"collection_names[{index}]")
    existing = set(await repository.collection_names(conn, database))
    for name in wanted:
        if name not in existing:
            raise CollectionNotFound(details={"collection": name})
    await repository.delete_collections(conn, database, wanted)
    for name in wanted:  # as in drop_database
        caches().forget_collection(database.id, name)
    return wanted


# --- definitions -------------------------------------------------------------------------
def check_definitions(definitions: Sequence[CollectionDefinition]) -> None:
    """Names, duplicates, index flags and nesting of requested collections (400 on any problem)."""
    seen: set[str] = set()
    for i, definition in enumerate(definitions):
        check_collection_name(definition.name, field=f"collections[{i}].name")
        if definition.name in seen:
            raise ValidationError(
                f"The collection {definition.name!r} is listed twice",
                details={"field": f"collections[{i}].name"},
            )
        seen.add(definition.name)
        field_names: set[str] = set()
        for j, spec in enumerate(definition.fields):
            where = f"collections[{i}].fields[{j}]"
            check_field_name(spec.name, field=f"{where}.name")
            if spec.name in field_names:
                raise ValidationError(
                    f"The field {spec.name!r} is declared twice", details={"field": f"{where}.name"}
                )
            field_names.add(spec.name)
            if spec.indexed and spec.type not in SCALAR_TYPES:
                raise ValidationError(
                    f"Only scalar fields can be indexed; {spec.name!r} is {spec.type.value}",
                    details={"field": f"{where}.index"},
                )
        _check_nesting(definition, where=f"collections[{i}].fields")
        declared.check_definition(definition, at=("collections", i))


_CONTAINERS = frozenset({FieldType.OBJECT, FieldType.ANY})


def _check_nesting(definition: CollectionDefinition, *, where: str) -> None:
    """``a.b`` declared next to ``a`` needs ``a`` to be an object (or any): a string has no keys."""
    types = {spec.name: spec.type for spec in definition.fields}
    for j, spec in enumerate(definition.fields):
        parts = spec.name.split(".")
        for depth in range(1, len(parts)):
            parent = ".".join(parts[:depth])
            if parent in types and types[parent] not in _CONTAINERS:
                raise ValidationError(
                    f"The field {spec.name!r} is inside {parent!r}, which is declared {types[parent].value}",
                    details={"field": f"{where}[{j}].name"},
                )


def _bind(database: Database, definition: CollectionDefinition) -> Collection:
    return Collection(
        database_id=database.id,
        schema_name=database.schema_name,
        name=definition.name,
        strict=definition.strict,
        fields=definition.fields,
        access=definition.access,
        indexes=definition.declared_indexes(),
    )


async def _create_collection(conn: Connection, database: Database, collection: Collection) -> Collection:
    """Catalog rows, then the table and its indexes; the caller holds the database's lock."""
    created_at = await repository.insert_collection(conn, database, collection)
    if created_at is None:
        raise Conflict(
            f"The collection {collection.name!r} already exists", details={"collection": collection.name}
        )
    statements = ddl.create_collection(
        database.schema_name,
        collection.name,
        collection.fields,
        collection.access,
        database_name=database.name,
        database_id=database.id,
        vectors=collection.vectors,
        declared=collection.indexes,
    )
    if not await repository.create_tables(conn, statements):
        raise Conflict(
            f"A table named {collection.name!r} already exists in the database's schema, outside pgcube's catalog",
            details={"collection": collection.name},
        )
    return msgspec.structs.replace(collection, created_at=created_at)


async def _lock(conn: Connection, database: Database) -> Database:
    locked = await repository.fetch_database(
        conn, account_id=database.account_id, database_id=database.id, lock=True
    )
    if locked is None:
        raise DatabaseNotFound()
    return locked


async def _check_collection_quota(
    conn: Connection, settings: Settings, database: Database, *, adding: int, existing: int | None = None
) -> None:
    if existing is None:
        existing = await repository.count_collections(conn, database.id)
    if existing + adding > settings.quota_collections:
        raise _quota("collections", settings.quota_collections)


def _quota(kind: str, limit: int) -> QuotaExceeded:
    scope = "per account" if kind == "databases" else "per database"
    return QuotaExceeded(
        f"Quota exceeded: at most {limit} {kind} {scope}", details={"quota": kind, "limit": limit}
    )

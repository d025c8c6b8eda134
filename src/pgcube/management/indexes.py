"""``create_index`` and ``drop_index`` on an existing collection (SPEC §10a, ADR 0025): built and
dropped ``CONCURRENTLY``, so that reads and writes of the collection go on meanwhile.

The order, for a build:

1. the database and the collection, as every management route finds them (404 for another
   account's, the same as for none), and the fields (400) — in a short transaction on the
   request's pooled connection, which then goes back to the pool;
2. on a connection of its own (``pgcube.db.dedicated``: no statement timeout, no transaction),
   the session lock on this index's name: one build or drop of it at a time (409 for a second);
   the catalog read again under it (409 when the fields already have an index);
   ``CREATE [UNIQUE] INDEX CONCURRENTLY``, then its catalog row in a short transaction (its
   trigger tells every process's catalog cache);
3. if anything fails after the build began — a unique index over documents that share values
   (409 ``DUPLICATE_KEY`` naming the index and the values), a lost connection, a cancelled
   request — the ``INVALID`` index it left is dropped (``DROP INDEX CONCURRENTLY``) by a
   clean-up that a second cancellation does not stop, under the same lock, unless the catalog
   shows it was recorded after all.

An index whose build died with its process (no catalog row) is dropped by the next build of
the same fields, under the lock, before it starts. A drop runs ``DROP INDEX CONCURRENTLY`` first
and forgets the catalog row after: an interruption between the two leaves a row without its
index — harmless, and the next ``drop_index`` finishes the job — never an index that the
catalog does not know (a unique index nobody could name or drop).
"""

from __future__ import annotations

import asyncio
import logging

from pgcube.control_plane_cache import caches
from pgcube.db.dedicated import DedicatedConnections
from pgcube.db.session import Session
from pgcube.errors import CollectionNotFound, Conflict, DuplicateKey, NotFound, ValidationError
from pgcube.management import ddl, declared, repository
from pgcube.management.models import Collection, Database, DeclaredIndex, IndexDefinition
from pgcube.management.service import get_collection, get_database
from pgcube.principal import Principal

log = logging.getLogger("pgcube.indexes")


async def _find(
    session: Session, principal: Principal, database_id: str, name: str
) -> tuple[Database, Collection]:
    """The database and the collection (404s as everywhere), then the pooled connection goes back:
    nothing after this holds it."""
    async with session.transaction() as conn:
        database = await get_database(conn, principal, database_id)
        collection = await get_collection(conn, database, name)
    await session.close()
    return database, collection


def _busy(collection: str, name: str) -> Conflict:
    return Conflict(
        f"The index {name!r} is being built or dropped by another request; try again when it is done",
        details={"collection": collection, "index_name": name},
    )


async def create_index(
    session: Session,
    connections: DedicatedConnections,
    principal: Principal,
    database_id: str,
    collection_name: str,
    requested: IndexDefinition,
) -> DeclaredIndex:
    """Build a declared index on an existing collection without blocking its reads or writes."""
    database, collection = await _find(session, principal, database_id, collection_name)
    declared.check_index(collection.fields, requested)
    index = requested.named(collection.name)
    declared.check_room(collection, index)
    building = False
    try:
        async with connections.connect() as conn:
            if not await repository.lock_index(conn, database, collection.name, index.name, wait=False):
                raise _busy(collection.name, index.name)
            current = await repository.fetch_collection(conn, database, collection.name)
            if current is None:  # dropped since step 1
                raise CollectionNotFound(details={"collection": collection.name})
            declared.check_room(current, index)
            drop = ddl.drop_declared_index(database.schema_name, index.name)
            await repository.drop_index(conn, drop)  # what a build that died with its process left
            building = True
            statements = ddl.create_declared_index(
                database.schema_name, current.name, index, current.fields, concurrently=True
            )
            await repository.build_index(conn, statements)
            async with conn.transaction():
                await repository.insert_index(conn, database, current.name, index)
    except BaseException as exc:
        if building:
            await _discard(connections, database, collection.name, index)
        if isinstance(exc, repository.DuplicateValues):
            raise await _duplicates_error(connections, collection, index) from None
        raise
    caches().forget_collection(database.id, collection.name)
    return index


async def _discard(
    connections: DedicatedConnections, database: Database, collection: str, index: DeclaredIndex
) -> None:
    """Drop what a failed build left (an ``INVALID`` index), unless its catalog row made it: on a
    connection of its own, under the index's lock (the failed build's connection is closed, so
    the lock is free once its backend has stopped), shielded from the request's cancellation."""

    async def work() -> None:
        async with connections.connect() as conn:
            await repository.lock_index(conn, database, collection, index.name, wait=True)
            if not await repository.index_declared(conn, database, collection, index.name):
                await repository.drop_index(conn, ddl.drop_declared_index(database.schema_name, index.name))

    task = asyncio.create_task(work(), name=f"pgcube-discard-{index.name}")
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        raise  # the task goes on: the index is dropped all the same
    except Exception:  # the next build of these fields drops it before it starts
        log.warning(
            "the failed build of %s left an index that could not be dropped", index.name, exc_info=True
        )


async def _duplicates_error(
    connections: DedicatedConnections, collection: Collection, index: DeclaredIndex
) -> DuplicateKey:
    """409 for a unique index the documents already break, with one of the values they share."""
    async with connections.connect() as conn:
        values = await repository.duplicated_values(conn, collection, index)
    details: dict[str, object] = {"index_name": index.name, "fields": list(index.fields)}
    shown = ""
    if values is not None:
        details["values"] = values
        shown = f": several documents hold {values}"
    return DuplicateKey(
        f"The unique index on ({', '.join(index.fields)}) cannot be built{shown}; nothing was built. "
        "Remove the duplicates first, or make it non-unique",
        details=details,
    )


async def drop_index(
    session: Session,
    connections: DedicatedConnections,
    principal: Principal,
    database_id: str,
    collection_name: str,
    name: str,
) -> DeclaredIndex:
    """Drop a declared index without blocking the collection's reads or writes; the collection's
    own indexes are a 400, a name it does not have a 404."""
    database, collection = await _find(session, principal, database_id, collection_name)
    index = collection.declared_index(name)
    if index is None:
        kind = declared.own_index_kind(collection, name)
        if kind is not None:
            raise ValidationError(
                f"{name!r} is {kind}: the collection needs it. Only declared indexes can be dropped",
                details={"field": "name", "pointer": "/name", "value": name},
            )
        raise NotFound(
            f"The collection {collection.name!r} has no declared index {name!r}",
            details={"collection": collection.name, "index_name": name},
        )
    async with connections.connect() as conn:
        if not await repository.lock_index(conn, database, collection.name, index.name, wait=False):
            raise _busy(collection.name, index.name)
        await repository.drop_index(conn, ddl.drop_declared_index(database.schema_name, index.name))
        async with conn.transaction():
            await repository.delete_index(conn, database, collection.name, index.name)
    caches().forget_collection(database.id, collection.name)
    return index

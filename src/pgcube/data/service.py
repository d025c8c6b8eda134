"""The document operations both dialects share (SPEC §6, §7).

Each function resolves the principal's database and collection through the
catalog (``pgcube.management.service``), compiles the request
(``pgcube.query``), and runs it through ``pgcube.data.repository`` on the
request's connection — one transaction, so a request writes all or nothing.
Documents come back as JSON bytes; the API layer splices them into its
envelope.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec

from pgcube import query
from pgcube.auth.principal import Principal
from pgcube.data import repository
from pgcube.data.documents import Prepared, prepare_documents
from pgcube.data.repository import Connection
from pgcube.errors import NotFound, ValidationError
from pgcube.management import service as catalog
from pgcube.management.models import Collection
from pgcube.settings import Settings


class Target(msgspec.Struct, frozen=True):
    """A collection a request works on, as the catalog and the compiler see it."""

    collection: Collection
    compiled: query.Collection


class Page(msgspec.Struct, frozen=True, kw_only=True):
    documents: list[bytes]
    limit: int
    offset: int
    page: int
    total: int | None
    has_next: bool
    next_cursor: str | None
    keyset: bool = False
    """A cursor page: it has no page number or position."""


class Removed(msgspec.Struct, frozen=True):
    ref: str | None
    count: int


class Updated(msgspec.Struct, frozen=True, kw_only=True):
    documents: list[bytes]
    upserted_key: str | None = None


@functools.lru_cache(maxsize=4096)
def compiler_view(collection: Collection) -> query.Collection:
    """The compiler's description of a collection (cached: catalog values are frozen)."""
    return query.Collection(
        schema=collection.schema_name,
        table=collection.table_name,
        fields={spec.name: spec.type.value for spec in collection.fields},
    )


@functools.cache
def limits(settings: Settings) -> query.Limits:
    """The compiler's limits from the settings (one per settings object: settings are frozen)."""
    return query.Limits(
        max_depth=settings.query_max_depth,
        max_conditions=settings.query_max_conditions,
        max_list_values=settings.query_max_list_values,
        max_regex_length=settings.query_max_regex_length,
        max_page_size=settings.max_page_size,
    )


async def target(
    conn: Connection,
    settings: Settings,
    principal: Principal,
    database_id: str,
    collection_name: str,
    *,
    create: bool = False,
) -> Target:
    """The collection, else ``DatabaseNotFound`` / ``CollectionNotFound`` (``create``: made on first use)."""
    collection = await catalog.resolve_collection(
        conn, settings, principal, database_id, collection_name, create=create
    )
    return Target(collection, compiler_view(collection))


def prepare(settings: Settings, where: Target, documents: Sequence[Any]) -> list[Prepared]:
    return prepare_documents(
        documents,
        catalog.validator_for(where.collection),
        max_batch=settings.max_batch_size,
        max_document_bytes=settings.max_document_bytes,
    )


async def insert(
    conn: Connection, settings: Settings, where: Target, documents: Sequence[Any]
) -> list[bytes]:
    """Insert a batch (all or nothing); the stored documents with their system fields."""
    return await insert_prepared(conn, where, prepare(settings, where, documents))


async def insert_prepared(conn: Connection, where: Target, prepared: Sequence[Prepared]) -> list[bytes]:
    return await repository.insert(conn, where.collection, prepared)


async def find(
    conn: Connection,
    settings: Settings,
    where: Target,
    criteria: Any,
    *,
    sort: Any = None,
    projection: Any = None,
    limit: Any = None,
    offset: Any = None,
    page: Any = None,
    per_page: Any = None,
    cursor: Any = None,
    with_total: bool = True,
    pointers: query.Pointers = query.DDO_POINTERS,
) -> Page:
    compiled = query.compile_find(
        where.compiled,
        criteria,
        sort=sort,
        projection=projection,
        limit=limit,
        offset=offset,
        page=page,
        per_page=per_page,
        cursor=cursor,
        count=with_total,
        pointers=pointers,
        limits=limits(settings),
    )
    rows = await repository.find(conn, compiled)
    has_next = len(rows) > compiled.limit
    rows = rows[: compiled.limit]
    total = None
    if compiled.count is not None:
        total = _total_from_page(compiled, len(rows), has_next)
        if total is None:
            total = await repository.count(conn, compiled.count)
    return Page(
        documents=[row["doc"] for row in rows],
        limit=compiled.limit,
        offset=compiled.offset,
        page=compiled.page,
        total=total,
        has_next=has_next,
        next_cursor=compiled.next_cursor(rows[-1]["cursor"]) if has_next and rows else None,
        keyset=compiled.keyset,
    )


def _total_from_page(compiled: query.FindQuery, rows: int, has_next: bool) -> int | None:
    """The total, when the page itself tells it: an offset page that is the last one and not past
    the end holds every match from ``offset`` on. Saves the count statement (a round trip, and a
    scan of every match) on the common small answers, e.g. a find by ``_key``."""
    if compiled.keyset or has_next or (rows == 0 and compiled.offset > 0):
        return None
    return compiled.offset + rows


async def count(conn: Connection, settings: Settings, where: Target, criteria: Any, *, pointer: str) -> int:
    compiled = query.compile_count(where.compiled, criteria, pointer=pointer, limits=limits(settings))
    return await repository.count(conn, compiled)


async def update(
    conn: Connection,
    settings: Settings,
    where: Target,
    criteria: Any,
    mutation: Any,
    *,
    pointer: str,
    mutation_pointer: str,
) -> list[bytes]:
    """Apply the mutation to every matching document; one statement, all or nothing."""
    collection = where.collection
    required = frozenset(spec.name for spec in collection.fields if spec.required)
    compiled = query.compile_update(
        where.compiled,
        criteria,
        mutation,
        pointer=pointer,
        update_pointer=mutation_pointer,
        required=required,
        limits=limits(settings),
    )
    if collection.strict:
        _check_strict_paths(collection, compiled.paths, mutation_pointer)
    rows = await repository.update(conn, compiled)
    for index, row in enumerate(rows):
        if row["invalid"]:
            field = row["invalid"][0]
            raise ValidationError(
                f"The update breaks the declared field {field!r} (document {index} of the matches)",
                details={"field": field, "index": index, "pointer": mutation_pointer},
            )
        if len(row["doc"]) > settings.max_document_bytes:
            raise ValidationError(
                f"The update makes document {index} of the matches larger than "
                f"{settings.max_document_bytes} bytes encoded",
                details={"index": index, "limit": settings.max_document_bytes, "pointer": mutation_pointer},
            )
    return [row["doc"] for row in rows]


def _check_strict_paths(collection: Collection, paths: Sequence[tuple[str, ...]], pointer: str) -> None:
    """A strict collection takes no undeclared top-level field from an update either."""
    declared = {spec.name.split(".")[0] for spec in collection.fields}
    for path in paths:
        if path and path[0] not in declared:
            raise ValidationError(
                f"Field {path[0]!r} is not declared, and the collection is strict",
                details={"field": path[0], "strict": True, "pointer": pointer},
            )


def seed_from_criteria(criteria: dict[str, Any]) -> dict[str, Any]:
    """The plain equality keys of ``criteria`` (``{"email": "e@x", "_id": "k"}``), which an
    upsert's new document starts from — MongoDB's rule."""
    seed: dict[str, Any] = {}
    for key, value in criteria.items():
        if ":" in key or key.startswith("$") or "." in key:
            continue
        if isinstance(value, dict) and any(str(k).startswith("$") or ":" in str(k) for k in value):
            continue
        seed["_key" if key == "_id" else key] = value
    return seed


async def upsert(
    conn: Connection,
    settings: Settings,
    where: Target,
    criteria: Any,
    mutation: dict[str, Any],
    new_document: dict[str, Any],
    *,
    pointer: str,
    mutation_pointer: str,
) -> Updated:
    """Update the matching documents, or insert the equality keys of ``criteria`` overlaid with
    ``new_document``, then apply the mutation to it."""
    if mutation:
        documents = await update(
            conn, settings, where, criteria, mutation, pointer=pointer, mutation_pointer=mutation_pointer
        )
    else:
        documents = (await find(conn, settings, where, criteria, limit=settings.max_page_size)).documents
    if documents:
        return Updated(documents=documents)
    (prepared,) = prepare(settings, where, [seed_from_criteria(criteria) | new_document])
    inserted = await insert_prepared(conn, where, [prepared])
    if mutation:
        inserted = await update(
            conn,
            settings,
            where,
            {"_key": prepared.key},
            mutation,
            pointer=pointer,
            mutation_pointer=mutation_pointer,
        )
    return Updated(documents=inserted, upserted_key=prepared.key)


async def remove(
    conn: Connection, settings: Settings, where: Target, criteria: Any, *, pointer: str, kind: str | None
) -> Removed:
    """Move the matching documents to the trash as ``kind`` (``deleted``/``archived``), or,
    with ``kind=None``, delete them for good."""
    compiled = query.compile_where(where.compiled, criteria, pointer=pointer, limits=limits(settings))
    if kind is None:
        return Removed(None, await repository.delete(conn, where.collection, compiled))
    ref = uuid.uuid4().hex
    moved = await repository.move_to_trash(conn, where.collection, compiled, ref=ref, kind=kind)
    return Removed(ref, moved)


async def restore(conn: Connection, settings: Settings, where: Target, ref: str) -> int:
    restored = await repository.restore(conn, where.collection, ref, deleted_within=settings.trash_retention)
    if restored == 0:
        raise NotFound(
            "Nothing to restore under this _ref: it is unknown, or older than the retention",
            details={"_ref": ref},
        )
    return restored


async def purge_trash(conn: Connection, settings: Settings) -> int:
    """Forget deleted documents past the retention (archived ones stay until restored)."""
    return await repository.purge_trash(conn, older_than=settings.trash_retention)

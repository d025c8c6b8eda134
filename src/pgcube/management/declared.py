"""The rules of declared indexes (ADR 0025): which fields an index may cover, how many indexes a
collection may declare, and which of a table's indexes are not declared ones. Pure.

* an index covers 1 to ``MAX_INDEX_FIELDS`` declared scalar fields of its collection, none
  twice: its columns are the compiler's typed expressions of those fields, so only a declared
  type has one (an object, an array or ``any`` has none);
* a collection declares at most ``MAX_DECLARED_INDEXES``, no two on the same list of fields
  (the name comes from the list: two would be one index).

Errors name where the bad value is: ``details.field`` in the management API's dotted form
(``collections[0].indexes[1].fields[2]``) and ``details.pointer`` as a JSON pointer.
"""

from __future__ import annotations

from collections.abc import Sequence

from pgcube.errors import Conflict, ValidationError
from pgcube.management.models import (
    MAX_DECLARED_INDEXES,
    MAX_INDEX_FIELDS,
    SCALAR_TYPES,
    Collection,
    CollectionDefinition,
    DeclaredIndex,
    FieldSpec,
    IndexDefinition,
    created_index_name,
    embedding_index_name,
    field_index_name,
    gin_index_name,
    owner_index_name,
    primary_key_name,
)

Location = tuple[str | int, ...]
"""Where a value sits in the request body: keys and list positions."""


def _where(at: Location) -> dict[str, str]:
    field = ""
    for part in at:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else part)
    return {"field": field, "pointer": "".join(f"/{part}" for part in at)}


def check_index(fields: Sequence[FieldSpec], index: IndexDefinition, *, at: Location = ()) -> None:
    """1 to ``MAX_INDEX_FIELDS`` declared scalar fields of the collection, none twice (else 400)."""
    if not 1 <= len(index.fields) <= MAX_INDEX_FIELDS:
        raise ValidationError(
            f"An index covers 1 to {MAX_INDEX_FIELDS} fields, got {len(index.fields)}",
            details=_where((*at, "fields")),
        )
    types = {spec.name: spec.type for spec in fields}
    for position, name in enumerate(index.fields):
        where = _where((*at, "fields", position))
        if name in index.fields[:position]:
            raise ValidationError(f"The field {name!r} is listed twice in one index", details=where)
        kind = types.get(name)
        if kind is None:
            raise ValidationError(
                f"{name!r} is not a declared field of the collection: an index covers declared "
                "scalar fields only (declare it first)",
                details={**where, "value": name},
            )
        if kind not in SCALAR_TYPES:
            raise ValidationError(
                f"Only scalar fields can be indexed; {name!r} is {kind.value}",
                details={**where, "value": name},
            )


def check_definition(definition: CollectionDefinition, *, at: Location) -> None:
    """The declared indexes of a collection a request creates: each field's ``unique: true`` and
    each of its ``indexes`` (400 on any problem, naming where)."""
    sources: list[tuple[IndexDefinition, Location]] = []
    for position, spec in enumerate(definition.fields):
        if spec.name in definition.unique_fields:
            where = (*at, "fields", position)
            if spec.type not in SCALAR_TYPES:
                raise ValidationError(
                    f"Only scalar fields can be unique; {spec.name!r} is {spec.type.value}",
                    details=_where((*where, "unique")),
                )
            sources.append((IndexDefinition(fields=(spec.name,), unique=True), where))
    for k, index in enumerate(definition.indexes):
        check_index(definition.fields, index, at=(*at, "indexes", k))
        sources.append((index, (*at, "indexes", k)))
    seen: set[tuple[str, ...]] = set()
    for index, where in sources:
        if index.fields in seen:
            raise ValidationError(
                f"Two indexes are declared on ({', '.join(index.fields)}): one index per list of fields",
                details=_where(where),
            )
        seen.add(index.fields)
    if len(sources) > MAX_DECLARED_INDEXES:
        raise ValidationError(
            f"A collection declares at most {MAX_DECLARED_INDEXES} indexes (unique fields included), "
            f"got {len(sources)}",
            details=_where((*at, "indexes")),
        )


def check_room(collection: Collection, index: DeclaredIndex) -> None:
    """A new index fits next to the collection's: not on the same fields, not one too many (409)."""
    for existing in collection.indexes:
        if existing.fields == index.fields or existing.name == index.name:
            raise Conflict(
                f"The collection {collection.name!r} already has the index {existing.name!r} on "
                f"({', '.join(existing.fields)})",
                details={"collection": collection.name, "index_name": existing.name},
            )
    if len(collection.indexes) >= MAX_DECLARED_INDEXES:
        raise Conflict(
            f"The collection {collection.name!r} has {MAX_DECLARED_INDEXES} declared indexes, the most it "
            "may have: drop one first",
            details={"collection": collection.name, "limit": MAX_DECLARED_INDEXES},
        )


def own_index_kind(collection: Collection, name: str) -> str | None:
    """What the index ``name`` is, when it is one the collection's table has of its own (made
    with the table, not declared): the reason ``drop_index`` will not drop it. None: no such."""
    table = collection.name
    own = {
        primary_key_name(table): "the primary key (_key)",
        gin_index_name(table): "the GIN index that serves equality on any field",
        created_index_name(table): "the creation-order index (the default sort)",
        owner_index_name(table): "the index of the collection's owner access rule",
        embedding_index_name(table): "the vector index",
    }
    own.update(
        (field_index_name(table, spec.name), f"the index of the declared field {spec.name!r}")
        for spec in collection.fields
    )
    return own.get(name)

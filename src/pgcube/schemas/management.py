"""Bodies and answers of the Management API (SPEC §5), as msgspec Structs.

The bodies are closed contracts: an unknown key is a 400 naming it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec

from pgcube.management.models import (
    LOCKED,
    SCALAR_TYPES,
    Access,
    AccessRule,
    Collection,
    CollectionDefinition,
    Database,
    DeclaredIndex,
    FieldSpec,
    FieldType,
    IndexDefinition,
    IndexInfo,
    VectorSpec,
    describe_declared,
    describe_indexes,
)

MAX_FIELDS_PER_COLLECTION = 256
MAX_COLLECTIONS_PER_REQUEST = 1000
MAX_INDEXES_PER_REQUEST = 64
"""A bound on the body only: ``management.service`` holds a collection to its own limit (16)."""


# --- bodies --------------------------------------------------------------------------------
class FieldIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    type: FieldType
    required: bool = False
    index: bool | None = None
    """Default: scalar types are indexed; ``false`` skips the index; ``true`` on other types is a 400."""
    unique: bool = False
    """No two documents may hold the same value (scalar types only): a unique declared index over
    this field alone. A document without the field is not constrained."""

    def spec(self) -> FieldSpec:
        indexed = self.type in SCALAR_TYPES if self.index is None else self.index
        return FieldSpec(name=self.name, type=self.type, required=self.required, indexed=indexed)


class IndexIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    fields: list[str]
    """Declared scalar fields of the collection, in the index's order (at most 8)."""
    unique: bool = False
    """No two documents may hold the same values; a document lacking one of them is not constrained."""

    def definition(self) -> IndexDefinition:
        return IndexDefinition(fields=tuple(self.fields), unique=self.unique)


class CollectionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    fields: Annotated[list[FieldIn], msgspec.Meta(max_length=MAX_FIELDS_PER_COLLECTION)] = []
    strict: bool = False
    """Refuse keys that are not declared (system fields excepted)."""
    access: Access = LOCKED
    """Who may read and write its documents with a web key (SPEC §11.4); default ``none``/``none``."""
    indexes: Annotated[list[IndexIn], msgspec.Meta(max_length=MAX_INDEXES_PER_REQUEST)] = []
    """Typed B-trees over several declared fields (compound), unique or not (ADR 0025)."""

    def definition(self) -> CollectionDefinition:
        """The domain value; ``management.service`` checks it (names, duplicates, index flags)."""
        return CollectionDefinition(
            name=self.name,
            strict=self.strict,
            fields=tuple(field.spec() for field in self.fields),
            access=self.access,
            unique_fields=tuple(field.name for field in self.fields if field.unique),
            indexes=tuple(index.definition() for index in self.indexes),
        )


class CreateDatabaseBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    db_name: str
    collections: Annotated[list[CollectionIn], msgspec.Meta(max_length=MAX_COLLECTIONS_PER_REQUEST)] = []


class AddCollectionBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    database_id: str
    collections: Annotated[
        list[CollectionIn], msgspec.Meta(min_length=1, max_length=MAX_COLLECTIONS_PER_REQUEST)
    ]


class SetAccessBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    database_id: str
    collection: str
    read: AccessRule
    """``all`` (any web key), ``users`` (a signed-in end user), ``owner`` (the document's creator), ``none``."""
    write: AccessRule

    def access(self) -> Access:
        return Access(read=self.read, write=self.write)


class CreateIndexBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    database_id: str
    collection: str
    fields: list[str]
    """Declared scalar fields of the collection, in the index's order (1 to 8)."""
    unique: bool = False
    """No two documents may hold the same values; a document lacking one of them is not constrained."""

    def definition(self) -> IndexDefinition:
        return IndexDefinition(fields=tuple(self.fields), unique=self.unique)


class DropIndexBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    database_id: str
    collection: str
    name: str
    """A declared index's name, as ``get_metadata`` lists it (``declared: true``)."""


class DropDatabaseBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    database_id: str
    confirmation: str
    """Must equal the database's name (case-insensitive)."""


class DropCollectionsBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    database_id: str
    collection_names: Annotated[list[str], msgspec.Meta(min_length=1, max_length=MAX_COLLECTIONS_PER_REQUEST)]


# --- answers ---------------------------------------------------------------------------------
def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z`` (SPEC §1)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FieldOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    type: FieldType
    required: bool
    index: bool
    unique: bool = False
    """Shown when a unique declared index covers this field alone."""

    @classmethod
    def of(cls, spec: FieldSpec, collection: Collection) -> FieldOut:
        return cls(
            name=spec.name,
            type=spec.type,
            required=spec.required,
            index=spec.indexed,
            unique=collection.is_unique_field(spec.name),
        )


class IndexOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    method: str
    fields: tuple[str, ...]
    unique: bool = False
    type: FieldType | None = None
    declared: bool = False
    """A declared index: ``drop_index`` takes it (the others are the collection's own)."""

    @classmethod
    def of(cls, info: IndexInfo) -> IndexOut:
        return cls(**msgspec.structs.asdict(info))  # field for field: a new one fails here


class CollectionOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    fields: list[FieldOut]
    strict: bool
    indexes: list[IndexOut]
    access: Access
    vectors: VectorSpec | None = None
    """A vector collection's embedder and dimensions (SPEC §13); absent for documents."""

    @classmethod
    def of(cls, collection: Collection) -> CollectionOut:
        return cls(
            name=collection.name,
            fields=[FieldOut.of(spec, collection) for spec in collection.fields],
            strict=collection.strict,
            indexes=[
                IndexOut.of(info)
                for info in describe_indexes(
                    collection.name,
                    collection.fields,
                    collection.access,
                    collection.vectors,
                    collection.indexes,
                )
            ],
            access=collection.access,
            vectors=collection.vectors,
        )


class CreateIndexAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    collection: str
    index: IndexOut
    """As ``get_metadata`` lists it."""

    @classmethod
    def of(cls, collection: str, index: DeclaredIndex) -> CreateIndexAnswer:
        return cls(collection=collection, index=IndexOut.of(describe_declared(index)))


class DropIndexAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    collection: str
    dropped_index: str


class SetAccessAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    collection: str
    access: Access


class DatabaseRef(msgspec.Struct, kw_only=True):
    id: str
    name: str
    dbName: str
    """The PostgreSQL schema (docs/psql.md)."""


class CreateDatabaseAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    database: DatabaseRef
    collections: list[CollectionOut]

    @classmethod
    def of(cls, database: Database, collections: list[Collection]) -> CreateDatabaseAnswer:
        return cls(
            database=DatabaseRef(id=database.id, name=database.name, dbName=database.schema_name),
            collections=[CollectionOut.of(collection) for collection in collections],
        )


class AddCollectionAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    collections: list[CollectionOut]

    @classmethod
    def of(cls, collections: list[Collection]) -> AddCollectionAnswer:
        return cls(collections=[CollectionOut.of(collection) for collection in collections])


class Pagination(msgspec.Struct, kw_only=True):
    page: int
    page_size: int
    total_items: int
    total_pages: int
    has_next: bool

    @classmethod
    def of(cls, *, page: int, page_size: int, total_items: int) -> Pagination:
        total_pages = -(-total_items // page_size)
        return cls(
            page=page,
            page_size=page_size,
            total_items=total_items,
            total_pages=total_pages,
            has_next=page < total_pages,
        )


class DatabaseSummary(msgspec.Struct, kw_only=True):
    id: str
    name: str
    num_collections: int


class ListDatabasesAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    data: list[DatabaseSummary]
    pagination: Pagination


class FilesOut(msgspec.Struct, kw_only=True):
    """A database's files (SPEC §12): who may reach them with a web key (``set_access`` on ``_files``)."""

    access: Access


class Metadata(msgspec.Struct, kw_only=True):
    id: str = msgspec.field(name="_id")
    user_id: str
    displayName: str
    dbName: str
    created_at: str
    collections: list[CollectionOut]
    files: FilesOut

    @classmethod
    def of(cls, database: Database, collections: list[Collection]) -> Metadata:
        return cls(
            id=database.id,
            user_id=database.account_id,
            displayName=database.name,
            dbName=database.schema_name,
            created_at=iso_utc(database.created_at),
            collections=[CollectionOut.of(collection) for collection in collections],
            files=FilesOut(access=database.files_access),
        )


class MetadataAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    data: Metadata


class CollectionCount(msgspec.Struct, kw_only=True):
    name: str
    num_documents: int
    estimated: bool
    """True past ``PGCUBE_COUNT_ESTIMATE_THRESHOLD`` documents: then the number comes from statistics."""


class ListCollectionsAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    collections: list[CollectionCount]


class DropDatabaseAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    message: str


class DropCollectionsAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    dropped_collections: list[str]

"""What the catalog knows about a logical database and its collections.

Frozen (hence hashable) values: a collection's ``fields`` and ``strict`` are
the cache key of its validator (``pgcube.management.validation``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime

import msgspec

from pgcube.management.naming import relation_name
from pgcube.query.fields import SCALAR_TYPES, FieldType
from pgcube.query.sql import qualified, quote_ident
from pgcube.query.writes import TRASH_TABLE

__all__ = [
    "SCALAR_TYPES",
    "Access",
    "AccessRule",
    "AuthSettings",
    "Collection",
    "CollectionDefinition",
    "Database",
    "DeclaredIndex",
    "FieldSpec",
    "FieldType",
    "IndexDefinition",
    "IndexInfo",
    "describe_indexes",
]


class FieldSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One declared field of a collection: a key of its documents (a dotted name is nested).

    ``FieldType`` is the query compiler's: one list of types, one typed
    expression per type (``pgcube.query.fields``).
    """

    name: str
    type: FieldType
    required: bool = False
    indexed: bool = False
    """Whether the field has a typed B-tree expression index (scalar types only)."""


class AccessRule(enum.StrEnum):
    """Who may read, or write, a collection's documents with a web key (SPEC §11.4)."""

    ALL = "all"
    """Any web key, with or without a signed-in end user."""
    USERS = "users"
    """Any signed-in end user."""
    OWNER = "owner"
    """The end user whose ``_userkey`` the document carries."""
    NONE = "none"
    """Server keys and the account only."""


class Access(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A collection's access rules; PostgreSQL enforces them (``pgcube.apply_access``, ADR 0018)."""

    read: AccessRule = AccessRule.NONE
    write: AccessRule = AccessRule.NONE


LOCKED = Access()
"""The default: locked until opened (SPEC §11.4)."""
FILES_TABLE = "_files"
"""A database's files (SPEC §12): a reserved collection name, whose rules ``set_access`` sets."""
FILES_DEFAULT_ACCESS = Access(read=AccessRule.OWNER, write=AccessRule.OWNER)
"""A database's files start as their uploaders' own (SPEC §12)."""


MAX_VECTOR_DIMENSIONS = 2000
"""The most dimensions of a ``vector`` column pgvector's HNSW index takes."""
MAX_HALFVEC_DIMENSIONS = 4000
"""The most dimensions of a ``halfvec`` column (half precision) it takes."""


class VectorSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What a vector collection's embeddings are: who made them and how many dimensions they have."""

    embedder: str
    dimensions: int

    @property
    def column_type(self) -> str:
        """``vector(d)``, or ``halfvec(d)`` past the dimensions HNSW takes in full precision."""
        kind = "vector" if self.dimensions <= MAX_VECTOR_DIMENSIONS else "halfvec"
        return f"{kind}({self.dimensions})"

    @property
    def operator_class(self) -> str:
        return "vector_cosine_ops" if self.dimensions <= MAX_VECTOR_DIMENSIONS else "halfvec_cosine_ops"


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A database's end-user settings (SPEC §11.3, ``/api/auth_settings``)."""

    allow_email_signup: bool = True
    require_verified_email: bool = False
    verify_email_on_signup: bool = False


MAX_INDEX_FIELDS = 8
"""The most fields one declared index takes."""
MAX_DECLARED_INDEXES = 16
"""The most declared indexes a collection takes (each one slows every write a little)."""


class DeclaredIndex(msgspec.Struct, frozen=True, kw_only=True):
    """An index a collection declares over some of its declared scalar fields (ADR 0025): a typed
    B-tree over their expressions (``pgcube.query.fields``), unique or not. A field's
    ``unique: true`` is one of these, over that field alone."""

    name: str
    """``<table>$i$<field>$<field>…`` (``declared_index_name``)."""
    fields: tuple[str, ...]
    unique: bool = False


class IndexDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """A declared index as a request asks for it (``indexes`` of a collection, ``create_index``)."""

    fields: tuple[str, ...]
    unique: bool = False

    def named(self, table: str) -> DeclaredIndex:
        return DeclaredIndex(
            name=declared_index_name(table, self.fields), fields=self.fields, unique=self.unique
        )


class CollectionDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """A collection as a request declares it, before it belongs to a database."""

    name: str
    strict: bool
    fields: tuple[FieldSpec, ...]
    access: Access = LOCKED
    unique_fields: tuple[str, ...] = ()
    """The fields declared ``unique: true``: each is a unique declared index over itself alone."""
    indexes: tuple[IndexDefinition, ...] = ()
    """The collection's ``indexes``, in request order."""

    def declared_indexes(self) -> tuple[DeclaredIndex, ...]:
        """Every declared index, the unique fields' first: one mechanism for both (ADR 0025)."""
        requested = [IndexDefinition(fields=(name,), unique=True) for name in self.unique_fields]
        return tuple(index.named(self.name) for index in (*requested, *self.indexes))


class Database(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    account_id: str
    name: str
    schema_name: str
    created_at: datetime
    auth_settings: AuthSettings = AuthSettings()
    files_access: Access = FILES_DEFAULT_ACCESS
    """Who may reach the database's files (``_files``, SPEC §12; default ``owner``/``owner``)."""

    @property
    def sql_schema(self) -> str:
        """The schema, quoted for SQL text."""
        return quote_ident(self.schema_name)

    @property
    def sql_trash(self) -> str:
        """``"<schema>"."_trash"``: deleted and archived documents (``pgcube.management.ddl``)."""
        return qualified(self.schema_name, TRASH_TABLE)


class Collection(msgspec.Struct, frozen=True, kw_only=True):
    database_id: str
    schema_name: str
    name: str
    strict: bool = False
    fields: tuple[FieldSpec, ...] = ()
    created_at: datetime | None = None
    access: Access = LOCKED
    vectors: VectorSpec | None = None
    """Set for a vector collection (its name is its table's, ``_vec_<name>``)."""
    indexes: tuple[DeclaredIndex, ...] = ()
    """Its declared indexes (ADR 0025), in the order they were made."""

    @property
    def table_name(self) -> str:
        """The table's unquoted name: the collection's name."""
        return self.name

    @property
    def sql_table(self) -> str:
        """``"<schema>"."<collection>"``, quoted for SQL text."""
        return qualified(self.schema_name, self.name)

    @property
    def sql_trash(self) -> str:
        return qualified(self.schema_name, TRASH_TABLE)

    def field(self, name: str) -> FieldSpec | None:
        """The declared field called ``name``, if any."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    def declared_index(self, name: str) -> DeclaredIndex | None:
        """The declared index called ``name``, if any."""
        for index in self.indexes:
            if index.name == name:
                return index
        return None

    def is_unique_field(self, name: str) -> bool:
        """Whether a unique declared index covers the field ``name`` alone (its ``unique: true``)."""
        return any(index.unique and index.fields == (name,) for index in self.indexes)


# --- the indexes of a collection's table (``pgcube.management.ddl`` creates them) ---------
class IndexInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One index of a collection's table, as ``get_metadata`` describes it."""

    name: str
    method: str
    """``btree``, ``gin`` or ``hnsw`` (a vector collection's embeddings)."""
    fields: tuple[str, ...]
    unique: bool = False
    type: FieldType | None = None
    """The declared type of the field, for a typed field index."""
    declared: bool = False
    """A declared index (ADR 0025): the only kind ``drop_index`` drops."""


def primary_key_name(table: str) -> str:
    return relation_name(table, "pkey")


def gin_index_name(table: str) -> str:
    return relation_name(table, "data")


def created_index_name(table: str) -> str:
    return relation_name(table, "created")


def field_index_name(table: str, field: str) -> str:
    return relation_name(table, f"f${field}")


def declared_index_name(table: str, fields: Sequence[str]) -> str:
    """A declared index: ``<table>$i$<field>$<field>…``, cut with a hash past 63 bytes."""
    return relation_name(table, "i$" + "$".join(fields))


def embedding_index_name(table: str) -> str:
    """A vector collection's HNSW index."""
    return relation_name(table, "embedding")


def owner_index_name(table: str) -> str:
    """The index of an ``owner`` rule's collection (``pgcube.apply_access``, ADR 0018)."""
    return relation_name(table, "owner")


def describe_declared(index: DeclaredIndex) -> IndexInfo:
    """A declared index as ``get_metadata`` shows it: its columns, ``_key`` last on a non-unique
    one (``ddl.create_declared_index``), as for a field's index."""
    columns = index.fields if index.unique else (*index.fields, "_key")
    return IndexInfo(name=index.name, method="btree", fields=columns, unique=index.unique, declared=True)


def describe_indexes(
    table: str,
    fields: Sequence[FieldSpec],
    access: Access = LOCKED,
    vectors: VectorSpec | None = None,
    declared: Sequence[DeclaredIndex] = (),
) -> list[IndexInfo]:
    """The indexes ``ddl.create_collection`` makes, in its order, then the declared ones (made
    with the table or later): what ``get_metadata`` reports."""
    indexes = [
        IndexInfo(name=primary_key_name(table), method="btree", fields=("_key",), unique=True),
        IndexInfo(name=gin_index_name(table), method="gin", fields=("data",)),
        IndexInfo(name=created_index_name(table), method="btree", fields=("_created_at", "_key")),
    ]
    if vectors is not None:
        indexes.append(IndexInfo(name=embedding_index_name(table), method="hnsw", fields=("embedding",)))
    indexes.extend(
        IndexInfo(
            name=field_index_name(table, spec.name),
            method="btree",
            fields=(spec.name, "_key"),
            type=spec.type,
        )
        for spec in fields
        if spec.indexed
    )
    if AccessRule.OWNER in (access.read, access.write):
        indexes.append(
            IndexInfo(
                name=owner_index_name(table), method="btree", fields=("_userkey", "_created_at", "_key")
            )
        )
    indexes.extend(describe_declared(index) for index in declared)
    return indexes

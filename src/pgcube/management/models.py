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
    "FieldSpec",
    "FieldType",
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


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A database's end-user settings (SPEC §11.3, ``/api/auth_settings``)."""

    allow_email_signup: bool = True
    require_verified_email: bool = False
    verify_email_on_signup: bool = False


class CollectionDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """A collection as a request declares it, before it belongs to a database."""

    name: str
    strict: bool
    fields: tuple[FieldSpec, ...]
    access: Access = LOCKED


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


# --- the indexes of a collection's table (``pgcube.management.ddl`` creates them) ---------
class IndexInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One index of a collection's table, as ``get_metadata`` describes it."""

    name: str
    method: str
    """``btree`` or ``gin``."""
    fields: tuple[str, ...]
    unique: bool = False
    type: FieldType | None = None
    """The declared type of the field, for a typed field index."""


def primary_key_name(table: str) -> str:
    return relation_name(table, "pkey")


def gin_index_name(table: str) -> str:
    return relation_name(table, "data")


def created_index_name(table: str) -> str:
    return relation_name(table, "created")


def field_index_name(table: str, field: str) -> str:
    return relation_name(table, f"f${field}")


def owner_index_name(table: str) -> str:
    """The index of an ``owner`` rule's collection (``pgcube.apply_access``, ADR 0018)."""
    return relation_name(table, "owner")


def describe_indexes(table: str, fields: Sequence[FieldSpec], access: Access = LOCKED) -> list[IndexInfo]:
    """The indexes ``ddl.create_collection`` makes, in its order: what ``get_metadata`` reports."""
    indexes = [
        IndexInfo(name=primary_key_name(table), method="btree", fields=("_key",), unique=True),
        IndexInfo(name=gin_index_name(table), method="gin", fields=("data",)),
        IndexInfo(name=created_index_name(table), method="btree", fields=("_created_at", "_key")),
    ]
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
    return indexes

"""What the catalog knows about a logical database and its collections.

Frozen (hence hashable) values: a collection's ``fields`` and ``strict`` are
the cache key of its validator (``pgcube.management.validation``).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from pgcube.management.naming import TRASH_TABLE, qualified, quote_ident
from pgcube.query.fields import SCALAR_TYPES, FieldType

__all__ = ["SCALAR_TYPES", "Collection", "CollectionDefinition", "Database", "FieldSpec", "FieldType"]


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


class CollectionDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """A collection as a request declares it, before it belongs to a database."""

    name: str
    strict: bool
    fields: tuple[FieldSpec, ...]


class Database(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    account_id: str
    name: str
    schema_name: str
    created_at: datetime

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

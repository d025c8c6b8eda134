"""A write that breaks a unique declared index (ADR 0025): the 409 ``DUPLICATE_KEY`` that names
the index, its fields, the values and — for a batch or an import — the position of the first
offending document. Pure: SQL text and errors; ``pgcube.data.repository`` runs the SQL.

PostgreSQL decides (the unique index, under any isolation and any number of writers); this
module only explains. The violated index is the exception's structured constraint name, looked
up among the collection's declared indexes — never the message text (``pgcube.db.errors``).

The position costs one more statement, on the error path only: ``conflict_query`` computes each
document's typed values with the index's own expressions (``management.ddl``, the compiler's)
and returns the first whose values a stored document already has, or an earlier document of
the same batch (then ``first_index`` names that one). A one-document batch needs no statement.

The details keep the shapes of the other duplicate errors (``data.documents``, the import):
``index`` is the document's position; the index itself is ``index_name`` (with ``fields``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from pgcube.errors import DuplicateKey
from pgcube.management import ddl
from pgcube.management.models import Collection, DeclaredIndex, primary_key_name

BATCH_SOURCE = (
    "SELECT n - 1 AS n, NULL::text AS key, data FROM unnest($1::jsonb[]) WITH ORDINALITY AS b(data, n)"
)
"""A request's batch (``$1``: each document's ``data``) as the rows ``conflict_query`` reads."""


def has_unique(collection: Collection) -> bool:
    return any(index.unique for index in collection.indexes)


def violated(collection: Collection, constraint: str | None) -> DeclaredIndex | None:
    """The declared index a unique violation names (None: the primary key, or an index this copy
    of the catalog does not know yet)."""
    return None if constraint is None else collection.declared_index(constraint)


def conflict_query(
    collection: Collection, index: DeclaredIndex, source: str, *, replacing: bool = False
) -> str:
    """The first document of ``source`` (rows ``n, key, data``) that the unique ``index`` refuses:
    ``n``, its values as the document holds them (``shown``), the earlier document of ``source``
    with the same values (``first_n``, null when a stored document has them). A document lacking
    one of the fields is never refused (NULLs are distinct). ``replacing``: ``source`` replaces
    the stored documents of its keys (an upsert import), which then conflict with nothing."""
    expressions = ddl.declared_expressions(index, collection.fields)
    columns = [f"v{i}" for i in range(len(expressions))]
    typed = ", ".join(
        f"{expression} AS {column}" for expression, column in zip(expressions, columns, strict=True)
    )
    present = " AND ".join(f"{column} IS NOT NULL" for column in columns)
    same = " AND ".join(
        f"{expression} = r.{column}" for expression, column in zip(expressions, columns, strict=True)
    )
    if replacing:
        same += " AND t._key NOT IN (SELECT key FROM source)"
    listed = ", ".join(columns)
    return (
        f"WITH source AS ({source}),\n"  # noqa: S608 (names quoted by management.naming; values are parameters)
        f"typed AS (SELECT n, {typed}, {ddl.declared_values(index)} AS shown FROM source),\n"
        f"ranked AS (SELECT n, {listed}, shown, min(n) OVER (PARTITION BY {listed}) AS first_n "
        f"FROM typed WHERE {present})\n"
        "SELECT n, shown, CASE WHEN first_n < n THEN first_n END AS first_n FROM ranked r\n"
        f"WHERE first_n < n OR EXISTS (SELECT 1 FROM {collection.sql_table} t WHERE {same})\n"
        "ORDER BY n LIMIT 1"
    )


def values_of(index: DeclaredIndex, document: bytes) -> dict[str, Any]:
    """A document's values of the index's fields (JSON ``data`` bytes), as ``conflict_query``
    shows them: null for a missing one."""
    decoded = msgspec.json.decode(document)
    values: dict[str, Any] = {}
    for name in index.fields:
        value: Any = decoded
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        values[name] = value
    return values


def _listed(index: DeclaredIndex) -> str:
    return f"the unique index {index.name!r} on ({', '.join(index.fields)})"


def document_error(
    index: DeclaredIndex, position: int, values: Mapping[str, Any], first: int | None = None
) -> DuplicateKey:
    """Document ``position`` of a batch or a file has ``values`` that a stored document (``first``
    None) or document ``first`` of the same batch already has."""
    details: dict[str, Any] = {
        "index": position,
        "index_name": index.name,
        "fields": list(index.fields),
        "values": dict(values),
        "existing": first is None,
    }
    if first is None:
        message = (
            f"Document {position}: a document with {dict(values)} exists, and {_listed(index)} allows one"
        )
    else:
        details["first_index"] = first
        message = (
            f"Documents {first} and {position} both have {dict(values)}, and {_listed(index)} allows one"
        )
    return DuplicateKey(message + "; nothing was written", details=details)


def change_error(collection: Collection, constraint: str | None) -> DuplicateKey:
    """A change that is not a batch of new documents (an update, a restore) broke a unique index:
    named when the catalog knows it. The primary key keeps its usual answer."""
    if constraint is not None and constraint == primary_key_name(collection.name):
        return DuplicateKey()
    index = violated(collection, constraint)
    if index is None:
        return DuplicateKey(
            "The change would give two documents the same values on a unique index; nothing was written",
            details={} if constraint is None else {"index_name": constraint},
        )
    return DuplicateKey(
        f"The change would give two documents the same values on {_listed(index)}; nothing was written",
        details={"index_name": index.name, "fields": list(index.fields)},
    )


def unpositioned_error(index: DeclaredIndex) -> DuplicateKey:
    """A batch broke ``index`` but the document could not be told (a catalog copy that learnt of the
    index too late to set a savepoint, or a conflict that has gone since)."""
    return DuplicateKey(
        f"A document of the batch has values that {_listed(index)} allows once; nothing was written",
        details={"index_name": index.name, "fields": list(index.fields)},
    )

"""The only gate for names, and the only place that quotes SQL literals.

Every name a client chooses (a database's ``db_name``, a collection, a
declared field) passes one of the ``check_*`` functions below before it goes
anywhere near SQL; every identifier pgcube puts in SQL is quoted by
``pgcube.query.sql.identifier`` (text: ``quote_ident``, ``qualified``), the one
quoting function the compiler and the DDL share (SPEC §1, RELIABILITY D2).
Nothing else in pgcube builds an identifier or a literal by hand.

Physical names:

* schema — ``<name lower-cased, '-' → '_'>_<6 hex>``, at most 63 bytes;
* table — the collection's name (already a lower-case identifier);
* every other relation of a collection (its indexes, its primary key) is
  ``<table>$<suffix>``. ``$`` can never occur in a collection's name, so no
  collection can ever collide with another collection's index;
* ``_trash`` — the schema's table of deleted and archived documents; ``_users``,
  ``_sessions``, ``_otps`` — its end users (SPEC §11.1); ``_files`` and ``_vec_*``
  for files and vectors: reserved collection names (SPEC §11.4).
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import time

from pgcube.errors import ValidationError
from pgcube.query.fields import SYSTEM_NAMES
from pgcube.query.sql import MAX_IDENTIFIER_BYTES, quote_ident
from pgcube.query.writes import TRASH_TABLE

DATABASE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
COLLECTION_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,62}(?:\.[A-Za-z_][A-Za-z0-9_-]{0,62}){0,7}")
"""A key, or a dotted path of up to 8 keys (``address.city``: the key ``city`` of the object ``address``)."""
MAX_FIELD_NAME = 255
DATABASE_ID = re.compile(r"[0-9a-f]{24}")

SCHEMA_SUFFIX_HEX = 6

_RESERVED = frozenset({"public", "pgcube", "information_schema", TRASH_TABLE})
_RESERVED_TABLES = frozenset({"_users", "_sessions", "_otps", "_files"})
VECTOR_TABLE_PREFIX = "_vec_"
"""A vector collection ``<name>`` is the table (and catalog name) ``_vec_<name>`` (SPEC §13)."""
_RESERVED_PREFIXES = ("pg_", VECTOR_TABLE_PREFIX)


def _is_reserved(name: str) -> bool:
    folded = name.lower().replace("-", "_")
    return folded in _RESERVED or folded in _RESERVED_TABLES or folded.startswith(_RESERVED_PREFIXES)


@functools.lru_cache(maxsize=4096)
def in_schema(statement: str, schema: str) -> str:
    """A named statement over one database's own tables (``{schema}._users``, ...) with its schema
    put in, quoted; the schema comes from the catalog, never from a request (ADR 0017's
    addendum). Cached: a warm request builds no text."""
    return statement.replace("{schema}", quote_ident(schema))


def check_database_name(name: str) -> str:
    """A valid ``db_name`` (returned unchanged), else ``ValidationError``."""
    if not DATABASE_NAME.fullmatch(name):
        raise ValidationError(
            "Invalid database name: 1 to 63 characters, a letter first, then letters, digits, '_' or '-'",
            details={"field": "db_name", "value": _shown(name)},
        )
    if _is_reserved(name):
        raise ValidationError(
            f"The database name {name!r} is reserved", details={"field": "db_name", "value": name}
        )
    return name


def check_collection_name(name: str, *, field: str = "name") -> str:
    """A valid collection name (returned unchanged), else ``ValidationError``."""
    if not COLLECTION_NAME.fullmatch(name):
        raise ValidationError(
            "Invalid collection name: 1 to 63 characters, a lower-case letter or '_' first, "
            "then lower-case letters, digits or '_'",
            details={"field": field, "value": _shown(name)},
        )
    if _is_reserved(name):
        raise ValidationError(
            f"The collection name {name!r} is reserved", details={"field": field, "value": name}
        )
    return name


def check_table_name(name: str, *, field: str = "name") -> str:
    """A collection's catalog name: a collection's name, or ``_vec_`` and a vector collection's
    name (``set_access``, ``delete_collection``), else ``ValidationError``."""
    if name.startswith(VECTOR_TABLE_PREFIX):
        check_collection_name(name.removeprefix(VECTOR_TABLE_PREFIX), field=field)
        return name
    return check_collection_name(name, field=field)


def vector_table_name(name: str, *, field: str = "collection") -> str:
    """The table of the vector collection ``name`` (a valid collection name), else ``ValidationError``."""
    check_collection_name(name, field=field)
    table = VECTOR_TABLE_PREFIX + name
    if len(table.encode()) > MAX_IDENTIFIER_BYTES:
        raise ValidationError(
            f"A vector collection's name has at most {MAX_IDENTIFIER_BYTES - len(VECTOR_TABLE_PREFIX)} characters",
            details={"field": field, "value": name},
        )
    return table


def check_field_name(name: str, *, field: str = "name") -> str:
    """A valid declared field name (a key, or a dotted path of keys), else ``ValidationError``."""
    if len(name) > MAX_FIELD_NAME or not FIELD_NAME.fullmatch(name):
        raise ValidationError(
            "Invalid field name: keys of 1 to 63 characters (a letter or '_' first, then letters, digits, "
            "'_' or '-'), joined by '.' for a nested key",
            details={"field": field, "value": _shown(name)},
        )
    if name.split(".", 1)[0] in SYSTEM_NAMES:
        raise ValidationError(
            f"{name!r} is a system field and cannot be declared", details={"field": field, "value": name}
        )
    return name


def is_database_id(value: str) -> bool:
    return DATABASE_ID.fullmatch(value) is not None


def new_database_id() -> str:
    """24 lowercase hex: 4 bytes of Unix time then 8 random bytes (an ObjectId's shape, sortable)."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


def schema_name_for(database_name: str, suffix: str | None = None) -> str:
    """The physical schema of a logical database: readable, suffixed, at most 63 bytes."""
    check_database_name(database_name)
    suffix = suffix or secrets.token_hex(SCHEMA_SUFFIX_HEX // 2)
    base = database_name.lower().replace("-", "_")
    room = MAX_IDENTIFIER_BYTES - len(suffix) - 1
    return f"{base[:room]}_{suffix}"


def relation_name(table: str, suffix: str) -> str:
    """The name of an index or constraint of ``table``: ``<table>$<suffix>``, at most 63 bytes.

    Too long a name keeps a readable prefix and ends in a hash of the full
    name, so two different long names never meet.
    """
    name = f"{table}${suffix}"
    if len(name.encode()) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    keep = MAX_IDENTIFIER_BYTES - len(digest) - 1
    return f"{name.encode()[:keep].decode(errors='ignore')}~{digest}"


def quote_literal(value: str) -> str:
    """``value`` as a SQL string literal, for the few statements that take no parameters (COMMENT ON).

    Works whatever ``standard_conforming_strings`` says: a value with a
    backslash becomes an ``E''`` literal with the backslashes doubled, as
    PostgreSQL's own ``quote_literal`` does.
    """
    if "\x00" in value:
        raise ValueError("a SQL literal cannot hold NUL")
    quoted = value.replace("'", "''")
    if "\\" in quoted:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"


def _shown(value: str) -> str:
    """A rejected name, cut short for the error message."""
    return value if len(value) <= 80 else value[:77] + "..."

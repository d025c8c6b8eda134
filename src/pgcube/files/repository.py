"""The statements on one database's ``_files`` (``sql/files.sql``).

The only module of ``pgcube.files`` that speaks SQL. ``{schema}`` is the
database's schema, quoted once per schema (``in_schema``); values are ``$n``
parameters. Under a web key these run as ``pgcube_web``: the table's
row-level security decides which rows exist for the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from pgcube.db import statements
from pgcube.files.models import StoredFile
from pgcube.management.naming import in_schema

Connection = Any
"""An asyncpg connection (asyncpg ships no type information)."""

SQL = statements.load("files")


def _stored(row: Any) -> StoredFile:
    return StoredFile(
        key=row["_key"],
        userkey=row["_userkey"],
        created_at=row["_created_at"],
        modified_at=row["_modified_at"],
        data=msgspec.json.decode(row["data"]),  # jsonb comes as its JSON bytes (pgcube.db.pool)
    )


def _maybe(row: Any) -> StoredFile | None:
    return None if row is None else _stored(row)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def insert(
    conn: Connection, schema: str, key: str, data: dict[str, Any], userkey: str | None
) -> StoredFile:
    return _stored(await conn.fetchrow(in_schema(SQL.insert_file, schema), key, _json(data), userkey))


async def get(conn: Connection, schema: str, key: str) -> StoredFile | None:
    return _maybe(await conn.fetchrow(in_schema(SQL.get_file, schema), key))


async def finish_upload(conn: Connection, schema: str, key: str, size: int, sha256: str) -> StoredFile | None:
    """The pending file ``key`` marked ready; None when it is not pending (or not there)."""
    return _maybe(await conn.fetchrow(in_schema(SQL.finish_upload, schema), key, size, sha256))


async def fail_upload(conn: Connection, schema: str, key: str, errors: Any) -> StoredFile | None:
    """The pending file ``key`` marked failed; None when it is not pending (or not there)."""
    return _maybe(await conn.fetchrow(in_schema(SQL.fail_upload, schema), key, _json(errors)))


async def update(
    conn: Connection, schema: str, key: str, changes: dict[str, Any], metadata: dict[str, Any] | None
) -> StoredFile | None:
    row = await conn.fetchrow(
        in_schema(SQL.update_file, schema), key, _json(changes), None if metadata is None else _json(metadata)
    )
    return _maybe(row)


async def delete(conn: Connection, schema: str, keys: Sequence[str]) -> list[str]:
    """Remove the files ``keys``; the object keys of those that were there (and visible)."""
    rows = await conn.fetch(in_schema(SQL.delete_files, schema), list(keys))
    return [row["object_key"] for row in rows]


async def storage_used(conn: Connection, schema: str) -> int:
    used: int = await conn.fetchval(SQL.storage_used, schema)
    return used


async def remove_stale_uploads(conn: Connection, schema: str, older_than: int) -> list[str]:
    rows = await conn.fetch(in_schema(SQL.remove_stale_uploads, schema), older_than)
    return [row["object_key"] for row in rows]


async def file_schemas(conn: Connection) -> list[str]:
    """The schemas of the databases that have a ``_files`` table (the sweep of stale uploads)."""
    rows = await conn.fetch(SQL.file_schemas)
    return [row["schema_name"] for row in rows]

"""Catalog SQL and DDL execution: the only module of ``pgcube.management`` that talks to asyncpg.

Every function takes the request's connection, already inside its
transaction (``pgcube.api.deps.provide_transaction``): catalog rows and DDL
commit or roll back together. The catalog's statements are named in
``sql/management.sql``; the two that name a schema's table are built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from pgcube.db import statements
from pgcube.management import ddl
from pgcube.management.models import (
    FILES_TABLE,
    Access,
    AccessRule,
    AuthSettings,
    Collection,
    Database,
    DeclaredIndex,
    FieldSpec,
    FieldType,
    VectorSpec,
)

Connection = Any
"""An asyncpg connection (asyncpg ships no type information); the service layer passes it through."""

SQL = statements.load("management")


def _database(row: asyncpg.Record) -> Database:
    return Database(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        schema_name=row["schema_name"],
        created_at=row["created_at"],
        auth_settings=auth_settings_of(row["auth_settings"]),
        files_access=files_access_of(row),
    )


def files_access_of(row: asyncpg.Record) -> Access:
    """The access rules of a database's files (``databases.files_access_read``/``_write``)."""
    return Access(read=AccessRule(row["files_access_read"]), write=AccessRule(row["files_access_write"]))


def auth_settings_of(stored: bytes) -> AuthSettings:
    """The settings a database's ``auth_settings`` column holds (jsonb as bytes); unset keys default."""
    return msgspec.json.decode(stored, type=AuthSettings)


# --- locks -------------------------------------------------------------------------------
async def lock_account(conn: Connection, account_id: str) -> None:
    """Serialise this account's database creations until the transaction ends (quota, names)."""
    await conn.execute(SQL.lock_account, account_id)


# --- databases ---------------------------------------------------------------------------
async def account_email(conn: Connection, account_id: str) -> str | None:
    email: str | None = await conn.fetchval(SQL.account_email, account_id)
    return email


async def count_databases(conn: Connection, account_id: str) -> int:
    count: int = await conn.fetchval(SQL.count_databases, account_id)
    return count


async def insert_database(
    conn: Connection, *, database_id: str, account_id: str, name: str, schema_name: str
) -> Database | None:
    """The new catalog row, or None when its name (for the account) or its schema name is taken."""
    row = await conn.fetchrow(SQL.insert_database, database_id, account_id, name, schema_name)
    return None if row is None else _database(row)


async def create_schema(conn: Connection, statements: Sequence[str]) -> bool:
    """Run a schema's DDL in a savepoint: False (and nothing done) when the schema name is taken."""
    try:
        async with conn.transaction():
            await conn.execute(ddl.script(statements))
    except asyncpg.DuplicateSchemaError:
        return False
    return True


async def database_name_taken(conn: Connection, account_id: str, name: str) -> bool:
    """Whether the account has a database of this name, ignoring case."""
    taken: bool = await conn.fetchval(SQL.database_name_taken, account_id, name)
    return taken


async def schema_name_taken(conn: Connection, schema_name: str) -> bool:
    """Whether a schema of that name exists, or the catalog has promised it to a database."""
    taken: bool = await conn.fetchval(SQL.schema_name_taken, schema_name)
    return taken


async def fetch_database(
    conn: Connection, *, account_id: str, database_id: str, lock: bool = False
) -> Database | None:
    """The account's database; with ``lock``, its row is locked until the transaction ends.

    The lock (``FOR NO KEY UPDATE``) serialises DDL inside one database and
    makes it wait for a concurrent drop (then the row is gone: None).
    """
    row = await conn.fetchrow(SQL.lock_database if lock else SQL.fetch_database, database_id, account_id)
    return None if row is None else _database(row)


async def list_databases(
    conn: Connection, *, account_id: str, only_id: str | None, search: str | None, limit: int, offset: int
) -> tuple[int, list[tuple[Database, int]]]:
    """(total matching, one page of (database, number of collections)), ordered by name."""
    args = (account_id, only_id, search)
    total: int = await conn.fetchval(SQL.count_listed_databases, *args)
    rows = await conn.fetch(SQL.list_databases, *args, limit, offset)
    return total, [(_database(row), row["num_collections"]) for row in rows]


async def delete_database(conn: Connection, database: Database) -> None:
    """The schema and the catalog rows (collections, fields and scoped keys cascade)."""
    await conn.execute(ddl.drop_schema(database.schema_name))
    await conn.execute(SQL.delete_database, database.id)


# --- collections -------------------------------------------------------------------------
class CatalogEntry(msgspec.Struct, frozen=True):
    """A database and its collection of the asked name (None: it has none)."""

    database: Database
    collection: Collection | None


async def fetch_catalog_entry(conn: Connection, database_id: str, name: str) -> CatalogEntry | None:
    """The database ``database_id``, whoever owns it, and its collection ``name``, in one round
    trip (the data path's look-up on a cache miss); None when there is no such database.

    The caller decides tenancy from ``database.account_id``: the row is cached
    for every principal, so it must not depend on who asked.
    """
    row = await conn.fetchrow(SQL.catalog_entry, database_id, name)
    if row is None:
        return None
    database = Database(
        id=row["id"],
        account_id=row["account_id"],
        name=row["database_name"],
        schema_name=row["schema_name"],
        created_at=row["database_created_at"],
        auth_settings=auth_settings_of(row["auth_settings"]),
        files_access=files_access_of(row),
    )
    return CatalogEntry(database, _collection(database, row))


def _collection(database: Database, row: asyncpg.Record) -> Collection | None:
    """The collection of a ``catalog_entry`` row (None: the database has none of that name)."""
    if row["name"] is None:
        return None
    fields = tuple(
        FieldSpec(name=name, type=FieldType(type_), required=required, indexed=indexed)
        for name, type_, required, indexed in zip(
            row["f_names"], row["f_types"], row["f_required"], row["f_indexed"], strict=True
        )
    )
    return Collection(
        database_id=database.id,
        schema_name=database.schema_name,
        name=row["name"],
        strict=row["strict"],
        fields=fields,
        indexes=_declared_indexes(row["declared"]),
        created_at=row["created_at"],
        access=Access(read=AccessRule(row["access_read"]), write=AccessRule(row["access_write"])),
        vectors=None
        if row["vector_embedder"] is None
        else VectorSpec(embedder=row["vector_embedder"], dimensions=row["vector_dimensions"]),
    )


_decode_declared = msgspec.json.Decoder(tuple[DeclaredIndex, ...]).decode


def _declared_indexes(stored: bytes) -> tuple[DeclaredIndex, ...]:
    """The declared indexes of a ``catalog_entry`` row (a jsonb array, as bytes)."""
    return _decode_declared(stored)


async def fetch_collections(conn: Connection, database: Database) -> list[Collection]:
    rows = await conn.fetch(SQL.catalog_entry, database.id, None)
    return [c for c in (_collection(database, row) for row in rows) if c is not None]


async def fetch_collection(conn: Connection, database: Database, name: str) -> Collection | None:
    row = await conn.fetchrow(SQL.catalog_entry, database.id, name)
    return None if row is None else _collection(database, row)


async def set_access(conn: Connection, database: Database, name: str, access: Access) -> bool:
    """Record a collection's access rules and apply them to its table (one round trip each);
    False when the database has no such collection."""
    found = await conn.fetchval(SQL.set_access, database.id, name, access.read.value, access.write.value)
    if not found:
        return False
    await conn.execute(ddl.apply_access(database.schema_name, name, access))
    return True


async def set_files_access(conn: Connection, database: Database, access: Access) -> None:
    """Record the rules of a database's files and apply them to its ``_files`` (SPEC §12)."""
    await conn.execute(SQL.set_files_access, database.id, access.read.value, access.write.value)
    await conn.execute(ddl.apply_access(database.schema_name, FILES_TABLE, access))


async def collection_names(conn: Connection, database: Database) -> list[str]:
    rows = await conn.fetch(SQL.collection_names, database.id)
    return [row["name"] for row in rows]


async def count_collections(conn: Connection, database_id: str) -> int:
    count: int = await conn.fetchval(SQL.count_collections, database_id)
    return count


async def insert_collection(conn: Connection, database: Database, collection: Collection) -> datetime | None:
    """The catalog rows of a new collection; None (nothing written) when the name is taken."""
    created_at: datetime | None = await conn.fetchval(
        SQL.insert_collection,
        database.id,
        collection.name,
        collection.strict,
        collection.access.read.value,
        collection.access.write.value,
        collection.vectors.embedder if collection.vectors else None,
        collection.vectors.dimensions if collection.vectors else None,
    )
    if created_at is None:
        return None
    if collection.fields:
        await conn.executemany(
            SQL.insert_field,
            [
                (
                    database.id,
                    collection.name,
                    position,
                    spec.name,
                    spec.type.value,
                    spec.required,
                    spec.indexed,
                )
                for position, spec in enumerate(collection.fields)
            ],
        )
    for index in collection.indexes:
        await insert_index(conn, database, collection.name, index)
    return created_at


# --- declared indexes (ADR 0025) ---------------------------------------------------------
class DuplicateValues(Exception):
    """A unique index could not be built: the collection holds documents that share its values."""


async def insert_index(conn: Connection, database: Database, collection: str, index: DeclaredIndex) -> None:
    """The catalog row of a declared index; its trigger tells every process's cache."""
    await conn.execute(
        SQL.insert_index, database.id, collection, index.name, list(index.fields), index.unique
    )


async def delete_index(conn: Connection, database: Database, collection: str, name: str) -> bool:
    """Forget a declared index; False when the catalog had no such row."""
    return bool(await conn.fetchval(SQL.delete_index, database.id, collection, name))


async def index_declared(conn: Connection, database: Database, collection: str, name: str) -> bool:
    declared: bool = await conn.fetchval(SQL.index_declared, database.id, collection, name)
    return declared


async def lock_index(conn: Connection, database: Database, collection: str, name: str, *, wait: bool) -> bool:
    """Take the session lock on building or dropping the index ``name`` (held until the connection
    closes); without ``wait``, False at once when another connection holds it."""
    if wait:
        await conn.execute(SQL.lock_index, database.id, collection, name)
        return True
    return bool(await conn.fetchval(SQL.try_lock_index, database.id, collection, name))


async def build_index(conn: Connection, statements: Sequence[str]) -> None:
    """Run ``CREATE INDEX CONCURRENTLY`` and its comment, one statement at a time, outside any
    transaction; ``DuplicateValues`` when a unique one meets documents that share its values."""
    try:
        for statement in statements:
            await conn.execute(statement)
    except asyncpg.UniqueViolationError as exc:
        raise DuplicateValues() from exc


async def drop_index(conn: Connection, statement: str) -> None:
    """``ddl.drop_declared_index``'s statement (outside any transaction)."""
    await conn.execute(statement)


async def duplicated_values(conn: Connection, collection: Collection, index: DeclaredIndex) -> Any:
    """The values of one group of documents that the unique ``index`` could not tell apart (a
    JSON object by field, as the documents hold them), or None when there is none (any more)."""
    found = await conn.fetchval(
        ddl.duplicated_values(collection.schema_name, collection.name, index, collection.fields)
    )
    return None if found is None else msgspec.json.decode(found)


async def delete_collections(conn: Connection, database: Database, names: Sequence[str]) -> None:
    """The tables, their trash and their catalog rows (fields cascade)."""
    await conn.execute(ddl.drop_tables(database.schema_name, names))
    # Identifiers quoted by pgcube.management.naming; values are parameters.
    trash = f"DELETE FROM {database.sql_trash} WHERE collection = ANY($1::text[])"  # noqa: S608
    await conn.execute(trash, list(names))
    await conn.execute(SQL.delete_collections, database.id, list(names))


async def create_tables(conn: Connection, statements: Sequence[str]) -> bool:
    """A collection's DDL in one round trip; False when its table already exists (made by hand).

    The transaction is then aborted: the caller must raise.
    """
    try:
        await conn.execute(ddl.script(statements))
    except asyncpg.DuplicateTableError:
        return False
    return True


# --- document counts ---------------------------------------------------------------------
async def estimated_counts(conn: Connection, database: Database) -> dict[str, float | None]:
    """Per table of the schema: the statistics' row estimate, or None when there are none.

    ``n_live_tup`` is kept by every insert and delete (no ANALYZE needed);
    after a statistics reset it is 0, and the planner's own estimate
    (``reltuples`` scaled to the table's current size) takes over.
    """
    rows = await conn.fetch(SQL.estimated_counts, database.schema_name)
    estimates: dict[str, float | None] = {}
    for row in rows:
        live: Any = row["n_live_tup"]
        estimates[row["relname"]] = float(live) if live else row["scaled"]
    return estimates


async def bounded_count(conn: Connection, collection: Collection, limit: int) -> int:
    """``min(count(*), limit)``: reads at most ``limit`` rows, however large the table."""
    # The table is quoted by pgcube.management.naming; the limit is a parameter.
    query = f"SELECT count(*) FROM (SELECT 1 FROM {collection.sql_table} LIMIT $1) AS bounded"  # noqa: S608
    count: int = await conn.fetchval(query, limit)
    return count

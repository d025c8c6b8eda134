"""Collections on a real PostgreSQL for the compiler's tests (SPEC §10 DDL)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from pgcube.query import Collection, index_definition_sql
from tests.support.sync_pg import SyncPg


def new_schema(pg: SyncPg) -> str:
    name = "q_" + secrets.token_hex(4)
    pg.execute(f'CREATE SCHEMA "{name}"')
    return name


def drop_schema(pg: SyncPg, name: str) -> None:
    pg.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def create_collection(
    pg: SyncPg, schema: str, table: str, fields: dict[str, str] | None = None
) -> Collection:
    fields = fields or {}
    qualified = f'"{schema}"."{table}"'
    pg.execute(
        f"CREATE TABLE {qualified} (_key text PRIMARY KEY, _userkey text, "
        "_created_at timestamptz NOT NULL DEFAULT now(), _modified_at timestamptz NOT NULL DEFAULT now(), "
        "data jsonb NOT NULL)"
    )
    pg.execute(f"CREATE INDEX ON {qualified} USING gin (data jsonb_path_ops)")
    pg.execute(f"CREATE INDEX ON {qualified} (_created_at, _key)")
    indexed = set()
    for name, kind in fields.items():
        definition = index_definition_sql(name, kind)
        if definition is not None:
            pg.execute(f"CREATE INDEX ON {qualified} {definition}")
            indexed.add(name)
    return Collection(schema=schema, table=table, fields=fields, indexed=frozenset(indexed))


def insert(
    pg: SyncPg, collection: Collection, docs: list[dict[str, Any]], keys: list[str] | None = None
) -> list[str]:
    """Insert documents; ``_created_at`` decreases with the index (doc 0 is the newest)."""
    keys = keys or [f"k{i:05d}" for i in range(len(docs))]
    rows = [{"k": k, "d": d, "i": i} for i, (k, d) in enumerate(zip(keys, docs, strict=True))]
    pg.execute(
        f'INSERT INTO "{collection.schema}"."{collection.table}" (_key, _userkey, _created_at, _modified_at, data) '
        "SELECT r->>'k', CASE WHEN (r->>'i')::int % 3 = 0 THEN NULL ELSE 'u' || ((r->>'i')::int % 3) END, "
        "timestamptz '2024-01-01T00:00:00Z' - ((r->>'i')::int * interval '1 second'), "
        "timestamptz '2024-01-01T00:00:00Z', r->'d' FROM jsonb_array_elements($1::jsonb) AS r",
        json.dumps(rows).encode(),
    )
    return keys


def keys_of(pg: SyncPg, sql: str, params: tuple[Any, ...]) -> list[str]:
    return [SyncPg.json(row["doc"])["_key"] for row in pg.fetch(sql, *params)]

"""What a DBA sees in PostgreSQL (SPEC §10), asserted from the catalog, not from the API."""

from __future__ import annotations

import json
from typing import Any

import httpx

from pgcube.management import ddl
from pgcube.query.fields import index_expression
from pgcube.query.sql import render
from tests.integration.management.conftest import insert_rows
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg


def columns(pg: SyncPg, schema: str, table: str) -> list[tuple[str, str, bool, str | None]]:
    rows = pg.fetch(
        """SELECT column_name, data_type, is_nullable = 'YES' AS nullable, column_default
        FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2
        ORDER BY ordinal_position""",
        schema,
        table,
    )
    return [(r["column_name"], r["data_type"], r["nullable"], r["column_default"]) for r in rows]


def indexes(pg: SyncPg, schema: str, table: str) -> dict[str, str]:
    rows = pg.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2", schema, table
    )
    return {r["indexname"]: r["indexdef"] for r in rows}


def test_the_schema_carries_a_comment_naming_database_and_owner(
    pg: SyncPg, account: Account, database: dict[str, Any]
) -> None:
    schema = database["database"]["dbName"]
    comment = pg.fetchval(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1", schema
    )
    assert database["database"]["name"] in comment
    assert database["database"]["id"] in comment
    assert account.email in comment


def test_a_collection_is_a_table_with_the_columns_of_spec_10(pg: SyncPg, database: dict[str, Any]) -> None:
    schema = database["database"]["dbName"]
    assert columns(pg, schema, "users") == [
        ("_key", "text", False, None),
        # Stamped from the signed-in end user (SPEC §11.4, migration 0006).
        ("_userkey", "text", True, "NULLIF(current_setting('pgcube.userkey'::text, true), ''::text)"),
        ("_created_at", "timestamp with time zone", False, "now()"),
        ("_modified_at", "timestamp with time zone", False, "now()"),
        ("data", "jsonb", False, None),
    ]
    primary_key = pg.fetchval(
        """SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
        WHERE c.conrelid = to_regclass(quote_ident($1) || '.users') AND c.contype = 'p'""",
        schema,
    )
    assert primary_key == "PRIMARY KEY (_key)"
    comment = pg.fetchval(
        "SELECT obj_description(to_regclass(quote_ident($1) || '.users'), 'pg_class')", schema
    )
    assert "users" in comment
    assert database["database"]["name"] in comment


def test_a_collection_has_its_indexes(pg: SyncPg, database: dict[str, Any]) -> None:
    schema = database["database"]["dbName"]
    found = indexes(pg, schema, "users")
    assert found["users$pkey"].startswith('CREATE UNIQUE INDEX "users$pkey"')
    assert found["users$data"].endswith(
        f"USING gin (data jsonb_path_ops) WITH (gin_pending_list_limit='{ddl.GIN_PENDING_LIST_KB}')"
    )
    assert found["users$created"].endswith("USING btree (_created_at, _key)")
    typed = {"email", "signup_date", "age", "active", "seen_at"}
    assert {name for name in found if name.startswith("users$f$")} == {f"users$f${field}" for field in typed}
    assert "jsonb_typeof((data -> 'email'::text)) = 'string'::text" in found["users$f$email"]
    assert 'COLLATE "C"' in found["users$f$email"]
    assert "::numeric" in found["users$f$age"]
    assert "::boolean" in found["users$f$active"]
    for name in typed:
        assert found[f"users$f${name}"].endswith("NULLS FIRST, _key)")


def test_queries_with_the_compilers_expression_use_the_typed_index(
    pg: SyncPg, database: dict[str, Any]
) -> None:
    """The index and the query compiler agree on the expression (DESIGN §4)."""
    schema = database["database"]["dbName"]
    insert_rows(
        pg, schema, "users", [json.dumps({"email": f"u{i}@x.org", "age": i}).encode() for i in range(300)]
    )
    pg.execute(f'ANALYZE "{schema}"."users"')
    typed = index_expression("age", "integer")
    assert typed is not None
    expression = render(typed)
    plan = pg.fetch(
        f'EXPLAIN SELECT _key FROM "{schema}"."users" WHERE {expression} > 290 '
        f"ORDER BY {expression} NULLS FIRST, _key"
    )
    assert "users$f$age" in "\n".join(row[0] for row in plan)


def test_typed_indexes_are_safe_on_mixed_data(pg: SyncPg, database: dict[str, Any]) -> None:
    """A value of another type in an indexed field never makes a write fail: it indexes as NULL."""
    schema = database["database"]["dbName"]
    odd = [
        {"email": 5, "age": "old", "active": "yes", "signup_date": "someday", "seen_at": 20240115},
        {"email": None, "age": 1.5e300, "signup_date": "2023-02-30", "seen_at": "2024-13-45T99:99:99Z"},
        {"email": ["x"], "age": {"n": 1}, "active": [True], "signup_date": "٢٠٢٤-٠١-١٥"},
        {},
    ]
    insert_rows(pg, schema, "users", [json.dumps(doc).encode() for doc in odd])
    assert pg.fetchval(f'SELECT count(*) FROM "{schema}"."users"') == len(odd)


def test_the_trash_table(pg: SyncPg, database: dict[str, Any]) -> None:
    schema = database["database"]["dbName"]
    assert [c[0] for c in columns(pg, schema, "_trash")] == [
        "collection",
        "_ref",
        "kind",
        "_key",
        "_userkey",
        "_created_at",
        "_modified_at",
        "data",
        "trashed_at",
    ]
    found = indexes(pg, schema, "_trash")
    assert found["_trash$pkey"].endswith("(_ref, collection, _key)")
    assert found["_trash$purge"].endswith("(kind, trashed_at)")
    assert found["_trash$collection"].endswith("(collection, trashed_at DESC NULLS LAST, _key)")
    comment = pg.fetchval(
        "SELECT obj_description(to_regclass(quote_ident($1) || '._trash'), 'pg_class')", schema
    )
    assert "deleted and archived" in comment


def test_catalog_rows_match_the_ddl(pg: SyncPg, account: Account, database: dict[str, Any]) -> None:
    database_id = database["database"]["id"]
    row = pg.fetchrow(
        "SELECT account_id::text, name, schema_name FROM pgcube.databases WHERE id = $1", database_id
    )
    assert row is not None
    assert tuple(row) == (account.account_id, database["database"]["name"], database["database"]["dbName"])
    assert (
        pg.fetchval(
            "SELECT strict FROM pgcube.collections WHERE database_id = $1 AND name = 'users'", database_id
        )
        is True
    )
    fields = pg.fetch(
        "SELECT name, type, required, indexed FROM pgcube.fields WHERE database_id = $1 ORDER BY position",
        database_id,
    )
    assert [tuple(f) for f in fields][:3] == [
        ("email", "string", True, True),
        ("signup_date", "date", False, True),
        ("age", "integer", False, True),
    ]


def test_physical_names_work_in_plain_psql_style_queries(
    pg: SyncPg, client: httpx.Client, account: Account, database: dict[str, Any]
) -> None:
    """What docs/psql.md tells a DBA to run finds the database from the account's email."""
    found = pg.fetch(
        """SELECT d.id, d.name, d.schema_name FROM pgcube.databases d
        JOIN pgcube.accounts a ON a.id = d.account_id WHERE a.email_canonical = lower($1)""",
        account.email,
    )
    assert [r["schema_name"] for r in found] == [database["database"]["dbName"]]

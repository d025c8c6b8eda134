"""docs/psql.md stays true: its SQL runs against a database made over HTTP, with that database's names.

Administrator blocks (roles, ``CREATE DATABASE``) are fenced ``postgresql`` instead of ``sql``:
they need an administrator, and ``tests/integration/hardening/test_least_privilege.py``
follows the role set-up of docs/operations.md instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.integration.management.conftest import create_database, insert_rows, schema_exists
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg

DOC = Path(__file__).resolve().parents[3] / "docs" / "psql.md"
DOC_ID = "6b02c49a69a5cd55233ced27"
DOC_SCHEMA = "my_customer_project_29f2b3"
DOC_EMAIL = "alex@example.com"
DOC_KEY = "8b3f0c2e4d1a4b6f9e7c5a3d2b1f0e9d"


def sql_blocks() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_psql_guide_runs_as_written(client: httpx.Client, account: Account, pg: SyncPg) -> None:
    body = create_database(
        client,
        account,
        "my_customer_project",
        [
            {
                "name": "users",
                "fields": [
                    {"name": "email", "type": "string", "required": True, "unique": True},
                    {"name": "signup_date", "type": "date"},
                ],
            },
            {
                "name": "products",
                "fields": [{"name": "price", "type": "number"}, {"name": "category", "type": "string"}],
                "indexes": [{"fields": ["category", "price"]}],
            },
        ],
    )
    database_id, schema = body["database"]["id"], body["database"]["dbName"]
    pg.execute(
        f'INSERT INTO "{schema}".users (_key, data) VALUES ($1, $2)',
        DOC_KEY,
        b'{"email": "alice@example.com", "signup_date": "2023-10-27T10:00:00Z"}',
    )
    insert_rows(
        pg,
        schema,
        "products",
        [
            json.dumps(
                {
                    "name": f"Product {n}",
                    "price": n % 1000 + 0.99,
                    "category": ["electronics", "books"][n % 2],
                }
            ).encode()
            for n in range(200)
        ],
    )

    def ours(text: str) -> str:
        return text.replace(DOC_ID, database_id).replace(DOC_SCHEMA, schema).replace(DOC_EMAIL, account.email)

    blocks = sql_blocks()
    assert len(blocks) >= 8
    finding = ours(blocks[0])
    assert [r["schema_name"] for r in pg.fetch(finding)] == [schema]
    assert pg.fetchval(ours(blocks[1])) == schema
    fields = pg.fetch(ours(blocks[2]))
    assert [(r["name"], r["field"]) for r in fields] == [
        ("products", "price"),
        ("products", "category"),
        ("users", "email"),
        ("users", "signup_date"),
    ]
    declared = pg.fetch(ours(blocks[3]))
    assert [(r["name"], list(r["fields"]), r["unique"]) for r in declared] == [
        ("products$i$category$price", ["category", "price"], False),
        ("users$i$email", ["email"], True),
    ]
    assert pg.fetchrow(ours(blocks[4]))["_key"] == DOC_KEY  # type: ignore[index]

    try:
        for block in blocks[5:]:
            if "<ref>" in block:
                continue
            pg.execute(ours(block))
    finally:
        pg.execute("DEALLOCATE find")  # only ours: asyncpg keeps its own prepared statements
    # The last block drops the database by hand, as the guide says to.
    assert not schema_exists(pg, schema)
    assert pg.fetchval("SELECT count(*) FROM pgcube.databases WHERE id = $1", database_id) == 0

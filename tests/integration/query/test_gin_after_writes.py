"""Plans right after writes through the API (ADR 0010): no ANALYZE, no VACUUM, no autovacuum yet.

20,000 documents go in as 20 ``collection.insert`` calls of 1,000, into a
collection made by ``create_database`` (so with pgcube's own DDL). Then,
without statistics:

* an equality on an undeclared field is a bitmap scan of the GIN index — the
  count of a find, and a page sorted by an undeclared field (no index can walk
  that order, so the choice is GIN or a sequential scan: the choice a full
  pending list used to lose);
* a range + sort on the declared number walks its typed B-tree;
* the GIN pending list stays small (``gin_pending_list_limit = 64`` kB).

The page in the default order (``_created_at desc``) is not asserted: without
statistics PostgreSQL guesses that 1 % of the rows match any ``@@`` and walks
the ``$created`` index instead; autovacuum's ANALYZE (or an ANALYZE after a
bulk import) gives it the statistics that make it pick the GIN index.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pgcube.management.ddl import GIN_PENDING_LIST_KB, upgrade_gin_indexes
from pgcube.management.models import gin_index_name
from pgcube.query import Collection, compile_find
from tests.integration.query.test_explain import index_used, node_types, plan_of
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg

DOCS = 20_000
BATCH = 1_000
TABLE = "items"


def document(i: int) -> dict[str, Any]:
    return {
        "price": (i * 7919) % 10_000 / 100,
        "email": f"buyer{i}@example.com",
        "category": f"c{i % 20}",
        "tags": [f"t{i % 40}", f"u{i % 7}"],
        "supplier": {"country": ["NO", "SE", "DK", "FI"][i % 4], "rating": i % 5},
    }


@pytest.fixture(scope="module")
def collection(module_client: httpx.Client, module_account: Account, pg: SyncPg) -> Iterator[Collection]:
    body = {
        "db_name": "gin_" + secrets.token_hex(4),
        "collections": [{"name": TABLE, "fields": [{"name": "price", "type": "number"}]}],
    }
    created = module_client.post("/api/create_database", json=body, headers=module_account.headers)
    assert created.status_code == 201, created.text
    database = created.json()["database"]["id"]
    for first in range(0, DOCS, BATCH):
        docs = [document(i) for i in range(first, first + BATCH)]
        answer = module_client.post(
            f"/api/{database}",
            json={"op": "collection.insert", "collection": TABLE, "data": docs},
            headers=module_account.headers,
        )
        assert answer.status_code == 200, answer.text
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", database)
    yield Collection(schema=schema, table=TABLE, fields={"price": "number"})
    module_client.post("/api/drop_database", json={"db_id": database}, headers=module_account.headers)


def test_no_statistics_yet(pg: SyncPg, collection: Collection) -> None:
    """The state under test: PostgreSQL has never analyzed or vacuumed the table."""
    row = pg.fetchrow(
        "SELECT c.reltuples, s.last_analyze, s.last_autoanalyze, s.last_autovacuum "
        "FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
        "WHERE c.oid = format('%I.%I', $1::text, $2::text)::regclass",
        collection.schema,
        collection.table,
    )
    assert row is not None
    if row["last_autoanalyze"] is not None or row["last_autovacuum"] is not None:
        pytest.skip("autovacuum came by already: the plans below would not be the ones right after writes")
    assert row["reltuples"] < 0
    assert row["last_analyze"] is None


@pytest.mark.parametrize("sort", [None, "category"])
def test_equality_on_an_undeclared_field_uses_gin(
    pg: SyncPg, collection: Collection, sort: str | None
) -> None:
    q = compile_find(collection, {"email": "buyer4242@example.com"}, sort=sort, limit=25)
    checked = q.count if sort is None else q.select
    assert checked is not None
    plan = plan_of(pg, checked.sql, checked.params)
    assert "Bitmap Index Scan" in node_types(plan)
    assert gin_index_name(collection.table) in index_used(plan)
    assert [row["doc"] for row in pg.fetch(q.select.sql, *q.select.params)]


def test_range_and_sort_on_the_declared_number_use_its_btree(pg: SyncPg, collection: Collection) -> None:
    q = compile_find(collection, {"price:$gte": 10, "price:$lt": 12}, sort="price desc", limit=25)
    plan = plan_of(pg, q.select.sql, q.select.params)
    assert f"{collection.table}$f$price" in index_used(plan)
    assert "Sort" not in node_types(plan)
    assert "Seq Scan" not in node_types(plan)


def test_the_pending_list_stays_small(pg: SyncPg, collection: Collection) -> None:
    """Whatever is still pending fits in the configured limit (a page is 8 kB)."""
    index = f'"{collection.schema}"."{gin_index_name(collection.table)}"'
    options = pg.fetchval("SELECT reloptions FROM pg_class WHERE oid = $1::regclass", index)
    assert f"gin_pending_list_limit={GIN_PENDING_LIST_KB}" in options
    moved = pg.fetchval("SELECT gin_clean_pending_list($1::regclass)", index)
    assert moved <= GIN_PENDING_LIST_KB // 8 + 2


def test_collections_of_earlier_versions_are_upgraded(pg: SyncPg, collection: Collection) -> None:
    index = f'"{collection.schema}"."{gin_index_name(collection.table)}"'
    pg.execute(f"ALTER INDEX {index} RESET (gin_pending_list_limit)")  # as made before ADR 0010
    for _ in range(2):  # idempotent
        pg.execute(upgrade_gin_indexes())
        options = pg.fetchval("SELECT reloptions FROM pg_class WHERE oid = $1::regclass", index)
        assert options == [f"gin_pending_list_limit={GIN_PENDING_LIST_KB}"]

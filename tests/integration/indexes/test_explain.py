"""The planner serves ``match`` equality on the first field of a compound index and ``sort`` on
the second with that index: one index scan, no Sort (DESIGN §4, ADR 0025). EXPLAIN runs on the
SQL the compiler emits for the find."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pgcube.query import Collection, compile_find
from pgcube.query.fields import index_expression
from pgcube.query.sql import render
from tests.integration.data.conftest import make_db
from tests.integration.indexes.conftest import COMPOUND_INDEX, PRODUCTS
from tests.support.accounts import Account
from tests.support.end_users import schema_of
from tests.support.sync_pg import SyncPg


@pytest.fixture(scope="module")
def products(module_client: httpx.Client, module_account: Account, pg: SyncPg) -> Collection:
    """``products`` with 20,000 documents in 200 categories, analysed."""
    db = make_db(module_client, module_account, [PRODUCTS])
    schema = schema_of(pg, db.id)
    pg.execute(
        f'INSERT INTO "{schema}".products (_key, data) SELECT md5(i::text), '
        "jsonb_build_object('category', 'c' || (i % 200), 'price', (i * 37) % 1000, 'sku', 's' || i) "
        "FROM generate_series(1, 20000) AS i"
    )
    pg.execute(f'ANALYZE "{schema}".products')
    fields = {field["name"]: field["type"] for field in PRODUCTS["fields"]}
    # As the product's compiler view has it: the declared index covers both fields.
    return Collection(
        schema=schema, table="products", fields=fields, indexed=frozenset({"category", "price"})
    )


def plan_of(pg: SyncPg, sql: str, params: tuple[Any, ...]) -> dict[str, Any]:
    raw = pg.fetchval("EXPLAIN (FORMAT JSON) " + sql, *params)
    return (json.loads(raw) if isinstance(raw, str | bytes) else raw)[0]["Plan"]  # type: ignore[no-any-return]


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_equality_then_sort_is_one_scan_of_the_compound_index(
    pg: SyncPg, products: Collection, direction: str
) -> None:
    q = compile_find(products, {"category": "c7"}, sort=f"price {direction}", limit=20, count=False)
    typed_category = render(index_expression("category", "string"))  # type: ignore[arg-type]
    assert typed_category in q.select.sql  # the equality as the index's own expression
    plan = plan_of(pg, q.select.sql, q.select.params)
    scans = [n for n in nodes(plan) if n.get("Index Name") == COMPOUND_INDEX]
    assert scans, json.dumps(plan, indent=1)
    assert "'category'" in scans[0].get("Index Cond", ""), scans[0]  # the equality, inside the index
    assert "Sort" not in [n["Node Type"] for n in nodes(plan)]
    # And the answer is the sorted page.
    rows = pg.fetch(q.select.sql, *q.select.params)
    prices = [SyncPg.json(row["doc"])["price"] for row in rows]
    assert len(prices) == 21  # the page and one more row, which says there is a next page
    assert prices == sorted(prices, reverse=direction == "desc")

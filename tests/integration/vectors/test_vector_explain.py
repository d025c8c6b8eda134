"""The search of ``vdb.search`` reads the HNSW index, and its iterative scan keeps ``limit`` rows under
a selective match (EXPLAIN and the statement itself, on 5,000 random 256-d vectors)."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import pytest

from pgcube.management.models import VectorSpec
from pgcube.query import Collection, compile_where
from pgcube.vectors import statements
from tests.integration.query.test_explain import index_used, nodes, plan_of
from tests.integration.vectors.support import VectorDb, new_vector_db
from tests.support.sync_pg import SyncPg

ROWS = 5000
RARE_EVERY = 100
"""One row in this many carries ``metadata.rare``: a match that removes 99 % of the nearest rows."""


@pytest.fixture(scope="module")
def filled(module_client: httpx.Client, pg: SyncPg) -> VectorDb:
    if not pg.fetch("SELECT 1 FROM pg_extension WHERE extname = 'vector'"):
        pytest.skip("this PostgreSQL has no pgvector: vdb.* answers 501 FEATURE_UNAVAILABLE here")
    db = new_vector_db(module_client, pg)
    db.insert("random", [{"content": "made through the API: the table, its indexes and its catalog row"}])
    pg.execute("SET statement_timeout = '120s'")  # the HNSW index grows with every row
    pg.execute(
        f"""INSERT INTO "{db.schema}"."_vec_random" (_key, data, embedding)
            SELECT 'r' || i, jsonb_build_object('content', 'row ' || i, 'content_type', 'text',
                       'metadata', CASE WHEN i % {RARE_EVERY} = 0 THEN '{{"rare": true}}'::jsonb
                                        ELSE '{{}}'::jsonb END,
                       'doc_key', 'd' || i, 'chunk_index', 0),
                   (SELECT array_agg(random() - 0.5) FROM generate_series(1, 256) WHERE i > 0)::vector
            FROM generate_series(1, {ROWS}) AS i"""
    )
    pg.execute("RESET statement_timeout")
    pg.execute(f'ANALYZE "{db.schema}"."_vec_random"')
    return db


def _statement(db: VectorDb, match: dict[str, Any] | None, limit: int) -> tuple[str, tuple[Any, ...]]:
    table = f'"{db.schema}"."_vec_random"'
    spec = VectorSpec(embedder="local/any", dimensions=256)
    where = (
        compile_where(Collection(schema=db.schema, table="_vec_random", fields={}), match) if match else None
    )
    params = where.params if where else ()
    rng = random.Random(7)
    vector = [rng.random() - 0.5 for _ in range(256)]
    sql = statements.search(table, spec, where.sql if where else "", len(params))
    return sql, (*params, vector, limit, -1.0)


def test_a_search_reads_the_hnsw_index(filled: VectorDb, pg: SyncPg) -> None:
    sql, params = _statement(filled, None, 10)
    assert "_vec_random$embedding" in index_used(plan_of(pg, sql, params))


def test_a_search_with_a_broad_match_reads_the_hnsw_index(filled: VectorDb, pg: SyncPg) -> None:
    sql, params = _statement(filled, {"content_type": "text"}, 10)
    assert "_vec_random$embedding" in index_used(plan_of(pg, sql, params))


def _run(pg: SyncPg, sql: str, params: tuple[Any, ...], **settings: str) -> tuple[list[Any], dict[str, Any]]:
    """The statement's rows and its analysed plan, with ``settings`` for one transaction and the
    index forced (no sequential or bitmap scan: small tables would rather not use it)."""
    pg.execute("BEGIN")
    try:
        for name, value in {"enable_seqscan": "off", "enable_bitmapscan": "off", **settings}.items():
            pg.execute(f"SET LOCAL {name.replace('__', '.')} = {value}")
        raw = pg.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *params)
        return pg.fetch(sql, *params), json.loads(raw)[0]["Plan"]
    finally:
        pg.execute("ROLLBACK")


def _exact_search_ran(plan: dict[str, Any]) -> bool:
    """Whether the ``exact`` fallback read the table (its scan ran at least once)."""
    exact = next(n for n in nodes(plan) if n.get("Subplan Name") == "CTE exact")
    return any(n.get("Relation Name") == "_vec_random" and n["Actual Loops"] > 0 for n in nodes(exact))


def test_the_iterative_scan_finds_limit_rows_under_a_selective_match(filled: VectorDb, pg: SyncPg) -> None:
    """On the HNSW index with the iterative scan (as every pooled connection has it; given room to
    read, here 20,000 rows) the rare rows are found in the index and the exact fallback never
    runs; without it, the index's first 40 candidates hold about none of them and the fallback has to."""
    sql, params = _statement(filled, {"metadata.rare": True}, 10)
    rows, plan = _run(pg, sql, params, hnsw__iterative_scan="relaxed_order", hnsw__max_scan_tuples="20000")
    assert "_vec_random$embedding" in index_used(plan)
    assert len(rows) == 10
    assert all(b'"rare": true' in row[0] for row in rows)
    assert not _exact_search_ran(plan)
    assert _exact_search_ran(_run(pg, sql, params, hnsw__iterative_scan="off")[1])


def test_a_short_index_scan_falls_back_to_the_exact_answer(filled: VectorDb, pg: SyncPg) -> None:
    """When the index scan comes back short (here: no iterative scan; in production: past
    ``hnsw.max_scan_tuples``), the same statement answers the exact nearest matching rows, as a
    scan of every matching row finds them."""
    sql, params = _statement(filled, {"metadata.rare": True}, 10)
    rows, plan = _run(pg, sql, params, hnsw__iterative_scan="off")
    assert _exact_search_ran(plan)
    *_, vector, limit, _ = params
    exact = pg.fetch(
        f"""SELECT _key FROM "{filled.schema}"."_vec_random" WHERE data @> '{{"metadata": {{"rare": true}}}}'
            ORDER BY (embedding <=> $1::real[]::vector(256)) + 0 LIMIT $2""",
        vector,
        limit,
    )
    assert [json.loads(row[0])["_key"] for row in rows] == [row[0] for row in exact]

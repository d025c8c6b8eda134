"""Random documents × random queries: PostgreSQL's answer == the reference MongoDB model."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgcube.query import Collection, compile_where
from tests.integration.query import reference
from tests.integration.query.support import create_collection
from tests.support.sync_pg import SyncPg

KEYS = ["a", "b", "c"]
PATHS = ["a", "b", "c", "a.b", "a.c", "b.a", "a.b.c"]
TEXT = st.text(alphabet="abAé%_ 1", max_size=4)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([1.0, 2.5, -0.5]),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)
DOCS = st.lists(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3), min_size=1, max_size=12)


def _condition() -> st.SearchStrategy[dict[str, Any]]:
    scalar_ops = st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"])
    text_ops = st.sampled_from(["$contains", "$icontains", "$startswith", "$endswith"])
    return st.one_of(
        st.builds(lambda o, v: {o: v}, scalar_ops, SCALARS),
        st.builds(lambda v: {"$eq": v}, VALUES),
        st.builds(
            lambda o, v: {o: v}, st.sampled_from(["$in", "$nin", "$all"]), st.lists(VALUES, max_size=3)
        ),
        st.builds(lambda v: {"$exists": v}, st.booleans()),
        st.builds(lambda v: {"$size": v}, st.integers(0, 3)),
        st.builds(lambda o, v: {o: v}, text_ops, st.text(alphabet="abAé%_", max_size=2)),
        st.builds(lambda v: {"$regex": v}, st.sampled_from(["^a", "b$", "(?i)A", "é", "a.b", "^$"])),
        st.builds(lambda lo, hi: {"$gte": lo, "$lte": hi}, st.integers(-3, 3), st.integers(-3, 3)),
        st.builds(lambda o, v: {"$elemMatch": {o: v}}, scalar_ops, SCALARS),
        st.builds(lambda k, v: {"$elemMatch": {k: v}}, st.sampled_from(KEYS), SCALARS),
    )


QUERIES = st.recursive(
    st.builds(lambda p, c: {p: c}, st.sampled_from(PATHS), _condition()),
    lambda inner: st.builds(
        lambda op, items: {op: items},
        st.sampled_from(["$and", "$or", "$nor"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=4,
)


@pytest.fixture(scope="module")
def table(pg: SyncPg, schema: str) -> Collection:
    return create_collection(pg, schema, "prop")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=DOCS, queries=st.lists(QUERIES, min_size=1, max_size=4))
def test_postgres_agrees_with_mongodb_model(
    pg: SyncPg, table: Collection, docs: list[dict[str, Any]], queries: list[dict[str, Any]]
) -> None:
    import json

    qualified = f'"{table.schema}"."{table.table}"'
    pg.execute(f"TRUNCATE {qualified}")
    rows = [{"k": f"d{i}", "d": d} for i, d in enumerate(docs)]
    pg.execute(
        f"INSERT INTO {qualified} (_key, data) SELECT r->>'k', r->'d' FROM jsonb_array_elements($1::jsonb) r",
        json.dumps(rows).encode(),
    )
    for query in queries:
        where = compile_where(table, query)
        got = {r["_key"] for r in pg.fetch(f"SELECT _key FROM {qualified} WHERE {where.sql}", *where.params)}
        expected = {f"d{i}" for i, d in enumerate(docs) if reference.matches(d, query)}
        assert got == expected, (query, docs)

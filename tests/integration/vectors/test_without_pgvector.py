"""A server whose PostgreSQL lacks pgvector (SPEC §13): every ``vdb.*`` op, aliases included, answers
501 ``FEATURE_UNAVAILABLE`` saying so — after the usual 404 for another tenant's database — and nothing
is made. Nothing falls back to a scan in Python. Where the server has pgvector, these skip."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pgcube.ops import REGISTRY
from tests.integration.vectors.support import VectorDb, new_vector_db
from tests.support.accounts import api_key_headers, create_api_key, new_account
from tests.support.end_users import signed_in, web_key
from tests.support.sync_pg import SyncPg

BODIES = {
    "vdb.insert": {"collection": "docs", "data": [{"content": "an entry"}]},
    "vdb.search": {"collection": "docs", "query": "an entry"},
    "vdb.delete": {"collection": "docs", "_key": "0" * 32},
}
VECTOR_OPS = sorted(name for name in REGISTRY.names() if REGISTRY.resolve(name)[0].vectors)


def body_of(name: str, **changes: Any) -> dict[str, Any]:
    return {"op": name, **BODIES[REGISTRY.resolve(name)[0].name], **changes}


@pytest.fixture
def without_pgvector(has_pgvector: bool) -> None:
    if has_pgvector:
        pytest.skip("this PostgreSQL has pgvector: the vdb.* ops work here (the other tests of this folder)")


@pytest.fixture
def db(client: httpx.Client, pg: SyncPg, without_pgvector: None) -> VectorDb:
    return new_vector_db(client, pg)


def test_every_vector_op_has_a_body() -> None:
    assert {REGISTRY.resolve(name)[0].name for name in VECTOR_OPS} == set(BODIES)
    assert {"vectordb.insert", "vectordb.search", "vectordb.delete"} <= set(VECTOR_OPS)


@pytest.mark.parametrize("name", VECTOR_OPS)
def test_every_vector_op_is_501_and_makes_nothing(db: VectorDb, name: str) -> None:
    catalog = db.catalog()
    bodies = [body_of(name)]
    if REGISTRY.resolve(name)[0].name == "vdb.search":  # a vector of its own: no embedder either
        bodies.append({"op": name, "collection": "docs", "vector": [0.1, 0.2]})
    for body in bodies:
        error = db.refused(body, 501, "FEATURE_UNAVAILABLE")
        assert "pgvector" in error["message"], error
        assert error["details"] == {"extension": "vector"}
    assert db.catalog() == catalog
    assert not db.pg.fetch(
        "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename LIKE '\\_vec\\_%'", db.schema
    )


@pytest.mark.parametrize("name", VECTOR_OPS)
def test_a_web_key_and_an_end_user_get_the_501_too(db: VectorDb, name: str) -> None:
    key = web_key(db.client, db.account, db.id)
    user = signed_in(db.pg, db.id)
    for headers in ({"X-API-KEY": key}, user.headers(key)):
        db.refused(body_of(name), 501, "FEATURE_UNAVAILABLE", headers)


@pytest.mark.parametrize("name", VECTOR_OPS)
def test_another_tenant_still_gets_404_first(
    db: VectorDb, client: httpx.Client, pg: SyncPg, name: str
) -> None:
    other = new_account(client, pg)
    for headers in (other.headers, api_key_headers(create_api_key(client, other))):
        error = db.refused(body_of(name), 404, "DATABASE_NOT_FOUND", headers)
        unknown = client.post(f"/api/{'0' * 24}", json=body_of(name), headers=headers)
        assert unknown.json() == {"error": error}


def test_bad_input_is_still_a_400_naming_the_field(db: VectorDb) -> None:
    """The body is judged first: a client learns what is wrong with it on any server."""
    error = db.refused(
        {"op": "vdb.search", "collection": "docs", "query": "x", "limit": 0}, 400, "VALIDATION_ERROR"
    )
    assert error["details"]["field"] == "limit"

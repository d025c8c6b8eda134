"""Bad input to every ``vdb.*`` op (SPEC §13, §3): a clear error in the DDO envelope — its status, its
code and a message with ``details.field`` naming what is wrong — and nothing written: the vector
tables and the catalog are as they were."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.vectors.support import VectorDb, new_vector_db, pgvector_installed
from tests.support.sync_pg import SyncPg

EXISTING = "kept"
"""The vector collection the module's database holds (256 dimensions, two entries)."""
FRESH = "fresh"
"""A name no collection has: a refused first insert must not make it."""
ONE = {"content": "a good entry"}

Case = tuple[str, dict[str, Any], int, str, str]
"""label, body, status, code, ``details.field``."""


def insert(collection: str | None = EXISTING, **body: Any) -> dict[str, Any]:
    return {"op": "vdb.insert", **({"collection": collection} if collection else {}), **body}


def search(collection: str | None = EXISTING, **body: Any) -> dict[str, Any]:
    return {"op": "vdb.search", **({"collection": collection} if collection else {}), **body}


def delete(collection: str | None = EXISTING, **body: Any) -> dict[str, Any]:
    return {"op": "vdb.delete", **({"collection": collection} if collection else {}), **body}


V256 = [0.1] * 256
BAD = "VALIDATION_ERROR"
CASES: list[Case] = [
    # vdb.insert
    ("insert: no collection", insert(None, data=[ONE]), 400, BAD, "collection"),
    ("insert: an empty collection name", insert("", data=[ONE]), 400, BAD, "collection"),
    ("insert: an invalid collection name", insert("Bad Name", data=[ONE]), 400, BAD, "collection"),
    ("insert: a name with a quote", insert('x"; DROP TABLE y; --', data=[ONE]), 400, BAD, "collection"),
    ("insert: a name too long for its table", insert("n" * 60, data=[ONE]), 400, BAD, "collection"),
    ("insert: no data", insert(), 400, BAD, "data"),
    ("insert: empty data", insert(data=[]), 400, BAD, "data"),
    ("insert: data not a list", insert(data=ONE), 400, BAD, "data"),
    ("insert: 1001 entries", insert(FRESH, data=[ONE] * 1001), 400, BAD, "data"),
    ("insert: an entry not an object", insert(data=[ONE, "text"]), 400, BAD, "data[1]"),
    ("insert: no content", insert(data=[{"metadata": {"a": 1}}]), 400, BAD, "data[0].content"),
    ("insert: content a number", insert(data=[{"content": 5}]), 400, BAD, "data[0].content"),
    (
        "insert: content an object for text",
        insert(data=[ONE, {"content": {"a": 1}}]),
        400,
        BAD,
        "data[1].content",
    ),
    ("insert: empty content", insert(FRESH, data=[{"content": ""}]), 400, BAD, "data[0].content"),
    ("insert: blank content", insert(data=[ONE, {"content": " \n\t "}]), 400, BAD, "data[1].content"),
    (
        "insert: html with no text",
        insert(data=[{"content": "<script>x()</script>", "content_type": "html"}]),
        400,
        BAD,
        "data[0].content",
    ),
    (
        "insert: an unknown content_type",
        insert(data=[{"content": "x", "content_type": "pdf"}]),
        400,
        BAD,
        "data[0].content_type",
    ),
    (
        "insert: metadata not an object",
        insert(data=[{"content": "x", "metadata": [1]}]),
        400,
        BAD,
        "data[0].metadata",
    ),
    (
        "insert: an unknown key of an entry",
        insert(data=[{"content": "x", "tags": ["a"]}]),
        400,
        BAD,
        "data[0].tags",
    ),
    ("insert: an unknown key of the body", insert(data=[ONE], upsert=True), 400, BAD, "upsert"),
    ("insert: an unknown option", insert(data=[ONE], options={"chunk": 9}), 400, BAD, "options.chunk"),
    (
        "insert: chunk_size under 50",
        insert(data=[ONE], options={"chunk_size": 49}),
        400,
        BAD,
        "options.chunk_size",
    ),
    (
        "insert: chunk_size over 8000",
        insert(data=[ONE], options={"chunk_size": 8001}),
        400,
        BAD,
        "options.chunk_size",
    ),
    (
        "insert: chunk_size not a number",
        insert(data=[ONE], options={"chunk_size": "big"}),
        400,
        BAD,
        "options.chunk_size",
    ),
    (
        "insert: chunk_overlap over half",
        insert(data=[ONE], options={"chunk_size": 100, "chunk_overlap": 51}),
        400,
        BAD,
        "options.chunk_overlap",
    ),
    (
        "insert: a negative chunk_overlap",
        insert(data=[ONE], options={"chunk_overlap": -1}),
        400,
        BAD,
        "options.chunk_overlap",
    ),
    (
        "insert: a vector of other dimensions",
        insert(data=[{"content": "x", "vector": [0.1] * 255}]),
        400,
        BAD,
        "data[0].vector",
    ),
    (
        "insert: a vector holding a string",
        insert(data=[{"content": "x", "vector": [0.1, "a"]}]),
        400,
        BAD,
        "data[0].vector[1]",
    ),
    (
        "insert: an empty vector",
        insert(FRESH, data=[{"content": "x", "vector": []}]),
        400,
        BAD,
        "data[0].vector",
    ),
    (
        "insert: a vector of a number out of range",
        insert(data=[{"content": "x", "vector": "1e400"}]),
        400,
        BAD,
        "data[0].vector[1]",
    ),
    (
        "insert: vectors of two lengths",
        insert(FRESH, data=[{"content": "x", "vector": [1, 2]}, {"content": "y", "vector": [1, 2, 3]}]),
        400,
        BAD,
        "data[1].vector",
    ),
    (
        "insert: a vector over 4000 dimensions",
        insert(FRESH, data=[{"content": "x", "vector": [0.5] * 4001}]),
        400,
        BAD,
        "data[0].vector",
    ),
    (
        "insert: a good entry, then a bad one",
        insert(data=[ONE, {"content": "x", "vector": [1.0]}]),
        400,
        BAD,
        "data[1].vector",
    ),
    # vdb.search
    ("search: no collection", search(None, query="x"), 400, BAD, "collection"),
    ("search: an invalid collection name", search("Bad Name", query="x"), 400, BAD, "collection"),
    ("search: neither query nor vector", search(), 400, BAD, "query"),
    ("search: an empty query", search(query=""), 400, BAD, "query"),
    ("search: a blank query", search(query="   "), 400, BAD, "query"),
    ("search: query not text", search(query=["x"]), 400, BAD, "query"),
    ("search: both query and vector", search(query="x", vector=V256), 400, BAD, "vector"),
    ("search: a vector of other dimensions", search(vector=[0.1] * 3), 400, BAD, "vector"),
    ("search: a vector holding a string", search(vector=["a", 0.1]), 400, BAD, "vector[0]"),
    ("search: an empty vector", search(vector=[]), 400, BAD, "vector"),
    ("search: a vector of a number out of range", search(vector="1e400"), 400, BAD, "vector[1]"),
    ("search: limit 0", search(query="x", limit=0), 400, BAD, "limit"),
    ("search: limit -1", search(query="x", limit=-1), 400, BAD, "limit"),
    ("search: limit 101", search(query="x", limit=101), 400, BAD, "limit"),
    ("search: limit 10000", search(query="x", limit=10000), 400, BAD, "limit"),
    ("search: top_k 0", search(query="x", top_k=0), 400, BAD, "limit"),
    ("search: limit and top_k", search(query="x", limit=5, top_k=5), 400, BAD, "top_k"),
    ("search: threshold over 1", search(query="x", threshold=1.5), 400, BAD, "threshold"),
    ("search: threshold under -1", search(query="x", threshold=-2), 400, BAD, "threshold"),
    ("search: threshold not a number", search(query="x", threshold="high"), 400, BAD, "threshold"),
    ("search: an unknown key", search(query="x", sort={"_score": -1}), 400, BAD, "sort"),
    ("search: match not an object", search(query="x", match=["a"]), 400, BAD, "match"),
    # vdb.delete
    ("delete: no collection", delete(None, _key="k"), 400, BAD, "collection"),
    ("delete: an invalid collection name", delete("Bad Name", _key="k"), 400, BAD, "collection"),
    ("delete: none of _key, _keys, doc_key, match", delete(), 400, BAD, "_key"),
    ("delete: _key and doc_key", delete(_key="k", doc_key="d"), 400, BAD, "_key"),
    ("delete: _keys and match", delete(_keys=["k"], match={"metadata.n": 1}), 400, BAD, "_key"),
    ("delete: an empty _key", delete(_key=""), 400, BAD, "_key"),
    ("delete: an empty doc_key", delete(doc_key=""), 400, BAD, "doc_key"),
    ("delete: empty _keys", delete(_keys=[]), 400, BAD, "_keys"),
    ("delete: _keys holding an empty key", delete(_keys=["k", ""]), 400, BAD, "_keys"),
    ("delete: _keys not a list", delete(_keys="k"), 400, BAD, "_keys"),
    ("delete: an empty match", delete(match={}), 400, BAD, "match"),
    ("delete: a match that holds for everything", delete(match={"$and": [{}]}), 400, BAD, "match"),
    ("delete: an unknown key", delete(_key="k", all=True), 400, BAD, "all"),
]
MATCH_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "search: an unknown operator",
        search(query="x", match={"metadata.n": {"$bogus": 1}}),
        "/match/metadata.n/$bogus",
    ),
    ("search: $in without a list", search(vector=V256, match={"metadata.n:$in": 1}), "/match/metadata.n:$in"),
    ("delete: an unknown operator", delete(match={"metadata.n": {"$near": 1}}), "/match/metadata.n/$near"),
]


@pytest.fixture(scope="module")
def db(module_client: httpx.Client, pg: SyncPg) -> VectorDb:
    if not pgvector_installed(pg):
        pytest.skip("this PostgreSQL has no pgvector: vdb.* answers 501 FEATURE_UNAVAILABLE here")
    made = new_vector_db(module_client, pg)
    made.insert(
        EXISTING, [{"content": "first entry", "metadata": {"n": 1}}, {"content": "second", "vector": V256}]
    )
    return made


def state(db: VectorDb) -> tuple[Any, ...]:
    return db.catalog(), db.rows(EXISTING), db.rows(FRESH)


def send(db: VectorDb, body: dict[str, Any]) -> httpx.Response:
    """``body`` as JSON; a ``"1e400"`` stands for that number, which Python's JSON cannot write."""
    raw = httpx.Request("POST", "/", json=body).content.replace(b'"1e400"', b"[0.5, 1e400]")
    return db.client.post(
        f"/api/{db.id}", content=raw, headers={**db.server_key, "Content-Type": "application/json"}
    )


@pytest.mark.parametrize(("label", "body", "status", "code", "field"), CASES, ids=[case[0] for case in CASES])
def test_refused_naming_the_field_and_nothing_written(
    db: VectorDb, label: str, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    before = state(db)
    response = send(db, body)
    assert response.status_code == status, response.text
    answer = response.json()
    assert set(answer) == {"error"}, answer
    error = answer["error"]
    assert error["code"] == code, error
    assert error["details"].get("field") == field, error
    assert error["message"], error
    assert state(db) == before


@pytest.mark.parametrize(("label", "body", "pointer"), MATCH_CASES, ids=[case[0] for case in MATCH_CASES])
def test_a_bad_match_is_an_invalid_query_and_nothing_written(
    db: VectorDb, label: str, body: dict[str, Any], pointer: str
) -> None:
    before = state(db)
    error = db.refused(body, 400, "INVALID_QUERY")
    assert error["details"]["pointer"] == pointer, error
    assert state(db) == before


@pytest.mark.parametrize("op", ["vdb.search", "vdb.delete", "vectordb.search", "vectordb.delete"])
def test_a_collection_that_does_not_exist_is_404(db: VectorDb, op: str) -> None:
    before = state(db)
    body = (
        {"op": op, "collection": "no_such", "query": "x"}
        if "search" in op
        else {"op": op, "collection": "no_such", "_key": "k"}
    )
    error = db.refused(body, 404, "COLLECTION_NOT_FOUND")
    assert error["details"] == {"collection": "no_such"}
    assert state(db) == before


def test_a_document_collection_is_not_a_vector_collection(db: VectorDb) -> None:
    """``items`` holds documents; ``vdb.search`` on that name looks for ``_vec_items``."""
    db.ok({"op": "collection.insert", "collection": "items", "data": {"content": "a document"}})
    before = state(db)
    db.refused({"op": "vdb.search", "collection": "items", "query": "document"}, 404, "COLLECTION_NOT_FOUND")
    assert state(db) == before

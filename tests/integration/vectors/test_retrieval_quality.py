"""Retrieval through the API with the default embedder (SPEC §13): the labelled set of
``tests/data/labelled_topics.json`` (10 topics × 20 texts, 50 paraphrased queries) inserted with
``vdb.insert``; a query's best hit is of its topic for at least 80 % of the queries, and a ``match``
that removes the best raw hits still answers ``limit`` rows (the iterative index scan)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.vectors.support import VectorDb, new_vector_db, pgvector_installed
from tests.support.sync_pg import SyncPg

LABELLED = json.loads((Path(__file__).parents[2] / "data" / "labelled_topics.json").read_text())
TOPICS: dict[str, list[str]] = LABELLED["topics"]
QUERIES: list[dict[str, Any]] = LABELLED["queries"]
LEAST_TOP1 = 0.8


@pytest.fixture(scope="module")
def labelled(module_client: httpx.Client, pg: SyncPg) -> VectorDb:
    if not pgvector_installed(pg):
        pytest.skip("this PostgreSQL has no pgvector: vdb.* answers 501 FEATURE_UNAVAILABLE here")
    db = new_vector_db(module_client, pg)
    entries = [
        {"content": text, "metadata": {"topic": topic}} for topic, texts in TOPICS.items() for text in texts
    ]
    inserted = db.insert("labelled", entries)
    assert len(inserted) == len(entries) == 200
    assert not any(entry["is_chunked"] for entry in inserted)
    return db


def test_the_set_is_what_the_tests_assume() -> None:
    assert len(TOPICS) == 10
    assert all(len(texts) == 20 for texts in TOPICS.values())
    assert len(QUERIES) == 50
    assert {query["topic"] for query in QUERIES} == set(TOPICS)


def test_the_best_hit_is_of_the_query_topic_for_most_queries(labelled: VectorDb) -> None:
    misses = []
    for query in QUERIES:
        [best] = labelled.search("labelled", query=query["query"], limit=1)
        if best["metadata"]["topic"] != query["topic"]:
            misses.append(
                f"{query['topic']}: {query['query']!r} -> {best['metadata']['topic']}: {best['content']!r}"
            )
    ratio = 1 - len(misses) / len(QUERIES)
    assert ratio >= LEAST_TOP1, f"top-1 topic accuracy {ratio:.0%}; misses:\n" + "\n".join(misses)


@pytest.mark.parametrize("query", QUERIES[::5], ids=lambda query: query["topic"])
def test_a_match_that_removes_the_best_hits_still_answers_limit_rows(
    labelled: VectorDb, query: dict[str, Any]
) -> None:
    [best] = labelled.search("labelled", query=query["query"], limit=1)
    topic = best["metadata"]["topic"]
    hits = labelled.search(
        "labelled", query=query["query"], limit=10, match={"metadata.topic": {"$ne": topic}}
    )
    assert len(hits) == 10
    assert topic not in {hit["metadata"]["topic"] for hit in hits}
    scores = [hit["_score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert best["_score"] >= scores[0]


@pytest.mark.parametrize("topic", list(TOPICS)[:3])
def test_a_match_selecting_one_topic_answers_limit_rows_of_it(labelled: VectorDb, topic: str) -> None:
    """20 rows of 200 pass the match; the query is of another topic, so the nearest rows do not."""
    other = next(query for query in QUERIES if query["topic"] != topic)
    hits = labelled.search("labelled", query=other["query"], limit=15, match={"metadata.topic": topic})
    assert len(hits) == 15
    assert {hit["metadata"]["topic"] for hit in hits} == {topic}
    everything = labelled.search("labelled", query=other["query"], limit=100, match={"metadata.topic": topic})
    assert len(everything) == 20
    assert hits == everything[:15]

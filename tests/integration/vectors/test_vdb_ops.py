"""The ``vdb.*`` ops over HTTP (SPEC §13): what ``vdb.insert`` answers and stores (chunks, HTML, JSON,
the client's own vectors, the collection it makes), what ``vdb.search`` finds (scores, order, limit,
threshold, match) and what ``vdb.delete`` removes; the ``vectordb.*`` aliases; the 409 and the 400 of
vectors that do not fit the collection."""

from __future__ import annotations

import itertools
import json
import math
import random
import re

import pytest

from tests.integration.vectors.support import VectorDb

KEY = re.compile(r"[0-9a-f]{32}")
INSERT_ANSWER = {"_key", "content", "is_chunked", "doc_key", "chunk_index", "metadata"}
WORDS = [f"w{i:05d}x" for i in range(60)]
"""60 words of 7 characters: a window of 100 characters holds 12 of them (95 characters)."""


def vectors(count: int, dimensions: int = 8, seed: int = 1) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) for _ in range(dimensions)] for _ in range(count)]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def stored_vector(text: str) -> list[float]:
    """pgvector's text form of a vector, ``[1,2.5,...]``, as floats."""
    parsed: list[float] = json.loads(text)
    return parsed


# --- vdb.insert ----------------------------------------------------------------------------------


def test_insert_answers_one_entry_per_chunk_and_stores_it(vdb: VectorDb) -> None:
    answer = vdb.ok(
        {
            "op": "vdb.insert",
            "collection": "notes",
            "data": [
                {
                    "content": "The cat sleeps on the windowsill.",
                    "metadata": {"tag": "pets"},
                    "filename": "a.txt",
                },
                {"content": "Mortgage rates rose again."},
            ],
        }
    )
    entries = answer["data"]
    assert answer["meta"]["count"] == 2
    assert [set(entry) for entry in entries] == [INSERT_ANSWER, INSERT_ANSWER]
    assert [entry["content"] for entry in entries] == [
        "The cat sleeps on the windowsill.",
        "Mortgage rates rose again.",
    ]
    assert [entry["metadata"] for entry in entries] == [{"tag": "pets"}, {}]
    assert all(not e["is_chunked"] and e["chunk_index"] == 0 for e in entries)
    assert all(KEY.fullmatch(e["_key"]) and KEY.fullmatch(e["doc_key"]) for e in entries)
    assert len({e["doc_key"] for e in entries}) == 2
    rows = {row[0]: json.loads(row[4]) for row in vdb.rows("notes")}
    assert set(rows) == {e["_key"] for e in entries}
    first = rows[entries[0]["_key"]]
    assert first == {
        "content": "The cat sleeps on the windowsill.",
        "content_type": "text",
        "filename": "a.txt",
        "metadata": {"tag": "pets"},
        "doc_key": entries[0]["doc_key"],
        "chunk_index": 0,
    }
    embeddings = [stored_vector(row[5]) for row in vdb.rows("notes")]
    assert all(len(vector) == 256 for vector in embeddings)  # the local embedder's


def test_long_text_is_cut_into_overlapping_windows_at_whitespace(vdb: VectorDb) -> None:
    text = " ".join(WORDS)
    entries = vdb.insert(
        "chunked", [{"content": text, "metadata": {"m": 1}}], chunk_size=100, chunk_overlap=30
    )
    # 12 words a window; the words in its last 30 characters (3) begin the next: 9 new words a window.
    assert len(entries) == 7
    assert [e["chunk_index"] for e in entries] == list(range(7))
    assert len({e["doc_key"] for e in entries}) == 1
    assert all(e["is_chunked"] and e["metadata"] == {"m": 1} for e in entries)
    windows = [e["content"].split(" ") for e in entries]
    assert all(len(e["content"]) <= 100 for e in entries)
    for words in windows:  # whole words, in the text's order: cut at whitespace
        start = WORDS.index(words[0])
        assert words == WORDS[start : start + len(words)]
    for before, after in itertools.pairwise(windows):
        assert before[-3:] == after[:3]  # the overlap
    assert windows[0][0] == WORDS[0]
    assert windows[-1][-1] == WORDS[-1]
    assert len(vdb.rows("chunked")) == 7


def test_a_word_longer_than_a_window_is_cut_inside(vdb: VectorDb) -> None:
    entries = vdb.insert("long", [{"content": "x" * 130 + " tail"}], chunk_size=50, chunk_overlap=0)
    assert all(len(e["content"]) <= 50 for e in entries)
    assert "".join(e["content"].replace(" ", "") for e in entries) == "x" * 130 + "tail"


def test_html_is_turned_into_text_without_scripts_or_styles(vdb: VectorDb) -> None:
    markup = (
        "<html><head><style>p { color: red }</style><script>alert('stolen')</script></head>"
        "<body><h1>Garden notes</h1><p>Water the <b>tomatoes</b> at dawn &amp; dusk.</p>"
        "<noscript>enable scripts</noscript></body></html>"
    )
    [entry] = vdb.insert("pages", [{"content": markup, "content_type": "html"}])
    assert "Garden notes" in entry["content"]
    assert "Water the tomatoes at dawn & dusk." in entry["content"]
    for gone in ("<", "alert", "stolen", "color", "enable scripts"):
        assert gone not in entry["content"], entry["content"]
    [row] = vdb.rows("pages")
    assert json.loads(row[4])["content_type"] == "html"


def test_json_content_is_embedded_as_its_json_text(vdb: VectorDb) -> None:
    document = {"title": "Weekly report", "figures": [1, 2.5], "ok": True}
    entries = vdb.insert(
        "records",
        [
            {"content": document, "content_type": "json"},
            {"content": '{"already": "text"}', "content_type": "json"},
        ],
    )
    assert json.loads(entries[0]["content"]) == document
    assert entries[1]["content"] == '{"already": "text"}'


def test_an_own_vector_skips_the_embedder(vdb: VectorDb) -> None:
    """Three dimensions: the collection is made with the client's vectors, never the embedder's 256."""
    entries = vdb.insert(
        "own", [{"content": "first", "vector": [1, 0, 0]}, {"content": "second", "vector": [0, 0.6, 0.8]}]
    )
    assert [e["content"] for e in entries] == ["first", "second"]
    assert {tuple(stored_vector(row[5])) for row in vdb.rows("own")} == {(1.0, 0.0, 0.0), (0.0, 0.6, 0.8)}
    assert vdb.metadata("own")["vectors"]["dimensions"] == 3  # type: ignore[index]
    hits = vdb.search("own", vector=[0, 0.6, 0.8])
    assert [h["content"] for h in hits] == ["second", "first"]
    assert hits[0]["_score"] == pytest.approx(1.0, abs=1e-6)
    # A text query is embedded with 256 dimensions: not this collection's.
    error = vdb.refused({"op": "vdb.search", "collection": "own", "query": "first"}, 400, "VALIDATION_ERROR")
    assert error["details"] == {"field": "vector", "dimensions": 3}


def test_the_first_insert_makes_the_collection_with_its_hnsw_index_and_embedder(vdb: VectorDb) -> None:
    assert vdb.metadata("made") is None
    vdb.insert("made", [{"content": "the first entry makes the collection"}])
    described = vdb.metadata("made")
    assert described is not None
    embedder = described["vectors"]["embedder"]
    assert embedder.startswith("local/")
    assert described["vectors"]["dimensions"] == 256
    assert described["access"] == {"read": "none", "write": "none"}
    methods = {(index["method"], tuple(index["fields"])) for index in described["indexes"]}
    assert {("hnsw", ("embedding",)), ("gin", ("data",)), ("btree", ("_key",))} <= methods
    indexdefs = [
        row[0]
        for row in vdb.pg.fetch(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = '_vec_made'", vdb.schema
        )
    ]
    assert any("USING hnsw (embedding vector_cosine_ops)" in d for d in indexdefs), indexdefs
    column = vdb.pg.fetchval(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = format('%I.%I', $1::text, '_vec_made')::regclass AND attname = 'embedding'",
        vdb.schema,
    )
    assert column == "vector(256)"
    catalog = vdb.pg.fetchrow(
        "SELECT vector_embedder, vector_dimensions FROM pgcube.collections WHERE database_id = $1 AND name = $2",
        vdb.id,
        "_vec_made",
    )
    assert tuple(catalog) == (embedder, 256)
    assert (
        vdb.ok({"op": "vdb.search", "collection": "made", "query": "entry"})["meta"]["embedder"] == embedder
    )
    # A second insert adds to it.
    vdb.insert("made", [{"content": "a second entry"}])
    assert len(vdb.rows("made")) == 2
    assert vdb.metadata("made") == described


# --- vdb.search ----------------------------------------------------------------------------------


def test_search_by_text_ranks_the_closest_meaning_first(vdb: VectorDb) -> None:
    vdb.insert(
        "mixed",
        [
            {
                "content": "Preheat the oven and knead the bread dough until it is smooth.",
                "metadata": {"t": "food"},
            },
            {
                "content": "The striker scored twice in the second half of the match.",
                "metadata": {"t": "sport"},
            },
            {
                "content": "Back up your laptop before installing the operating system update.",
                "metadata": {"t": "it"},
            },
        ],
    )
    answer = vdb.ok({"op": "vdb.search", "collection": "mixed", "query": "baking a loaf at home"})
    hits = answer["data"]
    assert hits[0]["metadata"] == {"t": "food"}, hits
    assert answer["meta"]["count"] == len(hits) == 3
    assert answer["meta"]["embedder"].startswith("local/")
    scores = [h["_score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert {
        "_key",
        "_userkey",
        "_created_at",
        "_modified_at",
        "content",
        "doc_key",
        "chunk_index",
        "metadata",
    } <= set(hits[0])


def test_scores_are_one_minus_the_cosine_distance_best_first(vdb: VectorDb) -> None:
    stored = vectors(20)
    vdb.insert("scored", [{"content": f"entry {i}", "vector": v} for i, v in enumerate(stored)])
    query = vectors(1, seed=99)[0]
    hits = vdb.search("scored", vector=query, limit=20)
    expected = sorted(((cosine(query, v), f"entry {i}") for i, v in enumerate(stored)), reverse=True)
    assert [h["content"] for h in hits] == [content for _, content in expected]
    assert [h["_score"] for h in hits] == pytest.approx([score for score, _ in expected], abs=1e-5)


def test_limit_and_top_k(vdb: VectorDb) -> None:
    stored = vectors(15)
    vdb.insert("limited", [{"content": f"entry {i}", "vector": v} for i, v in enumerate(stored)])
    query = stored[0]
    everything = vdb.search("limited", vector=query, limit=100)
    assert len(everything) == 15
    assert len(vdb.search("limited", vector=query)) == 10  # the default
    assert vdb.search("limited", vector=query, limit=4) == everything[:4]
    assert vdb.search("limited", vector=query, top_k=3) == everything[:3]
    assert len(vdb.search("limited", vector=query, limit=1)) == 1


def test_a_threshold_drops_the_weaker_hits(vdb: VectorDb) -> None:
    stored = vectors(12)
    vdb.insert("thresholds", [{"content": f"entry {i}", "vector": v} for i, v in enumerate(stored)])
    query = vectors(1, seed=5)[0]
    everything = vdb.search("thresholds", vector=query, limit=100)
    scores = [h["_score"] for h in everything]
    cut = (scores[3] + scores[4]) / 2
    assert vdb.search("thresholds", vector=query, limit=100, threshold=cut) == everything[:4]
    assert vdb.search("thresholds", vector=query, threshold=1) == []
    assert vdb.search("thresholds", vector=query, limit=100, threshold=-1) == everything


def test_match_filters_on_metadata_doc_key_and_content_type(vdb: VectorDb) -> None:
    stored = vectors(6)
    entries = vdb.insert(
        "filtered",
        [
            {"content": "a", "vector": stored[0], "metadata": {"tags": ["red", "big"], "n": 1}},
            {"content": "b", "vector": stored[1], "metadata": {"tags": ["blue"], "n": 2}},
            {"content": "c", "vector": stored[2], "metadata": {"tags": ["red"], "n": 3}},
            {"content": "<p>d</p>", "vector": stored[3], "content_type": "html", "metadata": {"n": 4}},
            {"content": "e", "vector": stored[4], "content_type": "markdown", "metadata": {"n": 5}},
            {"content": "f", "vector": stored[5]},
        ],
    )

    def found(match: dict[str, object]) -> set[str]:
        return {h["content"] for h in vdb.search("filtered", vector=stored[5], limit=100, match=match)}

    assert found({"metadata.tags:$in": ["red"]}) == {"a", "c"}
    assert found({"metadata": {"tags": {"$includes": "blue"}}}) == {"b"}
    assert found({"metadata.n": {"$gte": 3}}) == {"c", "d", "e"}
    assert found({"doc_key": entries[1]["doc_key"]}) == {"b"}
    assert found({"content_type": "html"}) == {"d"}
    assert found({"content_type:$in": ["html", "markdown"], "metadata.n:$lt": 5}) == {"d"}
    assert found({"$or": [{"metadata.n": 1}, {"content": "f"}]}) == {"a", "f"}
    assert found({"metadata.tags:$in": ["green"]}) == set()


# --- vdb.delete ----------------------------------------------------------------------------------


def test_delete_by_key_keys_doc_key_and_match(vdb: VectorDb) -> None:
    stored = vectors(6, dimensions=256)
    entries = vdb.insert(
        "removing",
        [{"content": f"entry {i}", "vector": v, "metadata": {"n": i}} for i, v in enumerate(stored)],
    )
    chunked = vdb.insert("removing", [{"content": " ".join(WORDS), "metadata": {"n": 99}}], chunk_size=100)
    keys = [e["_key"] for e in entries]

    def remaining() -> set[str]:
        return {row[0] for row in vdb.rows("removing")}

    assert vdb.delete("removing", _key=keys[0]) == 1
    assert keys[0] not in remaining()
    assert vdb.delete("removing", _keys=keys[1:3]) == 2
    assert not remaining() & set(keys[:3])
    assert vdb.delete("removing", doc_key=chunked[0]["doc_key"]) == len(chunked) > 1
    assert not remaining() & {c["_key"] for c in chunked}
    assert vdb.delete("removing", match={"metadata.n:$gte": 4}) == 2
    assert remaining() == {keys[3]}
    assert vdb.delete("removing", _key=keys[0]) == 0  # gone already
    assert vdb.delete("removing", match={"metadata.n": 12345}) == 0
    assert remaining() == {keys[3]}


@pytest.mark.parametrize("match", [{}, {"$and": [{}]}, {"$or": [{}]}])
def test_a_delete_that_names_nothing_is_refused(vdb: VectorDb, match: dict[str, object]) -> None:
    vdb.insert("kept", [{"content": "kept", "vector": [1, 2]}])
    before = vdb.rows("kept")
    error = vdb.refused({"op": "vdb.delete", "collection": "kept", "match": match}, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "match"
    assert vdb.rows("kept") == before


# --- the aliases, the embedder, the dimensions ---------------------------------------------------


def test_vectors_of_two_lengths_in_a_first_insert_name_the_entry(vdb: VectorDb) -> None:
    body = {
        "op": "vdb.insert",
        "collection": "first",
        "data": [
            {"content": " ".join(WORDS)},
            {"content": "fits", "vector": [0.1] * 256},
            {"content": "does not", "vector": [0.1] * 3},
        ],
        "options": {"chunk_size": 100},
    }
    error = vdb.refused(body, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "data[2].vector", error
    assert vdb.metadata("first") is None
    assert vdb.rows("first") == []


def test_the_vectordb_aliases_are_the_same_ops(vdb: VectorDb) -> None:
    inserted = vdb.ok(
        {"op": "vectordb.insert", "collection": "aliased", "data": [{"content": "x", "vector": [1, 0]}]}
    )["data"]
    assert [set(e) for e in inserted] == [INSERT_ANSWER]
    searched = vdb.ok({"op": "vectordb.search", "collection": "aliased", "vector": [1, 0]})
    assert [h["_key"] for h in searched["data"]] == [inserted[0]["_key"]]
    assert searched["meta"]["count"] == 1
    by_action = vdb.ok({"action": "vectordb.search", "collection": "aliased", "vector": [0, 1], "limit": 1})
    assert by_action["data"][0]["_key"] == inserted[0]["_key"]
    deleted = vdb.ok({"op": "vectordb.delete", "collection": "aliased", "_key": inserted[0]["_key"]})
    assert deleted["data"] == {"count": 1}
    assert vdb.rows("aliased") == []


def test_text_for_a_collection_of_another_embedder_is_a_409(vdb: VectorDb) -> None:
    """The catalog says another model made the vectors: text cannot be compared with them (409);
    a client's own vectors of the right dimensions still can."""
    [entry] = vdb.insert("foreign", [{"content": "made by another model"}])
    vdb.pg.execute(
        "UPDATE pgcube.collections SET vector_embedder = 'openai/text-embedding-3-small' "
        "WHERE database_id = $1 AND name = '_vec_foreign'",
        vdb.id,
    )
    before = vdb.rows("foreign")
    error = vdb.refused(
        {"op": "vdb.search", "collection": "foreign", "query": "model"}, 409, "EMBEDDER_MISMATCH"
    )
    assert error["details"]["collection_embedder"] == "openai/text-embedding-3-small"
    assert error["details"]["server_embedder"].startswith("local/")
    vdb.refused(
        {"op": "vdb.insert", "collection": "foreign", "data": [{"content": "more text"}]},
        409,
        "EMBEDDER_MISMATCH",
    )
    assert vdb.rows("foreign") == before
    own = stored_vector(before[0][5])
    answer = vdb.ok({"op": "vdb.search", "collection": "foreign", "vector": own})
    assert [h["_key"] for h in answer["data"]] == [entry["_key"]]
    assert answer["meta"]["embedder"] == "openai/text-embedding-3-small"
    vdb.insert("foreign", [{"content": "with its own vector", "vector": own}])
    assert len(vdb.rows("foreign")) == 2


def test_vectors_of_other_dimensions_are_a_400(vdb: VectorDb) -> None:
    vdb.insert("sized", [{"content": "256 dimensions"}])
    before = vdb.rows("sized")
    for body, field in (
        ({"op": "vdb.search", "collection": "sized", "vector": [0.5] * 255}, "vector"),
        ({"op": "vdb.search", "collection": "sized", "vector": [0.5] * 257}, "vector"),
        (
            {"op": "vdb.insert", "collection": "sized", "data": [{"content": "x", "vector": [1.0, 2.0]}]},
            "data[0].vector",
        ),
        (
            {
                "op": "vdb.insert",
                "collection": "sized",
                "data": [
                    {"content": "fits", "vector": [0.1] * 256},
                    {"content": "does not", "vector": [0.1] * 3},
                ],
            },
            "data[1].vector",
        ),
        (  # the field names the entry, not the chunk: the first entry is cut into several
            {
                "op": "vdb.insert",
                "collection": "sized",
                "data": [{"content": " ".join(WORDS)}, {"content": "does not", "vector": [0.1] * 3}],
                "options": {"chunk_size": 100},
            },
            "data[1].vector",
        ),
    ):
        error = vdb.refused(body, 400, "VALIDATION_ERROR")
        assert error["details"]["field"] == field, error
        assert "dimensions" in error["message"]
    assert vdb.rows("sized") == before

"""The embedders of SPEC §13: the local WordLlama model, the OpenAI answer parser, and none."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pgcube
from pgcube.ai import embedders
from pgcube.ai.embedders import LOCAL_BATCH, LocalEmbedder, NoEmbedder, _unit_vectors
from pgcube.errors import AiNotConfigured, AiProviderError, ValidationError

LABELLED = Path(__file__).resolve().parents[2] / "data" / "labelled_topics.json"
SOURCE_ROOT = Path(pgcube.__file__).resolve().parents[1]


def embed(embedder: Any, texts: Sequence[str]) -> np.ndarray:
    return np.array(asyncio.run(embedder.embed(texts)))


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    embedder = LocalEmbedder()
    embed(embedder, ["load the model once for this module"])
    return embedder


@pytest.fixture(scope="module")
def labelled() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(LABELLED.read_text(encoding="utf-8"))
    return data


def run_python(script: str) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter (this pgcube, HF_HUB_OFFLINE unset); its last line is JSON."""
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE_ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    last: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return last


# --- LocalEmbedder ---------------------------------------------------------------------------


def test_local_vectors_have_256_dimensions_and_unit_length(local: LocalEmbedder) -> None:
    vectors = embed(local, ["Water the tomatoes twice a week.", "Refactor long functions.", "ok"])

    assert vectors.shape == (3, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert local.name == "local/wordllama-l2-supercat-256"


@pytest.mark.parametrize(
    ("anchor", "similar", "unrelated"),
    [
        (
            "The cat sat on the warm windowsill in the sun.",
            "A kitten was lying on the sunny window ledge.",
            "Quarterly tax returns are due at the end of April.",
        ),
        (
            "How do I reset my router password?",
            "What is the wifi admin login for my modem?",
            "The cat sat on the warm windowsill in the sun.",
        ),
        (
            "The striker scored a late goal to win the match.",
            "A last-minute header gave the team victory.",
            "Simmer the soup for twenty minutes.",
        ),
    ],
)
def test_similar_sentences_score_higher_than_unrelated_ones(
    local: LocalEmbedder, anchor: str, similar: str, unrelated: str
) -> None:
    a, s, u = embed(local, [anchor, similar, unrelated])

    assert float(a @ s) > float(a @ u) + 0.1


def test_outputs_follow_the_order_of_the_inputs_across_batches(
    local: LocalEmbedder, labelled: dict[str, Any]
) -> None:
    texts = [text for items in labelled["topics"].values() for text in items]
    texts += [query["query"] for query in labelled["queries"]]
    texts += [f"Reminder: {text}" for text in texts[:60]]
    assert len(texts) > LOCAL_BATCH

    forward = embed(local, texts)
    backward = embed(local, texts[::-1])[::-1]

    assert np.allclose(forward, backward, atol=1e-6)
    for position in (0, 1, LOCAL_BATCH - 1, LOCAL_BATCH, len(texts) - 1):
        alone = embed(local, [texts[position]])[0]
        assert np.allclose(forward[position], alone, atol=1e-6), position
    assert len({tuple(np.round(row, 6)) for row in forward}) == len(texts)


def test_a_text_without_known_tokens_is_a_validation_error_not_nan(local: LocalEmbedder) -> None:
    with pytest.raises(ValidationError) as raised:
        embed(local, ["A readable sentence.", ""])

    assert raised.value.details == {"index": 1}


def test_concurrent_first_uses_load_the_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = []

    def counted_load() -> Any:
        loads.append(1)
        return real_load()

    real_load = embedders.load_wordllama
    monkeypatch.setattr(embedders, "load_wordllama", counted_load)
    embedder = LocalEmbedder()

    async def three_at_once() -> list[list[list[float]]]:
        return await asyncio.gather(*(embedder.embed([f"text {i}"]) for i in range(3)))

    answers = asyncio.run(three_at_once())

    assert len(loads) == 1
    assert [len(answer) for answer in answers] == [1, 1, 1]


@pytest.mark.slow
def test_loading_and_embedding_never_touch_the_network() -> None:
    out = run_python(
        """
        import asyncio, json, os, socket

        assert "HF_HUB_OFFLINE" not in os.environ
        attempts = []

        def refuse(*args, **kwargs):
            attempts.append(repr(args)[:80])
            raise OSError("the network is off in this test")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        try:
            socket.create_connection(("127.0.0.1", 9))
        except OSError:
            pass
        guard_works = attempts == ["(('127.0.0.1', 9),)"]
        attempts.clear()

        from pgcube.ai.embedders import LocalEmbedder

        vectors = asyncio.run(LocalEmbedder().embed(["Works offline on a laptop."]))
        print(json.dumps({"guard_works": guard_works, "attempts": attempts, "dimensions": len(vectors[0])}))
        """
    )

    assert out == {"guard_works": True, "attempts": [], "dimensions": 256}


@pytest.mark.slow
def test_importing_and_loading_leave_the_root_logger_as_it_was() -> None:
    out = run_python(
        """
        import json, logging

        root = logging.getLogger()
        before = [list(map(repr, root.handlers)), root.level]

        from pgcube.ai.embedders import load_wordllama

        load_wordllama()
        import wordllama  # already imported by the load: proves the load is what ran it

        after = [list(map(repr, root.handlers)), root.level]
        print(json.dumps({"before": before, "after": after}))
        """
    )

    assert out["before"] == out["after"] == [[], 30]


def test_paraphrased_queries_find_a_text_of_their_topic_first(
    local: LocalEmbedder, labelled: dict[str, Any]
) -> None:
    """The labelled set's bar (SPEC §13's default embedder): top-1 topic for at least 80 % of the queries."""
    topics = [topic for topic, items in labelled["topics"].items() for _ in items]
    texts = [text for items in labelled["topics"].values() for text in items]
    queries = labelled["queries"]

    best = (embed(local, [q["query"] for q in queries]) @ embed(local, texts).T).argmax(axis=1)
    hits = sum(topics[found] == query["topic"] for query, found in zip(queries, best, strict=True))

    assert hits / len(queries) >= 0.8


def test_the_labelled_set_is_ten_topics_of_twenty_texts_and_five_paraphrases(
    labelled: dict[str, Any],
) -> None:
    topics = labelled["topics"]
    assert len(topics) == 10
    assert all(len(items) == 20 for items in topics.values())
    assert all(10 <= len(text.split()) <= 30 for items in topics.values() for text in items)
    assert len({text for items in topics.values() for text in items}) == 200
    per_topic = {topic: [q for q in labelled["queries"] if q["topic"] == topic] for topic in topics}
    assert all(len(queries) == 5 for queries in per_topic.values())
    assert sum(len(queries) for queries in per_topic.values()) == len(labelled["queries"])
    for topic, queries in per_topic.items():
        assert len({q["paraphrases"] for q in queries}) == 5, topic
        assert all(0 <= q["paraphrases"] < 20 and q["query"].strip() for q in queries), topic


# --- the OpenAI-compatible answer ------------------------------------------------------------


def answer(*items: dict[str, Any]) -> dict[str, Any]:
    return {"object": "list", "data": list(items), "model": "m"}


def test_vectors_come_back_in_input_order_whatever_the_order_of_the_answer() -> None:
    got = _unit_vectors(
        answer(
            {"index": 2, "embedding": [0.0, 0.0, 1.0]},
            {"index": 0, "embedding": [1.0, 0.0, 0.0]},
            {"index": 1, "embedding": [0.0, 1.0, 0.0]},
        ),
        3,
    )

    assert got == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def test_items_without_an_index_keep_their_place() -> None:
    assert _unit_vectors(answer({"embedding": [0.0, 2.0]}, {"embedding": [5.0, 0.0]}), 2) == [
        [0.0, 1.0],
        [1.0, 0.0],
    ]


def test_vectors_are_scaled_to_unit_length() -> None:
    got = _unit_vectors(
        answer({"index": 0, "embedding": [3, 4]}, {"index": 1, "embedding": [-0.002, 0.0]}), 2
    )

    assert got[0] == pytest.approx([0.6, 0.8])
    assert got[1] == pytest.approx([-1.0, 0.0])
    assert all(math.isclose(math.hypot(*vector), 1.0) for vector in got)


@pytest.mark.parametrize(
    "body",
    [
        answer({"index": 0, "embedding": [1.0]}),
        answer(
            {"index": 0, "embedding": [1.0]},
            {"index": 1, "embedding": [1.0]},
            {"index": 2, "embedding": [1.0]},
        ),
        {"data": "not a list"},
        {"error": {"message": "no data"}},
    ],
    ids=["one-too-few", "one-too-many", "data-not-a-list", "no-data"],
)
def test_a_wrong_number_of_vectors_is_a_provider_error(body: dict[str, Any]) -> None:
    with pytest.raises(AiProviderError, match="different number"):
        _unit_vectors(body, 2)


@pytest.mark.parametrize(
    "indexes", [(0, 0), (1, 1), (0, 2), (1, 2), (-1, 0)], ids=["dup-0", "dup-1", "gap", "from-1", "negative"]
)
def test_indexes_other_than_each_position_once_are_a_provider_error(indexes: tuple[int, int]) -> None:
    first, second = indexes
    with pytest.raises(AiProviderError, match="numbers its vectors"):
        _unit_vectors(
            answer({"index": first, "embedding": [1.0, 0.0]}, {"index": second, "embedding": [0.0, 1.0]}), 2
        )


def test_vectors_of_mixed_lengths_are_a_provider_error() -> None:
    with pytest.raises(AiProviderError, match="different lengths"):
        _unit_vectors(
            answer({"index": 0, "embedding": [1.0, 0.0]}, {"index": 1, "embedding": [1.0, 0.0, 0.0]}), 2
        )


def test_empty_vectors_are_a_provider_error() -> None:
    with pytest.raises(AiProviderError, match="empty"):
        _unit_vectors(answer({"index": 0, "embedding": []}), 1)


@pytest.mark.parametrize(
    "vector",
    [[0.0, 0.0, 0.0], [float("nan"), 1.0], [float("inf"), 0.0], [1e200, 1e200]],
    ids=["zero", "nan", "inf", "overflowing-norm"],
)
def test_a_zero_or_non_finite_vector_is_a_provider_error(vector: list[float]) -> None:
    with pytest.raises(AiProviderError, match="zero or invalid"):
        _unit_vectors(answer({"index": 0, "embedding": vector}), 1)


@pytest.mark.parametrize(
    "item",
    [
        {"index": 0, "embedding": [0.1, "high"]},
        {"index": 0, "embedding": [0.1, None]},
        {"index": 0, "embedding": [0.1, [0.2]]},
        {"index": 0, "embedding": "34"},
        {"index": 0, "embedding": None},
        {"index": 0},
        {"index": "first", "embedding": [1.0]},
        [0.6, 0.8],
    ],
    ids=["word", "null", "nested", "string", "null-embedding", "no-embedding", "word-index", "bare-list"],
)
def test_an_answer_without_numeric_vectors_is_a_provider_error(item: Any) -> None:
    with pytest.raises(AiProviderError, match="holds no vectors"):
        _unit_vectors(answer(item), 1)


# --- NoEmbedder -------------------------------------------------------------------------------


def test_no_embedder_answers_ai_not_configured_naming_the_setting() -> None:
    with pytest.raises(AiNotConfigured) as raised:
        asyncio.run(NoEmbedder().embed(["any text"]))

    assert raised.value.status == 501
    assert raised.value.code == "AI_NOT_CONFIGURED"
    assert "PGCUBE_EMBEDDER" in raised.value.details["settings"]

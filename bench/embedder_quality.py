"""``python -m bench.embedder_quality``: how well the local embedder retrieves, on the labelled set.

Embeds the 200 texts and 50 paraphrased queries of ``tests/data/labelled_topics.json``
with ``LocalEmbedder`` (SPEC §13's default) and ranks the texts by cosine
similarity, as ``vdb.search`` does without the database. Prints top-1 topic
accuracy (the best text is of the query's topic), top-1 exact text (it is the
text the query paraphrases), and each query that misses its topic.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np

from pgcube.ai.embedders import LocalEmbedder

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "labelled_topics.json"


async def main() -> None:
    labelled = json.loads(DATA.read_text(encoding="utf-8"))
    texts = [
        (topic, index, text)
        for topic, items in labelled["topics"].items()
        for index, text in enumerate(items)
    ]
    queries = labelled["queries"]
    embedder = LocalEmbedder()
    text_vectors = np.array(await embedder.embed([text for _, _, text in texts]))
    query_vectors = np.array(await embedder.embed([query["query"] for query in queries]))
    best = (query_vectors @ text_vectors.T).argmax(axis=1)  # unit vectors: the dot is the cosine
    topic_hits = exact_hits = 0
    misses = []
    for query, found in zip(queries, best, strict=True):
        topic, index, text = texts[found]
        topic_hits += topic == query["topic"]
        exact_hits += (topic, index) == (query["topic"], query["paraphrases"])
        if topic != query["topic"]:
            misses.append(f"  [{query['topic']}] {query['query']}\n    -> [{topic}] {text}")
    print(f"embedder: {embedder.name}; {len(texts)} texts, {len(queries)} queries")
    print(f"top-1 topic accuracy: {topic_hits}/{len(queries)} = {topic_hits / len(queries):.0%}")
    print(f"top-1 exact text:     {exact_hits}/{len(queries)} = {exact_hits / len(queries):.0%}")
    if misses:
        print("queries whose best text is of another topic:")
        print("\n".join(misses))


if __name__ == "__main__":
    asyncio.run(main())

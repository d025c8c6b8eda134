"""What turns text into vectors (SPEC §13): one small interface, three kinds.

* ``LocalEmbedder`` — WordLlama's 256-dimension static embeddings, whose weights
  and tokenizer ship inside its wheel: loaded from the package's own folder with
  downloads turned off, on first use, in a worker thread (ADR 0023).
* ``OpenAIEmbedder`` — any OpenAI-compatible ``POST /embeddings``.
* ``NoEmbedder`` — vectors only: asked to embed, it answers 501 ``AI_NOT_CONFIGURED``.

Every embedder has a ``name`` that a vector collection records when it is made
(inserting or searching by text with another is 409 ``EMBEDDER_MISMATCH``) and
answers unit-length vectors, so cosine distance is what the HNSW index ranks by.
"""

from __future__ import annotations

import asyncio
import logging
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread

from pgcube.ai.http import OpenAICompatible
from pgcube.errors import AiNotConfigured, AiProviderError, ValidationError

LOCAL_MODEL = "wordllama-l2-supercat-256"
LOCAL_DIMENSIONS = 256
LOCAL_BATCH = 256
"""Texts per call into WordLlama (it pads a batch to its longest text)."""


class Embedder(Protocol):
    name: str
    """What made a collection's vectors: ``local/<model>``, ``openai/<model>`` or ``none``."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order."""
        ...


class NoEmbedder:
    name = "none"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise AiNotConfigured(
            "No embedder is configured (PGCUBE_EMBEDDER=none): send vectors, or set PGCUBE_EMBEDDER "
            "to local or openai",
            details={"settings": ["PGCUBE_EMBEDDER", "PGCUBE_EMBED_BASE_URL", "PGCUBE_EMBED_MODEL"]},
        )


class LocalEmbedder:
    """WordLlama, loaded offline on first use; the model runs in a worker thread."""

    name = f"local/{LOCAL_MODEL}"

    def __init__(self) -> None:
        self._model: Any = None
        self._loading = asyncio.Lock()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        model = await self._loaded()
        return await anyio.to_thread.run_sync(_embed_locally, model, list(texts))

    async def _loaded(self) -> Any:
        if self._model is None:
            async with self._loading:
                if self._model is None:
                    self._model = await anyio.to_thread.run_sync(load_wordllama)
        return self._model


def load_wordllama() -> Any:
    """WordLlama from the files inside its wheel, never from the network (blocking)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import wordllama  # its import configures the root logger (logging.basicConfig): undone below

    root.handlers[:], root.level = handlers, level
    return wordllama.WordLlama.load(
        dim=LOCAL_DIMENSIONS, cache_dir=Path(wordllama.__file__).parent, disable_download=True
    )


def _embed_locally(model: Any, texts: list[str]) -> list[list[float]]:
    with warnings.catch_warnings():  # a text without known tokens divides by a zero norm: checked below
        warnings.simplefilter("ignore", RuntimeWarning)
        vectors = model.embed(texts, norm=True, batch_size=LOCAL_BATCH)
    rows: list[list[float]] = vectors.tolist()
    for index, row in enumerate(rows):
        if not math.isfinite(sum(row)):  # NaN: no token of the text is in the vocabulary
            raise ValidationError("The text has no words the embedder can read", details={"index": index})
    return rows


class OpenAIEmbedder:
    """An OpenAI-compatible ``/embeddings`` endpoint."""

    def __init__(self, api: OpenAICompatible, model: str, dimensions: int = 0) -> None:
        self.api = api
        self.model = model
        self.dimensions = dimensions
        self.name = f"openai/{model}" + (f"@{dimensions}" if dimensions else "")

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self.model, "input": list(texts)}
        if self.dimensions:
            body["dimensions"] = self.dimensions
        answer = await self.api.post("/embeddings", body)
        return _unit_vectors(answer, len(texts))


def _unit_vectors(answer: dict[str, Any], expected: int) -> list[list[float]]:
    """The vectors of an ``/embeddings`` answer, in input order and unit length, else 502."""
    items = answer.get("data")
    if not isinstance(items, list) or len(items) != expected:
        raise AiProviderError("The embedder answered a different number of vectors than texts sent")
    try:  # an item without "index" stands where it is; a string "embedding" is not a list of numbers
        indexes = [int(item.get("index", position)) for position, item in enumerate(items)]
        vectors = [[float(x) for x in _listed(item["embedding"])] for item in items]
    except (TypeError, ValueError, KeyError, AttributeError):
        raise AiProviderError("The embedder's answer holds no vectors") from None
    if sorted(indexes) != list(range(expected)):  # else a vector would go to another text
        raise AiProviderError("The embedder's answer numbers its vectors other than once per text sent")
    vectors = [vector for _, vector in sorted(zip(indexes, vectors, strict=True), key=lambda pair: pair[0])]
    lengths = {len(vector) for vector in vectors}
    if len(lengths) > 1:
        raise AiProviderError("The embedder answered vectors of different lengths")
    if 0 in lengths:
        raise AiProviderError("The embedder answered empty vectors")
    return [_normalized(vector) for vector in vectors]


def _listed(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("an embedding is a list of numbers")
    return value


def _normalized(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    if not math.isfinite(norm) or norm == 0:
        raise AiProviderError("The embedder answered a zero or invalid vector")
    return [x / norm for x in vector]

"""The entries of a vector collection (SPEC §13) and the limits on what a request may send."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONTENT_TYPES = ("text", "json", "markdown", "html")
MAX_ENTRIES = 1000
"""Entries per ``vdb.insert``."""
MAX_CHUNKS = 10_000
"""Chunks per ``vdb.insert``, all entries together."""
DEFAULT_CHUNK_SIZE = 500
DEFAULT_CHUNK_OVERLAP = 40
MIN_CHUNK_SIZE = 50
MAX_CHUNK_SIZE = 8000
DEFAULT_LIMIT = 10
MAX_LIMIT = 100


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """One row to write: a window of an entry's text and where it came from."""

    key: str
    doc_key: str
    index: int
    entry: int
    """The position of its entry in the request's ``data`` (errors name ``data[entry]``)."""
    content: str
    content_type: str
    is_chunked: bool
    filename: str | None = None
    metadata: dict[str, Any] | None = None
    vector: list[float] | None = None
    """Sent by the client (then nothing is embedded), or filled in by the embedder."""

    def data(self) -> dict[str, Any]:
        """The row's ``data`` (SPEC §13): what ``match`` reads and a search answers."""
        return {
            "content": self.content,
            "content_type": self.content_type,
            "filename": self.filename,
            "metadata": self.metadata or {},
            "doc_key": self.doc_key,
            "chunk_index": self.index,
        }

    def answer(self) -> dict[str, Any]:
        """What ``vdb.insert`` answers for this chunk."""
        return {
            "_key": self.key,
            "content": self.content,
            "is_chunked": self.is_chunked,
            "doc_key": self.doc_key,
            "chunk_index": self.index,
            "metadata": self.metadata or {},
        }

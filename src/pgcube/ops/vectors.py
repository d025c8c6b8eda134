"""The VectorStore ops, ``vdb.*`` (SPEC §13), and their ``vectordb.*`` aliases.

A vector collection ``<name>`` is the table ``_vec_<name>``, in the catalog
like any collection (its access rules, ``set_access`` and ``delete_collection``
by that name). Text is embedded in each op's ``prepare`` step — after the
database is known to be the caller's and to have pgvector, and with the
request's connection given back (RELIABILITY I4) — then the runner resolves
(or, for ``vdb.insert``, makes) the collection and runs one statement, under
the collection's access rules for a web key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import msgspec

from pgcube.data.documents import new_key, raw_documents
from pgcube.errors import ValidationError, missing_field
from pgcube.management.models import VectorSpec
from pgcube.management.service import resolve_database
from pgcube.ops.registry import ALL_PRINCIPALS, Answer, Body, CollectionUse, Context, Op, Tx, as_is
from pgcube.vectors.chunking import chunks, text_of
from pgcube.vectors.models import (
    CONTENT_TYPES,
    DEFAULT_CHUNK_OVERLAP,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_LIMIT,
    MAX_CHUNK_SIZE,
    MAX_CHUNKS,
    MAX_ENTRIES,
    MAX_LIMIT,
    MIN_CHUNK_SIZE,
    Chunk,
)
from pgcube.vectors.service import check_embedder, check_vectors, new_spec, spec_of

Criteria = dict[str, Any]


def _collection(name: str | None) -> str:
    if not name:
        raise missing_field("collection")
    return name


def _vector(value: list[float] | None, field: str) -> list[float] | None:
    """A vector as sent: finite numbers, at least one."""
    if value is None:
        return None
    if not value or not all(math.isfinite(x) for x in value):
        raise ValidationError("A vector is a non-empty list of finite numbers", details={"field": field})
    return [float(x) for x in value]


# --- vdb.insert ----------------------------------------------------------------------------------


class Entry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: Any = None
    content_type: str = "text"
    filename: str | None = None
    metadata: dict[str, Any] | None = None
    vector: list[float] | None = None


class InsertOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP


@dataclass(frozen=True, kw_only=True)
class NewEntries:
    collection: str
    chunks: list[Chunk]
    spec: VectorSpec | None = None
    """The embeddings' spec once ``prepare`` has them: a new collection is made with it."""
    embedded: bool = False
    """Whether the server's embedder made some of the vectors."""


class InsertBody(Body):
    collection: str | None = None
    data: list[Entry] | None = None
    options: InsertOptions | None = None

    def command(self) -> NewEntries:
        if not self.data:
            raise missing_field("data")
        if len(self.data) > MAX_ENTRIES:
            raise ValidationError(
                f"At most {MAX_ENTRIES} entries per insert", details={"field": "data", "limit": MAX_ENTRIES}
            )
        options = self.options or InsertOptions()
        if not MIN_CHUNK_SIZE <= options.chunk_size <= MAX_CHUNK_SIZE:
            raise ValidationError(
                f"chunk_size is {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE} characters",
                details={"field": "options.chunk_size"},
            )
        if not 0 <= options.chunk_overlap <= options.chunk_size // 2:
            raise ValidationError(
                "chunk_overlap is 0 to half the chunk_size", details={"field": "options.chunk_overlap"}
            )
        collection = _collection(self.collection)
        pieces = [piece for index, entry in enumerate(self.data) for piece in _chunked(entry, index, options)]
        if len(pieces) > MAX_CHUNKS:
            raise ValidationError(
                f"The entries make {len(pieces)} chunks; at most {MAX_CHUNKS} per insert",
                details={"field": "data", "limit": MAX_CHUNKS},
            )
        return NewEntries(collection=collection, chunks=pieces)


def _chunked(entry: Entry, index: int, options: InsertOptions) -> list[Chunk]:
    """One entry's chunks (one when it brings its own vector: a vector stands for the whole)."""
    where = f"data[{index}]"
    if entry.content_type not in CONTENT_TYPES:
        raise ValidationError(
            f"Unknown content_type {entry.content_type!r}: one of {', '.join(CONTENT_TYPES)}",
            details={"field": f"{where}.content_type"},
        )
    if entry.content is None or (entry.content_type != "json" and not isinstance(entry.content, str)):
        raise ValidationError(
            f"{where}.content must be text"
            + (" (or any JSON value for content_type json)" if entry.content_type != "json" else ""),
            details={"field": f"{where}.content"},
        )
    text = text_of(entry.content, entry.content_type)
    vector = _vector(entry.vector, f"{where}.vector")
    windows = (
        [text.strip()] if vector is not None else chunks(text, options.chunk_size, options.chunk_overlap)
    )
    if not windows or not windows[0]:
        raise ValidationError(f"{where}.content has no text", details={"field": f"{where}.content"})
    doc_key = new_key()
    return [
        Chunk(
            key=new_key(),
            doc_key=doc_key,
            index=position,
            entry=index,
            content=window,
            content_type=entry.content_type,
            is_chunked=len(windows) > 1,
            filename=entry.filename,
            metadata=entry.metadata,
            vector=vector,
        )
        for position, window in enumerate(windows)
    ]


async def _check_database(ctx: Context) -> None:
    """What every ``vdb.*`` op checks first: the database is the caller's (404 as for any op) and
    has pgvector (501)."""
    await resolve_database(ctx.session, ctx.principal, ctx.database_id)
    await ctx.vectors.require_pgvector()


async def _before_model(ctx: Context) -> None:
    """``_check_database``, then the connection goes back to the pool: a model is called next."""
    await _check_database(ctx)
    await ctx.session.close()


async def _embed_entries(ctx: Context, command: NewEntries) -> NewEntries:
    await _before_model(ctx)
    waiting = [chunk for chunk in command.chunks if chunk.vector is None]
    embedder = ctx.models.embedder
    vectors = await embedder.embed([chunk.content for chunk in waiting]) if waiting else []
    made = {chunk.key: vector for chunk, vector in zip(waiting, vectors, strict=True)}
    pieces = [
        chunk if chunk.vector is not None else dataclasses.replace(chunk, vector=made[chunk.key])
        for chunk in command.chunks
    ]
    spec = new_spec(embedder.name, [chunk.vector or [] for chunk in pieces], _vector_fields(pieces))
    return dataclasses.replace(command, chunks=pieces, spec=spec, embedded=bool(waiting))


def _vector_fields(pieces: list[Chunk]) -> list[str]:
    """Where each chunk's vector belongs in the request: its entry's (not the chunk's) position."""
    return [f"data[{chunk.entry}].vector" for chunk in pieces]


async def _insert(ctx: Context, command: NewEntries) -> Answer:
    spec = spec_of(ctx.collection)
    if command.embedded:
        check_embedder(spec, ctx.models.embedder.name)
    check_vectors(spec, [chunk.vector or [] for chunk in command.chunks], _vector_fields(command.chunks))
    await ctx.vectors.insert(ctx.collection, command.chunks)
    return Answer([chunk.answer() for chunk in command.chunks], {"count": len(command.chunks)})


# --- vdb.search ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Search:
    collection: str
    text: str | None
    vector: list[float] | None
    criteria: Criteria = field(default_factory=dict)
    limit: int = DEFAULT_LIMIT
    threshold: float | None = None
    embedded: bool = False


class SearchBody(Body):
    collection: str | None = None
    query: str | None = None
    vector: list[float] | None = None
    match: Criteria | None = None
    limit: int | None = None
    top_k: int | None = None
    threshold: float | None = None

    def command(self) -> Search:
        collection = _collection(self.collection)
        if self.query is not None and self.vector is not None:
            raise ValidationError("Send query or vector, not both", details={"field": "vector"})
        if self.vector is None and not (self.query and self.query.strip()):
            raise missing_field("query")
        if self.limit is not None and self.top_k is not None:
            raise ValidationError("Send limit or top_k, not both", details={"field": "top_k"})
        limit = self.limit if self.limit is not None else self.top_k
        limit = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(f"limit is 1 to {MAX_LIMIT}", details={"field": "limit"})
        if self.threshold is not None and not -1 <= self.threshold <= 1:
            raise ValidationError("threshold is a score from -1 to 1", details={"field": "threshold"})
        return Search(
            collection=collection,
            text=self.query,
            vector=_vector(self.vector, "vector"),
            criteria=self.match or {},
            limit=limit,
            threshold=self.threshold,
        )


async def _embed_query(ctx: Context, command: Search) -> Search:
    if command.text is None:  # a vector: no model to call
        await _check_database(ctx)
        return command
    await _before_model(ctx)
    [vector] = await ctx.models.embedder.embed([command.text])
    return dataclasses.replace(command, vector=vector, embedded=True)


async def _search(ctx: Context, command: Search) -> Answer:
    spec = spec_of(ctx.collection)
    if command.embedded:
        check_embedder(spec, ctx.models.embedder.name)
    assert command.vector is not None  # sent, or made by prepare
    check_vectors(spec, [command.vector], ["vector"])
    entries = await ctx.vectors.search(
        ctx.collection, command.vector, command.criteria, command.limit, command.threshold
    )
    return Answer(raw_documents(entries), {"count": len(entries), "embedder": spec.embedder})


# --- vdb.delete ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Removal:
    collection: str
    criteria: Criteria
    pointer: str


class DeleteBody(Body):
    collection: str | None = None
    key: str | None = msgspec.field(default=None, name="_key")
    keys: list[str] | None = msgspec.field(default=None, name="_keys")
    doc_key: str | None = None
    match: Criteria | None = None

    def command(self) -> Removal:
        collection = _collection(self.collection)
        sent = {
            name: value
            for name, value in (
                ("_key", self.key),
                ("_keys", self.keys),
                ("doc_key", self.doc_key),
                ("match", self.match),
            )
            if value is not None
        }
        if len(sent) != 1:
            raise ValidationError(
                "Send exactly one of _key, _keys, doc_key or match",
                details={"field": "_key", "sent": sorted(sent)},
            )
        [(name, value)] = sent.items()
        if name == "_keys" and (not value or not all(isinstance(key, str) and key for key in value)):
            raise ValidationError("_keys must be a non-empty list of keys", details={"field": "_keys"})
        if name in ("_key", "doc_key") and not value:
            raise missing_field(name)
        by_name: dict[str, Any] = {
            "_key": {"_key": value},
            "_keys": {"_key": {"$in": value}},
            "doc_key": {"doc_key": value},
            "match": value,
        }
        return Removal(collection=collection, criteria=by_name[name], pointer=f"/{name}")


async def _delete(ctx: Context, command: Removal) -> Answer:
    if ctx.vectors.refuses_everything(ctx.collection, command.criteria, command.pointer):
        raise ValidationError(
            "The match holds for every entry: name what to delete", details={"field": "match"}
        )
    return Answer({"count": await ctx.vectors.delete(ctx.collection, command.criteria, command.pointer)})


async def _check_feature(ctx: Context, command: Removal) -> Removal:
    await _check_database(ctx)
    return command


def _op(
    name: str,
    summary: str,
    body: type[Body],
    handler: Any,
    prepare: Any,
    tx: Tx,
    collection: CollectionUse,
    example: dict[str, Any],
) -> Op[Any, Any]:
    return Op(
        name=name,
        summary=summary,
        body=body,
        handler=handler,
        present=as_is,
        tx=tx,
        collection=collection,
        aliases={name.replace("vdb.", "vectordb."): body},
        principals=ALL_PRINCIPALS,  # web keys under the collection's access rules (the runner)
        example=example,
        vectors=True,
        prepare=prepare,
    )


OPS = (
    _op(
        "vdb.insert",
        "Add entries to a vector collection (made on first insert): text chunked and embedded, or your vectors",
        InsertBody,
        _insert,
        _embed_entries,
        Tx.WRITE,
        CollectionUse.CREATES,
        {"op": "vdb.insert", "collection": "articles", "data": [{"content": "PostgreSQL stores JSON well."}]},
    ),
    _op(
        "vdb.search",
        "The entries nearest a text query or a vector, best first with _score; match filters them",
        SearchBody,
        _search,
        _embed_query,
        Tx.READ,
        CollectionUse.NEEDS,
        {"op": "vdb.search", "collection": "articles", "query": "databases for documents", "limit": 5},
    ),
    _op(
        "vdb.delete",
        "Delete entries by _key, _keys, doc_key or match",
        DeleteBody,
        _delete,
        _check_feature,
        Tx.WRITE,
        CollectionUse.NEEDS,
        {"op": "vdb.delete", "collection": "articles", "doc_key": "0123456789abcdef0123456789abcdef"},
    ),
)

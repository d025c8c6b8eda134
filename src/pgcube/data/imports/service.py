"""Bulk import (SPEC §8): an upload's documents into a collection, all or nothing, at COPY speed.

The upload streams through (``reader``: gzip, array or NDJSON, one document
at a time) → the document rules every write path shares
(``pgcube.data.documents.prepare_one``: system fields, ``_key``, size,
declared fields) → one COPY into a staging table → one ``INSERT ... SELECT``
into the collection. Nothing is held in memory but a chunk and a document;
nothing is written unless every document is good.

The first bad document stops the stream; the COPY then ends cleanly with the
documents before it, so that, in insert mode, an earlier duplicate ``_key``
is still the one reported: the error always names the first bad document.

Limits (RELIABILITY H1, H2, H6; ``docs/adr/0014-import-limits.md``):

* ``import_upload`` takes no pooled connection and begins no transaction
  while the client is slow to start: the first ``SPOOL_BYTES`` of the file
  (or all of it, if it is smaller) are read before anything is written;
* reading and checking documents is CPU work: it runs in a worker thread, a
  chunk's worth at a time, so that the event loop keeps answering while an
  import inflates, decodes and checks (``/health`` stays fast);
* the file may hold at most ``max_import_decompressed_bytes`` of text once
  gzip is undone (413), and the account at most ``quota_documents`` documents
  once the import is in (403 ``QUOTA_EXCEEDED``; estimated, see
  ``repository.account_documents``) — either way nothing is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

import msgspec

from pgcube.data import repository, uniques
from pgcube.data.documents import Validator, prepare_one
from pgcube.data.imports import staging
from pgcube.data.imports.reader import DocumentReader, located
from pgcube.data.quota import quota_error
from pgcube.db.session import Session
from pgcube.errors import CollectionNotFound, DuplicateKey, PgcubeError, ValidationError
from pgcube.management import service as catalog
from pgcube.management.access import admit, rule_for
from pgcube.management.models import Collection
from pgcube.principal import Principal
from pgcube.settings import Settings

Connection = Any

RECORD_SIZE_FACTOR = 4
"""A document may take this many times ``max_document_bytes`` in the file (whitespace, system
fields, escapes) before the reader gives up on it without decoding further."""
SPOOL_BYTES: Final = 1024 * 1024
"""Bytes of the file read before the import takes a pooled connection (all of a smaller file)."""
INLINE_BYTES: Final = 64 * 1024
"""A chunk of plain text (not gzip) up to this size is read on the event loop: ~1 ms of work at
most, less than a trip to the worker thread would cost in all. Anything else goes to the thread."""
BATCH_ROWS: Final = 4096
BATCH_BYTES: Final = 4 * 1024 * 1024
"""Rows made in the worker thread at a time, at most: this many, or this many bytes of data."""


class ImportMode(enum.StrEnum):
    INSERT = "insert"
    """An existing ``_key`` (in the collection or earlier in the file) is a conflict."""
    UPSERT = "upsert"
    """A document replaces the one with its ``_key``; in the file, the last one wins."""


class ImportRequest(msgspec.Struct, frozen=True, kw_only=True):
    database_id: str
    collection_name: str
    mode: ImportMode = ImportMode.INSERT


async def import_upload(
    session: Session,
    settings: Settings,
    principal: Principal,
    request: ImportRequest,
    chunks: AsyncIterator[bytes],
) -> tuple[Collection, int]:
    """Import the file ``chunks`` carries as ``request`` says: (the collection, documents written).

    The request's transaction (``session.begin_request``, finished when the
    request ends) begins only once the file has started for real; before, the
    database and the collection's name are checked (from the catalog cache
    when it is warm) and any connection that took is given back.
    """
    with contextlib.suppress(CollectionNotFound):  # the import creates it, in its transaction
        await catalog.resolve_collection(
            session, settings, principal, request.database_id, request.collection_name
        )
    await session.close()  # the connection authentication or the check took, if any, goes back
    file = await spool(chunks, SPOOL_BYTES)
    conn = await session.begin_request()
    collection = await catalog.resolve_collection(
        session,
        settings,
        principal,
        request.database_id,
        request.collection_name,
        create=not principal.is_web,
    )
    restricted = None
    if principal.is_web:  # under the collection's write rule and its row-level security
        admit(rule_for(collection.access, write=True), principal)
        restricted = session.acting_as(principal.user_key)
    count = await import_documents(
        conn,
        settings,
        collection,
        file,
        mode=request.mode,
        account_id=principal.account_id,
        restricted=restricted,
    )
    return collection, count


async def spool(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """``chunks`` again, once their first ``size`` bytes have arrived (or all of them, if fewer);
    those as one chunk."""
    head: list[bytes] = []
    received = 0
    ended = False
    while received < size:
        chunk = await anext(chunks, None)
        if chunk is None:
            ended = True
            break
        head.append(chunk)
        received += len(chunk)
    return _replay(b"".join(head), None if ended else chunks)


async def _replay(head: bytes, rest: AsyncIterator[bytes] | None) -> AsyncIterator[bytes]:
    if head:
        yield head
    if rest is not None:
        async for chunk in rest:
            yield chunk


async def import_documents(
    conn: Connection,
    settings: Settings,
    collection: Collection,
    chunks: AsyncIterator[bytes],
    *,
    mode: ImportMode = ImportMode.INSERT,
    account_id: str | None = None,
    restricted: AbstractAsyncContextManager[None] | None = None,
) -> int:
    """Import the file ``chunks`` carries into ``collection``; how many documents were written.

    With ``account_id``, the account's document quota holds: the stream stops
    as soon as the file alone would break it (insert mode), and the final
    check runs under a per-account lock, just before the move.

    With ``restricted`` (a web key: ``Session.acting_as``), everything up to the
    move runs in it — the staging table is the restricted role's own, and the
    documents meet the collection's row-level security; the statistics are
    refreshed after it, by the owner.
    """
    async with restricted or contextlib.nullcontext():
        written = await _stage_and_move(
            conn, settings, collection, chunks, mode, account_id, keep_userkey=restricted is None
        )
    await staging.analyze(conn, collection)
    return written


async def _stage_and_move(
    conn: Connection,
    settings: Settings,
    collection: Collection,
    chunks: AsyncIterator[bytes],
    mode: ImportMode,
    account_id: str | None,
    *,
    keep_userkey: bool,
) -> int:
    """Stage the file, then move it. ``keep_userkey``: a server credential's ``_userkey`` values
    are kept (SPEC §11.4); otherwise the column's default stamps the signed-in end user."""
    quota = None
    if account_id is not None and mode is ImportMode.INSERT:  # upsert: replaced documents add nothing
        quota = (settings.quota_documents, await repository.account_documents(conn, account_id))
    rows = Rows(chunks, settings, catalog.validator_for(collection), quota=quota, keep_userkey=keep_userkey)
    await staging.no_timeout(conn)
    await staging.create(conn)
    await staging.copy(conn, rows)
    if rows.error is not None:
        if _about_a_document(rows.error):  # an earlier document may break a unique index already
            earlier = await _first_conflict(conn, collection, mode)
            if earlier is not None:
                raise earlier
        raise rows.error
    if account_id is not None:
        await _check_quota(conn, settings, collection, account_id, rows.count, mode)
    return await _move(conn, collection, mode, with_userkey=keep_userkey)


async def _check_quota(
    conn: Connection,
    settings: Settings,
    collection: Collection,
    account_id: str,
    staged: int,
    mode: ImportMode,
) -> None:
    await staging.lock_quota(conn, account_id)
    existing = await repository.account_documents(conn, account_id)
    adding = staged
    if mode is ImportMode.UPSERT and existing + adding > settings.quota_documents:
        adding = await staging.new_documents(conn, collection)  # replaced documents add nothing
    if existing + adding > settings.quota_documents:
        raise quota_error(settings.quota_documents, existing, adding, what="the file")


async def _move(conn: Connection, collection: Collection, mode: ImportMode, *, with_userkey: bool) -> int:
    try:
        try:
            async with conn.transaction():  # a savepoint: the transaction survives a conflict
                return await staging.move(
                    conn, collection, upsert=mode is ImportMode.UPSERT, with_userkey=with_userkey
                )
        except Exception as exc:
            if mode is ImportMode.UPSERT and staging.sqlstate(exc) == staging.CARDINALITY_VIOLATION:
                async with conn.transaction():
                    return await staging.move_last_wins(conn, collection, with_userkey=with_userkey)
            raise
    except Exception as exc:
        if staging.sqlstate(exc) == staging.UNIQUE_VIOLATION:
            conflict = await _first_conflict(conn, collection, mode)
            if conflict is not None:
                raise conflict from None
        raise


async def _first_conflict(conn: Connection, collection: Collection, mode: ImportMode) -> PgcubeError | None:
    """The error of the first staged document that a unique index refuses — the primary key
    (insert mode: a ``_key`` taken) or a declared one (ADR 0025) — or None when none does."""
    found: list[tuple[int, PgcubeError]] = []
    if mode is ImportMode.INSERT:
        duplicate = await staging.first_duplicate(conn, collection)
        if duplicate is not None:
            found.append((duplicate.index, duplicate_error(duplicate)))
    upsert = mode is ImportMode.UPSERT
    for index in collection.indexes:
        if not index.unique:
            continue
        query = uniques.conflict_query(
            collection, index, staging.STAGED_LAST if upsert else staging.STAGED, replacing=upsert
        )
        row = await repository.first_conflict(conn, query)
        if row is not None:
            shown = msgspec.json.decode(row["shown"])
            found.append((row["n"], uniques.document_error(index, row["n"], shown, row["first_n"])))
    return min(found, key=lambda item: item[0])[1] if found else None


def duplicate_error(duplicate: staging.Duplicate) -> DuplicateKey:
    where = "the collection already holds it" if duplicate.existing else "an earlier document has it"
    return DuplicateKey(
        f"Document {duplicate.index}: _key {duplicate.key!r} is taken ({where}); "
        "nothing was imported. Use mode=upsert to replace documents by _key",
        details={"index": duplicate.index, "_key": duplicate.key, "existing": duplicate.existing},
    )


def _about_a_document(error: Exception) -> bool:
    return isinstance(error, PgcubeError) and "index" in error.details


class Rows:
    """The COPY's rows, made while the upload arrives (an asynchronous iterator).

    The CPU work — inflating, decoding, checking, encoding — runs in a worker
    thread, at most ``BATCH_ROWS`` rows (or ``BATCH_BYTES``) at a time, never
    on the event loop: a file that is slow to read (a gzip of whitespace, say)
    delays its own import, not the other requests. The thread resumes the same
    generator each time; only one batch is ever in progress.

    It never raises into asyncpg: the first problem — a bad document, a broken
    or interrupted upload, a quota — ends the rows early and is kept in
    ``error`` for the caller, after the COPY has closed cleanly (the rows made
    before it are written to staging first, so that an earlier duplicate
    ``_key`` is still the error reported).
    """

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        settings: Settings,
        validator: Validator,
        *,
        quota: tuple[int, int] | None = None,
        keep_userkey: bool = False,
    ) -> None:
        self._chunks = chunks
        self._reader = DocumentReader(
            max_record_bytes=RECORD_SIZE_FACTOR * settings.max_document_bytes,
            max_text_bytes=settings.max_import_decompressed_bytes,
        )
        self._prepare = _preparer(validator, settings.max_document_bytes, keep_userkey=keep_userkey)
        self._keys = uuid4_keys()
        self._quota = quota
        """(documents allowed per account, documents the account holds) — insert mode."""
        self._pending: Iterator[staging.Row] | None = None
        """The rows of the latest chunk not made yet (None: read the next chunk)."""
        self._inline = False
        """Whether the latest chunk's rows are made on the event loop."""
        self._batch: list[staging.Row] = []
        self._next = 0
        self._ended = False
        self.error: Exception | None = None

    @property
    def count(self) -> int:
        return self._reader.count

    @property
    def _plain(self) -> bool:
        """Known to be plain text: its size bounds a chunk's work (gzip's does not)."""
        return self._reader.format is not None and not self._reader.gzip

    def __aiter__(self) -> Rows:
        return self

    async def __anext__(self) -> staging.Row:
        while True:
            if self._next < len(self._batch):
                row = self._batch[self._next]
                self._next += 1
                return row
            if self._pending is None:
                if self._ended:
                    raise StopAsyncIteration
                try:
                    chunk = await anext(self._chunks, None)
                except Exception as exc:
                    self._stop(exc)
                    continue
                self._ended = chunk is None
                self._pending = self._rows(chunk)
                self._inline = self._plain and (chunk is None or len(chunk) <= INLINE_BYTES)
            if self._inline:
                self._batch, done, error = _take(self._pending)
            else:
                self._batch, done, error = await asyncio.to_thread(_take, self._pending)
            self._next = 0
            if done:
                self._pending = None
            if error is not None:
                self._stop(error)

    def _rows(self, chunk: bytes | None) -> Iterator[staging.Row]:
        reader = self._reader
        documents = reader.finish() if chunk is None else reader.feed(chunk)
        prepare = self._prepare
        keys = self._keys
        limit, existing = self._quota if self._quota is not None else (None, 0)
        for document in documents:
            index = reader.index
            if limit is not None and existing + index >= limit:
                raise quota_error(limit, existing, index + 1, at_least=True, what="the file")
            if type(document) is dict and "_key" not in document:
                document["_key"] = next(keys)
            try:
                yield (index, *prepare(document, index))
            except PgcubeError as exc:
                raise located(exc, reader) from None

    def _stop(self, error: Exception) -> None:
        self.error = error
        self._ended = True
        self._pending = None


def _take(rows: Iterator[staging.Row]) -> tuple[list[staging.Row], bool, Exception | None]:
    """(the next rows, at most a batch; whether ``rows`` is exhausted; the error that ended it)."""
    batch: list[staging.Row] = []
    size = 0
    try:
        for row in rows:
            batch.append(row)
            size += len(row[3])
            if len(batch) >= BATCH_ROWS or size >= BATCH_BYTES:
                return batch, False, None
    except Exception as exc:
        return batch, True, exc
    return batch, True, None


def uuid4_keys(batch: int = 4096) -> Iterator[str]:
    """New ``_key`` values, as ``documents.new_key`` makes them (a uuid4 in 32 lowercase hex).

    Made ``batch`` at a time from one read of the system's random source:
    ``uuid.uuid4()`` costs a system call and an object per key, the largest
    single cost of an import in Python before this.
    """
    while True:
        block = bytearray(os.urandom(16 * batch))
        block[6::16] = bytes(byte & 0x0F | 0x40 for byte in block[6::16])  # version 4
        block[8::16] = bytes(byte & 0x3F | 0x80 for byte in block[8::16])  # RFC 4122 variant
        text = block.hex()
        yield from (text[start : start + 32] for start in range(0, len(text), 32))


def _preparer(
    validator: Validator, max_document_bytes: int, *, keep_userkey: bool
) -> Callable[[Any, int], tuple[str, str | None, bytes]]:
    def prepare(document: Any, index: int) -> tuple[str, str | None, bytes]:
        try:
            prepared = prepare_one(document, index, validator, max_document_bytes, keep_userkey=keep_userkey)
        except UnicodeEncodeError:  # a lone surrogate (\ud800) the array decoder let through
            raise ValidationError(
                f"Document {index} holds a string that is not valid Unicode", details={"index": index}
            ) from None
        return prepared.key, prepared.user_key, prepared.data

    return prepare

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
"""

from __future__ import annotations

import enum
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from pgcube.data.documents import Validator, prepare_one
from pgcube.data.imports import staging
from pgcube.data.imports.reader import DocumentReader, located
from pgcube.errors import DuplicateKey, PgcubeError, ValidationError
from pgcube.management import service as catalog
from pgcube.management.models import Collection
from pgcube.settings import Settings

Connection = Any

RECORD_SIZE_FACTOR = 4
"""A document may take this many times ``max_document_bytes`` in the file (whitespace, system
fields, escapes) before the reader gives up on it without decoding further."""


class ImportMode(enum.StrEnum):
    INSERT = "insert"
    """An existing ``_key`` (in the collection or earlier in the file) is a conflict."""
    UPSERT = "upsert"
    """A document replaces the one with its ``_key``; in the file, the last one wins."""


async def import_documents(
    conn: Connection,
    settings: Settings,
    collection: Collection,
    chunks: AsyncIterator[bytes],
    *,
    mode: ImportMode = ImportMode.INSERT,
) -> int:
    """Import the file ``chunks`` carries into ``collection``; how many documents were written."""
    rows = Rows(chunks, settings, catalog.validator_for(collection))
    await staging.no_timeout(conn)
    await staging.create(conn)
    await staging.copy(conn, rows)
    if rows.error is not None:
        if mode is ImportMode.INSERT and _about_a_document(rows.error):
            duplicate = await staging.first_duplicate(conn, collection)
            if duplicate is not None:
                raise duplicate_error(duplicate)
        raise rows.error
    written = await _move(conn, collection, mode)
    await staging.analyze(conn, collection)
    return written


async def _move(conn: Connection, collection: Collection, mode: ImportMode) -> int:
    try:
        async with conn.transaction():  # a savepoint: the transaction survives a conflict
            return await staging.move(conn, collection, upsert=mode is ImportMode.UPSERT)
    except Exception as exc:
        state = staging.sqlstate(exc)
        if mode is ImportMode.INSERT and state == staging.UNIQUE_VIOLATION:
            duplicate = await staging.first_duplicate(conn, collection)
            if duplicate is not None:
                raise duplicate_error(duplicate) from None
        if mode is ImportMode.UPSERT and state == staging.CARDINALITY_VIOLATION:
            return await staging.move_last_wins(conn, collection)
        raise


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

    It never raises into asyncpg: the first problem — a bad document, a broken
    or interrupted upload — ends the rows early and is kept in ``error`` for
    the caller, after the COPY has closed cleanly.
    """

    def __init__(self, chunks: AsyncIterator[bytes], settings: Settings, validator: Validator) -> None:
        self._chunks = chunks
        self._reader = DocumentReader(max_record_bytes=RECORD_SIZE_FACTOR * settings.max_document_bytes)
        self._prepare = _preparer(validator, settings.max_document_bytes)
        self._keys = uuid4_keys()
        self._pending: Iterator[staging.Row] = iter(())
        self._ended = False
        self.error: Exception | None = None

    @property
    def count(self) -> int:
        return self._reader.count

    def __aiter__(self) -> Rows:
        return self

    async def __anext__(self) -> staging.Row:
        while True:
            try:
                return next(self._pending)
            except StopIteration:
                pass
            except Exception as exc:
                self._stop(exc)
            if self._ended:
                raise StopAsyncIteration
            try:
                chunk = await anext(self._chunks, None)
            except Exception as exc:
                self._stop(exc)
                continue
            self._pending = self._rows(chunk)

    def _rows(self, chunk: bytes | None) -> Iterator[staging.Row]:
        reader = self._reader
        documents = reader.finish() if chunk is None else reader.feed(chunk)
        if chunk is None:
            self._ended = True
        prepare = self._prepare
        keys = self._keys
        for document in documents:
            index = reader.index
            if type(document) is dict and "_key" not in document:
                document["_key"] = next(keys)
            try:
                yield (index, *prepare(document, index))
            except PgcubeError as exc:
                raise located(exc, reader) from None

    def _stop(self, error: Exception) -> None:
        self.error = error
        self._ended = True
        self._pending = iter(())


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


def _preparer(validator: Validator, max_document_bytes: int) -> Callable[[Any, int], tuple[str, bytes]]:
    def prepare(document: Any, index: int) -> tuple[str, bytes]:
        try:
            prepared = prepare_one(document, index, validator, max_document_bytes)
        except UnicodeEncodeError:  # a lone surrogate (\ud800) the array decoder let through
            raise ValidationError(
                f"Document {index} holds a string that is not valid Unicode", details={"index": index}
            ) from None
        return prepared.key, prepared.data

    return prepare

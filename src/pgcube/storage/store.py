"""One object store through obstore: the local disk under the data directory, or S3.

Bytes stream both ways: a write takes an async iterator of chunks and hashes
them as they pass (obstore uploads large bodies in parts), a read yields
chunks of a byte range. The store never sees a client's file name: object
keys are built by ``pgcube.files.models.object_key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import obstore
import obstore.exceptions
from obstore.store import LocalStore, S3Store

from pgcube.errors import FileTooLarge, ServiceUnavailable
from pgcube.settings import Settings
from pgcube.storage.presign import Presigner

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig

log = logging.getLogger("pgcube.storage")
RETRY_AFTER = 5

READ_CHUNK_BYTES = 256 * 1024
BATCH_BYTES = 1024 * 1024
"""A write hands obstore about this much at a time (measured: 100 MB in 64 KiB pieces cost obstore
0.36 s, in 1 MiB batches 0.07 s)."""
PART_BYTES = 5 * 1024 * 1024
"""S3's smallest part; a streamed write always goes up as a multipart upload (one part for an empty file)."""
PARTS_IN_FLIGHT = 4
"""Parts sent at once: at most 4 × 5 MiB of one upload in memory (obstore's default, 12, is 60 MiB)."""


@dataclass(frozen=True)
class Written:
    size: int
    sha256: str
    content_type: str | None = field(default=None, compare=False)
    """The type the store keeps with the object (S3; the local disk keeps none): not the bytes."""


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    last_modified: datetime


class FileStore:
    """The bytes of every database's files, by object key."""

    def __init__(self, store: LocalStore | S3Store, *, kind: str, presigner: Presigner | None = None) -> None:
        self.store = store
        self.kind = kind
        """``local`` or ``s3``."""
        self.presigner = presigner
        """S3's presigned POST and GET; None on the local disk, where pgcube signs its own URLs."""

    async def write(
        self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int, content_type: str
    ) -> Written:
        """Store ``chunks`` at ``key``; 413 ``FILE_TOO_LARGE`` past ``max_bytes`` (nothing is kept)."""
        digest = hashlib.sha256()
        size = 0

        async def batched() -> AsyncIterator[bytes]:
            # The server hands the body over in pieces of 64-256 KiB; obstore costs a round trip to its
            # runtime per piece, so pieces go to it in batches of about BATCH_BYTES. Each batch is
            # hashed in a thread (hashlib lets go of the GIL) while the next one arrives.
            nonlocal size
            pieces: list[bytes] = []
            gathered = 0
            hashing: asyncio.Future[None] | None = None
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(details={"max_bytes": max_bytes})
                pieces.append(chunk)
                gathered += len(chunk)
                if gathered < BATCH_BYTES:
                    continue
                batch = b"".join(pieces)
                pieces, gathered = [], 0
                if hashing is not None:
                    await hashing  # in order: one sha256 over the whole file
                hashing = asyncio.ensure_future(asyncio.to_thread(digest.update, batch))
                yield batch
            if hashing is not None:
                await hashing
            if pieces or size == 0:
                batch = b"".join(pieces)
                digest.update(batch)
                yield batch

        # S3 keeps the type to serve it; the local disk cannot (obstore refuses attributes there), and
        # the local route reads the type from ``_files``.
        attributes = {"Content-Type": content_type} if self.kind == "s3" else None
        try:
            with _answering():
                await obstore.put_async(
                    self.store,
                    key,
                    batched(),
                    attributes=attributes,
                    chunk_size=PART_BYTES,
                    max_concurrency=PARTS_IN_FLIGHT,
                )
        except BaseException:
            with contextlib.suppress(ServiceUnavailable):  # an unreachable store keeps nothing either
                await self.delete([key])
            raise
        return Written(size, digest.hexdigest())

    async def info(self, key: str) -> ObjectInfo | None:
        """The object's size and entity tag, or None when there is none."""
        try:
            with _answering():
                meta = await obstore.head_async(self.store, key)
        except FileNotFoundError:
            return None
        return ObjectInfo(meta["size"], meta.get("e_tag") or "", meta["last_modified"])

    async def read(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``start`` to ``end`` (exclusive; None: to the last) of the object."""
        options: dict[str, Any] = {}
        if start or end is not None:
            options["range"] = (start, end) if end is not None else {"offset": start}
        with _answering():
            result = await obstore.get_async(self.store, key, options=options or None)  # type: ignore[arg-type]
            async for chunk in result.stream(min_chunk_size=READ_CHUNK_BYTES):
                yield bytes(chunk)

    async def digest(self, key: str) -> Written:
        """The object's size, sha256 and (on S3) stored content type, read through once."""
        digest = hashlib.sha256()
        size = 0
        with _answering():
            result = await obstore.get_async(self.store, key)
            async for chunk in result.stream(min_chunk_size=READ_CHUNK_BYTES):
                size += len(chunk)
                digest.update(chunk)
        content_type = result.attributes.get("Content-Type")
        return Written(size, digest.hexdigest(), None if content_type is None else str(content_type))

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove the objects; one already gone is not an error."""
        for key in keys:
            try:
                with _answering():
                    await obstore.delete_async(self.store, key)
            except FileNotFoundError:
                continue


@contextlib.contextmanager
def _answering() -> Iterator[None]:
    """The store's own failures (unreachable, refused, timed out) as a 503: the request can be
    retried later; a missing object stays ``FileNotFoundError`` for the caller to answer."""
    try:
        yield
    except FileNotFoundError:
        raise
    except obstore.exceptions.BaseError as exc:
        log.warning("the file store failed: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise ServiceUnavailable(
            "The file store did not answer; try again shortly", retry_after=RETRY_AFTER
        ) from None


def open_store(settings: Settings) -> FileStore:
    """The store the settings name: ``storage_url`` ``s3://bucket/prefix``, else the local disk."""
    if not settings.storage_url:
        settings.files_path.mkdir(parents=True, exist_ok=True)
        return FileStore(LocalStore(settings.files_path, mkdir=True), kind="local")
    parts = urlsplit(settings.storage_url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ServiceUnavailable(
            f"PGCUBE_STORAGE_URL must be s3://bucket/prefix, not {settings.storage_url!r}"
        )
    config: dict[str, Any] = {
        "region": settings.s3_region,
        "access_key_id": settings.s3_access_key,
        "secret_access_key": settings.s3_secret_key,
    }
    # A store that does not answer fails the request in seconds (503), not after obstore's default
    # three minutes of retries.
    client_options: ClientConfig = {"connect_timeout": "5s", "timeout": "120s"}
    retry: RetryConfig = {
        "max_retries": 2,
        "retry_timeout": timedelta(seconds=10),
        "backoff": {
            "init_backoff": timedelta(milliseconds=100),
            "max_backoff": timedelta(seconds=2),
            "base": 2,
        },
    }
    if settings.s3_endpoint:
        config["endpoint"] = settings.s3_endpoint
        config["virtual_hosted_style_request"] = False
        if settings.s3_endpoint.startswith("http://"):
            client_options["allow_http"] = True
    prefix = parts.path.strip("/")
    store = S3Store(
        parts.netloc, prefix=prefix or None, client_options=client_options, retry_config=retry, **config
    )
    presigner = Presigner(
        bucket=parts.netloc,
        prefix=prefix,
        region=settings.s3_region,
        endpoint=settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
    )
    return FileStore(store, kind="s3", presigner=presigner)

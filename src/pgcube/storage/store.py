"""One object store through obstore: the local disk under the data directory, or S3.

Bytes stream both ways: a write takes an async iterator of chunks and hashes
them as they pass (obstore uploads large bodies in parts), a read yields
chunks of a byte range. The store never sees a client's file name: object
keys are built by ``pgcube.files.models.object_key``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import obstore
from obstore.store import LocalStore, S3Store

from pgcube.errors import FileTooLarge, ServiceUnavailable
from pgcube.settings import Settings

if TYPE_CHECKING:
    from obstore.store import ClientConfig

READ_CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class Written:
    size: int
    sha256: str


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    last_modified: datetime


class FileStore:
    """The bytes of every database's files, by object key."""

    def __init__(self, store: LocalStore | S3Store, *, kind: str) -> None:
        self.store = store
        self.kind = kind
        """``local`` or ``s3``."""

    async def write(
        self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int, content_type: str
    ) -> Written:
        """Store ``chunks`` at ``key``; 413 ``FILE_TOO_LARGE`` past ``max_bytes`` (nothing is kept)."""
        digest = hashlib.sha256()
        size = 0

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(details={"max_bytes": max_bytes})
                digest.update(chunk)
                yield chunk

        try:
            # The local disk keeps no attributes (the type is in the file's row anyway).
            attributes = {"Content-Type": content_type} if self.kind == "s3" else None
            await obstore.put_async(self.store, key, counted(), attributes=attributes)
        except BaseException:
            await self.delete([key])
            raise
        return Written(size, digest.hexdigest())

    async def info(self, key: str) -> ObjectInfo | None:
        """The object's size and entity tag, or None when there is none."""
        try:
            meta = await obstore.head_async(self.store, key)
        except FileNotFoundError:
            return None
        return ObjectInfo(meta["size"], meta.get("e_tag") or "", meta["last_modified"])

    async def read(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``start`` to ``end`` (exclusive; None: to the last) of the object."""
        options: dict[str, Any] = {}
        if start or end is not None:
            options["range"] = (start, end) if end is not None else {"offset": start}
        result = await obstore.get_async(self.store, key, options=options or None)  # type: ignore[arg-type]
        async for chunk in result.stream(min_chunk_size=READ_CHUNK_BYTES):
            yield bytes(chunk)

    async def digest(self, key: str) -> Written:
        """The object's size and sha256, read through once."""
        digest = hashlib.sha256()
        size = 0
        async for chunk in self.read(key):
            size += len(chunk)
            digest.update(chunk)
        return Written(size, digest.hexdigest())

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove the objects; one already gone is not an error."""
        for key in keys:
            try:
                await obstore.delete_async(self.store, key)
            except FileNotFoundError:
                continue


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
    client_options: ClientConfig = {}
    if settings.s3_endpoint:
        config["endpoint"] = settings.s3_endpoint
        config["virtual_hosted_style_request"] = False
        if settings.s3_endpoint.startswith("http://"):
            client_options["allow_http"] = True
    store = S3Store(
        parts.netloc, prefix=parts.path.strip("/") or None, client_options=client_options, **config
    )
    return FileStore(store, kind="s3")

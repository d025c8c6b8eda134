"""Helpers of the file tests: a database with a server key, its ``file.*`` ops and direct
upload, where its bytes are, and multipart bodies streamed from generators (so a test holds
no file in memory)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import obstore

from pgcube.files.urls import FileSigner
from pgcube.settings import Settings
from pgcube.storage import open_store
from tests.support.accounts import Account
from tests.support.databases import KeyedDb, keyed_db_fields
from tests.support.live import TEST_JWT_SECRET
from tests.support.sync_pg import SyncPg

SIGNER = FileSigner(TEST_JWT_SECRET)
"""Signs as the test servers do (their service secret is the test one)."""
CHUNK = 1024 * 1024


@dataclass
class FilesDb(KeyedDb):
    """An account's database, spoken to with a server key of its own."""

    settings: Settings

    def ok(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        """The ``data`` of an op that must succeed."""
        response = self.op(body, headers)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def upload(
        self,
        content: bytes = b"hello files",
        *,
        filename: str = "hello.txt",
        content_type: str = "text/plain",
        public: bool = True,
        metadata: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The direct upload (``POST /api/{database_id}/files``). Public by default: the tests of
        private files and their signed URLs say so."""
        form: dict[str, str] = {"public_read": "true" if public else "false"}
        if metadata is not None:
            form["metadata"] = metadata
        return self.client.post(
            f"/api/{self.id}/files",
            data=form,
            files={"file": (filename, content, content_type)},
            headers=headers or self.server_key,
        )

    def uploaded(self, content: bytes = b"hello files", **kwargs: Any) -> dict[str, Any]:
        """The file object of a direct upload that must succeed."""
        response = self.upload(content, **kwargs)
        assert response.status_code == 201, response.text
        file: dict[str, Any] = response.json()["data"]
        return file

    def presign(self, filename: str, content_type: str, filesize: int | None = None) -> Any:
        """``file.presign_upload``'s ``presigned_data``."""
        body: dict[str, Any] = {
            "op": "file.presign_upload",
            "filename": filename,
            "content_type": content_type,
        }
        if filesize is not None:
            body["filesize"] = filesize
        return self.ok(body)["presigned_data"]

    def signed_path(self, file: dict[str, Any], expires_at: int | None = None, sig: str | None = None) -> str:
        """pgcube's own download path of ``file``, signed by the test secret."""
        exp = expires_at if expires_at is not None else 2_000_000_000
        signature = sig if sig is not None else SIGNER.download_signature(self.id, file["_key"], exp)
        return f"{self.plain_path(file)}?exp={exp}&sig={signature}"

    def plain_path(self, file: dict[str, Any]) -> str:
        return f"/files/{self.id}/{file['_key']}/name.bin"

    def rows(self) -> list[tuple[Any, ...]]:
        """The database's ``_files`` as PostgreSQL has it (for "nothing changed" checks)."""
        statement = f'SELECT _key, _userkey, _modified_at, data::text FROM "{self.schema}"._files ORDER BY 1'
        return [tuple(row) for row in self.pg.fetch(statement)]


def new_files_db(
    client: httpx.Client, settings: Settings, pg: SyncPg, account: Account | None = None
) -> FilesDb:
    """A new database of ``account`` (of a new account when none is given) and a server key
    scoped to it."""
    return FilesDb(**keyed_db_fields(client, pg, "files", account), settings=settings)


def stored(settings: Settings, object_key: str) -> bool:
    """Whether the store holds the object (the local disk under ``<data_dir>/files``, or S3)."""
    if not settings.storage_url:
        return (settings.files_path / object_key).is_file()
    return asyncio.run(open_store(settings).info(object_key)) is not None


def stored_under(settings: Settings, prefix: str) -> list[str]:
    """Every object the store holds under ``prefix`` (parts of unfinished writes included)."""
    store = open_store(settings).store
    return [meta["path"] for batch in obstore.list(store, prefix=prefix) for meta in batch]


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert error_code(response) == code


# --- streamed bodies -------------------------------------------------------------------------------


def pattern(size: int, seed: int = 7) -> Iterator[bytes]:
    """``size`` bytes that are not all alike, chunk by chunk (nothing held)."""
    block = hashlib.sha256(str(seed).encode()).digest() * (CHUNK // 32)
    sent = 0
    while sent < size:
        piece = block[: min(CHUNK, size - sent)]
        sent += len(piece)
        yield piece


def sha256_of(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


@dataclass
class StreamedForm:
    """A ``multipart/form-data`` body of text fields then one file, streamed."""

    fields: dict[str, str]
    size: int
    chunks: Iterable[bytes]
    filename: str = "upload.bin"
    boundary: str = "pgcube-test-" + "b" * 16

    def _head(self) -> bytes:
        parts = [
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in self.fields.items()
        ]
        parts.append(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="{self.filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        return "".join(parts).encode()

    def _tail(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def headers(self) -> dict[str, str]:
        length = len(self._head()) + self.size + len(self._tail())
        return {
            "content-type": f"multipart/form-data; boundary={self.boundary}",
            "content-length": str(length),
        }

    def body(self) -> Iterator[bytes]:
        yield self._head()
        yield from self.chunks
        yield self._tail()

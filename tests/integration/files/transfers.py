"""Helpers of the download and presigned-upload tests: a database with a server key, the ops
that announce and finish files, and multipart bodies streamed from generators (so a test
holds no file in memory)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from pgcube.files.urls import FileSigner
from tests.support.accounts import api_key_headers, create_api_key, new_account
from tests.support.live import TEST_JWT_SECRET
from tests.support.sync_pg import SyncPg

SIGNER = FileSigner(TEST_JWT_SECRET)
"""Signs as the test servers do (their service secret is the test one)."""
CHUNK = 1024 * 1024


@dataclass
class FileDb:
    client: httpx.Client
    id: str
    headers: dict[str, str]
    """A server key's ``X-API-KEY``."""

    def op(self, op: str, **body: Any) -> httpx.Response:
        return self.client.post(f"/api/{self.id}", json={"op": op, **body}, headers=self.headers)

    def data(self, op: str, **body: Any) -> Any:
        response = self.op(op, **body)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def upload(
        self, filename: str, content: bytes, content_type: str = "text/plain", *, public: bool = False
    ) -> httpx.Response:
        """The direct upload (``POST /api/{database_id}/files``)."""
        return self.client.post(
            f"/api/{self.id}/files",
            data={"public_read": "true" if public else "false"},
            files={"file": (filename, content, content_type)},
            headers=self.headers,
        )

    def uploaded(self, filename: str, content: bytes, content_type: str = "text/plain", **kw: Any) -> Any:
        response = self.upload(filename, content, content_type, **kw)
        assert response.status_code == 201, response.text
        return response.json()["data"]

    def presign(self, filename: str, content_type: str, filesize: int | None = None) -> Any:
        body: dict[str, Any] = {"filename": filename, "content_type": content_type}
        if filesize is not None:
            body["filesize"] = filesize
        return self.data("file.presign_upload", **body)["presigned_data"]

    def signed_path(self, file: dict[str, Any], expires_at: int | None = None, sig: str | None = None) -> str:
        """pgcube's own download path of ``file``, signed by the test secret."""
        exp = expires_at if expires_at is not None else 2_000_000_000
        signature = sig if sig is not None else SIGNER.download_signature(self.id, file["_key"], exp)
        return f"{self.plain_path(file)}?exp={exp}&sig={signature}"

    def plain_path(self, file: dict[str, Any]) -> str:
        return f"/files/{self.id}/{file['_key']}/name.bin"


def new_file_db(client: httpx.Client, pg: SyncPg) -> FileDb:
    account = new_account(client, pg)
    name = f"files_{secrets.token_hex(4)}"
    created = client.post("/api/create_database", json={"db_name": name}, headers=account.headers)
    assert created.status_code in (200, 201), created.text
    db_id = pg.fetchval("SELECT id FROM pgcube.databases WHERE name = $1", name)
    key = create_api_key(client, account, db_id)
    return FileDb(client, db_id, api_key_headers(key))


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

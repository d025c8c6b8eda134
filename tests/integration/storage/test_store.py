"""The object store on both backends (the local disk, and S3 through moto): streaming writes
and reads, ranges, limits, interrupted uploads, and S3's presigned POST and GET.

No PostgreSQL here: ``FileStore`` knows object keys only.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pgcube.errors import FileTooLarge
from pgcube.storage import FileStore, Written, content_disposition, open_store
from tests.support.s3 import StorageBackend, create_bucket, post_policy, s3_client, s3_overrides

MiB = 1024 * 1024


@pytest.fixture
def store(storage_backend: StorageBackend) -> FileStore:
    return open_store(storage_backend.settings())


@pytest.fixture
def key() -> str:
    return f"db{secrets.token_hex(4)}/{secrets.token_hex(8)}"


def payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


async def chunked(data: bytes, chunk: int = MiB) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def write(store: FileStore, key: str, chunks: AsyncIterator[bytes], max_bytes: int = 100 * MiB) -> Written:
    return asyncio.run(store.write(key, chunks, max_bytes=max_bytes, content_type="application/octet-stream"))


def read(store: FileStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return asyncio.run(collect(store.read(key, start=start, end=end)))


def leftovers(store: FileStore, key: str) -> list[str]:
    """Anything the store keeps of ``key``: the object, a part file, an unfinished multipart upload."""
    found: list[str] = []
    if asyncio.run(store.info(key)) is not None:
        found.append(key)
    if store.kind == "local":
        folder = Path(store.store.prefix or "") / key.rpartition("/")[0]  # type: ignore[union-attr]
        if folder.exists():
            found += [path.name for path in folder.iterdir() if path.name.startswith(key.rpartition("/")[2])]
    else:
        assert store.presigner is not None
        endpoint = str(store.store.config["endpoint"])  # type: ignore[union-attr]
        uploads = s3_client(endpoint).list_multipart_uploads(
            Bucket=store.presigner.bucket, Prefix=store.presigner.object_name(key)
        )
        found += [upload["Key"] for upload in uploads.get("Uploads", [])]
    return found


@pytest.mark.parametrize(
    "size", [0, 1, 300_000, 20 * MiB + 123], ids=["empty", "one-byte", "small", "multipart"]
)
def test_write_then_read_back(store: FileStore, key: str, size: int) -> None:
    data = payload(size)
    written = write(store, key, chunked(data))
    assert written == Written(size, hashlib.sha256(data).hexdigest())
    info = asyncio.run(store.info(key))
    assert info is not None
    assert info.size == size
    assert info.etag
    assert read(store, key) == data
    assert asyncio.run(store.digest(key)) == written


def test_ranges(store: FileStore, key: str) -> None:
    data = payload(3 * MiB + 17)
    write(store, key, chunked(data, 64 * 1024))
    assert read(store, key, 0, 10) == data[:10]
    assert read(store, key, 1000, 2 * MiB + 5) == data[1000 : 2 * MiB + 5]
    assert read(store, key, len(data) - 100) == data[-100:]
    assert read(store, key, len(data) - 1, len(data)) == data[-1:]


def test_a_missing_object(store: FileStore, key: str) -> None:
    assert asyncio.run(store.info(key)) is None
    with pytest.raises(FileNotFoundError):
        read(store, key)


def test_delete_is_idempotent(store: FileStore, key: str) -> None:
    write(store, key, chunked(b"bytes"))
    other = key + "-other"
    write(store, other, chunked(b"more"))
    asyncio.run(store.delete([key, other, key + "-never"]))
    asyncio.run(store.delete([key]))
    assert asyncio.run(store.info(key)) is None
    assert asyncio.run(store.info(other)) is None


@pytest.mark.parametrize("size", [1001, 12 * MiB], ids=["one-chunk", "after-parts"])
def test_past_max_bytes_is_file_too_large_and_keeps_nothing(store: FileStore, key: str, size: int) -> None:
    with pytest.raises(FileTooLarge) as refused:
        write(store, key, chunked(payload(size)), max_bytes=size - 1)
    assert refused.value.details == {"max_bytes": size - 1}
    assert leftovers(store, key) == []


def test_exactly_max_bytes_is_kept(store: FileStore, key: str) -> None:
    assert write(store, key, chunked(payload(1000)), max_bytes=1000).size == 1000


def test_a_connection_cut_halfway_keeps_nothing(store: FileStore, key: str) -> None:
    async def cut() -> AsyncIterator[bytes]:
        for _ in range(12):
            yield payload(MiB)
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        write(store, key, cut())
    assert leftovers(store, key) == []


def test_overwriting_a_key_replaces_it(store: FileStore, key: str) -> None:
    write(store, key, chunked(b"first version"))
    write(store, key, chunked(b"second"))
    assert read(store, key) == b"second"


def test_only_s3_presigns(storage_backend: StorageBackend, store: FileStore) -> None:
    assert (store.presigner is not None) == (storage_backend.kind == "s3")


@pytest.mark.slow
def test_memory_stays_flat_on_a_large_local_write(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    from pgcube.settings import Settings

    store = open_store(Settings.from_env({}, data_dir=str(tmp_path)))
    process = psutil.Process()
    block = os.urandom(MiB)
    peak = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal peak
        for index in range(200):
            yield index.to_bytes(4, "big") + block[4:]
            peak = max(peak, process.memory_info().rss)

    before = process.memory_info().rss
    written = write(store, "db/large", stream(), max_bytes=300 * MiB)
    assert written.size == 200 * MiB
    growth = peak - before
    assert growth < 64 * MiB, f"RSS grew by {growth / MiB:.0f} MiB while writing 200 MiB"


# --- presigned POST and GET (S3 only) --------------------------------------------------


@pytest.fixture(scope="module")
def s3_store(s3_endpoint: str) -> FileStore:
    """The S3 backend alone: presigned URLs are S3's (the local backend signs its own URLs)."""
    backend = StorageBackend("s3", s3_overrides(s3_endpoint, create_bucket(s3_endpoint)))
    return open_store(backend.settings())


def presigned_post(store: FileStore, key: str, **options: Any) -> tuple[str, dict[str, str]]:
    assert store.presigner is not None
    values: dict[str, Any] = {"max_bytes": 1000, "content_type": "text/plain", "expires_in": 900} | options
    return store.presigner.presigned_post(key, **values)


def test_the_presigned_post_policy_limits_size_type_and_name(s3_store: FileStore, key: str) -> None:
    disposition = content_disposition('année "1".txt', attachment=True)
    url, fields = presigned_post(s3_store, key, content_disposition=disposition)
    assert s3_store.presigner is not None
    object_name = s3_store.presigner.object_name(key)
    assert object_name == f"files/{key}"
    assert url.endswith(f"/{s3_store.presigner.bucket}")
    assert fields["key"] == object_name
    assert fields["Content-Type"] == "text/plain"
    assert fields["Content-Disposition"] == disposition
    conditions = post_policy(fields)["conditions"]
    assert ["content-length-range", 0, 1000] in conditions
    assert {"Content-Type": "text/plain"} in conditions
    assert {"Content-Disposition": disposition} in conditions
    assert {"key": object_name} in conditions
    assert {"bucket": s3_store.presigner.bucket} in conditions


def test_without_a_disposition_the_post_sets_none(s3_store: FileStore, key: str) -> None:
    _, fields = presigned_post(s3_store, key)
    assert "Content-Disposition" not in fields
    assert not any("Content-Disposition" in condition for condition in post_policy(fields)["conditions"])


def test_a_presigned_post_then_get_over_http(s3_store: FileStore, key: str) -> None:
    data = "une ligne, été\n".encode() * 40
    url, fields = presigned_post(s3_store, key, max_bytes=len(data), content_type="text/plain; charset=utf-8")
    # Fields first, the file last, as the SDKs post them (S3 ignores fields after the file).
    answer = httpx.post(url, data=fields, files={"file": ("notes.txt", data)})
    assert answer.status_code == 204, answer.text
    info = asyncio.run(s3_store.info(key))
    assert info is not None
    assert info.size == len(data)

    assert s3_store.presigner is not None
    name = 'Relevé "mars" 2024.txt'
    get_url = s3_store.presigner.presigned_get(
        key, filename=name, content_type="text/plain; charset=utf-8", attachment=True, expires_in=60
    )
    download = httpx.get(get_url)
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["content-disposition"] == content_disposition(name, attachment=True)
    assert download.headers["content-type"] == "text/plain; charset=utf-8"
    ranged = httpx.get(get_url, headers={"Range": "bytes=3-9"})
    assert ranged.status_code == 206
    assert ranged.content == data[3:10]


def test_the_singlebase_sdk_uploads_unchanged(s3_store: FileStore, key: str, tmp_path: Path) -> None:
    from singlebase.client import upload_presigned_file

    path = tmp_path / "photo.png"
    path.write_bytes(payload(5000))
    url, fields = presigned_post(s3_store, key, max_bytes=10_000, content_type="image/png")
    upload_presigned_file(str(path), {"url": url, "fields": fields})
    assert asyncio.run(s3_store.digest(key)) == Written(5000, hashlib.sha256(path.read_bytes()).hexdigest())


def test_a_presigned_get_may_show_inline(s3_store: FileStore, key: str) -> None:
    write(s3_store, key, chunked(b"<p>hi</p>"))
    assert s3_store.presigner is not None
    url = s3_store.presigner.presigned_get(
        key, filename="page.html", content_type="text/html", attachment=False, expires_in=60
    )
    assert httpx.get(url).headers["content-disposition"].startswith("inline; ")


@pytest.mark.parametrize("expires_in", [0, -1, 7 * 24 * 3600 + 1])
def test_expiry_out_of_range_is_refused(s3_store: FileStore, key: str, expires_in: int) -> None:
    assert s3_store.presigner is not None
    with pytest.raises(ValueError, match="expires_in"):
        s3_store.presigner.presigned_get(
            key, filename="a", content_type="text/plain", attachment=True, expires_in=expires_in
        )
    with pytest.raises(ValueError, match="expires_in"):
        presigned_post(s3_store, key, expires_in=expires_in)


def test_an_empty_key_is_refused(s3_store: FileStore) -> None:
    with pytest.raises(ValueError, match="empty"):
        presigned_post(s3_store, "")

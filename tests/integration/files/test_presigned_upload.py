"""The presigned upload in three steps (SPEC §12): ``file.presign_upload``, the bytes POSTed as
to S3 (the Python SDK's own helper, unchanged), ``file.postsign_upload``. Locally the bytes go
to ``POST /storage/upload``, whose token is the only credential."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from singlebase.client import upload_presigned_file

from pgcube.files.urls import FileSigner, UploadGrant
from tests.integration.files.support import (
    SIGNER,
    FilesDb,
    StreamedForm,
    assert_error,
    new_files_db,
    pattern,
    sha256_of,
)
from tests.support.live import LiveServer, linked_server
from tests.support.sync_pg import SyncPg


@pytest.fixture(scope="module")
def db(files_server: LiveServer, pg: SyncPg) -> Iterator[FilesDb]:
    with files_server.client() as client:
        yield new_files_db(client, files_server.settings, pg)


@pytest.fixture
def local_only(backend: str) -> None:
    if backend != "local":
        pytest.skip("/storage/upload is the local store's: on S3 clients post to the bucket")


def post_form(db: FilesDb, presigned: dict[str, Any], content: bytes, **changes: str) -> httpx.Response:
    fields = {**presigned["fields"], **changes}
    return httpx.post(presigned["url"], data=fields, files={"file": ("x.bin", content)}, timeout=30)


def test_the_sdk_helper_uploads_unchanged(db: FilesDb, tmp_path: Path) -> None:
    content = b"".join(pattern(300_000))
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    presigned = db.presign("photo.jpg", "image/jpeg", len(content))
    assert db.ok({"op": "file.info", "_key": presigned["_key"]})["status"] == "pending"

    assert upload_presigned_file(str(path), presigned) is True

    file = db.ok({"op": "file.postsign_upload", "_key": presigned["_key"]})
    assert file["status"] == "ready"
    assert file["sha256"] == hashlib.sha256(content).hexdigest()
    assert file["filesize"] == str(len(content))
    downloaded = httpx.get(file["url"], timeout=30)
    assert downloaded.status_code == 200
    assert downloaded.content == content


def test_bytes_of_another_type_than_announced_are_refused_at_postsign(db: FilesDb, backend: str) -> None:
    """S3 refuses a form that breaks its policy's Content-Type, and pgcube's form a token's; a store
    that checks nothing (moto) keeps the type it was sent, and postsign refuses it: no ready file."""
    presigned = db.presign("a.png", "image/png", 6)
    response = post_form(db, presigned, b"<html>", **{"Content-Type": "text/html"})
    if backend == "local":
        assert_error(response, 403, "FORBIDDEN")
    else:
        assert response.status_code == 204  # moto does not enforce the policy
        assert_error(
            db.op({"op": "file.postsign_upload", "_key": presigned["_key"]}), 400, "INVALID_FILE_TYPE"
        )
    assert db.ok({"op": "file.info", "_key": presigned["_key"]})["status"] == "pending"
    assert_error(db.op({"op": "file.postsign_upload", "_key": presigned["_key"]}), 400, "VALIDATION_ERROR")


def test_the_form_answers_as_s3_does(db: FilesDb, local_only: None) -> None:
    presigned = db.presign("a.txt", "text/plain", 5)
    response = post_form(db, presigned, b"hello")
    assert response.status_code == 204
    again = db.presign("b.txt", "text/plain", 5)
    assert post_form(db, again, b"hello", success_action_status="200").status_code == 200
    assert presigned["url"].endswith("/storage/upload")
    assert set(presigned["fields"]) == {"key", "Content-Type", "token"}


def test_the_bytes_are_pending_until_postsign(db: FilesDb, local_only: None) -> None:
    presigned = db.presign("a.txt", "text/plain")
    assert post_form(db, presigned, b"pending bytes").status_code == 204
    assert db.ok({"op": "file.info", "_key": presigned["_key"]})["status"] == "pending"
    path = f"/files/{db.id}/{presigned['_key']}/a.txt"
    assert db.client.get(f"{path}?exp=2000000000&sig=x").status_code == 404
    file = db.ok({"op": "file.postsign_upload", "_key": presigned["_key"]})
    assert file["sha256"] == hashlib.sha256(b"pending bytes").hexdigest()


def test_a_finished_upload_takes_no_more_bytes(db: FilesDb, local_only: None) -> None:
    presigned = db.presign("a.txt", "text/plain")
    assert post_form(db, presigned, b"first").status_code == 204
    db.ok({"op": "file.postsign_upload", "_key": presigned["_key"]})
    assert_error(post_form(db, presigned, b"second"), 403, "FORBIDDEN")
    file = db.ok({"op": "file.info", "_key": presigned["_key"]})
    assert httpx.get(file["url"], timeout=30).content == b"first"


@pytest.mark.parametrize("field", ["key", "Content-Type"])
def test_a_token_grants_one_key_and_one_type(db: FilesDb, local_only: None, field: str) -> None:
    mine = db.presign("mine.txt", "text/plain")
    other = db.presign("other.txt", "text/plain")
    value = other["fields"]["key"] if field == "key" else "text/html"
    assert_error(post_form(db, mine, b"x", **{field: value}), 403, "FORBIDDEN")
    response = db.op({"op": "file.postsign_upload", "_key": other["_key"]})
    assert response.json()["error"]["details"]["reason"] == "no_bytes"


def test_an_expired_token_is_upload_expired(db: FilesDb, local_only: None) -> None:
    presigned = db.presign("late.txt", "text/plain")
    key = presigned["fields"]["key"]
    past = int(time.time()) - 10
    token = SIGNER.upload_token(UploadGrant(db.id, presigned["_key"], key, 100, "text/plain", past))
    assert_error(post_form(db, presigned, b"x", token=token), 400, "UPLOAD_EXPIRED")


@pytest.mark.parametrize("token", ["forged", "garbage", "missing"])
def test_a_token_not_ours_is_forbidden(db: FilesDb, local_only: None, token: str) -> None:
    presigned = db.presign("f.txt", "text/plain")
    grant = UploadGrant(
        db.id, presigned["_key"], presigned["fields"]["key"], 100, "text/plain", int(time.time()) + 600
    )
    fields = dict(presigned["fields"])
    if token == "forged":
        fields["token"] = FileSigner("another-secret-" + "y" * 40).upload_token(grant)
    elif token == "garbage":
        fields["token"] = "eyJ.not.a-token"
    else:
        del fields["token"]
    response = httpx.post(presigned["url"], data=fields, files={"file": ("x", b"x")}, timeout=30)
    assert_error(response, 403, "FORBIDDEN")


def test_more_bytes_than_granted_are_refused_and_not_kept(
    db: FilesDb, files_server: LiveServer, local_only: None
) -> None:
    presigned = db.presign("small.txt", "text/plain", 10)
    assert_error(post_form(db, presigned, b"x" * 11), 413, "FILE_TOO_LARGE")
    assert not (files_server.settings.files_path / presigned["fields"]["key"]).exists()
    response = db.op({"op": "file.postsign_upload", "_key": presigned["_key"]})
    assert response.json()["error"]["details"]["reason"] == "no_bytes"


def test_a_connection_cut_halfway_keeps_nothing(
    db: FilesDb, files_server: LiveServer, local_only: None
) -> None:
    presigned = db.presign("cut.bin", "application/octet-stream")
    form = StreamedForm(presigned["fields"], 4 * 1024 * 1024, pattern(4 * 1024 * 1024))
    body = form.body()
    head = [
        "POST /storage/upload HTTP/1.1",
        f"Host: 127.0.0.1:{files_server.port}",
        *(f"{name}: {value}" for name, value in form.headers.items()),
    ]
    with socket.create_connection(("127.0.0.1", files_server.port)) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.sendall(next(body))  # the fields and the file's part header
        sock.sendall(next(body))  # 1 MiB of the file's 4
        time.sleep(0.3)
    stored = files_server.settings.files_path / presigned["fields"]["key"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (stored.exists() or _partial_files(stored.parent)):
        time.sleep(0.1)
    assert not stored.exists()
    assert _partial_files(stored.parent) == []
    assert db.ok({"op": "file.info", "_key": presigned["_key"]})["status"] == "pending"
    response = db.op({"op": "file.postsign_upload", "_key": presigned["_key"]})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["reason"] == "no_bytes"


def _partial_files(folder: Path) -> list[Path]:
    """What a write in progress leaves (obstore stages a local write beside its object)."""
    return list(folder.glob("*#*")) if folder.exists() else []


# --- large files, memory flat ---------------------------------------------------------------------

BIG = 200 * 1024 * 1024
MEMORY_ALLOWANCE = 64 * 1024 * 1024


class PeakRss:
    """The process's resident memory sampled every 20 ms: its growth over the start."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.start = self._process.memory_info().rss
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


@pytest.fixture(scope="module")
def big_server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with linked_server(
        pg_url, data_dir=str(tmp_path_factory.mktemp("files-big")), max_file_bytes=BIG + 1024
    ) as server:
        yield server


@pytest.mark.slow
def test_200_mb_up_and_down_with_memory_flat(big_server: LiveServer, pg: SyncPg) -> None:
    with httpx.Client(base_url=big_server.url, timeout=300) as client:
        db = new_files_db(client, big_server.settings, pg)
        presigned = db.presign("big.bin", "application/octet-stream", BIG)
        form = StreamedForm(presigned["fields"], BIG, pattern(BIG))
        expected = sha256_of(pattern(BIG))
        with PeakRss() as memory:
            response = client.post("/storage/upload", content=form.body(), headers=form.headers)
            assert response.status_code == 204, response.text
            file = db.ok({"op": "file.postsign_upload", "_key": presigned["_key"]})
            assert file["sha256"] == expected
            with client.stream("GET", db.signed_path(file)) as download:
                assert download.status_code == 200
                assert sha256_of(download.iter_bytes()) == expected
        assert memory.growth < MEMORY_ALLOWANCE, f"memory grew {memory.growth / 2**20:.0f} MiB"


def test_20_mb_through_the_direct_upload_round_trips(db: FilesDb) -> None:
    """Several parts of a multipart store upload on S3; several chunks of a stream on both."""
    size = 20 * 1024 * 1024 + 17
    form = StreamedForm({"public_read": "false"}, size, pattern(size, seed=3), filename="twenty.bin")
    response = db.client.post(
        f"/api/{db.id}/files", content=form.body(), headers={**form.headers, **db.server_key}, timeout=120
    )
    assert response.status_code == 201, response.text
    file = response.json()["data"]
    assert file["sha256"] == sha256_of(pattern(size, seed=3))
    with db.client.stream("GET", db.signed_path(file), timeout=120) as download:
        assert sha256_of(download.iter_bytes()) == file["sha256"]

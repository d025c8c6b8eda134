"""A failure halfway leaves no ready file and no orphaned row or bytes (issue: files, must show):
the client cutting the connection during a direct upload, and a store that does not answer."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.files.support import (
    FilesDb,
    StreamedForm,
    assert_error,
    new_files_db,
    pattern,
    stored_under,
)
from tests.support.live import LiveServer, free_port, linked_server
from tests.support.s3 import s3_overrides
from tests.support.sync_pg import SyncPg

MIB = 1024 * 1024


@pytest.fixture
def db(files_server: LiveServer, pg: SyncPg) -> Iterator[FilesDb]:
    with files_server.client() as http:
        yield new_files_db(http, files_server.settings, pg)


def test_a_direct_upload_cut_halfway_keeps_nothing(db: FilesDb, files_server: LiveServer) -> None:
    form = StreamedForm({"public_read": "false"}, 4 * MIB, pattern(4 * MIB))
    body = form.body()
    head = [
        f"POST /api/{db.id}/files HTTP/1.1",
        f"Host: 127.0.0.1:{files_server.port}",
        *(f"{name}: {value}" for name, value in {**form.headers, **db.server_key}.items()),
    ]
    with socket.create_connection(("127.0.0.1", files_server.port)) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.sendall(next(body))  # the field and the file's part header
        sock.sendall(next(body))  # 1 MiB of the file's 4
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and stored_under(db.settings, db.id):
        time.sleep(0.1)
    assert stored_under(db.settings, db.id) == []
    assert db.rows() == []
    # The server is none the worse: the same upload, whole, goes through.
    assert db.uploaded(b"whole", public=False)["status"] == "ready"


@pytest.fixture(scope="module")
def storeless(pg_url: str) -> Iterator[LiveServer]:
    """A server whose S3 store is a loopback port nobody listens on."""
    with linked_server(pg_url, **s3_overrides(f"http://127.0.0.1:{free_port()}", "pgcube-gone")) as server:
        yield server


def test_a_store_that_does_not_answer_leaves_no_ready_file(storeless: LiveServer, pg: SyncPg) -> None:
    with httpx.Client(base_url=storeless.url, timeout=60) as client:
        db = new_files_db(client, storeless.settings, pg)
        started = time.monotonic()
        assert_error(db.upload(b"x" * MIB), 503, "SERVICE_UNAVAILABLE")
        assert time.monotonic() - started < 30  # bounded retries, not obstore's minutes
        assert db.rows() == []  # the direct upload writes its row only after its bytes

        presigned = db.presign("a.txt", "text/plain", 5)  # signing needs no store
        before = db.rows()
        assert [row[0] for row in before] == [presigned["_key"]]
        assert_error(
            db.op({"op": "file.postsign_upload", "_key": presigned["_key"]}), 503, "SERVICE_UNAVAILABLE"
        )
        assert db.rows() == before  # still pending, never ready

        # Deleting the row commits; the bytes' removal fails after it and is only logged.
        assert db.ok({"op": "file.delete", "_key": presigned["_key"]}) == {"count": 1}
        assert db.rows() == []

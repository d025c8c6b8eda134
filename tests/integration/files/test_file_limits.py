"""File limits (SPEC §12) and the sweep of stale uploads, on a server with small limits.

The limits are the service's own, the same on both stores: the local disk is enough here.
The sweep runs on both stores (``files_server``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgcube.data.maintenance import run_once
from pgcube.db.pool import create_pool
from pgcube.files.service import open_file_runtime, sweep_all_stale_uploads, sweep_stale_uploads
from tests.integration.files.support import FilesDb, error_code, new_files_db, stored
from tests.support.live import LiveServer, linked_server
from tests.support.sync_pg import SyncPg

MAX_BYTES = 1000
QUOTA_BYTES = 2500


@pytest.fixture(scope="module")
def small_server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with linked_server(
        pg_url,
        data_dir=str(tmp_path_factory.mktemp("files-limits")),
        max_file_bytes=MAX_BYTES,
        file_types="image/*,text/plain",
        quota_storage_bytes=QUOTA_BYTES,
    ) as server:
        yield server


@pytest.fixture
def db(small_server: LiveServer, pg: SyncPg) -> Iterator[FilesDb]:
    with small_server.client() as http:
        yield new_files_db(http, small_server.settings, pg)


def files_on_disk(db: FilesDb) -> list[Path]:
    folder = db.settings.files_path / db.id
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def test_an_announced_size_over_the_limit_is_413(db: FilesDb) -> None:
    body = {"op": "file.presign_upload", "filename": "a.png", "content_type": "image/png"}
    response = db.op({**body, "filesize": MAX_BYTES + 1})
    assert response.status_code == 413, response.text
    assert error_code(response) == "FILE_TOO_LARGE"
    assert db.rows() == []
    assert db.ok({**body, "filesize": MAX_BYTES})["info"]["status"] == "pending"


def test_a_direct_upload_over_the_limit_is_413_and_keeps_nothing(db: FilesDb) -> None:
    response = db.upload(b"x" * (MAX_BYTES + 1))
    assert response.status_code == 413, response.text
    assert error_code(response) == "FILE_TOO_LARGE"
    assert db.rows() == []
    assert files_on_disk(db) == []
    assert db.uploaded(b"x" * MAX_BYTES)["filesize"] == str(MAX_BYTES)


def test_a_type_off_the_allow_list_is_400(db: FilesDb) -> None:
    presign = db.op({"op": "file.presign_upload", "filename": "a.pdf", "content_type": "application/pdf"})
    assert presign.status_code == 400, presign.text
    assert error_code(presign) == "INVALID_FILE_TYPE"
    guessed = db.op({"op": "file.presign_upload", "filename": "a.pdf"})  # the type from the name
    assert error_code(guessed) == "INVALID_FILE_TYPE"
    direct = db.upload(b"%PDF-1.4", filename="a.pdf", content_type="application/pdf")
    assert direct.status_code == 400, direct.text
    assert error_code(direct) == "INVALID_FILE_TYPE"
    assert db.rows() == []
    assert files_on_disk(db) == []
    assert db.uploaded(b"png", filename="a.png", content_type="image/png")["fileclass"] == "image"


def test_the_storage_quota_is_403(db: FilesDb) -> None:
    for n in range(2):
        db.uploaded(b"q" * MAX_BYTES, filename=f"q{n}.txt")
    before = db.rows()
    direct = db.upload(b"q" * MAX_BYTES, filename="over.txt")
    assert direct.status_code == 403, direct.text
    assert error_code(direct) == "STORAGE_QUOTA_EXCEEDED"
    presign = db.op({"op": "file.presign_upload", "filename": "over.txt", "filesize": MAX_BYTES})
    assert presign.status_code == 403, presign.text
    assert error_code(presign) == "STORAGE_QUOTA_EXCEEDED"
    assert db.rows() == before
    assert len(files_on_disk(db)) == 2
    db.uploaded(b"q" * (QUOTA_BYTES - 2 * MAX_BYTES), filename="fits.txt")  # up to the quota exactly


# --- the sweep of stale uploads (both stores) -----------------------------------------------------


@pytest.fixture
def any_db(files_server: LiveServer, pg: SyncPg) -> Iterator[FilesDb]:
    with files_server.client() as http:
        yield new_files_db(http, files_server.settings, pg)


def age(db: FilesDb, key: str, *, status: str, seconds: int) -> None:
    """Make a file ``status`` and ``seconds`` old, as an upload left behind would be."""
    db.pg.execute(
        f"UPDATE \"{db.schema}\"._files SET data = data || jsonb_build_object('status', $2::text),"
        " _created_at = now() - make_interval(secs => $3) WHERE _key = $1",
        key,
        status,
        seconds,
    )


def test_the_sweep_removes_stale_pending_and_failed_uploads_rows_and_bytes(
    any_db: FilesDb, pg_url: str
) -> None:
    db = any_db
    retention = db.settings.pending_upload_retention
    stale_pending, stale_failed, fresh_pending, old_ready = (
        db.uploaded(f"file {n}".encode(), filename=f"f{n}.txt") for n in range(4)
    )
    age(db, stale_pending["_key"], status="pending", seconds=retention + 60)
    age(db, stale_failed["_key"], status="failed", seconds=retention + 60)
    age(db, fresh_pending["_key"], status="pending", seconds=retention - 60)
    age(db, old_ready["_key"], status="ready", seconds=retention * 10)

    async def sweep() -> int:
        runtime = open_file_runtime(db.settings)
        pool = await create_pool(db.settings, pg_url)
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await sweep_stale_uploads(runtime, conn, db.schema)
        finally:
            await pool.close()

    assert asyncio.run(sweep()) == 2
    left = {row[0] for row in db.rows()}
    assert left == {fresh_pending["_key"], old_ready["_key"]}
    assert not stored(db.settings, stale_pending["object_key"])
    assert not stored(db.settings, stale_failed["object_key"])
    assert stored(db.settings, fresh_pending["object_key"])
    assert stored(db.settings, old_ready["object_key"])


def test_the_housekeeping_round_sweeps_every_database(any_db: FilesDb, pg_url: str) -> None:
    db = any_db
    stale = db.uploaded(b"stale")
    age(db, stale["_key"], status="pending", seconds=db.settings.pending_upload_retention + 60)

    async def rounds() -> int:
        runtime = open_file_runtime(db.settings)
        pool = await create_pool(db.settings, pg_url)
        try:
            for _ in range(50):  # the server's own loop may hold the round's lock for a moment
                done = await run_once(
                    pool, db.settings, [functools.partial(sweep_all_stale_uploads, runtime)]
                )
                if done is not None:
                    return done.swept
                await asyncio.sleep(0.1)
            raise AssertionError("the housekeeping lock was never free")
        finally:
            await pool.close()

    assert asyncio.run(rounds()) >= 1
    assert db.rows() == []
    assert not stored(db.settings, stale["object_key"])

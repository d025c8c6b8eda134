"""The ``file.*`` ops and their aliases (SPEC §12), on both stores, over HTTP with a server key.

Files are uploaded with the direct upload and are public unless a test is about a private
file's signed URL: on S3 that URL is the store's presigned GET.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.files.support import FilesDb, error_code, new_files_db, stored
from tests.support.accounts import Account, new_account
from tests.support.live import LiveServer
from tests.support.sync_pg import SyncPg

FILE_KEYS = {
    "_key",
    "url",
    "filename",
    "filesize",
    "fileclass",
    "filetype",
    "content_type",
    "acl",
    "object_key",
    "folder",
    "metadata",
    "info",
    "image_variants",
    "status",
    "sha256",
    "_userkey",
    "_created_at",
    "_modified_at",
}


@pytest.fixture(scope="module")
def module_files_client(files_server: LiveServer) -> Iterator[httpx.Client]:
    with files_server.client() as http:
        yield http


@pytest.fixture(scope="module")
def owner(module_files_client: httpx.Client, pg: SyncPg) -> Account:
    return new_account(module_files_client, pg)


@pytest.fixture
def db(module_files_client: httpx.Client, files_server: LiveServer, owner: Account, pg: SyncPg) -> FilesDb:
    return new_files_db(module_files_client, files_server.settings, pg, owner)


def answer_without_url(file: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in file.items() if name != "url"}


# --- the file object and the aliases --------------------------------------------------------------


def test_a_direct_upload_answers_the_file_object(db: FilesDb) -> None:
    content = b"hello files"
    file = db.uploaded(content, metadata='{"album": "summer"}')
    assert set(file) == FILE_KEYS
    assert file["filesize"] == str(len(content))  # a string, as the seed's source shows
    assert file["filename"] == "hello.txt"
    assert file["content_type"] == "text/plain"
    assert file["fileclass"] == file["filetype"] == "document"
    assert file["acl"] == "public"
    assert file["status"] == "ready"
    assert file["sha256"] == hashlib.sha256(content).hexdigest()
    assert file["metadata"] == file["info"] == {"album": "summer"}
    assert file["image_variants"] == {}
    assert file["_userkey"] is None  # a server key uploads for no end user
    assert file["object_key"].startswith(f"{db.id}/")
    assert file["url"] == f"{db.settings.base_url}/files/{db.id}/{file['_key']}/hello.txt"
    assert stored(db.settings, file["object_key"])


@pytest.mark.parametrize("op", ["file.info", "file.get", "storage.get"])
def test_info_and_its_aliases_answer_the_file(db: FilesDb, op: str) -> None:
    file = db.uploaded()
    assert answer_without_url(db.ok({"op": op, "_key": file["_key"]})) == answer_without_url(file)


@pytest.mark.parametrize("op", ["file.list", "file.query", "file.find"])
def test_list_and_its_aliases_answer_the_files(db: FilesDb, op: str) -> None:
    file = db.uploaded()
    response = db.op({"op": op})
    assert response.status_code == 200, response.text
    assert [found["_key"] for found in response.json()["data"]] == [file["_key"]]
    assert response.json()["meta"]["pagination"]["count"] == 1


@pytest.mark.parametrize("op", ["file.delete", "storage.delete"])
def test_delete_and_its_alias_remove_the_file_and_its_bytes(db: FilesDb, op: str) -> None:
    file = db.uploaded()
    assert db.ok({"op": op, "_key": file["_key"]}) == {"count": 1}
    assert not stored(db.settings, file["object_key"])
    gone = db.op({"op": "file.info", "_key": file["_key"]})
    assert gone.status_code == 404
    assert error_code(gone) == "FILE_NOT_FOUND"


def test_a_private_file_has_a_signed_url(db: FilesDb, backend: str) -> None:
    file = db.uploaded(public=False)
    assert file["acl"] == "private"
    url = db.ok({"op": "file.info", "_key": file["_key"], "signed_ttl": 60})["url"]
    if backend == "local":
        assert url.startswith(f"{db.settings.base_url}/files/{db.id}/{file['_key']}/hello.txt?exp=")
        assert "&sig=" in url
    else:
        assert "X-Amz-Signature=" in url
    made_public = db.ok({"op": "file.update", "_key": file["_key"], "public_read": True})
    assert made_public["acl"] == "public"
    assert "?" not in made_public["url"]
    private_again = db.ok({"op": "file.update", "_key": file["_key"], "acl": "private"})
    assert private_again["acl"] == "private"


@pytest.mark.parametrize("ttl", [0, -1, 604801])
def test_signed_ttl_is_1_second_to_7_days(db: FilesDb, ttl: int) -> None:
    file = db.uploaded()
    response = db.op({"op": "file.info", "_key": file["_key"], "signed_ttl": ttl})
    assert response.status_code == 400, response.text
    assert error_code(response) == "VALIDATION_ERROR"
    assert db.ok({"op": "file.info", "_key": file["_key"], "signed_ttl": 604800})["_key"] == file["_key"]


# --- presigned uploads ------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["file.presign_upload", "file.preupload"])
def test_presign_announces_a_pending_file(db: FilesDb, op: str, backend: str) -> None:
    data = db.ok({"op": op, "filename": "a.png", "content_type": "image/png", "filesize": 3})
    info, presigned = data["info"], data["presigned_data"]
    assert set(info) == FILE_KEYS
    assert info["status"] == "pending"
    assert info["filesize"] == "3"
    assert info["fileclass"] == "image"
    assert presigned["_key"] == info["_key"]
    assert set(presigned) == {"url", "fields", "_key", "expires_at"}
    if backend == "local":
        assert presigned["url"] == f"{db.settings.base_url}/storage/upload"
        assert set(presigned["fields"]) == {"key", "Content-Type", "token"}


@pytest.mark.parametrize("op", ["file.postsign_upload", "file.finalize_upload", "file.postupload"])
def test_postsign_before_the_bytes_arrived_is_400(db: FilesDb, op: str) -> None:
    key = db.ok({"op": "file.presign_upload", "filename": "a.txt"})["info"]["_key"]
    response = db.op({"op": op, "_key": key})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["reason"] == "no_bytes"
    by_presigned_data = db.op({"op": op, "presigned_data": {"_key": key}})
    assert by_presigned_data.status_code == 400, by_presigned_data.text
    assert db.ok({"op": "file.info", "_key": key})["status"] == "pending"


@pytest.mark.parametrize("op", ["file.upload_error", "file.report_upload_failure"])
def test_upload_error_marks_the_file_failed(db: FilesDb, op: str) -> None:
    key = db.ok({"op": "file.presign_upload", "filename": "a.txt"})["info"]["_key"]
    assert db.ok({"op": op, "_key": key, "errors": ["network"]}) == {"_key": key, "status": "failed"}
    assert db.ok({"op": "file.info", "_key": key})["status"] == "failed"
    response = db.op({"op": "file.postsign_upload", "_key": key})
    assert response.status_code == 400, response.text
    assert error_code(response) == "VALIDATION_ERROR"


def test_upload_error_on_a_ready_file_is_400(db: FilesDb) -> None:
    file = db.uploaded()
    response = db.op({"op": "file.upload_error", "_key": file["_key"]})
    assert response.status_code == 400, response.text
    assert db.ok({"op": "file.info", "_key": file["_key"]})["status"] == "ready"


# --- update, delete, list ---------------------------------------------------------------------------


def test_update_merges_metadata_and_renames(db: FilesDb) -> None:
    file = db.uploaded(metadata='{"a": 1, "b": 1}')
    updated = db.ok({"op": "file.update", "_key": file["_key"], "metadata": {"b": 2, "c": 3}})
    assert updated["metadata"] == updated["info"] == {"a": 1, "b": 2, "c": 3}
    assert updated["filename"] == "hello.txt"
    renamed = db.ok({"op": "file.update", "_key": file["_key"], "filename": "greeting.txt"})
    assert renamed["filename"] == "greeting.txt"
    assert renamed["url"].endswith(f"/{file['_key']}/greeting.txt")
    assert renamed["object_key"] == file["object_key"]  # the bytes stay where they are
    by_info = db.ok({"op": "file.update", "_key": file["_key"], "info": {"d": 4}})
    assert by_info["metadata"] == {"a": 1, "b": 2, "c": 3, "d": 4}


@pytest.mark.parametrize("filename", ["", "a/b.txt", "..", "bad\nname.txt", "x" * 256])
def test_a_bad_filename_changes_nothing(db: FilesDb, filename: str) -> None:
    file = db.uploaded()
    before = db.rows()
    response = db.op({"op": "file.update", "_key": file["_key"], "filename": filename, "metadata": {"z": 1}})
    assert response.status_code == 400, response.text
    assert error_code(response) == "VALIDATION_ERROR"
    assert db.rows() == before


def test_delete_by_keys_counts_what_was_there(db: FilesDb) -> None:
    files = [db.uploaded(f"file {n}".encode(), filename=f"f{n}.txt") for n in range(3)]
    keep = db.uploaded(b"keep")
    keys = [file["_key"] for file in files] + ["0" * 24]
    assert db.ok({"op": "file.delete", "_keys": keys}) == {"count": 3}
    for file in files:
        assert not stored(db.settings, file["object_key"])
    assert stored(db.settings, keep["object_key"])
    assert [file["_key"] for file in db.ok({"op": "file.list"})] == [keep["_key"]]
    assert db.ok({"op": "file.delete", "_keys": keys}) == {"count": 0}


def test_list_matches_sorts_and_pages(db: FilesDb) -> None:
    small = db.uploaded(b"p" * 10, filename="small.png", content_type="image/png")
    large = db.uploaded(b"p" * 30, filename="large.png", content_type="image/png")
    text = db.uploaded(b"t" * 20, filename="notes.txt", content_type="text/plain")

    def keys(body: dict[str, Any]) -> list[str]:
        return [file["_key"] for file in db.ok({"op": "file.list", **body})]

    pngs = keys({"match": {"content_type": "image/png"}, "sort": "filesize"})
    assert pngs == [small["_key"], large["_key"]]
    assert keys({"match": {"filesize": {"$gt": 15}}, "sort": "-filesize"}) == [large["_key"], text["_key"]]
    assert keys({"match": {"fileclass": "document"}}) == [text["_key"]]
    assert keys({"match": {"filename": {"$regex": "^s"}}}) == [small["_key"]]

    first = db.op({"op": "file.list", "sort": "filesize", "limit": 2})
    assert first.status_code == 200, first.text
    assert [file["_key"] for file in first.json()["data"]] == [small["_key"], text["_key"]]
    pagination = first.json()["meta"]["pagination"]
    assert pagination["count"] == 2
    assert pagination["size"] == 3
    assert pagination["has_next"] is True
    rest = keys({"sort": "filesize", "limit": 2, "offset": 2})
    assert rest == [large["_key"]]
    second_page = db.op({"op": "file.list", "sort": "filesize", "page": 2, "per_page": 2})
    assert second_page.json()["meta"]["pagination"]["has_next"] is False


# --- bad input ------------------------------------------------------------------------------------

BAD_BODIES = [
    {"op": "file.info"},
    {"op": "file.info", "_key": ""},
    {"op": "file.info", "_key": 5},
    {"op": "file.info", "_key": "{key}", "colour": "red"},
    {"op": "file.info", "_key": "{key}", "signed_ttl": "soon"},
    {"op": "file.update", "_key": "{key}"},
    {"op": "file.update", "metadata": {"a": 1}},
    {"op": "file.update", "_key": "{key}", "metadata": "text"},
    {"op": "file.update", "_key": "{key}", "acl": "everyone"},
    {"op": "file.update", "_key": "{key}", "acl": "public", "public_read": True},
    {"op": "file.update", "_key": "{key}", "metadata": {"a": 1}, "info": {"a": 2}},
    {"op": "file.update", "_key": "{key}", "public_read": "yes"},
    {"op": "file.delete"},
    {"op": "file.delete", "_key": "{key}", "_keys": ["{key}"]},
    {"op": "file.delete", "_keys": []},
    {"op": "file.delete", "_keys": "{key}"},
    {"op": "file.delete", "_keys": [""]},
    {"op": "file.delete", "_key": "{key}", "match": {}},
    {"op": "file.list", "match": "all"},
    {"op": "file.list", "match": {"filesize": {"$near": 1}}},
    {"op": "file.list", "limit": "ten"},
    {"op": "file.list", "sort": 5},
    {"op": "file.list", "collection": "_files"},
    {"op": "file.presign_upload"},
    {"op": "file.presign_upload", "filename": "a.txt", "filesize": "big"},
    {"op": "file.presign_upload", "filename": "a.txt", "filesize": -1},
    {"op": "file.presign_upload", "filename": "../a.txt"},
    {"op": "file.presign_upload", "filename": "a.txt", "content_type": "not a type"},
    {"op": "file.presign_upload", "filename": "a.txt", "folder": "../up"},
    {"op": "file.presign_upload", "filename": "a.txt", "metadata": {}, "info": {}},
    {"op": "file.presign_upload", "filename": "a.txt", "extra": 1},
    {"op": "file.postsign_upload"},
    {"op": "file.postsign_upload", "_key": "{key}", "presigned_data": {"_key": "0" * 24}},
    {"op": "file.postsign_upload", "presigned_data": "x"},
    {"op": "file.upload_error"},
    {"op": "file.upload_error", "_key": "{key}", "reason": "x"},
]


def _with_key(value: Any, key: str) -> Any:
    if isinstance(value, str):
        return value.replace("{key}", key)
    if isinstance(value, list):
        return [_with_key(item, key) for item in value]
    if isinstance(value, dict):
        return {name: _with_key(item, key) for name, item in value.items()}
    return value


def test_bad_input_on_every_op_is_400_and_changes_nothing(db: FilesDb) -> None:
    file = db.uploaded(metadata='{"a": 1}')
    before = db.rows()
    for body in BAD_BODIES:
        response = db.op(_with_key(body, file["_key"]))
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert error["code"] in ("VALIDATION_ERROR", "INVALID_QUERY"), (body, error)
    assert db.rows() == before
    assert stored(db.settings, file["object_key"])


def test_an_unknown_key_is_404_file_not_found(db: FilesDb) -> None:
    for body in (
        {"op": "file.info", "_key": "0" * 24},
        {"op": "file.update", "_key": "0" * 24, "metadata": {"a": 1}},
        {"op": "file.postsign_upload", "_key": "0" * 24},
    ):
        response = db.op(body)
        assert response.status_code == 404, (body, response.text)
        assert error_code(response) == "FILE_NOT_FOUND"
    assert db.ok({"op": "file.delete", "_key": "0" * 24}) == {"count": 0}

"""``GET``/``HEAD /files/{database_id}/{_key}/{filename}`` (SPEC §12) on both stores: who may
fetch a file (a public one anyone, a private one its signed URL), and how (Range, ETag, 304,
headers that keep a browser from running what it fetched)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pgcube.management.naming import is_database_id
from tests.integration.files.support import SIGNER, FilesDb, assert_error, new_files_db, pattern, sha256_of
from tests.support.live import LiveServer
from tests.support.sync_pg import SyncPg

CONTENT = bytes(range(256)) * 4  # 1024 bytes, each position telling


@pytest.fixture(scope="module")
def db(files_server: LiveServer, pg: SyncPg) -> Iterator[FilesDb]:
    with files_server.client() as client:
        yield new_files_db(client, files_server.settings, pg)


@pytest.fixture(scope="module")
def private_file(db: FilesDb) -> dict[str, Any]:
    file: dict[str, Any] = db.uploaded(CONTENT, filename="report.txt", public=False)
    return file


@pytest.fixture(scope="module")
def public_file(db: FilesDb) -> dict[str, Any]:
    file: dict[str, Any] = db.uploaded(CONTENT, filename="logo.txt", public=True)
    return file


# --- who may fetch -----------------------------------------------------------------------------


def test_the_file_url_of_a_private_file_serves_it(db: FilesDb, private_file: dict[str, Any]) -> None:
    url = db.ok({"op": "file.info", "_key": private_file["_key"]})["url"]
    # Locally pgcube's own signed path; on S3 the store's presigned GET.
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.content == CONTENT


def test_a_signed_path_serves_a_private_file(db: FilesDb, private_file: dict[str, Any]) -> None:
    response = db.client.get(db.signed_path(private_file))
    assert response.status_code == 200, response.text
    assert response.content == CONTENT
    assert response.headers["cache-control"].startswith("private, max-age=")
    assert hashlib.sha256(response.content).hexdigest() == private_file["sha256"]


def test_a_private_file_without_a_signature_is_forbidden(db: FilesDb, private_file: dict[str, Any]) -> None:
    assert_error(db.client.get(db.plain_path(private_file)), 403, "FORBIDDEN")
    assert_error(db.client.get(db.plain_path(private_file) + "?exp=2000000000"), 403, "FORBIDDEN")


def _tampered(signature: str) -> str:
    return ("A" if signature[0] != "A" else "B") + signature[1:]


@pytest.mark.parametrize("change", ["sig", "exp", "expired", "other file", "garbage exp"])
def test_a_changed_or_expired_signature_is_forbidden(
    db: FilesDb, private_file: dict[str, Any], public_file: dict[str, Any], change: str
) -> None:
    exp = int(time.time()) + 600
    sig = SIGNER.download_signature(db.id, private_file["_key"], exp)
    if change == "sig":
        path = db.signed_path(private_file, exp, _tampered(sig))
    elif change == "exp":
        path = db.signed_path(private_file, exp + 1, sig)
    elif change == "expired":
        past = int(time.time()) - 5
        path = db.signed_path(
            private_file, past, SIGNER.download_signature(db.id, private_file["_key"], past)
        )
    elif change == "other file":
        other = db.uploaded(b"other", filename="other.txt", public=False)
        path = db.signed_path(other, exp, sig)
    else:
        path = f"{db.plain_path(private_file)}?exp=1e10&sig={sig}"
    assert_error(db.client.get(path), 403, "FORBIDDEN")


def test_a_public_file_needs_no_signature(db: FilesDb, public_file: dict[str, Any]) -> None:
    response = db.client.get(db.plain_path(public_file))
    assert response.status_code == 200, response.text
    assert response.content == CONTENT
    assert response.headers["cache-control"].startswith("public, max-age=")
    assert db.ok({"op": "file.info", "_key": public_file["_key"]})["url"].endswith(
        f"/files/{db.id}/{public_file['_key']}/logo.txt"
    )


def test_the_name_in_the_path_is_only_for_the_link(db: FilesDb, public_file: dict[str, Any]) -> None:
    for name in ("logo.txt", "renamed.pdf", "x"):
        response = db.client.get(f"/files/{db.id}/{public_file['_key']}/{name}")
        assert response.status_code == 200, name
        assert 'filename="logo.txt"' in response.headers["content-disposition"]


@pytest.mark.parametrize("which", ["unknown database", "malformed database", "unknown file", "pending file"])
def test_what_is_not_there_is_one_404(db: FilesDb, public_file: dict[str, Any], which: str) -> None:
    key = public_file["_key"]
    path = {
        "unknown database": f"/files/{'0' * 24}/{key}/a",
        "malformed database": f"/files/not-an-id/{key}/a",
        "unknown file": f"/files/{db.id}/{'f' * 24}/a",
    }.get(which)
    if path is None:
        pending = db.ok(
            {
                "op": "file.presign_upload",
                "filename": "p.txt",
                "content_type": "text/plain",
                "public_read": True,
            }
        )
        path = f"/files/{db.id}/{pending['info']['_key']}/p.txt"
    assert_error(db.client.get(path), 404, "FILE_NOT_FOUND")
    assert db.client.head(path).status_code == 404


# --- what is sent -------------------------------------------------------------------------------


def test_the_headers_of_a_download(db: FilesDb, public_file: dict[str, Any]) -> None:
    response = db.client.get(db.plain_path(public_file))
    headers = response.headers
    assert headers["content-type"] == "text/plain"
    assert headers["content-length"] == str(len(CONTENT))
    assert headers["etag"] == f'"{hashlib.sha256(CONTENT).hexdigest()}"'
    assert headers["accept-ranges"] == "bytes"
    assert headers["last-modified"].endswith(" GMT")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"].startswith("inline; ")
    assert "content-security-policy" not in headers


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("page.html", "text/html"), ("image.svg", "image/svg+xml"), ("script.js", "text/javascript")],
)
def test_active_content_is_an_attachment_in_a_sandbox(db: FilesDb, name: str, content_type: str) -> None:
    file = db.uploaded(
        b"<script>alert(document.cookie)</script>", filename=name, content_type=content_type, public=True
    )
    response = db.client.get(db.plain_path(file))
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; ")
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_head_answers_the_headers_without_the_bytes(db: FilesDb, public_file: dict[str, Any]) -> None:
    response = db.client.head(db.plain_path(public_file))
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(CONTENT))
    assert response.headers["etag"] == f'"{public_file["sha256"]}"'
    ranged = db.client.head(db.plain_path(public_file), headers={"range": "bytes=0-9"})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 0-9/{len(CONTENT)}"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=100-299", 100, 300),
        ("bytes=-10", len(CONTENT) - 10, len(CONTENT)),
        ("bytes=1000-", 1000, len(CONTENT)),
        ("bytes=1000-99999", 1000, len(CONTENT)),
        ("bytes=-5000", 0, len(CONTENT)),
    ],
)
def test_one_range_is_a_206(
    db: FilesDb, private_file: dict[str, Any], header: str, start: int, end: int
) -> None:
    response = db.client.get(db.signed_path(private_file), headers={"range": header})
    assert response.status_code == 206, response.text
    assert response.content == CONTENT[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(CONTENT)}"
    assert response.headers["content-length"] == str(end - start)


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_a_range_past_the_end_is_a_416(db: FilesDb, private_file: dict[str, Any], header: str) -> None:
    response = db.client.get(db.signed_path(private_file), headers={"range": header})
    assert_error(response, 416, "RANGE_NOT_SATISFIABLE")
    assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "lines=1-2", "bytes=9-2", "bytes=x-"])
def test_several_ranges_or_none_understood_serve_the_whole_file(
    db: FilesDb, private_file: dict[str, Any], header: str
) -> None:
    response = db.client.get(db.signed_path(private_file), headers={"range": header})
    assert response.status_code == 200
    assert response.content == CONTENT


def test_if_range_of_another_version_serves_the_whole_file(db: FilesDb, private_file: dict[str, Any]) -> None:
    etag = f'"{private_file["sha256"]}"'
    same = db.client.get(db.signed_path(private_file), headers={"range": "bytes=0-1", "if-range": etag})
    assert same.status_code == 206
    other = db.client.get(db.signed_path(private_file), headers={"range": "bytes=0-1", "if-range": '"x"'})
    assert other.status_code == 200
    assert other.content == CONTENT


def test_if_none_match_answers_304(db: FilesDb, private_file: dict[str, Any]) -> None:
    etag = db.client.get(db.signed_path(private_file)).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = db.client.get(db.signed_path(private_file), headers={"if-none-match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
    assert (
        db.client.get(db.signed_path(private_file), headers={"if-none-match": '"other"'}).status_code == 200
    )
    modified = db.client.get(db.signed_path(private_file)).headers["last-modified"]
    assert (
        db.client.get(db.signed_path(private_file), headers={"if-modified-since": modified}).status_code
        == 304
    )


# --- bytes round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 5 * 1024 * 1024 + 3])
def test_bytes_round_trip_exactly(db: FilesDb, size: int) -> None:
    content = b"".join(pattern(size))
    file = db.uploaded(content, filename="data.bin", content_type="application/octet-stream", public=False)
    assert file["sha256"] == hashlib.sha256(content).hexdigest()
    assert file["filesize"] == str(size)
    with db.client.stream("GET", db.signed_path(file)) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(size)
        assert sha256_of(response.iter_bytes()) == file["sha256"]


def test_a_file_whose_bytes_are_gone_is_a_404(db: FilesDb, files_server: LiveServer, backend: str) -> None:
    if backend != "local":
        pytest.skip("removes the bytes behind pgcube's back on the local disk")
    file = db.uploaded(b"soon gone", filename="gone.txt", public=True)
    (files_server.settings.files_path / db.id / file["_key"]).unlink()
    assert_error(db.client.get(db.plain_path(file)), 404, "FILE_NOT_FOUND")


# --- names --------------------------------------------------------------------------------------

NAMES = {
    "dot dot slash": "../../etc/passwd",
    "dot dot backslash": "..\\..\\windows\\win.ini",
    "nul": "a\x00b.txt",
    "crlf": "a\r\nSet-Cookie: x=1.txt",
    "255 chars": "n" * 251 + ".txt",
    "300 chars": "n" * 296 + ".txt",
    "emoji": "📄 report 🎉.txt",
    "right to left": "\u202etxt.exe",
    "arabic": "تقرير.txt",
    "combining marks": "re\u0301sume\u0301.txt",
    "quotes": 'a"b;c\\d.txt',
}


@pytest.mark.parametrize("label", list(NAMES))
def test_any_name_is_refused_or_served_under_its_key(
    db: FilesDb, files_server: LiveServer, backend: str, label: str
) -> None:
    name = NAMES[label]
    announced = db.op(
        {"op": "file.presign_upload", "filename": name, "content_type": "text/plain", "public_read": True}
    )
    direct = db.upload(b"named", filename=name, public=True)
    for response in (announced, direct):
        assert response.status_code in (200, 201, 400), response.text
    if label in ("nul", "crlf", "300 chars", "right to left", "dot dot slash", "dot dot backslash"):
        assert announced.status_code == 400, label
    if direct.status_code == 400:
        return
    file = direct.json()["data"]
    assert file["object_key"] == f"{db.id}/{file['_key']}"
    response = db.client.get(f"/files/{db.id}/{file['_key']}/x")
    assert response.status_code == 200
    assert response.content == b"named"
    disposition = response.headers["content-disposition"]
    assert disposition.isascii()
    assert not any(char in disposition for char in "\r\n\x00")
    assert disposition.startswith('inline; filename="')
    if backend == "local":
        root = files_server.settings.files_path
        assert (root / db.id / file["_key"]).read_bytes() == b"named"
        stored = [path.relative_to(root.parent) for path in root.parent.rglob("*") if path.is_file()]
        assert all(path.parts[0] == "files" and is_database_id(path.parts[1]) for path in stored), stored

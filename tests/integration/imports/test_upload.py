"""The upload itself: its own size limit, streaming, broken and interrupted uploads, the form, credentials."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from pgcube.data.imports.service import SPOOL_BYTES
from pgcube.settings import Settings
from tests.integration.imports.conftest import ImportDb, upload
from tests.support.accounts import Account, api_key_headers, create_api_key, new_account
from tests.support.live import LiveServer, test_settings
from tests.support.sync_pg import SyncPg

BOUNDARY = "pgcube-test-boundary"


def multipart(
    fields: dict[str, str], file: bytes, *, close: bool = True, filename: str = "items.json"
) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="json_file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + file
    )
    return b"".join(parts) + (f"\r\n--{BOUNDARY}--\r\n".encode() if close else b"")


def raw_request(headers: dict[str, str], body: bytes, content_length: int) -> bytes:
    lines = [
        "POST /api/import_data HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        f"Content-Length: {content_length}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


OPEN_TRANSACTIONS = (
    "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() "
    "AND application_name = 'pgcube' AND xact_start IS NOT NULL AND pid <> pg_backend_pid()"
)
"""pgcube backends of this test run inside a transaction: ``idle in transaction`` as well as
``active`` (a COPY still waiting for rows is active, and its transaction is open)."""


def no_open_transaction(pg: SyncPg, timeout: float = 10, *, but: int | None = None) -> bool:
    """True once no pgcube connection of this test run (but the backend ``but``) is left inside
    a transaction. Polled: other servers of the run open short transactions of their own."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(row["pid"] == but for row in pg.fetch(OPEN_TRANSACTIONS)):
            return True
        time.sleep(0.05)
    return False


def copy_in_progress(pg: SyncPg, timeout: float = 10) -> int:
    """The pid of the pgcube backend inside the import's COPY, once PostgreSQL shows one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid: int | None = pg.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'pgcube' AND state = 'active' AND xact_start IS NOT NULL "
            "AND query LIKE 'COPY %pgcube_import%'"
        )
        if pid is not None:
            return pid
        time.sleep(0.02)
    raise AssertionError(f"no import COPY visible in pg_stat_activity within {timeout} s")


def ndjson_lines(n: int) -> bytes:
    return b"".join(b'{"name": "item %d", "n": %d}\n' % (i, i) for i in range(n))


def test_the_app_wide_body_limit_does_not_apply_to_imports(db: ImportDb) -> None:
    content = b"".join(b'{"name": "%d", "text": "%s"}\n' % (i, b"x" * 1000) for i in range(2_500))
    assert len(content) > 2 * 1024 * 1024
    response = db.upload(content, collection="items")
    assert response.status_code == 201, response.text
    assert response.json()["inserted_count"] == 2_500


def test_a_client_that_disconnects_mid_upload_leaves_nothing_behind(
    db: ImportDb, live_server: LiveServer, settings: Settings, pg: SyncPg
) -> None:
    """The disconnect itself ends the import's transaction (rolled back: no collection), well
    before the idle timeout would; the import holds no other transaction open meanwhile."""
    deadline = 10.0
    assert settings.import_idle_timeout > deadline
    lines = ndjson_lines(40_000)
    assert len(lines) > SPOOL_BYTES  # past what is read before the import takes a connection
    body = multipart({"database_id": db.id, "collection_name": "fresh"}, lines, close=False)
    with socket.create_connection(("127.0.0.1", live_server.port)) as sock:
        sock.sendall(raw_request(db.headers, body, content_length=len(body) + 1_000_000))
        importing = copy_in_progress(pg, timeout=deadline)  # inside the COPY, waiting for more
        assert no_open_transaction(pg, timeout=deadline, but=importing), pg.fetch(OPEN_TRANSACTIONS)
    assert no_open_transaction(pg, timeout=deadline), pg.fetch(OPEN_TRANSACTIONS)
    assert db.count("fresh") is None
    assert db.upload(b'{"name": "after"}', collection="items").status_code == 201


def test_a_multipart_body_without_its_closing_boundary_is_refused(db: ImportDb) -> None:
    body = multipart({"database_id": db.id, "collection_name": "fresh"}, ndjson_lines(100), close=False)
    response = db.client.post(
        "/api/import_data",
        content=body,
        headers={**db.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert response.status_code == 400, response.text
    assert "incomplete" in response.json()["error"]["message"]
    assert db.count("fresh") is None


def test_a_json_array_cut_short_is_refused(db: ImportDb) -> None:
    response = db.upload(b'[{"name": "a"}, {"name": "b"}, {"na', collection="items")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["index"] == 2
    assert db.count("items") == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"collection_name": "items"}, "database_id"),
        ({"database_id": "x", "collection_name": "items", "colour": "red"}, "colour"),
        ({"database_id": "x", "collection_name": "items", "mode": "merge"}, "mode"),
    ],
)
def test_form_mistakes_name_the_field(db: ImportDb, fields: dict[str, str], field: str) -> None:
    fields = {k: (db.id if v == "x" else v) for k, v in fields.items()}
    response = db.client.post(
        "/api/import_data", data=fields, files={"json_file": ("a.json", b"[]")}, headers=db.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["field"] == field


def test_the_file_is_required_and_must_come_last(db: ImportDb) -> None:
    response = db.client.post("/api/import_data", data={"database_id": db.id}, files={}, headers=db.headers)
    assert response.status_code == 400, response.text
    body = (
        multipart({"database_id": db.id, "collection_name": "fresh"}, b'{"name": "a"}', close=False)
        + f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="mode"\r\n\r\nupsert'
        f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    response = db.client.post(
        "/api/import_data",
        content=body,
        headers={**db.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert response.status_code == 400, response.text
    assert "before the file" in response.json()["error"]["message"]
    assert db.count("fresh") is None


def test_a_json_body_is_not_an_upload(db: ImportDb) -> None:
    response = db.client.post(
        "/api/import_data", json={"database_id": db.id, "json_file": []}, headers=db.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False


def test_credentials_and_scoping(db: ImportDb) -> None:
    content = b'[{"name": "a"}]'
    response = upload(db.client, {}, db.id, content, collection="items")
    assert response.status_code == 401, response.text
    key = create_api_key(db.client, db.account, database_id=db.id)
    response = upload(db.client, api_key_headers(key), db.id, content, collection="items")
    assert response.status_code == 201, response.text
    response = upload(db.client, {"X-API-KEY": key}, "0" * 24, content, collection="items")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "DATABASE_NOT_FOUND"


# --- a server with small limits ------------------------------------------------------------------

SMALL_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def small_server(pg_url: str) -> Iterator[LiveServer]:
    settings: Settings = test_settings(pg_url, max_import_bytes=SMALL_LIMIT, import_idle_timeout=0.5)
    with LiveServer(settings) as server:
        yield server


@pytest.fixture(scope="module")
def small(small_server: LiveServer, pg: SyncPg) -> Iterator[tuple[httpx.Client, Account]]:
    with small_server.client() as client:
        yield client, new_account(client, pg)


def _small_db(small: tuple[httpx.Client, Account]) -> str:
    client, account = small
    response = client.post(
        "/api/create_database", json={"db_name": "small_" + secrets.token_hex(4)}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    database_id: str = response.json()["database"]["id"]
    return database_id


def test_an_upload_over_max_import_bytes_is_413(small: tuple[httpx.Client, Account]) -> None:
    client, account = small
    database_id = _small_db(small)
    content = ndjson_lines(3_000)
    assert len(content) > SMALL_LIMIT
    announced = upload(client, account.headers, database_id, content, collection="items")
    assert announced.status_code == 413, announced.text
    assert announced.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    body = multipart({"database_id": database_id, "collection_name": "items"}, content)
    chunked = client.post(  # no Content-Length: the limit holds on the bytes received
        "/api/import_data",
        content=iter([body[i : i + 8192] for i in range(0, len(body), 8192)]),
        headers={**account.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert chunked.status_code == 413, chunked.text
    small_enough = upload(client, account.headers, database_id, ndjson_lines(100), collection="items")
    assert small_enough.status_code == 201, small_enough.text


def test_a_stalled_upload_is_abandoned(
    small: tuple[httpx.Client, Account], small_server: LiveServer, pg: SyncPg
) -> None:
    client, account = small
    database_id = _small_db(small)
    body = multipart(
        {"database_id": database_id, "collection_name": "stalled"}, ndjson_lines(10), close=False
    )
    with socket.create_connection(("127.0.0.1", small_server.port), timeout=10) as sock:
        sock.sendall(raw_request(account.headers, body, content_length=len(body) + 1000))
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b"stalled" in answer
    assert no_open_transaction(pg)
    listed = client.get("/api/list_collections", params={"database_id": database_id}, headers=account.headers)
    assert listed.json()["collections"] == []

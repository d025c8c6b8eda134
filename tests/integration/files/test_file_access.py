"""Who reaches a database's files (SPEC §11.4, §12): web keys and end users under the database's
file rules (default owner/owner), changed with ``set_access`` on ``_files``; enforced by
PostgreSQL's row-level security on ``<schema>._files``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pgcube.ops import REGISTRY
from tests.integration.files.support import FilesDb, error_code, new_files_db
from tests.support.end_users import signed_in, web_key
from tests.support.live import LiveServer
from tests.support.sync_pg import SyncPg


@pytest.fixture
def db(files_server: LiveServer, pg: SyncPg) -> Iterator[FilesDb]:
    with files_server.client() as http:
        yield new_files_db(http, files_server.settings, pg)


def set_files_access(db: FilesDb, read: str, write: str) -> None:
    response = db.client.post(
        "/api/set_access",
        json={"database_id": db.id, "collection": "_files", "read": read, "write": write},
        headers=db.account.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["access"] == {"read": read, "write": write}


def keys(files: list[dict[str, Any]]) -> list[str]:
    return [file["_key"] for file in files]


def test_end_users_see_only_their_own_files(db: FilesDb, pg: SyncPg) -> None:
    key = web_key(db.client, db.account, db.id)
    alice, bob = signed_in(pg, db.id), signed_in(pg, db.id)
    mine = db.uploaded(headers=alice.headers(key))
    assert mine["_userkey"] == alice.user_key  # stamped by PostgreSQL from the signed-in user
    assert keys(db.ok({"op": "file.list"}, alice.headers(key))) == [mine["_key"]]
    assert db.ok({"op": "file.info", "_key": mine["_key"]}, alice.headers(key))["_key"] == mine["_key"]

    before = db.rows()
    for body in (
        {"op": "file.info", "_key": mine["_key"]},
        {"op": "file.update", "_key": mine["_key"], "metadata": {"x": 1}},
        {"op": "file.postsign_upload", "_key": mine["_key"]},
    ):
        response = db.op(body, bob.headers(key))
        assert response.status_code == 404, (body, response.text)
        assert error_code(response) == "FILE_NOT_FOUND"
    assert db.ok({"op": "file.delete", "_key": mine["_key"]}, bob.headers(key)) == {"count": 0}
    assert db.ok({"op": "file.list"}, bob.headers(key)) == []
    assert db.rows() == before

    theirs = db.uploaded(b"bob's", headers=bob.headers(key))
    # A server key sees every file.
    assert sorted(keys(db.ok({"op": "file.list"}))) == sorted([mine["_key"], theirs["_key"]])


B_WALK: dict[str, Any] = {
    "file.presign_upload": None,  # B's own new file: nothing of A's to reach
    "file.postsign_upload": ("404", {"_key": "A"}),
    "file.upload_error": ("404", {"_key": "A", "errors": ["b was here"]}),
    "file.info": ("404", {"_key": "A", "signed_ttl": 60}),
    "file.update": ("404", {"_key": "A", "public_read": True, "metadata": {"b": 1}, "filename": "b.txt"}),
    "file.delete": ("none", {"_keys": ["A"]}),
    "file.list": ("none", {"match": {"_key": "A"}}),
}
"""Every ``file.*`` op, as end user B against end user A's file (``A`` stands for its key)."""


def test_every_file_op_as_another_end_user_finds_nothing_and_changes_nothing(db: FilesDb, pg: SyncPg) -> None:
    assert set(B_WALK) == {op.name for op in REGISTRY.ops if op.name.startswith("file.")}, "walk the new op"
    key = web_key(db.client, db.account, db.id)
    alice, bob = signed_in(pg, db.id), signed_in(pg, db.id)
    pending = db.ok({"op": "file.presign_upload", "filename": "a.txt"}, alice.headers(key))["info"]["_key"]
    ready = db.uploaded(b"alice's", public=False, headers=alice.headers(key))["_key"]
    before = db.rows()
    for name, walk in B_WALK.items():
        if walk is None:
            continue
        expected, body = walk
        for target in (pending, ready):
            filled = {k: ([target] if v == ["A"] else target if v == "A" else v) for k, v in body.items()}
            response = db.op({"op": name, **filled}, bob.headers(key))
            if expected == "404":
                assert response.status_code == 404, (name, response.text)
                assert error_code(response) == "FILE_NOT_FOUND"
            else:
                assert response.status_code == 200, (name, response.text)
                assert response.json()["data"] in ([], {"count": 0}), (name, response.text)
    assert db.rows() == before
    # A's private file by its path, without A's signature: forbidden, whoever asks.
    response = db.client.get(f"/files/{db.id}/{ready}/a.txt", headers=bob.headers(key))
    assert response.status_code == 403, response.text


def test_a_server_key_gives_a_file_its_end_user_a_web_key_cannot(db: FilesDb, pg: SyncPg) -> None:
    key = web_key(db.client, db.account, db.id)
    alice, bob = signed_in(pg, db.id), signed_in(pg, db.id)
    presigned = db.ok({"op": "file.presign_upload", "filename": "a.txt", "_userkey": alice.user_key})
    assert presigned["info"]["_userkey"] == alice.user_key
    direct = db.client.post(
        f"/api/{db.id}/files",
        data={"_userkey": alice.user_key},
        files={"file": ("b.txt", b"for alice", "text/plain")},
        headers=db.server_key,
    )
    assert direct.status_code == 201, direct.text
    assert direct.json()["data"]["_userkey"] == alice.user_key
    mine = sorted([presigned["info"]["_key"], direct.json()["data"]["_key"]])
    assert sorted(keys(db.ok({"op": "file.list"}, alice.headers(key)))) == mine  # hers under owner rules

    # A web key's _userkey is ignored: the file is its signed-in user's.
    forged = db.ok(
        {"op": "file.presign_upload", "filename": "c.txt", "_userkey": alice.user_key}, bob.headers(key)
    )
    assert forged["info"]["_userkey"] == bob.user_key
    before = db.rows()
    for bad in ("", "x" * 65, "no spaces", "../alice"):
        response = db.op({"op": "file.presign_upload", "filename": "d.txt", "_userkey": bad})
        assert response.status_code == 400, (bad, response.text)
    assert db.rows() == before


def test_a_web_key_without_a_user_is_401_under_owner_rules(db: FilesDb) -> None:
    key = web_key(db.client, db.account, db.id)
    for body in ({"op": "file.list"}, {"op": "file.presign_upload", "filename": "a.txt"}):
        response = db.op(body, {"X-API-KEY": key})
        assert response.status_code == 401, response.text
    upload = db.upload(headers={"X-API-KEY": key})
    assert upload.status_code == 401, upload.text
    assert db.rows() == []


def test_set_access_opens_and_closes_the_files(db: FilesDb, pg: SyncPg) -> None:
    key = web_key(db.client, db.account, db.id)
    alice, bob = signed_in(pg, db.id), signed_in(pg, db.id)
    mine = db.uploaded(headers=alice.headers(key))

    set_files_access(db, "all", "owner")
    assert keys(db.ok({"op": "file.list"}, bob.headers(key))) == [mine["_key"]]
    assert keys(db.ok({"op": "file.list"}, {"X-API-KEY": key})) == [mine["_key"]]
    # Reading is open; changing another's file is not.
    response = db.op({"op": "file.update", "_key": mine["_key"], "metadata": {"x": 1}}, bob.headers(key))
    assert response.status_code == 404, response.text

    set_files_access(db, "none", "none")
    for headers in (alice.headers(key), bob.headers(key)):
        response = db.op({"op": "file.list"}, headers)
        assert response.status_code == 403, response.text
        assert error_code(response) == "FORBIDDEN"
    upload = db.upload(headers=alice.headers(key))
    assert upload.status_code == 403, upload.text
    assert keys(db.ok({"op": "file.list"})) == [mine["_key"]]  # the server key is not bound by rules


def test_get_metadata_shows_the_file_rules(db: FilesDb) -> None:
    def shown() -> Any:
        response = db.client.get(
            "/api/get_metadata", params={"database_id": db.id}, headers=db.account.headers
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]["files"]

    assert shown() == {"access": {"read": "owner", "write": "owner"}}
    set_files_access(db, "users", "none")
    assert shown() == {"access": {"read": "users", "write": "none"}}


def test_files_stays_a_reserved_collection_name(db: FilesDb) -> None:
    response = db.client.post(
        "/api/add_collection",
        json={"database_id": db.id, "collections": [{"name": "_files"}]},
        headers=db.account.headers,
    )
    assert response.status_code == 400, response.text
    for body in (
        {"op": "collection.find", "collection": "_files"},
        {"op": "collection.insert", "collection": "_files", "data": {"a": 1}},
    ):
        assert db.op(body).status_code == 400, body


def test_the_file_rules_are_row_level_security(db: FilesDb, pg: SyncPg) -> None:
    def policies() -> dict[str, tuple[Any, ...]]:
        rows = pg.fetch("SELECT * FROM pg_policies WHERE schemaname = $1 AND tablename = '_files'", db.schema)
        return {row["policyname"]: (row["cmd"], row["roles"], row["qual"], row["with_check"]) for row in rows}

    assert pg.fetchval(
        "SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass(format('%I._files', $1::text))",
        db.schema,
    )
    owner = "(_userkey = current_setting('pgcube.userkey'::text, true))"
    assert policies() == {
        "web_read": ("SELECT", ["pgcube_web"], owner, None),
        "web_insert": ("INSERT", ["pgcube_web"], None, owner),
        "web_update": ("UPDATE", ["pgcube_web"], owner, owner),
        "web_delete": ("DELETE", ["pgcube_web"], owner, None),
    }
    set_files_access(db, "all", "none")
    changed = policies()
    assert changed["web_read"][2] == "true"
    assert {changed[name][2] or changed[name][3] for name in ("web_insert", "web_update", "web_delete")} == {
        "false"
    }

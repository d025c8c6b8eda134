"""Idempotency-Key on inserts (RELIABILITY F5) and the trash's lifecycle."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import msgspec

from pgcube.data import repository
from pgcube.db.pool import connect
from pgcube.settings import Settings
from tests.integration.data.conftest import PRODUCTS_FIELDS, Db, make_db
from tests.support.accounts import api_key_headers, create_api_key, new_account
from tests.support.live import LiveServer
from tests.support.sync_pg import SyncPg

INSERT = {"op": "collection.insert", "collection": "notes", "data": [{"text": "once"}]}


def test_a_retry_returns_the_first_answer_and_inserts_once(db: Db) -> None:
    headers = {**db.headers, "Idempotency-Key": "retry-1"}
    first = db.ddo(INSERT, headers=headers)
    second = db.ddo(INSERT, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(db.keys("notes")) == 1


def test_rest_insert_is_idempotent_too(db: Db) -> None:
    headers = {**db.headers, "Idempotency-Key": "rest-1"}
    body = {"database_id": db.id, "collection_name": "notes", "data": [{"a": 1}, {"a": 2}]}
    first = db.client.post("/api/crud", json=body, headers=headers)
    second = db.client.post("/api/crud", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(db.keys("notes")) == 2


def test_same_key_with_another_body_is_422(db: Db) -> None:
    headers = {**db.headers, "Idempotency-Key": "reused"}
    assert db.ddo(INSERT, headers=headers).status_code == 200
    other = db.ddo({**INSERT, "data": [{"text": "different"}]}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(db.keys("notes")) == 1


def test_concurrent_retries_insert_once(db: Db) -> None:
    headers = {**db.headers, "Idempotency-Key": "race"}
    answers: list[httpx.Response] = []

    def send() -> None:
        answers.append(db.ddo(INSERT, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 6
    assert len({a.text for a in answers}) == 1
    assert len(db.keys("notes")) == 1


def test_keys_are_scoped_per_account(db: Db, client: httpx.Client, pg: SyncPg) -> None:
    db.ddo(INSERT, headers={**db.headers, "Idempotency-Key": "shared"})
    other = make_db(client, new_account(client, pg))
    response = other.ddo(INSERT, headers={**other.headers, "Idempotency-Key": "shared"})
    assert response.status_code == 200
    assert len(other.keys("notes")) == 1


def test_a_failed_insert_does_not_burn_the_key(db: Db) -> None:
    headers = {**db.headers, "Idempotency-Key": "after-failure"}
    bad = {"op": "collection.insert", "collection": "products", "data": [{"name": 5}]}
    assert db.ddo(bad, headers=headers).status_code == 400
    good = {"op": "collection.insert", "collection": "products", "data": [{"name": "fine"}]}
    assert db.ddo(good, headers=headers).status_code == 200


def test_bad_idempotency_key_is_400(db: Db) -> None:
    response = db.ddo(INSERT, headers={**db.headers, "Idempotency-Key": "has space"})
    assert response.status_code == 400
    # Refused before anything ran: the collection was not even created.
    listed = db.client.get("/api/list_collections", params={"database_id": db.id}, headers=db.headers)
    assert "notes" not in [c["name"] for c in listed.json()["collections"]]


def test_deleted_documents_are_gone_after_the_purge(settings: Settings, pg: SyncPg) -> None:
    short = msgspec.structs.replace(settings, trash_retention=1)
    with LiveServer(short) as server, server.client() as http:
        db = make_db(http, new_account(http, pg), [{"name": "products", "fields": PRODUCTS_FIELDS}])
        db.insert("notes", [{"_key": "a"}, {"_key": "b"}])
        deleted = db.ok({"op": "collection.delete", "collection": "notes", "match": {"_key": "a"}})["data"]
        archived = db.ok({"op": "collection.archive", "collection": "notes", "match": {"_key": "b"}})["data"]
        schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db.id)
        deadline = time.monotonic() + 10
        while (
            pg.fetchval(f"SELECT count(*) FROM \"{schema}\"._trash WHERE kind = 'deleted'")
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        assert pg.fetchval(f"SELECT count(*) FROM \"{schema}\"._trash WHERE kind = 'deleted'") == 0
        db.error(
            {"op": "collection.restore", "collection": "notes", "_ref": deleted["_ref"]}, 404, "NOT_FOUND"
        )
        assert db.ok({"op": "collection.restore", "collection": "notes", "_ref": archived["_ref"]})[
            "data"
        ] == {"count": 1}
        assert db.keys("notes") == ["b"]


def test_the_purge_skips_a_database_whose_schema_is_gone(db: Db, pg: SyncPg) -> None:
    """A database whose trash is gone (dropped by hand) must not stop the purge of the others."""
    db.insert("notes", [{"_key": "a"}])
    db.ok({"op": "collection.delete", "collection": "notes", "match": {}})
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db.id)
    pg.execute(f'ALTER TABLE "{schema}"._trash RENAME TO trash_moved')
    try:
        other = make_db(db.client, db.account)
        other.insert("notes", [{"_key": "b"}])
        other.ok({"op": "collection.delete", "collection": "notes", "match": {}})
        other_schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", other.id)

        async def purge() -> int:
            conn = await connect(Settings(), pg.url)
            try:
                async with conn.transaction():
                    return await repository.purge_trash(conn, older_than=0)
            finally:
                await conn.close()

        assert asyncio.run(purge()) >= 1
        assert pg.fetchval(f'SELECT count(*) FROM "{other_schema}"._trash') == 0
    finally:
        pg.execute(f'ALTER TABLE "{schema}".trash_moved RENAME TO _trash')


def test_a_key_scoped_to_another_database_gets_no_replay(db: Db) -> None:
    # Issue 14 finding 8: a retry with a key scoped to another database got the stored answer
    # of the first database.
    other = make_db(db.client, db.account)
    mine = api_key_headers(create_api_key(db.client, db.account, database_id=db.id))
    theirs = api_key_headers(create_api_key(db.client, db.account, database_id=other.id))
    first = db.ddo(INSERT, headers={**mine, "Idempotency-Key": "scoped"})
    assert first.status_code == 200, first.text
    replay = db.ddo(INSERT, headers={**theirs, "Idempotency-Key": "scoped"})
    assert replay.status_code == 404, replay.text
    assert replay.json()["error"]["code"] == "DATABASE_NOT_FOUND"
    assert "Idempotent-Replayed" not in replay.headers
    # An unscoped caller of the same account does not get the scoped key's answer either.
    unscoped = db.ddo(INSERT, headers={**db.headers, "Idempotency-Key": "scoped"})
    assert unscoped.status_code == 422, unscoped.text
    assert "Idempotent-Replayed" not in unscoped.headers
    assert len(db.keys("notes")) == 1


def test_trashed_lists_what_a_restore_could_put_back(db: Db) -> None:
    """``collection.trashed``: each restorable entry with its _ref, kind and the document as it
    was, newest first, of this collection only; a restored entry leaves the list."""
    db.insert("notes", [{"_key": "a", "n": 1}, {"_key": "b", "n": 2}, {"_key": "c", "n": 3}])
    db.insert("other", [{"_key": "x"}])
    deleted = db.ok({"op": "collection.delete", "collection": "notes", "match": {"_key": "a"}})["data"]
    archived = db.ok({"op": "collection.archive", "collection": "notes", "match": {"_key": "b"}})["data"]
    db.ok({"op": "collection.delete", "collection": "other", "match": {}})
    listed = db.ok({"op": "collection.trashed", "collection": "notes"})
    entries = listed["data"]
    assert [(e["_ref"], e["kind"], e["document"]["_key"]) for e in entries] == [
        (archived["_ref"], "archived", "b"),
        (deleted["_ref"], "deleted", "a"),
    ]
    assert entries[1]["document"]["n"] == 1
    assert set(entries[1]["document"]) == {"_key", "_userkey", "_created_at", "_modified_at", "n"}
    assert entries[0]["trashed_at"].endswith("Z")
    assert listed["meta"] == {"count": 2}
    assert len(db.ok({"op": "db.trashed", "collection": "notes", "limit": 1})["data"]) == 1
    db.ok({"op": "collection.restore", "collection": "notes", "_ref": deleted["_ref"]})
    after = db.ok({"op": "collection.trashed", "collection": "notes"})["data"]
    assert [e["_ref"] for e in after] == [archived["_ref"]]
    assert db.ok({"op": "collection.trashed", "collection": "no_such_thing"})["data"] == []
    db.error({"op": "collection.trashed", "collection": "notes", "limit": 0}, 400, "VALIDATION_ERROR")


def test_trashed_takes_the_account_s_credentials_only(db: Db) -> None:
    db.insert("notes", [{"_key": "a"}])
    db.ok({"op": "collection.delete", "collection": "notes", "match": {}})
    created = db.client.post(
        "/core/api/v1/keys", json={"name": "web", "kind": "web", "database_id": db.id}, headers=db.headers
    )
    assert created.status_code == 201, created.text
    web = api_key_headers(created.json()["key"])
    refused = db.ddo({"op": "collection.trashed", "collection": "notes"}, headers=web)
    assert refused.status_code == 403, refused.text
    server = api_key_headers(create_api_key(db.client, db.account, db.id))
    served = db.ddo({"op": "collection.trashed", "collection": "notes"}, headers=server)
    assert served.status_code == 200, served.text
    assert [e["document"]["_key"] for e in served.json()["data"]] == ["a"]

"""Access rules (SPEC §11.4): web keys under each collection's rules, enforced by PostgreSQL.

The rules' coarse answers (``none`` → 403, ``users``/``owner`` without an end
user → 401) and, above all, that the rows an end user sees and changes are
PostgreSQL's decision: the policies are on the tables, and a query run as the
restricted role in plain SQL sees what the API shows.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.data.conftest import Db, make_db
from tests.integration.imports.conftest import upload
from tests.support.accounts import Account
from tests.support.end_users import EndUser, schema_of, signed_in, web_key
from tests.support.sync_pg import SyncPg


def rules(read: str, write: str) -> dict[str, str]:
    return {"read": read, "write": write}


@pytest.fixture
def app_db(module_client: httpx.Client, module_account: Account) -> Db:
    """A database with one collection per rule pair the tests need."""
    return make_db(
        module_client,
        module_account,
        [
            {"name": "notes", "access": rules("owner", "owner")},
            {"name": "posts", "access": rules("all", "users")},
            {"name": "feed", "access": rules("users", "none")},
            {"name": "locked"},
        ],
    )


def call(db: Db, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return db.client.post(f"/api/{db.id}", json=body, headers=headers)


def data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_an_owner_rule_shows_each_end_user_only_their_documents(app_db: Db, pg: SyncPg) -> None:
    key = web_key(app_db.client, app_db.account, app_db.id)
    alice, bob = signed_in(pg, app_db.id), signed_in(pg, app_db.id)
    inserted = data(
        call(
            app_db, alice.headers(key), {"op": "collection.insert", "collection": "notes", "data": {"t": "a"}}
        )
    )
    assert inserted[0]["_userkey"] == alice.user_key  # stamped by PostgreSQL from the signed-in user
    data(
        call(app_db, bob.headers(key), {"op": "collection.insert", "collection": "notes", "data": {"t": "b"}})
    )

    mine = data(call(app_db, alice.headers(key), {"op": "collection.find", "collection": "notes"}))
    assert [doc["t"] for doc in mine] == ["a"]
    theirs = data(call(app_db, bob.headers(key), {"op": "collection.find", "collection": "notes"}))
    assert [doc["t"] for doc in theirs] == ["b"]
    # The account sees both: server credentials keep the owner role.
    assert sorted(doc["t"] for doc in app_db.find("notes")["data"]) == ["a", "b"]


def test_a_client_userkey_is_ignored_with_a_web_key(app_db: Db, pg: SyncPg) -> None:
    key = web_key(app_db.client, app_db.account, app_db.id)
    alice, bob = signed_in(pg, app_db.id), signed_in(pg, app_db.id)
    body = {"op": "collection.insert", "collection": "notes", "data": {"_userkey": bob.user_key, "t": 1}}
    (doc,) = data(call(app_db, alice.headers(key), body))
    assert doc["_userkey"] == alice.user_key
    assert data(call(app_db, bob.headers(key), {"op": "collection.find", "collection": "notes"})) == []


@pytest.mark.parametrize(
    ("collection", "op", "status", "code"),
    [
        ("locked", "collection.find", 403, "FORBIDDEN"),
        ("locked", "collection.insert", 403, "FORBIDDEN"),
        ("feed", "collection.insert", 403, "FORBIDDEN"),
        ("notes", "collection.find", 401, "AUTHENTICATION_FAILED"),
        ("notes", "collection.insert", 401, "AUTHENTICATION_FAILED"),
        ("posts", "collection.insert", 401, "AUTHENTICATION_FAILED"),
        ("feed", "collection.find", 401, "AUTHENTICATION_FAILED"),
    ],
)
def test_rules_that_keep_a_web_key_out_answer_401_or_403(
    app_db: Db, collection: str, op: str, status: int, code: str
) -> None:
    key = web_key(app_db.client, app_db.account, app_db.id)
    body: dict[str, Any] = {"op": op, "collection": collection}
    if op == "collection.insert":
        body["data"] = {"x": 1}
    response = call(app_db, {"X-API-KEY": key}, body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert app_db.find(collection)["data"] == []  # nothing written


def test_a_web_key_without_a_user_reads_a_collection_open_to_all(app_db: Db) -> None:
    app_db.insert("posts", [{"title": "hello"}])
    key = web_key(app_db.client, app_db.account, app_db.id)
    found = data(call(app_db, {"X-API-KEY": key}, {"op": "collection.find", "collection": "posts"}))
    assert [doc["title"] for doc in found] == ["hello"]


def test_the_policies_are_in_postgresql(app_db: Db, pg: SyncPg) -> None:
    schema = schema_of(pg, app_db.id)
    assert pg.fetchval(
        "SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass(format('%I.%I', $1::text, 'notes'))",
        schema,
    )
    policies = {
        row["policyname"]: (row["cmd"], row["roles"], row["qual"], row["with_check"])
        for row in pg.fetch("SELECT * FROM pg_policies WHERE schemaname = $1 AND tablename = 'notes'", schema)
    }
    owner = "(_userkey = current_setting('pgcube.userkey'::text, true))"
    assert policies == {
        "web_read": ("SELECT", ["pgcube_web"], owner, None),
        "web_insert": ("INSERT", ["pgcube_web"], None, owner),
        "web_update": ("UPDATE", ["pgcube_web"], owner, owner),
        "web_delete": ("DELETE", ["pgcube_web"], owner, None),
    }
    locked = pg.fetch(
        "SELECT qual, with_check FROM pg_policies WHERE schemaname = $1 AND tablename = 'locked'", schema
    )
    assert {(row["qual"] or row["with_check"]) for row in locked} == {"false"}


def test_the_restricted_role_in_plain_sql_sees_only_its_own_rows(app_db: Db, pg: SyncPg) -> None:
    key = web_key(app_db.client, app_db.account, app_db.id)
    alice, bob = signed_in(pg, app_db.id), signed_in(pg, app_db.id)
    for user in (alice, bob):
        data(
            call(
                app_db,
                user.headers(key),
                {"op": "collection.insert", "collection": "notes", "data": {"n": 1}},
            )
        )
    schema = schema_of(pg, app_db.id)
    rows = _as_end_user(pg, alice, f'SELECT _userkey FROM "{schema}".notes')
    assert [row["_userkey"] for row in rows] == [alice.user_key]
    nobody = _as_end_user(pg, None, f'SELECT _userkey FROM "{schema}".notes')
    assert nobody == []


def _as_end_user(pg: SyncPg, user: EndUser | None, sql: str) -> list[Any]:
    """``sql`` as a DBA would check it: in a transaction, as pgcube_web, for one end user."""
    return pg.fetch_as("pgcube_web", {"pgcube.userkey": user.user_key if user else ""}, sql)


def test_set_access_changes_the_policies_and_get_metadata_shows_them(app_db: Db, pg: SyncPg) -> None:
    key = web_key(app_db.client, app_db.account, app_db.id)
    app_db.insert("locked", [{"x": 1}])
    assert (
        call(app_db, {"X-API-KEY": key}, {"op": "collection.find", "collection": "locked"}).status_code == 403
    )
    response = app_db.client.post(
        "/api/set_access",
        json={"database_id": app_db.id, "collection": "locked", "read": "all", "write": "none"},
        headers=app_db.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "collection": "locked", "access": rules("all", "none")}
    assert [
        doc["x"]
        for doc in data(call(app_db, {"X-API-KEY": key}, {"op": "collection.find", "collection": "locked"}))
    ] == [1]
    metadata = app_db.client.get(
        "/api/get_metadata", params={"database_id": app_db.id}, headers=app_db.headers
    )
    access = {c["name"]: c["access"] for c in metadata.json()["data"]["collections"]}
    assert access == {
        "feed": rules("users", "none"),
        "locked": rules("all", "none"),
        "notes": rules("owner", "owner"),
        "posts": rules("all", "users"),
    }


@pytest.mark.parametrize(
    "body",
    [
        {"collection": "locked", "read": "everyone", "write": "none"},
        {"collection": "locked", "read": "all"},
        {"collection": "nope", "read": "all", "write": "all"},
        {"collection": "locked", "read": "all", "write": "all", "extra": 1},
    ],
)
def test_set_access_refuses_bad_input_and_changes_nothing(
    app_db: Db, pg: SyncPg, body: dict[str, Any]
) -> None:
    response = app_db.client.post(
        "/api/set_access", json={"database_id": app_db.id, **body}, headers=app_db.headers
    )
    assert response.status_code in (400, 404), response.text
    schema = schema_of(pg, app_db.id)
    assert (
        pg.fetchval(
            "SELECT qual FROM pg_policies WHERE schemaname = $1 AND tablename = 'locked' AND policyname = 'web_read'",
            schema,
        )
        == "false"
    )


def test_a_server_credential_may_name_the_end_user_of_a_document(app_db: Db, pg: SyncPg) -> None:
    key = web_key(app_db.client, app_db.account, app_db.id)
    alice = signed_in(pg, app_db.id)
    docs = app_db.insert("notes", [{"t": "for alice", "_userkey": alice.user_key}, {"t": "nobody's"}])
    assert [doc["_userkey"] for doc in docs] == [alice.user_key, None]
    found = data(call(app_db, alice.headers(key), {"op": "collection.find", "collection": "notes"}))
    assert [doc["t"] for doc in found] == ["for alice"]


@pytest.mark.parametrize("value", [1, "", "a b", "x" * 65, {"k": 1}])
def test_a_bad_userkey_from_a_server_credential_is_refused(app_db: Db, value: Any) -> None:
    error = app_db.error(
        {"op": "collection.insert", "collection": "notes", "data": [{"t": 1}, {"_userkey": value}]},
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"] == {"index": 1, "field": "_userkey"}
    assert app_db.find("notes")["data"] == []


def test_an_import_keeps_a_server_credentials_userkey_and_stamps_an_end_users(app_db: Db, pg: SyncPg) -> None:
    key = web_key(app_db.client, app_db.account, app_db.id)
    alice, bob = signed_in(pg, app_db.id), signed_in(pg, app_db.id)
    by_server = upload(
        app_db.client,
        app_db.headers,
        app_db.id,
        json.dumps([{"_key": "s1", "_userkey": bob.user_key}, {"_key": "s2"}]).encode(),
        collection="notes",
    )
    assert by_server.status_code == 201, by_server.text
    by_alice = upload(
        app_db.client,
        alice.headers(key),
        app_db.id,
        json.dumps([{"_key": "a1", "_userkey": bob.user_key}]).encode(),
        collection="notes",
    )
    assert by_alice.status_code == 201, by_alice.text
    schema = schema_of(pg, app_db.id)
    owners = {
        row["_key"]: row["_userkey"] for row in pg.fetch(f'SELECT _key, _userkey FROM "{schema}".notes')
    }
    assert owners == {"s1": bob.user_key, "s2": None, "a1": alice.user_key}
    refused = upload(app_db.client, {"X-API-KEY": key}, app_db.id, b'[{"t": 1}]', collection="notes")
    assert refused.status_code == 401, refused.text
    assert pg.fetchval(f'SELECT count(*) FROM "{schema}".notes') == 3


def test_an_owner_rule_has_an_index_that_keeps_a_find_to_the_users_rows(app_db: Db, pg: SyncPg) -> None:
    """The policy's condition is checked first and jsonb's operators are not leakproof, so under
    ``owner`` the match cannot use the GIN index; ``notes$owner`` bounds the work (ADR 0018)."""
    alice = signed_in(pg, app_db.id)
    schema = schema_of(pg, app_db.id)
    pg.execute(
        f'INSERT INTO "{schema}".notes (_key, _userkey, data) '
        "SELECT md5(i::text), CASE WHEN i % 100 = 0 THEN $1 ELSE md5((i % 100)::text) END, "
        "jsonb_build_object('c', i % 50) FROM generate_series(1, 20000) i",
        alice.user_key,
    )
    pg.execute(f'ANALYZE "{schema}".notes')
    plan = "\n".join(
        row[0]
        for row in pg.fetch_as(
            "pgcube_web",
            {"pgcube.userkey": alice.user_key},
            f'EXPLAIN SELECT _key FROM "{schema}".notes WHERE data @> $1 ORDER BY _created_at DESC, _key DESC LIMIT 25',
            b'{"c": 0}',
        )
    )
    assert '"notes$owner"' in plan, plan
    metadata = app_db.client.get(
        "/api/get_metadata", params={"database_id": app_db.id}, headers=app_db.headers
    )
    indexes = {c["name"]: [i["name"] for i in c["indexes"]] for c in metadata.json()["data"]["collections"]}
    assert "notes$owner" in indexes["notes"]
    assert not any(name.endswith("$owner") for name in indexes["posts"])
    response = app_db.client.post(
        "/api/set_access",
        json={"database_id": app_db.id, "collection": "notes", "read": "users", "write": "users"},
        headers=app_db.headers,
    )
    assert response.status_code == 200, response.text
    assert pg.fetchval("SELECT to_regclass($1)", f'"{schema}"."notes$owner"') is None


def test_every_insert_path_stamps_the_signed_in_user(app_db: Db, pg: SyncPg) -> None:
    """DDO insert (above), upsert's insert, ``/api/crud`` POST and import (above) by a web key."""
    key = web_key(app_db.client, app_db.account, app_db.id)
    alice = signed_in(pg, app_db.id)
    upserted = call(
        app_db,
        alice.headers(key),
        {
            "op": "collection.upsert",
            "collection": "notes",
            "match": {"t": "new"},
            "update": {"$set": {"n": 1}},
        },
    )
    assert upserted.status_code == 200, upserted.text
    posted = app_db.client.post(
        "/api/crud",
        json={"database_id": app_db.id, "collection_name": "notes", "data": {"t": "posted", "_userkey": "x"}},
        headers=alice.headers(key),
    )
    assert posted.status_code == 201, posted.text
    schema = schema_of(pg, app_db.id)
    rows = {
        row["t"]: row["_userkey"]
        for row in pg.fetch(f"""SELECT data->>'t' AS t, _userkey FROM "{schema}".notes""")
    }
    assert rows == {"new": alice.user_key, "posted": alice.user_key}

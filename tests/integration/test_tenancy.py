"""RELIABILITY D1: account B using account A's ids gets 404 — on every route and
every DDO op — and A's data is unchanged.

The routes are read from the app itself: a new ``/api`` route or DDO op that
has no request below fails ``test_every_route_and_op_is_covered`` until one
is added, so the isolation check covers it the day it appears.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest

from pgcube.app import create_app
from pgcube.ops import REGISTRY, Op
from pgcube.ops.registry import PrincipalKind
from pgcube.settings import Settings
from tests.integration.end_users.conftest import PASSWORD, end_user_headers, project_of
from tests.integration.vectors.support import pgvector_installed, vector_rows
from tests.support.accounts import Account, api_key_headers, create_api_key
from tests.support.end_users import add_end_user as add_end_user_row
from tests.support.end_users import add_session
from tests.support.sync_pg import SyncPg

Request = tuple[str, str, dict[str, Any]]

# Routes under /api that take no database of anyone's: nothing of A's to reach.
ACCOUNT_WIDE = {("POST", "/api/create_database"), ("GET", "/api/list_databases")}
END_USER_KEY = "0123456789abcdef" * 2
"""The end user that ``a_database`` (and the refusal walk's database) has signed up."""


def requests_for(db_id: str, name: str) -> dict[tuple[str, str], list[Request]]:
    """Requests naming A's database on each (method, route template)."""
    target = {"database_id": db_id, "collection_name": "items"}
    filters = {"filters": {"n": 1}}
    ddo = [("POST", f"/api/{db_id}", {"json": body}) for body in ddo_bodies()]
    return {
        ("POST", "/api/add_collection"): [
            ("POST", "/api/add_collection", {"json": {"database_id": db_id, "collections": [{"name": "x"}]}})
        ],
        ("GET", "/api/get_metadata"): [("GET", "/api/get_metadata", {"params": {"database_id": db_id}})],
        ("GET", "/api/list_collections"): [
            ("GET", "/api/list_collections", {"params": {"database_id": db_id}})
        ],
        **{
            (method, "/api/drop_database"): [
                (method, "/api/drop_database", {"json": {"database_id": db_id, "confirmation": name}})
            ]
            for method in ("POST", "DELETE")
        },
        **{
            (method, "/api/drop_collections"): [
                (
                    method,
                    "/api/drop_collections",
                    {"json": {"database_id": db_id, "collection_names": ["items"]}},
                )
            ]
            for method in ("POST", "DELETE")
        },
        ("POST", "/api/set_access"): [
            (
                "POST",
                "/api/set_access",
                {"json": {"database_id": db_id, "collection": "items", "read": "all", "write": "all"}},
            )
        ],
        ("POST", "/api/create_index"): [
            (
                "POST",
                "/api/create_index",
                {"json": {"database_id": db_id, "collection": "items", "fields": ["n", "s"]}},
            )
        ],
        ("POST", "/api/drop_index"): [
            (
                "POST",
                "/api/drop_index",
                {"json": {"database_id": db_id, "collection": "items", "name": "items$i$n"}},
            )
        ],
        ("GET", "/api/auth_settings"): [("GET", "/api/auth_settings", {"params": {"database_id": db_id}})],
        ("PUT", "/api/auth_settings"): [
            ("PUT", "/api/auth_settings", {"json": {"database_id": db_id, "allow_email_signup": False}})
        ],
        ("GET", "/api/end_users"): [("GET", "/api/end_users", {"params": {"database_id": db_id}})],
        ("PATCH", "/api/end_users"): [
            (
                "PATCH",
                "/api/end_users",
                {"json": {"database_id": db_id, "_userkey": END_USER_KEY, "disabled": True}},
            )
        ],
        ("DELETE", "/api/end_users"): [
            ("DELETE", "/api/end_users", {"json": {"database_id": db_id, "_userkey": END_USER_KEY}})
        ],
        ("POST", "/api/crud"): [("POST", "/api/crud", {"json": {**target, "data": {"n": 9}}})],
        ("GET", "/api/crud"): [("GET", "/api/crud", {"params": {**target, "filters": json.dumps({"n": 1})}})],
        ("PUT", "/api/crud"): [
            ("PUT", "/api/crud", {"json": {**target, **filters, "update_data": {"n": 7}}})
        ],
        ("PATCH", "/api/crud"): [
            ("PATCH", "/api/crud", {"json": {**target, **filters, "update_data": {"n": 7}}})
        ],
        ("DELETE", "/api/crud"): [("DELETE", "/api/crud", {"json": {**target, **filters}})],
        ("GET", "/api/explain"): [
            (
                "GET",
                "/api/explain",
                {"params": {**target, "filters": json.dumps({"n": 1}), "command": "count"}},
            )
        ],
        ("POST", "/api/import_data"): [
            (
                "POST",
                "/api/import_data",
                {"data": target, "files": {"json_file": ("items.json", b'[{"n": 9}]')}},
            )
        ],
        ("POST", "/api/{database_id:str}"): ddo,
        ("POST", "/api/{database_id:str}/files"): [
            (
                "POST",
                f"/api/{db_id}/files",
                {"data": {"public_read": "true"}, "files": {"file": ("walk.txt", b"walk")}},
            )
        ],
    }


WALKER = "walker@example.com"
"""The end user the ``auth.*`` bodies name (tests/integration/test_refusals.py signs them up)."""
AUTH_BODIES: dict[str, dict[str, Any]] = {
    "auth.signup": {"email": WALKER, "password": PASSWORD},
    "auth.signin": {"grant_type": "password", "email": WALKER, "password": PASSWORD},
    "auth.refresh_token": {"refresh_token": "rt_" + "0" * 43},
    "auth.signout": {"scope": "all"},
    "auth.get_user": {},
    "auth.update_profile": {"data": {"display_name": "Walker"}},
    "auth.send_otp": {"email": WALKER, "intent": "verify_email"},
    "auth.update_account": {
        "intent": "change_password",
        "email": WALKER,
        "otp": "123456",
        "new_password": "a new walking passphrase",
    },
    "auth.verify_email": {"email": WALKER, "otp": "123456"},
    "auth.verify_id_token": {"id_token": "x.y.z"},
    "auth.settings": {},
    "auth.nonce": {},
}
"""The end-user ops take no collection: one body per op, aimed at A's database by the path."""
A_FILE_KEY = "f11e" * 6
"""The file ``a_database`` holds (a row of its ``_files``)."""
FILE_BODIES: dict[str, dict[str, Any]] = {
    "file.presign_upload": {"filename": "walk.txt", "content_type": "text/plain", "filesize": 4},
    "file.postsign_upload": {"_key": A_FILE_KEY},
    "file.upload_error": {"_key": A_FILE_KEY},
    "file.info": {"_key": A_FILE_KEY},
    "file.update": {"_key": A_FILE_KEY, "metadata": {"walked": True}},
    "file.delete": {"_key": A_FILE_KEY},
    "file.list": {"match": {"status": "ready"}},
}
"""The file ops take the database's files, not a collection: one body per op, on A's file."""
XAI_BODIES: dict[str, dict[str, Any]] = {
    "xai.generate": {"user_input": "A line about walking", "options": {"content_length": 12}},
    "xai.summarize": {"user_input": "A long walk, told briefly", "options": {"content_length": 5}},
    "xai.translate": {"user_input": "Good morning", "options": {"target_language": "French"}},
    "xai.classify": {"user_input": "A walk in the park", "options": {"categories": ["leisure", "work"]}},
    "xai.sentiment": {"user_input": "What a lovely walk"},
    "xai.extract": {"user_input": "Ada walked in London", "options": {"entities": ["person", "place"]}},
    "xai.vectorize": {"user_input": "a walk"},  # a list's "wrong type" would be a text: valid
}
"""The AI ops take no collection: one body per op, aimed at A's database by the path (the walk's
server has no AI provider: the database is judged before that, SPEC §2)."""
A_VECTOR_TEXT = "The walk reaches every vector op of another tenant's database."
"""The entry of ``a_database``'s vector collection ``items`` (table ``_vec_items``), metadata ``n`` 1."""
VECTOR_BODIES: dict[str, dict[str, Any]] = {
    "vdb.insert": {"collection": "items", "data": [{"content": "a walker's entry", "metadata": {"n": 5}}]},
    "vdb.search": {"collection": "items", "query": A_VECTOR_TEXT, "match": {"metadata.n": 1}},
    "vdb.delete": {"collection": "items", "match": {"metadata.n": 1}},
}
"""The vector ops (SPEC §13): one body per op, on A's vector collection and its entry."""


def ddo_op(kwargs: dict[str, Any]) -> Op[Any, Any] | None:
    """The op a request's DDO body names (None for another route)."""
    name = kwargs.get("json", {}).get("op") if isinstance(kwargs.get("json"), dict) else None
    return None if name is None else REGISTRY.resolve(name)[0]


def ddo_bodies() -> list[dict[str, Any]]:
    """One body per op name (aliases included), all aimed at A's collection (or database)."""
    match = {"match": {"n": 1}}
    by_verb: dict[str, dict[str, Any]] = {
        "find": match,
        "count": match,
        "delete": match,
        "archive": match,
        "insert": {"data": {"n": 5}},
        "update": {**match, "data": {"n": 8}},
        "upsert": {**match, "update": {"n": 8}, "insert": {"n": 8}},
        "restore": {"_ref": "0" * 32},
        "trashed": {},
        "explain": {**match, "command": "count"},
    }
    bodies = []
    for name in REGISTRY.names():
        op, _ = REGISTRY.resolve(name)
        if op.name in AUTH_BODIES:
            bodies.append({"op": name, **AUTH_BODIES[op.name]})
        elif op.name in FILE_BODIES:
            bodies.append({"op": name, **FILE_BODIES[op.name]})
        elif op.name in XAI_BODIES:
            bodies.append({"op": name, **XAI_BODIES[op.name]})
        elif op.name in VECTOR_BODIES:
            bodies.append({"op": name, **VECTOR_BODIES[op.name]})
        else:
            bodies.append({"op": name, "collection": "items", **by_verb[op.name.split(".")[1]]})
    return bodies


def api_routes() -> set[tuple[str, str]]:
    app = create_app(Settings())
    found = set()
    for route in app.routes:
        if not route.path.startswith("/api"):
            continue
        for method in getattr(route, "methods", ()):
            if method not in ("HEAD", "OPTIONS"):
                found.add((method, route.path))
    return found


def test_every_route_and_op_is_covered() -> None:
    covered = set(requests_for("x", "y")) | ACCOUNT_WIDE
    assert api_routes() - covered == set(), "add the new route to requests_for()"
    ops = {body["op"] for body in ddo_bodies()}
    assert ops == set(REGISTRY.names())


def add_end_user(pg: SyncPg, db_id: str) -> None:
    """``END_USER_KEY`` signed up to the database, with a live session."""
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db_id)
    add_session(pg, schema, add_end_user_row(pg, schema, user_key=END_USER_KEY))


def add_file(pg: SyncPg, db_id: str) -> None:
    """``A_FILE_KEY`` in the database's ``_files``, pending (every file op has something to do);
    a row only: the walk's server stores no bytes."""
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db_id)
    data = {
        "filename": "a.txt",
        "filesize": 4,
        "content_type": "text/plain",
        "fileclass": "document",
        "acl": "public",
        "object_key": f"{db_id}/{A_FILE_KEY}",
        "metadata": {},
        "status": "pending",
    }
    pg.execute(
        f'INSERT INTO "{schema}"._files (_key, _userkey, data) VALUES ($1, $2, $3::jsonb)',
        A_FILE_KEY,
        END_USER_KEY,
        json.dumps(data),
    )


def add_vectors(client: httpx.Client, headers: dict[str, str], pg: SyncPg, db_id: str) -> None:
    """The vector collection ``items`` with the entry ``A_VECTOR_TEXT``, made by the account through
    ``vdb.insert`` — where the server has pgvector (elsewhere the vector ops answer 501, after the 404
    that another tenant gets)."""
    if not pgvector_installed(pg):
        return
    body = {
        "op": "vdb.insert",
        "collection": "items",
        "data": [{"content": A_VECTOR_TEXT, "metadata": {"n": 1}}],
    }
    inserted = client.post(f"/api/{db_id}", json=body, headers=headers)
    assert inserted.status_code == 200, inserted.text


def snapshot(pg: SyncPg, db_id: str) -> Any:
    schema, settings = pg.fetchrow(
        "SELECT schema_name, auth_settings FROM pgcube.databases WHERE id = $1", db_id
    )
    catalog = pg.fetch(
        "SELECT c.name, c.strict, f.name AS field, f.type FROM pgcube.collections c "
        "LEFT JOIN pgcube.fields f ON (f.database_id, f.collection_name) = (c.database_id, c.name) "
        "WHERE c.database_id = $1 ORDER BY 1, 3",
        db_id,
    )
    declared = pg.fetch(
        'SELECT collection_name, name, fields, "unique" FROM pgcube.indexes WHERE database_id = $1 ORDER BY 2',
        db_id,
    )
    indexes = pg.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1", schema)
    rows = pg.fetch(f'SELECT _key, _modified_at, data::text FROM "{schema}"."items" ORDER BY _key')
    trash = pg.fetchval(f'SELECT count(*) FROM "{schema}"._trash')
    users = [
        pg.fetch(f'SELECT row_to_json(t)::text FROM "{schema}".{table} t ORDER BY 1')
        for table in ("_users", "_sessions", "_otps", "_files")
    ]
    return (
        schema,
        settings,
        [tuple(r) for r in catalog],
        [(r[0], r[1], list(r[2]), r[3]) for r in declared],
        [tuple(r) for r in indexes],
        [tuple(r) for r in rows],
        trash,
        [[tuple(r) for r in t] for t in users],
        vector_rows(pg, schema, "items"),
    )


@pytest.fixture
def a_database(client: httpx.Client, account: Account, pg: SyncPg) -> tuple[str, str]:
    name = "tenant_" + secrets.token_hex(4)
    response = client.post(
        "/api/create_database",
        json={
            "db_name": name,
            "collections": [
                {
                    "name": "items",
                    "fields": [{"name": "n", "type": "integer"}, {"name": "s", "type": "string"}],
                    "indexes": [{"fields": ["n"], "unique": True}],
                }
            ],
        },
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    db_id = response.json()["database"]["id"]
    inserted = client.post(
        f"/api/{db_id}",
        json={"op": "collection.insert", "collection": "items", "data": [{"n": 1}, {"n": 2}]},
        headers=account.headers,
    )
    assert inserted.status_code == 200, inserted.text
    add_end_user(pg, db_id)
    add_file(pg, db_id)
    add_vectors(client, account.headers, pg, db_id)
    return db_id, name


KINDS = {
    "jwt": PrincipalKind.ACCOUNT,
    "api_key": PrincipalKind.SERVER_KEY,
    "web_key": PrincipalKind.WEB_KEY,
    "end_user": PrincipalKind.END_USER,
}


def credentials_of(client: httpx.Client, pg: SyncPg, account: Account, credential: str) -> dict[str, str]:
    """Headers of one of ``account``'s credentials; web keys and end users belong to a database
    of its own (a web key always reaches one database)."""
    if credential == "jwt":
        return account.headers
    if credential == "api_key":
        return api_key_headers(create_api_key(client, account))
    own = client.post(
        "/api/create_database", json={"db_name": "own_" + secrets.token_hex(4)}, headers=account.headers
    ).json()["database"]["id"]
    if credential == "web_key":
        return project_of(client, pg, account, own).web
    return end_user_headers(client, pg, account, own)


@pytest.mark.parametrize("credential", list(KINDS))
def test_another_account_gets_404_everywhere_and_changes_nothing(
    client: httpx.Client,
    pg: SyncPg,
    account: Account,
    other_account: Account,
    a_database: tuple[str, str],
    credential: str,
) -> None:
    """Every route and op answers B as if A's database did not exist: 404, or — for an op that
    does not take B's kind of credential — the 403 it answers for every database, before any
    look-up. Web keys and end users are walked through the DDO ops (their surface)."""
    db_id, name = a_database
    headers = credentials_of(client, pg, other_account, credential)
    web = credential in ("web_key", "end_user")
    before = snapshot(pg, db_id)
    for requests in requests_for(db_id, name).values():
        for method, path, kwargs in requests:
            op = ddo_op(kwargs)
            if web and op is None:
                continue
            response = client.request(method, path, headers=headers, **kwargs)
            if op is not None and KINDS[credential] not in op.principals:
                assert response.status_code == 403, (method, path, kwargs, response.text)
                unknown = client.request(method, path.replace(db_id, "0" * 24), headers=headers, **kwargs)
                assert unknown.json() == response.json(), (path, kwargs)
                continue
            assert response.status_code == 404, (method, path, kwargs, response.text)
            assert response.json()["error"]["code"] == "DATABASE_NOT_FOUND", (method, path, response.text)
    if not web:
        listed = client.get("/api/list_databases", params={"page_size": 1000}, headers=headers).json()
        assert db_id not in {d["id"] for d in listed["data"]}
    assert snapshot(pg, db_id) == before


def test_a_key_scoped_to_one_database_reaches_nothing_else(
    client: httpx.Client, pg: SyncPg, account: Account, a_database: tuple[str, str]
) -> None:
    db_id, name = a_database
    other = client.post(
        "/api/create_database", json={"db_name": "scoped_" + secrets.token_hex(4)}, headers=account.headers
    ).json()["database"]["id"]
    key = create_api_key(client, account, database_id=other)
    before = snapshot(pg, db_id)
    for requests in requests_for(db_id, name).values():
        for method, path, kwargs in requests:
            response = client.request(method, path, headers=api_key_headers(key), **kwargs)
            assert response.status_code == 404, (method, path, response.text)
    assert snapshot(pg, db_id) == before
    mine = client.post(
        f"/api/{other}",
        json={"op": "collection.insert", "collection": "c", "data": {"a": 1}},
        headers={"X-API-KEY": key},
    )
    assert mine.status_code == 200, mine.text

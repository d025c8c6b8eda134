"""The isolation walk (SPEC §11.4, RELIABILITY I1): every op and route that touches documents,
as end user B against end user A's documents under ``owner`` rules, and as a web key with no
user (or a rule that shuts web keys out).

B's answers are compared with the answers B gets from a twin database where A's documents do
not exist: they must be the same ("absent", SPEC §2) — and A's rows, and A's trash, unchanged.
Nothing here checks an owner in Python: remove the policies and this file fails.

The one thing a client-chosen ``_key`` reveals is that the key is taken (409, as on any store
whose documents are named by their keys); it is tested on its own, and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.data.conftest import Db, make_db
from tests.integration.imports.conftest import upload
from tests.support.accounts import new_account
from tests.support.end_users import EndUser, schema_of, signed_in, web_key
from tests.support.sync_pg import SyncPg

OWNED = {"name": "notes", "access": {"read": "owner", "write": "owner"}}
SECRET = "alice's secret"


@dataclass
class Side:
    """One database as end user B sees it through its web key."""

    db: Db
    key: str
    bob: EndUser

    @property
    def headers(self) -> dict[str, str]:
        return self.bob.headers(self.key)


@dataclass
class World:
    real: Side
    twin: Side
    alice: EndUser
    alice_key: str
    alice_ref: str
    pg: SyncPg

    def snapshot(self) -> tuple[list[Any], list[Any]]:
        """A's rows in the real collection and its trash, as the owner sees them."""
        schema = schema_of(self.pg, self.real.db.id)
        rows = self.pg.fetch(
            f'SELECT _key, _userkey, _modified_at, data::text FROM "{schema}".notes ORDER BY _key'
        )
        trash = self.pg.fetch(
            f'SELECT _ref, _key, _userkey, data::text FROM "{schema}"._trash ORDER BY _ref, _key'
        )
        alice = self.alice.user_key
        return [tuple(row) for row in rows if row["_userkey"] == alice], [
            tuple(row) for row in trash if row["_userkey"] == alice
        ]


@pytest.fixture(scope="module")
def world(module_client: httpx.Client, pg: SyncPg) -> World:
    """Built once: B's own writes land alike in both databases, so the answers stay comparable."""
    module_account = new_account(module_client, pg)
    real = make_db(module_client, module_account, [OWNED])
    twin = make_db(module_client, module_account, [OWNED])
    real_key, twin_key = (
        web_key(module_client, module_account, real.id),
        web_key(module_client, module_account, twin.id),
    )
    alice = signed_in(pg, real.id)
    bob_real, bob_twin = signed_in(pg, real.id), signed_in(pg, twin.id)
    as_alice = alice.headers(real_key)

    def alice_ddo(body: dict[str, Any]) -> Any:
        response = module_client.post(f"/api/{real.id}", json=body, headers=as_alice)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    alice_ddo(
        {
            "op": "collection.insert",
            "collection": "notes",
            "data": [{"_key": "alice-1", "t": SECRET, "n": 1}, {"_key": "alice-2", "t": SECRET, "n": 2}],
        }
    )
    deleted = alice_ddo({"op": "collection.delete", "collection": "notes", "match": {"_key": "alice-2"}})
    alice_ddo({"op": "collection.insert", "collection": "notes", "data": {"_key": "alice-3", "t": SECRET}})
    return World(
        real=Side(real, real_key, bob_real),
        twin=Side(twin, twin_key, bob_twin),
        alice=alice,
        alice_key="alice-1",
        alice_ref=deleted["_ref"],
        pg=pg,
    )


Request = Callable[[Side, World], httpx.Response]


def ddo(body: dict[str, Any]) -> Request:
    def send(side: Side, world: World) -> httpx.Response:
        filled = json.loads(json.dumps(body).replace("ALICE_REF", world.alice_ref))
        return side.db.client.post(
            f"/api/{side.db.id}", json={"collection": "notes", **filled}, headers=side.headers
        )

    return send


def crud(method: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None) -> Request:
    def send(side: Side, world: World) -> httpx.Response:
        where = {"database_id": side.db.id, "collection_name": "notes"}
        if method == "GET":
            query = {
                **where,
                **{k: json.dumps(v) if isinstance(v, dict) else v for k, v in (params or {}).items()},
            }
            return side.db.client.get("/api/crud", params=query, headers=side.headers)
        return side.db.client.request(
            method, "/api/crud", json={**where, **(body or {})}, headers=side.headers
        )

    return send


def imported(content: bytes, mode: str | None = None) -> Request:
    def send(side: Side, world: World) -> httpx.Response:
        return upload(side.db.client, side.headers, side.db.id, content, collection="notes", mode=mode)

    return send


ALICE = {"_key": "alice-1"}
MUTATION = {"$set": {"t": "bob was here"}}

WALK: dict[str, Request] = {
    "find by _key": ddo({"op": "collection.find", "match": ALICE}),
    "find everything": ddo({"op": "collection.find"}),
    "find by content": ddo({"op": "collection.find", "match": {"t": SECRET}}),
    "find sorted, projected, counted": ddo(
        {"op": "collection.find", "sort": "-n", "filter": ["t"], "count": "exact", "limit": 5}
    ),
    "find with a cursor": ddo({"op": "collection.find", "sort": "n", "limit": 1}),
    "db.find by filter": ddo({"op": "db.find", "filter": {"t": SECRET}}),
    "count": ddo({"op": "collection.count"}),
    "count by content": ddo({"op": "collection.count", "match": {"t": SECRET}}),
    "update by _key": ddo({"op": "collection.update", "match": ALICE, "data": MUTATION}),
    "update everything": ddo({"op": "collection.update", "match": {}, "data": MUTATION}),
    "upsert by content": ddo(
        {"op": "collection.upsert", "match": {"t": SECRET}, "update": MUTATION, "insert": {"mine": True}}
    ),
    "delete by _key": ddo({"op": "collection.delete", "match": ALICE}),
    "delete everything": ddo({"op": "collection.delete", "match": {}}),
    "archive by content": ddo({"op": "collection.archive", "match": {"t": SECRET}}),
    "restore alice's _ref": ddo({"op": "collection.restore", "_ref": "ALICE_REF"}),
    "insert": ddo({"op": "collection.insert", "data": {"t": "bob's"}}),
    "crud GET by _key": crud("GET", params={"filters": ALICE}),
    "crud GET everything": crud("GET"),
    "crud POST": crud("POST", {"data": {"t": "bob's"}}),
    "crud PUT by _key": crud("PUT", {"filters": ALICE, "update_data": {"t": "bob"}}),
    "crud PATCH everything": crud("PATCH", {"all": True, "update_data": {"t": "bob"}}),
    "crud PUT upsert by content": crud(
        "PUT", {"filters": {"t": SECRET}, "update_data": {"t": "x"}, "upsert": True}
    ),
    "crud DELETE by _key": crud("DELETE", {"filters": ALICE}),
    "crud DELETE everything": crud("DELETE", {"all": True, "soft_delete": False}),
    "import": imported(b'[{"t": "bob\'s import"}]'),
}

_GENERATED = {"_key", "_ref", "ref", "_created_at", "_modified_at", "_userkey", "inserted_ids", "upserted_id"}


def normalised(response: httpx.Response) -> tuple[int, Any]:
    """Status and body with what the server generates per call (keys, refs, times) blanked."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ("…" if k in _GENERATED else clean(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return response.status_code, clean(response.json())


@pytest.mark.parametrize("name", list(WALK))
def test_another_end_user_finds_nothing_and_changes_nothing(world: World, name: str) -> None:
    before = world.snapshot()
    real = WALK[name](world.real, world)
    twin = WALK[name](world.twin, world)
    # A request that fails for another reason would prove nothing: where A's documents do not
    # exist, each one works (a restore finds nothing to restore).
    assert twin.status_code == 404 if name.startswith("restore") else twin.is_success, twin.text
    assert normalised(real) == normalised(twin), f"{name}: answers differ\n{real.text}\n{twin.text}"
    assert SECRET not in real.text
    assert world.snapshot() == before, f"{name} changed alice's documents or trash"


def test_a_taken_key_is_a_conflict_that_changes_nothing(world: World) -> None:
    """What a client-chosen ``_key`` can reveal, and all it can."""
    before = world.snapshot()
    for request in (
        ddo({"op": "collection.insert", "data": {"_key": "alice-1", "t": "bob"}}),
        ddo({"op": "collection.upsert", "match": ALICE, "update": MUTATION}),
        imported(b'[{"_key": "alice-1", "t": "bob"}]'),
    ):
        response = request(world.real, world)
        assert response.status_code == 409, response.text
        assert SECRET not in response.text
    upserted = imported(b'[{"_key": "alice-1", "t": "bob"}]', mode="upsert")(world.real, world)
    assert upserted.status_code == 403, upserted.text  # the row's policy refuses the update
    assert world.snapshot() == before


# --- a web key without a user, or a rule that shuts web keys out ---------------------------

RULED = [
    {"name": "owned", "access": {"read": "owner", "write": "owner"}},
    {"name": "members", "access": {"read": "users", "write": "users"}},
    {"name": "closed", "access": {"read": "none", "write": "none"}},
    {"name": "readable", "access": {"read": "all", "write": "none"}},
]
EXPECTED = {"owned": 401, "members": 401, "closed": 403}


def _ruled_requests(db: Db, collection: str) -> dict[str, Callable[[dict[str, str]], httpx.Response]]:
    def ddo_call(body: dict[str, Any]) -> Callable[[dict[str, str]], httpx.Response]:
        return lambda headers: db.client.post(
            f"/api/{db.id}", json={"collection": collection, **body}, headers=headers
        )

    where = {"database_id": db.id, "collection_name": collection}
    return {
        "find": ddo_call({"op": "collection.find"}),
        "count": ddo_call({"op": "collection.count"}),
        "insert": ddo_call({"op": "collection.insert", "data": {"x": 1}}),
        "update": ddo_call({"op": "collection.update", "match": {"x": 1}, "data": {"$set": {"x": 2}}}),
        "upsert": ddo_call({"op": "collection.upsert", "match": {"x": 1}, "update": {"$set": {"x": 2}}}),
        "delete": ddo_call({"op": "collection.delete", "match": {"x": 1}}),
        "archive": ddo_call({"op": "collection.archive", "match": {"x": 1}}),
        "restore": ddo_call({"op": "collection.restore", "_ref": "0" * 32}),
        "crud GET": lambda h: db.client.get("/api/crud", params=where, headers=h),
        "crud POST": lambda h: db.client.post("/api/crud", json={**where, "data": {"x": 1}}, headers=h),
        "crud PUT": lambda h: db.client.put(
            "/api/crud", json={**where, "filters": {"x": 1}, "update_data": {"x": 2}}, headers=h
        ),
        "crud PATCH": lambda h: db.client.patch(
            "/api/crud", json={**where, "filters": {"x": 1}, "update_data": {"x": 2}}, headers=h
        ),
        "crud DELETE": lambda h: db.client.request(
            "DELETE", "/api/crud", json={**where, "filters": {"x": 1}}, headers=h
        ),
        "import": lambda h: upload(db.client, h, db.id, b'[{"x": 1}]', collection=collection),
    }


WRITES = {
    "insert",
    "update",
    "upsert",
    "delete",
    "archive",
    "restore",
    "crud POST",
    "crud PUT",
    "crud PATCH",
    "crud DELETE",
    "import",
}


def test_a_web_key_without_a_user_is_401_and_a_closed_rule_403(
    module_client: httpx.Client, pg: SyncPg
) -> None:
    module_account = new_account(module_client, pg)
    db = make_db(module_client, module_account, RULED)
    for name in ("owned", "members", "closed", "readable"):
        db.insert(name, [{"x": 1}])
    key = web_key(module_client, module_account, db.id)
    schema = schema_of(pg, db.id)
    before = {
        name: pg.fetch(f'SELECT _key, data::text FROM "{schema}".{name} ORDER BY _key') for name in EXPECTED
    }
    for collection, status in EXPECTED.items():
        for what, request in _ruled_requests(db, collection).items():
            response = request({"X-API-KEY": key})
            assert response.status_code == status, f"{collection} {what}: {response.text}"
            envelope = response.json()
            error = envelope["error"]
            assert error["code"] == ("AUTHENTICATION_FAILED" if status == 401 else "FORBIDDEN"), envelope
    # Signed in, "closed" still shuts a web key out: 403 for every op.
    user = signed_in(pg, db.id)
    for what, request in _ruled_requests(db, "closed").items():
        assert request(user.headers(key)).status_code == 403, what
    # Writes to a collection readable by all but writable by none: 403, with or without a user.
    for what, request in _ruled_requests(db, "readable").items():
        expected = 403 if what in WRITES else 200
        assert request({"X-API-KEY": key}).status_code == expected, what
        assert request(user.headers(key)).status_code == expected, what
    after = {
        name: pg.fetch(f'SELECT _key, data::text FROM "{schema}".{name} ORDER BY _key') for name in EXPECTED
    }
    assert after == before

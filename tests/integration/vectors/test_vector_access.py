"""Access rules on vector collections (SPEC §11.4, RELIABILITY I1): a new one is locked to web keys;
a web key never makes one; under ``owner`` rules end user B neither finds, nor deletes, A's entries —
by PostgreSQL's row-level security on ``_vec_<name>``, which ``pg_policies`` shows."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from pgcube.ops import REGISTRY
from tests.integration.vectors.support import VectorDb
from tests.support.end_users import EndUser, signed_in, web_key

ALICE_TEXT = "Alice's private note: the spare key is under the blue flowerpot by the back door."
BOB_TEXT = "Bob's grocery list: oat milk, lentils, two lemons and a loaf of rye bread."
OWNER_QUAL = "(_userkey = current_setting('pgcube.userkey'::text, true))"


def set_access(db: VectorDb, collection: str, read: str, write: str) -> httpx.Response:
    return db.client.post(
        "/api/set_access",
        json={"database_id": db.id, "collection": collection, "read": read, "write": write},
        headers=db.account.headers,
    )


def every_op_body(collection: str) -> dict[str, dict[str, Any]]:
    """A valid body for each vector op name (aliases included)."""
    by_op = {
        "vdb.insert": {"data": [{"content": "an entry"}]},
        "vdb.search": {"query": "an entry"},
        "vdb.delete": {"doc_key": "0" * 32},
    }
    names = [name for name in REGISTRY.names() if REGISTRY.resolve(name)[0].vectors]
    assert {REGISTRY.resolve(name)[0].name for name in names} == set(by_op), "give the new op a body"
    return {
        name: {"op": name, "collection": collection, **by_op[REGISTRY.resolve(name)[0].name]}
        for name in names
    }


def test_a_new_vector_collection_is_closed_to_web_keys(vdb: VectorDb) -> None:
    vdb.insert("locked", [{"content": "made with the server key"}])
    assert vdb.metadata("locked")["access"] == {"read": "none", "write": "none"}  # type: ignore[index]
    key = web_key(vdb.client, vdb.account, vdb.id)
    user = signed_in(vdb.pg, vdb.id)
    before = vdb.rows("locked")
    for headers in ({"X-API-KEY": key}, user.headers(key)):
        for name, body in every_op_body("locked").items():
            error = vdb.refused(body, 403, "FORBIDDEN", headers)
            assert error["message"], name
    assert vdb.rows("locked") == before


def test_a_web_key_cannot_make_a_vector_collection(vdb: VectorDb) -> None:
    key = web_key(vdb.client, vdb.account, vdb.id)
    user = signed_in(vdb.pg, vdb.id)
    catalog = vdb.catalog()
    for headers in ({"X-API-KEY": key}, user.headers(key)):
        for op in ("vdb.insert", "vectordb.insert"):
            body = {"op": op, "collection": "brand_new", "data": [{"content": "x"}]}
            error = vdb.refused(body, 404, "COLLECTION_NOT_FOUND", headers)
            assert error["details"] == {"collection": "brand_new"}
    assert vdb.catalog() == catalog
    assert not vdb.pg.fetch(
        "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = '_vec_brand_new'", vdb.schema
    )


class Owned:
    """A vector collection under ``owner``/``owner`` rules with Alice's and Bob's entries."""

    def __init__(self, db: VectorDb) -> None:
        self.db = db
        db.insert("private", [{"content": "a server key's entry, nobody's", "metadata": {"who": "server"}}])
        response = set_access(db, "_vec_private", "owner", "owner")
        assert response.status_code == 200, response.text
        self.key = web_key(db.client, db.account, db.id)
        self.alice, self.bob = signed_in(db.pg, db.id), signed_in(db.pg, db.id)
        self.alice_entries = self.insert(self.alice, ALICE_TEXT, "alice") + self.insert(
            self.alice, "Alice's second note about the garden shed.", "alice"
        )
        self.bob_entries = self.insert(self.bob, BOB_TEXT, "bob")

    def insert(self, user: EndUser, text: str, who: str) -> list[dict[str, Any]]:
        body = {
            "op": "vdb.insert",
            "collection": "private",
            "data": [{"content": text, "metadata": {"who": who}}],
        }
        data: list[dict[str, Any]] = self.db.ok(body, user.headers(self.key))["data"]
        return data

    def as_user(self, user: EndUser, body: dict[str, Any]) -> Any:
        return self.db.ok({"collection": "private", **body}, user.headers(self.key))["data"]

    def owners(self) -> dict[str, str | None]:
        return {row[0]: row[1] for row in self.db.rows("private")}


@pytest.fixture
def owned(vdb: VectorDb) -> Owned:
    return Owned(vdb)


def test_inserts_are_stamped_with_the_signed_in_user(owned: Owned) -> None:
    owners = owned.owners()
    assert {owners[e["_key"]] for e in owned.alice_entries} == {owned.alice.user_key}
    assert {owners[e["_key"]] for e in owned.bob_entries} == {owned.bob.user_key}
    assert list(owners.values()).count(None) == 1  # the server key's entry


def test_another_end_user_finds_none_of_the_entries(owned: Owned) -> None:
    alice_keys = {e["_key"] for e in owned.alice_entries}
    [alice_row] = [row for row in owned.db.rows("private") if row[0] == owned.alice_entries[0]["_key"]]
    alice_vector = json.loads(alice_row[5])
    for body in (
        {"op": "vdb.search", "query": ALICE_TEXT},
        {"op": "vectordb.search", "query": ALICE_TEXT, "limit": 100},
        {"op": "vdb.search", "vector": alice_vector, "limit": 100},
        {"op": "vdb.search", "query": ALICE_TEXT, "match": {"metadata.who": "alice"}},
        {"op": "vdb.search", "vector": alice_vector, "match": {"_userkey": owned.alice.user_key}},
    ):
        hits = owned.as_user(owned.bob, body)
        assert not alice_keys & {hit["_key"] for hit in hits}, body
        assert {hit["_userkey"] for hit in hits} <= {owned.bob.user_key}, body
    assert [hit["_key"] for hit in owned.as_user(owned.bob, {"op": "vdb.search", "query": ALICE_TEXT})] == [
        owned.bob_entries[0]["_key"]
    ]
    # Alice finds her own, best first; neither the server key's nor Bob's.
    hits = owned.as_user(owned.alice, {"op": "vdb.search", "query": ALICE_TEXT})
    assert hits[0]["_key"] == owned.alice_entries[0]["_key"]
    assert {hit["_key"] for hit in hits} == alice_keys
    # The server key sees every entry.
    assert len(owned.db.search("private", query=ALICE_TEXT, limit=100)) == 4


def test_another_end_user_deletes_none_of_the_entries(owned: Owned) -> None:
    before = owned.db.rows("private")
    alice = owned.alice_entries
    for body in (
        {"op": "vdb.delete", "_key": alice[0]["_key"]},
        {"op": "vectordb.delete", "_keys": [e["_key"] for e in alice]},
        {"op": "vdb.delete", "doc_key": alice[0]["doc_key"]},
        {"op": "vdb.delete", "match": {"metadata.who": "alice"}},
        {"op": "vdb.delete", "match": {"_userkey": owned.alice.user_key}},
        {"op": "vdb.delete", "match": {"metadata.who": "server"}},
    ):
        assert owned.as_user(owned.bob, body) == {"count": 0}, body
    assert owned.db.rows("private") == before
    # Bob's own delete works, and Alice's does on hers.
    assert owned.as_user(owned.bob, {"op": "vdb.delete", "match": {"metadata.who:$exists": True}}) == {
        "count": 1
    }
    assert owned.as_user(owned.alice, {"op": "vdb.delete", "doc_key": alice[0]["doc_key"]}) == {"count": 1}
    assert set(owned.owners()) == {row[0] for row in before} - {
        owned.bob_entries[0]["_key"],
        alice[0]["_key"],
    }


def test_without_a_user_an_owner_rule_is_401(owned: Owned) -> None:
    before = owned.db.rows("private")
    for name, body in every_op_body("private").items():
        error = owned.db.refused(body, 401, "AUTHENTICATION_FAILED", {"X-API-KEY": owned.key})
        assert error["message"], name
    assert owned.db.rows("private") == before


def test_the_policies_are_in_postgresql(owned: Owned) -> None:
    pg, schema = owned.db.pg, owned.db.schema
    assert pg.fetchval(
        "SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass(format('%I.%I', $1::text, '_vec_private'))",
        schema,
    )
    policies = {
        row["policyname"]: (row["cmd"], row["roles"], row["qual"], row["with_check"])
        for row in pg.fetch(
            "SELECT * FROM pg_policies WHERE schemaname = $1 AND tablename = '_vec_private'", schema
        )
    }
    assert policies == {
        "web_read": ("SELECT", ["pgcube_web"], OWNER_QUAL, None),
        "web_insert": ("INSERT", ["pgcube_web"], None, OWNER_QUAL),
        "web_update": ("UPDATE", ["pgcube_web"], OWNER_QUAL, OWNER_QUAL),
        "web_delete": ("DELETE", ["pgcube_web"], OWNER_QUAL, None),
    }
    # As a DBA checks it: the restricted role, for Alice, sees Alice's rows only.
    rows = pg.fetch_as(
        "pgcube_web", {"pgcube.userkey": owned.alice.user_key}, f'SELECT _key FROM "{schema}"."_vec_private"'
    )
    assert {row["_key"] for row in rows} == {e["_key"] for e in owned.alice_entries}

"""API keys (SPEC §2, §4; RELIABILITY C1, C2, E4)."""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
import time

import httpx
import pytest

from tests.support.accounts import Account, api_key_headers, create_api_key, new_account
from tests.support.sync_pg import SyncPg

KEY_SHAPE = re.compile(r"pgc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def owner(probe: httpx.Client, pg: SyncPg) -> Account:
    return new_account(probe, pg)


def _database_of(pg: SyncPg, account: Account) -> str:
    """A logical database row owned by ``account`` (the catalog row is all a key scope needs)."""
    database_id = secrets.token_hex(12)
    pg.execute(
        "INSERT INTO pgcube.databases (id, account_id, name, schema_name) VALUES ($1, $2::uuid, $3, $4)",
        database_id,
        account.account_id,
        "db_" + database_id[:6],
        "keys_test_" + database_id,
    )
    return database_id


def keys_of(pg: SyncPg, account: Account) -> list[dict[str, object]]:
    """The account's rows of ``pgcube.api_keys``, straight from the table."""
    rows = pg.fetch(
        "SELECT * FROM pgcube.api_keys WHERE account_id = $1::uuid ORDER BY id", account.account_id
    )
    return [dict(row) for row in rows]


def test_a_key_is_shown_once_and_stored_as_a_hash(probe: httpx.Client, pg: SyncPg, owner: Account) -> None:
    created = probe.post("/core/api/v1/keys", json={"name": "backend"}, headers=owner.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "name", "key", "prefix", "database_id", "kind", "created_at"}
    assert body["kind"] == "server"
    key = body["key"]
    assert KEY_SHAPE.fullmatch(key)
    assert body["prefix"] == f"pgc_{body['id']}"
    assert key.startswith(body["prefix"] + "_")
    assert body["database_id"] is None

    row = pg.fetchrow("SELECT * FROM pgcube.api_keys WHERE id = $1", body["id"])
    secret = key.rsplit("_", 1)[1] if key.count("_") == 2 else key[len(body["prefix"]) + 1 :]
    assert bytes(row["secret_hash"]) == hashlib.sha256(secret.encode()).digest()
    assert key not in str(dict(row))

    listed = probe.get("/core/api/v1/keys", headers=owner.headers)
    assert listed.status_code == 200
    assert listed.json() == [
        {
            "id": body["id"],
            "name": "backend",
            "prefix": body["prefix"],
            "database_id": None,
            "kind": "server",
            "created_at": body["created_at"],
            "last_used_at": None,
        }
    ]
    assert secret not in listed.text


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_both_key_headers_work(probe: httpx.Client, owner: Account, header: str) -> None:
    key = create_api_key(probe, owner)
    headers = api_key_headers(key) if header == "authorization" else {"X-API-KEY": key}
    answer = probe.get("/probe/any", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "account_id": owner.account_id,
        "via": "api_key",
        "database_id": None,
        "api_key_id": key[4:20],
    }


def test_the_scheme_is_case_insensitive(probe: httpx.Client, owner: Account) -> None:
    key = create_api_key(probe, owner)
    assert probe.get("/probe/any", headers={"Authorization": f"api-key {key}"}).status_code == 200
    assert probe.get("/probe/any", headers={"Authorization": f"bearer {owner.access}"}).status_code == 200


def _last_used_at(pg: SyncPg, key: str, within: float = 10.0) -> datetime.datetime | None:
    """The key's ``last_used_at`` once written (it is written off the request path, about once a
    second), or None after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        used: datetime.datetime | None = pg.fetchval(
            "SELECT last_used_at FROM pgcube.api_keys WHERE id = $1", key[4:20]
        )
        if used is not None or time.monotonic() > deadline:
            return used
        time.sleep(0.05)


def test_last_used_at_is_kept(probe: httpx.Client, pg: SyncPg, owner: Account) -> None:
    key = create_api_key(probe, owner)
    assert probe.get("/probe/any", headers=api_key_headers(key)).status_code == 200
    assert _last_used_at(pg, key) is not None
    assert probe.get("/core/api/v1/keys", headers=owner.headers).json()[0]["last_used_at"] is not None


def test_last_used_at_is_written_at_most_once_a_minute(
    probe: httpx.Client, pg: SyncPg, owner: Account
) -> None:
    key = create_api_key(probe, owner)
    assert probe.get("/probe/any", headers=api_key_headers(key)).status_code == 200
    first = _last_used_at(pg, key)
    assert first is not None
    for _ in range(3):
        assert probe.get("/probe/any", headers=api_key_headers(key)).status_code == 200
    time.sleep(1.5)  # more than one flush interval
    assert _last_used_at(pg, key) == first


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # wrong secret, right id
        lambda k: k[:-1],  # too short
        lambda k: k + "x",  # too long
        lambda k: "pgc_" + "0" * 16 + k[20:],  # unknown id
        lambda k: k.replace("pgc_", "pgk_"),
        lambda k: k.upper(),
        lambda k: "pgc_",
        lambda k: "pgc_' OR 1=1--",
    ],
)
def test_a_wrong_or_malformed_key_is_refused(probe: httpx.Client, owner: Account, mangle: object) -> None:
    key = create_api_key(probe, owner)
    bad = mangle(key)  # type: ignore[operator]
    for headers in (api_key_headers(bad), {"X-API-KEY": bad}):
        answer = probe.get("/probe/any", headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "AUTHENTICATION_FAILED"


def test_revocation_takes_effect_on_the_next_request(probe: httpx.Client, owner: Account) -> None:
    key = create_api_key(probe, owner)
    assert probe.get("/probe/any", headers={"X-API-KEY": key}).status_code == 200
    assert probe.delete(f"/core/api/v1/keys/{key[4:20]}", headers=owner.headers).status_code == 200
    assert probe.get("/probe/any", headers={"X-API-KEY": key}).status_code == 401
    assert probe.get("/core/api/v1/keys", headers=owner.headers).json() == []
    again = probe.delete(f"/core/api/v1/keys/{key[4:20]}", headers=owner.headers)
    assert again.status_code == 404


def test_another_accounts_key_cannot_be_seen_or_revoked(
    probe: httpx.Client, pg: SyncPg, owner: Account
) -> None:
    stranger = new_account(probe, pg)
    key = create_api_key(probe, owner)
    theirs = probe.delete(f"/core/api/v1/keys/{key[4:20]}", headers=stranger.headers)
    unknown = probe.delete(f"/core/api/v1/keys/{'0' * 16}", headers=stranger.headers)
    assert (theirs.status_code, theirs.json()) == (unknown.status_code, unknown.json())
    assert theirs.status_code == 404
    assert probe.get("/core/api/v1/keys", headers=stranger.headers).json() == []
    assert probe.get("/probe/any", headers={"X-API-KEY": key}).status_code == 200


def test_an_api_key_cannot_manage_keys_or_the_account(probe: httpx.Client, owner: Account) -> None:
    key = create_api_key(probe, owner)
    key_id = key[4:20]
    for headers in (api_key_headers(key), {"X-API-KEY": key}):
        attempts = [
            probe.get("/core/api/v1/keys", headers=headers),
            probe.post("/core/api/v1/keys", json={"name": "escalate"}, headers=headers),
            probe.delete(f"/core/api/v1/keys/{key_id}", headers=headers),
            probe.get("/core/profile", headers=headers),
            probe.patch("/core/profile", json={"firstName": "Mallory"}, headers=headers),
            probe.get("/probe/jwt", headers=headers),
        ]
        for answer in attempts:
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"]["code"] == "AUTHENTICATION_FAILED"
    assert len(probe.get("/core/api/v1/keys", headers=owner.headers).json()) == 1


def test_a_scoped_key_carries_its_database(probe: httpx.Client, pg: SyncPg, owner: Account) -> None:
    database_id = _database_of(pg, owner)
    key = create_api_key(probe, owner, database_id=database_id)
    answer = probe.get("/probe/any", headers={"X-API-KEY": key})
    assert answer.json()["database_id"] == database_id
    assert probe.get("/core/api/v1/keys", headers=owner.headers).json()[0]["database_id"] == database_id


def test_a_key_cannot_be_scoped_to_another_accounts_database(
    probe: httpx.Client, pg: SyncPg, owner: Account
) -> None:
    stranger = new_account(probe, pg)
    theirs = _database_of(pg, stranger)
    existing = create_api_key(probe, owner)
    before = keys_of(pg, owner)
    answer = probe.post("/core/api/v1/keys", json={"name": "x", "database_id": theirs}, headers=owner.headers)
    missing = probe.post(
        "/core/api/v1/keys", json={"name": "x", "database_id": "0" * 24}, headers=owner.headers
    )
    assert (answer.status_code, answer.json()) == (missing.status_code, missing.json())
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "DATABASE_NOT_FOUND"
    assert keys_of(pg, owner) == before
    assert [row["id"] for row in before] == [existing[4:20]]
    assert keys_of(pg, stranger) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "x", "database_id": "nothex"}, "database_id"),
        ({}, "name"),
    ],
)
def test_invalid_key_requests_name_the_field(
    probe: httpx.Client, pg: SyncPg, owner: Account, body: dict[str, object], field: str
) -> None:
    answer = probe.post("/core/api/v1/keys", json=body, headers=owner.headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert answer.json()["error"]["details"].get("field") == field
    assert keys_of(pg, owner) == []


def test_unknown_fields_on_key_creation_are_refused(probe: httpx.Client, pg: SyncPg, owner: Account) -> None:
    stranger = new_account(probe, pg)
    answer = probe.post(
        "/core/api/v1/keys",
        json={"name": "x", "account_id": stranger.account_id},
        headers=owner.headers,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert answer.json()["error"]["details"] == {"field": "account_id", "unknown": True}
    assert keys_of(pg, owner) == []
    assert keys_of(pg, stranger) == []


def test_the_key_quota_is_enforced(probe: httpx.Client, pg: SyncPg, owner: Account) -> None:
    pg.execute(
        """
        INSERT INTO pgcube.api_keys (id, account_id, name, prefix, secret_hash)
        SELECT substr(md5(random()::text), 1, 16), $1::uuid, 'filler', 'pgc_x', '\\x00'
        FROM generate_series(1, 50)
        """,
        owner.account_id,
    )
    before = keys_of(pg, owner)
    answer = probe.post("/core/api/v1/keys", json={"name": "one too many"}, headers=owner.headers)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "QUOTA_EXCEEDED"
    assert keys_of(pg, owner) == before
    # Revoked keys do not count.
    pg.execute("UPDATE pgcube.api_keys SET revoked_at = now() WHERE account_id = $1::uuid", owner.account_id)
    assert probe.post("/core/api/v1/keys", json={"name": "fits"}, headers=owner.headers).status_code == 201

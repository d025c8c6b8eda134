"""The profile (SPEC §4; RELIABILITY D5: no mass assignment, no hash in any answer)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.accounts import Account, new_account
from tests.support.sync_pg import SyncPg

PROFILE_FIELDS = {"id", "email", "firstName", "lastName", "email_verified", "created_at"}


@pytest.fixture
def me(probe: httpx.Client, pg: SyncPg) -> Account:
    return new_account(probe, pg)


def test_the_profile_has_exactly_its_fields(probe: httpx.Client, me: Account) -> None:
    answer = probe.get("/core/profile", headers=me.headers)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == PROFILE_FIELDS
    assert body["id"] == me.account_id
    assert (body["firstName"], body["lastName"]) == ("Test", "User")
    assert body["created_at"].endswith(("Z", "+00:00"))
    assert "argon2" not in answer.text


def test_names_can_be_changed_one_at_a_time(probe: httpx.Client, me: Account) -> None:
    first = probe.patch("/core/profile", json={"firstName": "  Ada "}, headers=me.headers)
    assert first.status_code == 200, first.text
    assert (first.json()["firstName"], first.json()["lastName"]) == ("Ada", "User")
    second = probe.patch("/core/profile", json={"lastName": "Lovelace"}, headers=me.headers)
    assert (second.json()["firstName"], second.json()["lastName"]) == ("Ada", "Lovelace")
    assert probe.get("/core/profile", headers=me.headers).json() == second.json()


@pytest.mark.parametrize(
    "extra",
    [
        {"email_verified": False},
        {"email": "someone-else@example.com"},
        {"id": "00000000-0000-0000-0000-000000000000"},
        {"password_hash": "x"},
        {"created_at": "2000-01-01T00:00:00Z"},
        {"role": "admin"},
    ],
)
def test_mass_assignment_on_the_profile_is_refused_and_changes_nothing(
    probe: httpx.Client, pg: SyncPg, me: Account, extra: dict[str, object]
) -> None:
    before = pg.fetchrow("SELECT * FROM pgcube.accounts WHERE id = $1::uuid", me.account_id)
    answer = probe.patch("/core/profile", json={"firstName": "Eve", **extra}, headers=me.headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    after = pg.fetchrow("SELECT * FROM pgcube.accounts WHERE id = $1::uuid", me.account_id)
    assert dict(after) == dict(before)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"firstName": "x" * 101}, "firstName"),
        ({"lastName": "a\x00b"}, "lastName"),
        ({"firstName": 42}, "firstName"),
        ({"firstName": "Eve", "lastName": "x" * 101}, "lastName"),
    ],
)
def test_invalid_names_are_refused_and_change_nothing(
    probe: httpx.Client, pg: SyncPg, me: Account, body: dict[str, object], field: str
) -> None:
    before = pg.fetchrow("SELECT * FROM pgcube.accounts WHERE id = $1::uuid", me.account_id)
    answer = probe.patch("/core/profile", json=body, headers=me.headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert answer.json()["error"]["details"].get("field") == field
    after = pg.fetchrow("SELECT * FROM pgcube.accounts WHERE id = $1::uuid", me.account_id)
    assert dict(after) == dict(before)


def test_the_profile_needs_a_session(probe: httpx.Client) -> None:
    assert probe.get("/core/profile").status_code == 401
    assert probe.patch("/core/profile", json={"firstName": "x"}).status_code == 401


def test_no_answer_of_the_flow_contains_a_hash(probe: httpx.Client, pg: SyncPg, me: Account) -> None:
    key = probe.post("/core/api/v1/keys", json={"name": "k"}, headers=me.headers)
    answers = [
        probe.get("/core/profile", headers=me.headers),
        probe.patch("/core/profile", json={"firstName": "Z"}, headers=me.headers),
        key,
        probe.get("/core/api/v1/keys", headers=me.headers),
        probe.post("/core/token/refresh", json={"refresh": me.refresh}),
    ]
    stored = pg.fetchrow(
        "SELECT a.password_hash, k.secret_hash FROM pgcube.accounts a JOIN pgcube.api_keys k ON k.account_id = a.id "
        "WHERE a.id = $1::uuid",
        me.account_id,
    )
    token_hashes = [
        bytes(r["token_hash"]).hex()
        for r in pg.fetch(
            "SELECT token_hash FROM pgcube.refresh_tokens WHERE account_id = $1::uuid", me.account_id
        )
    ]
    for answer in answers:
        assert answer.status_code in (200, 201)
        text = answer.text
        assert "hash" not in text
        assert "$argon2" not in text
        assert stored["password_hash"] not in text
        assert bytes(stored["secret_hash"]).hex() not in text
        for token_hash in token_hashes:
            assert token_hash not in text

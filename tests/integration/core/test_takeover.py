"""Account takeover, the attacks of issue 14 replayed (RELIABILITY H3, H4, H9; ADR 0015).

Each test performs the attack the probe found and asserts that it fails now:

* pre-hijacking — an attacker registers the victim's address first;
* access tokens that outlived logout and password reset (and minted API keys);
* timing that told whether an address has an account;
* common passwords;
* credentials in cacheable answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.core.mail import (
    reset_mails,
    sent_reset_token,
    sent_verification_token,
    settled_outbox,
    verification_mails,
)
from tests.support.accounts import (
    Account,
    allow_mail_now,
    api_key_headers,
    login,
    new_account,
    register,
    unique_email,
    verification_token,
)
from tests.support.live import LiveServer, test_settings
from tests.support.sync_pg import SyncPg

ATTACKER_PASSWORD = "mallory's own password"
VICTIM_PASSWORD = "victim's chosen password"
NEW_PASSWORD = "victim's brand new password"


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def _new_key(client: httpx.Client, access: str) -> httpx.Response:
    return client.post("/core/api/v1/keys", json={"name": "mine now"}, headers=_bearer(access))


def _live_keys(pg: SyncPg, account_id: str) -> int:
    count: int = pg.fetchval(
        "SELECT count(*) FROM pgcube.api_keys WHERE account_id = $1::uuid AND revoked_at IS NULL", account_id
    )
    return count


def _account_id(pg: SyncPg, email: str) -> str:
    value: str = pg.fetchval("SELECT id::text FROM pgcube.accounts WHERE email_canonical = lower($1)", email)
    return value


def _reset_password(client: httpx.Client, pg: SyncPg, email: str, password: str) -> None:
    allow_mail_now(pg, email)
    already = reset_mails(pg, email)
    assert client.post("/core/password-reset/request", json={"email": email}).status_code == 202
    token = sent_reset_token(pg, email, already)
    confirmed = client.post("/core/password-reset/confirm", json={"token": token, "password": password})
    assert confirmed.status_code == 200, confirmed.text
    assert "API key" in confirmed.json()["message"]


# --- High 3: account pre-hijacking ----------------------------------------------------------------


def test_pre_hijacking_ends_with_the_attacker_locked_out(live_server: LiveServer, pg: SyncPg) -> None:
    """The probe's sequence: the attacker registers victim@ with their own password; the victim
    registers (same answer) and clicks the verification link; the attacker logs in, mints an API
    key; the victim resets the password. Before the fix the account was verified with the
    attacker's password and name, and the attacker's key outlived the reset."""
    victim_email = unique_email("victim")
    with live_server.client() as attacker, live_server.client() as victim:
        register(attacker, victim_email, ATTACKER_PASSWORD, first_name="Mallory", last_name="Attacker")
        attackers_link = verification_token(pg, victim_email)  # it lands in the victim's inbox

        allow_mail_now(pg, victim_email)  # a minute later
        answer = register(victim, victim_email, VICTIM_PASSWORD, first_name="Victor", last_name="Victim")
        assert answer.json() == {
            "message": "User registered successfully. Please check your email to verify your account."
        }
        victims_link = sent_verification_token(pg, victim_email, already=1)
        assert victims_link != attackers_link

        # The first link in the victim's inbox was sent by the attacker's registration: dead.
        assert _error(victim.get(f"/core/verify-email/{attackers_link}")) == (400, "INVALID_TOKEN")
        assert victim.get(f"/core/verify-email/{victims_link}").status_code == 200

        # Verified with the victim's password and name, not the attacker's.
        assert _error(login(attacker, victim_email, ATTACKER_PASSWORD)) == (401, "INVALID_CREDENTIALS")
        session = login(victim, victim_email, VICTIM_PASSWORD)
        assert session.status_code == 200, session.text
        profile = victim.get("/core/profile", headers=_bearer(session.json()["access"])).json()
        assert (profile["firstName"], profile["lastName"]) == ("Victor", "Victim")

        # The attacker has no way in: no session, so no key; the victim's reset changes nothing
        # for them, and their password never works again.
        account_id = _account_id(pg, victim_email)
        assert _live_keys(pg, account_id) == 0
        _reset_password(victim, pg, victim_email, NEW_PASSWORD)
        for password in (ATTACKER_PASSWORD, VICTIM_PASSWORD):
            assert _error(login(attacker, victim_email, password)) == (401, "INVALID_CREDENTIALS")
        assert login(victim, victim_email, NEW_PASSWORD).status_code == 200


def test_a_reset_locks_out_whoever_held_the_account(live_server: LiveServer, pg: SyncPg) -> None:
    """The other half of finding 3: whoever held the account — here the attacker got the victim
    to click a link of the attacker's own registration — keeps nothing after the victim's reset:
    not their password, not their sessions' access or refresh tokens, not their API keys."""
    victim_email = unique_email("victim")
    with live_server.client() as attacker, live_server.client() as victim:
        register(attacker, victim_email, ATTACKER_PASSWORD, first_name="Mallory")
        victim.get(f"/core/verify-email/{verification_token(pg, victim_email)}")  # the victim clicks

        held = login(attacker, victim_email, ATTACKER_PASSWORD).json()
        key = _new_key(attacker, held["access"]).json()["key"]
        assert attacker.get("/api/list_databases", headers=api_key_headers(key)).status_code == 200
        account_id = _account_id(pg, victim_email)

        _reset_password(victim, pg, victim_email, NEW_PASSWORD)

        assert _error(login(attacker, victim_email, ATTACKER_PASSWORD)) == (401, "INVALID_CREDENTIALS")
        assert _error(attacker.get("/api/list_databases", headers=api_key_headers(key))) == (
            401,
            "AUTHENTICATION_FAILED",
        )
        assert _error(_new_key(attacker, held["access"])) == (401, "AUTHENTICATION_FAILED")
        assert _error(attacker.get("/api/list_databases", headers=_bearer(held["access"]))) == (
            401,
            "AUTHENTICATION_FAILED",
        )
        refreshed = attacker.post("/core/token/refresh", json={"refresh": held["refresh"]})
        assert _error(refreshed) == (401, "AUTHENTICATION_FAILED")
        assert _live_keys(pg, account_id) == 0

        # The victim works on, and their new database is out of the attacker's reach.
        mine = login(victim, victim_email, NEW_PASSWORD).json()
        created = victim.post(
            "/api/create_database",
            json={"db_name": "private", "collections": []},
            headers=_bearer(mine["access"]),
        )
        assert created.status_code == 201, created.text
        assert _error(attacker.get("/api/list_databases", headers=api_key_headers(key)))[0] == 401


def test_a_registration_replaces_a_pending_one_only(probe: httpx.Client, pg: SyncPg) -> None:
    """A verified address is never replaced: its owner is told instead, and nothing changes."""
    owner = new_account(probe, pg)
    allow_mail_now(pg, owner.email)
    register(probe, owner.email, ATTACKER_PASSWORD, first_name="Mallory")
    assert "already has one" in settled_outbox(pg, owner.email)[-1]
    assert login(probe, owner.email, owner.password).status_code == 200
    assert _error(login(probe, owner.email, ATTACKER_PASSWORD)) == (401, "INVALID_CREDENTIALS")


def test_the_link_of_a_replaced_registration_dies_even_without_a_new_email(
    probe: httpx.Client, pg: SyncPg
) -> None:
    """Within a minute of the first email no second one is sent (G3), yet the first link must
    die: it would verify the replaced registration."""
    email = unique_email("pending")
    register(probe, email, ATTACKER_PASSWORD)
    first_link = verification_token(pg, email)
    register(probe, email, VICTIM_PASSWORD)
    assert verification_mails(pg, email) == 1
    assert _error(probe.get(f"/core/verify-email/{first_link}")) == (400, "INVALID_TOKEN")
    allow_mail_now(pg, email)
    assert probe.post("/core/verify-email/resend", json={"email": email}).status_code == 202
    assert probe.get(f"/core/verify-email/{sent_verification_token(pg, email, already=1)}").status_code == 200
    assert login(probe, email, VICTIM_PASSWORD).status_code == 200


@pytest.fixture(scope="module")
def optional_verification_server(pg_url: str) -> Iterator[LiveServer]:
    with LiveServer(test_settings(pg_url, require_email_verification=False)) as server:
        yield server


def test_without_required_verification_an_unverified_account_is_never_replaced(
    optional_verification_server: LiveServer, pg: SyncPg
) -> None:
    """There, an unverified account is in use: replacing it would hand it to the second registrant."""
    with optional_verification_server.client() as http:
        email = unique_email("in-use")
        register(http, email, VICTIM_PASSWORD)
        assert login(http, email, VICTIM_PASSWORD).status_code == 200
        allow_mail_now(pg, email)
        register(http, email, ATTACKER_PASSWORD)
        assert _error(login(http, email, ATTACKER_PASSWORD)) == (401, "INVALID_CREDENTIALS")
        assert login(http, email, VICTIM_PASSWORD).status_code == 200


# --- Medium 4: access tokens die with their session --------------------------------------------


def _refused_everywhere(client: httpx.Client, access: str, key_id: str) -> None:
    """The token is refused on the key, profile and data routes, and changes nothing."""
    headers = _bearer(access)
    attempts = [
        client.post("/core/api/v1/keys", json={"name": "persistence"}, headers=headers),
        client.get("/core/api/v1/keys", headers=headers),
        client.delete(f"/core/api/v1/keys/{key_id}", headers=headers),
        client.get("/core/profile", headers=headers),
        client.patch("/core/profile", json={"firstName": "Owned"}, headers=headers),
        client.get("/api/list_databases", headers=headers),
        client.get("/probe/any", headers=headers),
    ]
    for answer in attempts:
        assert _error(answer) == (401, "AUTHENTICATION_FAILED"), (answer.request.url, answer.text)
        assert "session has ended" in answer.json()["error"]["message"]


def test_logout_ends_the_access_token_at_once(probe: httpx.Client, pg: SyncPg) -> None:
    account = new_account(probe, pg)
    other = login(probe, account.email, account.password).json()  # a second session
    key = _new_key(probe, account.access).json()
    before = pg.fetchrow(
        "SELECT first_name, (SELECT count(*) FROM pgcube.api_keys WHERE account_id = $1::uuid) AS keys "
        "FROM pgcube.accounts WHERE id = $1::uuid",
        account.account_id,
    )
    assert probe.post("/core/logout", json={"refresh": account.refresh}).status_code == 200

    _refused_everywhere(probe, account.access, key["id"])
    after = pg.fetchrow(
        "SELECT first_name, (SELECT count(*) FROM pgcube.api_keys WHERE account_id = $1::uuid) AS keys "
        "FROM pgcube.accounts WHERE id = $1::uuid",
        account.account_id,
    )
    assert after == before
    # Only that session: the other one, and the key, work on.
    assert probe.get("/core/profile", headers=_bearer(other["access"])).status_code == 200
    assert probe.get("/api/list_databases", headers=api_key_headers(key["key"])).status_code == 200


def test_a_password_reset_ends_every_access_token_and_key(probe: httpx.Client, pg: SyncPg) -> None:
    account = new_account(probe, pg)
    other = login(probe, account.email, account.password).json()
    key = _new_key(probe, account.access).json()
    _reset_password(probe, pg, account.email, NEW_PASSWORD)
    for access in (account.access, other["access"]):
        _refused_everywhere(probe, access, key["id"])
    assert _error(probe.get("/api/list_databases", headers=api_key_headers(key["key"]))) == (
        401,
        "AUTHENTICATION_FAILED",
    )
    fresh = login(probe, account.email, NEW_PASSWORD).json()
    assert probe.get("/core/profile", headers=_bearer(fresh["access"])).status_code == 200
    assert _new_key(probe, fresh["access"]).status_code == 201


@pytest.fixture(scope="module")
def second_instance(pg_url: str) -> Iterator[LiveServer]:
    """Another pgcube on the same PostgreSQL, with caches and a listener of its own."""
    with LiveServer(test_settings(pg_url)) as server:
        yield server


def test_another_instance_refuses_a_logged_out_token_within_a_second(
    probe: httpx.Client, second_instance: LiveServer, pg: SyncPg
) -> None:
    """Each instance caches sessions; a logout through one reaches the other by NOTIFY."""
    account = new_account(probe, pg)
    with second_instance.client() as other:
        for _ in range(3):  # warm: the session is cached by the other instance
            assert other.get("/api/list_databases", headers=account.headers).status_code == 200
        assert probe.post("/core/logout", json={"refresh": account.refresh}).status_code == 200
        started = time.monotonic()
        while other.get("/api/list_databases", headers=account.headers).status_code != 401:
            assert time.monotonic() - started < 1.0, "the other instance still accepts the token"
            time.sleep(0.02)


# --- Low 11: the answer says nothing about the address ------------------------------------------


@pytest.mark.parametrize("route", ["/core/password-reset/request", "/core/verify-email/resend"])
def test_reset_and_resend_answer_before_looking_the_address_up(
    probe: httpx.Client, pg: SyncPg, pg_url: str, route: str
) -> None:
    """The look-up, the token and the email come after the answer: with the account's row locked
    by someone else, the answer still comes at once (it used to wait for the lock)."""
    email = unique_email("timing")
    register(probe, email)  # unverified: both routes would mail it
    allow_mail_now(pg, email)
    locker = SyncPg(pg_url)
    try:
        locker.execute("BEGIN")
        locker.execute("SELECT 1 FROM pgcube.accounts WHERE email_canonical = $1 FOR UPDATE", email)
        started = time.monotonic()
        known = probe.post(route, json={"email": email})
        elapsed = time.monotonic() - started
        unknown = probe.post(route, json={"email": unique_email("nobody")})
        assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
        assert known.status_code == 202
        assert elapsed < 2.0, elapsed  # waiting for the lock would wait until the ROLLBACK below
        assert len(settled_outbox(pg, email)) == 1  # nothing sent while the row is locked
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    marker = "reset token is" if "reset" in route else "/core/verify-email/"
    deadline = time.monotonic() + 10
    while sum(marker in body for body in settled_outbox(pg, email)) < (1 if "reset" in route else 2):
        assert time.monotonic() < deadline, "the email never came"


# --- Low 12: common passwords ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["password", "12345678", "PassWord", "ｐａｓｓｗｏｒｄ", "iloveyou", "qwertyuiop"]
)
def test_a_common_password_is_refused_at_registration(probe: httpx.Client, pg: SyncPg, password: str) -> None:
    email = unique_email("common")
    answer = probe.post("/core/register", json={"email": email, "password": password})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert answer.json()["error"]["details"] == {"field": "password", "reason": "common_password"}
    assert "commonly used" in answer.json()["error"]["message"]
    assert pg.fetchval("SELECT count(*) FROM pgcube.accounts WHERE email_canonical = $1", email) == 0


def test_a_common_password_is_refused_at_reset_and_the_token_stays_usable(
    probe: httpx.Client, pg: SyncPg, account: Account
) -> None:
    allow_mail_now(pg, account.email)
    probe.post("/core/password-reset/request", json={"email": account.email})
    token = sent_reset_token(pg, account.email)
    before = pg.fetchval("SELECT password_hash FROM pgcube.accounts WHERE id = $1::uuid", account.account_id)
    weak = probe.post("/core/password-reset/confirm", json={"token": token, "password": "baseball"})
    assert _error(weak) == (400, "VALIDATION_ERROR")
    assert weak.json()["error"]["details"]["reason"] == "common_password"
    after = pg.fetchval("SELECT password_hash FROM pgcube.accounts WHERE id = $1::uuid", account.account_id)
    assert after == before
    good = probe.post("/core/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert good.status_code == 200, good.text


# --- Low 13: credentials are not cacheable ---------------------------------------------------------


def test_answers_carrying_credentials_are_no_store(probe: httpx.Client, pg: SyncPg) -> None:
    account = new_account(probe, pg)
    answers = {
        "login": login(probe, account.email, account.password),
        "refresh": probe.post("/core/token/refresh", json={"refresh": account.refresh}),
        "refresh alias": probe.post(
            "/core/auth/token/refresh",
            json={"refresh": login(probe, account.email, account.password).json()["refresh"]},
        ),
        "create key": _new_key(probe, account.access),
        "list keys": probe.get("/core/api/v1/keys", headers=account.headers),
    }
    for name, answer in answers.items():
        assert answer.status_code in (200, 201), (name, answer.text)
        assert answer.headers.get("cache-control") == "no-store", name

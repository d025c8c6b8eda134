"""Registration, email verification and resend (SPEC §4; RELIABILITY A1, A3, D5, G1–G3)."""

from __future__ import annotations

import concurrent.futures
import hashlib

import httpx
import pytest
from argon2 import extract_parameters

from tests.integration.core.mail import sent_verification_token, settled_outbox
from tests.support.accounts import (
    DEFAULT_PASSWORD,
    allow_mail_now,
    login,
    new_account,
    outbox,
    register,
    unique_email,
    verification_token,
    verify,
)
from tests.support.sync_pg import SyncPg

REGISTERED = {"message": "User registered successfully. Please check your email to verify your account."}


def _accounts_with(pg: SyncPg, email: str) -> int:
    count: int = pg.fetchval("SELECT count(*) FROM pgcube.accounts WHERE email_canonical = lower($1)", email)
    return count


def test_a_taken_email_gets_the_same_answer_and_no_second_account(probe: httpx.Client, pg: SyncPg) -> None:
    email = unique_email("taken")
    first = register(probe, email)
    allow_mail_now(pg, email)
    again = probe.post("/core/register", json={"email": email.upper(), "password": "another password"})
    assert (again.status_code, again.json()) == (first.status_code, first.json()) == (201, REGISTERED)
    assert _accounts_with(pg, email) == 1
    # Emails are compared case-insensitively (G2); the owner gets a fresh link rather than a second account.
    assert len(outbox(pg, email)) == 2


def test_the_owner_of_a_verified_address_is_told_of_a_second_registration(
    probe: httpx.Client, pg: SyncPg
) -> None:
    account = new_account(probe, pg)
    allow_mail_now(pg, account.email)
    register(probe, account.email, "some other password")
    assert "already has one" in outbox(pg, account.email)[-1]
    # ...and the old password still works: nothing was changed.
    assert login(probe, account.email, account.password).status_code == 200


def test_the_stored_password_is_argon2id_above_the_owasp_floor(probe: httpx.Client, pg: SyncPg) -> None:
    email = unique_email("argon")
    register(probe, email)
    stored = pg.fetchval("SELECT password_hash FROM pgcube.accounts WHERE email_canonical = $1", email)
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$")
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert DEFAULT_PASSWORD not in stored


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short", "at least 8"), ("x" * 1025, "at most 1024"), ("é" * 513, "at most 1024")],
)
def test_password_rules_are_checked_before_hashing(probe: httpx.Client, password: str, reason: str) -> None:
    answer = probe.post("/core/register", json={"email": unique_email(), "password": password})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert reason in answer.json()["error"]["message"]
    assert answer.json()["error"]["details"] == {"field": "password"}


def test_unicode_passwords_work_and_are_normalised(probe: httpx.Client, pg: SyncPg) -> None:
    # NFKC: the full-width form and the ASCII form are one password (NIST SP 800-63B).
    email = unique_email("unicode")
    register(probe, email, "ｐａｓｓｗｏｒｄ－ключ－🔑")
    verify(probe, pg, email)
    assert login(probe, email, "password-ключ-🔑").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": DEFAULT_PASSWORD}, "email"),
        ({"email": "not-an-email", "password": DEFAULT_PASSWORD}, "email"),
        ({"email": "a@b", "password": DEFAULT_PASSWORD, "firstName": "x" * 101}, "firstName"),
        ({"email": "a@b"}, "password"),
    ],
)
def test_invalid_registrations_name_the_field(
    probe: httpx.Client, body: dict[str, object], field: str
) -> None:
    answer = probe.post("/core/register", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert answer.json()["error"]["details"].get("field") == field


@pytest.mark.parametrize(
    "extra",
    [
        {"email_verified": True},
        {"id": "00000000-0000-0000-0000-000000000000"},
        {"role": "admin"},
        {"password_hash": "$argon2id$v=19$m=8,t=1,p=1$AAAA$AAAA"},
    ],
)
def test_mass_assignment_on_register_is_refused_and_writes_nothing(
    probe: httpx.Client, pg: SyncPg, extra: dict[str, object]
) -> None:
    email = unique_email("mass")
    answer = probe.post("/core/register", json={"email": email, "password": DEFAULT_PASSWORD, **extra})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert next(iter(extra)) in answer.json()["error"]["message"]
    assert _accounts_with(pg, email) == 0


def test_the_verification_link_is_a_hashed_single_use_token(probe: httpx.Client, pg: SyncPg) -> None:
    email = unique_email("verify")
    register(probe, email)
    token = verification_token(pg, email)
    assert len(token) == 43  # 256 bits, URL-safe base64
    stored = pg.fetchval(
        "SELECT token_hash FROM pgcube.email_tokens t JOIN pgcube.accounts a ON a.id = t.account_id "
        "WHERE a.email_canonical = $1",
        email,
    )
    assert bytes(stored) == hashlib.sha256(token.encode()).digest()
    assert probe.get(f"/core/verify-email/{token}").status_code == 200
    again = probe.get(f"/core/verify-email/{token}")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "INVALID_TOKEN"


@pytest.mark.parametrize("token", ["unknown" + "x" * 36, "short", "a" * 200, "%00"])
def test_unknown_or_malformed_verification_tokens_are_invalid(probe: httpx.Client, token: str) -> None:
    answer = probe.get(f"/core/verify-email/{token}")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "INVALID_TOKEN"


def test_an_expired_verification_token_is_invalid(probe: httpx.Client, pg: SyncPg) -> None:
    email = unique_email("expired")
    register(probe, email)
    token = verification_token(pg, email)
    pg.execute(
        "UPDATE pgcube.email_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        hashlib.sha256(token.encode()).digest(),
    )
    assert probe.get(f"/core/verify-email/{token}").json()["error"]["code"] == "INVALID_TOKEN"
    assert login(probe, email, DEFAULT_PASSWORD).json()["error"]["code"] == "EMAIL_NOT_VERIFIED"


def test_verification_tokens_last_24_hours(probe: httpx.Client, pg: SyncPg) -> None:
    email = unique_email("ttl")
    register(probe, email)
    hours = pg.fetchval(
        "SELECT extract(epoch FROM t.expires_at - t.created_at) / 3600 FROM pgcube.email_tokens t "
        "JOIN pgcube.accounts a ON a.id = t.account_id WHERE a.email_canonical = $1",
        email,
    )
    assert round(hours) == 24


def test_ten_parallel_redemptions_of_one_token_have_one_winner(probe: httpx.Client, pg: SyncPg) -> None:
    email = unique_email("race")
    register(probe, email)
    url = f"/core/verify-email/{verification_token(pg, email)}"

    def redeem(_: int) -> int:
        with httpx.Client(base_url=str(probe.base_url), timeout=30) as http:
            return http.get(url).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(redeem, range(10)))
    assert statuses == [200] + [400] * 9


def test_resend_answers_alike_for_any_email_and_mails_at_most_once_a_minute(
    probe: httpx.Client, pg: SyncPg
) -> None:
    email = unique_email("resend")
    register(probe, email)
    answers = [probe.post("/core/verify-email/resend", json={"email": e}) for e in (email, unique_email())]
    assert answers[0].status_code == answers[1].status_code == 202
    assert answers[0].json() == answers[1].json()
    assert len(settled_outbox(pg, email)) == 1  # registered less than a minute ago: no second mail (G3)

    allow_mail_now(pg, email)
    probe.post("/core/verify-email/resend", json={"email": email.upper()})
    probe.post("/core/verify-email/resend", json={"email": email})
    sent_verification_token(pg, email, already=1)
    assert len(settled_outbox(pg, email)) == 2
    # Both links work until used (the newer one here).
    assert probe.get(f"/core/verify-email/{verification_token(pg, email)}").status_code == 200


def test_resend_sends_nothing_to_a_verified_account(probe: httpx.Client, pg: SyncPg) -> None:
    account = new_account(probe, pg)
    allow_mail_now(pg, account.email)
    assert probe.post("/core/verify-email/resend", json={"email": account.email}).status_code == 202
    assert len(settled_outbox(pg, account.email)) == 1


def test_the_link_points_at_the_public_url(probe: httpx.Client, pg: SyncPg) -> None:
    email = unique_email("link")
    register(probe, email)
    assert "http://127.0.0.1:8000/core/verify-email/" in outbox(pg, email)[0]

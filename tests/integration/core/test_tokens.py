"""Access tokens and refresh tokens (RELIABILITY B1–B5, A6)."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.integration.core.mail import sent_reset_token, settled_outbox
from tests.support.accounts import (
    Account,
    allow_mail_now,
    api_key_headers,
    create_api_key,
    login,
    new_account,
    register,
    unique_email,
    verification_token,
)
from tests.support.live import TEST_JWT_SECRET
from tests.support.sync_pg import SyncPg


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(subject: Account | str, **changes: Any) -> dict[str, Any]:
    """The claims of a genuine token of ``subject`` (its session included), with ``changes``."""
    now = int(time.time())
    if isinstance(subject, Account):
        sub, sid = subject.account_id, jwt.decode(subject.access, options={"verify_signature": False})["sid"]
    else:
        sub, sid = subject, str(uuid.uuid4())
    claims: dict[str, Any] = {"typ": "access", "sub": sub, "sid": sid, "iat": now, "exp": now + 600}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refused(probe: httpx.Client, headers: dict[str, str], code: str = "AUTHENTICATION_FAILED") -> None:
    for path in ("/probe/jwt", "/probe/any"):
        answer = probe.get(path, headers=headers)
        assert answer.status_code == 401, (path, answer.text)
        assert answer.json()["error"]["code"] == code


def account_state(pg: SyncPg, email: str) -> dict[str, Any]:
    """What a password reset may change, straight from the tables: the account row (password
    hash, password_changed_at), its email tokens (used_at) and its refresh tokens (revoked_at)."""
    account = pg.fetchrow("SELECT * FROM pgcube.accounts WHERE email_canonical = lower($1)", email)
    assert account is not None
    return {
        "account": dict(account),
        **{
            table: [
                dict(row)
                for row in pg.fetch(
                    f"SELECT * FROM pgcube.{table} WHERE account_id = $1 ORDER BY token_hash", account["id"]
                )
            ]
            for table in ("email_tokens", "refresh_tokens")
        },
    }


@pytest.fixture
def subject(probe: httpx.Client, pg: SyncPg) -> Account:
    return new_account(probe, pg)


def test_a_genuine_access_token_is_accepted(probe: httpx.Client, subject: Account) -> None:
    header = jwt.get_unverified_header(subject.access)
    claims = jwt.decode(subject.access, TEST_JWT_SECRET, algorithms=["HS256"])
    assert header["alg"] == "HS256"
    assert claims["typ"] == "access"
    assert claims["sub"] == subject.account_id
    assert claims["exp"] - claims["iat"] == 900
    assert probe.get("/probe/jwt", headers=subject.headers).json()["account_id"] == subject.account_id


def test_a_token_signed_by_us_in_the_same_shape_is_accepted(probe: httpx.Client, subject: Account) -> None:
    # The control for the forgeries below: only the one thing each changes is wrong.
    token = jwt.encode(_claims(subject), TEST_JWT_SECRET, algorithm="HS256")
    assert probe.get("/probe/jwt", headers=_bearer(token)).status_code == 200


def test_alg_none_is_refused(probe: httpx.Client, subject: Account) -> None:
    for alg in ("none", "None", "NONE"):
        _refused(probe, _bearer(_unsigned({"alg": alg, "typ": "JWT"}, _claims(subject))))


def test_another_key_is_refused(probe: httpx.Client, subject: Account) -> None:
    token = jwt.encode(_claims(subject), "another-secret-" + "y" * 40, algorithm="HS256")
    _refused(probe, _bearer(token))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_algorithms_are_refused_even_with_our_key(
    probe: httpx.Client, subject: Account, algorithm: str
) -> None:
    _refused(probe, _bearer(jwt.encode(_claims(subject), TEST_JWT_SECRET, algorithm=algorithm)))


def test_an_rs256_header_is_refused(probe: httpx.Client, subject: Account) -> None:
    # The classic confusion: claim RS256 and hope the server uses its secret as a public key.
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(subject)).encode())
    import hmac

    signature = _b64(
        hmac.new(TEST_JWT_SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    )
    _refused(probe, _bearer(f"{header}.{payload}.{signature}"))


@pytest.mark.parametrize(
    "extra_header",
    [
        {"kid": "../../dev/null"},
        {"jku": "http://evil.example/jwks.json"},
        {"jwk": {"kty": "oct", "k": _b64(b"attacker")}},
        {"x5u": "http://evil.example/cert.pem"},
    ],
)
def test_key_selection_headers_are_refused(
    probe: httpx.Client, subject: Account, extra_header: dict[str, Any]
) -> None:
    token = jwt.encode(_claims(subject), TEST_JWT_SECRET, algorithm="HS256", headers=extra_header)
    _refused(probe, _bearer(token))


@pytest.mark.parametrize("typ", ["refresh", "email", "ACCESS", None])
def test_a_token_of_another_type_is_refused(probe: httpx.Client, subject: Account, typ: str | None) -> None:
    _refused(probe, _bearer(jwt.encode(_claims(subject, typ=typ), TEST_JWT_SECRET, algorithm="HS256")))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "typ"])
def test_each_required_claim_is_required(probe: httpx.Client, subject: Account, claim: str) -> None:
    claims = _claims(subject)
    del claims[claim]
    _refused(probe, _bearer(jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")))


def test_an_expired_token_is_token_expired(probe: httpx.Client, subject: Account) -> None:
    now = int(time.time())
    token = jwt.encode(_claims(subject, iat=now - 1000, exp=now - 60), TEST_JWT_SECRET, algorithm="HS256")
    _refused(probe, _bearer(token), code="TOKEN_EXPIRED")


def test_a_token_issued_in_the_future_is_refused(probe: httpx.Client, subject: Account) -> None:
    now = int(time.time())
    token = jwt.encode(_claims(subject, iat=now + 120, exp=now + 900), TEST_JWT_SECRET, algorithm="HS256")
    _refused(probe, _bearer(token))


@pytest.mark.parametrize("sub", ["admin", "", "00000000-0000-0000-0000-00000000000Z", 42])
def test_a_malformed_subject_is_refused(probe: httpx.Client, sub: object) -> None:
    _refused(probe, _bearer(jwt.encode(_claims("x", sub=sub), TEST_JWT_SECRET, algorithm="HS256")))


def test_a_tampered_payload_is_refused(probe: httpx.Client, subject: Account) -> None:
    header, _, signature = subject.access.split(".")
    forged = _b64(json.dumps(_claims(str(uuid.uuid4()))).encode())
    _refused(probe, _bearer(f"{header}.{forged}.{signature}"))


def test_other_credentials_presented_as_bearer_are_refused(
    probe: httpx.Client, pg: SyncPg, subject: Account
) -> None:
    email = unique_email("bearer")
    register(probe, email)
    key = create_api_key(probe, subject)
    for credential in (subject.refresh, verification_token(pg, email), key, "garbage", "a.b.c"):
        _refused(probe, _bearer(credential))


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Basic dXNlcjpwYXNz", "Token abc", "bearer", "Bearer a b", "Api-Key"],
)
def test_malformed_authorization_headers_are_refused(probe: httpx.Client, header: str) -> None:
    _refused(probe, {"Authorization": header})


def test_no_credential_is_taken_from_the_url(probe: httpx.Client, subject: Account) -> None:
    key = create_api_key(probe, subject)
    for query in (
        f"access_token={subject.access}",
        f"token={subject.access}",
        f"api_key={key}",
        f"key={key}",
    ):
        assert probe.get(f"/probe/any?{query}").status_code == 401


def test_no_credential_at_all_is_401(probe: httpx.Client) -> None:
    _refused(probe, {})


# --- refresh tokens ----------------------------------------------------------------------------


def _refresh(probe: httpx.Client, token: str) -> httpx.Response:
    return probe.post("/core/token/refresh", json={"refresh": token})


def test_refresh_tokens_are_opaque_and_stored_as_sha256(pg: SyncPg, subject: Account) -> None:
    assert subject.refresh.count(".") == 0
    stored = pg.fetch(
        "SELECT token_hash FROM pgcube.refresh_tokens WHERE account_id = $1::uuid", subject.account_id
    )
    assert [bytes(r["token_hash"]) for r in stored] == [hashlib.sha256(subject.refresh.encode()).digest()]


def test_an_access_token_is_not_a_refresh_token(probe: httpx.Client, subject: Account) -> None:
    answer = _refresh(probe, subject.access)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "AUTHENTICATION_FAILED"


def test_each_refresh_spends_the_old_token(probe: httpx.Client, subject: Account) -> None:
    first = _refresh(probe, subject.refresh)
    assert first.status_code == 200
    child = first.json()
    assert probe.get("/probe/jwt", headers=_bearer(child["access"])).status_code == 200
    # The spent token is refused, but within the grace it does not kill the session...
    assert _refresh(probe, subject.refresh).status_code == 401
    assert _refresh(probe, child["refresh"]).status_code == 200


def test_replaying_a_spent_token_revokes_the_whole_family(
    probe: httpx.Client, pg: SyncPg, subject: Account
) -> None:
    child = _refresh(probe, subject.refresh).json()["refresh"]
    grandchild = _refresh(probe, child).json()["refresh"]
    # ...but once the grace is over, a replay means theft: the family dies.
    pg.execute(
        "UPDATE pgcube.refresh_tokens SET spent_at = spent_at - interval '1 minute' "
        "WHERE account_id = $1::uuid AND spent_at IS NOT NULL",
        subject.account_id,
    )
    assert _refresh(probe, subject.refresh).status_code == 401
    assert _refresh(probe, grandchild).status_code == 401
    live = pg.fetchval(
        "SELECT count(*) FROM pgcube.refresh_tokens WHERE account_id = $1::uuid AND revoked_at IS NULL",
        subject.account_id,
    )
    assert live == 0


def test_a_replay_kills_only_its_own_session(probe: httpx.Client, pg: SyncPg, subject: Account) -> None:
    other_session = login(probe, subject.email, subject.password).json()["refresh"]
    _refresh(probe, subject.refresh)
    pg.execute(
        "UPDATE pgcube.refresh_tokens SET spent_at = spent_at - interval '1 minute' "
        "WHERE account_id = $1::uuid AND spent_at IS NOT NULL",
        subject.account_id,
    )
    assert _refresh(probe, subject.refresh).status_code == 401
    assert _refresh(probe, other_session).status_code == 200


def test_ten_concurrent_refreshes_leave_one_live_child(
    probe: httpx.Client, pg: SyncPg, subject: Account
) -> None:
    base_url = str(probe.base_url)

    def refresh(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            return _refresh(http, subject.refresh)

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(refresh, range(10)))
    winners = [a for a in answers if a.status_code == 200]
    assert len(winners) == 1
    assert sorted(a.status_code for a in answers) == [200] + [401] * 9
    live = pg.fetchval(
        "SELECT count(*) FROM pgcube.refresh_tokens "
        "WHERE account_id = $1::uuid AND spent_at IS NULL AND revoked_at IS NULL",
        subject.account_id,
    )
    assert live == 1
    assert _refresh(probe, winners[0].json()["refresh"]).status_code == 200


def test_an_expired_refresh_token_is_refused(probe: httpx.Client, pg: SyncPg, subject: Account) -> None:
    pg.execute(
        "UPDATE pgcube.refresh_tokens SET expires_at = now() - interval '1 second' WHERE account_id = $1::uuid",
        subject.account_id,
    )
    assert _refresh(probe, subject.refresh).status_code == 401


@pytest.mark.parametrize("token", ["", "x", "a" * 43, "a" * 5000])
def test_unknown_refresh_tokens_are_refused(probe: httpx.Client, token: str) -> None:
    answer = _refresh(probe, token)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "AUTHENTICATION_FAILED"


def test_logout_revokes_that_session_only(probe: httpx.Client, subject: Account) -> None:
    other = login(probe, subject.email, subject.password).json()["refresh"]
    child = _refresh(probe, subject.refresh).json()["refresh"]
    answer = probe.post("/core/logout", json={"refresh": child})
    assert answer.status_code == 200
    assert isinstance(answer.json()["message"], str)
    assert _refresh(probe, child).status_code == 401
    assert _refresh(probe, other).status_code == 200
    # Idempotent, and says nothing about unknown tokens.
    assert probe.post("/core/logout", json={"refresh": child}).status_code == 200
    assert probe.post("/core/logout", json={"refresh": "nonsense"}).status_code == 200


# --- password reset ----------------------------------------------------------------------------


def test_a_password_reset_revokes_every_session(probe: httpx.Client, pg: SyncPg, subject: Account) -> None:
    second = login(probe, subject.email, subject.password).json()["refresh"]
    allow_mail_now(pg, subject.email)
    requested = probe.post("/core/password-reset/request", json={"email": subject.email})
    assert requested.status_code == 202
    token = sent_reset_token(pg, subject.email)
    stored = pg.fetchval(
        "SELECT count(*) FROM pgcube.email_tokens WHERE token_hash = $1 AND purpose = 'password_reset'",
        hashlib.sha256(token.encode()).digest(),
    )
    assert stored == 1

    confirmed = probe.post(
        "/core/password-reset/confirm", json={"token": token, "password": "a brand new password"}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert _refresh(probe, subject.refresh).status_code == 401
    assert _refresh(probe, second).status_code == 401
    assert login(probe, subject.email, subject.password).status_code == 401
    assert login(probe, subject.email, "a brand new password").status_code == 200
    # Single use.
    again = probe.post(
        "/core/password-reset/confirm", json={"token": token, "password": "yet another password"}
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "INVALID_TOKEN"


def test_reset_request_answers_alike_for_any_email_and_mails_at_most_once_a_minute(
    probe: httpx.Client, pg: SyncPg, subject: Account
) -> None:
    allow_mail_now(pg, subject.email)
    known = probe.post("/core/password-reset/request", json={"email": subject.email.upper()})
    unknown = probe.post("/core/password-reset/request", json={"email": unique_email("nobody")})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.status_code == 202
    probe.post("/core/password-reset/request", json={"email": subject.email})
    assert len(settled_outbox(pg, subject.email)) == 2  # the verification link, then one reset email
    resets = pg.fetchval(
        "SELECT count(*) FROM pgcube.email_tokens WHERE account_id = $1::uuid AND purpose = 'password_reset'",
        subject.account_id,
    )
    assert resets == 1


def test_reset_tokens_expire_after_an_hour(probe: httpx.Client, pg: SyncPg, subject: Account) -> None:
    allow_mail_now(pg, subject.email)
    probe.post("/core/password-reset/request", json={"email": subject.email})
    token = sent_reset_token(pg, subject.email)
    minutes = pg.fetchval(
        "SELECT extract(epoch FROM expires_at - created_at) / 60 FROM pgcube.email_tokens WHERE token_hash = $1",
        hashlib.sha256(token.encode()).digest(),
    )
    assert round(minutes) == 60
    pg.execute(
        "UPDATE pgcube.email_tokens SET expires_at = now() WHERE token_hash = $1",
        hashlib.sha256(token.encode()).digest(),
    )
    before = account_state(pg, subject.email)
    answer = probe.post(
        "/core/password-reset/confirm", json={"token": token, "password": "a brand new password"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "INVALID_TOKEN"
    assert account_state(pg, subject.email) == before


def test_a_weak_new_password_keeps_the_token_usable(
    probe: httpx.Client, pg: SyncPg, subject: Account
) -> None:
    allow_mail_now(pg, subject.email)
    probe.post("/core/password-reset/request", json={"email": subject.email})
    token = sent_reset_token(pg, subject.email)
    before = account_state(pg, subject.email)
    assert [t["used_at"] for t in before["email_tokens"] if t["purpose"] == "password_reset"] == [None]
    weak = probe.post("/core/password-reset/confirm", json={"token": token, "password": "short"})
    assert weak.status_code == 400, weak.text
    assert weak.json()["error"]["code"] == "VALIDATION_ERROR"
    assert weak.json()["error"]["details"] == {"field": "password"}
    assert account_state(pg, subject.email) == before
    good = probe.post("/core/password-reset/confirm", json={"token": token, "password": "long enough now"})
    assert good.status_code == 200


def test_a_verification_token_cannot_reset_a_password(probe: httpx.Client, pg: SyncPg) -> None:
    email = unique_email("crossover")
    register(probe, email)
    token = verification_token(pg, email)
    before = account_state(pg, email)
    answer = probe.post(
        "/core/password-reset/confirm", json={"token": token, "password": "a brand new password"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "INVALID_TOKEN"
    assert account_state(pg, email) == before
    assert [t["used_at"] for t in before["email_tokens"]] == [None]


def test_an_api_key_cannot_stand_in_for_a_refresh_token(probe: httpx.Client, subject: Account) -> None:
    key = create_api_key(probe, subject)
    assert _refresh(probe, key).status_code == 401
    assert probe.get("/probe/any", headers=api_key_headers(key)).status_code == 200


def test_re_registering_an_address_does_not_hold_back_its_reset_email(
    probe: httpx.Client, pg: SyncPg, subject: Account
) -> None:
    """Registration notices and reset emails have separate once-a-minute slots (review finding)."""
    allow_mail_now(pg, subject.email)
    register(probe, subject.email, password="someone else's password")
    probe.post("/core/password-reset/request", json={"email": subject.email})
    assert sent_reset_token(pg, subject.email)

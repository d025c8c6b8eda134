"""``auth.signup`` and ``auth.signin`` with a password (SPEC §11.1–11.3; RELIABILITY A5, G2, H9):
the answers' exact shapes, the aliases, no enumeration, the project's settings, the password
rules, disabled users; ``auth.settings``; what answers 501."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pgcube.users.tokens import decode_id_token, signing_key
from tests.integration.end_users.conftest import PASSWORD, PROFILE_KEYS, Project, unique_email
from tests.support.live import TEST_JWT_SECRET


def assert_session_answer(data: dict[str, Any], project: Project, email: str, aud: str = "web") -> None:
    """The §11.2 answer, key for key."""
    assert set(data) == {"id_token", "refresh_token", "token_type", "token_info", "user_profile"}
    assert data["token_type"] == "bearer"
    assert data["refresh_token"].startswith("rt_")
    assert len(data["refresh_token"]) == 46
    info = data["token_info"]
    assert set(info) == {"ttl", "exp", "iat", "aud", "_userkey", "project_id"}
    assert info["ttl"] == 3600
    assert info["exp"] - info["iat"] == 3600
    assert abs(info["iat"] - time.time()) < 30
    assert info["aud"] == aud
    assert info["project_id"] == project.id
    profile = data["user_profile"]
    assert set(profile) == PROFILE_KEYS
    assert profile["email"] == email
    assert info["_userkey"] == profile["_userkey"]
    assert len(profile["_userkey"]) == 32
    assert profile["roles"] == ["user"]
    assert profile["auth_types"] == ["email"]
    claims = decode_id_token(signing_key(TEST_JWT_SECRET), data["id_token"])
    assert (claims.sub, claims.pid, claims.aud, claims.iat, claims.exp) == (
        profile["_userkey"],
        project.id,
        aud,
        info["iat"],
        info["exp"],
    )


def signin_body(
    email: str, password: str = PASSWORD, op: str = "auth.signin", **extra: Any
) -> dict[str, Any]:
    return {"op": op, "grant_type": "password", "email": email, "password": password, **extra}


@pytest.mark.parametrize("op", ["auth.signup", "auth.register"])
def test_signup_then_signin(project: Project, op: str) -> None:
    email = unique_email()
    body = {
        "op": op,
        "email": email,
        "password": PASSWORD,
        "display_name": "Ada Lovelace",
        "phone_number": "+44 20 7946 0000",
        "metadata": {"plan": "free", "tags": ["a"]},
    }
    assert project.ok(body) == {"next_action": "SIGNIN", "next_operation": "auth.signin"}
    row = project.pg.fetchrow(
        f'SELECT password_hash, email_verified, metadata::text FROM "{project.schema}"._users '
        "WHERE email_canonical = lower($1)",
        email,
    )
    assert row["password_hash"].startswith("$argon2id$")
    assert row["email_verified"] is False
    data = project.ok(signin_body(email, aud="mobile"))
    assert_session_answer(data, project, email, aud="mobile")
    profile = data["user_profile"]
    assert (profile["display_name"], profile["phone_number"], profile["metadata"]) == (
        "Ada Lovelace",
        "+44 20 7946 0000",
        {"plan": "free", "tags": ["a"]},
    )
    assert project.pg.fetchval(f'SELECT count(*) FROM "{project.schema}"._sessions') == 1


def test_signin_alias_with_a_server_key_and_any_case(project: Project) -> None:
    email = project.make_user(unique_email("Mixed"))
    data = project.ok(signin_body(email.upper(), op="auth.login"), project.server)
    assert_session_answer(data, project, email)


def test_a_taken_email_answers_the_same_and_changes_nothing(project: Project) -> None:
    email = project.make_user()
    before = project.tables()
    again = project.ddo({"op": "auth.signup", "email": email.upper(), "password": "another long passphrase"})
    fresh = project.ddo({"op": "auth.signup", "email": unique_email(), "password": "another long passphrase"})
    assert again.status_code == fresh.status_code == 200
    assert again.json() == fresh.json()
    after = project.tables()
    assert before["_users"][0] in after["_users"], "the taken user is unchanged"
    assert len(after["_users"]) == 2  # the fresh one


def test_unknown_email_and_wrong_password_answer_alike(project: Project, clear_throttle: Any) -> None:
    email = project.make_user()
    wrong = project.error(signin_body(email, "not the passphrase"), 401, "INVALID_CREDENTIALS")
    unknown = project.error(signin_body(unique_email()), 401, "INVALID_CREDENTIALS")
    assert wrong == unknown
    clear_throttle(project)


def test_signin_is_throttled_per_user(project: Project, clear_throttle: Any) -> None:
    """Failures count in the user's bucket of this project (``pgcube.auth.throttle``); once it is
    blocked the right password waits too (429), and other users of the project do not."""
    email = project.make_user()
    bucket = f"user:{project.id}:{email}"
    project.error(signin_body(email, "not the passphrase"), 401, "INVALID_CREDENTIALS")
    assert project.pg.fetchval("SELECT failures FROM pgcube.login_throttle WHERE bucket = $1", bucket) == 1
    project.pg.execute(
        "UPDATE pgcube.login_throttle SET failures = 5, blocked_until = now() + interval '1 minute' "
        "WHERE bucket = $1",
        bucket,
    )
    error = project.error(signin_body(email), 429, "RATE_LIMIT_EXCEEDED")
    assert error["details"]["retry_after"] >= 1
    other = project.make_user()
    assert project.ok(signin_body(other))["user_profile"]["email"] == other
    clear_throttle(project)
    assert project.ok(signin_body(email))["user_profile"]["email"] == email
    assert project.pg.fetchval("SELECT count(*) FROM pgcube.login_throttle WHERE bucket = $1", bucket) == 0


def test_a_disabled_user_cannot_sign_in(project: Project) -> None:
    email = project.make_user()
    project.pg.execute(f'UPDATE "{project.schema}"._users SET disabled = true WHERE email = $1', email)
    project.error(signin_body(email), 403, "FORBIDDEN")
    project.error(signin_body(email, "not the passphrase"), 401, "INVALID_CREDENTIALS")
    assert project.ok({"op": "auth.send_otp", "email": email, "intent": "signin"}) == {"sent": True}
    assert project.codes(email) == [], "no code for a disabled user"


def test_require_verified_email(project: Project) -> None:
    project.set_auth(require_verified_email=True)
    email = project.make_user(verified=False)
    project.error(signin_body(email), 403, "EMAIL_NOT_VERIFIED")
    code = project.send_code(email, "verify_email")
    assert project.ok({"op": "auth.verify_email", "email": email, "otp": code}) == {"email_verified": True}
    assert project.ok(signin_body(email))["user_profile"]["email_verified"] is True


def test_verify_email_on_signup_sends_a_code(project: Project) -> None:
    project.set_auth(verify_email_on_signup=True)
    email = unique_email()
    answer = project.ok({"op": "auth.signup", "email": email, "password": PASSWORD})
    assert answer == {"next_action": "VERIFY_EMAIL", "next_operation": "auth.signin"}
    (code,) = project.codes(email)
    # A taken, verified address: the same answer, and no code.
    taken = project.make_user()
    assert project.ok({"op": "auth.signup", "email": taken, "password": PASSWORD}) == answer
    assert project.codes(taken) == []
    assert project.ok({"op": "auth.confirm_code", "email": email, "code": code}) == {"email_verified": True}


def test_email_signup_turned_off(project: Project) -> None:
    project.set_auth(allow_email_signup=False)
    before = project.tables()
    project.error({"op": "auth.signup", "email": unique_email(), "password": PASSWORD}, 403, "FORBIDDEN")
    assert project.tables() == before
    settings = project.ok({"op": "auth.settings"})
    assert settings == {
        "enabled": True,
        "allow_email_signup": False,
        "require_verified_email": False,
        "password_policy": {"min_length": 8, "max_length": 64, "refuses_common_passwords": True},
    }
    # The project's own backend (a server key) may still sign users up.
    assert project.ok({"op": "auth.signup", "email": unique_email(), "password": PASSWORD}, project.server)


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short", "length"), ("x" * 65, "length"), ("password123", "common"), ("", "length")],
)
def test_weak_passwords(project: Project, password: str, reason: str) -> None:
    before = project.tables()
    error = project.error(
        {"op": "auth.signup", "email": unique_email(), "password": password}, 400, "WEAK_PASSWORD"
    )
    assert error["details"]["field"] == "password"
    if reason == "common":
        assert error["details"]["reason"] == "common_password"
    assert project.tables() == before


def test_unicode_passwords_of_64_characters(project: Project) -> None:
    password = "пароль-" + "ж" * 57
    assert len(password) == 64
    email = unique_email()
    project.ok({"op": "auth.signup", "email": email, "password": password})
    assert project.ok(signin_body(email, password))["user_profile"]["email"] == email


@pytest.mark.parametrize(
    "body",
    [
        {"op": "auth.signin", "grant_type": "oauth", "provider": "github"},
        {"op": "auth.signin", "grant_type": "access_code"},
        {"op": "auth.nonce"},
    ],
)
def test_oauth_and_nonce_are_unavailable(project: Project, body: dict[str, Any]) -> None:
    if "provider" in body:  # a key no grant reads is refused first
        project.error(body, 400, "VALIDATION_ERROR")
        body = {k: v for k, v in body.items() if k != "provider"}
    error = project.error(body, 501, "FEATURE_UNAVAILABLE")
    assert error["message"]

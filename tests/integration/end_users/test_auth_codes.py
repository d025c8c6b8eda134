"""One-time codes and account changes (SPEC §11.1, §11.3; RELIABILITY B5, G1, G2, H3, H4):
``auth.send_otp``, ``auth.verify_email``, sign-in with a code, ``auth.update_account``.

Codes: 6 digits, 10 minutes, single use, bound to their intent, 5 tries, stored hashed.
Time is simulated by moving ``expires_at`` in SQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.end_users.conftest import PASSWORD, Project, unique_email
from tests.integration.end_users.test_auth_signup_signin import assert_session_answer

NEW_PASSWORD = "another quiet passphrase"


def otps(project: Project) -> list[dict[str, Any]]:
    return [dict(r) for r in project.pg.fetch(f'SELECT * FROM "{project.schema}"._otps ORDER BY id')]


def verify(project: Project, email: str, code: str, **extra: Any) -> Any:
    return project.ddo({"op": "auth.verify_email", "email": email, "otp": code, **extra})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.mark.parametrize("op", ["auth.send_otp", "auth.request_code"])
def test_any_email_gets_the_same_answer(project: Project, op: str) -> None:
    known = project.make_user(verified=False)
    unknown = unique_email()
    answers = [
        project.ddo({"op": op, "email": email, "intent": "verify_email"}) for email in (known, unknown)
    ]
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[0].json() == answers[1].json() == {"data": {"sent": True}, "meta": {}}
    assert len(project.codes(known)) == 1
    assert project.codes(unknown) == []
    (row,) = otps(project)
    assert row["intent"] == "verify_email"
    assert len(row["code_hash"]) == 32, "stored hashed"
    assert project.codes(known)[0].encode() not in bytes(row["code_hash"])
    assert 590 <= (row["expires_at"] - row["created_at"]).total_seconds() <= 600
    # At most one code a minute per user and intent: asked again, the same answer and no mail.
    assert project.ok({"op": op, "email": known, "intent": "verify_email"}) == {"sent": True}
    assert len(project.codes(known)) == 1


def test_verify_email_with_a_code(project: Project) -> None:
    email = project.make_user(verified=False)
    code = project.send_code(email, "verify_email")
    assert len(code) == 6
    assert code.isdigit()
    assert project.ok({"op": "auth.confirm_code", "email": email.upper(), "code": code}) == {
        "email_verified": True
    }
    assert project.pg.fetchval(
        f'SELECT email_verified FROM "{project.schema}"._users WHERE email = $1', email
    )
    # Single use.
    project.error({"op": "auth.verify_email", "email": email, "otp": code}, 400, "INVALID_TOKEN")
    # A verified address gets no further verification code.
    project.allow_new_code(email)
    project.ok({"op": "auth.send_otp", "email": email, "intent": "verify_email"})
    assert len(project.codes(email)) == 1


def test_a_wrong_code_then_the_right_one(project: Project) -> None:
    email = project.make_user(verified=False)
    code = project.send_code(email, "verify_email")
    error = project.error(
        {"op": "auth.verify_email", "email": email, "otp": wrong(code)}, 400, "INVALID_TOKEN"
    )
    assert error["message"]
    assert otps(project)[0]["tries"] == 1
    assert project.ok({"op": "auth.verify_email", "email": email, "otp": code}) == {"email_verified": True}


def test_five_tries_then_the_code_is_dead(
    project: Project, clear_throttle: Callable[[Project], None]
) -> None:
    email = project.make_user(verified=False)
    code = project.send_code(email, "verify_email")
    for _ in range(5):
        project.error({"op": "auth.verify_email", "email": email, "otp": wrong(code)}, 400, "INVALID_TOKEN")
    # The throttle's bucket for the address is blocked too; cleared, the code itself is still dead.
    project.error({"op": "auth.verify_email", "email": email, "otp": code}, 429, "RATE_LIMIT_EXCEEDED")
    clear_throttle(project)
    project.error({"op": "auth.verify_email", "email": email, "otp": code}, 400, "INVALID_TOKEN")
    assert otps(project)[0]["tries"] == 5
    fresh = project.send_code(email, "verify_email")
    assert project.ok({"op": "auth.verify_email", "email": email, "otp": fresh}) == {"email_verified": True}


def test_an_expired_code(project: Project) -> None:
    email = project.make_user(verified=False)
    code = project.send_code(email, "verify_email")
    project.pg.execute(f"UPDATE \"{project.schema}\"._otps SET expires_at = now() - interval '1 second'")
    project.error({"op": "auth.verify_email", "email": email, "otp": code}, 400, "INVALID_TOKEN")


def test_a_new_code_spends_the_earlier_one(project: Project) -> None:
    email = project.make_user(verified=False)
    first = project.send_code(email, "verify_email")
    second = project.send_code(email, "verify_email")
    if first != second:
        project.error({"op": "auth.verify_email", "email": email, "otp": first}, 400, "INVALID_TOKEN")
    assert project.ok({"op": "auth.verify_email", "email": email, "otp": second}) == {"email_verified": True}


def test_a_code_works_for_its_intent_only(project: Project) -> None:
    email = project.make_user(verified=False)
    verify_code = project.send_code(email, "verify_email")
    project.error(
        {"op": "auth.signin", "grant_type": "otp", "email": email, "otp": verify_code},
        401,
        "INVALID_CREDENTIALS",
    )
    signin_code = project.send_code(email, "signin")
    project.error({"op": "auth.verify_email", "email": email, "otp": signin_code}, 400, "INVALID_TOKEN")
    reset = {
        "op": "auth.update_account",
        "intent": "change_password",
        "email": email,
        "new_password": NEW_PASSWORD,
    }
    project.error({**reset, "otp": signin_code}, 400, "INVALID_TOKEN")
    # Each still works for its own intent (a wrong try does not spend a code).
    assert project.ok({"op": "auth.verify_email", "email": email, "otp": verify_code}) == {
        "email_verified": True
    }
    data = project.ok({"op": "auth.login", "grant_type": "otp", "email": email, "code": signin_code})
    assert_session_answer(data, project, email)


def test_a_code_of_another_project_does_not_work_here(project: Project) -> None:
    from tests.integration.end_users.conftest import make_project

    email = project.make_user(verified=False)
    other = make_project(project.client, project.pg, project.account)
    try:
        other.make_user(email, verified=False)
        code = other.send_code(email, "verify_email")
        project.error({"op": "auth.verify_email", "email": email, "otp": code}, 400, "INVALID_TOKEN")
    finally:
        other.drop()


# --- sign-in with a code ---------------------------------------------------------------------------


def test_signin_with_a_code_proves_the_address(project: Project) -> None:
    project.set_auth(require_verified_email=True)
    email = project.make_user(verified=False, password=False)
    code = project.send_code(email, "signin")
    project.error(
        {"op": "auth.signin", "grant_type": "otp", "email": email, "otp": wrong(code)},
        401,
        "INVALID_CREDENTIALS",
    )
    data = project.ok({"op": "auth.signin", "grant_type": "otp", "email": email, "otp": code})
    assert_session_answer(data, project, email)
    assert data["user_profile"]["email_verified"] is True
    project.error(
        {"op": "auth.signin", "grant_type": "otp", "email": email, "otp": code}, 401, "INVALID_CREDENTIALS"
    )


def test_no_code_for_an_unknown_address(project: Project) -> None:
    email = unique_email()
    assert project.ok({"op": "auth.send_otp", "email": email, "intent": "signin"}) == {"sent": True}
    assert project.codes(email) == []
    assert otps(project) == []
    project.error(
        {"op": "auth.signin", "grant_type": "otp", "email": email, "otp": "123456"},
        401,
        "INVALID_CREDENTIALS",
    )


# --- changing the password and the email --------------------------------------------------------


@pytest.mark.parametrize("op", ["auth.update_account", "auth.change_password"])
def test_a_forgotten_password_replaced_with_a_code(project: Project, op: str) -> None:
    email = project.make_user()
    sessions = [project.signin(email), project.signin(email)]
    code = project.send_code(email, "change_password")
    body = {"op": op, "intent": "change_password", "email": email, "otp": code, "new_password": NEW_PASSWORD}
    data = project.ok(body)
    assert_session_answer(data, project, email)
    for session in sessions:  # every earlier session has ended
        project.error({"op": "auth.get_user"}, 401, "AUTHENTICATION_FAILED", project.user(session.id_token))
        project.error({"op": "auth.refresh", "refresh_token": session.refresh_token}, 401, "INVALID_TOKEN")
    assert project.ok({"op": "auth.get_user"}, project.user(data["id_token"]))["email"] == email
    signin = {"op": "auth.signin", "grant_type": "password", "email": email}
    project.error({**signin, "password": PASSWORD}, 401, "INVALID_CREDENTIALS")
    assert project.ok({**signin, "password": NEW_PASSWORD})["user_profile"]["email"] == email
    project.error(body, 400, "INVALID_TOKEN")  # the code is spent


def test_a_weak_new_password_is_refused_before_the_code_is_tried(project: Project) -> None:
    email = project.make_user()
    code = project.send_code(email, "change_password")
    body = {"op": "auth.update_account", "intent": "change_password", "email": email, "otp": code}
    project.error({**body, "new_password": "short"}, 400, "WEAK_PASSWORD")
    assert otps(project)[0]["tries"] == 0


def test_change_password_with_the_current_one_ends_the_other_sessions(project: Project) -> None:
    email = project.make_user()
    current, other = project.signin(email), project.signin(email)
    body = {"op": "auth.update_account", "password": "not the passphrase", "new_password": NEW_PASSWORD}
    project.error(body, 401, "INVALID_CREDENTIALS", project.user(current.id_token))
    project.error({**body, "password": PASSWORD}, 401, "AUTHENTICATION_FAILED")  # needs the Bearer
    data = project.ok({**body, "password": PASSWORD}, project.user(current.id_token))
    assert_session_answer(data, project, email)
    project.error({"op": "auth.get_user"}, 401, "AUTHENTICATION_FAILED", project.user(other.id_token))
    project.error({"op": "auth.refresh", "refresh_token": other.refresh_token}, 401, "INVALID_TOKEN")
    # This session goes on, with the answer's refresh token.
    assert project.ok({"op": "auth.get_user"}, project.user(current.id_token))["email"] == email
    assert project.ok({"op": "auth.refresh", "refresh_token": data["refresh_token"]})


def test_change_email_with_a_code_sent_to_the_new_address(project: Project) -> None:
    email = project.make_user()
    user = project.signin(email)
    new = unique_email("moved")
    project.error(
        {"op": "auth.send_otp", "email": new, "intent": "change_email"}, 401, "AUTHENTICATION_FAILED"
    )
    code = project.send_code(new, "change_email", project.user(user.id_token))
    body = {"op": "auth.update_account", "intent": "change_email", "new_email": new, "otp": code}
    project.error(body, 401, "AUTHENTICATION_FAILED")  # needs the Bearer
    data = project.ok(body, project.user(user.id_token))
    assert_session_answer(data, project, new)
    assert data["user_profile"]["email_verified"] is True
    assert project.ok({"op": "auth.get_user"}, project.user(data["id_token"]))["email"] == new
    # A taken address gets no code.
    taken = project.make_user()
    project.allow_new_code(taken)
    assert project.ok(
        {"op": "auth.send_otp", "email": taken, "intent": "change_email"}, project.user(data["id_token"])
    )
    assert project.codes(taken) == []


def test_codes_are_throttled_per_address(project: Project, clear_throttle: Callable[[Project], None]) -> None:
    email = project.make_user()
    bucket = f"usercode:{project.id}:{email}"
    project.error(
        {"op": "auth.signin", "grant_type": "otp", "email": email, "otp": "000000"},
        401,
        "INVALID_CREDENTIALS",
    )
    assert project.pg.fetchval("SELECT failures FROM pgcube.login_throttle WHERE bucket = $1", bucket) == 1
    clear_throttle(project)

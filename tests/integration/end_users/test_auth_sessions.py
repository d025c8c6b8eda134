"""End-user sessions (SPEC §11.1–11.3; RELIABILITY B1–B5, H4, I2): refresh rotation and replay,
sign-out, the signed-in user's ops, and every way an id_token is refused."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from pgcube.users.tokens import signing_key
from tests.integration.end_users.conftest import Project, Signed, eventually, make_project, signed
from tests.integration.end_users.test_auth_signup_signin import PROFILE_KEYS, assert_session_answer
from tests.support.live import TEST_JWT_SECRET


def refresh(project: Project, token: str, op: str = "auth.refresh_token", **extra: Any) -> Any:
    return project.ddo({"op": op, "refresh_token": token, **extra})


def get_user(project: Project, id_token: str) -> Any:
    return project.ddo({"op": "auth.get_user"}, project.user(id_token))


def session_ended(project: Project, user: Signed) -> bool:
    return get_user(project, user.id_token).status_code == 401


# --- refresh --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["auth.refresh_token", "auth.refresh", "grant"])
def test_refresh_rotates(project: Project, how: str) -> None:
    user = project.new_user()
    if how == "grant":
        body = {"op": "auth.signin", "grant_type": "refresh_token", "refresh_token": user.refresh_token}
        data = project.ok(body)
    else:
        data = project.ok({"op": how, "refresh_token": user.refresh_token})
    assert_session_answer(data, project, user.email)
    assert data["refresh_token"] != user.refresh_token
    assert data["id_token"] != user.id_token
    assert data["user_profile"]["_userkey"] == user.user_key
    # The spent token is refused (within the grace: the session lives on).
    error = project.error(
        {"op": "auth.refresh_token", "refresh_token": user.refresh_token}, 401, "INVALID_TOKEN"
    )
    assert set(error) == {"code", "message", "details"}
    again = project.ok({"op": "auth.refresh_token", "refresh_token": data["refresh_token"]})
    assert get_user(project, again["id_token"]).status_code == 200
    assert get_user(project, user.id_token).status_code == 200, "rotation does not end the session"


def test_replaying_a_spent_token_ends_the_session(project: Project) -> None:
    user = project.new_user()
    newer = project.ok({"op": "auth.refresh", "refresh_token": user.refresh_token})
    # The thief's replay comes after the grace (10 s): the session ends.
    project.pg.execute(
        f"UPDATE \"{project.schema}\"._sessions SET rotated_at = rotated_at - interval '1 minute'"
    )
    project.error({"op": "auth.refresh", "refresh_token": user.refresh_token}, 401, "INVALID_TOKEN")
    project.error({"op": "auth.refresh", "refresh_token": newer["refresh_token"]}, 401, "INVALID_TOKEN")
    assert session_ended(project, user)
    assert get_user(project, newer["id_token"]).status_code == 401
    assert project.pg.fetchval(f'SELECT ended_at IS NOT NULL FROM "{project.schema}"._sessions')


def test_an_older_spent_token_ends_the_session_even_within_the_grace(project: Project) -> None:
    user = project.new_user()
    second = project.ok({"op": "auth.refresh", "refresh_token": user.refresh_token})
    third = project.ok({"op": "auth.refresh", "refresh_token": second["refresh_token"]})
    project.error({"op": "auth.refresh", "refresh_token": user.refresh_token}, 401, "INVALID_TOKEN")
    project.error({"op": "auth.refresh", "refresh_token": third["refresh_token"]}, 401, "INVALID_TOKEN")


def test_refresh_with_its_id_token(project: Project) -> None:
    user, other = project.new_user(), project.new_user()
    project.error(
        {"op": "auth.refresh_token", "refresh_token": user.refresh_token, "id_token": other.id_token},
        401,
        "INVALID_TOKEN",
    )
    expired = forge(
        claims_of(user.id_token) | {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}
    )
    data = project.ok({"op": "auth.refresh_token", "refresh_token": user.refresh_token, "id_token": expired})
    assert data["user_profile"]["_userkey"] == user.user_key


@pytest.mark.parametrize(
    "token", ["rt_" + "x" * 43, "not a token", "rt_" + "x" * 44, "a" * 43, "rt_" + "é" * 43]
)
def test_unknown_or_malformed_refresh_tokens(project: Project, token: str) -> None:
    project.error({"op": "auth.refresh_token", "refresh_token": token}, 401, "INVALID_TOKEN")


# --- sign-out ---------------------------------------------------------------------------------


def test_signout_this_session(project: Project) -> None:
    email = project.make_user()
    first, second = project.signin(email), project.signin(email)
    assert project.ok({"op": "auth.signout", "scope": "session"}, project.user(first.id_token)) == {
        "count": 1
    }
    assert session_ended(project, first), "the id_token of an ended session is refused at once"
    project.error({"op": "auth.refresh", "refresh_token": first.refresh_token}, 401, "INVALID_TOKEN")
    assert get_user(project, second.id_token).status_code == 200


def test_signout_everywhere(project: Project) -> None:
    email = project.make_user()
    sessions = [project.signin(email) for _ in range(3)]
    stranger = project.new_user()
    assert project.ok({"op": "auth.signout"}, project.user(sessions[0].id_token)) == {"count": 3}
    for session in sessions:
        assert session_ended(project, session)
        project.error({"op": "auth.refresh", "refresh_token": session.refresh_token}, 401, "INVALID_TOKEN")
    assert get_user(project, stranger.id_token).status_code == 200
    error = project.error(
        {"op": "auth.get_user"}, 401, "AUTHENTICATION_FAILED", project.user(sessions[1].id_token)
    )
    assert "signed out" in error["message"]


def test_signout_with_the_token_in_the_body(project: Project) -> None:
    user = project.new_user()
    body = {"op": "auth.signout", "id_token": user.id_token, "scope": "session"}
    assert project.ok(body, project.server) == {"count": 1}
    project.error(body, 401, "INVALID_TOKEN")  # its session has ended
    project.error({"op": "auth.signout"}, 401, "AUTHENTICATION_FAILED")  # no user at all


# --- the signed-in user --------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["auth.get_user", "user.get"])
def test_get_user(project: Project, op: str) -> None:
    user = project.new_user()
    data = project.ok({"op": op}, project.user(user.id_token))
    assert set(data) == PROFILE_KEYS
    assert data["_userkey"] == user.user_key
    assert data["email_verified"] is True  # a sign-in code proves the address
    project.error({"op": op}, 401, "AUTHENTICATION_FAILED")
    project.error({"op": op}, 401, "AUTHENTICATION_FAILED", project.server)


@pytest.mark.parametrize("op", ["auth.update_profile", "user.update"])
def test_update_profile(project: Project, op: str) -> None:
    user = project.new_user()
    changes = {
        "display_name": "  Grace Hopper ",
        "photo_url": "https://example.com/g.png",
        "phone_number": "+1 555 0100",
        "metadata": {"theme": "dark"},
    }
    data = project.ok({"op": op, "data": changes}, project.user(user.id_token))
    assert_session_answer(data, project, user.email)
    profile = data["user_profile"]
    assert (profile["display_name"], profile["photo_url"], profile["phone_number"], profile["metadata"]) == (
        "Grace Hopper",
        "https://example.com/g.png",
        "+1 555 0100",
        {"theme": "dark"},
    )
    # null clears one field, the others stay; the answer's tokens are the session's next ones.
    cleared = project.ok({"op": op, "data": {"photo_url": None}}, project.user(data["id_token"]))
    assert cleared["user_profile"]["photo_url"] is None
    assert cleared["user_profile"]["display_name"] == "Grace Hopper"
    assert project.ok({"op": "auth.refresh", "refresh_token": cleared["refresh_token"]})
    project.error({"op": op, "data": {"display_name": "x"}}, 401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize(
    "data",
    [
        {"email": "evil@example.com"},
        {"email_verified": True},
        {"roles": ["admin"]},
        {"_userkey": "0" * 32},
        {},
        {"photo_url": "javascript:alert(1)"},
        {"phone_number": "call me"},
        {"display_name": "x" * 101},
        {"metadata": {"big": "x" * 20000}},
        {"metadata": [1, 2]},
    ],
)
def test_update_profile_refuses(project: Project, data: dict[str, Any]) -> None:
    user = project.new_user()
    before = project.tables()
    project.error(
        {"op": "auth.update_profile", "data": data}, 400, "VALIDATION_ERROR", project.user(user.id_token)
    )
    assert project.tables() == before


def test_verify_id_token(project: Project) -> None:
    user = project.new_user()
    data = project.ok({"op": "auth.verify_id_token", "id_token": user.id_token})
    assert set(data) == {"valid", "token_info", "user_profile"}
    assert data["valid"] is True
    assert data["token_info"] == user.answer["token_info"]
    assert data["user_profile"] == user.answer["user_profile"]
    project.error({"op": "auth.verify_id_token", "id_token": "nope"}, 401, "INVALID_TOKEN")
    project.ok({"op": "auth.signout"}, project.user(user.id_token))
    project.error({"op": "auth.verify_id_token", "id_token": user.id_token}, 401, "INVALID_TOKEN")


def test_a_disabled_user_is_refused_at_once(project: Project) -> None:
    user = project.new_user()
    assert get_user(project, user.id_token).status_code == 200  # cached as live
    project.pg.execute(
        f'UPDATE "{project.schema}"._users SET disabled = true WHERE _userkey = $1', user.user_key
    )
    assert eventually(lambda: session_ended(project, user)), "a notification evicts the cached session"
    project.error({"op": "auth.refresh", "refresh_token": user.refresh_token}, 401, "INVALID_TOKEN")


def test_a_deleted_user_is_refused(project: Project) -> None:
    user = project.new_user()
    assert get_user(project, user.id_token).status_code == 200
    project.pg.execute(f'DELETE FROM "{project.schema}"._users WHERE _userkey = $1', user.user_key)
    assert eventually(lambda: session_ended(project, user))


# --- tokens that are refused (RELIABILITY B1, B2, I2) --------------------------------------------


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def forge(claims: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
    """A token signed with the right key: only what the test changed makes it wrong."""
    return jwt.encode(claims, signing_key(TEST_JWT_SECRET), algorithm="HS256", headers=headers)


def unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_forged_and_foreign_tokens_are_refused(project: Project) -> None:
    user = project.new_user()
    claims = claims_of(user.id_token)
    now = int(time.time())
    refused = {
        "alg none": unsigned(claims),
        "HS512": jwt.encode(claims, signing_key(TEST_JWT_SECRET) * 2, algorithm="HS512"),
        "a kid header": forge(claims, headers={"kid": "other"}),
        "a jku header": forge(claims, headers={"jku": "https://evil.example/keys"}),
        "signed with the access-token secret": jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256"),
        "typ access": forge(claims | {"typ": "access"}),
        "expired": forge(claims | {"iat": now - 7200, "exp": now - 3600}),
        "issued in the future": forge(claims | {"iat": now + 3600, "exp": now + 7200}),
        "no sid": forge({k: v for k, v in claims.items() if k != "sid"}),
        "another user": forge(claims | {"sub": "f" * 32}),
        "a session that does not exist": forge(claims | {"sid": "00000000-0000-4000-8000-000000000000"}),
    }
    for label, token in refused.items():
        response = get_user(project, token)
        assert response.status_code == 401, (label, response.text)
        assert response.json()["error"]["code"] in ("AUTHENTICATION_FAILED", "TOKEN_EXPIRED"), label
    assert get_user(project, user.id_token).status_code == 200


def test_a_token_of_another_database_is_refused(project: Project) -> None:
    user = project.new_user()
    other = make_project(project.client, project.pg, project.account)
    try:
        response = other.ddo({"op": "auth.get_user"}, other.user(user.id_token))
        assert response.status_code == 401, response.text
        other.error({"op": "auth.verify_id_token", "id_token": user.id_token}, 401, "INVALID_TOKEN")
        # This project's web key and token, sent to the other database's path: not its database.
        response = project.client.post(
            f"/api/{other.id}", json={"op": "auth.get_user"}, headers=project.user(user.id_token)
        )
        assert response.status_code == 404, response.text
    finally:
        other.drop()


def test_account_and_end_user_credentials_never_stand_in_for_each_other(project: Project) -> None:
    user = project.new_user()
    account = project.account.headers
    # An id_token where an account is required.
    for method, path in (
        ("GET", "/api/list_databases"),
        ("GET", "/core/profile"),
        ("GET", "/core/api/v1/keys"),
    ):
        response = project.client.request(method, path, headers={"Authorization": f"Bearer {user.id_token}"})
        assert response.status_code == 401, (path, response.text)
    # An account's access token where an end user is required.
    response = project.ddo({"op": "auth.get_user"}, {"X-API-KEY": project.web_key, **account})
    assert response.status_code == 401, response.text
    project.error({"op": "auth.get_user"}, 403, "FORBIDDEN", account)
    project.error(
        {"op": "auth.signin", "grant_type": "otp", "email": user.email, "otp": "123456"},
        403,
        "FORBIDDEN",
        account,
    )
    # A refresh token or a web key as a Bearer.
    for bearer in (user.refresh_token, project.web_key):
        response = get_user(project, bearer)
        assert response.status_code == 401, response.text


def test_a_signed_in_session_survives_another_users_signout(project: Project) -> None:
    first, second = project.new_user(), project.new_user()
    project.ok({"op": "auth.signout"}, project.user(first.id_token))
    assert get_user(project, second.id_token).status_code == 200


def test_the_signin_answer_shape_for_a_code(project: Project) -> None:
    email = project.make_user()
    user = project.signin(email, aud="ios")
    assert_session_answer(user.answer, project, email, aud="ios")
    again = signed(email, project.ok({"op": "auth.refresh", "refresh_token": user.refresh_token}))
    assert again.answer["token_info"]["aud"] == "ios", "a session keeps its audience"


def test_answers_with_tokens_are_not_cached(project: Project) -> None:
    user = project.new_user()
    refreshed = project.ddo({"op": "auth.refresh", "refresh_token": user.refresh_token})
    assert refreshed.headers["cache-control"] == "no-store"
    assert "cache-control" not in project.ddo({"op": "auth.settings"}).headers

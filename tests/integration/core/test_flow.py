"""The whole account flow, as a new user follows it, over HTTP on a real PostgreSQL:
register → read the link from the outbox → verify → log in → refresh → create a key
→ use it → revoke it → refused."""

from __future__ import annotations

import httpx

from tests.support.accounts import (
    Account,
    api_key_headers,
    create_api_key,
    login,
    new_account,
    register,
    unique_email,
    verification_token,
)
from tests.support.sync_pg import SyncPg

REGISTERED = "User registered successfully. Please check your email to verify your account."


def test_register_verify_login_refresh_key_use_revoke(probe: httpx.Client, pg: SyncPg) -> None:
    email = unique_email("flow")
    password = "a-strong-and-secure-password"
    assert register(probe, email, password, "Alex", "Dev").json() == {"message": REGISTERED}

    # Not verified yet: the password is right, but login is refused.
    refused = login(probe, email, password)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "EMAIL_NOT_VERIFIED"

    verified = probe.get(f"/core/verify-email/{verification_token(pg, email)}")
    assert verified.status_code == 200, verified.text
    assert isinstance(verified.json()["message"], str)

    logged_in = login(probe, email, password)
    assert logged_in.status_code == 200, logged_in.text
    tokens = logged_in.json()
    assert set(tokens) == {"refresh", "access", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900

    refreshed = probe.post("/core/token/refresh", json={"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200, refreshed.text
    pair = refreshed.json()
    assert {"access", "refresh"} <= set(pair)
    assert pair["refresh"] != tokens["refresh"]
    account = Account(
        email=email, password=password, access=pair["access"], refresh=pair["refresh"], account_id=""
    )

    profile = probe.get("/core/profile", headers=account.headers)
    assert profile.status_code == 200, profile.text
    assert profile.json()["email"] == email
    assert profile.json()["firstName"] == "Alex"
    assert profile.json()["email_verified"] is True

    key = create_api_key(probe, account, name="ci")
    listed = probe.get("/core/api/v1/keys", headers=account.headers).json()
    assert [k["name"] for k in listed] == ["ci"]
    assert key.startswith(listed[0]["prefix"] + "_")

    used = probe.get("/probe/any", headers=api_key_headers(key))
    assert used.status_code == 200, used.text
    assert used.json()["account_id"] == profile.json()["id"]
    assert used.json()["via"] == "api_key"

    revoked = probe.delete(f"/core/api/v1/keys/{listed[0]['id']}", headers=account.headers)
    assert revoked.status_code == 200, revoked.text
    after = probe.get("/probe/any", headers=api_key_headers(key))
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "AUTHENTICATION_FAILED"


def test_the_account_fixture_helper_gives_a_working_session(probe: httpx.Client, pg: SyncPg) -> None:
    account = new_account(probe, pg)
    me = probe.get("/probe/jwt", headers=account.headers)
    assert me.status_code == 200
    assert me.json() == {"account_id": account.account_id, "via": "jwt"}


def test_the_refresh_alias_route_rotates_too(probe: httpx.Client, pg: SyncPg) -> None:
    account = new_account(probe, pg)
    answer = probe.post("/core/auth/token/refresh", json={"refresh": account.refresh})
    assert answer.status_code == 200, answer.text
    assert probe.post("/core/token/refresh", json={"refresh": answer.json()["refresh"]}).status_code == 200

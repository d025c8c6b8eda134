"""docs/end-users.md, step by step: what a front-end developer does with curl, over HTTP.

Web key → sign up → verify the address → sign in → insert → another user cannot see it →
refresh → sign out. Each step asserts what the guide shows.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg

_CODE = re.compile(r"\b(\d{6})\b")


def _code_for(pg: SyncPg, email: str) -> str:
    """The newest code in the outbox (the server log shows the same message in development)."""
    body = pg.fetchval(
        "SELECT body FROM pgcube.outbox WHERE lower(to_address) = lower($1) ORDER BY id DESC LIMIT 1", email
    )
    found = _CODE.search(body or "")
    assert found, body
    return found.group(1)


def test_the_end_user_walkthrough(module_client: httpx.Client, module_account: Account, pg: SyncPg) -> None:
    http, account = module_client, module_account

    # 1. The app's database: a collection only its owner may read or write.
    created = http.post(
        "/api/create_database",
        json={
            "db_name": "todo_app",
            "collections": [{"name": "todos", "access": {"read": "owner", "write": "owner"}}],
        },
        headers=account.headers,
    )
    if created.status_code == 409:  # the module's account already made it
        listed = http.get("/api/list_databases", params={"search": "todo_app"}, headers=account.headers)
        db = listed.json()["data"][0]["id"]
    else:
        assert created.status_code == 201, created.text
        db = created.json()["database"]["id"]
    settings = http.put(
        "/api/auth_settings",
        json={"database_id": db, "verify_email_on_signup": True},
        headers=account.headers,
    )
    assert settings.status_code == 200, settings.text

    # 2. A web key: safe to ship in the app.
    key = http.post(
        "/core/api/v1/keys",
        json={"name": "todo web", "database_id": db, "kind": "web"},
        headers=account.headers,
    )
    assert key.status_code == 201, key.text
    web = {"X-API-KEY": key.json()["key"]}

    def ddo(body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        return http.post(f"/api/{db}", json=body, headers=headers)

    # 3. Sign up, verify the address with the emailed code, sign in.
    ann = f"ann-{key.json()['id']}@example.com"
    signup = ddo(
        {"op": "auth.signup", "email": ann, "password": "correct-horse-42", "display_name": "Ann"}, web
    )
    assert signup.json() == {
        "data": {"next_action": "VERIFY_EMAIL", "next_operation": "auth.signin"},
        "meta": {},
    }
    verified = ddo({"op": "auth.verify_email", "email": ann, "otp": _code_for(pg, ann)}, web)
    assert verified.json()["data"] == {"email_verified": True}
    signin = ddo(
        {"op": "auth.signin", "grant_type": "password", "email": ann, "password": "correct-horse-42"}, web
    )
    assert signin.status_code == 200, signin.text
    session = signin.json()["data"]
    assert session["token_type"] == "bearer"
    assert session["token_info"]["ttl"] == 3600
    assert session["user_profile"]["email_verified"] is True
    as_ann = {**web, "Authorization": f"Bearer {session['id_token']}"}

    # 4. Insert: the server stamps _userkey.
    inserted = ddo({"op": "collection.insert", "collection": "todos", "data": {"title": "buy milk"}}, as_ann)
    assert inserted.status_code == 200, inserted.text
    (todo,) = inserted.json()["data"]
    assert todo["_userkey"] == session["user_profile"]["_userkey"]

    # 5. Another user signs up (no code needed to sign in with a code) and sees nothing of Ann's.
    bob = f"bob-{key.json()['id']}@example.com"
    ddo({"op": "auth.signup", "email": bob, "password": "another-horse-42"}, web)
    assert ddo({"op": "auth.send_otp", "email": bob, "intent": "signin"}, web).json()["data"] == {
        "sent": True
    }
    bob_session = ddo(
        {"op": "auth.signin", "grant_type": "otp", "email": bob, "otp": _code_for(pg, bob)}, web
    )
    as_bob = {**web, "Authorization": f"Bearer {bob_session.json()['data']['id_token']}"}
    assert ddo({"op": "collection.find", "collection": "todos"}, as_bob).json()["data"] == []
    assert ddo({"op": "collection.find", "collection": "todos"}, web).status_code == 401

    # 6. Refresh: a new pair; the old refresh token is spent.
    refreshed = ddo({"op": "auth.refresh_token", "refresh_token": session["refresh_token"]}, web)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["data"]["refresh_token"] != session["refresh_token"]
    as_ann = {**web, "Authorization": f"Bearer {refreshed.json()['data']['id_token']}"}
    assert [
        t["title"] for t in ddo({"op": "collection.find", "collection": "todos"}, as_ann).json()["data"]
    ] == ["buy milk"]

    # 7. Sign out: the session ends, and its tokens with it.
    assert ddo({"op": "auth.signout"}, as_ann).json()["data"] == {"count": 1}
    assert ddo({"op": "collection.find", "collection": "todos"}, as_ann).status_code == 401

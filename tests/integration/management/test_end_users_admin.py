"""The account lists, disables and deletes its end users (SPEC §11.3, ADR 0019):
``GET``, ``PATCH`` and ``DELETE /api/end_users``.

End users are put into the database's ``_users`` with SQL (``tests/support/end_user_rows``),
as sign-up would leave them. Also here: a web key is refused on every management route,
walked from the app's own route table.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pgcube.api.account_only import WEB_KEY_REFUSED
from pgcube.db.notify import CHANNEL
from pgcube.schemas.management import iso_utc
from pgcube.settings import Settings
from pgcube.users.tokens import VerifiedIdTokens
from tests.integration.end_users.conftest import PROFILE_KEYS
from tests.integration.management.conftest import create_database, insert_rows
from tests.integration.test_refusals import valid_requests
from tests.integration.test_tenancy import api_routes
from tests.support.accounts import Account, api_key_headers, create_api_key
from tests.support.end_users import PASSWORD_HASH, add_code, add_end_user, add_session, web_key
from tests.support.notifications import Notifications
from tests.support.sync_pg import SyncPg

ROUTE = "/api/end_users"
USER_FIELDS = PROFILE_KEYS | {"disabled", "created_at", "last_signin_at"}
DOCUMENT_ROUTES = {
    ("POST", "/api/crud"),
    ("GET", "/api/crud"),
    ("PUT", "/api/crud"),
    ("PATCH", "/api/crud"),
    ("DELETE", "/api/crud"),
    ("POST", "/api/import_data"),
    ("POST", "/api/{database_id:str}"),
    ("POST", "/api/{database_id:str}/files"),  # the direct upload: files take web keys (SPEC §12)
    # A document route of the explain op, which refuses web keys itself (403 with the op's own
    # message, tests/integration/explain/test_refused.py).
    ("GET", "/api/explain"),
}
"""The ``/api`` routes a web key may use (under the access rules); every other one is management."""
LEFT_OUT = object()


class Project:
    """A database of ``account`` with a collection ``notes``, and its schema."""

    def __init__(self, client: httpx.Client, account: Account, pg: SyncPg) -> None:
        made = create_database(client, account, collections=[{"name": "notes"}])
        self.id: str = made["database"]["id"]
        self.name: str = made["database"]["name"]
        self.schema: str = made["database"]["dbName"]
        self.pg = pg

    def users(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.pg.fetch(f'SELECT * FROM "{self.schema}"._users ORDER BY _userkey')]

    def sessions(self, user_key: str | None = None) -> list[Any]:
        return self.pg.fetch(
            f'SELECT * FROM "{self.schema}"._sessions WHERE $1::text IS NULL OR _userkey = $1 ORDER BY id',
            user_key,
        )

    def codes(self) -> list[Any]:
        return self.pg.fetch(f'SELECT * FROM "{self.schema}"._otps ORDER BY id')

    def state(self) -> Any:
        return self.users(), [tuple(r) for r in self.sessions()], [tuple(r) for r in self.codes()]


@pytest.fixture
def project(client: httpx.Client, account: Account, pg: SyncPg) -> Project:
    return Project(client, account, pg)


def list_users(
    client: httpx.Client, headers: dict[str, str], database_id: str, **params: Any
) -> httpx.Response:
    return client.get(ROUTE, params={"database_id": database_id, **params}, headers=headers)


def patch_user(client: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return client.patch(ROUTE, json=body, headers=headers)


def delete_user(client: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return client.request("DELETE", ROUTE, json=body, headers=headers)


# --- list ----------------------------------------------------------------------------------------
def test_a_new_database_has_no_end_users(client: httpx.Client, account: Account, project: Project) -> None:
    response = list_users(client, account.headers, project.id)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "data": [],
        "pagination": {"page": 1, "page_size": 10, "total_items": 0, "total_pages": 0, "has_next": False},
    }


def test_the_list_shows_each_user_and_never_a_hash(
    client: httpx.Client, account: Account, project: Project
) -> None:
    key = add_end_user(project.pg, project.schema, email="Ann@Example.com", display_name="Ann")
    project.pg.execute(
        f'UPDATE "{project.schema}"._users SET last_signin_at = $2, email_verified = true WHERE _userkey = $1',
        key,
        datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC),
    )
    response = list_users(client, account.headers, project.id)
    assert response.status_code == 200, response.text
    (user,) = response.json()["data"]
    assert set(user) == USER_FIELDS
    created = project.pg.fetchval(
        f'SELECT created_at FROM "{project.schema}"._users WHERE _userkey = $1', key
    )
    assert user == {
        "_userkey": key,
        "email": "Ann@Example.com",
        "email_verified": True,
        "display_name": "Ann",
        "photo_url": None,
        "phone_number": None,
        "metadata": {"plan": "free"},
        "roles": ["user"],
        "auth_types": ["email"],
        "disabled": False,
        "created_at": iso_utc(created),
        "last_signin_at": "2026-05-04T03:02:01.123Z",
    }
    for secret in (PASSWORD_HASH, "argon2", "password", "email_canonical"):
        assert secret not in response.text


def test_pages_are_newest_first_and_never_repeat_or_skip(
    client: httpx.Client, account: Account, project: Project
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    keys = [
        add_end_user(project.pg, project.schema, created_at=start + timedelta(minutes=i // 2))
        for i in range(12)
    ]  # pairs share a creation time: ties are broken by _userkey
    seen = []
    for page, expected_size, has_next in ((1, 5, True), (2, 5, True), (3, 2, False)):
        body = list_users(client, account.headers, project.id, page=page, page_size=5).json()
        assert body["pagination"] == {
            "page": page,
            "page_size": 5,
            "total_items": 12,
            "total_pages": 3,
            "has_next": has_next,
        }
        assert len(body["data"]) == expected_size
        seen.extend(user["_userkey"] for user in body["data"])
    assert sorted(seen) == sorted(keys)
    created = [
        project.pg.fetchval(f'SELECT created_at FROM "{project.schema}"._users WHERE _userkey = $1', key)
        for key in seen
    ]
    assert created == sorted(created, reverse=True)
    beyond = list_users(client, account.headers, project.id, page=4, page_size=5).json()
    assert beyond["data"] == []
    assert beyond["pagination"]["total_items"] == 12
    assert beyond["pagination"]["has_next"] is False


def test_search_is_a_case_insensitive_substring_of_email_or_display_name(
    client: httpx.Client, account: Account, project: Project
) -> None:
    ann = add_end_user(project.pg, project.schema, email="ann.lee@example.com", display_name="Ann Lee")
    bob = add_end_user(project.pg, project.schema, email="bob@SHOP.example", display_name="Robert")
    odd = add_end_user(project.pg, project.schema, email="x_100%@example.com", display_name=None)

    def found(search: str) -> set[str]:
        body = list_users(client, account.headers, project.id, search=search).json()
        assert body["pagination"]["total_items"] == len(body["data"])
        return {user["_userkey"] for user in body["data"]}

    assert found("ANN") == {ann}
    assert found("shop") == {bob}
    assert found("rob") == {bob}  # the display name
    assert found("example") == {ann, bob, odd}
    assert found("_") == {odd}  # literal text, not a LIKE pattern
    assert found("%") == {odd}
    assert found("nobody") == set()
    assert found("") == {ann, bob, odd}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 1001}, "page_size"),
        ({"page": "x"}, "page"),
    ],
)
def test_bad_paging_is_a_400(
    client: httpx.Client, account: Account, project: Project, params: dict[str, Any], field: str
) -> None:
    response = list_users(client, account.headers, project.id, **params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]["details"]["field"] == field


# --- delete --------------------------------------------------------------------------------------
def test_delete_takes_sessions_and_codes_and_leaves_documents(
    client: httpx.Client, account: Account, project: Project, pg_url: str
) -> None:
    gone = add_end_user(project.pg, project.schema, email="gone@example.com")
    stays = add_end_user(project.pg, project.schema, email="stays@example.com")
    for key in (gone, gone, stays):
        add_session(project.pg, project.schema, key)
    add_code(project.pg, project.schema, "gone@example.com", gone, intent="verify_email")
    add_code(project.pg, project.schema, "GONE@example.com", None)  # sent before the row existed
    add_code(project.pg, project.schema, "stays@example.com", stays)
    project.pg.execute(
        f'INSERT INTO "{project.schema}".notes (_key, _userkey, data) VALUES ($1, $2, $3), ($4, $5, $6)',
        "note-of-gone",
        gone,
        b'{"text": "mine"}',
        "note-of-stays",
        stays,
        b'{"text": "theirs"}',
    )
    with Notifications(pg_url, CHANNEL) as heard:
        response = delete_user(client, account.headers, {"database_id": project.id, "_userkey": gone})
        assert response.status_code == 200, response.text
        assert response.json() == {"success": True, "deleted": gone}
        heard.wait_for(f"end_user:{project.id}:{gone}")

    assert [row[0] for row in project.users()] == [stays]
    assert {row["_userkey"] for row in project.sessions()} == {stays}
    assert [(row["email_canonical"], row["_userkey"]) for row in project.codes()] == [
        ("stays@example.com", stays)
    ]
    notes = project.pg.fetch(f'SELECT _key, _userkey FROM "{project.schema}".notes ORDER BY _key')
    assert [tuple(row) for row in notes] == [("note-of-gone", gone), ("note-of-stays", stays)]

    again = delete_user(client, account.headers, {"database_id": project.id, "_userkey": gone})
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "NOT_FOUND"


def test_deleting_nobody_is_a_404_and_changes_nothing(
    client: httpx.Client, account: Account, project: Project
) -> None:
    key = add_end_user(project.pg, project.schema)
    add_session(project.pg, project.schema, key)
    before = project.state()
    for nobody in (secrets.token_hex(16), key.upper(), "x"):
        response = delete_user(client, account.headers, {"database_id": project.id, "_userkey": nobody})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert project.state() == before


# --- disable -------------------------------------------------------------------------------------
def test_disabling_ends_every_session_and_is_announced(
    client: httpx.Client, account: Account, project: Project, pg_url: str
) -> None:
    key = add_end_user(project.pg, project.schema)
    other = add_end_user(project.pg, project.schema)
    live = [add_session(project.pg, project.schema, key) for _ in range(2)]
    ended_long_ago = add_session(project.pg, project.schema, key)
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    project.pg.execute(
        f'UPDATE "{project.schema}"._sessions SET ended_at = $2 WHERE id = $1::uuid', ended_long_ago, long_ago
    )
    add_session(project.pg, project.schema, other)

    with Notifications(pg_url, CHANNEL) as heard:
        response = patch_user(
            client, account.headers, {"database_id": project.id, "_userkey": key, "disabled": True}
        )
        assert response.status_code == 200, response.text
        heard.wait_for(f"end_user:{project.id}:{key}")
    body = response.json()
    assert body["success"] is True
    assert set(body["data"]) == USER_FIELDS
    assert body["data"]["_userkey"] == key
    assert body["data"]["disabled"] is True

    row = project.pg.fetchrow(
        f"SELECT disabled, sessions_valid_after, now() - sessions_valid_after < interval '1 minute' AS recent "
        f'FROM "{project.schema}"._users WHERE _userkey = $1',
        key,
    )
    assert row is not None
    assert row["disabled"] is True
    assert row["recent"] is True
    sessions = {str(s["id"]): s["ended_at"] for s in project.sessions(key)}
    assert all(sessions[session] is not None for session in live)
    assert {sessions[session] for session in live} == {row["sessions_valid_after"]}
    assert sessions[ended_long_ago] == long_ago  # an ended session keeps its end
    assert [s["ended_at"] for s in project.sessions(other)] == [None]

    enabled = patch_user(
        client, account.headers, {"database_id": project.id, "_userkey": key, "disabled": False}
    )
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["data"]["disabled"] is False
    after = project.pg.fetchrow(
        f'SELECT disabled, sessions_valid_after FROM "{project.schema}"._users WHERE _userkey = $1', key
    )
    assert after is not None
    assert after["disabled"] is False
    assert after["sessions_valid_after"] == row["sessions_valid_after"]  # old tokens stay dead
    assert all(s["ended_at"] is not None for s in project.sessions(key))


@pytest.mark.parametrize(
    ("label", "changes", "status", "code"),
    [
        ("nobody", {"_userkey": "0" * 32}, 404, "NOT_FOUND"),
        ("disabled left out", {"disabled": LEFT_OUT}, 400, "VALIDATION_ERROR"),
        ("disabled as a string", {"disabled": "true"}, 400, "VALIDATION_ERROR"),
        ("disabled as a number", {"disabled": 1}, 400, "VALIDATION_ERROR"),
        ("disabled null", {"disabled": None}, 400, "VALIDATION_ERROR"),
        ("another key", {"email_verified": True}, 400, "VALIDATION_ERROR"),
        ("an empty _userkey", {"_userkey": ""}, 400, "VALIDATION_ERROR"),
        ("a _userkey that is no string", {"_userkey": 7}, 400, "VALIDATION_ERROR"),
        ("an unknown database", {"database_id": "f" * 24}, 404, "DATABASE_NOT_FOUND"),
        ("a malformed database id", {"database_id": "nope"}, 404, "DATABASE_NOT_FOUND"),
    ],
)
def test_a_refused_patch_changes_nothing(
    client: httpx.Client,
    account: Account,
    project: Project,
    label: str,
    changes: dict[str, Any],
    status: int,
    code: str,
) -> None:
    key = add_end_user(project.pg, project.schema)
    add_session(project.pg, project.schema, key)
    body: dict[str, Any] = {"database_id": project.id, "_userkey": key, "disabled": True, **changes}
    body = {name: value for name, value in body.items() if value is not LEFT_OUT}
    before = project.state()
    response = patch_user(client, account.headers, body)
    assert response.status_code == status, (label, response.text)
    assert response.json()["error"]["code"] == code, (label, response.text)
    assert project.state() == before


# --- who may -------------------------------------------------------------------------------------
def test_another_account_gets_404_exactly_like_a_missing_database(
    client: httpx.Client, account: Account, other_account: Account, project: Project
) -> None:
    key = add_end_user(project.pg, project.schema)
    add_session(project.pg, project.schema, key)
    before = project.state()
    scoped_elsewhere = create_database(client, account)["database"]["id"]
    credentials = {
        "their token": other_account.headers,
        "their key": api_key_headers(create_api_key(client, other_account)),
        "a key of mine scoped elsewhere": api_key_headers(
            create_api_key(client, account, database_id=scoped_elsewhere)
        ),
    }
    for label, headers in credentials.items():
        for database_id in (project.id, secrets.token_hex(12), "not-an-id"):
            answers = [
                list_users(client, headers, database_id),
                patch_user(client, headers, {"database_id": database_id, "_userkey": key, "disabled": True}),
                delete_user(client, headers, {"database_id": database_id, "_userkey": key}),
            ]
            for answer in answers:
                assert answer.status_code == 404, (label, answer.text)
                assert answer.json() == {
                    "success": False,
                    "error": {"code": "DATABASE_NOT_FOUND", "message": "Database not found", "details": {}},
                }, label
    assert project.state() == before


def test_a_server_key_of_the_database_manages_its_users(
    client: httpx.Client, account: Account, project: Project
) -> None:
    key = add_end_user(project.pg, project.schema)
    server_key = api_key_headers(create_api_key(client, account, database_id=project.id))
    assert [u["_userkey"] for u in list_users(client, server_key, project.id).json()["data"]] == [key]
    patched = patch_user(client, server_key, {"database_id": project.id, "_userkey": key, "disabled": True})
    assert patched.status_code == 200, patched.text
    deleted = delete_user(client, server_key, {"database_id": project.id, "_userkey": key})
    assert deleted.status_code == 200, deleted.text


def test_a_web_key_is_refused_on_every_management_route(
    client: httpx.Client, account: Account, project: Project, settings: Settings, pg: SyncPg
) -> None:
    """Walked from the app's route table: a new management route is refused, or this fails."""
    user_key = add_end_user(project.pg, project.schema)
    session_id = add_session(project.pg, project.schema, user_key)
    key = web_key(client, account, project.id)
    assert settings.jwt_secret is not None
    id_token = VerifiedIdTokens(settings.jwt_secret).issue(
        user_key=user_key, database_id=project.id, session_id=session_id, aud="web", ttl=600
    )
    as_web = {
        "a web key": {"X-API-KEY": key},
        "a web key as Api-Key": api_key_headers(key),
        "a web key with a signed-in user": {"X-API-KEY": key, "Authorization": f"Bearer {id_token}"},
    }
    requests = valid_requests(project.id, project.name)
    management = api_routes() - DOCUMENT_ROUTES
    assert management <= set(requests), "give the new route a valid request in test_tenancy.requests_for()"
    assert {("GET", ROUTE), ("PATCH", ROUTE), ("DELETE", ROUTE)} <= management
    catalog_before = pg.fetch(
        "SELECT * FROM pgcube.databases WHERE account_id = $1::uuid", account.account_id
    )
    before = project.state()
    for label, headers in as_web.items():
        for route in sorted(management):
            for method, path, kwargs in requests[route]:
                kwargs = _with_user(kwargs, user_key)
                response = client.request(method, path, headers=headers, **kwargs)
                assert response.status_code == 403, (label, route, response.text)
                assert response.json()["error"] == {
                    "code": "FORBIDDEN",
                    "message": WEB_KEY_REFUSED,
                    "details": {},
                }, (label, route)
    assert project.state() == before
    assert (
        pg.fetch("SELECT * FROM pgcube.databases WHERE account_id = $1::uuid", account.account_id)
        == catalog_before
    )

    # The document routes are not the guard's: what they answer a web key is their access rules'.
    for method, path, kwargs in (
        ("POST", f"/api/{project.id}", {"json": {"op": "collection.count", "collection": "notes"}}),
        ("GET", "/api/crud", {"params": {"database_id": project.id, "collection_name": "notes"}}),
    ):
        response = client.request(method, path, headers={"X-API-KEY": key}, **kwargs)
        assert response.json().get("error", {}).get("message") != WEB_KEY_REFUSED, response.text


def _with_user(kwargs: dict[str, Any], user_key: str) -> dict[str, Any]:
    """A walk's request aimed at this test's end user."""
    if "_userkey" in kwargs.get("json", {}):
        return {**kwargs, "json": {**kwargs["json"], "_userkey": user_key}}
    return kwargs


def test_documents_keep_the_key_of_a_deleted_user_through_the_api(
    client: httpx.Client, account: Account, project: Project
) -> None:
    key = add_end_user(project.pg, project.schema)
    insert_rows(project.pg, project.schema, "notes", [b'{"text": "a"}'])
    project.pg.execute(f'UPDATE "{project.schema}".notes SET _userkey = $1', key)
    assert (
        delete_user(client, account.headers, {"database_id": project.id, "_userkey": key}).status_code == 200
    )
    found = client.post(
        f"/api/{project.id}",
        json={"op": "collection.find", "collection": "notes"},
        headers=account.headers,
    )
    assert [doc["_userkey"] for doc in found.json()["data"]] == [key]

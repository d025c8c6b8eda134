"""A database's end-user settings: ``GET``/``PUT /api/auth_settings`` (SPEC §11.3, ADR 0019).

Account credentials only (a web key is refused on every management route:
``test_end_users_admin.test_a_web_key_is_refused_on_every_management_route``).
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from pgcube.db.notify import CHANNEL
from tests.integration.management.conftest import create_database
from tests.support.accounts import Account, api_key_headers, create_api_key
from tests.support.notifications import Notifications
from tests.support.sync_pg import SyncPg

DEFAULTS = {"allow_email_signup": True, "require_verified_email": False, "verify_email_on_signup": False}
ROUTE = "/api/auth_settings"


def stored(pg: SyncPg, database_id: str) -> Any:
    """The database's ``auth_settings`` column, as stored."""
    return pg.json(pg.fetchval("SELECT auth_settings FROM pgcube.databases WHERE id = $1", database_id))


def get_settings(client: httpx.Client, headers: dict[str, str], database_id: str) -> httpx.Response:
    return client.get(ROUTE, params={"database_id": database_id}, headers=headers)


def put_settings(client: httpx.Client, headers: dict[str, str], body: Any) -> httpx.Response:
    return client.put(ROUTE, json=body, headers=headers)


@pytest.fixture
def database_id(client: httpx.Client, account: Account) -> str:
    made: str = create_database(client, account)["database"]["id"]
    return made


def test_a_new_database_has_the_default_settings(
    client: httpx.Client, account: Account, database_id: str, pg: SyncPg
) -> None:
    response = get_settings(client, account.headers, database_id)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "data": DEFAULTS}
    assert stored(pg, database_id) == {}  # nothing stored: the defaults are the code's


def test_put_changes_only_what_it_names(
    client: httpx.Client, account: Account, database_id: str, pg: SyncPg
) -> None:
    first = put_settings(
        client, account.headers, {"database_id": database_id, "require_verified_email": True}
    )
    assert first.status_code == 200, first.text
    assert first.json() == {"success": True, "data": {**DEFAULTS, "require_verified_email": True}}
    assert stored(pg, database_id) == {"require_verified_email": True}

    second = put_settings(
        client,
        account.headers,
        {"database_id": database_id, "allow_email_signup": False, "verify_email_on_signup": True},
    )
    everything = {"allow_email_signup": False, "require_verified_email": True, "verify_email_on_signup": True}
    assert second.json() == {"success": True, "data": everything}
    assert get_settings(client, account.headers, database_id).json()["data"] == everything

    back = put_settings(
        client, account.headers, {"database_id": database_id, "require_verified_email": False}
    )
    assert back.json()["data"] == {**everything, "require_verified_email": False}

    unchanged = put_settings(client, account.headers, {"database_id": database_id})
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["data"] == {**everything, "require_verified_email": False}


@pytest.mark.parametrize(
    ("label", "body", "field"),
    [
        ("an unknown key", {"allow_signup": False}, "allow_signup"),
        ("an unknown key beside a good one", {"allow_email_signup": False, "bogus": 1}, "bogus"),
        ("a string for a boolean", {"allow_email_signup": "false"}, "allow_email_signup"),
        ("a number for a boolean", {"require_verified_email": 1}, "require_verified_email"),
        ("null for a boolean", {"verify_email_on_signup": None}, "verify_email_on_signup"),
        ("an object for a boolean", {"allow_email_signup": {"value": False}}, "allow_email_signup"),
        ("a number for the database id", {"database_id": 12345, "allow_email_signup": False}, "database_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    client: httpx.Client,
    account: Account,
    database_id: str,
    pg: SyncPg,
    label: str,
    body: dict[str, Any],
    field: str,
) -> None:
    before = stored(pg, database_id)
    response = put_settings(client, account.headers, {"database_id": database_id, **body})
    assert response.status_code == 400, (label, response.text)
    payload = response.json()
    assert payload["success"] is False
    assert payload["error"]["code"] == "VALIDATION_ERROR", (label, payload)
    assert payload["error"]["details"]["field"] == field, (label, payload)
    assert stored(pg, database_id) == before
    assert get_settings(client, account.headers, database_id).json()["data"] == DEFAULTS


def test_a_missing_database_id_or_a_body_that_is_no_object_is_a_400(
    client: httpx.Client, account: Account, database_id: str, pg: SyncPg
) -> None:
    missing = put_settings(client, account.headers, {"allow_email_signup": False})
    assert missing.status_code == 400
    assert missing.json()["error"] == {
        "code": "VALIDATION_ERROR",
        "message": "Missing required field: database_id",
        "details": {"field": "database_id"},
    }
    no_parameter = client.get(ROUTE, headers=account.headers)
    assert no_parameter.status_code == 400
    assert no_parameter.json()["error"]["details"] == {"field": "database_id"}
    for body in ([{"database_id": database_id, "allow_email_signup": False}], "allow_email_signup"):
        refused = put_settings(client, account.headers, body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
    cut = client.put(
        ROUTE,
        content=b'{"database_id": "' + database_id.encode() + b'", "allow_email_signup": fal',
        headers={**account.headers, "Content-Type": "application/json"},
    )
    assert cut.status_code == 400
    assert cut.json()["error"]["code"] == "INVALID_JSON"
    assert stored(pg, database_id) == {}


def test_a_malformed_id_answers_as_a_missing_database(
    client: httpx.Client, account: Account, database_id: str, pg: SyncPg
) -> None:
    """As on every management route (SPEC §2): an id that is not 24 hex digits names no database,
    yours or anyone's — the same 404 as an unknown one, and nothing is written anywhere."""
    unknown = put_settings(
        client, account.headers, {"database_id": secrets.token_hex(12), "allow_email_signup": False}
    )
    assert unknown.status_code == 404
    for bad in ("not-an-id", database_id.upper(), database_id + "0", "'; DROP SCHEMA pgcube CASCADE--"):
        put = put_settings(client, account.headers, {"database_id": bad, "allow_email_signup": False})
        assert (put.status_code, put.json()) == (404, unknown.json()), bad
        got = get_settings(client, account.headers, bad)
        assert (got.status_code, got.json()) == (404, unknown.json()), bad
    assert stored(pg, database_id) == {}


def test_another_account_gets_404_exactly_like_a_missing_database(
    client: httpx.Client, account: Account, other_account: Account, database_id: str, pg: SyncPg
) -> None:
    missing_id = secrets.token_hex(12)
    other_key = api_key_headers(create_api_key(client, other_account))
    for headers in (other_account.headers, other_key):
        theirs_get = get_settings(client, headers, database_id)
        missing_get = get_settings(client, headers, missing_id)
        assert theirs_get.status_code == 404
        assert theirs_get.json() == missing_get.json()
        assert theirs_get.json()["error"]["code"] == "DATABASE_NOT_FOUND"
        theirs_put = put_settings(client, headers, {"database_id": database_id, "allow_email_signup": False})
        missing_put = put_settings(client, headers, {"database_id": missing_id, "allow_email_signup": False})
        assert theirs_put.status_code == 404
        assert theirs_put.json() == missing_put.json() == theirs_get.json()
    assert stored(pg, database_id) == {}


def test_server_keys_reach_the_database_they_are_scoped_to_only(
    client: httpx.Client, account: Account, database_id: str, pg: SyncPg
) -> None:
    elsewhere = create_database(client, account)["database"]["id"]
    scoped = api_key_headers(create_api_key(client, account, database_id=database_id))
    unscoped = api_key_headers(create_api_key(client, account))

    mine = put_settings(client, scoped, {"database_id": database_id, "verify_email_on_signup": True})
    assert mine.status_code == 200, mine.text
    assert get_settings(client, unscoped, database_id).json()["data"]["verify_email_on_signup"] is True

    missing = get_settings(client, scoped, secrets.token_hex(12))
    refused_get = get_settings(client, scoped, elsewhere)
    refused_put = put_settings(client, scoped, {"database_id": elsewhere, "allow_email_signup": False})
    assert refused_get.status_code == refused_put.status_code == 404
    assert refused_get.json() == refused_put.json() == missing.json()
    assert stored(pg, elsewhere) == {}


def test_a_change_is_announced_so_every_process_evicts_the_database(
    client: httpx.Client, account: Account, database_id: str, pg_url: str
) -> None:
    """The catalog trigger of migration 0002 fires on every UPDATE of ``pgcube.databases``, this
    column's included: ``database:<id>`` makes every process forget the ``Database`` it caches
    (``pgcube.control_plane_cache``), whose ``auth_settings`` the ``auth.*`` ops read."""
    with Notifications(pg_url, CHANNEL) as heard:
        response = put_settings(
            client, account.headers, {"database_id": database_id, "allow_email_signup": False}
        )
        assert response.status_code == 200, response.text
        heard.wait_for(f"database:{database_id}")

"""Rate limits (RELIABILITY E3, SPEC §3): request N+1 of a window is a 429 with the exact
contract, a batch counts each document, the limit is shared by instances through
PostgreSQL, and ``/core`` counts per client address (X-Forwarded-For only from a
trusted proxy)."""

from __future__ import annotations

import math
import time
from typing import Any

import httpx
import msgspec

from pgcube.settings import Settings
from tests.integration.hardening.conftest import ServeProcess, create_database, serve
from tests.integration.imports.conftest import upload
from tests.support.accounts import Account, api_key_headers, create_api_key, unique_email

WINDOW = 4
"""Seconds of a window that holds only quick requests (the slow setup comes before it)."""
CORE_WINDOW = 15
"""Seconds of a window that must hold several Argon2 logins: ample on a loaded 2-core machine."""
LIMIT = 5


def start_of_a_window(window: int = WINDOW) -> float:
    """Sleep into the first moments of a fresh window (windows are aligned on the clock)."""
    time.sleep(window - (time.time() % window) + 0.05)
    return time.time()


def assert_rate_limited(
    response: httpx.Response, limit: int, remaining: int, envelope: str = "rest", window: int = WINDOW
) -> int:
    """The SPEC §3 contract; returns retry_after."""
    assert response.status_code == 429, response.text
    body: dict[str, Any] = response.json()
    error = body["error"]
    if envelope == "rest":
        assert body["success"] is False
    else:
        assert set(body) == {"error"}
    assert error["code"] == "RATE_LIMIT_EXCEEDED"
    details = error["details"]
    assert set(details) == {"limit", "remaining", "reset_at", "retry_after"}
    assert details["limit"] == limit
    assert details["remaining"] == remaining
    now = time.time()
    assert details["reset_at"] % window == 0, "windows are aligned on the clock"
    assert now <= details["reset_at"] <= now + window
    # retry_after is the rest of the window, rounded up (the answer left the server a moment ago).
    assert 1 <= details["retry_after"] <= window
    assert abs(details["retry_after"] - math.ceil(details["reset_at"] - now)) <= 1
    assert response.headers["Retry-After"] == str(details["retry_after"])
    return int(details["retry_after"])


def stranger_login() -> dict[str, str]:
    return {"email": unique_email("stranger"), "password": "wrong password"}


def limited(settings: Settings, **overrides: Any) -> Any:
    """A server of its own with small limits (the suite's shared server keeps the defaults)."""
    assert settings.database_url is not None
    values = {"rate_limit_requests": LIMIT, "rate_limit_core_requests": 0, "rate_limit_window": WINDOW}
    values.update(overrides)
    return serve(settings.database_url, **values)


def test_request_n_plus_one_is_429_then_fine_after_retry_after(settings: Settings, account: Account) -> None:
    with limited(settings) as (_, http):
        start_of_a_window()
        for _ in range(LIMIT):
            ok = http.get("/api/list_databases", headers=account.headers)
            assert ok.status_code == 200, ok.text
        retry_after = assert_rate_limited(
            http.get("/api/list_databases", headers=account.headers), LIMIT, remaining=0
        )
        time.sleep(retry_after)
        assert http.get("/api/list_databases", headers=account.headers).status_code == 200


def test_each_document_of_a_batch_counts(client: httpx.Client, settings: Settings, account: Account) -> None:
    database_id = create_database(client, account)

    def insert(http: httpx.Client, count: int) -> httpx.Response:
        body = {"op": "collection.insert", "collection": "items", "data": [{"n": i} for i in range(count)]}
        return http.post(f"/api/{database_id}", json=body, headers=account.headers)

    with limited(settings) as (_, http):
        start_of_a_window()
        assert insert(http, 3).status_code == 200
        assert_rate_limited(insert(http, 3), LIMIT, remaining=2, envelope="ddo")
        assert insert(http, 2).status_code == 200
        assert_rate_limited(insert(http, 1), LIMIT, remaining=0, envelope="ddo")
        crud = {"database_id": database_id, "collection_name": "items", "data": [{"n": 1}]}
        assert_rate_limited(http.post("/api/crud", json=crud, headers=account.headers), LIMIT, remaining=0)


def test_a_batch_counts_each_document_whatever_its_content_type(
    client: httpx.Client, settings: Settings, account: Account
) -> None:
    # Issue 14 finding 5: a batch labelled text/plain was charged as one request.
    database_id = create_database(client, account)
    batch = msgspec.json.encode({"op": "collection.insert", "collection": "items", "data": [{"n": 1}] * 3})
    with limited(settings) as (_, http):
        start_of_a_window()
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            headers = {**account.headers, "Content-Type": content_type}
            if content_type == "text/plain":
                assert http.post(f"/api/{database_id}", content=batch, headers=headers).status_code == 200
            refused = http.post(f"/api/{database_id}", content=batch, headers=headers)
            assert_rate_limited(refused, LIMIT, remaining=2, envelope="ddo")
    assert len(find_all(client, account, database_id)) == 3


def test_an_import_counts_each_document(client: httpx.Client, settings: Settings, account: Account) -> None:
    # Issue 14 finding 5: an import was charged as one request, whatever the file held.
    database_id = create_database(client, account)
    file = b"\n".join(msgspec.json.encode({"n": i}) for i in range(3))
    with limited(settings) as (_, http):
        start_of_a_window()
        assert (
            upload(
                http, account.headers, database_id, file, filename="a.ndjson", collection="items"
            ).status_code
            == 201
        )
        refused = upload(http, account.headers, database_id, file, filename="b.ndjson", collection="items")
        assert_rate_limited(refused, LIMIT, remaining=1)  # its own first hit was counted on arrival
    assert len(find_all(client, account, database_id)) == 3, "the refused import wrote nothing"


def find_all(client: httpx.Client, account: Account, database_id: str) -> list[Any]:
    body = {"op": "collection.find", "collection": "items", "limit": 100}
    answer = client.post(f"/api/{database_id}", json=body, headers=account.headers)
    assert answer.status_code == 200, answer.text
    documents: list[Any] = answer.json()["data"]
    return documents


def test_an_accounts_keys_share_one_account_budget(
    client: httpx.Client, settings: Settings, account: Account
) -> None:
    # Issue 14 finding 5: buckets were per key only, so fifty keys made fifty times the limit.
    keys = [api_key_headers(create_api_key(client, account)) for _ in range(3)]
    with limited(settings, rate_limit_account_requests=LIMIT + 2) as (_, http):
        start_of_a_window()
        for _ in range(LIMIT):
            assert http.get("/api/list_databases", headers=keys[0]).status_code == 200
        for _ in range(2):
            assert http.get("/api/list_databases", headers=keys[1]).status_code == 200
        assert_rate_limited(http.get("/api/list_databases", headers=keys[2]), LIMIT + 2, remaining=0)
        assert_rate_limited(http.get("/api/list_databases", headers=account.headers), LIMIT + 2, remaining=0)


def test_an_api_key_has_its_own_budget(client: httpx.Client, settings: Settings, account: Account) -> None:
    key = create_api_key(client, account)
    with limited(settings, rate_limit_account_requests=4 * LIMIT) as (_, http):
        start_of_a_window()
        for _ in range(LIMIT):
            assert http.get("/api/list_databases", headers=account.headers).status_code == 200
        assert http.get("/api/list_databases", headers=account.headers).status_code == 429
        for _ in range(LIMIT):
            assert http.get("/api/list_databases", headers=api_key_headers(key)).status_code == 200
        assert http.get("/api/list_databases", headers=api_key_headers(key)).status_code == 429


def test_instances_share_the_limit_through_postgresql(settings: Settings, account: Account) -> None:
    with limited(settings) as (_, first), limited(settings) as (_, second):
        start_of_a_window()
        for http in (first, second, first, second, first):
            assert http.get("/api/list_databases", headers=account.headers).status_code == 200
        for http in (first, second):
            assert_rate_limited(http.get("/api/list_databases", headers=account.headers), LIMIT, 0)


def test_core_is_limited_per_client_address(settings: Settings) -> None:
    # Three Argon2 verifies must fit in one window: a long one.
    with limited(settings, rate_limit_core_requests=3, rate_limit_window=CORE_WINDOW) as (_, http):
        start_of_a_window(CORE_WINDOW)
        for _ in range(3):  # unknown emails: the per-account login throttle (A4) stays out of it
            assert http.post("/core/login", json=stranger_login()).status_code == 401
        refused = http.post("/core/login", json=stranger_login())
        assert_rate_limited(refused, 3, remaining=0, window=CORE_WINDOW)
        assert_rate_limited(http.post("/core/register", json={}), 3, remaining=0, window=CORE_WINDOW)
        assert http.get("/health").status_code == 200, "/health is never limited"


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(pg_url: str) -> None:
    def spoofed(http: httpx.Client, n: int) -> list[int]:
        return [
            http.post(
                "/core/login", json=stranger_login(), headers={"X-Forwarded-For": f"198.51.100.{i}"}
            ).status_code
            for i in range(n)
        ]

    # Three Argon2 verifies must fit in one window: a long one.
    env = {"PGCUBE_RATE_LIMIT_CORE_REQUESTS": "3", "PGCUBE_RATE_LIMIT_WINDOW": str(CORE_WINDOW)}
    with ServeProcess(pg_url, **env) as direct, httpx.Client(base_url=direct.url, timeout=30) as http:
        start_of_a_window(CORE_WINDOW)
        assert spoofed(http, 4) == [401, 401, 401, 429], "a client cannot pick its own address"
    trusted = {**env, "PGCUBE_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with ServeProcess(pg_url, **trusted) as proxied, httpx.Client(base_url=proxied.url, timeout=30) as http:
        # No fresh window needed: each claimed address is a bucket nobody used. Were the header
        # ignored, all four would share 127.0.0.1's bucket, spent above (or three of a fresh one).
        assert spoofed(http, 4) == [401] * 4, "behind a trusted proxy each client has its own budget"


def test_refused_requests_give_their_connection_back(
    settings: Settings, account: Account, other_account: Account
) -> None:
    """A 429 (or 401) is decided after the request's connection was taken: it must return."""
    with limited(settings, rate_limit_requests=2, rate_limit_window=3600, pool_max_size=1) as (_, http):
        refused = [http.get("/api/list_databases", headers=account.headers).status_code for _ in range(12)]
        assert refused == [200, 200] + [429] * 10
        bad = {"Authorization": "Bearer not-a-token"}
        assert {http.get("/api/list_databases", headers=bad).status_code for _ in range(5)} == {401}
        for _ in range(2):  # one pooled connection: any leak above would make these 503
            assert http.get("/api/list_databases", headers=other_account.headers).status_code == 200


def test_default_settings_let_a_client_load_100_000_documents_without_a_429(
    settings: Settings, account: Account
) -> None:
    """Issue 12: a self-hosted database's owner loading data through batch inserts as fast as it
    can never sees a 429 with the default settings (the /api limit is a setting, off by default)."""
    assert settings.database_url is not None
    default = Settings.from_env({}).rate_limit_requests
    with serve(settings.database_url, rate_limit_requests=default) as (_, http):
        database_id = create_database(http, account)
        statuses = []
        for batch in range(100):
            docs = [{"batch": batch, "n": i} for i in range(1000)]
            body = {"op": "collection.insert", "collection": "items", "data": docs}
            statuses.append(http.post(f"/api/{database_id}", json=body, headers=account.headers).status_code)
        assert statuses == [200] * 100
        count = {"op": "collection.count", "collection": "items"}
        assert http.post(f"/api/{database_id}", json=count, headers=account.headers).json()["data"] == {
            "count": 100_000
        }

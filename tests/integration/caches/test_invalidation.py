"""The per-process caches of keys and the catalog, and their invalidation (ADR 0012; RELIABILITY
C2, D1).

* Two ``pgcube serve`` processes on one PostgreSQL: a key revoked, a database
  dropped, a collection re-declared through instance A (an account deleted in
  SQL) stops working on instance B within one second.
* The listener's connection killed: nothing stale is served, and it reconnects.

Each test first shows that B really answers from its cache (a change made
without notifying — triggers off — goes unnoticed), so the second-instance
results measure the invalidation, not a cache that was never used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from pgcube.db import migrations
from pgcube.db.notify import APPLICATION_NAME
from tests.integration.hardening.conftest import ServeProcess, account_on, serve
from tests.support.accounts import Account, api_key_headers, create_api_key
from tests.support.postgres import scratch_database
from tests.support.sync_pg import SyncPg

WITHIN = 1.0
POLL = 0.05


@pytest.fixture(scope="module")
def shared_database(pg_server_url: str) -> Iterator[str]:
    with scratch_database(pg_server_url) as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="module")
def instances(shared_database: str) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Instance A (one worker) and instance B (two workers) on the same PostgreSQL database."""
    with (
        ServeProcess(shared_database) as a,
        ServeProcess(shared_database, PGCUBE_WORKERS="2") as b,
        httpx.Client(base_url=a.url, timeout=30) as http_a,
        httpx.Client(base_url=b.url, timeout=30) as http_b,
    ):
        yield http_a, http_b


@pytest.fixture(scope="module")
def owner(instances: tuple[httpx.Client, httpx.Client], shared_database: str) -> Account:
    return account_on(instances[0], shared_database)


@pytest.fixture(scope="module")
def pg(shared_database: str) -> Iterator[SyncPg]:
    conn = SyncPg(shared_database)
    yield conn
    conn.close()


def silently(pg_url: str, sql: str, *args: Any) -> None:
    """Run ``sql`` with the triggers off: a change no cache hears about."""
    conn = SyncPg(pg_url)
    try:
        conn.execute("SET session_replication_role = replica")
        conn.execute(sql, *args)
    finally:
        conn.close()


def new_database(http: httpx.Client, account: Account) -> tuple[str, str]:
    """(id, name) of a new database with one collection, ``items``."""
    name = f"c_{time.monotonic_ns() % 10**9}"
    body = {"db_name": name, "collections": [{"name": "items"}]}
    response = http.post("/api/create_database", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    database_id: str = response.json()["database"]["id"]
    return database_id, name


def on_every_worker(url: str, call: Callable[[httpx.Client], httpx.Response], times: int = 6) -> list[int]:
    """Statuses of ``call`` made on new connections (each may land on another worker)."""
    statuses = []
    for _ in range(times):
        with httpx.Client(base_url=url, timeout=30) as http:
            statuses.append(call(http).status_code)
    return statuses


def find(http: httpx.Client, database_id: str, headers: dict[str, str]) -> httpx.Response:
    return http.post(
        f"/api/{database_id}", json={"op": "collection.find", "collection": "items"}, headers=headers
    )


def until(answer: Callable[[], httpx.Response], accepted: Callable[[httpx.Response], bool]) -> float:
    """Seconds until ``answer()`` is ``accepted``, asking every 50 ms for at most one second."""
    started = time.monotonic()
    while True:
        response = answer()
        elapsed = time.monotonic() - started
        if accepted(response):
            return elapsed
        assert elapsed < WITHIN, f"still {response.status_code} {response.text} after {elapsed:.2f} s"
        time.sleep(POLL)


def refused(status: int, code: str) -> Callable[[httpx.Response], bool]:
    def check(response: httpx.Response) -> bool:
        return response.status_code == status and response.json()["error"]["code"] == code

    return check


def warm(http: httpx.Client, database_id: str, headers: dict[str, str]) -> None:
    """The key and the catalog cached by the worker behind ``http``'s connection (kept alive), and
    likely by the others too."""
    assert find(http, database_id, headers).status_code == 200
    assert on_every_worker(str(http.base_url), lambda fresh: find(fresh, database_id, headers)) == [200] * 6


def test_b_answers_from_its_cache(
    instances: tuple[httpx.Client, httpx.Client], owner: Account, shared_database: str
) -> None:
    a, b = instances
    database_id, _ = new_database(a, owner)
    key = create_api_key(a, owner)
    warm(b, database_id, api_key_headers(key))
    silently(shared_database, "UPDATE pgcube.api_keys SET revoked_at = now() WHERE id = $1", key[4:20])
    assert find(b, database_id, api_key_headers(key)).status_code == 200


def test_a_key_revoked_on_a_is_refused_by_b_within_a_second(
    instances: tuple[httpx.Client, httpx.Client], owner: Account
) -> None:
    a, b = instances
    database_id, _ = new_database(a, owner)
    key = create_api_key(a, owner)
    headers = api_key_headers(key)
    warm(b, database_id, headers)

    assert a.delete(f"/core/api/v1/keys/{key[4:20]}", headers=owner.headers).status_code == 200
    elapsed = until(lambda: find(b, database_id, headers), refused(401, "AUTHENTICATION_FAILED"))
    assert elapsed < WITHIN
    assert on_every_worker(str(b.base_url), lambda fresh: find(fresh, database_id, headers)) == [401] * 6


def test_a_database_dropped_on_a_is_gone_on_b_within_a_second(
    instances: tuple[httpx.Client, httpx.Client], owner: Account
) -> None:
    a, b = instances
    database_id, name = new_database(a, owner)
    warm(b, database_id, owner.headers)

    dropped = a.post(
        "/api/drop_database", json={"database_id": database_id, "confirmation": name}, headers=owner.headers
    )
    assert dropped.status_code == 200, dropped.text
    elapsed = until(lambda: find(b, database_id, owner.headers), refused(404, "DATABASE_NOT_FOUND"))
    assert elapsed < WITHIN


def test_a_collection_redeclared_or_dropped_on_a_is_seen_by_b_within_a_second(
    instances: tuple[httpx.Client, httpx.Client], owner: Account
) -> None:
    a, b = instances
    database_id, _ = new_database(a, owner)
    drop = {"database_id": database_id, "collection_names": ["items"]}

    def declare(field_type: str) -> None:
        fields = [{"name": "n", "type": field_type, "required": True}]
        body = {
            "database_id": database_id,
            "collections": [{"name": "items", "strict": True, "fields": fields}],
        }
        assert a.post("/api/drop_collections", json=drop, headers=owner.headers).status_code == 200
        added = a.post("/api/add_collection", json=body, headers=owner.headers)
        assert added.status_code == 201, added.text

    def insert(value: object) -> httpx.Response:
        body = {"op": "collection.insert", "collection": "items", "data": [{"n": value}]}
        return b.post(f"/api/{database_id}", json=body, headers=owner.headers)

    declare("integer")
    assert insert(1).status_code == 200
    declare("string")  # the only way to change declared fields: drop and add again
    assert until(lambda: insert(2), refused(400, "VALIDATION_ERROR")) < WITHIN
    assert insert("two").status_code == 200

    assert a.post("/api/drop_collections", json=drop, headers=owner.headers).status_code == 200
    # A find would answer an empty page either way (SPEC §10a); a delete needs the collection.
    remove = {"op": "collection.delete", "collection": "items", "match": {"n": "two"}}
    elapsed = until(
        lambda: b.post(f"/api/{database_id}", json=remove, headers=owner.headers),
        refused(404, "COLLECTION_NOT_FOUND"),
    )
    assert elapsed < WITHIN


def test_a_deleted_account_is_refused_by_b_within_a_second(
    instances: tuple[httpx.Client, httpx.Client], shared_database: str, pg: SyncPg
) -> None:
    a, b = instances
    doomed = account_on(a, shared_database)
    database_id, _ = new_database(a, doomed)
    headers = api_key_headers(create_api_key(a, doomed))
    warm(b, database_id, headers)

    # No route deletes an account; the cascade (keys, databases, collections) announces it all.
    pg.execute("DELETE FROM pgcube.accounts WHERE id = $1::uuid", doomed.account_id)
    assert until(lambda: find(b, database_id, headers), refused(401, "AUTHENTICATION_FAILED")) < WITHIN
    # Its unexpired session token is refused too: its session went with the account (ADR 0015).
    assert until(lambda: find(b, database_id, doomed.headers), refused(401, "AUTHENTICATION_FAILED")) < WITHIN


# --- the listener --------------------------------------------------------------------------------


def listener_pids(pg: SyncPg) -> set[int]:
    rows = pg.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
        APPLICATION_NAME,
    )
    return {row["pid"] for row in rows}


@pytest.fixture
def private_database(pg_server_url: str) -> Iterator[str]:
    """A database of its own: the test kills the listeners on it and no one else's."""
    with scratch_database(pg_server_url) as url:
        migrations.upgrade(url)
        yield url


def test_with_its_listener_killed_an_instance_serves_nothing_stale_and_listens_again(
    private_database: str,
) -> None:
    pg = SyncPg(private_database)
    try:
        with serve(private_database) as (_, http):
            owner = account_on(http, private_database)
            database_id, _ = new_database(http, owner)
            key = create_api_key(http, owner)
            headers = api_key_headers(key)
            assert find(http, database_id, headers).status_code == 200
            # Revoked behind the caches' back: still accepted, from the cache.
            silently(
                private_database, "UPDATE pgcube.api_keys SET revoked_at = now() WHERE id = $1", key[4:20]
            )
            assert find(http, database_id, headers).status_code == 200

            (listener,) = listener_pids(pg)
            assert pg.fetchval("SELECT pg_terminate_backend($1)", listener)
            # Once the process sees its listener gone (at once, or when the next heartbeat fails
            # to come back) the cache is not trusted, and is cleared when it listens again:
            # PostgreSQL decides, and the revoked key is refused from then on.
            assert (
                until(lambda: find(http, database_id, headers), refused(401, "AUTHENTICATION_FAILED"))
                < WITHIN
            )
            for _ in range(10):
                assert find(http, database_id, headers).status_code == 401
                time.sleep(POLL)

            deadline = time.monotonic() + 10
            while not (listener_pids(pg) - {listener}):
                assert time.monotonic() < deadline, "the listener did not reconnect"
                time.sleep(POLL)

            # Listening again: a revocation by anyone (here plain SQL) reaches the cache.
            second = create_api_key(http, owner, name="second")
            second_headers = api_key_headers(second)
            assert find(http, database_id, second_headers).status_code == 200
            pg.execute("UPDATE pgcube.api_keys SET revoked_at = now() WHERE id = $1", second[4:20])
            elapsed = until(
                lambda: find(http, database_id, second_headers), refused(401, "AUTHENTICATION_FAILED")
            )
            assert elapsed < WITHIN
    finally:
        pg.close()

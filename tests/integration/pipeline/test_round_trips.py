"""Issue 12: with warm caches, a document request sends exactly one statement to PostgreSQL.

Counted with PostgreSQL's own statement log (``tests/support/statement_log.py``):
a pgcube server whose every connection goes through a loopback proxy that
reads the log lines PostgreSQL sends back. Nothing else — no ``BEGIN``, no
``SET``, no key look-up or ``last_used_at`` write, no catalog check, no
rate-limit count, no ``COMMIT`` — may reach the server on the hot path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.accounts import Account, api_key_headers, create_api_key, new_account
from tests.support.end_users import signed_in, web_key
from tests.support.live import LiveServer, test_settings
from tests.support.statement_log import StatementLog, statement_log
from tests.support.sync_pg import SyncPg


@pytest.fixture(scope="module")
def logged(pg_url: str) -> Iterator[StatementLog]:
    with statement_log(pg_url) as log:
        yield log


@pytest.fixture(scope="module")
def server(logged: StatementLog) -> Iterator[LiveServer]:
    # Rate limits off (the default for /api): their store's background statements would share
    # the log. One pooled connection, so the warm-up requests warm the connection measured
    # (asyncpg prepares statements and introspects types once per connection).
    settings = test_settings(
        logged.url, rate_limit_requests=0, rate_limit_core_requests=0, pool_min_size=1, pool_max_size=1
    )
    with LiveServer(settings) as live:
        yield live


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def account(http: httpx.Client, pg: SyncPg) -> Account:
    return new_account(http, pg)


@pytest.fixture(scope="module")
def database(http: httpx.Client, account: Account) -> str:
    response = http.post(
        "/api/create_database",
        json={
            "db_name": "trips",
            "collections": [
                {"name": "items", "fields": [{"name": "price", "type": "number", "index": True}]}
            ],
        },
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    database_id: str = response.json()["database"]["id"]
    docs = [
        {"_key": f"k{i:03d}", "color": "red" if i % 2 else "blue", "size": i % 3, "price": i}
        for i in range(200)
    ]
    inserted = http.post(
        f"/api/{database_id}",
        json={"op": "collection.insert", "collection": "items", "data": docs},
        headers=account.headers,
    )
    assert inserted.status_code == 200, inserted.text
    return database_id


@pytest.fixture(scope="module")
def key_headers(http: httpx.Client, account: Account, database: str, pg: SyncPg) -> dict[str, str]:
    """A key whose first use is already recorded: ``last_used_at`` is written in the background
    at most once a minute, and that write must not land in a measured request's log."""
    headers = api_key_headers(create_api_key(http, account, database))
    assert http.post(f"/api/{database}", json=GET_BY_KEY, headers=headers).status_code == 200
    deadline = time.monotonic() + 10
    while (
        pg.fetchval(
            "SELECT count(*) FROM pgcube.api_keys WHERE last_used_at IS NOT NULL AND database_id = $1",
            database,
        )
        == 0
    ):
        assert time.monotonic() < deadline, "last_used_at was never written"
        time.sleep(0.05)
    return headers


def _statements_of(logged: StatementLog, send: Any, repeat: int = 3) -> list[str]:
    """The statements of the last of ``repeat`` identical requests (the first ones warm the caches
    and asyncpg's prepared statements)."""
    for _ in range(repeat - 1):
        send()
    logged.take()
    response = send()
    assert response.status_code == 200, response.text
    return logged.take()


GET_BY_KEY = {"op": "collection.find", "collection": "items", "match": {"_key": "k007"}}
FIND_25 = {"op": "collection.find", "collection": "items", "match": {"color": "red", "size": 1}, "limit": 25}


@pytest.mark.parametrize("credential", ["api_key", "jwt"])
@pytest.mark.parametrize(("name", "body"), [("get by _key", GET_BY_KEY), ("find of 25", FIND_25)])
def test_a_warm_read_is_one_statement(
    http: httpx.Client,
    logged: StatementLog,
    account: Account,
    database: str,
    key_headers: dict[str, str],
    credential: str,
    name: str,
    body: dict[str, Any],
) -> None:
    headers = key_headers if credential == "api_key" else account.headers

    def send() -> httpx.Response:
        return http.post(f"/api/{database}", json=body, headers=headers)

    statements = _statements_of(logged, send)
    assert len(statements) == 1, f"{name} sent {statements}"
    assert "SELECT" in statements[0]
    assert send().json()["data"], "the request found nothing: the check would mean little"


def test_a_warm_rest_read_is_one_statement(
    http: httpx.Client, logged: StatementLog, database: str, key_headers: dict[str, str]
) -> None:
    params = {"database_id": database, "collection_name": "items", "filters": '{"_key": "k007"}'}
    statements = _statements_of(logged, lambda: http.get("/api/crud", params=params, headers=key_headers))
    assert len(statements) == 1, statements


WRITES: dict[str, tuple[str, Any]] = {
    # the statement's verb, and the n-th request's body (each request writes something new)
    "insert one document": (
        "INSERT",
        lambda n: {"op": "collection.insert", "collection": "items", "data": {"n": n}},
    ),
    "update by _key": (
        "UPDATE",
        lambda n: {
            "op": "collection.update",
            "collection": "items",
            "match": {"_key": "k050"},
            "data": {"n": n},
        },
    ),
    "delete by _key": (
        "DELETE",
        lambda n: {"op": "collection.delete", "collection": "items", "match": {"_key": f"k{100 + n:03d}"}},
    ),
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_single_statement_write_is_one_statement(
    http: httpx.Client, logged: StatementLog, database: str, key_headers: dict[str, str], name: str
) -> None:
    """No BEGIN/COMMIT around a write that is one statement: PostgreSQL makes it atomic."""
    verb, body = WRITES[name]
    counter = iter(range(100))

    def send() -> httpx.Response:
        return http.post(f"/api/{database}", json=body(next(counter)), headers=key_headers)

    statements = _statements_of(logged, send)
    assert len(statements) == 1, statements
    assert verb in statements[0]


def test_an_unknown_op_and_a_bad_body_send_nothing(
    http: httpx.Client, logged: StatementLog, database: str, key_headers: dict[str, str]
) -> None:
    http.post(f"/api/{database}", json=GET_BY_KEY, headers=key_headers)  # warm
    logged.take()
    unknown = http.post(f"/api/{database}", json={"op": "collection.fnd"}, headers=key_headers)
    bad = http.post(f"/api/{database}", json={"op": "collection.find", "where": {}}, headers=key_headers)
    assert (unknown.status_code, bad.status_code) == (404, 400)
    assert logged.take() == []


@pytest.fixture(scope="module")
def end_user_headers(http: httpx.Client, account: Account, database: str, pg: SyncPg) -> dict[str, str]:
    """An end user of ``database`` through a web key whose first use is recorded, with documents of
    their own in ``owned`` (rules ``owner``/``owner``)."""
    made = http.post(
        "/api/add_collection",
        json={
            "database_id": database,
            "collections": [{"name": "owned", "access": {"read": "owner", "write": "owner"}}],
        },
        headers=account.headers,
    )
    assert made.status_code == 201, made.text
    key = web_key(http, account, database)
    headers = signed_in(pg, database).headers(key)
    docs = [{"_key": f"u{i:03d}", "color": "red", "size": 1} for i in range(30)]
    inserted = http.post(
        f"/api/{database}",
        json={"op": "collection.insert", "collection": "owned", "data": docs},
        headers=headers,
    )
    assert inserted.status_code == 200, inserted.text
    deadline = time.monotonic() + 10
    while pg.fetchval(
        "SELECT last_used_at IS NULL FROM pgcube.api_keys WHERE kind = 'web' AND database_id = $1", database
    ):
        assert time.monotonic() < deadline, "last_used_at was never written"
        time.sleep(0.05)
    return headers


@pytest.mark.parametrize(
    "body",
    [
        {"op": "collection.find", "collection": "owned", "match": {"_key": "u007"}},
        {"op": "collection.find", "collection": "owned", "match": {"color": "red", "size": 1}, "limit": 25},
    ],
)
def test_a_warm_end_user_read_is_three_statements(
    http: httpx.Client,
    logged: StatementLog,
    database: str,
    end_user_headers: dict[str, str],
    body: dict[str, Any],
) -> None:
    """The role and the user, then the query, then COMMIT (ADR 0018): no look-up of the key, the
    user or the session on a warm request."""

    def send() -> httpx.Response:
        return http.post(f"/api/{database}", json=body, headers=end_user_headers)

    statements = _statements_of(logged, send)
    assert len(statements) == 3, statements
    script, query, commit = statements
    assert script.startswith(
        "statement: BEGIN; SET LOCAL ROLE pgcube_web; SELECT set_config('pgcube.userkey', '"
    )
    assert "SELECT" in query
    assert commit == "statement: COMMIT"
    assert send().json()["data"], "the request found nothing: the check would mean little"

"""Statement timeouts, clean pooled connections and pool exhaustion
(RELIABILITY E5, D3, E6)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from litestar import Litestar, get
from litestar.datastructures import State

from pgcube.api.deps import Db
from tests.integration.hardening.conftest import create_database
from tests.support.accounts import Account
from tests.support.live import LiveServer, test_settings
from tests.support.sync_pg import SyncPg

# PostgreSQL's regex engine backtracks through back-references: on "abab…z" this
# pattern takes seconds per string (measured: > 3 s at 400 characters).
PATHOLOGICAL = r"^(.*)(.*)(.*)\3\2\1$"


@get("/test/settings-in-request", operation_id="testSettingsInRequest")
async def settings_in_request(session: Db) -> dict[str, Any]:
    conn = await session.connection()
    return {"statement_timeout": await conn.fetchval("SELECT current_setting('statement_timeout')")}


@get("/test/session-settings", operation_id="testSessionSettings")
async def session_settings(state: State) -> dict[str, Any]:
    """What a pooled connection carries between requests: settings changed with a plain SET."""
    async with state.pool.acquire() as conn:
        # asyncpg's type introspection turns jit off and back with a session-level set_config:
        # a setting put back to its own value is no leak.
        rows = await conn.fetch(
            "SELECT name FROM pg_settings WHERE source = 'session' AND setting IS DISTINCT FROM reset_val "
            "ORDER BY name"
        )
        timeout = await conn.fetchval("SELECT current_setting('statement_timeout')")
    return {"session": [row["name"] for row in rows], "statement_timeout": timeout}


def with_probes(app: Litestar) -> Litestar:
    app.register(settings_in_request)
    app.register(session_settings)
    return app


def find(http: httpx.Client, account: Account, database_id: str, match: dict[str, Any]) -> httpx.Response:
    body = {"op": "collection.find", "collection": "items", "match": match, "limit": 5}
    return http.post(f"/api/{database_id}", json=body, headers=account.headers)


def test_a_pathological_regex_times_out_fast_and_the_connection_stays_usable(
    client: httpx.Client, pg_url: str, account: Account
) -> None:
    database_id = create_database(client, account)
    docs = [{"s": "ab" * 200 + "z", "n": i} for i in range(200)]
    inserted = client.post(
        f"/api/{database_id}",
        json={"op": "collection.insert", "collection": "items", "data": docs},
        headers=account.headers,
    )
    assert inserted.status_code == 200, inserted.text
    # One connection: every request below reuses the one that was cancelled.
    settings = test_settings(pg_url, statement_timeout_ms=300, pool_min_size=1, pool_max_size=1)
    with LiveServer(settings, app_hook=with_probes) as server, server.client() as http:
        started = time.monotonic()
        timed_out = find(http, account, database_id, {"s:$regex": PATHOLOGICAL})
        elapsed = time.monotonic() - started
        assert timed_out.status_code == 504, timed_out.text
        assert set(timed_out.json()) == {"error"}
        assert timed_out.json()["error"]["code"] == "QUERY_TIMEOUT"
        assert elapsed < 3.0, f"the timeout is 0.3 s; the answer took {elapsed:.1f} s"

        rest = http.get(
            "/api/crud",
            params={
                "database_id": database_id,
                "collection_name": "items",
                "filters": '{"s": {"$regex": "^(.*)(.*)(.*)\\\\3\\\\2\\\\1$"}}',
            },
            headers=account.headers,
        )
        assert rest.status_code == 504, rest.text
        assert rest.json()["success"] is False

        for n in range(20):
            fine = find(http, account, database_id, {"n": n})
            assert fine.status_code == 200, fine.text
            assert [doc["n"] for doc in fine.json()["data"]] == [n]

        # D3: the timeout is the connection's own (set when the pool opened it); no request sets
        # anything, so nothing stays on the pooled connection.
        assert http.get("/test/settings-in-request").json() == {"statement_timeout": "300ms"}
        assert http.get("/test/session-settings").json()["session"] == []


def test_requests_run_under_the_connections_statement_timeout(pg_url: str) -> None:
    settings = test_settings(pg_url, statement_timeout_ms=1234, pool_max_size=1)
    with LiveServer(settings, app_hook=with_probes) as server, server.client() as http:
        assert http.get("/test/settings-in-request").json() == {"statement_timeout": "1234ms"}
        idle = http.get("/test/session-settings").json()
        assert idle == {"session": [], "statement_timeout": "1234ms"}


def test_pool_exhaustion_answers_503_within_the_acquire_timeout(
    client: httpx.Client, pg_url: str, pg: SyncPg, account: Account
) -> None:
    database_id = create_database(client, account)
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", database_id)
    settings = test_settings(
        pg_url, pool_min_size=1, pool_max_size=1, pool_acquire_timeout=0.5, statement_timeout_ms=20_000
    )
    locker = SyncPg(pg_url)
    with LiveServer(settings) as server, server.client() as http:
        locker.execute("BEGIN")
        locker.execute(f'LOCK TABLE "{schema}"."items" IN ACCESS EXCLUSIVE MODE')
        held: dict[str, Any] = {}

        def blocked_insert() -> None:
            with server.client() as other:
                body = {"op": "collection.insert", "collection": "items", "data": [{"n": 1}]}
                held["response"] = other.post(f"/api/{database_id}", json=body, headers=account.headers)

        thread = threading.Thread(target=blocked_insert)
        try:
            thread.start()
            deadline = time.monotonic() + 10
            while not pg.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ):
                assert time.monotonic() < deadline, "the insert never waited on the lock"
                time.sleep(0.05)

            started = time.monotonic()
            refused = http.get("/api/list_databases", headers=account.headers)
            elapsed = time.monotonic() - started
            assert refused.status_code == 503, refused.text
            error = refused.json()["error"]
            assert error["code"] == "SERVICE_UNAVAILABLE"
            assert error["details"]["retry_after"] >= 1
            assert refused.headers["Retry-After"] == str(error["details"]["retry_after"])
            assert elapsed < 0.5 + 2.0, f"answered after {elapsed:.1f} s; the acquire timeout is 0.5 s"
        finally:
            locker.execute("COMMIT")
            thread.join(timeout=30)
            locker.close()
        assert held["response"].status_code == 200, held["response"].text
        assert http.get("/api/list_databases", headers=account.headers).status_code == 200

"""SIGTERM lets in-flight requests finish (RELIABILITY F9): ``pgcube serve`` stops
accepting, answers what it is working on, then exits cleanly."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from tests.integration.hardening.conftest import ServeProcess, create_database
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg


def test_sigterm_lets_an_in_flight_request_finish(
    client: httpx.Client, pg_url: str, pg: SyncPg, account: Account
) -> None:
    database_id = create_database(client, account)
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", database_id)
    locker = SyncPg(pg_url)
    answer: dict[str, Any] = {}
    with ServeProcess(pg_url) as server:
        assert server.process is not None

        def slow_insert() -> None:
            body = {"op": "collection.insert", "collection": "items", "data": [{"during": "shutdown"}]}
            with httpx.Client(base_url=server.url, timeout=30) as http:
                answer["response"] = http.post(f"/api/{database_id}", json=body, headers=account.headers)

        # The insert waits on a lock the test holds, so it is surely in flight at SIGTERM.
        locker.execute("BEGIN")
        locker.execute(f'LOCK TABLE "{schema}"."items" IN ACCESS EXCLUSIVE MODE')
        thread = threading.Thread(target=slow_insert)
        try:
            thread.start()
            deadline = time.monotonic() + 10
            while not pg.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND application_name = 'pgcube'"
            ):
                assert time.monotonic() < deadline, "the insert never reached the lock"
                time.sleep(0.05)
            server.process.send_signal(15)  # SIGTERM
            time.sleep(1.0)
            assert server.process.poll() is None, "pgcube waits for the request in flight"
        finally:
            locker.execute("COMMIT")
            locker.close()
        thread.join(timeout=30)
        assert server.process.wait(timeout=30) == 0, server.output()
    response = answer["response"]
    assert response.status_code == 200, response.text
    assert response.json()["data"][0]["during"] == "shutdown"
    stored = pg.fetchval(f"SELECT count(*) FROM \"{schema}\".\"items\" WHERE data->>'during' = 'shutdown'")
    assert stored == 1

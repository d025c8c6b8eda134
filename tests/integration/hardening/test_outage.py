"""PostgreSQL going away under load (RELIABILITY F2 startup check, F3, F4, F9):
fast 503s while it is down, 200s again within 10 s once it is back, with no
restart of pgcube; terminated backends fail only the requests in flight."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

from pgcube.db.embedded import EmbeddedPostgres
from tests.integration.hardening.conftest import RequestLoop, account_on, create_database, serve
from tests.support.sync_pg import SyncPg

RECOVERY_PROMISE = 10.0
"""Seconds within which requests succeed again once PostgreSQL is back (F3)."""


def finder(database_id: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    def call(http: httpx.Client) -> httpx.Response:
        body = {"op": "collection.find", "collection": "items", "match": {}, "limit": 5}
        return http.post(f"/api/{database_id}", json=body, headers=headers)

    return call


def inserter(database_id: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    def call(http: httpx.Client) -> httpx.Response:
        body = {"op": "collection.insert", "collection": "items", "data": [{"x": 1}]}
        return http.post(f"/api/{database_id}", json=body, headers=headers)

    return call


def test_postgresql_restarted_under_load(own_postgres: EmbeddedPostgres) -> None:
    with serve(own_postgres.url, pool_acquire_timeout=1.0) as (server, http):
        account = account_on(http, own_postgres.url)
        database_id = create_database(http, account)
        with RequestLoop(server.url, finder(database_id, account.headers), clients=3) as loop:
            before = loop.wait_for_outcomes(after=0, count=6, within=30)
            assert {o.status for o in before} == {200}

            own_postgres.stop()
            stopped = time.monotonic()
            # Requests that start once PostgreSQL is surely gone; as many as each client's two.
            outage = loop.wait_for_outcomes(after=stopped + 0.5, count=2 * loop.clients, within=30)
            assert {o.status for o in outage} == {503}, {o.status for o in outage}
            slowest = max(o.elapsed for o in outage)
            assert slowest < 3.0, f"a request took {slowest:.1f} s to fail; they must fail fast"
            assert http.get("/ready").status_code == 503
            assert http.get("/health").status_code == 200

            own_postgres.start()
            restarted = time.monotonic()
            first_ok = loop.wait_for(lambda o: o.status == 200, after=restarted, within=RECOVERY_PROMISE)
            assert first_ok is not None, "no request succeeded within 10 s of PostgreSQL's return"
            assert first_ok.started + first_ok.elapsed - restarted < RECOVERY_PROMISE
            settled = first_ok.started + first_ok.elapsed + 0.5
            after = loop.wait_for_outcomes(after=settled, count=2 * loop.clients, within=30)
            assert {o.status for o in after} == {200}, {o.status for o in after}
        assert all(o.status is not None for o in loop.outcomes), "pgcube itself never went away"
        assert not any(o.status == 500 for o in loop.outcomes)
        assert http.get("/ready").status_code == 200


def test_terminated_backends_fail_only_the_requests_in_flight(private_database: str) -> None:
    database = urlsplit(private_database).path.lstrip("/")
    with serve(private_database, pool_min_size=5, pool_max_size=5) as (server, http):
        account = account_on(http, private_database)
        database_id = create_database(http, account)
        admin = SyncPg(private_database)
        try:
            with RequestLoop(server.url, inserter(database_id, account.headers), clients=4) as loop:
                loop.wait_for_outcomes(after=0, count=20, within=30)  # the pool is in use
                kill_started = time.monotonic()
                # With a timeout, pg_terminate_backend returns once each backend has exited (not
                # when the signal is sent): kill_done is after the last connection died.
                terminated = admin.fetchval(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
                    "WHERE datname = $1 AND application_name = 'pgcube' AND pid <> pg_backend_pid()",
                    database,
                )
                kill_done = time.monotonic()
                loop.wait_for_outcomes(after=kill_done, count=10, within=30)
            assert terminated >= 1
            failed = [o for o in loop.outcomes if o.status != 200]
            for outcome in failed:
                assert outcome.status == 503, f"a terminated backend answers 503, not {outcome.status}"
                in_flight = outcome.started <= kill_done and outcome.started + outcome.elapsed >= kill_started
                assert in_flight, "only requests in flight at the termination may fail"
            after = loop.since(kill_done)
            assert {o.status for o in after} == {200}, "the pool refilled"
            # Each terminated backend fails at most the one request that was using it; a client whose
            # request failed may meet a second backend before the termination loop reaches it.
            assert len(failed) <= terminated
        finally:
            admin.close()
        assert http.get("/ready").status_code == 200


@contextmanager
def captured_warnings(logger: str) -> Iterator[list[str]]:
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    target = logging.getLogger(logger)
    old_level = target.level
    target.addHandler(handler)
    target.setLevel(logging.WARNING)
    try:
        yield messages
    finally:
        target.removeHandler(handler)
        target.setLevel(old_level)


def test_startup_warns_when_synchronous_commit_is_off(private_database: str) -> None:
    database = urlsplit(private_database).path.lstrip("/")
    with captured_warnings("pgcube") as messages, serve(private_database):
        pass
    assert not any("synchronous_commit" in m for m in messages)

    admin = SyncPg(private_database)
    try:
        admin.execute(f'ALTER DATABASE "{database}" SET synchronous_commit = off')
    finally:
        admin.close()
    with captured_warnings("pgcube") as messages, serve(private_database):
        pass
    assert any("synchronous_commit is off" in m for m in messages), messages

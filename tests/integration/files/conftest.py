"""The file tests run twice: on the local disk and on a real S3-speaking server (moto, loopback).

``files_server`` is a pgcube served over HTTP with one of the two stores (one
server per backend, from the ``storage_backend`` fixture of ``tests/conftest.py``);
``files_client`` speaks to it. Databases, keys and end users come from the
usual helpers (``tests/support/accounts.py``, ``tests/support/end_users.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.live import LiveServer, linked_server
from tests.support.s3 import StorageBackend


@pytest.fixture(scope="package")
def files_server(pg_url: str, storage_backend: StorageBackend) -> Iterator[LiveServer]:
    with linked_server(pg_url, **storage_backend.overrides) as server:
        yield server


@pytest.fixture
def backend(storage_backend: StorageBackend) -> str:
    """``local`` or ``s3``: which store this run of the suite uses."""
    return storage_backend.kind


@pytest.fixture
def files_client(files_server: LiveServer) -> Iterator[httpx.Client]:
    with files_server.client() as http:
        yield http

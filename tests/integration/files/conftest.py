"""The file tests run twice: on the local disk and on a real S3-speaking server (moto, loopback).

``files_server`` is a pgcube served over HTTP with one of the two stores
(package-scoped, parametrized by backend); ``files_client`` speaks to it.
Databases, keys and end users come from the usual helpers
(``tests/support/accounts.py``, ``tests/support/end_users.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from pgcube.settings import Settings
from tests.support.live import LiveServer, free_port, test_settings
from tests.support.s3 import moto_s3

BACKENDS = ("local", "s3")


@pytest.fixture(scope="package", params=BACKENDS)
def files_server(
    request: pytest.FixtureRequest, pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with ExitStack() as stack:
        overrides: dict[str, object] = {}
        if request.param == "s3":
            overrides.update(stack.enter_context(moto_s3()))
        port = free_port()
        data_dir: Path = tmp_path_factory.mktemp(f"files-{request.param}")
        settings: Settings = test_settings(
            pg_url, data_dir=str(data_dir), public_url=f"http://127.0.0.1:{port}", **overrides
        )
        server = stack.enter_context(LiveServer(settings, port=port))
        yield server


@pytest.fixture
def backend(files_server: LiveServer) -> str:
    """``local`` or ``s3``: which store this run of the suite uses."""
    return "s3" if files_server.settings.storage_url else "local"


@pytest.fixture
def files_client(files_server: LiveServer) -> Iterator[httpx.Client]:
    with files_server.client() as http:
        yield http

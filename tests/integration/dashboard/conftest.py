"""Fixtures of the dashboard's page tests: browsers signed in as an account, or as another."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.dashboard.support import signed_in
from tests.support.accounts import Account
from tests.support.live import LiveServer


@pytest.fixture
def dashboard(live_server: LiveServer, account: Account) -> Iterator[httpx.Client]:
    """A browser signed in to the dashboard as ``account``."""
    with live_server.client() as http:
        yield signed_in(http, account)


@pytest.fixture
def intruder(live_server: LiveServer, other_account: Account) -> Iterator[httpx.Client]:
    """A browser signed in as another account."""
    with live_server.client() as http:
        yield signed_in(http, other_account)

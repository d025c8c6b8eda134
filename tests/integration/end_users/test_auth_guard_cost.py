"""The end-user guard on the hot path: with warm caches, a request with a web key and an
id_token sends no statement to check them (the key, the token's session and the database all
come from this process's caches), and an ended session is still refused at once.

Counted with PostgreSQL's own statement log (``tests/support/statement_log.py``), as the
document routes' round trips are (``tests/integration/pipeline/test_round_trips.py``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.end_users.conftest import Project, make_project
from tests.support.accounts import Account, new_account
from tests.support.live import LiveServer, test_settings
from tests.support.statement_log import StatementLog, statement_log
from tests.support.sync_pg import SyncPg


@pytest.fixture(scope="module")
def logged(pg_url: str) -> Iterator[StatementLog]:
    with statement_log(pg_url) as log:
        yield log


@pytest.fixture(scope="module")
def http(logged: StatementLog) -> Iterator[httpx.Client]:
    settings = test_settings(
        logged.url, rate_limit_requests=0, rate_limit_core_requests=0, pool_min_size=1, pool_max_size=1
    )
    with LiveServer(settings) as live, live.client() as client:
        yield client


@pytest.fixture(scope="module")
def account(http: httpx.Client, pg: SyncPg) -> Account:
    return new_account(http, pg)


@pytest.fixture(scope="module")
def project(http: httpx.Client, pg: SyncPg, account: Account) -> Iterator[Project]:
    made = make_project(http, pg, account)
    yield made
    made.drop()


def test_a_warm_end_user_request_checks_its_credentials_without_a_statement(
    project: Project, logged: StatementLog, pg: SyncPg
) -> None:
    user = project.new_user()
    headers = project.user(user.id_token)
    for _ in range(2):
        assert project.ok({"op": "auth.settings"}, headers)["enabled"] is True
    deadline = time.monotonic() + 10  # the key's first use is written in the background
    while not pg.fetchval(
        "SELECT last_used_at IS NOT NULL FROM pgcube.api_keys WHERE database_id = $1 AND kind = 'web'",
        project.id,
    ):
        assert time.monotonic() < deadline, "last_used_at was never written"
        time.sleep(0.05)
    logged.take()
    assert project.ok({"op": "auth.settings"}, headers)["allow_email_signup"] is True
    assert logged.take() == []
    # Signed out: refused at once, by this process and without waiting for a notification.
    assert project.ok({"op": "auth.signout"}, headers) == {"count": 1}
    logged.take()
    project.error({"op": "auth.settings"}, 401, "AUTHENTICATION_FAILED", headers)
    (looked_up,) = logged.take()  # the session, read again once: the log does see statements
    assert "_sessions" in looked_up

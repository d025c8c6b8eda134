"""No password, token or key ever appears in a log (RELIABILITY A6).

The servers run in this process, so every record they log reaches ``caplog``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from pgcube.auth.redact import RedactCredentials
from tests.integration.core.mail import sent_reset_token
from tests.support.accounts import (
    api_key_headers,
    create_api_key,
    login,
    new_account,
    outbox,
    register,
    unique_email,
    verification_token,
)
from tests.support.live import LiveServer, test_settings
from tests.support.sync_pg import SyncPg

CLIENT_SIDE = ("httpx", "httpcore")  # the test's own HTTP client logs the URLs it requests
STRONG_SECRET = "prod-4f9c2a7e1b8d3c6a5e0f9b2d7c4a1e8f3b6d9c2a5e8f1b4d"


def _server_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    lines = []
    for record in caplog.records:
        if record.name.startswith(CLIENT_SIDE):
            continue
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        lines.append((record.name, text))
    return lines


def test_the_whole_flow_logs_no_credential(
    probe: httpx.Client, pg: SyncPg, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "Sup3r-Secret-Passw0rd-For-Logs"
    account = new_account(probe, pg, password=password)
    login(probe, account.email, "Wr0ng-Passw0rd-For-Logs")
    refreshed = probe.post("/core/token/refresh", json={"refresh": account.refresh}).json()
    key = create_api_key(probe, account)
    probe.get("/probe/any", headers=api_key_headers(key))
    probe.get("/probe/any", headers=api_key_headers(key[:-1] + "0"))
    probe.get("/probe/jwt", headers={"Authorization": f"Bearer {account.access}x"})
    probe.delete(f"/core/api/v1/keys/{key[4:20]}", headers=account.headers)
    pg.execute("UPDATE pgcube.accounts SET last_email_at = NULL WHERE id = $1::uuid", account.account_id)
    probe.post("/core/password-reset/request", json={"email": account.email})
    reset = sent_reset_token(pg, account.email)
    new_password = "An0ther-Secret-Passw0rd-For-Logs"
    probe.post("/core/password-reset/confirm", json={"token": reset, "password": new_password})
    probe.post("/core/logout", json={"refresh": refreshed["refresh"]})

    verify = verification_token(pg, account.email)
    secrets = {
        "password": password,
        "wrong password": "Wr0ng-Passw0rd-For-Logs",
        "new password": new_password,
        "access token": account.access,
        "access signature": account.access.rsplit(".", 1)[1],
        "refresh token": account.refresh,
        "rotated refresh token": refreshed["refresh"],
        "rotated access token": refreshed["access"],
        "API key": key,
        "API key secret": key[21:],
    }
    lines = _server_lines(caplog)
    assert any(name.startswith("pgcube") for name, _ in lines), "the capture saw no server log at all"
    for name, text in lines:
        for what, value in secrets.items():
            assert value not in text, f"{what} leaked in a {name} log line"
        # One-time email tokens appear only in the development outbox's own log lines (the link a
        # local user follows), never elsewhere.
        if name != "pgcube.outbox":
            assert verify not in text, f"a verification token leaked in a {name} log line"
            assert reset not in text, f"a reset token leaked in a {name} log line"
    assert any(verify in text for name, text in lines if name == "pgcube.outbox")


def test_the_access_log_is_filtered(probe: httpx.Client) -> None:
    assert any(isinstance(f, RedactCredentials) for f in logging.getLogger("uvicorn.access").filters)


@pytest.fixture(scope="module")
def production_server(pg_url: str) -> Iterator[LiveServer]:
    with LiveServer(test_settings(pg_url, environment="production", jwt_secret=STRONG_SECRET)) as server:
        yield server


def test_outside_development_the_log_never_holds_the_link(
    production_server: LiveServer, pg: SyncPg, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    email = unique_email("prod")
    with production_server.client() as http:
        register(http, email)
    token = verification_token(pg, email)
    assert token in outbox(pg, email)[0]  # still readable from the outbox table
    lines = _server_lines(caplog)
    assert any(name == "pgcube.outbox" for name, _ in lines)
    assert all(token not in text for _, text in lines)

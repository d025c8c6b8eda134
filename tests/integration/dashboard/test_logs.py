"""The dashboard's in-process calls of the API leave no line in the log: httpx would log each
URL, and a file's preview fetches its signed link, a credential (RELIABILITY A6)."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.integration.dashboard.app_support import create_database, submit
from tests.support.accounts import Account


def test_a_file_page_logs_no_api_call_and_no_signed_link(
    dashboard: httpx.Client, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"/databases/{create_database(dashboard, account)}/files"
    sent = submit(dashboard, url, url, {}, files={"file": ("notes.txt", b"a note", "text/plain")})
    assert sent.status_code == 303, sent.text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        page = dashboard.get(sent.headers["location"])
    assert page.status_code == 200
    assert "a note" in page.text, "the preview fetched the file through its signed link"
    logged = [record.getMessage() for record in caplog.records]
    assert not [line for line in logged if "pgcube.internal" in line or "sig=" in line], logged

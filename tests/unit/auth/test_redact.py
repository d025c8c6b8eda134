"""Verification tokens in URLs never reach the access log (A6)."""

from __future__ import annotations

import logging

from pgcube.auth.redact import RedactCredentials, redact

TOKEN = "Zk3P9vQ2rT8xZ1mN6bW4cY7hJ0sL5dF-aE2gU9iO3p_"


def test_a_uvicorn_access_record_loses_the_token() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/core/verify-email/{TOKEN}?x=1", "1.1", 200),
        None,
    )
    assert RedactCredentials().filter(record)
    assert TOKEN not in record.getMessage()
    assert "/core/verify-email/[redacted]?x=1" in record.getMessage()


def test_other_paths_are_left_alone() -> None:
    for text in ("/core/verify-email/resend", "/core/login", "/api/crud?database_id=abc"):
        assert redact(text) == text

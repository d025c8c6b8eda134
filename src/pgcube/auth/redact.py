"""Keep credentials out of logs (RELIABILITY A6).

pgcube never logs a password, token or key itself. The one credential that
travels in a URL is the email-verification token (``GET
/core/verify-email/{token}``: it has to be a link), and an HTTP server's
access log writes URLs. ``RedactCredentials`` rewrites such paths in any
record it sees; ``install`` puts it on the access-log loggers of uvicorn.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGERS = ("uvicorn.access", "granian.access")
_TOKEN_IN_PATH = re.compile(r"(/core/verify-email/)(?!resend\b)[^/\s?#\"']+")
REDACTED = r"\1[redacted]"


def redact(text: str) -> str:
    return _TOKEN_IN_PATH.sub(REDACTED, text)


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Attach the filter to the access loggers (once per process)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())

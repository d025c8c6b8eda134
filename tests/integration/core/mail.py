"""Reading mail that is written after the answer.

Resend and password-reset requests answer first and look the address up, make
the token and write the email afterwards (ADR 0015: the answer's timing says
nothing about the address). A test reads such mail when it has arrived:
``sent_reset_token`` and ``sent_verification_token`` wait for a new message;
``settled_outbox`` waits long enough for any pending one before a test counts
what was (not) sent.
"""

from __future__ import annotations

import time

from tests.support.accounts import outbox, reset_token, verification_token
from tests.support.sync_pg import SyncPg

WAIT_SECONDS = 10.0
SETTLE_SECONDS = 0.5
"""Far longer than the work after an answer takes (a few milliseconds)."""


def _count(pg: SyncPg, email: str, marker: str) -> int:
    return sum(marker in body for body in outbox(pg, email))


def _wait_for_more(pg: SyncPg, email: str, marker: str, already: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while _count(pg, email, marker) <= already:
        assert time.monotonic() < deadline, f"no new email ({marker!r}) for {email}"
        time.sleep(0.02)


def reset_mails(pg: SyncPg, email: str) -> int:
    return _count(pg, email, "reset token is")


def verification_mails(pg: SyncPg, email: str) -> int:
    return _count(pg, email, "/core/verify-email/")


def sent_reset_token(pg: SyncPg, email: str, already: int = 0) -> str:
    """The token of the first reset email after the ``already`` ones, once it has been written."""
    _wait_for_more(pg, email, "reset token is", already)
    return reset_token(pg, email)


def sent_verification_token(pg: SyncPg, email: str, already: int = 0) -> str:
    _wait_for_more(pg, email, "/core/verify-email/", already)
    return verification_token(pg, email)


def settled_outbox(pg: SyncPg, email: str) -> list[str]:
    """The messages sent to ``email`` once any still being prepared has been written."""
    time.sleep(SETTLE_SECONDS)
    return outbox(pg, email)

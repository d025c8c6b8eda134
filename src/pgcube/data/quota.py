"""The per-account document quota (``quota_documents``; issue 14, finding 6) on every insert path.

An import checks it exactly, under a per-account lock, against a fresh
estimate (``pgcube.data.imports``). An insert request (a batch of at most
``max_batch_size`` documents) checks it against this process's estimate of
the account's documents, read from PostgreSQL's statistics at most once per
``REFRESH_SECONDS`` per account and grown by what this process inserted
since: the warm path costs no statement (issue 12). Several processes may
each add up to ``REFRESH_SECONDS`` of inserts past the quota before their
estimates catch up — a generous, finite limit, not an exact one.
"""

from __future__ import annotations

import time

from pgcube.data import repository
from pgcube.db.transaction import Connection
from pgcube.errors import QuotaExceeded

REFRESH_SECONDS = 60.0


def quota_error(
    limit: int, existing: int, adding: int, *, at_least: bool = False, what: str
) -> QuotaExceeded:
    more = f"at least {adding}" if at_least else str(adding)
    return QuotaExceeded(
        f"Quota exceeded: at most {limit} documents per account; it holds about {existing} and "
        f"{what} would add {more}. Nothing was written",
        details={"quota": "documents", "limit": limit, "existing": existing, "adding": adding},
    )


class InsertQuota:
    """This process's estimate of each account's documents, for the insert requests."""

    def __init__(self) -> None:
        self._estimates: dict[str, tuple[float, int]] = {}
        """account id → (when PostgreSQL's statistics were read, the documents then plus ours since)"""

    async def admit(self, conn: Connection, account_id: str, adding: int, limit: int) -> None:
        """Count ``adding`` new documents for the account, or raise ``QuotaExceeded``."""
        now = time.monotonic()
        read_at, existing = self._estimates.get(account_id, (float("-inf"), 0))
        if now - read_at > REFRESH_SECONDS:
            read_at, existing = now, await repository.account_documents(conn, account_id)
        if existing + adding > limit:
            self._estimates[account_id] = (read_at, existing)
            raise quota_error(limit, existing, adding, what="this request")
        self._estimates[account_id] = (read_at, existing + adding)


INSERTS = InsertQuota()
"""The process's estimates (a module value, like the catalog caches)."""

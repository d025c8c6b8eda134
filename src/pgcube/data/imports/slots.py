"""How many imports run at once (RELIABILITY H1): per account, and in all, in one process.

An import may wait on its client for as long as its time limits allow, and
once it writes it holds a pooled connection for the rest of the upload. So
that slow or stalled uploads can never take every connection, a process runs
at most ``import_max_concurrent`` imports (and never more than half of
``pool_max_size``), and one account at most
``import_max_concurrent_per_account`` of them. One import too many is refused
at once, before its body is read: 429 ``TOO_MANY_IMPORTS`` for the account's
limit, 503 ``SERVICE_UNAVAILABLE`` for the process's, both with
``Retry-After``.

The counts are this process's (the pool is too); nothing waits for a slot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar, Final

from pgcube.errors import PgcubeError, ServiceUnavailable
from pgcube.settings import Settings

RETRY_AFTER: Final = 5
"""Seconds a refused import is told to wait (a guess: an import lasts as long as its upload)."""


class TooManyImports(PgcubeError):
    status: ClassVar[int] = 429
    code: ClassVar[str] = "TOO_MANY_IMPORTS"
    default_message: ClassVar[str] = "Too many imports at once for this account"


def process_limit(settings: Settings) -> int:
    """Imports at once in this process: the setting, but at most half of the pool (and at least one)."""
    return max(1, min(settings.import_max_concurrent, settings.pool_max_size // 2))


class ImportSlots:
    def __init__(self, settings: Settings) -> None:
        self.limit = process_limit(settings)
        self.per_account = max(1, min(settings.import_max_concurrent_per_account, self.limit))
        self._running: Counter[str] = Counter()

    @property
    def running(self) -> int:
        return self._running.total()

    @contextmanager
    def slot(self, account_id: str) -> Iterator[None]:
        """One import of ``account_id`` for the block, or refused at once (429, then 503)."""
        if self._running[account_id] >= self.per_account:
            raise TooManyImports(
                f"This account already runs {self.per_account} imports at once; "
                f"try again when one has finished (in {RETRY_AFTER} s, say)",
                details={"limit": self.per_account, "retry_after": RETRY_AFTER},
                headers={"Retry-After": str(RETRY_AFTER)},
            )
        if self.running >= self.limit:
            raise ServiceUnavailable(
                f"The server runs its maximum of {self.limit} imports at once; try again shortly",
                retry_after=RETRY_AFTER,
            )
        self._running[account_id] += 1
        try:
            yield
        finally:
            self._running[account_id] -= 1
            if not self._running[account_id]:
                del self._running[account_id]

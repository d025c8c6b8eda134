"""Periodic housekeeping: forget expired trash and idempotency answers.

Every worker runs the loop; a transaction-level advisory lock lets one of
them do each round while the others skip it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pgcube.data import idempotency, repository
from pgcube.settings import Settings

log = logging.getLogger("pgcube.maintenance")

MAINTENANCE_LOCK_ID = 0x70676D74  # "pgmt"
MAX_INTERVAL = 600.0


async def run_once(pool: Any, settings: Settings) -> tuple[int, int] | None:
    """One round: (trash rows purged, idempotency answers purged), or None if another worker has it."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", MAINTENANCE_LOCK_ID):
            return None
        trash = await repository.purge_trash(conn, older_than=settings.trash_retention)
        answers = await idempotency.purge(conn, older_than=settings.idempotency_retention)
    return trash, answers


async def maintenance_loop(pool: Any, settings: Settings) -> None:
    interval = min(MAX_INTERVAL, max(1.0, settings.trash_retention / 4))
    while True:
        await asyncio.sleep(interval)
        try:
            purged = await run_once(pool, settings)
        except Exception:  # the database may be down: try again next round
            log.warning("maintenance round failed; retrying in %.0f s", interval, exc_info=True)
            continue
        if purged and any(purged):
            log.info("purged %d expired trash rows and %d idempotency answers", *purged)

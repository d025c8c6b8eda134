"""Periodic housekeeping: forget expired trash and idempotency answers, and run the sweeps of
the layers above (the files' stale uploads).

Every worker runs the loop; a transaction-level advisory lock lets one of
them do each round while the others skip it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

from pgcube.data import idempotency, repository
from pgcube.settings import Settings

log = logging.getLogger("pgcube.maintenance")

MAINTENANCE_LOCK_ID = 0x70676D74  # "pgmt"
MAX_INTERVAL = 600.0

Sweep = Callable[[Any], Awaitable[int]]
"""A housekeeping step of a layer above this one (``files.service.sweep_all_stale_uploads``):
run on the round's connection, in its transaction; how many things it removed."""


class Round(NamedTuple):
    trash: int
    answers: int
    swept: int


async def run_once(pool: Any, settings: Settings, sweeps: Sequence[Sweep] = ()) -> Round | None:
    """One round (trash rows purged, idempotency answers purged, things the sweeps removed), or
    None if another worker has it."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", MAINTENANCE_LOCK_ID):
            return None
        trash = await repository.purge_trash(conn, older_than=settings.trash_retention)
        answers = await idempotency.purge(conn, older_than=settings.idempotency_retention)
        swept = 0
        for sweep in sweeps:
            swept += await sweep(conn)
    return Round(trash, answers, swept)


def interval_of(settings: Settings) -> float:
    """Seconds between rounds: a quarter of the shortest retention, between 1 s and 10 minutes."""
    shortest = min(settings.trash_retention, settings.pending_upload_retention)
    return min(MAX_INTERVAL, max(1.0, shortest / 4))


async def maintenance_loop(pool: Any, settings: Settings, sweeps: Sequence[Sweep] = ()) -> None:
    interval = interval_of(settings)
    while True:
        await asyncio.sleep(interval)
        try:
            done = await run_once(pool, settings, sweeps)
        except Exception:  # the database (or a store) may be down: try again next round
            log.warning("maintenance round failed; retrying in %.0f s", interval, exc_info=True)
            continue
        if done and any(done):
            log.info("purged %d expired trash rows and %d idempotency answers; swept %d stale uploads", *done)

"""Checks of the server's configuration at startup (RELIABILITY F2).

pgcube acknowledges a write once PostgreSQL committed it; that survives a
crash only if the commit reached the WAL on disk. ``synchronous_commit = off``
(or ``fsync = off``) trades that away, so startup says so loudly.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("pgcube")

DURABILITY_SETTINGS = ("synchronous_commit", "fsync")


async def durability_warnings(pool: Any) -> list[str]:
    """One message per setting that lets an acknowledged write be lost in a crash."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])", list(DURABILITY_SETTINGS)
        )
    values = {row["name"]: row["setting"] for row in rows}
    found = []
    if values.get("synchronous_commit") == "off":
        found.append(
            "synchronous_commit is off: a write pgcube acknowledged can be lost if PostgreSQL crashes; "
            "set synchronous_commit = on (RELIABILITY F2)"
        )
    if values.get("fsync") == "off":
        found.append(
            "fsync is off: an operating-system crash can lose or corrupt acknowledged writes; "
            "set fsync = on outside throw-away test servers"
        )
    return found


async def warn_if_not_durable(pool: Any) -> None:
    try:
        found = await durability_warnings(pool)
    except Exception:  # the database may not answer yet: /ready reports that, not this check
        log.warning("could not check synchronous_commit at startup", exc_info=True)
        return
    for message in found:
        log.warning(message)

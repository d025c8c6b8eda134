"""The two look-ups every end-user request makes: its database, and whether its session is live.

Both answer from this process's caches when they can (``pgcube.control_plane_cache``,
ADR 0012), so a warm request sends no statement: the database row is the one the
document routes cache, and a session's state is evicted by the notification its
table sends when the session ends or its user is disabled, deleted or signs out
everywhere (migration 0006).
"""

from __future__ import annotations

import time

from pgcube.auth.tokens import is_uuid
from pgcube.control_plane_cache import caches
from pgcube.db.session import Session
from pgcube.management.service import resolve_database
from pgcube.principal import Principal
from pgcube.users.repository import UserSessionRow, UsersRepository
from pgcube.users.tokens import IdClaims


async def session_is_live(session: Session, principal: Principal, claims: IdClaims) -> bool:
    """Whether the session an ``id_token`` names is live: not signed out, not ended by a password
    change, not expired, its user neither disabled nor deleted (RELIABILITY H4, I2)."""
    if not is_uuid(claims.sid):
        return False

    async def load() -> UserSessionRow | None:
        database = await resolve_database(session, principal, claims.pid)
        repo = UsersRepository(await session.connection(), database.schema_name)
        return await repo.session_state(claims.sid, database.id)

    row = await caches().user_sessions.get_or_load(claims.sid, load)
    return (
        row is not None
        and row.live
        and row.user_key == claims.sub
        and row.database_id == claims.pid
        and time.time() < row.expires_at
    )

"""The two look-ups every end-user request makes: its database, and whether its session is live.

Both answer from this process's caches when they can (``pgcube.control_plane_cache``,
ADR 0012), so a warm request sends no statement: the database row is the one the
document routes cache, and a session's state is evicted by the notification its
table sends when the session ends or its user is disabled, deleted or signs out
everywhere (migration 0006).
"""

from __future__ import annotations

import time

from pgcube import errors
from pgcube.auth.tokens import is_uuid
from pgcube.control_plane_cache import caches
from pgcube.db.session import Session
from pgcube.management import repository as catalog
from pgcube.management.models import Database
from pgcube.management.naming import is_database_id
from pgcube.principal import Principal
from pgcube.users.repository import UserSessionRow, UsersRepository
from pgcube.users.tokens import IdClaims


async def database_for(session: Session, principal: Principal, database_id: str) -> Database:
    """The principal's database ``database_id``, else ``DatabaseNotFound`` — the same answer for
    another account's database, a malformed id and one that does not exist (SPEC §2)."""
    if not is_database_id(database_id) or not principal.can_reach(database_id):
        raise errors.DatabaseNotFound()
    cached = caches()
    database = cached.databases.get(database_id)
    if database is None:
        generation = cached.databases.generation
        conn = await session.connection()
        database = await catalog.fetch_database(
            conn, account_id=principal.account_id, database_id=database_id
        )
        if database is not None and not session.in_transaction:
            cached.databases.put(database_id, database, generation)
    if database is None or database.account_id != principal.account_id:
        raise errors.DatabaseNotFound()
    return database


async def session_is_live(session: Session, principal: Principal, claims: IdClaims) -> bool:
    """Whether the session an ``id_token`` names is live: not signed out, not ended by a password
    change, not expired, its user neither disabled nor deleted (RELIABILITY H4, I2)."""
    if not is_uuid(claims.sid):
        return False

    async def load() -> UserSessionRow | None:
        database = await database_for(session, principal, claims.pid)
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

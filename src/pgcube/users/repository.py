"""Data access for the end users of one database: its ``_users``, ``_sessions`` and ``_otps``.

The only module of ``pgcube.users`` that speaks SQL. Every statement is a named
statement of ``sql/users.sql``; its ``{schema}`` is the database's schema, quoted
once per schema (``in_schema``), and values are ``$n`` parameters. The service
chooses the transactions (``pgcube.db.session.Session.transaction``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from pgcube.db import statements
from pgcube.management.naming import in_schema
from pgcube.users.models import EndUser

Connection = Any
"""An asyncpg connection or pool proxy (asyncpg ships no type information)."""

SQL = statements.load("users")
MAX_CODE_TRIES = 5


# --- rows ------------------------------------------------------------------------------


class UserSessionRow(msgspec.Struct, frozen=True):
    """What an ``id_token``'s check needs of its session (cached per process,
    ``pgcube.control_plane_cache``)."""

    user_key: str
    database_id: str
    live: bool
    """Not ended, its user not disabled, and created after the user's ``sessions_valid_after``."""
    expires_at: float
    """Unix time: a session ends by itself 30 days after sign-in."""


class SigninRow(msgspec.Struct, frozen=True):
    user_key: str
    password_hash: str | None
    email_verified: bool
    disabled: bool


class Rotated(msgspec.Struct, frozen=True):
    session_id: str
    aud: str
    user: EndUser


class Replayed(msgspec.Struct, frozen=True):
    """The session whose spent refresh token was presented again."""

    session_id: str
    user_key: str
    last_rotation: bool
    """The token is the one its last rotation spent (concurrent refreshes send that one)."""
    seconds_ago: float | None
    ended: bool


class CodeTry(msgspec.Struct, frozen=True):
    user_key: str
    matched: bool
    new_email: str | None


def _user(row: Any, offset: int = 0) -> EndUser:
    values = tuple(row)[offset:]
    return EndUser(
        user_key=values[0],
        email=values[1],
        email_verified=values[2],
        display_name=values[3],
        photo_url=values[4],
        phone_number=values[5],
        metadata=bytes(values[6]),
        roles=tuple(values[7]),
        auth_types=tuple(values[8]),
    )


class UsersRepository:
    def __init__(self, conn: Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    def _sql(self, statement: str) -> str:
        return in_schema(statement, self.schema)

    # --- users -------------------------------------------------------------------------

    async def create_user(
        self,
        user_key: str,
        email: str,
        canonical: str,
        password_hash: str,
        display_name: str | None,
        phone_number: str | None,
        metadata: bytes,
    ) -> bool:
        """Whether the user was created (False: the address is taken)."""
        created = await self.conn.fetchval(
            self._sql(SQL.create_user),
            user_key,
            email,
            canonical,
            password_hash,
            display_name,
            phone_number,
            metadata,
        )
        return created is not None

    async def signin_row(self, canonical: str) -> SigninRow | None:
        row = await self.conn.fetchrow(self._sql(SQL.signin_row), canonical)
        return None if row is None else SigninRow(*row)

    async def password_hash(self, user_key: str) -> str | None:
        value: str | None = await self.conn.fetchval(self._sql(SQL.password_row), user_key)
        return value

    async def profile(self, user_key: str) -> EndUser | None:
        row = await self.conn.fetchrow(self._sql(SQL.profile), user_key)
        return None if row is None else _user(row)

    async def signed_in(self, user_key: str, *, proved_email: bool) -> EndUser | None:
        row = await self.conn.fetchrow(self._sql(SQL.signed_in), user_key, proved_email)
        return None if row is None else _user(row)

    async def upgrade_hash(self, user_key: str, old_hash: str, new_hash: str) -> None:
        await self.conn.execute(self._sql(SQL.upgrade_hash), user_key, old_hash, new_hash)

    async def update_profile(self, user_key: str, changes: dict[str, Any]) -> EndUser | None:
        """Set the fields ``changes`` names (display_name, phone_number, photo_url, metadata)."""
        args: list[Any] = [user_key]
        for field in ("display_name", "phone_number", "photo_url", "metadata"):
            args += [field in changes, changes.get(field)]
        row = await self.conn.fetchrow(self._sql(SQL.update_profile), *args)
        return None if row is None else _user(row)

    async def set_password(self, user_key: str, password_hash: str, *, by_code: bool) -> EndUser | None:
        """A new password (``by_code``: a code sent to the address allowed it, which verifies the
        address and ends every session of the user)."""
        row = await self.conn.fetchrow(self._sql(SQL.set_password), user_key, password_hash, by_code)
        return None if row is None else _user(row)

    async def verify_email(self, user_key: str) -> bool:
        return await self.conn.fetchval(self._sql(SQL.verify_email), user_key) is not None

    async def change_email(self, user_key: str, email: str, canonical: str) -> EndUser | None:
        """None when another user has the address (or the user is disabled)."""
        row = await self.conn.fetchrow(self._sql(SQL.change_email), user_key, email, canonical)
        return None if row is None else _user(row)

    # --- sessions ----------------------------------------------------------------------

    async def open_session(self, user_key: str, aud: str, refresh_hash: bytes, ttl: int) -> str:
        """A new session (the user's dead ones are forgotten first); its id."""
        await self.conn.execute(self._sql(SQL.purge_dead_sessions), user_key)
        session_id: str = await self.conn.fetchval(
            self._sql(SQL.open_session), user_key, aud, refresh_hash, ttl
        )
        return session_id

    async def session_state(self, session_id: str, database_id: str) -> UserSessionRow | None:
        row = await self.conn.fetchrow(self._sql(SQL.session_state), session_id)
        return None if row is None else UserSessionRow(row[0], database_id, row[1], row[2])

    async def rotate_refresh_token(self, old_hash: bytes, new_hash: bytes) -> Rotated | None:
        row = await self.conn.fetchrow(self._sql(SQL.rotate_refresh_token), old_hash, new_hash)
        return None if row is None else Rotated(row[0], row[1], _user(row, offset=2))

    async def rotate_session(self, session_id: str, user_key: str, new_hash: bytes) -> str | None:
        """The session's audience, or None when it is not live."""
        aud: str | None = await self.conn.fetchval(
            self._sql(SQL.rotate_session), session_id, user_key, new_hash
        )
        return aud

    async def replayed_session(self, token_hash: bytes) -> Replayed | None:
        row = await self.conn.fetchrow(self._sql(SQL.replayed_session), token_hash)
        return None if row is None else Replayed(*row)

    async def end_session(self, session_id: str, user_key: str) -> list[str]:
        """End one live session; the ids ended (none when it had ended already)."""
        rows = await self.conn.fetch(self._sql(SQL.end_session), session_id, user_key)
        return [row[0] for row in rows]

    async def end_sessions(self, user_key: str, keep: str | None = None) -> list[str]:
        """End every live session of the user but ``keep``; the ids ended."""
        rows = await self.conn.fetch(self._sql(SQL.end_sessions), user_key, keep)
        return [row[0] for row in rows]

    # --- one-time codes ----------------------------------------------------------------

    async def issue_code(
        self, canonical: str, intent: str, code_hash: bytes, ttl: int, interval: int
    ) -> str | None:
        """The address to send a new code to, or None when none is due (see ``issue_code``)."""
        address: str | None = await self.conn.fetchval(
            self._sql(SQL.issue_code), canonical, intent, code_hash, ttl, interval
        )
        return address

    async def issue_email_change_code(
        self, user_key: str, new_email: str, canonical: str, code_hash: bytes, ttl: int, interval: int
    ) -> bool:
        """Whether a change_email code is due and was stored (to send to ``new_email``)."""
        issued = await self.conn.fetchval(
            self._sql(SQL.issue_email_change_code),
            canonical,
            "change_email",
            code_hash,
            ttl,
            interval,
            user_key,
            new_email,
        )
        return issued is not None

    async def check_code(
        self, canonical: str, intent: str, code_hash: bytes, user_key: str | None = None
    ) -> CodeTry | None:
        """One try of the live code for (address, intent); None when there is no live code."""
        row = await self.conn.fetchrow(
            self._sql(SQL.check_code), canonical, intent, code_hash, MAX_CODE_TRIES, user_key
        )
        return None if row is None else CodeTry(*row)

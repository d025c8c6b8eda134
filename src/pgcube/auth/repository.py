"""Data access for accounts, sessions, email tokens, API keys and the outbox.

The only module of ``pgcube.auth`` that speaks SQL (and imports asyncpg).
Every statement is static text with ``$n`` parameters. Statements that must
be atomic under concurrency are single ``UPDATE ... RETURNING`` statements
(redeeming a one-time token, spending a refresh token, the email throttle,
the login throttle), so PostgreSQL's row locks decide the races.

``Transactions`` opens short transactions on demand. The ``/core`` routes use
it instead of the request-wide ``conn`` dependency for two reasons: a
connection is never held while a password is hashed (a login storm must not
drain the pool), and some answers are errors whose side effect must still be
committed (a counted login attempt, a refresh-token family revoked on reuse).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec

from pgcube.auth.email import Mail

Connection = Any
"""An asyncpg connection or pool proxy (asyncpg ships no type information)."""


class Transactions:
    """``async with tx() as conn``: a pooled connection in a transaction, committed on exit."""

    def __init__(
        self,
        acquire: Callable[[], Awaitable[Connection]],
        release: Callable[[Connection], Awaitable[None]],
    ) -> None:
        self._acquire = acquire
        self._release = release

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AccountsRepository]:
        conn = await self._acquire()
        try:
            async with conn.transaction():
                yield AccountsRepository(conn)
        finally:
            await self._release(conn)


# --- rows ------------------------------------------------------------------------------


class LoginRow(msgspec.Struct, frozen=True):
    id: str
    password_hash: str
    email_verified: bool


class MailTarget(msgspec.Struct, frozen=True):
    id: str
    email: str
    email_verified: bool


class ProfileRow(msgspec.Struct, frozen=True):
    id: str
    email: str
    first_name: str
    last_name: str
    email_verified: bool
    created_at: dt.datetime


class Attempts(msgspec.Struct, frozen=True):
    count: int
    window_end: float
    """Unix time at which the window (and a lock-out) ends."""
    now: float


class RefreshState(msgspec.Struct, frozen=True):
    account_id: str
    family_id: str
    spent_seconds_ago: float | None
    revoked: bool
    expired: bool


class KeyRow(msgspec.Struct, frozen=True):
    id: str
    name: str
    prefix: str
    database_id: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class KeyAuthRow(msgspec.Struct, frozen=True):
    account_id: str
    secret_hash: bytes
    database_id: str | None


_CLAIM_MAIL_SLOT = """
UPDATE pgcube.accounts SET last_email_at = now()
WHERE email_canonical = $1
  AND (last_email_at IS NULL OR last_email_at <= now() - $2::int * interval '1 second')
RETURNING id::text, email, email_verified
"""
_CLAIM_RESET_SLOT = """
UPDATE pgcube.accounts SET last_reset_email_at = now()
WHERE email_canonical = $1
  AND (last_reset_email_at IS NULL OR last_reset_email_at <= now() - $2::int * interval '1 second')
RETURNING id::text, email, email_verified
"""


class AccountsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- accounts ----------------------------------------------------------------------

    async def create_account(
        self, email: str, canonical: str, first_name: str, last_name: str, password_hash: str
    ) -> str | None:
        """The new account's id, or None when the canonical email is taken."""
        value: str | None = await self.conn.fetchval(
            """
            INSERT INTO pgcube.accounts (email, email_canonical, first_name, last_name, password_hash,
                                         last_email_at)
            VALUES ($1, $2, $3, $4, $5, now())
            ON CONFLICT (email_canonical) DO NOTHING
            RETURNING id::text
            """,
            email,
            canonical,
            first_name,
            last_name,
            password_hash,
        )
        return value

    async def login_row(self, canonical: str) -> LoginRow | None:
        row = await self.conn.fetchrow(
            "SELECT id::text, password_hash, email_verified FROM pgcube.accounts WHERE email_canonical = $1",
            canonical,
        )
        return None if row is None else LoginRow(*row)

    async def claim_mail_slot(
        self, canonical: str, interval: int, *, reset: bool = False
    ) -> MailTarget | None:
        """The account, if it exists and was not mailed in the last ``interval`` seconds (then
        marked as mailed now); None otherwise. One statement: concurrent callers get one slot.

        Password-reset emails have a slot of their own: re-registering someone's
        address (which mails its owner) must not hold back their reset email.
        """
        statement = _CLAIM_RESET_SLOT if reset else _CLAIM_MAIL_SLOT
        row = await self.conn.fetchrow(statement, canonical, interval)
        return None if row is None else MailTarget(*row)

    async def profile(self, account_id: str) -> ProfileRow | None:
        row = await self.conn.fetchrow(
            """
            SELECT id::text, email, first_name, last_name, email_verified, created_at
            FROM pgcube.accounts WHERE id = $1::uuid
            """,
            account_id,
        )
        return None if row is None else ProfileRow(*row)

    async def update_profile(
        self, account_id: str, first_name: str | None, last_name: str | None
    ) -> ProfileRow | None:
        row = await self.conn.fetchrow(
            """
            UPDATE pgcube.accounts
            SET first_name = coalesce($2, first_name), last_name = coalesce($3, last_name), updated_at = now()
            WHERE id = $1::uuid
            RETURNING id::text, email, first_name, last_name, email_verified, created_at
            """,
            account_id,
            first_name,
            last_name,
        )
        return None if row is None else ProfileRow(*row)

    async def mark_verified(self, account_id: str) -> None:
        await self.conn.execute(
            "UPDATE pgcube.accounts SET email_verified = true, updated_at = now() WHERE id = $1::uuid",
            account_id,
        )

    async def replace_password(self, account_id: str, password_hash: str) -> None:
        """A reset: new hash; the emailed token proved the address, so it is verified too."""
        await self.conn.execute(
            """
            UPDATE pgcube.accounts
            SET password_hash = $2, password_changed_at = now(), email_verified = true, updated_at = now()
            WHERE id = $1::uuid
            """,
            account_id,
            password_hash,
        )

    async def upgrade_hash(self, account_id: str, old_hash: str, new_hash: str) -> None:
        """Re-hash with current parameters, unless the password changed meanwhile."""
        await self.conn.execute(
            "UPDATE pgcube.accounts SET password_hash = $3 WHERE id = $1::uuid AND password_hash = $2",
            account_id,
            old_hash,
            new_hash,
        )

    async def canonical_email_of(self, account_id: str) -> str | None:
        value: str | None = await self.conn.fetchval(
            "SELECT email_canonical FROM pgcube.accounts WHERE id = $1::uuid", account_id
        )
        return value

    async def lock_account(self, account_id: str) -> bool:
        found = await self.conn.fetchval(
            "SELECT true FROM pgcube.accounts WHERE id = $1::uuid FOR UPDATE", account_id
        )
        return bool(found)

    # --- the login throttle --------------------------------------------------------------

    async def count_attempt(self, canonical: str, window: int) -> Attempts:
        """Count one login attempt in the fixed window of ``window`` seconds."""
        row = await self.conn.fetchrow(
            """
            INSERT INTO pgcube.login_failures AS f (email_canonical, window_start, failures)
            VALUES ($1, now(), 1)
            ON CONFLICT (email_canonical) DO UPDATE SET
                window_start = CASE WHEN f.window_start <= now() - $2::int * interval '1 second'
                                    THEN now() ELSE f.window_start END,
                failures = CASE WHEN f.window_start <= now() - $2::int * interval '1 second'
                                THEN 1 ELSE least(f.failures + 1, 1000000) END
            RETURNING failures,
                      extract(epoch FROM window_start + $2::int * interval '1 second')::float8,
                      extract(epoch FROM now())::float8
            """,
            canonical,
            window,
        )
        return Attempts(count=row[0], window_end=row[1], now=row[2])

    async def clear_attempts(self, canonical: str) -> None:
        await self.conn.execute("DELETE FROM pgcube.login_failures WHERE email_canonical = $1", canonical)

    async def purge_stale_attempts(self, window: int) -> None:
        await self.conn.execute(
            "DELETE FROM pgcube.login_failures WHERE window_start <= now() - $1::int * interval '1 second'",
            window,
        )

    # --- one-time email tokens -----------------------------------------------------------

    async def add_email_token(self, token_hash: bytes, account_id: str, purpose: str, ttl: int) -> None:
        await self.conn.execute(
            """
            INSERT INTO pgcube.email_tokens (token_hash, account_id, purpose, expires_at)
            VALUES ($1, $2::uuid, $3, now() + $4::int * interval '1 second')
            """,
            token_hash,
            account_id,
            purpose,
            ttl,
        )

    async def redeem_email_token(self, token_hash: bytes, purpose: str) -> str | None:
        """Spend a live token (one statement: of parallel redemptions, one wins); its account id."""
        value: str | None = await self.conn.fetchval(
            """
            UPDATE pgcube.email_tokens SET used_at = now()
            WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
            RETURNING account_id::text
            """,
            token_hash,
            purpose,
        )
        return value

    async def email_token_is_live(self, token_hash: bytes, purpose: str) -> bool:
        found = await self.conn.fetchval(
            """
            SELECT true FROM pgcube.email_tokens
            WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
            """,
            token_hash,
            purpose,
        )
        return bool(found)

    async def spend_email_tokens(self, account_id: str, purpose: str) -> None:
        await self.conn.execute(
            """
            UPDATE pgcube.email_tokens SET used_at = now()
            WHERE account_id = $1::uuid AND purpose = $2 AND used_at IS NULL
            """,
            account_id,
            purpose,
        )

    # --- refresh tokens --------------------------------------------------------------------

    async def add_refresh_token(self, token_hash: bytes, account_id: str, family_id: str, ttl: int) -> None:
        await self.conn.execute(
            """
            INSERT INTO pgcube.refresh_tokens (token_hash, account_id, family_id, expires_at)
            VALUES ($1, $2::uuid, $3::uuid, now() + $4::int * interval '1 second')
            """,
            token_hash,
            account_id,
            family_id,
            ttl,
        )

    async def spend_refresh_token(self, token_hash: bytes) -> tuple[str, str] | None:
        """Spend a live refresh token: (account id, family id), or None when it is not live."""
        row = await self.conn.fetchrow(
            """
            UPDATE pgcube.refresh_tokens SET spent_at = now()
            WHERE token_hash = $1 AND spent_at IS NULL AND revoked_at IS NULL AND expires_at > now()
            RETURNING account_id::text, family_id::text
            """,
            token_hash,
        )
        return None if row is None else (row[0], row[1])

    async def refresh_state(self, token_hash: bytes) -> RefreshState | None:
        row = await self.conn.fetchrow(
            """
            SELECT account_id::text, family_id::text,
                   extract(epoch FROM now() - spent_at)::float8,
                   revoked_at IS NOT NULL, expires_at <= now()
            FROM pgcube.refresh_tokens WHERE token_hash = $1
            """,
            token_hash,
        )
        return None if row is None else RefreshState(*row)

    async def revoke_family(self, family_id: str) -> None:
        await self.conn.execute(
            """
            UPDATE pgcube.refresh_tokens SET revoked_at = now()
            WHERE family_id = $1::uuid AND revoked_at IS NULL
            """,
            family_id,
        )

    async def revoke_sessions(self, account_id: str) -> None:
        await self.conn.execute(
            """
            UPDATE pgcube.refresh_tokens SET revoked_at = now()
            WHERE account_id = $1::uuid AND revoked_at IS NULL
            """,
            account_id,
        )

    async def purge_dead_refresh_tokens(self, account_id: str) -> None:
        """Forget this account's expired tokens (kept no longer than they could matter)."""
        await self.conn.execute(
            "DELETE FROM pgcube.refresh_tokens WHERE account_id = $1::uuid AND expires_at < now()",
            account_id,
        )

    # --- API keys --------------------------------------------------------------------------

    async def count_live_keys(self, account_id: str) -> int:
        value: int = await self.conn.fetchval(
            "SELECT count(*) FROM pgcube.api_keys WHERE account_id = $1::uuid AND revoked_at IS NULL",
            account_id,
        )
        return value

    async def owns_database(self, account_id: str, database_id: str) -> bool:
        found = await self.conn.fetchval(
            "SELECT true FROM pgcube.databases WHERE id = $1 AND account_id = $2::uuid",
            database_id,
            account_id,
        )
        return bool(found)

    async def add_key(
        self,
        key_id: str,
        account_id: str,
        name: str,
        prefix: str,
        secret_hash: bytes,
        database_id: str | None,
    ) -> KeyRow:
        row = await self.conn.fetchrow(
            """
            INSERT INTO pgcube.api_keys (id, account_id, name, prefix, secret_hash, database_id)
            VALUES ($1, $2::uuid, $3, $4, $5, $6)
            RETURNING id, name, prefix, database_id, created_at, last_used_at
            """,
            key_id,
            account_id,
            name,
            prefix,
            secret_hash,
            database_id,
        )
        return KeyRow(*row)

    async def list_keys(self, account_id: str) -> list[KeyRow]:
        rows = await self.conn.fetch(
            """
            SELECT id, name, prefix, database_id, created_at, last_used_at FROM pgcube.api_keys
            WHERE account_id = $1::uuid AND revoked_at IS NULL
            ORDER BY created_at, id
            """,
            account_id,
        )
        return [KeyRow(*row) for row in rows]

    async def revoke_key(self, account_id: str, key_id: str) -> bool:
        found = await self.conn.fetchval(
            """
            UPDATE pgcube.api_keys SET revoked_at = now()
            WHERE id = $1 AND account_id = $2::uuid AND revoked_at IS NULL
            RETURNING true
            """,
            key_id,
            account_id,
        )
        return bool(found)

    async def key_for_auth(self, key_id: str) -> KeyAuthRow | None:
        row = await self.conn.fetchrow(
            """
            SELECT account_id::text, secret_hash, database_id
            FROM pgcube.api_keys WHERE id = $1 AND revoked_at IS NULL
            """,
            key_id,
        )
        return None if row is None else KeyAuthRow(row[0], bytes(row[1]), row[2])

    async def touch_keys(self, key_ids: list[str], resolution: int) -> None:
        """Record use of these keys, skipping any written in the last ``resolution`` seconds;
        never waits for a row lock (a row locked now is being written by another process), so
        two processes flushing at once neither wait nor deadlock."""
        await self.conn.execute(
            """
            UPDATE pgcube.api_keys SET last_used_at = now()
            WHERE id IN (
                SELECT id FROM pgcube.api_keys
                WHERE id = ANY($1::text[])
                  AND (last_used_at IS NULL OR last_used_at < now() - $2::int * interval '1 second')
                FOR UPDATE SKIP LOCKED
            )
            """,
            key_ids,
            resolution,
        )

    # --- the outbox ------------------------------------------------------------------------

    async def keep(self, mail: Mail) -> int:
        value: int = await self.conn.fetchval(
            """
            INSERT INTO pgcube.outbox (account_id, to_address, subject, body)
            VALUES ($1::uuid, $2, $3, $4) RETURNING id
            """,
            mail.account_id,
            mail.to,
            mail.subject,
            mail.body,
        )
        return value

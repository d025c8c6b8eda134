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

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec

from pgcube.auth.email import Mail
from pgcube.auth.models import Account, ApiKey
from pgcube.auth.throttle import BucketState, Failure

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


class RefreshState(msgspec.Struct, frozen=True):
    account_id: str
    family_id: str
    spent_seconds_ago: float | None
    revoked: bool
    expired: bool


class SessionRow(msgspec.Struct, frozen=True):
    """What an access token's check needs of its session (cached per process, ADR 0015)."""

    account_id: str
    live: bool
    """Not revoked, and created after the account's ``sessions_valid_after``."""


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

    async def replace_pending_registration(
        self, email: str, canonical: str, first_name: str, last_name: str, password_hash: str
    ) -> str | None:
        """A registration of an address that is taken but not verified replaces the pending one:
        its links are spent, then its password, names and form of the address are replaced
        (ADR 0015). The id, or None when the address is verified (or unknown).

        Two statements, tokens first: a verification redeeming a link at the same moment
        either wins (the account is verified, this matches nothing) or finds its link spent.
        """
        await self.conn.execute(
            """
            UPDATE pgcube.email_tokens SET used_at = now()
            WHERE purpose = 'verify_email' AND used_at IS NULL
              AND account_id = (SELECT id FROM pgcube.accounts
                                WHERE email_canonical = $1 AND NOT email_verified)
            """,
            canonical,
        )
        value: str | None = await self.conn.fetchval(
            """
            UPDATE pgcube.accounts
            SET email = $2, first_name = $3, last_name = $4, password_hash = $5,
                password_changed_at = now(), updated_at = now()
            WHERE email_canonical = $1 AND NOT email_verified
            RETURNING id::text
            """,
            canonical,
            email,
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

    async def profile(self, account_id: str) -> Account | None:
        row = await self.conn.fetchrow(
            """
            SELECT id::text, email, first_name, last_name, email_verified, created_at
            FROM pgcube.accounts WHERE id = $1::uuid
            """,
            account_id,
        )
        return None if row is None else Account(*row)

    async def update_profile(
        self, account_id: str, first_name: str | None, last_name: str | None
    ) -> Account | None:
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
        return None if row is None else Account(*row)

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

    # --- the login throttle (pgcube.auth.throttle) ----------------------------------------

    async def lock_buckets(self, names: list[str]) -> tuple[list[BucketState], float]:
        """The rows of these buckets (created empty if need be), locked until the transaction
        ends, and PostgreSQL's clock. Sorted, so concurrent logins lock in one order."""
        if not names:  # every bucket turned off
            return [], 0.0
        names = sorted(names)
        await self.conn.execute(
            """
            INSERT INTO pgcube.login_throttle (bucket, failures, last_failure_at)
            SELECT name, 0, now() FROM unnest($1::text[]) AS name
            ON CONFLICT (bucket) DO NOTHING
            """,
            names,
        )
        rows = await self.conn.fetch(
            """
            SELECT bucket, failures, extract(epoch FROM last_failure_at)::float8,
                   extract(epoch FROM blocked_until)::float8, extract(epoch FROM now())::float8
            FROM pgcube.login_throttle WHERE bucket = ANY($1::text[])
            ORDER BY bucket FOR UPDATE
            """,
            names,
        )
        now = rows[0][4] if rows else 0.0
        return [BucketState(row[0], row[1], row[2], row[3]) for row in rows], now

    async def record_failures(self, counted: list[Failure]) -> None:
        if not counted:
            return
        await self.conn.execute(
            """
            UPDATE pgcube.login_throttle AS t
            SET failures = c.failures, last_failure_at = now(), blocked_until = to_timestamp(c.blocked)
            FROM unnest($1::text[], $2::int[], $3::float8[]) AS c (bucket, failures, blocked)
            WHERE t.bucket = c.bucket
            """,
            [f.name for f in counted],
            [f.failures for f in counted],
            [f.blocked_until for f in counted],
        )

    async def clear_buckets(self, names: list[str]) -> None:
        await self.conn.execute("DELETE FROM pgcube.login_throttle WHERE bucket = ANY($1::text[])", names)

    async def refund_attempt(self, name: str, free: int) -> None:
        """Give back the count of an attempt that succeeded (a shared address's bucket is not
        cleared by one success: an attacker would log in to their own account to reset it)."""
        await self.conn.execute(
            """
            UPDATE pgcube.login_throttle
            SET failures = greatest(failures - 1, 0),
                blocked_until = CASE WHEN failures - 1 < $2 THEN NULL ELSE blocked_until END
            WHERE bucket = $1
            """,
            name,
            free,
        )

    async def purge_quiet_buckets(self, window: int) -> None:
        await self.conn.execute(
            """
            DELETE FROM pgcube.login_throttle
            WHERE last_failure_at <= now() - $1::int * interval '1 second'
              AND (blocked_until IS NULL OR blocked_until <= now())
            """,
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

    async def add_session(self, session_id: str, account_id: str) -> None:
        await self.conn.execute(
            "INSERT INTO pgcube.sessions (id, account_id) VALUES ($1::uuid, $2::uuid)", session_id, account_id
        )

    async def session_state(self, session_id: str) -> SessionRow | None:
        row = await self.conn.fetchrow(
            """
            SELECT s.account_id::text, s.revoked_at IS NULL AND s.created_at >= a.sessions_valid_after
            FROM pgcube.sessions s JOIN pgcube.accounts a ON a.id = s.account_id
            WHERE s.id = $1::uuid
            """,
            session_id,
        )
        return None if row is None else SessionRow(row[0], row[1])

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
        """End one session: its refresh tokens, and the access tokens that name it."""
        await self.conn.execute(
            """
            UPDATE pgcube.refresh_tokens SET revoked_at = now()
            WHERE family_id = $1::uuid AND revoked_at IS NULL
            """,
            family_id,
        )
        await self.conn.execute(
            "UPDATE pgcube.sessions SET revoked_at = now() WHERE id = $1::uuid AND revoked_at IS NULL",
            family_id,
        )

    async def revoke_credentials(self, account_id: str) -> list[str]:
        """End every session of the account and revoke every API key it has (a password reset,
        ADR 0015); the ids of the keys revoked. ``sessions_valid_after`` also kills a session
        that a login racing this transaction commits just after it."""
        await self.conn.execute(
            """
            UPDATE pgcube.accounts SET sessions_valid_after = now(), updated_at = now()
            WHERE id = $1::uuid
            """,
            account_id,
        )
        await self.conn.execute(
            """
            UPDATE pgcube.refresh_tokens SET revoked_at = now()
            WHERE account_id = $1::uuid AND revoked_at IS NULL
            """,
            account_id,
        )
        await self.conn.execute(
            "UPDATE pgcube.sessions SET revoked_at = now() WHERE account_id = $1::uuid AND revoked_at IS NULL",
            account_id,
        )
        rows = await self.conn.fetch(
            """
            UPDATE pgcube.api_keys SET revoked_at = now()
            WHERE account_id = $1::uuid AND revoked_at IS NULL
            RETURNING id
            """,
            account_id,
        )
        return [row[0] for row in rows]

    async def purge_dead_refresh_tokens(self, account_id: str) -> None:
        """Forget this account's expired tokens (kept no longer than they could matter), and the
        sessions left without any: an access token outlives none of its session's refresh tokens."""
        await self.conn.execute(
            "DELETE FROM pgcube.refresh_tokens WHERE account_id = $1::uuid AND expires_at < now()",
            account_id,
        )
        await self.conn.execute(
            """
            DELETE FROM pgcube.sessions s
            WHERE s.account_id = $1::uuid
              AND NOT EXISTS (SELECT 1 FROM pgcube.refresh_tokens r WHERE r.family_id = s.id)
            """,
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
    ) -> ApiKey:
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
        return ApiKey(*row)

    async def list_keys(self, account_id: str) -> list[ApiKey]:
        rows = await self.conn.fetch(
            """
            SELECT id, name, prefix, database_id, created_at, last_used_at FROM pgcube.api_keys
            WHERE account_id = $1::uuid AND revoked_at IS NULL
            ORDER BY created_at, id
            """,
            account_id,
        )
        return [ApiKey(*row) for row in rows]

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

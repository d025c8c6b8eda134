"""Data access for accounts, sessions, email tokens, API keys and the outbox.

The only module of ``pgcube.auth`` that speaks SQL. Every statement is a
named statement of ``sql/auth.sql`` with ``$n`` parameters. Statements that
must be atomic under concurrency are single ``UPDATE ... RETURNING``
statements (redeeming a one-time token, spending a refresh token, the email
throttle, the login throttle), so PostgreSQL's row locks decide the races.

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
from pgcube.auth.models import Account, ApiKey, KeyKind
from pgcube.auth.throttle import BucketState, Failure
from pgcube.db import statements

Connection = Any
"""An asyncpg connection or pool proxy (asyncpg ships no type information)."""


class Transactions:
    """``async with tx() as conn``: a pooled connection in a transaction, committed on exit."""

    def __init__(
        self, acquire: Callable[[], Awaitable[Connection]], release: Callable[[Connection], Awaitable[None]]
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
    kind: KeyKind


SQL = statements.load("auth")


class AccountsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- accounts ----------------------------------------------------------------------

    async def create_account(
        self, email: str, canonical: str, first_name: str, last_name: str, password_hash: str
    ) -> str | None:
        """The new account's id, or None when the canonical email is taken."""
        value: str | None = await self.conn.fetchval(
            SQL.create_account, email, canonical, first_name, last_name, password_hash
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
        await self.conn.execute(SQL.spend_pending_verifications, canonical)
        value: str | None = await self.conn.fetchval(
            SQL.replace_pending_account, canonical, email, first_name, last_name, password_hash
        )
        return value

    async def login_row(self, canonical: str) -> LoginRow | None:
        row = await self.conn.fetchrow(SQL.login_row, canonical)
        return None if row is None else LoginRow(*row)

    async def claim_mail_slot(
        self, canonical: str, interval: int, *, reset: bool = False
    ) -> MailTarget | None:
        """The account, if it exists and was not mailed in the last ``interval`` seconds (then
        marked as mailed now); None otherwise. One statement: concurrent callers get one slot.

        Password-reset emails have a slot of their own: re-registering someone's
        address (which mails its owner) must not hold back their reset email.
        """
        statement = SQL.claim_reset_slot if reset else SQL.claim_mail_slot
        row = await self.conn.fetchrow(statement, canonical, interval)
        return None if row is None else MailTarget(*row)

    async def profile(self, account_id: str) -> Account | None:
        row = await self.conn.fetchrow(SQL.profile, account_id)
        return None if row is None else Account(*row)

    async def update_profile(
        self, account_id: str, first_name: str | None, last_name: str | None
    ) -> Account | None:
        row = await self.conn.fetchrow(SQL.update_profile, account_id, first_name, last_name)
        return None if row is None else Account(*row)

    async def mark_verified(self, account_id: str) -> None:
        await self.conn.execute(SQL.mark_verified, account_id)

    async def replace_password(self, account_id: str, password_hash: str) -> None:
        """A reset: new hash; the emailed token proved the address, so it is verified too."""
        await self.conn.execute(SQL.replace_password, account_id, password_hash)

    async def upgrade_hash(self, account_id: str, old_hash: str, new_hash: str) -> None:
        """Re-hash with current parameters, unless the password changed meanwhile."""
        await self.conn.execute(SQL.upgrade_hash, account_id, old_hash, new_hash)

    async def canonical_email_of(self, account_id: str) -> str | None:
        value: str | None = await self.conn.fetchval(SQL.canonical_email_of, account_id)
        return value

    async def lock_account(self, account_id: str) -> bool:
        found = await self.conn.fetchval(SQL.lock_account, account_id)
        return bool(found)

    # --- the login throttle (pgcube.auth.throttle) ----------------------------------------

    async def lock_buckets(self, names: list[str]) -> tuple[list[BucketState], float]:
        """The rows of these buckets (created empty if need be), locked until the transaction
        ends, and PostgreSQL's clock. Sorted, so concurrent logins lock in one order."""
        if not names:  # every bucket turned off
            return [], 0.0
        names = sorted(names)
        await self.conn.execute(SQL.add_buckets, names)
        rows = await self.conn.fetch(SQL.lock_buckets, names)
        now = rows[0][4] if rows else 0.0
        return [BucketState(row[0], row[1], row[2], row[3]) for row in rows], now

    async def record_failures(self, counted: list[Failure]) -> None:
        if not counted:
            return
        await self.conn.execute(
            SQL.record_failures,
            [f.name for f in counted],
            [f.failures for f in counted],
            [f.blocked_until for f in counted],
        )

    async def clear_buckets(self, names: list[str]) -> None:
        await self.conn.execute(SQL.clear_buckets, names)

    async def refund_attempt(self, name: str, free: int) -> None:
        """Give back the count of an attempt that succeeded (a shared address's bucket is not
        cleared by one success: an attacker would log in to their own account to reset it)."""
        await self.conn.execute(SQL.refund_attempt, name, free)

    async def purge_quiet_buckets(self, window: int) -> None:
        await self.conn.execute(SQL.purge_quiet_buckets, window)

    # --- one-time email tokens -----------------------------------------------------------

    async def add_email_token(self, token_hash: bytes, account_id: str, purpose: str, ttl: int) -> None:
        await self.conn.execute(SQL.add_email_token, token_hash, account_id, purpose, ttl)

    async def redeem_email_token(self, token_hash: bytes, purpose: str) -> str | None:
        """Spend a live token (one statement: of parallel redemptions, one wins); its account id."""
        value: str | None = await self.conn.fetchval(SQL.redeem_email_token, token_hash, purpose)
        return value

    async def email_token_is_live(self, token_hash: bytes, purpose: str) -> bool:
        found = await self.conn.fetchval(SQL.email_token_is_live, token_hash, purpose)
        return bool(found)

    async def spend_email_tokens(self, account_id: str, purpose: str) -> None:
        await self.conn.execute(SQL.spend_email_tokens, account_id, purpose)

    # --- refresh tokens --------------------------------------------------------------------

    async def add_refresh_token(self, token_hash: bytes, account_id: str, family_id: str, ttl: int) -> None:
        await self.conn.execute(SQL.add_refresh_token, token_hash, account_id, family_id, ttl)

    async def add_session(self, session_id: str, account_id: str) -> None:
        await self.conn.execute(SQL.add_session, session_id, account_id)

    async def session_state(self, session_id: str) -> SessionRow | None:
        row = await self.conn.fetchrow(SQL.session_state, session_id)
        return None if row is None else SessionRow(row[0], row[1])

    async def spend_refresh_token(self, token_hash: bytes) -> tuple[str, str] | None:
        """Spend a live refresh token: (account id, family id), or None when it is not live."""
        row = await self.conn.fetchrow(SQL.spend_refresh_token, token_hash)
        return None if row is None else (row[0], row[1])

    async def refresh_state(self, token_hash: bytes) -> RefreshState | None:
        row = await self.conn.fetchrow(SQL.refresh_state, token_hash)
        return None if row is None else RefreshState(*row)

    async def revoke_family(self, family_id: str) -> None:
        """End one session: its refresh tokens, and the access tokens that name it."""
        await self.conn.execute(SQL.revoke_family_tokens, family_id)
        await self.conn.execute(SQL.revoke_session, family_id)

    async def revoke_credentials(self, account_id: str) -> list[str]:
        """End every session of the account and revoke every API key it has (a password reset,
        ADR 0015); the ids of the keys revoked. ``sessions_valid_after`` also kills a session
        that a login racing this transaction commits just after it."""
        await self.conn.execute(SQL.end_sessions, account_id)
        await self.conn.execute(SQL.revoke_account_tokens, account_id)
        await self.conn.execute(SQL.revoke_account_sessions, account_id)
        rows = await self.conn.fetch(SQL.revoke_account_keys, account_id)
        return [row[0] for row in rows]

    async def purge_dead_refresh_tokens(self, account_id: str) -> None:
        """Forget this account's expired tokens (kept no longer than they could matter), and the
        sessions left without any: an access token outlives none of its session's refresh tokens."""
        await self.conn.execute(SQL.purge_expired_refresh_tokens, account_id)
        await self.conn.execute(SQL.purge_empty_sessions, account_id)

    # --- API keys --------------------------------------------------------------------------

    async def count_live_keys(self, account_id: str) -> int:
        value: int = await self.conn.fetchval(SQL.count_live_keys, account_id)
        return value

    async def owns_database(self, account_id: str, database_id: str) -> bool:
        found = await self.conn.fetchval(SQL.owns_database, database_id, account_id)
        return bool(found)

    async def add_key(
        self,
        key_id: str,
        account_id: str,
        name: str,
        prefix: str,
        secret_hash: bytes,
        database_id: str | None,
        kind: KeyKind,
    ) -> ApiKey:
        row = await self.conn.fetchrow(
            SQL.add_key, key_id, account_id, name, prefix, secret_hash, database_id, kind
        )
        return ApiKey(*row)

    async def list_keys(self, account_id: str) -> list[ApiKey]:
        rows = await self.conn.fetch(SQL.list_keys, account_id)
        return [ApiKey(*row) for row in rows]

    async def revoke_key(self, account_id: str, key_id: str) -> bool:
        found = await self.conn.fetchval(SQL.revoke_key, key_id, account_id)
        return bool(found)

    async def key_for_auth(self, key_id: str) -> KeyAuthRow | None:
        row = await self.conn.fetchrow(SQL.key_for_auth, key_id)
        return None if row is None else KeyAuthRow(row[0], bytes(row[1]), row[2], row[3])

    async def touch_keys(self, key_ids: list[str], resolution: int) -> None:
        """Record use of these keys, skipping any written in the last ``resolution`` seconds;
        never waits for a row lock (a row locked now is being written by another process), so
        two processes flushing at once neither wait nor deadlock."""
        await self.conn.execute(SQL.touch_keys, key_ids, resolution)

    # --- the outbox ------------------------------------------------------------------------

    async def keep(self, mail: Mail) -> int:
        value: int = await self.conn.fetchval(
            SQL.keep_mail, mail.account_id, mail.to, mail.subject, mail.body
        )
        return value

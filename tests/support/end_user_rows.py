"""End users, their sessions and codes put into a database's schema with SQL, as a DBA would:
for the tests of the routes that manage them, without going through sign-up.

    key = add_end_user(pg, schema, email="ann@example.com", display_name="Ann")
    add_session(pg, schema, key)
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from tests.support.sync_pg import SyncPg

PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$not-a-real-hash-but-a-secret"
"""What a stored hash looks like; no answer may contain it (or any part of it)."""


def add_end_user(
    pg: SyncPg,
    schema: str,
    *,
    email: str | None = None,
    display_name: str | None = None,
    created_at: datetime | None = None,
    user_key: str | None = None,
    metadata: bytes = b'{"plan": "free"}',
) -> str:
    """A new row of ``<schema>._users``; its ``_userkey``."""
    user_key = user_key or secrets.token_hex(16)
    email = email or f"end-{secrets.token_hex(4)}@example.com"
    pg.execute(
        f'INSERT INTO "{schema}"._users (_userkey, email, email_canonical, password_hash, display_name,'
        " metadata, created_at) VALUES ($1, $2, lower($2), $3, $4, $5, coalesce($6, now()))",
        user_key,
        email,
        PASSWORD_HASH,
        display_name,
        metadata,
        created_at,
    )
    return user_key


def add_session(pg: SyncPg, schema: str, user_key: str) -> str:
    """A live session of the user (30 days); its id."""
    refresh_hash = hashlib.sha256(secrets.token_bytes(32)).digest()
    session_id: str = pg.fetchval(
        f'INSERT INTO "{schema}"._sessions (_userkey, refresh_hash, expires_at)'
        " VALUES ($1, $2, now() + interval '30 days') RETURNING id::text",
        user_key,
        refresh_hash,
    )
    return session_id


def add_code(pg: SyncPg, schema: str, email: str, user_key: str | None, intent: str = "signin") -> None:
    """A one-time code sent to ``email`` (tied to the user when ``user_key`` is given)."""
    pg.execute(
        f'INSERT INTO "{schema}"._otps (email_canonical, _userkey, intent, code_hash, expires_at)'
        " VALUES (lower($1), $2, $3, $4, now() + interval '10 minutes')",
        email,
        user_key,
        intent,
        hashlib.sha256(secrets.token_bytes(8)).digest(),
    )

"""What the end-user service takes and answers with (SPEC §11); ``pgcube.ops.auth`` turns
these into the DDO answers."""

from __future__ import annotations

import enum

import msgspec

from pgcube.principal import Principal


class Intent(enum.StrEnum):
    """What a one-time code is for: a code works for its own intent only."""

    SIGNIN = "signin"
    VERIFY_EMAIL = "verify_email"
    CHANGE_PASSWORD = "change_password"  # noqa: S105 — an intent, not a password
    CHANGE_EMAIL = "change_email"


class NextAction(enum.StrEnum):
    SIGNIN = "SIGNIN"
    VERIFY_EMAIL = "VERIFY_EMAIL"


class EndUser(msgspec.Struct, frozen=True, kw_only=True):
    """An end user's profile: never their password hash or their sessions."""

    user_key: str
    email: str
    email_verified: bool
    display_name: str | None
    photo_url: str | None
    phone_number: str | None
    metadata: bytes
    """A JSON object, as stored (passed through, never re-encoded)."""
    roles: tuple[str, ...]
    auth_types: tuple[str, ...]


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    ttl: int
    exp: int
    iat: int
    aud: str
    user_key: str
    project_id: str


class IssuedSession(msgspec.Struct, frozen=True, kw_only=True):
    """A session's tokens, as a sign-in, a refresh or an account change answers them (§11.2)."""

    id_token: str
    refresh_token: str
    token_info: TokenInfo
    user: EndUser


class VerifiedToken(msgspec.Struct, frozen=True, kw_only=True):
    token_info: TokenInfo
    user: EndUser


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who calls an ``auth.*`` op, on which database, from where."""

    principal: Principal
    database_id: str
    address: str
    """The client's address: failed guesses are counted per address too."""

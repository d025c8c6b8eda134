"""Bodies and answers of the ``/core`` routes (SPEC §4).

Every body is closed (``forbid_unknown_fields``): a field the contract does
not name is a 400 ``VALIDATION_ERROR``, never silently dropped. That is how
mass assignment is refused (RELIABILITY D5): ``{"email_verified": true}`` or
``{"id": ...}`` on register or profile is an error the client sees, and
nothing is written. Answers are built from explicit fields only, so no
column (a password hash, a token hash) can leak by accident.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from pgcube.auth.models import Account, ApiKey, KeyKind

# --- bodies ------------------------------------------------------------------------------


class RegisterBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    email: str
    password: str
    first_name: str = msgspec.field(default="", name="firstName")
    last_name: str = msgspec.field(default="", name="lastName")


class EmailBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    email: str


class LoginBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    email: str
    password: str


class RefreshBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    refresh: str


class PasswordResetConfirmBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    token: str
    password: str


class ProfilePatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    first_name: str | None = msgspec.field(default=None, name="firstName")
    last_name: str | None = msgspec.field(default=None, name="lastName")


class CreateKeyBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    name: str
    database_id: str | None = None
    kind: KeyKind = "server"
    """``web``: a key safe to ship in a browser, bound to one database and its access rules."""


# --- answers -----------------------------------------------------------------------------


class MessageAnswer(msgspec.Struct, frozen=True):
    message: str


class LoginAnswer(msgspec.Struct, frozen=True, kw_only=True):
    refresh: str
    access: str
    token_type: str = "bearer"  # noqa: S105 — the OAuth token type, not a credential
    expires_in: int
    """Seconds until ``access`` expires."""


class RefreshAnswer(msgspec.Struct, frozen=True, kw_only=True):
    access: str
    refresh: str
    token_type: str = "bearer"  # noqa: S105 — the OAuth token type, not a credential
    expires_in: int


class ProfileAnswer(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    email: str
    first_name: str = msgspec.field(name="firstName")
    last_name: str = msgspec.field(name="lastName")
    email_verified: bool
    created_at: dt.datetime

    @classmethod
    def of(cls, account: Account) -> ProfileAnswer:
        # Field for field: a field added to Account is a TypeError here, never a leak.
        return cls(**msgspec.structs.asdict(account))


class KeyAnswer(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    prefix: str
    database_id: str | None
    kind: KeyKind
    created_at: dt.datetime
    last_used_at: dt.datetime | None

    @classmethod
    def of(cls, api_key: ApiKey) -> KeyAnswer:
        return cls(**msgspec.structs.asdict(api_key))  # as ProfileAnswer.of


class NewKeyAnswer(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    key: str
    """The whole key. Shown in this answer only; pgcube keeps a hash."""
    prefix: str
    database_id: str | None
    kind: KeyKind
    created_at: dt.datetime

    @classmethod
    def of(cls, api_key: ApiKey, key: str) -> NewKeyAnswer:
        fields = msgspec.structs.asdict(api_key)
        del fields["last_used_at"]  # a new key has not been used
        return cls(key=key, **fields)


# --- errors (for the OpenAPI document; pgcube.api.errors builds the bodies) -------------------

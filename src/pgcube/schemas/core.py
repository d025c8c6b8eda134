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


class _Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


# --- bodies ------------------------------------------------------------------------------


class RegisterBody(_Body):
    email: str
    password: str
    first_name: str = msgspec.field(default="", name="firstName")
    last_name: str = msgspec.field(default="", name="lastName")


class EmailBody(_Body):
    email: str


class LoginBody(_Body):
    email: str
    password: str


class RefreshBody(_Body):
    refresh: str


class PasswordResetConfirmBody(_Body):
    token: str
    password: str


class ProfilePatch(_Body):
    first_name: str | None = msgspec.field(default=None, name="firstName")
    last_name: str | None = msgspec.field(default=None, name="lastName")


class CreateKeyBody(_Body):
    name: str
    database_id: str | None = None


# --- answers -----------------------------------------------------------------------------


class MessageAnswer(msgspec.Struct, frozen=True):
    message: str


class LoginAnswer(msgspec.Struct, frozen=True, kw_only=True):
    refresh: str
    access: str
    token_type: str = "bearer"
    expires_in: int
    """Seconds until ``access`` expires."""


class RefreshAnswer(msgspec.Struct, frozen=True, kw_only=True):
    access: str
    refresh: str
    token_type: str = "bearer"
    expires_in: int


class ProfileAnswer(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    email: str
    first_name: str = msgspec.field(name="firstName")
    last_name: str = msgspec.field(name="lastName")
    email_verified: bool
    created_at: dt.datetime


class KeyAnswer(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    prefix: str
    database_id: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class NewKeyAnswer(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    key: str
    """The whole key. Shown in this answer only; pgcube keeps a hash."""
    prefix: str
    database_id: str | None
    created_at: dt.datetime

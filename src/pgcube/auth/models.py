"""What the accounts service answers with (``pgcube.schemas.core`` converts): an account's
profile and its API keys, their fields in the order of the repository's ``SELECT`` lists."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

KeyKind = Literal["server", "web"]


class Account(msgspec.Struct, frozen=True):
    id: str
    email: str
    first_name: str
    last_name: str
    email_verified: bool
    created_at: dt.datetime


class ApiKey(msgspec.Struct, frozen=True):
    """A live API key as its owner sees it: never its secret, which only a hash keeps."""

    id: str
    name: str
    prefix: str
    database_id: str | None
    kind: KeyKind
    """``server`` (full access) or ``web`` (one database, under its access rules: SPEC §11.1)."""
    created_at: dt.datetime
    last_used_at: dt.datetime | None

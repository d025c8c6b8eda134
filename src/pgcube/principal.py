"""Who is making a request: the contract between the auth guards and every route group.

Handlers receive one of these through dependency injection:

* ``principal`` — an authenticated account, by access JWT or API key (``/api/*``);
* ``jwt_principal`` — an account by access JWT only (key management, profile).

An API key may be scoped to one database; ``can_reach`` is the one check.
A leaf: it imports nothing of pgcube, so every layer may name it.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    account_id: str
    """The account's id (a UUID, as text)."""
    via: Literal["jwt", "api_key"]
    api_key_id: str | None = None
    database_id: str | None = None
    """Set for an API key scoped to one database: it reaches that database only."""
    session_id: str | None = None
    """The login session of an access token (``via == "jwt"``). ``principal`` has checked it is
    live; ``jwt_principal`` leaves that to the accounts service, which checks it in the
    transaction of every route that takes one (ADR 0015)."""

    def can_reach(self, database_id: str) -> bool:
        return self.database_id is None or self.database_id == database_id

"""Who is making a request: the contract between the auth guards and every route group.

Handlers receive one of these through dependency injection:

* ``principal`` — an authenticated account, by access JWT or API key (``/api/*``);
* ``jwt_principal`` — an account by access JWT only (key management, profile).

An API key may be scoped to one database; ``can_reach`` is the one check. A web
key (``key_kind == "web"``) is always scoped, and may carry the end user that an
``id_token`` names (``user_key``, SPEC §11.1): its document statements run as
the restricted role under the collection's access rules (SPEC §11.4).
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

    key_kind: Literal["server", "web"] = "server"
    """An API key's kind: ``server`` (full access) or ``web`` (under the access rules)."""
    user_key: str | None = None
    """The signed-in end user (``_userkey``) of a web-key request with an ``id_token``."""
    user_session: str | None = None
    """That end user's session (the ``id_token``'s ``sid``)."""

    @property
    def is_web(self) -> bool:
        """A web key: its requests are bound by the access rules, enforced by PostgreSQL."""
        return self.key_kind == "web"

    def can_reach(self, database_id: str) -> bool:
        return self.database_id is None or self.database_id == database_id

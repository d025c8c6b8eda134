"""A database's auth settings and its end users, managed by the account that owns it (SPEC §11.3).

Every function runs in the caller's transaction (``pgcube.api.deps.provide_transaction``)
and first finds the database as every management route does
(``service.get_database``): another account's database, a key scoped to
another one, a missing id and a malformed id all answer the same 404.

End users live in the database's own schema (``_users``, ``_sessions``,
``_otps``: migration 0006). Their statements are named in ``sql/end_users.sql``
with the tables as ``{schema}._users`` (and so on), the schema put in by
``management.naming.in_schema`` (ADR 0017's addendum); values are always parameters.

Ending an end user's sessions (disable, delete) is announced on the catalog
channel as ``end_user:<database id>:<_userkey>``, at commit, so that every
process can evict what it caches of that user's sessions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from pgcube import errors
from pgcube.control_plane_cache import caches
from pgcube.db import statements
from pgcube.db.notify import CHANNEL
from pgcube.errors import ValidationError
from pgcube.management import service
from pgcube.management.models import AuthSettings, Database
from pgcube.management.naming import in_schema
from pgcube.management.repository import Connection, auth_settings_of
from pgcube.principal import Principal
from pgcube.settings import Settings
from pgcube.users.models import EndUser as Profile

__all__ = [
    "END_USER_PAYLOAD",
    "EndUser",
    "EndUserPage",
    "delete_end_user",
    "get_auth_settings",
    "list_end_users",
    "set_disabled",
    "update_auth_settings",
]

SQL = statements.load("end_users")

END_USER_PAYLOAD = "end_user:{database_id}:{user_key}"
"""The catalog notification of an end user whose sessions ended, or who was disabled,
enabled or deleted (``pgcube.db.notify.CHANNEL``)."""

SETTING_NAMES = frozenset(AuthSettings.__struct_fields__)


class EndUser(Profile, frozen=True, kw_only=True):
    """An end user as the account sees it: the profile the user sees (never a password hash),
    and whether and since when the account lets them in."""

    disabled: bool
    created_at: datetime
    last_signin_at: datetime | None


class EndUserPage(msgspec.Struct, frozen=True, kw_only=True):
    page: int
    page_size: int
    total_items: int
    items: list[EndUser]


# --- auth settings -------------------------------------------------------------------------------
async def get_auth_settings(conn: Connection, principal: Principal, database_id: str) -> AuthSettings:
    database = await service.get_database(conn, principal, database_id)
    return database.auth_settings


async def update_auth_settings(
    conn: Connection, principal: Principal, database_id: str, changes: dict[str, bool]
) -> AuthSettings:
    """Store the settings in ``changes`` (the others keep their value); the settings as stored.

    The catalog's trigger announces the database's row at commit (migration 0002): every
    process evicts the ``Database`` it caches, whose ``auth_settings`` the ``auth.*`` ops read.
    """
    unknown = sorted(changes.keys() - SETTING_NAMES)
    if unknown:  # the body's Struct refuses them first; a caller of this function may not
        raise ValidationError(f"Unknown field: {unknown[0]}", details={"field": unknown[0], "unknown": True})
    database = await service.get_database(conn, principal, database_id, lock=True)
    if not changes:
        return database.auth_settings
    stored: bytes = await conn.fetchval(
        SQL.update_auth_settings, database.id, msgspec.json.encode(changes), principal.account_id
    )
    # Not committed yet: as management.service.drop_database, spare this process the wait.
    caches().forget_database(database.id)
    return auth_settings_of(stored)


# --- end users -----------------------------------------------------------------------------------
def _in(database: Database, statement: str) -> str:
    """A named statement over ``database``'s end-user tables."""
    return in_schema(statement, database.schema_name)


def _end_user(row: Any) -> EndUser:
    return EndUser(
        user_key=row["_userkey"],
        email=row["email"],
        email_verified=row["email_verified"],
        display_name=row["display_name"],
        photo_url=row["photo_url"],
        phone_number=row["phone_number"],
        metadata=row["metadata"],
        roles=tuple(row["roles"]),
        auth_types=tuple(row["auth_types"]),
        disabled=row["disabled"],
        created_at=row["created_at"],
        last_signin_at=row["last_signin_at"],
    )


async def list_end_users(
    conn: Connection,
    settings: Settings,
    principal: Principal,
    database_id: str,
    *,
    page: int,
    page_size: int,
    search: str | None,
) -> EndUserPage:
    """One page of the database's end users, newest first; ``search``: a case-insensitive
    substring of the email or the display name. The paging rules are ``list_databases``'."""
    if page < 1:
        raise ValidationError("page must be at least 1", details={"field": "page"})
    if not 1 <= page_size <= settings.max_page_size:
        raise ValidationError(
            f"page_size must be between 1 and {settings.max_page_size}", details={"field": "page_size"}
        )
    database = await service.get_database(conn, principal, database_id)
    search = search or None
    total: int = await conn.fetchval(_in(database, SQL.count_users), search)
    rows = await conn.fetch(_in(database, SQL.list_users), search, page_size, (page - 1) * page_size)
    return EndUserPage(
        page=page, page_size=page_size, total_items=total, items=[_end_user(row) for row in rows]
    )


async def set_disabled(
    conn: Connection, principal: Principal, database_id: str, user_key: str, *, disabled: bool
) -> EndUser:
    """Disable (or enable again) an end user; disabling ends every session they hold."""
    database = await service.get_database(conn, principal, database_id)
    row = await conn.fetchrow(_in(database, SQL.set_disabled), user_key, disabled)
    if row is None:
        raise _user_not_found(user_key)
    if disabled:
        await conn.execute(_in(database, SQL.end_sessions), user_key)
    await _announce(conn, database, user_key)
    return _end_user(row)


async def delete_end_user(conn: Connection, principal: Principal, database_id: str, user_key: str) -> str:
    """Delete an end user with their sessions and codes; their documents stay. Their ``_userkey``."""
    database = await service.get_database(conn, principal, database_id)
    deleted: str | None = await conn.fetchval(_in(database, SQL.delete_user), user_key)
    if deleted is None:
        raise _user_not_found(user_key)
    await _announce(conn, database, deleted)
    return deleted


async def _announce(conn: Connection, database: Database, user_key: str) -> None:
    payload = END_USER_PAYLOAD.format(database_id=database.id, user_key=user_key)
    await conn.execute(SQL.announce, CHANNEL, payload)


def _user_not_found(user_key: str) -> errors.NotFound:
    return errors.NotFound("End user not found", details={"_userkey": user_key})

"""A database's auth settings and end users (SPEC §11.3), under ``/api``: management routes.

Thin handlers: decode (``pgcube.schemas.end_users``), call
``pgcube.management.end_users`` on the request's transaction, return. Account
credentials only — an access token or a server API key (``ACCOUNT_ONLY``: a web
key is a 403); a key scoped to another database, another account's database and
a missing one answer the same 404.

A body with a switch in it is judged twice: ``data`` as Litestar converts it (what the OpenAPI
document shows, and its 400s for a missing or unknown key), then ``decode_exactly`` with JSON's
own types, so that ``"false"`` or ``1`` is a 400 rather than a boolean.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, delete, get, patch, put
from litestar.params import FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from pgcube.api.account_only import ACCOUNT_ONLY
from pgcube.api.deps import Auth, Config, Conn, DatabaseId
from pgcube.management import end_users
from pgcube.schemas.end_users import (
    AuthSettingsAnswer,
    AuthSettingsBody,
    AuthSettingsOut,
    DeletedEndUserAnswer,
    EndUserAnswer,
    EndUserBody,
    EndUserOut,
    EndUserPatch,
    ListEndUsersAnswer,
    decode_exactly,
)
from pgcube.schemas.management import Pagination

TAGS = ["end users"]

HttpRequest = Request[Any, Any, Any]


@get(
    "/auth_settings",
    operation_id="getAuthSettings",
    tags=TAGS,
    summary="A database's end-user settings: sign-up open, verified email required, verification on sign-up",
)
async def get_auth_settings(
    database_id: FromQuery[DatabaseId], principal: Auth, conn: Conn
) -> AuthSettingsAnswer:
    settings = await end_users.get_auth_settings(conn, principal, database_id)
    return AuthSettingsAnswer(data=AuthSettingsOut.of(settings))


@put(
    "/auth_settings",
    operation_id="updateAuthSettings",
    tags=TAGS,
    summary="Change some of a database's end-user settings; those left out keep their value",
)
async def update_auth_settings(
    data: JSONBody[AuthSettingsBody], request: HttpRequest, principal: Auth, conn: Conn
) -> AuthSettingsAnswer:
    body = decode_exactly(await request.body(), AuthSettingsBody)  # `data`, by JSON types
    settings = await end_users.update_auth_settings(conn, principal, body.database_id, body.changes())
    return AuthSettingsAnswer(data=AuthSettingsOut.of(settings))


@get(
    "/end_users",
    operation_id="listEndUsers",
    tags=TAGS,
    summary="A database's end users, newest first, a page at a time; search by email or display name",
)
async def list_end_users(
    database_id: FromQuery[DatabaseId],
    principal: Auth,
    conn: Conn,
    settings: Config,
    page: FromQuery[int] = 1,
    page_size: FromQuery[int] = 10,
    search: FromQuery[str | None] = None,
) -> ListEndUsersAnswer:
    result = await end_users.list_end_users(
        conn, settings, principal, database_id, page=page, page_size=page_size, search=search
    )
    return ListEndUsersAnswer(
        data=[EndUserOut.of(user) for user in result.items],
        pagination=Pagination.of(
            page=result.page, page_size=result.page_size, total_items=result.total_items
        ),
    )


@patch(
    "/end_users",
    operation_id="updateEndUser",
    tags=TAGS,
    summary="Disable an end user (every session they hold ends at once) or enable them again",
)
async def update_end_user(
    data: JSONBody[EndUserPatch], request: HttpRequest, principal: Auth, conn: Conn
) -> EndUserAnswer:
    body = decode_exactly(await request.body(), EndUserPatch)  # `data`, by JSON types
    user = await end_users.set_disabled(
        conn, principal, body.database_id, body.user_key, disabled=body.disabled
    )
    return EndUserAnswer(data=EndUserOut.of(user))


@delete(
    "/end_users",
    operation_id="deleteEndUser",
    tags=TAGS,
    status_code=HTTP_200_OK,
    summary="Delete an end user with their sessions and codes; their documents stay",
)
async def delete_end_user(data: JSONBody[EndUserBody], principal: Auth, conn: Conn) -> DeletedEndUserAnswer:
    deleted = await end_users.delete_end_user(conn, principal, data.database_id, data.user_key)
    return DeletedEndUserAnswer(deleted=deleted)


def end_users_router() -> Router:
    return Router(
        path="/api",
        route_handlers=[
            get_auth_settings,
            update_auth_settings,
            list_end_users,
            update_end_user,
            delete_end_user,
        ],
        dependencies=ACCOUNT_ONLY,
    )

"""The two authentication dependencies every route group uses (SPEC §2).

* ``principal`` — ``Authorization: Bearer <access JWT>``, ``Authorization:
  Api-Key <key>`` or ``X-API-KEY: <key>``: an account, by session or by key.
* An end user of an app (SPEC §11.1): ``X-API-KEY: <web key>`` together with
  ``Authorization: Bearer <id_token>`` — with a key sent, the bearer token is
  an end user's, never an account's (``pgcube.users.principals``).
* ``jwt_principal`` — ``Authorization: Bearer <access JWT>`` only: what key
  management, profile and password changes accept (an API key cannot manage
  keys or the account, C2).

Both are registered app-wide in ``create_app``; a handler declares
``principal: Principal`` (or ``jwt_principal: Principal``) and receives an
authenticated ``pgcube.principal.Principal``, or the request ends in 401.
Credentials are read from headers only, never from the URL (A6).

An API key is checked against this process's cache of key rows; on a miss it
is looked up on the request's own connection (``session``), so a request
never holds two pooled connections at once. ``principal`` checks an access
token's session the same way (a logged-out session is refused, ADR 0015);
``jwt_principal`` takes no connection, and the accounts service checks the
session in the transaction of each route that declares it.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from pgcube import errors
from pgcube.auth.service import AccountService
from pgcube.db.session import Session
from pgcube.principal import Principal
from pgcube.users.principals import with_end_user

MISSING = "Authentication required: send Authorization: Bearer <access token> or Api-Key <API key>"
JWT_ONLY = "This route accepts a session token only: send Authorization: Bearer <access token>"


def accounts_of(state: State) -> AccountService:
    service: AccountService = state.accounts
    return service


def _authorization(request: Request[Any, Any, Any]) -> tuple[str, str] | None:
    """(scheme in lower case, credential) from the Authorization header, if any."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, credential = header.strip().partition(" ")
    credential = credential.strip()
    if not scheme or not credential or " " in credential:
        raise errors.AuthenticationFailed()
    return scheme.lower(), credential


async def provide_principal(request: Request[Any, Any, Any], state: State, session: Session) -> Principal:
    service = accounts_of(state)
    authorization = _authorization(request)
    key = request.headers.get("x-api-key")
    if key is not None and authorization is not None and authorization[0] == "bearer":
        principal = await service.authenticate_api_key(session, key.strip())
        return await with_end_user(principal, authorization[1], service.id_tokens, session)
    if authorization is not None:
        scheme, credential = authorization
        if scheme == "bearer":
            return await service.authenticate_jwt(session, credential)
        if scheme == "api-key":
            return await service.authenticate_api_key(session, credential)
        raise errors.AuthenticationFailed()
    if key is not None:
        return await service.authenticate_api_key(session, key.strip())
    raise errors.AuthenticationFailed(MISSING)


def provide_jwt_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    authorization = _authorization(request)
    if authorization is None:
        if request.headers.get("x-api-key") is not None:
            raise errors.AuthenticationFailed(JWT_ONLY)
        raise errors.AuthenticationFailed(MISSING)
    scheme, credential = authorization
    if scheme != "bearer":
        raise errors.AuthenticationFailed(JWT_ONLY)
    return accounts_of(state).read_jwt(credential)

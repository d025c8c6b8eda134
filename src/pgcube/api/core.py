"""The ``/core`` route group: accounts, sessions, profile and API keys (SPEC §4).

Thin handlers: decode (``pgcube.schemas.core``), call ``AccountService``,
return. These routes do not use the request-wide ``conn`` transaction: the
service opens short transactions itself (see ``pgcube.auth.repository``).

Answers that carry credentials (login, refresh, API keys) are ``Cache-Control:
no-store`` (RELIABILITY H9). Resend and reset answer first and do their work
(look-up, token, email) after the answer has been sent (ADR 0015).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, delete, get, patch, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import CacheControlHeader, Cookie, State
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_303_SEE_OTHER

from pgcube.api.deps import acquire
from pgcube.api.ratelimit import client_address
from pgcube.auth import throttle
from pgcube.auth.guards import accounts_of
from pgcube.auth.repository import Transactions
from pgcube.auth.service import DEVICE_COOKIE_TTL, AccountService, Deferred, LoginClient
from pgcube.principal import Principal
from pgcube.schemas.core import (
    CreateKeyBody,
    EmailBody,
    KeyAnswer,
    LoginAnswer,
    LoginBody,
    MessageAnswer,
    NewKeyAnswer,
    PasswordResetConfirmBody,
    ProfileAnswer,
    ProfilePatch,
    RefreshAnswer,
    RefreshBody,
    RegisterBody,
)

TAGS = ["accounts"]

NO_STORE = CacheControlHeader(no_store=True)
"""On every answer that carries a credential: no cache (browser or proxy) may keep it."""


def _after_answer(deferred: Deferred, status_code: int) -> Response[MessageAnswer]:
    return Response(
        MessageAnswer(deferred.message), status_code=status_code, background=BackgroundTask(deferred.work)
    )


# Dependencies named explicitly (Litestar 3 stops inferring them).
Accounts = NamedDependency[AccountService]
Tx = NamedDependency[Transactions]
JwtPrincipal = NamedDependency[Principal]


def provide_accounts(state: State) -> AccountService:
    return accounts_of(state)


def provide_transactions(state: State) -> Transactions:
    async def open_connection() -> object:
        return await acquire(state)

    return Transactions(open_connection, state.pool.release)


# --- registration and email -----------------------------------------------------------------


@post(
    "/register",
    operation_id="register",
    tags=TAGS,
    status_code=HTTP_201_CREATED,
    summary="Register an account; a verification email follows",
)
async def register(data: JSONBody[RegisterBody], accounts: Accounts, tx: Tx) -> MessageAnswer:
    registered = await accounts.register(
        tx, email=data.email, password=data.password, first_name=data.first_name, last_name=data.last_name
    )
    return MessageAnswer(registered)


@get(
    "/verify-email/{token:str}",
    operation_id="verifyEmail",
    tags=TAGS,
    summary="Verify an email address with the token from the verification email",
    description="A browser (Accept: text/html) is sent on to the dashboard's sign-in page (303) once verified.",
    responses={
        200: ResponseSpec(data_container=MessageAnswer, description="Verified", generate_examples=False),
        303: ResponseSpec(
            data_container=None,
            description="Verified, for a browser (Accept: text/html): on to the dashboard's sign-in page",
        ),
    },
)
async def verify_email(
    request: Request[Any, Any, Any], token: FromPath[str], accounts: Accounts, tx: Tx
) -> MessageAnswer | Redirect:
    message = await accounts.verify_email(tx, token)
    if request.accept.best_match(["application/json", "text/html"]) == "text/html":
        # A person who opened the email's link in a browser: on to the dashboard's sign-in.
        return Redirect("/sign-in?verified=1", status_code=HTTP_303_SEE_OTHER)
    return MessageAnswer(message)


@post(
    "/verify-email/resend",
    operation_id="resendVerificationEmail",
    tags=TAGS,
    status_code=HTTP_202_ACCEPTED,
    summary="Send the verification email again (same answer for any email)",
)
async def resend_verification(
    data: JSONBody[EmailBody], accounts: Accounts, tx: Tx
) -> Response[MessageAnswer]:
    return _after_answer(accounts.resend_verification(tx, data.email), HTTP_202_ACCEPTED)


# --- sessions ----------------------------------------------------------------------------------


@post(
    "/login",
    operation_id="login",
    tags=TAGS,
    status_code=HTTP_200_OK,
    cache_control=NO_STORE,
    summary="Log in: an access token (JWT) and a refresh token",
    description=(
        "Also sets the `pgcube_device` cookie: a client that sends it back is not held up by "
        "the throttle of failed logins made elsewhere against the account."
    ),
)
async def login(
    data: JSONBody[LoginBody], request: Request[Any, Any, Any], accounts: Accounts, tx: Tx
) -> Response[LoginAnswer]:
    client = LoginClient(
        address=client_address(request.scope), device_cookie=request.cookies.get(throttle.DEVICE_COOKIE)
    )
    result = await accounts.login(tx, data.email, data.password, client)
    session = result.session
    settings = accounts.settings
    cookie = Cookie(
        key=throttle.DEVICE_COOKIE,
        value=result.device_cookie,
        path=throttle.DEVICE_COOKIE_PATH,
        max_age=DEVICE_COOKIE_TTL,
        httponly=True,
        samesite="strict",
        secure=settings.base_url.startswith("https://") or not settings.is_development,
    )
    answer = LoginAnswer(refresh=session.refresh, access=session.access, expires_in=session.expires_in)
    return Response(answer, status_code=HTTP_200_OK, cookies=[cookie])


async def _refresh(data: JSONBody[RefreshBody], accounts: Accounts, tx: Tx) -> RefreshAnswer:
    session = await accounts.refresh(tx, data.refresh)
    return RefreshAnswer(access=session.access, refresh=session.refresh, expires_in=session.expires_in)


@post(
    "/token/refresh",
    operation_id="refreshToken",
    tags=TAGS,
    status_code=HTTP_200_OK,
    cache_control=NO_STORE,
    summary="Trade a refresh token for a new access token and a new refresh token",
)
async def refresh(data: JSONBody[RefreshBody], accounts: Accounts, tx: Tx) -> RefreshAnswer:
    return await _refresh(data, accounts, tx)


@post(
    "/auth/token/refresh",
    operation_id="refreshTokenAlias",
    tags=TAGS,
    status_code=HTTP_200_OK,
    cache_control=NO_STORE,
    summary="Alias of /core/token/refresh",
)
async def refresh_alias(data: JSONBody[RefreshBody], accounts: Accounts, tx: Tx) -> RefreshAnswer:
    return await _refresh(data, accounts, tx)


@post(
    "/logout",
    operation_id="logout",
    tags=TAGS,
    status_code=HTTP_200_OK,
    summary="Revoke the session of a refresh token",
)
async def logout(data: JSONBody[RefreshBody], accounts: Accounts, tx: Tx) -> MessageAnswer:
    return MessageAnswer(await accounts.logout(tx, data.refresh))


# --- password reset -------------------------------------------------------------------------------


@post(
    "/password-reset/request",
    operation_id="requestPasswordReset",
    tags=TAGS,
    status_code=HTTP_202_ACCEPTED,
    summary="Email a password reset token (same answer for any email)",
)
async def request_password_reset(
    data: JSONBody[EmailBody], accounts: Accounts, tx: Tx
) -> Response[MessageAnswer]:
    return _after_answer(accounts.request_password_reset(tx, data.email), HTTP_202_ACCEPTED)


@post(
    "/password-reset/confirm",
    operation_id="confirmPasswordReset",
    tags=TAGS,
    status_code=HTTP_200_OK,
    summary="Set a new password with a reset token; every session and API key is revoked",
)
async def confirm_password_reset(
    data: JSONBody[PasswordResetConfirmBody], accounts: Accounts, tx: Tx
) -> MessageAnswer:
    return MessageAnswer(await accounts.confirm_password_reset(tx, data.token, data.password))


# --- profile ----------------------------------------------------------------------------------------


@get("/profile", operation_id="getProfile", tags=TAGS, summary="The account's profile")
async def get_profile(jwt_principal: JwtPrincipal, accounts: Accounts, tx: Tx) -> ProfileAnswer:
    return ProfileAnswer.of(await accounts.profile(tx, jwt_principal))


@patch(
    "/profile",
    operation_id="updateProfile",
    tags=TAGS,
    summary="Change firstName and/or lastName",
)
async def update_profile(
    data: JSONBody[ProfilePatch], jwt_principal: JwtPrincipal, accounts: Accounts, tx: Tx
) -> ProfileAnswer:
    return ProfileAnswer.of(await accounts.update_profile(tx, jwt_principal, data.first_name, data.last_name))


# --- API keys ------------------------------------------------------------------------------------------


@get(
    "/api/v1/keys",
    operation_id="listApiKeys",
    tags=TAGS,
    cache_control=NO_STORE,
    summary="The account's live API keys (prefix only)",
)
async def list_keys(jwt_principal: JwtPrincipal, accounts: Accounts, tx: Tx) -> list[KeyAnswer]:
    return [KeyAnswer.of(api_key) for api_key in await accounts.list_keys(tx, jwt_principal)]


@post(
    "/api/v1/keys",
    operation_id="createApiKey",
    tags=TAGS,
    cache_control=NO_STORE,
    status_code=HTTP_201_CREATED,
    summary="Create an API key, optionally scoped to one database; the key is shown once",
)
async def create_key(
    data: JSONBody[CreateKeyBody], jwt_principal: JwtPrincipal, accounts: Accounts, tx: Tx
) -> NewKeyAnswer:
    return NewKeyAnswer.of(
        *await accounts.create_key(tx, jwt_principal, data.name, data.database_id, data.kind)
    )


@delete(
    "/api/v1/keys/{key_id:str}",
    operation_id="revokeApiKey",
    tags=TAGS,
    status_code=HTTP_200_OK,
    summary="Revoke an API key; it stops working at once",
)
async def revoke_key(
    key_id: FromPath[str], jwt_principal: JwtPrincipal, accounts: Accounts, tx: Tx
) -> MessageAnswer:
    return MessageAnswer(await accounts.revoke_key(tx, jwt_principal, key_id))


def core_router() -> Router:
    return Router(
        path="/core",
        route_handlers=[
            register,
            verify_email,
            resend_verification,
            login,
            refresh,
            refresh_alias,
            logout,
            request_password_reset,
            confirm_password_reset,
            get_profile,
            update_profile,
            list_keys,
            create_key,
            revoke_key,
        ],
        dependencies={
            "accounts": Provide(provide_accounts, sync_to_thread=False),
            "tx": Provide(provide_transactions, sync_to_thread=False),
        },
    )

"""The end-user ops, ``auth.*`` (SPEC §11.3), and their aliases.

Each body is closed (a key the op does not read is a 400) and decodes into a
command that ``pgcube.users.service.EndUserService`` runs on the path's
database; the answers are the seed's shapes (§11.2 for every op that opens or
renews a session). The ops run as the owner role, never under the access rules
(``CollectionUse.NONE``): they touch the database's internal tables only.

Credentials: a web key, with or without a signed-in end user, and a server key
(a project's backend may sign users up or in). An account's access token is
refused (403): it is never an end user's credential (RELIABILITY I2). Ops about
the signed-in user (``auth.get_user``, ``auth.update_profile``, ``auth.signout``
without a body token, a password change with the current password, an email
change) answer 401 without one. The database is checked first, so another
account's database answers 404 whatever the body says (SPEC §2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from pgcube.errors import ValidationError, missing_field
from pgcube.management.models import AuthSettings
from pgcube.ops.registry import Answer, Body, Context, Op, PrincipalKind, Tx
from pgcube.users.models import Caller, EndUser, Intent, IssuedSession, NextAction, TokenInfo, VerifiedToken
from pgcube.users.rules import PASSWORD_POLICY
from pgcube.users.tokens import DEFAULT_AUDIENCE

PRINCIPALS = frozenset({PrincipalKind.SERVER_KEY, PrincipalKind.WEB_KEY, PrincipalKind.END_USER})
UNAVAILABLE_GRANTS = frozenset({"oauth", "access_code", "authorization_code"})
GRANTS = ("password", "otp", "refresh_token")


def _required(value: str | None, field: str) -> str:
    if not value:
        raise missing_field(field)
    return value


def _code(otp: str | None, code: str | None) -> tuple[str, str]:
    """(the one-time code, the field it came in): ``otp``, or ``code`` for older clients."""
    if otp is not None and code is not None:
        raise ValidationError("Send the code once: otp or code", details={"field": "code"})
    if otp is not None:
        return otp, "otp"
    if code is not None:
        return code, "code"
    raise missing_field("otp")


def _only(body: Body, allowed: set[str], what: str) -> None:
    """Refuse a key that ``what`` does not read (sent, and not null)."""
    for field in body.__struct_fields__:
        if field not in allowed and field not in ("op", "action") and getattr(body, field) is not None:
            raise ValidationError(f"{what} does not take {field}", details={"field": field})


# --- bodies and their commands -----------------------------------------------------------------


@dataclass(frozen=True)
class Signup:
    email: str
    password: str
    display_name: str | None
    phone_number: str | None
    metadata: dict[str, Any] | None


class SignupBody(Body):
    email: str
    password: str
    display_name: str | None = None
    phone_number: str | None = None
    metadata: dict[str, Any] | None = None

    def command(self) -> Signup:
        return Signup(self.email, self.password, self.display_name, self.phone_number, self.metadata)


@dataclass(frozen=True)
class PasswordSignin:
    email: str
    password: str
    aud: str


@dataclass(frozen=True)
class CodeSignin:
    email: str
    code: str
    field: str
    aud: str


@dataclass(frozen=True)
class Refresh:
    refresh_token: str
    id_token: str | None = None


@dataclass(frozen=True)
class Unavailable:
    feature: str


class SigninBody(Body):
    grant_type: str
    email: str | None = None
    password: str | None = None
    otp: str | None = None
    code: str | None = None
    refresh_token: str | None = None
    aud: str | None = None

    def command(self) -> PasswordSignin | CodeSignin | Refresh | Unavailable:
        grant = self.grant_type
        if grant in UNAVAILABLE_GRANTS:
            return Unavailable(f"The {grant} grant")
        if grant == "password":
            _only(self, {"grant_type", "email", "password", "aud"}, "grant_type password")
            return PasswordSignin(
                _required(self.email, "email"),
                _required(self.password, "password"),
                self.aud or DEFAULT_AUDIENCE,
            )
        if grant == "otp":
            _only(self, {"grant_type", "email", "otp", "code", "aud"}, "grant_type otp")
            code, field = _code(self.otp, self.code)
            return CodeSignin(_required(self.email, "email"), code, field, self.aud or DEFAULT_AUDIENCE)
        if grant == "refresh_token":
            _only(self, {"grant_type", "refresh_token"}, "grant_type refresh_token")
            return Refresh(_required(self.refresh_token, "refresh_token"))
        raise ValidationError(
            f"grant_type must be one of {', '.join(GRANTS)}",
            details={"field": "grant_type", "allowed": GRANTS},
        )


class RefreshBody(Body):
    refresh_token: str
    id_token: str | None = None
    """The session's last id_token, which may have expired (its signature is checked)."""

    def command(self) -> Refresh:
        return Refresh(self.refresh_token, self.id_token)


@dataclass(frozen=True)
class Signout:
    id_token: str | None
    everywhere: bool


class SignoutBody(Body):
    id_token: str | None = None
    scope: Literal["all", "session"] = "all"

    def command(self) -> Signout:
        return Signout(self.id_token, self.scope == "all")


class EmptyBody(Body):
    """An op that reads nothing but its name (and the credentials)."""


class ProfileData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The fields a user may change: absent keeps a field, null clears it. Never the email,
    verification, roles or key (RELIABILITY D5)."""

    display_name: str | msgspec.UnsetType | None = msgspec.UNSET
    phone_number: str | msgspec.UnsetType | None = msgspec.UNSET
    photo_url: str | msgspec.UnsetType | None = msgspec.UNSET
    metadata: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET


@dataclass(frozen=True)
class ProfileUpdate:
    changes: dict[str, Any]


class UpdateProfileBody(Body):
    data: ProfileData

    def command(self) -> ProfileUpdate:
        changes = {
            field: value
            for field in ProfileData.__struct_fields__
            if (value := getattr(self.data, field)) is not msgspec.UNSET
        }
        if not changes:
            raise ValidationError(
                "data names no field to change (display_name, phone_number, photo_url, metadata)",
                details={"field": "data"},
            )
        return ProfileUpdate(changes)


@dataclass(frozen=True)
class SendCode:
    email: str
    intent: Intent


class SendCodeBody(Body):
    email: str
    intent: Intent

    def command(self) -> SendCode:
        return SendCode(self.email, self.intent)


@dataclass(frozen=True)
class PasswordChange:
    password: str
    new_password: str


@dataclass(frozen=True)
class PasswordReset:
    email: str
    code: str
    field: str
    new_password: str


@dataclass(frozen=True)
class EmailChange:
    new_email: str
    code: str
    field: str


class UpdateAccountBody(Body):
    intent: Literal["change_password", "change_email"] | None = None
    email: str | None = None
    otp: str | None = None
    code: str | None = None
    password: str | None = None
    new_password: str | None = None
    new_email: str | None = None

    def command(self) -> PasswordChange | PasswordReset | EmailChange:
        if self.intent == "change_email":
            _only(self, {"intent", "otp", "code", "new_email"}, "intent change_email")
            code, field = _code(self.otp, self.code)
            return EmailChange(_required(self.new_email, "new_email"), code, field)
        new_password = _required(self.new_password, "new_password")
        if self.otp is not None or self.code is not None or self.email is not None:
            _only(self, {"intent", "email", "otp", "code", "new_password"}, "a password change by code")
            code, field = _code(self.otp, self.code)
            return PasswordReset(_required(self.email, "email"), code, field, new_password)
        _only(self, {"intent", "password", "new_password"}, "a password change")
        return PasswordChange(_required(self.password, "password"), new_password)


@dataclass(frozen=True)
class VerifyEmail:
    email: str
    code: str
    field: str


class VerifyEmailBody(Body):
    email: str
    otp: str | None = None
    code: str | None = None

    def command(self) -> VerifyEmail:
        code, field = _code(self.otp, self.code)
        return VerifyEmail(self.email, code, field)


class VerifyIdTokenBody(Body):
    id_token: str


# --- answers -----------------------------------------------------------------------------------


def user_profile(user: EndUser) -> dict[str, Any]:
    return {
        "_userkey": user.user_key,
        "email": user.email,
        "email_verified": user.email_verified,
        "display_name": user.display_name,
        "photo_url": user.photo_url,
        "phone_number": user.phone_number,
        "metadata": msgspec.Raw(user.metadata),
        "roles": list(user.roles),
        "auth_types": list(user.auth_types),
    }


def token_info(info: TokenInfo) -> dict[str, Any]:
    return {
        "ttl": info.ttl,
        "exp": info.exp,
        "iat": info.iat,
        "aud": info.aud,
        "_userkey": info.user_key,
        "project_id": info.project_id,
    }


def _session(issued: IssuedSession) -> Answer:
    return Answer(
        {
            "id_token": issued.id_token,
            "refresh_token": issued.refresh_token,
            "token_type": "bearer",
            "token_info": token_info(issued.token_info),
            "user_profile": user_profile(issued.user),
        }
    )


def _next(action: NextAction) -> Answer:
    return Answer({"next_action": action.value, "next_operation": "auth.signin"})


def _count(count: int) -> Answer:
    return Answer({"count": count})


def _profile(user: EndUser) -> Answer:
    return Answer(user_profile(user))


def _sent(_: None) -> Answer:
    return Answer({"sent": True})


def _verified_email(_: None) -> Answer:
    return Answer({"email_verified": True})


def _verified_token(verified: VerifiedToken) -> Answer:
    return Answer(
        {
            "valid": True,
            "token_info": token_info(verified.token_info),
            "user_profile": user_profile(verified.user),
        }
    )


def _settings(settings: AuthSettings) -> Answer:
    return Answer(
        {
            "enabled": True,
            "allow_email_signup": settings.allow_email_signup,
            "require_verified_email": settings.require_verified_email,
            "password_policy": PASSWORD_POLICY,
        }
    )


def _nothing(_: None) -> Answer:  # pragma: no cover - the handler always raises 501
    return Answer(None)


# --- handlers ----------------------------------------------------------------------------------


def _caller(ctx: Context) -> Caller:
    return Caller(principal=ctx.principal, database_id=ctx.database_id, address=ctx.client_address)


async def signup(ctx: Context, command: Signup) -> NextAction:
    return await ctx.users.signup(
        ctx.session,
        _caller(ctx),
        email=command.email,
        password=command.password,
        display_name=command.display_name,
        phone_number=command.phone_number,
        metadata=command.metadata,
    )


async def refresh(ctx: Context, command: Refresh) -> IssuedSession:
    return await ctx.users.refresh(
        ctx.session, _caller(ctx), refresh_token=command.refresh_token, id_token=command.id_token
    )


async def signin(ctx: Context, command: PasswordSignin | CodeSignin | Refresh | Unavailable) -> IssuedSession:
    users, caller = ctx.users, _caller(ctx)
    if isinstance(command, PasswordSignin):
        return await users.signin_with_password(
            ctx.session, caller, email=command.email, password=command.password, aud=command.aud
        )
    if isinstance(command, CodeSignin):
        return await users.signin_with_code(
            ctx.session, caller, email=command.email, code=command.code, field=command.field, aud=command.aud
        )
    if isinstance(command, Refresh):
        return await refresh(ctx, command)
    await users.unavailable(ctx.session, caller, command.feature)
    raise AssertionError("unreachable")  # pragma: no cover - unavailable() raises 501


async def signout(ctx: Context, command: Signout) -> int:
    return await ctx.users.signout(
        ctx.session, _caller(ctx), id_token=command.id_token, everywhere=command.everywhere
    )


async def get_user(ctx: Context, command: EmptyBody) -> EndUser:
    return await ctx.users.get_user(ctx.session, _caller(ctx))


async def update_profile(ctx: Context, command: ProfileUpdate) -> IssuedSession:
    return await ctx.users.update_profile(ctx.session, _caller(ctx), command.changes)


async def send_code(ctx: Context, command: SendCode) -> None:
    await ctx.users.send_code(ctx.session, _caller(ctx), email=command.email, intent=command.intent)


async def update_account(
    ctx: Context, command: PasswordChange | PasswordReset | EmailChange
) -> IssuedSession:
    users, caller = ctx.users, _caller(ctx)
    if isinstance(command, PasswordChange):
        return await users.change_password(
            ctx.session, caller, password=command.password, new_password=command.new_password
        )
    if isinstance(command, PasswordReset):
        return await users.reset_password(
            ctx.session,
            caller,
            email=command.email,
            code=command.code,
            field=command.field,
            new_password=command.new_password,
        )
    return await users.change_email(
        ctx.session, caller, new_email=command.new_email, code=command.code, field=command.field
    )


async def verify_email(ctx: Context, command: VerifyEmail) -> None:
    await ctx.users.verify_email(
        ctx.session, _caller(ctx), email=command.email, code=command.code, field=command.field
    )


async def verify_id_token(ctx: Context, command: VerifyIdTokenBody) -> VerifiedToken:
    return await ctx.users.verify_id_token(ctx.session, _caller(ctx), command.id_token)


async def settings(ctx: Context, command: EmptyBody) -> AuthSettings:
    return await ctx.users.settings_of(ctx.session, _caller(ctx))


async def nonce(ctx: Context, command: EmptyBody) -> None:
    await ctx.users.unavailable(ctx.session, _caller(ctx), "auth.nonce")


# --- the family --------------------------------------------------------------------------------


def _op(
    name: str,
    summary: str,
    body: type[Body],
    handler: Any,
    present: Any,
    tx: Tx,
    *aliases: str,
    example: dict[str, Any] | None = None,
) -> Op[Any, Any]:
    """``name`` and its ``aliases``, all reading ``body``; an answer that may carry a token is
    never cached (``no_store``)."""
    return Op(
        name=name,
        summary=summary,
        body=body,
        handler=handler,
        present=present,
        tx=tx,
        aliases=dict.fromkeys(aliases, body),
        principals=PRINCIPALS,
        no_store=present in (_session, _verified_token),
        example=example,
    )


OPS: tuple[Op[Any, Any], ...] = (
    _op(
        "auth.signup",
        "Sign an end user up with email and password (the same answer when the email is taken)",
        SignupBody,
        signup,
        _next,
        Tx.WRITE,
        "auth.register",
        example={"op": "auth.signup", "email": "ada@example.com", "password": "a long passphrase"},
    ),
    _op(
        "auth.signin",
        "Sign in: grant_type password (email, password), otp (email, otp) or refresh_token",
        SigninBody,
        signin,
        _session,
        Tx.WRITE,
        "auth.login",
        example={"op": "auth.signin", "grant_type": "password", "email": "ada@example.com", "password": "…"},
    ),
    _op(
        "auth.refresh_token",
        "A new id_token and refresh token; the refresh token sent is spent",
        RefreshBody,
        refresh,
        _session,
        Tx.WRITE,
        "auth.refresh",
    ),
    _op(
        "auth.signout",
        "End the signed-in session (scope session) or all the user's sessions (scope all)",
        SignoutBody,
        signout,
        _count,
        Tx.WRITE,
    ),
    _op("auth.get_user", "The signed-in user's profile", EmptyBody, get_user, _profile, Tx.READ, "user.get"),
    _op(
        "auth.update_profile",
        "Change the signed-in user's display_name, phone_number, photo_url or metadata",
        UpdateProfileBody,
        update_profile,
        _session,
        Tx.WRITE,
        "user.update",
    ),
    _op(
        "auth.send_otp",
        "Email a 6-digit code for an intent (the same answer for any email)",
        SendCodeBody,
        send_code,
        _sent,
        Tx.WRITE,
        "auth.request_code",
        example={"op": "auth.send_otp", "email": "ada@example.com", "intent": "verify_email"},
    ),
    _op(
        "auth.update_account",
        "Change the password (with the current one, or a code) or the email (with a code)",
        UpdateAccountBody,
        update_account,
        _session,
        Tx.WRITE,
        "auth.change_password",
    ),
    _op(
        "auth.verify_email",
        "Verify the email address with the code sent to it",
        VerifyEmailBody,
        verify_email,
        _verified_email,
        Tx.WRITE,
        "auth.confirm_code",
    ),
    _op(
        "auth.verify_id_token",
        "Check an id_token: valid, of this database, of a live session",
        VerifyIdTokenBody,
        verify_id_token,
        _verified_token,
        Tx.READ,
    ),
    _op(
        "auth.settings", "The project's sign-up and sign-in settings", EmptyBody, settings, _settings, Tx.READ
    ),
    _op("auth.nonce", "Not available: answers 501 FEATURE_UNAVAILABLE", EmptyBody, nonce, _nothing, Tx.READ),
)

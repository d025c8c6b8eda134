"""The end-user service: sign-up, sign-in, sessions, codes and profiles (SPEC §11).

One instance per process (``AccountService.end_users``); each method takes the
request's ``Session`` and a ``Caller`` and opens its own short transactions on
that session's connection, so that:

* a password is never hashed while a pooled connection is held (``_release``):
  a storm of sign-ins cannot drain the pool (RELIABILITY A2);
* a counted guess and a revoked session are committed before the error that
  follows them is raised (A4, B3).

What the answers must not reveal (A5, G2, H9): sign-up answers the same, and
hashes a password either way, whether the address is taken or not; a code
request answers ``{"sent": true}`` for any address and runs the same one
statement for each; sign-in answers an unknown address and a wrong password
alike, after a dummy Argon2 verify, and throttles both the same way.

Guesses (passwords, codes) are counted per address typed and per client
address, in the accounts' throttle (``pgcube.auth.attempts``) under buckets
named after the database, so one project's users never share a count with
another's or with accounts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pgcube import errors
from pgcube.auth import attempts, throttle, tokens
from pgcube.auth.addresses import canonical_email, checked_email, checked_name, lookup_email
from pgcube.auth.email import MailSender
from pgcube.auth.passwords import Passwords, normalise
from pgcube.auth.repository import AccountsRepository
from pgcube.control_plane_cache import caches
from pgcube.db.session import Session
from pgcube.management.models import AuthSettings, Database
from pgcube.management.service import resolve_database
from pgcube.settings import Settings
from pgcube.users import rules
from pgcube.users.mail import code_mail
from pgcube.users.models import (
    Caller,
    EndUser,
    Intent,
    IssuedSession,
    NextAction,
    TokenInfo,
    VerifiedToken,
)
from pgcube.users.repository import UsersRepository
from pgcube.users.sessions import session_is_live
from pgcube.users.tokens import DEFAULT_AUDIENCE, IdClaims, VerifiedIdTokens

log = logging.getLogger("pgcube.users")

ID_TOKEN_TTL = 3600
"""Seconds an ``id_token`` lives (the seed's ``token_info.ttl``)."""
SESSION_TTL = 30 * 24 * 3600
"""A session (its refresh tokens) ends 30 days after sign-in."""
CODE_TTL = 600
"""A one-time code works for 10 minutes."""
SIGN_IN_FIRST = "Sign in first: send your web key with Authorization: Bearer <id_token>"
SIGNUP_OFF = "Sign-up with email is turned off for this project"
DISABLED = "This user is disabled"
WRONG_CODE = "The code is wrong, expired or already used: ask for a new one"
EMAIL_TAKEN = "Another user of this project has this email address"


@dataclass
class _Work:
    """One transaction: the database's end-user tables and the control plane (throttle, outbox)."""

    users: UsersRepository
    control: AccountsRepository


class EndUserService:
    def __init__(
        self,
        settings: Settings,
        secret: str,
        passwords: Passwords,
        mailer: MailSender,
        id_tokens: VerifiedIdTokens,
    ) -> None:
        self.settings = settings
        self.passwords = passwords
        self.mailer = mailer
        self.id_tokens = id_tokens
        self._code_key = hmac.new(secret.encode(), b"pgcube end-user one-time code", hashlib.sha256).digest()

    # --- sign-up -------------------------------------------------------------------------------

    async def signup(
        self,
        session: Session,
        caller: Caller,
        *,
        email: str,
        password: str,
        display_name: str | None,
        phone_number: str | None,
        metadata: dict[str, Any] | None,
    ) -> NextAction:
        """A new user, or — for a taken address — nothing, with the same answer and the same
        work (one hash). With ``verify_email_on_signup`` a code goes to an address that is not
        verified yet, new or not."""
        database = await resolve_database(session, caller.principal, caller.database_id)
        settings = database.auth_settings
        if caller.principal.is_web and not settings.allow_email_signup:
            raise errors.Forbidden(SIGNUP_OFF)
        address = checked_email(email)
        password = rules.checked_password(password)
        name = None if display_name is None else checked_name(display_name, "display_name") or None
        phone = None if phone_number is None else rules.checked_phone(phone_number, "phone_number")
        stored_metadata = rules.checked_metadata(metadata, "metadata")
        await _release(session)
        password_hash = await self.passwords.hash(password)
        canonical = canonical_email(address)
        async with self._work(session, database) as work:
            created = await work.users.create_user(
                uuid.uuid4().hex, address, canonical, password_hash, name, phone, stored_metadata
            )
            if settings.verify_email_on_signup:
                await self._send_code(work, database, canonical, Intent.VERIFY_EMAIL)
        if created:
            log.info("end user signed up (database %s)", database.id)
        return NextAction.VERIFY_EMAIL if settings.verify_email_on_signup else NextAction.SIGNIN

    # --- sign-in and sessions ------------------------------------------------------------------

    async def signin_with_password(
        self, session: Session, caller: Caller, *, email: str, password: str, aud: str
    ) -> IssuedSession:
        database = await resolve_database(session, caller.principal, caller.database_id)
        canonical = lookup_email(email)
        password = rules.presented_password(password)
        aud = rules.checked_audience(aud)
        candidates = self._buckets(database, caller, "user", canonical)
        async with self._work(session, database) as work:
            counted = await attempts.count_attempt(work.control, candidates, self.settings)
            row = await work.users.signin_row(canonical)
        await _release(session)
        stored = row.password_hash if row is not None else None
        if not await self.passwords.verify(stored, password) or row is None or stored is None:
            raise errors.InvalidCredentials()
        upgraded = None
        if self.passwords.needs_rehash(stored):
            upgraded = await self.passwords.hash(normalise(password))
        issued = None
        async with self._work(session, database) as work:
            await attempts.settle_success(work.control, counted, self.settings)
            if upgraded is not None:
                await work.users.upgrade_hash(row.user_key, stored, upgraded)
            refused = _refusal(row.disabled, row.email_verified, database.auth_settings)
            if refused is None:
                issued = await self._sign_in(work, database, row.user_key, aud, proved_email=False)
        if refused is not None:
            raise refused
        if issued is None:  # disabled meanwhile
            raise errors.Forbidden(DISABLED)
        return issued

    async def signin_with_code(
        self, session: Session, caller: Caller, *, email: str, code: str, field: str, aud: str
    ) -> IssuedSession:
        """A sign-in code proves the address: the user's email is verified by it."""
        database = await resolve_database(session, caller.principal, caller.database_id)
        canonical = lookup_email(email)
        code = rules.checked_code(code, field)
        aud = rules.checked_audience(aud)
        issued = None
        async with self._work(session, database) as work:
            user_key = await self._try_code(work, database, caller, canonical, Intent.SIGNIN, code)
            if user_key is not None:
                issued = await self._sign_in(work, database, user_key, aud, proved_email=True)
        if user_key is None:
            raise errors.InvalidCredentials("Invalid email or code")
        if issued is None:
            raise errors.Forbidden(DISABLED)
        return issued

    async def refresh(
        self, session: Session, caller: Caller, *, refresh_token: str, id_token: str | None
    ) -> IssuedSession:
        """Rotate: spend ``refresh_token``, answer a new one of the same session (B3, B4).

        A token spent more than ``refresh_reuse_grace`` seconds ago, or before the session's last
        rotation, is being replayed — by a thief, or by the user after a thief — so its session
        ends. Within the grace (concurrent refreshes by one client) the loser is refused and the
        session lives on. ``id_token``, when sent, may have expired but must be this session's.
        """
        database = await resolve_database(session, caller.principal, caller.database_id)
        if not rules.is_refresh_token(refresh_token):
            raise errors.InvalidSessionToken()
        claims = None if id_token is None else self._claims_allowing_expiry(database, id_token)
        token_hash = tokens.digest(refresh_token)
        refresh = _new_refresh_token()
        ended = None
        async with self._work(session, database) as work:
            rotated = await work.users.rotate_refresh_token(token_hash, tokens.digest(refresh))
            if rotated is None:
                replay = await work.users.replayed_session(token_hash)
                grace = self.settings.refresh_reuse_grace
                if replay is not None and not replay.ended:
                    within_grace = replay.last_rotation and (replay.seconds_ago or 0.0) <= grace
                    if not within_grace:
                        ended = await work.users.end_session(replay.session_id, replay.user_key)
            elif claims is not None and (claims.sid, claims.sub) != (
                rotated.session_id,
                rotated.user.user_key,
            ):
                raise errors.InvalidSessionToken()  # rolls the rotation back
        if ended:
            _forget_sessions(ended)
            log.warning("a spent refresh token was replayed; session ended (database %s)", database.id)
        if rotated is None:
            raise errors.InvalidSessionToken()
        return self._issued(database, rotated.session_id, rotated.aud, refresh, rotated.user)

    async def signout(
        self, session: Session, caller: Caller, *, id_token: str | None, everywhere: bool
    ) -> int:
        """End the session of the Bearer (or of ``id_token``), or every session of its user; how
        many ended. The id_tokens of an ended session are refused at once (H4)."""
        database = await resolve_database(session, caller.principal, caller.database_id)
        if id_token is not None:
            claims = self._claims_allowing_expiry(database, id_token)
            if not await session_is_live(session, caller.principal, claims):
                raise errors.InvalidSessionToken()
            user_key, session_id = claims.sub, claims.sid
        else:
            user_key, session_id = _signed_in(caller)
        async with self._work(session, database) as work:
            if everywhere:
                ended = await work.users.end_sessions(user_key)
            else:
                ended = await work.users.end_session(session_id, user_key)
        _forget_sessions(ended)
        return len(ended)

    async def verify_id_token(self, session: Session, caller: Caller, id_token: str) -> VerifiedToken:
        database = await resolve_database(session, caller.principal, caller.database_id)
        try:
            claims = self.id_tokens.decode(id_token)
        except errors.AuthenticationFailed:
            raise errors.InvalidSessionToken() from None
        if claims.pid != database.id or not await session_is_live(session, caller.principal, claims):
            raise errors.InvalidSessionToken()
        user = await _profile(session, database, claims.sub)
        return VerifiedToken(token_info=_token_info(claims), user=user)

    # --- the signed-in user --------------------------------------------------------------------

    async def get_user(self, session: Session, caller: Caller) -> EndUser:
        database = await resolve_database(session, caller.principal, caller.database_id)
        user_key, _ = _signed_in(caller)
        return await _profile(session, database, user_key)

    async def update_profile(
        self, session: Session, caller: Caller, changes: dict[str, Any]
    ) -> IssuedSession:
        """Set the profile fields ``changes`` names; the answer carries the session's next
        refresh token (the one the client held is spent, as by ``refresh``)."""
        database = await resolve_database(session, caller.principal, caller.database_id)
        user_key, session_id = _signed_in(caller)
        checked = rules.checked_profile(changes)
        refresh = _new_refresh_token()
        async with self._work(session, database) as work:
            user = await work.users.update_profile(user_key, checked)
            aud = await work.users.rotate_session(session_id, user_key, tokens.digest(refresh))
            if user is None or aud is None:
                raise errors.InvalidSessionToken()
        return self._issued(database, session_id, aud, refresh, user)

    async def change_password(
        self, session: Session, caller: Caller, *, password: str, new_password: str
    ) -> IssuedSession:
        """The signed-in user's password, proved by the current one; the user's other sessions end."""
        database = await resolve_database(session, caller.principal, caller.database_id)
        user_key, session_id = _signed_in(caller)
        password = rules.presented_password(password)
        new_password = rules.checked_password(new_password, "new_password")
        candidates = self._buckets(database, caller, "userkey", user_key)
        async with self._work(session, database) as work:
            counted = await attempts.count_attempt(work.control, candidates, self.settings)
            stored = await work.users.password_hash(user_key)
        await _release(session)
        if not await self.passwords.verify(stored, password):
            raise errors.InvalidCredentials("The current password is wrong")
        new_hash = await self.passwords.hash(new_password)
        refresh = _new_refresh_token()
        async with self._work(session, database) as work:
            await attempts.settle_success(work.control, counted, self.settings)
            user = await work.users.set_password(user_key, new_hash, by_code=False)
            ended = await work.users.end_sessions(user_key, keep=session_id)
            aud = await work.users.rotate_session(session_id, user_key, tokens.digest(refresh))
            if user is None or aud is None:
                raise errors.InvalidSessionToken()
        _forget_sessions(ended)
        log.info(
            "end user changed their password; %d other session(s) ended (database %s)",
            len(ended),
            database.id,
        )
        return self._issued(database, session_id, aud, refresh, user)

    async def reset_password(
        self, session: Session, caller: Caller, *, email: str, code: str, field: str, new_password: str
    ) -> IssuedSession:
        """A forgotten password, replaced with a ``change_password`` code: every session of the
        user ends, and the answer is a new one. The code is tried (and spent) first, so a wrong
        guess costs no hash."""
        database = await resolve_database(session, caller.principal, caller.database_id)
        canonical = lookup_email(email)
        code = rules.checked_code(code, field)
        new_password = rules.checked_password(new_password, "new_password")
        async with self._work(session, database) as work:
            user_key = await self._try_code(work, database, caller, canonical, Intent.CHANGE_PASSWORD, code)
        if user_key is None:
            raise errors.InvalidToken(WRONG_CODE)
        await _release(session)
        new_hash = await self.passwords.hash(new_password)
        issued = None
        ended: list[str] = []
        async with self._work(session, database) as work:
            if await work.users.set_password(user_key, new_hash, by_code=True):
                ended = await work.users.end_sessions(user_key)
                await work.control.clear_buckets([self._bucket_name(database, "user", canonical)])
                issued = await self._sign_in(work, database, user_key, DEFAULT_AUDIENCE, proved_email=True)
        _forget_sessions(ended)
        caches().forget_end_user(user_key)
        if issued is None:  # disabled meanwhile
            raise errors.Forbidden(DISABLED)
        log.info("end user reset their password; every session ended (database %s)", database.id)
        return issued

    async def change_email(
        self, session: Session, caller: Caller, *, new_email: str, code: str, field: str
    ) -> IssuedSession:
        """The signed-in user's address, replaced by one a ``change_email`` code proved."""
        database = await resolve_database(session, caller.principal, caller.database_id)
        user_key, session_id = _signed_in(caller)
        address = checked_email(new_email, "new_email")
        canonical = canonical_email(address)
        code = rules.checked_code(code, field)
        refresh = _new_refresh_token()
        issued = None
        async with self._work(session, database) as work:
            proved = await self._try_code(
                work, database, caller, canonical, Intent.CHANGE_EMAIL, code, user_key=user_key
            )
            if proved is not None:  # a failure from here on rolls back, and the code is not spent
                aud = await work.users.rotate_session(session_id, user_key, tokens.digest(refresh))
                if aud is None:
                    raise errors.InvalidSessionToken()
                user = await work.users.change_email(user_key, address, canonical)
                if user is None:
                    raise errors.Conflict(EMAIL_TAKEN)
                issued = self._issued(database, session_id, aud, refresh, user)
        if issued is None:
            raise errors.InvalidToken(WRONG_CODE)
        return issued

    # --- codes ---------------------------------------------------------------------------------

    async def send_code(self, session: Session, caller: Caller, *, email: str, intent: Intent) -> None:
        """A code for ``intent`` to the user with that address, if there is one that may use it
        and none was sent in the last ``email_resend_interval`` seconds; the caller learns nothing
        either way. A ``change_email`` code goes to the new address of the signed-in user."""
        database = await resolve_database(session, caller.principal, caller.database_id)
        if intent is Intent.CHANGE_EMAIL:
            user_key, _ = _signed_in(caller)
            address = checked_email(email)
            canonical = canonical_email(address)
            code = rules.new_code()
            async with self._work(session, database) as work:
                due = await work.users.issue_email_change_code(
                    user_key,
                    address,
                    canonical,
                    self._code_hash(database, canonical, intent, code),
                    CODE_TTL,
                    self.settings.email_resend_interval,
                )
                if due:
                    await self._mail_code(work, database, address, code, intent)
            return
        canonical = lookup_email(email)
        async with self._work(session, database) as work:
            await self._send_code(work, database, canonical, intent)

    async def verify_email(
        self, session: Session, caller: Caller, *, email: str, code: str, field: str
    ) -> None:
        database = await resolve_database(session, caller.principal, caller.database_id)
        canonical = lookup_email(email)
        code = rules.checked_code(code, field)
        verified = False
        async with self._work(session, database) as work:
            user_key = await self._try_code(work, database, caller, canonical, Intent.VERIFY_EMAIL, code)
            verified = user_key is not None and await work.users.verify_email(user_key)
        if not verified:
            raise errors.InvalidToken(WRONG_CODE)

    # --- the project ---------------------------------------------------------------------------

    async def settings_of(self, session: Session, caller: Caller) -> AuthSettings:
        database = await resolve_database(session, caller.principal, caller.database_id)
        return database.auth_settings

    async def unavailable(self, session: Session, caller: Caller, feature: str) -> None:
        """OAuth, ``auth.nonce`` and the ``access_code`` grant: 501 (after the database check)."""
        await resolve_database(session, caller.principal, caller.database_id)
        raise errors.FeatureUnavailable(f"{feature} is not available on this server")

    # --- helpers -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _work(self, session: Session, database: Database) -> AsyncIterator[_Work]:
        async with session.transaction() as conn:
            yield _Work(UsersRepository(conn, database.schema_name), AccountsRepository(conn))

    def _bucket_name(self, database: Database, kind: str, ident: str) -> str:
        return f"{kind}:{database.id}:{ident}"

    def _buckets(self, database: Database, caller: Caller, kind: str, ident: str) -> list[throttle.Bucket]:
        """Where a guess counts: the user (by address typed or by key) and the client's address."""
        s = self.settings
        return [
            throttle.Bucket(self._bucket_name(database, kind, ident), s.login_max_failures),
            throttle.Bucket(
                self._bucket_name(database, "useraddr", caller.address),
                s.login_address_max_failures,
                shared=True,
            ),
        ]

    def _code_hash(self, database: Database, canonical: str, intent: Intent, code: str) -> bytes:
        """What ``_otps`` keeps of a code: an HMAC bound to the database, the address and the intent
        (a code of one intent never passes for another's)."""
        message = f"{database.id}\x00{canonical}\x00{intent.value}\x00{code}".encode()
        return hmac.new(self._code_key, message, hashlib.sha256).digest()

    async def _try_code(
        self,
        work: _Work,
        database: Database,
        caller: Caller,
        canonical: str,
        intent: Intent,
        code: str,
        user_key: str | None = None,
    ) -> str | None:
        """One counted try of a code: the user it proves, or None. A wrong try stays counted
        (the code's own five, and the throttle's buckets) when the caller's transaction commits."""
        candidates = self._buckets(database, caller, "usercode", canonical)
        counted = await attempts.count_attempt(work.control, candidates, self.settings)
        tried = await work.users.check_code(
            canonical, intent.value, self._code_hash(database, canonical, intent, code), user_key
        )
        if tried is None or not tried.matched:
            return None
        await attempts.settle_success(work.control, counted, self.settings)
        return tried.user_key

    async def _send_code(self, work: _Work, database: Database, canonical: str, intent: Intent) -> None:
        code = rules.new_code()
        address = await work.users.issue_code(
            canonical,
            intent.value,
            self._code_hash(database, canonical, intent, code),
            CODE_TTL,
            self.settings.email_resend_interval,
        )
        if address is not None:
            await self._mail_code(work, database, address, code, intent)

    async def _mail_code(
        self, work: _Work, database: Database, address: str, code: str, intent: Intent
    ) -> None:
        mail = code_mail(
            to=address,
            code=code,
            intent=intent,
            project=database.name,
            minutes=CODE_TTL // 60,
            account_id=database.account_id,
        )
        await self.mailer.send(mail, work.control)

    async def _sign_in(
        self, work: _Work, database: Database, user_key: str, aud: str, *, proved_email: bool
    ) -> IssuedSession | None:
        """A new session for the user (None when the user is disabled)."""
        user = await work.users.signed_in(user_key, proved_email=proved_email)
        if user is None:
            return None
        refresh = _new_refresh_token()
        session_id = await work.users.open_session(user_key, aud, tokens.digest(refresh), SESSION_TTL)
        return self._issued(database, session_id, aud, refresh, user)

    def _issued(
        self, database: Database, session_id: str, aud: str, refresh: str, user: EndUser
    ) -> IssuedSession:
        id_token, claims = self.id_tokens.issue_with_claims(
            user_key=user.user_key, database_id=database.id, session_id=session_id, aud=aud, ttl=ID_TOKEN_TTL
        )
        return IssuedSession(
            id_token=id_token, refresh_token=refresh, token_info=_token_info(claims), user=user
        )

    def _claims_allowing_expiry(self, database: Database, id_token: str) -> IdClaims:
        try:
            claims = self.id_tokens.decode_allowing_expiry(id_token)
        except errors.AuthenticationFailed:
            raise errors.InvalidSessionToken() from None
        if claims.pid != database.id:
            raise errors.InvalidSessionToken()
        return claims


async def _profile(session: Session, database: Database, user_key: str) -> EndUser:
    """The user's profile, read on the request's connection; 401 when the user is gone."""
    user = await UsersRepository(await session.connection(), database.schema_name).profile(user_key)
    if user is None:
        raise errors.InvalidSessionToken()
    return user


def _refusal(disabled: bool, email_verified: bool, settings: AuthSettings) -> errors.PgcubeError | None:
    """Why a user who gave the right password still may not sign in, if they may not."""
    if disabled:
        return errors.Forbidden(DISABLED)
    if settings.require_verified_email and not email_verified:
        return errors.EmailNotVerified("Verify your email address before signing in (auth.verify_email)")
    return None


def _signed_in(caller: Caller) -> tuple[str, str]:
    """The signed-in end user and session of the request, else 401."""
    principal = caller.principal
    if principal.user_key is None or principal.user_session is None:
        raise errors.AuthenticationFailed(SIGN_IN_FIRST)
    return principal.user_key, principal.user_session


def _token_info(claims: IdClaims) -> TokenInfo:
    return TokenInfo(
        ttl=claims.exp - claims.iat,
        exp=claims.exp,
        iat=claims.iat,
        aud=claims.aud,
        user_key=claims.sub,
        project_id=claims.pid,
    )


def _new_refresh_token() -> str:
    return "rt_" + tokens.new_opaque_token()


def _forget_sessions(session_ids: list[str]) -> None:
    """Committed: this process need not wait for the notifications."""
    cached = caches()
    for session_id in session_ids:
        cached.forget_user_session(session_id)


async def _release(session: Session) -> None:
    """Give the request's connection back before hashing: a password is never hashed while a
    pooled connection is held (A2). The next statement takes one again."""
    await session.close()

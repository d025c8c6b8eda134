"""The accounts service: registration, email tokens, login, sessions, profile, API keys.

Every method takes ``tx`` (``repository.Transactions``) and opens its own
short transactions: a password is never hashed while a pooled connection is
held, and side effects that must outlive an error answer (a counted login
attempt, a family revoked on refresh-token reuse) are committed before the
error is raised.

What the answers must not reveal (RELIABILITY A5, G2):

* register, resend and reset answer the same for every email, and do about
  the same work whether or not it exists (a password is hashed on register
  either way; an existing address gets a notice instead of a second account);
* login answers an unknown email and a wrong password alike, after a dummy
  Argon2 verify, and throttles unknown emails exactly like known ones.
"""

from __future__ import annotations

import logging
import math
import re
import uuid

import msgspec

from pgcube import errors
from pgcube.auth import api_keys, email, tokens
from pgcube.auth.email import MailSender
from pgcube.auth.key_usage import KeyUsage
from pgcube.auth.passwords import MAX_PASSWORD_BYTES, Passwords, check_password_rules, normalise
from pgcube.auth.principal import Principal
from pgcube.auth.repository import AccountsRepository, KeyAuthRow, KeyRow, ProfileRow, Transactions
from pgcube.control_plane_cache import caches
from pgcube.db.session import Session as DbSession
from pgcube.schemas import core as schemas
from pgcube.settings import Settings

log = logging.getLogger("pgcube.auth")

VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"  # noqa: S105 — a token purpose, not a password
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100

_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\]+@[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\]+")
_DATABASE_ID = re.compile(r"[0-9a-f]{24}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")

REGISTERED = "User registered successfully. Please check your email to verify your account."
VERIFIED = "Email verified successfully. You can now log in."
RESEND_ACCEPTED = "If an unverified account exists for this email, a new verification email has been sent."
RESET_REQUESTED = "If an account exists for this email, a password reset email has been sent."
RESET_DONE = "Password reset successfully. Every session has been signed out; log in with the new password."
LOGGED_OUT = "Logged out."
KEY_REVOKED = "API key revoked."


def canonical_email(address: str) -> str:
    """The form emails are compared on: trimmed and case-folded (G2)."""
    return address.strip().lower()


def _checked_email(address: str) -> str:
    trimmed = address.strip()
    if not trimmed:
        raise errors.ValidationError("Missing required field: email", details={"field": "email"})
    if len(trimmed) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(trimmed):
        raise errors.ValidationError("The email address is not valid", details={"field": "email"})
    return trimmed


def _lookup_email(address: str) -> str:
    """The canonical form of an email used to look an account up; only its length is checked."""
    canonical = canonical_email(address)
    if not canonical:
        raise errors.ValidationError("Missing required field: email", details={"field": "email"})
    if len(canonical) > MAX_EMAIL_LENGTH or "\x00" in canonical:
        raise errors.ValidationError("The email address is not valid", details={"field": "email"})
    return canonical


def _checked_name(value: str, field: str) -> str:
    trimmed = value.strip()
    if len(trimmed) > MAX_NAME_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in trimmed):
        raise errors.ValidationError(
            f"{field} must be at most {MAX_NAME_LENGTH} printable characters", details={"field": field}
        )
    return trimmed


def _profile(row: ProfileRow) -> schemas.ProfileAnswer:
    return schemas.ProfileAnswer(
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        email_verified=row.email_verified,
        created_at=row.created_at,
    )


def _key(row: KeyRow) -> schemas.KeyAnswer:
    return schemas.KeyAnswer(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        database_id=row.database_id,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


class Session(msgspec.Struct, frozen=True, kw_only=True):
    access: str
    refresh: str
    expires_in: int


class AccountService:
    def __init__(self, settings: Settings, jwt_secret: str, passwords: Passwords, mailer: MailSender) -> None:
        self.settings = settings
        self._secret = jwt_secret
        self.passwords = passwords
        self.mailer = mailer
        self.key_usage = KeyUsage()
        """Keys used by this process's requests, for ``last_used_at`` (written by the lifespan)."""
        self._access_tokens = tokens.VerifiedAccessTokens(jwt_secret)

    # --- registration and email ------------------------------------------------------------

    async def register(self, tx: Transactions, body: schemas.RegisterBody) -> str:
        address = _checked_email(body.email)
        first_name = _checked_name(body.first_name, "firstName")
        last_name = _checked_name(body.last_name, "lastName")
        password = check_password_rules(body.password)
        # Hashed whether or not the email is taken: both paths cost one hash (G2).
        password_hash = await self.passwords.hash(password)
        canonical = canonical_email(address)
        async with tx() as repo:
            account_id = await repo.create_account(address, canonical, first_name, last_name, password_hash)
            if account_id is not None:
                await self._send_verification(repo, account_id, address)
                log.info("account registered (id %s)", account_id)
            else:
                await self._notify_existing(repo, canonical)
        return REGISTERED

    async def _notify_existing(self, repo: AccountsRepository, canonical: str) -> None:
        """Someone registered with a taken address: tell its owner (at most once a minute)."""
        target = await repo.claim_mail_slot(canonical, self.settings.email_resend_interval)
        if target is None:
            return
        if not target.email_verified:
            await self._send_verification(repo, target.id, target.email)
        else:
            mail = email.already_registered_mail(self.settings.base_url, target.email, target.id)
            await self.mailer.send(mail, repo)

    async def _send_verification(self, repo: AccountsRepository, account_id: str, address: str) -> None:
        token = tokens.new_opaque_token()
        ttl = self.settings.email_token_ttl
        await repo.add_email_token(tokens.digest(token), account_id, VERIFY_EMAIL, ttl)
        mail = email.verification_mail(
            self.settings.base_url, address, token, max(1, ttl // 3600), account_id
        )
        await self.mailer.send(mail, repo)

    async def verify_email(self, tx: Transactions, token: str) -> str:
        if not tokens.is_opaque_token(token):
            raise errors.InvalidToken()
        async with tx() as repo:
            account_id = await repo.redeem_email_token(tokens.digest(token), VERIFY_EMAIL)
            if account_id is None:
                raise errors.InvalidToken()
            await repo.mark_verified(account_id)
        return VERIFIED

    async def resend_verification(self, tx: Transactions, address: str) -> str:
        canonical = _lookup_email(address)
        async with tx() as repo:
            target = await repo.claim_mail_slot(canonical, self.settings.email_resend_interval)
            if target is not None and not target.email_verified:
                await self._send_verification(repo, target.id, target.email)
        return RESEND_ACCEPTED

    # --- login and sessions ------------------------------------------------------------------

    async def login(self, tx: Transactions, body: schemas.LoginBody) -> Session:
        canonical = _lookup_email(body.email)
        if len(body.password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
            raise errors.ValidationError(
                f"The password must be at most {MAX_PASSWORD_BYTES} bytes", details={"field": "password"}
            )
        s = self.settings
        # Every attempt counts until one succeeds, and is committed before the password is
        # checked: concurrent guesses cannot slip past the limit (A4).
        async with tx() as repo:
            attempts = await repo.count_attempt(canonical, s.login_failure_window)
            row = await repo.login_row(canonical) if attempts.count <= s.login_max_failures else None
        if attempts.count > s.login_max_failures:
            raise errors.RateLimitExceeded(
                limit=s.login_max_failures,
                remaining=0,
                reset_at=math.ceil(attempts.window_end),
                retry_after=max(1, math.ceil(attempts.window_end - attempts.now)),
            )
        matched = await self.passwords.verify(row.password_hash if row else None, body.password)
        if row is None or not matched:
            raise errors.InvalidCredentials()
        upgraded = None
        if self.passwords.needs_rehash(row.password_hash):
            # Not check_password_rules: a password set under older rules must still log in.
            upgraded = await self.passwords.hash(normalise(body.password))
        async with tx() as repo:
            await repo.clear_attempts(canonical)
            await repo.purge_stale_attempts(s.login_failure_window)
            if upgraded is not None:
                await repo.upgrade_hash(row.id, row.password_hash, upgraded)
            if s.require_email_verification and not row.email_verified:
                session = None
            else:
                session = await self._open_session(repo, row.id)
        if session is None:
            raise errors.EmailNotVerified()
        return session

    async def _open_session(self, repo: AccountsRepository, account_id: str) -> Session:
        family_id = str(uuid.uuid4())
        await repo.purge_dead_refresh_tokens(account_id)
        return await self._issue(repo, account_id, family_id)

    async def _issue(self, repo: AccountsRepository, account_id: str, family_id: str) -> Session:
        refresh = tokens.new_opaque_token()
        await repo.add_refresh_token(
            tokens.digest(refresh), account_id, family_id, self.settings.refresh_token_ttl
        )
        ttl = self.settings.access_token_ttl
        access = tokens.issue_access_token(self._secret, account_id, family_id, ttl)
        return Session(access=access, refresh=refresh, expires_in=ttl)

    async def refresh(self, tx: Transactions, token: str) -> Session:
        """Rotate: spend ``token``, issue a child in the same family (B3, B4).

        A token spent more than ``refresh_reuse_grace`` seconds ago is being replayed —
        by a thief or by the victim after a thief — so its whole family is revoked.
        Within the grace (concurrent refreshes by one client) the loser is refused but
        the family lives on: the winner holds its one live child.
        """
        if not tokens.is_opaque_token(token):
            raise errors.AuthenticationFailed("The refresh token is invalid, expired or revoked")
        token_hash = tokens.digest(token)
        session = None
        async with tx() as repo:
            spent = await repo.spend_refresh_token(token_hash)
            if spent is not None:
                account_id, family_id = spent
                session = await self._issue(repo, account_id, family_id)
            else:
                state = await repo.refresh_state(token_hash)
                replayed = (
                    state is not None
                    and not state.revoked
                    and state.spent_seconds_ago is not None
                    and state.spent_seconds_ago > self.settings.refresh_reuse_grace
                )
                if state is not None and replayed:
                    await repo.revoke_family(state.family_id)
                    log.warning(
                        "a spent refresh token was replayed; session revoked (account %s)", state.account_id
                    )
        if session is None:
            raise errors.AuthenticationFailed("The refresh token is invalid, expired or revoked")
        return session

    async def logout(self, tx: Transactions, token: str) -> str:
        """Revoke the session the token belongs to. Idempotent: an unknown token is no error."""
        if tokens.is_opaque_token(token):
            async with tx() as repo:
                state = await repo.refresh_state(tokens.digest(token))
                if state is not None:
                    await repo.revoke_family(state.family_id)
        return LOGGED_OUT

    # --- password reset ------------------------------------------------------------------------

    async def request_password_reset(self, tx: Transactions, address: str) -> str:
        canonical = _lookup_email(address)
        async with tx() as repo:
            target = await repo.claim_mail_slot(canonical, self.settings.email_resend_interval, reset=True)
            if target is not None:
                token = tokens.new_opaque_token()
                ttl = self.settings.password_reset_ttl
                await repo.add_email_token(tokens.digest(token), target.id, PASSWORD_RESET, ttl)
                mail = email.password_reset_mail(
                    self.settings.base_url, target.email, token, max(1, ttl // 60), target.id
                )
                await self.mailer.send(mail, repo)
        return RESET_REQUESTED

    async def confirm_password_reset(self, tx: Transactions, body: schemas.PasswordResetConfirmBody) -> str:
        password = check_password_rules(body.password)
        if not tokens.is_opaque_token(body.token):
            raise errors.InvalidToken()
        token_hash = tokens.digest(body.token)
        # Hash only for a token that is live now; it is redeemed (atomically) afterwards.
        async with tx() as repo:
            live = await repo.email_token_is_live(token_hash, PASSWORD_RESET)
        if not live:
            raise errors.InvalidToken()
        password_hash = await self.passwords.hash(password)
        async with tx() as repo:
            account_id = await repo.redeem_email_token(token_hash, PASSWORD_RESET)
            if account_id is None:
                raise errors.InvalidToken()
            await repo.replace_password(account_id, password_hash)
            await repo.revoke_sessions(account_id)
            await repo.spend_email_tokens(account_id, PASSWORD_RESET)
            canonical = await repo.canonical_email_of(account_id)
            if canonical is not None:
                await repo.clear_attempts(canonical)
        log.info("password reset; every session revoked (account %s)", account_id)
        return RESET_DONE

    # --- profile ---------------------------------------------------------------------------------

    async def profile(self, tx: Transactions, principal: Principal) -> schemas.ProfileAnswer:
        async with tx() as repo:
            row = await repo.profile(principal.account_id)
        if row is None:
            raise errors.AuthenticationFailed()
        return _profile(row)

    async def update_profile(
        self, tx: Transactions, principal: Principal, patch: schemas.ProfilePatch
    ) -> schemas.ProfileAnswer:
        first = None if patch.first_name is None else _checked_name(patch.first_name, "firstName")
        last = None if patch.last_name is None else _checked_name(patch.last_name, "lastName")
        async with tx() as repo:
            row = await repo.update_profile(principal.account_id, first, last)
        if row is None:
            raise errors.AuthenticationFailed()
        return _profile(row)

    # --- API keys ----------------------------------------------------------------------------------

    async def list_keys(self, tx: Transactions, principal: Principal) -> list[schemas.KeyAnswer]:
        async with tx() as repo:
            rows = await repo.list_keys(principal.account_id)
        return [_key(row) for row in rows]

    async def create_key(
        self, tx: Transactions, principal: Principal, body: schemas.CreateKeyBody
    ) -> schemas.NewKeyAnswer:
        name = _checked_name(body.name, "name")
        if not name:
            raise errors.ValidationError("Missing required field: name", details={"field": "name"})
        database_id = body.database_id
        if database_id is not None and not _DATABASE_ID.fullmatch(database_id):
            raise errors.ValidationError(
                "database_id must be 24 lowercase hex characters", details={"field": "database_id"}
            )
        created = api_keys.new_key()
        async with tx() as repo:
            if not await repo.lock_account(principal.account_id):
                raise errors.AuthenticationFailed()
            if await repo.count_live_keys(principal.account_id) >= self.settings.quota_api_keys:
                raise errors.QuotaExceeded(
                    f"An account may hold at most {self.settings.quota_api_keys} API keys",
                    details={"limit": self.settings.quota_api_keys, "resource": "api_keys"},
                )
            if database_id is not None and not await repo.owns_database(principal.account_id, database_id):
                raise errors.DatabaseNotFound()
            row = await repo.add_key(
                created.key_id, principal.account_id, name, created.prefix, created.secret_digest, database_id
            )
        log.info("API key %s created (account %s)", created.prefix, principal.account_id)
        return schemas.NewKeyAnswer(
            id=row.id,
            name=row.name,
            key=created.key,
            prefix=row.prefix,
            database_id=row.database_id,
            created_at=row.created_at,
        )

    async def revoke_key(self, tx: Transactions, principal: Principal, key_id: str) -> str:
        if not _KEY_ID.fullmatch(key_id):
            raise errors.NotFound("API key not found")
        async with tx() as repo:
            revoked = await repo.revoke_key(principal.account_id, key_id)
        if not revoked:
            raise errors.NotFound("API key not found")
        caches().forget_key(key_id)  # committed: this process need not wait for the notification
        log.info("API key %s revoked (account %s)", api_keys.prefix_of(key_id), principal.account_id)
        return KEY_REVOKED

    # --- authentication (the guards) -----------------------------------------------------------------

    def authenticate_jwt(self, token: str) -> Principal:
        claims = self._access_tokens.decode(token)
        return Principal(account_id=claims.sub, via="jwt")

    async def authenticate_api_key(self, session: DbSession, key: str) -> Principal:
        """The key's principal. A warm key costs no statement: its row comes from this process's
        cache (evicted by notification when the key, its account or its database changes) and
        its use is recorded later, off the request path (``KeyUsage``)."""
        parsed = api_keys.parse(key)
        if parsed is None:  # refused without a query (C1)
            raise errors.AuthenticationFailed()
        row = await caches().keys.get_or_load(parsed.key_id, lambda: _load_key(session, parsed.key_id))
        if row is None or not api_keys.secret_matches(parsed, row.secret_hash):
            raise errors.AuthenticationFailed()
        self.key_usage.note(parsed.key_id)
        return Principal(
            account_id=row.account_id, via="api_key", api_key_id=parsed.key_id, database_id=row.database_id
        )


async def _load_key(session: DbSession, key_id: str) -> KeyAuthRow | None:
    return await AccountsRepository(await session.connection()).key_for_auth(key_id)

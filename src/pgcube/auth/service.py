"""The accounts service: registration, email tokens, login, sessions, profile, API keys.

Every method takes ``tx`` (``repository.Transactions``) and opens its own
short transactions: a password is never hashed while a pooled connection is
held, and side effects that must outlive an error answer (a counted login
attempt, a family revoked on refresh-token reuse) are committed before the
error is raised.

What the answers must not reveal (RELIABILITY A5, G2, H9):

* register, resend and reset answer the same for every email, and do about
  the same work whether or not it exists (a password is hashed on register
  either way; an existing address gets a notice instead of a second account);
  resend and reset answer before they touch the database at all: the look-up
  and the email run after the answer (``Deferred``), so their timing says
  nothing about the address;
* login answers an unknown email and a wrong password alike, after a dummy
  Argon2 verify, and throttles unknown emails exactly like known ones.

Account takeover defences (ADR 0015, RELIABILITY H3, H4, H7):

* a registration of a taken but unverified address replaces the pending
  registration (password, names, and every link it was sent), so a link
  verifies only the registration that sent it;
* a password reset ends every session and revokes every API key;
* an access token is refused once its session has ended (``authenticate_jwt``,
  ``_require_live_session``), checked against this process's cache;
* failed logins are throttled per account, address and device cookie
  (``pgcube.auth.throttle``), never refusing the owner's known device.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Awaitable, Callable

import msgspec

from pgcube import errors
from pgcube.auth import api_keys, attempts, email, throttle, tokens
from pgcube.auth.addresses import canonical_email, checked_email, checked_name, lookup_email
from pgcube.auth.email import MailSender
from pgcube.auth.key_usage import KeyUsage
from pgcube.auth.models import Account, ApiKey, KeyKind
from pgcube.auth.passwords import MAX_PASSWORD_BYTES, Passwords, check_password_rules, normalise
from pgcube.auth.repository import (
    AccountsRepository,
    KeyAuthRow,
    SessionRow,
    Transactions,
)
from pgcube.control_plane_cache import caches
from pgcube.db.session import Session as DbSession
from pgcube.principal import Principal
from pgcube.settings import Settings
from pgcube.users.service import EndUserService
from pgcube.users.tokens import VerifiedIdTokens

log = logging.getLogger("pgcube.auth")

VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"  # noqa: S105 — a token purpose, not a password
_DATABASE_ID = re.compile(r"[0-9a-f]{24}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")

REGISTERED = "User registered successfully. Please check your email to verify your account."
VERIFIED = "Email verified successfully. You can now log in."
RESEND_ACCEPTED = "If an unverified account exists for this email, a new verification email has been sent."
RESET_REQUESTED = "If an account exists for this email, a password reset email has been sent."
RESET_DONE = (
    "Password reset successfully. Every session has been signed out and every API key revoked; "
    "log in with the new password."
)
SESSION_ENDED = "The session has ended (logged out or password reset): log in again"
DEVICE_COOKIE_TTL = 365 * 24 * 3600
LOGGED_OUT = "Logged out."
KEY_REVOKED = "API key revoked."


class Session(msgspec.Struct, frozen=True, kw_only=True):
    access: str
    refresh: str
    expires_in: int


class LoginClient(msgspec.Struct, frozen=True, kw_only=True):
    """Who is knocking, as far as the throttle cares."""

    address: str
    device_cookie: str | None = None


class LoginResult(msgspec.Struct, frozen=True, kw_only=True):
    session: Session
    device_cookie: str
    """Set it on the client (``throttle.DEVICE_COOKIE``): it has now signed in to this account."""


class Deferred(msgspec.Struct, frozen=True):
    """An answer, and the work to do after it has been sent."""

    message: str
    work: Callable[[], Awaitable[None]]


class AccountService:
    def __init__(self, settings: Settings, jwt_secret: str, passwords: Passwords, mailer: MailSender) -> None:
        self.settings = settings
        self._secret = jwt_secret
        self.passwords = passwords
        self.mailer = mailer
        self.key_usage = KeyUsage()
        """Keys used by this process's requests, for ``last_used_at`` (written by the lifespan)."""
        self._access_tokens = tokens.VerifiedAccessTokens(jwt_secret)
        self.id_tokens = VerifiedIdTokens(jwt_secret)
        """End users' ``id_token``s (SPEC §11.1): signed with a key derived from the same secret."""
        self.end_users = EndUserService(settings, jwt_secret, passwords, mailer, self.id_tokens)
        """The end users of every database (``auth.*`` ops): the same hasher, mail and tokens."""

    def derived_key(self, purpose: str) -> bytes:
        """32 bytes for ``purpose`` (the dashboard's session cookie), derived from the signing secret:
        a key of its own, so what it protects never doubles as a token signature."""
        return hmac.new(self._secret.encode(), f"pgcube {purpose}".encode(), hashlib.sha256).digest()

    # --- registration and email ------------------------------------------------------------

    async def register(
        self, tx: Transactions, *, email: str, password: str, first_name: str, last_name: str
    ) -> str:
        address = checked_email(email)
        first_name = checked_name(first_name, "firstName")
        last_name = checked_name(last_name, "lastName")
        password = check_password_rules(password)
        # Hashed whether or not the email is taken: both paths cost one hash (G2).
        password_hash = await self.passwords.hash(password)
        canonical = canonical_email(address)
        replaced: str | None = None
        async with tx() as repo:
            account_id = await repo.create_account(address, canonical, first_name, last_name, password_hash)
            if account_id is not None:
                await self._send_verification(repo, account_id, address)
                log.info("account registered (id %s)", account_id)
            elif self.settings.require_email_verification:
                # Unverified: nobody has proved the address yet, so the latest registration is
                # the pending one; the earlier one's links die with it (pre-hijacking, H3).
                # Without required verification an unverified account is in use: never replaced.
                replaced = await repo.replace_pending_registration(
                    address, canonical, first_name, last_name, password_hash
                )
            if replaced is not None:
                await repo.revoke_credentials(replaced)
                if await repo.claim_mail_slot(canonical, self.settings.email_resend_interval) is not None:
                    await self._send_verification(repo, replaced, address)
                log.info("pending registration replaced (account %s)", replaced)
            elif account_id is None:
                await self._notify_existing(repo, canonical)
        self._forget_credentials_of(replaced)
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

    def resend_verification(self, tx: Transactions, address: str) -> Deferred:
        """The answer now; the look-up and the email after it (equal time for every address, H9)."""
        canonical = lookup_email(address)

        async def work() -> None:
            async with tx() as repo:
                target = await repo.claim_mail_slot(canonical, self.settings.email_resend_interval)
                if target is not None and not target.email_verified:
                    await self._send_verification(repo, target.id, target.email)

        return Deferred(RESEND_ACCEPTED, _logged(work, "verification email"))

    # --- login and sessions ------------------------------------------------------------------

    async def login(self, tx: Transactions, email: str, password: str, client: LoginClient) -> LoginResult:
        canonical = lookup_email(email)
        if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
            raise errors.ValidationError(
                f"The password must be at most {MAX_PASSWORD_BYTES} bytes", details={"field": "password"}
            )
        s = self.settings
        device = throttle.trusted_device(self._secret, canonical, client.device_cookie, DEVICE_COOKIE_TTL)
        if device is not None:  # this client signed in to this account before: its own bucket only
            candidates = [throttle.device_bucket(device, s.login_max_failures)]
        else:
            candidates = [
                throttle.account_bucket(canonical, s.login_max_failures),
                throttle.address_bucket(client.address, s.login_address_max_failures),
            ]
        # The attempt is counted, and committed, before the password is checked: concurrent
        # guesses cannot slip past the limit (A4). A success gives it back below.
        async with tx() as repo:
            buckets = await attempts.count_attempt(repo, candidates, s)
            row = await repo.login_row(canonical)
        matched = await self.passwords.verify(row.password_hash if row else None, password)
        if row is None or not matched:
            raise errors.InvalidCredentials()
        upgraded = None
        if self.passwords.needs_rehash(row.password_hash):
            # Not check_password_rules: a password set under older rules must still log in.
            upgraded = await self.passwords.hash(normalise(password))
        async with tx() as repo:
            # The owner's device clears its own bucket; a right password from elsewhere clears
            # the account's. An address is shared: it only gets this attempt back.
            await attempts.settle_success(repo, buckets, s)
            if upgraded is not None:
                await repo.upgrade_hash(row.id, row.password_hash, upgraded)
            if s.require_email_verification and not row.email_verified:
                session = None
            else:
                session = await self._open_session(repo, row.id)
        if session is None:
            raise errors.EmailNotVerified()
        return LoginResult(
            session=session, device_cookie=throttle.issue_device_cookie(self._secret, canonical)
        )

    async def _open_session(self, repo: AccountsRepository, account_id: str) -> Session:
        family_id = str(uuid.uuid4())
        await repo.purge_dead_refresh_tokens(account_id)
        await repo.add_session(family_id, account_id)
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
                current = await repo.session_state(family_id)
                if current is not None and current.live and current.account_id == account_id:
                    session = await self._issue(repo, account_id, family_id)
                else:  # a session that a password reset ended while a login raced it
                    await repo.revoke_family(family_id)
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
            if state is not None:  # committed: this process need not wait for the notification
                caches().forget_session(state.family_id)
        return LOGGED_OUT

    # --- password reset ------------------------------------------------------------------------

    def request_password_reset(self, tx: Transactions, address: str) -> Deferred:
        """The answer now; the look-up and the email after it (equal time for every address, H9)."""
        canonical = lookup_email(address)

        async def work() -> None:
            async with tx() as repo:
                target = await repo.claim_mail_slot(
                    canonical, self.settings.email_resend_interval, reset=True
                )
                if target is not None:
                    token = tokens.new_opaque_token()
                    ttl = self.settings.password_reset_ttl
                    await repo.add_email_token(tokens.digest(token), target.id, PASSWORD_RESET, ttl)
                    mail = email.password_reset_mail(
                        self.settings.base_url, target.email, token, max(1, ttl // 60), target.id
                    )
                    await self.mailer.send(mail, repo)

        return Deferred(RESET_REQUESTED, _logged(work, "password reset email"))

    async def confirm_password_reset(self, tx: Transactions, token: str, password: str) -> str:
        password = check_password_rules(password)
        if not tokens.is_opaque_token(token):
            raise errors.InvalidToken()
        token_hash = tokens.digest(token)
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
            revoked_keys = await repo.revoke_credentials(account_id)
            await repo.spend_email_tokens(account_id, PASSWORD_RESET)
            canonical = await repo.canonical_email_of(account_id)
            if canonical is not None:
                await repo.clear_buckets([throttle.account_bucket(canonical, 0).name])
        self._forget_credentials_of(account_id)
        log.info(
            "password reset; every session and %d API key(s) revoked (account %s)",
            len(revoked_keys),
            account_id,
        )
        return RESET_DONE

    @staticmethod
    def _forget_credentials_of(account_id: str | None) -> None:
        """Committed: this process need not wait for the notifications."""
        if account_id is not None:
            caches().forget_account_credentials(account_id)

    # --- profile ---------------------------------------------------------------------------------

    async def profile(self, tx: Transactions, principal: Principal) -> Account:
        async with tx() as repo:
            await self._require_live_session(principal, repo.session_state)
            account = await repo.profile(principal.account_id)
        if account is None:
            raise errors.AuthenticationFailed()
        return account

    async def update_profile(
        self, tx: Transactions, principal: Principal, first_name: str | None, last_name: str | None
    ) -> Account:
        first = None if first_name is None else checked_name(first_name, "firstName")
        last = None if last_name is None else checked_name(last_name, "lastName")
        async with tx() as repo:
            await self._require_live_session(principal, repo.session_state)
            account = await repo.update_profile(principal.account_id, first, last)
        if account is None:
            raise errors.AuthenticationFailed()
        return account

    # --- API keys ----------------------------------------------------------------------------------

    async def list_keys(self, tx: Transactions, principal: Principal) -> list[ApiKey]:
        async with tx() as repo:
            await self._require_live_session(principal, repo.session_state)
            return await repo.list_keys(principal.account_id)

    async def create_key(
        self,
        tx: Transactions,
        principal: Principal,
        name: str,
        database_id: str | None,
        kind: KeyKind = "server",
    ) -> tuple[ApiKey, str]:
        """The new key and the whole key, to show once (pgcube keeps only a hash). A web key
        reaches one database, under its access rules (SPEC §11.1)."""
        name = checked_name(name, "name")
        if not name:
            raise errors.missing_field("name")
        if kind == "web" and database_id is None:
            raise errors.ValidationError(
                "A web key belongs to one database: send its database_id", details={"field": "database_id"}
            )
        if database_id is not None and not _DATABASE_ID.fullmatch(database_id):
            raise errors.ValidationError(
                "database_id must be 24 lowercase hex characters", details={"field": "database_id"}
            )
        created = api_keys.new_key()
        async with tx() as repo:
            await self._require_live_session(principal, repo.session_state)
            if not await repo.lock_account(principal.account_id):
                raise errors.AuthenticationFailed()
            if await repo.count_live_keys(principal.account_id) >= self.settings.quota_api_keys:
                raise errors.QuotaExceeded(
                    f"An account may hold at most {self.settings.quota_api_keys} API keys",
                    details={"limit": self.settings.quota_api_keys, "resource": "api_keys"},
                )
            if database_id is not None and not await repo.owns_database(principal.account_id, database_id):
                raise errors.DatabaseNotFound()
            api_key = await repo.add_key(
                created.key_id,
                principal.account_id,
                name,
                created.prefix,
                created.secret_digest,
                database_id,
                kind,
            )
        log.info("%s key %s created (account %s)", kind.capitalize(), created.prefix, principal.account_id)
        return api_key, created.key

    async def revoke_key(self, tx: Transactions, principal: Principal, key_id: str) -> str:
        if not _KEY_ID.fullmatch(key_id):
            raise errors.NotFound("API key not found")
        async with tx() as repo:
            await self._require_live_session(principal, repo.session_state)
            revoked = await repo.revoke_key(principal.account_id, key_id)
        if not revoked:
            raise errors.NotFound("API key not found")
        caches().forget_key(key_id)  # committed: this process need not wait for the notification
        log.info("API key %s revoked (account %s)", api_keys.prefix_of(key_id), principal.account_id)
        return KEY_REVOKED

    # --- authentication (the guards) -----------------------------------------------------------------

    def read_jwt(self, token: str) -> Principal:
        """The principal an access token names, checked without a query (signature, claims,
        expiry): ``jwt_principal``. Its session is checked by ``_require_live_session``."""
        claims = self._access_tokens.decode(token)
        if claims.sid is None or not tokens.is_uuid(claims.sid):
            raise errors.AuthenticationFailed()
        return Principal(account_id=claims.sub, via="jwt", session_id=claims.sid)

    async def authenticate_jwt(self, session: DbSession, token: str) -> Principal:
        """``read_jwt``, and its session still live: ``principal``. A warm session costs no
        statement (this process's cache, evicted by notification when the session ends)."""
        principal = self.read_jwt(token)
        await self._require_live_session(principal, lambda sid: _load_session(session, sid))
        return principal

    async def _require_live_session(
        self, principal: Principal, load: Callable[[str], Awaitable[SessionRow | None]]
    ) -> None:
        """Refuse an access token whose session was logged out or ended by a password reset (H4)."""
        if principal.via != "jwt":
            return
        sid = principal.session_id
        if sid is None:
            raise errors.AuthenticationFailed(SESSION_ENDED)
        row = await caches().sessions.get_or_load(sid, lambda: load(sid))
        if row is None or not row.live or row.account_id != principal.account_id:
            raise errors.AuthenticationFailed(SESSION_ENDED)

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
            account_id=row.account_id,
            via="api_key",
            api_key_id=parsed.key_id,
            database_id=row.database_id,
            key_kind=row.kind,
        )


async def _load_key(session: DbSession, key_id: str) -> KeyAuthRow | None:
    return await AccountsRepository(await session.connection()).key_for_auth(key_id)


async def _load_session(session: DbSession, session_id: str) -> SessionRow | None:
    return await AccountsRepository(await session.connection()).session_state(session_id)


def _logged(work: Callable[[], Awaitable[None]], what: str) -> Callable[[], Awaitable[None]]:
    """Run after the answer: nobody is left to tell about a failure but the log."""

    async def run() -> None:
        try:
            await work()
        except Exception as exc:  # the answer is gone; the user can ask again
            log.warning("could not prepare the %s: %s", what, type(exc).__name__)

    return run

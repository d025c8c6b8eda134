"""End users' ``id_token``: a JWT bound to one database (SPEC §11.1, RELIABILITY I2).

HS256 only, with the rules of the account's access tokens (``pgcube.auth.tokens``:
no key-selection header, ``iat`` not in the future, a leeway of 30 s), and:

* ``typ`` = ``user``: an account's access token (``typ`` = ``access``) is never
  an ``id_token``, nor the reverse;
* ``pid`` = the database id: a token of another database is refused by the
  caller, which knows the database of the request;
* signed with a key derived from the service's secret for this use only, so
  no other token pgcube signs can verify as an ``id_token``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Any

import jwt
import msgspec

from pgcube import errors
from pgcube.auth.tokens import ALGORITHM, LEEWAY_SECONDS, verified_claims

USER_TYPE = "user"
DEFAULT_AUDIENCE = "web"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "typ", "pid", "sid", "aud"]
_USER_KEY = re.compile(r"[0-9a-f]{32}")
_DATABASE_ID = re.compile(r"[0-9a-f]{24}")
_AUDIENCE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class IdClaims(msgspec.Struct, frozen=True, kw_only=True):
    sub: str
    """The end user's ``_userkey``."""
    pid: str
    """The database (project) id."""
    aud: str
    sid: str
    """The session."""
    iat: int
    exp: int


def signing_key(secret: str) -> bytes:
    """The key of ``id_token`` signatures: the service secret, bound to this one use."""
    return hmac.new(secret.encode(), b"pgcube end-user id_token", hashlib.sha256).digest()


def is_audience(value: str) -> bool:
    return bool(_AUDIENCE.fullmatch(value))


def new_claims(*, user_key: str, database_id: str, session_id: str, aud: str, ttl: int) -> IdClaims:
    now = int(time.time())
    return IdClaims(sub=user_key, pid=database_id, aud=aud, sid=session_id, iat=now, exp=now + ttl)


def issue_id_token(
    key: bytes, *, user_key: str, database_id: str, session_id: str, aud: str, ttl: int
) -> str:
    claims = new_claims(user_key=user_key, database_id=database_id, session_id=session_id, aud=aud, ttl=ttl)
    return encode_id_token(key, claims)


def encode_id_token(key: bytes, claims: IdClaims) -> str:
    payload: dict[str, Any] = {
        "typ": USER_TYPE,
        **msgspec.structs.asdict(claims),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def decode_id_token(key: bytes, token: str, *, verify_exp: bool = True) -> IdClaims:
    """The claims of a valid ``id_token`` (with ``verify_exp=False``: valid but for its expiry,
    as ``auth.refresh_token`` accepts); ``TokenExpired`` or ``AuthenticationFailed`` otherwise."""
    # Any audience the app chose: checked for its shape below.
    claims = verified_claims(key, token, _REQUIRED_CLAIMS, verify_exp=verify_exp, verify_aud=False)
    try:
        decoded = msgspec.convert(claims, IdClaims)
    except msgspec.ValidationError:
        raise errors.AuthenticationFailed() from None
    if (
        claims.get("typ") != USER_TYPE
        or not _USER_KEY.fullmatch(decoded.sub)
        or not _DATABASE_ID.fullmatch(decoded.pid)
        or not is_audience(decoded.aud)
        or decoded.iat > time.time() + LEEWAY_SECONDS
    ):
        raise errors.AuthenticationFailed()
    return decoded


class VerifiedIdTokens:
    """``id_token``s this process has verified (as ``pgcube.auth.tokens.VerifiedAccessTokens``
    does for access tokens): a signed token's claims cannot change, so a warm one costs a
    dictionary look-up and its expiry check. Bounded; the oldest entry goes first."""

    def __init__(self, secret: str, max_entries: int = 10_000) -> None:
        self.key = signing_key(secret)
        self._max = max_entries
        self._claims: dict[str, IdClaims] = {}

    def issue(self, *, user_key: str, database_id: str, session_id: str, aud: str, ttl: int) -> str:
        return self.issue_with_claims(
            user_key=user_key, database_id=database_id, session_id=session_id, aud=aud, ttl=ttl
        )[0]

    def issue_with_claims(
        self, *, user_key: str, database_id: str, session_id: str, aud: str, ttl: int
    ) -> tuple[str, IdClaims]:
        """A new token and its claims; already known here, so its first use costs no verify."""
        claims = new_claims(
            user_key=user_key, database_id=database_id, session_id=session_id, aud=aud, ttl=ttl
        )
        token = encode_id_token(self.key, claims)
        self._remember(token, claims)
        return token, claims

    def decode_allowing_expiry(self, token: str) -> IdClaims:
        """The claims of a token that is valid but for its expiry (``auth.refresh_token`` and
        ``auth.signout`` accept one); ``AuthenticationFailed`` otherwise."""
        return decode_id_token(self.key, token, verify_exp=False)

    def _remember(self, token: str, claims: IdClaims) -> None:
        if len(self._claims) >= self._max:
            del self._claims[next(iter(self._claims))]
        self._claims[token] = claims

    def decode(self, token: str) -> IdClaims:
        claims = self._claims.get(token)
        if claims is not None and time.time() <= claims.exp + LEEWAY_SECONDS:
            return claims
        self._claims.pop(token, None)
        claims = decode_id_token(self.key, token)  # raises for a bad or expired token
        self._remember(token, claims)
        return claims

"""Access JWTs and opaque one-time / refresh tokens.

Access tokens (RELIABILITY B1, B2; RFC 8725): HS256 and nothing else, with
``typ``, ``sub``, ``iat`` and ``exp`` required, ``typ`` = ``access``, a leeway
of at most 30 s, an ``iat`` in the future refused, and any key-selection
header (``kid``, ``jku``, ``jwk``, ``x5u``, ``x5c``) refused outright: there is
one key, and a token that asks for another is an attack.

Opaque tokens (refresh tokens, email tokens): 256 random bits, URL-safe,
kept in the database only as their SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

import jwt
import msgspec

from pgcube import errors

if TYPE_CHECKING:
    from jwt.types import Options

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
LEEWAY_SECONDS = 30
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "typ"]
_FORBIDDEN_HEADERS = frozenset({"kid", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit"})

OPAQUE_TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters of the URL-safe base64 alphabet.
_OPAQUE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


class AccessClaims(msgspec.Struct, frozen=True, kw_only=True):
    sub: str
    """The account id."""
    sid: str | None = None
    """The session (refresh-token family) the token was issued for."""
    iat: int
    exp: int


def issue_access_token(secret: str, account_id: str, session_id: str | None, ttl: int) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "typ": ACCESS_TYPE,
        "sub": account_id,
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_hex(8),
    }
    if session_id is not None:
        payload["sid"] = session_id
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verified_claims(key: str | bytes, token: str, required: list[str], **options: bool) -> dict[str, Any]:
    """A JWT's claims once its signature, algorithm, header and times are checked by the rules
    of every token pgcube signs (this module's docstring); ``TokenExpired`` or
    ``AuthenticationFailed`` otherwise. ``options``: PyJWT's, such as ``verify_exp``."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise errors.AuthenticationFailed() from None
    if header.get("alg") != ALGORITHM or forbidden_header(header):
        raise errors.AuthenticationFailed()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            leeway=LEEWAY_SECONDS,
            options=cast("Options", {"require": required, "verify_iat": True, **options}),
        )
    except jwt.ExpiredSignatureError:
        raise errors.TokenExpired() from None
    except jwt.PyJWTError:
        raise errors.AuthenticationFailed() from None
    return claims


def decode_access_token(secret: str, token: str) -> AccessClaims:
    """The claims of a valid access token; ``TokenExpired`` or ``AuthenticationFailed`` otherwise."""
    claims = verified_claims(secret, token, _REQUIRED_CLAIMS)
    if claims.get("typ") != ACCESS_TYPE:
        raise errors.AuthenticationFailed()
    iat, exp, sub = claims.get("iat"), claims.get("exp"), claims.get("sub")
    if not isinstance(iat, int) or not isinstance(exp, int) or not isinstance(sub, str):
        raise errors.AuthenticationFailed()
    if iat > time.time() + LEEWAY_SECONDS:  # PyJWT checks this too; the promise is ours to keep
        raise errors.AuthenticationFailed()
    if not is_uuid(sub):
        raise errors.AuthenticationFailed()
    sid = claims.get("sid")
    return AccessClaims(sub=sub, sid=sid if isinstance(sid, str) else None, iat=iat, exp=exp)


def forbidden_header(header: dict[str, Any]) -> bool:
    """Whether a JWT header asks for a key of its choosing (``kid``, ``jku``, …): refused."""
    return bool(_FORBIDDEN_HEADERS.intersection(header))


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def new_opaque_token() -> str:
    return secrets.token_urlsafe(OPAQUE_TOKEN_BYTES)


def is_opaque_token(value: str) -> bool:
    """Shape check, so a malformed token never reaches the database."""
    return bool(_OPAQUE_TOKEN.fullmatch(value))


def digest(token: str) -> bytes:
    """What the database keeps instead of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()


class VerifiedAccessTokens:
    """Access tokens this process has verified, so a client's next request with the same token
    skips the signature check and claim parsing (PyJWT costs more CPU than the rest of a warm
    read: issue 12). A token is a signed, immutable value: its claims cannot change, so the
    only check left is its expiry, made again on every use. Bounded; the oldest entry goes
    first."""

    def __init__(self, secret: str, max_entries: int = 10_000) -> None:
        self._secret = secret
        self._max = max_entries
        self._claims: dict[str, AccessClaims] = {}

    def decode(self, token: str) -> AccessClaims:
        claims = self._claims.get(token)
        if claims is not None and time.time() <= claims.exp + LEEWAY_SECONDS:
            return claims
        self._claims.pop(token, None)
        claims = decode_access_token(self._secret, token)  # raises for a bad or expired token
        if len(self._claims) >= self._max:
            del self._claims[next(iter(self._claims))]
        self._claims[token] = claims
        return claims

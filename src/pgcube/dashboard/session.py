"""The dashboard's session: one sealed cookie, and the CSRF token that goes with it.

The cookie holds the account's own API tokens (access and refresh, as ``/core/login`` gave them)
and a CSRF token, sealed with AES-GCM under a key derived from the signing secret: the browser
can neither read nor change it, every worker and instance can open it, and nothing is kept on
the server. It is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (another site's forms,
fetches and frames go without it; only following a link to the dashboard, a top-level GET, brings
it along — and a GET changes nothing) and ``Secure`` when the service is served over https.

* **CSRF**: every state-changing request carries the session's token in ``X-CSRF-Token`` (htmx
  sends it from ``<body hx-headers>``) or a plain form's field ``_csrf``; it must match the token
  sealed in the cookie (the synchronizer-token pattern), and a cross-site ``Origin`` is refused.
* **Session fixation**: signing in seals a new session from nothing: new tokens and a new CSRF
  token; nothing of the cookie the browser came with survives.
* **Sign-out** revokes the refresh token's session in PostgreSQL (``/core/logout``): a copy of
  the cookie stops working at once, on every instance (the access token names that session).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

COOKIE = "pgcube_dashboard"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf"
KEY_PURPOSE = "dashboard session cookie"
_NONCE_BYTES = 12


class DashboardSession(msgspec.Struct, kw_only=True, frozen=True):
    """What the sealed cookie holds: a CSRF token, and the account's tokens once signed in."""

    csrf: str
    access: str | None = None
    refresh: str | None = None
    email: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.access is not None and self.refresh is not None

    @classmethod
    def anonymous(cls) -> DashboardSession:
        return cls(csrf=secrets.token_urlsafe(32))

    @classmethod
    def signed_in_as(cls, email: str, access: str, refresh: str) -> DashboardSession:
        """A new session from nothing (session fixation: no part of the old one is kept)."""
        return cls(csrf=secrets.token_urlsafe(32), access=access, refresh=refresh, email=email)

    def with_tokens(self, access: str, refresh: str) -> DashboardSession:
        return msgspec.structs.replace(self, access=access, refresh=refresh)

    def accepts(self, token: str | None) -> bool:
        """Whether ``token`` is this session's CSRF token (compared in constant time)."""
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


class SessionSeal:
    """Seals and opens the cookie's value with AES-GCM (the cookie name is the associated data)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, session: DashboardSession) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, msgspec.json.encode(session), COOKIE.encode())
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()

    def open(self, value: str | None) -> DashboardSession | None:
        """The session in ``value``; None for a missing, forged, altered or unreadable cookie."""
        if not value:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], COOKIE.encode())
            return msgspec.json.decode(plain, type=DashboardSession)
        except (binascii.Error, ValueError, InvalidTag, msgspec.DecodeError):
            return None

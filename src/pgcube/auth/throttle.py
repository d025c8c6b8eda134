"""The login throttle: progressive delays, and device cookies that keep the owner's door open (ADR 0015).

A hard lockout is a weapon: six wrong passwords from anyone used to refuse the
owner's right one for fifteen minutes (issue 14). OWASP's answer, kept here:

* **Buckets.** Failed logins count in *buckets*: the account (its canonical
  email, known or not, so a 429 reveals nothing), the client's address, and —
  for a client that has signed in to this account before — its device cookie.
* **Progressive delay, not a lockout.** A bucket's first ``free`` failures
  cost nothing; each one after that blocks the bucket for twice as long as the
  one before (2 s, 4 s, 8 s … up to ``max_delay``). A block refuses the next
  attempt with 429 and ``retry_after`` without counting it. A bucket forgets
  its failures after ``window`` seconds without one.
* **Device cookies.** A successful login sets an HMAC-signed cookie naming
  the account (``pgcube_device``, ``HttpOnly``, ``SameSite=Strict``, sent to
  ``/core/login`` only). A login presenting a valid cookie *for this account*
  counts in that cookie's own bucket only, never in the account's or the
  address's: strangers hammering the account (or sharing the owner's address)
  cannot refuse the owner's right password. Guessing through a stolen cookie
  is throttled in its bucket like anything else.
* A success clears the bucket it counted in, except an address's (shared by
  many people): that one only gets the attempt back.

Attempts are counted *before* the password is checked (one committed
transaction), so concurrent guesses cannot all slip past the limit; a success
gives its count back (``pgcube.auth.service.AccountService.login``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time

import msgspec

DEVICE_COOKIE = "pgcube_device"
DEVICE_COOKIE_PATH = "/core/login"
_DEVICE_KEY_LABEL = b"pgcube device cookie v1"


class Bucket(msgspec.Struct, frozen=True):
    name: str
    free: int
    """Failures that cost nothing; each further one doubles the block. 0 turns the bucket off."""
    shared: bool = False
    """Shared by several people (an address): a success gives its attempt back, not the bucket's
    whole count — otherwise an attacker would log in to their own account to reset it."""


class BucketState(msgspec.Struct, frozen=True):
    """A bucket's row as read (times in seconds since the epoch, PostgreSQL's clock)."""

    name: str
    failures: int
    last_failure_at: float
    blocked_until: float | None


class Failure(msgspec.Struct, frozen=True):
    """What one more counted attempt writes to a bucket."""

    name: str
    failures: int
    blocked_until: float | None


class Refused(msgspec.Struct, frozen=True):
    retry_after: float
    """Seconds until the last of the refusing blocks ends."""
    blocked_until: float
    free: int
    """The free failures of the bucket whose block ends last (the answer's ``limit``)."""


def account_bucket(canonical_email: str, free: int) -> Bucket:
    return Bucket(f"acct:{canonical_email}", free)


def address_bucket(address: str, free: int) -> Bucket:
    return Bucket(f"addr:{address}", free, shared=True)


def device_bucket(nonce: str, free: int) -> Bucket:
    return Bucket(f"device:{nonce}", free)


def delay_after(failures: int, free: int, max_delay: float) -> float | None:
    """Seconds a bucket is blocked after its ``failures``-th failure (None: not blocked):
    2 s after the last free one, then 4, 8, 16 … up to ``max_delay``."""
    if failures < free:
        return None
    return float(min(max_delay, 2 ** min(failures - free + 1, 32)))


def count_attempt(
    states: list[BucketState], buckets: list[Bucket], now: float, window: float, max_delay: float
) -> Refused | list[Failure]:
    """Refuse the attempt if any bucket is blocked now; else each bucket's state with it counted."""
    free_of = {bucket.name: bucket.free for bucket in buckets}
    blocked = [s for s in states if s.blocked_until is not None and s.blocked_until > now]
    if blocked:
        last = max(blocked, key=lambda s: s.blocked_until or 0.0)
        until = last.blocked_until or now
        return Refused(retry_after=until - now, blocked_until=until, free=free_of[last.name])
    counted = []
    for state in states:
        recent = state.failures if now - state.last_failure_at < window else 0
        failures = min(recent + 1, 1_000_000)
        delay = delay_after(failures, free_of[state.name], max_delay)
        counted.append(Failure(state.name, failures, None if delay is None else now + delay))
    return counted


# --- device cookies ------------------------------------------------------------------------


def _device_key(secret: str) -> bytes:
    """A key of its own, derived from the JWT secret: a cookie MAC is never a token signature."""
    return hashlib.sha256(_DEVICE_KEY_LABEL + secret.encode()).digest()


def _mac(secret: str, canonical_email: str, issued: int, nonce: str) -> str:
    message = f"{canonical_email}\x00{issued}\x00{nonce}".encode()
    digest = hmac.new(_device_key(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_device_cookie(secret: str, canonical_email: str, now: float | None = None) -> str:
    """``<issued>.<nonce>.<mac>``: names the account only through the MAC (the email is not in it)."""
    issued = int(time.time() if now is None else now)
    nonce = secrets.token_urlsafe(16)
    return f"{issued}.{nonce}.{_mac(secret, canonical_email, issued, nonce)}"


def trusted_device(
    secret: str, canonical_email: str, cookie: str | None, ttl: int, now: float | None = None
) -> str | None:
    """The cookie's nonce when it is a live device cookie issued for this account; else None."""
    if not cookie or len(cookie) > 200:
        return None
    issued_text, _, rest = cookie.partition(".")
    nonce, _, mac = rest.partition(".")
    if not issued_text.isdigit() or not nonce or not mac:
        return None
    issued = int(issued_text)
    current = time.time() if now is None else now
    if not issued <= math.ceil(current) or current - issued > ttl:
        return None
    if not hmac.compare_digest(mac, _mac(secret, canonical_email, issued, nonce)):
        return None
    return nonce

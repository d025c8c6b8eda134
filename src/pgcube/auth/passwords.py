"""Password rules and Argon2id hashing, off the event loop.

* Rules (RELIABILITY A3): at least 8 characters after NFKC normalisation
  (NIST SP 800-63B), Unicode allowed, more than 1024 UTF-8 bytes refused
  *before* any hashing — a megabyte password must not buy a megabyte hash.
* Not a common password (NIST SP 800-63B 3.1.1.2, RELIABILITY H9):
  ``is_common_password`` looks the password up, lower-cased, in the list
  shipped beside this module (``common_passwords.txt``; its source and
  licence are in ADR 0015). Loaded once, on first use; no network. End users'
  passwords (SPEC §11) use the same function.
* Hashing (A1, A2): argon2-cffi's defaults (RFC 9106 low-memory profile:
  64 MiB, t=3, p=4 — above OWASP's floor of 19 MiB, t=2), run in a worker
  thread, at most one hash per CPU core at a time. Everything else waits its
  turn on a ``CapacityLimiter``, so the event loop (and ``/health``) stays
  responsive under a storm of logins.
* A stored hash with weaker parameters than the current ones is re-hashed at
  the next successful login (``needs_rehash``).
"""

from __future__ import annotations

import functools
import os
import unicodedata
from importlib import resources

import anyio
import anyio.to_thread
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pgcube import errors

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_BYTES = 1024
COMMON_PASSWORDS_FILE = "common_passwords.txt"
COMMON_PASSWORD_MESSAGE = "This password is one of the most commonly used passwords: choose another"  # noqa: S105 — a message


@functools.cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("pgcube.auth").joinpath(COMMON_PASSWORDS_FILE).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    """True when ``password`` (NFKC-normalised, compared lower-cased) is on the shipped blocklist."""
    return normalise(password).lower() in _common_passwords()


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_password_rules(password: str, field: str = "password") -> str:
    """The normalised password, or a 400 naming ``field``. Never hashes."""
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        raise errors.ValidationError(
            f"The password must be at most {MAX_PASSWORD_BYTES} bytes", details={"field": field}
        )
    normalised = normalise(password)
    if len(normalised) < MIN_PASSWORD_CHARS:
        raise errors.ValidationError(
            f"The password must be at least {MIN_PASSWORD_CHARS} characters", details={"field": field}
        )
    if len(normalised.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        raise errors.ValidationError(
            f"The password must be at most {MAX_PASSWORD_BYTES} bytes", details={"field": field}
        )
    if is_common_password(normalised):
        raise errors.ValidationError(
            COMMON_PASSWORD_MESSAGE, details={"field": field, "reason": "common_password"}
        )
    return normalised


class Passwords:
    """Argon2id hashing with bounded concurrency; one instance per process."""

    def __init__(self, hasher: PasswordHasher | None = None, max_concurrent: int | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._limiter = anyio.CapacityLimiter(max_concurrent or os.cpu_count() or 1)
        # Verified against when the email is unknown, so both paths cost one verify (A5).
        self._dummy_hash: str | None = None

    async def warm_up(self) -> str:
        """The dummy hash, computed once (at startup, so the first unknown email costs no more)."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("pgcube-dummy-password-" + os.urandom(8).hex())
        return self._dummy_hash

    @property
    def hasher(self) -> PasswordHasher:
        return self._hasher

    async def hash(self, password: str) -> str:
        """Hash an already checked (``check_password_rules``) password."""
        return await anyio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; a ``None`` hash burns one dummy verify and answers False."""
        if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
            return False
        candidate = normalise(password)
        target = stored_hash if stored_hash is not None else await self.warm_up()
        matched = await anyio.to_thread.run_sync(self._verify_sync, target, candidate, limiter=self._limiter)
        return matched and stored_hash is not None

    def _verify_sync(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the stored hash is not Argon2id or is weaker than the current parameters."""
        try:
            params = extract_parameters(stored_hash)
        except InvalidHashError:
            return True
        current = self._hasher
        return (
            params.type is not Type.ID
            or params.memory_cost < current.memory_cost
            or params.time_cost < current.time_cost
            or params.parallelism < current.parallelism
            or params.hash_len < current.hash_len
            or params.salt_len < current.salt_len
        )

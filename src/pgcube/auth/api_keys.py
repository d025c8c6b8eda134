"""API keys: ``pgc_<id>_<secret>`` (RELIABILITY C1).

* ``id``: 16 lowercase hex characters, the row's primary key; ``pgc_<id>`` is
  the key's public *prefix*, the only part ever listed again.
* ``secret``: 256 random bits, URL-safe base64 (43 characters). Only its
  SHA-256 is stored: a fast hash is right here because the secret is random
  and long, so there is nothing to brute-force (unlike a password), and every
  API request checks it.
* ``parse`` checks the shape, so a malformed key is refused without a query;
  the stored digest is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import msgspec

KEY_PREFIX = "pgc_"
_KEY = re.compile(r"pgc_(?P<id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})")


class ParsedKey(msgspec.Struct, frozen=True):
    key_id: str
    secret: str


class NewKey(msgspec.Struct, frozen=True):
    key_id: str
    key: str
    prefix: str
    secret_digest: bytes


def new_key() -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewKey(
        key_id=key_id,
        key=f"{KEY_PREFIX}{key_id}_{secret}",
        prefix=prefix_of(key_id),
        secret_digest=secret_digest(secret),
    )


def prefix_of(key_id: str) -> str:
    return f"{KEY_PREFIX}{key_id}"


def parse(key: str) -> ParsedKey | None:
    match = _KEY.fullmatch(key)
    if match is None:
        return None
    return ParsedKey(key_id=match.group("id"), secret=match.group("secret"))


def secret_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(parsed: ParsedKey, stored_digest: bytes) -> bool:
    return hmac.compare_digest(secret_digest(parsed.secret), stored_digest)

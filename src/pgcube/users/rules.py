"""What an end user may send: passwords, codes, profile fields (SPEC §11.1; RELIABILITY D5).

Every check raises a 400 naming the field, before anything is hashed or written.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import msgspec

from pgcube import errors
from pgcube.auth.addresses import checked_name
from pgcube.auth.passwords import COMMON_PASSWORD_MESSAGE, is_common_password, normalise
from pgcube.users.tokens import is_audience

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 64
CODE_DIGITS = 6
MAX_METADATA_BYTES = 16 * 1024
MAX_URL_LENGTH = 2048

_CODE = re.compile(r"[0-9]{6}")
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{2,31}")
_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+")
_REFRESH_TOKEN = re.compile(r"rt_[A-Za-z0-9_-]{43}")

PASSWORD_POLICY: dict[str, Any] = {
    "min_length": MIN_PASSWORD_CHARS,
    "max_length": MAX_PASSWORD_CHARS,
    "refuses_common_passwords": True,
}


def checked_password(password: str, field: str = "password") -> str:
    """The password, NFKC-normalised: 8 to 64 characters and not a common one, else 400
    ``WEAK_PASSWORD``. Never hashes."""
    length_error = errors.WeakPassword(
        f"The password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters",
        details={"field": field, **PASSWORD_POLICY},
    )
    if len(password) > 4 * MAX_PASSWORD_CHARS:  # before normalising a megabyte
        raise length_error
    normalised = normalise(password)
    if not MIN_PASSWORD_CHARS <= len(normalised) <= MAX_PASSWORD_CHARS:
        raise length_error
    if is_common_password(normalised):
        raise errors.WeakPassword(
            COMMON_PASSWORD_MESSAGE, details={"field": field, "reason": "common_password"}
        )
    return normalised


def presented_password(password: str, field: str = "password") -> str:
    """A password to check against a stored hash: only its size is judged (a password set under
    other rules must still work); one far too long is refused before any hashing."""
    if not password:
        raise errors.missing_field(field)
    if len(password) > 4 * MAX_PASSWORD_CHARS:
        raise errors.ValidationError(
            f"{field} must be at most {MAX_PASSWORD_CHARS} characters", details={"field": field}
        )
    return password


def checked_code(code: str, field: str) -> str:
    if not _CODE.fullmatch(code):
        raise errors.ValidationError(
            f"{field} must be the {CODE_DIGITS} digits sent by email", details={"field": field}
        )
    return code


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def is_refresh_token(value: str) -> bool:
    """Shape check, so a malformed token never reaches the database."""
    return bool(_REFRESH_TOKEN.fullmatch(value))


def checked_audience(aud: str) -> str:
    if not is_audience(aud):
        raise errors.ValidationError("aud must be 1 to 64 letters, digits or _.:-", details={"field": "aud"})
    return aud


def checked_profile(values: dict[str, Any]) -> dict[str, Any]:
    """The profile fields a request sets, checked (absent: kept; null: cleared; metadata becomes
    JSON bytes, null an empty object)."""
    checked: dict[str, Any] = {}
    for field, value in values.items():
        if field == "metadata":
            checked[field] = checked_metadata(value, field)
        elif value is None:
            checked[field] = None
        elif field == "display_name":
            checked[field] = checked_name(value, field) or None
        elif field == "phone_number":
            checked[field] = checked_phone(value, field)
        elif field == "photo_url":
            checked[field] = checked_url(value, field)
    return checked


def checked_phone(value: str, field: str) -> str:
    trimmed = value.strip()
    if not _PHONE.fullmatch(trimmed):
        raise errors.ValidationError(
            f"{field} must be a phone number: digits, spaces and + ( ) . -", details={"field": field}
        )
    return trimmed


def checked_url(value: str, field: str) -> str:
    trimmed = value.strip()
    if len(trimmed) > MAX_URL_LENGTH or not _URL.fullmatch(trimmed):
        raise errors.ValidationError(f"{field} must be an http(s) URL", details={"field": field})
    return trimmed


def checked_metadata(value: dict[str, Any] | None, field: str) -> bytes:
    encoded = msgspec.json.encode(value if value is not None else {})
    if len(encoded) > MAX_METADATA_BYTES:
        raise errors.ValidationError(
            f"{field} must be at most {MAX_METADATA_BYTES} bytes of JSON", details={"field": field}
        )
    return encoded

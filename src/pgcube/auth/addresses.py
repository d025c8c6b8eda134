"""Email addresses and names as people type them: checked, and the canonical form emails are
compared on (RELIABILITY G2). Shared by accounts (``pgcube.auth.service``) and end users
(``pgcube.users.service``)."""

from __future__ import annotations

import re

from pgcube import errors

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100

_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\]+@[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\]+")


def canonical_email(address: str) -> str:
    """The form emails are compared on: trimmed and case-folded (G2)."""
    return address.strip().lower()


def checked_email(address: str, field: str = "email") -> str:
    """A new address, trimmed; a 400 naming ``field`` when it is missing or not an address."""
    trimmed = address.strip()
    if not trimmed:
        raise errors.missing_field(field)
    if len(trimmed) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(trimmed):
        raise errors.ValidationError("The email address is not valid", details={"field": field})
    return trimmed


def lookup_email(address: str, field: str = "email") -> str:
    """The canonical form of an email used to look someone up; only its length is checked."""
    canonical = canonical_email(address)
    if not canonical:
        raise errors.missing_field(field)
    if len(canonical) > MAX_EMAIL_LENGTH or "\x00" in canonical:
        raise errors.ValidationError("The email address is not valid", details={"field": field})
    return canonical


def checked_name(value: str, field: str) -> str:
    """A display name, trimmed: at most ``MAX_NAME_LENGTH`` printable characters."""
    trimmed = value.strip()
    if len(trimmed) > MAX_NAME_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in trimmed):
        raise errors.ValidationError(
            f"{field} must be at most {MAX_NAME_LENGTH} printable characters", details={"field": field}
        )
    return trimmed

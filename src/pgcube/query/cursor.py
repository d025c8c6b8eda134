"""Keyset cursors: the sort values of the last row, tied to the sort they came from.

A token is ``base64url(["<sort fingerprint>", [v1, ..., _key]])``. The values
come straight from the ``cursor`` column of the previous page (raw jsonb bytes,
never decoded on the way out); on the way in they are checked against the
types of the sort keys and passed to PostgreSQL as one jsonb parameter.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import msgspec

from pgcube.query.pointer import fail
from pgcube.query.validate import parse_timestamp

MAX_CURSOR_LENGTH = 8192


def fingerprint(sort_shape: tuple[Any, ...], paths: list[Any]) -> str:
    digest = hashlib.blake2s(repr((sort_shape, paths)).encode(), digest_size=8)
    return digest.hexdigest()


def encode_cursor(sort_fingerprint: str, values: bytes) -> str:
    """A token from the raw jsonb array of one row's sort values."""
    raw = b'["' + sort_fingerprint.encode() + b'",' + bytes(values) + b"]"
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Cursor(msgspec.Struct, frozen=True):
    values: list[Any]
    raw: bytes

    @property
    def nulls(self) -> tuple[bool, ...]:
        return tuple(v is None for v in self.values)


def decode_cursor(
    token: Any, sort_fingerprint: str, value_types: list[str], pointer: str = "/cursor"
) -> Cursor:
    if not isinstance(token, str) or not token or len(token) > MAX_CURSOR_LENGTH:
        fail("Not a valid cursor", pointer)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        fail("Not a valid cursor", pointer)
    if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[1], list)):
        fail("Not a valid cursor", pointer)
    if decoded[0] != sort_fingerprint:
        fail("This cursor belongs to another sort order or query", pointer)
    values: list[Any] = decoded[1]
    if len(values) != len(value_types):
        fail("Not a valid cursor", pointer)
    for value, kind in zip(values, value_types, strict=True):
        if not _fits(value, kind):
            fail("Not a valid cursor", pointer)
    return Cursor(values, msgspec.json.encode(values))


def _fits(value: Any, kind: str) -> bool:
    if kind == "jsonb" or value is None:
        return True
    if kind == "numeric":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "text":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    return parse_timestamp(value) is not None  # timestamptz

"""JSON pointers (RFC 6901) for error details."""

from __future__ import annotations

from typing import Any, NoReturn

from pgcube.errors import InvalidQuery


def child(pointer: str, key: str | int) -> str:
    token = str(key)
    if "~" in token or "/" in token:
        token = token.replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{token}"


def fail(message: str, pointer: str, **details: Any) -> NoReturn:
    raise InvalidQuery(message, details={"pointer": pointer, **details})

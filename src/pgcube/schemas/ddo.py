"""Decoding a DDO body (SPEC §7) in two steps: the op first, then that op's own body.

``op`` (or ``action``, for older Singlebase clients) names the operation; an
unknown name is a 404 ``UNKNOWN_OP`` with the closest known names, before the
rest of the body is judged — so a body meant for an op pgcube does not have
is never answered "unknown field". Then the body is decoded into the op's
closed Struct: a key that op does not read is a 400 naming it.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from pgcube.errors import InvalidJson, ValidationError, missing_field
from pgcube.ops.registry import Body, Op, Registry

_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")
_MISSING_FIELD = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_CRITERIA_NAMES = frozenset({"filter", "filters", "matches"})


class _Head(msgspec.Struct):
    """The keys that name the op; everything else waits for the op's own body."""

    op: str | None = None
    action: str | None = None


def decode_ddo(raw: bytes, registry: Registry) -> tuple[Op[Any, Any], Body]:
    """The op a DDO body names and the body decoded as that op reads it."""
    if not raw.strip():
        raise InvalidJson("The request body is missing: send a JSON object")
    head = _decode(raw, _Head, "the request")
    if head.op is None and head.action is None:
        raise missing_field("op")
    op, body_type = registry.resolve(head.op if head.op is not None else str(head.action))
    if head.op is not None and head.action is not None and registry.resolve(head.action)[0] is not op:
        raise ValidationError(
            f"op and action name different operations ({head.op}, {head.action}): send one",
            details={"field": "action"},
        )
    name = head.op if head.op is not None else str(head.action)
    return op, _decode(raw, body_type, name)


def _decode(raw: bytes, body_type: type[Any], name: str) -> Any:
    try:
        return msgspec.json.decode(raw, type=body_type)
    except msgspec.ValidationError as exc:
        raise _validation_error(str(exc), name) from None
    except msgspec.DecodeError as exc:
        raise InvalidJson(f"The request body is not valid JSON: {exc}") from None


def _validation_error(message: str, name: str) -> ValidationError:
    unknown = _UNKNOWN_FIELD.search(message)
    if unknown:
        # Inside a nested object (``data[0]`` of vdb.insert) the key is named by its whole path.
        where = _PATH.search(message)
        field = ".".join(
            part for part in (where.group("path") if where else "", unknown.group("field")) if part
        )
        hint = " (collection.* operations take their criteria in match)" if field in _CRITERIA_NAMES else ""
        return ValidationError(f"{name} does not take {field}{hint}", details={"field": field})
    missing = _MISSING_FIELD.search(message)
    if missing:
        field = missing.group("field")
        return missing_field(field)
    path = _PATH.search(message)
    if path is None and message.startswith("Expected `object`"):
        return ValidationError("The request body must be a JSON object")
    return ValidationError(
        message, details={"field": path.group("path")} if path and path.group("path") else {}
    )

"""Phase 2: limits and value types (SPEC §9.2). Every rejection names its key."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pgcube.query.fields import TEXT_FIELDS, TIMESTAMP_FIELDS
from pgcube.query.ir import RANGE_OPS, TEXT_OPS, All, AnyOf, Cond, ElemMatch, Limits, Node, NoneOf, Op
from pgcube.query.operators import LIST_OPERATORS
from pgcube.query.pointer import child, fail

TIMESTAMP_PATHS = frozenset((name,) for name in TIMESTAMP_FIELDS)
TEXT_COLUMN_PATHS = frozenset((name,) for name in TEXT_FIELDS)
_TIMESTAMP_OPS = frozenset({Op.EQ, Op.NE, Op.IN, Op.NIN, Op.ALL, Op.EXISTS}) | RANGE_OPS
_TEXT_COLUMN_OPS = _TIMESTAMP_OPS | TEXT_OPS


def validate(node: Node, limits: Limits) -> None:
    counter = _Counter(limits)
    counter.walk(node, top=True)


class _Counter:
    __slots__ = ("conditions", "limits")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.conditions = 0

    def count(self, pointer: str) -> None:
        self.conditions += 1
        if self.conditions > self.limits.max_conditions:
            fail(f"The query has more than {self.limits.max_conditions} conditions", pointer)

    def walk(self, node: Node, top: bool) -> None:
        if isinstance(node, Cond):
            self.count(node.pointer)
            check_condition(node, self.limits, top)
        elif isinstance(node, ElemMatch):
            self.count(node.pointer)
            if top and node.path in TIMESTAMP_PATHS | TEXT_COLUMN_PATHS:
                fail(f"$elemMatch does not apply to {node.path[0]}", node.pointer)
            self.walk(node.body, top=False)
        elif isinstance(node, All | AnyOf | NoneOf):
            for item in node.children:
                self.walk(item, top)


def check_condition(cond: Cond, limits: Limits, top: bool) -> None:
    op, value, at = cond.op, cond.value, cond.pointer
    if top and cond.path in TIMESTAMP_PATHS:
        _check_timestamp_condition(cond)
        return
    if top and cond.path in TEXT_COLUMN_PATHS and op not in _TEXT_COLUMN_OPS:
        fail(f"{op.value} does not apply to {cond.path[0]}", at)
    if op in (Op.EQ, Op.NE):
        check_json(value, at)
    elif op in RANGE_OPS:
        if not is_scalar(value):
            fail(f"{op.value} takes a string, number, boolean or null", at)
        check_json(value, at)
    elif op in LIST_OPERATORS:
        check_list(value, at, limits)
    elif op is Op.EXISTS:
        if not isinstance(value, bool) and value not in (0, 1):
            fail("$exists takes true or false", at)
    elif op is Op.REGEX:
        if not isinstance(value, str):
            fail("$regex takes a string", at)
        if len(value) > limits.max_regex_length:
            fail(f"The pattern is longer than {limits.max_regex_length} characters", at)
        check_json(value, at)
    elif op in TEXT_OPS:
        if not isinstance(value, str):
            fail(f"{op.value} takes a string", at)
        check_json(value, at)
    elif op is Op.SIZE and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        fail("$size takes a non-negative integer", at)


def check_list(value: Any, pointer: str, limits: Limits) -> None:
    if not isinstance(value, list):
        fail("This operator takes a list of values", pointer)
    if len(value) > limits.max_list_values:
        fail(f"The list has more than {limits.max_list_values} values", pointer)
    for i, item in enumerate(value):
        check_json(item, child(pointer, i))


def _check_timestamp_condition(cond: Cond) -> None:
    name = cond.path[0]
    if cond.op not in _TIMESTAMP_OPS:
        fail(f"{cond.op.value} does not apply to {name}", cond.pointer)
    if cond.op is Op.EXISTS:
        return
    values = cond.value if cond.op in LIST_OPERATORS else [cond.value]
    if not isinstance(values, list):
        fail("This operator takes a list of values", cond.pointer)
    for value in values:
        if value is not None and parse_timestamp(value) is None:
            fail(f"{name} compares with ISO 8601 date-time strings", cond.pointer)


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 string as an aware datetime (UTC when it names no offset), else None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def check_json(value: Any, pointer: str) -> None:
    """Values PostgreSQL's jsonb can hold: finite numbers, strings without NUL."""
    if isinstance(value, str):
        if "\x00" in value:
            fail("Strings may not contain the NUL character (jsonb cannot store it)", pointer)
    elif isinstance(value, float):
        if not math.isfinite(value):
            fail("Numbers must be finite", pointer)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_json(item, child(pointer, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or "\x00" in key:
                fail("Object keys must be strings without the NUL character", pointer)
            check_json(item, child(pointer, key))
    elif value is not None and not isinstance(value, bool | int):
        fail("Not a JSON value", pointer)

"""The JSON depth scanner and the batch counter of the rate limiter (RELIABILITY E2, E3)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgcube.api.limits import json_depth
from pgcube.api.ratelimit import batch_size


def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def true_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((true_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((true_depth(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize("depth", [0, 1, 2, 63, 64, 65, 200])
def test_depth_of_nested_values(depth: int) -> None:
    body = json.dumps(nested(depth)).encode()
    assert json_depth(body, limit=0) == depth


def test_brackets_inside_strings_do_not_count() -> None:
    body = json.dumps({"a": "[[[[{{{{" * 50, "b": ['\\"]]]', "\\\\", '"{']}).encode()
    assert json_depth(body, limit=0) == 2


def test_a_body_with_no_more_brackets_than_the_limit_is_not_scanned() -> None:
    """Depth ≤ brackets, so at most ``limit`` brackets cannot exceed ``limit``: the answer is 0
    without a scan (not the true depth, 3); one bracket more and the body is scanned."""
    body = b'{"a": [1, 2, {"b": 3}]}'
    assert json_depth(body, limit=64) == 0
    assert json_depth(body, limit=3) == 0
    assert json_depth(body, limit=2) == 3
    assert json_depth(body, limit=0) == 3


def test_a_megabyte_of_brackets_is_cheap() -> None:
    body = b"[" * (1024 * 1024)
    started = time.perf_counter()
    assert json_depth(body, limit=64) == 1024 * 1024
    assert time.perf_counter() - started < 2.0  # generous: the point is "no recursion, no blow-up"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab[]{}"\\ \n'),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet='k[]{}"\\', max_size=4), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_depth_matches_the_parsed_value(value: Any) -> None:
    assert json_depth(json.dumps(value).encode(), limit=0) == true_depth(value)


@pytest.mark.parametrize(
    ("body", "cost"),
    [
        (b'{"op": "collection.insert", "collection": "c", "data": [{}, {}, {}]}', 3),
        (b'{"database_id": "x", "collection_name": "c", "documents": [{"a": [1, 2]}, {}]}', 2),
        (b'{"database_id": "x", "collection_name": "c", "data": {"a": [1, 2, 3]}}', 1),
        (b'{"op": "collection.update", "data": {"$set": {"a": 1}}}', 1),
        (b'{"data": []}', 1),
        (b"not json", 1),
        (b"[1, 2, 3]", 1),
        (b"", 1),
    ],
)
def test_batch_size(body: bytes, cost: int) -> None:
    assert batch_size(body) == cost

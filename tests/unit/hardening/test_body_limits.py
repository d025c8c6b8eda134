"""The JSON depth scanner and the batch counter of the rate limiter (RELIABILITY E2, E3)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgcube.api import limits
from pgcube.api.limits import duplicate_key, json_depth
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


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (b'{"op": "collection.count", "op": "collection.delete"}', "op"),
        (b'{"a": {"b": 1}, "c": [1, {"d": 2, "d": 3}]}', "d"),
        (b'{"a": "x:\\":y", "b": {"c": 1, "c": 2}}', "c"),  # colons and escaped quotes in strings
        (b'{"a": "k\\\\", "a": 1}', "a"),  # an escaped backslash before the closing quote
        # a \u escape spelling a colon would balance the count of a dropped pair: looked at pair by pair
        (b'{"op": "collection.count", "op": "collection.delete", "x": "\\u003a"}', "op"),
        (b'{"n": 1e400, "n": 2}', "n"),  # a number msgspec cannot hold
        (b'[{"a": 1}, {"a": 2}]', None),  # the same key in different objects
        (b'{"a:": 1, "t": "12:30", "u": "\\u003a"}', None),
        (b"not json", None),
    ],
)
def test_duplicate_key_names_the_first_key_named_twice(text: bytes, key: str | None) -> None:
    assert duplicate_key(text) == key


def test_duplicate_key_scans_a_batch_without_the_pair_by_pair_look(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of 1,000 documents with no duplicate takes the counting path: no per-object hook."""
    documents = b",".join(b'{"n": %d, "t": "12:%02d", "o": {"p": 1}}' % (i, i % 60) for i in range(1000))
    calls: list[object] = []
    monkeypatch.setattr(limits, "_PAIRS", json.JSONDecoder(object_pairs_hook=calls.append))
    assert duplicate_key(b'{"data": [' + documents + b"]}") is None
    assert calls == []
    assert (
        duplicate_key(b'{"data": [' + documents + b', {"n": 1, "n": 2}]}') is None
    )  # the recorder raises nothing
    assert calls, "a duplicate sends the text to the pair-by-pair look"

"""JSON typed into the dashboard, and shown back with an API error's pointer marked."""

from __future__ import annotations

import pytest

from pgcube.dashboard.jsontext import (
    MAX_DEPTH,
    BadJson,
    cell,
    columns,
    marked,
    parse,
    parse_object,
    parse_sort,
    pointer_steps,
)


def test_the_pointer_marks_the_key_and_value_it_names() -> None:
    match = {"price": {"$gt": 1, "$bogus": 2}, "name": "x"}
    shown = str(marked(match, pointer_steps("/match/price/$bogus", "match")))
    assert '<mark class="pointer-mark">"$bogus": 2</mark>' in shown
    assert shown.count("<mark") == 1


def test_the_pointer_walks_arrays_and_unescapes_its_steps() -> None:
    match = {"$or": [{"a/b": 1}, {"c~d": {"$nope": 2}}]}
    assert '<mark class="pointer-mark">"a/b": 1</mark>' in str(
        marked(match, pointer_steps("/match/$or/0/a~1b", "match"))
    )
    assert '<mark class="pointer-mark">"$nope": 2</mark>' in str(
        marked(match, pointer_steps("/match/$or/1/c~0d/$nope", "match"))
    )


def test_a_pointer_past_the_value_marks_as_far_as_it_leads() -> None:
    assert str(marked({"a": 1}, pointer_steps("/match", "match"))).startswith('<mark class="pointer-mark">{')
    assert '<mark class="pointer-mark">{}</mark>' in str(
        marked({"a": {}}, pointer_steps("/match/a/b", "match"))
    )
    assert str(marked({"a": 1}, pointer_steps("/sort", "match"))) == '{\n  "a": 1\n}'


def test_what_is_shown_is_escaped() -> None:
    shown = str(marked({"<b>": "</pre><script>"}, ["<b>"]))
    assert "<script>" not in shown
    assert "&lt;/pre&gt;&lt;script&gt;" in shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": }', "The match is not valid JSON: Expecting value at line 1, column 7"),
        ('{\n "a": 1,\n}', "The match is not valid JSON: "),  # the wording varies by Python release
        ('{"a": 1, "a": 2}', "The match names the key 'a' twice in one object"),
        ('{"a": NaN}', "The match holds NaN, which JSON does not have"),
    ],
)
def test_json_mistakes_say_where(text: str, message: str) -> None:
    with pytest.raises(BadJson) as raised:
        parse(text, "The match")
    assert str(raised.value).startswith(message)
    if message.endswith("JSON: "):
        assert str(raised.value).endswith("at line 3, column 1")


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 900, 3000, 100_000])
def test_json_nested_too_deep_is_bad_json_however_deep(levels: int) -> None:
    """Past the limit, and past the decoder's recursion limit: the same message, never a RecursionError."""
    with pytest.raises(BadJson, match=rf"^The match is nested too deep: more than {MAX_DEPTH} levels"):
        parse('{"a": ' + _nested(levels - 1) + "}", "The match")


def test_json_as_deep_as_the_limit_is_taken() -> None:
    assert parse(_nested(MAX_DEPTH), "The match") is not None
    assert parse('{"a": ' + _nested(MAX_DEPTH - 1) + "}", "The match") is not None


def test_inputs() -> None:
    assert parse_object("  ", "The match") is None
    with pytest.raises(BadJson, match="must be a JSON object"):
        parse_object("[1]", "The match")
    with pytest.raises(BadJson) as raised:
        parse_object("1", "The metadata", example='{"topic": 1}')
    assert str(raised.value) == 'The metadata must be a JSON object, like {"topic": 1}'
    assert parse_sort("-price") == "-price"
    assert parse_sort('{"price": -1}') == {"price": -1}
    assert parse_sort("") is None


def test_cells_and_columns() -> None:
    assert cell(None).text == "null"
    assert cell(True).text == "true"
    assert cell({"a": [1, 2]}).text == '{"a":[1,2]}'
    long = cell("x" * 100)
    assert len(long.text) == 60
    assert long.title == "x" * 100
    documents = [
        {"_key": "a", "b": 1, "_created_at": "t", "_modified_at": "t", "_userkey": None},
        {"_key": "c", "d": 2, "b": 3, "_created_at": "t", "_modified_at": "t", "_userkey": None},
    ]
    assert columns(documents) == ["_key", "b", "d", "_created_at", "_modified_at"]

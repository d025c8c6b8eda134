"""The import's stream reader: gzip, array vs NDJSON, documents across chunk boundaries, errors."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgcube.data.imports.reader import DocumentReader, holds_nul
from pgcube.errors import InvalidJson, PgcubeError, ValidationError

LIMIT = 4096

DOCS: list[dict[str, Any]] = [
    {"a": 1, "s": 'x,}]{["\\', "nested": [{"b": [1, 2, {"c": None}]}, {}]},
    {"_key": "k1", "f": 1.5, "e": 1e300, "t": True, "u": "é ü 😀", "n": -0},
    {},
    {"big": 123456789012345678901234567890, "esc": "line\nbreak\ttab \\u0000 literal"},
]


def read(data: bytes, chunk: int = 1 << 16) -> list[Any]:
    reader = DocumentReader(max_record_bytes=LIMIT)
    out: list[Any] = []
    for start in range(0, len(data), chunk):
        out.extend(reader.feed(data[start : start + chunk]))
    out.extend(reader.finish())
    assert reader.count == len(out)
    return out


def error(data: bytes, chunk: int = 1 << 16) -> PgcubeError:
    with pytest.raises(PgcubeError) as caught:
        read(data, chunk)
    return caught.value


def ndjson(docs: Iterable[Any]) -> bytes:
    return b"".join(json.dumps(d).encode() + b"\n" for d in docs)


FORMS = {
    "compact array": json.dumps(DOCS, separators=(",", ":")).encode(),
    "pretty array": json.dumps(DOCS, indent=2, ensure_ascii=False).encode(),
    "ndjson": ndjson(DOCS),
    "ndjson, CRLF, blank lines, no final newline": b"\r\n".join(
        [
            b"",
            *(json.dumps(d).encode() for d in DOCS[:2]),
            b"   ",
            *(json.dumps(d).encode() for d in DOCS[2:]),
        ]
    ),
    "BOM and whitespace first": b"\xef\xbb\xbf \n\t" + json.dumps(DOCS).encode(),
}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 16])
def test_every_form_gives_the_documents_in_order_whatever_the_chunks(form: str, chunk: int) -> None:
    assert read(FORMS[form], chunk) == DOCS


@pytest.mark.parametrize("chunk", [1, 5, 100, 1 << 16])
def test_gzip_is_recognised_by_its_content(chunk: int) -> None:
    assert read(gzip.compress(FORMS["ndjson"]), chunk) == DOCS
    assert read(gzip.compress(FORMS["pretty array"]), chunk) == DOCS


def test_concatenated_gzip_members_are_one_file() -> None:
    data = gzip.compress(ndjson(DOCS[:2])) + gzip.compress(ndjson(DOCS[2:]))
    assert read(data, 10) == DOCS


def test_a_gzip_bomb_is_inflated_in_bounded_pieces() -> None:
    body = b"[" + b",".join([b"{}"] * 400_000) + b"]"  # 1.2 MB of text, ~2 kB compressed
    reader = DocumentReader(max_record_bytes=LIMIT)
    largest = 0
    for document in reader.feed(gzip.compress(body)):
        assert document == {}
        largest = max(largest, len(reader._format._text))  # type: ignore[union-attr]
    list(reader.finish())
    assert reader.count == 400_000
    assert largest <= 256 * 1024 + 16


def test_truncated_gzip_is_refused() -> None:
    data = gzip.compress(FORMS["ndjson"])
    assert "truncated" in error(data[:-12]).message


def test_broken_gzip_is_refused() -> None:
    data = bytearray(gzip.compress(FORMS["ndjson"]))
    data[15:25] = b"\xff" * 10
    assert isinstance(error(bytes(data)), ValidationError)


@pytest.mark.parametrize("data", [b"[]", b"  [ ]  ", b"[\n]\n"])
def test_an_empty_array_has_no_documents(data: bytes) -> None:
    assert read(data) == []


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"\xef\xbb\xbf"])
def test_an_empty_file_is_refused(data: bytes) -> None:
    assert "no documents" in error(data).message


def test_ndjson_errors_name_the_index_and_the_line() -> None:
    data = b'{"a": 1}\n\n{"a": 2}\n{"a": \n{"a": 3}\n'
    caught = error(data)
    assert isinstance(caught, InvalidJson)
    assert caught.details == {"index": 2, "line": 4}
    assert "Line 4 (document 2)" in caught.message


@pytest.mark.parametrize(
    ("data", "index"),
    [
        (b'[{"a": 1}, {"a": }]', 1),
        (b'[{"a": 1} {"a": 2}]', 1),
        (b'[{"a": 1},]', 1),
        (b'[{"a": 1}, {"a": 2}', 2),
        (b'[{"a": 1}, {"a": 2', 1),
        (b'[{"a": 1}] {"b": 2}', 1),
        (b'[{"a": NaN}]', 0),
        (b'[{"a": Infinity}]', 0),
        (b'[{"a": 1e999}]', 0),
        (b'[{"a": "\x01"}]', 0),
        (b'[{"a": 1}, {"b": "\xff"}]', 1),
        (b"[" + b"[" * 5000 + b"]" * 5000 + b"]", 0),
    ],
)
@pytest.mark.parametrize("chunk", [3, 1 << 16])
def test_array_errors_name_the_document(data: bytes, index: int, chunk: int) -> None:
    caught = error(data, chunk)
    assert isinstance(caught, InvalidJson), caught.message
    assert caught.details["index"] == index, caught.message


def test_an_invalid_element_is_reported_without_waiting_for_the_rest() -> None:
    reader = DocumentReader(max_record_bytes=1 << 20)
    with pytest.raises(InvalidJson) as caught:
        list(reader.feed(b'[{"a": 1}, {"a": tru, "b": 2}, ' + b" " * 100))
    assert caught.value.details["index"] == 1


def test_a_number_cut_by_a_chunk_is_read_whole() -> None:
    assert read(b"[1234567, 2.5e10]", chunk=3) == [1234567, 2.5e10]
    assert read(b"1234567\n", chunk=3) == [1234567]


@pytest.mark.parametrize("form", ["array", "ndjson"])
def test_nul_is_refused_with_the_index_but_an_escaped_backslash_is_not(form: str) -> None:
    docs: list[Any] = [{"ok": "\\u0000 is text here"}, {"a": ["x", {"b": "y\x00z"}]}]
    data = json.dumps(docs).encode() if form == "array" else ndjson(docs)
    caught = error(data)
    assert isinstance(caught, ValidationError)
    assert caught.details["index"] == 1
    assert "NUL" in caught.message
    key = [{"k\x00": 1}]
    assert error(json.dumps(key).encode()).details["index"] == 0


@pytest.mark.parametrize("form", ["array", "ndjson"])
def test_a_record_longer_than_the_limit_is_refused_without_buffering_it(form: str) -> None:
    docs = [{"a": 1}, {"a": "x" * (LIMIT * 3)}]
    data = json.dumps(docs).encode() if form == "array" else ndjson(docs)
    caught = error(data, chunk=1024)
    assert isinstance(caught, ValidationError)
    assert caught.details["index"] == 1
    reader = DocumentReader(max_record_bytes=LIMIT)
    endless = b'{"a": "' + b"x" * (LIMIT * 4)  # a line that never ends
    with pytest.raises(ValidationError):
        list(reader.feed(b"[" + endless if form == "array" else endless))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
documents = st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=5), max_size=6)


@settings(max_examples=150, deadline=None)
@given(docs=documents, chunk=st.integers(min_value=1, max_value=40), indent=st.sampled_from([None, 1]))
def test_any_documents_round_trip_in_both_forms(docs: list[Any], chunk: int, indent: int | None) -> None:
    docs = [d for d in docs if not holds_nul(d)]
    array = json.dumps(docs, indent=indent, ensure_ascii=indent is None).encode()
    assert read(array, chunk) == docs
    if docs:
        assert read(ndjson(docs), chunk) == docs

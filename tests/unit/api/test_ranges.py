"""The download's Range and conditional rules (``pgcube.api.ranges``), without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pgcube.api.ranges import ByteRange, http_date, not_modified, range_applies, requested_range
from pgcube.errors import RangeNotSatisfiable

SIZE = 1000
ETAG = '"abc"'
MODIFIED = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 100, SIZE)),
        ("bytes=500-", ByteRange(500, SIZE, SIZE)),
        ("bytes=-100", ByteRange(900, SIZE, SIZE)),
        ("bytes=-5000", ByteRange(0, SIZE, SIZE)),  # a suffix longer than the file: all of it
        ("bytes=990-5000", ByteRange(990, SIZE, SIZE)),  # an end past the file: up to its end
        ("BYTES=0-0", ByteRange(0, 1, SIZE)),
    ],
)
def test_one_range_is_served(header: str, expected: ByteRange) -> None:
    assert requested_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    [None, "", "bytes=0-1,5-9", "items=0-9", "bytes=9-1", "bytes=-", "bytes=a-b", "bytes=" + "9" * 20 + "-"],
)
def test_what_is_not_one_range_serves_the_whole_file(header: str | None) -> None:
    assert requested_range(header, SIZE) is None


@pytest.mark.parametrize(("header", "size"), [("bytes=1000-", SIZE), ("bytes=-0", SIZE), ("bytes=-1", 0)])
def test_a_range_outside_the_file_is_416_with_its_size(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as refused:
        requested_range(header, size)
    assert refused.value.headers == {"content-range": f"bytes */{size}"}


def test_content_range_names_the_last_byte() -> None:
    assert ByteRange(900, SIZE, SIZE).content_range() == "bytes 900-999/1000"


@pytest.mark.parametrize(
    ("if_none_match", "if_modified_since", "expected"),
    [
        ('"abc"', None, True),
        ('W/"abc"', None, True),
        ('"x", "abc"', None, True),
        ("*", None, True),
        ('"other"', http_date(MODIFIED), False),  # If-None-Match decides when it is sent
        (None, http_date(MODIFIED), True),
        (None, "Mon, 30 Nov 2026 11:59:59 GMT", False),
        (None, "not a date", False),
        (None, None, False),
    ],
)
def test_not_modified(if_none_match: str | None, if_modified_since: str | None, expected: bool) -> None:
    assert not_modified(if_none_match, if_modified_since, ETAG, MODIFIED) is expected


@pytest.mark.parametrize(
    ("if_range", "expected"),
    [
        (None, True),
        (ETAG, True),
        ('"old"', False),
        (http_date(MODIFIED), True),
        ("Sun, 01 Jan 2023 00:00:00 GMT", False),
    ],
)
def test_if_range_honours_the_range_only_for_the_current_version(
    if_range: str | None, expected: bool
) -> None:
    assert range_applies(if_range, ETAG, MODIFIED) is expected

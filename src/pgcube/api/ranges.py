"""The conditional and partial answers of a download (RFC 9110 §13, §14), as pure functions.

* ``Range``: one range, ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n``, is served
  as a 206; a range that starts past the end is a 416. Several ranges, another
  unit or a header that does not parse are answered with the whole file (200),
  which RFC 9110 allows: a server may ignore ``Range``. (Several ranges would
  need a ``multipart/byteranges`` body, which no client of pgcube asks for.)
* ``If-Range`` that names another version: the whole file.
* ``If-None-Match`` (weak comparison, ``*`` included), else ``If-Modified-Since``:
  a 304 when the client's copy is current.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from pgcube.errors import RangeNotSatisfiable

_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII | re.IGNORECASE)
_MAX_DIGITS = 19


@dataclass(frozen=True)
class ByteRange:
    """The bytes ``start`` to ``end`` (exclusive) of a file of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end - 1}/{self.size}"


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The one range ``header`` asks for; None for the whole file; 416 when it starts past the end
    (the error carries ``Content-Range: bytes */size``)."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:  # another unit, several ranges, or not a range at all
        return None
    first, last = match.groups()
    if len(first) > _MAX_DIGITS or len(last) > _MAX_DIGITS or (not first and not last):
        return None
    if not first:  # the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return ByteRange(max(size - suffix, 0), size, size)
    start = int(first)
    if last and int(last) < start:  # a-b with b < a does not parse as a range: ignored
        return None
    if start >= size:
        raise _unsatisfiable(size)
    end = min(int(last) + 1, size) if last else size
    return ByteRange(start, end, size)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(details={"size": size}, headers={"content-range": f"bytes */{size}"})


def http_date(moment: datetime) -> str:
    return format_datetime(moment.replace(microsecond=0), usegmt=True)


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: datetime
) -> bool:
    """Whether the client's copy is current: a 304 instead of the bytes."""
    if if_none_match is not None:
        return any(tag == "*" or tag.removeprefix("W/") == etag for tag in _tags(if_none_match))
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False


def range_applies(if_range: str | None, etag: str, last_modified: datetime) -> bool:
    """Whether ``Range`` is to be honoured: no ``If-Range``, or one naming the current version
    (its strong entity tag, or its exact ``Last-Modified`` date)."""
    if not if_range:
        return True
    value = if_range.strip()
    if value.startswith('"'):
        return value == etag
    return value == http_date(last_modified)

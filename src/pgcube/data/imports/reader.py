"""An upload's bytes in, decoded documents out, one chunk at a time (SPEC §8). Pure: no I/O.

``DocumentReader.feed(chunk)`` yields the documents that chunk completes;
``finish()`` yields the last ones and checks the file ended properly. Memory
is bounded by one chunk plus one document, and the work by a constant per
byte, whatever the file's size or how it is cut into chunks (RELIABILITY H2:
no buffer is scanned or copied again each time it grows):

* **gzip** is recognised by its magic bytes (``1f 8b``), whatever the file is
  called, and inflated in bounded pieces (a small bomb never becomes a large
  buffer); concatenated members are read one after the other;
* **format**: the first byte that is not whitespace (after an optional UTF-8
  BOM) decides — ``[`` is a JSON array of documents, anything else NDJSON
  (one document per line, blank lines skipped);
* **whitespace** is refused in runs longer than ``max_blank_bytes`` (1 MiB):
  before the first document, between two elements of the array, or as blank
  lines — a small gzip of nothing but spaces cannot keep the reader busy;
* **size**: the text (after gzip) may be at most ``max_text_bytes``, else a
  413 ``PayloadTooLarge`` (a small gzip must not become an unbounded import);
* **NDJSON** lines are decoded with msgspec, like every request body;
* **arrays** are walked with the standard library's C scanner
  (``JSONDecoder.raw_decode``), the one decoder in reach that returns where a
  value ends — see ``docs/adr/0007-bulk-import.md`` for the measurements. It
  is made as strict as msgspec: ``NaN``/``Infinity`` and numbers out of the
  float range are refused.

Every problem raises a ``PgcubeError`` naming the document: ``details.index``
(0-based, in file order) and, for NDJSON, ``details.line`` (1-based). A
``\\u0000`` in a string (a key or a value) is refused here, where the record's
index is known: PostgreSQL's jsonb cannot store it.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import zlib
from collections.abc import Iterator
from typing import Any, Final

import msgspec

from pgcube.errors import InvalidJson, PayloadTooLarge, PgcubeError, ValidationError

GZIP_MAGIC: Final = b"\x1f\x8b"
_BOM: Final = b"\xef\xbb\xbf"
_INFLATE_PIECE: Final = 256 * 1024
"""Largest piece of inflated data made at once."""
_WHITESPACE: Final = b" \t\r\n"
_WHITESPACE_RUN = re.compile(r"[ \t\r\n]*")
_NON_EMPTY_LINE = re.compile(rb"[^\n]+")
_NUL_ESCAPE_BYTES: Final = b"\\u0000"
_NUL_ESCAPE: Final = "\\u0000"
_CLOSERS: Final = '}]"'
MAX_BLANK_BYTES: Final = 1024 * 1024
"""Longest run of whitespace the reader accepts (before the first document, between two)."""

_decode_line = msgspec.json.Decoder().decode


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("Number out of range")
    return value


_array_decoder = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _skip_whitespace(text: str, pos: int) -> int:
    match = _WHITESPACE_RUN.match(text, pos)
    return match.end() if match is not None else pos


def holds_nul(value: Any) -> bool:
    """Whether a decoded JSON value has a NUL character in a string or a key."""
    if type(value) is str:
        return "\x00" in value
    if type(value) is dict:
        return any("\x00" in key or holds_nul(item) for key, item in value.items())
    if type(value) is list:
        return any(holds_nul(item) for item in value)
    return False


def blank_error(limit: int, index: int, where: str) -> InvalidJson:
    return InvalidJson(
        f"The file holds more than {limit} bytes of whitespace {where}; nothing was imported",
        details={"index": index, "limit": limit},
    )


def nul_error(index: int, line: int | None = None) -> ValidationError:
    where = f"Document {index}" if line is None else f"Line {line} (document {index})"
    return ValidationError(
        f"{where} holds the NUL character (\\u0000) in a string: PostgreSQL's jsonb cannot store it",
        details={"index": index} if line is None else {"index": index, "line": line},
    )


class _Gunzip:
    """Inflates a gzip stream (one or more members) in bounded pieces."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            while data:
                if self._inflater.eof:  # the next member of a concatenated file
                    self._inflater = zlib.decompressobj(wbits=31)
                piece = self._inflater.decompress(data, _INFLATE_PIECE)
                if piece:
                    yield piece
                data = self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
        except zlib.error as exc:
            raise ValidationError(
                f"The file is not valid gzip: {exc}", details={"field": "json_file"}
            ) from None

    def finish(self) -> bytes:
        rest = self._inflater.flush()
        if not self._inflater.eof:
            raise ValidationError(
                "The gzip file is truncated: it ends before its last member does",
                details={"field": "json_file"},
            )
        return rest


class _Lines:
    """NDJSON: one document per line."""

    def __init__(self, max_record_bytes: int, max_blank_bytes: int = MAX_BLANK_BYTES) -> None:
        self._max = max_record_bytes
        self._max_blank = max_blank_bytes
        self._tail: list[bytes] = []
        """The pieces of a line not ended yet, joined once its end comes (never re-copied)."""
        self._tail_bytes = 0
        self._blank = 0
        """Bytes of the current run of blank lines."""
        self.line = 0
        """The line of the latest document (1-based)."""
        self._lines = 0
        self.index = -1
        """The index of the latest document."""

    def feed(self, data: bytes) -> Iterator[Any]:
        first_end = data.find(b"\n")
        if first_end < 0:
            self._keep(data)
            return
        first = data[:first_end]
        if self._tail:
            first = b"".join([*self._tail, first])
            self._tail, self._tail_bytes = [], 0
        self._lines += 1
        yield from self._one(first, self._lines)
        # The complete lines after the first: only those with something on them are visited (found
        # in C); a run of empty lines is counted, not walked, so newlines alone cost next to nothing.
        last_end = data.rfind(b"\n")
        pos = first_end + 1
        for match in _NON_EMPTY_LINE.finditer(data, pos, last_end):
            start = match.start()
            self._skip_blank(start - pos)  # that many empty lines, one byte each
            self._lines += start - pos + 1
            pos = match.end() + 1
            yield from self._one(match.group(), self._lines)
        self._skip_blank(last_end + 1 - pos)
        self._lines += last_end + 1 - pos
        self._keep(data[last_end + 1 :])

    def _keep(self, rest: bytes) -> None:
        """The start of a line that has not ended yet."""
        if rest:
            self._tail.append(rest)
            self._tail_bytes += len(rest)
        if self._tail_bytes > self._max:  # a line that never ends must not fill the memory
            raise self._too_large(self.index + 1, self._lines + 1)

    def finish(self) -> Iterator[Any]:
        if self._tail:
            self._lines += 1
            raw, self._tail, self._tail_bytes = b"".join(self._tail), [], 0
            yield from self._one(raw, self._lines)

    def _skip_blank(self, size: int) -> None:
        self._blank += size
        if self._blank > self._max_blank:
            raise blank_error(self._max_blank, self.index + 1, "in blank lines")

    def _one(self, raw: bytes, number: int) -> Iterator[Any]:
        if not raw or raw.isspace():
            self._skip_blank(len(raw) + 1)
            return
        self._blank = 0
        self.index += 1
        self.line = number
        if len(raw) > self._max:
            raise self._too_large(self.index, self.line)
        try:
            document = _decode_line(raw)
        except (msgspec.MsgspecError, UnicodeDecodeError) as exc:
            raise InvalidJson(
                f"Line {self.line} (document {self.index}) is not valid JSON: {exc}",
                details={"index": self.index, "line": self.line},
            ) from None
        if _NUL_ESCAPE_BYTES in raw and holds_nul(document):
            raise nul_error(self.index, self.line)
        yield document

    def _too_large(self, index: int, line: int) -> ValidationError:
        return ValidationError(
            f"Line {line} (document {index}) is longer than {self._max} bytes",
            details={"index": index, "line": line, "limit": self._max},
        )


_START, _FIRST, _NEXT, _AFTER, _DONE = range(5)


class _Array:
    """A JSON array of documents, walked one element at a time."""

    def __init__(self, max_record_bytes: int, max_blank_bytes: int = MAX_BLANK_BYTES) -> None:
        self._max = max_record_bytes
        self._max_blank = max_blank_bytes
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._text = ""
        self._pos = 0
        self._pieces: list[str] = []
        """Text received while an element cut short waits for more (joined once, when it is retried)."""
        self._pieces_size = 0
        self._blank = 0
        """Whitespace run so far between two tokens."""
        self._state = _START
        self._retry_at = 0
        """How much text an incomplete element needs before it is tried again (it doubles)."""
        self.index = -1
        """The index of the latest document."""

    def feed(self, data: bytes, final: bool = False) -> Iterator[Any]:
        try:
            decoded = self._utf8.decode(data, final)
        except UnicodeDecodeError as exc:
            # The documents before the bad byte are good: read them, then blame the next one.
            self._append(bytes(exc.object[: exc.start]).decode())
            self._retry_at = 0
            self._join()
            yield from self._scan(final=False)
            raise InvalidJson(
                f"Document {self.index + 1} is not valid UTF-8", details={"index": self.index + 1}
            ) from None
        self._append(decoded)
        if not final and len(self._text) - self._pos + self._pieces_size < self._retry_at:
            return  # an element cut short: not worth trying again before the text has doubled
        self._join()
        yield from self._scan(final)

    def _append(self, decoded: str) -> None:
        if decoded:
            self._pieces.append(decoded)
            self._pieces_size += len(decoded)

    def _join(self) -> None:
        """The text not scanned yet, in one string: what is left of the last one and the new pieces."""
        self._text = "".join([self._text[self._pos :], *self._pieces])
        self._pos = 0
        self._pieces.clear()
        self._pieces_size = 0

    def finish(self) -> Iterator[Any]:
        yield from self.feed(b"", final=True)
        if self._state != _DONE:
            raise InvalidJson(
                f"The JSON array ends before its closing ']' (after document {self.index})",
                details={"index": self.index + 1},
            )

    def _scan(self, final: bool) -> Iterator[Any]:
        text = self._text
        size = len(text)
        pos = self._pos
        try:
            while True:
                start = pos
                pos = _skip_whitespace(text, pos)
                self._blank += pos - start
                if self._blank > self._max_blank:
                    raise blank_error(self._max_blank, self.index + 1, "between two documents")
                if pos >= size:
                    break
                self._blank = 0
                state = self._state
                if state == _START:
                    self._state = _FIRST  # the reader saw '[' before choosing this class
                    pos += 1
                elif state in (_FIRST, _NEXT):
                    if state == _FIRST and text[pos] == "]":
                        self._state = _DONE
                        pos += 1
                        continue
                    if size - pos < self._retry_at and not final:
                        break
                    element = self._element(text, pos, final)
                    if element is None:
                        self._retry_at = 2 * (size - pos) + 64 * 1024
                        break
                    self._retry_at = 0
                    document, end = element
                    self._state = _AFTER
                    self.index += 1
                    if end - pos > self._max:
                        raise self._too_large(self.index)
                    if text.find(_NUL_ESCAPE, pos, end) >= 0 and holds_nul(document):
                        raise nul_error(self.index)
                    pos = end
                    yield document
                elif state == _AFTER:
                    char = text[pos]
                    if char == ",":
                        self._state = _NEXT
                    elif char == "]":
                        self._state = _DONE
                    else:
                        raise InvalidJson(
                            f"Expected ',' or ']' after document {self.index}, found {char!r}",
                            details={"index": self.index + 1},
                        )
                    pos += 1
                else:
                    raise InvalidJson(
                        f"Unexpected data after the JSON array's closing ']' (found {text[pos]!r})",
                        details={"index": self.index + 1},
                    )
        finally:
            self._pos = pos

    def _element(self, text: str, pos: int, final: bool) -> tuple[Any, int] | None:
        """The element at ``pos`` and where it ends; None: it may go on in the next chunk."""
        index = self.index + 1
        try:
            document, end = _array_decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            # Where a chunk cuts an element short, the scanner stops at the text's end
            # (or, for a string, names where the string started).
            cut_short = exc.pos >= len(text) - 16 or exc.msg.startswith("Unterminated string")
            if cut_short and not final and len(text) - pos <= self._max:
                return None
            if len(text) - pos > self._max:
                raise self._too_large(index) from None
            raise InvalidJson(
                f"Document {index} is not valid JSON: {exc.msg} (character {exc.pos - pos} of the document)",
                details={"index": index},
            ) from None
        except ValueError as exc:  # NaN, Infinity, or a number out of range
            raise InvalidJson(
                f"Document {index} is not valid JSON: {exc}", details={"index": index}
            ) from None
        except RecursionError:
            raise InvalidJson(f"Document {index} is nested too deeply", details={"index": index}) from None
        if end >= len(text) and not final and text[end - 1] not in _CLOSERS:
            return None  # a number or a literal may go on in the next chunk
        return document, int(end)

    def _too_large(self, index: int) -> ValidationError:
        return ValidationError(
            f"Document {index} is longer than {self._max} bytes in the file",
            details={"index": index, "limit": self._max},
        )


class DocumentReader:
    """The documents of one uploaded file, in order; see the module's docstring."""

    def __init__(
        self,
        *,
        max_record_bytes: int,
        max_blank_bytes: int = MAX_BLANK_BYTES,
        max_text_bytes: int | None = None,
    ) -> None:
        self._max = max_record_bytes
        self._max_blank = max_blank_bytes
        self._max_text = max_text_bytes
        self.text_bytes = 0
        """Bytes of text so far (after gzip)."""
        self._magic = b""
        """The first bytes, until there are enough to tell gzip."""
        self._head = b""
        """The first bytes of text, until there are enough to tell a UTF-8 byte order mark."""
        self._bom_checked = False
        self._leading = 0
        """Whitespace before the first document (only counted, never kept)."""
        self._gunzip: _Gunzip | None = None
        self._format: _Lines | _Array | None = None
        self._started = False
        self.gzip = False

    @property
    def index(self) -> int:
        """The index of the latest document read (-1 before the first)."""
        return self._format.index if self._format is not None else -1

    @property
    def count(self) -> int:
        return self.index + 1

    @property
    def format(self) -> str | None:
        """``array`` or ``ndjson`` once known."""
        if self._format is None:
            return None
        return "array" if isinstance(self._format, _Array) else "ndjson"

    def where(self) -> dict[str, int]:
        """``index`` (and ``line``, for NDJSON) of the latest document, for error details."""
        if isinstance(self._format, _Lines):
            return {"index": self._format.index, "line": self._format.line}
        return {"index": self.index}

    def feed(self, chunk: bytes) -> Iterator[Any]:
        if not self._started:
            self._magic += chunk
            if len(self._magic) < len(GZIP_MAGIC):
                return
            chunk, self._magic, self._started = self._magic, b"", True
            if chunk.startswith(GZIP_MAGIC):
                self.gzip = True
                self._gunzip = _Gunzip()
        if self._gunzip is None:
            yield from self._text(chunk)
        else:
            for piece in self._gunzip.feed(chunk):
                yield from self._text(piece)

    def finish(self) -> Iterator[Any]:
        if not self._started:  # a file of 0 or 1 byte
            self._started = True
            yield from self._text(self._magic)
        elif self._gunzip is not None:
            yield from self._text(self._gunzip.finish())
        if self._format is None:
            raise ValidationError(
                "The file holds no documents: send a JSON array of objects or NDJSON",
                details={"field": "json_file"},
            )
        yield from self._format.finish()

    def _text(self, data: bytes) -> Iterator[Any]:
        self.text_bytes += len(data)
        if self._max_text is not None and self.text_bytes > self._max_text:
            raise PayloadTooLarge(
                f"The file is larger than {self._max_text} bytes once decompressed; nothing was imported",
                details={"limit": self._max_text, "decompressed": self.gzip},
            )
        if self._format is None:
            if not self._bom_checked:
                self._head += data
                if len(self._head) < len(_BOM) and _BOM.startswith(self._head):
                    return  # maybe the start of a BOM
                data, self._head, self._bom_checked = self._head.removeprefix(_BOM), b"", True
            # Each piece is stripped once and only counted: no buffer of whitespace that grows.
            stripped = data.lstrip(_WHITESPACE)
            self._leading += len(data) - len(stripped)
            if self._leading > self._max_blank:
                raise blank_error(self._max_blank, 0, "before the first document")
            if not stripped:
                return  # nothing but whitespace yet
            kind = _Array if stripped[:1] == b"[" else _Lines
            self._format = kind(self._max, self._max_blank)
            data = stripped
        yield from self._format.feed(data)


def located(error: PgcubeError, reader: DocumentReader) -> PgcubeError:
    """``error`` (about the reader's latest document) with that document's line, for NDJSON."""
    where = reader.where()
    if "line" in where and "line" not in error.details:
        error.details["line"] = where["line"]
        error.message = f"{error.message} (line {where['line']})"
    return error

"""A ``multipart/form-data`` upload read as it arrives, under its own limits (RELIABILITY E1, H1).

Litestar's own form parsing keeps the whole body before the handler runs;
a route that streams an upload (the import; the file uploads to come) sets
``request_max_body_size=None`` and reads its form with ``read_form``
instead. The body goes through ``multipart.PushMultipartParser`` (the
sans-I/O parser Litestar itself uses) one chunk at a time: the text fields
come first, then one file, whose bytes follow in ``Form.file`` while they
arrive. A field after the file is refused once the file has been read (the
server cannot know sooner).

The body is held to ``UploadLimits``:

* ``max_bytes`` — on ``Content-Length`` before anything is read, then on the
  bytes received (413 ``PAYLOAD_TOO_LARGE``);
* ``idle_timeout`` — the longest wait for the next bytes;
* ``min_rate`` — once ``idle_timeout`` seconds of waiting have passed, the
  bytes received must keep up with ``min_rate`` per second of time spent
  waiting for the client (time the server spends on the bytes does not
  count: a busy server never blames its client);
* ``deadline`` — the upload's whole length, from its first byte to its last.

Past any of them, or when the client goes away, the upload is abandoned with
a 400 ``VALIDATION_ERROR`` whose ``details.reason`` says which (``idle``,
``rate``, ``deadline``, ``disconnected``). This module knows HTTP and nothing
of what the upload is for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

from litestar import Request
from litestar.exceptions import InternalServerException
from multipart import MultipartError, MultipartSegment, PushMultipartParser  # type: ignore[import-untyped]

from pgcube import errors

MAX_TEXT_FIELD_BYTES: Final = 1024
MAX_PARTS: Final = 16


@dataclass(frozen=True, kw_only=True)
class UploadLimits:
    max_bytes: int
    idle_timeout: float
    min_rate: int = 0
    """Bytes per second of waiting, after the first ``idle_timeout`` seconds of waiting; 0: none."""
    deadline: float | None = None


@dataclass(frozen=True, kw_only=True)
class FormShape:
    """What the form may hold: these text fields (each at most once), then the file."""

    text_fields: tuple[str, ...]
    file_field: str

    def usage(self) -> str:
        return f"the fields {', '.join(self.text_fields)} and then {self.file_field}"


@dataclass(frozen=True)
class Form:
    """The text fields, and the file's bytes still to come."""

    fields: dict[str, str]
    filename: str | None
    file: AsyncIterator[bytes]
    content_type: str | None = None
    """The file part's own ``Content-Type``, if it has one."""


async def read_form(request: Request[Any, Any, Any], shape: FormShape, limits: UploadLimits) -> Form:
    """Read the form up to the start of the file; the file's bytes follow in ``Form.file``."""
    boundary = _boundary(request, shape)
    if request.content_length is not None and request.content_length > limits.max_bytes:
        raise _too_large(limits)
    events = _events(body(request, limits, field=shape.file_field), boundary, shape)
    fields: dict[str, str] = {}
    name = ""
    value = bytearray()
    async for event in events:
        if isinstance(event, MultipartSegment):
            name = event.name or ""
            if name == shape.file_field:
                return Form(fields, event.filename, _file(events, shape), event.header("Content-Type", None))
            if name not in shape.text_fields:
                raise errors.ValidationError(
                    f"Unknown form field {name!r}: send {shape.usage()}", details={"field": name}
                )
            if name in fields:
                raise errors.ValidationError(f"The field {name!r} is sent twice", details={"field": name})
            value = bytearray()
        elif event is None:  # the end of a text field
            try:
                fields[name] = value.decode().strip()
            except UnicodeDecodeError:
                raise errors.ValidationError(f"{name} is not valid UTF-8", details={"field": name}) from None
        else:
            value += event
            if len(value) > MAX_TEXT_FIELD_BYTES:
                raise errors.ValidationError(
                    f"{name} is longer than {MAX_TEXT_FIELD_BYTES} bytes", details={"field": name}
                )
    raise errors.missing_field(shape.file_field)


async def body(request: Request[Any, Any, Any], limits: UploadLimits, *, field: str) -> AsyncIterator[bytes]:
    """The request body under ``limits``, chunk by chunk."""
    stream = request.stream()
    clock = _Clock(limits)
    while True:
        timeout, reason = clock.patience()
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                chunk = await anext(stream, b"")
        except TimeoutError:
            raise _too_slow(reason, limits, field) from None
        except InternalServerException:  # Litestar's word for a client that went away mid-body
            raise errors.ValidationError(
                "The upload ended before the request did (the client disconnected); nothing was kept",
                details={"field": field, "reason": "disconnected"},
            ) from None
        finally:
            clock.waited += time.monotonic() - started
        if not chunk:
            return
        clock.received += len(chunk)
        if clock.received > limits.max_bytes:
            raise _too_large(limits)
        yield chunk


class _Clock:
    """An upload's time limits: how long the next wait for bytes may last, and which limit ends it."""

    def __init__(self, limits: UploadLimits) -> None:
        self.limits = limits
        self.started = time.monotonic()
        self.waited = 0.0
        """Seconds spent waiting for the client so far."""
        self.received = 0

    def patience(self) -> tuple[float, str]:
        limits = self.limits
        budgets = [(limits.idle_timeout, "idle")]
        if limits.min_rate > 0:
            # Waiting may go on until the bytes received no longer cover the minimum rate.
            covered = limits.idle_timeout + self.received / limits.min_rate
            budgets.append((covered - self.waited, "rate"))
        if limits.deadline is not None:
            budgets.append((self.started + limits.deadline - time.monotonic(), "deadline"))
        timeout, reason = min(budgets)
        return max(timeout, 0.0), reason


def _too_slow(reason: str, limits: UploadLimits, field: str) -> errors.ValidationError:
    if reason == "idle":
        message, limit = f"The upload stalled for {limits.idle_timeout:g} s", limits.idle_timeout
    elif reason == "rate":
        message, limit = f"The upload is slower than {limits.min_rate} bytes per second", limits.min_rate
    else:
        message, limit = f"The upload took longer than {limits.deadline:g} s", limits.deadline or 0
    return errors.ValidationError(
        f"{message}; it was abandoned and nothing was kept",
        details={"field": field, "reason": reason, "limit": limit},
    )


async def _file(events: AsyncIterator[Any], shape: FormShape) -> AsyncIterator[bytes]:
    """The file's bytes; then the rest of the form, which must hold nothing more."""
    async for event in events:
        if event is None:
            break
        yield bytes(event)
    async for event in events:
        if isinstance(event, MultipartSegment):
            raise errors.ValidationError(
                f"The form field {event.name!r} comes after {shape.file_field}: send the text fields "
                f"({', '.join(shape.text_fields)}) before the file",
                details={"field": event.name},
            )


async def _events(body: AsyncIterator[bytes], boundary: str, shape: FormShape) -> AsyncIterator[Any]:
    """Multipart events: a part's ``MultipartSegment``, its bytes, ``None`` at its end."""
    parser = PushMultipartParser(boundary, max_segment_count=MAX_PARTS)
    try:
        async for chunk in body:
            for event in parser.parse(chunk):
                yield event
        parser.close()
    except MultipartError as exc:
        raise errors.ValidationError(
            f"The multipart/form-data body is not valid or is incomplete: {exc}",
            details={"field": shape.file_field},
        ) from None


def _boundary(request: Request[Any, Any, Any], shape: FormShape) -> str:
    media_type, options = request.content_type
    boundary = options.get("boundary")
    if media_type != "multipart/form-data" or not boundary:
        raise errors.ValidationError(
            f"Send multipart/form-data with {shape.usage()}", details={"field": shape.file_field}
        )
    return boundary


def _too_large(limits: UploadLimits) -> errors.PayloadTooLarge:
    return errors.PayloadTooLarge(
        f"The upload is larger than {limits.max_bytes} bytes", details={"limit": limits.max_bytes}
    )

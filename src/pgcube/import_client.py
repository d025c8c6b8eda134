"""``pgcube import FILE``: the bulk import from the command line, through the HTTP API.

The file is streamed (never read whole into memory) as ``multipart/form-data``
to ``POST /api/import_data`` with an API key (``--api-key`` or
``PGCUBE_API_KEY``). On a terminal a progress line shows the bytes sent and
the documents in them — counted with the server's own reader
(``pgcube.data.imports.reader``), so the count is the one the server sees.
The answer is printed as JSON; an error prints the envelope's message and
exits non-zero.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any, TextIO, cast

import httpx

from pgcube.data.imports.reader import DocumentReader
from pgcube.errors import PgcubeError

API_KEY_VARIABLE = "PGCUBE_API_KEY"
CHUNK = 256 * 1024
_COUNT_LIMIT = 64 * 1024 * 1024
"""Largest document the progress counter will wait for; past it, it stops counting."""


class ImportFailed(Exception):
    """The import did not happen; ``str()`` says why, for the terminal."""


class Progress:
    """A one-line progress display (bytes and documents), redrawn at most 10 times a second."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total = total
        self.out = out
        self.sent = 0
        self.documents: int | None = 0
        self._counter: DocumentReader | None = DocumentReader(max_record_bytes=_COUNT_LIMIT)
        self._drawn = 0.0
        self._started = time.monotonic()

    def update(self, chunk: bytes) -> None:
        self.sent += len(chunk)
        self._count(chunk)
        now = time.monotonic()
        if now - self._drawn >= 0.1:
            self._drawn = now
            self.draw()

    def finish(self) -> None:
        if self._counter is not None:
            with contextlib.suppress(PgcubeError):  # the server will say what is wrong, and where
                self.documents = (self.documents or 0) + sum(1 for _ in self._counter.finish())
        self.draw()
        self.out.write("\n")
        self.out.flush()

    def draw(self) -> None:
        share = self.sent / self.total if self.total else 1.0
        width = 30
        bar = "#" * int(share * width)
        rate = self.sent / max(time.monotonic() - self._started, 1e-6)
        documents = "?" if self.documents is None else f"{self.documents:,}"
        self.out.write(
            f"\r[{bar:<{width}}] {share:>4.0%}  {_size(self.sent)} / {_size(self.total)}  "
            f"{documents} documents  {_size(rate)}/s  "
        )
        self.out.flush()

    def _count(self, chunk: bytes) -> None:
        if self._counter is None:
            return
        try:
            self.documents = (self.documents or 0) + sum(1 for _ in self._counter.feed(chunk))
        except PgcubeError:
            self._counter = None  # a bad document: stop counting, the server reports it


class _Reading:
    """A file object that reports every chunk it hands to httpx (which streams it)."""

    def __init__(self, file: IO[bytes], progress: Progress | None) -> None:
        self._file = file
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(CHUNK if size < 0 else size)
        if chunk and self._progress is not None:
            self._progress.update(chunk)
        return chunk

    # httpx finds the length (for Content-Length) through these.
    def fileno(self) -> int:
        return self._file.fileno()

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)


def run_import(
    path: Path,
    *,
    url: str,
    api_key: str | None,
    database_id: str,
    collection: str | None = None,
    mode: str = "insert",
    progress: bool | None = None,
    err: TextIO = sys.stderr,
) -> dict[str, Any]:
    """Upload ``path``; the server's answer. Raises ``ImportFailed`` with a message for the terminal."""
    api_key = api_key or os.environ.get(API_KEY_VARIABLE)
    if not api_key:
        raise ImportFailed(f"an API key is needed: pass --api-key or set {API_KEY_VARIABLE}")
    try:
        file = path.open("rb")
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror}") from None
    with file:
        total = os.fstat(file.fileno()).st_size
        show = err.isatty() if progress is None else progress
        bar = Progress(total, err) if show else None
        fields = {"database_id": database_id, "mode": mode}
        if collection:
            fields["collection_name"] = collection
        try:
            with httpx.Client(base_url=url, timeout=httpx.Timeout(30, read=None)) as client:
                response = client.post(
                    "/api/import_data",
                    data=fields,
                    files={
                        "json_file": (
                            path.name,
                            cast(IO[bytes], _Reading(file, bar)),
                            "application/octet-stream",
                        )
                    },
                    headers={"Authorization": f"Api-Key {api_key}"},
                )
        except httpx.HTTPError as exc:
            raise ImportFailed(f"cannot reach pgcube at {url}: {exc}") from None
        finally:
            if bar is not None:
                bar.finish()
    return _answer(response)


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ImportFailed(
            f"unexpected answer (HTTP {response.status_code}): {response.text[:200]}"
        ) from None
    if response.is_success and isinstance(body, dict):
        return body
    error = body.get("error", {}) if isinstance(body, dict) else {}
    message = error.get("message") or f"HTTP {response.status_code}"
    details = error.get("details")
    code = error.get("code", "")
    suffix = f" {json.dumps(details)}" if details else ""
    raise ImportFailed(f"{code}: {message}{suffix}" if code else message + suffix)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover — the loop always returns

"""The one ``Content-Disposition`` of a download, for the local route and S3's presigned GET alike.

A file's name comes from its uploader, so it may hold anything: other scripts,
quotes, CR/LF, NUL, slashes, thousands of characters. The header carries it
twice (RFC 6266): ``filename*=UTF-8''…`` (RFC 5987, percent-encoded UTF-8),
which current browsers prefer, and an ASCII ``filename="…"`` for the others.
The value is always ASCII, one line, and parses with any RFC 6266 reader.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_NAME_CHARS = 255
"""Longer names keep their start and their extension (most file systems stop at 255)."""
MAX_EXTENSION_CHARS = 16
FALLBACK_NAME = "download"

# RFC 5987 attr-char beyond what ``quote`` always keeps (letters, digits, ``_.-~``).
_ATTR_CHAR_EXTRA = "!#$&+^`|"
# Bidirectional controls reorder what a name shows ("invoice\u202egpj.exe" shows as "invoiceexe.jpg").
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Not in the ASCII fallback: quoted-string's specials, and ``%``, which some browsers decode there.
_FALLBACK_REPLACED = frozenset('"\\%')


def safe_filename(filename: str) -> str:
    """``filename`` as a download may name it: no control characters, no path, at most 255 characters.

    Control characters (CR, LF, NUL, bidirectional overrides, …) become ``_``; so do ``/`` and ``\\``, so a name
    such as ``../etc/passwd`` names a file, never a place. An empty name becomes ``download``.
    """
    cleaned = "".join(
        "_" if char in "/\\" or char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs") else char
        for char in unicodedata.normalize("NFC", filename)
    ).strip()
    if not cleaned:
        return FALLBACK_NAME
    if len(cleaned) <= MAX_NAME_CHARS:
        return cleaned
    stem, dot, extension = cleaned.rpartition(".")
    if dot and stem and len(extension) < MAX_EXTENSION_CHARS:
        return stem[: MAX_NAME_CHARS - len(extension) - 1] + "." + extension
    return cleaned[:MAX_NAME_CHARS]


def _ascii_fallback(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = "".join(
        "_" if char in _FALLBACK_REPLACED or not " " <= char <= "~" else char
        for char in decomposed
        if not unicodedata.combining(char)
    )
    return ascii_name or FALLBACK_NAME


def content_disposition(filename: str, *, attachment: bool) -> str:
    """The header's value: ``attachment`` (save) or ``inline`` (show), naming ``safe_filename(filename)``."""
    name = safe_filename(filename)
    kind = "attachment" if attachment else "inline"
    encoded = quote(name, safe=_ATTR_CHAR_EXTRA, encoding="utf-8")
    return f"{kind}; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"

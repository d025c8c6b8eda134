"""The ``Content-Disposition`` of a download: any file name, always a safe header."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote


def content_disposition(filename: str, *, attachment: bool) -> str:
    """``inline`` or ``attachment``, with an ASCII fallback name and the exact name in
    ``filename*`` (RFC 6266, RFC 5987); no control character, quote or backslash reaches the
    header."""
    kind = "attachment" if attachment else "inline"
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = "".join(char if char.isprintable() and char not in '"\\;' else "_" for char in ascii_name)
    fallback = fallback.strip() or "download"
    encoded = quote(filename, safe="")
    return f"{kind}; filename=\"{fallback[:150]}\"; filename*=UTF-8''{encoded}"

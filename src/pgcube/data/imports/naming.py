"""A collection's name from an uploaded file's name (SPEC §8: "the file name without extension, sanitised")."""

from __future__ import annotations

import re

from pgcube.errors import ValidationError
from pgcube.management.naming import check_collection_name
from pgcube.query.sql import MAX_IDENTIFIER_BYTES

EXTENSIONS = (".json", ".ndjson", ".jsonl", ".gz")
_NOT_ALLOWED = re.compile(r"[^a-z0-9_]")


def collection_name_from_filename(filename: str) -> str:
    """``Events 2024.ndjson.gz`` → ``events_2024``; else ``ValidationError`` (400).

    The last path component (a browser may send ``C:\\\\dir\\\\x.json``), without
    its extensions (``.json``, ``.ndjson``, ``.jsonl``, ``.gz``, in any
    combination), lower-cased, every other character than ``a-z0-9_`` made
    ``_``, cut to 63 characters, and then through the same gate as any other
    collection name — so a name that starts with a digit is refused: send
    ``collection_name``.
    """
    base = re.split(r"[/\\]", filename)[-1]
    stem = base
    while stem.lower().endswith(EXTENSIONS):
        stem = stem[: stem.rindex(".")]
    name = _NOT_ALLOWED.sub("_", stem.lower())[:MAX_IDENTIFIER_BYTES]
    try:
        return check_collection_name(name, field="collection_name")
    except ValidationError as exc:
        raise ValidationError(
            f"The file name {base!r} does not make a valid collection name ({exc.message}); "
            "send collection_name",
            details={"field": "collection_name", "value": name},
        ) from None

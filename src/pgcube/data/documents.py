"""Documents on their way in: system fields, ``_key``, limits, declared fields (SPEC §1, §6).

Pure: no I/O. Every write path (insert, upsert's insert, import) prepares its
documents here, so the rules live in one place:

* a document is a JSON object of at most ``max_document_bytes`` encoded;
* ``_key`` is the client's (``^[A-Za-z0-9_-]{1,64}$``) or a new uuid4 hex;
* ``_created_at`` and ``_modified_at`` sent by a client are ignored: the
  server maintains them. So is ``_userkey`` — PostgreSQL stamps the signed-in
  end user (SPEC §11.4) — except from a server credential, which may name the
  end user a document belongs to (``keep_userkey``);
* the declared fields of the collection are checked (``validator``), and the
  first bad document fails the whole batch with its index;
* a ``_key`` given twice in one batch fails it with both indexes (409).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from pgcube.errors import BatchLimitExceeded, DuplicateKey, ValidationError
from pgcube.query.fields import SYSTEM_FIELDS

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SERVER_MAINTAINED = frozenset(SYSTEM_FIELDS)

_encode = msgspec.json.encode


class Validator(Protocol):
    @property
    def is_trivial(self) -> bool: ...

    def validate(self, doc: Any, index: int = 0) -> None: ...


class Prepared(msgspec.Struct, frozen=True):
    """One document ready for the table: its ``_key`` and its ``data`` (JSON bytes, no system
    fields); ``user_key``: the ``_userkey`` a server credential gave it."""

    key: str
    data: bytes
    user_key: str | None = None


def new_key() -> str:
    return uuid.uuid4().hex


def check_key(value: Any, index: int) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        raise ValidationError(
            f"_key of document {index} must be 1-64 letters, digits, '_' or '-'",
            details={"index": index, "field": "_key"},
        )
    return value


def check_batch(documents: Sequence[Any], max_batch: int) -> None:
    if not documents:
        raise ValidationError("data must hold at least one document", details={"field": "data"})
    if len(documents) > max_batch:
        raise BatchLimitExceeded(
            f"At most {max_batch} documents per request, got {len(documents)}",
            details={"limit": max_batch, "count": len(documents)},
        )


def check_user_key(value: Any, index: int) -> str | None:
    if value is not None and (not isinstance(value, str) or not KEY_PATTERN.match(value)):
        raise ValidationError(
            f"_userkey of document {index} must be null or 1-64 letters, digits, '_' or '-'",
            details={"index": index, "field": "_userkey"},
        )
    return value


def prepare_one(
    doc: Any, index: int, validator: Validator, max_document_bytes: int, *, keep_userkey: bool = False
) -> Prepared:
    if type(doc) is not dict:
        raise ValidationError(f"Document {index} is not a JSON object", details={"index": index})
    key = check_key(doc["_key"], index) if "_key" in doc else new_key()
    user_key = check_user_key(doc.get("_userkey"), index) if keep_userkey else None
    data = {name: value for name, value in doc.items() if name not in _SERVER_MAINTAINED}
    if not validator.is_trivial:
        validator.validate(data, index)
    encoded = _encode(data)
    if len(encoded) > max_document_bytes:
        raise ValidationError(
            f"Document {index} is larger than {max_document_bytes} bytes encoded",
            details={"index": index, "limit": max_document_bytes, "size": len(encoded)},
        )
    return Prepared(key, encoded, user_key)


def prepare_documents(
    documents: Sequence[Any],
    validator: Validator,
    *,
    max_batch: int,
    max_document_bytes: int,
    keep_userkey: bool = False,
) -> list[Prepared]:
    """Every document of one request, or the error of the first bad one (nothing is written)."""
    check_batch(documents, max_batch)
    prepared = [
        prepare_one(doc, index, validator, max_document_bytes, keep_userkey=keep_userkey)
        for index, doc in enumerate(documents)
    ]
    check_unique_keys(prepared)
    return prepared


def check_unique_keys(prepared: Sequence[Prepared]) -> None:
    """One ``_key`` twice in a batch is a 409 naming both documents, before PostgreSQL is asked."""
    seen: dict[str, int] = {}
    for index, document in enumerate(prepared):
        first = seen.setdefault(document.key, index)
        if first != index:
            raise DuplicateKey(
                f"Documents {first} and {index} of the batch have the same _key {document.key!r}",
                details={"index": index, "first_index": first, "_key": document.key},
            )


def raw_documents(documents: Sequence[bytes]) -> list[msgspec.Raw]:
    """Documents PostgreSQL built, as JSON bytes to splice into an answer (never decoded)."""
    return [msgspec.Raw(document) for document in documents]

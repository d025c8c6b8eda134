"""The rows of the "collection" forms: a name, access rules and declared fields, without JSON.

The create-database and add-collection forms name their inputs ``c<i>-name``, ``c<i>-read``,
``c<i>-write``, ``c<i>-strict`` and ``c<i>-f<j>-name|type|index|unique|required`` (``i`` counts
collections, ``j`` their fields; ``databases.js`` adds rows by the same scheme). They are read
back into rows — to build the API's ``collections`` and to show the form again as it was sent —
and the API checks what they say: names, types and index flags are its rules, not the page's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

FIELD_TYPES = ("string", "number", "integer", "boolean", "date", "datetime", "object", "array", "any")
"""The field types of the API (docs/data-api.md); the first six are scalar: indexed by default."""
SCALAR_TYPES = FIELD_TYPES[:6]
ACCESS_RULES = ("none", "users", "owner", "all")
"""A collection's web-key rules (docs/end-users.md); ``none`` — server keys only — is the default."""
BLANK_FIELD_ROWS = 3

_INPUT = re.compile(r"^c(\d{1,3})-(?:f(\d{1,3})-)?(name|type|read|write|strict|index|unique|required)$")
_FLAGS = frozenset({"strict", "index", "unique", "required"})


@dataclass
class FieldRow:
    name: str = ""
    type: str = "string"
    index: bool = True
    """Checked: the API's default (scalar types get a typed B-tree); unchecked: ``"index": false``."""
    unique: bool = False
    required: bool = False

    def body(self) -> dict[str, Any]:
        declared: dict[str, Any] = {"name": self.name.strip(), "type": self.type}
        if not self.index:
            declared["index"] = False
        if self.unique:
            declared["unique"] = True
        if self.required:
            declared["required"] = True
        return declared


def _blank_rows() -> list[FieldRow]:
    return [FieldRow() for _ in range(BLANK_FIELD_ROWS)]


@dataclass
class CollectionRows:
    name: str = ""
    read: str = "none"
    write: str = "none"
    strict: bool = False
    fields: list[FieldRow] = field(default_factory=_blank_rows)

    @property
    def blank(self) -> bool:
        """Nothing typed: the create form's optional collection was left empty."""
        return not self.name.strip() and not any(row.name.strip() for row in self.fields)

    def body(self) -> dict[str, Any]:
        """One entry of the API's ``collections``; a field row without a name is an unused row."""
        collection: dict[str, Any] = {
            "name": self.name.strip(),
            "fields": [row.body() for row in self.fields if row.name.strip()],
            "access": {"read": self.read, "write": self.write},
        }
        if self.strict:
            collection["strict"] = True
        return collection


def collections_of(form: dict[str, str]) -> list[CollectionRows]:
    """The collections a form describes, in their order (a checkbox left unchecked is not sent)."""
    collections: dict[int, CollectionRows] = {}
    rows: dict[int, dict[int, FieldRow]] = {}
    for key, value in form.items():
        found = _INPUT.match(key)
        if found is None:
            continue
        number, row_number, attribute = int(found[1]), found[2], found[3]
        collection = collections.setdefault(number, CollectionRows(fields=[]))
        target: CollectionRows | FieldRow = collection
        if row_number is not None:
            target = rows.setdefault(number, {}).setdefault(int(row_number), FieldRow(index=False))
        if not hasattr(target, attribute):
            continue  # a field's input on a collection, or the reverse: not one of this form's
        setattr(target, attribute, value == "on" if attribute in _FLAGS else value)
    for number, collection in collections.items():
        collection.fields = [row for _, row in sorted(rows.get(number, {}).items())] or _blank_rows()
    return [collection for _, collection in sorted(collections.items())]

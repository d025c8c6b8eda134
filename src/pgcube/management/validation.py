"""Declared-field validation (SPEC §5): one compiled, cached validator per collection definition.

The write paths (insert, update, upsert, import) call it before any SQL runs::

    validator = validator_for(collection)
    validator.validate(doc, index)            # a document already decoded (dict)
    validator.validate_many(docs)             # a batch; the first bad one raises
    validator.validate_json(raw, index)       # JSON bytes (e.g. RETURNING data)

A mismatch raises ``pgcube.errors.ValidationError`` (400 ``VALIDATION_ERROR``)
whose ``details`` name the ``field`` and the document's ``index``.

Nothing is decoded twice: ``validate`` works on the objects the request
decoder already built and looks only at the declared keys (plus the key set
when the collection is strict); ``validate_json`` lets msgspec pick out only
the declared keys from the bytes, skipping everything else in C.

The rules:

* a field that is absent or ``null`` passes unless it is ``required``; a
  dotted name (``address.city``) is a key of a nested object, and is absent
  when a key on its way is missing or not an object;
* ``number``: an int or a float (never a boolean); ``integer``: an int, or a
  float with no fractional part (``1.0``, since ``1 == 1.0`` in JSON);
* ``date``: an ISO 8601 date (``2024-01-15``) or date-time; ``datetime``: a
  date-time (``2024-01-15T10:30:00.000Z``; without an offset it means UTC).
  Dates must exist (no 30 February);
* ``strict``: a key that is not declared is refused, at any depth: a
  top-level key must be a declared field, the first key of a declared dotted
  name, or a system field; inside an object that only leads to declared
  dotted names (``address`` for ``address.city``), a key must lead to one of
  them too. The value of a declared field itself is not looked into.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import msgspec

from pgcube.errors import ValidationError
from pgcube.management.models import Collection, FieldSpec, FieldType
from pgcube.query.fields import SYSTEM_NAMES

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:[Zz]|[+-](\d{2})(?::?(\d{2}))?)?)?",
    re.ASCII,
)
"""The language of ``pgcube.query.fields.ISO_PATTERN`` (what the typed index reads), with groups."""
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _valid_date(year: int, month: int, day: int) -> bool:
    if year < 1 or not 1 <= month <= 12 or day < 1:
        return False
    if month == 2 and day == 29:
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return day <= _DAYS[month - 1]


def _iso(value: str, *, time_required: bool) -> bool:
    match = _ISO.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second, off_h, off_m = match.groups()
    if hour is None:
        return not time_required and _valid_date(int(year), int(month), int(day))
    return (
        _valid_date(int(year), int(month), int(day))
        and int(hour) <= 23
        and int(minute) <= 59
        and (second is None or int(second) <= 59)
        and (off_h is None or int(off_h) <= 23)
        and (off_m is None or int(off_m) <= 59)
    )


def is_iso_date(value: str) -> bool:
    """An ISO 8601 date (``2024-01-15``) or date-time: what a ``date`` field takes."""
    return _iso(value, time_required=False)


def is_iso_datetime(value: str) -> bool:
    """``YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|±HH[:MM]]``, every part in range: a ``datetime`` field."""
    return _iso(value, time_required=True)


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def _is_integer(value: Any) -> bool:
    return type(value) is int or (type(value) is float and value.is_integer())


_CHECKS: Final[dict[FieldType, Callable[[Any], bool]]] = {
    FieldType.STRING: lambda value: type(value) is str,
    FieldType.NUMBER: _is_number,
    FieldType.INTEGER: _is_integer,
    FieldType.BOOLEAN: lambda value: type(value) is bool,
    FieldType.DATE: lambda value: type(value) is str and is_iso_date(value),
    FieldType.DATETIME: lambda value: type(value) is str and is_iso_datetime(value),
    FieldType.OBJECT: lambda value: type(value) is dict,
    FieldType.ARRAY: lambda value: type(value) is list,
    FieldType.ANY: lambda value: True,
}

_EXPECTED: Final[dict[FieldType, str]] = {
    FieldType.STRING: "a string",
    FieldType.NUMBER: "a number",
    FieldType.INTEGER: "an integer",
    FieldType.BOOLEAN: "a boolean",
    FieldType.DATE: "an ISO 8601 date or date-time string",
    FieldType.DATETIME: "an ISO 8601 date-time string",
    FieldType.OBJECT: "an object",
    FieldType.ARRAY: "an array",
    FieldType.ANY: "any value",
}

_MISSING: Final = object()
_UNKNOWN_FIELD = re.compile(r"unknown field `(?P<field>.*)`")


def json_type_name(value: Any) -> str:
    """The JSON type of a decoded value, for messages."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "boolean"
    if type(value) is int or type(value) is float:
        return "number"
    if type(value) is str:
        return "string"
    if type(value) is list:
        return "array"
    return "object"


class _Check(msgspec.Struct, frozen=True):
    name: str
    path: tuple[str, ...]
    check: Callable[[Any], bool]
    required: bool
    type: FieldType


Shape = dict[str, "Shape | None"]
"""The keys a strict collection allows: each leads to a declared field's value (None: anything goes
under it) or to an object of keys leading further to declared dotted names."""


def _shape(names: Iterable[str]) -> Shape:
    shape: Shape = {}
    for name in names:
        *parents, leaf = name.split(".")
        node: Shape | None = shape
        for key in parents:
            if node is None:
                break
            node = node.setdefault(key, {})
        if node is not None:
            node[leaf] = None  # a declared field: its value is not looked into
    return shape


def _undeclared_under(value: Any, shape: Shape, prefix: str) -> str | None:
    """The dotted name of the first key of ``value`` that leads to no declared field."""
    if type(value) is not dict:
        return None  # not an object: the dotted names below it are absent, nothing is stored there
    key: str
    for key, inner in value.items():
        if key not in shape:
            return prefix + key
        below = shape[key]
        if below is not None:
            found = _undeclared_under(inner, below, f"{prefix}{key}.")
            if found is not None:
                return found
    return None


class DocumentValidator:
    """The declared fields of one collection definition, compiled. Build it with :func:`compile_validator`."""

    __slots__ = ("_allowed", "_checks", "_decoder", "_roots", "_shape", "fields", "strict")

    def __init__(self, fields: tuple[FieldSpec, ...], strict: bool) -> None:
        self.fields = fields
        self.strict = strict
        self._checks = tuple(
            _Check(spec.name, tuple(spec.name.split(".")), _CHECKS[spec.type], spec.required, spec.type)
            for spec in fields
        )
        # The top-level keys the declared fields live under, in order of first appearance.
        self._roots = tuple(dict.fromkeys(check.path[0] for check in self._checks))
        self._allowed = frozenset(self._roots) | SYSTEM_NAMES
        self._shape = _shape(spec.name for spec in fields)
        self._decoder = msgspec.json.Decoder(_extraction_struct(self._roots, strict))

    @property
    def is_trivial(self) -> bool:
        """True when every JSON object passes: callers may skip the call."""
        return not self.fields and not self.strict

    def validate(self, doc: Any, index: int = 0) -> None:
        """Check one decoded document; raise ``ValidationError`` naming the field and ``index``."""
        if type(doc) is not dict:
            raise ValidationError(
                f"Document {index} is not a JSON object",
                details={"index": index, "got": json_type_name(doc)},
            )
        self._check_values(doc, index)
        if self.strict:
            for key in doc:
                if key not in self._allowed:
                    raise self._undeclared(key, index)
            self._check_nested(doc, index)

    def validate_many(self, docs: Iterable[Any], start: int = 0) -> None:
        """Check a batch in order; the first bad document raises with its index."""
        for index, doc in enumerate(docs, start):
            self.validate(doc, index)

    def validate_json(self, raw: bytes | str, index: int = 0) -> None:
        """Check one JSON document given as text, decoding only the keys declared fields live under."""
        try:
            extracted = self._decoder.decode(raw)
        except msgspec.ValidationError as exc:
            unknown = _UNKNOWN_FIELD.search(str(exc))
            if unknown is not None:
                raise self._undeclared(unknown.group("field"), index) from None
            # Not an object: decoding it all costs nothing on this error path, and names its type.
            got = json_type_name(msgspec.json.decode(raw))
            raise ValidationError(
                f"Document {index} is not a JSON object", details={"index": index, "got": got}
            ) from None
        except msgspec.DecodeError:
            raise ValidationError(f"Document {index} is not valid JSON", details={"index": index}) from None
        values = {root: getattr(extracted, f"f{i}") for i, root in enumerate(self._roots)}
        self._check_values(values, index)
        if self.strict:
            self._check_nested({k: v for k, v in values.items() if v is not _MISSING}, index)

    def undeclared_path(self, path: tuple[str, ...]) -> str | None:
        """For a strict collection, the dotted name of the first key of ``path`` (a field an update
        writes) that leads to no declared field; None when it does, or the collection is not strict."""
        if not self.strict:
            return None
        shape: Shape | None = self._shape
        for depth, key in enumerate(path):
            if shape is None:
                return None
            if key not in shape:
                return None if depth == 0 and key in SYSTEM_NAMES else ".".join(path[: depth + 1])
            shape = shape[key]
        return None

    def _check_nested(self, doc: dict[str, Any], index: int) -> None:
        found = _undeclared_under({k: v for k, v in doc.items() if k in self._shape}, self._shape, "")
        if found is not None:
            raise self._undeclared(found, index)

    def _check_values(self, doc: Mapping[str, Any], index: int) -> None:
        for check in self._checks:
            value: Any = doc
            for key in check.path:
                value = value.get(key, _MISSING) if type(value) is dict else _MISSING
                if value is _MISSING:
                    break
            if value is _MISSING or value is None:
                if check.required:
                    raise ValidationError(
                        f"Missing required field: {check.name} (document {index})",
                        details={"index": index, "field": check.name, "required": True},
                    )
                continue
            if not check.check(value):
                raise ValidationError(
                    f"Field {check.name!r} of document {index} must be {_EXPECTED[check.type]}, "
                    f"got {json_type_name(value)}",
                    details={
                        "index": index,
                        "field": check.name,
                        "expected": check.type.value,
                        "got": json_type_name(value),
                    },
                )

    @staticmethod
    def _undeclared(key: str, index: int) -> ValidationError:
        return ValidationError(
            f"Field {key!r} of document {index} is not declared, and the collection is strict",
            details={"index": index, "field": key, "strict": True},
        )


def _extraction_struct(roots: tuple[str, ...], strict: bool) -> type[msgspec.Struct]:
    """A Struct that picks the given top-level keys out of a JSON object (``f0``, ``f1``… renamed).

    Other keys are skipped by msgspec without being built, unless the
    collection is strict: then they are an error (system fields excepted).
    """
    declared: list[tuple[str, Any, Any]] = [(f"f{i}", Any, _MISSING) for i in range(len(roots))]
    rename = {f"f{i}": root for i, root in enumerate(roots)}
    if strict:
        for j, name in enumerate(sorted(SYSTEM_NAMES - set(roots))):
            declared.append((f"s{j}", Any, None))
            rename[f"s{j}"] = name
    return msgspec.defstruct("DeclaredFields", declared, rename=rename, forbid_unknown_fields=strict)


@functools.lru_cache(maxsize=4096)
def compile_validator(fields: tuple[FieldSpec, ...], strict: bool) -> DocumentValidator:
    """The validator of one definition, built once and then served from the cache."""
    return DocumentValidator(fields, strict)


def validator_for(collection: Collection) -> DocumentValidator:
    """The cached validator of ``collection`` (keyed by its fields and ``strict``, not by its name)."""
    return compile_validator(collection.fields, collection.strict)

"""The DDO request body (SPEC §7): one object whose ``op`` names the operation.

``op`` (or ``action``, for older Singlebase clients) may be any alias; the
body is normalised into one Struct per operation. For ``collection.*`` ops
the criteria are ``match`` and ``filter`` is a projection; for ``db.*`` ops the
criteria may also come as ``filter``, ``filters`` or ``matches``, and the
projection as ``return_fields``.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

import msgspec

from pgcube.errors import UnknownOp, ValidationError


class Op(enum.StrEnum):
    FIND = "collection.find"
    INSERT = "collection.insert"
    UPDATE = "collection.update"
    UPSERT = "collection.upsert"
    DELETE = "collection.delete"
    ARCHIVE = "collection.archive"
    RESTORE = "collection.restore"
    COUNT = "collection.count"


OP_ALIASES: dict[str, Op] = {op.value: op for op in Op} | {
    "db.find": Op.FIND,
    "db.fetch": Op.FIND,
    "db.insert": Op.INSERT,
    "db.update": Op.UPDATE,
    "db.upsert": Op.UPSERT,
    "db.delete": Op.DELETE,
    "db.archive": Op.ARCHIVE,
    "db.restore": Op.RESTORE,
    "db.count": Op.COUNT,
}

Criteria = dict[str, Any]
Projection = dict[str, Any] | list[str]
Sort = str | list[str] | dict[str, Any]


class DdoBody(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Every key any DDO operation reads (the OpenAPI shape of the body).

    Unknown keys are refused, and so are known keys the named operation does
    not read (``parse_ddo``): a misspelled ``where`` or a ``filter`` sent to a
    delete must not turn into "match every document".
    """

    op: str | None = None
    action: str | None = None
    collection: str | None = None
    match: Criteria | None = None
    filter: Criteria | list[str] | None = None
    filters: Criteria | None = None
    matches: Criteria | None = None
    return_fields: Projection | None = None
    sort: Sort | None = None
    limit: int | None = None
    offset: int | None = None
    page: int | None = None
    per_page: int | None = None
    cursor: str | None = None
    count: Literal["exact", "none"] | bool | None = None
    data: Any = None
    update: Any = None
    insert: dict[str, Any] | None = None
    ref: str | None = msgspec.field(default=None, name="_ref")


class Find(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    match: Criteria
    match_pointer: str
    sort: Sort | None
    projection: Projection | None
    limit: int | None
    offset: int | None
    page: int | None
    per_page: int | None
    cursor: str | None
    with_total: bool


class Insert(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    documents: list[Any]
    single: bool


class Update(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    match: Criteria
    match_pointer: str
    mutation: dict[str, Any]


class Upsert(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    match: Criteria
    match_pointer: str
    update: dict[str, Any]
    insert: dict[str, Any]


class Remove(msgspec.Struct, frozen=True, kw_only=True):
    """``collection.delete`` and ``collection.archive``."""

    collection: str
    match: Criteria
    match_pointer: str
    kind: Literal["deleted", "archived"]


class Restore(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    ref: str


class Count(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    match: Criteria
    match_pointer: str


DdoRequest = Find | Insert | Update | Upsert | Remove | Restore | Count


_COMMON = {"op", "action", "collection"}
_FIND_KEYS = {
    "match",
    "filter",
    "return_fields",
    "sort",
    "limit",
    "offset",
    "page",
    "per_page",
    "cursor",
    "count",
}
_OP_KEYS: dict[Op, set[str]] = {
    Op.FIND: _FIND_KEYS,
    Op.INSERT: {"data"},
    Op.UPDATE: {"match", "data"},
    Op.UPSERT: {"match", "update", "insert"},
    Op.DELETE: {"match"},
    Op.ARCHIVE: {"match"},
    Op.RESTORE: {"ref"},
    Op.COUNT: {"match"},
}
_CRITERIA_ALIASES = {"filter", "filters", "matches"}
_WIRE_NAMES = {"ref": "_ref"}


def _check_keys(body: DdoBody, op: Op, name: str, db_family: bool) -> None:
    """Refuse keys this operation would not read."""
    allowed = _COMMON | _OP_KEYS[op]
    if db_family and "match" in allowed:
        allowed = allowed | _CRITERIA_ALIASES
    for field in body.__struct_fields__:
        if field not in allowed and getattr(body, field) is not None:
            wire = _WIRE_NAMES.get(field, field)
            hint = (
                " (collection.* operations take their criteria in match)"
                if field in _CRITERIA_ALIASES
                else ""
            )
            raise ValidationError(f"{name} does not take {wire}{hint}", details={"field": wire})


def resolve_op(body: DdoBody) -> tuple[Op, bool]:
    """The operation, and whether it was named in the ``db.*`` family."""
    name = body.op if body.op is not None else body.action
    if name is None:
        raise ValidationError("Missing required field: op", details={"field": "op"})
    op = OP_ALIASES.get(name)
    if op is None:
        raise UnknownOp(f"Unknown operation: {name}", details={"op": name, "known": sorted(OP_ALIASES)})
    return op, name.startswith("db.")


def _collection(body: DdoBody) -> str:
    if not body.collection:
        raise ValidationError("Missing required field: collection", details={"field": "collection"})
    return body.collection


def _criteria(body: DdoBody, db_family: bool) -> tuple[Criteria, str]:
    """The match criteria and the JSON pointer of where they came from."""
    candidates: list[tuple[str, Any]] = [("match", body.match)]
    if db_family:
        candidates += [("filter", body.filter), ("filters", body.filters), ("matches", body.matches)]
    sent = [(name, value) for name, value in candidates if value is not None]
    if len(sent) > 1:
        names = ", ".join(name for name, _ in sent)
        raise ValidationError(f"Send the criteria once, not as {names}", details={"field": sent[1][0]})
    if not sent:
        return {}, "/match"
    name, value = sent[0]
    if not isinstance(value, dict):
        raise ValidationError(f"{name} must be an object", details={"field": name})
    return value, "/" + name


def _projection(body: DdoBody, db_family: bool) -> Projection | None:
    if db_family:
        return body.return_fields
    if body.return_fields is not None and body.filter is not None:
        raise ValidationError(
            "Send the projection once: filter or return_fields", details={"field": "filter"}
        )
    return body.filter if body.filter is not None else body.return_fields


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"{field} must be an object", details={"field": field})
    return value


def parse_ddo(body: DdoBody) -> DdoRequest:
    op, db_family = resolve_op(body)
    _check_keys(body, op, str(body.op or body.action), db_family)
    collection = _collection(body)
    if op is Op.RESTORE:
        if not body.ref:
            raise ValidationError("Missing required field: _ref", details={"field": "_ref"})
        return Restore(collection=collection, ref=body.ref)
    if op is Op.INSERT:
        if body.data is None:
            raise ValidationError("Missing required field: data", details={"field": "data"})
        single = not isinstance(body.data, list)
        return Insert(collection=collection, documents=[body.data] if single else body.data, single=single)
    match, pointer = _criteria(body, db_family)
    if op is Op.FIND:
        return Find(
            collection=collection,
            match=match,
            match_pointer=pointer,
            sort=body.sort,
            projection=_projection(body, db_family),
            limit=body.limit,
            offset=body.offset,
            page=body.page,
            per_page=body.per_page,
            cursor=body.cursor,
            with_total=body.count not in ("none", False),
        )
    if op is Op.COUNT:
        return Count(collection=collection, match=match, match_pointer=pointer)
    if op is Op.UPDATE:
        return Update(
            collection=collection, match=match, match_pointer=pointer, mutation=_object(body.data, "data")
        )
    if op is Op.UPSERT:
        return Upsert(
            collection=collection,
            match=match,
            match_pointer=pointer,
            update=_object(body.update if body.update is not None else {}, "update"),
            insert=_object(body.insert if body.insert is not None else {}, "insert"),
        )
    kind: Literal["deleted", "archived"] = "deleted" if op is Op.DELETE else "archived"
    return Remove(collection=collection, match=match, match_pointer=pointer, kind=kind)

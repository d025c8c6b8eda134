"""Phase 3: IR → plan nodes, deciding what each condition can use.

* equality with scalars (``$eq``, ``$in``, ``$all``) → one ``data @@ jsonpath``
  per AND/OR group, with only ``==``/``&&``/``||``: GIN ``jsonb_path_ops``;
* ``_key`` → the primary key column;
* ranges on declared scalar fields → their B-tree index expression;
* everything else → residual ``jsonb_path_match(...)`` / EXISTS forms.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from pgcube.query import jsonpath
from pgcube.query.fields import NULLABLE_FIELDS, TEXT_FIELDS, TIMESTAMP_FIELDS, FieldType, iso_instant
from pgcube.query.ir import RANGE_OPS, All, AnyOf, Cond, ElemMatch, Node, Op
from pgcube.query.nodes import (
    FALSE,
    TRUE,
    And,
    Column,
    Const,
    DeepEq,
    Elem,
    Gin,
    Indexed,
    Match,
    Not,
    Or,
    PNode,
    Text,
)
from pgcube.query.pointer import fail
from pgcube.query.validate import is_scalar, parse_timestamp

_encode = msgspec.json.encode
_RANGE_SYMBOLS = {Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}
_LIKE_ESCAPES = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


class Planner:
    """Plans one criteria tree against a collection's declared fields."""

    __slots__ = ("declared", "indexed")

    def __init__(
        self, declared: dict[tuple[str, ...], FieldType], indexed: frozenset[str] = frozenset()
    ) -> None:
        self.declared = declared
        self.indexed = indexed
        """Declared fields a B-tree covers: their equalities are typed (``equal``)."""

    def plan(self, node: Node, top: bool = True, depth: int = 0) -> PNode:
        if isinstance(node, Cond):
            return self.condition(node, top)
        if isinstance(node, ElemMatch):
            body = self.plan(node.body, top=False, depth=depth + 1)
            return Elem(jsonpath.arrays_at(node.path), body, not node.on_value, depth)
        if isinstance(node, All):
            return _and([self.plan(c, top, depth) for c in node.children])
        if isinstance(node, AnyOf):
            return _or([self.plan(c, top, depth) for c in node.children])
        return _not(_or([self.plan(c, top, depth) for c in node.children]))

    # --- one condition ---------------------------------------------------------------------
    def condition(self, cond: Cond, top: bool) -> PNode:
        if top and cond.path[0].startswith("_") and len(cond.path) == 1:
            column = cond.path[0]
            if column in TEXT_FIELDS:
                return _text_column(column, cond)
            if column in TIMESTAMP_FIELDS:
                return _timestamp_column(column, cond)
        op, path, value = cond.op, cond.path, cond.value
        if op is Op.EQ:
            return self.equal(path, value, top)
        if op is Op.NE:
            return _not(equal(path, value, top))
        if op is Op.IN:
            return one_of(path, value, top)
        if op is Op.NIN:
            return _not(one_of(path, value, top))
        if op is Op.ALL:
            return _and([equal(path, v, top) for v in value]) if value else FALSE
        if op in RANGE_OPS:
            return self.range(cond, top)
        if op is Op.EXISTS:
            if not path:
                return Const(bool(value))
            found = Match(f"exists({jsonpath.path(path)})")
            return found if value else _not(found)
        if op is Op.SIZE:
            return Match(jsonpath.mode(path, jsonpath.size_is(path, "$n")), _encode({"n": value}))
        return Text(jsonpath.elements(path), *text_test(op, value))

    def equal(self, path: tuple[str, ...], value: Any, top: bool) -> PNode:
        """An equality; on a top-level declared string, number, integer or boolean field that a
        B-tree covers, as the field's typed expression (that B-tree serves it, and PostgreSQL
        estimates it from the index's statistics; a field without one keeps GIN).

        The same documents match: writes keep a declared field's value of its type or null, and
        a value of that type is JSON-equal to another exactly when their typed values are equal.
        A value of another type keeps the JSON test. Date fields keep it too (their typed value
        is an instant: ``"2024-01-05"`` would equal ``"2024-01-05T00:00Z"``), and so do dotted
        fields (``{"a.b": 1}`` also matches ``b`` inside an array ``a``)."""
        field_type = self.declared.get(path) if top and len(path) == 1 and path[0] in self.indexed else None
        typed = typed_scalar(field_type, value) if field_type is not None else None
        if field_type is None or typed is None:
            return equal(path, value, top)
        return Indexed(path[0], field_type, "=", typed)

    def range(self, cond: Cond, top: bool) -> PNode:
        op, path, value = cond.op, cond.path, cond.value
        if value is None:  # MongoDB: $gte/$lte null mean $eq null; $gt/$lt null match nothing
            return equal(path, None, top) if op in (Op.GTE, Op.LTE) else FALSE
        field_type = self.declared.get(path) if top else None
        if field_type is not None:
            indexed = _indexed_value(field_type, value, cond)
            if indexed is not None:
                return Indexed(".".join(path), field_type, _RANGE_SYMBOLS[op], indexed)
        text = f"{jsonpath.path(path)} {_RANGE_SYMBOLS[op]} $v"
        return Match(jsonpath.mode(path, text), _encode({"v": value}))


def equal(path: tuple[str, ...], value: Any, top: bool) -> PNode:
    if value is None:
        return Match(jsonpath.mode(path, jsonpath.missing_or_null(path)))
    if is_scalar(value):
        text = f"{jsonpath.path(path)} == {jsonpath.literal(value)}"
        return Gin(text) if top else Match(jsonpath.mode(path, text))
    deep = DeepEq(jsonpath.path(path) if path else None, _encode(value))
    if top and isinstance(value, dict):
        leaves = _object_leaves(path, value)
        if leaves:
            return And([Gin(" && ".join(leaves)), deep])
    return deep


def one_of(path: tuple[str, ...], values: list[Any], top: bool) -> PNode:
    scalars = [v for v in values if v is not None and is_scalar(v)]
    parts: list[PNode] = []
    if scalars:
        base = jsonpath.path(path)
        seen: dict[str, None] = {}
        for v in scalars:
            seen.setdefault(f"{base} == {jsonpath.literal(v)}")
        text = " || ".join(seen)
        parts.append(Gin(text) if top else Match(jsonpath.mode(path, text)))
    if any(v is None for v in values):
        parts.append(equal(path, None, top))
    parts += [equal(path, v, top) for v in values if not is_scalar(v)]
    return _or(parts)


def text_test(op: Op, value: str) -> tuple[str, str]:
    if op is Op.REGEX:
        return "~", value
    escaped = value.translate(_LIKE_ESCAPES)
    if op is Op.CONTAINS:
        return "like", f"%{escaped}%"
    if op is Op.ICONTAINS:
        return "ilike", f"%{escaped}%"
    if op is Op.STARTSWITH:
        return "like", f"{escaped}%"
    return "like", f"%{escaped}"


def _object_leaves(path: tuple[str, ...], value: dict[str, Any]) -> list[str]:
    """``==`` tests every match of an object value must pass (a sound GIN prefilter)."""
    out: list[str] = []
    for key, item in value.items():
        if isinstance(item, dict):
            out += _object_leaves((*path, key), item)
        elif not isinstance(item, list):
            out.append(f"{jsonpath.path((*path, key))} == {jsonpath.literal(item)}")
    return out


def typed_scalar(field_type: FieldType, value: Any) -> Any:
    """``value`` as the parameter of a string, number or boolean field's typed expression, or None
    when it is of another JSON type (or the field is not one of those)."""
    if field_type in (FieldType.NUMBER, FieldType.INTEGER):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return None
    if field_type is FieldType.STRING:
        return value if isinstance(value, str) else None
    if field_type is FieldType.BOOLEAN:
        return value if isinstance(value, bool) else None
    return None


def _indexed_value(field_type: FieldType, value: Any, cond: Cond) -> Any:
    """The parameter for an index comparison, or None when the value's type can't match.

    A ``date``/``datetime`` field compares as instants, so its range value must be an ISO
    8601 string (like ``_created_at``'s): anything else is a 400, never an empty result."""
    if field_type not in (FieldType.DATE, FieldType.DATETIME):
        return typed_scalar(field_type, value)
    instant = iso_instant(value) if isinstance(value, str) else None
    if instant is None:
        fail(
            f"{'.'.join(cond.path)} is a {field_type.value} field: compare it with an ISO 8601 string",
            cond.pointer,
        )
    return instant


# --- system columns ---------------------------------------------------------------------------
def _text_column(column: str, cond: Cond) -> PNode:
    nullable = column in NULLABLE_FIELDS

    def eq(v: Any) -> PNode:
        if v is None:
            return Column(column, "is_null") if nullable else FALSE
        return Column(column, "=", v) if isinstance(v, str) else FALSE

    def any_of(values: list[Any]) -> PNode:
        texts = list(dict.fromkeys(v for v in values if isinstance(v, str)))
        parts: list[PNode] = [Column(column, "any", texts)] if len(texts) > 1 else [eq(v) for v in texts]
        if nullable and None in values:
            parts.append(Column(column, "is_null"))
        return _or(parts)

    def compare(op: Op, v: Any) -> PNode:
        if op in RANGE_OPS:
            return Column(column, _RANGE_SYMBOLS[op], v) if isinstance(v, str) else FALSE
        kind, pattern = text_test(op, v)
        return Column(column, kind, pattern)

    return _system_column(cond, eq, any_of, compare)


def _timestamp_column(column: str, cond: Cond) -> PNode:
    def eq(v: Any) -> PNode:
        return FALSE if v is None else Column(column, "=", parse_timestamp(v), "timestamptz")

    def any_of(values: list[Any]) -> PNode:
        stamps = [parse_timestamp(v) for v in values if v is not None]
        return Column(column, "any", stamps, "timestamptz") if stamps else FALSE

    def compare(op: Op, v: Any) -> PNode:  # validate() let only ranges with ISO strings through
        return Column(column, _RANGE_SYMBOLS[op], parse_timestamp(v), "timestamptz")

    return _system_column(cond, eq, any_of, compare)


def _system_column(
    cond: Cond,
    eq: Callable[[Any], PNode],
    any_of: Callable[[list[Any]], PNode],
    compare: Callable[[Op, Any], PNode],
) -> PNode:
    """The operators of a system column, given how the column tests equality with one value,
    membership in a list, and a range or text operator with a non-null value."""
    op, value = cond.op, cond.value
    if op is Op.EQ:
        return eq(value)
    if op is Op.NE:
        return _not(eq(value))
    if op is Op.IN:
        return any_of(value)
    if op is Op.NIN:
        return _not(any_of(value))
    if op is Op.ALL:
        return _and([eq(v) for v in value]) if value else FALSE
    if op is Op.EXISTS:
        return Const(bool(value))
    if value is None:  # as for JSON values: $gte/$lte null mean $eq null, others match nothing
        return eq(None) if op in (Op.GTE, Op.LTE) else FALSE
    return compare(op, value)


# --- combinators that fold constants and merge GIN equality groups ------------------------------
def _and(children: list[PNode]) -> PNode:
    flat: list[PNode] = []
    for c in children:
        if isinstance(c, And):
            flat += c.children
        elif c is FALSE or (isinstance(c, Const) and not c.value):
            return FALSE
        elif not isinstance(c, Const):
            flat.append(c)
    gins = [c for c in flat if isinstance(c, Gin)]
    if len(gins) > 1:
        merged = Gin(" && ".join(f"({g.jsonpath})" for g in gins))
        flat = [merged] + [c for c in flat if not isinstance(c, Gin)]
    if not flat:
        return TRUE
    return flat[0] if len(flat) == 1 else And(flat)


def _or(children: list[PNode]) -> PNode:
    flat: list[PNode] = []
    for c in children:
        if isinstance(c, Or):
            flat += c.children
        elif isinstance(c, Const) and c.value:
            return TRUE
        elif not isinstance(c, Const):
            flat.append(c)
    if not flat:
        return FALSE
    if len(flat) > 1 and all(isinstance(c, Gin) for c in flat):
        return Gin(" || ".join(f"({c.jsonpath})" for c in flat if isinstance(c, Gin)))
    return flat[0] if len(flat) == 1 else Or(flat)


def _not(child: PNode) -> PNode:
    if isinstance(child, Const):
        return Const(not child.value)
    return Not(child)

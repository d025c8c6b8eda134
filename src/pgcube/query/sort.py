"""Sort specifications (SPEC §7, §9.3) and keyset pagination.

``"price asc"``, ``"price desc, _key asc"``, ``"-price"``, a list of those, or
MongoDB's ``{"price": -1}``. Ties are always broken by ``_key`` (in the
direction of the last key, so the default ``_created_at desc`` is one backward
scan of the ``(_created_at, _key)`` index).

* system fields sort by their column;
* declared scalar fields by their index expression (NULLs — missing values —
  first, like JSON null);
* anything else by ``coalesce(data #> path, 'null')``: PostgreSQL's jsonb order.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from pgcube.query import sql
from pgcube.query.fields import NULLABLE_FIELDS, SCALAR_TYPES, SYSTEM_COLUMNS, FieldType, index_expression
from pgcube.query.nodes import INDEX_SQL_TYPES
from pgcube.query.pointer import child, fail
from pgcube.query.sql import Params, and_, col, jsonb_literal, or_

MAX_SORT_KEYS = 16


class SortKey:
    """One ORDER BY key. ``value_type`` says how a cursor value is cast back to SQL."""

    __slots__ = ("desc", "field_type", "kind", "nullable", "path", "value_type")

    def __init__(self, path: tuple[str, ...], desc: bool, declared: dict[tuple[str, ...], FieldType]) -> None:
        self.path = path
        self.desc = desc
        self.field_type: FieldType | None = None
        if len(path) == 1 and path[0] in SYSTEM_COLUMNS:
            self.kind = "column"
            self.value_type = SYSTEM_COLUMNS[path[0]]
            self.nullable = path[0] in NULLABLE_FIELDS
        elif declared.get(path) in SCALAR_TYPES:
            self.kind = "field"
            self.field_type = declared[path]
            self.value_type = INDEX_SQL_TYPES[self.field_type]
            self.nullable = True
        else:
            self.kind = "json"
            self.value_type = "jsonb"
            self.nullable = False

    @property
    def shape(self) -> tuple[Any, ...]:
        named = self.path if self.kind != "json" else ()
        return (self.kind, named, self.desc)

    def collect(self, out: list[Any]) -> None:
        if self.kind == "json":
            out.append(list(self.path))

    def expression(self, params: Params) -> exp.Expression:
        if self.kind == "column":
            return col(self.path[0])
        if self.kind == "field":
            assert self.field_type is not None
            found = index_expression(".".join(self.path), self.field_type)
            assert found is not None
            return found
        return exp.Coalesce(
            this=sql.path_get(col("data"), params.take("text[]")), expressions=[jsonb_literal("null")]
        )


class Sort:
    __slots__ = ("keys",)

    def __init__(self, keys: list[SortKey]) -> None:
        self.keys = keys

    @property
    def shape(self) -> tuple[Any, ...]:
        return tuple(k.shape for k in self.keys)

    def collect(self, out: list[Any]) -> None:
        for key in self.keys:
            key.collect(out)

    def expressions(self, params: Params) -> list[exp.Expression]:
        return [key.expression(params) for key in self.keys]

    def order_by(self, expressions: list[exp.Expression]) -> list[exp.Ordered]:
        out = []
        for key, expression in zip(self.keys, expressions, strict=True):
            nulls_first = (not key.desc) if key.nullable else key.desc  # non-null keys: the default
            out.append(exp.Ordered(this=expression.copy(), desc=key.desc, nulls_first=nulls_first))
        return out

    def after(
        self, expressions: list[exp.Expression], values: exp.Expression, nulls: tuple[bool, ...]
    ) -> exp.Expression:
        """Rows strictly after the cursor row, in this order (keyset pagination).

        A cursor's ``null`` is SQL NULL only for a key that can be NULL (a declared field, or
        ``_userkey``); for any other JSON path it is the jsonb value ``null``, which the key's
        expression (``coalesce(..., 'null')``) compares like any other value."""
        nulls = tuple(is_null and key.nullable for is_null, key in zip(nulls, self.keys, strict=True))
        cursor = [_cursor_value(values, i, key.value_type) for i, key in enumerate(self.keys)]
        same_direction = len({k.desc for k in self.keys}) == 1
        if same_direction and not any(k.nullable for k in self.keys):
            left = exp.Tuple(expressions=[e.copy() for e in expressions])
            right = exp.Tuple(expressions=cursor)
            return (
                exp.LT(this=left, expression=right)
                if self.keys[0].desc
                else exp.GT(this=left, expression=right)
            )
        branches: list[exp.Expression] = []
        equal_so_far: list[exp.Expression] = []
        for key, expression, value, is_null in zip(self.keys, expressions, cursor, nulls, strict=True):
            branches.append(
                and_(*equal_so_far, _strictly_after(key, expression.copy(), value.copy(), is_null))
            )
            equal_so_far.append(
                exp.Is(this=expression.copy(), expression=exp.null())
                if is_null
                else exp.EQ(this=expression.copy(), expression=value.copy())
            )
        result = or_(*branches)
        first = self.keys[0]
        if not nulls[0] and not (first.desc and first.nullable):
            bound = exp.LTE if first.desc else exp.GTE
            result = and_(bound(this=expressions[0].copy(), expression=cursor[0].copy()), result)
        return result


def _strictly_after(
    key: SortKey, expression: exp.Expression, value: exp.Expression, is_null: bool
) -> exp.Expression:
    if is_null:  # nulls come first ascending, last descending
        return exp.false() if key.desc else exp.Not(this=exp.Is(this=expression, expression=exp.null()))
    if key.desc:
        beyond = exp.LT(this=expression, expression=value)
        if key.nullable:
            return or_(beyond, exp.Is(this=expression.copy(), expression=exp.null()))
        return beyond
    return exp.GT(this=expression, expression=value)


def _cursor_value(values: exp.Expression, index: int, value_type: str) -> exp.Expression:
    if value_type == "jsonb":
        return sql.paren(sql.arrow(values.copy(), sql.number(index)))
    return sql.cast(sql.paren(sql.arrow_text(values.copy(), sql.number(index))), value_type)


def parse_sort(spec: Any, declared: dict[tuple[str, ...], FieldType], pointer: str = "/sort") -> Sort:
    items = _sort_items(spec, pointer)
    if len(items) > MAX_SORT_KEYS:
        fail(f"At most {MAX_SORT_KEYS} sort keys", pointer)
    keys = [SortKey(path, desc, declared) for path, desc in items]
    if not any(k.path == ("_key",) for k in keys):
        keys.append(SortKey(("_key",), keys[-1].desc, declared))
    return Sort(keys)


def _sort_items(spec: Any, pointer: str) -> list[tuple[tuple[str, ...], bool]]:  # noqa: RET503 (fail raises)
    if spec is None or spec == "" or spec == [] or spec == {}:
        return [(("_created_at",), True)]
    if isinstance(spec, str):
        return [_one(part, pointer) for part in spec.split(",")]
    if isinstance(spec, list):
        out: list[tuple[tuple[str, ...], bool]] = []
        for i, item in enumerate(spec):
            if not isinstance(item, str):
                fail('Sort keys are strings like "price desc"', child(pointer, i))
            out += [_one(part, child(pointer, i)) for part in item.split(",")]
        return out
    if isinstance(spec, dict):
        result = []
        for name, direction in spec.items():
            at = child(pointer, name)
            if direction in (1, "asc", "ASC"):
                result.append((_path(name, at), False))
            elif direction in (-1, "desc", "DESC"):
                result.append((_path(name, at), True))
            else:
                fail('A sort direction is 1, -1, "asc" or "desc"', at)
        return result
    fail("sort is a string, a list of strings or an object", pointer)


def _one(text: str, pointer: str) -> tuple[tuple[str, ...], bool]:  # noqa: RET503 (fail raises)
    words = text.split()
    if not words:
        fail("Empty sort key", pointer)
    if len(words) == 1:
        name = words[0]
        if name.startswith("-"):
            return _path(name[1:], pointer), True
        return _path(name.lstrip("+"), pointer), False
    if len(words) == 2 and words[1].lower() in ("asc", "desc"):
        return _path(words[0], pointer), words[1].lower() == "desc"
    fail(f'Not a sort key: {text.strip()!r} (expected "field", "field asc|desc" or "-field")', pointer)


def _path(name: str, pointer: str) -> tuple[str, ...]:
    parts = tuple(name.split("."))
    if not name or any(not p or p.startswith("$") for p in parts):
        fail(f"{name!r} is not a valid sort path", pointer)
    if parts[0] == "_id":
        parts = ("_key", *parts[1:])
    if parts[0] in SYSTEM_COLUMNS and len(parts) > 1:
        fail(f"{parts[0]} has no sub-fields", pointer)
    return parts

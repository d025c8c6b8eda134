"""Projection (SPEC §7): ``{"name": 1}`` keeps, ``{"secret": 0}`` drops,
``["name", "email"]`` keeps; dotted paths reach into objects and into the
objects of arrays (as MongoDB does). Built in SQL on ``data``; then the system
fields are merged in: with an inclusion only ``_key`` (unless ``"_key": 0``)
and the system fields listed, with an exclusion all four but those listed.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from pgcube.query import sql
from pgcube.query.fields import SYSTEM_FIELDS, system_object
from pgcube.query.pointer import child, fail
from pgcube.query.sql import Params, case, col, fn, jsonb_literal, string, typeof

Tree = dict[str, "Tree | None"]  # None: the whole value at this key


class Projection:
    __slots__ = ("include", "system", "tree")

    def __init__(self, include: bool, tree: Tree, system: tuple[str, ...]) -> None:
        self.include = include
        self.tree = tree
        self.system = system

    @property
    def shape(self) -> tuple[Any, ...]:
        return (self.include, _tree_shape(self.tree), self.system)

    def collect(self, out: list[Any]) -> None:
        _collect(self.tree, out)

    def render(self, params: Params) -> exp.Expression:
        builder = _include if self.include else _exclude
        data = (
            builder(col("data"), self.tree, params, 0)
            if self.tree
            else (jsonb_literal("{}") if self.include else col("data"))
        )
        if not self.system:
            return data
        return exp.DPipe(this=data, expression=system_object(self.system))


def parse_projection(spec: Any, pointer: str = "/filter") -> Projection | None:
    """None: the whole document."""
    if spec is None or spec == {} or spec == []:
        return None
    if isinstance(spec, list):
        items = []
        for i, name in enumerate(spec):
            if not isinstance(name, str):
                fail("A projection list holds field paths", child(pointer, i))
            items.append((name, True, child(pointer, i)))
    elif isinstance(spec, dict):
        items = []
        for name, flag in spec.items():
            at = child(pointer, name)
            if flag not in (0, 1) or (not isinstance(flag, bool | int)):
                fail("A projection value is 1 (keep) or 0 (drop)", at)
            items.append((name, bool(flag), at))
    else:
        fail('A projection is an object like {"name": 1} or a list of field paths', pointer)
    keeps = {keep for name, keep, _ in items if _system_name(name) != "_key"}
    if len(keeps) > 1:
        fail('A projection either keeps or drops fields, not both (except "_key": 0)', pointer)
    include = keeps != {False} if keeps else not any(keep is False for _, keep, _ in items)
    tree: Tree = {}
    system: set[str] = {"_key"} if include else set(SYSTEM_FIELDS)
    for name, keep, at in items:
        parts = tuple(name.split("."))
        if not name or any(not p or p.startswith("$") for p in parts):
            fail(f"{name!r} is not a valid field path", at)
        first = _system_name(parts[0])
        if first in SYSTEM_FIELDS:
            if len(parts) > 1:
                fail(f"{first} has no sub-fields", at)
            (system.add if keep else system.discard)(first)
            continue
        _add(tree, parts)
    return Projection(include, tree, tuple(f for f in SYSTEM_FIELDS if f in system))


def _system_name(name: str) -> str:
    return "_key" if name == "_id" else name


def _add(tree: Tree, parts: tuple[str, ...]) -> None:
    node = tree
    for part in parts[:-1]:
        if part in node and node[part] is None:
            return  # the whole parent is already projected
        sub = node.setdefault(part, {})
        assert sub is not None
        node = sub
    node[parts[-1]] = None


def _tree_shape(tree: Tree) -> tuple[Any, ...]:
    whole = sum(1 for v in tree.values() if v is None) > 0
    return (whole, tuple(_tree_shape(v) for v in tree.values() if v is not None))


def _collect(tree: Tree, out: list[Any]) -> None:
    whole = [k for k, v in tree.items() if v is None]
    if whole:
        out.append(whole)
    for key, sub in tree.items():
        if sub is not None:
            out.append(key)
            _collect(sub, out)


def _include(value: exp.Expression, tree: Tree, params: Params, depth: int) -> exp.Expression:
    """Only the listed keys of an object (missing keys stay missing)."""
    parts: list[exp.Expression] = []
    if any(v is None for v in tree.values()):
        keys = params.take("text[]")
        alias = f"pj{depth}_k"
        picked = exp.select(
            exp.Coalesce(
                this=fn("jsonb_object_agg", col("key", alias), col("value", alias)),
                expressions=[jsonb_literal("{}")],
            )
        ).from_(sql.table_function(fn("jsonb_each", value.copy()), alias, ["key", "value"]))
        picked = picked.where(exp.EQ(this=col("key", alias), expression=exp.Any(this=sql.paren(keys))))
        parts.append(exp.Subquery(this=picked))
    for sub in tree.values():
        if sub is not None:
            name = params.take("text")
            element = col("v", f"pj{depth}_e")
            each = _include(element, sub, params, depth + 1)
            parts.append(_descend(value, name, each, depth, objects_only=True))
    return _concat(parts)


def _exclude(value: exp.Expression, tree: Tree, params: Params, depth: int) -> exp.Expression:
    whole = [k for k, v in tree.items() if v is None]
    result: exp.Expression = (
        exp.Sub(this=value.copy(), expression=params.take("text[]")) if whole else value.copy()
    )
    for sub in tree.values():
        if sub is not None:
            name = params.take("text")
            element = col("v", f"pj{depth}_e")
            each = case(
                [
                    (
                        exp.EQ(this=typeof(element.copy()), expression=string("object")),
                        _exclude(element, sub, params, depth + 1),
                    )
                ],
                element.copy(),
            )
            result = exp.DPipe(
                this=sql.paren(result), expression=_descend(value, name, each, depth, objects_only=False)
            )
    return result


def _descend(
    value: exp.Expression, name: exp.Expression, each: exp.Expression, depth: int, objects_only: bool
) -> exp.Expression:
    """``{name: <each applied to value->name>}`` when that is an object (or to each element when it
    is an array, as MongoDB does); ``{}`` otherwise. ``each`` is rendered once, over ``pj<depth>_e.v``.
    """
    alias = f"pj{depth}_e"
    inner = sql.arrow(value.copy(), name.copy())
    is_array = exp.EQ(this=typeof(inner.copy()), expression=string("array"))
    agg = exp.Coalesce(
        this=fn("jsonb_agg", exp.Order(this=each, expressions=[exp.Ordered(this=col("i", alias))])),
        expressions=[jsonb_literal("[]")],
    )
    source = case([(is_array.copy(), inner.copy())], fn("jsonb_build_array", inner.copy()))
    mapped = exp.select(exp.alias_(agg, "a")).from_(
        sql.with_ordinality(fn("jsonb_array_elements", source), alias, ["v", "i"])
    )
    if objects_only:
        mapped = mapped.where(exp.EQ(this=typeof(col("v", alias)), expression=string("object")))
    result = col("a", f"pj{depth}_m")
    select = exp.select(case([(is_array.copy(), result)], sql.arrow(result.copy(), sql.number(0)))).from_(
        exp.Subquery(this=mapped, alias=exp.TableAlias(this=exp.to_identifier(f"pj{depth}_m")))
    )
    container = exp.In(this=typeof(inner.copy()), expressions=[string("object"), string("array")])
    return case(
        [(container, fn("jsonb_build_object", name.copy(), exp.Subquery(this=select)))], jsonb_literal("{}")
    )


def _concat(parts: list[exp.Expression]) -> exp.Expression:
    if not parts:
        return jsonb_literal("{}")
    result = parts[0]
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part)
    return result

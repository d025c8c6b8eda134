"""Phase 1: criteria (DDO or MongoDB syntax) → IR.

* ``"age:$gt": 18`` — a path with an operator suffix (DDO);
* ``{"age": {"$gt": 18}}`` — an object whose keys all start with ``$`` is a
  set of operators on that path (MongoDB);
* ``{"address": {"city": "Oslo"}}`` — any other object under a bare key is
  the nested spelling of ``"address.city": "Oslo"`` (SPEC §9.1; compare a
  whole object with ``"address:$eq": {...}``);
* ``$and`` / ``$or`` / ``$nor`` take non-empty lists of such objects.

Only structure is checked here; limits and value types are ``validate``'s job,
except nesting depth, which also guards this recursion.
"""

from __future__ import annotations

from typing import Any

from pgcube.query.fields import SYSTEM_COLUMNS
from pgcube.query.ir import All, AnyOf, Cond, ElemMatch, Limits, Node, NoneOf, Op
from pgcube.query.operators import BETWEEN, LOGICAL, QUERY_OPERATORS, REGEX_OPTIONS
from pgcube.query.pointer import child, fail

SYSTEM_ALIASES = {"_id": "_key"}


class _Parser:
    __slots__ = ("limits",)

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    # --- objects of path keys --------------------------------------------------------
    def criteria(
        self, obj: Any, pointer: str, prefix: tuple[str, ...], depth: int, element: bool
    ) -> list[Node]:
        if not isinstance(obj, dict):
            fail("A query must be a JSON object", pointer)
        if depth > self.limits.max_depth:
            fail(f"The query is nested deeper than {self.limits.max_depth} levels", pointer)
        nodes: list[Node] = []
        for key, value in obj.items():
            if not isinstance(key, str):
                fail("Query keys must be strings", pointer)
            at = child(pointer, key)
            if key in LOGICAL:
                nodes.append(self.logical(key, value, at, prefix, depth, element))
            elif key.startswith("$"):
                fail(f"Unknown operator {key!r} here: expected a field path or $and/$or/$nor", at)
            else:
                path_text, op_name = _split_operator(key)
                path = self.path(path_text, prefix, at, element)
                if op_name is not None:
                    nodes.extend(self.operator(op_name, value, path, at, depth, element))
                elif isinstance(value, dict) and value:
                    dollar = [k for k in value if isinstance(k, str) and k.startswith("$")]
                    if len(dollar) == len(value):
                        nodes.extend(self.operators(value, path, at, depth, element))
                    elif dollar and not set(dollar) <= LOGICAL:
                        fail("An object mixes operators and field names", child(at, dollar[0]))
                    else:
                        nodes.extend(self.criteria(value, at, path, depth + 1, element))
                else:
                    nodes.append(Cond(path, Op.EQ, value, at))
        return nodes

    def logical(
        self, key: str, value: Any, pointer: str, prefix: tuple[str, ...], depth: int, element: bool
    ) -> Node:
        if not isinstance(value, list) or not value:
            fail(f"{key} takes a non-empty list of query objects", pointer)
        children = tuple(
            _conjunction(self.criteria(item, child(pointer, i), prefix, depth + 1, element))
            for i, item in enumerate(value)
        )
        if key == "$and":
            return All(children)
        if key == "$or":
            return AnyOf(children, pointer)
        return NoneOf(children, pointer)

    # --- operators on one path ---------------------------------------------------------
    def operators(
        self, obj: dict[str, Any], path: tuple[str, ...], pointer: str, depth: int, element: bool
    ) -> list[Node]:
        if depth + 1 > self.limits.max_depth:
            fail(f"The query is nested deeper than {self.limits.max_depth} levels", pointer)
        nodes: list[Node] = []
        for name, value in obj.items():
            at = child(pointer, name)
            if name == REGEX_OPTIONS:
                if "$regex" not in obj:
                    fail("$options needs $regex beside it", at)
                continue
            if name in LOGICAL:
                nodes.append(self.logical(name, value, at, path, depth + 1, element))
                continue
            if name == "$regex" and REGEX_OPTIONS in obj:
                value = _RegexWithOptions(value, obj[REGEX_OPTIONS], child(pointer, REGEX_OPTIONS))
            nodes.extend(self.operator(name, value, path, at, depth + 1, element))
        return nodes

    def operator(
        self, name: str, value: Any, path: tuple[str, ...], pointer: str, depth: int, element: bool
    ) -> list[Node]:
        if name == BETWEEN:
            if not isinstance(value, list) or len(value) != 2:
                fail("$between takes a list of two values [low, high]", pointer)
            return [Cond(path, Op.GTE, value[0], pointer), Cond(path, Op.LTE, value[1], pointer)]
        op = QUERY_OPERATORS.get(name)
        if op is None:
            fail(f"Unknown operator {name!r}", pointer)
        if op is Op.ELEM_MATCH:
            return [self.elem_match(value, path, pointer, depth)]
        if isinstance(value, _RegexWithOptions):
            return [Cond(path, op, value.resolve(), pointer)]
        return [Cond(path, op, value, pointer)]

    def elem_match(self, value: Any, path: tuple[str, ...], pointer: str, depth: int) -> Node:
        if not isinstance(value, dict) or not value:
            fail("$elemMatch takes a non-empty query object", pointer)
        if depth + 1 > self.limits.max_depth:
            fail(f"The query is nested deeper than {self.limits.max_depth} levels", pointer)
        keys = [k for k in value if isinstance(k, str)]
        on_value = len(keys) == len(value) and all(k.startswith("$") and k not in LOGICAL for k in keys)
        if on_value:
            body = self.operators(value, (), pointer, depth + 1, True)
        else:
            body = self.criteria(value, pointer, (), depth + 1, True)
        return ElemMatch(path, _conjunction(body), on_value, pointer)

    # --- paths -------------------------------------------------------------------------
    def path(self, text: str, prefix: tuple[str, ...], pointer: str, element: bool) -> tuple[str, ...]:
        parts = text.split(".")
        for part in parts:
            if not part:
                fail(f"{text!r} is not a valid path: empty component", pointer)
            if part.startswith("$"):
                fail(f"{text!r} is not a valid path: a component starts with '$'", pointer)
            if "\x00" in part:
                fail("A path may not contain the NUL character", pointer)
        path = prefix + tuple(parts)
        if not element:
            first = SYSTEM_ALIASES.get(path[0], path[0])
            if first in SYSTEM_COLUMNS:
                if len(path) > 1:
                    fail(f"{first} has no sub-fields", pointer)
                return (first,)
        return path


class _RegexWithOptions:
    """MongoDB's ``{"$regex": p, "$options": "i"}``, folded into one pattern."""

    __slots__ = ("options", "options_pointer", "pattern")

    def __init__(self, pattern: Any, options: Any, options_pointer: str) -> None:
        self.pattern = pattern
        self.options = options
        self.options_pointer = options_pointer

    def resolve(self) -> Any:
        if not isinstance(self.pattern, str):
            return self.pattern  # validate reports the wrong type at $regex
        if not isinstance(self.options, str) or set(self.options) - set("imsx"):
            fail("$options takes a string of the flags i, m, s and x", self.options_pointer)
        flags = "".join(sorted({"i": "i", "m": "n", "x": "x"}.get(f, "") for f in set(self.options)))
        return f"(?{flags}){self.pattern}" if flags else self.pattern


def _split_operator(key: str) -> tuple[str, str | None]:
    """``"age:$gt"`` → ``("age", "$gt")``; a key without ``:$`` is all path."""
    head, sep, tail = key.rpartition(":")
    if sep and tail.startswith("$"):
        return head, tail
    return key, None


def _conjunction(nodes: list[Node]) -> Node:
    return nodes[0] if len(nodes) == 1 else All(tuple(nodes))


def parse(criteria: Any, pointer: str = "", limits: Limits | None = None) -> Node:
    """Parse a criteria object (``None`` or ``{}`` match everything)."""
    if criteria is None:
        return All(())
    return (
        _conjunction(_Parser(limits or Limits()).criteria(criteria, pointer, (), 1, False))
        if criteria
        else All(())
    )


def parse_element(criteria: Any, pointer: str, limits: Limits) -> Node:
    """Criteria applied to array elements (``$pull`` conditions): object or operator form."""
    parser = _Parser(limits)
    if (
        isinstance(criteria, dict)
        and criteria
        and all(isinstance(k, str) and k.startswith("$") and k not in LOGICAL for k in criteria)
    ):
        return _conjunction(parser.operators(criteria, (), pointer, 1, True))
    return _conjunction(parser.criteria(criteria, pointer, (), 1, True))

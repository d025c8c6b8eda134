"""An independent model of MongoDB matching (as pgcube documents it), in plain Python.

Written from the MongoDB semantics, not from the compiler: it walks documents
the way MongoDB's matcher does, so the property test can compare it with what
PostgreSQL answers for the compiled SQL.

Path expansion: at each component an object yields its member (or a missing
branch), an array yields the expansion of each of its object elements (a
non-object element or an empty array is a missing branch), a scalar is a
missing branch. Leaf arrays are matched as a whole and element by element.
"""

from __future__ import annotations

import re
from typing import Any

MISSING = object()


def json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and a == b


def branches(value: Any, parts: tuple[str, ...]) -> list[Any]:
    if not parts:
        return [value]
    if isinstance(value, dict):
        return branches(value[parts[0]], parts[1:]) if parts[0] in value else [MISSING]
    if isinstance(value, list):
        if not value:
            return [MISSING]
        out: list[Any] = []
        for element in value:
            out += branches(element, parts) if isinstance(element, dict) else [MISSING]
        return out
    return [MISSING]


def _candidates(x: Any, unwrap: bool) -> list[Any]:
    return [x, *x] if unwrap and isinstance(x, list) else [x]


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    return "other"


def _equal_any(values: list[Any], target: Any, unwrap: bool) -> bool:
    if target is None:
        return any(x is MISSING or any(c is None for c in _candidates(x, unwrap)) for x in values)
    return any(
        x is not MISSING and any(json_equal(c, target) for c in _candidates(x, unwrap)) for x in values
    )


_COMPARE = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _compare(values: list[Any], op: str, target: Any, unwrap: bool) -> bool:
    if target is None:
        return _equal_any(values, None, unwrap) if op in ("$gte", "$lte") else False
    kind = _kind(target)
    return any(
        x is not MISSING and any(_kind(c) == kind and _COMPARE[op](c, target) for c in _candidates(x, unwrap))
        for x in values
    )


def _strings(values: list[Any], unwrap: bool) -> list[str]:
    return [c for x in values if x is not MISSING for c in _candidates(x, unwrap) if isinstance(c, str)]


def match_operator(values: list[Any], op: str, arg: Any, unwrap: bool) -> bool:
    if op in ("$eq", "$includes"):
        return _equal_any(values, arg, unwrap)
    if op in ("$ne", "$nincludes"):
        return not _equal_any(values, arg, unwrap)
    if op in ("$in", "$any"):
        return any(_equal_any(values, v, unwrap) for v in arg)
    if op in ("$nin", "$none"):
        return not any(_equal_any(values, v, unwrap) for v in arg)
    if op == "$all":
        return bool(arg) and all(_equal_any(values, v, unwrap) for v in arg)
    if op in _COMPARE:
        return _compare(values, op, arg, unwrap)
    if op == "$between":
        return _compare(values, "$gte", arg[0], unwrap) and _compare(values, "$lte", arg[1], unwrap)
    if op == "$exists":
        return any(x is not MISSING for x in values) == bool(arg)
    if op == "$size":
        return any(isinstance(x, list) and len(x) == arg for x in values if x is not MISSING)
    if op == "$regex":
        return any(re.search(arg, s) for s in _strings(values, unwrap))
    if op == "$contains":
        return any(arg in s for s in _strings(values, unwrap))
    if op == "$icontains":
        return any(arg.lower() in s.lower() for s in _strings(values, unwrap))
    if op == "$startswith":
        return any(s.startswith(arg) for s in _strings(values, unwrap))
    if op == "$endswith":
        return any(s.endswith(arg) for s in _strings(values, unwrap))
    if op == "$elemMatch":
        arrays = [x for x in values if isinstance(x, list)]
        return any(_elem_match(e, arg) for a in arrays for e in a)
    raise AssertionError(f"reference does not know {op}")


def _elem_match(element: Any, body: dict[str, Any]) -> bool:
    if all(k.startswith("$") and k not in ("$and", "$or", "$nor") for k in body):
        return all(match_operator([element], op, arg, unwrap=False) for op, arg in body.items())
    return isinstance(element, dict) and matches(element, body)


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    """MongoDB syntax only: {path: value | {$op: arg}}, $and/$or/$nor."""
    for key, cond in query.items():
        if key == "$and":
            ok = all(matches(doc, q) for q in cond)
        elif key == "$or":
            ok = any(matches(doc, q) for q in cond)
        elif key == "$nor":
            ok = not any(matches(doc, q) for q in cond)
        else:
            values = branches(doc, tuple(key.split(".")))
            if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
                ok = all(match_operator(values, op, arg, unwrap=True) for op, arg in cond.items())
            else:
                ok = match_operator(values, "$eq", cond, unwrap=True)
        if not ok:
            return False
    return True

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

import datetime
import re
from decimal import Decimal
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


# --- declared fields and sorting (docs/query-language.md "Declared fields", "Sorting") ----------
#
# Ranges on a declared string, number, integer or boolean field keep MongoDB's type bracketing
# (the typed expression is NULL for a value of another type), so ``matches`` already models them.
# A declared date/datetime field differs: its values are ISO 8601 strings compared as instants
# (a date alone is midnight UTC, no offset means UTC); any other value never matches a range.
# Sorting: a declared scalar field sorts by its typed value, values of another type with the
# missing ones (first ascending, last descending); any other path in jsonb order (null < string
# < number < boolean < array < object), missing as null; ties broken by ``_key`` in the
# direction of the last key.

DATE_KINDS = frozenset({"date", "datetime"})
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?",
    re.ASCII,
)


def instant(text: str) -> Decimal | None:
    """Seconds since 0001-01-01T00:00Z of an ISO 8601 date or date-time, None if it is not one.
    (Python's calendar, not pgcube's integer arithmetic.)"""
    found = _ISO.fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, _z, sign, off_h, off_m = found.groups()
    try:
        moment = datetime.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    offset = 0
    if sign:
        offset = (1 if sign == "+" else -1) * (int(off_h) * 3600 + int(off_m or 0) * 60)
    elapsed = moment - datetime.datetime(1, 1, 1)
    return Decimal(elapsed.days * 86400 + elapsed.seconds - offset) + Decimal(fraction or "0")


def typed_value(value: Any, kind: str) -> Any:
    """The value a declared field's typed expression gives (None: another type, null or missing)."""
    if kind in ("number", "integer"):
        return value if _kind(value) == "number" else None
    if kind == "string":
        return value if isinstance(value, str) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    assert kind in DATE_KINDS, kind
    return instant(value) if isinstance(value, str) else None


def _declared_range(value: Any, op: str, arg: Any) -> bool:
    if arg is None:
        return op in ("$gte", "$lte") and (value is MISSING or value is None)
    bound = instant(arg)
    assert bound is not None, f"a date range takes an ISO 8601 string, not {arg!r}"
    mine = typed_value(value, "date") if value is not MISSING else None
    return mine is not None and bool(_COMPARE[op](mine, bound))


def matches_declared(doc: dict[str, Any], query: dict[str, Any], declared: dict[str, str]) -> bool:
    """``matches`` on a collection whose ``declared`` fields (name → type) compare as typed.
    Declared fields hold scalars here (the product validates every write), so a path has one
    branch; its ranges follow ``_declared_range`` on date/datetime fields."""
    for key, cond in query.items():
        if key in ("$and", "$or", "$nor"):
            results = [matches_declared(doc, q, declared) for q in cond]
            ok = all(results) if key == "$and" else any(results) if key == "$or" else not any(results)
        elif declared.get(key) in DATE_KINDS and isinstance(cond, dict) and _only_ranges(cond):
            [value] = branches(doc, tuple(key.split(".")))
            ok = all(
                _declared_range(value, "$gte", arg[0]) and _declared_range(value, "$lte", arg[1])
                if op == "$between"
                else _declared_range(value, op, arg)
                for op, arg in cond.items()
            )
        else:
            ok = matches(doc, {key: cond})
        if not ok:
            return False
    return True


def _only_ranges(cond: dict[str, Any]) -> bool:
    return bool(cond) and all(op in (*_COMPARE, "$between") for op in cond)


_JSONB_RANK = {"null": 0, "string": 1, "number": 2, "bool": 3}


def jsonb_order_key(value: Any) -> tuple[Any, ...]:
    """PostgreSQL's jsonb order for scalars as pgcube documents it; missing sorts as null."""
    if value is MISSING or value is None:
        return (0,)
    kind = _kind(value)
    if kind == "other":
        raise AssertionError(f"jsonb_order_key models scalars only, not {value!r}")
    return (_JSONB_RANK[kind], value)


def sort_documents(
    docs: dict[str, dict[str, Any]], keys: list[tuple[str, bool]], declared: dict[str, str]
) -> list[str]:
    """The ``_key`` order of ``docs`` (``_key`` → document) for sort ``keys`` ((path, desc), ...).
    ``_key`` is appended in the direction of the last key unless listed."""
    if not any(path == "_key" for path, _ in keys):
        keys = [*keys, ("_key", keys[-1][1])]
    order = sorted(docs)
    for path, desc in reversed(keys):  # stable sorts, the least significant key first
        if path == "_key":
            order.sort(reverse=desc)
            continue

        def sort_key(key: str, path: str = path) -> tuple[Any, ...]:
            [value] = branches(docs[key], tuple(path.split(".")))
            kind = declared.get(path)
            if kind is None:
                return jsonb_order_key(value)
            typed = typed_value(value, kind) if value is not MISSING else None
            return (0,) if typed is None else (1, typed)

        order.sort(key=sort_key, reverse=desc)
    return order

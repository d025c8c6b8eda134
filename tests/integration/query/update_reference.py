"""An independent model of pgcube's mutation language (SPEC §9.4, docs/query-language.md
"Mutations"), in plain Python: what one ``collection.update`` does to each matched document.

Written from the documented rules, not from the compiler:

* both spellings (DDO ``{"path:$op": v}`` with bare keys for ``$set``; MongoDB's
  ``{"$set": {...}, "$inc": {...}, ...}``) become a list of operations;
* two operations may not touch overlapping paths (one equal to or a prefix of the other):
  ``Conflict`` with the JSON pointer of the later key; ``$copy`` only reads its source,
  ``$rename`` reads its source, writes its target and removes its source;
* a write walks its parents: missing or null → ``{}``, an object → its key, an array under a
  number → that element (padded with at most 1000 nulls), anything else → ``Refused``;
* ``$inc`` counts missing or null as 0 and refuses any other non-number; ``$push``, ``$addset``
  make a missing or null value a new array and refuse any other non-array; ``$pop``,
  ``$remove``, ``$pull`` leave a missing value alone and refuse any non-array (null included);
  ``$unset`` of a missing path, or one through a scalar, changes nothing, and of an array
  element leaves null;
* a result that breaks a declared field (wrong type, or a required one absent) refuses the
  whole request, as any ``Refused`` does: no document changes.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from tests.integration.query import reference

MISSING = reference.MISSING
MAX_PADDING = 1000


class Refused(Exception):
    """The statement aborts: a 400 and no document of the request changes."""


class Conflict(Exception):
    """Two operations touch overlapping paths (or ``$rename`` onto its own path): a 400."""

    def __init__(self, pointer: str) -> None:
        super().__init__(pointer)
        self.pointer = pointer


class Generated:
    """A value the server makes (``$now``, ``$uuid``, ``$uuid4``): checked by its shape."""

    def __init__(self, name: str, pattern: str) -> None:
        self.name = name
        self.pattern = re.compile(pattern)

    def __repr__(self) -> str:
        return f"<{self.name}>"


GENERATED = {
    "$now": Generated("$now", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"),
    "$uuid": Generated("$uuid", r"[0-9a-f]{32}"),
    "$uuid4": Generated("$uuid4", r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
}


@dataclass
class Operation:
    kind: str  # set, unset, inc, push, addset, pop, remove, pull, copy
    path: tuple[str, ...]
    value: Any = None
    front: bool = False  # push/pop at the start
    target: tuple[str, ...] = ()  # copy
    touched: list[tuple[tuple[str, ...], bool]] = field(default_factory=list)  # (path, written)


def _path(text: str) -> tuple[str, ...]:
    return tuple(text.split("."))


def _operations(name: str, path_text: str, value: Any, mongo: bool) -> list[Operation]:
    path = _path(path_text)
    if name == "$set":
        return [Operation("set", path, value)]
    if name == "$unset":
        return [Operation("unset", path)]
    if name in ("$inc", "$incr", "$decr"):
        amount = 1 if value is True else value
        return [Operation("inc", path, -amount if name == "$decr" else amount)]
    if name in ("$push", "$lpush"):
        if mongo and isinstance(value, dict) and "$each" in value:
            return [Operation("push", path, list(value["$each"]))]
        return [Operation("push", path, [value], front=name == "$lpush")]
    if name in ("$extend", "$lextend"):
        return [Operation("push", path, list(value), front=name == "$lextend")]
    if name in ("$addset", "$addToSet"):
        if mongo and isinstance(value, dict) and "$each" in value:
            return [Operation("addset", path, list(value["$each"]))]
        return [Operation("addset", path, list(value) if isinstance(value, list) and not mongo else [value])]
    if name in ("$pop", "$lpop"):
        return [Operation("pop", path, front=name == "$lpop" or value == -1)]
    if name == "$remove":
        return [Operation("remove", path, value)]
    if name == "$pull":
        kind = "pull" if isinstance(value, dict) and value else "remove"
        return [Operation(kind, path, value)]
    if name == "$clear":
        return [Operation("set", path, [])]
    if name in GENERATED:
        return [Operation("set", path, GENERATED[name])]
    if name in ("$copy", "$rename"):
        out = [Operation("copy", path, target=_path(value))]
        return [*out, Operation("unset", path)] if name == "$rename" else out
    raise AssertionError(f"the model does not know {name}")


def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def parse(update: dict[str, Any]) -> list[Operation]:
    """The operations of an update, in order; ``Conflict`` for overlapping paths."""
    items: list[tuple[str, str, Any, bool, str]] = []  # (operator, path, value, mongo, pointer)
    if all(k.startswith("$") for k in update):
        for name, fields in update.items():
            items += [(name, p, v, True, f"/data/{name}/{p}") for p, v in fields.items()]
    else:
        for key, value in update.items():
            head, sep, tail = key.rpartition(":")
            name, path = (tail, head) if sep and tail.startswith("$") else ("$set", key)
            items.append((name, path, value, False, f"/data/{key}"))
    claimed: list[tuple[tuple[str, ...], bool]] = []
    out: list[Operation] = []
    for name, path, value, mongo, pointer in items:
        operations = _operations(name, path, value, mongo)
        touched: list[tuple[tuple[str, ...], bool]] = []
        for op in operations:
            touched += [(op.path, False), (op.target, True)] if op.kind == "copy" else [(op.path, True)]
        if name == "$rename" and _overlap(operations[0].path, operations[0].target):
            raise Conflict(pointer)
        for path_a, written_a in touched:
            if any((written_a or written_b) and _overlap(path_a, path_b) for path_b, written_b in claimed):
                raise Conflict(pointer)
        claimed += touched
        out += operations
    return out


# --- applying -----------------------------------------------------------------------------------
def is_index(part: str) -> bool:
    return part.isascii() and part.isdigit()


def get(value: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` (objects by key, arrays by a number), or MISSING."""
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and is_index(part) and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def _child(node: Any, part: str) -> Any:
    return get(node, (part,))


def _put(node: Any, part: str, value: Any) -> None:
    if isinstance(node, dict):
        node[part] = value
    elif int(part) < len(node):
        node[int(part)] = value
    else:
        node.append(value)  # the parent was padded up to this index


def _container(current: Any, next_part: str) -> Any:
    if isinstance(current, dict):
        return current
    if isinstance(current, list) and is_index(next_part):
        short_by = int(next_part) - len(current)
        if short_by > MAX_PADDING:
            raise Refused(f"more than {MAX_PADDING} nulls")
        return current + [None] * max(short_by, 0)
    if current is MISSING or current is None:
        return {}
    raise Refused(f"cannot create {next_part!r} in {current!r}")


def _write(doc: dict[str, Any], path: tuple[str, ...], make: Any) -> None:
    """``make(current)`` at ``path``, creating parents."""
    node: Any = doc
    for i, part in enumerate(path[:-1]):
        child = _container(_child(node, part), path[i + 1])
        _put(node, part, child)
        node = child
    _put(node, path[-1], make(_child(node, path[-1])))


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _inc(amount: Any) -> Any:
    def make(current: Any) -> Any:
        if current is MISSING or current is None:
            return amount
        if not _number(current):
            raise Refused(f"$inc on {current!r}")
        return current + amount

    return make


def _push(items: list[Any], front: bool) -> Any:
    def make(current: Any) -> Any:
        if current is MISSING or current is None:
            return copy.deepcopy(items)
        if not isinstance(current, list):
            raise Refused(f"$push on {current!r}")
        return copy.deepcopy(items) + current if front else current + copy.deepcopy(items)

    return make


def _addset(items: list[Any]) -> Any:
    def make(current: Any) -> Any:
        if current is not MISSING and current is not None and not isinstance(current, list):
            raise Refused(f"$addset on {current!r}")
        have = current if isinstance(current, list) else []
        fresh: list[Any] = []
        for item in items:
            if not any(reference.json_equal(item, x) for x in [*have, *fresh]):
                fresh.append(copy.deepcopy(item))
        return have + fresh

    return make


def _in_place(doc: dict[str, Any], path: tuple[str, ...], change: Any) -> None:
    """``$pop``/``$remove``/``$pull``: a missing value stays missing; a non-array refuses."""
    current = get(doc, path)
    if current is MISSING:
        return
    if not isinstance(current, list):
        raise Refused(f"an array operator on {current!r}")
    _write(doc, path, lambda _: change(current))


def _unset(doc: dict[str, Any], path: tuple[str, ...]) -> None:
    parent = get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and is_index(last) and int(last) < len(parent):
        parent[int(last)] = None


def _pulled(element: Any, condition: dict[str, Any]) -> bool:
    return reference._elem_match(element, condition)


def apply(doc: dict[str, Any], operations: list[Operation]) -> dict[str, Any]:
    """The updated copy of ``doc`` (no system fields); ``Refused`` when the statement aborts."""
    out = copy.deepcopy(doc)
    for op in operations:
        if op.kind == "set":
            _write(out, op.path, lambda _, v=op.value: copy.deepcopy(v))
        elif op.kind == "unset":
            _unset(out, op.path)
        elif op.kind == "inc":
            _write(out, op.path, _inc(op.value))
        elif op.kind == "push":
            _write(out, op.path, _push(op.value, op.front))
        elif op.kind == "addset":
            _write(out, op.path, _addset(op.value))
        elif op.kind == "pop":
            _in_place(out, op.path, lambda a, front=op.front: a[1:] if front else a[:-1])
        elif op.kind == "remove":
            _in_place(out, op.path, lambda a, v=op.value: [e for e in a if not reference.json_equal(e, v)])
        elif op.kind == "pull":
            _in_place(out, op.path, lambda a, c=op.value: [e for e in a if not _pulled(e, c)])
        else:  # copy: only when the source exists
            source = get(out, op.path)
            if source is not MISSING:
                _write(out, op.target, lambda _, v=source: copy.deepcopy(v))
    return out


def check_declared(doc: dict[str, Any], fields: dict[str, str], required: frozenset[str]) -> None:
    """``Refused`` when a declared field no longer fits its type (or a required one is absent)."""
    for name, kind in fields.items():
        value = get(doc, _path(name))
        if value is MISSING or value is None:
            ok = name not in required
        elif kind == "number":
            ok = _number(value)
        elif kind == "integer":
            ok = _number(value) and value == int(value)
        elif kind == "string":
            ok = isinstance(value, str)
        else:
            raise AssertionError(f"the model does not check {kind} fields")
        if not ok:
            raise Refused(f"the declared field {name} is now {value!r}")


def same(actual: Any, expected: Any) -> bool:
    """JSON equality (``1 == 1.0``, key order ignored) where a ``Generated`` matches its shape."""
    if isinstance(expected, Generated):
        return isinstance(actual, str) and expected.pattern.fullmatch(actual) is not None
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same(actual[k], expected[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return reference.json_equal(actual, expected)

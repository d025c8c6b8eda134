"""Both spellings of an update → the list of its steps, in order.

Every operator name has one parser in ``OPERATORS``; an unknown one is an error with
the pointer of its key. Two operations of one update may not touch overlapping paths
(one a prefix of, or equal to, the other: MongoDB's "would create a conflict").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from pgcube.errors import InvalidQuery, ValidationError
from pgcube.query.fields import SYSTEM_NAMES
from pgcube.query.ir import DEFAULT_LIMITS, Limits
from pgcube.query.mutate import steps
from pgcube.query.mutate.steps import Path, Step
from pgcube.query.parse import parse_element
from pgcube.query.plan import Planner
from pgcube.query.pointer import child
from pgcube.query.validate import check_json, validate


def parse_mutation(update: Any, pointer: str = "/data", limits: Limits = DEFAULT_LIMITS) -> list[Step]:
    return _Parser(limits).parse(update, pointer)


def overlap(a: Path, b: Path) -> bool:
    """One path is a prefix of (or equal to) the other."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


Parse = Callable[["_Parser", str, Path, Any, str, bool], list[Step]]
OPERATORS: dict[str, Parse] = {}
"""Every update operator, DDO and MongoDB names alike, and its parser."""


def _operator(*names: str) -> Callable[[Parse], Parse]:
    def register(parse: Parse) -> Parse:
        OPERATORS.update(dict.fromkeys(names, parse))
        return parse

    return register


def _fail(message: str, pointer: str) -> NoReturn:
    raise ValidationError(message, details={"pointer": pointer})


class _Parser:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps: list[Step] = []
        self.claimed: list[tuple[Path, bool]] = []  # (path, written) of earlier operations

    def parse(self, update: Any, pointer: str) -> list[Step]:
        if not isinstance(update, dict) or not update:
            _fail("An update is a non-empty JSON object", pointer)
        if all(isinstance(k, str) and k.startswith("$") for k in update):
            for name, fields in update.items():
                at = child(pointer, name)
                if not isinstance(fields, dict) or not fields:
                    _fail(f"{name} takes an object of paths", at)
                for path, value in fields.items():
                    self.operator(name, path, value, child(at, path), pointer, mongo=True)
        else:
            for key, value in update.items():
                at = child(pointer, key)
                head, sep, tail = key.rpartition(":")
                if sep and tail.startswith("$"):
                    self.operator(tail, head, value, at, pointer, mongo=False)
                elif key.startswith("$"):
                    _fail("An update mixes operators ($set, ...) and field names", at)
                else:
                    self.operator("$set", key, value, at, pointer, mongo=False)
        return self.steps

    def operator(self, name: str, path_text: Any, value: Any, at: str, pointer: str, mongo: bool) -> None:
        path = self.path(path_text, at)
        parse = OPERATORS.get(name)
        if parse is None:
            _fail(f"Unknown update operator {name!r}", at)
        new = parse(self, name, path, value, at, mongo)
        self.steps += new
        if len(self.steps) > self.limits.max_conditions:  # before claim(), which is quadratic
            _fail(f"An update has at most {self.limits.max_conditions} operations", pointer)
        self.claim(new, at)

    def claim(self, steps: list[Step], at: str) -> None:
        """MongoDB's rule: no two operations touch overlapping paths ("a" and "a.b", or "a" twice);
        $copy reads its source, which only conflicts with a write."""
        touched = [pair for step in steps for pair in step.touched()]
        for path, written in touched:
            for other, other_written in self.claimed:
                if (written or other_written) and overlap(path, other):
                    shorter = path if len(path) <= len(other) else other
                    _fail(
                        f"Updating the path {'.'.join(path)!r} would create a conflict at "
                        f"{'.'.join(shorter)!r}: one update may not touch a path twice, "
                        "or a path and a path inside it",
                        at,
                    )
        self.claimed += touched

    def path(self, text: Any, pointer: str) -> Path:
        if not isinstance(text, str) or not text:
            _fail("Not a valid path", pointer)
        parts = tuple(text.split("."))
        if any(not p or p.startswith("$") or "\x00" in p for p in parts):
            _fail(f"{text!r} is not a valid path", pointer)
        if parts[0] in SYSTEM_NAMES:
            _fail(f"{parts[0]} is maintained by the server and cannot be updated", pointer)
        if len(parts) > self.limits.max_depth:
            _fail(f"A path has at most {self.limits.max_depth} components", pointer)
        return parts

    def value(self, value: Any, pointer: str) -> Any:
        try:
            check_json(value, pointer)
        except InvalidQuery as error:
            raise ValidationError(error.message, details=error.details) from None
        return value

    def values(self, value: Any, pointer: str) -> list[Any]:
        if not isinstance(value, list):
            _fail("This operator takes a list of values", pointer)
        if len(value) > self.limits.max_list_values:
            _fail(f"At most {self.limits.max_list_values} values", pointer)
        return list(self.value(value, pointer))

    # --- the parser of each operator: (name, path, value, pointer, MongoDB spelling) → steps ---
    @_operator("$set")
    def parse_set(self, name: str, path: Path, value: Any, at: str, mongo: bool) -> list[Step]:
        return [steps.Set(path, self.value(value, at))]

    @_operator("$unset")
    def parse_unset(self, name: str, path: Path, value: Any, at: str, mongo: bool) -> list[Step]:
        if not mongo and value is not True:
            _fail("$unset takes true", at)
        return [steps.Unset(path)]

    @_operator("$inc", "$incr", "$decr")
    def parse_inc(self, name: str, path: Path, value: Any, at: str, mongo: bool) -> list[Step]:
        amount = 1 if value is True and not mongo else value
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            _fail(f"{name} takes a number" + ("" if mongo else " or true"), at)
        self.value(amount, at)
        return [steps.Inc(path, -amount if name == "$decr" else amount)]

    @_operator("$push", "$lpush")
    def parse_push(self, name: str, path: Path, value: Any, at: str, mongo: bool) -> list[Step]:
        if mongo and isinstance(value, dict) and "$each" in value:
            if set(value) != {"$each"}:
                _fail("Only $each is supported with $push", at)
            return [steps.Push(path, self.values(value["$each"], child(at, "$each")))]
        return [steps.Push(path, [self.value(value, at)], prepend=name == "$lpush")]

    @_operator("$extend", "$lextend")
    def parse_extend(self, name: str, path: Path, value: Any, at: str, mongo: bool) -> list[Step]:
        return [steps.Push(path, self.values(value, at), prepend=name == "$lextend")]

    @_operator("$addset", "$addToSet")
    def parse_add_to_set(self, name: str, path: Path, value: Any, at: str, mongo: bool) -> list[Step]:
        if mongo and isinstance(value, dict) and "$each" in value:
            items = self.values(value["$each"], child(at, "$each"))
        elif not mongo and isinstance(value, list):
            items = self.values(value, at)
        else:
            items = [self.value(value, at)]
        return [steps.AddToSet(path, items)]

    @_operator("$pop", "$lpop")
    def parse_pop(self, name: str, path: Path, value: Any, at: str, mongo: bool) -> list[Step]:
        if name == "$pop" and value in (1, -1) and not isinstance(value, bool):
            return [steps.Pop(path, value == -1)]
        if value is not True:
            _fail(f"{name} takes true" + (" (or 1 / -1)" if name == "$pop" else ""), at)
        return [steps.Pop(path, name == "$lpop")]

    @_operator("$remove")
    def parse_remove(self, name: str, path: Path, value: Any, at: str, mongo: bool) -> list[Step]:
        return [steps.Remove(path, self.value(value, at))]

    @_operator("$pull")
    def parse_pull(self, name: str, path: Path, value: Any, at: str, mongo: bool) -> list[Step]:
        if not isinstance(value, dict) or not value:
            return self.parse_remove(name, path, value, at, mongo)
        try:
            tree = parse_element(value, at, self.limits)
            validate(tree, self.limits)
        except InvalidQuery as error:
            raise ValidationError(error.message, details=error.details) from None
        return [steps.Pull(path, Planner({}).plan(tree, top=False, depth=1))]

    @_operator("$clear", "$now", "$uuid", "$uuid4")
    def parse_made(self, name: str, path: Path, value: Any, at: str, mongo: bool) -> list[Step]:
        if value is not True:
            _fail(f"{name} takes true", at)
        return [steps.Made(path, name)]

    @_operator("$rename", "$copy")
    def parse_copy(self, name: str, path: Path, value: Any, at: str, mongo: bool) -> list[Step]:
        target = self.path(value, at)
        if name == "$copy":
            return [steps.Copy(path, target)]
        if overlap(path, target):
            _fail("The source and the target of $rename must not be on the same path", at)
        return [steps.Copy(path, target), steps.Unset(path)]

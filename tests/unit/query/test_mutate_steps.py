"""Each update step collects exactly the parameters its SQL takes, in the same order: every
``$n`` of the statement is cast to the type of the n-th value (a path is ``text[]``, a JSON
value ``jsonb``, an amount or an array index ``numeric``), for every operator."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from pgcube.query import Collection, compile_update
from pgcube.query.mutate import OPERATORS

COLL = Collection(schema="s", table="t", fields={"price": "number", "a.b": "integer"})
_PARAMETER = re.compile(r"CAST\(\$(\d+) AS ([^)]+)\)")
_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "TEXT[]": list,
    "JSONB": bytes,
    "DECIMAL": Decimal,
    "TEXT": str,
    "jsonpath": str,
}
_VALUES: dict[str, Any] = {
    "$unset": True,
    "$pop": True,
    "$lpop": True,
    "$clear": True,
    "$now": True,
    "$uuid": True,
    "$uuid4": True,
    "$extend": [1, "x"],
    "$lextend": [2],
    "$pull": {"k:$gt": 1, "tags:$in": ["a", "b"]},
    "$rename": "moved.0.to",
    "$copy": "copied.x",
}


def _assert_parameters_line_up(update: dict[str, Any]) -> None:
    compiled = compile_update(COLL, {"price:$gt": 5, "tags": "x"}, update).statement
    types: dict[int, set[str]] = {}
    for number, type_name in _PARAMETER.findall(compiled.sql):
        types.setdefault(int(number), set()).add(type_name)
    assert sorted(types) == list(range(1, len(compiled.params) + 1)), compiled.params
    for number, names in sorted(types.items()):
        assert len(names) == 1, (number, names)
        value = compiled.params[number - 1]
        assert isinstance(value, _PYTHON_TYPES[names.pop()]), (number, value)


@pytest.mark.parametrize("path", ["a", "a.b", "arr.2.x", "x.0.1"])
@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_each_operator_collects_what_it_renders(name: str, path: str) -> None:
    _assert_parameters_line_up({f"{path}:{name}": _VALUES.get(name, 3)})


def test_many_steps_in_one_update_line_up() -> None:
    _assert_parameters_line_up(
        {
            "$set": {"a.0.b": {"k": [1]}, "price": 2},
            "$inc": {"n.1": 2.5},
            "$push": {"l": {"$each": [1, 2]}},
            "$addToSet": {"s": 1},
            "$pull": {"p": {"q": {"$elemMatch": {"r:$gte": 1}}}, "v": 4},
            "$unset": {"u.3": ""},
            "$rename": {"r": "t.0"},
            "$pop": {"o": -1},
        }
    )

"""The steps of an update, one class per kind, each rewriting the document once.

Like the plan nodes of ``query.nodes``, a step keeps three things side by side, so
they cannot drift apart:

* ``shape`` — what its SQL depends on (part of the SQL cache key; never values): its
  kind, its flags, and which components of its paths are array indices (every one of
  them: parents are padded or not, not only the last);
* ``collect(out)`` — its parameter values, in rendering order;
* ``render(chain)`` — its sub-selects on the chain, taking one ``$n`` per collected
  value, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from sqlglot import exp

from pgcube.query import sql
from pgcube.query.fields import ISO_FORMAT
from pgcube.query.nodes import PNode, Shape
from pgcube.query.sql import Params, case, cast, col, fn, jsonb_literal, string, typeof

Path = tuple[str, ...]
NewValue = Callable[[exp.Expression, exp.Expression], exp.Expression]
"""The value a step writes, from the current document ``x`` and its path parameter ``where``."""

_encode = msgspec.json.encode
MAX_ARRAY_PADDING = 1000
"""Most nulls one write may pad an array with (``"a.5"`` on a shorter array); more raises 22023."""
_INDEX_CEILING = 2**31  # beyond any jsonb array (at most 2^28 elements): stands for huger indices


def is_index(part: str) -> bool:
    """A path component that addresses an element when its parent is an array."""
    return part.isascii() and part.isdigit()


def _index_value(part: str) -> int:
    digits = part.lstrip("0")
    return int(digits or "0") if len(digits) <= 10 else _INDEX_CEILING


class Chain:
    """Builds the nested sub-selects; ``x`` is the current document inside a step."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.current: exp.Expression = col("data")
        self.count = 0

    def step(self, build: Callable[[exp.Expression], exp.Expression]) -> None:
        alias = f"m{self.count}"
        self.count += 1
        x = col("x", alias)
        # OFFSET 0 keeps PostgreSQL from pulling the sub-select up and substituting the
        # previous document for every use of x (which grows exponentially with the steps).
        inner = exp.select(exp.alias_(self.current, "x")).offset(sql.number(0)).subquery(alias)
        self.current = exp.Subquery(this=exp.select(build(x)).from_(inner))

    def path(self, parts: Path) -> exp.Expression:
        """The parameter of a path (collected as ``list(parts)``)."""
        return self.params.take("text[]")


class Step(msgspec.Struct, frozen=True):
    path: Path

    @property
    def shape(self) -> Shape:
        return (type(self).__name__, _indices(self.path), *self.flags())

    def flags(self) -> tuple[Any, ...]:
        """What else the SQL depends on."""
        return ()

    def touched(self) -> tuple[tuple[Path, bool], ...]:
        """``(path, written)`` of each path the step reads or writes (the conflict rule)."""
        return ((self.path, True),)

    def collect(self, out: list[Any]) -> None:
        raise NotImplementedError

    def render(self, chain: Chain) -> None:
        raise NotImplementedError


def _indices(path: Path) -> tuple[bool, ...]:
    return tuple(is_index(p) for p in path)


class Set(Step, frozen=True):
    """``$set``: the value at the path."""

    value: Any

    def collect(self, out: list[Any]) -> None:
        out.append(_encode(self.value))
        _collect_write(self.path, out)

    def render(self, chain: Chain) -> None:
        value = chain.params.take("jsonb")
        _write(chain, self.path, lambda x, w: value.copy())


class Unset(Step, frozen=True):
    """``$unset``: a missing path, or one through a scalar, is left alone (as in MongoDB); an
    array element becomes null rather than shifting the others (MongoDB too)."""

    def collect(self, out: list[Any]) -> None:
        out.append(list(self.path))
        if len(self.path) > 1:
            out.append(list(self.path[:-1]))

    def render(self, chain: Chain) -> None:
        where = chain.path(self.path)
        if len(self.path) == 1:
            chain.step(lambda x: exp.JSONBDeleteAtPath(this=x.copy(), expression=where.copy()))
            return
        parent = chain.path(self.path[:-1])
        element = is_index(self.path[-1])

        def unset(x: exp.Expression) -> exp.Expression:
            container = sql.path_get(x.copy(), parent.copy())
            deleted: exp.Expression = exp.JSONBDeleteAtPath(this=x.copy(), expression=where.copy())
            whens = [(_is_type(container, "object"), deleted)]
            if element:
                nulled = fn("jsonb_set", x.copy(), where.copy(), jsonb_literal("null"), exp.false())
                whens.append((_is_type(container, "array"), nulled))
            return case(whens, x.copy())

        chain.step(unset)


class Inc(Step, frozen=True):
    """``$inc`` / ``$incr`` / ``$decr`` (a negated amount). A missing field and a JSON null
    count as 0 (NULLIF first: PostgreSQL before 16 refuses to cast the jsonb null to numeric)."""

    amount: int | float

    def collect(self, out: list[Any]) -> None:
        out.append(self.amount)
        _collect_write(self.path, out)

    def render(self, chain: Chain) -> None:
        amount = chain.params.take("numeric")

        def add(x: exp.Expression, w: exp.Expression) -> exp.Expression:
            number = cast(
                exp.Nullif(this=sql.paren(_current(x, w)), expression=jsonb_literal("null")), "numeric"
            )
            total = exp.Add(
                this=exp.Coalesce(this=number, expressions=[sql.number(0)]), expression=amount.copy()
            )
            return fn("to_jsonb", total)

        _write(chain, self.path, add)


class Push(Step, frozen=True):
    """``$push`` and its kin: items appended (or prepended) to the array, or a new array."""

    items: list[Any]
    prepend: bool = False

    def flags(self) -> tuple[Any, ...]:
        return (self.prepend,)

    def collect(self, out: list[Any]) -> None:
        out.append(_encode(self.items))
        _collect_write(self.path, out)

    def render(self, chain: Chain) -> None:
        items = chain.params.take("jsonb")

        def push(x: exp.Expression, w: exp.Expression) -> exp.Expression:
            current = _current(x, w)
            first, second = (items, current) if self.prepend else (current, items)
            return _array_or_new(
                current, exp.DPipe(this=first.copy(), expression=second.copy()), items.copy()
            )

        _write(chain, self.path, push)


class AddToSet(Step, frozen=True):
    """``$addToSet`` / ``$addset``: the items not in the array yet, each once."""

    items: list[Any]

    def collect(self, out: list[Any]) -> None:
        out.append(_encode(self.items))
        _collect_write(self.path, out)

    def render(self, chain: Chain) -> None:
        items = chain.params.take("jsonb")
        _write(chain, self.path, lambda x, w: _add_to_set(_current(x, w), items))


class Pop(Step, frozen=True):
    """``$pop`` / ``$lpop``: the last (or first) element removed; a missing array stays missing."""

    first: bool

    def flags(self) -> tuple[Any, ...]:
        return (self.first,)

    def collect(self, out: list[Any]) -> None:
        out.append(list(self.path))

    def render(self, chain: Chain) -> None:
        where = chain.path(self.path)
        index = sql.number(0) if self.first else exp.Neg(this=sql.number(1))

        def pop(x: exp.Expression) -> exp.Expression:
            popped = exp.Sub(this=_current(x, where), expression=sql.paren(index.copy()))
            return _unless_missing(x, where, fn("jsonb_set", x.copy(), where.copy(), popped))

        chain.step(pop)


class Remove(Step, frozen=True):
    """``$remove`` (``$pull`` of a value): every element equal to the value removed."""

    value: Any

    def collect(self, out: list[Any]) -> None:
        out += (list(self.path), _encode(self.value))

    def render(self, chain: Chain) -> None:
        where = chain.path(self.path)
        value = chain.params.take("jsonb")
        _filter(chain, where, lambda e: exp.NEQ(this=e.copy(), expression=value.copy()))


class Pull(Step, frozen=True):
    """``$pull`` with a query condition: every element that matches it removed."""

    condition: PNode

    def flags(self) -> tuple[Any, ...]:
        return (self.condition.shape,)

    def collect(self, out: list[Any]) -> None:
        out.append(list(self.path))
        self.condition.collect(out)

    def render(self, chain: Chain) -> None:
        where = chain.path(self.path)
        condition = self.condition.render(col("e", "mf"), chain.params)
        _filter(chain, where, lambda e: sql.not_(condition.copy()))


_MADE: dict[str, Callable[[], exp.Expression]] = {
    "$clear": lambda: jsonb_literal("[]"),
    "$now": lambda: fn(
        "to_jsonb", fn("to_char", exp.AtTimeZone(this=fn("now"), zone=string("UTC")), string(ISO_FORMAT))
    ),
    "$uuid": lambda: fn(
        "to_jsonb", fn("replace", cast(fn("gen_random_uuid"), "text"), string("-"), string(""))
    ),
    "$uuid4": lambda: fn("to_jsonb", cast(fn("gen_random_uuid"), "text")),
}


class Made(Step, frozen=True):
    """A value made in SQL: ``$clear`` an empty array, ``$now`` the statement's time (ISO 8601
    in UTC, milliseconds), ``$uuid`` a random UUID as 32 hex digits (``$uuid4``: with dashes)."""

    operator: str

    def flags(self) -> tuple[Any, ...]:
        return (self.operator,)

    def collect(self, out: list[Any]) -> None:
        _collect_write(self.path, out)

    def render(self, chain: Chain) -> None:
        _write(chain, self.path, lambda x, w: _MADE[self.operator]())


class Copy(Step, frozen=True):
    """``$copy`` (``$rename`` is a copy, then an unset): the value at ``path`` written at
    ``target``, only when the source exists."""

    target: Path

    def flags(self) -> tuple[Any, ...]:
        return (_indices(self.target),)

    def touched(self) -> tuple[tuple[Path, bool], ...]:
        return ((self.path, False), (self.target, True))

    def collect(self, out: list[Any]) -> None:
        out.append(list(self.path))
        _collect_write(self.target, out)

    def render(self, chain: Chain) -> None:
        source = chain.path(self.path)
        _write(chain, self.target, lambda x, w: _current(x, source), guard=source)


# --- writing at a path, creating its parents ------------------------------------------------
def _collect_write(path: Path, out: list[Any]) -> None:
    """The parameters of ``_write``: each parent (and the index below it), then the path."""
    for i in range(1, len(path)):
        out.append(list(path[:i]))
        if is_index(path[i]):
            out.append(_index_value(path[i]))
    out.append(list(path))


def _write(chain: Chain, path: Path, value: NewValue, guard: exp.Expression | None = None) -> None:
    """``value(x, where)`` at ``path``, every parent made a container for the next component
    first; with ``guard``, documents without a value at that path parameter are left alone."""
    for i in range(1, len(path)):
        parent = chain.path(path[:i])
        index = chain.params.take("numeric") if is_index(path[i]) else None

        def build(
            x: exp.Expression, parent: exp.Expression = parent, index: exp.Expression | None = index
        ) -> exp.Expression:
            kept = _container(sql.path_get(x.copy(), parent.copy()), index)
            return _guarded(x, guard, fn("jsonb_set", x.copy(), parent.copy(), kept, exp.true()))

        chain.step(build)
    where = chain.path(path)
    chain.step(
        lambda x: _guarded(x, guard, fn("jsonb_set", x.copy(), where.copy(), value(x, where), exp.true()))
    )


def _container(current: exp.Expression, index: exp.Expression | None) -> exp.Expression:
    """``current`` as a parent: an object stays; an array stays when the next component is an
    index (padded with nulls up to it); missing or null becomes ``{}``; anything else — a
    scalar, an array under a field name — refuses (MongoDB: "Cannot create field ...")."""
    whens = [(_is_type(current, "object"), current.copy())]
    if index is not None:
        whens.append((_is_type(current, "array"), _padded(current, index)))
    whens.append((_absent(current), jsonb_literal("{}")))
    return case(whens, _refuse(current))


def _padded(array: exp.Expression, index: exp.Expression) -> exp.Expression:
    """``array`` with at least ``index`` elements (appended nulls, at most ``MAX_ARRAY_PADDING``),
    so that ``jsonb_set`` puts the next value at ``index`` rather than at the end."""
    length = fn("jsonb_array_length", array.copy())
    short_by = exp.Sub(this=index.copy(), expression=length.copy())
    nulls = fn(
        "to_jsonb",
        fn("array_fill", cast(exp.null(), "text"), exp.Array(expressions=[cast(sql.paren(short_by), "int")])),
    )
    return case(
        [
            (exp.GTE(this=length, expression=index.copy()), array.copy()),
            (
                exp.LTE(this=short_by.copy(), expression=sql.number(MAX_ARRAY_PADDING)),
                exp.DPipe(this=array.copy(), expression=nulls),
            ),
        ],
        _refuse(array),
    )


def _refuse(current: exp.Expression) -> exp.Expression:
    """A jsonb expression that raises SQLSTATE 22023 whenever it is evaluated, rolling the whole
    statement back: the array length of a JSON string (``current``'s type name). It depends on
    the row, so the planner cannot fold it into a constant and fail every statement up front;
    ``current`` must not be SQL NULL where it is evaluated."""
    return fn("to_jsonb", fn("jsonb_array_length", fn("to_jsonb", typeof(current.copy()))))


def _is_type(value: exp.Expression, name: str) -> exp.Expression:
    return exp.EQ(this=typeof(value.copy()), expression=string(name))


def _absent(value: exp.Expression) -> exp.Expression:
    """Missing (SQL NULL) or JSON null."""
    return exp.Or(this=exp.Is(this=value.copy(), expression=exp.null()), expression=_is_type(value, "null"))


def _guarded(x: exp.Expression, guard: exp.Expression | None, updated: exp.Expression) -> exp.Expression:
    if guard is None:
        return updated
    missing = exp.Is(this=sql.path_get(x.copy(), guard.copy()), expression=exp.null())
    return case([(missing, x.copy())], updated)


def _current(x: exp.Expression, where: exp.Expression) -> exp.Expression:
    return sql.paren(sql.path_get(x.copy(), where.copy()))


def _unless_missing(x: exp.Expression, where: exp.Expression, updated: exp.Expression) -> exp.Expression:
    return case([(exp.Is(this=_current(x, where), expression=exp.null()), x.copy())], updated)


# --- arrays ---------------------------------------------------------------------------------
def _array_or_new(current: exp.Expression, combine: exp.Expression, fresh: exp.Expression) -> exp.Expression:
    """``fresh`` when missing or null, ``combine`` for an array; anything else raises 22023
    (jsonb_array_length of a non-array)."""
    absent = _absent(current)
    is_array = exp.GTE(this=fn("jsonb_array_length", current.copy()), expression=sql.number(0))
    return case([(absent, fresh), (is_array, combine)], None)


def _filter(chain: Chain, where: exp.Expression, keep: Callable[[exp.Expression], exp.Expression]) -> None:
    """The array at ``where`` with only the elements ``keep`` holds for (a missing one stays missing)."""

    def build(x: exp.Expression) -> exp.Expression:
        alias = "mf"
        element = col("e", alias)
        agg = fn("jsonb_agg", exp.Order(this=element.copy(), expressions=[exp.Ordered(this=col("i", alias))]))
        select = exp.select(exp.Coalesce(this=agg, expressions=[jsonb_literal("[]")])).from_(
            sql.with_ordinality(fn("jsonb_array_elements", _current(x, where)), alias, ["e", "i"])
        )
        kept = exp.Subquery(this=select.where(keep(element)))
        return _unless_missing(x, where, fn("jsonb_set", x.copy(), where.copy(), kept))

    chain.step(build)


def _add_to_set(current: exp.Expression, items: exp.Expression) -> exp.Expression:
    alias, seen, earlier = "ma", "mc", "mu"
    element = col("e", alias)
    as_array = case([(_is_type(current, "array"), current.copy())], None)
    present = sql.exists(
        sql.select_one(
            sql.table_function(
                fn("jsonb_array_elements", exp.Coalesce(this=as_array, expressions=[jsonb_literal("[]")])),
                seen,
                ["y"],
            ),
            where=exp.EQ(this=col("y", seen), expression=element.copy()),
        )
    )
    repeated = sql.exists(
        sql.select_one(
            sql.with_ordinality(fn("jsonb_array_elements", items.copy()), earlier, ["f", "j"]),
            where=sql.and_(
                exp.LT(this=col("j", earlier), expression=col("i", alias)),
                exp.EQ(this=col("f", earlier), expression=element.copy()),
            ),
        )
    )
    agg = fn("jsonb_agg", exp.Order(this=element.copy(), expressions=[exp.Ordered(this=col("i", alias))]))
    fresh = exp.Subquery(
        this=exp.select(exp.Coalesce(this=agg, expressions=[jsonb_literal("[]")]))
        .from_(sql.with_ordinality(fn("jsonb_array_elements", items.copy()), alias, ["e", "i"]))
        .where(sql.and_(exp.Not(this=present), exp.Not(this=repeated)))
    )
    return _array_or_new(current, exp.DPipe(this=current.copy(), expression=fresh.copy()), fresh)

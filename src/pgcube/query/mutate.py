"""The mutation language (SPEC §9.4) → one ``UPDATE ... RETURNING`` per request.

Both spellings parse into a list of steps applied in order:

* DDO: ``{"name": "x", "count:$incr": 1, "tags:$push": "a"}``;
* MongoDB: ``{"$set": {...}, "$inc": {...}, "$unset": {...}, "$push": {...},
  "$addToSet": {...}, "$pull": {...}}`` (plus ``$pop``, ``$rename`` and the DDO names).

Each step rewrites the document once, inside its own scalar sub-select
(``(SELECT f(m.x) FROM (SELECT <previous> AS x) AS m)``), so a step may use
the current document several times without the SQL growing exponentially.
A step on a value of the wrong type ($incr on a string, $push on an object)
raises SQLSTATE 22023 in PostgreSQL and the whole statement rolls back. So does
writing below a value that cannot hold the next path component (MongoDB's
"Cannot create field"): a scalar, or an array under a field name. A missing or
null parent becomes ``{}``; an array stays under an index component and is
padded with nulls up to it, as in MongoDB (at most ``MAX_ARRAY_PADDING`` nulls).

Two operations of one update may not touch overlapping paths (one a prefix of,
or equal to, the other: MongoDB's "would create a conflict"), so the result never
depends on the order of the keys.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

import msgspec
from sqlglot import exp

from pgcube.errors import InvalidQuery, ValidationError
from pgcube.query import sql
from pgcube.query.cache import SQL_CACHE
from pgcube.query.compiler import Collection, Compiled, _plan, _where
from pgcube.query.fields import ISO_PATTERN, SYSTEM_NAMES, FieldType, document_expression, field_path
from pgcube.query.ir import DEFAULT_LIMITS, Limits
from pgcube.query.nodes import PNode
from pgcube.query.parse import parse_element
from pgcube.query.plan import Planner
from pgcube.query.pointer import child
from pgcube.query.sql import Params, case, cast, col, fn, jsonb_literal, string, typeof
from pgcube.query.validate import check_json, validate

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


def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """One path is a prefix of (or equal to) the other."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


class Kind(enum.Enum):
    SET = "set"
    UNSET = "unset"
    INC = "inc"
    PUSH = "push"
    ADDSET = "addset"
    POP = "pop"
    REMOVE = "remove"
    PULL = "pull"
    CLEAR = "clear"
    NOW = "now"
    UUID = "uuid"
    COPY = "copy"


class Step(msgspec.Struct, frozen=True):
    kind: Kind
    path: tuple[str, ...]
    value: Any = None
    flag: bool = False  # PUSH: prepend; POP: first; UUID: with dashes
    target: tuple[str, ...] = ()  # COPY: the new path
    condition: PNode | None = None  # PULL with a query condition


class UpdateQuery(msgspec.Struct, frozen=True, kw_only=True):
    """``UPDATE ... RETURNING doc, invalid``: ``doc`` the updated document (JSON bytes),
    ``invalid`` the declared fields the update broke (text[]; any → 400 and roll back)."""

    statement: Compiled
    paths: tuple[tuple[str, ...], ...]


def _fail(message: str, pointer: str) -> Any:
    raise ValidationError(message, details={"pointer": pointer})


# --- parsing ----------------------------------------------------------------------------------
class _MutationParser:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps: list[Step] = []
        self.claimed: list[tuple[tuple[str, ...], bool]] = []  # (path, written) of earlier operations
        self.pointer = ""

    def parse(self, update: Any, pointer: str) -> list[Step]:
        self.pointer = pointer
        if not isinstance(update, dict) or not update:
            _fail("An update is a non-empty JSON object", pointer)
        if all(isinstance(k, str) and k.startswith("$") for k in update):
            for name, fields in update.items():
                at = child(pointer, name)
                if not isinstance(fields, dict) or not fields:
                    _fail(f"{name} takes an object of paths", at)
                for path, value in fields.items():
                    self.operator(name, path, value, child(at, path), mongo=True)
        else:
            for key, value in update.items():
                at = child(pointer, key)
                head, sep, tail = key.rpartition(":")
                if sep and tail.startswith("$"):
                    self.operator(tail, head, value, at, mongo=False)
                elif key.startswith("$"):
                    _fail("An update mixes operators ($set, ...) and field names", at)
                else:
                    self.operator("$set", key, value, at, mongo=False)
        return self.steps

    def path(self, text: Any, pointer: str) -> tuple[str, ...]:
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

    def operator(self, name: str, path_text: Any, value: Any, at: str, mongo: bool) -> None:
        first = len(self.steps)
        self.add_operator(name, path_text, value, at, mongo)
        if len(self.steps) > self.limits.max_conditions:  # before claim(), which is quadratic
            _fail(f"An update has at most {self.limits.max_conditions} operations", self.pointer)
        self.claim(self.steps[first:], at)

    def claim(self, steps: list[Step], at: str) -> None:
        """MongoDB's rule: no two operations touch overlapping paths ("a" and "a.b", or "a" twice);
        $copy reads its source, which only conflicts with a write."""
        touched: list[tuple[tuple[str, ...], bool]] = []
        for step in steps:
            if step.kind is Kind.COPY:
                touched += [(step.path, False), (step.target, True)]
            else:
                touched.append((step.path, True))
        for path, written in touched:
            for other, other_written in self.claimed:
                if (written or other_written) and _overlap(path, other):
                    shorter = path if len(path) <= len(other) else other
                    _fail(
                        f"Updating the path {'.'.join(path)!r} would create a conflict at "
                        f"{'.'.join(shorter)!r}: one update may not touch a path twice, "
                        "or a path and a path inside it",
                        at,
                    )
        self.claimed += touched

    def add_operator(self, name: str, path_text: Any, value: Any, at: str, mongo: bool) -> None:
        path = self.path(path_text, at)
        add = self.steps.append
        if name == "$set":
            add(Step(Kind.SET, path, self.value(value, at)))
        elif name == "$unset":
            if not mongo and value is not True:
                _fail("$unset takes true", at)
            add(Step(Kind.UNSET, path))
        elif name in ("$inc", "$incr", "$decr"):
            amount = 1 if value is True and not mongo else value
            if isinstance(amount, bool) or not isinstance(amount, int | float):
                _fail(f"{name} takes a number" + ("" if mongo else " or true"), at)
            self.value(amount, at)
            add(Step(Kind.INC, path, -amount if name == "$decr" else amount))
        elif name in ("$push", "$lpush"):
            if mongo and isinstance(value, dict) and "$each" in value:
                if set(value) != {"$each"}:
                    _fail("Only $each is supported with $push", at)
                add(Step(Kind.PUSH, path, self.values(value["$each"], child(at, "$each"))))
            else:
                add(Step(Kind.PUSH, path, [self.value(value, at)], flag=name == "$lpush"))
        elif name in ("$extend", "$lextend"):
            add(Step(Kind.PUSH, path, self.values(value, at), flag=name == "$lextend"))
        elif name in ("$addset", "$addToSet"):
            if mongo and isinstance(value, dict) and "$each" in value:
                items = self.values(value["$each"], child(at, "$each"))
            elif not mongo and isinstance(value, list):
                items = self.values(value, at)
            else:
                items = [self.value(value, at)]
            add(Step(Kind.ADDSET, path, items))
        elif name in ("$pop", "$lpop"):
            if name == "$pop" and value in (1, -1) and not isinstance(value, bool):
                add(Step(Kind.POP, path, flag=value == -1))
            elif value is True:
                add(Step(Kind.POP, path, flag=name == "$lpop"))
            else:
                _fail(f"{name} takes true" + (" (or 1 / -1)" if name == "$pop" else ""), at)
        elif name == "$remove":
            add(Step(Kind.REMOVE, path, self.value(value, at)))
        elif name == "$pull":
            if isinstance(value, dict) and value:
                try:
                    tree = parse_element(value, at, self.limits)
                    validate(tree, self.limits)
                except InvalidQuery as error:
                    raise ValidationError(error.message, details=error.details) from None
                add(Step(Kind.PULL, path, condition=Planner({}).plan(tree, top=False, depth=1)))
            else:
                add(Step(Kind.REMOVE, path, self.value(value, at)))
        elif name in ("$clear", "$now", "$uuid", "$uuid4"):
            if value is not True:
                _fail(f"{name} takes true", at)
            kind = {"$clear": Kind.CLEAR, "$now": Kind.NOW}.get(name, Kind.UUID)
            add(Step(kind, path, flag=name == "$uuid4"))
        elif name in ("$rename", "$copy"):
            target = self.path(value, at)
            if name == "$rename" and _overlap(path, target):
                _fail("The source and the target of $rename must not be on the same path", at)
            add(Step(Kind.COPY, path, target=target))
            if name == "$rename":
                add(Step(Kind.UNSET, path))
        else:
            _fail(f"Unknown update operator {name!r}", at)


def parse_mutation(update: Any, pointer: str = "/data", limits: Limits = DEFAULT_LIMITS) -> list[Step]:
    return _MutationParser(limits).parse(update, pointer)


# --- rendering ----------------------------------------------------------------------------------
class _Chain:
    """Builds the nested sub-selects; ``x`` is the current document inside a step."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.current: exp.Expression = col("data")
        self.count = 0

    def step(self, build: Any) -> None:
        alias = f"m{self.count}"
        self.count += 1
        x = col("x", alias)
        # OFFSET 0 keeps PostgreSQL from pulling the sub-select up and substituting the
        # previous document for every use of x (which grows exponentially with the steps).
        inner = exp.select(exp.alias_(self.current, "x")).offset(sql.number(0)).subquery(alias)
        self.current = exp.Subquery(this=exp.select(build(x)).from_(inner))

    def path(self, parts: tuple[str, ...]) -> exp.Expression:
        return self.params.take("text[]")


def _ensure_parents(chain: _Chain, path: tuple[str, ...], guard: exp.Expression | None = None) -> None:
    """Make every parent of ``path`` a container for the next component (``_container``)."""
    for i in range(1, len(path)):
        parent = chain.path(path[:i])
        index = chain.params.take("numeric") if is_index(path[i]) else None

        def build(
            x: exp.Expression, parent: exp.Expression = parent, index: exp.Expression | None = index
        ) -> exp.Expression:
            kept = _container(sql.path_get(x.copy(), parent.copy()), index)
            return _guarded(x, guard, fn("jsonb_set", x.copy(), parent.copy(), kept, exp.true()))

        chain.step(build)


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


def _set(chain: _Chain, path: tuple[str, ...], value: Any, guard: exp.Expression | None = None) -> None:
    """``value(x)`` at ``path``, creating parents."""
    _ensure_parents(chain, path, guard)
    where = chain.path(path)
    chain.step(
        lambda x: _guarded(x, guard, fn("jsonb_set", x.copy(), where.copy(), value(x, where), exp.true()))
    )


def _current(x: exp.Expression, where: exp.Expression) -> exp.Expression:
    return sql.paren(sql.path_get(x.copy(), where.copy()))


def _array_or_new(current: exp.Expression, combine: exp.Expression, fresh: exp.Expression) -> exp.Expression:
    """``fresh`` when missing or null, ``combine`` for an array; anything else raises 22023
    (jsonb_array_length of a non-array)."""
    absent = _absent(current)
    is_array = exp.GTE(this=fn("jsonb_array_length", current.copy()), expression=sql.number(0))
    return case([(absent, fresh), (is_array, combine)], None)


def _filter_array(current: exp.Expression, keep: Any) -> exp.Expression:
    alias = "mf"
    element = col("e", alias)
    agg = fn("jsonb_agg", exp.Order(this=element.copy(), expressions=[exp.Ordered(this=col("i", alias))]))
    select = exp.select(exp.Coalesce(this=agg, expressions=[jsonb_literal("[]")])).from_(
        sql.with_ordinality(fn("jsonb_array_elements", current.copy()), alias, ["e", "i"])
    )
    return exp.Subquery(this=select.where(keep(element)))


def _render_step(chain: _Chain, step: Step) -> None:
    params = chain.params
    kind = step.kind
    if kind is Kind.SET:
        value = params.take("jsonb")
        _set(chain, step.path, lambda x, w: value.copy())
    elif kind is Kind.UNSET:
        where = chain.path(step.path)
        if len(step.path) == 1:
            chain.step(lambda x: exp.JSONBDeleteAtPath(this=x.copy(), expression=where.copy()))
        else:
            parent = chain.path(step.path[:-1])
            element = is_index(step.path[-1])

            def unset(x: exp.Expression) -> exp.Expression:
                # a missing path, or one through a scalar, is left alone (as in MongoDB); an array
                # element becomes null rather than shifting the others (MongoDB too)
                container = sql.path_get(x.copy(), parent.copy())
                deleted: exp.Expression = exp.JSONBDeleteAtPath(this=x.copy(), expression=where.copy())
                whens = [(_is_type(container, "object"), deleted)]
                if element:
                    nulled = fn("jsonb_set", x.copy(), where.copy(), jsonb_literal("null"), exp.false())
                    whens.append((_is_type(container, "array"), nulled))
                return case(whens, x.copy())

            chain.step(unset)
    elif kind is Kind.INC:
        amount = params.take("numeric")
        _set(
            chain,
            step.path,
            lambda x, w: fn(
                "to_jsonb",
                exp.Add(
                    # A missing field and a JSON null both count as 0. NULLIF first: PostgreSQL
                    # before 16 refuses to cast the jsonb null to numeric (later ones give NULL).
                    this=exp.Coalesce(
                        this=cast(
                            exp.Nullif(this=sql.paren(_current(x, w)), expression=jsonb_literal("null")),
                            "numeric",
                        ),
                        expressions=[sql.number(0)],
                    ),
                    expression=amount.copy(),
                ),
            ),
        )
    elif kind is Kind.PUSH:
        items = params.take("jsonb")

        def push(x: exp.Expression, w: exp.Expression) -> exp.Expression:
            current = _current(x, w)
            combined = (
                exp.DPipe(this=items.copy(), expression=current.copy())
                if step.flag
                else exp.DPipe(this=current.copy(), expression=items.copy())
            )
            return _array_or_new(current, combined, items.copy())

        _set(chain, step.path, push)
    elif kind is Kind.ADDSET:
        items = params.take("jsonb")
        _set(chain, step.path, lambda x, w: _add_to_set(_current(x, w), items))
    elif kind is Kind.POP:
        where = chain.path(step.path)
        index = sql.number(0) if step.flag else exp.Neg(this=sql.number(1))
        chain.step(
            lambda x: case(
                [(exp.Is(this=_current(x, where), expression=exp.null()), x.copy())],
                fn(
                    "jsonb_set",
                    x.copy(),
                    where.copy(),
                    exp.Sub(this=_current(x, where), expression=sql.paren(index.copy())),
                ),
            )
        )
    elif kind in (Kind.REMOVE, Kind.PULL):
        where = chain.path(step.path)
        if kind is Kind.REMOVE:
            value = params.take("jsonb")

            def kept(e: exp.Expression) -> exp.Expression:
                return exp.NEQ(this=e.copy(), expression=value.copy())
        else:
            assert step.condition is not None
            condition = step.condition.render(col("e", "mf"), params)

            def kept(e: exp.Expression) -> exp.Expression:
                return sql.not_(condition.copy())

        chain.step(
            lambda x: case(
                [(exp.Is(this=_current(x, where), expression=exp.null()), x.copy())],
                fn("jsonb_set", x.copy(), where.copy(), _filter_array(_current(x, where), kept)),
            )
        )
    elif kind is Kind.CLEAR:
        _set(chain, step.path, lambda x, w: jsonb_literal("[]"))
    elif kind is Kind.NOW:
        now = fn(
            "to_char",
            exp.AtTimeZone(this=fn("now"), zone=string("UTC")),
            string('YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        )
        _set(chain, step.path, lambda x, w: fn("to_jsonb", now.copy()))
    elif kind is Kind.UUID:
        text = cast(fn("gen_random_uuid"), "text")
        if not step.flag:
            text = fn("replace", text, string("-"), string(""))
        _set(chain, step.path, lambda x, w: fn("to_jsonb", text.copy()))
    else:  # COPY: only when the source exists
        source = chain.path(step.path)
        _set(chain, step.target, lambda x, w: _current(x, source), guard=source)


def _add_to_set(current: exp.Expression, items: exp.Expression) -> exp.Expression:
    alias, seen, earlier = "ma", "mc", "mu"
    element = col("e", alias)
    present = sql.exists(
        sql.select_one(
            sql.table_function(
                fn(
                    "jsonb_array_elements",
                    exp.Coalesce(
                        this=case(
                            [
                                (
                                    exp.EQ(this=typeof(current.copy()), expression=string("array")),
                                    current.copy(),
                                )
                            ],
                            None,
                        ),
                        expressions=[jsonb_literal("[]")],
                    ),
                ),
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


def _collect_step(step: Step, out: list[Any]) -> None:
    """Parameter values of one step, in the order ``_render_step`` takes them."""
    kind = step.kind

    def set_path(path: tuple[str, ...]) -> None:
        for i in range(1, len(path)):
            out.append(list(path[:i]))
            if is_index(path[i]):
                out.append(_index_value(path[i]))
        out.append(list(path))

    if kind is Kind.SET:
        out.append(_encode(step.value))
        set_path(step.path)
    elif kind is Kind.UNSET:
        out.append(list(step.path))
        if len(step.path) > 1:
            out.append(list(step.path[:-1]))
    elif kind is Kind.INC:
        out.append(step.value)
        set_path(step.path)
    elif kind in (Kind.PUSH, Kind.ADDSET):
        out.append(_encode(step.value))
        set_path(step.path)
    elif kind is Kind.POP:
        out.append(list(step.path))
    elif kind is Kind.REMOVE:
        out.append(list(step.path))
        out.append(_encode(step.value))
    elif kind is Kind.PULL:
        out.append(list(step.path))
        assert step.condition is not None
        step.condition.collect(out)
    elif kind in (Kind.CLEAR, Kind.NOW, Kind.UUID):
        set_path(step.path)
    else:
        out.append(list(step.path))
        set_path(step.target)


def _step_shape(step: Step) -> tuple[Any, ...]:
    # every component's index-ness shapes the SQL (parents padded or not), not only the last
    return (
        step.kind.value,
        tuple(is_index(p) for p in step.path),
        step.flag,
        tuple(is_index(p) for p in step.target),
        step.condition.shape if step.condition is not None else None,
    )


# --- declared-field checks after the update ----------------------------------------------------
def _type_ok(value: exp.Expression, kind: FieldType) -> exp.Expression:
    jtype = typeof(value.copy())
    if kind is FieldType.ANY:
        return exp.true()
    if kind in (FieldType.STRING, FieldType.OBJECT, FieldType.ARRAY, FieldType.BOOLEAN, FieldType.NUMBER):
        return exp.EQ(this=jtype, expression=string(kind.value))
    if kind is FieldType.INTEGER:
        number = cast(
            sql.paren(exp.JSONBExtractScalar(this=value.copy(), expression=string("{}"))), "numeric"
        )
        return case(
            [
                (
                    exp.EQ(this=jtype, expression=string("number")),
                    exp.EQ(this=number, expression=fn("trunc", number.copy())),
                )
            ],
            exp.false(),
        )
    text = exp.JSONBExtractScalar(this=value.copy(), expression=string("{}"))
    return sql.and_(
        exp.EQ(this=jtype, expression=string("string")),
        exp.RegexpLike(this=text, expression=string(ISO_PATTERN)),
    )


def _violations(fields: list[tuple[str, FieldType, bool]]) -> exp.Expression:
    """``text[]`` of declared fields whose value no longer fits (NULL-free)."""
    checks = []
    for name, kind, required in fields:
        value = sql.path_get(
            col("data"),
            cast(string("{" + ",".join(_quote_array(p) for p in field_path(name)) + "}"), "text[]"),
        )
        absent = exp.Or(
            this=exp.Is(this=value.copy(), expression=exp.null()),
            expression=exp.EQ(this=typeof(value.copy()), expression=string("null")),
        )
        bad = exp.false() if not required else exp.true()
        broken = case([(absent, bad)], exp.Not(this=sql.paren(_type_ok(value, kind))))
        checks.append(case([(broken, string(name))], None))
    array = exp.Array(expressions=checks) if checks else cast(exp.Array(expressions=[]), "text[]")
    return fn("array_remove", cast(array, "text[]"), exp.null())


def _quote_array(part: str) -> str:
    return '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'


def compile_update(
    collection: Collection,
    criteria: Any,
    update: Any,
    *,
    pointer: str = "/match",
    update_pointer: str = "/data",
    required: frozenset[str] = frozenset(),
    limits: Limits = DEFAULT_LIMITS,
) -> UpdateQuery:
    """One ``UPDATE ... SET data = <mutation>, _modified_at = now() WHERE <criteria>
    RETURNING doc, invalid`` for every matching document."""
    node = _plan(collection, criteria, pointer, limits)
    steps = parse_mutation(update, update_pointer, limits)
    written = [s.path for s in steps] + [s.target for s in steps if s.target]
    checked = [
        (name, FieldType(kind), name in required)
        for name, kind in collection.fields.items()
        if any(_overlap(field_path(name), p) for p in written)
    ]
    key = (
        "update",
        collection.schema,
        collection.table,
        node.shape,
        tuple(_step_shape(s) for s in steps),
        tuple((n, k.value, r) for n, k, r in checked),
    )

    def build() -> str:
        params = Params()
        where = _where(node, params)
        chain = _Chain(params)
        for step in steps:
            _render_step(chain, step)
        statement = exp.update(
            sql.qualified_table(collection.schema, collection.table),
            {"data": chain.current, "_modified_at": fn("now")},
            where=where,
        )
        statement.set(
            "returning",
            exp.Returning(
                expressions=[
                    exp.alias_(document_expression(), "doc"),
                    exp.alias_(_violations(checked), "invalid"),
                ]
            ),
        )
        return sql.render(statement)

    text = SQL_CACHE.get(key, build)
    values: list[Any] = []
    node.collect(values)
    for step in steps:
        _collect_step(step, values)
    return UpdateQuery(statement=Compiled(text, tuple(_numeric(v) for v in values)), paths=tuple(written))


def _numeric(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value

"""The mutation language (SPEC §9.4) → one ``UPDATE ... RETURNING`` per request.

Both spellings parse into a list of steps applied in order:

* DDO: ``{"name": "x", "count:$incr": 1, "tags:$push": "a"}``;
* MongoDB: ``{"$set": {...}, "$inc": {...}, "$unset": {...}, "$push": {...},
  "$addToSet": {...}, "$pull": {...}}`` (plus ``$pop``, ``$rename`` and the DDO names).

Each step rewrites the document once, inside its own scalar sub-select
(``(SELECT f(m.x) FROM (SELECT <previous> AS x) AS m)``), so a step may use
the current document several times without the SQL growing exponentially.
A step on a value of the wrong type ($incr on a string, $push on an object)
raises SQLSTATE 22023 in PostgreSQL and the whole statement rolls back.
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
from pgcube.query.fields import ISO_PATTERN, FieldType, document_expression, field_path
from pgcube.query.ir import DEFAULT_LIMITS, Limits
from pgcube.query.nodes import PNode
from pgcube.query.parse import parse_element
from pgcube.query.plan import Planner
from pgcube.query.pointer import child
from pgcube.query.sql import Params, case, cast, col, fn, jsonb_literal, string, typeof
from pgcube.query.validate import check_json, validate

_encode = msgspec.json.encode
SYSTEM_NAMES = frozenset({"_key", "_id", "_userkey", "_created_at", "_modified_at"})


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

    def parse(self, update: Any, pointer: str) -> list[Step]:
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
        if len(self.steps) > self.limits.max_conditions:
            _fail(f"An update has at most {self.limits.max_conditions} operations", pointer)
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
    """Make every parent of ``path`` an object (an array stays when the next key is a number)."""
    for i in range(1, len(path)):
        parent = chain.path(path[:i])
        keep = ["object", "array"] if path[i].isdigit() else ["object"]

        def build(
            x: exp.Expression, parent: exp.Expression = parent, keep: list[str] = keep
        ) -> exp.Expression:
            current = sql.path_get(x.copy(), parent.copy())
            kept = case(
                [(exp.In(this=typeof(current), expressions=[string(k) for k in keep]), current.copy())],
                jsonb_literal("{}"),
            )
            updated = fn("jsonb_set", x.copy(), parent.copy(), kept, exp.true())
            return _guarded(x, guard, updated)

        chain.step(build)


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
    absent = exp.Or(
        this=exp.Is(this=current.copy(), expression=exp.null()),
        expression=exp.EQ(this=typeof(current.copy()), expression=string("null")),
    )
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
            keep = ["object", "array"] if step.path[-1].isdigit() else ["object"]
            chain.step(
                lambda x: case(
                    [
                        (
                            exp.In(
                                this=typeof(sql.path_get(x.copy(), parent.copy())),
                                expressions=[string(k) for k in keep],
                            ),
                            exp.JSONBDeleteAtPath(this=x.copy(), expression=where.copy()),
                        )
                    ],
                    x.copy(),
                )
            )
    elif kind is Kind.INC:
        amount = params.take("numeric")
        _set(
            chain,
            step.path,
            lambda x, w: fn(
                "to_jsonb",
                exp.Add(
                    this=exp.Coalesce(
                        this=cast(sql.paren(_current(x, w)), "numeric"), expressions=[sql.number(0)]
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

    def set_path(path: tuple[str, ...], guard: list[str] | None = None) -> None:
        for i in range(1, len(path)):
            out.append(list(path[:i]))
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
    return (
        step.kind.value,
        len(step.path),
        step.path[-1].isdigit(),
        tuple(p.isdigit() for p in step.path) if step.kind is Kind.SET else (),
        step.flag,
        len(step.target),
        tuple(p.isdigit() for p in step.target),
        step.condition.shape if step.condition is not None else None,
    )


# --- declared-field checks after the update ----------------------------------------------------
def _touches(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


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
        if any(_touches(field_path(name), p) for p in written)
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

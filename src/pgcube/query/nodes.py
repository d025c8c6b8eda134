"""Plan nodes: what each predicate becomes in SQL.

Each node knows three things, kept side by side so they cannot drift apart:

* ``shape`` — a hashable description of the SQL it renders (never values,
  never request paths), the key of the SQL cache;
* ``collect(out)`` — its parameter values, in rendering order;
* ``render(target, params)`` — the sqlglot tree, asking ``params`` for one
  ``$n`` per collected value, in the same order.

``target`` is the jsonb the predicate looks at: ``data`` for the document, an
array element inside ``$elemMatch``.
"""

from __future__ import annotations

import typing
from typing import Any

from sqlglot import exp

from pgcube.query import sql
from pgcube.query.fields import FieldType, index_expression
from pgcube.query.sql import Params, and_, col, fn, jsonb_literal, not_, or_, string, typeof

Shape = tuple[Any, ...]

_COMPARISONS: dict[str, type[exp.Binary]] = {
    "=": exp.EQ,
    ">": exp.GT,
    ">=": exp.GTE,
    "<": exp.LT,
    "<=": exp.LTE,
    "~": exp.RegexpLike,
    "like": exp.Like,
    "ilike": exp.ILike,
}


def compare(op: str, left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return typing.cast(exp.Expression, _COMPARISONS[op](this=left, expression=right))


class PNode:
    __slots__ = ()

    shape: Shape

    def collect(self, out: list[Any]) -> None:
        raise NotImplementedError

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        raise NotImplementedError


class Const(PNode):
    __slots__ = ("shape", "value")

    def __init__(self, value: bool) -> None:
        self.value = value
        self.shape = ("const", value)

    def collect(self, out: list[Any]) -> None:
        return

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        return exp.true() if self.value else exp.false()


TRUE = Const(True)
FALSE = Const(False)


class Gin(PNode):
    """``data @@ $n::jsonpath`` with only ``==``, ``&&``, ``||``: served by GIN ``jsonb_path_ops``."""

    __slots__ = ("jsonpath",)
    shape: Shape = ("gin",)

    def __init__(self, jsonpath: str) -> None:
        self.jsonpath = jsonpath

    def collect(self, out: list[Any]) -> None:
        out.append(self.jsonpath)

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        return exp.MatchAgainst(this=params.take("jsonpath"), expressions=[target.copy()])


class Match(PNode):
    """``jsonb_path_match(target, $n::jsonpath, vars, true)``: a residual the planner never
    turns into an index qual (DESIGN §4); ``true`` = silent, so a bad comparison is NULL."""

    __slots__ = ("jsonpath", "shape", "vars")

    def __init__(self, jsonpath: str, vars: bytes | None = None) -> None:
        self.jsonpath = jsonpath
        self.vars = vars
        self.shape = ("match", vars is not None)

    def collect(self, out: list[Any]) -> None:
        out.append(self.jsonpath)
        if self.vars is not None:
            out.append(self.vars)

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        path = params.take("jsonpath")
        variables = params.take("jsonb") if self.vars is not None else jsonb_literal("{}")
        return fn("jsonb_path_match", target.copy(), path, variables, exp.true())


class DeepEq(PNode):
    """Equality with an array or object: some value at the path equals it, or holds it."""

    __slots__ = ("jsonpath", "shape", "value")

    def __init__(self, jsonpath: str | None, value: bytes) -> None:
        self.jsonpath = jsonpath
        self.value = value
        self.shape = ("deep", jsonpath is None)

    def collect(self, out: list[Any]) -> None:
        if self.jsonpath is not None:
            out.append(self.jsonpath)
        out.append(self.value)

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        if self.jsonpath is None:  # an array element itself: no traversal
            return exp.EQ(this=target.copy(), expression=params.take("jsonb"))
        path = params.take("jsonpath")
        value = params.take("jsonb")
        x = col("x", "dq_v")
        y = col("y", "dq_e")
        holds = sql.exists(
            sql.select_one(
                sql.table_function(fn("jsonb_array_elements", x), "dq_e", ["y"]),
                where=exp.EQ(this=y, expression=value.copy()),
            )
        )
        cond = or_(
            exp.EQ(this=x.copy(), expression=value),
            sql.paren(and_(exp.EQ(this=typeof(x.copy()), expression=string("array")), holds)),
        )
        source = sql.table_function(fn("jsonb_path_query", target.copy(), path), "dq_v", ["x"])
        return sql.exists(sql.select_one(source, where=cond))


class Text(PNode):
    """A string test (regex, LIKE, ILIKE) on any string value or string array element at a path."""

    __slots__ = ("jsonpath", "kind", "pattern", "shape")

    def __init__(self, jsonpath: str, kind: str, pattern: str) -> None:
        self.jsonpath = jsonpath
        self.kind = kind
        self.pattern = pattern
        self.shape = ("text", kind)

    def collect(self, out: list[Any]) -> None:
        out += (self.jsonpath, self.pattern)

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        path = params.take("jsonpath")
        x = col("x", "tx_v")
        text = sql.paren(exp.JSONBExtractScalar(this=x.copy(), expression=string("{}")))
        test = compare(self.kind, text, params.take("text"))
        cond = and_(exp.EQ(this=typeof(x), expression=string("string")), test)
        source = sql.table_function(fn("jsonb_path_query", target.copy(), path), "tx_v", ["x"])
        return sql.exists(sql.select_one(source, where=cond))


class Column(PNode):
    """A comparison on a system column (``_key`` goes to the primary key)."""

    __slots__ = ("column", "op", "shape", "sql_type", "value")

    def __init__(self, column: str, op: str, value: Any = None, sql_type: str = "text") -> None:
        self.column = column
        self.op = op
        self.value = value
        self.sql_type = sql_type
        self.shape = ("col", column, op, sql_type)

    def collect(self, out: list[Any]) -> None:
        if self.op not in ("is_null", "not_null"):
            out.append(self.value)

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        column = col(self.column)
        if self.op == "is_null":
            return exp.Is(this=column, expression=exp.null())
        if self.op == "not_null":
            return exp.Not(this=exp.Is(this=column, expression=exp.null()))
        if self.op == "any":
            return exp.EQ(this=column, expression=exp.Any(this=sql.paren(params.take(self.sql_type + "[]"))))
        return compare(self.op, column, params.take(self.sql_type))


INDEX_SQL_TYPES = {
    FieldType.STRING: "text",
    FieldType.NUMBER: "numeric",
    FieldType.INTEGER: "numeric",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "numeric",
    FieldType.DATETIME: "numeric",
}
"""The SQL type of a declared scalar field's index expression: of a value compared with it
(``Indexed``), of a keyset cursor's value cast back to it (``query.sort``)."""


class Indexed(PNode):
    """A range on a declared scalar field, as exactly the expression of its B-tree index."""

    __slots__ = ("field", "field_type", "op", "shape", "value")

    def __init__(self, field: str, field_type: FieldType, op: str, value: Any) -> None:
        self.field = field
        self.field_type = field_type
        self.op = op
        self.value = value
        self.shape = ("idx", field, field_type.value, op)

    def collect(self, out: list[Any]) -> None:
        out.append(self.value)

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        expression = index_expression(self.field, self.field_type)
        assert expression is not None  # the planner only builds Indexed for scalar fields
        return compare(self.op, expression, params.take(INDEX_SQL_TYPES[self.field_type]))


class Elem(PNode):
    """``$elemMatch``: EXISTS over the elements of the arrays at a path."""

    __slots__ = ("body", "depth", "jsonpath", "objects_only", "shape")

    def __init__(self, jsonpath: str, body: PNode, objects_only: bool, depth: int) -> None:
        self.jsonpath = jsonpath
        self.body = body
        self.objects_only = objects_only
        self.depth = depth
        self.shape = ("elem", objects_only, depth, body.shape)

    def collect(self, out: list[Any]) -> None:
        out.append(self.jsonpath)
        self.body.collect(out)

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        arrays, elements = f"em{self.depth}_a", f"em{self.depth}_e"
        path = params.take("jsonpath")
        element = col("y", elements)
        body = self.body.render(element, params)
        if self.objects_only:
            body = and_(exp.EQ(this=typeof(element.copy()), expression=string("object")), body)
        return sql.exists(
            sql.select_one(
                sql.table_function(fn("jsonb_path_query", target.copy(), path), arrays, ["x"]),
                sql.table_function(fn("jsonb_array_elements", col("x", arrays)), elements, ["y"]),
                where=body,
            )
        )


class And(PNode):
    __slots__ = ("children", "shape")

    def __init__(self, children: list[PNode]) -> None:
        self.children = children
        self.shape = ("and", *(c.shape for c in children))

    def collect(self, out: list[Any]) -> None:
        for c in self.children:
            c.collect(out)

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        return and_(*(c.render(target, params) for c in self.children))


class Or(PNode):
    __slots__ = ("children", "shape")

    def __init__(self, children: list[PNode]) -> None:
        self.children = children
        self.shape = ("or", *(c.shape for c in children))

    def collect(self, out: list[Any]) -> None:
        for c in self.children:
            c.collect(out)

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        return or_(*(c.render(target, params) for c in self.children))


class Not(PNode):
    __slots__ = ("child", "shape")

    def __init__(self, child: PNode) -> None:
        self.child = child
        self.shape = ("not", child.shape)

    def collect(self, out: list[Any]) -> None:
        self.child.collect(out)

    def render(self, target: exp.Expression, params: Params) -> exp.Expression:
        return not_(self.child.render(target, params))

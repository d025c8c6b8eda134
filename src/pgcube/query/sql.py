"""Small builders for sqlglot trees, so the compiler never writes SQL as text.

Every value reaches PostgreSQL as a numbered parameter (``$n``) with an
explicit cast, so asyncpg knows its type without a round trip. ``Params``
hands out the numbers in the order the renderer asks for them; the values
themselves are collected elsewhere, in the same order (see ``render``).
"""

from __future__ import annotations

import functools

from sqlglot import exp

DIALECT = "postgres"

_TYPES: dict[str, exp.DataType] = {}


def sql_type(name: str) -> exp.DataType:
    """A (cached) sqlglot data type; unknown names such as ``jsonpath`` become user-defined."""
    found = _TYPES.get(name)
    if found is None:
        found = exp.DataType.build(name, dialect=DIALECT, udt=True)
        _TYPES[name] = found
    return found.copy()


class Params:
    """Allocates ``$1, $2, ...`` in rendering order."""

    __slots__ = ("next",)

    def __init__(self, first: int = 1) -> None:
        self.next = first

    def take(self, type_name: str) -> exp.Expression:
        node = exp.Parameter(this=exp.Literal.number(self.next))
        self.next += 1
        return cast(node, type_name)


def cast(node: exp.Expression, type_name: str) -> exp.Expression:
    return exp.Cast(this=node, to=sql_type(type_name))


def fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table)


def string(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def number(value: int) -> exp.Expression:
    return exp.Literal.number(value)


def jsonb_literal(text: str) -> exp.Expression:
    return cast(string(text), "jsonb")


def arrow(target: exp.Expression, key: exp.Expression) -> exp.Expression:
    """``target -> key`` (a jsonb member or element)."""
    return exp.JSONExtract(this=target, expression=key)


def arrow_text(target: exp.Expression, key: exp.Expression) -> exp.Expression:
    """``target ->> key`` (as text)."""
    return exp.JSONExtractScalar(this=target, expression=key)


def path_get(target: exp.Expression, path: exp.Expression) -> exp.Expression:
    """``target #> path`` (text[] path)."""
    return exp.JSONBExtract(this=target, expression=path)


def typeof(node: exp.Expression) -> exp.Expression:
    return fn("jsonb_typeof", node)


def paren(node: exp.Expression) -> exp.Expression:
    return exp.Paren(this=node)


def and_(*nodes: exp.Expression) -> exp.Expression:
    parts = [n for n in nodes if not _is_true(n)]
    if not parts:
        return exp.true()
    if any(_is_false(n) for n in parts):
        return exp.false()
    result = _wrap(parts[0], exp.Or)
    for node in parts[1:]:
        result = exp.And(this=result, expression=_wrap(node, exp.Or))
    return result


def or_(*nodes: exp.Expression) -> exp.Expression:
    parts = [n for n in nodes if not _is_false(n)]
    if not parts:
        return exp.false()
    if any(_is_true(n) for n in parts):
        return exp.true()
    result = parts[0]
    for node in parts[1:]:
        result = exp.Or(this=result, expression=node)
    return paren(result) if len(parts) > 1 else result


def not_(node: exp.Expression) -> exp.Expression:
    """``NOT coalesce(node, false)``: a predicate that yields NULL counts as false (DESIGN §3)."""
    if _is_true(node):
        return exp.false()
    if _is_false(node):
        return exp.true()
    return exp.Not(this=exp.Coalesce(this=node, expressions=[exp.false()]))


def case(
    whens: list[tuple[exp.Expression, exp.Expression]], default: exp.Expression | None
) -> exp.Expression:
    node = exp.Case(ifs=[exp.If(this=c, true=v) for c, v in whens])
    if default is not None:
        node.set("default", default)
    return node


def exists(select: exp.Select) -> exp.Expression:
    return exp.Exists(this=select)


def table_function(call: exp.Expression, alias: str, columns: list[str]) -> exp.Expression:
    return exp.Table(
        this=call,
        alias=exp.TableAlias(this=exp.to_identifier(alias), columns=[exp.to_identifier(c) for c in columns]),
    )


def with_ordinality(call: exp.Expression, alias: str, columns: list[str]) -> exp.Expression:
    """``call WITH ORDINALITY AS alias(columns)``."""
    node = table_function(call, alias, columns)
    node.set("ordinality", True)
    return node


def select_one(*sources: exp.Expression, where: exp.Expression | None = None) -> exp.Select:
    """``SELECT 1 FROM sources... [WHERE where]`` for EXISTS."""
    sel = exp.select(number(1)).from_(sources[0], copy=False)
    for source in sources[1:]:
        sel = sel.join(source, join_type="cross", copy=False)
    if where is not None:
        sel = sel.where(where, copy=False)
    return sel


MAX_IDENTIFIER_BYTES = 63
"""PostgreSQL's NAMEDATALEN - 1: longer identifiers are silently truncated."""


def identifier(name: str) -> exp.Identifier:
    """``name`` as a quoted identifier: the only identifier quoting in pgcube. Trees render it;
    ``quote_ident`` renders it alone for the statements written as text (DDL, a few others).
    Names come from the management gate (``management.naming``), never from request text."""
    if not name or "\x00" in name or len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise ValueError(f"not a usable identifier: {name!r}")
    return exp.to_identifier(name, quoted=True)


@functools.lru_cache(maxsize=4096)
def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (``"a""b"``)."""
    return render(identifier(name))


def qualified_table(schema: str, table: str) -> exp.Table:
    """``"schema"."table"`` as a tree."""
    return exp.Table(this=identifier(table), db=identifier(schema))


def qualified(schema: str, name: str) -> str:
    """``"schema"."name"`` as text."""
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def render(node: exp.Expression) -> str:
    return node.sql(dialect=DIALECT)


def _is_true(node: exp.Expression) -> bool:
    return isinstance(node, exp.Boolean) and node.this is True


def _is_false(node: exp.Expression) -> bool:
    return isinstance(node, exp.Boolean) and node.this is False


def _wrap(node: exp.Expression, kind: type[exp.Expression]) -> exp.Expression:
    return paren(node) if isinstance(node, kind) else node

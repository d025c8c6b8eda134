"""The public entry points: request parts in, SQL text and parameters out.

Each call runs parse → validate → plan, then renders through the shape cache:
a cached shape costs only the walk that collects parameter values.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from sqlglot import exp

from pgcube.query import sql
from pgcube.query.cache import SQL_CACHE
from pgcube.query.cursor import Cursor, decode_cursor, encode_cursor, fingerprint
from pgcube.query.fields import ROW_COLUMNS, FieldType, document_expression, field_path
from pgcube.query.ir import DEFAULT_LIMITS, Limits
from pgcube.query.nodes import TRUE, Column, PNode
from pgcube.query.parse import parse
from pgcube.query.plan import Planner
from pgcube.query.pointer import fail
from pgcube.query.projection import Projection, parse_projection
from pgcube.query.sort import Sort, parse_sort
from pgcube.query.sql import Params, col
from pgcube.query.validate import validate


class Collection(msgspec.Struct, frozen=True, kw_only=True):
    """Where a collection lives and what it declares. Names come from the catalog
    (already through the management naming gate), never from a request."""

    schema: str
    table: str
    fields: dict[str, str] = {}
    indexed: frozenset[str] = frozenset()
    """Declared fields a B-tree covers (their own index, or a declared index over them): an
    equality on one is compared as its typed expression, which that B-tree serves."""

    def declared(self) -> dict[tuple[str, ...], FieldType]:
        """Each declared field's path and type (shared: do not change it)."""
        return _declared(tuple(self.fields.items()))


@functools.lru_cache(maxsize=4096)
def _declared(fields: tuple[tuple[str, str], ...]) -> dict[tuple[str, ...], FieldType]:
    return {field_path(name): FieldType(kind) for name, kind in fields}


class Pointers(msgspec.Struct, frozen=True, kw_only=True):
    """JSON pointers of each request part, for error details (DDO names by default)."""

    criteria: str = "/match"
    sort: str = "/sort"
    projection: str = "/filter"
    cursor: str = "/cursor"
    limit: str = "/limit"
    offset: str = "/offset"
    page: str = "/page"
    per_page: str = "/per_page"


DDO_POINTERS = Pointers()
REST_POINTERS = Pointers(criteria="/filters", projection="/fields", per_page="/page_size")


class Compiled(msgspec.Struct, frozen=True):
    """One statement (or WHERE fragment) and its parameters, ready for asyncpg."""

    sql: str
    params: tuple[Any, ...]


class FindQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A page of documents.

    ``select`` returns rows ``(doc, cursor, total)``: ``doc`` the document as
    JSON bytes, ``cursor`` the sort values of that row, ``total`` the number of
    matches when the page cannot tell it (a full page, a cursor page), else
    null. It fetches ``limit + 1`` rows: a row beyond ``limit`` means there is
    a next page (drop it). ``count`` (the total on its own) is None when the
    caller asked for ``count: "none"``; the select then has no total either.
    """

    select: Compiled
    count: Compiled | None
    limit: int
    offset: int
    page: int
    keyset: bool
    sort_fingerprint: str

    def next_cursor(self, last_row_cursor: bytes) -> str:
        """The ``next_cursor`` token for the page that ended with this row's ``cursor`` column."""
        return encode_cursor(self.sort_fingerprint, last_row_cursor)


def plan_criteria(collection: Collection, criteria: Any, pointer: str, limits: Limits) -> PNode:
    """Criteria → parse → validate → plan: the node that renders the WHERE condition
    (``node.render(col("data"), params)``) and collects its values, for every entry point
    that compiles criteria (``compile_update`` too)."""
    tree = parse(criteria, pointer, limits)
    validate(tree, limits)
    return Planner(collection.declared(), collection.indexed).plan(tree)


def _where(node: PNode, params: Params) -> exp.Expression:
    return node.render(col("data"), params)


def compile_where(
    collection: Collection,
    criteria: Any,
    *,
    pointer: str = "/match",
    limits: Limits = DEFAULT_LIMITS,
) -> Compiled:
    """A WHERE condition (without the keyword) over the collection's table, parameters from ``$1``."""
    node = plan_criteria(collection, criteria, pointer, limits)
    text = SQL_CACHE.get(("where", node.shape), lambda: sql.render(_where(node, Params())))
    values: list[Any] = []
    node.collect(values)
    return Compiled(text, tuple(values))


def compile_count(
    collection: Collection, criteria: Any, *, pointer: str = "/match", limits: Limits = DEFAULT_LIMITS
) -> Compiled:
    node = plan_criteria(collection, criteria, pointer, limits)
    return _count(collection, node)


def _count(collection: Collection, node: PNode) -> Compiled:
    def build() -> str:
        select = exp.select(exp.Count(this=exp.Star())).from_(
            sql.qualified_table(collection.schema, collection.table)
        )
        return sql.render(select.where(_where(node, Params()), copy=False))

    text = SQL_CACHE.get(("count", collection.schema, collection.table, node.shape), build)
    values: list[Any] = []
    node.collect(values)
    return Compiled(text, tuple(values))


def compile_find(
    collection: Collection,
    criteria: Any = None,
    *,
    sort: Any = None,
    projection: Any = None,
    limit: Any = None,
    offset: Any = None,
    page: Any = None,
    per_page: Any = None,
    cursor: Any = None,
    count: bool = True,
    pointers: Pointers = DDO_POINTERS,
    limits: Limits = DEFAULT_LIMITS,
) -> FindQuery:
    """``collection.find`` / ``GET /api/crud``: the page query and (unless ``count``
    is false) the total count query."""
    node = plan_criteria(collection, criteria, pointers.criteria, limits)
    declared = collection.declared()
    order = parse_sort(sort, declared, pointers.sort)
    shown = parse_projection(projection, pointers.projection)
    size, skip, number = resolve_page(limit, offset, page, per_page, limits, pointers, cursor is not None)
    values: list[Any] = []
    node.collect(values)
    if cursor is None and _is_point_lookup(node):
        # One row at most: no next page, so no cursor to fingerprint the sort for.
        sort_id = ""
        shape = shown.shape if shown is not None else None
        text = SQL_CACHE.get(
            ("find-key", collection.schema, collection.table, shape),
            lambda: _render_point_lookup(collection, node, shown),
        )
        if shown is not None:
            shown.collect(values)
        values.append(skip)
    else:
        sort_paths: list[Any] = []
        order.collect(sort_paths)
        sort_id = fingerprint(order.shape, sort_paths)
        after: Cursor | None = None
        if cursor is not None:
            after = decode_cursor(cursor, sort_id, [k.value_type for k in order.keys], pointers.cursor)
            skip, number = 0, 1
        key = (
            "find",
            collection.schema,
            collection.table,
            node.shape,
            order.shape,
            shown.shape if shown is not None else None,
            after.nulls if after is not None else None,
            count,
        )
        text = SQL_CACHE.get(key, lambda: _render_find(collection, node, order, shown, after, count))
        if after is not None:
            values.append(after.raw)
        values += sort_paths
        if shown is not None:
            shown.collect(values)
        values += [size + 1, skip]
    return FindQuery(
        select=Compiled(text, tuple(values)),
        count=_count(collection, node) if count else None,
        limit=size,
        offset=skip,
        page=number,
        keyset=cursor is not None,
        sort_fingerprint=sort_id,
    )


def _is_point_lookup(node: PNode) -> bool:
    """Criteria that are one ``_key`` equality: the primary key finds at most one row."""
    return isinstance(node, Column) and node.column == "_key" and node.op == "="


def _render_point_lookup(collection: Collection, node: PNode, shown: Projection | None) -> str:
    """A find by one ``_key``: at most one row, so no order, page window or count to compute —
    the page statement's machinery (subquery, sort keys, window, count branch) would only cost
    PostgreSQL planning time on the most common request there is. Same columns as a page
    (``doc``, ``cursor``, ``total``); the sort is still parsed and checked."""
    params = Params()
    where = _where(node, params)
    document = shown.render(params) if shown is not None else document_expression()
    select = exp.select(
        exp.alias_(document, "doc"),
        exp.alias_(sql.cast(exp.null(), "jsonb"), "cursor"),
        exp.alias_(sql.cast(exp.null(), "bigint"), "total"),
    ).from_(sql.qualified_table(collection.schema, collection.table))
    return sql.render(select.where(where, copy=False).offset(params.take("bigint"), copy=False))


def _render_find(
    collection: Collection,
    node: PNode,
    order: Sort,
    shown: Projection | None,
    after: Cursor | None,
    with_total: bool,
) -> str:
    """Page first, documents after (ADR 0010)::

        SELECT <document> AS doc, jsonb_build_array(k0, ..., kn) AS cursor,
               CASE WHEN count(*) OVER () >= $n THEN (SELECT count(*) FROM t WHERE <criteria>) END AS total
        FROM (SELECT <row columns>, <sort key 0> AS k0, ... FROM t
              WHERE <criteria> [AND <after the cursor>] ORDER BY <sort keys> LIMIT $n OFFSET $m) AS page
        ORDER BY k0, ..., kn

    The inner query picks the rows with exactly the index expressions (so the same
    indexes serve it); the outer one builds the answer only for the rows of the page.
    PostgreSQL never flattens a subquery with LIMIT, and keeps its order for the outer
    ORDER BY without sorting again. The total rides in the same statement (one round
    trip, ADR 0013) and is counted only when the page cannot tell it — a full page
    (``limit + 1`` rows) or a cursor page: PostgreSQL runs a scalar subquery in a CASE
    branch only when the branch is taken. The count renders the criteria with the same
    parameter numbers as the page (the criteria's values come first).
    """
    params = Params()
    where = _where(node, params)
    if after is not None:
        cursor_values = params.take("jsonb")
        keys = order.expressions(params)
        where = sql.and_(where, sql.paren(order.after(keys, cursor_values, after.nulls)))
    else:
        keys = order.expressions(params)
    names = [f"k{i}" for i in range(len(keys))]
    picked = exp.select(
        *(col(name) for name in ROW_COLUMNS),
        *(exp.alias_(key.copy(), name) for key, name in zip(keys, names, strict=True)),
    ).from_(sql.qualified_table(collection.schema, collection.table))
    picked = picked.where(where, copy=False).order_by(*order.order_by(keys), copy=False)
    document = shown.render(params) if shown is not None else document_expression()
    fetched = params.take("bigint")
    picked = picked.limit(fetched, copy=False).offset(params.take("bigint"), copy=False)
    page_keys: list[exp.Expression] = [col(name, PAGE) for name in names]
    columns = [
        exp.alias_(document, "doc"),
        exp.alias_(sql.fn("jsonb_build_array", *(k.copy() for k in page_keys)), "cursor"),
    ]
    if with_total:
        columns.append(exp.alias_(_total(collection, node, fetched, keyset=after is not None), "total"))
    select = exp.select(*columns).from_(
        exp.Subquery(this=picked, alias=exp.TableAlias(this=exp.to_identifier(PAGE)))
    )
    return sql.render(select.order_by(*order.order_by(page_keys), copy=False))


def _total(collection: Collection, node: PNode, fetched: exp.Expression, *, keyset: bool) -> exp.Expression:
    """The number of matches, for the rows of a page that cannot tell it itself."""
    counted = exp.select(exp.Count(this=exp.Star())).from_(
        sql.qualified_table(collection.schema, collection.table)
    )
    total = exp.Subquery(this=counted.where(_where(node, Params()), copy=False))
    if keyset:
        return total
    page_rows = exp.Window(this=exp.Count(this=exp.Star()))
    return exp.Case(ifs=[exp.If(this=exp.GTE(this=page_rows, expression=fetched.copy()), true=total)])


PAGE = "page"
"""The alias of the inner query of a find: its row columns and sort keys ``k0 ... kn``."""


MAX_OFFSET = 2**31 - 1
"""The deepest offset (``offset``, or ``(page - 1) * per_page``) a page may start at; deeper
pages are a 400 (walk them with ``cursor``, which is keyset pagination)."""


def resolve_page(
    limit: Any,
    offset: Any,
    page: Any,
    per_page: Any,
    limits: Limits,
    pointers: Pointers,
    keyset: bool = False,
) -> tuple[int, int, int]:
    """(page size, offset, page number) from limit/offset or page/per_page (page wins).
    With ``keyset`` (a cursor), offset and page are ignored, so their depth is not bounded."""

    def number(value: Any, pointer: str, minimum: int, maximum: int | None, why: str = "") -> int | None:
        if value is None:
            return None
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            digits = value.strip().lstrip("0") or "0"
            value = int(digits) if len(digits) <= 19 else 2**64  # int() of huge text is slow
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            fail(f"Expected an integer of at least {minimum}", pointer)
        if maximum is not None and value > maximum:
            fail(f"At most {maximum}{why}", pointer)
        return value

    top = limits.max_page_size
    size = number(per_page, pointers.per_page, 1, top) if page is not None else None
    if size is None:
        size = number(limit, pointers.limit, 1, top)
    if size is None:
        size = number(per_page, pointers.per_page, 1, top) or limits.default_page_size
    deep = f" (pages start at offset {MAX_OFFSET} at the latest; go deeper with cursor)"
    deepest_page = None if keyset else MAX_OFFSET // size + 1
    page_number = number(page, pointers.page, 1, deepest_page, f" with {size} per page{deep}")
    if page_number is not None:
        return size, (page_number - 1) * size, page_number
    skip = number(offset, pointers.offset, 0, None if keyset else MAX_OFFSET, deep) or 0
    return size, skip, skip // size + 1


def matches_everything(
    collection: Collection, criteria: Any, *, pointer: str = "/match", limits: Limits = DEFAULT_LIMITS
) -> bool:
    """Whether the criteria hold for every document (``{}``, ``{"$and": [{}]}``,
    ``{"$or": [{"a": 1}, {}]}`` …): what a route that asks for consent before touching a whole collection must know."""
    return plan_criteria(collection, criteria, pointer, limits) is TRUE

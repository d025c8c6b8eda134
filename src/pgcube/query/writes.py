"""The document writes other than updates — insert, delete, into the trash and back — one
statement each, as trees with the compiler's parameter numbering, cached by shape. The trash
(``management.ddl``): one ``_trash`` table per schema holds the rows of deleted and archived
documents under the ``_ref`` of the operation that moved them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from pgcube.query import sql
from pgcube.query.cache import SQL_CACHE
from pgcube.query.compiler import Collection, Compiled, plan_criteria
from pgcube.query.fields import ROW_COLUMNS, document_expression, timestamp_value
from pgcube.query.ir import DEFAULT_LIMITS, Limits
from pgcube.query.nodes import PNode
from pgcube.query.sql import Params, col, string

TRASH_TABLE = "_trash"
"""The table of deleted and archived documents in every schema (a reserved collection name)."""

TRASH_KEY = ("collection", "_ref", "kind")
"""The columns of ``_trash`` before a document's row: where it came from, which operation, why."""


def compile_insert(
    collection: Collection,
    keys: Sequence[str],
    documents: Sequence[bytes],
    user_keys: Sequence[str | None] | None = None,
) -> Compiled:
    """One ``INSERT ... SELECT ... FROM unnest($1::text[], $2::jsonb[]) WITH ORDINALITY ...
    ORDER BY n RETURNING <document>``: the stored documents, in the order given.

    ``_userkey`` is the column's default (the signed-in end user, migration 0006) unless
    ``user_keys`` gives it, one per document (``$3::text[]``: a server credential's choice)."""
    given = user_keys is not None

    def build() -> str:
        params = Params()
        arrays = [params.take("text[]"), params.take("jsonb[]")] + ([params.take("text[]")] if given else [])
        names = ["k", "d"] + (["u"] if given else []) + ["n"]
        rows = sql.with_ordinality(sql.fn("unnest", *arrays), "t", names)
        select = exp.select(*(col(name) for name in names[:-1])).from_(rows).order_by(col("n"))
        columns = ["_key", "data"] + (["_userkey"] if given else [])
        statement = exp.insert(select, _table(collection), columns=columns)
        statement.set("returning", exp.Returning(expressions=[document_expression()]))
        return sql.render(statement)

    text = SQL_CACHE.get(("insert", collection.schema, collection.table, given), build)
    params: tuple[Any, ...] = (list(keys), list(documents))
    return Compiled(text, (*params, list(user_keys)) if user_keys is not None else params)


def compile_delete(
    collection: Collection, criteria: Any, *, pointer: str = "/match", limits: Limits = DEFAULT_LIMITS
) -> Compiled:
    """``DELETE FROM <table> WHERE <criteria>``: the matches, for good."""
    node = plan_criteria(collection, criteria, pointer, limits)
    key = ("delete", collection.schema, collection.table, node.shape)
    text = SQL_CACHE.get(
        key, lambda: sql.render(exp.delete(_table(collection), where=node.render(col("data"), Params())))
    )
    return Compiled(text, _values(node))


def compile_trash(
    collection: Collection,
    criteria: Any,
    *,
    ref: str,
    kind: str,
    pointer: str = "/match",
    limits: Limits = DEFAULT_LIMITS,
) -> Compiled:
    """``WITH moved AS (DELETE FROM <table> WHERE <criteria> RETURNING <row>) INSERT INTO _trash
    (collection, _ref, kind, <row>) SELECT $n, $n+1, $n+2, <row> FROM moved``."""
    node = plan_criteria(collection, criteria, pointer, limits)

    def build() -> str:
        params = Params()
        where = node.render(col("data"), params)
        moved = _returning_row(exp.delete(_table(collection), where=where))
        origin = [params.take("text") for _ in TRASH_KEY]
        select = exp.select(*origin, *_row()).from_("moved")
        statement = exp.insert(select, _trash(collection), columns=[*TRASH_KEY, *ROW_COLUMNS])
        return sql.render(statement.with_("moved", as_=moved, copy=False))

    text = SQL_CACHE.get(("trash", collection.schema, collection.table, node.shape), build)
    return Compiled(text, _values(node, collection.table, ref, kind))


def compile_restore(collection: Collection, ref: str, *, deleted_within: int) -> Compiled:
    """Put back what ``ref`` moved to the trash: archived, always; deleted, within the retention
    (``deleted_within`` seconds)::

        WITH back AS (DELETE FROM _trash WHERE _ref = $1 AND collection = $2
                      AND (kind = 'archived' OR trashed_at > now() - make_interval(secs => $3))
                      RETURNING <row>)
        INSERT INTO <table> (<row>) SELECT <row> FROM back
    """

    def build() -> str:
        params = Params()
        where = sql.and_(
            exp.EQ(this=col("_ref"), expression=params.take("text")),
            exp.EQ(this=col("collection"), expression=params.take("text")),
            sql.paren(
                exp.Or(
                    this=exp.EQ(this=col("kind"), expression=string("archived")),
                    expression=exp.GT(this=col("trashed_at"), expression=_seconds_ago(params)),
                )
            ),
        )
        back = _returning_row(exp.delete(_trash(collection), where=where))
        select = exp.select(*_row()).from_("back")
        statement = exp.insert(select, _table(collection), columns=list(ROW_COLUMNS))
        return sql.render(statement.with_("back", as_=back, copy=False))

    text = SQL_CACHE.get(("restore", collection.schema, collection.table), build)
    return Compiled(text, (ref, collection.table, float(deleted_within)))


def compile_trashed(collection: Collection, *, deleted_within: int, limit: int) -> Compiled:
    """What a restore of the collection could put back, newest first: archived documents, and
    deleted ones within the retention (``deleted_within`` seconds) — ``compile_restore``'s rule::

        SELECT jsonb_build_object('_ref', _ref, 'kind', kind, 'trashed_at', <ISO 8601>,
                                  'document', <document>)
        FROM _trash WHERE collection = $1
          AND (kind = 'archived' OR trashed_at > now() - make_interval(secs => $2))
        ORDER BY trashed_at DESC NULLS LAST, _key LIMIT $3   -- the order of _trash$collection
    """

    def build() -> str:
        params = Params()
        where = sql.and_(
            exp.EQ(this=col("collection"), expression=params.take("text")),
            sql.paren(
                exp.Or(
                    this=exp.EQ(this=col("kind"), expression=string("archived")),
                    expression=exp.GT(this=col("trashed_at"), expression=_seconds_ago(params)),
                )
            ),
        )
        entry = sql.fn(
            "jsonb_build_object",
            string("_ref"),
            col("_ref"),
            string("kind"),
            col("kind"),
            string("trashed_at"),
            timestamp_value(col("trashed_at")),
            string("document"),
            document_expression(),
        )
        select = (
            exp.select(entry)
            .from_(_trash(collection))
            .where(where)
            .order_by(exp.Ordered(this=col("trashed_at"), desc=True), col("_key"))
            .limit(params.take("bigint"))
        )
        return sql.render(select)

    text = SQL_CACHE.get(("trashed", collection.schema), build)
    return Compiled(text, (collection.table, float(deleted_within), limit))


def compile_purge_trash(schema: str, *, older_than: int) -> Compiled:
    """``DELETE FROM <schema>._trash WHERE kind = 'deleted' AND trashed_at <= now() -
    make_interval(secs => $1)``: deleted documents past the retention (archived ones stay)."""

    def build() -> str:
        params = Params()
        where = sql.and_(
            exp.EQ(this=col("kind"), expression=string("deleted")),
            exp.LTE(this=col("trashed_at"), expression=_seconds_ago(params)),
        )
        return sql.render(exp.delete(sql.qualified_table(schema, TRASH_TABLE), where=where))

    return Compiled(SQL_CACHE.get(("purge-trash", schema), build), (float(older_than),))


def _values(node: PNode, *after: Any) -> tuple[Any, ...]:
    values: list[Any] = []
    node.collect(values)
    return (*values, *after)


def _table(collection: Collection) -> exp.Table:
    return sql.qualified_table(collection.schema, collection.table)


def _trash(collection: Collection) -> exp.Table:
    return sql.qualified_table(collection.schema, TRASH_TABLE)


def _row() -> list[exp.Expression]:
    return [col(name) for name in ROW_COLUMNS]


def _returning_row(statement: exp.Expression) -> exp.Expression:
    statement.set("returning", exp.Returning(expressions=_row()))
    return statement


def _seconds_ago(params: Params) -> exp.Expression:
    """``now() - make_interval(secs => $n)``."""
    secs = exp.Kwarg(this=exp.var("secs"), expression=params.take("float8"))
    return exp.Sub(this=sql.fn("now"), expression=sql.fn("make_interval", secs))

"""``compile_update``: criteria and an update in, one ``UPDATE ... RETURNING`` out."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from sqlglot import exp

from pgcube.query import sql
from pgcube.query.cache import SQL_CACHE
from pgcube.query.compiler import Collection, Compiled, plan_criteria
from pgcube.query.fields import ISO_PATTERN, FieldType, document_expression, field_path
from pgcube.query.ir import DEFAULT_LIMITS, Limits
from pgcube.query.mutate.parse import overlap, parse_mutation
from pgcube.query.mutate.steps import Chain, Copy
from pgcube.query.sql import Params, case, cast, col, fn, string, typeof


class UpdateQuery(msgspec.Struct, frozen=True, kw_only=True):
    """``UPDATE ... RETURNING doc, invalid``: ``doc`` the updated document (JSON bytes),
    ``invalid`` the declared fields the update broke (text[]; any → 400 and roll back).

    ``guarded``: the statement fails by itself (SQLSTATE ``PCU01``, raised by
    ``pgcube.update_holds``) when a row breaks a declared field or grows past the size
    limit, so it may run without a transaction around it."""

    statement: Compiled
    paths: tuple[tuple[str, ...], ...]
    guarded: bool = False


UPDATE_REFUSED = "PCU01"
"""The SQLSTATE of ``pgcube.update_holds`` (migration 0005)."""


def compile_update(
    collection: Collection,
    criteria: Any,
    update: Any,
    *,
    pointer: str = "/match",
    update_pointer: str = "/data",
    required: frozenset[str] = frozenset(),
    limits: Limits = DEFAULT_LIMITS,
    max_document_bytes: int | None = None,
) -> UpdateQuery:
    """One ``UPDATE ... SET data = <mutation>, _modified_at = now() WHERE <criteria>
    RETURNING doc, invalid`` for every matching document. With ``max_document_bytes``, the
    statement is guarded (``UpdateQuery.guarded``)::

        WITH updated AS (UPDATE ... RETURNING doc, invalid)
        SELECT doc, invalid FROM updated
        WHERE pgcube.update_holds(invalid, octet_length(doc::text), $n)
    """
    guarded = max_document_bytes is not None
    node = plan_criteria(collection, criteria, pointer, limits)
    steps = parse_mutation(update, update_pointer, limits)
    written = [s.path for s in steps] + [s.target for s in steps if isinstance(s, Copy)]
    checked = [
        (name, FieldType(kind), name in required)
        for name, kind in collection.fields.items()
        if any(overlap(field_path(name), p) for p in written)
    ]
    key = (
        "update",
        collection.schema,
        collection.table,
        node.shape,
        tuple(s.shape for s in steps),
        tuple((n, k.value, r) for n, k, r in checked),
        guarded,
    )

    def build() -> str:
        params = Params()
        where = node.render(col("data"), params)
        chain = Chain(params)
        for step in steps:
            step.render(chain)
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
        if not guarded:
            return sql.render(statement)
        size = fn("octet_length", cast(col("doc"), "text"))
        holds = fn("pgcube.update_holds", col("invalid"), size, params.take("integer"))
        return sql.render(
            exp.select(col("doc"), col("invalid"))
            .from_("updated")
            .where(holds)
            .with_("updated", as_=statement)
        )

    text = SQL_CACHE.get(key, build)
    values: list[Any] = []
    node.collect(values)
    for step in steps:
        step.collect(values)
    values = [_numeric(v) for v in values]
    if guarded:
        values.append(max_document_bytes)
    return UpdateQuery(statement=Compiled(text, tuple(values)), paths=tuple(written), guarded=guarded)


def _numeric(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


# --- declared-field checks after the update ----------------------------------------------------
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


def _quote_array(part: str) -> str:
    return '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'

"""Declared fields: the one place that knows their typed B-tree expressions.

``management`` creates one index per declared scalar field with
``index_definition_sql``; the compiler emits exactly ``index_expression`` for
ranges and sorts on that field, so PostgreSQL matches the two (DESIGN §4).

Each expression is typed and safe on mixed data: a value of another JSON type
yields NULL (never an error), which also gives MongoDB's type bracketing.

``date``/``datetime`` fields compare as instants. Casting text to
``timestamptz`` is not IMMUTABLE (it depends on the session's TimeZone and
DateStyle), so it cannot be indexed; instead the expression computes, with
integer arithmetic only, the number of seconds between 0001-01-01T00:00Z and
the ISO 8601 value (a date alone is midnight UTC; no offset means UTC). Python
computes the same number for query values (``iso_instant``). See ADR 0003.
"""

from __future__ import annotations

import enum
import re
from decimal import Decimal

from sqlglot import exp

from pgcube.query import sql
from pgcube.query.sql import arrow, arrow_text, case, cast, col, fn, number, paren, string, typeof


class FieldType(enum.StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    OBJECT = "object"
    ARRAY = "array"
    ANY = "any"


SCALAR_TYPES = frozenset(
    {
        FieldType.STRING,
        FieldType.NUMBER,
        FieldType.INTEGER,
        FieldType.BOOLEAN,
        FieldType.DATE,
        FieldType.DATETIME,
    }
)

ISO_PATTERN = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?$"
_ISO_RE = re.compile(ISO_PATTERN, re.ASCII)
_SECONDS_PATTERN = r"^.{16}:(\d{2}(?:\.\d+)?)"
_OFFSET_PATTERN = r"^.{10}[Tt ][^+-]*([+-])(\d{2}):?(\d{2})?$"
_CUMULATIVE_DAYS = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def field_path(name: str) -> tuple[str, ...]:
    """A declared field's name as path components (a dotted name is nested)."""
    return tuple(name.split("."))


def _value(field_name: str, *, as_text: bool) -> exp.Expression:
    parts = field_path(field_name)
    node: exp.Expression = col("data")
    for part in parts[:-1]:
        node = arrow(node, string(part))
    last = string(parts[-1])
    return arrow_text(node, last) if as_text else arrow(node, last)


def index_expression(field_name: str, field_type: FieldType | str) -> exp.Expression | None:
    """The typed B-tree expression of a declared field, or None for object/array/any fields."""
    kind = FieldType(field_type)
    if kind not in SCALAR_TYPES:
        return None
    jsonb = _value(field_name, as_text=False)
    text = paren(_value(field_name, as_text=True))
    guard: exp.Expression
    if kind is FieldType.STRING:
        guard = exp.EQ(this=typeof(jsonb), expression=string("string"))
        value: exp.Expression = exp.Collate(this=text, expression=exp.to_identifier("C", quoted=True))
    elif kind in (FieldType.NUMBER, FieldType.INTEGER):
        guard = exp.EQ(this=typeof(jsonb), expression=string("number"))
        value = cast(text, "numeric")
    elif kind is FieldType.BOOLEAN:
        guard = exp.EQ(this=typeof(jsonb), expression=string("boolean"))
        value = cast(text, "boolean")
    else:
        guard = exp.And(
            this=exp.EQ(this=typeof(jsonb), expression=string("string")),
            expression=exp.RegexpLike(this=text, expression=string(ISO_PATTERN)),
        )
        value = _instant_sql(text)
    return paren(case([(guard, value)], None))


def index_definition_sql(field_name: str, field_type: FieldType | str) -> str | None:
    """What follows ``CREATE INDEX name ON schema.table`` for a declared field (None: no index).

    ``(<expression> NULLS FIRST, _key)``: missing values sort first like JSON
    null, and ``_key`` breaks ties, so ``ORDER BY <expr> ASC NULLS FIRST, _key``
    and its exact reverse are both one index scan (keyset pagination included).
    """
    expression = index_expression(field_name, field_type)
    if expression is None:
        return None
    return f"({sql.render(expression)} NULLS FIRST, _key)"


def _int(node: exp.Expression) -> exp.Expression:
    return cast(node, "bigint")


def _substr(text: exp.Expression, start: int, length: int) -> exp.Expression:
    return fn("substr", text, number(start), number(length))


def _instant_sql(text: exp.Expression) -> exp.Expression:
    year = _int(_substr(text, 1, 4))
    month = _int(_substr(text, 6, 2))
    day = _int(_substr(text, 9, 2))
    prior = paren(exp.Sub(this=year, expression=number(1)))
    leap = exp.And(
        this=exp.EQ(this=exp.Mod(this=year, expression=number(4)), expression=number(0)),
        expression=paren(
            exp.Or(
                this=exp.NEQ(this=exp.Mod(this=year, expression=number(100)), expression=number(0)),
                expression=exp.EQ(this=exp.Mod(this=year, expression=number(400)), expression=number(0)),
            )
        ),
    )
    cumulative = exp.Bracket(
        this=paren(exp.Array(expressions=[number(n) for n in _CUMULATIVE_DAYS])),
        expressions=[month],
        offset=1,
    )
    days: exp.Expression = exp.Mul(this=prior, expression=number(365))
    for divisor, op in ((4, exp.Add), (100, exp.Sub), (400, exp.Add)):
        days = op(this=days, expression=exp.Div(this=prior, expression=number(divisor), typed=True))
    days = exp.Add(this=days, expression=cumulative)
    days = exp.Add(this=days, expression=paren(exp.Sub(this=day, expression=number(1))))
    extra = case(
        [(exp.And(this=exp.GT(this=month, expression=number(2)), expression=paren(leap)), number(1))],
        number(0),
    )
    days = exp.Add(this=days, expression=extra)

    def clock(start: int) -> exp.Expression:
        return exp.Coalesce(
            this=_int(fn("nullif", _substr(text, start, 2), string(""))), expressions=[number(0)]
        )

    seconds = exp.Coalesce(
        this=cast(fn("substring", text, string(_SECONDS_PATTERN)), "numeric"), expressions=[number(0)]
    )

    def offset_part(index: int) -> exp.Expression:
        return exp.Bracket(
            this=paren(fn("regexp_match", text, string(_OFFSET_PATTERN))),
            expressions=[number(index)],
            offset=1,
        )

    sign = case([(exp.EQ(this=offset_part(1), expression=string("-")), number(-1))], number(1))
    offset = exp.Mul(
        this=sign,
        expression=paren(
            exp.Add(
                this=exp.Mul(this=_int(offset_part(2)), expression=number(3600)),
                expression=exp.Mul(
                    this=exp.Coalesce(this=_int(offset_part(3)), expressions=[number(0)]),
                    expression=number(60),
                ),
            )
        ),
    )
    offset_or_zero = exp.Coalesce(this=paren(offset), expressions=[number(0)])
    total: exp.Expression = exp.Mul(this=paren(days), expression=number(86400))
    total = exp.Add(this=total, expression=exp.Mul(this=clock(12), expression=number(3600)))
    total = exp.Add(this=total, expression=exp.Mul(this=clock(15), expression=number(60)))
    total = exp.Add(this=total, expression=seconds)
    return exp.Sub(this=total, expression=offset_or_zero)


def iso_instant(text: str) -> Decimal | None:
    """The value ``index_expression`` computes for a date/datetime string (None: not ISO 8601)."""
    if not _ISO_RE.match(text):
        return None
    year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    if not (1 <= month <= 12):
        return None
    prior = year - 1
    days = prior * 365 + _trunc_div(prior, 4) - _trunc_div(prior, 100) + _trunc_div(prior, 400)
    days += _CUMULATIVE_DAYS[month - 1] + day - 1
    if month > 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        days += 1
    hours = int(text[11:13]) if len(text) > 10 else 0
    minutes = int(text[14:16]) if len(text) > 10 else 0
    seconds_match = re.match(_SECONDS_PATTERN, text)
    seconds = Decimal(seconds_match.group(1)) if seconds_match else Decimal(0)
    offset = 0
    offset_match = re.match(_OFFSET_PATTERN, text)
    if offset_match:
        sign = -1 if offset_match.group(1) == "-" else 1
        offset = sign * (int(offset_match.group(2)) * 3600 + int(offset_match.group(3) or 0) * 60)
    return Decimal(days * 86400 + hours * 3600 + minutes * 60) + seconds - offset


def _trunc_div(a: int, b: int) -> int:
    """Integer division as PostgreSQL does it (towards zero)."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


# --- the document as the API returns it ---------------------------------------------------------

ISO_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
SYSTEM_COLUMNS = {
    "_key": "text",
    "_userkey": "text",
    "_created_at": "timestamptz",
    "_modified_at": "timestamptz",
}
"""The one definition of the system fields: the columns pgcube maintains in every collection table,
in order, with their SQL types (``management.ddl`` creates them, the compiler reads them)."""
SYSTEM_FIELDS = tuple(SYSTEM_COLUMNS)
ROW_COLUMNS = (*SYSTEM_FIELDS, "data")
"""The columns of every collection table, in order."""
SYSTEM_NAMES = frozenset({*SYSTEM_FIELDS, "_id"})
"""The system fields and ``_id`` (the alias of ``_key`` in filters): names no user field may take."""
TIMESTAMP_FIELDS = frozenset(name for name, kind in SYSTEM_COLUMNS.items() if kind == "timestamptz")
TEXT_FIELDS = frozenset(name for name, kind in SYSTEM_COLUMNS.items() if kind == "text")
NULLABLE_FIELDS = frozenset({"_userkey"})
"""The only system column that may be NULL."""


def system_value(name: str, table: str | None = None) -> exp.Expression:
    """A system field as the API shows it (timestamps as ISO 8601 UTC with ms and ``Z``)."""
    column = col(name, table)
    return timestamp_value(column) if name in TIMESTAMP_FIELDS else column


def timestamp_value(column: exp.Expression) -> exp.Expression:
    """A ``timestamptz`` as the API shows it: ISO 8601 UTC with milliseconds and ``Z``."""
    return fn("to_char", exp.AtTimeZone(this=column, zone=string("UTC")), string(ISO_FORMAT))


def system_object(names: tuple[str, ...] = SYSTEM_FIELDS, table: str | None = None) -> exp.Expression:
    args: list[exp.Expression] = []
    for name in names:
        args += [string(name), system_value(name, table)]
    return fn("jsonb_build_object", *args)


def document_expression(data: exp.Expression | None = None, table: str | None = None) -> exp.Expression:
    """``data || jsonb_build_object('_key', _key, ...)``: the whole document, built in PostgreSQL."""
    return exp.DPipe(
        this=data if data is not None else col("data", table), expression=system_object(table=table)
    )


def document_sql(table: str | None = None) -> str:
    """``document_expression`` as SQL text, e.g. for ``INSERT ... RETURNING``."""
    return sql.render(document_expression(table=table))

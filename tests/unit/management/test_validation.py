"""The declared-field validator: types, required, strict, nested names, caching."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgcube.errors import ValidationError
from pgcube.management.models import Collection, FieldSpec, FieldType
from pgcube.management.validation import compile_validator, is_iso_date, is_iso_datetime, validator_for
from pgcube.query.fields import ISO_PATTERN, iso_instant

F = FieldType


def validator(*fields: FieldSpec, strict: bool = False) -> Any:
    return compile_validator(tuple(fields), strict)


def _outcome(call: Any) -> ValidationError | None:
    try:
        call()
    except ValidationError as error:
        return error
    return None


def check_both(v: Any, doc: Any, index: int = 0) -> None:
    """Both entry points must agree; raise what ``validate`` raises."""
    first = _outcome(lambda: v.validate(doc, index))
    second = _outcome(lambda: v.validate_json(json.dumps(doc).encode(), index))
    assert (first is None) == (second is None)
    if first is not None:
        assert second is not None
        assert second.details == first.details
        raise first


ACCEPTED: list[tuple[FieldType, Any]] = [
    (F.STRING, "x"),
    (F.STRING, ""),
    (F.NUMBER, 1),
    (F.NUMBER, 1.5),
    (F.NUMBER, -(10**30)),
    (F.INTEGER, 3),
    (F.INTEGER, 3.0),
    (F.BOOLEAN, True),
    (F.BOOLEAN, False),
    (F.DATE, "2024-01-15"),
    (F.DATE, "2024-02-29"),
    (F.DATE, "2024-01-15T10:30:00.000Z"),
    (F.DATETIME, "2024-01-15T10:30:00.000Z"),
    (F.DATETIME, "2024-01-15T10:30:00Z"),
    (F.DATETIME, "2024-01-15T10:30Z"),
    (F.DATETIME, "2024-01-15 10:30:00"),
    (F.DATETIME, "2024-01-15T10:30:00.123456789+02:00"),
    (F.DATETIME, "2024-01-15T10:30:00-0530"),
    (F.DATETIME, "2024-01-15T10:30:00+01"),
    (F.OBJECT, {"a": 1}),
    (F.OBJECT, {}),
    (F.ARRAY, [1, "a"]),
    (F.ARRAY, []),
    (F.ANY, [1]),
    (F.ANY, "x"),
]

REFUSED: list[tuple[FieldType, Any]] = [
    (F.STRING, 1),
    (F.STRING, ["x"]),
    (F.NUMBER, "1"),
    (F.NUMBER, True),
    (F.INTEGER, 1.5),
    (F.INTEGER, False),
    (F.BOOLEAN, 0),
    (F.BOOLEAN, "true"),
    (F.DATE, "2023-02-29"),
    (F.DATE, "2024-13-01"),
    (F.DATE, "2024-1-15"),
    (F.DATE, "15/01/2024"),
    (F.DATE, 20240115),
    (F.DATE, "٢٠٢٤-01-15"),
    (F.DATETIME, "2024-01-15"),
    (F.DATETIME, "2024-01-15T24:00:00Z"),
    (F.DATETIME, "2024-01-15T10:60:00Z"),
    (F.DATETIME, "2024-01-15T10:30:60Z"),
    (F.DATETIME, "2024-01-15T10:30:00+2400"),
    (F.DATETIME, "2024-01-15T10:30:00 UTC"),
    (F.OBJECT, [1]),
    (F.ARRAY, {"a": 1}),
    (F.ARRAY, "abc"),
]


@pytest.mark.parametrize(("field_type", "value"), ACCEPTED)
def test_values_that_match_their_type(field_type: FieldType, value: Any) -> None:
    check_both(validator(FieldSpec(name="f", type=field_type)), {"f": value})


@pytest.mark.parametrize(("field_type", "value"), REFUSED)
def test_values_that_do_not(field_type: FieldType, value: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        check_both(validator(FieldSpec(name="f", type=field_type)), {"f": value}, index=7)
    assert raised.value.details["field"] == "f"
    assert raised.value.details["index"] == 7
    assert raised.value.details["expected"] == field_type.value
    assert "'f'" in raised.value.message
    assert "document 7" in raised.value.message


def test_absent_and_null_pass_unless_required() -> None:
    optional = validator(FieldSpec(name="email", type=F.STRING))
    check_both(optional, {})
    check_both(optional, {"email": None})
    required = validator(FieldSpec(name="email", type=F.STRING, required=True))
    for doc in ({}, {"email": None}):
        with pytest.raises(ValidationError) as raised:
            check_both(required, doc, index=2)
        assert raised.value.details == {"index": 2, "field": "email", "required": True}
        assert raised.value.message.startswith("Missing required field: email")


def test_strict_refuses_undeclared_keys_but_not_system_fields() -> None:
    v = validator(FieldSpec(name="email", type=F.STRING), strict=True)
    check_both(v, {"email": "a@b.c", "_key": "k1", "_created_at": "ignored"})
    with pytest.raises(ValidationError) as raised:
        check_both(v, {"email": "a@b.c", "nickname": "x"}, index=3)
    assert raised.value.details == {"index": 3, "field": "nickname", "strict": True}


def test_not_strict_ignores_undeclared_keys() -> None:
    check_both(
        validator(FieldSpec(name="email", type=F.STRING)), {"email": "x", "other": [1, {"deep": True}]}
    )


def test_a_document_must_be_an_object() -> None:
    v = validator(FieldSpec(name="f", type=F.ANY))
    for doc in ([1], "x", 1, None):
        with pytest.raises(ValidationError) as raised:
            check_both(v, doc, index=4)
        assert raised.value.details["index"] == 4


def test_nested_fields() -> None:
    v = validator(
        FieldSpec(name="address.city", type=F.STRING, required=True),
        FieldSpec(name="address.zip", type=F.INTEGER),
        strict=True,
    )
    check_both(v, {"address": {"city": "Oslo", "zip": 150}})
    with pytest.raises(ValidationError) as nested:  # strict holds at every depth (issue 14)
        check_both(v, {"address": {"city": "Oslo", "zip": 150, "extra": 1}})
    assert nested.value.details["field"] == "address.extra"
    with pytest.raises(ValidationError) as raised:
        check_both(v, {"address": {"city": 5}})
    assert raised.value.details["field"] == "address.city"
    for doc in ({"address": "Oslo"}, {"address": {}}, {}):
        with pytest.raises(ValidationError) as missing:
            check_both(v, doc)
        assert missing.value.details["required"] is True
    with pytest.raises(ValidationError):
        check_both(v, {"address": {"city": "Oslo"}, "other": 1})


def test_the_first_bad_document_of_a_batch_is_named() -> None:
    v = validator(FieldSpec(name="n", type=F.NUMBER))
    with pytest.raises(ValidationError) as raised:
        v.validate_many([{"n": 1}, {"n": 2}, {"n": "3"}, {"n": "4"}])
    assert raised.value.details["index"] == 2
    with pytest.raises(ValidationError) as offset:
        v.validate_many([{"n": "x"}], start=10)
    assert offset.value.details["index"] == 10


def test_validators_are_cached_per_definition_not_per_name() -> None:
    fields = (FieldSpec(name="email", type=F.STRING, required=True),)
    first = Collection(database_id="a" * 24, schema_name="s_1", name="users", fields=fields)
    second = Collection(database_id="b" * 24, schema_name="s_2", name="people", fields=fields)
    assert validator_for(first) is validator_for(second)
    stricter = Collection(database_id="a" * 24, schema_name="s_1", name="users", fields=fields, strict=True)
    assert validator_for(stricter) is not validator_for(first)


def test_no_fields_and_not_strict_is_trivial() -> None:
    assert compile_validator((), False).is_trivial
    assert not compile_validator((), True).is_trivial


def test_field_names_that_are_not_identifiers_work_in_validate_json() -> None:
    v = validator(FieldSpec(name="first-name", type=F.STRING, required=True))
    v.validate_json(b'{"first-name": "Ada"}')
    with pytest.raises(ValidationError):
        v.validate_json(b'{"first_name": "Ada"}')


class IsoValue(NamedTuple):
    """A date or date-time in one of the spellings the validator accepts, and its instant."""

    text: str
    has_time: bool
    instant: Decimal
    """Seconds since 0001-01-01T00:00Z by Python's calendar (``date.toordinal``), not pgcube's."""


@st.composite
def iso_values(draw: st.DrawFn) -> IsoValue:
    """Every spelling of ``is_iso_date``/``is_iso_datetime``: a date alone, or with ``T``/``t``/space,
    ``HH:MM``, optional ``:SS``, optional fraction (any length), optional ``Z``/``z``/``±HH[[:]MM]``."""
    day = draw(st.dates(min_value=datetime.date(1, 1, 1), max_value=datetime.date(9999, 12, 31)))
    text = day.isoformat()
    days = day.toordinal() - 1
    if not draw(st.booleans()):
        return IsoValue(text, False, Decimal(days * 86400))
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    text += draw(st.sampled_from("Tt ")) + f"{hour:02d}:{minute:02d}"
    seconds = Decimal(0)
    if draw(st.booleans()):
        second = draw(st.integers(0, 59))
        fraction = draw(st.one_of(st.just(""), st.text(alphabet="0123456789", min_size=1, max_size=12)))
        text += f":{second:02d}" + (f".{fraction}" if fraction else "")
        seconds = Decimal(f"{second}.{fraction or 0}")
    offset = 0
    zone = draw(st.sampled_from(["", "Z", "z", "+HH", "+HHMM", "+HH:MM"]))
    if zone.startswith("+"):
        sign = draw(st.sampled_from("+-"))
        off_h, off_m = draw(st.integers(0, 23)), draw(st.integers(0, 59))
        offset = (-1 if sign == "-" else 1) * (off_h * 3600 + (0 if zone == "+HH" else off_m * 60))
        zone = zone.replace("+", sign).replace("HH", f"{off_h:02d}").replace("MM", f"{off_m:02d}")
    text += zone
    instant = Decimal(days * 86400 + hour * 3600 + minute * 60) + seconds - offset
    return IsoValue(text, True, instant)


@settings(max_examples=500)
@given(iso_values())
def test_every_accepted_date_is_one_the_typed_index_reads(value: IsoValue) -> None:
    """What the validator accepts, the index expression of pgcube.query.fields reads (its pattern
    matches, so the value is not NULL in the index) as the instant the calendar says.
    The same values go through PostgreSQL in tests/integration/management/test_date_index.py."""
    assert is_iso_date(value.text)
    assert is_iso_datetime(value.text) is value.has_time
    check_both(validator(FieldSpec(name="f", type=F.DATE)), {"f": value.text})
    if value.has_time:
        check_both(validator(FieldSpec(name="f", type=F.DATETIME)), {"f": value.text})
    assert re.match(ISO_PATTERN, value.text, re.ASCII)
    assert iso_instant(value.text) == value.instant

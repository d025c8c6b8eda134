"""The one gate for names (SPEC §1, RELIABILITY D2) and the one quoting function."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgcube.errors import ValidationError
from pgcube.management import naming
from pgcube.query.sql import quote_ident

REFUSED_DATABASE_NAMES = [
    'a"b',
    "a'b",
    "pg_catalog",
    "PG_Catalog",
    "pg-toast",
    "public",
    "Public",
    "pgcube",
    "PGCUBE",
    "information_schema",
    "a" * 64,
    "x;drop schema pgcube cascade",
    "",
    "1abc",
    "_abc",
    "-abc",
    "a b",
    "a.b",
    "café",
    "abc\x00",
]


@pytest.mark.parametrize("name", REFUSED_DATABASE_NAMES)
def test_database_names_that_must_be_refused(name: str) -> None:
    with pytest.raises(ValidationError) as raised:
        naming.check_database_name(name)
    assert raised.value.details["field"] == "db_name"


@pytest.mark.parametrize(
    "name", ["a", "my_customer_project", "My-Project-2", "A" + "b" * 62, "pgcubes", "pg"]
)
def test_database_names_that_are_fine(name: str) -> None:
    assert naming.check_database_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "Users",
        "a-b",
        "1abc",
        "",
        "x" * 64,
        "pg_stat",
        "public",
        "pgcube",
        "information_schema",
        "_trash",
        'a"b',
        "a;b",
        "users$data",
    ],
)
def test_collection_names_that_must_be_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        naming.check_collection_name(name)


@pytest.mark.parametrize("name", ["users", "_private", "a1_b2", "x" * 63, "trash", "_trash2"])
def test_collection_names_that_are_fine(name: str) -> None:
    assert naming.check_collection_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "_key",
        "_id",
        "_userkey",
        "_created_at",
        "_modified_at",
        "_key.x",
        "a..b",
        ".a",
        "a.",
        "a:$gt",
        "a'b",
        'a"b',
        "a b",
        "1a",
        "a." * 9 + "a",
        "x" * 64,
    ],
)
def test_field_names_that_must_be_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        naming.check_field_name(name)


@pytest.mark.parametrize("name", ["email", "first-name", "signupDate", "_private", "address.city", "a.b.c"])
def test_field_names_that_are_fine(name: str) -> None:
    assert naming.check_field_name(name) == name


def test_schema_name_is_readable_suffixed_and_short() -> None:
    schema = naming.schema_name_for("My-Customer-Project", suffix="3fa9c1")
    assert schema == "my_customer_project_3fa9c1"
    long = naming.schema_name_for("A" * 63)
    assert len(long.encode()) <= 63
    assert re.fullmatch(r"a{56}_[0-9a-f]{6}", long)


def test_schema_names_differ_between_databases_of_the_same_name() -> None:
    assert len({naming.schema_name_for("shop") for _ in range(50)}) == 50


def test_database_ids_are_24_lowercase_hex() -> None:
    ids = {naming.new_database_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(naming.is_database_id(value) for value in ids)
    assert not naming.is_database_id("60C72B2F9B1D8B1A2D3E4567")
    assert not naming.is_database_id("60c72b2f9b1d8b1a2d3e456")


def test_relation_names_never_collide_with_a_collection() -> None:
    name = naming.relation_name("users", "data")
    assert name == "users$data"
    with pytest.raises(ValidationError):
        naming.check_collection_name(name)


def test_long_relation_names_stay_within_63_bytes_and_distinct() -> None:
    table = "t" * 63
    first = naming.relation_name(table, "f$" + "a" * 40)
    second = naming.relation_name(table, "f$" + "a" * 39 + "b")
    assert len(first.encode()) <= 63
    assert len(second.encode()) <= 63
    assert first != second


@given(st.text(min_size=1, max_size=30).filter(lambda s: "\x00" not in s))
def test_quote_ident_round_trips(name: str) -> None:
    if len(name.encode()) > 63:
        return
    quoted = quote_ident(name)
    assert quoted.startswith('"')
    assert quoted.endswith('"')
    assert quoted[1:-1].replace('""', '"') == name
    # Every quote inside is doubled: no way out of the identifier.
    assert '"' not in quoted[1:-1].replace('""', "")


def test_quote_ident_refuses_what_postgres_would_truncate_or_reject() -> None:
    for bad in ("", "a" * 64, "a\x00b"):
        with pytest.raises(ValueError, match="identifier"):
            quote_ident(bad)


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("plain", "'plain'"), ("it's", "'it''s'"), ("back\\slash", "E'back\\\\slash'"), ("", "''")],
)
def test_quote_literal(value: str, quoted: str) -> None:
    assert naming.quote_literal(value) == quoted

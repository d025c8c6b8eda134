"""Declared indexes (ADR 0025) in text: names, DDL, the duplicate probe, and the rules."""

from __future__ import annotations

import pytest

from pgcube.data.uniques import BATCH_SOURCE, conflict_query, document_error, values_of
from pgcube.errors import Conflict, ValidationError
from pgcube.management import ddl
from pgcube.management.declared import check_index, check_room, own_index_kind
from pgcube.management.models import (
    Collection,
    DeclaredIndex,
    FieldSpec,
    FieldType,
    IndexDefinition,
    declared_index_name,
)
from pgcube.query.fields import index_expression
from pgcube.query.sql import render

FIELDS = (
    FieldSpec(name="category", type=FieldType.STRING, indexed=True),
    FieldSpec(name="price", type=FieldType.NUMBER, indexed=True),
    FieldSpec(name="meta", type=FieldType.OBJECT),
)


def typed(name: str, kind: FieldType) -> str:
    expression = index_expression(name, kind)
    assert expression is not None
    return render(expression)


def test_names_are_the_table_then_i_then_the_fields_cut_with_a_hash() -> None:
    assert declared_index_name("products", ("category", "price")) == "products$i$category$price"
    long = declared_index_name("t" * 40, ("a" * 30, "b" * 30))
    assert len(long.encode()) <= 63
    assert long != declared_index_name("t" * 40, ("a" * 30, "b" * 31))


def test_the_ddl_uses_the_compilers_expressions_in_order() -> None:
    plain = DeclaredIndex(name="products$i$category$price", fields=("category", "price"))
    create, comment = ddl.create_declared_index("s", "products", plain, FIELDS)
    columns = f"{typed('category', FieldType.STRING)} NULLS FIRST, {typed('price', FieldType.NUMBER)} NULLS FIRST, _key"
    assert create == f'CREATE INDEX "products$i$category$price" ON "s"."products" ({columns})'
    assert (
        comment
        == 'COMMENT ON INDEX "s"."products$i$category$price" IS \'pgcube: declared index on (category, price)\''
    )
    unique = DeclaredIndex(name="products$i$price", fields=("price",), unique=True)
    create, _ = ddl.create_declared_index("s", "products", unique, FIELDS, concurrently=True)
    assert create == (
        f'CREATE UNIQUE INDEX CONCURRENTLY "products$i$price" ON "s"."products" '
        f"({typed('price', FieldType.NUMBER)} NULLS FIRST)"
    )
    assert (
        ddl.drop_declared_index("s", "products$i$price")
        == 'DROP INDEX CONCURRENTLY IF EXISTS "s"."products$i$price"'
    )


def test_a_collection_makes_its_declared_indexes_with_its_table() -> None:
    index = DeclaredIndex(name="products$i$category$price", fields=("category", "price"))
    text = ddl.script(
        ddl.create_collection(
            "s",
            "products",
            FIELDS,
            Collection(database_id="d", schema_name="s", name="p").access,
            database_name="d",
            database_id="d" * 24,
            declared=[index],
        )
    )
    assert 'CREATE INDEX "products$i$category$price"' in text
    assert "CONCURRENTLY" not in text  # a new, empty table, in the request's transaction


def test_the_probe_reads_the_same_expressions_and_skips_missing_values() -> None:
    collection = Collection(database_id="d", schema_name="s", name="products", fields=FIELDS)
    index = DeclaredIndex(name="products$i$category$price", fields=("category", "price"), unique=True)
    query = conflict_query(collection, index, BATCH_SOURCE)
    assert typed("category", FieldType.STRING) in query
    assert "v0 IS NOT NULL AND v1 IS NOT NULL" in query
    assert "NOT IN" not in query
    assert "t._key NOT IN (SELECT key FROM source)" in conflict_query(collection, index, "x", replacing=True)


def test_values_and_the_error_details() -> None:
    index = DeclaredIndex(name="t$i$a$b.c", fields=("a", "b.c"), unique=True)
    assert values_of(index, b'{"a": 1, "b": {"c": "x"}}') == {"a": 1, "b.c": "x"}
    error = document_error(index, 3, {"a": 1, "b.c": "x"}, first=1)
    assert error.status == 409
    assert error.details == {
        "index": 3,
        "first_index": 1,
        "index_name": "t$i$a$b.c",
        "fields": ["a", "b.c"],
        "values": {"a": 1, "b.c": "x"},
        "existing": False,
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ((), "fields"),
        (("category",) * 9, "fields"),
        (("category", "category"), "fields[1]"),
        (("category", "colour"), "fields[1]"),
        (("meta",), "fields[0]"),
    ],
)
def test_check_index_names_the_bad_field(fields: tuple[str, ...], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_index(FIELDS, IndexDefinition(fields=fields))
    assert raised.value.details["field"] == field


def test_check_room_refuses_the_same_fields_and_a_seventeenth() -> None:
    existing = DeclaredIndex(name="p$i$price", fields=("price",))
    collection = Collection(database_id="d", schema_name="s", name="p", fields=FIELDS, indexes=(existing,))
    with pytest.raises(Conflict):
        check_room(collection, DeclaredIndex(name="p$i$price", fields=("price",), unique=True))
    full = Collection(
        database_id="d",
        schema_name="s",
        name="p",
        indexes=tuple(DeclaredIndex(name=f"p$i$f{i}", fields=(f"f{i}",)) for i in range(16)),
    )
    with pytest.raises(Conflict):
        check_room(full, DeclaredIndex(name="p$i$price", fields=("price",)))


def test_own_indexes_are_told_apart_from_declared_ones() -> None:
    collection = Collection(database_id="d", schema_name="s", name="p", fields=FIELDS)
    assert own_index_kind(collection, "p$pkey") is not None
    assert own_index_kind(collection, "p$f$price") is not None
    assert own_index_kind(collection, "p$i$price") is None

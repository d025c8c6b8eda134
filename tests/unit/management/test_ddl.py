"""The DDL text of schemas and collections (executed for real in tests/integration/management)."""

from __future__ import annotations

import pytest

from pgcube.errors import ValidationError
from pgcube.management import ddl
from pgcube.management.models import LOCKED, CollectionDefinition, FieldSpec, FieldType, describe_indexes
from pgcube.management.service import check_definitions
from pgcube.query.fields import index_definition_sql
from pgcube.schemas.management import CollectionIn, FieldIn

F = FieldType


def test_schema_script_names_database_and_owner_and_makes_the_trash() -> None:
    statements = ddl.create_schema(
        "shop_3fa9c1", database_name="Shop", database_id="a" * 24, owner="o'neil@example.com"
    )
    text = ddl.script(statements)
    assert text.startswith('CREATE SCHEMA "shop_3fa9c1";')
    assert (
        "COMMENT ON SCHEMA \"shop_3fa9c1\" IS 'pgcube database ''Shop'' (id aaaaaaaaaaaaaaaaaaaaaaaa), "
        "owner o''neil@example.com'" in text
    )
    assert 'CREATE TABLE "shop_3fa9c1"."_trash"' in text
    assert "PRIMARY KEY (_ref, collection, _key)" in text
    assert 'CREATE INDEX "_trash$purge" ON "shop_3fa9c1"."_trash" (kind, trashed_at)' in text
    assert (
        'CREATE INDEX "_trash$collection" ON "shop_3fa9c1"."_trash" (collection, trashed_at DESC NULLS LAST, _key)'
        in text
    )


def test_collection_script_has_the_columns_and_indexes_of_spec_10() -> None:
    fields = [
        FieldSpec(name="email", type=F.STRING, indexed=True),
        FieldSpec(name="tags", type=F.ARRAY),
        FieldSpec(name="price", type=F.NUMBER, indexed=False),
    ]
    text = ddl.script(
        ddl.create_collection("s_1", "users", fields, LOCKED, database_name="Shop", database_id="b" * 24)
    )
    for column in (
        "_key          text NOT NULL",
        "_userkey      text,",
        "_created_at   timestamptz NOT NULL DEFAULT now()",
        "_modified_at  timestamptz NOT NULL DEFAULT now()",
        "data          jsonb NOT NULL",
        'CONSTRAINT "users$pkey" PRIMARY KEY (_key)',
    ):
        assert column in text
    assert (
        'CREATE INDEX "users$data" ON "s_1"."users" USING gin (data jsonb_path_ops)'
        " WITH (gin_pending_list_limit = 64)" in text
    )
    assert 'CREATE INDEX "users$created" ON "s_1"."users" (_created_at, _key)' in text
    assert f'CREATE INDEX "users$f$email" ON "s_1"."users" {index_definition_sql("email", "string")}' in text
    assert "users$f$tags" not in text
    assert "users$f$price" not in text
    assert "COMMENT ON TABLE \"s_1\".\"users\" IS 'pgcube collection ''users'' of database ''Shop''" in text
    assert text.endswith("SELECT pgcube.apply_access('s_1', 'users', 'none', 'none');")


def test_the_index_expression_is_the_query_compilers() -> None:
    for field_type in (F.STRING, F.NUMBER, F.INTEGER, F.BOOLEAN, F.DATE, F.DATETIME):
        create, _comment = ddl.create_field_index(
            "s", "t", FieldSpec(name="f", type=field_type, indexed=True)
        )
        assert create.endswith(str(index_definition_sql("f", field_type)))


def test_non_scalar_fields_have_no_index() -> None:
    with pytest.raises(ValueError, match="scalar"):
        ddl.create_field_index("s", "t", FieldSpec(name="f", type=F.OBJECT, indexed=True))


def test_describe_indexes_matches_what_is_created() -> None:
    fields = [FieldSpec(name="email", type=F.STRING, indexed=True), FieldSpec(name="meta", type=F.OBJECT)]
    names = [info.name for info in describe_indexes("users", fields)]
    assert names == ["users$pkey", "users$data", "users$created", "users$f$email"]
    text = ddl.script(
        ddl.create_collection("s", "users", fields, LOCKED, database_name="d", database_id="c" * 24)
    )
    for name in names:
        assert f'"{name}"' in text


def test_drop_statements_quote_everything() -> None:
    assert ddl.drop_schema("shop_1") == 'DROP SCHEMA IF EXISTS "shop_1" CASCADE'
    assert ddl.drop_tables("s", ["a", "b"]) == 'DROP TABLE IF EXISTS "s"."a", "s"."b"'


# --- definitions from request bodies ---------------------------------------------------------------
def collection_definitions(collections: list[CollectionIn]) -> list[CollectionDefinition]:
    """What the handlers do: convert the bodies, then have the service check them."""
    definitions = [collection.definition() for collection in collections]
    check_definitions(definitions)
    return definitions


def test_scalar_fields_are_indexed_by_default_and_can_opt_out() -> None:
    (definition,) = collection_definitions(
        [
            CollectionIn(
                name="users",
                fields=[
                    FieldIn(name="email", type=F.STRING),
                    FieldIn(name="age", type=F.INTEGER, index=False),
                    FieldIn(name="profile", type=F.OBJECT),
                ],
            )
        ]
    )
    assert [(spec.name, spec.indexed) for spec in definition.fields] == [
        ("email", True),
        ("age", False),
        ("profile", False),
    ]


@pytest.mark.parametrize(
    ("collections", "field"),
    [
        ([CollectionIn(name="Users")], "collections[0].name"),
        ([CollectionIn(name="a"), CollectionIn(name="a")], "collections[1].name"),
        (
            [CollectionIn(name="a", fields=[FieldIn(name="x", type=F.ANY, index=True)])],
            "collections[0].fields[0].index",
        ),
        (
            [
                CollectionIn(
                    name="a", fields=[FieldIn(name="x", type=F.STRING), FieldIn(name="x", type=F.STRING)]
                )
            ],
            "collections[0].fields[1].name",
        ),
        (
            [CollectionIn(name="a", fields=[FieldIn(name="_key", type=F.STRING)])],
            "collections[0].fields[0].name",
        ),
        (
            [
                CollectionIn(
                    name="a", fields=[FieldIn(name="a", type=F.STRING), FieldIn(name="a.b", type=F.STRING)]
                )
            ],
            "collections[0].fields[1].name",
        ),
    ],
)
def test_bad_definitions_are_400_naming_the_field(collections: list[CollectionIn], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        collection_definitions(collections)
    assert raised.value.details["field"] == field


def test_nested_fields_under_an_object_are_fine() -> None:
    (definition,) = collection_definitions(
        [
            CollectionIn(
                name="a",
                fields=[FieldIn(name="address", type=F.OBJECT), FieldIn(name="address.city", type=F.STRING)],
            )
        ]
    )
    assert [spec.indexed for spec in definition.fields] == [False, True]


def test_the_gin_upgrade_sets_what_new_indexes_get() -> None:
    """Collections made before ADR 0010 get the GIN options of new ones (run for real in
    tests/integration/query/test_gin_after_writes.py)."""
    text = ddl.upgrade_gin_indexes(lock_timeout_ms=250)
    assert f"SET ({ddl.GIN_OPTIONS})" in text
    assert "ARRAY['gin_pending_list_limit=64']" in text
    assert "SET LOCAL lock_timeout = 250" in text
    assert "lock_not_available" in text

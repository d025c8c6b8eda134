"""The collection forms' inputs read back into the API's ``collections`` (no database: pure)."""

from __future__ import annotations

from pgcube.dashboard.pages.collection_form import CollectionRows, FieldRow, collections_of


def test_rows_come_back_in_their_order_with_unchecked_boxes_false() -> None:
    form = {
        "db_name": "shop",
        "c10-name": "tenth",
        "c2-name": "second",
        "c2-read": "owner",
        "c2-write": "users",
        "c2-strict": "on",
        "c2-f10-name": "late",
        "c2-f10-type": "date",
        "c2-f2-name": "early",
        "c2-f2-type": "number",
        "c2-f2-index": "on",
        "c2-f2-unique": "on",
        "c2-f3-name": "",
        "c2-f3-type": "string",
        "c2-f3-index": "on",
        "c2-read-extra": "ignored",
        "c2-f2-read": "not a field's input",
    }
    second, tenth = collections_of(form)
    assert second.fields == [
        FieldRow(name="early", type="number", index=True, unique=True),
        FieldRow(name="", type="string", index=True),
        FieldRow(name="late", type="date", index=False),
    ]
    assert second.body() == {
        "name": "second",
        "fields": [
            {"name": "early", "type": "number", "unique": True},
            {"name": "late", "type": "date", "index": False},
        ],
        "access": {"read": "owner", "write": "users"},
        "strict": True,
    }
    assert tenth.name == "tenth"
    assert tenth.fields == CollectionRows().fields, "a collection sent without rows shows blank ones"


def test_an_untouched_collection_is_blank_and_a_named_field_is_not() -> None:
    untouched = {
        "c0-name": " ",
        "c0-read": "none",
        "c0-write": "none",
        "c0-f0-name": "",
        "c0-f0-type": "string",
    }
    assert collections_of(untouched)[0].blank
    named = {**untouched, "c0-f0-name": "price"}
    assert not collections_of(named)[0].blank
    assert collections_of(named)[0].body()["name"] == "", "the API says what a missing name is"

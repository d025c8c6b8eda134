from __future__ import annotations

from typing import Any

import msgspec
import pytest

from pgcube.errors import UnknownOp, ValidationError
from pgcube.schemas.ddo import DdoBody, Find, Insert, Remove, Restore, Update, Upsert, parse_ddo


def parse(body: dict[str, Any]) -> Any:
    return parse_ddo(msgspec.convert(body, DdoBody))


def test_collection_find_uses_match_and_filter_as_projection() -> None:
    request = parse(
        {"op": "collection.find", "collection": "users", "match": {"a": 1}, "filter": {"name": 1}, "limit": 5}
    )
    assert isinstance(request, Find)
    assert request.match == {"a": 1}
    assert request.match_pointer == "/match"
    assert request.projection == {"name": 1}
    assert request.limit == 5
    assert request.with_total is True


@pytest.mark.parametrize("key", ["filter", "filters", "matches"])
def test_db_family_takes_criteria_from_aliases(key: str) -> None:
    request = parse({"action": "db.fetch", "collection": "users", key: {"a": 1}, "return_fields": ["a"]})
    assert isinstance(request, Find)
    assert request.match == {"a": 1}
    assert request.match_pointer == f"/{key}"
    assert request.projection == ["a"]


def test_criteria_sent_twice_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse({"op": "db.find", "collection": "c", "match": {"a": 1}, "filters": {"b": 2}})


def test_missing_match_matches_everything() -> None:
    request = parse({"op": "collection.count", "collection": "c"})
    assert request.match == {}


def test_count_none_skips_the_total() -> None:
    assert parse({"op": "collection.find", "collection": "c", "count": "none"}).with_total is False


def test_insert_one_or_many() -> None:
    one = parse({"op": "db.insert", "collection": "c", "data": {"a": 1}})
    many = parse({"op": "collection.insert", "collection": "c", "data": [{"a": 1}, {"a": 2}]})
    assert isinstance(one, Insert)
    assert one.single
    assert one.documents == [{"a": 1}]
    assert isinstance(many, Insert)
    assert not many.single
    assert len(many.documents) == 2


def test_update_upsert_delete_archive_restore() -> None:
    update = parse({"op": "collection.update", "collection": "c", "match": {"a": 1}, "data": {"b": 2}})
    assert isinstance(update, Update)
    assert update.mutation == {"b": 2}
    upsert = parse(
        {"op": "db.upsert", "collection": "c", "match": {"a": 1}, "update": {"b": 2}, "insert": {}}
    )
    assert isinstance(upsert, Upsert)
    deleted = parse({"op": "collection.delete", "collection": "c", "match": {"a": 1}})
    archived = parse({"op": "db.archive", "collection": "c", "match": {"a": 1}})
    assert isinstance(deleted, Remove)
    assert deleted.kind == "deleted"
    assert isinstance(archived, Remove)
    assert archived.kind == "archived"
    restore = parse({"op": "collection.restore", "collection": "c", "_ref": "r1"})
    assert isinstance(restore, Restore)
    assert restore.ref == "r1"


def test_unknown_op_is_unknown_op() -> None:
    with pytest.raises(UnknownOp):
        parse({"op": "collection.explode", "collection": "c"})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"collection": "c"}, "op"),
        ({"op": "collection.find"}, "collection"),
        ({"op": "collection.insert", "collection": "c"}, "data"),
        ({"op": "collection.update", "collection": "c", "data": [1]}, "data"),
        ({"op": "collection.restore", "collection": "c"}, "_ref"),
    ],
)
def test_missing_or_wrong_parts_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(body)
    assert caught.value.details["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"op": "collection.delete", "collection": "c", "filter": {"s": "old"}}, "filter"),
        (
            {"op": "collection.update", "collection": "c", "filters": {"s": "old"}, "data": {"a": 1}},
            "filters",
        ),
        ({"op": "collection.count", "collection": "c", "matches": {"s": "old"}}, "matches"),
        ({"op": "collection.delete", "collection": "c", "match": {}, "data": {"a": 1}}, "data"),
        ({"op": "collection.insert", "collection": "c", "data": {}, "match": {"a": 1}}, "match"),
        ({"op": "collection.find", "collection": "c", "_ref": "r"}, "_ref"),
    ],
)
def test_keys_the_op_does_not_read_are_refused(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(body)
    assert caught.value.details == {"field": field}


def test_a_misspelled_key_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="where"):
        parse({"op": "collection.delete", "collection": "c", "where": {"s": "old"}})


def test_mongo_sort_object_is_accepted() -> None:
    assert parse({"op": "collection.find", "collection": "c", "sort": {"price": -1}}).sort == {"price": -1}

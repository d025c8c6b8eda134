"""Decoding DDO bodies: the op first, then that op's closed body, into a document command."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from pgcube.data.commands import Count, Find, Insert, Remove, Restore, Update, Upsert
from pgcube.errors import InvalidJson, UnknownOp, ValidationError
from pgcube.ops import REGISTRY
from pgcube.ops.collection import FIND
from pgcube.schemas.ddo import decode_ddo


def parse(body: dict[str, Any]) -> Any:
    _, decoded = decode_ddo(msgspec.json.encode(body), REGISTRY)
    return decoded.command()


def test_collection_find_uses_match_and_filter_as_projection() -> None:
    request = parse(
        {"op": "collection.find", "collection": "users", "match": {"a": 1}, "filter": {"name": 1}, "limit": 5}
    )
    assert isinstance(request, Find)
    assert request.criteria == {"a": 1}
    assert request.pointers.criteria == "/match"
    assert request.projection == {"name": 1}
    assert request.limit == 5
    assert request.with_total is True


@pytest.mark.parametrize("key", ["filter", "filters", "matches"])
def test_db_family_takes_criteria_from_aliases(key: str) -> None:
    request = parse({"action": "db.fetch", "collection": "users", key: {"a": 1}, "return_fields": ["a"]})
    assert isinstance(request, Find)
    assert request.criteria == {"a": 1}
    assert request.pointers.criteria == f"/{key}"
    assert request.projection == ["a"]


def test_every_name_of_an_op_resolves_to_it() -> None:
    for name in ("collection.find", "db.find", "db.fetch"):
        op, _ = decode_ddo(msgspec.json.encode({"op": name, "collection": "c"}), REGISTRY)
        assert op is FIND


def test_criteria_sent_twice_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse({"op": "db.find", "collection": "c", "match": {"a": 1}, "filters": {"b": 2}})


def test_a_db_filter_that_is_a_list_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        parse({"op": "db.find", "collection": "c", "filter": ["a"]})
    assert caught.value.details == {"field": "filter"}


def test_missing_match_matches_everything() -> None:
    request = parse({"op": "collection.count", "collection": "c"})
    assert isinstance(request, Count)
    assert request.criteria == {}


def test_count_none_skips_the_total() -> None:
    assert parse({"op": "collection.find", "collection": "c", "count": "none"}).with_total is False


def test_insert_one_or_many() -> None:
    one = parse({"op": "db.insert", "collection": "c", "data": {"a": 1}})
    many = parse({"op": "collection.insert", "collection": "c", "data": [{"a": 1}, {"a": 2}]})
    assert isinstance(one, Insert)
    assert one.documents == [{"a": 1}]
    assert isinstance(many, Insert)
    assert len(many.documents) == 2


def test_update_upsert_delete_archive_restore() -> None:
    update = parse({"op": "collection.update", "collection": "c", "match": {"a": 1}, "data": {"b": 2}})
    assert isinstance(update, Update)
    assert update.mutation == {"b": 2}
    assert update.mutation_pointer == "/data"
    upsert = parse(
        {"op": "db.upsert", "collection": "c", "match": {"a": 1}, "update": {"b": 2}, "insert": {}}
    )
    assert isinstance(upsert, Upsert)
    assert (upsert.mutation, upsert.new_document, upsert.mutation_pointer) == ({"b": 2}, {}, "/update")
    deleted = parse({"op": "collection.delete", "collection": "c", "match": {"a": 1}})
    archived = parse({"op": "db.archive", "collection": "c", "match": {"a": 1}})
    assert isinstance(deleted, Remove)
    assert deleted.kind == "deleted"
    assert isinstance(archived, Remove)
    assert archived.kind == "archived"
    restore = parse({"op": "collection.restore", "collection": "c", "_ref": "r1"})
    assert isinstance(restore, Restore)
    assert restore.ref == "r1"


def test_unknown_op_is_unknown_op_with_the_closest_names() -> None:
    with pytest.raises(UnknownOp) as caught:
        parse({"op": "collection.fnd", "collection": "c"})
    assert caught.value.details["closest"][0] == "collection.find"
    assert "collection.find" in caught.value.details["known"]


def test_an_unknown_op_is_judged_before_its_body() -> None:
    """An op pgcube does not have: 404 UNKNOWN_OP, never 'unknown field plan'."""
    with pytest.raises(UnknownOp):
        parse({"op": "billing.subscribe", "plan": "pro", "email": "u@x"})


def test_op_and_action_naming_different_ops_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        parse({"op": "collection.find", "action": "db.delete", "collection": "c"})
    assert caught.value.details == {"field": "action"}
    assert isinstance(parse({"op": "collection.find", "action": "db.find", "collection": "c"}), Find)


@pytest.mark.parametrize("raw", [b"", b"  ", b"{nope", b'{"op": '])
def test_no_body_or_bad_json_is_invalid_json(raw: bytes) -> None:
    with pytest.raises(InvalidJson):
        decode_ddo(raw, REGISTRY)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"collection": "c"}, "op"),
        ({"op": 5, "collection": "c"}, "op"),
        ({"op": "collection.find"}, "collection"),
        ({"op": "collection.find", "collection": ""}, "collection"),
        ({"op": "collection.insert", "collection": "c"}, "data"),
        ({"op": "collection.update", "collection": "c", "data": [1]}, "data"),
        ({"op": "collection.find", "collection": "c", "limit": "ten"}, "limit"),
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
        ({"op": "collection.delete", "collection": "c", "where": {"s": "old"}}, "where"),
        # Inside a nested object the key is named by its whole path.
        ({"op": "vdb.insert", "collection": "c", "data": [{"content": "a", "tags": ["x"]}]}, "data[0].tags"),
        (
            {"op": "vdb.insert", "collection": "c", "data": [{"content": "a"}], "options": {"size": 9}},
            "options.size",
        ),
    ],
)
def test_keys_the_op_does_not_read_are_refused(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(body)
    assert caught.value.details == {"field": field}
    assert str(body["op"]) in caught.value.message


def test_mongo_sort_object_is_accepted() -> None:
    assert parse({"op": "collection.find", "collection": "c", "sort": {"price": -1}}).sort == {"price": -1}


def test_a_body_that_is_no_object_says_so() -> None:
    with pytest.raises(ValidationError, match="must be a JSON object"):
        decode_ddo(b"[1, 2]", REGISTRY)

"""A collection's name from a file's name; the import's generated keys."""

from __future__ import annotations

import itertools
import uuid

import pytest

from pgcube.data.documents import KEY_PATTERN
from pgcube.data.imports import collection_name_from_filename
from pgcube.data.imports.service import uuid4_keys
from pgcube.errors import ValidationError


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("events.json", "events"),
        ("events.ndjson", "events"),
        ("Events.JSONL", "events"),
        ("events.json.gz", "events"),
        ("events.ndjson.gz", "events"),
        ("Web Events-2024.ndjson.gz", "web_events_2024"),
        ("exports/2024/users.json", "users"),
        ("C:\\Users\\me\\Café orders.json", "caf__orders"),
        ("data.v2.json", "data_v2"),
        ("no_extension", "no_extension"),
        ("x" * 100 + ".json", "x" * 63),
    ],
)
def test_the_name_is_the_file_name_without_extensions_sanitised(filename: str, name: str) -> None:
    assert collection_name_from_filename(filename) == name


@pytest.mark.parametrize("filename", ["2024.json", ".json", "", "pg_stats.json", "_trash.json"])
def test_a_file_name_that_makes_no_valid_name_asks_for_collection_name(filename: str) -> None:
    with pytest.raises(ValidationError) as caught:
        collection_name_from_filename(filename)
    assert caught.value.details["field"] == "collection_name"
    assert "collection_name" in caught.value.message


def test_generated_keys_are_uuid4_hex_and_unique() -> None:
    keys = list(itertools.islice(uuid4_keys(batch=64), 1000))
    assert len(set(keys)) == 1000
    for key in keys:
        assert KEY_PATTERN.match(key)
        parsed = uuid.UUID(key)
        assert parsed.hex == key
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122

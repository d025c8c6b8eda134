"""POST /api/import_data (SPEC §8): formats, names, modes, and every kind of bad record."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from tests.integration.imports.conftest import ImportDb


def ndjson(docs: list[Any]) -> bytes:
    return b"".join(json.dumps(doc).encode() + b"\n" for doc in docs)


def array(docs: list[Any]) -> bytes:
    return json.dumps(docs, indent=2).encode()


DOCS = [{"name": f"item {i}", "n": i, "tags": ["a", "b"][: i % 3]} for i in range(25)]


@pytest.mark.parametrize(
    ("form", "content"),
    [
        ("array", array(DOCS)),
        ("ndjson", ndjson(DOCS)),
        ("gzip array", gzip.compress(array(DOCS))),
        ("gzip ndjson", gzip.compress(ndjson(DOCS))),
    ],
)
def test_array_ndjson_and_gzip_import_every_document(db: ImportDb, form: str, content: bytes) -> None:
    response = db.upload(content, collection="items")
    assert response.status_code == 201, response.text
    assert response.json() == {"success": True, "collection": "items", "inserted_count": 25}
    found = db.find("items", sort="n asc", limit=100)["data"]
    assert [{k: v for k, v in doc.items() if not k.startswith("_")} for doc in found] == DOCS
    assert all(len(doc["_key"]) == 32 and doc["_created_at"].endswith("Z") for doc in found)


def test_timestamps_are_ignored_and_a_given_key_and_userkey_are_kept(db: ImportDb) -> None:
    """The account's own credential may name a document's end user (SPEC §11.4); a web key's
    import is stamped with its signed-in user instead (tests/integration/access)."""
    docs = [
        {"_key": "alpha", "name": "a", "_created_at": "1999-01-01T00:00:00.000Z", "_userkey": "someone"},
        {"name": "b", "_modified_at": "x"},
    ]
    response = db.upload(ndjson(docs), collection="items")
    assert response.status_code == 201, response.text
    rows = dict(db.rows("items") or [])
    assert rows["alpha"] == {"name": "a"}
    assert {"name": "b"} in rows.values()
    found = db.find("items", match={"_key": "alpha"})["data"][0]
    assert found["_userkey"] == "someone"
    assert not found["_created_at"].startswith("1999")


@pytest.mark.parametrize(
    ("filename", "collection"),
    [
        ("events.json", "events"),
        ("Web Events-2024.ndjson.gz", "web_events_2024"),
        ("exports/Users.JSONL", "users"),
    ],
)
def test_the_collection_is_named_after_the_file_and_created(
    db: ImportDb, filename: str, collection: str
) -> None:
    content = ndjson([{"a": 1}, {"a": 2}])
    response = db.upload(gzip.compress(content) if filename.endswith(".gz") else content, filename=filename)
    assert response.status_code == 201, response.text
    assert response.json() == {"success": True, "collection": collection, "inserted_count": 2}
    assert db.count(collection) == 2


def test_a_file_name_that_makes_no_collection_name_needs_collection_name(db: ImportDb) -> None:
    response = db.upload(ndjson([{"a": 1}]), filename="2024.json")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["field"] == "collection_name"
    response = db.upload(ndjson([{"a": 1}]), filename="2024.json", collection="year_2024")
    assert response.status_code == 201, response.text


def test_upsert_replaces_by_key_and_inserts_the_rest(db: ImportDb) -> None:
    first = [{"_key": "a", "name": "first a", "n": 1}, {"_key": "b", "name": "first b", "n": 2}]
    assert db.upload(ndjson(first), collection="items").status_code == 201
    created = {doc["_key"]: doc for doc in db.find("items")["data"]}
    second = [
        {"_key": "b", "name": "second b"},
        {"_key": "c", "name": "second c", "n": 3},
        {"_key": "c", "name": "third c", "n": 4},  # the same key twice in the file: the last wins
    ]
    response = db.upload(array(second), collection="items", mode="upsert")
    assert response.status_code == 201, response.text
    assert response.json()["inserted_count"] == 2
    assert db.rows("items") == [
        ("a", {"name": "first a", "n": 1}),
        ("b", {"name": "second b"}),
        ("c", {"name": "third c", "n": 4}),
    ]
    after = {doc["_key"]: doc for doc in db.find("items")["data"]}
    assert after["b"]["_created_at"] == created["b"]["_created_at"]
    assert after["b"]["_modified_at"] >= created["b"]["_modified_at"]


def test_insert_mode_refuses_an_existing_key_and_writes_nothing(db: ImportDb) -> None:
    db.insert("items", [{"_key": "taken", "name": "old"}])
    docs = [{"name": "new 0"}, {"_key": "free", "name": "new 1"}, {"_key": "taken", "name": "new 2"}]
    response = db.upload(ndjson(docs), collection="items")
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "DUPLICATE_KEY"
    assert error["details"] == {"index": 2, "_key": "taken", "existing": True}
    assert db.rows("items") == [("taken", {"name": "old"})]


def test_insert_mode_refuses_a_key_twice_in_the_file(db: ImportDb) -> None:
    docs = [{"_key": "x", "name": "0"}, {"_key": "y", "name": "1"}, {"_key": "x", "name": "2"}]
    response = db.upload(array(docs), collection="items")
    assert response.status_code == 409, response.text
    assert response.json()["error"]["details"] == {"index": 2, "_key": "x", "existing": False}
    assert db.count("items") == 0


LONG = "x" * (1024 * 1024)

BAD_RECORDS = {
    # kind: (documents with the bad one at index 3, status, code)
    "not an object": ([1, 2, 3, [4]], 400, "VALIDATION_ERROR"),
    "declared field violated": ([{}, {}, {}, {"name": 5}], 400, "VALIDATION_ERROR"),
    "required field missing": ([{}, {}, {}, {"n": 5}], 400, "VALIDATION_ERROR"),
    "NUL in a string": ([{}, {}, {}, {"name": "a\x00b"}], 400, "VALIDATION_ERROR"),
    "NUL in a key": ([{}, {}, {}, {"name": "a", "k\x00": 1}], 400, "VALIDATION_ERROR"),
    "bad _key": ([{}, {}, {}, {"name": "a", "_key": "no spaces"}], 400, "VALIDATION_ERROR"),
    "too large": ([{}, {}, {}, {"name": LONG}], 400, "VALIDATION_ERROR"),
}


DECLARED = {"declared field violated", "required field missing"}


def _with_good_ones(docs: list[Any]) -> list[Any]:
    """Documents 0-2 good, document 3 as given, then good ones."""
    good = [{"name": f"ok {i}"} for i in range(6)]
    return [good[0], good[1], good[2], docs[3], good[4], good[5]]


@pytest.mark.parametrize("kind", sorted(BAD_RECORDS))
@pytest.mark.parametrize("form", ["array", "ndjson"])
def test_a_bad_record_fails_the_import_with_its_index_and_writes_nothing(
    db: ImportDb, kind: str, form: str
) -> None:
    docs, status, code = BAD_RECORDS[kind]
    content = (array if form == "array" else ndjson)(_with_good_ones(docs))
    # An existing collection, and (unless the kind needs declared fields) one the import would create.
    collections = ("items",) if kind in DECLARED else ("items", "fresh")
    for collection in collections:
        response = db.upload(content, collection=collection)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code, error
        assert error["details"]["index"] == 3, error
        if form == "ndjson":
            assert error["details"]["line"] == 4, error
        assert "3" in error["message"]
    assert db.count("items") == 0
    assert db.count("fresh") is None


@pytest.mark.parametrize(
    ("content", "index"),
    [
        (b'[{"name": "a"}, {"name": "b"}, {"name": }]', 2),
        (b'[{"name": "a"}, {"name": NaN}]', 1),
        (b'[{"name": "a"} {"name": "b"}]', 1),
        (b'[{"name": "a"}, {"name": "b"}', 2),
        (b'[{"name": "a"}, {"name": "\xff"}]', 1),
        (b'{"name": "a"}\n{"name": "b"}\n{"name": "c"\n', 2),
        (b'{"name": "a"}\n[1, 2\n', 1),
    ],
)
def test_bad_json_fails_with_the_index_of_the_document(db: ImportDb, content: bytes, index: int) -> None:
    response = db.upload(content, collection="items")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_JSON", error
    assert error["details"]["index"] == index, error
    assert db.count("items") == 0


def test_the_first_bad_record_is_the_one_reported(db: ImportDb) -> None:
    # A duplicate key at 2 comes before a declared-field violation at 4, and the other way round.
    dup_first = [
        {"_key": "k", "name": "0"},
        {"name": "1"},
        {"_key": "k", "name": "2"},
        {"name": "3"},
        {"n": 4},
    ]
    response = db.upload(ndjson(dup_first), collection="items")
    assert (response.status_code, response.json()["error"]["details"]["index"]) == (409, 2), response.text
    bad_first = [{"_key": "k", "name": "0"}, {"n": 1}, {"_key": "k", "name": "2"}]
    response = db.upload(ndjson(bad_first), collection="items")
    assert (response.status_code, response.json()["error"]["details"]["index"]) == (400, 1), response.text
    assert db.count("items") == 0


def test_a_declared_field_violation_in_the_last_of_100000_records_writes_nothing(db: ImportDb) -> None:
    lines = [b'{"name": "item %d", "n": %d, "tags": ["a", "b"]}\n' % (i, i) for i in range(99_999)]
    lines.append(b'{"name": "item 99999", "n": "not an integer"}\n')
    response = db.upload(b"".join(lines), collection="items", filename="big.ndjson")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["details"] == {
        "index": 99_999,
        "line": 100_000,
        "field": "n",
        "expected": "integer",
        "got": "string",
    }
    assert db.count("items") == 0
    # The same file without the bad record goes in whole.
    response = db.upload(b"".join(lines[:-1]), collection="items", filename="big.ndjson")
    assert response.status_code == 201, response.text
    assert response.json()["inserted_count"] == 99_999
    assert db.count("items") == 99_999


def test_an_empty_array_imports_nothing_but_an_empty_file_is_refused(db: ImportDb) -> None:
    response = db.upload(b"[]", collection="items")
    assert response.status_code == 201, response.text
    assert response.json()["inserted_count"] == 0
    response = db.upload(b"  \n", collection="items")
    assert response.status_code == 400, response.text


def test_an_import_leaves_fresh_planner_statistics(db: ImportDb) -> None:
    """Plans right after an import see its rows (ADR 0010): the collection is analyzed in the
    import's transaction, before autovacuum would get to it."""
    schema = db.pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db.id)
    docs = [{"name": f"item {i}", "n": i, "color": "red" if i % 10 else "blue"} for i in range(2000)]
    response = db.upload(ndjson(docs), collection="items")
    assert response.status_code == 201, response.text
    live = db.pg.fetchval("SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)", f'"{schema}"."items"')
    assert live == 2000
    failed = db.upload(ndjson([{"name": "x", "n": "not a number"}]), collection="items")
    assert failed.status_code == 400
    live = db.pg.fetchval("SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)", f'"{schema}"."items"')
    assert live == 2000, "a failed import changes neither the rows nor their statistics"

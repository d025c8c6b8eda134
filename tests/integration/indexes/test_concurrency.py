"""A unique index under concurrency (ADR 0025): sixteen clients inserting one value at once, and
the upsert and import paths doing the same, leave exactly one document and answer everyone else
409; two builds of one index at once leave one index and one catalog row; a second pgcube
process learns of a new index through the catalog's notifications."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from pgcube.settings import Settings
from tests.integration.data.conftest import Db
from tests.integration.indexes.conftest import (
    SKU_INDEX,
    catalog_rows,
    invalid_indexes,
    physical_indexes,
)
from tests.support.live import LiveServer, test_settings
from tests.support.sync_pg import SyncPg

CLIENTS = 16


def at_once(
    base_url: str, count: int, call: Callable[[httpx.Client, int], httpx.Response]
) -> list[httpx.Response]:
    """``call`` from ``count`` threads, each with its own connection, released together."""
    barrier = threading.Barrier(count)
    answers: list[httpx.Response | BaseException] = [RuntimeError("no answer")] * count

    def run(i: int) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as http:
            http.get("/health")  # connected before the barrier: the requests leave together
            barrier.wait()
            try:
                answers[i] = call(http, i)
            except BaseException as exc:  # reported below, not lost in the thread
                answers[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers  # type: ignore[return-value]


def statuses(answers: list[httpx.Response]) -> list[int]:
    return sorted(answer.status_code for answer in answers)


def refused_by_the_index(answer: httpx.Response) -> bool:
    error = answer.json()["error"]
    return error["code"] == "DUPLICATE_KEY" and error["details"]["index_name"] == SKU_INDEX


def test_sixteen_clients_insert_one_value_at_once(db: Db, schema: str, pg: SyncPg) -> None:
    body = {"database_id": db.id, "collection_name": "products", "data": {"sku": "RACE"}}
    answers = at_once(
        str(db.client.base_url),
        CLIENTS,
        lambda http, i: http.post("/api/crud", json=body, headers=db.headers),
    )
    assert statuses(answers) == [201] + [409] * (CLIENTS - 1), [a.text for a in answers]
    assert all(refused_by_the_index(a) for a in answers if a.status_code == 409)
    assert pg.fetchval(f"SELECT count(*) FROM \"{schema}\".products WHERE data->>'sku' = 'RACE'") == 1


def test_concurrent_upserts_insert_one_value_once(db: Db, schema: str, pg: SyncPg) -> None:
    def upsert(http: httpx.Client, i: int) -> httpx.Response:
        body = {
            "op": "collection.upsert",
            "collection": "products",
            "match": {"price": i},  # a different document each: every one inserts
            "update": {},
            "insert": {"sku": "UPSERTED"},
        }
        return http.post(f"/api/{db.id}", json=body, headers=db.headers)

    answers = at_once(str(db.client.base_url), CLIENTS, upsert)
    assert statuses(answers) == [200] + [409] * (CLIENTS - 1), [a.text for a in answers]
    assert all(refused_by_the_index(a) for a in answers if a.status_code == 409)
    assert pg.fetchval(f'SELECT count(*) FROM "{schema}".products') == 1


def test_concurrent_imports_of_one_value(db: Db, schema: str, pg: SyncPg) -> None:
    def upload(http: httpx.Client, i: int) -> httpx.Response:
        content = b"\n".join(json.dumps({"sku": s}).encode() for s in (f"only-{i}", "SHARED"))
        return http.post(
            "/api/import_data",
            data={"database_id": db.id, "collection_name": "products"},
            files={"json_file": ("p.ndjson", content)},
            headers=db.headers,
        )

    # Two at a time: an account runs at most two imports at once (import_max_concurrent_per_account).
    answers = at_once(str(db.client.base_url), 2, upload)
    assert statuses(answers) == [201, 409], [a.text for a in answers]
    assert all(a.json()["error"]["details"]["index"] == 1 for a in answers if a.status_code == 409)
    assert pg.fetchval(f'SELECT count(*) FROM "{schema}".products') == 2


def test_two_builds_of_one_index_at_once_leave_one(db: Db, schema: str, pg: SyncPg) -> None:
    db.insert("products", [{"category": f"c{i}", "price": i} for i in range(500)])
    base_url = str(db.client.base_url)
    body = {"database_id": db.id, "collection": "products", "fields": ["price", "category"]}
    answers = at_once(
        base_url, 2, lambda http, i: http.post("/api/create_index", json=body, headers=db.headers)
    )
    assert statuses(answers) == [201, 409], [a.text for a in answers]
    assert [a.json()["error"]["code"] for a in answers if a.status_code == 409] == ["CONFLICT"]
    name = "products$i$price$category"
    assert [row for row in catalog_rows(pg, db.id) if row[1] == name] == [
        ("products", name, ["price", "category"], False)
    ]
    assert name in physical_indexes(pg, schema, "products")
    assert invalid_indexes(pg, schema) == []


@pytest.fixture(scope="module")
def second_server(settings: Settings) -> Iterator[httpx.Client]:
    """Another pgcube on the same PostgreSQL, with its own catalog cache and listener."""
    with LiveServer(test_settings(settings.database_url or "")) as server, server.client() as http:
        yield http


def eventually(
    answer: Callable[[], httpx.Response], accepted: Callable[[httpx.Response], bool], within: float = 3.0
) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = answer()
        if accepted(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_another_process_learns_of_a_new_index(db: Db, second_server: httpx.Client) -> None:
    """The first server caches ``products`` (fields, indexes) at its first write; the index made
    through the second one reaches it by notification: its 409 names the index's fields and the
    document, which only its catalog copy can tell."""
    db.insert("products", [{"category": "cached", "price": 1}])

    def insert() -> httpx.Response:
        return db.ddo(
            {"op": "collection.insert", "collection": "products", "data": {"category": "cached", "price": 1}}
        )

    made = second_server.post(
        "/api/create_index",
        json={"database_id": db.id, "collection": "products", "fields": ["price"], "unique": True},
        headers=db.headers,
    )
    assert made.status_code == 201, made.text
    refused = eventually(insert, lambda r: r.status_code == 409 and "fields" in r.json()["error"]["details"])
    assert refused.status_code == 409, refused.text
    details: dict[str, Any] = refused.json()["error"]["details"]
    assert details == {
        "index_name": "products$i$price",
        "fields": ["price"],
        "index": 0,
        "values": {"price": 1},
        "existing": True,
    }

    dropped = second_server.post(
        "/api/drop_index",
        json={"database_id": db.id, "collection": "products", "name": "products$i$price"},
        headers=db.headers,
    )
    assert dropped.status_code == 200, dropped.text
    assert insert().status_code == 200
    metadata = db.client.get("/api/get_metadata", params={"database_id": db.id}, headers=db.headers).json()
    assert "products$i$price" not in {
        i["name"] for c in metadata["data"]["collections"] for i in c["indexes"]
    }

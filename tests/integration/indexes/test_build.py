"""``create_index`` on a 200,000-document collection builds ``CONCURRENTLY``: finds and inserts
are answered while the build runs (ADR 0025).

"While" is proved by PostgreSQL itself, with no timing bound: each counted answer came between
two looks at ``pg_stat_progress_create_index`` that both saw the same build in progress.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.integration.data.conftest import Db, make_db
from tests.integration.indexes.conftest import catalog_rows, invalid_indexes, physical_indexes
from tests.support.accounts import Account
from tests.support.end_users import schema_of
from tests.support.sync_pg import SyncPg

DOCUMENTS = 200_000
BIG: dict[str, Any] = {
    "name": "big",
    "fields": [
        {"name": "n", "type": "integer"},
        {"name": "group", "type": "string"},
        {"name": "at", "type": "datetime"},
    ],
}


def fill(pg: SyncPg, schema: str, chunk: int = 20_000) -> None:
    """The documents, in chunks that each fit the test connection's statement timeout."""
    for start in range(1, DOCUMENTS + 1, chunk):
        pg.execute(
            f'INSERT INTO "{schema}".big (_key, data) '
            "SELECT md5(i::text), jsonb_build_object('n', i, 'group', 'g' || (i % 97), "
            "'at', to_char(timestamptz '2024-01-01' + i * interval '1 minute', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) "
            "FROM generate_series($1::int, $2::int) AS i",
            start,
            min(start + chunk - 1, DOCUMENTS),
        )


def build_in_progress(pg: SyncPg, schema: str) -> int | None:
    """The pid of the backend building an index on ``big``, if one is."""
    pid: int | None = pg.fetchval(
        "SELECT p.pid FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.relid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'big'",
        schema,
    )
    return pid


@pytest.fixture(scope="module")
def big(module_client: httpx.Client, module_account: Account, pg: SyncPg) -> tuple[Db, str]:
    """A database whose ``big`` holds ``DOCUMENTS`` documents, and its schema."""
    db: Db = make_db(module_client, module_account, [BIG])
    schema = schema_of(pg, db.id)
    fill(pg, schema)
    pg.execute(f'ANALYZE "{schema}".big')
    return db, schema


def test_a_build_whose_backend_dies_leaves_nothing(big: tuple[Db, str], pg: SyncPg) -> None:
    """The building connection killed mid-build (as a crash or a cancelled request would end it):
    the answer is an error, and the INVALID index it left is dropped — no index, no catalog row."""
    db, schema = big
    result: dict[str, Any] = {}

    def build() -> None:
        with httpx.Client(base_url=str(db.client.base_url), timeout=600) as http:
            result["answer"] = http.post(
                "/api/create_index",
                json={"database_id": db.id, "collection": "big", "fields": ["at", "group"]},
                headers=db.headers,
            )

    builder = threading.Thread(target=build)
    builder.start()
    killed = False
    while builder.is_alive() and not killed:
        pid = build_in_progress(pg, schema)
        if pid is not None:
            killed = bool(pg.fetchval("SELECT pg_terminate_backend($1)", pid))
        time.sleep(0.02)
    builder.join()
    if not killed:
        pytest.skip("the build ended before it could be interrupted")
    answer = result["answer"]
    assert answer.status_code == 503, answer.text  # the connection was lost: retry later
    assert answer.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    name = "big$i$at$group"
    deadline = time.monotonic() + 30  # the clean-up waits for the killed backend to be gone
    while name in physical_indexes(pg, schema, "big") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert name not in physical_indexes(pg, schema, "big")
    assert invalid_indexes(pg, schema) == []
    assert name not in {row[1] for row in catalog_rows(pg, db.id)}


def test_a_build_on_200k_documents_lets_finds_and_inserts_through(big: tuple[Db, str], pg: SyncPg) -> None:
    db, schema = big

    result: dict[str, Any] = {}

    def build() -> None:
        started = time.monotonic()
        with httpx.Client(base_url=str(db.client.base_url), timeout=600) as http:
            result["answer"] = http.post(
                "/api/create_index",
                json={
                    "database_id": db.id,
                    "collection": "big",
                    "fields": ["group", "at", "n"],
                    "unique": True,
                },
                headers=db.headers,
            )
        result["seconds"] = time.monotonic() - started

    builder = threading.Thread(target=build)
    builder.start()
    counted = {"find": 0, "insert": 0}
    answered = {"find": 0, "insert": 0}
    seen_build = False
    i = 0
    while builder.is_alive():
        before = build_in_progress(pg, schema)
        seen_build = seen_build or before is not None
        kind = "find" if i % 2 == 0 else "insert"
        if kind == "find":
            response = db.ddo(
                {"op": "collection.find", "collection": "big", "match": {"group": f"g{i % 97}"}, "limit": 5}
            )
            assert response.status_code == 200, response.text
            assert len(response.json()["data"]) == 5
        else:
            response = db.ddo(
                {"op": "collection.insert", "collection": "big", "data": {"n": DOCUMENTS + i, "group": "new"}}
            )
            assert response.status_code == 200, response.text
        answered[kind] += 1
        if before is not None and build_in_progress(pg, schema) == before:
            counted[kind] += 1
        i += 1
    builder.join()

    answer = result["answer"]
    assert answer.status_code == 201, answer.text
    assert seen_build, "the build was never seen in pg_stat_progress_create_index"
    assert counted["find"] >= 1, (counted, answered, result["seconds"])
    assert counted["insert"] >= 1, (counted, answered, result["seconds"])
    name = "big$i$group$at$n"
    assert physical_indexes(pg, schema, "big")[name].startswith(f'CREATE UNIQUE INDEX "{name}"')
    assert ("big", name, ["group", "at", "n"], True) in catalog_rows(pg, db.id)
    assert invalid_indexes(pg, schema) == []
    # The figures, for the record (pytest -s): how long, and what was answered meanwhile.
    print(
        f"\nbuild of {name} on {DOCUMENTS} documents: {result['seconds']:.2f} s; answered during it: {counted}"
    )

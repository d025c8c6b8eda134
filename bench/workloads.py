"""The workloads: each one DDO request shape, with many variants (random keys, ranges).

A workload's requests go to pgcube over HTTP with wrk; its floor runs the
statement pgcube's own code emits for the same request body (captured by
running the DDO dispatch on a recording connection, so floor and pgcube can
never drift apart); its ceiling sends the same bodies to the trivial handler.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from bench import datagen
from bench.fixtures import READS, WRITES, Fixture
from bench.floor import Statement
from pgcube.api import ddo
from pgcube.data import service
from pgcube.management.ddl import field_index_name, gin_index_name
from pgcube.schemas.ddo import DdoBody, Insert, parse_ddo
from pgcube.settings import Settings

CONNECTIONS = 16
PAGING_CONNECTIONS = 4
"""The deep-offset page costs PostgreSQL a scan of 50,000 rows: 16 at once would
only queue on 2 cores (and meet the statement timeout). The three paging
workloads use the same concurrency, so their latencies compare."""
VARIANTS = 1000
PAGE = 25
DEEP_PAGE = 2000


@dataclass(frozen=True)
class Target:
    """A goal of the issue: ``metric`` (``floor``, ``ceiling`` or ``latency``) at least ``ratio``."""

    metric: str
    ratio: float
    text: str
    index: str | None = None
    """An index the plan must use (its name), for targets that name one."""


@dataclass
class Workload:
    name: str
    title: str
    collection: str
    bodies: list[dict[str, Any]]
    check: Callable[[dict[str, Any]], bool]
    connections: int = CONNECTIONS
    docs_per_request: int = 1
    target: Target | None = None
    writes: bool = False
    """Inserts: the write collection is emptied before each measurement."""
    note: str = ""
    encoded: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.encoded = [msgspec.json.encode(body) for body in self.bodies]

    @property
    def unit(self) -> str:
        return "docs/s" if self.docs_per_request > 1 else "req/s"


def _find(match: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"op": "collection.find", "collection": READS, "match": match, **extra}


def _data(answer: dict[str, Any]) -> list[Any]:
    data = answer.get("data")
    return data if isinstance(data, list) else []


def build(n: int, seed: int = datagen.SEED) -> list[Workload]:
    """Every workload for a collection of ``n`` documents (deterministic for a seed).

    ``cursor`` bodies are filled in later (``with_cursor``): the cursor comes
    from pgcube.
    """
    rnd = random.Random(seed)
    keys = [datagen.key(rnd.randrange(n)) for _ in range(VARIANTS)]
    # Category (1 in 20) and the supplier's country (1 in 10): ~n/200 matches, few enough
    # that PostgreSQL answers from the GIN index rather than by walking the sort's index.
    pairs = [(c, k) for c in datagen.CATEGORIES for k in datagen.COUNTRIES]
    lows = [rnd.randrange(1, datagen.PRICE_MAX - 20) for _ in range(VARIANTS)]
    fresh = datagen.new_documents(VARIANTS + 4 * 1000, seed)
    batches = [fresh[VARIANTS + i * 1000 : VARIANTS + (i + 1) * 1000] for i in range(4)]
    deep_offset = (DEEP_PAGE - 1) * PAGE
    return [
        Workload(
            "get",
            "get one document by _key",
            READS,
            [_find({"_key": k}) for k in keys],
            lambda a: len(_data(a)) == 1,
            target=Target("ceiling", 0.60, "≥ 60 % of the framework ceiling"),
            note="`match: {_key}`; the primary key",
        ),
        Workload(
            "find_eq",
            "find: equality on two fields, 25 docs",
            READS,
            [_find({"category": c, "supplier.country": k}, limit=PAGE, count="none") for c, k in pairs],
            lambda a: len(_data(a)) == PAGE,
            target=Target("floor", 0.60, "≥ 60 % of the floor (GIN)", index=gin_index_name(READS)),
            note=f'`{{category, supplier.country}}` (~{n // 200:,} matches), `limit 25`, `count: "none"`',
        ),
        Workload(
            "range_sort",
            "find: range + sort on a declared number, 25 docs",
            READS,
            [
                _find({"price:$gte": lo, "price:$lt": lo + 10}, sort="price asc", limit=PAGE, count="none")
                for lo in lows
            ],
            lambda a: len(_data(a)) == PAGE,
            target=Target(
                "floor",
                0.50,
                "≥ 50 % of the floor, B-tree in the plan",
                index=field_index_name(READS, "price"),
            ),
            note='`price` in [lo, lo+10), `sort: "price asc"`, `limit 25`, `count: "none"`',
        ),
        Workload(
            "page1",
            "page 1 (default sort)",
            READS,
            [_find({}, page=1, per_page=PAGE, count="none")],
            lambda a: len(_data(a)) == PAGE,
            connections=PAGING_CONNECTIONS,
            note='`page 1, per_page 25`, `count: "none"`; the baseline of the cursor target',
        ),
        Workload(
            "page_offset",
            f"page {DEEP_PAGE:,} by offset",
            READS,
            [_find({}, page=DEEP_PAGE, per_page=PAGE, count="none")],
            lambda a: len(_data(a)) == PAGE,
            connections=PAGING_CONNECTIONS,
            note=f"OFFSET {deep_offset:,}",
        ),
        Workload(
            "page_cursor",
            f"page {DEEP_PAGE:,} by cursor",
            READS,
            [],  # filled in by with_cursor
            lambda a: len(_data(a)) == PAGE,
            connections=PAGING_CONNECTIONS,
            target=Target("latency", 0.5, "p50 within 2x of page 1's"),
            note=f"`cursor` = `next_cursor` of page {DEEP_PAGE - 1:,}",
        ),
        Workload(
            "count",
            "count with a filter",
            READS,
            [
                {"op": "collection.count", "collection": READS, "match": {"category": c}}
                for c in datagen.CATEGORIES
            ],
            lambda a: isinstance(a.get("data"), dict) and a["data"].get("count", 0) > 0,
            note=f"`{{category}}`: ~{n // len(datagen.CATEGORIES):,} matches",
        ),
        Workload(
            "insert_one",
            "insert one document, 16 clients",
            WRITES,
            [{"op": "collection.insert", "collection": WRITES, "data": doc} for doc in fresh[:VARIANTS]],
            lambda a: len(_data(a)) == 1,
            writes=True,
        ),
        Workload(
            "insert_batch",
            "insert 1,000 documents per request",
            WRITES,
            [{"op": "collection.insert", "collection": WRITES, "data": batch} for batch in batches],
            lambda a: len(_data(a)) == 1000,
            connections=4,
            docs_per_request=1000,
            writes=True,
            target=Target("floor", 0.50, "≥ 50 % of the floor's docs/s"),
            note="4 clients; docs/s",
        ),
        Workload(
            "update",
            "update one document by _key",
            READS,
            [
                {
                    "op": "collection.update",
                    "collection": READS,
                    "match": {"_key": k},
                    "data": {"$inc": {"inventory": 1}},
                }
                for k in keys
            ],
            lambda a: a.get("meta", {}).get("count") == 1,
            note="`$inc` on a declared integer (its B-tree index changes too)",
        ),
    ]


def with_cursor(workload: Workload, cursor: str) -> None:
    workload.bodies = [_find({}, per_page=PAGE, cursor=cursor, count="none")]
    workload.encoded = [msgspec.json.encode(body) for body in workload.bodies]


class _Recorder:
    """A stand-in connection that records the statements pgcube's code sends."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.statements.append((sql, args))
        return []

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.statements.append((sql, args))
        return 0

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        self.statements.append((sql, args))
        return None

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements.append((sql, args))
        return "SELECT 0"


async def _statements(fixture: Fixture, body: dict[str, Any]) -> list[tuple[str, tuple[Any, ...]]]:
    settings = Settings()
    parsed = parse_ddo(msgspec.convert(body, DdoBody))
    collection = fixture.collections[parsed.collection]
    where = service.Target(collection, service.compiler_view(collection))
    recorder = _Recorder()
    if isinstance(parsed, Insert):
        await service.insert(recorder, settings, where, parsed.documents)
    else:
        await ddo._run(recorder, settings, where, parsed)
    return recorder.statements


def floor_statement(fixture: Fixture, workload: Workload) -> Statement:
    """The data statement pgcube runs for each body of the workload (one shape, many parameters)."""
    sql_text: str | None = None
    params: list[tuple[Any, ...]] = []
    for body in workload.bodies:
        statements = asyncio.run(_statements(fixture, body))
        # The first statement is the one that answers the request; a second one
        # (the total of a find) is pgcube's own cost, not part of the floor.
        sql, args = statements[0]
        if sql_text is not None and sql != sql_text:
            raise RuntimeError(f"{workload.name}: the variants compile to different SQL")
        sql_text = sql
        params.append(args)
    assert sql_text is not None
    insert = workload.collection == WRITES
    return Statement(sql=sql_text, params=params, insert=insert)

"""The workloads: each one DDO request shape, with many variants (random keys, ranges).

A workload's requests go to pgcube over HTTP with wrk; its ceiling sends the
same bodies to the trivial handler; its floor (``Floor``) is the best SQL
written by hand for the same answer — the same documents, built the way
pgcube answers them (``_key``, ``_userkey`` and the two timestamps as ISO 8601
with milliseconds and ``Z``) — with the same variants as parameters. The floor
does not come from pgcube's request code, so a better plan in pgcube raises
pgcube, never the floor; ``bench.__main__`` checks that both give the same
answer before measuring.

A workload is sent by the account (its access token: the owner role, no access
rules) unless its ``caller`` is the end user (``bench.fixtures``). A workload
with a ``baseline`` asks the same as that other workload, by another caller:
its answers are checked equal to the baseline's, and its floor, ceiling and
bound are the baseline's measurements (the same statement, the same bytes).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from bench import datagen
from bench.fixtures import ACCOUNT, END_USER, READS, WRITES
from pgcube.query.fields import index_definition_sql

CONNECTIONS = 16
PAGING_CONNECTIONS = 4
"""The deep-offset page costs PostgreSQL a scan of 50,000 rows: 16 at once would
only queue on 2 cores (and meet the statement timeout). The three paging
workloads use the same concurrency, so their latencies compare."""
VARIANTS = 1000
PAGE = 25
DEEP_PAGE = 2000
BATCH = 1000

# --- the floor's SQL, by hand ---------------------------------------------------------------------

_ISO = """'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'"""
DOCUMENT = (
    "t.data || jsonb_build_object('_key', t._key, '_userkey', t._userkey, "
    f"'_created_at', to_char(t._created_at AT TIME ZONE 'UTC', {_ISO}), "
    f"'_modified_at', to_char(t._modified_at AT TIME ZONE 'UTC', {_ISO}))"
)
"""The document as the API answers it (docs/psql.md), built from the row ``t``."""
NEWEST = "_created_at DESC, _key DESC"
"""The default sort of a find: the ``$created`` B-tree, walked backwards."""


def price_expression() -> str:
    """The declared number's typed expression exactly as its B-tree index defines it."""
    definition = index_definition_sql("price", "number")
    suffix = " NULLS FIRST, _key)"
    if definition is None or not definition.startswith("(") or not definition.endswith(suffix):
        raise RuntimeError(f"unexpected index definition for a declared number: {definition}")
    return definition[1 : -len(suffix)]


def _page_of(where: str, order: str, limit: str = str(PAGE), offset: str = "") -> str:
    """Pick the page's rows on the table's columns; build documents only for them (after LIMIT)."""
    where = f" WHERE {where}" if where else ""
    return (
        f"SELECT {DOCUMENT} FROM (SELECT * FROM {{table}}{where} ORDER BY {order} "
        f"LIMIT {limit}{offset}) AS t ORDER BY {order}"
    )


@dataclass(frozen=True)
class Floor:
    """The hand-written statement (``{table}``: the collection's table) and one parameter tuple per variant.

    ``insert``: ``"one"`` — ``$1`` is a new ``_key`` per execution; ``"batch"``
    — ``$1`` is a list of new keys as long as ``$2``'s documents (pgcube makes
    a uuid4 hex key per document too).
    """

    sql: str
    params: list[tuple[Any, ...]]
    insert: str = ""
    answer: str = "documents"
    """What to compare with pgcube's answer: ``documents`` (the rows), ``count``, or ``none``."""


@dataclass(frozen=True)
class Target:
    """A goal of the issue: ``metric`` (``floor``, ``ceiling``, ``latency``, ``cpu``, ``workload``) at
    least ``ratio`` (for ``cpu``: at most ``ratio`` µs of worker CPU per request; for ``workload``:
    pgcube's throughput over its throughput on the workload ``of``, measured in the same run).

    The index each of pgcube's query shapes uses is pinned by pgcube's EXPLAIN tests; the
    report shows the floor's plan (PostgreSQL's choice for the best SQL), not pgcube's.
    """

    metric: str
    ratio: float
    text: str
    of: str = ""
    """For ``workload``: the name of the other workload."""


@dataclass
class Workload:
    name: str
    title: str
    collection: str
    bodies: list[dict[str, Any]]
    check: Callable[[dict[str, Any]], bool]
    floor: Floor
    connections: int = CONNECTIONS
    docs_per_request: int = 1
    targets: list[Target] = field(default_factory=list)
    writes: bool = False
    """Inserts: the write collection is emptied before each measurement."""
    note: str = ""
    caller: str = ACCOUNT
    """Who sends the requests: ``ACCOUNT`` or ``END_USER`` (``bench.fixtures.Fixture.headers_for``)."""
    baseline: str = ""
    """The workload this one repeats by another caller: the same answers (checked), and that
    workload's floor, ceiling and bound (measured once, for it)."""
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


def _jsonb(value: Any) -> bytes:
    return msgspec.json.encode(value)


def deep_page(n: int) -> int:
    """The deep page: page 2,000 (offset 49,975), or halfway into a smaller collection."""
    return max(2, min(DEEP_PAGE, n // (2 * PAGE)))


def build(n: int, seed: int = datagen.SEED) -> list[Workload]:
    """Every workload for a collection of ``n`` documents (deterministic for a seed).

    ``cursor`` bodies are filled in later (``with_cursor``): the cursor comes
    from pgcube.
    """
    rnd = random.Random(seed)
    keys = [datagen.key(rnd.randrange(n)) for _ in range(VARIANTS)]
    # Category (1 in 20) and the supplier's country (1 in 10): ~n/200 matches. For the
    # floor's containment PostgreSQL picks between the GIN index and walking the default
    # sort's index until 25 match (its choice is in the report's plans).
    pairs = [(c, k) for c in datagen.CATEGORIES for k in datagen.COUNTRIES]
    lows = [rnd.randrange(1, datagen.PRICE_MAX - 20) for _ in range(VARIANTS)]
    fresh = datagen.new_documents(VARIANTS + 4 * BATCH, seed)
    batches = [fresh[VARIANTS + i * BATCH : VARIANTS + (i + 1) * BATCH] for i in range(4)]
    deep = deep_page(n)
    deep_offset = (deep - 1) * PAGE
    # The row the cursor of page ``deep - 1`` points at: documents are 1 s apart, newest first.
    last = n - (deep - 1) * PAGE
    price = price_expression()
    price_order = f"{price} ASC NULLS FIRST, _key ASC"
    returning = f"RETURNING {DOCUMENT}"
    eq_bodies = [_find({"category": c, "supplier.country": k}, limit=PAGE, count="none") for c, k in pairs]
    eq_floor = Floor(
        _page_of("data @> $1", NEWEST),
        [(_jsonb({"category": c, "supplier": {"country": k}}),) for c, k in pairs],
    )
    eq_note = f'`{{category, supplier.country}}` (~{n // 200:,} matches), `limit 25`, `count: "none"`'
    return [
        Workload(
            "get",
            "get one document by _key",
            READS,
            [_find({"_key": k}) for k in keys],
            lambda a: len(_data(a)) == 1,
            Floor(f"SELECT {DOCUMENT} FROM {{table}} AS t WHERE t._key = $1", [(k,) for k in keys]),
            targets=[
                Target("ceiling", 0.60, "≥ 60 % of the framework ceiling"),
                Target("cpu", 350, "≤ 0.35 ms of worker CPU per request"),
            ],
            note="`match: {_key}`; the primary key",
        ),
        Workload(
            "find_eq",
            "find: equality on two fields, 25 docs",
            READS,
            eq_bodies,
            lambda a: len(_data(a)) == PAGE,
            eq_floor,
            targets=[Target("floor", 0.80, "≥ 80 % of the floor")],
            note=eq_note,
        ),
        Workload(
            "find_eq_user",
            "find: the same by an end user (web key, read: owner)",
            READS,
            eq_bodies,
            lambda a: len(_data(a)) == PAGE,
            eq_floor,
            targets=[
                Target(
                    "workload",
                    1 / 1.2,
                    "within 1.2x of the same find by the account (≥ 83 % of find_eq's throughput)",
                    of="find_eq",
                )
            ],
            caller=END_USER,
            baseline="find_eq",
            note=f"{eq_note}; the end user's own documents under `read: owner` (row-level security); "
            "floor, ceiling and bound: find_eq's; the plan: the floor's statement as the end user",
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
            Floor(
                _page_of(f"{price} >= $1 AND {price} < $2", price_order),
                [(Decimal(lo), Decimal(lo + 10)) for lo in lows],
            ),
            targets=[Target("floor", 0.60, "≥ 60 % of the floor")],
            note='`price` in [lo, lo+10), `sort: "price asc"`, `limit 25`, `count: "none"`',
        ),
        Workload(
            "page1",
            "page 1 (default sort)",
            READS,
            [_find({}, page=1, per_page=PAGE, count="none")],
            lambda a: len(_data(a)) == PAGE,
            Floor(_page_of("", NEWEST), [()]),
            connections=PAGING_CONNECTIONS,
            note='`page 1, per_page 25`, `count: "none"`; the baseline of the cursor target',
        ),
        Workload(
            "page_offset",
            f"page {deep:,} by offset",
            READS,
            [_find({}, page=deep, per_page=PAGE, count="none")],
            lambda a: len(_data(a)) == PAGE,
            # The offset walks the (_created_at, _key) index alone (an index-only scan);
            # only the page's 25 rows are read from the table.
            Floor(
                f"SELECT {DOCUMENT} FROM (SELECT _key FROM {{table}} ORDER BY {NEWEST} "
                f"LIMIT {PAGE} OFFSET $1) AS p JOIN {{table}} AS t USING (_key) "
                "ORDER BY t._created_at DESC, t._key DESC",
                [(deep_offset,)],
            ),
            connections=PAGING_CONNECTIONS,
            note=f"OFFSET {deep_offset:,}",
        ),
        Workload(
            "page_cursor",
            f"page {deep:,} by cursor",
            READS,
            [],  # filled in by with_cursor
            lambda a: len(_data(a)) == PAGE,
            Floor(
                _page_of("(_created_at, _key) < ($1, $2)", NEWEST),
                [(datagen.created_at(last), datagen.key(last))],
            ),
            connections=PAGING_CONNECTIONS,
            targets=[Target("latency", 0.5, "p50 within 2x of page 1's")],
            note=f"`cursor` = `next_cursor` of page {deep - 1:,}",
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
            Floor(
                "SELECT count(*) FROM {table} WHERE data @> $1",
                [(_jsonb({"category": c}),) for c in datagen.CATEGORIES],
                answer="count",
            ),
            note=f"`{{category}}`: ~{n // len(datagen.CATEGORIES):,} matches",
        ),
        Workload(
            "insert_one",
            "insert one document, 16 clients",
            WRITES,
            [{"op": "collection.insert", "collection": WRITES, "data": doc} for doc in fresh[:VARIANTS]],
            lambda a: len(_data(a)) == 1,
            Floor(
                f"INSERT INTO {{table}} AS t (_key, data) VALUES ($1, $2) {returning}",
                [("", _jsonb(doc)) for doc in fresh[:VARIANTS]],
                insert="one",
                answer="none",
            ),
            targets=[Target("floor", 0.60, "≥ 60 % of the floor")],
            writes=True,
        ),
        Workload(
            "insert_batch",
            f"insert {BATCH:,} documents per request",
            WRITES,
            [{"op": "collection.insert", "collection": WRITES, "data": batch} for batch in batches],
            lambda a: len(_data(a)) == BATCH,
            Floor(
                "INSERT INTO {table} AS t (_key, data) SELECT * FROM unnest($1::text[], $2::jsonb[]) "
                + returning,
                [([], [_jsonb(doc) for doc in batch]) for batch in batches],
                insert="batch",
                answer="none",
            ),
            connections=4,
            docs_per_request=BATCH,
            writes=True,
            targets=[Target("floor", 0.50, "≥ 50 % of the floor's docs/s")],
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
            Floor(
                "UPDATE {table} AS t SET data = jsonb_set(t.data, '{inventory}', "
                "to_jsonb(coalesce((t.data ->> 'inventory')::bigint, 0) + $2)), _modified_at = now() "
                f"WHERE t._key = $1 {returning}",
                [(k, 1) for k in keys],
                answer="none",
            ),
            note="`$inc` on a declared integer (its B-tree index changes too)",
        ),
    ]


def with_cursor(workload: Workload, cursor: str) -> None:
    workload.bodies = [_find({}, per_page=PAGE, cursor=cursor, count="none")]
    workload.encoded = [msgspec.json.encode(body) for body in workload.bodies]


GRANIAN_WORKLOADS = ("get", "range_sort")
"""Workloads also measured with pgcube and the ceiling under granian (docs/adr/0011-http-server.md)."""

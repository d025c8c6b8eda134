"""``python -m bench.gin_pending``: what the GIN pending list costs reads, and what avoiding it costs writes.

A collection's GIN index (``"<table>$data"``, ``jsonb_path_ops``) is created on
an empty table and filled by the API's writes. With ``fastupdate`` on
(PostgreSQL's default) new entries wait in the index's *pending list* until it
outgrows ``gin_pending_list_limit`` (4 MB) or a vacuum cleans it; the planner
charges every pending page to each bitmap scan, so an equality on an
undeclared field becomes a sequential scan right after writes (ADR 0010).

For each GIN setting (``--options``), on fresh collection tables made by
``pgcube.management.ddl`` (autovacuum off on them: this is the state before
autovacuum comes by), in one run on one PostgreSQL:

* **batch**: ``--docs`` documents in statements of 1,000, the API's
  ``INSERT ... SELECT FROM unnest($1::text[], $2::jsonb[]) ... RETURNING``;
* **read after batch**: EXPLAIN of the compiler's find SQL for an equality on
  an undeclared field (plan, cost, row estimate) and its best latency;
* **single**: ``--single`` more documents, one statement each (autocommit);
* **read after single**: the same read again;
* **import**: ``--docs`` documents the bulk import's way (COPY into a
  temporary staging table, then ``INSERT ... SELECT``) into another fresh
  table, then the read, then ``gin_clean_pending_list`` (its time) and the read.

Rounds alternate the settings; each figure is the best of ``--rounds``. The
server: the embedded PostgreSQL in a temporary directory, or
``PGCUBE_BENCH_DATABASE_URL``; a scratch database either way, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from bench import datagen, servers
from pgcube.db import migrations
from pgcube.db.pool import connect
from pgcube.management import ddl
from pgcube.management.models import LOCKED, FieldSpec, gin_index_name
from pgcube.query import Collection, FieldType, compile_find, document_sql

SCHEMA = "bench_gin"
BATCH = 1000
OPTIONS: dict[str, str] = {
    "on-4MB": "fastupdate = on",  # PostgreSQL's default (gin_pending_list_limit = 4MB)
    "on-256kB": "fastupdate = on, gin_pending_list_limit = 256",
    "on-64kB": "fastupdate = on, gin_pending_list_limit = 64",
    "off": "fastupdate = off",
}
"""Each option as the ``WITH (...)`` storage parameters of the GIN index."""
EQUALITY = {"email": "buyer4242@example.com"}
"""An equality on an undeclared field: only the GIN index can serve it."""
FIELDS = [FieldSpec(name="price", type=FieldType.NUMBER, indexed=True)]

Connection = Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gin_pending", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--docs", type=int, default=20_000, help="documents per batch run and import (20,000)"
    )
    parser.add_argument("--single", type=int, default=2_000, help="single-document inserts (2,000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all options; best is kept (3)")
    parser.add_argument(
        "--options", nargs="+", choices=sorted(OPTIONS), default=list(OPTIONS), help="GIN settings to compare"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser.parse_args(argv)


async def new_table(conn: Connection, name: str, option: str) -> Collection:
    """A collection's table as ``management.ddl`` makes it, with this GIN setting, autovacuum off."""
    await conn.execute(
        ddl.script(
            ddl.create_collection(SCHEMA, name, FIELDS, LOCKED, database_name="bench", database_id="bench")
        )
    )
    index = f'"{SCHEMA}"."{gin_index_name(name)}"'
    await conn.execute(f"ALTER INDEX {index} RESET (fastupdate, gin_pending_list_limit)")
    await conn.execute(f"ALTER INDEX {index} SET ({OPTIONS[option]})")
    await conn.execute(f'ALTER TABLE "{SCHEMA}"."{name}" SET (autovacuum_enabled = off)')
    return Collection(schema=SCHEMA, table=name, fields={f.name: f.type.value for f in FIELDS})


def documents(start: int, n: int) -> Iterator[tuple[str, bytes]]:
    for i in range(start, start + n):
        yield datagen.key(i), msgspec.json.encode(datagen.document(i))


async def batch_insert(conn: Connection, coll: Collection, start: int, n: int) -> float:
    """docs/s of the API's multi-document insert, 1,000 documents a statement."""
    statement = (
        f'INSERT INTO "{coll.schema}"."{coll.table}" (_key, data) '
        "SELECT k, d FROM unnest($1::text[], $2::jsonb[]) WITH ORDINALITY AS t(k, d, n) ORDER BY n "
        f"RETURNING {document_sql()}"
    )
    batches = []
    for first in range(start, start + n, BATCH):
        rows = list(documents(first, min(BATCH, start + n - first)))
        batches.append(([k for k, _ in rows], [d for _, d in rows]))
    began = time.perf_counter()
    for keys, data in batches:
        await conn.fetch(statement, keys, data)
    return n / (time.perf_counter() - began)


async def single_inserts(conn: Connection, coll: Collection, start: int, n: int) -> dict[str, float]:
    """docs/s of one-document inserts (each its own statement and transaction), and the slowest one:
    with ``fastupdate`` on, the insert that overflows the pending list moves all of it into the index."""
    statement = (
        f'INSERT INTO "{coll.schema}"."{coll.table}" (_key, data) VALUES ($1, $2) RETURNING {document_sql()}'
    )
    times = [await _timed(conn, statement, row) for row in documents(start, n)]
    return {"rate": n / sum(times), "max_ms": max(times) * 1000}


async def copy_import(conn: Connection, coll: Collection, n: int) -> float:
    """docs/s of the bulk import's load: COPY into a temporary staging table, then one INSERT ... SELECT."""
    rows = [(i, key, data) for i, (key, data) in enumerate(documents(0, n))]
    began = time.perf_counter()
    async with conn.transaction():
        await conn.execute("SET LOCAL statement_timeout = 0")  # as the import does
        await conn.execute(
            "CREATE TEMPORARY TABLE pgcube_import (n bigint NOT NULL, key text NOT NULL, data jsonb NOT NULL) "
            "ON COMMIT DROP"
        )
        await conn.copy_records_to_table("pgcube_import", records=rows, columns=("n", "key", "data"))
        await conn.execute(
            f'INSERT INTO "{coll.schema}"."{coll.table}" (_key, data) SELECT key, data FROM pgcube_import'
        )
    return n / (time.perf_counter() - began)


SCANS = {"Seq Scan": "seq scan", "Bitmap Index Scan": "bitmap", "Index Scan": "index walk"}


async def read(conn: Connection, coll: Collection) -> dict[str, Any]:
    """The equality as the API runs it, the page and its count: plan (EXPLAIN) and best latency."""
    q = compile_find(coll, EQUALITY, limit=25)
    assert q.count is not None
    return {
        "page": await _plan(conn, q.select.sql, q.select.params),
        "count": await _plan(conn, q.count.sql, q.count.params),
    }


async def _plan(conn: Connection, sql: str, params: tuple[Any, ...]) -> dict[str, Any]:
    raw = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *params)
    plan = json.loads(raw)[0]["Plan"]
    scan = next(n for n in _nodes(plan) if n["Node Type"] in SCANS)
    index = scan.get("Index Name", "").rsplit("$", 1)[-1]
    return {
        "scan": SCANS[scan["Node Type"]] + (f" ${index}" if index else ""),
        "cost": plan["Total Cost"],
        "estimate": scan["Plan Rows"],
        "ms": min([await _timed(conn, sql, params) for _ in range(15)]) * 1000,
    }


async def analyze(conn: Connection, coll: Collection) -> float:
    """Seconds ``ANALYZE`` takes. Statistics only: a manual ANALYZE leaves the pending list
    alone (autovacuum's analyze also moves it into the index)."""
    began = time.perf_counter()
    await conn.execute(f'ANALYZE "{coll.schema}"."{coll.table}"')
    return time.perf_counter() - began


async def clean(conn: Connection, coll: Collection) -> float:
    """Seconds ``gin_clean_pending_list`` takes to move the pending list into the index."""
    index = f'"{coll.schema}"."{gin_index_name(coll.table)}"'
    began = time.perf_counter()
    await conn.fetchval(f"SELECT gin_clean_pending_list('{index}'::regclass)")
    return time.perf_counter() - began


async def _timed(conn: Connection, sql: str, params: tuple[Any, ...]) -> float:
    began = time.perf_counter()
    await conn.fetch(sql, *params)
    return time.perf_counter() - began


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def one_round(conn: Connection, option: str, number: int, args: argparse.Namespace) -> dict[str, Any]:
    suffix = f"{option.replace('-', '_')}_{number}"
    coll = await new_table(conn, f"api_{suffix}", option)
    result: dict[str, Any] = {"batch": await batch_insert(conn, coll, 0, args.docs)}
    result["read_no_stats"] = await read(conn, coll)
    await analyze(conn, coll)
    result["read_stats"] = await read(conn, coll)
    result["single"] = await single_inserts(conn, coll, args.docs, args.single)
    result["read_after_single"] = await read(conn, coll)
    imported = await new_table(conn, f"import_{suffix}", option)
    result["import"] = await copy_import(conn, imported, args.docs)
    result["clean_ms"] = await clean(conn, imported) * 1000
    result["analyze_ms"] = await analyze(conn, imported) * 1000
    return result


def best_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Highest rates and lowest times over the rounds; plans from the last round (they do not vary)."""
    best = dict(rounds[-1])
    best["batch"] = max(r["batch"] for r in rounds)
    best["import"] = max(r["import"] for r in rounds)
    best["single"] = {
        "rate": max(r["single"]["rate"] for r in rounds),
        "max_ms": min(r["single"]["max_ms"] for r in rounds),
    }
    for key in ("clean_ms", "analyze_ms"):
        best[key] = min(r[key] for r in rounds)
    for key in (k for k in best if k.startswith("read_")):
        best[key] = {
            part: {**rounds[-1][key][part], "ms": min(r[key][part]["ms"] for r in rounds)}
            for part in ("page", "count")
        }
    return best


async def measure(url: str, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    from pgcube.settings import Settings

    conn = await connect(Settings(), url)
    try:
        await conn.execute(f'CREATE SCHEMA "{SCHEMA}"')
        results: dict[str, list[dict[str, Any]]] = {option: [] for option in args.options}
        for number in range(args.rounds):
            for option in args.options:
                results[option].append(await one_round(conn, option, number, args))
        return {option: best_of(rounds) for option, rounds in results.items()}
    finally:
        await conn.close()


def table(results: dict[str, dict[str, Any]], server: str, args: argparse.Namespace) -> str:
    def plan(r: dict[str, Any]) -> str:
        return f"{r['scan']} (cost {r['cost']:.0f}, est. {r['estimate']:.0f}) {r['ms']:.2f} ms"

    def reads(key: str, label: str) -> list[tuple[str, Callable[[dict[str, Any]], str]]]:
        return [
            (f"{label}: page", lambda r: plan(r[key]["page"])),
            (f"{label}: count", lambda r: plan(r[key]["count"])),
        ]

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        (f"batch insert, {BATCH}/statement (docs/s)", lambda r: f"{r['batch']:,.0f}"),
        *reads("read_no_stats", f"after {args.docs:,}, no statistics"),
        *reads("read_stats", "after ANALYZE"),
        (
            "single insert: docs/s (slowest)",
            lambda r: f"{r['single']['rate']:,.0f} ({r['single']['max_ms']:.0f} ms)",
        ),
        *reads("read_after_single", f"after {args.single:,} single inserts"),
        ("COPY import (docs/s)", lambda r: f"{r['import']:,.0f}"),
        ("then gin_clean_pending_list", lambda r: f"{r['clean_ms']:.0f} ms"),
        ("then ANALYZE", lambda r: f"{r['analyze_ms']:.0f} ms"),
    ]
    lines = [
        f"{server}; {args.docs:,} documents; best of {args.rounds} rounds; read: find {EQUALITY}, limit 25",
        "",
        "| | " + " | ".join(f"`{OPTIONS[o]}`" for o in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    lines += [f"| {label} | " + " | ".join(cell(r) for r in results.values()) + " |" for label, cell in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="pgcube-gin-") as work,
        servers.postgres(Path(work)) as (url, server),
    ):
        migrations.upgrade(url)  # the DDL calls the control plane's functions (pgcube.apply_access)
        results = asyncio.run(measure(url, args))
    print(table(results, server, args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

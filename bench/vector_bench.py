"""``python -m bench.vector_bench`` (also run by ``make bench``): vector search and insert against asyncpg.

In one run on one PostgreSQL (``pgcube serve``, 2 workers, as in production):

* **set-up**: an account, a database and a server key; the vector collection
  made by ``vdb.insert`` through the API, then filled to ``--vectors`` rows
  (100,000) straight into its table, in the shape the product writes
  (``pgcube.vectors.models.Chunk``): generated passages of about 300
  characters on 20 topics (``metadata.topic``), embedded by the local
  embedder in this process, COPY'd with the HNSW index dropped, then the
  index made again from its own definition (the same name and method); the
  times of each step are reported.
* **search** (the same ``--queries`` precomputed query vectors on both sides,
  ``limit`` 10, ``--connections`` at once): (a) pgcube, ``POST
  /api/{database_id}`` with ``{"op": "vdb.search", "vector": …}`` loaded by
  wrk; (b) the floor, the statement pgcube sends
  (``pgcube.vectors.statements.search``, the same parameters) run by asyncpg
  on connections configured like pgcube's pool (``hnsw.iterative_scan``
  included), from as many processes as pgcube has workers (``bench.floor``).
  Once plain, once with a ``match`` on ``metadata.topic``. The target: (a) ≥
  70 % of (b)'s queries/s. Also a text ``query`` through the API (the
  embedder's cost; no floor).
* **insert**: ``vdb.insert`` of ``--insert-batches`` batches of 100 entries of
  about 300 characters, one request at a time, against the same work done
  directly: the embedder in this process (``LocalEmbedder.embed``), then
  ``pgcube.vectors.repository.insert`` (executemany) of the vectors.

Rewrites the ``## Vector search`` section of docs/benchmarks.md (``--no-docs``:
don't; ``--quick``: 10,000 vectors and short runs, for development).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import platform
import random
import re
import struct
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np

from bench import datagen, fixtures, floor, servers, wrk
from bench.sections import replace_section
from bench.workloads import CONNECTIONS
from pgcube import query
from pgcube.ai.embedders import LocalEmbedder, load_wordllama
from pgcube.data.documents import new_key
from pgcube.data.service import limits
from pgcube.db.pool import connect
from pgcube.management.models import VectorSpec, embedding_index_name
from pgcube.query.sql import qualified
from pgcube.settings import Settings
from pgcube.vectors import repository, statements
from pgcube.vectors.models import Chunk

DOC = servers.REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- vector-search:begin (bench/vector_bench.py rewrites this section) -->"
END = "<!-- vector-search:end -->"
TITLE = "## Vector search"
TARGET_RATIO = 0.70
COLLECTION = "passages"
INSERTS = "new_passages"
TABLE_PREFIX = "_vec_"
INDEX_NAME = embedding_index_name(TABLE_PREFIX + COLLECTION)
LIMIT = 10
BATCH = 100
DIMENSIONS = 256
EMBED_BATCH = 5_000
MAINTENANCE_WORK_MEM = "1GB"
"""Enough for the HNSW graph of 100,000 vectors of 256 dimensions to be built in memory."""
MATCH_TOPIC = "garden"
TOPIC_WORDS = {
    "books": "novel author chapter library poetry publisher reader story",
    "music": "guitar melody concert album singer rhythm band piano",
    "garden": "soil seeds roses compost lawn shrubs watering flowers",
    "toys": "puzzle doll blocks children play plush robot board",
    "kitchen": "recipe oven pan knife baking dinner spices stove",
    "tools": "hammer drill wrench screws saw workshop repair pliers",
    "sports": "football match team goal training coach league stadium",
    "beauty": "skin lotion makeup perfume hair cream lipstick nails",
    "office": "desk printer meeting paper stapler calendar email folder",
    "pets": "dog cat puppy leash kitten veterinarian food collar",
    "shoes": "sneakers boots heels laces sole leather sandals running",
    "games": "console player level controller quest multiplayer score arcade",
    "baby": "diaper stroller infant crib bottle nursery toddler pacifier",
    "health": "doctor medicine vitamins exercise sleep clinic diet symptoms",
    "auto": "car engine tires brakes garage fuel driving mechanic",
    "grocery": "bread milk vegetables fruit supermarket cheese eggs rice",
    "jewelry": "necklace ring gold silver diamond bracelet earrings pearl",
    "outdoor": "tent hiking camping mountain trail backpack forest river",
    "video": "camera film movie editing streaming lens director scene",
    "crafts": "yarn knitting glue paint scissors sewing fabric beads",
}
TOPICS = tuple(TOPIC_WORDS)
FILLER = (
    "the", "a", "with", "for", "and", "new", "every", "small", "great", "people", "today", "about",
    "after", "before", "our", "their", "best", "simple", "guide", "review", "this", "that", "many",
    "some", "week", "morning", "found", "good", "useful",
)  # fmt: skip
QUICK = {"vectors": 10_000, "seconds": 2.0, "warmup": 0.5, "insert_batches": 5}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.vector_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", type=int, help="rows in the searched collection (100,000)")
    parser.add_argument("--queries", type=int, default=200, help="distinct query vectors (200)")
    parser.add_argument("--connections", type=int, default=CONNECTIONS, help=f"concurrency ({CONNECTIONS})")
    parser.add_argument("--seconds", type=float, help="measured seconds per run (5)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each run (1)")
    parser.add_argument("--insert-batches", type=int, help="measured vdb.insert batches of 100 (20)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="development run: 10,000 vectors; --no-docs")
    args = parser.parse_args(argv)
    defaults = (
        QUICK if args.quick else {"vectors": 100_000, "seconds": 5.0, "warmup": 1.0, "insert_batches": 20}
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.no_docs = args.no_docs or args.quick
    return args


# --- the texts -----------------------------------------------------------------------------------


def passage(rnd: random.Random, topic: str, length: int = 300) -> str:
    """About ``length`` characters on ``topic``: half its words, half filler."""
    words = TOPIC_WORDS[topic].split()
    out: list[str] = []
    while sum(len(word) + 1 for word in out) < length:
        out.append(rnd.choice(words) if rnd.random() < 0.5 else rnd.choice(FILLER))
    return " ".join(out).capitalize() + "."


def passages(n: int, seed: int) -> Iterator[tuple[str, str]]:
    """``n`` (topic, text) pairs, topics in turn."""
    rnd = random.Random(seed)
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        yield topic, passage(rnd, topic)


def question(rnd: random.Random) -> str:
    """A short text query on a random topic."""
    words = TOPIC_WORDS[rnd.choice(TOPICS)].split()
    return f"{rnd.choice(('best', 'how to choose', 'reviews of', 'cheap'))} {' '.join(rnd.sample(words, 3))}"


def embed_all(model: Any, texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of ``texts`` (float32), by the local embedder's model, in batches."""
    parts = [
        model.embed(list(texts[i : i + EMBED_BATCH]), norm=True) for i in range(0, len(texts), EMBED_BATCH)
    ]
    return np.vstack(parts).astype(np.float32)


def chunk(topic: str, text: str, n: int, vector: list[float] | None = None) -> Chunk:
    """One entry of one chunk, as ``vdb.insert`` makes it."""
    return Chunk(
        key=new_key(),
        doc_key=new_key(),
        index=0,
        entry=0,
        content=text,
        content_type="text",
        is_chunked=False,
        metadata={"topic": topic, "n": n},
        vector=vector,
    )


# --- set-up: the collection, made through the API, filled directly -------------------------------


class Target(msgspec.Struct, kw_only=True):
    """Where the requests go and the collection's table."""

    base_url: str
    database_url: str
    database_id: str
    schema: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return f"/api/{self.database_id}"

    def table(self, collection: str) -> str:
        return qualified(self.schema, TABLE_PREFIX + collection)


def server_key(fixture: fixtures.Fixture) -> Target:
    """A server key of the fixture's database: every request of the run is sent with it."""
    with httpx.Client(base_url=fixture.base_url, timeout=60) as client:
        made = client.post(
            "/core/api/v1/keys",
            json={"name": "bench vectors", "database_id": fixture.database_id, "kind": "server"},
            headers={"Authorization": f"Bearer {fixture.token}"},
        )
    if made.status_code != 201:
        raise RuntimeError(f"key: {made.status_code} {made.text}")
    return Target(
        base_url=fixture.base_url,
        database_url=fixture.database_url,
        database_id=fixture.database_id,
        schema=fixture.schema,
        headers={"Content-Type": "application/json", "X-API-KEY": made.json()["key"]},
    )


def api(client: httpx.Client, target: Target, body: dict[str, Any]) -> Any:
    response = client.post(target.path, content=msgspec.json.encode(body), headers=target.headers)
    if response.status_code != 200:
        raise RuntimeError(f"{body['op']}: {response.status_code} {response.text[:500]}")
    return response.json()


def create_collection(target: Target, topic: str, text: str, vector: list[float]) -> None:
    """The first entry, by ``vdb.insert`` with its vector: the product makes the collection."""
    entry = {"content": text, "metadata": {"topic": topic, "n": 0}, "vector": vector}
    with httpx.Client(base_url=target.base_url, timeout=60) as client:
        api(client, target, {"op": "vdb.insert", "collection": COLLECTION, "data": [entry]})


def _vector_bytes(row: np.ndarray) -> bytes:
    """pgvector's binary ``vector``: dimensions, a reserved 0, big-endian float4s."""
    return struct.pack(">HH", len(row), 0) + row.astype(">f4").tobytes()


async def _hnsw_index(conn: Any, target: Target, collection: str) -> tuple[str, str]:
    """(name, definition) of the collection's HNSW index, as the product made it."""
    row = await conn.fetchrow(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 "
        "AND indexdef LIKE '% USING hnsw %'",
        target.schema,
        TABLE_PREFIX + collection,
    )
    if row is None:
        raise RuntimeError(f"no HNSW index on {target.table(collection)}")
    return row["indexname"], row["indexdef"]


async def _fill(target: Target, rows: list[tuple[str, bytes, np.ndarray]]) -> dict[str, float]:
    conn = await connect(Settings(), target.database_url)
    try:
        await conn.set_type_codec(
            "vector", schema="public", format="binary", encoder=_vector_bytes, decoder=bytes
        )
        await conn.execute(f"SET statement_timeout = 0; SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        name, definition = await _hnsw_index(conn, target, COLLECTION)
        await conn.execute(f"DROP INDEX {qualified(target.schema, name)}")
        started = time.perf_counter()
        for start in range(0, len(rows), 20_000):
            await conn.copy_records_to_table(
                TABLE_PREFIX + COLLECTION,
                schema_name=target.schema,
                columns=["_key", "data", "embedding"],
                records=rows[start : start + 20_000],
            )
        copied = time.perf_counter()
        await conn.execute(definition)
        indexed = time.perf_counter()
        await conn.execute(f"VACUUM ANALYZE {target.table(COLLECTION)}")
        if await _hnsw_index(conn, target, COLLECTION) != (name, definition):
            raise RuntimeError("the HNSW index differs from the product's")
        return {
            "copy_s": copied - started,
            "index_s": indexed - copied,
            "vacuum_s": time.perf_counter() - indexed,
        }
    finally:
        await conn.close()


def fill(target: Target, model: Any, n: int) -> dict[str, float]:
    """The collection made through the API and filled to ``n`` rows; the time of each step."""
    pairs = list(passages(n, seed=datagen.SEED))
    started = time.perf_counter()
    vectors = embed_all(model, [text for _, text in pairs])
    timings = {"embed_s": time.perf_counter() - started}
    create_collection(target, *pairs[0], vectors[0].tolist())
    rows = [
        (piece.key, msgspec.json.encode(piece.data()), vector)
        for piece, vector in zip(
            (chunk(topic, text, i) for i, (topic, text) in enumerate(pairs[1:], start=1)),
            vectors[1:],
            strict=True,
        )
    ]
    timings |= asyncio.run(_fill(target, rows))
    return timings


# --- search --------------------------------------------------------------------------------------


class Search(msgspec.Struct, kw_only=True):
    """One search measured on both sides: the API's bodies and the statement pgcube sends."""

    name: str
    bodies: list[bytes]
    statement: floor.Statement | None


def spec() -> VectorSpec:
    return VectorSpec(embedder=LocalEmbedder.name, dimensions=DIMENSIONS)


def search_statement(target: Target, criteria: dict[str, Any], vectors: list[list[float]]) -> floor.Statement:
    """``pgcube.vectors.statements.search`` as the product builds it for ``criteria``, one parameter
    set per query vector (no threshold: the least score is -1)."""
    compiled = None
    if criteria:
        view = query.Collection(schema=target.schema, table=TABLE_PREFIX + COLLECTION, fields={})
        compiled = query.compile_where(view, criteria, limits=limits(Settings()))
    where, params = (compiled.sql, compiled.params) if compiled else ("", ())
    sql = statements.search(target.table(COLLECTION), spec(), where, len(params))
    return floor.Statement(sql=sql, params=[(*params, vector, LIMIT, -1.0) for vector in vectors])


def searches(target: Target, vectors: list[list[float]], questions: list[str]) -> list[Search]:
    match = {"metadata.topic": MATCH_TOPIC}
    base = {"op": "vdb.search", "collection": COLLECTION, "limit": LIMIT}
    encode = msgspec.json.encode
    return [
        Search(
            name="vector",
            bodies=[encode({**base, "vector": v}) for v in vectors],
            statement=search_statement(target, {}, vectors),
        ),
        Search(
            name="vector + match",
            bodies=[encode({**base, "vector": v, "match": match}) for v in vectors],
            statement=search_statement(target, match, vectors),
        ),
        Search(name="text query", bodies=[encode({**base, "query": q}) for q in questions], statement=None),
    ]


async def _floor_answer(target: Target, statement: floor.Statement) -> tuple[list[Any], str]:
    """(the statement's answer to the first parameters, decoded; its plan)."""
    conn = await connect(Settings(), target.database_url)
    try:
        args = statement.params[0]
        plan = [row[0] for row in await conn.fetch("EXPLAIN (COSTS OFF) " + statement.sql, *args)]
        rows = await conn.fetch(statement.sql, *args)
        return [msgspec.json.decode(row[0]) for row in rows], re.sub(r"'\[[^]]*\]'", "$v", "\n".join(plan))
    finally:
        await conn.close()


class Run:
    """What every search measurement of the run shares: the servers, the floor's clients, the work
    directory (wrk's scripts, the bound's canned answers and statements)."""

    def __init__(
        self, binary: str, pgcube: servers.Server, clients: floor.Clients, target: Target, work: Path
    ) -> None:
        self.binary, self.pgcube, self.clients, self.target, self.work = binary, pgcube, clients, target, work
        self.canned = work / "canned"
        self.canned.mkdir(exist_ok=True)
        self.postmaster = servers.postmaster_pid(target.database_url)
        self.bound: servers.Server | None = None

    def postgres_cpu(self) -> float:
        return servers.postgres_cpu(self.postmaster) if self.postmaster else 0.0


def slug(search: Search) -> str:
    return re.sub(r"[^a-z]+", "_", search.name)


def check(run: Run, search: Search) -> str:
    """pgcube answers ``LIMIT`` entries, and the floor's entries to the same first query; the plan.
    The answer and the statement are kept for the bound (``bench.ceiling``)."""
    target = run.target
    with httpx.Client(base_url=target.base_url, timeout=60) as client:
        response = client.post(target.path, content=search.bodies[0], headers=target.headers)
    data = response.json()["data"]
    if response.status_code != 200 or len(data) != LIMIT:
        raise RuntimeError(f"{search.name}: {response.status_code}, {len(data)} entries, not {LIMIT}")
    if search.statement is None:
        return ""
    (run.canned / f"{slug(search)}.json").write_bytes(response.content)
    (run.canned / f"{slug(search)}.statement").write_bytes(pickle.dumps(search.statement))
    expected, plan = asyncio.run(_floor_answer(target, search.statement))
    if data != expected:
        raise RuntimeError(
            f"{search.name}: pgcube and the floor differ\n{str(data)[:300]}\n{str(expected)[:300]}"
        )
    if not search.statement.params[0][:-3] and access(plan) != "HNSW index":  # no match: the index
        raise RuntimeError(f"{search.name}: the search does not read the HNSW index\n{plan}")
    return plan


def access(plan: str) -> str:
    """How the plan finds the nearest rows: the HNSW index, or the rows the match selects, sorted."""
    if "Index Scan using" in plan and INDEX_NAME in plan:
        return "HNSW index"
    if "Bitmap Index Scan" in plan:
        return "GIN bitmap of the match, then sort"
    return "scan, then sort"


def figures(
    rate: float, p50: int, p99: int, requests: int, pg_cpu: float, cpu: float | None = None
) -> dict[str, Any]:
    """Queries/s, latencies in ms, and CPU µs per query: PostgreSQL's, and the HTTP server's."""
    n = max(requests, 1)
    out = {"rate": rate, "p50_ms": p50 / 1000, "p99_ms": p99 / 1000, "pg_cpu_us": 1e6 * pg_cpu / n}
    if cpu is not None:
        out["worker_cpu_us"] = 1e6 * cpu / n
    return out


def measure_http(run: Run, server: servers.Server, path: str, search: Search, args: Any) -> dict[str, Any]:
    """wrk on ``path`` of ``server`` with the search's bodies, after a warm-up."""
    name = f"{slug(search)}-{server.port}"
    common = {"connections": args.connections, "work": run.work, "name": name}
    headers = run.target.headers
    if args.warmup > 0:
        wrk.run(run.binary, server.url, path, headers, search.bodies, seconds=args.warmup, **common)
    cpu0, pg0 = servers.cpu_seconds(server.pids()), run.postgres_cpu()
    result = wrk.run(run.binary, server.url, path, headers, search.bodies, seconds=args.seconds, **common)
    if result.error_count:
        raise RuntimeError(f"{search.name} on {server.name}: {result.errors}")
    cpu, pg = servers.cpu_seconds(server.pids()) - cpu0, run.postgres_cpu() - pg0
    return figures(result.rate, result.p50_us, result.p99_us, result.requests, pg, cpu)


def measure_floor(run: Run, search: Search, args: Any) -> dict[str, Any]:
    assert search.statement is not None
    pg0 = run.postgres_cpu()
    result = run.clients.run(
        run.target.database_url,
        search.statement,
        connections=args.connections,
        warmup=args.warmup,
        seconds=args.seconds,
    )
    if result.first_error:
        raise RuntimeError(f"floor {search.name}: {result.errors} errors, e.g. {result.first_error}")
    return figures(result.rate, result.p50_us, result.p99_us, result.executed, run.postgres_cpu() - pg0)


def run_search(run: Run, search: Search, args: Any) -> dict[str, Any]:
    """pgcube, then the floor and the bound (when the search has a floor), back to back."""
    plan = check(run, search)
    entry: dict[str, Any] = {"access": access(plan) if plan else "", "plan": plan}
    entry["pgcube"] = measure_http(run, run.pgcube, run.target.path, search, args)
    if search.statement is not None:
        if run.bound is None:
            run.bound = servers.start_ceiling(run.canned, run.work, database_url=run.target.database_url)
        entry["floor"] = measure_floor(run, search, args)
        entry["bound"] = measure_http(run, run.bound, f"/b/{slug(search)}", search, args)
        entry["ratio"] = entry["pgcube"]["rate"] / entry["floor"]["rate"]
    print(search_line(search.name, entry), flush=True)
    return entry


def search_line(name: str, entry: dict[str, Any]) -> str:
    def side(label: str, f: dict[str, Any]) -> str:
        return f"{label} {f['rate']:,.0f}/s p50 {f['p50_ms']:.2f} p99 {f['p99_ms']:.2f} ms"

    line = f"{name:<15} {side('pgcube', entry['pgcube'])}"
    if "floor" in entry:
        line += f" | {side('floor', entry['floor'])} | {side('bound', entry['bound'])} | {entry['ratio']:.0%}"
    return line


# --- insert --------------------------------------------------------------------------------------


def insert_batches(count: int) -> list[list[tuple[str, str]]]:
    """``count`` + 1 batches of ``BATCH`` (topic, text) pairs (the first one warms up)."""
    pairs = list(passages((count + 1) * BATCH, seed=datagen.SEED + 1))
    return [pairs[i : i + BATCH] for i in range(0, len(pairs), BATCH)]


def api_insert(target: Target, batches: list[list[tuple[str, str]]]) -> dict[str, float]:
    """``vdb.insert`` of each batch, one request at a time (the first one, which makes the
    collection and loads the worker's embedder, is not timed)."""
    chunks = entries = 0
    with httpx.Client(base_url=target.base_url, timeout=120) as client:
        for i, batch in enumerate(batches):
            if i == 1:
                started = time.perf_counter()
            body = {
                "op": "vdb.insert",
                "collection": INSERTS,
                "data": [{"content": t, "metadata": {"topic": p}} for p, t in batch],
            }
            answer = api(client, target, body)
            if i > 0:
                entries, chunks = entries + len(batch), chunks + answer["meta"]["count"]
    seconds = time.perf_counter() - started
    return {"entries_s": entries / seconds, "chunks_s": chunks / seconds, "seconds": seconds}


async def _direct_insert(target: Target, batches: list[list[tuple[str, str]]]) -> dict[str, float]:
    """The same batches: the local embedder in this process, then the product's executemany."""
    embedder = LocalEmbedder()
    await embedder.embed([batches[0][0][1]])  # the model loaded before the clock starts
    conn = await connect(Settings(), target.database_url)
    embed_s = insert_s = 0.0
    try:
        for batch in batches[1:]:
            started = time.perf_counter()
            vectors = await embedder.embed([text for _, text in batch])
            embedded = time.perf_counter()
            pieces = [chunk(topic, text, 0, v) for (topic, text), v in zip(batch, vectors, strict=True)]
            async with conn.transaction():
                await repository.insert(conn, target.table(INSERTS), spec(), pieces)
            embed_s, insert_s = embed_s + embedded - started, insert_s + time.perf_counter() - embedded
    finally:
        await conn.close()
    n = BATCH * (len(batches) - 1)
    return {"embed_s": n / embed_s, "insert_s": n / insert_s, "both_s": n / (embed_s + insert_s)}


def measure_inserts(target: Target, count: int) -> dict[str, Any]:
    batches = insert_batches(count)
    entry: dict[str, Any] = {
        "api": api_insert(target, batches),
        "floor": asyncio.run(_direct_insert(target, batches)),
    }
    entry["ratio"] = entry["api"]["entries_s"] / entry["floor"]["both_s"]
    api_s, direct = entry["api"], entry["floor"]
    print(
        f"insert: pgcube {api_s['entries_s']:,.0f} entries/s ({api_s['chunks_s']:,.0f} chunks/s); "
        f"embedder alone {direct['embed_s']:,.0f} texts/s; executemany {direct['insert_s']:,.0f} rows/s; "
        f"both {direct['both_s']:,.0f}/s; pgcube / both {entry['ratio']:.0%}",
        flush=True,
    )
    return entry


# --- the run -------------------------------------------------------------------------------------


def queries(model: Any, n: int) -> tuple[list[list[float]], list[str]]:
    """``n`` query vectors (embedded passages not in the collection) and ``n`` text queries."""
    texts = [text for _, text in passages(n, seed=datagen.SEED + 2)]
    rnd = random.Random(datagen.SEED + 3)
    return embed_all(model, texts).tolist(), [question(rnd) for _ in range(n)]


def measure(args: argparse.Namespace, work: Path, database_url: str) -> dict[str, Any]:
    binary = wrk.ensure_wrk()
    model = load_wordllama()
    results: dict[str, Any] = {}
    server = servers.start_pgcube(database_url, work)
    try:
        target = server_key(fixtures.make(server.url, database_url))
        results["fill"] = fill(target, model, args.vectors)
        print("fill: " + ", ".join(f"{k} {v:.1f}" for k, v in results["fill"].items()), flush=True)
        vectors, questions = queries(model, args.queries)
        with floor.Clients(servers.WORKERS) as clients:
            run = Run(binary, server, clients, target, work)
            try:
                results["search"] = {
                    s.name: run_search(run, s, args) for s in searches(target, vectors, questions)
                }
            finally:
                if run.bound is not None:
                    run.bound.stop()
        results["insert"] = measure_inserts(target, args.insert_batches)
    finally:
        server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {
        "vectors": args.vectors,
        "queries": args.queries,
        "connections": args.connections,
        "seconds": args.seconds,
        "when": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory(prefix="pgcube-vector-bench-") as tmp:
        work = Path(tmp)
        with servers.postgres(work) as (database_url, postgres):
            results["postgres"] = postgres
            results |= measure(args, work, database_url)
    section = markdown(results)
    print("\n" + section, flush=True)
    if not args.no_docs:
        replace_section(DOC, BEGIN, END, section)
    return 0


def verdict(entry: dict[str, Any]) -> str:
    """What the ratio to the floor means for one search."""
    ratio, bound = entry["ratio"], entry["bound"]["rate"] / entry["floor"]["rate"]
    if ratio >= TARGET_RATIO:
        return f"met: {ratio:.0%} of the floor"
    if bound < TARGET_RATIO:
        return (
            f"beyond this stack: the bound reaches {bound:.0%} of the floor; "
            f"pgcube {entry['pgcube']['rate'] / entry['bound']['rate']:.0%} of the bound"
        )
    return f"missed: {ratio:.0%} of the floor, which the bound reaches at {bound:.0%}"


def _ms(f: dict[str, Any]) -> str:
    return f"{f['rate']:,.0f} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f}"


def search_rows(results: dict[str, Any]) -> list[str]:
    rows = []
    for name, entry in results["search"].items():
        if "floor" not in entry:
            continue
        pgcube, bound = entry["pgcube"], entry["bound"]
        rows.append(
            f"| {name} | {_ms(pgcube)} | {_ms(entry['floor'])} | {_ms(bound)} | **{entry['ratio']:.0%}** | "
            f"{pgcube['rate'] / bound['rate']:.0%} | {pgcube['worker_cpu_us']:,.0f} / "
            f"{bound['worker_cpu_us']:,.0f} | {pgcube['pg_cpu_us']:,.0f} / {entry['floor']['pg_cpu_us']:,.0f} | "
            f"{entry['access']} | {verdict(entry)} |"
        )
    return rows


def search_section(results: dict[str, Any]) -> list[str]:
    text = results["search"]["text query"]["pgcube"]
    vector = results["search"]["vector"]["pgcube"]
    return [
        f"| search, `limit` {LIMIT}, {results['connections']} clients | pgcube q/s | p50 | p99 | floor q/s | p50 | "
        "p99 | bound q/s | p50 | p99 | pgcube/floor | pgcube/bound | worker CPU µs/q: pgcube / bound | "
        "PostgreSQL CPU µs/q: pgcube / floor | plan | target ≥ 70 % of the floor |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
        *search_rows(results),
        "",
        f"A text `query` (embedded by the server's local embedder, then the same search): {_ms(text)} ms "
        f"(q/s, p50, p99): {text['rate'] / vector['rate']:.0%} of the vector search's throughput; "
        f"p50 {text['p50_ms'] - vector['p50_ms']:+.2f} ms.",
    ]


def insert_section(results: dict[str, Any]) -> list[str]:
    api_s, direct = results["insert"]["api"], results["insert"]["floor"]
    return [
        f"| insert, {BATCH} entries of ~300 characters per batch, one batch at a time | entries/s |",
        "|---|--:|",
        f"| pgcube: `vdb.insert` through the API (chunked, embedded by the server, written) | "
        f"**{api_s['entries_s']:,.0f}** ({api_s['chunks_s']:,.0f} chunks/s) |",
        f"| the local embedder alone, in process (`LocalEmbedder.embed` of each batch) | {direct['embed_s']:,.0f} |",
        f"| the product's insert alone: `executemany` of the vectors, one transaction per batch | "
        f"{direct['insert_s']:,.0f} |",
        f"| floor: both, one after the other | {direct['both_s']:,.0f} |",
        "",
        f"pgcube inserts at {results['insert']['ratio']:.0%} of that floor.",
    ]


def markdown(results: dict[str, Any]) -> str:
    fill_s = results["fill"]
    return "\n".join(
        [
            TITLE,
            "",
            f"Measured {results['when']} on {results['machine']}; {results['postgres']}. "
            "Rerun with `python -m bench.vector_bench` (`make bench` runs it too).",
            "",
            f"{results['vectors']:,} entries of one chunk (~300 characters on 20 topics, `metadata.topic`), "
            f"`vector({DIMENSIONS})` by the local embedder: the collection made by `vdb.insert`, then filled "
            f"directly — embedded in {fill_s['embed_s']:.1f} s ({results['vectors'] / fill_s['embed_s']:,.0f} "
            f"texts/s), COPY in {fill_s['copy_s']:.1f} s with the HNSW index dropped, the index made again "
            f"from its definition in {fill_s['index_s']:.1f} s (`maintenance_work_mem` {MAINTENANCE_WORK_MEM}), "
            f"VACUUM ANALYZE {fill_s['vacuum_s']:.1f} s.",
            "",
            '* **pgcube**: `POST /api/{database_id}` with `{"op": "vdb.search", "vector": [256 numbers], '
            f'"limit": {LIMIT}}}` and a server key (`pgcube serve --workers 2`), {results["queries"]} '
            "query vectors at random, loaded by wrk;",
            "* **floor**: the statement pgcube sends (`pgcube.vectors.statements.search`, one statement, the "
            "same parameters; its answer checked equal to pgcube's) run by asyncpg on connections "
            "configured like pgcube's pool (`hnsw.iterative_scan = relaxed_order`), the same concurrency "
            "from 2 processes;",
            "* **bound**: a trivial Litestar handler under the same uvicorn settings that decodes the same "
            "body, runs the same statement on a pool configured like pgcube's and answers pgcube's bytes "
            "(`bench/ceiling.py`): what this framework and driver allow any service on these 2 cores.",
            "",
            *search_section(results),
            "",
            "The ratio pgcube/floor is pgcube's queries/s over the floor's, measured back to back: what HTTP, "
            "authentication, the catalog and the JSON answer cost on top of the search itself. The floor "
            "has no HTTP at all, and on 2 cores the clients, the server and PostgreSQL share the CPU, so "
            "pgcube/bound says how much of what the stack allows pgcube reaches.",
            "",
            *insert_section(results),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())

"""The raw floor: asyncpg running the same SQL directly, with the same concurrency.

The statement is the one pgcube's compiler emits for the workload's request
(same text, same parameters), run on connections configured exactly like
pgcube's pool (``pgcube.db.pool.connect``: codecs, ``force_custom_plan``):
no HTTP, no authentication, no catalog look-up, no transaction block.

The clients are spread over as many processes as pgcube has workers, so the
floor is not held back by one Python process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import msgspec

from pgcube.db.pool import connect
from pgcube.settings import Settings


class Statement(msgspec.Struct, frozen=True, kw_only=True):
    """What one floor client runs: ``sql`` with one of ``params`` (picked at random).

    ``insert_batch``: the statement inserts documents (``$1`` keys, ``$2``
    documents) and each execution gets fresh keys for ``len(params[0][1])``
    documents, as pgcube makes a new ``_key`` per document.
    """

    sql: str
    params: list[tuple[Any, ...]]
    insert: bool = False


class FloorResult(msgspec.Struct, kw_only=True):
    requests: int
    seconds: float
    p50_us: int
    p90_us: int
    p99_us: int
    mean_us: float
    max_us: int
    cpu_seconds: float
    errors: int = 0
    executed: int = 0
    """Statements run, warm-up included (for CPU per statement)."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _percentile(ordered: list[int], q: float) -> int:
    if not ordered:
        return 0
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def _client(
    conn: Any, statement: Statement, rnd: random.Random, warm_until: float, stop_at: float, out: list[int]
) -> tuple[int, int]:
    params = statement.params
    errors = executed = 0
    while True:
        now = time.time()
        if now >= stop_at:
            return errors, executed
        executed += 1
        args = params[rnd.randrange(len(params))]
        if statement.insert:
            args = ([uuid.uuid4().hex for _ in args[1]], args[1])
        started = time.perf_counter_ns()
        try:
            await conn.fetch(statement.sql, *args)
        except Exception:
            errors += 1
            continue
        if now >= warm_until:
            out.append((time.perf_counter_ns() - started) // 1000)


async def _process(
    url: str,
    statement: Statement,
    connections: int,
    start_at: float,
    warmup: float,
    seconds: float,
    seed: int,
) -> tuple[list[int], int, float, int]:
    settings = Settings()
    conns = [await connect(settings, url) for _ in range(connections)]
    latencies: list[int] = []
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu0 = time.process_time()
        warm_until = start_at + warmup
        stop_at = warm_until + seconds
        outcomes = await asyncio.gather(
            *(
                _client(c, statement, random.Random(seed * 7919 + i), warm_until, stop_at, latencies)
                for i, c in enumerate(conns)
            )
        )
        cpu = time.process_time() - cpu0
    finally:
        for conn in conns:
            await conn.close()
    return latencies, sum(o[0] for o in outcomes), cpu, sum(o[1] for o in outcomes)


def _run_process(
    args: tuple[str, Statement, int, float, float, float, int],
) -> tuple[list[int], int, float, int]:
    return asyncio.run(_process(*args))


def run(
    url: str, statement: Statement, *, connections: int, processes: int, warmup: float, seconds: float
) -> FloorResult:
    processes = max(1, min(processes, connections))
    shares = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    start_at = time.time() + 2.0  # every process connected and waiting before the clock starts
    jobs = [(url, statement, share, start_at, warmup, seconds, i) for i, share in enumerate(shares)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        results = list(pool.map(_run_process, jobs))
    latencies = sorted(lat for result in results for lat in result[0])
    return FloorResult(
        requests=len(latencies),
        seconds=seconds,
        p50_us=_percentile(latencies, 50),
        p90_us=_percentile(latencies, 90),
        p99_us=_percentile(latencies, 99),
        mean_us=sum(latencies) / len(latencies) if latencies else 0.0,
        max_us=latencies[-1] if latencies else 0,
        cpu_seconds=sum(result[2] for result in results),
        errors=sum(result[1] for result in results),
        executed=sum(result[3] for result in results),
    )

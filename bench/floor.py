"""The floor: asyncpg running the best hand-written SQL for the same answer, with the same concurrency.

The statement of each workload is written by hand (``bench.workloads``), not
taken from pgcube, so a better plan in pgcube raises pgcube and never the
floor. It runs on connections configured exactly like pgcube's pool
(``pgcube.db.pool.connect``: the jsonb codec, ``force_custom_plan``, the
statement timeout): no HTTP, no authentication, no catalog look-up, no
transaction block.

The clients are spread over as many processes as pgcube has workers, so the
floor is not held back by one Python process. The processes live for the
whole run (``Clients``) and connect afresh for each measurement.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType
from typing import Any

import msgspec

from pgcube.db.pool import connect
from pgcube.settings import Settings


class Statement(msgspec.Struct, frozen=True, kw_only=True):
    """What one floor client runs: ``sql`` with one of ``params`` (picked at random).

    ``insert``: ``"one"`` — ``$1`` is replaced by a new key on each execution;
    ``"batch"`` — ``$1`` by as many new keys as ``$2`` holds documents.
    """

    sql: str
    params: list[tuple[Any, ...]]
    insert: str = ""


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
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _percentile(ordered: list[int], q: float) -> int:
    if not ordered:
        return 0
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def arguments(statement: Statement, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The parameters of one execution: fresh keys for inserts (pgcube makes a uuid4 hex per document)."""
    if statement.insert == "one":
        return (uuid.uuid4().hex, *args[1:])
    if statement.insert == "batch":
        return ([uuid.uuid4().hex for _ in args[1]], *args[1:])
    return args


async def _client(
    conn: Any,
    statement: Statement,
    rnd: random.Random,
    warm_until: float,
    stop_at: float,
    out: list[int],
    errors: list[str],
) -> int:
    params = statement.params
    executed = 0
    while True:
        now = time.time()
        if now >= stop_at:
            return executed
        executed += 1
        args = arguments(statement, params[rnd.randrange(len(params))])
        started = time.perf_counter_ns()
        try:
            await conn.fetch(statement.sql, *args)
        except Exception as exc:  # counted and reported; the run goes on
            errors.append(f"{type(exc).__name__}: {exc}")
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
) -> tuple[list[int], list[str], float, int]:
    settings = Settings()
    conns = [await connect(settings, url) for _ in range(connections)]
    latencies: list[int] = []
    errors: list[str] = []
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu0 = time.process_time()
        warm_until = start_at + warmup
        stop_at = warm_until + seconds
        executed = await asyncio.gather(
            *(
                _client(c, statement, random.Random(seed * 7919 + i), warm_until, stop_at, latencies, errors)
                for i, c in enumerate(conns)
            )
        )
        cpu = time.process_time() - cpu0
    finally:
        for conn in conns:
            await conn.close()
    return latencies, errors, cpu, sum(executed)


def _run_process(
    args: tuple[str, Statement, int, float, float, float, int],
) -> tuple[list[int], list[str], float, int]:
    return asyncio.run(_process(*args))


def _warm() -> None:
    """Nothing: starting a worker imports this module (asyncpg, pgcube's settings) once."""


class Clients:
    """The floor's client processes, started once per run (``with Clients(2) as clients:``)."""

    def __init__(self, processes: int) -> None:
        self.processes = max(1, processes)
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=context)
        for future in [self._pool.submit(_warm) for _ in range(self.processes)]:
            future.result()

    def __enter__(self) -> Clients:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._pool.shutdown(cancel_futures=True)

    def run(
        self, url: str, statement: Statement, *, connections: int, warmup: float, seconds: float
    ) -> FloorResult:
        processes = max(1, min(self.processes, connections))
        shares = [
            connections // processes + (1 if i < connections % processes else 0) for i in range(processes)
        ]
        start_at = time.time() + 0.5  # every process connected and waiting before the clock starts
        jobs = [(url, statement, share, start_at, warmup, seconds, i) for i, share in enumerate(shares)]
        results = list(self._pool.map(_run_process, jobs))
        latencies = sorted(lat for result in results for lat in result[0])
        errors = [error for result in results for error in result[1]]
        return FloorResult(
            requests=len(latencies),
            seconds=seconds,
            p50_us=_percentile(latencies, 50),
            p90_us=_percentile(latencies, 90),
            p99_us=_percentile(latencies, 99),
            mean_us=sum(latencies) / len(latencies) if latencies else 0.0,
            max_us=latencies[-1] if latencies else 0,
            cpu_seconds=sum(result[2] for result in results),
            errors=len(errors),
            executed=sum(result[3] for result in results),
            first_error=errors[0] if errors else "",
        )

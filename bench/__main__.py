"""``make bench`` / ``python -m bench``: pgcube against the physical floor and the framework ceiling.

For each workload, in one run on one PostgreSQL:

(a) pgcube over HTTP (``pgcube serve --workers 2``, access log off), loaded by wrk;
(b) the floor: asyncpg running the same statement directly, same concurrency;
(c) the ceiling: a trivial Litestar handler under the same server settings,
    answering the same bytes to the same requests.

Prints the table and rewrites the generated section of docs/benchmarks.md and
docs/benchmarks.png. Raw results go to bench/results/ (not committed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import fixtures, floor, report, servers, wrk
from bench.workloads import DEEP_PAGE, PAGE, Workload, build, floor_statement, with_cursor
from pgcube.db.pool import connect
from pgcube.settings import Settings

RESULTS = servers.REPO / "bench" / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--docs", type=int, default=200_000, help="documents in the read collection (200,000)")
    size.add_argument(
        "--large", action="store_const", const=1_000_000, dest="docs", help="1,000,000 documents"
    )
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per run (10)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds before each run (2)")
    parser.add_argument("--only", help="comma-separated workload names (default: all)")
    parser.add_argument(
        "--floor-processes", type=int, default=servers.WORKERS, help="processes the floor's clients use (2)"
    )
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    parser.add_argument(
        "--profile",
        default="get",
        help="workload whose pgcube workers py-spy profiles for the report (get; 'none': no profile)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, scripts)")
    return parser.parse_args(argv)


def machine() -> dict[str, Any]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def validate(client: httpx.Client, fixture: fixtures.Fixture, workload: Workload, canned: Path) -> bytes:
    """Send the first body once: it must succeed with the expected answer; keep the answer for the ceiling."""
    response = client.post(fixture.ddo_path, content=workload.encoded[0], headers=fixture.headers)
    if response.status_code != 200 or not workload.check(response.json()):
        raise RuntimeError(
            f"{workload.name}: unexpected answer {response.status_code}: {response.text[:500]}"
        )
    (canned / f"{workload.name}.json").write_bytes(response.content)
    return response.content


def deep_cursor(client: httpx.Client, fixture: fixtures.Fixture) -> str:
    body = {
        "op": "collection.find",
        "collection": fixtures.READS,
        "page": DEEP_PAGE - 1,
        "per_page": PAGE,
        "count": "none",
    }
    response = client.post(fixture.ddo_path, json=body, headers=fixture.headers)
    cursor = response.json()["meta"]["pagination"]["next_cursor"]
    if not cursor:
        raise RuntimeError(f"no cursor after page {DEEP_PAGE - 1}: {response.text[:300]}")
    return str(cursor)


async def _explain(url: str, statement: floor.Statement) -> str:
    conn = await connect(Settings(), url)
    try:
        args = statement.params[0]
        rows = await conn.fetch("EXPLAIN (COSTS OFF) " + statement.sql, *args)
        return "\n".join(row[0] for row in rows)
    finally:
        await conn.close()


def measure_http(
    binary: str,
    server: servers.Server,
    path: str,
    workload: Workload,
    args: argparse.Namespace,
    run: Run,
    label: str,
) -> dict[str, Any]:
    common = {"connections": workload.connections, "work": run.work, "name": f"{workload.name}-{label}"}
    headers = run.fixture.headers
    if args.warmup > 0:
        wrk.run(binary, server.url, path, headers, workload.encoded, seconds=args.warmup, **common)
    cpu0, pg0 = servers.cpu_seconds(server.pids()), run.postgres_cpu()
    result = wrk.run(binary, server.url, path, headers, workload.encoded, seconds=args.seconds, **common)
    server_cpu, pg_cpu = servers.cpu_seconds(server.pids()) - cpu0, run.postgres_cpu() - pg0
    n = max(result.requests, 1)
    return {
        "rate": result.rate,
        "p50_us": result.p50_us,
        "p99_us": result.p99_us,
        "requests": result.requests,
        "seconds": result.seconds,
        "errors": result.error_count,
        "client_cpu": result.cpu_seconds / result.seconds,
        "server_cpu": server_cpu / result.seconds,
        "cpu_us": {
            "client": 1e6 * result.cpu_seconds / n,
            "server": 1e6 * server_cpu / n,
            "postgres": 1e6 * pg_cpu / n,
        },
    }


def measure_floor(
    statement: floor.Statement, workload: Workload, args: argparse.Namespace, run: Run
) -> dict[str, Any]:
    pg0 = run.postgres_cpu()
    result = floor.run(
        run.fixture.database_url,
        statement,
        connections=workload.connections,
        processes=args.floor_processes,
        warmup=args.warmup,
        seconds=args.seconds,
    )
    pg_cpu = run.postgres_cpu() - pg0
    n = max(result.executed, 1)
    return {
        "rate": result.rate,
        "p50_us": result.p50_us,
        "p99_us": result.p99_us,
        "requests": result.requests,
        "seconds": result.seconds,
        "errors": result.errors,
        "client_cpu": result.cpu_seconds / result.seconds,
        "cpu_us": {"client": 1e6 * result.cpu_seconds / n, "postgres": 1e6 * pg_cpu / n},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    binary = wrk.ensure_wrk()
    only = set(args.only.split(",")) if args.only else None
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="pgcube-bench-"))
    canned = work / "canned"
    canned.mkdir()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "docs": args.docs,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "command": "make bench"
        + ("" if argv is None and len(sys.argv) == 1 else " ARGS='" + " ".join(sys.argv[1:]) + "'"),
        "workloads": [],
    }
    print(f"work directory: {work}")
    try:
        with servers.postgres(work) as (database_url, pg_description):
            results["postgres"] = pg_description
            pgcube = servers.start_pgcube(database_url, work)
            ceiling = None
            try:
                fixture = fixtures.make(pgcube.url, database_url)
                print(f"loading {args.docs:,} documents ...", flush=True)
                results["load_seconds"] = fixtures.load(fixture, args.docs)
                print(f"  {results['load_seconds']:.1f} s", flush=True)
                workloads = [w for w in build(args.docs) if only is None or w.name in only]
                with httpx.Client(base_url=pgcube.url, timeout=60) as client:
                    for workload in workloads:
                        if workload.name == "page_cursor":
                            with_cursor(workload, deep_cursor(client, fixture))
                        validate(client, fixture, workload, canned)
                ceiling = servers.start_ceiling(canned, work)
                run = Run(fixture, work, servers.postmaster_pid(database_url))
                for workload in workloads:
                    results["workloads"].append(run_workload(binary, pgcube, ceiling, workload, args, run))
                    print(report.row_text(results["workloads"][-1]), flush=True)
            finally:
                pgcube.stop()
                if ceiling is not None:
                    ceiling.stop()
        results["elapsed_seconds"] = time.monotonic() - started
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
        print()
        print(report.table_text(results))
        if not args.no_docs:
            report.write_docs(results)
            print(
                f"\nwrote {report.DOC.relative_to(servers.REPO)} and {report.PLOT.relative_to(servers.REPO)}"
            )
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


class Run:
    """What every measurement of one run shares."""

    def __init__(self, fixture: fixtures.Fixture, work: Path, postmaster: int | None) -> None:
        self.fixture = fixture
        self.work = work
        self.postmaster = postmaster

    def postgres_cpu(self) -> float:
        return servers.postgres_cpu(self.postmaster) if self.postmaster else 0.0


def run_workload(
    binary: str,
    pgcube: servers.Server,
    ceiling: servers.Server,
    workload: Workload,
    args: argparse.Namespace,
    run: Run,
) -> dict[str, Any]:
    fixture = run.fixture
    statement = floor_statement(fixture, workload)
    explain = asyncio.run(_explain(fixture.database_url, statement)) if not workload.writes else ""
    entry: dict[str, Any] = {
        "name": workload.name,
        "title": workload.title,
        "note": workload.note,
        "connections": workload.connections,
        "docs_per_request": workload.docs_per_request,
        "unit": workload.unit,
        "target": dict(workload.target.__dict__) if workload.target else None,
        "sql": statement.sql,
        "explain": explain,
    }
    if workload.writes:
        fixtures.truncate(fixture, workload.collection)
    entry["pgcube"] = measure_http(binary, pgcube, fixture.ddo_path, workload, args, run, "pgcube")
    if args.profile == workload.name:
        try:
            entry["profile"] = report.profile(pgcube, binary, fixture, workload, args, run.work)
        except (
            OSError,
            subprocess.CalledProcessError,
            SystemExit,
        ) as exc:  # a report without a profile still counts
            entry["profile"] = f"(no profile: {exc})"
    if workload.writes:
        fixtures.truncate(fixture, workload.collection)
    entry["floor"] = measure_floor(statement, workload, args, run)
    entry["ceiling"] = measure_http(binary, ceiling, f"/c/{workload.name}", workload, args, run, "ceiling")
    return entry


if __name__ == "__main__":
    sys.exit(main())

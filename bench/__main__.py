"""``make bench`` / ``python -m bench``: pgcube against the physical floor and the framework ceiling.

For each workload, in one run on one PostgreSQL:

(a) pgcube over HTTP (``pgcube serve --workers 2``, access log off), loaded by wrk;
    for a few workloads also the same app under granian (2 workers);
(b) the floor: asyncpg running the best hand-written SQL for the same answer,
    same concurrency (``bench.workloads``, ``bench.floor``);
(c) the ceiling: a trivial Litestar handler under the same server settings
    (uvicorn, and granian where pgcube ran under it too), answering the same
    bytes to the same requests;
(d) the bound: the ceiling's handler plus one round trip — the floor's
    statement on a pool configured like pgcube's (``bench.ceiling``): what
    this framework, driver and server allow any service, before its own code.

A workload that repeats another by another caller (``Workload.baseline``: the
find by an end user under an ``owner`` rule) measures pgcube only; its answers
are checked equal to the baseline's, and (b)–(d) are the baseline's.

Prints the table and rewrites the generated section of docs/benchmarks.md and
docs/benchmarks.png. Raw results go to bench/results/ (not committed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

from bench import fixtures, floor, report, servers, wrk
from bench.workloads import GRANIAN_WORKLOADS, PAGE, Workload, build, deep_page, with_cursor
from pgcube.db.pool import connect
from pgcube.settings import Settings

RESULTS = servers.REPO / "bench" / "results"


QUICK = {"docs": 20_000, "seconds": 2.0, "warmup": 0.5}
"""``--quick``: small data, short runs — a couple of minutes, for development (never for docs/)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--docs", type=int, help="documents in the read collection (200,000)")
    size.add_argument(
        "--large", action="store_const", const=1_000_000, dest="docs", help="1,000,000 documents"
    )
    parser.add_argument("--seconds", type=float, help="measured seconds per run (5)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each run (1)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"development run: {QUICK['docs']:,} documents, {QUICK['seconds']:g} s per run, "
        f"{QUICK['warmup']:g} s warm-up; implies --no-docs",
    )
    parser.add_argument("--only", help="comma-separated workload names (default: all)")
    parser.add_argument(
        "--granian",
        default=",".join(GRANIAN_WORKLOADS),
        help="workloads also run under granian, pgcube and the ceiling (%(default)s; 'none': skip)",
    )
    parser.add_argument(
        "--server-rounds",
        type=int,
        default=1,
        help="extra uvicorn/granian pairs, alternated, for the server comparison (1: none beyond the first)",
    )
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
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {"docs": 200_000, "seconds": 5.0, "warmup": 1.0}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.no_docs = args.no_docs or args.quick
    args.granian = set() if args.granian in ("", "none") else set(args.granian.split(","))
    return args


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


def validate(
    client: httpx.Client, fixture: fixtures.Fixture, workload: Workload, canned: Path, keep: bool = True
) -> bytes:
    """Send the first body once: it must succeed with the expected answer; keep the answer for the
    ceiling in ``canned`` (unless not ``keep``: another server's check of the same request).

    A workload with a baseline must answer the baseline's documents (validated before it)."""
    headers = fixture.headers_for(workload.caller)
    response = client.post(fixture.ddo_path, content=workload.encoded[0], headers=headers)
    if response.status_code != 200 or not workload.check(response.json()):
        raise RuntimeError(
            f"{workload.name}: unexpected answer {response.status_code}: {response.text[:500]}"
        )
    if workload.baseline:
        check_same_answer(workload, response.content, (canned / f"{workload.baseline}.json").read_bytes())
    if keep:
        (canned / f"{workload.name}.json").write_bytes(response.content)
    return response.content


def check_same_answer(workload: Workload, answer: bytes, baseline: bytes) -> None:
    """The workload answers the documents its baseline answered to the same body."""
    data, expected = msgspec.json.decode(answer)["data"], msgspec.json.decode(baseline)["data"]
    if data != expected:
        raise RuntimeError(
            f"{workload.name}: the answer differs from {workload.baseline}'s\n"
            f"{workload.name}: {str(data)[:400]}\n{workload.baseline}: {str(expected)[:400]}"
        )


def selected(workloads: list[Workload], only: set[str] | None) -> list[Workload]:
    """The workloads named in ``only`` (all when None), with the baselines they need, in order."""
    if only is None:
        return workloads
    wanted = set(only)
    wanted |= {w.baseline for w in workloads if w.name in only and w.baseline}
    return [w for w in workloads if w.name in wanted]


def deep_cursor(client: httpx.Client, fixture: fixtures.Fixture, page: int) -> str:
    """pgcube's ``next_cursor`` after page ``page - 1`` (the cursor is pgcube's own format)."""
    body = {
        "op": "collection.find",
        "collection": fixtures.READS,
        "page": page - 1,
        "per_page": PAGE,
        "count": "none",
    }
    response = client.post(fixture.ddo_path, json=body, headers=fixture.headers)
    cursor = response.json()["meta"]["pagination"]["next_cursor"]
    if not cursor:
        raise RuntimeError(f"no cursor after page {page - 1}: {response.text[:300]}")
    return str(cursor)


def statement(fixture: fixtures.Fixture, workload: Workload) -> floor.Statement:
    """The workload's hand-written floor on this run's table."""
    sql = workload.floor.sql.replace("{table}", fixture.table(workload.collection))
    return floor.Statement(sql=sql, params=workload.floor.params, insert=workload.floor.insert)


async def _floor_answer(
    url: str, statement: floor.Statement, explain: bool, user_key: str | None = None
) -> tuple[list[Any], str]:
    """(the floor's answer to the first variant, decoded; its plan when ``explain``); with
    ``user_key``, run as that end user under the access rules (``fixtures.act_as``)."""
    conn = await connect(Settings(), url)
    try:
        async with conn.transaction():
            if user_key is not None:
                await fixtures.act_as(conn, user_key)
            args = floor.arguments(statement, statement.params[0])
            plan = ""
            if explain:
                rows = await conn.fetch("EXPLAIN (COSTS OFF) " + statement.sql, *args)
                plan = "\n".join(row[0] for row in rows)
            values = [row[0] for row in await conn.fetch(statement.sql, *args)]
        return [msgspec.json.decode(v) if isinstance(v, bytes) else v for v in values], plan
    finally:
        await conn.close()


def check_floor(fixture: fixtures.Fixture, workload: Workload, answer: bytes) -> str:
    """The floor must give pgcube's answer to the first variant (documents, or the count); its plan.

    An end user's workload runs the floor's statement as that end user too, so the plan shown is
    the one PostgreSQL picks under the collection's row-level security."""
    sql = statement(fixture, workload)
    reads = not workload.writes and workload.floor.answer != "none"
    user = fixture.end_user.user_key if workload.caller == fixtures.END_USER and fixture.end_user else None
    values, plan = asyncio.run(_floor_answer(fixture.database_url, sql, explain=reads, user_key=user))
    if not reads:
        return plan
    data = msgspec.json.decode(answer)["data"]
    expected = [data["count"]] if workload.floor.answer == "count" else data
    if values != expected:
        raise RuntimeError(
            f"{workload.name}: the floor's answer differs from pgcube's\n"
            f"floor:  {str(values)[:400]}\npgcube: {str(expected)[:400]}"
        )
    return plan


def measure_http(
    binary: str, server: servers.Server, path: str, workload: Workload, args: argparse.Namespace, run: Run
) -> dict[str, Any]:
    label = server.name.replace(" ", "").replace("(", "-").replace(")", "")
    common = {"connections": workload.connections, "work": run.work, "name": f"{workload.name}-{label}"}
    headers = run.fixture.headers_for(workload.caller)
    if workload.writes:
        fixtures.truncate(run.fixture, workload.collection)
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
    clients: floor.Clients, workload: Workload, args: argparse.Namespace, run: Run
) -> dict[str, Any]:
    if workload.writes:
        fixtures.truncate(run.fixture, workload.collection)
    pg0 = run.postgres_cpu()
    result = clients.run(
        run.fixture.database_url,
        statement(run.fixture, workload),
        connections=workload.connections,
        warmup=args.warmup,
        seconds=args.seconds,
    )
    pg_cpu = run.postgres_cpu() - pg0
    if result.first_error:
        print(f"  floor {workload.name}: {result.errors} errors, e.g. {result.first_error}", flush=True)
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
        "granian_args": " ".join(servers.GRANIAN),
        "workloads": [],
    }
    print(f"work directory: {work}")
    running: list[servers.Server] = []
    try:
        with servers.postgres(work) as (database_url, pg_description):
            results["postgres"] = pg_description
            secret = secrets.token_urlsafe(48)
            try:
                running.append(pgcube := servers.start_pgcube(database_url, work, secret))
                fixture = fixtures.make(pgcube.url, database_url)
                fixtures.sign_in_end_user(fixture, secret)  # before the load: it owns the documents
                print(f"loading {args.docs:,} documents ...", flush=True)
                results["load_seconds"] = fixtures.load(fixture, args.docs)
                print(f"  {results['load_seconds']:.1f} s", flush=True)
                workloads = selected(build(args.docs), only)
                with httpx.Client(base_url=pgcube.url, timeout=60) as client:
                    for workload in workloads:
                        if workload.name == "page_cursor":
                            with_cursor(workload, deep_cursor(client, fixture, deep_page(args.docs)))
                        workload_answer = validate(client, fixture, workload, canned)
                        plans[workload.name] = check_floor(fixture, workload, workload_answer)
                        (canned / f"{workload.name}.statement").write_bytes(
                            pickle.dumps(statement(fixture, workload))
                        )
                http: dict[str, servers.Server] = {"pgcube": pgcube}
                running.append(ceiling := servers.start_ceiling(canned, work, database_url=database_url))
                http["ceiling"] = ceiling
                if args.granian & {w.name for w in workloads}:
                    running.append(granian := servers.start_pgcube_granian(database_url, work, secret))
                    http["pgcube-granian"] = granian
                    with httpx.Client(base_url=granian.url, timeout=60) as client:
                        for workload in workloads:
                            if workload.name in args.granian and not workload.writes:
                                validate(client, fixture, workload, canned, keep=False)
                    running.append(servers.start_ceiling(canned, work, "granian"))
                    http["ceiling-granian"] = running[-1]
                run = Run(fixture, work, servers.postmaster_pid(database_url))
                with floor.Clients(args.floor_processes) as clients:
                    measured: dict[str, dict[str, Any]] = {}
                    for workload in workloads:
                        entry = run_workload(binary, http, clients, workload, args, run, measured)
                        measured[workload.name] = entry
                        results["workloads"].append(entry)
                        print(report.row_text(entry), flush=True)
            finally:
                for server in running:
                    server.stop()
        results["elapsed_seconds"] = time.monotonic() - started
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str))
        print()
        print(report.table_text(results))
        print(f"\nthe whole run took {results['elapsed_seconds'] / 60:.1f} min")
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


plans: dict[str, str] = {}
"""The floor's plan per workload (EXPLAIN of the first variant), found while checking its answer."""


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
    http: dict[str, servers.Server],
    clients: floor.Clients,
    workload: Workload,
    args: argparse.Namespace,
    run: Run,
    measured: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """pgcube (uvicorn, then granian), the floor, the ceiling and the bound (uvicorn), the ceiling under
    granian, back to back. A workload with a baseline takes the floor, the ceiling and the bound
    of the baseline (``measured``, this run's entries so far): the same statement, the same bytes."""
    fixture = run.fixture
    entry: dict[str, Any] = {
        "name": workload.name,
        "title": workload.title,
        "note": workload.note,
        "connections": workload.connections,
        "docs_per_request": workload.docs_per_request,
        "unit": workload.unit,
        "targets": [dict(t.__dict__) for t in workload.targets],
        "caller": workload.caller,
        "baseline": workload.baseline,
        "sql": statement(fixture, workload).sql,
        "explain": plans.get(workload.name, ""),
    }
    granian = workload.name in args.granian and "pgcube-granian" in http
    ceiling_path = f"/c/{workload.name}"
    entry["pgcube"] = measure_http(binary, http["pgcube"], fixture.ddo_path, workload, args, run)
    if args.profile == workload.name:
        try:
            entry["profile"] = report.profile(http["pgcube"], binary, fixture, workload, args, run.work)
        except (OSError, subprocess.CalledProcessError, SystemExit) as exc:  # a report without a profile
            entry["profile"] = f"(no profile: {exc})"
    if granian:
        entry["pgcube_granian"] = measure_http(
            binary, http["pgcube-granian"], fixture.ddo_path, workload, args, run
        )
    if workload.baseline:
        for side in ("floor", "ceiling", "bound"):
            entry[side] = measured[workload.baseline][side]
    else:
        entry["floor"] = measure_floor(clients, workload, args, run)
        entry["ceiling"] = measure_http(binary, http["ceiling"], ceiling_path, workload, args, run)
        entry["bound"] = measure_http(binary, http["ceiling"], f"/b/{workload.name}", workload, args, run)
    if granian:
        entry["ceiling_granian"] = measure_http(
            binary, http["ceiling-granian"], ceiling_path, workload, args, run
        )
        entry["server_rounds"] = [server_round(entry)]
        for _ in range(args.server_rounds - 1):  # uvicorn and granian alternated again, same order
            extra = {
                "pgcube": measure_http(binary, http["pgcube"], fixture.ddo_path, workload, args, run),
                "pgcube_granian": measure_http(
                    binary, http["pgcube-granian"], fixture.ddo_path, workload, args, run
                ),
                "ceiling": measure_http(binary, http["ceiling"], ceiling_path, workload, args, run),
                "ceiling_granian": measure_http(
                    binary, http["ceiling-granian"], ceiling_path, workload, args, run
                ),
            }
            entry["server_rounds"].append(server_round(extra))
    return entry


def server_round(entry: dict[str, Any]) -> dict[str, float]:
    """Throughput and worker CPU per request of each side of one uvicorn/granian pair."""
    return {
        f"{side}_{what}": entry[side]["rate"] if what == "rate" else entry[side]["cpu_us"]["server"]
        for side in ("pgcube", "pgcube_granian", "ceiling", "ceiling_granian")
        for what in ("rate", "cpu")
    }


if __name__ == "__main__":
    sys.exit(main())

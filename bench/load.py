"""Load run (RELIABILITY F8): 50 concurrent clients of mixed CRUD against ``pgcube serve``.

Run: ``.venv/bin/python -m bench.load [--clients 50] [--seconds 20] [--quick] [--write-docs]``.

Each client has an API key of its own (the default rate limits stay on: the
run also shows what the limiter's fast path costs) and loops over a mix of
both dialects — DDO insert, find, count and update, REST batch insert, find
and delete — on one logical database. It reports throughput, errors, 5xx,
latency percentiles and the server's memory (RSS of pgcube's processes,
sampled every second), and with ``--write-docs`` rewrites the
``## Load (50 clients)`` section of docs/benchmarks.md (the rest of that file
belongs to ``python -m bench``).

The promise: < 1 % errors, no 5xx, p95 < 250 ms, memory flat.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import msgspec
import psutil

from bench.servers import REPO, WORKERS, Server, cpu_seconds, free_port, postgres

DOCS = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- load:begin (bench/load.py) -->"
END = "<!-- load:end -->"
PASSWORD = "load " + secrets.token_hex(8)
KEYS_PER_ACCOUNT = 10
CATEGORIES = [f"c{i}" for i in range(20)]


# --- setup -----------------------------------------------------------------------------------


def start_pgcube(database_url: str, work: Path) -> Server:
    """``pgcube serve`` as in production, with the default limits."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PGCUBE_")},
        "PGCUBE_DATABASE_URL": database_url,
        "PGCUBE_DATA_DIR": str(work / "pgcube"),
        "PGCUBE_ENVIRONMENT": "production",
        "PGCUBE_JWT_SECRET": secrets.token_urlsafe(48),
        "PGCUBE_ACCESS_LOG": "false",
        "PGCUBE_LOG_LEVEL": "warning",
    }
    argv = [sys.executable, "-m", "pgcube.cli", "serve", "--workers", str(WORKERS), "--port", str(port)]
    server = Server("pgcube", argv, env, port, work / "pgcube.log")
    server.wait_ready("/ready")
    return server


async def verification_path(database_url: str, email: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        body = await conn.fetchval(
            "SELECT body FROM pgcube.outbox WHERE lower(to_address) = lower($1) ORDER BY id DESC LIMIT 1",
            email,
        )
    finally:
        await conn.close()
    marker = "/core/verify-email/"
    start = body.index(marker)
    return str(body[start : start + len(marker) + 43])


async def api_keys(http: httpx.AsyncClient, database_url: str, count: int) -> list[str]:
    """``count`` API keys, spread over as few accounts as the key quota allows."""
    keys: list[str] = []
    while len(keys) < count:
        email = f"load-{secrets.token_hex(4)}@example.com"
        body = {"email": email, "firstName": "Load", "lastName": "Run", "password": PASSWORD}
        (await http.post("/core/register", json=body)).raise_for_status()
        (await http.get(await verification_path(database_url, email))).raise_for_status()
        login = await http.post("/core/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        bearer = {"Authorization": f"Bearer {login.json()['access']}"}
        for n in range(min(KEYS_PER_ACCOUNT, count - len(keys))):
            made = await http.post("/core/api/v1/keys", json={"name": f"load {n}"}, headers=bearer)
            made.raise_for_status()
            keys.append(made.json()["key"])
    return keys


async def database_for(http: httpx.AsyncClient, key: str, seed: int) -> str:
    headers = {"X-API-KEY": key}
    body = {
        "db_name": "load_" + secrets.token_hex(3),
        "collections": [{"name": "items", "fields": [{"name": "category", "type": "string", "index": True}]}],
    }
    created = await http.post("/api/create_database", json=body, headers=headers)
    created.raise_for_status()
    database_id: str = created.json()["database"]["id"]
    for start in range(0, seed, 500):
        docs = [document(start + i) for i in range(min(500, seed - start))]
        batch = {"op": "collection.insert", "collection": "items", "data": docs}
        (await http.post(f"/api/{database_id}", json=batch, headers=headers)).raise_for_status()
    return database_id


def document(n: int) -> dict[str, Any]:
    return {
        "category": random.choice(CATEGORIES),
        "n": n,
        "price": round(random.uniform(1, 500), 2),
        "tags": random.sample(["a", "b", "c", "d", "e"], 2),
        "text": secrets.token_hex(16),
    }


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0

    def record(self, op: str, seconds: float, status: int | None) -> None:
        self.latencies.setdefault(op, []).append(seconds)
        if status is None:
            self.transport_errors += 1
        else:
            self.statuses[status] += 1


class Connection:
    """A lean HTTP/1.1 keep-alive client: the load generator shares the machine with the
    server, so it should spend as little CPU per request as it can (httpx costs several
    times more)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        length = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else ""
        self.writer.write(f"{method} {target} HTTP/1.1\r\n{self.head}{length}\r\n".encode() + body)
        try:
            status_line = await self.reader.readuntil(b"\r\n")
            headers = await self.reader.readuntil(b"\r\n\r\n")
            size = 0
            for line in headers.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    size = int(line[15:])
            content = await self.reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        return int(status_line.split(b" ", 2)[1]), content

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
            self.reader = self.writer = None


class Client:
    """One simulated user: its own key, its own keep-alive connection, a mix of operations."""

    def __init__(self, base_url: str, key: str, database_id: str, results: Results) -> None:
        url = httpx.URL(base_url)
        self.connection = Connection(url.host, url.port or 80, {"X-API-KEY": key})
        self.database_id = database_id
        self.results = results
        self.mine: list[str] = []
        self.n = 0

    def next_request(self) -> tuple[str, str, str, Any]:
        """(operation, method, target, JSON body or None)."""
        roll = random.random()
        self.n += 1
        ddo = f"/api/{self.database_id}"
        if roll < 0.25 or not self.mine:
            body = {"op": "collection.insert", "collection": "items", "data": [document(self.n)]}
            return "ddo insert", "POST", ddo, body
        if roll < 0.35:
            docs = [document(self.n) for _ in range(5)]
            body = {"database_id": self.database_id, "collection_name": "items", "data": docs}
            return "rest insert x5", "POST", "/api/crud", body
        if roll < 0.65:
            match = {"category": random.choice(CATEGORIES)}
            body = {"op": "collection.find", "collection": "items", "match": match, "limit": 20}
            return "ddo find", "POST", ddo, body
        if roll < 0.75:
            params = {
                "database_id": self.database_id,
                "collection_name": "items",
                "filters": json.dumps({"category": random.choice(CATEGORIES), "tags": "a"}),
                "page_size": 10,
            }
            return "rest find", "GET", "/api/crud?" + urlencode(params), None
        if roll < 0.85:
            match = {"_key": random.choice(self.mine)}
            body = {"op": "collection.update", "collection": "items", "match": match, "data": {"n:$incr": 1}}
            return "ddo update", "POST", ddo, body
        if roll < 0.92:
            match = {"category": random.choice(CATEGORIES)}
            return "ddo count", "POST", ddo, {"op": "collection.count", "collection": "items", "match": match}
        key = self.mine.pop(random.randrange(len(self.mine)))
        body = {"database_id": self.database_id, "collection_name": "items", "filters": {"_key": key}}
        return "rest delete", "DELETE", "/api/crud", body

    async def run(self, until: float, results: Results) -> None:
        while time.monotonic() < until:
            op, method, target, body = self.next_request()
            payload = msgspec.json.encode(body) if body is not None else b""
            started = time.perf_counter()
            try:
                status: int | None
                status, content = await self.connection.request(method, target, payload)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                status, content = None, b""
            results.record(op, time.perf_counter() - started, status)
            if status == 200 and op == "ddo insert":
                self.mine.extend(doc["_key"] for doc in msgspec.json.decode(content)["data"])
            elif status == 201 and op == "rest insert x5":
                self.mine.extend(msgspec.json.decode(content)["inserted_ids"])


async def sample_memory(pids: list[int], until: float, samples: list[tuple[float, int]]) -> None:
    processes = [psutil.Process(pid) for pid in pids]
    start = time.monotonic()
    while time.monotonic() < until:
        rss = 0
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                rss += process.memory_info().rss
        samples.append((time.monotonic() - start, rss))
        await asyncio.sleep(1.0)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def load(server: Server, database_url: str, clients: int, seconds: float) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        keys = await api_keys(http, database_url, clients)
        # One database per account, seeded; the account's keys (clients) share it.
        databases = {
            first: await database_for(http, keys[first], seed=2000)
            for first in range(0, clients, KEYS_PER_ACCOUNT)
        }
    workers = [
        Client(server.url, key, databases[index - index % KEYS_PER_ACCOUNT], Results())
        for index, key in enumerate(keys)
    ]
    try:
        warm_up = time.monotonic() + 3
        await asyncio.gather(*(w.run(warm_up, Results()) for w in workers))
        results, memory = Results(), []
        pids = server.pids()
        cpu_before = cpu_seconds(pids), cpu_seconds([os.getpid()])
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(sample_memory(pids, until, memory), *(w.run(until, results) for w in workers))
        elapsed = time.monotonic() - started
        cpu = [
            (after - before) / elapsed
            for after, before in zip((cpu_seconds(pids), cpu_seconds([os.getpid()])), cpu_before, strict=True)
        ]
    finally:
        await asyncio.gather(*(w.connection.close() for w in workers))
    summary = summarize(results, memory, elapsed, clients)
    summary["cores_used_by_pgcube"], summary["cores_used_by_load_generator"] = (round(c, 2) for c in cpu)
    return summary


def summarize(
    results: Results, memory: list[tuple[float, int]], elapsed: float, clients: int
) -> dict[str, Any]:
    every = [s for values in results.latencies.values() for s in values]
    total = len(every)
    errors = results.transport_errors + sum(n for status, n in results.statuses.items() if status >= 400)
    server_errors = sum(n for status, n in results.statuses.items() if status >= 500)
    settled = [rss for t, rss in memory if t >= 5] or [rss for _, rss in memory]
    head, tail = settled[: max(1, len(settled) // 4)], settled[-max(1, len(settled) // 4) :]
    return {
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": total,
        "rate": round(total / elapsed, 1),
        "errors": errors,
        "error_rate": round(errors / total * 100, 3) if total else 0.0,
        "server_errors": server_errors,
        "statuses": dict(sorted(results.statuses.items())),
        "p50_ms": round(percentile(every, 50) * 1000, 1),
        "p95_ms": round(percentile(every, 95) * 1000, 1),
        "p99_ms": round(percentile(every, 99) * 1000, 1),
        "by_op": {
            op: {
                "count": len(values),
                "p50_ms": round(statistics.median(values) * 1000, 1),
                "p95_ms": round(percentile(values, 95) * 1000, 1),
            }
            for op, values in sorted(results.latencies.items())
        },
        "rss_mib_first_quarter": round(statistics.mean(head) / 2**20, 1),
        "rss_mib_last_quarter": round(statistics.mean(tail) / 2**20, 1),
        "rss_mib_max": round(max(settled) / 2**20, 1),
    }


def verdict(summary: dict[str, Any]) -> dict[str, bool]:
    growth = summary["rss_mib_last_quarter"] / summary["rss_mib_first_quarter"] - 1
    return {
        "errors < 1 %": summary["error_rate"] < 1.0,
        "no 5xx": summary["server_errors"] == 0,
        "p95 < 250 ms": summary["p95_ms"] < 250,
        "memory flat (< 10 % growth, first to last quarter)": growth < 0.10,
    }


def markdown(summary: dict[str, Any], database: str) -> str:
    checks = verdict(summary)
    rows = "\n".join(
        f"| {op} | {v['count']} | {v['p50_ms']} | {v['p95_ms']} |" for op, v in summary["by_op"].items()
    )
    promise = "\n".join(f"* {'✅' if ok else '❌'} {name}" for name, ok in checks.items())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""{BEGIN}
## Load (50 clients)

RELIABILITY F8, measured by `python -m bench.load --write-docs` ({when}; {platform.machine()},
{psutil.cpu_count()} cores, {database}; `pgcube serve --workers {WORKERS}`, production mode, default
rate limits on, one API key per client). The load generator runs on the same machine: pgcube's
processes used {summary["cores_used_by_pgcube"]} cores, the generator {summary["cores_used_by_load_generator"]}; PostgreSQL and
whatever else runs on the machine the rest (load average {summary["load_average"]} at the end of the
run). On a shared machine the latencies move with that other load; errors, 5xx and memory do not.

{summary["clients"]} clients, each on one keep-alive connection, loop for {summary["seconds"]} s over a
mix of both dialects: DDO insert (25 %), REST batch insert of 5 (10 %), DDO find by an
indexed field (30 %), REST find (10 %), DDO update by `_key` (10 %), DDO count (7 %),
REST delete by `_key` (8 %).

| requests | req/s | errors | 5xx | p50 | p95 | p99 | RSS first ¼ → last ¼ (max) |
|---:|---:|---:|---:|---:|---:|---:|---|
| {summary["requests"]} | {summary["rate"]} | {summary["errors"]} ({summary["error_rate"]} %) | {summary["server_errors"]} | {summary["p50_ms"]} ms | {summary["p95_ms"]} ms | {summary["p99_ms"]} ms | {summary["rss_mib_first_quarter"]} → {summary["rss_mib_last_quarter"]} MiB ({summary["rss_mib_max"]}) |

| operation | requests | p50 ms | p95 ms |
|---|---:|---:|---:|
{rows}

Statuses: {summary["statuses"]}.

{promise}
{END}
"""


def write_docs(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds (20)")
    parser.add_argument("--quick", action="store_true", help="development run: 5 s, docs/ left alone")
    parser.add_argument(
        "--write-docs", action="store_true", help="rewrite the load section of docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.write_docs = 5.0, False
    with tempfile.TemporaryDirectory(prefix="pgcube-load-") as tmp:
        work = Path(tmp)
        with postgres(work) as (database_url, database):
            server = start_pgcube(database_url, work)
            try:
                summary = asyncio.run(load(server, database_url, args.clients, args.seconds))
            finally:
                server.stop()
    print(json.dumps(summary, indent=2))
    checks = verdict(summary)
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.write_docs:
        write_docs(markdown(summary, database))
        print(f"wrote the load section of {DOCS.relative_to(REPO)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

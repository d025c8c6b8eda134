"""`pgcube serve` as a new user runs it: a clean data directory, the embedded
PostgreSQL, migrations, /health and /ready; a clean stop; a second start
that reuses the same data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.live import free_port


def start_serve(data_dir: Path, port: int, workers: int = 1) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGCUBE_")}
    env.update({"PGCUBE_DATA_DIR": str(data_dir), "PGCUBE_ACCESS_LOG": "false"})
    return subprocess.Popen(
        [sys.executable, "-m", "pgcube.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_healthy(url: str, process: subprocess.Popen[str], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"pgcube serve exited early:\n{process.stdout.read() if process.stdout else ''}"
            )
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("pgcube serve did not answer /health in time")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return output


@pytest.mark.slow
def test_serve_from_a_clean_data_dir_and_again(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    first = start_serve(data_dir, port)
    try:
        wait_healthy(url, first)
        ready = httpx.get(url + "/ready")
        assert ready.json() == {"status": "ready", "database": "ok"}
        assert "server" not in ready.headers, "no server header names what runs underneath"
    finally:
        output = stop(first)
    assert first.returncode == 0, output
    assert str(data_dir) in output, "the log says where the data lives"
    assert "PGCUBE_DATABASE_URL" in output, "the log says how to use another server"
    pgdata = data_dir / "postgres"
    assert (pgdata / "PG_VERSION").read_text().strip() == "18"
    assert not (pgdata / "postmaster.pid").exists(), "stopping pgcube stops its PostgreSQL"

    # Stopped as soon as it answers: its other worker may still be starting, and must stop too.
    second = start_serve(data_dir, port, workers=2)
    try:
        wait_healthy(url, second)
        assert httpx.get(url + "/ready").status_code == 200
    finally:
        output = stop(second)
    assert second.returncode == 0, output
    assert "Initializing pgdata" not in output
    assert not (pgdata / "postmaster.pid").exists()


def test_cli_version_and_help() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "pgcube.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("pgcube ")
    usage = subprocess.run(
        [sys.executable, "-m", "pgcube.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("serve", "migrate", "openapi"):
        assert command in usage.stdout


def test_cli_rejects_a_bad_setting() -> None:
    env = {**os.environ, "PGCUBE_PORT": "not-a-port"}
    result = subprocess.run(
        [sys.executable, "-m", "pgcube.cli", "migrate"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 2
    assert "PGCUBE_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_a_weak_secret_before_starting_anything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGCUBE_")}
    env.update(
        {
            "PGCUBE_DATA_DIR": str(tmp_path / "data"),
            "PGCUBE_ENVIRONMENT": "production",
            "PGCUBE_JWT_SECRET": "secret",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "pgcube.cli", "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PGCUBE_JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "postgres").exists(), "no PostgreSQL was started"

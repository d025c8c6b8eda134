"""``python -m bench.file_bench`` (also run by ``make bench``): a file upload against ``cp``.

In one run, on one disk, alternating ``--rounds`` times:

(a) **floor**: ``cp`` of a ``--mb`` MB file to a new file beside the store;
(b) **sha256**: the file hashed in this process (1 MiB reads), the one
    piece of work an upload adds to a copy's;
(c) **server floor**: the same upload (the same multipart body from httpx)
    to ``bench.upload_floor``, a bare ASGI app under uvicorn configured like
    ``pgcube serve`` that only drains the body: what receiving the bytes over
    loopback costs on this stack, with no parsing, hashing or disk;
(d) **pgcube**: the same file through the direct upload, ``POST
    /api/{database_id}/files`` (multipart, streamed from disk by httpx;
    ``pgcube serve``, 2 workers, the local store under the data directory) —
    HTTP, the multipart reader, sha256 and the store's write included, with
    the file's row written and answered.

The best of each is compared; the target: pgcube within 2x of ``cp``. When
the server floor alone is past 2x, no route on this stack can meet it, and
the section says so. The page cache is not dropped: all read a file just
written. Rewrites the ``## File upload`` section of docs/benchmarks.md
(``--no-docs``: don't).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import fixtures, servers
from bench.sections import replace_section

DOC = servers.REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- file-upload:begin (bench/file_bench.py rewrites this section) -->"
END = "<!-- file-upload:end -->"
TITLE = "## File upload"
TARGET_RATIO = 2.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=100, help="file size in MB (100)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each (3)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    return parser.parse_args(argv)


def write_file(path: Path, size: int) -> None:
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        written = 0
        while written < size:
            piece = block[: min(len(block), size - written)]
            out.write(piece)
            written += len(piece)


def copy_once(source: Path, target: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def hash_once(source: Path) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with source.open("rb") as body:
        while block := body.read(1024 * 1024):
            digest.update(block)
    return time.perf_counter() - started


def drain_once(client: httpx.Client, source: Path) -> float:
    with source.open("rb") as body:
        started = time.perf_counter()
        response = client.post("/", files={"file": (source.name, body, "application/octet-stream")})
        elapsed = time.perf_counter() - started
    if response.status_code != 200 or int(response.text) <= source.stat().st_size:
        raise RuntimeError(f"the upload floor answered {response.status_code} {response.text}")
    return elapsed


def upload_once(client: httpx.Client, fixture: fixtures.Fixture, source: Path) -> float:
    headers = {"Authorization": f"Bearer {fixture.token}"}
    with source.open("rb") as body:
        started = time.perf_counter()
        response = client.post(
            f"/api/{fixture.database_id}/files",
            files={"file": (source.name, body, "application/octet-stream")},
            headers=headers,
        )
        elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"upload failed: {response.status_code} {response.text}")
    key = response.json()["data"]["_key"]
    removed = client.post(
        f"/api/{fixture.database_id}", json={"op": "file.delete", "_key": key}, headers=headers
    )
    if removed.status_code != 200:
        raise RuntimeError(f"file.delete failed: {removed.text}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    size = args.mb * 1_000_000
    os.environ["PGCUBE_MAX_FILE_BYTES"] = str(size + 1024 * 1024)
    results: dict[str, Any] = {
        "mb": args.mb,
        "when": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory(prefix="pgcube-file-bench-") as tmp:
        work = Path(tmp)
        source = work / "upload.bin"
        write_file(source, size)
        with servers.postgres(work) as (database_url, postgres):
            results["postgres"] = postgres
            server = servers.start_pgcube(database_url, work)
            floor = servers.start_upload_floor(work)
            try:
                fixture = fixtures.make(server.url, database_url)
                copies, hashes, drains, uploads = [], [], [], []
                with (
                    httpx.Client(base_url=server.url, timeout=300) as client,
                    httpx.Client(base_url=floor.url, timeout=300) as bare,
                ):
                    for _ in range(args.rounds):
                        copies.append(copy_once(source, work / "pgcube" / "copy.bin"))
                        hashes.append(hash_once(source))
                        drains.append(drain_once(bare, source))
                        uploads.append(upload_once(client, fixture, source))
                        print(
                            f"cp {copies[-1]:.3f} s, sha256 {hashes[-1]:.3f} s, "
                            f"server floor {drains[-1]:.3f} s, pgcube {uploads[-1]:.3f} s",
                            flush=True,
                        )
            finally:
                floor.stop()
                server.stop()
    results["cp_s"] = min(copies)
    results["sha256_s"] = min(hashes)
    results["floor_s"] = min(drains)
    results["upload_s"] = min(uploads)
    results["ratio"] = results["upload_s"] / results["cp_s"]
    print(text(results), flush=True)
    if not args.no_docs:
        write_docs(results)
    return 0


def text(results: dict[str, Any]) -> str:
    mb, cp = results["mb"], results["cp_s"]
    return "\n".join(
        [
            f"cp of {mb} MB:                 {cp:.3f} s ({mb / cp:,.0f} MB/s)",
            f"sha256 of {mb} MB:             {results['sha256_s']:.3f} s ({results['sha256_s'] / cp:.2f}x cp)",
            f"server floor, {mb} MB drained: {results['floor_s']:.3f} s ({results['floor_s'] / cp:.2f}x cp)",
            f"pgcube upload of {mb} MB:      {results['upload_s']:.3f} s ({mb / results['upload_s']:,.0f} MB/s)",
            f"pgcube / cp:                  {results['ratio']:.2f}x (target ≤ {TARGET_RATIO:g}x)",
        ]
    )


def verdict(results: dict[str, Any]) -> str:
    floor = results["floor_s"] / results["cp_s"]
    if results["ratio"] <= TARGET_RATIO:
        return f"pgcube is within {TARGET_RATIO:g}x of `cp`."
    if floor > TARGET_RATIO:
        return (
            f"The target is beyond this stack: uvicorn alone, draining the same upload and doing "
            f"nothing with it, takes {floor:.2f}x `cp`; pgcube takes "
            f"{results['upload_s'] / results['floor_s']:.2f}x that floor."
        )
    return f"The target is missed: the server floor is {floor:.2f}x `cp`, pgcube {results['ratio']:.2f}x."


def markdown(results: dict[str, Any]) -> str:
    mb, cp = results["mb"], results["cp_s"]

    def row(what: str, seconds: float, note: str) -> str:
        return f"| {what} | {seconds:.3f} | {mb / seconds:,.0f} | {note} |"

    return "\n".join(
        [
            TITLE,
            "",
            f"Measured {results['when']} on {results['machine']}; {results['postgres']}. "
            "Rerun with `python -m bench.file_bench` (`make bench` runs it too).",
            "",
            "| what | seconds | MB/s | |",
            "|---|---:|---:|---|",
            row(f"floor: `cp` of a {mb} MB file on the same disk", cp, "1x"),
            row(
                "sha256 of the file, read in 1 MiB blocks (the work an upload adds to a copy)",
                results["sha256_s"],
                f"{results['sha256_s'] / cp:.2f}x",
            ),
            row(
                "server floor: the same upload to a bare ASGI app under uvicorn (as `pgcube serve` "
                "runs it) that only drains the body",
                results["floor_s"],
                f"{results['floor_s'] / cp:.2f}x",
            ),
            row(
                "pgcube: `POST /api/{database_id}/files` of the same file, streamed over HTTP into the "
                "local store (sha256 and the file's row included)",
                results["upload_s"],
                f"**{results['ratio']:.2f}x** (target ≤ {TARGET_RATIO:g}x)",
            ),
            "",
            verdict(results),
            "",
            "Best of the rounds for each; the page cache is not dropped (all read a file just written). "
            "The uploads are sent by httpx from the same machine (2 CPUs shared by client and server).",
        ]
    )


def write_docs(results: dict[str, Any]) -> None:
    replace_section(DOC, BEGIN, END, markdown(results))


if __name__ == "__main__":
    sys.exit(main())

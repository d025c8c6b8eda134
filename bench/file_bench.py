"""``python -m bench.file_bench`` (also run by ``make bench``): a file upload against ``cp``.

In one run, on one disk, alternating ``--rounds`` times:

(a) **floor**: ``cp`` of a ``--mb`` MB file to a new file beside the store;
(b) **pgcube**: the same file through the direct upload, ``POST
    /api/{database_id}/files`` (multipart, streamed from disk by httpx;
    ``pgcube serve``, 2 workers, the local store under the data directory) —
    HTTP, the multipart reader, sha256 and the store's write included, with
    the file's row written and answered.

The best of each is compared; the target: pgcube within 2x of ``cp``. The
page cache is not dropped: both read a file just written. Rewrites the ``##
File upload`` section of docs/benchmarks.md (``--no-docs``: don't).
"""

from __future__ import annotations

import argparse
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
            try:
                fixture = fixtures.make(server.url, database_url)
                copies, uploads = [], []
                with httpx.Client(base_url=server.url, timeout=300) as client:
                    for _ in range(args.rounds):
                        copies.append(copy_once(source, work / "pgcube" / "copy.bin"))
                        uploads.append(upload_once(client, fixture, source))
                        print(f"cp {copies[-1]:.3f} s, pgcube {uploads[-1]:.3f} s", flush=True)
            finally:
                server.stop()
    results["cp_s"] = min(copies)
    results["upload_s"] = min(uploads)
    results["ratio"] = results["upload_s"] / results["cp_s"]
    print(text(results), flush=True)
    if not args.no_docs:
        write_docs(results)
    return 0


def text(results: dict[str, Any]) -> str:
    mb = results["mb"]
    return "\n".join(
        [
            f"cp of {mb} MB:              {results['cp_s']:.3f} s ({mb / results['cp_s']:,.0f} MB/s)",
            f"pgcube upload of {mb} MB:   {results['upload_s']:.3f} s ({mb / results['upload_s']:,.0f} MB/s)",
            f"pgcube / cp:               {results['ratio']:.2f}x (target ≤ {TARGET_RATIO:g}x)",
        ]
    )


def markdown(results: dict[str, Any]) -> str:
    mb = results["mb"]
    return "\n".join(
        [
            TITLE,
            "",
            f"Measured {results['when']} on {results['machine']}; {results['postgres']}. "
            "Rerun with `python -m bench.file_bench` (`make bench` runs it too).",
            "",
            "| what | seconds | MB/s | |",
            "|---|---:|---:|---|",
            f"| floor: `cp` of a {mb} MB file on the same disk | {results['cp_s']:.3f} | "
            f"{mb / results['cp_s']:,.0f} | 1x |",
            f"| pgcube: `POST /api/{{database_id}}/files` of the same file, streamed over HTTP into the "
            f"local store (sha256 and the file's row included) | {results['upload_s']:.3f} | "
            f"{mb / results['upload_s']:,.0f} | **{results['ratio']:.2f}x** (target ≤ {TARGET_RATIO:g}x) |",
            "",
            "Best of the rounds for each; the page cache is not dropped (both read a file just written).",
        ]
    )


def write_docs(results: dict[str, Any]) -> None:
    section = f"{BEGIN}\n{markdown(results)}\n{END}"
    text_ = DOC.read_text()
    begin, end = text_.find(BEGIN), text_.find(END)
    if 0 <= begin < end:
        text_ = text_[:begin] + section + text_[end + len(END) :]
    else:
        text_ = text_.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text_)


if __name__ == "__main__":
    sys.exit(main())

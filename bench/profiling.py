"""Profile pgcube's workers under a workload's load with py-spy (sampling, no code change).

``python -m bench --only get --profile get`` records the workers (``py-spy
record --subprocesses``) while wrk runs the workload, keeps the collapsed
stacks in bench/results/ (any flame-graph tool reads them), and returns a
Markdown summary: the share of samples per step of a request.

Steps are told apart by module path only — ``pgcube/auth/``, ``pgcube/db/``,
``asyncpg/``, ``litestar/`` … — never by function or file names inside a
package, so the summary keeps working while the modules under those paths are
rewritten.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from bench import servers, wrk

RESULTS = servers.REPO / "bench" / "results"

# A sample is charged to the innermost frame of pgcube's own code: the calls a step makes
# into libraries (asyncpg, PyJWT, msgspec, the standard library) count as that step's.
# Samples with no pgcube frame go to the innermost framework or driver frame. First match wins.
PGCUBE_STEPS = [
    ("authentication (pgcube/auth/)", ("pgcube/auth/",)),
    ("rate limit (pgcube/ratelimit/)", ("pgcube/ratelimit/",)),
    ("catalog (pgcube/management/)", ("pgcube/management/",)),
    ("compiler (pgcube/query/, pgcube/mutate/)", ("pgcube/query/", "pgcube/mutate/")),
    ("statements (pgcube/data/)", ("pgcube/data/",)),
    ("transaction, pool (pgcube/db/)", ("pgcube/db/",)),
    ("request decoding (pgcube/schemas/)", ("pgcube/schemas/",)),
    ("handlers, ops (pgcube/api/)", ("pgcube/api/",)),
    ("pgcube, other", ("pgcube/",)),
]
OUTSIDE_STEPS = [
    ("asyncpg, outside a pgcube call (protocol callbacks)", ("asyncpg/",)),
    ("Litestar (routing, DI, request, response)", ("litestar/",)),
    ("HTTP server (uvicorn, httptools, granian)", ("uvicorn/", "httptools/", "granian/")),
    ("event loop (asyncio, uvloop, anyio)", ("asyncio/", "uvloop/", "anyio/")),
]
OTHER = "other (interpreter, C)"

_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")
_STDLIB = re.compile(r"/python3\.\d+/")


def module_path(frame: str) -> str:
    """``function (/any/where/site-packages/asyncpg/pool.py:123)`` → ``asyncpg/pool.py``.

    The part of the path a module is imported by: after ``site-packages/`` (installed
    packages), ``src/`` (pgcube in a checkout) or the standard library's directory.
    """
    match = _FRAME.match(frame)
    path = (match.group("path") if match else frame).replace("\\", "/")
    for marker in ("site-packages/", "dist-packages/"):
        if marker in path:
            return path.rsplit(marker, 1)[1]
    if "/src/pgcube/" in path:
        return path.rsplit("/src/", 1)[1]
    stdlib = list(_STDLIB.finditer(path))
    if stdlib:
        return path[stdlib[-1].end() :]
    return path


def _match(path: str, steps: list[tuple[str, tuple[str, ...]]]) -> str | None:
    for step, prefixes in steps:
        if path.startswith(prefixes):
            return step
    return None


def step_of(frames: list[str]) -> str:
    """The step a sample's stack (outermost frame first) is charged to."""
    paths = [module_path(frame) for frame in frames]
    for path in reversed(paths):
        step = _match(path, PGCUBE_STEPS)
        if step:
            return step
    for path in reversed(paths):
        step = _match(path, OUTSIDE_STEPS)
        if step:
            return step
    return OTHER


def shares(collapsed: str) -> tuple[int, Counter[str]]:
    """(samples, samples per step) of py-spy's collapsed stacks (``frame;frame;... count``)."""
    samples = 0
    steps: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        steps[step_of(stack.split(";"))] += count
    return samples, steps


def summarize(collapsed: str, rate: int = 200) -> str:
    samples, steps = shares(collapsed)
    if not samples:
        return "(no samples)"
    lines = [
        f"py-spy, {samples:,} samples at {rate} Hz of both workers while wrk ran the workload; each "
        "sample is charged to the step of pgcube it was in, told by module path (the calls a step "
        "makes into asyncpg, PyJWT or msgspec count as that step's); samples outside pgcube's code "
        "go to the framework, the server or the driver.",
        "",
        "| step | share of the workers' time |",
        "|---|--:|",
    ]
    lines += [f"| {name} | {count / samples:.0%} |" for name, count in steps.most_common()]
    return "\n".join(lines)


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is missing: pip install -e '.[bench]'")
    return found


def profile_workload(
    pgcube: servers.Server, binary: str, fixture: Any, workload: Any, args: Any, work: Path
) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw = RESULTS / f"profile-{workload.name}.txt"
    seconds = max(3, round(args.seconds))
    rate = 200

    def load() -> None:
        wrk.run(
            binary,
            pgcube.url,
            fixture.ddo_path,
            fixture.headers_for(workload.caller),
            workload.encoded,
            connections=workload.connections,
            seconds=seconds + 2,
            work=work,
            name=f"{workload.name}-profile",
        )

    loader = threading.Thread(target=load)
    loader.start()
    argv = [_py_spy(), "record", "--pid", str(pgcube.process.pid), "--subprocesses", "--rate", str(rate),
            "--duration", str(seconds), "--nonblocking", "--format", "raw", "--output", str(raw)]  # fmt: skip
    try:
        subprocess.run(argv, check=True, capture_output=True)
    finally:
        loader.join()
    return (
        summarize(raw.read_text(), rate)
        + f"\n\nCollapsed stacks: `bench/results/{raw.name}` (not committed; any flame-graph tool reads them)."
    )

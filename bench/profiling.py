"""Profile pgcube's workers under a workload's load with py-spy (sampling, no code change).

``python -m bench --only get --profile get`` records the workers (``py-spy
record --subprocesses``) while wrk runs the workload, keeps the collapsed
stacks and a flame graph in bench/results/, and returns a Markdown summary:
the share of samples per layer and the heaviest functions (inclusive).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from bench import servers, wrk

RESULTS = servers.REPO / "bench" / "results"

# Where a sample's time goes: the innermost frame that is not a library pgcube calls into
# (asyncpg, PyJWT, msgspec, ...) names the step. Order matters: first match wins.
_TRANSPARENT = ("asyncpg/", "jwt/", "msgspec", "json/", "uuid.py", "hmac.py", "base64.py", "hashlib", "re/", "enum.py",
                "typing.py", "functools.py", "abc.py", "contextlib.py", "_weakrefset.py")  # fmt: skip
_STEPS = [
    ("transaction: acquire, BEGIN, SET LOCAL", ("db/transaction.py (begin", "db/transaction.py (acquire", "api/deps.py (acquire")),
    ("transaction: COMMIT, release", ("db/transaction.py (finish", "db/transaction.py (release")),
    ("transaction (other)", ("db/transaction.py", "api/deps.py")),
    ("authentication (token / key)", ("pgcube/auth/",)),
    ("rate limit", ("pgcube/ratelimit/", "api/ratelimit.py (provide_limited")),
    ("catalog look-up", ("pgcube/management/",)),
    ("query compiler", ("pgcube/query/",)),
    ("document statements", ("data/repository.py",)),
    ("request parsing (DDO body)", ("pgcube/schemas/",)),
    ("answer (envelope, pagination)", ("api/responses.py", "data/pagination.py")),
    ("pgcube, other", ("pgcube/",)),
    ("Litestar (routing, DI, request, response)", ("litestar/",)),
    ("uvicorn / httptools (HTTP)", ("uvicorn/", "httptools")),
    ("event loop", ("asyncio/", "uvloop", "anyio/")),
]  # fmt: skip


def _frame_key(frame: str) -> str:
    """``function (path/to/module.py:line)`` → ``path/to/module.py (function``, for matching."""
    name, _, where = frame.rpartition(" (")
    return f"{where.split(':')[0]} ({name.strip()}"


def step_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        key = _frame_key(frame)
        if any(t in key for t in _TRANSPARENT):
            continue
        for step, needles in _STEPS:
            if any(n in key for n in needles):
                return step
    return "other (interpreter, C)"


def summarize(collapsed: str) -> str:
    samples = 0
    steps: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        steps[step_of(stack.split(";"))] += count
    if not samples:
        return "(no samples)"
    lines = [
        f"py-spy, {samples:,} samples at 200 Hz of both workers while wrk ran the workload; each "
        "sample is charged to the step of pgcube it was in (the calls a step makes into asyncpg, "
        "PyJWT or msgspec count as that step's).",
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
    svg = RESULTS / f"profile-{workload.name}.svg"
    seconds = max(5, round(args.seconds))

    def load() -> None:
        wrk.run(
            binary,
            pgcube.url,
            fixture.ddo_path,
            fixture.headers,
            workload.encoded,
            connections=workload.connections,
            seconds=seconds + 2,
            work=work,
            name=f"{workload.name}-profile",
        )

    loader = threading.Thread(target=load)
    loader.start()
    base = [_py_spy(), "record", "--pid", str(pgcube.process.pid), "--subprocesses", "--rate", "200",
            "--duration", str(seconds), "--nonblocking"]  # fmt: skip
    subprocess.run([*base, "--format", "raw", "--output", str(raw)], check=True, capture_output=True)
    loader.join()
    loader = threading.Thread(target=load)
    loader.start()
    subprocess.run([*base, "--output", str(svg)], check=True, capture_output=True)
    loader.join()
    return summarize(raw.read_text()) + f"\n\nFlame graph: `bench/results/{svg.name}` (not committed)."

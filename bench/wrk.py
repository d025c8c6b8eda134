"""HTTP load with wrk (a compiled load generator), driven by a generated Lua script.

The script holds the request bodies of a workload (one, or many variants
such as random keys); each request picks one at random. Its ``done`` hook
prints the summary as one JSON line. The CPU wrk itself used is read from
the kernel (``wait4``), so the report can show the load generator was not
the bottleneck.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec

THREADS = 1
"""One wrk thread (an event loop in C) drives every connection: on 2 cores it
needs a fraction of one, which the report shows per run."""

_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\n{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing it from Debian's packages (apt-get install wrk)", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("wrk")
    if not found:
        raise SystemExit(
            "The benchmarks need wrk (a compiled HTTP load generator). Install it, e.g. "
            "`sudo apt-get install wrk` on Debian/Ubuntu or `brew install wrk` on macOS, and rerun."
        )
    return found


def _lua_string(text: str) -> str:
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def script(path: str, headers: dict[str, str], bodies: list[bytes]) -> str:
    lines = [
        f"local path = {_lua_string(path)}",
        "local headers = {",
        *(f"  [ {_lua_string(k)} ] = {_lua_string(v)}," for k, v in headers.items()),
        "}",
        "local bodies = {",
        *(f"  {_lua_string(body.decode())}," for body in bodies),
        "}",
        "local requests = {}",
        "local counter = 0",
        "setup = function(thread) counter = counter + 1; thread:set('id', counter) end",
        "init = function(args)",
        "  math.randomseed(1000003 * (id or 1) + 17)",
        "  for i, body in ipairs(bodies) do requests[i] = wrk.format('POST', path, headers, body) end",
        "end",
        "request = function() return requests[math.random(#requests)] end",
        _DONE,
    ]
    return "\n".join(lines)


class WrkResult(msgspec.Struct, kw_only=True):
    requests: int
    duration_us: int
    bytes: int
    p50_us: int
    p90_us: int
    p99_us: int
    mean_us: float
    max_us: int
    errors: dict[str, int]
    cpu_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return self.duration_us / 1e6

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.duration_us else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def run(
    wrk: str,
    url: str,
    path: str,
    headers: dict[str, str],
    bodies: list[bytes],
    *,
    connections: int,
    seconds: float,
    work: Path,
    name: str,
) -> WrkResult:
    lua = work / f"{name}.lua"
    lua.write_text(script(path, headers, bodies))
    argv = [
        wrk,
        f"-t{min(THREADS, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(lua),
        url + path,
    ]
    errors = work / f"{name}.stderr"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr)
        assert process.stdout is not None
        out = process.stdout.read()
        # wait4, not wait: the kernel's account of the CPU wrk used.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {errors.read_text(errors='replace')}")
    last = out.decode().strip().splitlines()[-1]
    result = msgspec.json.decode(last, type=WrkResult)
    result.cpu_seconds = usage.ru_utime + usage.ru_stime
    return result


def summary(result: WrkResult) -> dict[str, Any]:
    return msgspec.to_builtins(result)

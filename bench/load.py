"""HTTP load with wrk: a fixed number of clients (connections) sending requests back to back, as fast as the
server answers, for a time or a number of responses; latency percentiles from wrk's own histogram.

wrk is a C program on an event loop: one thread drives 200 connections at a few per cent of a core, so the
load tool does not take the CPU it is measuring (each result reports the CPU wrk used). `scripts/ensure-wrk.sh`
installs Debian's package when it is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import system

SCRIPT = Path(__file__).with_name("load.lua")
RESULT_PREFIX = "BENCH_RESULT "
DONE_MARKER = "BENCH_DONE"


@dataclass(frozen=True)
class Request:
    """One request of a load: path with its query, headers, an optional JSON body."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    # A new Idempotency-Key each time it is sent (a publishing POST that must publish every time).
    fresh_idempotency_key: bool = False


@dataclass(frozen=True)
class LoadResult:
    """What one wrk run measured; latencies in milliseconds."""

    label: str
    clients: int
    seconds: float
    requests: int
    requests_per_second: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    errors: dict[str, int]
    load_tool_cpu_seconds: float
    server_cpu_ms_per_request: float | None = None

    @property
    def failed(self) -> int:
        """Requests that got no answer or an answer outside 2xx/3xx."""
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def combined(windows: Sequence[LoadResult]) -> LoadResult:
    """Several windows of one load as one: requests, seconds, errors and the load tool's CPU add up; the rate is
    the total over the total time; the server's CPU a request is weighted by requests; each latency percentile is
    the windows' median (wrk reports percentiles, not the latencies themselves)."""
    requests = sum(w.requests for w in windows)
    seconds = sum(w.seconds for w in windows)
    errors: dict[str, int] = {}
    for window in windows:
        for kind, count in window.errors.items():
            errors[kind] = errors.get(kind, 0) + count
    cpu = [(w.server_cpu_ms_per_request, w.requests) for w in windows if w.server_cpu_ms_per_request is not None]

    return LoadResult(
        label=windows[0].label,
        clients=windows[0].clients,
        seconds=round(seconds, 3),
        requests=requests,
        requests_per_second=round(requests / seconds, 1) if seconds else 0.0,
        p50_ms=statistics.median([w.p50_ms for w in windows]),
        p75_ms=statistics.median([w.p75_ms for w in windows]),
        p90_ms=statistics.median([w.p90_ms for w in windows]),
        p99_ms=statistics.median([w.p99_ms for w in windows]),
        p999_ms=statistics.median([w.p999_ms for w in windows]),
        max_ms=max(w.max_ms for w in windows),
        mean_ms=round(sum(w.mean_ms * w.requests for w in windows) / requests, 3) if requests else 0.0,
        errors=errors,
        load_tool_cpu_seconds=round(sum(w.load_tool_cpu_seconds for w in windows), 2),
        server_cpu_ms_per_request=(
            round(sum(c * n for c, n in cpu) / sum(n for _, n in cpu), 3) if cpu and sum(n for _, n in cpu) else None
        ),
    )


def wrk_binary() -> str:
    found = os.environ.get("WRK_BINARY") or shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: run scripts/ensure-wrk.sh (make bench does)")
    return found


def _lua_string(value: str) -> str:
    level = "=" * 4
    if f"]{level}]" in value:
        raise ValueError("a request contains the Lua long-string terminator")
    return f"[{level}[{value}]{level}]"


def _lua_requests(requests: Sequence[Request]) -> str:
    lines = ["return {"]
    for r in requests:
        headers = dict(r.headers)
        body = None
        if r.body is not None:
            body = json.dumps(r.body, ensure_ascii=False)
            headers.setdefault("Content-Type", "application/json")
        header_items = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items())
        lines.append(
            f"  {{method = {_lua_string(r.method)}, path = {_lua_string(r.path)}, headers = {{{header_items}}}, "
            f"body = {_lua_string(body) if body is not None else 'nil'}, "
            f"fresh_key = {'true' if r.fresh_idempotency_key else 'false'}}},"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _run_wrk(command: list[str], env: dict[str, str]) -> tuple[list[str], int]:
    """Run wrk; when the script says it has its responses, interrupt it (it then reports at once)."""
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        output = []
        for line in process.stdout:
            output.append(line.rstrip("\n"))
            if line.startswith(DONE_MARKER):
                process.send_signal(signal.SIGINT)
        return output, process.wait()


def run_load(
    base_url: str,
    requests: Sequence[Request],
    *,
    clients: int,
    seconds: float,
    label: str,
    max_responses: int | None = None,
    server_pid: int | None = None,
    timeout_seconds: float = 30.0,
) -> LoadResult:
    """Send `requests` in turn from `clients` connections for `seconds` (or until `max_responses` answers).

    Blocking: call it through `asyncio.to_thread` from async code. With `server_pid`, the server's CPU time
    over the run is reported per request.
    """
    if not requests:
        raise ValueError("no request to send")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        data = Path(tmp) / "requests.lua"
        data.write_text(_lua_requests(requests))
        env = {
            **os.environ,
            "BENCH_REQUESTS": str(data),
            "BENCH_RUN": secrets.token_hex(4),
            "BENCH_MAX_RESPONSES": str(max_responses or 0),
        }
        # One thread: it keeps up with hundreds of connections at these rates, and a second thread would
        # only take CPU from the servers being measured.
        command = [
            wrk_binary(),
            "-t1",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={round(timeout_seconds)}s",
            "-s",
            str(SCRIPT),
            base_url,
        ]
        server_cpu_before = system.cpu_seconds(server_pid) if server_pid else 0.0
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        output, returncode = _run_wrk(command, env)
        usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = system.cpu_seconds(server_pid) - server_cpu_before if server_pid else None
    lines = [line for line in output if line.startswith(RESULT_PREFIX)]
    if returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({returncode}): " + "\n".join(output))
    raw = json.loads(lines[-1][len(RESULT_PREFIX) :])
    latency = raw["latency_us"]
    duration = raw["duration_us"] / 1e6
    count = int(raw["requests"])
    tool_cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
    return LoadResult(
        label=label,
        clients=clients,
        seconds=round(duration, 2),
        requests=count,
        requests_per_second=round(count / duration, 1) if duration else 0.0,
        p50_ms=latency["50"] / 1000,
        p75_ms=latency["75"] / 1000,
        p90_ms=latency["90"] / 1000,
        p99_ms=latency["99"] / 1000,
        p999_ms=latency["99.9"] / 1000,
        max_ms=latency["max"] / 1000,
        mean_ms=round(latency["mean"] / 1000, 2),
        errors={k: int(v) for k, v in raw["errors"].items() if v},
        load_tool_cpu_seconds=round(tool_cpu, 2),
        server_cpu_ms_per_request=round(server_cpu * 1000 / count, 2) if server_cpu is not None and count else None,
    )


async def measure(
    base_url: str,
    requests: Sequence[Request],
    *,
    clients: int,
    seconds: float,
    warmup_seconds: float,
    label: str,
    server_pid: int | None = None,
) -> LoadResult:
    """A warm-up run (connections opened, pools filled, caches warm; its figures dropped), then the measured one."""
    if warmup_seconds > 0:
        await asyncio.to_thread(
            run_load, base_url, requests, clients=clients, seconds=warmup_seconds, label=f"{label} (warm-up)"
        )
    return await asyncio.to_thread(
        run_load, base_url, requests, clients=clients, seconds=seconds, label=label, server_pid=server_pid
    )

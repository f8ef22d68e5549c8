"""`make bench-profile`: where the API process spends its CPU under goal 1's load, sampled by py-spy.

The stack is started as for `make bench`, the 100 accounts connected, and wrk sends GET /account/info from 50
clients with the sandbox answering in 100 ms (`--clients 200 --upstream 0.5`: goal 2's load; `--load accounts`:
GET /accounts of a user with 5 accounts, goal 3's load; `--load bare-accounts`: the same load on goal 3's reference,
bench/bare_accounts.py, to compare the two profiles) while `py-spy record` samples the API process. It writes
py-spy's raw profile (collapsed stacks: open it in speedscope or flamegraph.pl) and prints two summaries, also
written beside it: the functions the CPU was in (self time) and the libraries on the stack (inclusive: a sample
counts for every library it passes through).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.db_reads import accounts_requests, serve_bare_app
from bench.harness import bench_stack, connect_accounts, set_latency
from bench.load import Request, run_load
from bench.overhead import service_requests
from bench.report import RESULTS_DIR

# Inclusive areas: a sample counts for an area when one of its frames is in one of the files (path prefixes)
# and, when functions are named, in one of those functions.
AREAS: list[tuple[str, tuple[str, ...], frozenset[str] | None]] = [
    ("httpx + httpcore (the Instagram client)", ("httpx/", "httpcore/"), None),
    (
        "  of which httpcore's pool bookkeeping",
        ("httpcore/",),
        frozenset({"_assign_requests_to_connections", "is_idle", "has_expired", "is_socket_readable", "is_available"}),
    ),
    ("SQLAlchemy", ("sqlalchemy/",), None),
    ("asyncpg", ("asyncpg/",), None),
    ("  the pool's pre-ping (BEGIN, ping, ROLLBACK)", ("sqlalchemy/",), frozenset({"_async_ping", "do_ping"})),
    ("  new PostgreSQL connections", ("asyncpg/",), frozenset({"connect", "_connect", "_create_ssl_connection"})),
    ("pydantic", ("pydantic/", "pydantic_core/"), None),
    ("FastAPI + Starlette", ("fastapi/", "starlette/"), None),
    ("  of which dependency solving", ("fastapi/",), frozenset({"solve_dependencies"})),
    ("uvicorn", ("uvicorn/",), None),
    (
        "threadpool hops (plain def dependencies)",
        ("anyio/", "starlette/"),
        frozenset({"run_sync_in_worker_thread", "run_in_threadpool", "run_sync"}),
    ),
    ("logging", ("logging/", "app/observability/logging"), None),
    ("prometheus_client", ("prometheus_client/",), None),
    ("python-jose (JWT)", ("jose/",), None),
    ("cryptography (token decryption)", ("cryptography/",), None),
    ("asyncio itself", ("asyncio/",), None),
    ("app/ (our code, inclusive)", ("app/",), None),
]
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]+)(?::\d+)?\)$")


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for raw in stack.split(";"):
        match = _FRAME.match(raw.strip())
        frames.append((match["function"], match["file"]) if match else (raw.strip(), ""))
    return frames


def _matches(frame: tuple[str, str], prefixes: tuple[str, ...], functions: frozenset[str] | None) -> bool:
    function, file = frame
    if not any(file.startswith(p) or f"/{p}" in file for p in prefixes):
        return False
    return functions is None or function.rsplit(".", 1)[-1] in functions


def summarise(raw_profile: Path, top: int = 25) -> str:
    """Self time by function and inclusive time by library, as shares of the samples."""
    self_time: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in raw_profile.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = _frames(stack)
        function, file = frames[-1]
        self_time[f"{function} ({file})"] += count
        for area, prefixes, functions in AREAS:
            if any(_matches(frame, prefixes, functions) for frame in frames):
                areas[area] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "self time (the function the CPU was in):"]
    lines += [f"  {n / total * 100:5.1f} %  {name}" for name, n in self_time.most_common(top)]
    lines += ["", "inclusive time by library (a sample counts for each library on its stack):"]
    lines += [f"  {areas[name] / total * 100:5.1f} %  {name}" for name, _, _ in AREAS]
    return "\n".join(lines)


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: make install brings it (pip install py-spy)")
    return found


async def profile(load: str, seconds: int, rate: int, clients: int = 50, upstream: float = 0.1) -> Path:
    output = RESULTS_DIR / f"profile-api-{load}.txt"
    async with bench_stack(("sandbox", "api"), logs=RESULTS_DIR / "profile-logs") as stack:
        requests: list[Request]
        if load == "account-info":
            accounts = await connect_accounts(stack, "bench", "bench", 100)
            await set_latency(stack, {"user": upstream})
            requests = service_requests("bench", accounts)
        else:
            # Goal 3's caller: a user with 5 accounts (not 100: the answer's size would hide the per-request cost).
            await connect_accounts(stack, "bench-reads", "reads", 5)
            requests = accounts_requests("bench-reads")
        bare = None
        url, pid = stack.api_url, stack.pid("api")
        if load == "bare-accounts":
            bare, url = await serve_bare_app(stack)
            pid = bare.pid
        try:
            await asyncio.to_thread(run_load, url, requests, clients=clients, seconds=2, label="warm-up")
            command = [_py_spy(), "record", "--pid", str(pid), "--rate", str(rate)]
            # --gil: only the thread holding the GIL, i.e. where Python spends CPU (idle threads would dilute it).
            command += ["--duration", str(seconds), "--format", "raw", "--output", str(output), "--gil"]
            sampler = await asyncio.create_subprocess_exec(
                *command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            load_result = await asyncio.to_thread(
                run_load, url, requests, clients=clients, seconds=seconds + 2, label=load
            )
            await sampler.wait()
        finally:
            if bare is not None:
                bare.kill()
                bare.wait(timeout=10)
    print(f"{load}: {load_result.requests_per_second:,.0f} req/s, p50 {load_result.p50_ms:.0f} ms")
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--load", choices=("account-info", "accounts", "bare-accounts"), default="account-info")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    # Goal 2's load: --clients 200 --upstream 0.5
    parser.add_argument("--clients", type=int, default=50, help="wrk's clients (default: goal 1's 50)")
    parser.add_argument("--upstream", type=float, default=0.1, help="the sandbox's profile latency, seconds")
    args = parser.parse_args()
    output = asyncio.run(profile(args.load, args.seconds, args.rate, args.clients, args.upstream))
    summary = summarise(output)
    output.with_name(output.stem + "-summary.txt").write_text(summary + "\n")
    print(summary)
    print(f"\nraw profile (collapsed stacks): {output}")


if __name__ == "__main__":
    main()

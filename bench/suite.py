"""`make bench`: every goal of issue 8, each figure beside its reference measured in the same run.

One set of real processes (the sandbox alone, the API under uvicorn, the arq worker) on a fresh PostgreSQL
database and a Redis database of its own, in live mode against the sandbox as against Instagram, with the
settings a deployment gets by default. In order (each goal leaves the sandbox as it found it):

  5  insights refresh of 10,000 posts on 100 accounts (first: the only published posts are its own)
  4  POST /batch-post to the 100 accounts, then the seed's example 2 loop on the same accounts
  1  GET /account/info at 50 clients, upstream 100 ms: the service, and the same Graph call made directly
  2  the same at 200 clients, upstream 0.5 s
  3  GET /accounts (5 accounts) against a bare FastAPI + asyncpg app; then the embedded default (SQLite)
  6  the API and the worker restarted: memory at start and after 10,000 mixed requests

It prints one table (also a Markdown table for the README) and writes var/bench/bench-<time>.json and
var/bench/latest.json with every figure wrk reported. Logs of the processes: var/bench/logs/.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from bench import system
from bench.batch_post import batch_against_loop, batch_rows
from bench.db_reads import postgres_reads, postgres_rows, sqlite_reads, sqlite_rows
from bench.harness import bench_stack, connect_accounts
from bench.insights_refresh import refresh, refresh_rows, seed_published_posts
from bench.memory import memory_rows, mixed_load_memory
from bench.overhead import account_info, concurrency_rows, overhead_rows
from bench.report import RESULTS_DIR, Row, render, write_json

T = TypeVar("T")
GOALS = ("1", "2", "3", "4", "5", "6")
# Goal 2's window, in upstream latencies: wrk counts the requests answered inside the window, so each client's
# last request, cut off at the end, is lost. With 0.5 s requests a 10 s window holds 20 per client and the cut
# costs up to 5 % of the figure, for the service and the direct calls alike; 40 halves that.
GOAL2_REQUESTS_PER_CLIENT = 40


@dataclass(frozen=True)
class Plan:
    seconds: float = 10.0  # each measured load window
    warmup_seconds: float = 1.0
    accounts: int = 100  # goals 1, 2, 4, 5
    posts_per_account: int = 100  # goal 5
    mixed_requests: int = 10_000  # goal 6
    goals: tuple[str, ...] = GOALS


def _say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


async def _step(name: str, work: Callable[[], Awaitable[T]]) -> T:
    _say(f"{name}…")
    started = time.perf_counter()
    result = await work()
    _say(f"{name}: {time.perf_counter() - started:.1f} s")
    return result


async def run_suite(plan: Plan) -> tuple[list[Row], dict[str, Any]]:
    """Run the chosen goals; their rows in goal order, and what else the JSON should keep."""
    rows: dict[str, list[Row]] = {}
    details: dict[str, Any] = {"plan": plan.__dict__}
    wanted = set(plan.goals)
    async with bench_stack(logs=RESULTS_DIR / "logs") as stack:
        main = await _step(
            f"connecting {plan.accounts} accounts", lambda: connect_accounts(stack, "bench", "bench", plan.accounts)
        )
        if "5" in wanted:
            posts = await _step(
                f"seeding {plan.accounts * plan.posts_per_account:,} published posts",
                lambda: seed_published_posts(stack, "bench", main, plan.posts_per_account),
            )
            result5 = await _step("goal 5: insights refresh", lambda: refresh(stack, posts, len(main)))
            rows["5"] = refresh_rows(result5)
        if "4" in wanted:
            result4 = await _step(
                "goal 4: batch post and the seed's loop", lambda: batch_against_loop(stack, "bench", main)
            )
            rows["4"] = batch_rows(result4)
        if "1" in wanted:
            result1 = await _step(
                "goal 1: overhead at 50 clients",
                lambda: account_info(
                    stack, "bench", main, clients=50, upstream_seconds=0.1,
                    seconds=plan.seconds, warmup_seconds=plan.warmup_seconds,
                ),
            )  # fmt: skip
            rows["1"] = overhead_rows(result1, 0.1)
        if "2" in wanted:
            result2 = await _step(
                "goal 2: concurrency at 200 clients",
                lambda: account_info(
                    stack, "bench", main, clients=200, upstream_seconds=0.5,
                    seconds=max(plan.seconds, GOAL2_REQUESTS_PER_CLIENT * 0.5), warmup_seconds=plan.warmup_seconds,
                ),
            )  # fmt: skip
            rows["2"] = concurrency_rows(result2, 0.5)
        if "3" in wanted:
            await _step("connecting 5 accounts for reads", lambda: connect_accounts(stack, "bench-reads", "reads", 5))
            result3 = await _step(
                "goal 3: GET /accounts against the bare app",
                lambda: postgres_reads(
                    stack, "bench-reads", clients=50, seconds=plan.seconds, warmup_seconds=plan.warmup_seconds
                ),
            )
            rows["3"] = postgres_rows(result3)
        if "6" in wanted:
            mixed = await _step(
                "connecting 10 accounts for the mix", lambda: connect_accounts(stack, "bench-mixed", "mixed", 10)
            )
            result6 = await _step(
                f"goal 6: memory, {plan.mixed_requests:,} mixed requests",
                lambda: mixed_load_memory(stack, "bench-mixed", mixed, count=plan.mixed_requests),
            )
            rows["6"] = memory_rows(result6)
        if "3" in wanted:
            lite = await _step(
                "goal 3: embedded SQLite",
                lambda: sqlite_reads(
                    stack, "bench-reads", clients=50, seconds=plan.seconds, warmup_seconds=plan.warmup_seconds
                ),
            )
            rows["3"] += sqlite_rows(lite)
    return [row for goal in GOALS for row in rows.get(goal, [])], details


def _load_tool_share(rows: list[Row]) -> str | None:
    """How much CPU wrk took over the measured windows (it must not eat what it measures)."""
    cpu = spent = 0.0
    for row in rows:
        for value in row.values.values():
            if isinstance(value, dict) and "load_tool_cpu_seconds" in value:
                cpu += value["load_tool_cpu_seconds"]
                spent += value["seconds"]
    return (
        f"wrk used {cpu:.1f} s of CPU over {spent:.0f} s of load ({cpu / spent * 100:.1f} % of one core)"
        if spent
        else None
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--goals", default=",".join(GOALS), help="which goals to run, e.g. 1,2 (default: all)")
    parser.add_argument("--seconds", type=float, default=Plan.seconds, help="each measured load window")
    parser.add_argument("--warmup", type=float, default=Plan.warmup_seconds, help="warm-up before each window")
    parser.add_argument("--mixed-requests", type=int, default=Plan.mixed_requests, help="goal 6's request count")
    args = parser.parse_args()
    goals = tuple(g.strip() for g in args.goals.split(",") if g.strip())
    unknown = set(goals) - set(GOALS)
    if unknown:
        parser.error(f"unknown goals: {', '.join(sorted(unknown))}")
    plan = Plan(seconds=args.seconds, warmup_seconds=args.warmup, mixed_requests=args.mixed_requests, goals=goals)
    started = datetime.now(UTC)
    load_before = system.load_average()
    clock = time.perf_counter()
    rows, details = asyncio.run(run_suite(plan))
    elapsed = time.perf_counter() - clock
    path = write_json(rows, details, started, load_before)
    print(render(rows))
    load_after = system.load_average()
    print(
        f"\n{sum(1 for r in rows if r.met)}/{sum(1 for r in rows if r.met is not None)} goals met in {elapsed:.0f} s "
        f"on {system.cores()} cores; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    share = _load_tool_share(rows)
    if share:
        print(share)
    print(f"figures: {path}")


if __name__ == "__main__":
    main()

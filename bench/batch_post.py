"""Goal 4: POST /batch-post to 100 accounts against the seed's example 2 loop, both measured in the same run.

The sandbox answers each `media_publish` in 0.8 s. The service publishes the batch (one request); then the
seed's loop (bench/seed_loop.py) posts the same content to the same accounts one after another with a plain
synchronous client. Exactly once is checked against the sandbox's own published list, and the batch's answer
must tell every account's outcome. `python -m bench.batch_post` runs it alone; `make bench` runs it with the
other goals.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.harness import API, IMAGE_URL, Connected, bearer, bench_stack, connect_accounts, set_latency
from bench.report import Row, render, seconds
from bench.seed_loop import LoopResult, run_seed_loop
from bench.system import cpu_seconds, load_average
from tests.worker.stack import Stack

SPEED_UP = 40.0
CAPTION = "Benchmark launch"
HASHTAGS = ["bench"]


@dataclass(frozen=True)
class BatchResult:
    accounts: int
    seconds: float
    status_code: int
    answer: list[dict[str, Any]]
    published_once: int  # accounts the sandbox shows exactly one publish for, after the batch
    loop: LoopResult
    loop_published: int  # accounts with exactly two publishes after the loop (the batch's and the loop's)
    api_cpu_seconds: float  # CPU the API process used while it served the batch (its one process)
    load: float  # the machine's 1-minute load average right after the batch (other work competes for the cores)

    @property
    def outcomes(self) -> int:
        """Accounts whose outcome the answer tells (published with its id, or an error)."""
        return sum(1 for r in self.answer if r.get("post_id") or r.get("error"))

    @property
    def succeeded(self) -> int:
        return sum(1 for r in self.answer if r.get("status") == "success")


async def _published_per_user(stack: Stack) -> dict[str, int]:
    async with stack.sandbox() as sandbox:
        per_user: dict[str, int] = (await sandbox.get("/control/published")).json()["per_user"]
    return per_user


async def batch_against_loop(
    stack: Stack, sub: str, accounts: list[Connected], *, publish_seconds: float = 0.8
) -> BatchResult:
    """The service's batch, then the seed's loop, on the same accounts with the same sandbox latency."""
    usernames = [a.username for a in accounts]
    before = await _published_per_user(stack)
    await set_latency(stack, {"media_publish": publish_seconds})
    try:
        body = {"image_url": IMAGE_URL, "caption": CAPTION, "hashtags": HASHTAGS}
        async with stack.api() as api:
            cpu_before = cpu_seconds(stack.pid("api"))
            started = time.perf_counter()
            response = await api.post(
                f"{API}/batch-post",
                headers={**bearer(sub), "Idempotency-Key": str(uuid.uuid4())},
                json=body,
                timeout=600,
            )
            elapsed = time.perf_counter() - started
            api_cpu = cpu_seconds(stack.pid("api")) - cpu_before
            load = load_average()[0]
        after_batch = await _published_per_user(stack)
        graph_url = f"{stack.sandbox_url}/sandbox/graph/v25.0"
        loop = await asyncio.to_thread(run_seed_loop, graph_url, accounts, IMAGE_URL, CAPTION, HASHTAGS)
        after_loop = await _published_per_user(stack)
    finally:
        await set_latency(stack, {})
    answer = response.json()
    return BatchResult(
        accounts=len(accounts),
        seconds=elapsed,
        status_code=response.status_code,
        answer=answer if isinstance(answer, list) else [],
        published_once=sum(1 for u in usernames if after_batch.get(u, 0) - before.get(u, 0) == 1),
        loop=loop,
        loop_published=sum(1 for u in usernames if after_loop.get(u, 0) - before.get(u, 0) == 2),
        api_cpu_seconds=api_cpu,
        load=load,
    )


def batch_rows(result: BatchResult, publish_seconds: float = 0.8) -> list[Row]:
    speed_up = result.loop.seconds / result.seconds
    n = result.accounts
    all_published = result.status_code == 207 and result.succeeded == n and result.loop.succeeded == n
    exactly_once = result.published_once == n and result.outcomes == n and len(result.answer) == n
    cpu_per_post_ms = result.api_cpu_seconds / max(1, n) * 1000
    return [
        Row(
            goal="4 batch",
            what=f"POST /batch-post, {n} accounts, media_publish {publish_seconds:.1f} s",
            # The API's CPU per post tells the work from the waiting for the cores (the load average beside it).
            figure=f"{seconds(result.seconds)} (API CPU {cpu_per_post_ms:.0f} ms/post, load {result.load:.1f})",
            reference=f"seed's loop {seconds(result.loop.seconds)}",
            ratio=f"{speed_up:.1f}x faster",
            target=f"≥ {SPEED_UP:.0f}x",
            met=speed_up >= SPEED_UP and all_published,
            values={
                "batch_seconds": round(result.seconds, 3),
                "loop_seconds": round(result.loop.seconds, 3),
                "http_status": result.status_code,
                "batch_succeeded": result.succeeded,
                "loop_succeeded": result.loop.succeeded,
                "api_cpu_ms_per_post": round(cpu_per_post_ms, 1),
                "load_average": round(result.load, 2),
            },
        ),
        Row(
            goal="4 batch",
            what="exactly once (sandbox's published list), every outcome answered",
            figure=f"{result.published_once}/{n} once, {result.outcomes}/{n} outcomes",
            reference=f"loop: {result.loop_published}/{n} published",
            ratio="",
            target=f"{n}/{n} and {n}/{n}",
            met=exactly_once,
            values={"published_once": result.published_once, "outcomes": result.outcomes},
        ),
    ]


async def main_async(accounts: int, publish_seconds: float) -> None:
    async with bench_stack(("sandbox", "api")) as stack:
        connected = await connect_accounts(stack, "bench-batch", "bench_batch", accounts)
        result = await batch_against_loop(stack, "bench-batch", connected, publish_seconds=publish_seconds)
    print(render(batch_rows(result, publish_seconds)))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--publish-latency", type=float, default=0.8)
    args = parser.parse_args()
    asyncio.run(main_async(args.accounts, args.publish_latency))


if __name__ == "__main__":
    main()

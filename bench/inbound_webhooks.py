"""Benchmark: 1,000 signed Instagram webhook deliveries in 10 s on loopback, the worker SIGKILLed midway.

Runs the real processes (the sandbox alone, the API under uvicorn, the arq worker; PostgreSQL and Redis) with the
production defaults (arq's job timeout is 900 s there, so a killed job is recovered by the inbound sweeper, not by
arq). Two web-app users connect the same Instagram account through the OAuth flow; 1,000 deliveries of one
comment each are POSTed at a steady 100 per second, open loop (each at its time, whether or not the previous
ones were answered), signed with the app secret. Halfway, the worker is SIGKILLed and started again.

Measures: every answer's status and latency (targets: all 200, p99 under 100 ms), then how long until every
delivery is processed, and whether any comment or event is missing or doubled (each delivery must give one
comment and one `comment.created` per user: 2,000 of each). `make bench-inbound` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.inbound.verification import signature_of
from bench.harness import bench_stack
from tests.worker.stack import API, APP_SECRET, Stack

TARGET_P99_SECONDS = 0.100
USERS = ("alice", "bob")


@dataclass
class Answer:
    status: int | None
    seconds: float


def delivery(ig_user_id: str, n: int) -> bytes:
    value = {
        "from": {"id": str(10**15 + n), "username": f"fan_{n}"},
        "media": {"id": "17900000000000001", "media_product_type": "FEED"},
        "id": str(18_000_000_000_000_000 + n),
        "text": f"Comment number {n} 🔥",
    }
    entry = {"id": ig_user_id, "time": int(time.time()), "changes": [{"field": "comments", "value": value}]}
    return json.dumps({"object": "instagram", "entry": [entry]}, separators=(",", ":")).encode()


async def _send(client: httpx.AsyncClient, body: bytes, at: float) -> Answer:
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    started = time.perf_counter()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature_of(APP_SECRET, body)}
    try:
        response = await client.post(f"{API}/webhooks/instagram", content=body, headers=headers)
        status: int | None = response.status_code
    except httpx.HTTPError:
        status = None
    return Answer(status, time.perf_counter() - started)


ROUTE = f"{API}/webhooks/instagram"


async def _server_buckets(client: httpx.AsyncClient) -> dict[float, float]:
    """The API's own latency histogram of the webhook route (`/metrics`): cumulative count per upper bound."""
    text_ = (await client.get("/metrics")).text
    buckets: dict[float, float] = {}
    for line in text_.splitlines():
        if line.startswith("http_request_duration_seconds_bucket{") and f'route="{ROUTE}"' in line:
            if 'method="POST"' not in line:
                continue
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] = float(line.rsplit(" ", 1)[1])
    return buckets


def _bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The smallest histogram bound under which a fraction `q` of this run's answers fell."""
    counts = {bound: after.get(bound, 0.0) - before.get(bound, 0.0) for bound in after}
    total = counts.get(float("inf"), 0.0)
    for bound in sorted(counts):
        if total and counts[bound] >= q * total:
            return bound
    return float("inf")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115 - one read
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _kill_and_restart(stack: Stack, at: float) -> float:
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    stack.kill("worker")
    killed = time.perf_counter()
    await asyncio.sleep(1.0)
    await stack.restart("worker")
    return killed


async def _counts(database_url: str) -> dict[str, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT (SELECT count(*) FROM inbound_deliveries), "
                        "(SELECT count(*) FROM inbound_deliveries WHERE status = 'processed'), "
                        "(SELECT count(*) FROM comments), "
                        "(SELECT count(DISTINCT (account_id, ig_comment_id)) FROM comments), "
                        "(SELECT count(*) FROM events WHERE type = 'comment.created')"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    return dict(zip(("stored", "processed", "comments", "distinct_comments", "events"), map(int, row), strict=True))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(deliveries: int, seconds: float, kill: bool) -> dict[str, float]:
    overrides = {"LOG_LEVEL": "WARNING"}
    async with bench_stack(overrides=overrides) as stack:
        accounts = [await stack.connect("bench_inbound", sub=user) for user in USERS]
        ig_user_id = accounts[0]["platform_user_id"]
        bodies = [delivery(ig_user_id, n) for n in range(deliveries)]
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30, limits=limits) as client:
            await client.get("/healthz")
            server_before = await _server_buckets(client)
            client_cpu = time.process_time()
            api_cpu = _cpu_seconds(stack.pid("api"))
            start = time.perf_counter() + 0.5
            interval = seconds / deliveries
            sends = [asyncio.create_task(_send(client, body, start + i * interval)) for i, body in enumerate(bodies)]
            killer = asyncio.create_task(_kill_and_restart(stack, start + seconds / 2)) if kill else None
            answers = await asyncio.gather(*sends)
            sent_at = time.perf_counter()
            client_cpu = time.process_time() - client_cpu
            api_cpu = _cpu_seconds(stack.pid("api")) - api_cpu
            server_after = await _server_buckets(client)
            killed_at = await killer if killer else None
        deadline = time.monotonic() + 300
        counts = await _counts(stack.database_url)
        while counts["processed"] < counts["stored"] and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            counts = await _counts(stack.database_url)
        drained = time.perf_counter() - sent_at
        latencies = [a.seconds for a in answers]
        ok = sum(1 for a in answers if a.status == 200)
        p50, p95, p99 = (_quantile(latencies, q) for q in (0.50, 0.95, 0.99))
        expected = deliveries * len(USERS)
        print(f"deliveries:        {deliveries} in {seconds:g} s ({deliveries / seconds:.0f}/s), open loop, signed")
        others = sorted(str(a.status) for a in answers if a.status != 200)[:5]
        print(f"answered 200:      {ok}/{deliveries} (others, first 5: {others})")
        print(
            f"latency:           p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms, mean {statistics.fmean(latencies) * 1000:.1f} ms"
        )
        server_p50, server_p99 = (_bucket_quantile(server_before, server_after, q) for q in (0.50, 0.99))
        print(f"as the API saw it: p50 ≤ {server_p50 * 1000:g} ms, p99 ≤ {server_p99 * 1000:g} ms (/metrics histogram)")
        print(f"API process CPU:   {api_cpu:.1f} s, {api_cpu / deliveries * 1000:.1f} ms per delivery")
        print(f"load tool:         {client_cpu:.1f} s of CPU over {sent_at - start:.1f} s (httpx, this process)")
        if killed_at is not None:
            print(f"worker:            SIGKILLed {killed_at - start:.1f} s into the run, restarted 1 s later")
        print(f"stored, processed: {counts['stored']}, {counts['processed']} ({drained:.1f} s after the last answer)")
        print(
            f"comments, events:  {counts['comments']} ({counts['distinct_comments']} distinct), {counts['events']} "
            f"comment.created (expected {expected} each: two users share the account)"
        )
        met = (
            ok == deliveries
            and p99 < TARGET_P99_SECONDS
            and counts["processed"] == counts["stored"] == deliveries
            and counts["comments"] == counts["distinct_comments"] == counts["events"] == expected
        )
        print(
            f"targets (all 200, p99 < {TARGET_P99_SECONDS * 1000:.0f} ms, none lost, none doubled): "
            f"{'met' if met else 'NOT met'}"
        )
        return {
            "api_cpu_ms_per_delivery": api_cpu / deliveries * 1000,
            "ok": ok,
            "p50": p50,
            "p95": p95,
            "p99": p99,
            "drained_seconds": drained,
            **counts,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-kill", action="store_true", help="leave the worker alone")
    args = parser.parse_args()
    asyncio.run(run(args.deliveries, args.seconds, not args.no_kill))


if __name__ == "__main__":
    main()

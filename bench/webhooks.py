"""Benchmark: a batch post to 100 accounts delivers 100 signed post.published webhooks; how long from each
post's publication to its receipt?

Runs the real processes (the sandbox alone, the API under uvicorn, the arq worker; PostgreSQL and Redis),
connects the accounts through the OAuth flow, registers a receiver on loopback that verifies every signature
with `standardwebhooks`, sends one POST /batch-post and measures, per post, the receipt time minus the event's
`published_at`. Target: median at most 1 s. `make bench-webhooks` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.harness import create_database, drop_database
from tests.conftest import REDIS_TEST_URL, auth_headers
from tests.events.receiver import Receiver
from tests.worker.stack import API, Stack

TARGET_MEDIAN_SECONDS = 1.0


async def run(accounts: int) -> float:
    url, name = await create_database()
    logs = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    overrides = {"LOG_LEVEL": "WARNING", "WEBHOOK_ALLOW_LOOPBACK": "true", "BATCH_CONCURRENCY": "50"}
    stack = Stack(database_url=url, redis_url=REDIS_TEST_URL, logs=logs, overrides=overrides)
    receiver = Receiver()
    await receiver.start()
    try:
        for process in ("sandbox", "api", "worker"):
            stack.start(process)
            await stack.wait_ready(process)
        connected = []
        for start in range(0, accounts, 25):  # a few at a time: 100 OAuth dances at once is not the subject
            connected += await asyncio.gather(
                *(stack.connect(f"bench_hook_{i:03d}") for i in range(start, min(start + 25, accounts)))
            )
        async with stack.api() as api:
            created = await api.post(
                f"{API}/webhooks", headers=auth_headers(), json={"url": receiver.url, "events": ["post.published"]}
            )
            assert created.status_code == 201, created.text
            receiver.secrets.append(created.json()["secret"])
            started = time.perf_counter()
            response = await api.post(
                f"{API}/batch-post",
                headers=auth_headers(),
                json={"image_url": "https://example.com/launch.jpg", "caption": "Webhook benchmark"},
                timeout=300,
            )
            answered = time.perf_counter() - started
        published = sum(1 for r in response.json() if r["status"] == "success")
        await receiver.wait_for(lambda r: len({x.id for x in r}) >= published, timeout=120)
        receipts = list(receiver.unique().values())
        delays = [
            r.received_at - datetime.fromisoformat(r.payload["data"]["published_at"]).timestamp() for r in receipts
        ]
        verified = sum(1 for r in receipts if r.verified_by)
        claimed = await _claim_delays(url)
        median = statistics.median(delays)
        p95 = statistics.quantiles(delays, n=20)[-1] if len(delays) >= 2 else delays[0]
        print(f"accounts:                  {accounts} ({len(connected)} connected)")
        print(f"POST /batch-post:          {answered:.2f} s, {published}/{accounts} published")
        print(f"post.published received:   {len(receipts)} ({verified} signatures verified)")
        print(f"publish → receipt delay:   median {median:.3f} s, p95 {p95:.3f} s, max {max(delays):.3f} s")
        print(f"  of which publish → sent: median {statistics.median(claimed):.3f} s (permalink read, queue, claim)")
        print(
            f"target median ≤ {TARGET_MEDIAN_SECONDS:.1f} s: "
            f"{'met' if median <= TARGET_MEDIAN_SECONDS and len(receipts) == accounts else 'NOT met'}"
        )
        return median
    finally:
        await receiver.stop()
        stack.stop_all()
        await drop_database(name)


async def _claim_delays(url: str) -> list[float]:
    """Per delivery: from the event (the publish) to the worker's claim of its first attempt."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT extract(epoch FROM d.last_attempt_at - e.created_at) FROM webhook_deliveries d "
                    "JOIN events e ON e.id = d.event_id WHERE d.attempts = 1"
                )
            )
            return [float(row[0]) for row in rows]
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(run(args.accounts))


if __name__ == "__main__":
    main()

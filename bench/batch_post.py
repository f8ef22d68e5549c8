"""Benchmark: batch-post to 50 accounts against a sandbox answering each media_publish in 0.8 s.

Runs the real processes (the sandbox alone, the API under uvicorn, live mode, PostgreSQL), connects 50
accounts through the OAuth flow, times one POST /batch-post, and prints it beside the seed's sequential
loop (50 × the time one account's post takes). Target: under 3 s. `make bench` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrations import upgrade_to_head_async
from tests.conftest import PG_ADMIN_URL, REDIS_TEST_URL, auth_headers
from tests.worker.stack import API, Stack

TARGET_SECONDS = 3.0


async def _database() -> tuple[str, str]:
    name = f"instagram_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    await upgrade_to_head_async(url)
    return url, name


async def _drop(name: str) -> None:
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def run(accounts: int, publish_latency: float) -> float:
    url, name = await _database()
    logs = Path(tempfile.mkdtemp(prefix="bench-"))
    stack = Stack(database_url=url, redis_url=REDIS_TEST_URL, logs=logs, overrides={"LOG_LEVEL": "WARNING"})
    try:
        for process in ("sandbox", "api"):
            stack.start(process)
            await stack.wait_ready(process)
        connected = await asyncio.gather(*(stack.connect(f"bench_account_{i:02d}") for i in range(accounts)))
        async with stack.sandbox() as sandbox:
            await sandbox.put("/control/latency", json={"endpoint": "media_publish", "seconds": publish_latency})
        body = {"image_url": "https://example.com/launch.jpg", "caption": "Benchmark launch", "hashtags": ["bench"]}
        async with stack.api() as api:
            # One account alone: what each iteration of the seed's sequential loop costs.
            started = time.perf_counter()
            single = await api.post(
                f"{API}/posts", headers=auth_headers(), json={**body, "account_id": connected[0]["id"]}
            )
            per_account = time.perf_counter() - started
            assert single.status_code == 201, single.text
            started = time.perf_counter()
            response = await api.post(f"{API}/batch-post", headers=auth_headers(), json=body, timeout=120)
            elapsed = time.perf_counter() - started
        results = response.json()
        succeeded = sum(1 for r in results if r["status"] == "success")
        sequential = accounts * per_account
        print(f"accounts:                     {accounts}")
        print(f"sandbox media_publish latency: {publish_latency:.2f} s")
        print(f"one account's post:           {per_account:.2f} s")
        print(f"seed's sequential loop:       {sequential:.2f} s  ({accounts} x {per_account:.2f} s)")
        outcome = f"{succeeded}/{accounts} published, HTTP {response.status_code}"
        print(f"POST /batch-post:             {elapsed:.2f} s  ({outcome})")
        print(
            f"speed-up:                     {sequential / elapsed:.1f}x; target < {TARGET_SECONDS:.1f} s: "
            f"{'met' if elapsed < TARGET_SECONDS and succeeded == accounts else 'NOT met'}"
        )
        return elapsed
    finally:
        stack.stop_all()
        await _drop(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--publish-latency", type=float, default=0.8)
    args = parser.parse_args()
    asyncio.run(run(args.accounts, args.publish_latency))


if __name__ == "__main__":
    main()

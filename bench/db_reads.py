"""Goal 3: GET /accounts against a bare FastAPI + asyncpg app serving the same SELECT, and the embedded
default (SQLite) alone and while another connection holds the write lock.

The write-lock run shows whether reads wait for writers: a connection takes the write lock (`BEGIN
IMMEDIATE` and an UPDATE) for 0.5 s at a time, about 90 % of the run, as a busy writer would. Reads that never
wait for it keep their latency; reads that queue behind it take up to half a second more.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.harness import API, BENCH_OVERRIDES, Connected, bearer, connect_accounts
from bench.load import LoadResult, Request, combined, measure, run_load
from bench.report import Row, ms, per_second, percent
from tests.worker.stack import ROOT, Stack, free_port

DB_READS_SHARE = 0.8
INTERLEAVED_WINDOWS = 5
SQLITE_P99_MS = 50.0
LOCK_HOLD_SECONDS = 0.5
LOCK_GAP_SECONDS = 0.05
# Unset (empty) is the default: sandbox mode with the emulator mounted, migrations at start-up.
EMBEDDED_DEFAULT = dict.fromkeys(
    (
        "INSTAGRAM_MODE",
        "INSTAGRAM_APP_ID",
        "INSTAGRAM_APP_SECRET",
        "INSTAGRAM_AUTHORIZE_BASE_URL",
        "INSTAGRAM_TOKEN_BASE_URL",
        "INSTAGRAM_GRAPH_BASE_URL",
        "DATABASE_AUTO_MIGRATE",
    ),
    "",
)


@dataclass(frozen=True)
class PostgresReads:
    service: LoadResult
    bare: LoadResult


@dataclass(frozen=True)
class SqliteReads:
    alone: LoadResult
    during_writes: LoadResult
    lock_held_share: float


def accounts_requests(sub: str) -> list[Request]:
    return [Request("GET", f"{API}/accounts", bearer(sub))]


def _start_bare_app(stack: Stack, port: int) -> subprocess.Popen[bytes]:
    """bench/bare_accounts.py under uvicorn exactly as the API is served, with the API's environment."""
    with (stack.logs / "bare.log").open("ab") as log:
        return subprocess.Popen(
            stack.uvicorn_command("bench.bare_accounts:app", port), cwd=ROOT, env=stack.env(), stdout=log, stderr=log
        )


async def serve_bare_app(stack: Stack) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = _start_bare_app(stack, port)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"the bare app exited: see {stack.logs / 'bare.log'}")
            try:
                if (await client.get(f"{url}/api/sns/instagram/accounts", headers=bearer("nobody"))).status_code == 200:
                    return process, url
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    raise TimeoutError("the bare app did not start")


async def _same_answer(service_url: str, bare_url: str, sub: str) -> None:
    """Both answer the same accounts with the same fields (else the comparison would be meaningless)."""
    async with httpx.AsyncClient() as client:
        mine = (await client.get(f"{service_url}{API}/accounts", headers=bearer(sub))).json()
        theirs = (await client.get(f"{bare_url}{API}/accounts", headers=bearer(sub))).json()
    if [(a["id"], sorted(a)) for a in mine] != [(a["id"], sorted(a)) for a in theirs]:
        raise AssertionError(f"the bare app answers differently: {theirs} vs {mine}")


async def postgres_reads(
    stack: Stack, sub: str, *, clients: int, seconds: float, warmup_seconds: float
) -> PostgresReads:
    """The service's GET /accounts and the bare app's, on the same database and the same clients, in alternating
    windows (`INTERLEAVED_WINDOWS` each, `seconds` in all for each app).

    One window each, one after the other, let whatever the shared machine did meanwhile fall on one app only: the
    service read 72–77 % of the bare app that way, and 81–89 % in the same session when the windows alternated."""
    process, bare_url = await serve_bare_app(stack)
    try:
        await _same_answer(stack.api_url, bare_url, sub)
        apps = {
            "service": (stack.api_url, stack.pid("api"), f"GET /accounts, {clients} clients"),
            "bare": (bare_url, process.pid, f"bare FastAPI + asyncpg, {clients} clients"),
        }
        windows: dict[str, list[LoadResult]] = {name: [] for name in apps}
        if warmup_seconds > 0:
            for url, _, label in apps.values():
                await asyncio.to_thread(
                    run_load,
                    url,
                    accounts_requests(sub),
                    clients=clients,
                    seconds=warmup_seconds,
                    label=f"{label} (warm-up)",
                )
        for _ in range(INTERLEAVED_WINDOWS):
            for name, (url, pid, label) in apps.items():
                window = await asyncio.to_thread(
                    run_load,
                    url,
                    accounts_requests(sub),
                    clients=clients,
                    seconds=seconds / INTERLEAVED_WINDOWS,
                    label=label,
                    server_pid=pid,
                )
                windows[name].append(window)
    finally:
        process.kill()
        process.wait(timeout=10)
    return PostgresReads(combined(windows["service"]), combined(windows["bare"]))


def _hold_write_lock(path: Path, stop: threading.Event, held: list[float]) -> None:
    """Hold SQLite's write lock for LOCK_HOLD_SECONDS at a time until `stop`; the seconds held go in `held`."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        while not stop.is_set():
            connection.execute("BEGIN IMMEDIATE")
            taken = time.perf_counter()
            connection.execute("UPDATE accounts SET updated_at = updated_at WHERE id = (SELECT min(id) FROM accounts)")
            stop.wait(LOCK_HOLD_SECONDS)
            connection.execute("COMMIT")
            held.append(time.perf_counter() - taken)
            stop.wait(LOCK_GAP_SECONDS)
    finally:
        connection.close()


async def sqlite_reads(
    main: Stack, sub: str, *, clients: int, seconds: float, warmup_seconds: float, accounts: int = 5
) -> SqliteReads:
    """An API process in the embedded default (a SQLite file, no Redis: jobs in-process, the sandbox mounted);
    GET /accounts alone, then while another connection holds the write lock."""
    database = main.logs / "embedded.db"
    port = free_port()
    embedded = Stack(
        database_url=f"sqlite+aiosqlite:///{database}",
        redis_url="",
        logs=main.logs / "embedded",
        # Sandbox mode: the emulator is mounted in the API process itself, as in the embedded default.
        sandbox_port=port,
        api_port=port,
        overrides={**BENCH_OVERRIDES, **EMBEDDED_DEFAULT},
        # Served as `make run` serves it (`python -m app serve`: the serving plan of the embedded default).
        api_as_deployed=True,
    )
    embedded.logs.mkdir(parents=True, exist_ok=True)
    embedded.start("api")
    try:
        await embedded.wait_ready("api", timeout=60)
        connected: list[Connected] = await connect_accounts(embedded, sub, "bench_lite", accounts)
        assert len(connected) == accounts
        alone = await measure(
            embedded.api_url,
            accounts_requests(sub),
            clients=clients,
            seconds=seconds,
            warmup_seconds=warmup_seconds,
            label=f"SQLite GET /accounts, {clients} clients",
            server_pid=embedded.pid("api"),
        )
        stop = threading.Event()
        held: list[float] = []
        holder = threading.Thread(target=_hold_write_lock, args=(database, stop, held), daemon=True)
        holder.start()
        started = time.perf_counter()
        try:
            during = await asyncio.to_thread(
                run_load,
                embedded.api_url,
                accounts_requests(sub),
                clients=clients,
                seconds=seconds,
                label=f"SQLite GET /accounts while the write lock is held, {clients} clients",
                server_pid=embedded.pid("api"),
            )
        finally:
            stop.set()
            await asyncio.to_thread(holder.join, 60)
        share = sum(held) / (time.perf_counter() - started)
    finally:
        embedded.stop_all()
    return SqliteReads(alone, during, share)


def postgres_rows(result: PostgresReads) -> list[Row]:
    service, bare = result.service, result.bare
    share = service.requests_per_second / bare.requests_per_second
    return [
        Row(
            goal="3 DB reads",
            what=f"GET /accounts (5 accounts), {service.clients} clients, PostgreSQL",
            figure=per_second(service.requests_per_second),
            reference=f"bare FastAPI + asyncpg {per_second(bare.requests_per_second)}",
            ratio=percent(share),
            target=f"≥ {percent(DB_READS_SHARE)}",
            met=share >= DB_READS_SHARE and service.failed == 0,
            values={"service": service.as_dict(), "bare": bare.as_dict()},
        )
    ]


def sqlite_rows(result: SqliteReads) -> list[Row]:
    alone, during = result.alone, result.during_writes
    return [
        Row(
            goal="3 DB reads",
            what=f"GET /accounts p99, {alone.clients} clients, embedded SQLite",
            figure=ms(alone.p99_ms),
            reference=f"{per_second(alone.requests_per_second)}, p50 {ms(alone.p50_ms)}",
            ratio="",
            target=f"≤ {SQLITE_P99_MS:.0f} ms",
            met=alone.p99_ms <= SQLITE_P99_MS and alone.failed == 0,
            values={"alone": alone.as_dict()},
        ),
        Row(
            goal="3 DB reads",
            what=f"the same while a writer holds the write lock {percent(result.lock_held_share)} of the time",
            figure=ms(during.p99_ms),
            reference=f"alone {ms(alone.p99_ms)}",
            ratio=f"{during.p99_ms / alone.p99_ms:.1f}x",
            target=f"≤ {SQLITE_P99_MS:.0f} ms (reads never wait)",
            met=during.p99_ms <= SQLITE_P99_MS and during.failed == 0,
            values={"during_writes": during.as_dict(), "lock_held_share": round(result.lock_held_share, 3)},
        ),
    ]

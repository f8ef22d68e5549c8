"""The deployment in miniature, as real processes: the sandbox alone, the API (uvicorn) and the arq worker.

The service runs in live mode pointed at the stand-alone sandbox (as it would point at Instagram), on the
run's PostgreSQL database and a Redis database of its own, so any process can be SIGKILLed and restarted
while the sandbox keeps its memory of what was published.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine

from app.context import build_context
from app.jobs.heartbeat import HEARTBEAT_KEY
from app.jobs.queue import InProcessJobQueue
from tests.conftest import JWT_SECRET, TOKEN_KEY, auth_headers, empty_tables, make_settings
from tests.factories import Factory

ROOT = Path(__file__).resolve().parents[2]
API = "/api/sns/instagram"
# The Instagram app the stack's service uses (live mode, pointed at the stand-alone sandbox).
APP_ID = "1000000000000042"
APP_SECRET = "e2e-app-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    database_url: str
    redis_url: str
    logs: Path
    sandbox_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    # The interpreter of the API and the worker (goal 6 of `make bench` measures them in a runtime-only venv).
    python: str = sys.executable
    # Serve the API with the image's command (`python -m app serve`, one process) instead of plain uvicorn.
    api_as_deployed: bool = False

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def env(self) -> dict[str, str]:
        sandbox = f"{self.sandbox_url}/sandbox"
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "INSTAGRAM_"))},
            "APP_ENV": "development",
            "APP_VAR_DIR": str(self.logs / "var"),
            "DATABASE_URL": self.database_url,
            "DATABASE_AUTO_MIGRATE": "false",
            "REDIS_URL": self.redis_url,
            "JWT_SECRET": JWT_SECRET,
            "TOKEN_ENCRYPTION_KEY": TOKEN_KEY,
            "INSTAGRAM_MODE": "live",
            "INSTAGRAM_APP_ID": APP_ID,
            "INSTAGRAM_APP_SECRET": APP_SECRET,
            "INSTAGRAM_AUTHORIZE_BASE_URL": sandbox,
            "INSTAGRAM_TOKEN_BASE_URL": sandbox,
            "INSTAGRAM_GRAPH_BASE_URL": f"{sandbox}/graph",
            "INSTAGRAM_TIMEOUT_SECONDS": "3",
            "INSTAGRAM_RETRY_BUDGET_SECONDS": "0.5",
            "SYNTHETIC_MEDIA": "true",
            "PUBLIC_BASE_URL": self.api_url,
            "LOG_LEVEL": "INFO",
            "WORKER_JOB_TIMEOUT_SECONDS": "4",
            "PUBLISH_LEASE_SECONDS": "4",
            "PUBLISH_RECONCILE_GRACE_SECONDS": "0.5",
            "PUBLISH_RETRY_BASE_SECONDS": "0.5",
            "CONTAINER_POLL_INITIAL_SECONDS": "0.3",
            "CONTAINER_POLL_MAX_INTERVAL_SECONDS": "0.5",
            "SANDBOX_VIDEO_PROCESSING_SECONDS": "1",
            "REEL_WAIT_SECONDS": "20",
            "PUBLISH_WAIT_SECONDS": "20",
            **self.overrides,
            **(
                {"HOST": "127.0.0.1", "PORT": str(self.api_port), "WEB_CONCURRENCY": "1"}
                if self.api_as_deployed
                else {}
            ),
        }

    def uvicorn_command(self, target: str, port: int) -> list[str]:
        """How the API is served (the benchmarks serve their bare reference app the same way)."""
        return [
            self.python,
            "-m",
            "uvicorn",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]

    def _commands(self) -> dict[str, list[str]]:
        return {
            "sandbox": [
                sys.executable,
                "-m",
                "app.sandbox",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.sandbox_port),
                "--log-level",
                "warning",
            ],
            "api": (
                [self.python, "-m", "app", "serve"]
                if self.api_as_deployed
                else self.uvicorn_command("app.main:app", self.api_port)
            ),
            "worker": [self.python, "-m", "app", "worker"],
        }

    def start(self, name: str) -> None:
        assert name not in self.processes or self.processes[name].poll() is not None, f"{name} is running"
        log = (self.logs / f"{name}.log").open("ab")
        self.started_at[name] = time.time()
        self.processes[name] = subprocess.Popen(
            self._commands()[name], cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )

    def exited(self, name: str) -> str:
        """Why `name` is gone, for the failure message: its exit code and the end of its log (the log
        itself may not outlive the run, as on CI)."""
        log = self.logs / f"{name}.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
        return f"{name} exited with {self.processes[name].returncode}: see {log}; it logged last:\n{tail}"

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash or an OOM kill."""
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)

    async def _worker_beat_since(self, started: float) -> bool:
        """The worker is up once it has written a heartbeat after `started` (a killed one's does not count)."""
        redis = Redis.from_url(self.redis_url)
        try:
            beat = await redis.get(HEARTBEAT_KEY)
        finally:
            await redis.aclose()
        return beat is not None and float(beat) >= started

    async def wait_ready(self, name: str, timeout: float = 30.0) -> None:
        started = self.started_at.get(name, 0.0)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.processes[name].poll() is not None:
                    raise RuntimeError(self.exited(name))
                try:
                    if name == "sandbox":
                        ok = (await client.get(f"{self.sandbox_url}/sandbox/control")).status_code == 200
                    elif name == "api":
                        ok = (await client.get(f"{self.api_url}/healthz")).status_code == 200
                    else:
                        ok = await self._worker_beat_since(started)
                    if ok:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{name} did not become ready: see {self.logs / (name + '.log')}")

    async def restart(self, name: str) -> None:
        self.start(name)
        await self.wait_ready(name)

    # --- driving it ---------------------------------------------------------------------------------

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.api_url, timeout=30)

    def sandbox(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"{self.sandbox_url}/sandbox", timeout=30)

    async def connect(self, username: str, sub: str = "alice") -> dict[str, Any]:
        """The browser flow across the real processes: authorize URL, consent form, callback."""
        async with httpx.AsyncClient(timeout=30) as browser:
            auth_url = (await browser.get(f"{self.api_url}{API}/oauth/authorize", headers=auth_headers(sub))).json()[
                "auth_url"
            ]
            assert urlsplit(auth_url).port == self.sandbox_port
            approved = await browser.post(auth_url, data={"username": username})
            assert approved.status_code == 302, approved.text
            callback = await browser.get(approved.headers["location"])
            assert callback.status_code == 200, callback.text
            account: dict[str, Any] = callback.json()["account"]
            return account

    @asynccontextmanager
    async def factory(self) -> AsyncIterator[Factory]:
        """The factories for this stack: rows in its database, tokens minted by its sandbox."""
        sandbox = f"{self.sandbox_url}/sandbox"
        settings = make_settings(
            self.database_url,
            instagram_mode="live",
            instagram_app_id=APP_ID,
            instagram_app_secret=APP_SECRET,
            instagram_authorize_base_url=sandbox,
            instagram_token_base_url=sandbox,
            instagram_graph_base_url=f"{sandbox}/graph",
            public_base_url=self.api_url,
        )
        ctx = build_context(settings, jobs=InProcessJobQueue(specs=[]), role="tests")
        try:
            async with httpx.AsyncClient(base_url=self.sandbox_url, timeout=30) as client:
                yield Factory(ctx, client)
        finally:
            await ctx.aclose()

    async def published(self, username: str) -> list[dict[str, Any]]:
        async with self.sandbox() as sandbox:
            data: list[dict[str, Any]] = (
                await sandbox.get("/control/published", params={"username": username})
            ).json()["data"]
            return data

    async def post_state(self, db_id: int, sub: str = "alice") -> dict[str, Any]:
        async with self.api() as api:
            state: dict[str, Any] = (await api.get(f"{API}/posts/{db_id}", headers=auth_headers(sub))).json()
            return state

    async def wait_for_status(self, db_id: int, status: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = await self.post_state(db_id)
            if state.get("status") == status:
                return state
            await asyncio.sleep(0.2)
        raise AssertionError(f"post {db_id} did not become {status}: {state}")

    async def wait_until(self, predicate: Any, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await predicate():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("condition not met in time")


@asynccontextmanager
async def running_stack(
    database_url: str, redis_url: str, logs: Path, overrides: dict[str, str] | None = None
) -> AsyncIterator[Stack]:
    """Sandbox, API and worker started on a flushed Redis database; killed, and the tables emptied, after."""
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    stack = Stack(database_url=database_url, redis_url=redis_url, logs=logs, overrides=overrides or {})
    try:
        for name in ("sandbox", "api", "worker"):
            stack.start(name)
        for name in ("sandbox", "api", "worker"):
            await stack.wait_ready(name)
        yield stack
    finally:
        stack.stop_all()
        engine = create_async_engine(database_url)
        await empty_tables(engine)
        await engine.dispose()

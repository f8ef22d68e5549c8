"""The fault matrix's deployment, as real processes: the stand-alone sandbox (Instagram), two APIs (uvicorn)
and two workers (`python -m app worker`), on a PostgreSQL cluster and a Redis server of their own that the
tests stop and restart.

Every setting that shapes recovery keeps its default (PUBLISH_LEASE_SECONDS, WORKER_JOB_TIMEOUT_SECONDS,
PUBLISH_RECONCILE_GRACE_SECONDS, the publishing waits, Instagram's timeouts and retries): what the tests
measure is what a deployment gets.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.publishing.models import Post
from tests.conftest import auth_headers
from tests.reliability.private_postgres import Cluster
from tests.reliability.private_redis import RedisServer
from tests.worker.stack import API, Stack, free_port

APIS = ("api-1", "api-2")
WORKERS = ("worker-1", "worker-2")
# The worker tests' stack shortens these; here they stay as deployed.
FAST_TIMINGS = (
    "INSTAGRAM_TIMEOUT_SECONDS",
    "INSTAGRAM_RETRY_BUDGET_SECONDS",
    "WORKER_JOB_TIMEOUT_SECONDS",
    "PUBLISH_LEASE_SECONDS",
    "PUBLISH_RECONCILE_GRACE_SECONDS",
    "PUBLISH_RETRY_BASE_SECONDS",
    "CONTAINER_POLL_INITIAL_SECONDS",
    "CONTAINER_POLL_MAX_INTERVAL_SECONDS",
    "REEL_WAIT_SECONDS",
    "PUBLISH_WAIT_SECONDS",
)


@dataclass
class Deployment(Stack):
    """Stack's processes, doubled: `api-1`/`api-2` (each its own port; `api_url` is api-1's) and
    `worker-1`/`worker-2`."""

    api_ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in APIS})
    log_offsets: dict[str, int] = field(default_factory=dict)
    cluster: Cluster | None = None
    redis: RedisServer | None = None

    def __post_init__(self) -> None:
        self.api_port = self.api_ports["api-1"]

    def url_of(self, api: str) -> str:
        return f"http://127.0.0.1:{self.api_ports[api]}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in super().env().items() if k not in FAST_TIMINGS}
        return {**env, "WEBHOOK_ALLOW_LOOPBACK": "true", **self.overrides}

    def _commands(self) -> dict[str, list[str]]:
        commands = super()._commands()
        for name, port in self.api_ports.items():
            commands[name] = [*commands["api"][:-4], "--port", str(port), "--log-level", "warning"]
        for name in WORKERS:
            commands[name] = [sys.executable, "-m", "app", "worker"]
        return commands

    def start(self, name: str) -> None:
        log = self.logs / f"{name}.log"
        self.log_offsets[name] = log.stat().st_size if log.exists() else 0
        super().start(name)

    def log_since_start(self, name: str) -> str:
        """What the process logged since it was last started."""
        with (self.logs / f"{name}.log").open("rb") as log:
            log.seek(self.log_offsets.get(name, 0))
            return log.read().decode(errors="replace")

    def alive(self, name: str) -> bool:
        return self.processes[name].poll() is None

    async def wait_ready(self, name: str, timeout: float = 30.0) -> None:
        if name == "sandbox":
            await super().wait_ready(name, timeout)
            return
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if not self.alive(name):
                    raise RuntimeError(self.exited(name))
                if name in WORKERS:
                    if "worker started" in self.log_since_start(name):
                        return
                else:
                    try:
                        if (await client.get(f"{self.url_of(name)}/healthz")).status_code == 200:
                            return
                    except httpx.HTTPError:
                        pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{name} did not become ready: see {self.logs / (name + '.log')}")

    def client(self, api: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url_of(api), timeout=90)

    async def wait_until_logged(self, name: str, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log_since_start(name):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} did not log {text!r}: see {self.logs / (name + '.log')}")
            await asyncio.sleep(0.1)

    async def states(self, db_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Each post as GET /posts/{db_id} answers it (alternating between the APIs that run)."""
        found: dict[int, dict[str, Any]] = {}
        running = [api for api in APIS if self.alive(api)]
        for index, db_id in enumerate(db_ids):
            async with self.client(running[index % len(running)]) as api:
                response = await api.get(f"{API}/posts/{db_id}", headers=auth_headers())
            assert response.status_code == 200, response.text
            found[db_id] = response.json()
        return found

    async def wait_published(self, db_ids: list[int], timeout: float) -> float:
        """Until every post is published (the seconds it took); fails naming those that are not."""
        started = time.monotonic()
        states: dict[int, dict[str, Any]] = {}
        while time.monotonic() - started < timeout:
            states = await self.states(db_ids)
            if all(state["status"] == "published" for state in states.values()):
                return time.monotonic() - started
            await asyncio.sleep(0.5)
        late = {db_id: (s["status"], s.get("error")) for db_id, s in states.items() if s["status"] != "published"}
        raise AssertionError(f"not published within {timeout} s: {late}")

    async def assert_exactly_once(self) -> int:
        """Every post in the database is published, and the sandbox published each exactly once: one media
        per post, each post's media id one of them, no media that no post claims. Returns the count."""
        engine = create_async_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                rows = (await connection.execute(select(Post.id, Post.status, Post.media_id))).all()
        finally:
            await engine.dispose()
        async with self.sandbox() as sandbox:
            media: list[dict[str, Any]] = (await sandbox.get("/control/published")).json()["data"]
        assert [row for row in rows if row.status != "published"] == []
        containers = [item["container_id"] for item in media]
        assert len(containers) == len(set(containers)), "a container was published twice"
        assert len(media) == len(rows), f"{len(media)} media for {len(rows)} posts"
        unknown = {row.id: row.media_id for row in rows if row.media_id not in {item["media_id"] for item in media}}
        assert unknown == {}, f"posts whose media id Instagram never published: {unknown}; published: {media}"
        return len(rows)

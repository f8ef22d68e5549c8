"""The resources a process shares (engine, sessions, Instagram client, job queue), built once.

The API's lifespan and the arq worker's `on_startup` build the same `AppContext`, so a job function
behaves identically in both places.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

import httpx
from arq import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.crypto import TokenCipher
from app.db import create_engine, create_read_engine, create_read_sessionmaker, create_sessionmaker
from app.events.outbox import bind_job_queue
from app.events.sender import WebhookSender
from app.http_routing import PrefixRoutingTransport
from app.instagram import InstagramClient, InstagramConfig
from app.instagram.client import instagram_transport
from app.jobs.queue import JobQueue
from app.media.fetcher import MediaFetcher
from app.memory import release_freed_memory
from app.observability.metrics import INSTAGRAM_CALLS, INSTAGRAM_LATENCY
from app.tls import client_ssl_context
from app.uploads.storage import Storage, build_storage


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # Sessions of read-only routes (app/dependencies.py `ReadSessionDep`): no transaction on PostgreSQL (the
    # same pool), no write lock on SQLite (a pool of its own). They refuse to flush a change.
    read_sessionmaker: async_sessionmaker[AsyncSession]
    read_engine: AsyncEngine
    instagram: InstagramClient
    cipher: TokenCipher
    jobs: JobQueue
    media: MediaFetcher
    webhooks: WebhookSender
    # Where uploaded files live (a local directory or an S3-compatible bucket).
    uploads: Storage
    redis: ArqRedis | None = None
    # The process's role: "api" (serves HTTP, may run jobs in-process) or "worker" (the arq process).
    role: str = "api"

    async def aclose(self) -> None:
        await self.jobs.aclose()
        await self.instagram.aclose()
        await self.media.aclose()
        await self.webhooks.aclose()
        await self.uploads.aclose()
        if self.read_engine.sync_engine.pool is not self.engine.sync_engine.pool:
            await self.read_engine.dispose()
        await self.engine.dispose()


def instagram_config(settings: Settings) -> InstagramConfig:
    return InstagramConfig(
        app_id=settings.app_id,
        app_secret=settings.app_secret,
        graph_version=settings.instagram_graph_version,
        authorize_base_url=settings.authorize_base_url,
        token_base_url=settings.token_base_url,
        graph_base_url=settings.graph_base_url,
        timeout_seconds=settings.instagram_timeout_seconds,
        max_attempts=settings.instagram_max_attempts,
        retry_budget_seconds=settings.instagram_retry_budget_seconds,
        max_connections=settings.instagram_max_connections,
        keepalive_seconds=settings.instagram_keepalive_seconds,
    )


def _record_call(operation: str, outcome: str, seconds: float) -> None:
    INSTAGRAM_CALLS.labels(operation, outcome).inc()
    INSTAGRAM_LATENCY.labels(operation).observe(seconds)


def build_instagram_client(
    settings: Settings, *, in_process_sandbox: httpx.AsyncBaseTransport | None = None
) -> InstagramClient:
    """The process's one Instagram client; with `in_process_sandbox`, sandbox URLs skip the network."""
    config = instagram_config(settings)
    # The process's one TLS context (app/tls.py), handed in: app/instagram imports nothing else of the app.
    transport: httpx.AsyncBaseTransport = instagram_transport(config, client_ssl_context())
    if in_process_sandbox is not None:
        transport = PrefixRoutingTransport([(settings.sandbox_base_url + "/", in_process_sandbox)], default=transport)
    return InstagramClient(config, transport=transport, on_call=_record_call)


def build_context(
    settings: Settings,
    *,
    jobs: JobQueue,
    redis: ArqRedis | None = None,
    role: str = "api",
    in_process_sandbox: httpx.AsyncBaseTransport | None = None,
) -> AppContext:
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    if role in ("api", "worker"):
        # Committed webhook deliveries go straight to the queue (a CLI run leaves them to the sweeper).
        bind_job_queue(sessionmaker, jobs)
    read_engine = create_read_engine(engine, settings)
    return AppContext(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        read_sessionmaker=create_read_sessionmaker(read_engine),
        read_engine=read_engine,
        instagram=build_instagram_client(settings, in_process_sandbox=in_process_sandbox),
        cipher=TokenCipher(settings.token_encryption_keys()),
        jobs=jobs,
        # One fetcher (one connection pool, one TLS context) for the process's media downloads.
        media=MediaFetcher(settings),
        webhooks=WebhookSender(settings),
        uploads=build_storage(settings),
        redis=redis,
        role=role,
    )


def settle_after_startup(settings: Settings) -> None:
    """With GC_FREEZE_AFTER_STARTUP: collect once, then move everything start-up built (modules, routes, the
    OpenAPI schema, the context) out of the collector's reach, so no later collection walks those objects
    again: shorter pauses, and their memory pages are left alone. GC_YOUNG_THRESHOLD spaces young collections."""
    if settings.gc_young_threshold:
        gc.set_threshold(settings.gc_young_threshold, *gc.get_threshold()[1:])
    if settings.gc_freeze_after_startup:
        gc.collect()
        gc.freeze()
    # What importing and building freed (schemas, compiled code) goes back to the OS.
    release_freed_memory()

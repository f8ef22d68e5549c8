"""The ASGI application: `app.main:app`, built by `create_app()`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from app.config import Settings, get_settings
from app.context import AppContext, build_context, settle_after_startup
from app.docs_ui import install_docs
from app.error_handlers import install_error_handlers
from app.events.openapi import install_webhook_docs
from app.http_routing import PrefixRoutingTransport, TimeoutASGITransport
from app.jobs import registry
from app.jobs.connection import redis_client
from app.jobs.queue import ArqJobQueue, InProcessJobQueue, JobQueue
from app.memory import limit_malloc_arenas
from app.observability.logging import configure_logging
from app.observability.middleware import RequestContextMiddleware
from app.observability.router import router as operations_router
from app.openapi import API_DESCRIPTION, API_PREFIX, OPENAPI_TAGS
from app.openapi_contract import install_openapi_contract
from app.routers import API_ROUTERS, media_router, serve_routes, upload_files_router

logger = logging.getLogger(__name__)

_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.database_auto_migrate:
        # Imported only to migrate: Alembic adds about 10 MB to a process that never needs it again.
        from app.migrations import upgrade_to_head_async

        # The embedded mode owns its SQLite file: bring it to the latest schema before serving.
        if settings.is_sqlite:
            Path(settings.database_url.split("///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
        await upgrade_to_head_async(settings.database_url)
    jobs: JobQueue
    redis = None
    in_process: InProcessJobQueue | None = None
    if settings.redis_url:
        # Connections are made on first use: the API starts (and /readyz can say so) while Redis is down.
        redis = redis_client(settings.redis_url)
        jobs = ArqJobQueue(redis)
    else:
        in_process = InProcessJobQueue(specs=registry.JOBS, crons=registry.CRONS)
        jobs = in_process
    sandbox_transport = None
    if app.state.sandbox_app is not None:
        sandbox_transport = TimeoutASGITransport(app=app.state.sandbox_app, root_path="/sandbox")
    ctx = build_context(settings, jobs=jobs, redis=redis, role="api", in_process_sandbox=sandbox_transport)
    app.state.ctx = ctx
    if in_process is not None:
        in_process.ctx["app"] = ctx
        in_process.start()
    settle_after_startup(settings)
    logger.info(
        "service started",
        extra={
            "instagram_mode": settings.instagram_mode,
            "jobs": "arq" if redis else "in-process",
            "database": "sqlite" if settings.is_sqlite else "postgresql",
        },
    )
    try:
        yield
    finally:
        await ctx.aclose()
        if redis is not None:
            await redis.aclose()
        if app.state.sandbox_app is not None:
            # A mounted app gets no lifespan of its own: stop the emulator's webhook emitter here.
            await app.state.sandbox_app.state.sandbox.aclose()


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    """Build the service: routers, error envelope, middleware, offline docs and (in sandbox mode) the emulator."""
    settings = settings or get_settings()
    # Before any thread allocates: glibc fixes its arena limit when the second arena is made.
    limit_malloc_arenas(settings.malloc_arena_max)
    if configure_logs:
        configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="Instagram Integration Service",
        version="0.1.0",
        description=API_DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # FastAPI's native OpenTelemetry asks the global providers whether anyone listens on every request (about
        # 11 µs, environment lookups included). This service reports through Prometheus (/metrics) and its own
        # JSON access log, and installs no OpenTelemetry SDK: nothing would ever listen.
        telemetry=_NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.sandbox_app = None
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    # The API first: FastAPI tries the routes in order on every request, and the API's are the busy ones (the
    # three last have paths of their own, outside the API's prefix, so the order changes no match).
    serve_routes(app, [*API_ROUTERS, operations_router, media_router, upload_files_router])
    install_webhook_docs(app)
    install_openapi_contract(app)
    # Last: it wraps the completed (cached) document with a fresh Idempotency-Key example per load.
    install_docs(app)
    if settings.is_sandbox:
        from app.sandbox import create_sandbox_app

        # The sandbox fetches this service's prepared media and uploads, and calls its API (Meta's callbacks
        # configured at this service's own URLs), in-process; other URLs go to the network.
        in_process = httpx.ASGITransport(app=app)
        fetch_transport = PrefixRoutingTransport(
            [
                (settings.public_base_url + "/media/", in_process),
                (settings.public_base_url + "/uploads/", in_process),
                # The emulator's callbacks and webhooks to this very service (Meta's callbacks, the verification
                # handshake, the deliveries) reach it in-process.
                (settings.public_base_url + API_PREFIX + "/", in_process),
            ]
        )
        sandbox = create_sandbox_app(settings, fetch_transport=fetch_transport)
        app.state.sandbox_app = sandbox
        app.mount("/sandbox", sandbox, name="sandbox")
    return app


def app_context(app: FastAPI) -> AppContext:
    ctx: AppContext = app.state.ctx
    return ctx


def __getattr__(name: str) -> FastAPI:
    # `app.main:app` is built on first access, so importing this module (tests, tools) reads no settings.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)

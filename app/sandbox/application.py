"""Building the sandbox app (mounted by the service at `/sandbox`) and the stand-alone server around it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.config import Settings
from app.sandbox import (
    bulk_media,
    call_stats,
    cdn,
    control,
    control_comments,
    control_fans,
    control_webhooks,
    graph,
    oauth,
)
from app.sandbox.state import Sandbox

DESCRIPTION = """An in-memory emulator of the Instagram Platform API (Instagram API with Instagram Login).

Same paths and shapes as the real hosts: `/oauth/authorize` (www.instagram.com), `/oauth/access_token`
(api.instagram.com), `/graph/...` (graph.instagram.com, with or without `/vNN.N`). `/control/...` adjusts the
sandbox (clock, faults, latency, holds, quotas, webhooks, deauthorize and data-deletion callbacks) and `/cdn/...`
serves its generated pictures.
See docs/sandbox.md.
"""


def refuse_production(settings: Settings) -> None:
    """The sandbox accepts any username and exposes /control: never in production."""
    if settings.app_env == "production":
        raise RuntimeError(
            "The Instagram sandbox refuses to run with APP_ENV=production: it logs in any username and "
            "exposes unauthenticated /control endpoints. Use the live Instagram API in production."
        )


def build_sandbox_app(
    settings: Settings,
    *,
    fetch_transport: httpx.AsyncBaseTransport | None = None,
    base_url: str | None = None,
) -> FastAPI:
    """The sandbox as an ASGI app with its own state; `base_url` is where it is reachable (for CDN links)."""
    refuse_production(settings)
    sandbox = Sandbox(settings, base_url=base_url or settings.sandbox_base_url, fetch_transport=fetch_transport)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Runs only when the sandbox is the top-level app (mounted apps get no lifespan events: their webhook
        # emitter starts on first use instead).
        sandbox.webhooks.start()
        yield
        await sandbox.aclose()

    app = FastAPI(
        title="Instagram Platform API sandbox",
        version="25.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    app.include_router(oauth.router)
    app.include_router(graph.router)
    app.include_router(control.router)
    app.include_router(control_webhooks.router)
    app.include_router(control_comments.router)
    app.include_router(control_fans.router)
    app.include_router(cdn.router)
    app.include_router(bulk_media.router)
    call_stats.install(app, sandbox)

    @app.get("/", tags=["sandbox"])
    async def index() -> dict[str, Any]:
        """Where things are."""
        return {
            "service": "instagram-platform-sandbox",
            "authorize": f"{sandbox.base_url}/oauth/authorize",
            "token": f"{sandbox.base_url}/oauth/access_token",
            "graph": f"{sandbox.base_url}/graph/{settings.instagram_graph_version}",
            "control": f"{sandbox.base_url}/control",
        }

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'] if p != 'body') or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        return JSONResponse({"error": problems}, status_code=400)

    return app


def build_standalone_app(settings: Settings, *, public_url: str) -> FastAPI:
    """`python -m app.sandbox`: the sandbox mounted at `/sandbox`, so its URLs match the embedded ones."""
    sandbox_app = build_sandbox_app(settings, base_url=public_url.rstrip("/") + "/sandbox")
    sandbox: Sandbox = sandbox_app.state.sandbox

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sandbox.webhooks.start()
        yield
        await sandbox.aclose()

    app = FastAPI(
        title="Instagram Platform API sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.mount("/sandbox", sandbox_app)
    return app

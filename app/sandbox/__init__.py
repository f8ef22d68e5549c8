"""An in-memory emulator of the Instagram Platform API (Instagram API with Instagram Login).

`create_sandbox_app(settings)` builds it (the service mounts it at `/sandbox`); `python -m app.sandbox --port N`
serves it alone. `app.media` (synthetic media for example.com URLs, video probing) is shared with the service:
this module imports nothing heavy until `create_sandbox_app` is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

    from app.config import Settings

__all__ = ["create_sandbox_app"]


def create_sandbox_app(
    settings: Settings,
    *,
    fetch_transport: httpx.AsyncBaseTransport | None = None,
    base_url: str | None = None,
) -> FastAPI:
    """The sandbox ASGI app, with its own in-memory state; RuntimeError when APP_ENV is production.

    `fetch_transport` carries every real (non-synthetic) media fetch. `base_url` is where the sandbox is
    reachable, for the CDN links it hands out (default: `settings.sandbox_base_url`).
    """
    from app.sandbox.application import build_sandbox_app

    return build_sandbox_app(settings, fetch_transport=fetch_transport, base_url=base_url)

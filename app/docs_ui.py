"""Swagger UI and ReDoc served with local assets, so /docs renders with no internet; `/` and the favicon.

FastAPI's defaults load the UIs from a CDN (blank page offline), and Swagger UI 4.x cannot render the
OpenAPI 3.1 document FastAPI produces; the assets here are Swagger UI 5 and ReDoc from fastapi-offline.
ReDoc's bundle hard-codes its footer logo on a CDN: it is served with that one URL pointed at a local copy.
"""

from __future__ import annotations

import uuid
from functools import cache
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"
FAVICON = ASSETS_DIR / "favicon.png"
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_LOCAL_LOGO = f"{ASSETS_URL}/redoc-logo-mini.svg"
REDOC_BUNDLE_URL = f"{ASSETS_URL}/redoc.offline.js"
# A plain "docs" glyph standing in for the vendor's logo in ReDoc's footer.
_LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">'
    '<rect x="2" y="1" width="12" height="14" rx="2" fill="#32329f"/>'
    '<path d="M5 5h6M5 8h6M5 11h4" stroke="#fff" stroke-width="1.4"/></svg>'
)
IDEMPOTENCY_HEADER = "idempotency-key"


@cache
def _redoc_bundle() -> bytes:
    return (ASSETS_DIR / "redoc.standalone.js").read_bytes().replace(REDOC_CDN_LOGO.encode(), REDOC_LOCAL_LOGO.encode())


def with_fresh_idempotency_keys(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with a new UUID as the Idempotency-Key example (the cached document is untouched).

    Swagger UI fills a header's example in when trying a request: a fresh key per page load means Execute
    pressed twice publishes once, and reloading the page starts a new post.
    """
    paths: dict[str, Any] = {}
    for path, item in schema.get("paths", {}).items():
        new_item = dict(item)
        for method, operation in item.items():
            params = operation.get("parameters") if isinstance(operation, dict) else None
            if not params or not any(_is_idempotency_key(p) for p in params):
                continue
            new_item[method] = {
                **operation,
                "parameters": [_with_new_key(p) if _is_idempotency_key(p) else p for p in params],
            }
        paths[path] = new_item
    return {**schema, "paths": paths}


def _is_idempotency_key(param: dict[str, Any]) -> bool:
    return param.get("in") == "header" and str(param.get("name", "")).lower() == IDEMPOTENCY_HEADER


def _with_new_key(param: dict[str, Any]) -> dict[str, Any]:
    examples = {name: {**example, "value": str(uuid.uuid4())} for name, example in param.get("examples", {}).items()}
    return {**param, "examples": examples}


def install_docs(app: FastAPI) -> None:
    """Mount the offline assets and the routes `/`, `/favicon.ico`, `/docs`, `/redoc` and `/openapi.json`."""
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        return with_fresh_idempotency_keys(build_openapi())

    app.openapi = openapi  # type: ignore[method-assign]
    openapi_url = app.openapi_url or "/openapi.json"

    # Before the static mount, which would otherwise answer these paths first.
    @app.get(REDOC_BUNDLE_URL, include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(_redoc_bundle(), media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})

    @app.get(REDOC_LOCAL_LOGO, include_in_schema=False)
    async def redoc_logo() -> Response:
        return Response(_LOGO_SVG, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(FAVICON, media_type="image/png", headers={"Cache-Control": "max-age=86400"})

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_ui_parameters={
                "persistAuthorization": True,
                "displayRequestDuration": True,
                "tryItOutEnabled": True,
                # The default validator badge is an image from validator.swagger.io.
                "validatorUrl": None,
            },
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=REDOC_BUNDLE_URL,
            redoc_favicon_url="/favicon.ico",
            with_google_fonts=False,
        )

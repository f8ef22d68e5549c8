"""How the app serves its routers: every route straight from the app's own router, in the declared order."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from app.main import create_app
from app.routers import API_ROUTERS, media_router, serve_routes, upload_files_router
from tests.conftest import make_settings


def test_every_route_is_served_from_the_apps_own_router_in_order(sqlite_database_url: str) -> None:
    """No router node for requests to walk through (FastAPI resolves an included router again on every request),
    and the API's routes first, in API_ROUTERS' order: that order decides which of two templates a path takes."""
    app = create_app(make_settings(sqlite_database_url), configure_logs=False)
    declared = [route for router in API_ROUTERS for route in router.routes]
    served = [route for route in app.router.routes if isinstance(route, APIRoute)]
    assert served[: len(declared)] == declared
    # The operational routes (prepared media, upload files) are plain routes too, after the API's.
    assert all(any(route is mine for mine in served) for route in [*media_router.routes, *upload_files_router.routes])
    # Nothing else but Starlette's own (the OpenAPI document, the docs, the sandbox's mount).
    assert all(isinstance(route, APIRoute) or type(route).__module__.startswith("starlette") for route in app.routes)


def test_routes_are_not_served_flat_past_the_apps_own_dependencies() -> None:
    """A dependency declared on the app reaches included routers' routes, not route objects served as declared:
    refused rather than skipped."""
    app = FastAPI(dependencies=[Depends(lambda: None)])
    with pytest.raises(ValueError, match="dependencies of its own"):
        serve_routes(app, API_ROUTERS)

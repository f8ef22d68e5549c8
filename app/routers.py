"""Every router of the public API, in the order they must be matched, and how the app serves them."""

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI

from app.accounts.router import router as accounts_router
from app.comments.router import router as comments_router
from app.events.router import router as events_router
from app.inbound.callbacks_router import router as meta_callbacks_router
from app.inbound.router import router as inbound_router
from app.insights.router import router as insights_router
from app.publishing.asset_route import router as media_router
from app.publishing.router import router as publishing_router
from app.uploads.router import files_router as upload_files_router
from app.uploads.router import router as uploads_router

# Each router carries the /api/sns/instagram prefix itself, so route templates (logs, metrics) are whole.
# Insights last: its "/{db_id}/insights" must not shadow the fixed paths of the others. Comments before it:
# "/comments/{comment_id}/..." are fixed paths next to "/{db_id}/...". Inbound before events: "/webhooks/instagram"
# must not be taken for "/webhooks/{webhook_id}".
API_ROUTERS: list[APIRouter] = [
    accounts_router,
    publishing_router,
    uploads_router,
    inbound_router,
    events_router,
    comments_router,
    meta_callbacks_router,
    insights_router,
]


def serve_routes(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Every route of `routers`, in order, on the app's own router, where `@app.get` and its kin put theirs.

    Since FastAPI 0.137, `include_router` keeps each router as a node that every request walks and resolves
    again (the inclusion's prefix, dependencies and defaults): about a tenth of GET /accounts' CPU. These
    routers leave an inclusion nothing to add: each route carries its own prefix and tags, and neither the
    routers nor the app set dependencies or defaults. So each route object is served as it was declared (the
    same endpoint, dependencies, response model and OpenAPI operation), only found sooner.

    One difference: a route object is built with its router's `dependency_overrides_provider` (none), so
    `app.dependency_overrides` does not reach these routes. Tests here override settings, not dependencies.
    """
    if app.router.dependencies:
        # An inclusion would add them to every route; a route object served as declared would skip them.
        raise ValueError("the app has dependencies of its own: include its routers with include_router")
    for router in routers:
        app.router.routes.extend(router.routes)


__all__ = ["API_ROUTERS", "media_router", "serve_routes", "upload_files_router"]

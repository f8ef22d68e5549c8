"""Every router of the public API, in the order they must be matched."""

from fastapi import APIRouter

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

__all__ = ["API_ROUTERS", "media_router", "upload_files_router"]

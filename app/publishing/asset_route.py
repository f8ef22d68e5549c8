"""GET /media/<id>.jpg: the prepared images of app/publishing/assets.py, for Instagram to fetch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from app.db import utcnow
from app.dependencies import ReadSessionDep
from app.errors import NotFound
from app.publishing import asset_queries

router = APIRouter(tags=["operations"])


@router.get(
    "/media/{asset_name}",
    summary="A prepared image, for Instagram to fetch",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "The JPEG"},
        404: {"description": "Unknown or gone"},
    },
)
async def serve_asset(
    # Read-only: one round trip, no BEGIN and COMMIT around it (Instagram fetches it once per post of a batch).
    session: ReadSessionDep,
    asset_name: Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_\-]+(\.jpg)?$")],
) -> Response:
    """Serves the JPEG this service prepared for a post (converted, resized, story text drawn) until the
    post is published. No authentication: the id itself is the secret."""
    asset_id = asset_name.removesuffix(".jpg")
    asset = await asset_queries.get_asset(session, asset_id)
    if asset is None or asset.expires_at < utcnow():
        raise NotFound("Media not found", code="media_not_found")
    return Response(
        asset.content,
        media_type=asset.content_type,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )

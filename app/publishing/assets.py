"""Prepared images, stored in the database and served at PUBLIC_BASE_URL/media/<id>.jpg for Instagram.

In the database (not on a disk) so that every API replica can serve what any replica or the worker
prepared. The id is 32 random bytes: unguessable, so the route needs no authentication (Instagram
fetches it anonymously). An asset is deleted once no unfinished post uses it.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from app.db import utcnow
from app.dependencies import ReadSessionDep
from app.errors import NotFound
from app.media.images import PreparedImage
from app.publishing import repository
from app.publishing.models import MediaAsset

router = APIRouter(tags=["operations"])


def new_asset_id() -> str:
    """32 random bytes: the id is the secret that lets Instagram fetch the image anonymously."""
    return secrets.token_urlsafe(32)


def new_asset(asset_id: str, image: PreparedImage, *, expires_at: datetime) -> MediaAsset:
    """The stored row of a prepared image."""
    return MediaAsset(
        id=asset_id,
        content_type=image.content_type,
        content=image.content,
        size=len(image.content),
        width=image.width,
        height=image.height,
        created_at=utcnow(),
        expires_at=expires_at,
    )


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
    asset = await repository.get_asset(session, asset_id)
    if asset is None or asset.expires_at < utcnow():
        raise NotFound("Media not found", code="media_not_found")
    return Response(
        asset.content,
        media_type=asset.content_type,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )

"""Prepared images, stored in the database and served at PUBLIC_BASE_URL/media/<id>.jpg for Instagram.

In the database (not on a disk) so that every API replica can serve what any replica or the worker
prepared. The id is 32 random bytes: unguessable, so the route needs no authentication (Instagram
fetches it anonymously). An asset is deleted once no unfinished post uses it. The route that serves them
is in app/publishing/asset_route.py: the worker prepares assets and imports no FastAPI.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from app.db import utcnow
from app.media.images import PreparedImage
from app.publishing.models import MediaAsset


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

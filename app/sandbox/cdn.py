"""The sandbox's CDN: profile pictures, media images, video thumbnails and videos, generated on request."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.responses import Response

from app.media.synthetic import build_video, render_image
from app.sandbox.dependencies import SandboxDep
from app.sandbox.models import Media
from app.sandbox.state import Sandbox

router = APIRouter(tags=["cdn"])

_IG_ID = re.compile(r"^\d{5,20}$")
MAX_DISPLAY_SIDE = 1080
PROFILE_PICTURE_SIDE = 320


def _display_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_DISPLAY_SIDE / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _owned_media(sandbox: Sandbox, owner_id: str, media_id: str) -> Media | None:
    media = sandbox.world.media.get(media_id)
    return media if media is not None and media.owner_id == owner_id else None


def cdn_content(sandbox: Sandbox, path: str) -> tuple[bytes, str] | None:
    """The bytes and content type behind `/cdn/<owner-id>/<name>`, or None when there is nothing there."""
    owner_id, _, name = path.strip("/").partition("/")
    if not _IG_ID.match(owner_id) or "/" in name:
        return None
    if name == "profile.jpg":
        user = sandbox.world.users.get(owner_id)
        label = f"@{user.username}" if user else None
        side = PROFILE_PICTURE_SIDE
        return render_image(f"profile:{owner_id}", side, side, "JPEG", label), "image/jpeg"
    stem, dot, extension = name.rpartition(".")
    if not dot:
        return None
    thumbnail = stem.endswith("_thumb")
    media = _owned_media(sandbox, owner_id, stem.removesuffix("_thumb"))
    if media is None:
        return None
    width, height = _display_size(media.width, media.height)
    if extension == "jpg" and (thumbnail or media.media_type != "VIDEO"):
        return render_image(f"media:{media.id}", width, height, "JPEG", media.media_type.lower()), "image/jpeg"
    if extension == "mp4" and media.media_type == "VIDEO" and not thumbnail:
        return build_video(width, height, media.duration_seconds or 15.0, "mp4"), "video/mp4"
    return None


@router.get("/cdn/{owner_id}/{name}")
async def cdn_file(owner_id: str, name: str, sandbox: SandboxDep) -> Response:
    """A generated JPEG (profile picture, media image, video thumbnail) or MP4."""
    found = cdn_content(sandbox, f"{owner_id}/{name}")
    if found is None:
        return JSONResponse({"error": "Not found"}, status_code=404)
    content, content_type = found
    return Response(content, media_type=content_type, headers={"Cache-Control": "public, max-age=86400"})

"""What an uploaded file is, checked as URL media are: an image (Pillow) or a video (FFmpeg's probe of its head).

The checks every use shares happen here (format, size, codecs, frame rate...); those that depend on where the
file is published (a feed image's aspect ratio, a story video's 60 seconds) happen when it is, from what was
found here (the probe is kept with the upload).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import BadRequest
from app.media.errors import MediaInvalid
from app.media.fetcher import VIDEO_HEAD_BYTES
from app.media.images import inspect_image, open_image
from app.media.video import (
    INVALID_VIDEO_FORMAT,
    VideoKind,
    VideoProbe,
    VideoUnreadable,
    probe_video,
    video_advice,
    video_problem,
)
from app.uploads.intake import MAX_IMAGE_BYTES, UploadTooLarge
from app.uploads.models import UploadKind

UNSUPPORTED = "Unsupported file: upload a JPEG or PNG image (up to 8 MB), or an MP4 or MOV video (up to 300 MB)"
_IMAGE_TYPES = {"JPEG": ("jpg", "image/jpeg"), "MPO": ("jpg", "image/jpeg"), "PNG": ("png", "image/png")}
_VIDEO_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime"}


@dataclass(frozen=True)
class Checked:
    """What the file is, and how it is stored."""

    kind: UploadKind
    extension: str
    content_type: str
    width: int
    height: int
    duration_seconds: float | None = None
    probe: VideoProbe | None = None
    warnings: list[str] = field(default_factory=list)


def _read_head(path: Path, size: int) -> bytes:
    with path.open("rb") as file:
        return file.read(size)


def _is_image(head: bytes) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with open_image(head) as image:
            return image.format is not None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


async def check(path: Path, size: int) -> Checked:
    """Check the staged file; BadRequest (400) in the words URL media get, UploadTooLarge (413) for an image
    over 8 MB."""
    head = await asyncio.to_thread(_read_head, path, VIDEO_HEAD_BYTES)
    try:
        if await asyncio.to_thread(_is_image, head):
            return await _image(path, size)
        return await _video(head, size)
    except MediaInvalid as exc:
        raise BadRequest(str(exc), code="invalid_media") from exc


async def _image(path: Path, size: int) -> Checked:
    if size > MAX_IMAGE_BYTES:
        raise UploadTooLarge("The image is larger than Instagram's 8 MB")
    data = await asyncio.to_thread(path.read_bytes)
    width, height, image_format = await asyncio.to_thread(inspect_image, data)
    extension, content_type = _IMAGE_TYPES[image_format]
    return Checked(UploadKind.IMAGE, extension, content_type, width, height)


async def _video(head: bytes, size: int) -> Checked:
    try:
        probe = await asyncio.to_thread(probe_video, head)
    except VideoUnreadable as exc:
        raise MediaInvalid(UNSUPPORTED if str(exc) == INVALID_VIDEO_FORMAT else str(exc)) from exc
    # A reel's limits are the widest; a story or carousel video is held to its own when it is published.
    problem = video_problem(probe, VideoKind.REEL, size)
    if problem is not None:
        raise MediaInvalid(problem)
    return Checked(
        UploadKind.VIDEO,
        probe.container,
        _VIDEO_TYPES[probe.container],
        probe.width,
        probe.height,
        duration_seconds=probe.duration_seconds,
        probe=probe,
        warnings=video_advice(probe, VideoKind.REEL),
    )

"""Synthetic media for `example.com` URLs, made without network.

The service's examples (and its tests) use URLs such as `https://example.com/photo.jpg`. Nothing answers
there, so with SYNTHETIC_MEDIA both the service's media preparation and the sandbox's fetcher turn such a URL
into deterministic bytes: the same URL always gives the same bytes. Rules, by the path's extension:

- `.jpg`/`.jpeg`, `.png`, `.gif`, `.webp`: an image in that format (default 1080x1080) with a drawing on it;
- `.mp4`/`.mov`: a real, playable H.264/AAC video with `moov` first (synthetic_video.py; default 1080x1920,
  30 fps, 15 s), which FFmpeg probes like any client's video;
- anything else: `None` (not fetchable).

Hints in the file name: `_200x200` sets the image (or video) size, `_90s` a video's duration
(`https://example.com/clip_1080x1920_90s.mp4`, at most 20 minutes); for videos `_24fps` the frame rate, `_mpeg4`
the codec (MPEG-4 Part 2, which Instagram refuses), `_silent` no audio track and `_mp3` MP3 audio.

Only the standard library, Pillow and PyAV are imported: the service and the sandbox both use this module.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from PIL import ImageFont

    from app.media.synthetic_video import AudioKind, VideoCodec

__all__ = [
    "SyntheticMedia",
    "build_video",
    "is_synthetic_host",
    "render_image",
    "synthetic_media",
]

SYNTHETIC_DOMAIN = "example.com"
DEFAULT_IMAGE_SIZE = (1080, 1080)
DEFAULT_VIDEO_SIZE = (1080, 1920)
DEFAULT_VIDEO_SECONDS = 15.0
# Generated pictures are drawn in memory: keep a hint like `_99999x99999` from costing gigabytes.
MAX_SIDE = 6000
MAX_VIDEO_SECONDS = 1200.0

_IMAGE_FORMATS: dict[str, tuple[str, str]] = {
    ".jpg": ("JPEG", "image/jpeg"),
    ".jpeg": ("JPEG", "image/jpeg"),
    ".png": ("PNG", "image/png"),
    ".gif": ("GIF", "image/gif"),
    ".webp": ("WEBP", "image/webp"),
}
_VIDEO_FORMATS: dict[str, tuple[Literal["mp4", "mov"], str]] = {
    ".mp4": ("mp4", "video/mp4"),
    ".mov": ("mov", "video/quicktime"),
}

_SIZE_HINT = re.compile(r"_(\d{1,6})x(\d{1,6})(?![0-9])", re.IGNORECASE)
_DURATION_HINT = re.compile(r"_(\d{1,6}(?:\.\d{1,3})?)s(?![a-z0-9])", re.IGNORECASE)
_FPS_HINT = re.compile(r"_(\d{1,3})fps(?![a-z0-9])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SyntheticMedia:
    """Bytes standing in for the media behind an example.com URL."""

    content: bytes
    content_type: str
    width: int | None
    height: int | None
    duration_seconds: float | None


def build_video(
    width: int,
    height: int,
    duration_seconds: float,
    container: Literal["mp4", "mov"] = "mp4",
    *,
    fps: int = 30,
    codec: VideoCodec = "h264",
    audio: AudioKind = "aac",
) -> bytes:
    """`synthetic_video.build_video`, imported on the first call: PyAV takes about 28 MB, and most processes
    never build a video."""
    from app.media import synthetic_video

    return synthetic_video.build_video(width, height, duration_seconds, container, fps=fps, codec=codec, audio=audio)


def is_synthetic_host(url: str) -> bool:
    """True when the URL's host is example.com or one of its subdomains (synthetic media, no network)."""
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    return host == SYNTHETIC_DOMAIN or host.endswith("." + SYNTHETIC_DOMAIN)


def synthetic_media(url: str) -> SyntheticMedia | None:
    """The synthetic media for an example.com URL; None for other hosts and for unknown extensions."""
    if not is_synthetic_host(url):
        return None
    return _synthetic_media(url)


@lru_cache(maxsize=256)
def _synthetic_media(url: str) -> SyntheticMedia | None:
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    suffix = PurePosixPath(name).suffix.lower()
    size = _size_hint(name)
    if suffix in _IMAGE_FORMATS:
        fmt, content_type = _IMAGE_FORMATS[suffix]
        width, height = size or DEFAULT_IMAGE_SIZE
        content = render_image(url, width, height, fmt, f"{width}x{height}")
        return SyntheticMedia(content, content_type, width, height, None)
    if suffix in _VIDEO_FORMATS:
        container, content_type = _VIDEO_FORMATS[suffix]
        width, height = size or DEFAULT_VIDEO_SIZE
        duration = _duration_hint(name)
        fps, codec, audio = _video_hints(PurePosixPath(name).stem.lower())
        content = build_video(width, height, duration, container, fps=fps, codec=codec, audio=audio)
        return SyntheticMedia(content, content_type, width, height, duration)
    return None


def _size_hint(name: str) -> tuple[int, int] | None:
    match = _SIZE_HINT.search(name)
    if match is None:
        return None
    width, height = (min(MAX_SIDE, max(1, int(value))) for value in match.groups())
    return width, height


def _video_hints(stem: str) -> tuple[int, VideoCodec, AudioKind]:
    match = _FPS_HINT.search(stem)
    fps = min(240, max(1, int(match.group(1)))) if match else 30
    codec: VideoCodec = "mpeg4" if "_mpeg4" in stem else "h264"
    audio: AudioKind = "none" if "_silent" in stem else "mp3" if "_mp3" in stem else "aac"
    return fps, codec, audio


def _duration_hint(name: str) -> float:
    stem = PurePosixPath(name).stem
    match = _DURATION_HINT.search(stem)
    if match is None:
        return DEFAULT_VIDEO_SECONDS
    return min(MAX_VIDEO_SECONDS, float(match.group(1)))


# --- images ---------------------------------------------------------------------------------------


def _palette(seed: str) -> list[tuple[int, int, int]]:
    digest = hashlib.sha256(seed.encode()).digest()
    return [(digest[i], digest[i + 1], digest[i + 2]) for i in range(0, 18, 3)]


@lru_cache(maxsize=128)
def render_image(seed: str, width: int, height: int, fmt: str = "JPEG", label: str | None = None) -> bytes:
    """A deterministic picture (bands, a disc, a label) in a format; the same seed gives the same bytes."""
    from PIL import Image, ImageDraw

    width = min(MAX_SIDE, max(1, width))
    height = min(MAX_SIDE, max(1, height))
    colours = _palette(seed)
    image = Image.new("RGB", (width, height), colours[0])
    draw = ImageDraw.Draw(image)
    bands = 6
    for index in range(bands):
        x0 = (index * 2 - bands // 2) * width // bands
        draw.polygon(
            [
                (x0, 0),
                (x0 + width // bands, 0),
                (x0 + width // bands + height, height),
                (x0 + height, height),
            ],
            fill=colours[1 + index % 3],
        )
    radius = max(1, min(width, height) // 4)
    centre = (width // 2, height // 2)
    draw.ellipse(
        [centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius],
        fill=colours[4],
        outline=colours[5],
        width=max(1, radius // 12),
    )
    if label and min(width, height) >= 64:
        font = _font(max(10, min(width, height) // 14))
        draw.text(centre, label, fill=(255, 255, 255), font=font, anchor="mm", stroke_width=2, stroke_fill=(0, 0, 0))
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, format="JPEG", quality=85)
    elif fmt == "GIF":
        image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(buffer, format="GIF")
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (OSError, ValueError, ImportError):  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()

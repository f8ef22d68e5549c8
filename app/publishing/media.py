"""Media preparation, before any container is created (seed scenario 3).

Images: fetched (behind the SSRF guard), opened with Pillow on the bytes themselves, checked with the
seed's messages, and turned into what Instagram accepts: a JPEG (PNG is converted), upright (EXIF), at
most 1440 px wide, at most 8 MB; a story's text is drawn onto it. Videos: a size check and a sniff of
the container (MP4/MOV) and its duration from the first bytes; Instagram fetches the video itself.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from enum import StrEnum

import httpx
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from app.config import Settings
from app.publishing.fetch import Fetched, FetchError, GuardedTransport, fetch
from app.sandbox.synthetic import is_synthetic_host, sniff_video, synthetic_media

MIN_SIDE = 320
MAX_WIDTH = 1440
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MIN_FEED_RATIO = 4 / 5
MAX_FEED_RATIO = 1.91
MAX_PIXELS = 50_000_000
VIDEO_HEAD_BYTES = 256 * 1024
EXIF_ORIENTATION = 0x0112
STORY_VIDEO_MAX_BYTES = 100 * 1024 * 1024

INVALID_IMAGE_FORMAT = "Invalid image format. Supported: JPEG, PNG"
IMAGE_TOO_SMALL = "Image too small (min 320x320)"

# Pillow refuses decompression bombs past twice this; we refuse anything past it with a clear message.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class MediaInvalid(Exception):
    """The media cannot be published; the message is the answer's `error`."""


class ImageUse(StrEnum):
    FEED = "feed"
    STORY = "story"
    CAROUSEL = "carousel"
    COVER = "cover"


@dataclass(frozen=True)
class PreparedImage:
    content: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"


@dataclass(frozen=True)
class CheckedVideo:
    url: str
    container: str
    duration_seconds: float | None
    size: int | None


class MediaFetcher:
    """Fetches client media: synthetic `example.com` media when enabled, else the network behind the guard."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._client = httpx.AsyncClient(
            transport=transport or GuardedTransport(allow_private=settings.media_allow_private_hosts),
            timeout=httpx.Timeout(settings.media_fetch_timeout_seconds, connect=5.0),
            headers={"User-Agent": "instagram-service-media-check/1.0"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, url: str, *, field: str, max_bytes: int, head_only: int | None = None) -> Fetched:
        if self._settings.synthetic_media and is_synthetic_host(url):
            media = synthetic_media(url)
            if media is None:
                raise MediaInvalid(
                    f"{field} could not be fetched: example.com media must end in .jpg, .jpeg, .png, .gif, "
                    ".webp, .mp4 or .mov"
                )
            body = media.content if head_only is None else media.content[:head_only]
            return Fetched(
                url=url,
                content=body,
                content_type=media.content_type,
                declared_size=len(media.content),
                complete=head_only is None,
            )
        try:
            return await fetch(self._client, url, field=field, max_bytes=max_bytes, head_only=head_only)
        except FetchError as exc:
            raise MediaInvalid(str(exc)) from exc

    async def image(self, url: str, *, field: str) -> bytes:
        fetched = await self.get(url, field=field, max_bytes=self._settings.media_max_image_bytes)
        return fetched.content

    async def video(self, url: str, *, field: str, story: bool = False) -> CheckedVideo:
        """Size cap and a container sniff on the first bytes; Instagram downloads the whole video itself."""
        limit = STORY_VIDEO_MAX_BYTES if story else self._settings.media_max_video_bytes
        fetched = await self.get(url, field=field, max_bytes=limit, head_only=VIDEO_HEAD_BYTES)
        size = (
            fetched.declared_size
            if fetched.declared_size is not None
            else (len(fetched.content) if fetched.complete else None)
        )
        if size is not None and size > limit:
            raise MediaInvalid(f"Video too large ({size // (1024 * 1024)} MB; max {limit // (1024 * 1024)} MB)")
        info = sniff_video(fetched.content)
        if info is None:
            raise MediaInvalid("Invalid video format. Supported: MP4, MOV")
        duration = info.duration_seconds
        if duration is not None:
            low, high = (3.0, 60.0) if story else (3.0, 15 * 60.0)
            if not low <= duration <= high:
                allowed = "3 to 60 seconds" if story else "3 seconds to 15 minutes"
                kind = "a story video" if story else "a reel"
                raise MediaInvalid(
                    f"Video duration {duration:.1f} s is outside what Instagram accepts for {kind} ({allowed})"
                )
        return CheckedVideo(url=fetched.url, container=info.container, duration_seconds=duration, size=size)


def prepare_image(data: bytes, use: ImageUse, *, text: str | None = None) -> PreparedImage:
    """Check an image as the seed asks and make it publishable (JPEG, upright, ≤1440 px wide, ≤8 MB)."""
    too_large = MediaInvalid(f"Image too large (more than {MAX_PIXELS // 1_000_000} megapixels)")
    try:
        image = Image.open(io.BytesIO(data))
        image_format = image.format
        # Pillow only refuses past twice its limit (and merely warns below): check the header's size
        # ourselves, before decoding a single pixel.
        if image.width * image.height > MAX_PIXELS:
            raise too_large
        image.load()
    except Image.DecompressionBombError as exc:
        raise too_large from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MediaInvalid(INVALID_IMAGE_FORMAT) from exc
    # MPO is how some cameras wrap a JPEG; Instagram refuses it, so it is re-encoded like a PNG.
    if image_format not in ("JPEG", "PNG", "MPO"):
        raise MediaInvalid(INVALID_IMAGE_FORMAT)
    # exif_transpose returns a copy even when there is nothing to turn, so ask the tag whether to turn.
    needs_turning = image.getexif().get(EXIF_ORIENTATION, 1) not in (0, 1)
    upright = ImageOps.exif_transpose(image) if needs_turning else image
    width, height = upright.size
    if width < MIN_SIDE or height < MIN_SIDE:
        raise MediaInvalid(IMAGE_TOO_SMALL)
    if use in (ImageUse.FEED, ImageUse.CAROUSEL):
        ratio = width / height
        if not MIN_FEED_RATIO - 1e-3 <= ratio <= MAX_FEED_RATIO + 1e-3:
            raise MediaInvalid(
                f"Image aspect ratio {ratio:.2f} ({width}x{height}) is outside Instagram's feed range "
                "4:5 (0.80) to 1.91:1; crop it, or post it as a story"
            )
    unchanged = (
        image_format == "JPEG"
        and not needs_turning
        and width <= MAX_WIDTH
        and image.mode in ("RGB", "L")
        and not text
        and len(data) <= MAX_IMAGE_BYTES
    )
    if unchanged:
        return PreparedImage(content=data, width=width, height=height)
    rgb = _flatten(upright)
    if rgb.width > MAX_WIDTH:
        rgb = rgb.resize((MAX_WIDTH, round(rgb.height * MAX_WIDTH / rgb.width)), Image.Resampling.LANCZOS)
    if text:
        rgb = draw_caption(rgb, text)
    content = _encode_jpeg(rgb)
    return PreparedImage(content=content, width=rgb.width, height=rgb.height)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: transparency has no meaning in a JPEG; 16-bit grey is scaled down, not clipped."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        high = image.getextrema()[1]
        scale = 1 / 256 if image.mode.startswith("I;16") or (isinstance(high, int) and high > 255) else 1.0
        return image.convert("I").point(lambda value: value * scale).convert("L").convert("RGB")
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode_jpeg(image: Image.Image) -> bytes:
    for quality in (90, 82, 74, 66):
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality, optimize=True)
        if buffer.tell() <= MAX_IMAGE_BYTES:
            return buffer.getvalue()
    raise MediaInvalid("Image is larger than Instagram's 8 MB limit even after compression")


def draw_caption(image: Image.Image, text: str) -> Image.Image:
    """Draw a story's text onto the image: centred lines on a translucent band (the API has no text stickers)."""
    canvas = image.convert("RGBA")
    width, height = canvas.size
    font_size = max(24, width // 18)
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    try:
        font = ImageFont.load_default(size=font_size)
    except (OSError, TypeError):
        font = ImageFont.load_default()
    measure = ImageDraw.Draw(canvas)
    average = max(1.0, measure.textlength("abcdefghijklmnopqrstuvwxyz", font=font) / 26)
    lines = textwrap.wrap(text, width=max(8, int(width * 0.85 / average))) or [text]
    line_height = int(font_size * 1.3)
    band_height = line_height * len(lines) + font_size
    top = max(0, (height - band_height) // 2)
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, top, width, top + band_height), fill=(0, 0, 0, 140))
    y = top + font_size // 2
    for line in lines:
        line_width = draw.textlength(line, font=font)
        draw.text(((width - line_width) / 2, y), line, font=font, fill=(255, 255, 255, 255))
        y += line_height
    return Image.alpha_composite(canvas, overlay).convert("RGB")

"""Image checks and fitting, before any container is created (seed scenario 3).

An image is opened with Pillow on its bytes, checked with the seed's messages, and turned into what
Instagram accepts: a JPEG (PNG is converted), upright (EXIF), at most 1440 px wide, at most 8 MB; a story's
text is drawn onto it. An image outside the kind's aspect ratios is refused, or (`Fit.CROP`, `Fit.PAD`)
centre-cropped or padded into the nearest allowed ratio: 4:5–1.91:1 for the feed, 9:16 for a story.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from app.media.errors import MediaInvalid

if TYPE_CHECKING:
    # Pillow is imported by the functions that use it: a process that never prepares an image never loads it.
    from PIL import Image

MIN_SIDE = 320
MAX_WIDTH = 1440
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MIN_FEED_RATIO = 4 / 5
MAX_FEED_RATIO = 1.91
STORY_RATIO = 9 / 16
MAX_PIXELS = 50_000_000
EXIF_ORIENTATION = 0x0112

INVALID_IMAGE_FORMAT = "Invalid image format. Supported: JPEG, PNG"
IMAGE_TOO_SMALL = "Image too small (min 320x320)"


class ImageUse(StrEnum):
    FEED = "feed"
    STORY = "story"
    CAROUSEL = "carousel"
    COVER = "cover"


class Fit(StrEnum):
    """What to do with an image outside the allowed aspect ratios."""

    REFUSE = "refuse"
    CROP = "crop"
    PAD = "pad"


@dataclass(frozen=True)
class PreparedImage:
    content: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"


def prepare_image(
    data: bytes,
    use: ImageUse,
    *,
    text: str | None = None,
    fit: Fit = Fit.REFUSE,
    pad_color: str = "#FFFFFF",
) -> PreparedImage:
    """Check an image as the seed asks and make it publishable (JPEG, upright, ≤1440 px wide, ≤8 MB), fitted
    into the use's aspect ratios when `fit` says so."""
    from PIL import Image, ImageOps

    image, image_format, needs_turning = _open_checked(data)
    upright = ImageOps.exif_transpose(image) if needs_turning else image
    width, height = upright.size
    target = _ratio_range(use, fit)
    fitted = False
    if target is not None and not target[0] - 1e-3 <= width / height <= target[1] + 1e-3:
        if fit == Fit.REFUSE:
            raise MediaInvalid(
                f"Image aspect ratio {width / height:.2f} ({width}x{height}) is outside Instagram's feed range "
                '4:5 (0.80) to 1.91:1; crop it, send "fit": "crop" or "pad", or post it as a story'
            )
        upright = fit_into(upright, target, fit, pad_color)
        width, height = upright.size
        if width < MIN_SIDE or height < MIN_SIDE:
            raise MediaInvalid(
                f"Image cropped into the allowed aspect ratio would be {width}x{height}, under Instagram's "
                f'{MIN_SIDE}x{MIN_SIDE}; send "fit": "pad" instead'
            )
        fitted = True
    unchanged = (
        not fitted
        and image_format == "JPEG"
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


def open_image(data: bytes) -> Image.Image:
    """Pillow's lazy open (the header only), with our pixel limit set first. Raises what Image.open raises."""
    from PIL import Image

    # Pillow refuses decompression bombs past twice this; we refuse anything past it with a clear message.
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    return Image.open(io.BytesIO(data))


def _open_checked(data: bytes) -> tuple[Image.Image, str, bool]:
    """The decoded image, its format and whether EXIF says to turn it; the seed's messages for what is not a
    JPEG or PNG of at least 320x320 (judged upright)."""
    from PIL import Image, UnidentifiedImageError

    too_large = MediaInvalid(f"Image too large (more than {MAX_PIXELS // 1_000_000} megapixels)")
    try:
        image = open_image(data)
        image_format = image.format or ""
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
    width, height = image.size
    if needs_turning and image.getexif().get(EXIF_ORIENTATION) in (5, 6, 7, 8):
        width, height = height, width
    if width < MIN_SIDE or height < MIN_SIDE:
        raise MediaInvalid(IMAGE_TOO_SMALL)
    return image, image_format, needs_turning


def inspect_image(data: bytes) -> tuple[int, int, str]:
    """(width, height, format) of an image that passes the checks every use shares (the seed's formats and
    sizes; the aspect ratio depends on the use and is judged when it is published)."""
    image, image_format, needs_turning = _open_checked(data)
    width, height = image.size
    if needs_turning and image.getexif().get(EXIF_ORIENTATION) in (5, 6, 7, 8):
        width, height = height, width
    return width, height, image_format


def _ratio_range(use: ImageUse, fit: Fit) -> tuple[float, float] | None:
    """The aspect ratios (width / height) an image for `use` must have; None when any will do."""
    if use in (ImageUse.FEED, ImageUse.CAROUSEL):
        return MIN_FEED_RATIO, MAX_FEED_RATIO
    if use == ImageUse.STORY and fit != Fit.REFUSE:
        # Instagram takes any story image and advises 9:16; asked to fit, the image is framed at exactly 9:16.
        return STORY_RATIO, STORY_RATIO
    return None


def fit_into(image: Image.Image, ratios: tuple[float, float], fit: Fit, pad_color: str) -> Image.Image:
    """The image centre-cropped (`Fit.CROP`) or padded (`Fit.PAD`) into the nearest ratio of `ratios`."""
    from PIL import Image

    width, height = image.size
    ratio = min(max(width / height, ratios[0]), ratios[1])
    if fit == Fit.CROP:
        if width / height > ratio:  # too wide: keep the full height
            new_width = max(1, round(height * ratio))
            left = (width - new_width) // 2
            return image.crop((left, 0, left + new_width, height))
        new_height = max(1, round(width / ratio))
        top = (height - new_height) // 2
        return image.crop((0, top, width, top + new_height))
    if width / height > ratio:  # too wide: pad above and below
        size = (width, max(height, round(width / ratio)))
    else:
        size = (max(width, round(height * ratio)), height)
    canvas = Image.new("RGB", size, _rgb(pad_color))
    flat = _flatten(image)
    canvas.paste(flat, ((size[0] - width) // 2, (size[1] - height) // 2))
    return canvas


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: transparency has no meaning in a JPEG; 16-bit grey is scaled down, not clipped."""
    from PIL import Image

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
    from PIL import Image, ImageDraw, ImageFont

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

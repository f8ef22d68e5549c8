"""Media checks: Pillow checks and conversions (`prepare_image`) and the media fetcher (`MediaFetcher`).

Images are made in memory (Pillow, or the sandbox's `render_image`); fetches use either the synthetic
example.com media or a tiny HTTP server on 127.0.0.1. No test ever connects anywhere but loopback: an autouse
fixture wraps httpcore's network backend and fails the test on any other address.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from PIL import Image, ImageChops

from app.media import images
from app.media.errors import MediaInvalid
from app.media.fetch import GuardedNetworkBackend, GuardedTransport
from app.media.fetcher import MediaFetcher
from app.media.images import ImageUse, PreparedImage, prepare_image
from app.media.synthetic import build_video, render_image, synthetic_media
from app.media.video import VideoKind
from tests.conftest import make_settings
from tests.media.loopback import LoopbackServer, Reply

INVALID_FORMAT = "Invalid image format. Supported: JPEG, PNG"
TOO_SMALL = "Image too small (min 320x320)"
INVALID_VIDEO = "Invalid video format. Supported: MP4, MOV"
DB = "sqlite+aiosqlite://"
MB = 1024 * 1024


# --- helpers --------------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def solid(width: int, height: int, colour: tuple[int, ...] = (30, 120, 200), mode: str = "RGB") -> Image.Image:
    return Image.new(mode, (width, height), colour)


def jpeg(width: int, height: int) -> bytes:
    return render_image(f"test-{width}x{height}", width, height, "JPEG")


def decode(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


def assert_jpeg(prepared: PreparedImage, size: tuple[int, int]) -> Image.Image:
    """The prepared image is a real JPEG of that size, and says so."""
    assert prepared.content_type == "image/jpeg"
    assert (prepared.width, prepared.height) == size
    image = decode(prepared.content)
    assert image.format == "JPEG"
    assert image.size == size
    return image


def close_to(actual: Any, expected: tuple[int, int, int], tolerance: int = 10) -> bool:
    assert isinstance(actual, tuple)
    return all(abs(int(a) - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that only claims a size (IHDR, a few bytes of IDAT): a decompression bomb's opening."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(16))) + chunk(b"IEND", b"")


# --- prepare_image: formats -----------------------------------------------------------------------


def test_png_is_converted_to_jpeg_of_the_same_size() -> None:
    source = render_image("png-source", 640, 480, "PNG")
    assert decode(source).format == "PNG"

    prepared = prepare_image(source, ImageUse.FEED)

    image = assert_jpeg(prepared, (640, 480))
    assert image.mode == "RGB"
    assert prepared.content != source


def test_mpo_is_reencoded_as_plain_jpeg() -> None:
    source = encode(solid(400, 400), "MPO", save_all=True, append_images=[solid(400, 400, (0, 0, 0))])
    assert decode(source).format == "MPO"

    prepared = prepare_image(source, ImageUse.FEED)

    assert_jpeg(prepared, (400, 400))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(render_image("gif", 400, 400, "GIF"), id="gif"),
        pytest.param(render_image("webp", 400, 400, "WEBP"), id="webp"),
        pytest.param(encode(solid(400, 400), "BMP"), id="bmp"),
        pytest.param(encode(solid(400, 400), "TIFF"), id="tiff"),
        pytest.param(random.Random(1234).randbytes(4096), id="random-bytes"),
        pytest.param(b"", id="empty"),
        pytest.param(b"GIF89a" + bytes(64), id="gif-magic-only"),
        pytest.param(jpeg(400, 400)[:600], id="truncated-jpeg"),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg' width='400' height='400'/>", id="svg"),
    ],
)
@pytest.mark.parametrize("use", list(ImageUse))
def test_unsupported_or_broken_images_get_the_exact_format_message(data: bytes, use: ImageUse) -> None:
    with pytest.raises(MediaInvalid) as caught:
        prepare_image(data, use)
    assert str(caught.value) == INVALID_FORMAT


# --- prepare_image: size and aspect ratio ---------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(200, 200), (320, 319), (319, 320), (1, 5000), (5000, 100)])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("use", [ImageUse.FEED, ImageUse.STORY])
def test_images_under_320_pixels_get_the_exact_too_small_message(
    width: int, height: int, fmt: str, use: ImageUse
) -> None:
    data = encode(solid(width, height), fmt)
    with pytest.raises(MediaInvalid) as caught:
        prepare_image(data, use)
    assert str(caught.value) == TOO_SMALL


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_320x320_is_accepted(fmt: str) -> None:
    prepared = prepare_image(encode(solid(320, 320), fmt), ImageUse.FEED)
    assert_jpeg(prepared, (320, 320))


@pytest.mark.parametrize("use", [ImageUse.FEED, ImageUse.CAROUSEL])
@pytest.mark.parametrize(("width", "height"), [(1200, 400), (1920, 1000), (1000, 1260), (400, 1200)])
def test_feed_and_carousel_refuse_ratios_outside_4_5_to_1_91(use: ImageUse, width: int, height: int) -> None:
    with pytest.raises(MediaInvalid) as caught:
        prepare_image(jpeg(width, height), use)
    message = str(caught.value)
    assert "4:5" in message
    assert "1.91:1" in message
    assert f"{width}x{height}" in message


@pytest.mark.parametrize("use", [ImageUse.FEED, ImageUse.CAROUSEL])
@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1080, 1350, (1080, 1350)),  # exactly 4:5
        (1910, 1000, (1440, 754)),  # exactly 1.91:1, then downscaled
        (1080, 1080, (1080, 1080)),
    ],
)
def test_feed_and_carousel_accept_ratios_within_range(
    use: ImageUse, width: int, height: int, expected: tuple[int, int]
) -> None:
    assert_jpeg(prepare_image(jpeg(width, height), use), expected)


@pytest.mark.parametrize("use", [ImageUse.STORY, ImageUse.COVER])
def test_story_and_cover_accept_any_ratio(use: ImageUse) -> None:
    assert_jpeg(prepare_image(jpeg(1200, 400), use), (1200, 400))
    assert_jpeg(prepare_image(jpeg(400, 1200), use), (400, 1200))


@pytest.mark.parametrize(
    ("width", "height", "use", "expected"),
    [
        (3000, 2000, ImageUse.FEED, (1440, 960)),
        (3000, 1000, ImageUse.STORY, (1440, 480)),
        (2000, 2500, ImageUse.CAROUSEL, (1440, 1800)),
        (1441, 1441, ImageUse.FEED, (1440, 1440)),
        (1440, 1440, ImageUse.FEED, (1440, 1440)),
    ],
)
def test_wide_images_are_downscaled_to_1440_keeping_the_ratio(
    width: int, height: int, use: ImageUse, expected: tuple[int, int]
) -> None:
    source = encode(solid(width, height), "JPEG")
    assert_jpeg(prepare_image(source, use), expected)


# --- prepare_image: orientation, transparency, pass-through ---------------------------------------


def _oriented_jpeg(width: int, height: int, orientation: int) -> bytes:
    """A black JPEG with a red block in its stored top-left corner and an EXIF orientation."""
    image = solid(width, height, (0, 0, 0))
    image.paste((255, 0, 0), (0, 0, 40, 40))
    exif = image.getexif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", exif=exif.tobytes(), quality=95)


def test_exif_orientation_6_is_applied() -> None:
    source = _oriented_jpeg(400, 320, 6)
    assert decode(source).size == (400, 320)

    prepared = prepare_image(source, ImageUse.STORY)

    image = assert_jpeg(prepared, (320, 400))
    # Orientation 6 means "rotate 90° clockwise to view": the stored top-left corner ends top-right.
    assert close_to(image.getpixel((300, 20)), (255, 0, 0), tolerance=40)
    assert close_to(image.getpixel((20, 20)), (0, 0, 0), tolerance=40)
    assert image.getexif().get(0x0112) in (None, 1)


def test_aspect_ratio_is_judged_on_the_upright_image() -> None:
    # Stored 500x400 (1.25, fine), shown 400x500 (0.8, still fine).
    assert_jpeg(prepare_image(_oriented_jpeg(500, 400, 6), ImageUse.FEED), (400, 500))
    # Stored 1200x400 (3.0), shown 400x1200 (0.33): refused for the feed, named by its upright size.
    with pytest.raises(MediaInvalid, match=r"400x1200"):
        prepare_image(_oriented_jpeg(1200, 400, 8), ImageUse.FEED)


def test_transparent_png_is_flattened_on_white() -> None:
    image = Image.new("RGBA", (400, 400), (255, 0, 0, 0))  # fully transparent red
    image.paste((0, 0, 255, 255), (150, 150, 250, 250))  # an opaque blue square
    prepared = prepare_image(encode(image, "PNG"), ImageUse.FEED)

    result = assert_jpeg(prepared, (400, 400))
    assert result.mode == "RGB"
    assert close_to(result.getpixel((5, 5)), (255, 255, 255))
    assert close_to(result.getpixel((395, 395)), (255, 255, 255))
    assert close_to(result.getpixel((200, 200)), (0, 0, 255))


def test_half_transparent_pixels_are_blended_with_white() -> None:
    image = Image.new("RGBA", (400, 400), (0, 0, 0, 128))
    result = assert_jpeg(prepare_image(encode(image, "PNG"), ImageUse.FEED), (400, 400))
    assert close_to(result.getpixel((200, 200)), (127, 127, 127), tolerance=6)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(encode(Image.new("LA", (400, 400), (0, 0)), "PNG"), id="LA"),
        pytest.param(encode(Image.new("P", (400, 400), 0), "PNG", transparency=0), id="P-with-transparency"),
    ],
)
def test_other_transparent_modes_are_flattened_on_white(data: bytes) -> None:
    result = assert_jpeg(prepare_image(data, ImageUse.FEED), (400, 400))
    assert close_to(result.getpixel((200, 200)), (255, 255, 255))


@pytest.mark.parametrize("mode", ["L", "CMYK", "1"])
def test_other_modes_become_rgb_jpeg(mode: str) -> None:
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    colour: tuple[int, ...] = {"L": (90,), "CMYK": (0, 0, 0, 0), "1": (1,)}[mode]
    prepared = prepare_image(encode(solid(400, 400, colour, mode), fmt), ImageUse.FEED)
    image = assert_jpeg(prepared, (400, 400))
    assert image.mode in ("RGB", "L")


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_good_small_jpeg_passes_through_byte_for_byte(mode: str) -> None:
    colour: tuple[int, ...] = (30, 120, 200) if mode == "RGB" else (90,)
    source = encode(solid(400, 500, colour, mode), "JPEG", quality=80)

    prepared = prepare_image(source, ImageUse.FEED)

    assert (prepared.width, prepared.height) == (400, 500)
    assert prepared.content == source


def test_a_good_small_jpeg_is_still_published_at_its_size() -> None:
    """A good JPEG comes out as the same picture at its size, as a JPEG."""
    source = jpeg(800, 1000)
    prepared = prepare_image(source, ImageUse.FEED)
    image = assert_jpeg(prepared, (800, 1000))
    difference = ImageChops.difference(image.convert("RGB"), decode(source).convert("RGB"))
    _, worst = difference.convert("L").getextrema()
    assert isinstance(worst, int | float)
    assert worst < 64


# --- prepare_image: story text --------------------------------------------------------------------


def test_story_text_is_drawn_and_keeps_the_size() -> None:
    # A PNG, so that both versions go through the same JPEG encoding and differ only where the text is.
    source = encode(decode(jpeg(720, 1280)), "PNG")
    plain = decode(prepare_image(source, ImageUse.STORY).content).convert("RGB")

    prepared = prepare_image(source, ImageUse.STORY, text="Back in 5 minutes!")

    with_text = assert_jpeg(prepared, (720, 1280)).convert("RGB")
    box = ImageChops.difference(plain, with_text).getbbox()
    assert box is not None, "the text changed no pixel"
    left, top, right, bottom = box
    # A band across the middle, not the whole picture.
    assert top > 0
    assert bottom < 1280
    assert right - left > 600


def test_story_text_on_a_wide_image_is_drawn_after_the_downscale() -> None:
    prepared = prepare_image(encode(solid(1500, 2000), "JPEG"), ImageUse.STORY, text="Sale")
    assert_jpeg(prepared, (1440, 1920))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("lorem ipsum dolor sit amet " * 400, id="10k-chars-of-words"),
        pytest.param("x" * 3000, id="one-3000-char-word"),
        pytest.param("Café ☕ 🎉 日本語 — ok\nsecond line\ttab", id="unicode-and-controls"),
        pytest.param("   ", id="only-spaces"),
    ],
)
def test_story_text_of_any_length_still_gives_the_same_size(text: str) -> None:
    prepared = prepare_image(jpeg(400, 700), ImageUse.STORY, text=text)
    assert_jpeg(prepared, (400, 700))


# --- prepare_image: decompression bombs -----------------------------------------------------------


def test_a_png_claiming_20000x20000_is_refused_as_too_large() -> None:
    with pytest.raises(MediaInvalid) as caught:
        prepare_image(png_header_only(20000, 20000), ImageUse.STORY)
    assert str(caught.value) == "Image too large (more than 50 megapixels)"


def test_an_image_far_past_the_pixel_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # The module sets Image.MAX_IMAGE_PIXELS = MAX_PIXELS on import; the same, scaled down to stay fast.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    monkeypatch.setattr(images, "MAX_PIXELS", 100_000)
    with pytest.raises(MediaInvalid, match=r"^Image too large"):
        prepare_image(encode(solid(800, 800), "PNG"), ImageUse.STORY)  # 640 000 pixels, 6.4x the limit


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_an_image_between_one_and_two_times_the_pixel_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    monkeypatch.setattr(images, "MAX_PIXELS", 100_000)
    with pytest.raises(MediaInvalid, match=r"^Image too large"):
        prepare_image(encode(solid(400, 400), "PNG"), ImageUse.STORY)  # 160 000 pixels, 1.6x the limit


def test_a_16_bit_grayscale_png_keeps_its_tone() -> None:
    source = encode(Image.new("I;16", (400, 400), 32768), "PNG")
    result = assert_jpeg(prepare_image(source, ImageUse.FEED), (400, 400))
    assert close_to(result.getpixel((200, 200)), (128, 128, 128), tolerance=8)


# --- the loopback-only guard, and a tiny HTTP server ----------------------------------------------


@asynccontextmanager
async def media_fetcher(**overrides: Any) -> AsyncIterator[MediaFetcher]:
    fetcher = MediaFetcher(make_settings(DB, **overrides))
    try:
        yield fetcher
    finally:
        await fetcher.aclose()


@pytest.fixture(scope="module")
async def synthetic() -> AsyncIterator[MediaFetcher]:
    """One fetcher for all synthetic tests (building one costs two TLS contexts)."""
    async with media_fetcher(synthetic_media=True) as fetcher:
        yield fetcher


def network(**overrides: Any) -> dict[str, Any]:
    """Settings for fetches from the loopback server: real network path, private hosts allowed."""
    return {"synthetic_media": False, "media_allow_private_hosts": True, **overrides}


# --- MediaFetcher: synthetic example.com media ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "size", "fmt"),
    [
        ("https://example.com/photo.jpg", (1080, 1080), "JPEG"),
        ("https://example.com/a_200x200.jpg", (200, 200), "JPEG"),
        ("https://cdn.example.com/b_1080x1350.jpeg", (1080, 1350), "JPEG"),
        ("https://example.com/c_640x480.png", (640, 480), "PNG"),
    ],
)
async def test_synthetic_images_are_served_without_network(
    synthetic: MediaFetcher, connect_attempts: list[tuple[str, int]], url: str, size: tuple[int, int], fmt: str
) -> None:
    content = await synthetic.image(url, field="image_url")

    expected = synthetic_media(url)
    assert expected is not None
    assert content == expected.content
    image = decode(content)
    assert (image.format, image.size) == (fmt, size)
    assert connect_attempts == []


async def test_a_synthetic_200x200_image_then_fails_preparation(synthetic: MediaFetcher) -> None:
    content = await synthetic.image("https://example.com/a_200x200.jpg", field="image_url")
    with pytest.raises(MediaInvalid) as caught:
        prepare_image(content, ImageUse.FEED)
    assert str(caught.value) == TOO_SMALL


@pytest.mark.parametrize(
    "url", ["https://example.com/doc.txt", "https://example.com/photo", "https://example.com/a.bmp"]
)
async def test_synthetic_unknown_extension_could_not_be_fetched(synthetic: MediaFetcher, url: str) -> None:
    with pytest.raises(MediaInvalid) as caught:
        await synthetic.image(url, field="image_url")
    message = str(caught.value)
    assert message.startswith("image_url could not be fetched")
    assert ".jpg" in message
    assert ".mp4" in message


@pytest.mark.parametrize(
    ("url", "container", "duration"),
    [
        ("https://example.com/clip_10s.mp4", "mp4", 10.0),
        ("https://example.com/clip_10s.mov", "mov", 10.0),
        ("https://example.com/clip.mp4", "mp4", 15.0),  # the synthetic default
        ("https://example.com/edge_3s.mp4", "mp4", 3.0),
        ("https://example.com/edge_900s.mp4", "mp4", 900.0),
    ],
)
async def test_synthetic_reels_are_probed(synthetic: MediaFetcher, url: str, container: str, duration: float) -> None:
    checked = await synthetic.video(url, field="video_url")

    expected = synthetic_media(url)
    assert expected is not None
    assert checked.url == url
    assert checked.container == container
    assert checked.duration_seconds == pytest.approx(duration)
    assert checked.size == len(expected.content)


@pytest.mark.parametrize(
    ("url", "story", "needle"),
    [
        ("https://example.com/short_1s.mp4", False, "Video duration 1.0 s"),
        ("https://example.com/short_2.9s.mp4", False, "3 seconds to 15 minutes"),
        ("https://example.com/long_901s.mp4", False, "for a reel (3 seconds to 15 minutes)"),
        ("https://example.com/story_90s.mp4", True, "Video duration 90.0 s"),
        ("https://example.com/story_90s.mov", True, "for a story video (3 to 60 seconds)"),
        ("https://example.com/story_2s.mp4", True, "3 to 60 seconds"),
    ],
)
async def test_synthetic_videos_outside_the_duration_bounds_are_refused(
    synthetic: MediaFetcher, url: str, story: bool, needle: str
) -> None:
    with pytest.raises(MediaInvalid) as caught:
        await synthetic.video(url, field="video_url", kind=VideoKind.STORY if story else VideoKind.REEL)
    assert needle in str(caught.value)


@pytest.mark.parametrize("url", ["https://example.com/s_3s.mp4", "https://example.com/s_60s.mov"])
async def test_synthetic_story_videos_at_the_bounds_are_accepted(synthetic: MediaFetcher, url: str) -> None:
    checked = await synthetic.video(url, field="video_url", kind=VideoKind.STORY)
    assert checked.duration_seconds in (3.0, 60.0)


@pytest.mark.parametrize(
    "url", ["https://example.com/photo.jpg", "https://example.com/photo.png", "https://example.com/anim.gif"]
)
async def test_an_image_given_as_a_video_is_an_invalid_video_format(synthetic: MediaFetcher, url: str) -> None:
    with pytest.raises(MediaInvalid) as caught:
        await synthetic.video(url, field="video_url")
    assert str(caught.value) == INVALID_VIDEO


# --- MediaFetcher: the network path, against a loopback server ------------------------------------


async def test_an_image_is_fetched_from_the_network(server: LoopbackServer) -> None:
    body = jpeg(500, 500)
    server.routes["/photo.jpg"] = Reply(body=body, headers={"Content-Type": "image/jpeg"})

    async with media_fetcher(**network()) as fetcher:
        content = await fetcher.image(server.url("/photo.jpg"), field="image_url")

    assert content == body
    assert server.paths == ["/photo.jpg"]


async def test_a_chunked_image_at_exactly_the_limit_is_fetched(server: LoopbackServer) -> None:
    server.routes["/exact"] = Reply(body=bytes(4096), chunked=True)
    async with media_fetcher(**network(media_max_image_bytes=4096)) as fetcher:
        content = await fetcher.image(server.url("/exact"), field="image_url")
    assert len(content) == 4096


async def test_private_hosts_are_refused_by_default(server: LoopbackServer) -> None:
    server.routes["/photo.jpg"] = Reply(body=jpeg(500, 500))
    async with media_fetcher(synthetic_media=False) as fetcher:
        with pytest.raises(MediaInvalid) as caught:
            await fetcher.image(server.url("/photo.jpg"), field="image_url")
    assert str(caught.value) == "image_url points to a private or internal address, which is not allowed"
    assert server.connections == 0


async def test_an_image_declared_larger_than_the_limit_is_refused(server: LoopbackServer) -> None:
    server.routes["/big.jpg"] = Reply(body=bytes(10_000))
    async with media_fetcher(**network(media_max_image_bytes=4096)) as fetcher:
        with pytest.raises(MediaInvalid) as caught:
            await fetcher.image(server.url("/big.jpg"), field="image_url")
    assert str(caught.value) == "image_url is too large (10000 bytes; the limit is 4096 bytes)"


async def test_an_image_streamed_larger_than_the_limit_is_refused(server: LoopbackServer) -> None:
    server.routes["/big.jpg"] = Reply(body=bytes(10_000), chunked=True)
    async with media_fetcher(**network(media_max_image_bytes=4096)) as fetcher:
        with pytest.raises(MediaInvalid) as caught:
            await fetcher.image(server.url("/big.jpg"), field="image_url")
    assert str(caught.value) == "image_url is too large (the limit is 4096 bytes)"


async def test_a_body_longer_than_its_content_length_is_cut_at_the_declared_length(server: LoopbackServer) -> None:
    """A server announcing a small Content-Length cannot slip a bigger body past the limit: h11 stops there."""
    server.routes["/liar.jpg"] = Reply(body=bytes(10_000), declared_length=100, stall_after=True)
    async with media_fetcher(**network(media_max_image_bytes=4096, media_fetch_timeout_seconds=1.0)) as fetcher:
        content = await fetcher.image(server.url("/liar.jpg"), field="image_url")
    assert content == bytes(100)


@pytest.mark.parametrize("status", [404, 500])
async def test_http_errors_name_the_status(server: LoopbackServer, status: int) -> None:
    server.routes["/missing.jpg"] = Reply(status=status, body=b"nope")
    async with media_fetcher(**network()) as fetcher:
        with pytest.raises(MediaInvalid) as caught:
            await fetcher.image(server.url("/missing.jpg"), field="image_url")
    assert str(caught.value) == f"image_url could not be fetched (HTTP {status})"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(stall_before=True), id="no-answer"),
        pytest.param(Reply(body=bytes(100), declared_length=5000, stall_after=True), id="stalls-mid-body"),
    ],
)
async def test_a_slow_server_times_out(server: LoopbackServer, reply: Reply) -> None:
    server.routes["/slow.jpg"] = reply
    async with media_fetcher(**network(media_fetch_timeout_seconds=0.1)) as fetcher:
        with pytest.raises(MediaInvalid) as caught:
            await fetcher.image(server.url("/slow.jpg"), field="image_url")
    assert str(caught.value) == "image_url could not be fetched: the server did not answer in time"


def _video_head(total: int) -> bytes:
    head = build_video(1080, 1920, 20.0, "mp4")
    return head + bytes(total - len(head))


@pytest.mark.parametrize(
    ("story", "declared", "overrides", "message"),
    [
        (False, 5 * MB, {"media_max_video_bytes": MB}, "Video too large (5 MB; max 1 MB)"),
        (True, 150 * MB, {}, "Video too large (150 MB; max 100 MB)"),
    ],
)
async def test_a_video_declared_over_the_cap_is_refused_from_its_head(
    server: LoopbackServer, story: bool, declared: int, overrides: dict[str, Any], message: str
) -> None:
    # Only 512 KiB exist: had the fetcher tried to read the declared size, it would time out instead.
    server.routes["/clip.mp4"] = Reply(body=_video_head(512 * 1024), declared_length=declared, stall_after=True)
    async with media_fetcher(**network(media_fetch_timeout_seconds=2.0, **overrides)) as fetcher:
        with pytest.raises(MediaInvalid) as caught:
            await fetcher.video(
                server.url("/clip.mp4"), field="video_url", kind=VideoKind.STORY if story else VideoKind.REEL
            )
    assert str(caught.value) == message


async def test_a_video_within_the_cap_is_probed_from_the_network(server: LoopbackServer) -> None:
    body = _video_head(600 * 1024)
    server.routes["/clip.mp4"] = Reply(body=body, headers={"Content-Type": "video/mp4"})
    async with media_fetcher(**network()) as fetcher:
        checked = await fetcher.video(server.url("/clip.mp4"), field="video_url")
    assert (checked.container, checked.duration_seconds, checked.size) == ("mp4", 20.0, len(body))


async def test_a_small_chunked_video_is_measured_from_its_body(server: LoopbackServer) -> None:
    body = build_video(720, 1280, 30.0, "mov")
    server.routes["/clip.mov"] = Reply(body=body, chunked=True)
    async with media_fetcher(**network()) as fetcher:
        checked = await fetcher.video(server.url("/clip.mov"), field="video_url", kind=VideoKind.STORY)
    assert (checked.container, checked.duration_seconds, checked.size) == ("mov", 30.0, len(body))


async def _refuse_resolution(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} should never have been resolved")


async def test_a_malformed_url_is_media_invalid() -> None:
    settings = make_settings(DB, synthetic_media=True)
    fetcher = MediaFetcher(
        settings, GuardedTransport(GuardedNetworkBackend(allow_private=False, resolve=_refuse_resolution))
    )
    try:
        with pytest.raises(MediaInvalid):
            await fetcher.image("http://[::1/photo.jpg", field="image_url")
    finally:
        await fetcher.aclose()


async def test_a_fetcher_uses_the_transport_it_is_given() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=b"abc")

    fetcher = MediaFetcher(make_settings(DB, synthetic_media=False), httpx.MockTransport(handler))
    try:
        assert await fetcher.image("https://media.test/x.jpg", field="image_url") == b"abc"
    finally:
        await fetcher.aclose()
    assert seen == ["https://media.test/x.jpg"]

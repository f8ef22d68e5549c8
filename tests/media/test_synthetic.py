"""Synthetic media for example.com URLs: pictures, and real videos FFmpeg probes like any client's."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image

from app.media.synthetic import build_video, is_synthetic_host, synthetic_media
from app.media.video import VideoKind, probe_video, video_problem


def _image(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


class TestHosts:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("https://example.com/a.jpg", True),
            ("http://cdn.example.com/x/y.mp4", True),
            ("https://EXAMPLE.COM/a.jpg", True),
            ("https://notexample.com/a.jpg", False),
            ("https://example.com.evil.net/a.jpg", False),
            ("https://images.unsplash.com/a.jpg", False),
            ("not a url", False),
        ],
    )
    def test_is_synthetic_host(self, url: str, expected: bool) -> None:
        assert is_synthetic_host(url) is expected

    def test_other_hosts_are_not_synthetic(self) -> None:
        assert synthetic_media("https://images.example.org/photo.jpg") is None

    @pytest.mark.parametrize("name", ["doc.pdf", "page.html", "noextension", "clip.avi", ""])
    def test_unknown_extension_is_not_fetchable(self, name: str) -> None:
        assert synthetic_media(f"https://example.com/{name}") is None


class TestImages:
    def test_jpeg_default_size_and_not_blank(self) -> None:
        media = synthetic_media("https://example.com/photo.jpg")
        assert media is not None
        assert media.content_type == "image/jpeg"
        assert media.content.startswith(b"\xff\xd8\xff")
        image = _image(media.content)
        assert image.format == "JPEG"
        assert image.size == (1080, 1080) == (media.width, media.height)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 10  # a drawing, not a flat fill
        assert media.duration_seconds is None

    @pytest.mark.parametrize(
        ("extension", "fmt", "content_type"),
        [
            ("jpg", "JPEG", "image/jpeg"),
            ("jpeg", "JPEG", "image/jpeg"),
            ("png", "PNG", "image/png"),
            ("gif", "GIF", "image/gif"),
            ("webp", "WEBP", "image/webp"),
        ],
    )
    def test_format_by_extension_and_size_hint(self, extension: str, fmt: str, content_type: str) -> None:
        media = synthetic_media(f"https://example.com/dir/banner_200x300_v2.{extension}")
        assert media is not None
        assert media.content_type == content_type
        image = _image(media.content)
        assert image.format == fmt
        assert image.size == (200, 300)

    def test_query_string_and_case_are_ignored(self) -> None:
        media = synthetic_media("https://www.example.com/PHOTO_640x480.JPG?version=3")
        assert media is not None
        assert (media.width, media.height) == (640, 480)

    def test_deterministic_and_cached(self) -> None:
        first = synthetic_media("https://example.com/same.jpg")
        second = synthetic_media("https://example.com/same.jpg")
        assert first is second
        other = synthetic_media("https://example.com/other.jpg")
        assert first is not None and other is not None
        assert first.content != other.content


class TestVideos:
    def test_a_real_mp4_with_moov_first(self) -> None:
        media = synthetic_media("https://example.com/clip.mp4")
        assert media is not None
        assert media.content_type == "video/mp4"
        content = media.content
        assert content[4:8] == b"ftyp"
        assert content.index(b"moov") < content.index(b"mdat")  # fast start, as Instagram wants
        probe = probe_video(content)
        assert (probe.container, probe.video_codec, probe.audio_codec) == ("mp4", "h264", "aac")
        assert (probe.width, probe.height, probe.duration_seconds, probe.frame_rate) == (1080, 1920, 15.0, 30.0)
        assert probe.pixel_format == "yuv420p"
        assert video_problem(probe, VideoKind.REEL) is None
        assert len(content) < 200 * 1024  # small: a flat colour, one encoded second repeated

    def test_every_frame_decodes(self) -> None:
        media = synthetic_media("https://example.com/clip_320x568_4s.mp4")
        assert media is not None
        with av.open(io.BytesIO(media.content), mode="r") as container:
            frames = len(list(container.decode(video=0)))
        assert frames == 4 * 30

    def test_hints_set_duration_and_size(self) -> None:
        media = synthetic_media("https://example.com/reel_720x1280_90s.mp4")
        assert media is not None
        probe = probe_video(media.content)
        assert (probe.container, probe.duration_seconds, probe.width, probe.height) == ("mp4", 90.0, 720, 1280)

    def test_mov(self) -> None:
        media = synthetic_media("https://example.com/clip_2.5s.mov")
        assert media is not None
        assert media.content_type == "video/quicktime"
        probe = probe_video(media.content)
        assert (probe.container, probe.duration_seconds) == ("mov", 2.5)

    @pytest.mark.parametrize(
        ("name", "field", "value"),
        [
            ("x_24fps.mp4", "frame_rate", 24.0),
            ("x_mpeg4.mp4", "video_codec", "mpeg4"),
            ("x_silent.mp4", "audio_codec", None),
            ("x_mp3.mp4", "audio_codec", "mp3"),
        ],
    )
    def test_hints_make_what_instagram_refuses(self, name: str, field: str, value: object) -> None:
        media = synthetic_media(f"https://example.com/{name}")
        assert media is not None
        assert getattr(probe_video(media.content), field) == value

    def test_the_same_arguments_give_the_same_bytes(self) -> None:
        assert build_video(320, 568, 3.0) == build_video(320, 568, 3.0)
        assert build_video(320, 568, 3.0) != build_video(320, 568, 4.0)

    def test_a_long_video_is_still_small(self) -> None:
        media = synthetic_media("https://example.com/edge_900s.mp4")
        assert media is not None
        assert probe_video(media.content[: 2 * 1024 * 1024]).duration_seconds == 900.0
        assert len(media.content) < 10 * 1024 * 1024

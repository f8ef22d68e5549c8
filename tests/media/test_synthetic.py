"""Synthetic media for example.com URLs, and the MP4/MOV sniffer."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from app.media.synthetic import build_video, is_synthetic_host, synthetic_media
from app.media.video import sniff_video


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
    def test_mp4_structure(self) -> None:
        media = synthetic_media("https://example.com/clip.mp4")
        assert media is not None
        assert media.content_type == "video/mp4"
        content = media.content
        assert content[4:8] == b"ftyp" and content[8:12] == b"isom"
        assert b"moov" in content and b"mvhd" in content and b"mdat" in content
        assert content.index(b"moov") < content.index(b"mdat")
        assert media.duration_seconds == 15.0
        assert (media.width, media.height) == (1080, 1920)

    def test_hints_set_duration_and_size(self) -> None:
        media = synthetic_media("https://example.com/reel_720x1280_90s.mp4")
        assert media is not None
        info = sniff_video(media.content)
        assert info is not None
        assert info.container == "mp4"
        assert info.duration_seconds == 90.0
        assert (info.width, info.height) == (720, 1280)

    def test_mov(self) -> None:
        media = synthetic_media("https://example.com/clip_2.5s.mov")
        assert media is not None
        assert media.content_type == "video/quicktime"
        info = sniff_video(media.content)
        assert info is not None
        assert (info.container, info.brand, info.duration_seconds) == ("mov", "qt  ", 2.5)

    def test_sniff_head_without_moov(self) -> None:
        content = build_video(100, 100, 10.0)
        info = sniff_video(content[:40])
        assert info is not None
        assert info.container == "mp4"
        assert info.duration_seconds is None

    @pytest.mark.parametrize(
        "head",
        [
            b"",
            b"not a video at all",
            b"\xff\xd8\xff\xe0" + bytes(100),
            struct.pack(">I", 16) + b"ftypheic" + bytes(4),
            struct.pack(">I", 16) + b"moovisom" + bytes(4),
        ],
    )
    def test_sniff_rejects_non_video(self, head: bytes) -> None:
        assert sniff_video(head) is None

    def test_sniff_mvhd_version_1(self) -> None:
        mvhd_payload = bytes([1, 0, 0, 0]) + bytes(16) + struct.pack(">IQ", 600, 600 * 42) + bytes(80)
        mvhd = struct.pack(">I", 8 + len(mvhd_payload)) + b"mvhd" + mvhd_payload
        moov = struct.pack(">I", 8 + len(mvhd)) + b"moov" + mvhd
        ftyp = struct.pack(">I", 20) + b"ftypmp42" + bytes(4) + b"mp42"
        info = sniff_video(ftyp + moov)
        assert info is not None
        assert (info.container, info.duration_seconds) == ("mp4", 42.0)

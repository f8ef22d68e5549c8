"""Instagram's documented video rules, one sentence each, on what FFmpeg probes; and what cannot be probed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import pytest

from app.media.synthetic import synthetic_media
from app.media.video import (
    INVALID_VIDEO_FORMAT,
    NO_FAST_START,
    VideoKind,
    VideoProbe,
    VideoUnreadable,
    probe_video,
    video_advice,
    video_problem,
)

GOOD = VideoProbe(
    container="mp4",
    video_codec="h264",
    width=1080,
    height=1920,
    duration_seconds=30.0,
    frame_rate=30.0,
    video_bitrate=5_000_000,
    pixel_format="yuv420p",
    audio_codec="aac",
    audio_sample_rate=48_000,
    audio_channels=2,
)


def test_a_good_reel_breaks_no_rule() -> None:
    for kind in VideoKind:
        assert video_problem(GOOD, kind) is None
    assert video_problem(dataclasses.replace(GOOD, video_codec="hevc", audio_codec=None), VideoKind.REEL) is None


@pytest.mark.parametrize(
    ("changes", "kind", "sentence"),
    [
        (
            {"video_codec": "vp9"},
            VideoKind.REEL,
            "Video codec vp9 is not accepted by Instagram: encode the video as H.264 or HEVC",
        ),
        (
            {"audio_codec": "mp3"},
            VideoKind.REEL,
            "Audio codec mp3 is not accepted by Instagram: use AAC, or no audio track",
        ),
        ({"audio_sample_rate": 96_000}, VideoKind.REEL, "Audio sample rate 96000 Hz is over Instagram's 48 kHz"),
        ({"audio_channels": 6}, VideoKind.REEL, "Audio has 6 channels; Instagram takes mono or stereo"),
        (
            {"duration_seconds": 2.5},
            VideoKind.REEL,
            "Video duration 2.5 s is outside what Instagram accepts for a reel (3 seconds to 15 minutes)",
        ),
        (
            {"duration_seconds": 901.0},
            VideoKind.REEL,
            "Video duration 901.0 s is outside what Instagram accepts for a reel (3 seconds to 15 minutes)",
        ),
        (
            {"duration_seconds": 61.0},
            VideoKind.STORY,
            "Video duration 61.0 s is outside what Instagram accepts for a story video (3 to 60 seconds)",
        ),
        (
            {"duration_seconds": 90.0},
            VideoKind.CAROUSEL,
            "Video duration 90.0 s is outside what Instagram accepts for a carousel video (3 to 60 seconds)",
        ),
        ({"frame_rate": 15.0}, VideoKind.REEL, "Frame rate 15.00 fps is outside Instagram's 23 to 60 fps"),
        ({"frame_rate": 120.0}, VideoKind.STORY, "Frame rate 120.00 fps is outside Instagram's 23 to 60 fps"),
        ({"width": 3840, "height": 2160}, VideoKind.REEL, "Video is 3840 px wide; Instagram takes at most 1920 px"),
        (
            {"width": 1800, "height": 100},
            VideoKind.REEL,
            "Video aspect ratio 18.00 (1800x100) is outside what Instagram accepts for a reel (0.01:1 to 10:1)",
        ),
        (
            {"width": 100, "height": 1920},
            VideoKind.STORY,
            "Video aspect ratio 0.05 (100x1920) is outside what Instagram accepts for a story video (0.1:1 to 10:1)",
        ),
        ({"video_bitrate": 40_000_000}, VideoKind.REEL, "Video bitrate 40.0 Mbps is over Instagram's 25 Mbps"),
        (
            {"pixel_format": "yuv444p"},
            VideoKind.REEL,
            "Video pixel format yuv444p is not 4:2:0 chroma subsampling, which Instagram needs",
        ),
    ],
)
def test_each_rule_is_one_sentence(changes: dict[str, object], kind: VideoKind, sentence: str) -> None:
    assert video_problem(dataclasses.replace(GOOD, **changes), kind) == sentence  # type: ignore[arg-type]


def test_sizes_per_kind() -> None:
    assert video_problem(GOOD, VideoKind.STORY, size=101 * 1024 * 1024) == "Video too large (101 MB; max 100 MB)"
    assert video_problem(GOOD, VideoKind.REEL, size=101 * 1024 * 1024) is None
    assert video_problem(GOOD, VideoKind.REEL, size=301 * 1024 * 1024) == "Video too large (301 MB; max 300 MB)"


def test_reels_not_in_9_16_get_advice_not_a_refusal() -> None:
    wide = dataclasses.replace(GOOD, width=1920, height=1080)
    assert video_problem(wide, VideoKind.REEL) is None
    assert video_advice(wide, VideoKind.REEL) == ["Instagram advises 9:16 for reels; this video is 1920x1080"]
    assert video_advice(GOOD, VideoKind.REEL) == []


@pytest.mark.parametrize("data", [b"", b"not a video", b"\xff\xd8\xff\xe0" + bytes(2000)])
def test_what_is_not_a_video_is_the_seeds_format_message(data: bytes) -> None:
    with pytest.raises(VideoUnreadable, match=INVALID_VIDEO_FORMAT):
        probe_video(data)


def test_a_webm_is_not_mp4_or_mov(tmp_path: Path) -> None:
    path = tmp_path / "clip.webm"
    with av.open(str(path), mode="w", format="webm") as output:
        stream = output.add_stream("libvpx", rate=30)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        frame = av.VideoFrame(320, 240, "yuv420p")
        for index in range(10):
            frame.pts = index
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    with pytest.raises(VideoUnreadable, match=INVALID_VIDEO_FORMAT):
        probe_video(path)


def test_an_mp4_whose_index_comes_last_says_fast_start(tmp_path: Path) -> None:
    media = synthetic_media("https://example.com/clip_320x568_5s.mp4")
    assert media is not None
    # Remux without fast start: mdat first, moov at the end, as many editors write it.
    path = tmp_path / "late.mp4"
    path.write_bytes(media.content)
    late = tmp_path / "late-moov.mp4"
    with av.open(str(path)) as source, av.open(str(late), mode="w", format="mp4") as output:
        streams = {s.index: output.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            output.mux(packet)
    content = late.read_bytes()
    assert content.index(b"mdat") < content.index(b"moov")
    assert probe_video(content).duration_seconds == 5.0  # whole, it reads
    with pytest.raises(VideoUnreadable) as caught:
        probe_video(content[: len(content) // 2])  # its head alone cannot describe it
    assert str(caught.value) == NO_FAST_START

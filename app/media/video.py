"""Probing a video with FFmpeg (through PyAV) and Instagram's documented rules for each kind of video.

`probe_video` reads the container and its streams: container, codecs, duration, resolution, frame rate,
bitrate, audio. It works on the first bytes of a file as well as on the whole of it: Instagram wants the
`moov` index first ("fast start"), so a video it can take is described by its head. `video_problem` then says,
in one sentence, the first rule a kind of video breaks (reels, story videos, carousel videos), or None.

Publishing checks a client's video with it before any container exists; the sandbox applies the same rules to
what it fetches, as Instagram would. Nothing here imports publishing or the sandbox.
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

__all__ = ["INVALID_VIDEO_FORMAT", "VideoKind", "VideoProbe", "VideoUnreadable", "probe_video", "video_problem"]

INVALID_VIDEO_FORMAT = "Invalid video format. Supported: MP4, MOV"
NO_FAST_START = (
    "The video's index (the moov atom) is not at its start: Instagram needs MP4/MOV with fast start "
    "(re-export it, e.g. ffmpeg -i in.mp4 -c copy -movflags +faststart out.mp4)"
)
VIDEO_CODECS = {"h264": "H.264", "hevc": "HEVC"}
MAX_WIDTH = 1920
MIN_FPS, MAX_FPS = 23.0, 60.0
MAX_VIDEO_BITRATE = 25_000_000
MAX_AUDIO_SAMPLE_RATE = 48_000
MAX_AUDIO_CHANNELS = 2
CHROMA_420 = frozenset({"yuv420p", "yuvj420p", "yuv420p10le", "nv12"})


class VideoKind(StrEnum):
    REEL = "reel"
    STORY = "story"
    CAROUSEL = "carousel"


@dataclass(frozen=True)
class KindLimits:
    noun: str
    min_seconds: float
    max_seconds: float
    min_ratio: float
    max_ratio: float
    max_bytes: int


# Instagram's documented limits (reference §4): reels 3 s–15 min, 0.01:1–10:1, ≤ 300 MB; story videos 3–60 s,
# 0.1:1–10:1, ≤ 100 MB; carousel videos 3–60 s like a feed video.
LIMITS: dict[VideoKind, KindLimits] = {
    VideoKind.REEL: KindLimits("a reel", 3.0, 15 * 60.0, 0.01, 10.0, 300 * 1024 * 1024),
    VideoKind.STORY: KindLimits("a story video", 3.0, 60.0, 0.1, 10.0, 100 * 1024 * 1024),
    VideoKind.CAROUSEL: KindLimits("a carousel video", 3.0, 60.0, 0.01, 10.0, 300 * 1024 * 1024),
}


class VideoUnreadable(Exception):
    """The bytes are not a video FFmpeg can read as MP4/MOV; the message is fit for the answer."""


@dataclass(frozen=True)
class VideoProbe:
    """What FFmpeg tells of a video."""

    container: str  # "mp4" or "mov"
    video_codec: str
    width: int
    height: int
    duration_seconds: float | None
    frame_rate: float | None
    video_bitrate: int | None  # bits per second
    pixel_format: str | None
    audio_codec: str | None = None  # None: no audio track (allowed)
    audio_sample_rate: int | None = None
    audio_channels: int | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VideoProbe:
        return cls(**data)


def _container(metadata: dict[str, str], format_name: str) -> str:
    if "mp4" not in format_name.split(","):
        raise VideoUnreadable(INVALID_VIDEO_FORMAT)
    return "mov" if metadata.get("major_brand", "").strip() == "qt" else "mp4"


def probe_video(source: bytes | str | os.PathLike[str]) -> VideoProbe:
    """Probe a video (its bytes, whole or the head, or a file path); raises VideoUnreadable."""
    # PyAV (FFmpeg) takes about 28 MB once imported: only processes that meet a video pay for it.
    import av
    import av.error

    target: Any = io.BytesIO(source) if isinstance(source, bytes) else os.fspath(source)
    try:
        with av.open(target, mode="r", options={"probesize": "5000000"}) as container:
            kind = _container(dict(container.metadata), container.format.name)
            if not container.streams.video:
                raise VideoUnreadable("The file has no video track")
            video = container.streams.video[0]
            context = video.codec_context
            rate = video.average_rate or video.guessed_rate
            # The video track's own length: an audio track's encoder delay may make the container's longer.
            if video.duration is not None and video.time_base is not None:
                duration: float | None = float(video.duration * video.time_base)
            else:
                duration = container.duration / 1_000_000 if container.duration else None
            audio = container.streams.audio[0] if container.streams.audio else None
            return VideoProbe(
                container=kind,
                video_codec=context.codec.canonical_name,
                width=context.width,
                height=context.height,
                duration_seconds=duration,
                frame_rate=float(rate) if rate else None,
                video_bitrate=video.bit_rate or None,
                pixel_format=context.pix_fmt,
                audio_codec=audio.codec_context.codec.canonical_name if audio is not None else None,
                audio_sample_rate=audio.codec_context.sample_rate if audio is not None else None,
                audio_channels=audio.codec_context.channels if audio is not None else None,
            )
    except VideoUnreadable:
        raise
    except av.error.FFmpegError as exc:
        head = source if isinstance(source, bytes) else b""
        raise VideoUnreadable(NO_FAST_START if _index_comes_last(head) else INVALID_VIDEO_FORMAT) from exc
    except (OSError, ValueError) as exc:
        raise VideoUnreadable(INVALID_VIDEO_FORMAT) from exc


def _index_comes_last(head: bytes) -> bool:
    """True when the top-level boxes reach `mdat` before any `moov`: the reason FFmpeg could not read a head
    (used only to word the refusal; FFmpeg reports it in its log, not in its error)."""
    offset = 0
    while offset + 8 <= len(head):
        size, kind = int.from_bytes(head[offset : offset + 4], "big"), head[offset + 4 : offset + 8]
        if kind == b"moov":
            return False
        if kind == b"mdat":
            return offset > 0
        if size == 1 and offset + 16 <= len(head):
            size = int.from_bytes(head[offset + 8 : offset + 16], "big")
        if size < 8:
            return False
        offset += size
    return False


def _mbps(bits: int) -> str:
    return f"{bits / 1_000_000:.1f} Mbps"


def video_problem(probe: VideoProbe, kind: VideoKind, size: int | None = None) -> str | None:
    """The first of Instagram's documented rules `probe` breaks for `kind`, as one sentence; None when it
    breaks none. Sizes are checked when known."""
    limits = LIMITS[kind]
    if size is not None and size > limits.max_bytes:
        return f"Video too large ({size // (1024 * 1024)} MB; max {limits.max_bytes // (1024 * 1024)} MB)"
    if probe.video_codec not in VIDEO_CODECS:
        return f"Video codec {probe.video_codec} is not accepted by Instagram: encode the video as H.264 or HEVC"
    if probe.audio_codec is not None and probe.audio_codec != "aac":
        return f"Audio codec {probe.audio_codec} is not accepted by Instagram: use AAC, or no audio track"
    if probe.audio_sample_rate is not None and probe.audio_sample_rate > MAX_AUDIO_SAMPLE_RATE:
        return f"Audio sample rate {probe.audio_sample_rate} Hz is over Instagram's 48 kHz"
    if probe.audio_channels is not None and probe.audio_channels > MAX_AUDIO_CHANNELS:
        return f"Audio has {probe.audio_channels} channels; Instagram takes mono or stereo"
    duration = probe.duration_seconds
    if duration is not None and not limits.min_seconds <= duration <= limits.max_seconds:
        allowed = "3 to 60 seconds" if limits.max_seconds <= 60 else "3 seconds to 15 minutes"
        return f"Video duration {duration:.1f} s is outside what Instagram accepts for {limits.noun} ({allowed})"
    if probe.frame_rate is not None and not MIN_FPS - 0.5 <= probe.frame_rate <= MAX_FPS + 0.5:
        return f"Frame rate {probe.frame_rate:.2f} fps is outside Instagram's 23 to 60 fps"
    if probe.width > MAX_WIDTH:
        return f"Video is {probe.width} px wide; Instagram takes at most {MAX_WIDTH} px"
    ratio = probe.width / max(1, probe.height)
    if not limits.min_ratio <= ratio <= limits.max_ratio:
        return (
            f"Video aspect ratio {ratio:.2f} ({probe.width}x{probe.height}) is outside what Instagram accepts for "
            f"{limits.noun} ({limits.min_ratio:g}:1 to {limits.max_ratio:g}:1)"
        )
    if probe.video_bitrate is not None and probe.video_bitrate > MAX_VIDEO_BITRATE:
        return f"Video bitrate {_mbps(probe.video_bitrate)} is over Instagram's 25 Mbps"
    if probe.pixel_format is not None and probe.pixel_format not in CHROMA_420:
        return f"Video pixel format {probe.pixel_format} is not 4:2:0 chroma subsampling, which Instagram needs"
    return None


def video_advice(probe: VideoProbe, kind: VideoKind) -> list[str]:
    """What Instagram advises without refusing (a reel not in 9:16 is shown letterboxed or cropped)."""
    if kind == VideoKind.REEL and abs(probe.width / max(1, probe.height) - 9 / 16) > 0.01:
        return [f"Instagram advises 9:16 for reels; this video is {probe.width}x{probe.height}"]
    return []

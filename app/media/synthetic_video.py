"""Real, playable synthetic videos, made with FFmpeg (PyAV) without network: small, deterministic and cached.

The frame is a flat colour, so one second of H.264 (a keyframe and its P-frames) is encoded once and its
packets are written again for every second of the duration: a 15-minute video takes about a second to make
and a few megabytes. The audio is a silent AAC track (8 kHz mono keeps long videos quick to encode), or none.
`moov` is written first (fast start), as Instagram wants.

What a file name can ask for (the sandbox and the service's examples use it): its codec (`_mpeg4`), its audio
(`_silent` for no audio track, `_mp3`), its frame rate (`_24fps`); see synthetic.py for size and duration.
"""

from __future__ import annotations

import hashlib
import tempfile
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Literal

import av

__all__ = ["build_video"]

AudioKind = Literal["aac", "mp3", "none"]
VideoCodec = Literal["h264", "mpeg4"]
_ENCODERS: dict[VideoCodec, str] = {"h264": "libx264", "mpeg4": "mpeg4"}
_AUDIO_ENCODERS: dict[AudioKind, str] = {"aac": "aac", "mp3": "libmp3lame"}
_AUDIO_RATE = 8000


def _even(value: int) -> int:
    return max(16, value - value % 2)


def _colour(width: int, height: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{width}x{height}".encode()).digest()
    return 16 + digest[0] % 200, 64 + digest[1] % 128, 64 + digest[2] % 128


def _video_frame(width: int, height: int) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, value in zip(frame.planes, _colour(width, height), strict=True):
        plane.update(bytes([value]) * plane.buffer_size)
    return frame


def _video_stream(
    output: av.container.OutputContainer, width: int, height: int, fps: int, codec: VideoCodec
) -> av.VideoStream:
    stream = output.add_stream(_ENCODERS[codec], rate=fps)
    assert isinstance(stream, av.VideoStream)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    if codec == "h264":
        stream.codec_context.options = {"preset": "ultrafast", "g": str(fps), "bf": "0", "sc_threshold": "0"}
    else:
        stream.codec_context.options = {"g": str(fps), "bf": "0"}
    return stream


def _write_video(output: av.container.OutputContainer, stream: av.VideoStream, seconds: float, fps: int) -> None:
    frame = _video_frame(stream.width, stream.height)
    second: list[tuple[bytes, int, int, bool, Fraction]] = []
    for index in range(fps):
        frame.pts = index
        second += [(bytes(p), p.pts or 0, p.dts or 0, p.is_keyframe, p.time_base) for p in stream.encode(frame)]
    second += [(bytes(p), p.pts or 0, p.dts or 0, p.is_keyframe, p.time_base) for p in stream.encode(None)]
    frames = max(1, round(seconds * fps))
    for start in range(0, frames, fps):
        # Every second starts on a keyframe, so a last second cut short is still a valid stream.
        for data, pts, dts, keyframe, time_base in second[: frames - start]:
            offset = int(Fraction(start, fps) / time_base)
            packet = av.Packet(data)
            packet.pts, packet.dts, packet.time_base = pts + offset, dts + offset, time_base
            packet.is_keyframe = keyframe
            packet.stream = stream
            output.mux(packet)


def _audio_stream(output: av.container.OutputContainer, kind: AudioKind) -> av.AudioStream:
    # MP4 takes MP3 as MPEG-1 audio only (32 kHz and up).
    stream = output.add_stream(_AUDIO_ENCODERS[kind], rate=_AUDIO_RATE if kind == "aac" else 32_000, layout="mono")
    assert isinstance(stream, av.AudioStream)
    return stream


def _write_audio(output: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    frame_size = stream.codec_context.frame_size or 1152
    rate = stream.codec_context.sample_rate
    silence = av.AudioFrame(format=stream.codec_context.format.name, layout="mono", samples=frame_size)
    silence.sample_rate = rate
    for plane in silence.planes:
        plane.update(bytes(plane.buffer_size))
    for index in range(max(1, int(seconds * rate / frame_size))):
        silence.pts = index * frame_size
        for packet in stream.encode(silence):
            output.mux(packet)
    for packet in stream.encode(None):
        output.mux(packet)


@lru_cache(maxsize=16)
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
    """A real MP4/MOV of a flat colour, `duration_seconds` long, with `moov` first; the same arguments give the
    same bytes. Sides are made even (H.264 in 4:2:0 needs it)."""
    seconds = max(0.05, duration_seconds)
    with tempfile.TemporaryDirectory(prefix="synthetic-video-") as folder:
        # Fast start rewrites the file to move `moov` ahead: it needs a real file, not memory.
        path = Path(folder) / f"video.{container}"
        options = {"movflags": "+faststart", "fflags": "+bitexact"}
        fps = max(1, fps)
        with av.open(str(path), mode="w", format=container, options=options) as output:
            # Every stream is added before the first packet: the header is written with it.
            video = _video_stream(output, _even(width), _even(height), fps, codec)
            sound = None if audio == "none" else _audio_stream(output, audio)
            _write_video(output, video, seconds, fps)
            if sound is not None:
                _write_audio(output, sound, seconds)
        return path.read_bytes()

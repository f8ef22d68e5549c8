"""Probing a video from its first bytes: the MP4/MOV container, and its duration and size when `moov` is there.

Publishing checks a client's video with it before any container exists (Instagram downloads the video
itself, so only the head is fetched); the sandbox checks what it is given the same way Instagram would.
Only the standard library is imported.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

__all__ = ["VideoInfo", "sniff_video"]

# ISO-BMFF major/compatible brands that mean "an MP4 video" (HEIF/AVIF images share the container: not these).
_MP4_BRANDS = frozenset(
    {
        "isom",
        "iso2",
        "iso3",
        "iso4",
        "iso5",
        "iso6",
        "iso7",
        "iso8",
        "iso9",
        "mp41",
        "mp42",
        "avc1",
        "hvc1",
        "M4V ",
        "M4VH",
        "M4VP",
        "dash",
        "3gp4",
        "3gp5",
        "3gp6",
        "3g2a",
        "MSNV",
        "f4v ",
        "mmp4",
        "XAVC",
    }
)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What a sniff of a video's first bytes tells: container, and size and duration when `moov` is there."""

    container: Literal["mp4", "mov"]
    brand: str
    duration_seconds: float | None
    width: int | None = None
    height: int | None = None


def sniff_video(head: bytes) -> VideoInfo | None:
    """Read the container brand (and duration/size when `moov` is in `head`); None when it isn't MP4/MOV."""
    boxes = list(_iter_boxes(head, 0, len(head)))
    if not boxes or boxes[0][0] != b"ftyp":
        return None
    _, start, end = boxes[0]
    ftyp = head[start:end]
    if len(ftyp) < 8:
        return None
    major = ftyp[:4].decode("latin-1")
    compatible = {ftyp[i : i + 4].decode("latin-1") for i in range(8, len(ftyp) - 3, 4)}
    container: Literal["mp4", "mov"]
    if major == "qt  ":
        container = "mov"
    elif major in _MP4_BRANDS:
        container = "mp4"
    elif "qt  " in compatible:
        container = "mov"
    elif compatible & _MP4_BRANDS:
        container = "mp4"
    else:
        return None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    for kind, start, end in boxes[1:]:
        if kind != b"moov":
            continue
        for child, child_start, child_end in _iter_boxes(head, start, end):
            if child == b"mvhd":
                duration = _mvhd_duration(head[child_start:child_end])
            elif child == b"trak" and width is None:
                for grandchild, g_start, g_end in _iter_boxes(head, child_start, child_end):
                    if grandchild == b"tkhd":
                        width, height = _tkhd_size(head[g_start:g_end])
        break
    return VideoInfo(container, major, duration, width, height)


def _iter_boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(kind, payload start, payload end) of the boxes between start and end that are entirely in `data`."""
    boxes: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            if offset + 16 > end:
                break
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
            header = 16
        elif size == 0:
            size = end - offset
        if size < header:
            break
        payload_end = offset + size
        if payload_end > end:
            # A box running past the bytes we have (a head read): keep its start, its complete children count.
            boxes.append((kind, offset + header, end))
            break
        boxes.append((kind, offset + header, payload_end))
        offset = payload_end
    return boxes


def _mvhd_duration(payload: bytes) -> float | None:
    if len(payload) < 20:
        return None
    version = payload[0]
    if version == 1:
        if len(payload) < 32:
            return None
        timescale, duration = struct.unpack(">IQ", payload[20:32])
        unknown = duration == 0xFFFFFFFFFFFFFFFF
    else:
        timescale, duration = struct.unpack(">II", payload[12:20])
        unknown = duration == 0xFFFFFFFF
    if timescale == 0 or unknown:
        return None
    seconds: float = duration / timescale
    return seconds


def _tkhd_size(payload: bytes) -> tuple[int | None, int | None]:
    version = payload[0] if payload else 0
    offset = 88 if version == 1 else 76
    if len(payload) < offset + 8:
        return None, None
    width, height = struct.unpack(">II", payload[offset : offset + 8])
    return width >> 16, height >> 16

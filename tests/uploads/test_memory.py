"""An upload of 100 MB is streamed: the API process (a real uvicorn) grows by less than 20 MB while taking it.

Memory, not time: the process's resident set is sampled while the body flows, and its peak (VmHWM, reset
before the upload) is read after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.media.synthetic import synthetic_media
from tests.conftest import auth_headers
from tests.reliability.served_api import served_api

pytestmark = pytest.mark.e2e

MB = 1024 * 1024
BODY_MB = 100
MAX_GROWTH_MB = 20
BOUNDARY = "memory-test-boundary"


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def _reset_peak(pid: int) -> None:
    # "5" resets VmHWM to the current RSS (Linux 4.0+); without it the sampled peak still counts.
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def _video_of(size: int) -> tuple[bytes, int]:
    """A real 60-second MP4 (its index first), and how many bytes of padding (a `free` box) make it `size`."""
    media = synthetic_media("https://example.com/memory_60s.mp4")
    assert media is not None
    zeros = size - len(media.content) - 8
    return media.content + (zeros + 8).to_bytes(4, "big") + b"free", zeros


async def _body(video_head: bytes, zeros: int) -> AsyncIterator[bytes]:
    """The multipart body, made as it is sent: the client holds one megabyte at a time."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    yield video_head
    chunk = bytes(MB)
    sent = 0
    while sent < zeros:
        piece = chunk[: min(MB, zeros - sent)]
        sent += len(piece)
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def test_a_100_mb_upload_grows_the_api_by_less_than_20_mb(pg_database_url: str, tmp_path: Path) -> None:
    with served_api(pg_database_url, tmp_path / "api", UPLOAD_DIR=str(tmp_path / "uploads")) as api:
        pid = api.process.pid
        async with httpx.AsyncClient(base_url=api.url, timeout=120) as client:
            # Warm up: the first upload loads the code it needs (FFmpeg, the multipart parser...).
            small = synthetic_media("https://example.com/warm_10s.mp4")
            assert small is not None
            warm = await client.post(
                "/api/sns/instagram/uploads",
                headers=auth_headers(),
                files={"file": ("warm.mp4", small.content, "video/mp4")},
            )
            assert warm.status_code == 201, warm.text
            head, padding = _video_of(BODY_MB * MB)
            await asyncio.sleep(0.5)
            baseline = _status_kb(pid, "VmRSS")
            _reset_peak(pid)
            sampled = [baseline]
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(0.01):
                    with contextlib.suppress(OSError, AssertionError):
                        sampled.append(_status_kb(pid, "VmRSS"))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                response = await client.post(
                    "/api/sns/instagram/uploads",
                    headers={**auth_headers(), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                    content=_body(head, padding),
                )
            finally:
                stop.set()
                sampler.join()
            peak = max(max(sampled), _status_kb(pid, "VmHWM"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["size"] == BODY_MB * MB
    assert (body["kind"], body["duration"]) == ("video", 60.0)
    growth_mb = (peak - baseline) / 1024
    print(f"API resident memory: {baseline / 1024:.1f} MB before, peak {peak / 1024:.1f} MB (+{growth_mb:.1f} MB)")
    assert growth_mb < MAX_GROWTH_MB, f"the API grew by {growth_mb:.1f} MB while taking a {BODY_MB} MB upload"

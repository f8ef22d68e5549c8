"""Memory freed after big work goes back to the operating system instead of staying resident."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from app.memory import release_freed_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_what_a_worker_thread_freed_is_released() -> None:
    survivors: list[bytearray] = []

    def decode_like_pillow() -> None:
        # 90 MB in blocks below the mmap threshold, each followed by a small survivor: freed, the big blocks
        # cannot merge back into the top of the thread's arena, so the allocator keeps them (as after images).
        blocks = []
        for _ in range(1500):
            blocks.append(bytearray(60_000))
            survivors.append(bytearray(64))
        del blocks

    worker = threading.Thread(target=decode_like_pillow)
    worker.start()
    worker.join()
    before = _rss_mb()
    release_freed_memory()
    assert _rss_mb() < before - 40

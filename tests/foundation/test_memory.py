"""Memory freed after big work goes back to the operating system instead of staying resident."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")


# Run in a fresh interpreter: in a long test process the allocator's arenas already hold free space from
# earlier tests (and glibc has moved its mmap threshold), so the measurement would depend on test order.
_SCRIPT = """
import threading
from pathlib import Path

from app.memory import release_freed_memory


def rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


survivors = []


def decode_like_pillow():
    # 90 MB in blocks below the mmap threshold, each followed by a small survivor: freed, the big blocks cannot
    # merge back into the top of the thread's arena, so the allocator keeps them (as after images).
    blocks = []
    for _ in range(1500):
        blocks.append(bytearray(60_000))
        survivors.append(bytearray(64))
    del blocks


worker = threading.Thread(target=decode_like_pillow)
worker.start()
worker.join()
before = rss_mb()
release_freed_memory()
print(before, rss_mb())
"""


def test_what_a_worker_thread_freed_is_released() -> None:
    done = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60, check=True)
    before, after = (float(value) for value in done.stdout.split())
    assert after < before - 40, (before, after)


def test_the_worker_imports_no_web_framework() -> None:
    # FastAPI and Starlette are about 7 MB of the worker's resident memory, and it serves no HTTP (issue 8, goal 6).
    script = "import sys, app.cli, app.jobs.supervisor; print(sorted({m.split('.')[0] for m in sys.modules}))"
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/0"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True, env=env
    )
    loaded = set(ast.literal_eval(done.stdout.strip().splitlines()[-1]))
    assert loaded & {"fastapi", "starlette"} == set()
    assert "arq" in loaded  # the worker's own modules were imported

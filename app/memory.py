"""Handing freed memory back to the operating system after large, short-lived allocations.

Decoding an image takes tens of megabytes for a moment. glibc's allocator keeps what Python and Pillow free in
its arenas (one per thread that allocated: `asyncio.to_thread` workers get their own), so a process that prepared
a few images at once keeps their peak as resident memory for good. `malloc_trim(0)` returns the free pages of
every arena. Elsewhere than glibc (musl, macOS) it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_freed_memory() -> None:
    """Return the allocator's free pages to the OS (a few hundred microseconds; call it after big work)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)

"""Handing freed memory back to the operating system after large, short-lived allocations.

Decoding an image takes tens of megabytes for a moment. glibc's allocator keeps what Python and Pillow free in
its arenas (one per thread that allocated: `asyncio.to_thread` workers get their own), so a process that prepared
a few images at once keeps their peak as resident memory for good. `malloc_trim(0)` returns the free pages of
every arena. Elsewhere than glibc (musl, macOS) it is a no-op.

glibc also gives every thread that allocates an arena of its own, up to eight per core. Each arena keeps its
own free pages and fragments on its own, so a process whose threadpool touches many of them grows by megabytes
that `malloc_trim` cannot always give back. `limit_malloc_arenas` caps how many there are (MALLOC_ARENA_MAX).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _glibc_function(name: str) -> Callable[..., int] | None:
    """glibc's `name` (None where the C library is not glibc or lacks it: musl, macOS)."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(library), name)
    except (OSError, AttributeError):
        return None
    return function


# mallopt's parameter number for the arena cap (glibc's malloc.h).
_M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int) -> None:
    """At most `arenas` malloc arenas from now on (0: glibc's default). Call it before threads start allocating."""
    mallopt = _glibc_function("mallopt") if arenas > 0 else None
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, arenas)


def release_freed_memory() -> None:
    """Return the allocator's free pages to the OS (a few hundred microseconds; call it after big work)."""
    trim = _glibc_function("malloc_trim")
    if trim is not None:
        trim(0)

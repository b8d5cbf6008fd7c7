"""Handing freed memory back to the operating system between the big steps of a run.

A whole-org compute builds and drops frames of hundreds of MB. glibc's allocator keeps the
pages of what was freed for later allocations instead of returning them, so the process stays
as big as the compute's peak through the push and the Effects step, and their own working
sets come on top of it: the medium seed's first sync ended its compute at 1,695 MB resident,
of which about 550 MB were live objects (bench/sync.py --census), and peaked at 1,828 MB in the
Effects step. ``malloc_trim(0)`` (glibc, "The GNU C Library Reference Manual", Efficiency and
Malloc / malloc_trim(3)) releases the free pages of every heap, the middle ones included.

Elsewhere (another C library, another system) :func:`release_free_memory` does nothing: the
values computed never depend on it, only the process's resident size does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # no C library to load, or not glibc (musl has none)
        return None
    return trim


def release_free_memory() -> bool:
    """Return the pages of freed memory to the operating system; whether it could."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True

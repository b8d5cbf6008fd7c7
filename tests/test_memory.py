"""release_free_memory: freed heap pages go back to the system (glibc), values untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.memory import _malloc_trim, release_free_memory


def resident_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(_malloc_trim() is None, reason="no glibc malloc_trim on this system")
def test_freed_blocks_in_the_middle_of_the_heap_are_returned() -> None:
    # 200 MB of 1 KB blocks (above Python's small-object allocator: from malloc), one in 64
    # kept: the heap cannot shrink from its top, most of its pages hold nothing live
    blocks = [bytes(1024) + i.to_bytes(4, "little") for i in range(200_000)]
    kept = blocks[::64]
    del blocks
    before = resident_mb()
    assert release_free_memory() is True
    after = resident_mb()
    assert before - after > 100, (before, after)
    assert all(b[:1024] == bytes(1024) for b in kept)  # what is live stays as it was

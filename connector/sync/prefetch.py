"""Fetch the next page of a pull while the last one is being stored.

Storing a page in SQLite cost about half of a pull (the client alone read 44-49k records/s,
the pull 27-36k, issue 9). While the org prepares the next page and it crosses the network,
the caller can store the last one: one thread reads ahead, bounded to ``depth`` pages so
memory stays flat (a Bulk API page is 50,000 records; one page ahead is the default).
(On a machine shared with eight other jobs the medium seed's full pull ran 21-32 s with
read-ahead and 23-24 s without: the noise there is larger than the gain.)
The client is used by that thread alone until the pages are done or the caller stops, and
it has finished before this generator returns, so no two threads ever share its session.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

_T = TypeVar("_T")
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(pages: Iterable[_T], depth: int = 1) -> Iterator[_T]:
    """The items of ``pages``, read ahead by one thread; its exceptions are raised here."""
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for page in pages:
                if not offer(page):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the caller, raised there
            offer(_Failed(exc))

    reader = threading.Thread(target=read, name="pull-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()

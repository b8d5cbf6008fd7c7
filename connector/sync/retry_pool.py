"""Which records go in the next sObject Collections call: full batches, retries pooled.

With 5% of records refused by UNABLE_TO_LOCK_ROW, most 200-record calls carry one or more
refusals. Retried batch by batch, each call's few refusals cost a call of their own: the small
seed's first sync spent 32-51% more calls than a clean run. Pooled, a refused record waits
(its backoff) and then rides in the next call beside fresh records, so every call but the last
is full and the retries cost about their share of 200 (``bench/retries.py``).

The planner is plain data and a clock: the engine sends, and tells it what came back.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

_W = TypeVar("_W")


@dataclass(frozen=True)
class Item(Generic[_W]):
    """One record to write: its id, what to write, and how many times it was sent already."""

    record_id: str
    writes: _W
    attempt: int = 0


@dataclass(frozen=True)
class _Waiting(Generic[_W]):
    item: Item[_W]
    due: float  # monotonic seconds: not to be sent before


class BatchPlanner(Generic[_W]):
    """Plans the calls of one object's write-back.

    Rules:
    - a call holds at most ``size`` records, and a record is in at most one call at a time;
    - retries whose backoff has passed go first, then fresh records fill the call;
    - when the fresh records left cannot fill a call, the planner waits until enough retries
      are due to fill it (or all of them are), so the tail goes in as few calls as it can;
    - a record is never sent before its backoff has passed.
    """

    def __init__(
        self,
        items: Iterable[Item[_W]],
        size: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1:
            raise ValueError("a batch holds at least one record")
        self.size = size
        self._fresh: deque[Item[_W]] = deque(items)
        self._waiting: list[_Waiting[_W]] = []
        self._clock = clock

    def __bool__(self) -> bool:
        return bool(self._fresh or self._waiting)

    @property
    def waiting(self) -> int:
        """Records refused and waiting for their retry."""
        return len(self._waiting)

    def retry(self, item: Item[_W], delay: float) -> None:
        """Send ``item`` again (counted as one more attempt) once ``delay`` seconds passed."""
        again = Item(item.record_id, item.writes, item.attempt + 1)
        self._waiting.append(_Waiting(again, self._clock() + max(delay, 0.0)))

    def next_batch(self) -> tuple[float, list[Item[_W]]]:
        """(seconds to wait before sending, the records of the next call); empty when done."""
        if not self:
            return 0.0, []
        now = self._clock()
        self._waiting.sort(key=lambda w: w.due)
        horizon = now
        need = self.size - len(self._fresh)
        if need > 0 and self._waiting:
            # Fresh records cannot fill the call: wait until enough retries are due to.
            horizon = max(now, self._waiting[min(need, len(self._waiting)) - 1].due)
        due = [w for w in self._waiting[: self.size] if w.due <= horizon]
        batch = [w.item for w in due]
        del self._waiting[: len(due)]
        while len(batch) < self.size and self._fresh:
            batch.append(self._fresh.popleft())
        return horizon - now, batch

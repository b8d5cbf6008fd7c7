"""The pull's read-ahead: same pages, same order, errors where they happened, no thread left."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connector.errors import RetryableError
from connector.sync.prefetch import prefetched


def _pages(n: int, fail_at: int | None = None) -> Iterator[list[int]]:
    for i in range(n):
        if i == fail_at:
            raise RetryableError("no answer from Salesforce", error_code="ReadTimeout")
        yield [i] * 3


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pull-prefetch"]


def test_every_page_arrives_in_order() -> None:
    assert list(prefetched(_pages(20))) == [[i] * 3 for i in range(20)]
    assert _readers() == []


def test_a_failure_is_raised_after_the_pages_before_it() -> None:
    seen: list[int] = []

    def consume() -> None:
        for page in prefetched(_pages(10, fail_at=4)):
            seen.append(page[0])

    with pytest.raises(RetryableError):
        consume()
    assert seen == [0, 1, 2, 3]
    assert _readers() == []


def test_a_caller_that_stops_early_leaves_no_reader_behind() -> None:
    produced: list[int] = []

    def counting() -> Iterator[int]:
        for i in range(1000):
            produced.append(i)
            yield i

    for page in prefetched(counting(), depth=2):
        if page == 3:
            break
    assert _readers() == []
    assert len(produced) <= 3 + 1 + 2 + 1  # read ahead by the queue's depth, no further

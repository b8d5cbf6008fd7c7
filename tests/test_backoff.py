"""The one backoff helper the client and the engine share."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.backoff import MAX_DELAY_SECONDS, backoff_delay


def test_doubles_per_attempt_with_the_random_share() -> None:
    assert [backoff_delay(a, 0.5, lambda: 1.0) for a in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert [backoff_delay(a, 0.5, lambda: 0.25) for a in range(3)] == [0.125, 0.25, 0.5]
    assert backoff_delay(3, 0.5, lambda: 0.0) == 0.0  # full jitter may retry at once


def test_never_waits_longer_than_the_cap() -> None:
    assert backoff_delay(40, 1.0, lambda: 0.999) < MAX_DELAY_SECONDS
    assert backoff_delay(10, 1.0, lambda: 1.0, cap=5.0) == 5.0


def test_a_negative_attempt_is_a_bug() -> None:
    with pytest.raises(ValueError, match="from 0"):
        backoff_delay(-1, 1.0)


@given(st.integers(0, 30), st.floats(0, 10), st.integers(0, 2**32 - 1))
def test_delay_stays_in_its_window(attempt: int, base: float, seed: int) -> None:
    delay = backoff_delay(attempt, base, random.Random(seed).random)
    assert 0.0 <= delay <= min(MAX_DELAY_SECONDS, base * 2**attempt)

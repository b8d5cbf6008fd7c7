"""The vectorised CUSUM (issue 24, "each step under 60 s on the large seed") gives what Page's
recursion gives, order by order: on random increments with random restarts, and through
:func:`trends` on the small seed, where every flag and reason must be the same."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from connector.orders_intel import fulfilment
from connector.orders_intel.evaluate import fulfilment_input, order_person
from connector.orders_intel.fulfilment import FulfilmentConfig, trends


def recursion(x: np.ndarray, restart: np.ndarray) -> np.ndarray:
    """Page's CUSUM as written in 1954, one order at a time: the reference implementation
    (the loop the step ran before it was vectorised)."""
    out = np.empty_like(x)
    s = 0.0
    for i in range(x.size):
        s = max(0.0, (0.0 if restart[i] else s) + x[i])
        out[i] = s
    return out


@pytest.mark.parametrize("seed", range(6))
def test_cusum_equals_the_recursion_on_random_increments(seed: int) -> None:
    rng = np.random.default_rng([24, seed])
    n = int(rng.integers(1, 3_000))
    # drift either way, and runs of missing deliveries (the -k increments the step feeds it)
    x = rng.normal(rng.uniform(-1.5, 1.0), rng.uniform(0.1, 3.0), n)
    x[rng.random(n) < 0.2] = -1.0
    restart = rng.random(n) < rng.uniform(0.01, 0.5)
    restart[0] = True
    got = fulfilment._cusum(x, restart)
    want = recursion(x, restart)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)
    for h in (0.5, 1.0, 5.0):
        assert ((got >= h) == (want >= h)).all()


def test_cusum_of_nothing_and_of_one() -> None:
    assert fulfilment._cusum(np.array([]), np.array([], dtype=bool)).size == 0
    assert fulfilment._cusum(np.array([-2.0]), np.array([True])).tolist() == [0.0]
    assert fulfilment._cusum(np.array([2.5]), np.array([True])).tolist() == [2.5]


def test_trends_on_the_seed_are_unchanged_by_vectorising(planted, monkeypatch) -> None:
    orders = planted.frames["Order"]
    for person in (orders["AccountId"], order_person(orders)):
        frame = fulfilment_input(orders, person)
        fast = trends(frame, FulfilmentConfig())
        monkeypatch.setattr(fulfilment, "_cusum", recursion)
        slow = trends(frame, FulfilmentConfig())
        monkeypatch.undo()
        assert fast.people["flagged"].sum() > 5
        pd.testing.assert_frame_equal(fast.people, slow.people)
        pd.testing.assert_frame_equal(fast.history, slow.history)

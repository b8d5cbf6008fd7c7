"""One BLAS thread around the model fits.

The optimisers evaluate the likelihood over a few thousand aggregated rows at a time: arrays
far too small for a multi-threaded BLAS to win anything, but big enough for it to wake every
core. On this 2-core machine, shared with other work, the same 100,000-customer BG/NBD fit took
0.1 s or 1.7 s depending on what else ran (issue 9); pinned to one thread it takes the low
figure every time (``bench/predictions.py`` prints fit and predict separately).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from threadpoolctl import threadpool_limits

_P = ParamSpec("_P")
_R = TypeVar("_R")


def one_blas_thread(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``function`` with BLAS (and OpenMP) limited to one thread, restored afterwards."""

    @functools.wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with threadpool_limits(limits=1):
            return function(*args, **kwargs)

    return wrapper

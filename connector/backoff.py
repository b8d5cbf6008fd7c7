"""One retry backoff for every caller: exponential, with full jitter.

The Salesforce client (a failed call) and the sync engine (refused rows) wait the same way:
``delay = random() * base * 2 ** attempt``, capped. "Full jitter" spreads the retries of many
clients over the whole window instead of bunching them at its edges; it is the variant AWS
measured to finish the same contended work with the fewest calls ("Exponential Backoff And
Jitter", AWS Architecture Blog, 2015). The random source and the sleep are injected, so tests
replace them and nothing else.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable

# No single wait longer than this, however many retries a setting allows.
MAX_DELAY_SECONDS = 60.0


def backoff_delay(
    attempt: int,
    base: float,
    random: Callable[[], float] = _random.random,
    cap: float = MAX_DELAY_SECONDS,
) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first retry): uniform in
    ``[0, min(cap, base * 2 ** attempt))``."""
    if attempt < 0:
        raise ValueError(f"attempt counts from 0, got {attempt}")
    return float(random() * min(cap, base * 2.0**attempt))

"""The synthetic store's knobs: sizes, rates and shares, and the BG/NBD calibration of ``alpha``.

Every number a model could be scored against is here, and ``truth/params.json`` repeats them.
All rates are per day; all times are UTC.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq
from scipy.special import hyp2f1

Arr = npt.NDArray[Any]

DAY = 86_400.0
WEEK = 7 * DAY
# 1970-01-05 was a Monday: hour-of-week 0 is Monday 00:00 UTC.
MONDAY = 4 * DAY
SPAN_DAYS = 1_000.0
BATCH_ROWS = 20_000
CONTACT_CHUNK = 5_000
LEAD_CHUNK = 20_000
REFUND_RATE = 0.03
PERSON_ACCOUNT_SHARE = 0.4
CONVERTED_LEAD_SHARE = 0.25
MIXED_EMAIL_SHARE = 0.03
ATTRIBUTED_SHARE = 0.3
CONVERSION_PREFERRED = 0.35
CONVERSION_OTHER = 0.12
HOUR_SD = 1.5
HOUR_NOISE_SHARE = 0.2
CHANNELS = ("email", "sms", "push")
CHANNEL_SHARE = (0.5, 0.25, 0.25)
CLICK_EVENT = ("Email Clicked", "SMS Clicked", "Push Opened")
FAMILIES = ("Music", "Books", "Apparel", "Electronics", "Home", "Beauty")
LEAD_EVENTS = ("Page Viewed", "Email Opened", "Email Clicked", "Form Submitted")
LEAD_EVENT_SHARE = (0.5, 0.25, 0.12, 0.13)


@dataclass(frozen=True)
class SeedSize:
    """How big a synthetic store is: Leads, Contacts, target Orders, Products."""

    name: str
    leads: int
    contacts: int
    orders: int
    products: int = 200


SIZES: dict[str, SeedSize] = {
    "small": SeedSize("small", leads=1_000, contacts=2_000, orders=10_000),
    "medium": SeedSize("medium", leads=20_000, contacts=50_000, orders=300_000),
    "large": SeedSize("large", leads=200_000, contacts=500_000, orders=3_000_000),
}


@dataclass(frozen=True)
class Population:
    """Population parameters, per day. ``alpha`` is calibrated to the size's order count."""

    r: float = 0.8
    alpha: float = 40.0
    a: float = 0.85
    b: float = 4.5
    gg_p: float = 6.0
    gg_q: float = 3.8
    gg_gamma: float = 42.0


def expected_repeat_purchases(t: Arr | float, r: float, alpha: float, a: float, b: float) -> Arr:
    """BG/NBD E[X(t)]: expected repeat purchases in (0, t] for a new customer (FHL 2005, eq. 7)."""
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    bracket = 1.0 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1.0, z)
    return np.asarray((a + b - 1.0) / (a - 1.0) * bracket)


def calibrate(size: SeedSize, base: Population | None = None) -> Population:
    """``base`` with ``alpha`` set so the expected observed orders match ``size.orders``."""
    base = base or Population()
    per_customer = size.orders / size.contacts / (1.0 + REFUND_RATE)
    grid = (np.arange(400) + 0.5) / 400 * SPAN_DAYS

    def gap(log_alpha: float) -> float:
        mean = expected_repeat_purchases(grid, base.r, math.exp(log_alpha), base.a, base.b).mean()
        return float(1.0 + mean - per_customer)

    alpha = math.exp(brentq(gap, math.log(1e-3), math.log(1e6)))
    return Population(**{**asdict(base), "alpha": alpha})

"""Synthetic customer bases with known parameters, for checking fits against ground truth.

Vectorised over customers; randomness only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]


def simulate_bg_nbd(
    rng: np.random.Generator,
    T: npt.ArrayLike,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Draw (x, t_x, T) for customers of ages ``T`` from the BG/NBD process (FHL05 sec. 2).

    Each customer buys at Poisson rate lambda ~ Gamma(r, alpha) and drops out after a purchase
    with probability p ~ Beta(a, b). The purchase that ends a life is the D-th, D ~ Geometric(p),
    so x = min(N(T), D) with N(T) ~ Poisson(lambda T); given N(T) = n the arrival times are
    uniform order statistics on [0, T], so t_x is T times a Beta(x, n - x + 1) draw.
    """
    age = np.asarray(T, dtype=np.float64)
    lam = rng.gamma(r, 1.0 / alpha, size=age.shape)
    p = rng.beta(a, b, size=age.shape)
    n = rng.poisson(lam * age).astype(np.float64)
    deaths = rng.geometric(np.clip(p, 1e-12, 1.0)).astype(np.float64)
    x = np.minimum(n, deaths)
    safe_x = np.maximum(x, 1.0)
    t_x = np.where(x > 0, age * rng.beta(safe_x, np.maximum(n - safe_x + 1.0, 1.0)), 0.0)
    return x, t_x, age


def simulate_gamma_gamma(
    rng: np.random.Generator, frequency: npt.ArrayLike, p: float, q: float, gamma: float
) -> FloatArray:
    """Mean spend of each customer's ``frequency`` transactions under Gamma-Gamma (FH13):
    nu ~ Gamma(q, gamma) per customer, each value ~ Gamma(p, nu); the mean of x such values is
    Gamma(p x, x nu). Customers with no transactions get 0."""
    x = np.asarray(frequency, dtype=np.float64)
    nu = rng.gamma(q, 1.0 / gamma, size=x.shape)
    shape = np.maximum(p * x, 1e-12)
    mean = rng.gamma(shape, 1.0, size=x.shape) / (np.maximum(x, 1.0) * nu)
    return np.asarray(np.where(x > 0, mean, 0.0), dtype=np.float64)


def orders_from_summary(
    rng: np.random.Generator,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    observation_end: pd.Timestamp,
    unit_days: float = 7.0,
    mean_amount: float = 50.0,
) -> pd.DataFrame:
    """An orders table consistent with (x, t_x, T): first order at end - T, last at first + t_x,
    the x - 1 in between uniform (the conditional law of Poisson arrivals). Amounts are gamma
    around a gamma-distributed mean per customer.
    Times are rounded to whole days so the RFM summary reproduces the inputs at day resolution.
    """
    xs = np.asarray(x, dtype=np.int64)
    tx = np.asarray(t_x, dtype=np.float64) * unit_days
    age = np.asarray(T, dtype=np.float64) * unit_days
    n = xs.size
    ids = np.arange(n)
    first = -age
    middle_owner = np.repeat(ids, np.maximum(xs - 1, 0))
    middle = first[middle_owner] + rng.uniform(size=middle_owner.size) * tx[middle_owner]
    repeaters = ids[xs > 0]
    owner = np.concatenate([ids, repeaters, middle_owner])
    offset_days = np.round(np.concatenate([first, first[repeaters] + tx[repeaters], middle]))
    end_day = pd.Timestamp(observation_end).floor("D")
    customer_mean = rng.gamma(3.0, mean_amount / 3.0, size=n)
    return pd.DataFrame(
        {
            "customer_id": owner,
            "ordered_at": end_day + pd.to_timedelta(offset_days, unit="D"),
            # spend varies between customers (gamma-distributed means) and around each mean
            "amount": rng.gamma(4.0, customer_mean[owner] / 4.0),
        }
    )

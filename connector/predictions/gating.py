"""Decide whether a store has enough order history for BTYD models, and what to do if not.

BTYD fits on a few hundred customers with months of history are unstable, so, like Klaviyo's
predictive analytics, we require a minimum base before trusting them. Below it, transparent
heuristics fill the same output columns and the ``method`` column says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from connector.predictions.config import PredictionsConfig


@dataclass(frozen=True)
class GateResult:
    """Outcome of :func:`gate`: ``ok`` when BTYD may be used, else the reasons it may not."""

    ok: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)
    n_buyers: int = 0
    history_days: float = 0.0
    n_repeat_buyers: int = 0

    @property
    def method(self) -> str:
        """Value for the per-person ``method`` column."""
        return "btyd" if self.ok else "heuristic: " + "; ".join(self.reasons)


def gate(
    summary: pd.DataFrame,
    config: PredictionsConfig,
    now: datetime | pd.Timestamp | None = None,
) -> GateResult:
    """Check the RFM summary against the configured minimum history.

    Checks: buyers >= ``min_buyers``; days from the first to the last order >=
    ``min_history_days``; customers with 3+ orders >= ``min_repeat_buyers``; and, when ``now`` is
    given, an order within ``max_days_since_last_order`` days.
    """
    n_buyers = len(summary)
    reasons: list[str] = []
    if n_buyers == 0:
        return GateResult(False, ("no orders",))
    history = (summary["last_order_date"].max() - summary["first_order_date"].min()) / pd.Timedelta(
        days=1
    )
    n_repeat = int(np.sum(summary["frequency"].to_numpy() >= 2))
    if n_buyers < config.min_buyers:
        reasons.append(f"{n_buyers} buyers < {config.min_buyers}")
    if history < config.min_history_days:
        reasons.append(f"{history:.0f} days of history < {config.min_history_days}")
    if n_repeat < config.min_repeat_buyers:
        reasons.append(f"{n_repeat} customers with 3+ orders < {config.min_repeat_buyers}")
    if now is not None and config.max_days_since_last_order is not None:
        idle = (pd.Timestamp(now) - summary["last_order_date"].max()) / pd.Timedelta(days=1)
        if idle > config.max_days_since_last_order:
            reasons.append(f"last order {idle:.0f} days ago > {config.max_days_since_last_order}")
    return GateResult(not reasons, tuple(reasons), n_buyers, float(history), n_repeat)


def heuristic_predictions(
    summary: pd.DataFrame,
    config: PredictionsConfig,
    now: datetime | pd.Timestamp,
) -> pd.DataFrame:
    """Transparent stand-ins for the BTYD outputs when :func:`gate` says no.

    - ``repeat_rate``: share of customers with k purchase days who reached k+1, for k = 1, 2, 3
      and 4+ (the org's own history, by frequency bucket).
    - ``gap``: the customer's average days between purchase days, else the org median.
    - ``active``: exp(-max(0, days_since_last / gap - 1)): 1 while within one usual gap, then
      decaying; ``churn_risk`` = 1 - active.
    - ``p_buy(t)`` = repeat_rate * active * (1 - exp(-t / gap)).
    - ``predicted_clv`` = margin * AOV * repeat_rate * active * horizon_days / gap, discounted
      at the horizon midpoint.
    """
    days_per_month = 365.25 / 12.0
    n_days = (summary["frequency"].to_numpy() + 1.0).astype(np.float64)
    bucket = np.minimum(n_days, 4.0)
    reached = np.array([np.sum(n_days >= k) for k in (1, 2, 3, 4, 5)], dtype=np.float64)
    # P(k+1 | k) for k = 1..3 and pooled P(5 | 4) for the 4+ bucket; 0.0 when nobody is there
    rates = np.divide(reached[1:], reached[:-1], out=np.zeros(4), where=reached[:-1] > 0)
    repeat_rate = rates[(bucket - 1).astype(np.int64)]
    own_gap = summary["avg_days_between_orders"].to_numpy(dtype=np.float64)
    org_gap = float(np.nanmedian(own_gap)) if np.any(np.isfinite(own_gap)) else 90.0
    gap = np.where(np.isfinite(own_gap) & (own_gap > 0), own_gap, max(org_gap, 1.0))
    stamp = pd.Timestamp(now)
    since = ((stamp - summary["last_order_date"]) / pd.Timedelta(days=1)).to_numpy(np.float64)
    active = np.exp(-np.maximum(0.0, since / gap - 1.0))

    def p_buy(days: float) -> np.ndarray:
        return np.asarray(repeat_rate * active * -np.expm1(-days / gap))

    horizon_days = config.horizon_months * days_per_month
    discount = (1.0 + config.monthly_discount_rate) ** (-config.horizon_months / 2.0)
    expected_orders = repeat_rate * active * horizon_days / gap
    window = float(config.next_order_window_days)
    next_wait = np.maximum(gap - since, 0.0)
    return pd.DataFrame(
        {
            "predicted_clv": config.margin
            * summary["avg_order_value"].to_numpy()
            * expected_orders
            * discount,
            "p_buy_30d": p_buy(30.0),
            "p_buy_90d": p_buy(90.0),
            "churn_risk": 1.0 - active,
            "expected_next_order_date": stamp + pd.to_timedelta(next_wait, unit="D"),
            "next_order_probability": p_buy(window),
        },
        index=summary.index,
    )

"""RFM summaries: turn an orders table into the per-customer inputs of the BTYD models.

Orders are a DataFrame with ``customer_id``, ``ordered_at`` (tz-aware datetimes) and ``amount``.
Orders on the same UTC day are merged into one purchase, as in the BTYD literature, so that a
split basket is not counted as a repeat purchase. All work is pandas group-bys, no row loops.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

TimeUnit = Literal["day", "week"]
UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0}
ORDER_COLUMNS = ("customer_id", "ordered_at", "amount")


def _unit_days(time_unit: str) -> float:
    try:
        return UNIT_DAYS[time_unit]
    except KeyError:
        choices = sorted(UNIT_DAYS)
        raise ValueError(f"time_unit must be one of {choices}, not {time_unit!r}") from None


def _utc(ts: datetime | pd.Timestamp, name: str) -> pd.Timestamp:
    stamp = pd.Timestamp(ts)
    if stamp.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (UTC); got naive {stamp}")
    return stamp.tz_convert("UTC")


def _checked_orders(orders: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ORDER_COLUMNS if c not in orders.columns]
    if missing:
        raise ValueError(f"orders lack column(s) {missing}; expected {list(ORDER_COLUMNS)}")
    ordered_at = orders["ordered_at"]
    if not isinstance(ordered_at.dtype, pd.DatetimeTZDtype):
        raise ValueError("orders.ordered_at must be tz-aware datetimes (UTC); naive times are bugs")
    # keep datetimes as pandas arrays: .to_numpy() on tz-aware values builds Python objects
    utc = ordered_at.dt.tz_convert("UTC").reset_index(drop=True)
    return pd.DataFrame(
        {
            "customer_id": orders["customer_id"].reset_index(drop=True),
            "day": utc.dt.floor("D"),
            "ordered_at": utc,
            "amount": orders["amount"].astype("float64").reset_index(drop=True),
        }
    )


def _daily(orders: pd.DataFrame) -> pd.DataFrame:
    # one row per (customer, UTC day): same-day orders merged into one purchase
    daily = (
        orders.groupby(["customer_id", "day"], sort=True)
        .agg(amount=("amount", "sum"), n_orders=("amount", "size"))
        .reset_index()
    )
    return daily


def summary_from_orders(
    orders: pd.DataFrame,
    observation_end: datetime | pd.Timestamp,
    time_unit: TimeUnit = "week",
) -> pd.DataFrame:
    """Per-customer RFM summary of the orders placed up to ``observation_end`` (inclusive).

    Columns (indexed by customer_id): ``frequency`` x (repeat purchase days), ``recency`` t_x
    (last minus first purchase day), ``T`` (observation-end day minus first purchase day), both in
    ``time_unit``; ``monetary_value`` (mean value of the repeat purchase days, 0 if none),
    ``n_orders`` (raw orders), ``revenue``, ``first_order_date``, ``last_order_date``,
    ``avg_order_value`` and ``avg_days_between_orders`` (NaN for one-purchase customers).
    """
    unit = _unit_days(time_unit)
    end = _utc(observation_end, "observation_end")
    checked = _checked_orders(orders)
    checked = checked[checked["ordered_at"] <= end]
    daily = _daily(checked)
    day_num = (daily["day"] - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(days=1)
    daily["day_num"] = day_num.to_numpy(dtype=np.float64)
    first_num = daily.groupby("customer_id")["day_num"].transform("min")
    daily["repeat_amount"] = daily["amount"].where(daily["day_num"] > first_num, 0.0)
    g = daily.groupby("customer_id", sort=True)
    out = g.agg(
        n_days=("day_num", "size"),
        first_num=("day_num", "min"),
        last_num=("day_num", "max"),
        revenue=("amount", "sum"),
        repeat_revenue=("repeat_amount", "sum"),
        n_orders=("n_orders", "sum"),
        first_order_date=("day", "min"),
        last_order_date=("day", "max"),
    )
    end_num = (end.floor("D") - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(days=1)
    x = (out["n_days"] - 1).astype("float64")
    span_days = out["last_num"] - out["first_num"]
    result = pd.DataFrame(
        {
            "frequency": x,
            "recency": span_days / unit,
            "T": (end_num - out["first_num"]) / unit,
            "monetary_value": (out["repeat_revenue"] / x.where(x > 0)).fillna(0.0),
            "n_orders": out["n_orders"].astype("int64"),
            "revenue": out["revenue"].astype("float64"),
            "first_order_date": out["first_order_date"],
            "last_order_date": out["last_order_date"],
            "avg_order_value": out["revenue"] / out["n_orders"],
            "avg_days_between_orders": span_days / x.where(x > 0),
        },
        index=out.index,
    )
    result.index.name = "customer_id"
    return result


def calibration_and_holdout_summary(
    orders: pd.DataFrame,
    calibration_end: datetime | pd.Timestamp,
    holdout_end: datetime | pd.Timestamp,
    time_unit: TimeUnit = "week",
) -> pd.DataFrame:
    """RFM summary on the calibration window plus what each customer did in the holdout.

    Customers whose first order falls after ``calibration_end`` are excluded (the models cannot
    predict for them). Adds ``holdout_frequency`` (purchase days in (calibration_end,
    holdout_end]), ``holdout_revenue`` and ``holdout_duration`` (in ``time_unit``).
    """
    unit = _unit_days(time_unit)
    cal_end = _utc(calibration_end, "calibration_end")
    hold_end = _utc(holdout_end, "holdout_end")
    if hold_end <= cal_end:
        raise ValueError("holdout_end must be after calibration_end")
    summary = summary_from_orders(orders, cal_end, time_unit)
    checked = _checked_orders(orders)
    # compare by day, the resolution the summary works at
    in_holdout = (checked["day"] > cal_end.floor("D")) & (checked["day"] <= hold_end.floor("D"))
    daily = _daily(checked[in_holdout])
    per_customer = daily.groupby("customer_id").agg(
        holdout_frequency=("day", "size"), holdout_revenue=("amount", "sum")
    )
    summary = summary.join(per_customer, how="left")
    summary["holdout_frequency"] = summary["holdout_frequency"].fillna(0).astype("float64")
    summary["holdout_revenue"] = summary["holdout_revenue"].fillna(0.0)
    summary["holdout_duration"] = (hold_end.floor("D") - cal_end.floor("D")) / pd.Timedelta(
        days=unit
    )
    return summary
